package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcrouter-operator/mcrouter-operator/internal/procfs"
	"github.com/mcrouter-operator/mcrouter-operator/runner"
)

// warmServerScript is the script the warm server of an operator with
// runnerDir runs ("" for the runner executor): runner.New puts it in
// <runner dir>/.warm/server.py (the runner package's warmDir and the
// warm package's script name, neither exported).
func warmServerScript(executor, runnerDir string) string {
	if executor != string(runner.ExecutorWarm) {
		return ""
	}
	return filepath.Join(runnerDir, ".warm", "server.py")
}

// executorPhases runs the phases that depend on the executor, each phase
// once per executor, one executor after the other: load that comes and
// goes on the machine then falls on both.
func (b *bench) executorPhases(ctx context.Context) error {
	for _, name := range b.opts.Executors {
		e := ExecutorResult{Executor: name}
		if name == string(runner.ExecutorWarm) {
			e.WarmServer = &WarmServer{}
		}
		b.report.Executors = append(b.report.Executors, e)
	}
	for i := range b.report.Executors {
		if err := b.measureLatency(ctx, &b.report.Executors[i]); err != nil {
			return err
		}
	}
	for _, n := range b.opts.Bursts {
		for i := range b.report.Executors {
			e := &b.report.Executors[i]
			b.log("burst of %d, %s executor", n, e.Executor)
			if err := b.measureBurst(ctx, e, n); err != nil {
				return err
			}
		}
	}
	for i := range b.report.Executors {
		e := &b.report.Executors[i]
		summarize(e, b.report.Bare.MedianCPUSeconds)
		b.log("%s executor, all bursts: %.2f CPU s per Ansible run (%.2f × bare), %.1f MB PSS per run in flight (%d samples)",
			e.Executor, e.CPUPerRunSeconds, e.CPUPerRunToBare, float64(e.RunPSSBytes)/megabytes, e.MemorySamples)
	}
	return nil
}

// phaseName names the operator, log and namespace of a phase of an
// executor.
func phaseName(phase, executor string) string { return phase + "-" + executor }

// warmReadyQuiet is how long a warm server must sleep without using CPU
// to count as ready: it imports without pause, then waits for requests.
const warmReadyQuiet = 500 * time.Millisecond

// warmStartLimit bounds the wait for a warm server (as the runner's own
// start timeout of the server does).
const warmStartLimit = 2 * time.Minute

// awaitWarmServer waits until op's warm server is ready: a child of op
// runs the server script, sleeps and has not used CPU for
// warmReadyQuiet. The start is recorded in the executor's WarmServer.
func (b *bench) awaitWarmServer(ctx context.Context, op *operator) error {
	var last procfs.Stat
	var since time.Time
	for start := time.Now(); ; {
		st, found, err := b.warmServerStat(op)
		if err != nil {
			return err
		}
		now := time.Now()
		switch {
		case !found:
			since = time.Time{}
		case since.IsZero() || st.PID != last.PID || st.CPUTicks() != last.CPUTicks() || st.State != "S":
			last, since = st, now
		case now.Sub(since) >= warmReadyQuiet:
			return b.warmServerReady(op, last, since)
		}
		if now.Sub(start) > warmStartLimit {
			return op.failure(fmt.Errorf("operator for %s: no warm server ready after %s (found one: %v)", op.phase, warmStartLimit, found))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-op.Done():
			return op.failure(fmt.Errorf("operator for %s exited while its warm server started", op.phase))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// warmServerStat reads the stat of op's warm server; found is false while
// it has none. More than one is an error: a fresh operator starts one.
func (b *bench) warmServerStat(op *operator) (procfs.Stat, bool, error) {
	u, err := readTree(b.procRoot, op.Pid(), op.isServer)
	if err != nil {
		return procfs.Stat{}, false, op.failure(err)
	}
	switch len(u.parts.Servers) {
	case 0:
		return procfs.Stat{}, false, nil
	case 1:
	default:
		return procfs.Stat{}, false, op.failure(fmt.Errorf("operator for %s runs %d warm servers %v", op.phase, len(u.parts.Servers), u.parts.Servers))
	}
	st, err := procfs.ReadStat(b.procRoot, u.parts.Servers[0])
	if err != nil {
		return procfs.Stat{}, false, nil // it just ended; the next poll finds it or another
	}
	return st, true, nil
}

// warmServerReady records the start of a warm server that has been idle
// since readyAt.
func (b *bench) warmServerReady(op *operator, st procfs.Stat, readyAt time.Time) error {
	mem, _, err := readRollup(b.procRoot, st.PID)
	if err != nil {
		return op.failure(err)
	}
	ready := readyAt.Sub(op.started).Seconds()
	cpu := float64(st.UTime+st.STime) / b.clkTck
	if e := b.executorResult(op.executor); e != nil && e.WarmServer != nil {
		e.WarmServer.add(ready, cpu, mem)
	}
	b.log("%s: warm server ready %.2fs after the operator's start, %.2f CPU s, %.1f MB PSS", op.phase, ready, cpu,
		float64(mem.PSS)/megabytes)
	return nil
}

// executorResult returns the result of executor, nil when its phases do
// not run (the restart and idle phases may run on any executor).
func (b *bench) executorResult(executor string) *ExecutorResult {
	for i := range b.report.Executors {
		if b.report.Executors[i].Executor == executor {
			return &b.report.Executors[i]
		}
	}
	return nil
}

// ordinaryRunNote is what the runner package logs when the warm executor
// started ansible-runner, or ansible-playbook inside a run, the ordinary
// way instead of forking it.
const ordinaryRunNote = "the ordinary way"

// ordinaryRuns counts the lines of log that say a run or its playbook did
// not start warm.
func ordinaryRuns(log string) int {
	n := 0
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, ordinaryRunNote) {
			n++
		}
	}
	return n
}
