package main

import (
	"context"
	"fmt"
	"time"

	"github.com/mcrouter-operator/mcrouter-operator/controller"
	"github.com/mcrouter-operator/mcrouter-operator/internal/procfs"
)

// measureIdle creates opts.IdleCRs CRs with a reconcile-period annotation,
// waits until they converge and the operator is quiet, then measures the CPU
// time of the operator's process tree over opts.IdleWindow against running
// Ansible every period for every CR.
func (b *bench) measureIdle(ctx context.Context) error {
	const ns = "bench-idle"
	if err := b.createNamespace(ctx, ns); err != nil {
		return err
	}
	op, err := b.startOperator(ctx, "idle", b.opts.SingleExecutor())
	if err != nil {
		return err
	}
	res, err := b.idle(ctx, op, ns)
	b.stopOperator(ctx, op)
	if err != nil {
		return fmt.Errorf("idle cost: %w", err)
	}
	b.report.Idle = &res
	b.log("idle: %.2f CPU seconds in %s (%.2f%% of Ansible every period), %.0f Ansible runs, %.0f skipped",
		res.TreeCPUSeconds, b.opts.IdleWindow, res.Percent, res.AnsibleRuns, res.SkippedReconciles)
	if b.opts.SkipMemory {
		// The last phase: the control plane stops next, nothing to clean.
		return nil
	}
	// The memory phase's operator must not hold these CRs.
	return b.deleteNamespace(ctx, ns)
}

func (b *bench) idle(ctx context.Context, op *operator, ns string) (Idle, error) {
	o := b.opts
	res := Idle{CRs: o.IdleCRs, PeriodSeconds: o.IdlePeriod.Seconds(), WindowSeconds: o.IdleWindow.Seconds()}
	names := crNames("idle", o.IdleCRs)
	annotations := map[string]string{controller.AnnotationReconcilePeriod: o.IdlePeriod.String()}
	create := func(ctx context.Context) error { return b.createAll(ctx, ns, names, annotations) }
	start, done, err := b.awaitSuccessful(ctx, op, ns, names, 1, b.timeout(o.IdleCRs), create)
	if err != nil {
		return res, err
	}
	res.ConvergeSeconds, _, _ = doneStats(start, done)
	b.log("idle: %d CRs Successful in %.1fs; measuring %s", o.IdleCRs, res.ConvergeSeconds, o.IdleWindow)
	// Periodic resyncs keep reconciling: quiet means no Ansible runs.
	before, err := b.settle(ctx, op, 5*time.Second, 60*time.Second, runActivity)
	if err != nil {
		return res, err
	}
	t0, err := readTree(b.procRoot, op.Pid(), op.isServer)
	if err != nil {
		return res, op.failure(err)
	}
	select {
	case <-ctx.Done():
		return res, ctx.Err()
	case <-op.Done():
		return res, op.failure(fmt.Errorf("the operator exited during the idle window"))
	case <-time.After(o.IdleWindow):
	}
	t1, err := readTree(b.procRoot, op.Pid(), op.isServer)
	if err != nil {
		return res, op.failure(err)
	}
	after, err := op.counters(ctx)
	if err != nil {
		return res, err
	}
	mem, err := procfs.ReadMemory(b.procRoot, op.Pid())
	if err != nil {
		return res, err
	}
	d := after.sub(before)
	res.AnsibleRuns, res.SkippedReconciles, res.OperatorRSSBytes = d.Runs, d.Skipped, mem.RSS
	res.TreeCPUSeconds = float64(t1.CPUTicks-t0.CPUTicks) / b.clkTck
	res.EveryPeriodCPUSeconds = everyPeriodCPU(o.IdleWindow, o.IdlePeriod, o.IdleCRs, b.report.Bare.MedianCPUSeconds)
	res.Percent = 100 * perUnit(res.TreeCPUSeconds, res.EveryPeriodCPUSeconds)
	return res, nil
}

// everyPeriodCPU is the CPU time of running Ansible for every CR once per
// period over window: window/period × crs × CPU seconds of one bare run.
func everyPeriodCPU(window, period time.Duration, crs int, bareCPU float64) float64 {
	if period <= 0 {
		return 0
	}
	return window.Seconds() / period.Seconds() * float64(crs) * bareCPU
}
