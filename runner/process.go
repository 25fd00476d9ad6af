package runner

import (
	"errors"
	"sync"
	"syscall"
	"time"

	"github.com/mcrouter-operator/mcrouter-operator/internal/procfs"
)

// killWait bounds how long Run waits for killed processes to disappear.
const killWait = 10 * time.Second

// treeKiller kills ansible-runner's process group and the groups of all its
// descendants. ansible-runner starts ansible-playbook on a pseudo-terminal in
// a new session, so killing ansible-runner's group alone would leave
// ansible-playbook and its workers running.
type treeKiller struct {
	mu        sync.Mutex
	signalled bool  // kill ran for a real process
	killed    []int // process groups signalled
}

// kill kills the tree of pid, ansible-runner, the leader of its own group.
// It is called from the exec.Cmd Cancel hook, which runs before Wait reaps
// ansible-runner, so pid still names its group.
func (k *treeKiller) kill(pid int) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if pid <= 1 {
		return nil // never signal our own group (0) or init (1)
	}
	k.signalled = true
	// Freeze the leader's group first so that it cannot start new children
	// while the tree is read.
	_ = syscall.Kill(-pid, syscall.SIGSTOP)
	own := syscall.Getpgrp()
	groups := []int{}
	for _, g := range descendantGroups(pid) {
		if g != own && g != pid && g > 1 {
			groups = append(groups, g)
		}
	}
	var errs []error
	for _, g := range groups {
		if err := syscall.Kill(-g, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, err)
		}
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		errs = append(errs, err)
	}
	k.killed = append(groups, pid)
	return errors.Join(errs...)
}

// used reports whether kill ran, i.e. the run was stopped by its context.
func (k *treeKiller) used() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.signalled
}

// waitGone waits until no live process is left in the killed groups. It
// returns the groups that still have live members after killWait.
func (k *treeKiller) waitGone() []int {
	k.mu.Lock()
	groups := append([]int(nil), k.killed...)
	k.mu.Unlock()
	if len(groups) == 0 {
		return nil
	}
	deadline := time.Now().Add(killWait)
	for {
		alive := liveGroups(groups)
		if len(alive) == 0 || time.Now().After(deadline) {
			return alive
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readProcs reads every process from /proc. It returns nil when /proc
// cannot be read: the kill then reaches ansible-runner's own group only.
func readProcs() []procfs.Stat {
	procs, err := procfs.ReadAll(procfs.Root)
	if err != nil {
		return nil
	}
	return procs
}

// descendantGroups returns the process groups of root's descendants.
func descendantGroups(root int) []int {
	procs := readProcs()
	children := map[int][]procfs.Stat{}
	for _, p := range procs {
		children[p.PPID] = append(children[p.PPID], p)
	}
	seen := map[int]bool{}
	var groups []int
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			queue = append(queue, c.PID)
			if !seen[c.PGRP] {
				seen[c.PGRP] = true
				groups = append(groups, c.PGRP)
			}
		}
	}
	return groups
}

// liveGroups returns the groups among groups that have a process that is not
// a zombie.
func liveGroups(groups []int) []int {
	want := map[int]bool{}
	for _, g := range groups {
		want[g] = true
	}
	var alive []int
	for _, p := range readProcs() {
		if want[p.PGRP] && !p.Zombie() {
			alive = append(alive, p.PGRP)
			delete(want, p.PGRP)
		}
	}
	return alive
}
