package sharding_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
	"github.com/mcrouter-operator/mcrouter-operator/shard"
)

// relabelMidRun: whoever may edit a Mcrouter may set its shard label. While
// a run of one is under way on its replica, its label is set to another live
// replica: that one waits until the first has finished and let go
// (status.reconciledBy), then holds it without running it again; the two
// never run it at once (checkOverlaps, at the end of TestSharding).
func (s *scenario) relabelMidRun(t *testing.T) {
	name, from, to := relabelTarget(s.observe(t), s.f.names())
	if name == "" {
		t.Fatal("no Mcrouter that another replica would keep if it were relabelled to it")
	}
	runsBefore := s.runs(t)
	optest.MergePatch(t, kube, optest.McrouterGVK, s.ns, name, map[string]any{"spec": map[string]any{"memcached_pool_size": 2}})
	optest.Await(t, "the run of "+name+" for its new spec started on "+from, func(ctx context.Context) (bool, error) {
		runs, err := listRuns(ctx, s.ns)
		if err != nil {
			return false, err
		}
		fresh := newRuns(runsBefore, runs)
		return len(fresh) > 0, fmt.Errorf("%d new runs", len(fresh))
	}, s.f.ops()...)
	optest.MergePatch(t, kube, optest.McrouterGVK, s.ns, name, map[string]any{"metadata": map[string]any{
		"labels": map[string]any{shardLabel: to}}})
	// The bound moves another of to's Mcrouters on (relabelTarget): this
	// one settles held by to.
	s.awaitView(t, fmt.Sprintf("%s relabelled from %s to %s mid-run, settled and let go by %s", name, from, to, from), func(v view) bool {
		for _, c := range v.crs {
			if c.name == name {
				return c.settled && c.reconciledBy == to && c.shard == to
			}
		}
		return false
	})
	s.quiet()
	fresh := newRuns(runsBefore, s.runs(t))
	t.Logf("runs of %s after its spec changed and its label moved from %s to %s mid-run: %v", name, from, to, fresh)
	if len(fresh) != 1 || fresh[0].replica != from || fresh[0].end.IsZero() {
		t.Errorf("want one finished run, by %s (the replica that held it when the spec changed); got %v", from, fresh)
	}
}

// relabelTarget picks a Mcrouter and a replica other than its own that would
// keep it once relabelled. Every replica holds the bound already, so the
// relabel leaves the new one a resource over it, and it hands on the one that
// ranks it lowest (shard.Plan): were that the relabelled Mcrouter, it would
// go straight back and the wait below could not tell a relabel honoured from
// one ignored. Returns "" when no pair qualifies.
func relabelTarget(v view, live []string) (name, from, to string) {
	members := slices.Sorted(slices.Values(live))
	for _, c := range v.crs {
		for _, m := range members {
			if m == c.shard {
				continue
			}
			items := make([]shard.Item, 0, len(v.crs))
			for _, o := range v.crs {
				owner := o.shard
				if o.name == c.name {
					owner = m
				}
				items = append(items, shard.Item{Key: o.name, UID: o.uid, Owner: owner})
			}
			if !slices.ContainsFunc(shard.Plan(items, members, m), func(mv shard.Move) bool { return mv.Key == c.name }) {
				return c.name, c.shard, m
			}
		}
	}
	return "", "", ""
}
