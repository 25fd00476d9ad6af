package runner

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mcrouter-operator/mcrouter-operator/internal/procfs"
)

// reapOrphans kills ansible-runner process trees left behind by an earlier
// operator process that died without stopping them (SIGKILL, OOM): processes
// whose command line names a path under rootDir and whose parent is neither
// such a process nor a live ansible-operator. Runs of a live operator sharing
// rootDir are left alone. It returns the number of trees killed.
func reapOrphans(rootDir string) int {
	root := filepath.Clean(rootDir) + "/"
	procs := readProcs()
	byPID := make(map[int]procfs.Stat, len(procs))
	for _, p := range procs {
		byPID[p.PID] = p
	}
	killed := 0
	for _, p := range procs {
		if p.Zombie() || p.PID != p.PGRP || !cmdlineContains(p.PID, root) {
			continue
		}
		if parent, ok := byPID[p.PPID]; ok && (cmdlineContains(parent.PID, root) || isOperator(parent.PID)) {
			continue
		}
		k := &treeKiller{}
		if err := k.kill(p.PID); err == nil {
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
