package optest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// How long the tests wait. No wait is sized to the work it waits for: on a
// busy 2-core machine an Ansible run that takes 1.5 s alone takes 12 s, and
// the runs of other tests queue in front of it. A wait fails only when
// nothing has moved for its stall window, or when the test binary's -timeout
// is about to end it.
const (
	// StallFloor is the shortest stall window: no Ansible run under way or
	// ending, and no change in what the wait observes. Healthy waits without
	// Ansible (a controller acting, a lease taken over, an informer syncing)
	// move within seconds here; two minutes of nothing is a hang.
	StallFloor = 2 * time.Minute
	// stallRuns: a wait also allows this many times the longest run it has
	// seen, so that a machine slow enough to stretch runs stretches the
	// window too.
	stallRuns = 4
	// deadlineMargin is left of the test binary's -timeout for the failure
	// message and the cleanups (stopping operators, the control plane).
	deadlineMargin = 90 * time.Second
	pollEvery      = 250 * time.Millisecond
	// StopTimeout is how long Stop waits after SIGTERM before it kills an
	// operator and reports it: the operator's default
	// --graceful-shutdown-timeout (30 s, its own bound) and the stall window.
	StopTimeout = 30*time.Second + StallFloor
)

// Await polls cond until it holds, and fails the test when it does not hold
// and nothing has progressed for the stall window (see StallFloor), when one
// of ops exits, or when the test's deadline nears. Progress is an Ansible run of one of ops under
// way (for at most its run timeout) or ending, or a new observation: the
// error cond returns describes what it saw ("generation 2, conditions …"),
// and a different description counts as progress. The failure message says
// what was observed: the last observation, each operator's runs with their
// durations, and its log tail. A nil operator among ops is left out: a wait
// on no operator at all still fails when nothing it observes changes.
func Await(t testing.TB, what string, cond func(ctx context.Context) (bool, error), ops ...*Operator) {
	t.Helper()
	if err := AwaitErr(Context(t), what, cond, ops...); err != nil {
		t.Fatal(err)
	}
}

// AwaitErr is Await returning its failure: for TestMain and helpers that
// have no *testing.T. ctx bounds the wait as the test deadline does.
func AwaitErr(ctx context.Context, what string, cond func(ctx context.Context) (bool, error), ops ...*Operator) error {
	return newWaiter(StallFloor, ops).await(ctx, what, cond)
}

func (w *waiter) await(ctx context.Context, what string, cond func(ctx context.Context) (bool, error)) error {
	start := time.Now()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	var last string
	for {
		ok, err := cond(ctx)
		if ok {
			return nil
		}
		if op := w.exited(); op != nil {
			_, exitErr := op.Exited()
			return w.failure(what, fmt.Sprintf("operator %s exited (%v)", op.Name, exitErr), describe(err))
		}
		now := time.Now()
		if err != nil && ctx.Err() == nil && err.Error() != last {
			last = err.Error()
			w.progressed(now)
		}
		w.observe(now)
		if stalled := now.Sub(w.lastProgress); stalled > w.window() {
			return w.failure(what, fmt.Sprintf("nothing moved for %s (waited %s)", stalled.Round(time.Second), now.Sub(start).Round(time.Second)), last)
		}
		select {
		case <-ctx.Done():
			return w.failure(what, fmt.Sprintf("the test's deadline is near (waited %s)", time.Since(start).Round(time.Second)), last)
		case <-tick.C:
		}
	}
}

// Quiet is how long to watch for something that must not happen (an
// unwanted run, a reconcile outside the selector) before saying it did not:
// four seconds on an idle machine, the longest run ops have seen when the
// machine is slower.
func Quiet(ops ...*Operator) time.Duration {
	d := 4 * time.Second
	for _, op := range ops {
		d = max(d, op.Activity().Longest())
	}
	return d
}

// Context ends deadlineMargin before the test binary's -timeout (or with the
// test): a bound for commands that would otherwise hang the package, which
// leaves time to report.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), Remaining(t))
	t.Cleanup(cancel)
	return ctx
}

// Remaining is the time left until deadlineMargin before the test binary's
// -timeout: the bound of a command's own --timeout flag. Without a -timeout
// it is an hour.
func Remaining(t testing.TB) time.Duration {
	deadline, ok := t.(interface{ Deadline() (time.Time, bool) })
	if !ok {
		return time.Hour
	}
	d, has := deadline.Deadline()
	if !has {
		return time.Hour
	}
	return max(time.Second, time.Until(d)-deadlineMargin)
}

// waiter tracks the progress of one wait.
type waiter struct {
	floor        time.Duration // StallFloor; shorter in unit tests
	ops          []*Operator
	lastProgress time.Time
	started      []int // runs each operator had started
	finished     []int
	longest      time.Duration
}

func newWaiter(floor time.Duration, ops []*Operator) *waiter {
	ops = slices.DeleteFunc(slices.Clone(ops), func(op *Operator) bool { return op == nil })
	w := &waiter{floor: floor, ops: ops, lastProgress: time.Now(), started: make([]int, len(ops)), finished: make([]int, len(ops))}
	for i, op := range ops {
		a := op.Activity()
		w.started[i], w.finished[i] = a.Started(), len(a.Finished)
		w.longest = max(w.longest, a.Longest())
	}
	return w
}

func (w *waiter) progressed(now time.Time) { w.lastProgress = now }

// observe counts a run that started or ended, or one under way for less than
// its operator's run timeout, as progress. Without a --run-timeout the
// operator's default bounds every run.
func (w *waiter) observe(now time.Time) {
	for i, op := range w.ops {
		a := op.Activity()
		if a.Started() != w.started[i] || len(a.Finished) != w.finished[i] {
			w.started[i], w.finished[i] = a.Started(), len(a.Finished)
			w.progressed(now)
		}
		for _, r := range a.Running {
			if op.runTimeout == 0 || now.Sub(r.FirstSeen) < op.runTimeout {
				w.progressed(now)
			}
		}
		w.longest = max(w.longest, a.Longest())
	}
}

// exited returns the first of the operators that has exited, or nil.
func (w *waiter) exited() *Operator {
	for _, op := range w.ops {
		if done, _ := op.Exited(); done {
			return op
		}
	}
	return nil
}

func describe(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (w *waiter) window() time.Duration { return max(w.floor, stallRuns*w.longest) }

func (w *waiter) failure(what, why, last string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", what, why)
	if last != "" {
		fmt.Fprintf(&b, "\nlast observed: %s", last)
	}
	for _, op := range w.ops {
		fmt.Fprintf(&b, "\n--- operator %s: %s; last log lines ---\n%s", op.Name, op.Activity(), op.LogTail(40))
	}
	return fmt.Errorf("%s", b.String())
}
