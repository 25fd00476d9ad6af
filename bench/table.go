package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// printTable writes the report as a table: figure, value, target, result.
func printTable(w io.Writer, r *Report) error {
	m := r.Machine
	dirty := ""
	if m.GitDirty {
		dirty = " (uncommitted changes)"
	}
	fmt.Fprintf(w, "\nmachine: %d CPUs for the floor (NumCPU %d; %s), %s, %.1f GB RAM, load at start %s\n",
		m.CPUs, m.NumCPU, m.CgroupCPU, m.CPUModel, float64(m.MemTotalBytes)/1e9, m.LoadAvgAtStart)
	fmt.Fprintf(w, "versions: %s, %s, ansible-runner %s, kube-apiserver %s, commit %s%s\n",
		m.GoVersion, m.Ansible, m.AnsibleRunner, m.KubeAPIServer, m.GitCommit, dirty)
	fmt.Fprintf(w, "run: %s, %.0f s; bursts: %s\n\n", r.Started.UTC().Format("2006-01-02 15:04:05 UTC"),
		r.DurationSeconds, r.Settings.BurstIsolation)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tVALUE\tTARGET\tRESULT")
	byFigure := map[string]Target{}
	for _, t := range r.Targets {
		byFigure[t.Figure] = t
	}
	for _, row := range rows(r) {
		target, result := "", ""
		if t, ok := byFigure[row.target]; ok {
			target, result = formatTarget(t), t.Result
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", row.figure, row.value, target, result)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := summary(w, r.Targets); err != nil {
		return err
	}
	for _, warning := range r.Warnings {
		if _, err := fmt.Fprintln(w, "WARNING:", warning); err != nil {
			return err
		}
	}
	return nil
}

type row struct{ figure, value, target string }

func rows(r *Report) []row {
	b, l := r.Bare, r.Latency
	out := []row{
		{fmt.Sprintf("bare role run (median of %d)", len(b.WallSeconds)),
			fmt.Sprintf("%.2f s wall, %.2f s CPU", b.MedianSeconds, b.MedianCPUSeconds), ""},
		{"cold first CR → Successful", secs(l.ColdFirstCRSeconds), "cold first CR → Successful"},
		{fmt.Sprintf("spec change → Successful (median of %d)", len(l.SpecChangeSeconds)),
			secs(l.SpecChangeMedianSeconds) + " " + list(l.SpecChangeSeconds), "spec change → Successful (median)"},
		{fmt.Sprintf("dependent deleted → restored (median of %d)", len(l.DependentRestoreSeconds)),
			secs(l.DependentRestoreMedianSeconds) + " " + list(l.DependentRestoreSeconds), ""},
	}
	for _, x := range r.Bursts {
		out = append(out, burstRows(x)...)
	}
	if x := r.Restart; x != nil {
		out = append(out, restartRows(*x)...)
	}
	if i := r.Idle; i != nil {
		out = append(out,
			row{fmt.Sprintf("idle: %d CRs created at once → all Successful", i.CRs), secs(i.ConvergeSeconds), ""},
			row{fmt.Sprintf("idle: process-tree CPU over %.0f s", i.WindowSeconds),
				fmt.Sprintf("%.2f s (%.0f Ansible runs, %.0f skipped reconciles)", i.TreeCPUSeconds, i.AnsibleRuns, i.SkippedReconciles), ""},
			row{fmt.Sprintf("idle: operator RSS with %d CRs", i.CRs), mb(i.OperatorRSSBytes), ""},
			row{fmt.Sprintf("idle: cost vs Ansible every %.0f s", i.PeriodSeconds),
				fmt.Sprintf("%.2f %% of %.0f CPU s", i.Percent, i.EveryPeriodCPUSeconds), "idle cost vs Ansible every period"},
		)
	}
	return out
}

func burstRows(x Burst) []row {
	p := fmt.Sprintf("burst of %d: ", x.N)
	rssTarget := ""
	if x.N == 50 {
		rssTarget = "operator Go RSS after the 50-CR burst"
	}
	return []row{
		{p + "all Successful", fmt.Sprintf("%.1f s = %.2f × floor %.1f s (first %.1f s, median %.1f s)",
			x.WallSeconds, x.RatioToFloor, x.FloorSeconds, x.FirstDoneSeconds, x.MedianDoneSeconds), fmt.Sprintf("burst of %d: wall / floor", x.N)},
		{p + "Ansible runs per CR", fmt.Sprintf("%.2f (%.0f runs, %.0f failed; %.0f skipped of %.0f reconciles)",
			x.RunsPerCR, x.AnsibleRuns, x.FailedRuns, x.SkippedReconciles, x.Reconciles), fmt.Sprintf("burst of %d: Ansible runs per created CR", x.N)},
		{p + "mean Ansible run", secs(x.MeanRunSeconds), ""},
		{p + "operator API requests", fmt.Sprintf("%.1f per run, %.1f per CR", x.OperatorRequestsPerRun, x.OperatorRequestsPerCR), ""},
		{p + "role API requests (proxy)", roleRequests(x), ""},
		{p + "operator RSS / HWM", fmt.Sprintf("%s / %s (anon %s, file %s)", mb(x.OperatorRSSBytes), mb(x.OperatorHWMBytes),
			mb(x.OperatorRSSAnonBytes), mb(x.OperatorRSSFileBytes)), rssTarget},
		{p + "peak process-tree RSS", fmt.Sprintf("%s (%d procs, %d runs; ≈ %s per run; max %d concurrent runs)",
			mb(x.PeakTreeRSSBytes), x.PeakTreeProcs, x.RunsAtPeak, mb(x.RSSPerRunBytes), x.MaxConcurrentRuns), ""},
	}
}

func restartRows(x Restart) []row {
	return []row{
		{fmt.Sprintf("restart: %d CRs created → all Successful", x.CRs), secs(x.ConvergeSeconds), ""},
		{fmt.Sprintf("restart: Ansible runs after an operator restart with %d unchanged CRs", x.CRs),
			fmt.Sprintf("%.0f (%.0f failed; %.0f skipped of %.0f reconciles)", x.AnsibleRuns, x.FailedRuns, x.SkippedReconciles, x.Reconciles),
			restartTarget},
		{"restart: new operator start → settled", fmt.Sprintf("%s (ready after %s)", secs(x.SettledSeconds), secs(x.ReadySeconds)), ""},
		{fmt.Sprintf("restart: %s deleted → restored", x.DependentDeleted), secs(x.DependentRestoreSeconds), ""},
	}
}

func roleRequests(x Burst) string {
	if x.RoleRequests == 0 && x.AnsibleRuns > 0 {
		return "none counted: the operator exports no ansible_operator_proxy_requests_total"
	}
	return fmt.Sprintf("%.1f per run, %.1f per CR, %.0f %% cache hits",
		x.RoleRequestsPerRun, x.RoleRequestsPerCR, 100*perUnit(x.RoleCacheHits, x.RoleRequests))
}

func formatTarget(t Target) string {
	op := map[string]string{"<=": "≤", "==": "="}[t.Op]
	switch t.Unit {
	case "s":
		return fmt.Sprintf("%s %.2f s", op, t.Limit)
	case "×":
		return fmt.Sprintf("%s %.2f × floor", op, t.Limit)
	case "":
		return fmt.Sprintf("%s %.1f", op, t.Limit)
	}
	return fmt.Sprintf("%s %g %s", op, t.Limit, t.Unit)
}

// summary lists the targets that were not measured or failed.
func summary(w io.Writer, ts []Target) error {
	var pass, fail, na []string
	for _, t := range ts {
		switch t.Result {
		case "pass":
			pass = append(pass, t.Figure)
		case "fail":
			fail = append(fail, t.Figure)
		default:
			na = append(na, t.Figure)
		}
	}
	_, err := fmt.Fprintf(w, "\ntargets: %d pass, %d fail%s%s\n", len(pass), len(fail),
		prefixed("; failing: ", fail), prefixed("; not measured in this run: ", na))
	return err
}

func prefixed(p string, xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return p + strings.Join(xs, ", ")
}

func secs(s float64) string { return fmt.Sprintf("%.2f s", s) }

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/megabytes) }

func list(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return "[" + strings.Join(parts, " ") + "]"
}
