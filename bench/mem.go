package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"

	"github.com/mcrouter-operator/mcrouter-operator/internal/procfs"
)

// rollup is what /proc/<pid>/smaps_rollup says of a process, in bytes.
// PSS (proportional set size) charges each resident page to the processes
// that map it in equal shares, so the PSS of all processes adds up to the
// memory really used: the warm server's forks share its pages and are
// charged a share, where RSS charges every fork the whole page.
type rollup struct {
	RSS, PSS int64
}

// parseRollup reads the Rss and Pss lines ("Pss:   1234 kB") of
// smaps_rollup's content. ok is false when they are missing: a process
// without memory (a zombie, a kernel thread) has an empty rollup.
func parseRollup(s string) (r rollup, ok bool, err error) {
	found, err := procfs.ParseKB(s, "smaps_rollup", map[string]*int64{"Rss": &r.RSS, "Pss": &r.PSS})
	if err != nil {
		return r, false, err
	}
	return r, found["Rss"] && found["Pss"], nil
}

// readRollup reads the rollup of pid. ok is false for a process that ended
// or has no memory; only other failures (no permission, a kernel without
// smaps_rollup) are errors.
func readRollup(procRoot string, pid int) (rollup, bool, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "smaps_rollup"))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return rollup{}, false, nil // the process ended
	}
	if err != nil {
		return rollup{}, false, fmt.Errorf("read memory of process %d: %w", pid, err)
	}
	r, ok, err := parseRollup(string(b))
	if err != nil {
		return r, false, fmt.Errorf("process %d: %w", pid, err)
	}
	return r, ok, nil
}

// readCmdline returns the arguments of pid ("" entries left out); nil when
// it ended.
func readCmdline(procRoot string, pid int) []string {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range bytes.Split(b, []byte{0}) {
		if len(a) > 0 {
			out = append(out, string(a))
		}
	}
	return out
}

// treeParts splits an operator's process tree into the operator, its warm
// servers and the processes of its Ansible runs.
type treeParts struct {
	Servers []int // warm servers: children of the operator running the server script
	Runs    int   // runs in flight: live children of the servers, other live children of the operator
	RunPIDs []int // every live process of a run: the tree but the operator and the servers
}

// splitTree splits tree (root first, as processTree returns it) given
// which of the root's children are warm servers. A run forked by a server
// is a child of the server; a run exec'd by the operator (the runner
// executor, or the warm executor falling back) is a child of the operator.
// Zombies hold no memory and run nothing: they are left out.
func splitTree(tree []procfs.Stat, isServer func(pid int) bool) treeParts {
	var p treeParts
	if len(tree) == 0 {
		return p
	}
	root := tree[0].PID
	for _, s := range tree[1:] {
		if s.PPID == root && !s.Zombie() && isServer(s.PID) {
			p.Servers = append(p.Servers, s.PID)
		}
	}
	for _, s := range tree[1:] {
		if s.Zombie() || slices.Contains(p.Servers, s.PID) {
			continue
		}
		p.RunPIDs = append(p.RunPIDs, s.PID)
		if s.PPID == root || slices.Contains(p.Servers, s.PPID) {
			p.Runs++
		}
	}
	return p
}

// serverMatcher recognises the warm server of an operator by its command
// line: the interpreter running script (none when script is "").
func serverMatcher(procRoot, script string) func(pid int) bool {
	return func(pid int) bool {
		return script != "" && slices.Contains(readCmdline(procRoot, pid), script)
	}
}

// memSample is the memory of the runs in flight and of the warm servers at
// one moment.
type memSample struct {
	Runs                 int
	RunPSS, RunRSS       int64 // summed over every process of the runs
	ServerPSS, ServerRSS int64
}

// readMemSample sums the rollups of the runs' processes and of the servers.
// Processes that end meanwhile count as nothing.
func readMemSample(procRoot string, parts treeParts) (memSample, error) {
	m := memSample{Runs: parts.Runs}
	for _, group := range []struct {
		pids     []int
		pss, rss *int64
	}{{parts.RunPIDs, &m.RunPSS, &m.RunRSS}, {parts.Servers, &m.ServerPSS, &m.ServerRSS}} {
		for _, pid := range group.pids {
			r, ok, err := readRollup(procRoot, pid)
			if err != nil {
				return m, err
			}
			if ok {
				*group.pss += r.PSS
				*group.rss += r.RSS
			}
		}
	}
	return m, nil
}

// minConcurrentRuns is the number of runs in flight from which a memory
// sample counts: with one run, a share of the pages the runs share is not
// shared with anything.
const minConcurrentRuns = 2

// perRunMemory is the median, over the samples with at least
// minConcurrentRuns runs in flight, of the runs' PSS and RSS per run in
// flight and of the servers' PSS and RSS; n is the number of such samples.
type perRunMemory struct {
	RunPSS, RunRSS       int64
	ServerPSS, ServerRSS int64
	Samples              int
}

func medianMemory(samples []memSample) perRunMemory {
	var pss, rss, spss, srss []float64
	for _, s := range samples {
		if s.Runs < minConcurrentRuns {
			continue
		}
		pss = append(pss, float64(s.RunPSS)/float64(s.Runs))
		rss = append(rss, float64(s.RunRSS)/float64(s.Runs))
		spss = append(spss, float64(s.ServerPSS))
		srss = append(srss, float64(s.ServerRSS))
	}
	return perRunMemory{
		RunPSS: int64(medianOf(pss)), RunRSS: int64(medianOf(rss)),
		ServerPSS: int64(medianOf(spss)), ServerRSS: int64(medianOf(srss)),
		Samples: len(pss),
	}
}
