package main

import (
	"context"
	"fmt"
	"time"

	"github.com/mcrouter-operator/mcrouter-operator/internal/procfs"
)

// measureBurst creates n CRs at once in a fresh namespace, watched by a
// fresh operator with e's executor, and measures until all are Successful
// and the operator is quiet again.
func (b *bench) measureBurst(ctx context.Context, e *ExecutorResult, n int) error {
	phase := phaseName(fmt.Sprintf("burst-%d", n), e.Executor)
	ns := "bench-" + phase
	if err := b.createNamespace(ctx, ns); err != nil {
		return err
	}
	op, err := b.startOperator(ctx, phase, e.Executor)
	if err != nil {
		return err
	}
	res, err := b.burst(ctx, op, ns, n)
	b.stopOperator(ctx, op)
	if err != nil {
		return fmt.Errorf("burst of %d, %s executor: %w", n, e.Executor, err)
	}
	e.Bursts = append(e.Bursts, res)
	b.log("burst of %d, %s executor: all Successful in %.1fs (%.2f × floor %.1fs), %.0f Ansible runs, %.0f skipped; "+
		"%.2f CPU s per run; %.1f MB PSS per run in flight",
		n, e.Executor, res.WallSeconds, res.RatioToFloor, res.FloorSeconds, res.AnsibleRuns, res.SkippedReconciles,
		res.CPUPerRunSeconds, float64(res.RunPSSBytes)/megabytes)
	return b.deleteNamespace(ctx, ns)
}

func (b *bench) burst(ctx context.Context, op *operator, ns string, n int) (Burst, error) {
	res := Burst{N: n, Namespace: ns}
	before, err := op.counters(ctx)
	if err != nil {
		return res, err
	}
	t0, err := readTree(b.procRoot, op.Pid(), op.isServer)
	if err != nil {
		return res, op.failure(err)
	}
	names := crNames("burst", n)
	create := func(ctx context.Context) error { return b.createAll(ctx, ns, names, nil) }
	tree := startSampler(b.procRoot, op.Pid(), op.isServer, 100*time.Millisecond)
	start, done, err := b.awaitSuccessful(ctx, op, ns, names, 1, b.timeout(n), create)
	if err != nil {
		tree.Stop()
		return res, err
	}
	res.WallSeconds, res.FirstDoneSeconds, res.MedianDoneSeconds = doneStats(start, done)
	// Runs that controllers re-trigger after Successful belong to the burst.
	after, err := b.settle(ctx, op, 3*time.Second, 60*time.Second, allActivity)
	peak := tree.Stop()
	if err != nil {
		return res, err
	}
	if peak.Err != nil {
		return res, fmt.Errorf("sample the operator's process tree: %w", peak.Err)
	}
	t1, err := readTree(b.procRoot, op.Pid(), op.isServer)
	if err != nil {
		return res, op.failure(err)
	}
	mem, err := procfs.ReadMemory(b.procRoot, op.Pid())
	if err != nil {
		return res, err
	}
	res.TreeCPUSeconds = float64(t1.CPUTicks-t0.CPUTicks) / b.clkTck
	res.OrdinaryRuns = ordinaryRuns(op.Logs())
	b.fillBurst(&res, after.sub(before), peak, mem)
	return res, nil
}

func (b *bench) fillBurst(res *Burst, d counters, peak treePeak, mem procfs.Memory) {
	n := float64(res.N)
	res.FloorSeconds = floorSeconds(res.N, b.report.Bare.MedianSeconds, b.report.Machine.CPUs)
	res.RatioToFloor = perUnit(res.WallSeconds, res.FloorSeconds)
	res.AnsibleRuns, res.FailedRuns = d.Runs, d.FailedRuns
	res.RunsPerCR = perUnit(d.Runs, n)
	res.SkippedReconciles, res.Reconciles = d.Skipped, d.Reconciles
	res.MeanRunSeconds = perUnit(d.RunSeconds, d.Runs)
	res.CPUPerRunSeconds = perUnit(res.TreeCPUSeconds, d.Runs)
	res.CPUPerRunToBare = perUnit(res.CPUPerRunSeconds, b.report.Bare.MedianCPUSeconds)
	res.OperatorRequests, res.OperatorRequestsByMethod = d.RestRequests, d.RestByMethod
	res.OperatorRequestsPerRun, res.OperatorRequestsPerCR = perUnit(d.RestRequests, d.Runs), perUnit(d.RestRequests, n)
	res.RoleRequests, res.RoleRequestsByMethod, res.RoleCacheHits = d.ProxyRequests, d.ProxyByMethod, d.ProxyCacheHits
	res.RoleRequestsPerRun, res.RoleRequestsPerCR = perUnit(d.ProxyRequests, d.Runs), perUnit(d.ProxyRequests, n)
	res.OperatorRSSBytes, res.OperatorHWMBytes = mem.RSS, mem.HWM
	res.OperatorRSSAnonBytes, res.OperatorRSSFileBytes = mem.Anon, mem.File
	res.PeakTreeRSSBytes, res.PeakTreeProcs, res.TreeSamples = peak.RSSBytes, peak.Procs, peak.Samples
	res.RunsAtPeak, res.MaxConcurrentRuns = peak.RunsAtPeak, peak.MaxRuns
	if peak.RunsAtPeak > 0 {
		res.RSSPerRunBytes = (peak.RSSBytes - peak.RootRSS - peak.ServerRSS) / int64(peak.RunsAtPeak)
	}
	res.memory = peak.Memory
	m := medianMemory(peak.Memory)
	res.RunPSSBytes, res.RunRSSBytes, res.MemorySamples = m.RunPSS, m.RunRSS, m.Samples
	res.ServerPSSBytes, res.ServerRSSBytes = m.ServerPSS, m.ServerRSS
}
