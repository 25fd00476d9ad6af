package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/mcrouter-operator/mcrouter-operator/runner"
)

// printTable writes the report as tables: the phases of each executor side
// by side (figure, then value and target of each executor), then the
// phases that ran once (figure, value, target, result).
func printTable(w io.Writer, r *Report) error {
	m := r.Machine
	dirty := ""
	if m.GitDirty {
		dirty = " (uncommitted changes)"
	}
	fmt.Fprintf(w, "\nmachine: %d CPUs for the floor (NumCPU %d; %s), %s, %.1f GB RAM, load at start %s, at end %s\n",
		m.CPUs, m.NumCPU, m.CgroupCPU, m.CPUModel, float64(m.MemTotalBytes)/1e9, m.LoadAvgAtStart, m.LoadAvgAtEnd)
	fmt.Fprintf(w, "versions: %s, %s, ansible-runner %s, kube-apiserver %s, commit %s%s\n",
		m.GoVersion, m.Ansible, m.AnsibleRunner, m.KubeAPIServer, m.GitCommit, dirty)
	fmt.Fprintf(w, "run: %s, %.0f s; bursts: %s\n", r.Started.UTC().Format("2006-01-02 15:04:05 UTC"),
		r.DurationSeconds, r.Settings.BurstIsolation)
	b := r.Bare
	fmt.Fprintf(w, "bare role run (ansible-playbook, median of %d): %.2f s wall, %.2f s CPU; the reference of the floors and CPU ratios\n\n",
		len(b.WallSeconds), b.MedianSeconds, b.MedianCPUSeconds)
	byKey := map[[2]string]Target{}
	for _, t := range r.Targets {
		byKey[[2]string{t.Executor, t.Figure}] = t
	}
	if err := sideBySide(w, r, byKey); err != nil {
		return err
	}
	if err := singleTable(w, r, byKey); err != nil {
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

// row is one figure of one executor; target names its Target.Figure.
type row struct{ figure, value, target string }

// sideBySide prints the figures of every executor, one column pair each.
func sideBySide(w io.Writer, r *Report, byKey map[[2]string]Target) error {
	if len(r.Executors) == 0 {
		return nil
	}
	var order []string
	cells := map[[2]string]row{}
	for _, e := range r.Executors {
		var figures []string
		for _, x := range executorRows(e) {
			figures = append(figures, x.figure)
			cells[[2]string{e.Executor, x.figure}] = x
		}
		order = merge(order, figures)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := "FIGURE"
	for _, e := range r.Executors {
		header += "\t" + strings.ToUpper(e.Executor) + "\tTARGET"
	}
	fmt.Fprintln(tw, header)
	for _, fig := range order {
		line := fig
		for _, e := range r.Executors {
			x, ok := cells[[2]string{e.Executor, fig}]
			value, target := "—", ""
			if ok {
				value = x.value
			}
			if t, ok := byKey[[2]string{e.Executor, x.target}]; ok && x.target != "" {
				target = formatTarget(t) + ": " + resultWord(t.Result)
			}
			line += "\t" + value + "\t" + target
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

// merge adds the figures of next that order lacks, each after the figure
// that precedes it in next (first when none does): figures of one executor
// only stay among their neighbours.
func merge(order, next []string) []string {
	out := slices.Clone(order)
	at := 0 // where the next new figure goes
	for _, f := range next {
		if i := slices.Index(out, f); i >= 0 {
			at = i + 1
			continue
		}
		out = slices.Insert(out, at, f)
		at++
	}
	return out
}

// singleTable prints the phases that ran once.
func singleTable(w io.Writer, r *Report, byKey map[[2]string]Target) error {
	var rows []row
	if x := r.Restart; x != nil {
		rows = append(rows, restartRows(*x)...)
	}
	if i := r.Idle; i != nil {
		rows = append(rows, idleRows(*i)...)
	}
	if m := r.Memory; m != nil {
		rows = append(rows, memoryRows(*m)...)
	}
	rows = append(rows, shardingRows(r.Sharding)...)
	if len(rows) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nphases run once, on the %s executor (memory: %s):\n", r.Settings.SingleExecutor, memoryExecutor(r.Memory))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tVALUE\tTARGET\tRESULT")
	for _, x := range rows {
		target, result := "", ""
		if t, ok := byKey[[2]string{"", x.target}]; ok && x.target != "" {
			target, result = formatTarget(t), resultWord(t.Result)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", x.figure, x.value, target, result)
	}
	return tw.Flush()
}

// executorRows are the figures of one executor's phases.
func executorRows(e ExecutorResult) []row {
	var out []row
	if s := e.WarmServer; s != nil && len(s.ReadySeconds) > 0 {
		out = append(out,
			row{"warm server: operator start → ready (median)",
				fmt.Sprintf("%.2f s, %.2f CPU s (%d starts)", s.MedianReadySeconds, s.MedianCPUSeconds, len(s.ReadySeconds)), ""},
			row{"warm server at rest: PSS / RSS", mbPair(s.PSSBytes, s.RSSBytes), ""})
	}
	l := e.Latency
	out = append(out,
		row{"cold first CR → Successful (median)", secs(l.ColdFirstCRSeconds) + " " + list(l.ColdFirstCRSamples), coldTarget},
		row{"spec change → Successful (median)", secs(l.SpecChangeMedianSeconds) + " " + list(l.SpecChangeSeconds), specTarget},
		row{"dependent deleted → restored (median)",
			secs(l.DependentRestoreMedianSeconds) + " " + list(l.DependentRestoreSeconds), ""},
	)
	warm := e.Executor == string(runner.ExecutorWarm)
	for _, x := range e.Bursts {
		out = append(out, burstRows(x, warm)...)
	}
	if len(e.Bursts) > 0 {
		out = append(out,
			row{"all bursts: CPU per Ansible run", cpuPerRun(e.CPUPerRunSeconds, e.CPUPerRunToBare), cpuTarget},
			row{"all bursts: PSS / RSS per run in flight (median)", memPerRun(e.RunPSSBytes, e.RunRSSBytes, e.MemorySamples), pssTarget})
		if warm {
			out = append(out, row{"all bursts: warm server PSS / RSS (median)", serverMem(e.ServerPSSBytes, e.ServerRSSBytes, e.MemorySamples), ""})
		}
	}
	return out
}

func burstRows(x Burst, warm bool) []row {
	p := fmt.Sprintf("burst of %d: ", x.N)
	rssTarget, wallTarget := "", ""
	if x.N == 50 {
		rssTarget = rss50Target
	}
	if x.N == 20 {
		wallTarget = burst20Target
	}
	out := []row{
		{fmt.Sprintf("%sall Successful (floor %.1f s)", p, x.FloorSeconds),
			fmt.Sprintf("%.1f s = %.2f × floor", x.WallSeconds, x.RatioToFloor), wallTarget},
		{p + "first / median CR Successful", fmt.Sprintf("%.1f / %.1f s", x.FirstDoneSeconds, x.MedianDoneSeconds), ""},
		{p + "Ansible runs per CR", fmt.Sprintf("%.2f (%.0f runs, %.0f failed)", x.RunsPerCR, x.AnsibleRuns, x.FailedRuns), runsTarget(x.N)},
		{p + "skipped / reconciles", fmt.Sprintf("%.0f / %.0f", x.SkippedReconciles, x.Reconciles), ""},
		{p + "mean Ansible run", secs(x.MeanRunSeconds), ""},
		{p + "CPU per Ansible run", cpuPerRun(x.CPUPerRunSeconds, x.CPUPerRunToBare), ""},
		{p + "PSS / RSS per run in flight", memPerRun(x.RunPSSBytes, x.RunRSSBytes, x.MemorySamples), ""},
	}
	if warm {
		out = append(out,
			row{p + "warm server PSS / RSS", serverMem(x.ServerPSSBytes, x.ServerRSSBytes, x.MemorySamples), ""},
			row{p + "runs not forked (operator log)", fmt.Sprint(x.OrdinaryRuns), ""})
	}
	return append(out,
		row{p + "operator API requests", fmt.Sprintf("%.1f per run, %.1f per CR", x.OperatorRequestsPerRun, x.OperatorRequestsPerCR), ""},
		row{p + "role API requests (proxy)", roleRequests(x), ""},
		row{p + "operator RSS / HWM", fmt.Sprintf("%s (anon %.1f, file %.1f)", mbPair(x.OperatorRSSBytes, x.OperatorHWMBytes),
			float64(x.OperatorRSSAnonBytes)/megabytes, float64(x.OperatorRSSFileBytes)/megabytes), rssTarget},
		row{p + "peak process-tree RSS", fmt.Sprintf("%s, %d procs, %d runs", mb(x.PeakTreeRSSBytes), x.PeakTreeProcs, x.RunsAtPeak), ""},
		row{p + "≈ RSS per run at the peak", fmt.Sprintf("%s (at most %d runs in flight)", mb(x.RSSPerRunBytes), x.MaxConcurrentRuns), ""},
	)
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

func idleRows(i Idle) []row {
	return []row{
		{fmt.Sprintf("idle: %d CRs created at once → all Successful", i.CRs), secs(i.ConvergeSeconds), ""},
		{fmt.Sprintf("idle: process-tree CPU over %.0f s", i.WindowSeconds),
			fmt.Sprintf("%.2f s (%.0f Ansible runs, %.0f skipped reconciles)", i.TreeCPUSeconds, i.AnsibleRuns, i.SkippedReconciles), ""},
		{fmt.Sprintf("idle: operator RSS with %d CRs", i.CRs), mb(i.OperatorRSSBytes), ""},
		{fmt.Sprintf("idle: cost vs Ansible every %.0f s", i.PeriodSeconds),
			fmt.Sprintf("%.2f %% of %.0f CPU s", i.Percent, i.EveryPeriodCPUSeconds), idleTarget},
	}
}

func memoryRows(m Memory) []row {
	var out []row
	for _, p := range m.Points {
		if p.CRs == 0 {
			out = append(out, row{"memory: operator RSS / Go heap in use, no CR",
				fmt.Sprintf("%s / %s", mb(p.RSSBytes), mb(p.HeapInuseBytes)), ""})
			continue
		}
		target := ""
		if p.CRs == memoryTargetCRs {
			target = memoryTarget
		}
		out = append(out,
			row{fmt.Sprintf("memory: %d CRs, all Successful in", p.CRs), secs(p.ConvergeSeconds), ""},
			row{fmt.Sprintf("memory: operator RSS / Go heap in use, %d CRs", p.CRs),
				fmt.Sprintf("%s / %s", mb(p.RSSBytes), mb(p.HeapInuseBytes)), ""},
			row{fmt.Sprintf("memory: per CR, RSS / Go heap in use, %d CRs", p.CRs),
				fmt.Sprintf("%.1f / %.1f KB", p.RSSPerCRBytes/kilobytes, p.HeapPerCRBytes/kilobytes), target})
	}
	return out
}

func memoryExecutor(m *Memory) string {
	if m == nil {
		return "not run"
	}
	return m.Executor
}

func roleRequests(x Burst) string {
	if x.RoleRequests == 0 && x.AnsibleRuns > 0 {
		return "none counted (no ansible_operator_proxy_requests_total)"
	}
	return fmt.Sprintf("%.1f per run, %.1f per CR, %.0f %% cache hits",
		x.RoleRequestsPerRun, x.RoleRequestsPerCR, 100*perUnit(x.RoleCacheHits, x.RoleRequests))
}

func cpuPerRun(seconds, toBare float64) string {
	return fmt.Sprintf("%.2f s = %.2f × bare CPU", seconds, toBare)
}

func memPerRun(pss, rss int64, samples int) string {
	if samples == 0 {
		return fmt.Sprintf("no sample with %d runs in flight", minConcurrentRuns)
	}
	return fmt.Sprintf("%s (%d samples)", mbPair(pss, rss), samples)
}

func serverMem(pss, rss int64, samples int) string {
	if samples == 0 {
		return "—"
	}
	return mbPair(pss, rss)
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

// resultWord is how the table shows a result: a missed target stands out.
func resultWord(result string) string {
	if result == "missed" {
		return "MISSED"
	}
	return result
}

// summary counts the targets met and lists those missed or not measured,
// each named with its executor.
func summary(w io.Writer, ts []Target) error {
	var met, missed, na []string
	for _, t := range ts {
		name := t.Figure
		if t.Executor != "" {
			name = t.Executor + ": " + name
		}
		switch t.Result {
		case "met":
			met = append(met, name)
		case "missed":
			missed = append(missed, name)
		default:
			na = append(na, name)
		}
	}
	_, err := fmt.Fprintf(w, "\ntargets: %d met, %d missed%s%s\n", len(met), len(missed),
		prefixed("; missed: ", missed), prefixed("; not measured in this run: ", na))
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

func mbPair(a, b int64) string {
	return fmt.Sprintf("%.1f / %.1f MB", float64(a)/megabytes, float64(b)/megabytes)
}

func list(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return "[" + strings.Join(parts, " ") + "]"
}
