package runner

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
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

type procStat struct {
	pid, ppid, pgrp int
	zombie          bool
}

// readProcs reads the pid, parent, process group and state of every process
// from /proc. Processes that vanish while reading are skipped.
func readProcs() []procStat {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	procs := make([]procStat, 0, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		if p, ok := parseProcStat(pid, data); ok {
			procs = append(procs, p)
		}
	}
	return procs
}

// parseProcStat parses /proc/<pid>/stat: "pid (comm) state ppid pgrp ...";
// comm may contain spaces and parentheses, so fields start after the last ')'.
func parseProcStat(pid int, data []byte) (procStat, bool) {
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return procStat{}, false
	}
	fields := bytes.Fields(data[end+1:])
	if len(fields) < 3 {
		return procStat{}, false
	}
	ppid, err1 := strconv.Atoi(string(fields[1]))
	pgrp, err2 := strconv.Atoi(string(fields[2]))
	if err1 != nil || err2 != nil {
		return procStat{}, false
	}
	state := string(fields[0])
	return procStat{pid: pid, ppid: ppid, pgrp: pgrp, zombie: state == "Z" || state == "X"}, true
}

// descendantGroups returns the process groups of root's descendants.
func descendantGroups(root int) []int {
	procs := readProcs()
	children := map[int][]procStat{}
	for _, p := range procs {
		children[p.ppid] = append(children[p.ppid], p)
	}
	seen := map[int]bool{}
	var groups []int
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			queue = append(queue, c.pid)
			if !seen[c.pgrp] {
				seen[c.pgrp] = true
				groups = append(groups, c.pgrp)
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
		if want[p.pgrp] && !p.zombie {
			alive = append(alive, p.pgrp)
			delete(want, p.pgrp)
		}
	}
	return alive
}
