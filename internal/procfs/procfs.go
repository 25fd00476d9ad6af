// Package procfs reads processes from Linux's /proc: the fields of
// /proc/<pid>/stat and the memory lines of /proc/<pid>/status. The runner
// (killing process trees), the tests and the benchmark share it.
package procfs

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Root is the mount point of procfs; the functions take it as a parameter so
// that tests can pass a directory of their own.
const Root = "/proc"

// Stat is what /proc/<pid>/stat tells about a process.
type Stat struct {
	PID, PPID, PGRP int
	Comm            string
	// State is field 3: R, S, D, Z (zombie), X (dead), ...
	State string
	// UTime, STime: CPU time of the process; CUTime, CSTime: of its
	// terminated children it waited for. In clock ticks (fields 14-17).
	UTime, STime, CUTime, CSTime uint64
	// StartTime is field 22 (clock ticks after boot): with PID it names the
	// process even after its PID is reused.
	StartTime uint64
	// RSSPages is the resident set size in pages (field 24).
	RSSPages int64
}

// Zombie reports whether the process has exited and waits to be reaped.
func (s Stat) Zombie() bool { return s.State == "Z" || s.State == "X" }

// CPUTicks is the process's CPU time including its waited-for children.
func (s Stat) CPUTicks() uint64 { return s.UTime + s.STime + s.CUTime + s.CSTime }

// ParseStat parses the content of /proc/<pid>/stat. The command name may
// hold spaces and parentheses, so the fields after it are found from the
// last ')'.
func ParseStat(s string) (Stat, error) {
	var p Stat
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
	p.State = rest[0]
	ints := []struct {
		field int
		into  *int
	}{{4, &p.PPID}, {5, &p.PGRP}}
	for _, f := range ints {
		if *f.into, err = strconv.Atoi(rest[f.field-3]); err != nil {
			return p, fmt.Errorf("stat of %d: field %d %q: %w", pid, f.field, rest[f.field-3], err)
		}
	}
	ticks := []struct {
		field int
		into  *uint64
	}{{14, &p.UTime}, {15, &p.STime}, {16, &p.CUTime}, {17, &p.CSTime}, {22, &p.StartTime}}
	for _, f := range ticks {
		// cutime and cstime are signed in the kernel's format; never negative in practice.
		v, err := strconv.ParseInt(rest[f.field-3], 10, 64)
		if err != nil || v < 0 {
			return p, fmt.Errorf("stat of %d: field %d %q is not a tick count", pid, f.field, rest[f.field-3])
		}
		*f.into = uint64(v)
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

// ReadStat reads and parses the stat of pid under root.
func ReadStat(root string, pid int) (Stat, error) {
	b, err := os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "stat"))
	if err != nil {
		return Stat{}, err
	}
	return ParseStat(string(b))
}

// ReadAll reads the stat of every process under root. Processes that end
// while being read are left out; a stat that does not parse is an error.
func ReadAll(root string) ([]Stat, error) {
	pids, err := PIDs(root)
	if err != nil {
		return nil, err
	}
	out := make([]Stat, 0, len(pids))
	for _, pid := range pids {
		b, err := os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "stat"))
		if err != nil {
			continue // ENOENT, ESRCH: the process just ended
		}
		p, err := ParseStat(string(b))
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Memory holds the memory lines of /proc/<pid>/status, in bytes. Anon (heap,
// stacks) and File (mapped pages of the executable and libraries) add up to
// RSS with the shared memory pages.
type Memory struct {
	RSS, HWM   int64 // VmRSS: resident now; VmHWM: the peak resident size
	Anon, File int64 // RssAnon, RssFile
}

// ParseStatus reads VmRSS, VmHWM, RssAnon and RssFile ("VmRSS:   12345 kB")
// from the content of /proc/<pid>/status. VmRSS and VmHWM must be present: a
// zombie or kernel thread has no memory lines.
func ParseStatus(s string) (Memory, error) {
	var m Memory
	found, err := ParseKB(s, "status", map[string]*int64{"VmRSS": &m.RSS, "VmHWM": &m.HWM, "RssAnon": &m.Anon, "RssFile": &m.File})
	if err != nil {
		return m, err
	}
	if !found["VmRSS"] || !found["VmHWM"] {
		return m, errors.New("status has no VmRSS and VmHWM lines (process gone or a zombie?)")
	}
	return m, nil
}

// ParseKB reads the "Key:   12345 kB" lines of a /proc file's content
// (status, smaps_rollup) into the fields named, in bytes, and reports which
// it found. file names the file in errors.
func ParseKB(s, file string, fields map[string]*int64) (found map[string]bool, err error) {
	found = map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		dst := fields[key]
		if !ok || dst == nil {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return found, fmt.Errorf("%s %s: %q is not a size in kB", file, key, strings.TrimSpace(val))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return found, fmt.Errorf("%s %s: %w", file, key, err)
		}
		*dst = kb * 1024
		found[key] = true
	}
	return found, nil
}

// ReadMemory reads the memory lines of pid under root.
func ReadMemory(root string, pid int) (Memory, error) {
	b, err := os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "status"))
	if err != nil {
		return Memory{}, fmt.Errorf("read memory of process %d: %w", pid, err)
	}
	m, err := ParseStatus(string(b))
	if err != nil {
		return m, fmt.Errorf("process %d: %w", pid, err)
	}
	return m, nil
}

// ReadEnviron reads the environment pid was started with (what execve
// received; later changes inside the process do not show), as "KEY=value"
// entries. Reading another user's process, or a non-dumpable one, fails
// with a permission error.
func ReadEnviron(root string, pid int) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "environ"))
	if err != nil {
		return nil, err
	}
	return ParseEnviron(b), nil
}

// ParseEnviron splits the content of /proc/<pid>/environ, NUL-separated
// entries, leaving out empty ones.
func ParseEnviron(b []byte) []string {
	var out []string
	for _, e := range strings.Split(string(b), "\x00") {
		if e != "" {
			out = append(out, e)
		}
	}
	return out
}

// PIDs lists the process IDs under root.
func PIDs(root string) ([]int, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("list processes in %s: %w", root, err)
	}
	out := make([]int, 0, len(entries))
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out, nil
}
