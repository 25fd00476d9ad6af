package sharding_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The labels testdata/record.yml puts on its run records.
const (
	runLabel         = "sharding.test.example.com/run"
	runMcrouterLabel = "sharding.test.example.com/mcrouter"
	// timeLayout is the playbook's now(utc=true, fmt=…).
	timeLayout = "2006-01-02T15:04:05.999999Z"
)

// run is one Ansible run of a Mcrouter as testdata/record.yml recorded it:
// the replica that ran it (its POD_NAME), when the playbook started and, once
// the role succeeded, when it ended.
type run struct {
	record     string // the ConfigMap's name
	mcrouter   string
	replica    string
	generation int64
	start, end time.Time // end is zero for a run that has not ended
}

func (r run) String() string {
	end := "never"
	if !r.end.IsZero() {
		end = r.end.Format("15:04:05.000")
	}
	return fmt.Sprintf("%s by %q (generation %d) %s–%s", r.mcrouter, r.replica, r.generation, r.start.Format("15:04:05.000"), end)
}

// listRuns reads the run records of namespace ns, oldest start first.
func listRuns(ctx context.Context, ns string) ([]run, error) {
	var cms corev1.ConfigMapList
	if err := kube.List(ctx, &cms, client.InNamespace(ns), client.MatchingLabels{runLabel: "true"}); err != nil {
		return nil, fmt.Errorf("list run records in %s: %w", ns, err)
	}
	var runs []run
	for _, cm := range cms.Items {
		r := run{record: cm.Name, mcrouter: cm.Labels[runMcrouterLabel], replica: cm.Data["replica"]}
		var err error
		if r.start, err = time.Parse(timeLayout, cm.Data["start"]); err != nil {
			return nil, fmt.Errorf("run record %s: start: %w", cm.Name, err)
		}
		if s := cm.Data["end"]; s != "" {
			if r.end, err = time.Parse(timeLayout, s); err != nil {
				return nil, fmt.Errorf("run record %s: end: %w", cm.Name, err)
			}
		}
		if r.generation, err = strconv.ParseInt(cm.Data["generation"], 10, 64); err != nil {
			return nil, fmt.Errorf("run record %s: generation: %w", cm.Name, err)
		}
		runs = append(runs, r)
	}
	slices.SortFunc(runs, func(a, b run) int { return a.start.Compare(b.start) })
	return runs, nil
}

// byMcrouter groups runs by Mcrouter, each in start order.
func byMcrouter(runs []run) map[string][]run {
	out := map[string][]run{}
	for _, r := range runs {
		out[r.mcrouter] = append(out[r.mcrouter], r)
	}
	return out
}

// byReplica counts runs by replica.
func byReplica(runs []run) map[string]int {
	out := map[string]int{}
	for _, r := range runs {
		out[r.replica]++
	}
	return out
}

// overlapping describes every pair of runs of one Mcrouter whose recorded
// intervals intersect; a run without an end lasts for ever. Both records are
// written inside their runs, so intersecting records mean overlapping runs.
func overlapping(runs []run) []string {
	var out []string
	for _, rs := range byMcrouter(runs) {
		for i, a := range rs {
			for _, b := range rs[i+1:] {
				// b starts no earlier than a (start order).
				if a.end.IsZero() || b.start.Before(a.end) {
					out = append(out, fmt.Sprintf("%s overlaps %s", a, b))
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// unended describes the runs that have no end record.
func unended(runs []run) []string {
	var out []string
	for _, r := range runs {
		if r.end.IsZero() {
			out = append(out, r.String())
		}
	}
	return out
}

// newRuns lists the runs in after that are not in before (by record name).
func newRuns(before, after []run) []run {
	seen := map[string]bool{}
	for _, r := range before {
		seen[r.record] = true
	}
	var out []run
	for _, r := range after {
		if !seen[r.record] {
			out = append(out, r)
		}
	}
	return out
}

// latestRuns maps each Mcrouter to the record of its latest run.
func latestRuns(runs []run) map[string]string {
	out := map[string]string{}
	for _, r := range runs { // in start order
		out[r.mcrouter] = r.record
	}
	return out
}
