package runner

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// reapOrphans kills ansible-runner process trees left behind by an earlier
// operator process that died without stopping them (SIGKILL, OOM): processes
// whose command line names a path under rootDir and whose parent is neither
// such a process nor a live ansible-operator. Runs of a live operator sharing
// rootDir are left alone. It returns the number of trees killed.
func reapOrphans(rootDir string) int {
	root := filepath.Clean(rootDir) + "/"
	procs := readProcs()
	byPID := make(map[int]procStat, len(procs))
	for _, p := range procs {
		byPID[p.pid] = p
	}
	killed := 0
	for _, p := range procs {
		if p.zombie || p.pid != p.pgrp || !cmdlineContains(p.pid, root) {
			continue
		}
		if parent, ok := byPID[p.ppid]; ok && (cmdlineContains(parent.pid, root) || isOperator(parent.pid)) {
			continue
		}
		k := &treeKiller{}
		if err := k.kill(p.pid); err == nil {
			k.waitGone()
			killed++
		}
	}
	return killed
}

func cmdlineContains(pid int, s string) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	return err == nil && bytes.Contains(b, []byte(s))
}

func isOperator(pid int) bool {
	exe, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "exe"))
	return err == nil && strings.HasPrefix(filepath.Base(exe), "ansible-operator")
}
