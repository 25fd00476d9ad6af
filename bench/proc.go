package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// procStat is what the benchmark reads from /proc/<pid>/stat.
type procStat struct {
	PID, PPID int
	Comm      string
	// UTime, STime: CPU time of the process; CUTime, CSTime: of its
	// terminated children it waited for. In clock ticks (fields 14-17).
	UTime, STime, CUTime, CSTime uint64
	// RSSPages is the resident set size in pages (field 24).
	RSSPages int64
}

// cpuTicks is the process's CPU time including its waited-for children.
func (p procStat) cpuTicks() uint64 { return p.UTime + p.STime + p.CUTime + p.CSTime }

// parseStat parses the content of /proc/<pid>/stat. The command name may
// hold spaces and parentheses, so the fields after it are found from the
// last ')'.
func parseStat(s string) (procStat, error) {
	var p procStat
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 1 || end < open {
		return p, fmt.Errorf("stat %q: no (comm)", truncate(s, 60))
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s[:open]))
	if err != nil {
		return p, fmt.Errorf("stat %q: pid: %w", truncate(s, 60), err)
	}
	p.PID, p.Comm = pid, s[open+1:end]
	// rest[0] is field 3 (state), so field k is rest[k-3].
	rest := strings.Fields(s[end+1:])
	if len(rest) < 24-3+1 {
		return p, fmt.Errorf("stat of %d: %d fields after comm, want at least 22", pid, len(rest))
	}
	ints := []struct {
		field int
		into  *uint64
	}{{14, &p.UTime}, {15, &p.STime}, {16, &p.CUTime}, {17, &p.CSTime}}
	for _, f := range ints {
		// cutime and cstime are signed in the kernel's format; never negative in practice.
		v, err := strconv.ParseInt(rest[f.field-3], 10, 64)
		if err != nil || v < 0 {
			return p, fmt.Errorf("stat of %d: field %d %q is not a tick count", pid, f.field, rest[f.field-3])
		}
		*f.into = uint64(v)
	}
	if p.PPID, err = strconv.Atoi(rest[4-3]); err != nil {
		return p, fmt.Errorf("stat of %d: ppid %q: %w", pid, rest[4-3], err)
	}
	if p.RSSPages, err = strconv.ParseInt(rest[24-3], 10, 64); err != nil {
		return p, fmt.Errorf("stat of %d: rss %q: %w", pid, rest[24-3], err)
	}
	return p, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// memStatus holds the memory lines of /proc/<pid>/status, in bytes.
// RssAnon (heap, stacks) and RssFile (mapped pages of the executable and
// libraries) add up to VmRSS with RssShmem.
type memStatus struct {
	VmRSS, VmHWM     int64
	RssAnon, RssFile int64
}

// parseStatus reads VmRSS, VmHWM, RssAnon and RssFile ("VmRSS:   12345 kB")
// from the content of /proc/<pid>/status. VmRSS and VmHWM must be present: a
// zombie or kernel thread has no memory lines.
func parseStatus(s string) (memStatus, error) {
	var m memStatus
	fields := map[string]*int64{"VmRSS": &m.VmRSS, "VmHWM": &m.VmHWM, "RssAnon": &m.RssAnon, "RssFile": &m.RssFile}
	found := 0
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		dst := fields[key]
		if !ok || dst == nil {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return m, fmt.Errorf("status %s: %q is not a size in kB", key, strings.TrimSpace(val))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return m, fmt.Errorf("status %s: %w", key, err)
		}
		*dst = kb * 1024
		if key == "VmRSS" || key == "VmHWM" {
			found++
		}
	}
	if found != 2 {
		return m, errors.New("status has no VmRSS and VmHWM lines (process gone or a zombie?)")
	}
	return m, nil
}

// readMemStatus reads VmRSS and VmHWM of pid.
func readMemStatus(procRoot string, pid int) (memStatus, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "status"))
	if err != nil {
		return memStatus{}, fmt.Errorf("read memory of process %d: %w", pid, err)
	}
	m, err := parseStatus(string(b))
	if err != nil {
		return m, fmt.Errorf("process %d: %w", pid, err)
	}
	return m, nil
}

// readAllStats reads /proc/*/stat. Processes that end while being read are
// left out.
func readAllStats(procRoot string) ([]procStat, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, fmt.Errorf("list processes in %s: %w", procRoot, err)
	}
	out := make([]procStat, 0, len(entries))
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "stat"))
		if err != nil {
			continue // ENOENT, ESRCH: the process just ended
		}
		p, err := parseStat(string(b))
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// processTree returns root and its live descendants from all, root first;
// nil when root is not among them.
func processTree(all []procStat, root int) []procStat {
	children := map[int][]procStat{}
	var top *procStat
	for i := range all {
		if all[i].PID == root {
			top = &all[i]
		}
		children[all[i].PPID] = append(children[all[i].PPID], all[i])
	}
	if top == nil {
		return nil
	}
	tree := []procStat{*top}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, children[tree[i].PID]...)
	}
	return tree
}

// treeUsage sums a process tree: CPU ticks (including waited-for children),
// resident pages, and the number of direct children of the root.
type treeUsage struct {
	CPUTicks     uint64
	RSSPages     int64
	RootRSSPages int64
	Procs        int
	RootChild    int
}

func usageOf(tree []procStat) treeUsage {
	var u treeUsage
	if len(tree) > 0 {
		u.RootRSSPages = tree[0].RSSPages
	}
	for _, p := range tree {
		u.CPUTicks += p.cpuTicks()
		u.RSSPages += p.RSSPages
		u.Procs++
		if p.PPID == tree[0].PID {
			u.RootChild++
		}
	}
	return u
}

// readTree reads the usage of pid's process tree.
func readTree(procRoot string, pid int) (treeUsage, error) {
	all, err := readAllStats(procRoot)
	if err != nil {
		return treeUsage{}, err
	}
	tree := processTree(all, pid)
	if tree == nil {
		return treeUsage{}, fmt.Errorf("process %d not found in %s (did the operator exit?)", pid, procRoot)
	}
	return usageOf(tree), nil
}
