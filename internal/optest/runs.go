package optest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mcrouter-operator/mcrouter-operator/internal/procfs"
)

// sampleEvery is how often an operator's child processes are looked at.
// Ansible runs last a second or more, so none is missed.
const sampleEvery = 200 * time.Millisecond

// Run is one Ansible run of an operator as seen from outside: an
// ansible-runner process the operator started, or a fork of its warm
// executor's server (runner/internal/warm), from the first sample that saw it
// to the last one, or to the first that found it gone.
type Run struct {
	PID       int
	FirstSeen time.Time
	LastSeen  time.Time
	Ended     bool
}

// Duration is how long the run was seen, to within sampleEvery.
func (r Run) Duration() time.Duration { return r.LastSeen.Sub(r.FirstSeen) }

// Activity is what an operator has done so far.
type Activity struct {
	Finished []Run // in the order they ended
	Running  []Run
}

// Longest is the duration of the longest finished run, or 0.
func (a Activity) Longest() time.Duration {
	var d time.Duration
	for _, r := range a.Finished {
		d = max(d, r.Duration())
	}
	return d
}

// Started is the number of runs seen, finished or not.
func (a Activity) Started() int { return len(a.Finished) + len(a.Running) }

// String summarises the runs for a failure message: how many, how long.
func (a Activity) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d Ansible runs finished", len(a.Finished))
	if n := len(a.Finished); n > 0 {
		ds := make([]time.Duration, n)
		for i, r := range a.Finished {
			ds[i] = r.Duration()
		}
		last := ds[max(0, n-8):]
		slices.Sort(ds)
		fmt.Fprintf(&b, " (median %s, longest %s; the last %d took %s)",
			ds[n/2].Round(100*time.Millisecond), ds[n-1].Round(100*time.Millisecond), len(last), roundAll(last))
	}
	now := time.Now()
	for _, r := range a.Running {
		fmt.Fprintf(&b, "; pid %d running for %s", r.PID, now.Sub(r.FirstSeen).Round(100*time.Millisecond))
	}
	if len(a.Running) == 0 {
		b.WriteString("; none running")
	}
	return b.String()
}

func roundAll(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.Round(100 * time.Millisecond).String()
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// runTracker samples an operator's child processes: every child the
// operator starts is an Ansible run, except the warm executor's server,
// whose forks are runs.
type runTracker struct {
	pid int

	mu       sync.Mutex
	running  map[childKey]*Run
	finished []Run
}

// childKey names a process even after its PID is reused.
type childKey struct {
	pid   int
	start uint64
}

func newRunTracker(pid int) *runTracker {
	return &runTracker{pid: pid, running: map[childKey]*Run{}}
}

// track samples until done is closed; the runs under way then end.
func (rt *runTracker) track(done <-chan struct{}) {
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	for {
		rt.sample(time.Now())
		select {
		case <-done:
			rt.endAll(time.Now())
			return
		case <-tick.C:
		}
	}
}

func (rt *runTracker) sample(now time.Time) {
	seen := map[childKey]bool{}
	self := ""
	if st, err := procfs.ReadStat(procfs.Root, rt.pid); err == nil {
		self = newProc(st).Cmdline
	}
	for _, pid := range children(rt.pid) {
		st, err := procfs.ReadStat(procfs.Root, pid)
		if err != nil || st.Zombie() || st.PPID != rt.pid {
			continue
		}
		cmdline := newProc(st).Cmdline
		if cmdline == "" || cmdline == self {
			// Exiting (its memory, command line included, is gone: the warm
			// server at shutdown), or forked and not yet exec'd (the
			// operator's own command line): not a run.
			continue
		}
		if !warmImage(cmdline) {
			seen[childKey{pid, st.StartTime}] = true
			continue
		}
		for _, fork := range children(pid) {
			// A run is a fork that keeps the server's image; the server
			// also runs programs of its own (Ansible's import of its
			// display module runs `ldconfig -p` as the server starts).
			st, err := procfs.ReadStat(procfs.Root, fork)
			if err == nil && !st.Zombie() && st.PPID == pid && warmImage(newProc(st).Cmdline) {
				seen[childKey{fork, st.StartTime}] = true
			}
		}
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for k := range seen {
		if r := rt.running[k]; r != nil {
			r.LastSeen = now
		} else {
			rt.running[k] = &Run{PID: k.pid, FirstSeen: now, LastSeen: now}
		}
	}
	for k, r := range rt.running {
		if !seen[k] {
			r.Ended, r.LastSeen = true, now
			rt.finished = append(rt.finished, *r)
			delete(rt.running, k)
		}
	}
}

func (rt *runTracker) endAll(now time.Time) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for k, r := range rt.running {
		r.Ended, r.LastSeen = true, now
		rt.finished = append(rt.finished, *r)
		delete(rt.running, k)
	}
}

func (rt *runTracker) activity() Activity {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	a := Activity{Finished: slices.Clone(rt.finished)}
	for _, r := range rt.running {
		a.Running = append(a.Running, *r)
	}
	slices.SortFunc(a.Running, func(x, y Run) int { return x.FirstSeen.Compare(y.FirstSeen) })
	return a
}

// children lists the child PIDs of pid from /proc/<pid>/task/*/children:
// a child belongs to the thread that forked it.
func children(pid int) []int {
	tasks, _ := filepath.Glob(filepath.Join(procfs.Root, strconv.Itoa(pid), "task", "*", "children"))
	var out []int
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, s := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(s); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}
