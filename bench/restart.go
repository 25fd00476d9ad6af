package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

// measureRestart has one operator bring opts.RestartCRs CRs to Successful,
// stops it, and starts a new operator on the same namespace and runner
// directory. CRs and dependents are as the first operator left them, so the
// new one has no reason to run Ansible. A Service deleted afterwards shows
// whether it still notices a change.
func (b *bench) measureRestart(ctx context.Context) error {
	const ns = "bench-restart"
	if err := b.createNamespace(ctx, ns); err != nil {
		return err
	}
	res := Restart{CRs: b.opts.RestartCRs, Namespace: ns}
	names := crNames("restart", res.CRs)
	runnerDir := filepath.Join(b.tmp, "runner-restart")
	if err := b.restartConverge(ctx, ns, names, runnerDir, &res); err != nil {
		return fmt.Errorf("restart, first operator: %w", err)
	}
	if err := b.restartTakeOver(ctx, ns, names[0], runnerDir, &res); err != nil {
		return fmt.Errorf("restart, new operator: %w", err)
	}
	b.report.Restart = &res
	b.log("restart: %.0f Ansible runs for %d unchanged CRs (%.0f skipped of %.0f reconciles), settled %.1fs after the start; %s restored in %.2fs",
		res.AnsibleRuns, res.CRs, res.SkippedReconciles, res.Reconciles, res.SettledSeconds, res.DependentDeleted, res.DependentRestoreSeconds)
	return b.deleteNamespace(ctx, ns)
}

// restartConverge creates the CRs for a first operator and stops it
// (SIGTERM, as every phase does) once they are Successful and it is quiet.
func (b *bench) restartConverge(ctx context.Context, ns string, names []string, runnerDir string, res *Restart) error {
	op, err := b.startOperatorIn(ctx, "restart-before", b.opts.SingleExecutor(), runnerDir)
	if err != nil {
		return err
	}
	defer b.stopOperator(ctx, op)
	create := func(ctx context.Context) error { return b.createAll(ctx, ns, names, nil) }
	start, done, err := b.awaitSuccessful(ctx, op, ns, names, 1, b.timeout(len(names)), create)
	if err != nil {
		return err
	}
	res.ConvergeSeconds, _, _ = doneStats(start, done)
	b.log("restart: %d CRs Successful in %.1fs; stopping the operator", len(names), res.ConvergeSeconds)
	// Runs that controllers re-trigger after Successful belong to this operator.
	_, err = b.settle(ctx, op, 3*time.Second, 60*time.Second, allActivity)
	return err
}

// restartTakeOver starts the new operator, waits until it reconciled every
// CR and is quiet, reads its counters, then deletes the Service svc (the
// role's Service named after the CR) and waits until it is back.
func (b *bench) restartTakeOver(ctx context.Context, ns, svc, runnerDir string, res *Restart) error {
	start := time.Now()
	op, err := b.startOperatorIn(ctx, "restart-after", b.opts.SingleExecutor(), runnerDir)
	if err != nil {
		return err
	}
	defer b.stopOperator(ctx, op)
	res.ReadySeconds = time.Since(start).Seconds()
	c, settled, err := b.settleOn(ctx, op, 3*time.Second, b.timeout(res.CRs), allActivity, reconciledAll(res.CRs))
	if err != nil {
		return err
	}
	res.SettledSeconds = settled.Sub(start).Seconds()
	res.AnsibleRuns, res.FailedRuns, res.SkippedReconciles, res.Reconciles = c.Runs, c.FailedRuns, c.Skipped, c.Reconciles
	res.DependentDeleted = "Service " + svc
	d, err := b.restoreDependent(ctx, op, ns, svc)
	if err != nil {
		return fmt.Errorf("dependent deleted after the restart: %w", err)
	}
	res.DependentRestoreSeconds = d.Seconds()
	return nil
}

// reconciledAll is a settle goal for an operator that found n CRs at its
// start: each gets a reconcile, so the counter of a fresh process reaches n.
// The counter does not say which CR a reconcile was for.
func reconciledAll(n int) func(counters) error {
	return func(c counters) error {
		if c.Reconciles < float64(n) {
			return fmt.Errorf("%.0f reconciles for %d CRs", c.Reconciles, n)
		}
		return nil
	}
}
