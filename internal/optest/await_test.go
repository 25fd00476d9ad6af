package optest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestAwaitFailsWhenNothingMoves(t *testing.T) {
	start := time.Now()
	err := newWaiter(time.Second, nil).await(t.Context(), "the impossible", func(context.Context) (bool, error) {
		return false, errors.New("same as ever")
	})
	if err == nil {
		t.Fatal("await of a condition that never holds returned nil")
	}
	for _, want := range []string{"the impossible: nothing moved for", "last observed: same as ever"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("gave up after %s, before the stall window of 1s", waited)
	}
}

func TestAwaitWaitsWhileObservationsChange(t *testing.T) {
	polls := 0
	// Each poll sees something new; the condition holds long after the
	// stall window would have ended a wait on a frozen observation.
	err := newWaiter(600*time.Millisecond, nil).await(t.Context(), "a slow but moving thing", func(context.Context) (bool, error) {
		polls++
		return polls > 12, fmt.Errorf("poll %d", polls)
	})
	if err != nil {
		t.Fatalf("await: %v", err)
	}
}

func TestAwaitStopsAtTheDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	err := newWaiter(time.Hour, nil).await(ctx, "x", func(context.Context) (bool, error) { return false, nil })
	if err == nil || !strings.Contains(err.Error(), "the test's deadline is near") {
		t.Errorf("await past the deadline: %v", err)
	}
}

func TestRunTrackerSeesChildRuns(t *testing.T) {
	rt := newRunTracker(os.Getpid())
	cmd := exec.Command("sleep", "0.5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	rt.sample(t0)
	if a := rt.activity(); len(a.Running) != 1 || a.Running[0].PID != cmd.Process.Pid {
		t.Fatalf("running = %+v, want the sleep child %d", a.Running, cmd.Process.Pid)
	}
	_ = cmd.Wait()
	rt.sample(t0.Add(time.Second))
	a := rt.activity()
	if len(a.Running) != 0 || len(a.Finished) != 1 || !a.Finished[0].Ended {
		t.Fatalf("activity after the child ended = %+v", a)
	}
	if a.Longest() != time.Second {
		t.Errorf("longest = %s, want the 1s between the samples", a.Longest())
	}
	if s := a.String(); !strings.Contains(s, "1 Ansible runs finished (median 1s, longest 1s") || !strings.Contains(s, "none running") {
		t.Errorf("summary %q", s)
	}
}

func TestRunTimeoutFromArgs(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want time.Duration
	}{
		{nil, 0},
		{[]string{"--run-timeout", "10s"}, 10 * time.Second},
		{[]string{"--x", "--run-timeout=3m"}, 3 * time.Minute},
	} {
		if got := runTimeout(tt.args); got != tt.want {
			t.Errorf("runTimeout(%q) = %s, want %s", tt.args, got, tt.want)
		}
	}
}

func TestAwaitLeavesOutNilOperators(t *testing.T) {
	polls := 0
	err := newWaiter(time.Second, []*Operator{nil}).await(t.Context(), "x", func(context.Context) (bool, error) {
		polls++
		return polls > 2, nil
	})
	if err != nil {
		t.Fatalf("await with a nil operator: %v", err)
	}
}
