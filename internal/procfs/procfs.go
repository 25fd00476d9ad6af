// Package procfs gives the benchmark and the test helpers (internal/optest)
// the few facts about processes they read from Linux's /proc: the stat of a
// process or of all of them, and its memory lines. The reading and parsing
// is github.com/prometheus/procfs's, which the runner uses directly; this
// package keeps the small Stat and Memory those callers compute with (CPU
// ticks with the waited-for children, RSS in pages) and their error
// behaviour: a process that ends while all are read is left out, a file
// that does not parse is an error, a process without memory lines (a
// zombie) has no Memory.
package procfs

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/prometheus/procfs"
)

// Root is the mount point of procfs; the functions take it as a parameter so
// that tests can pass a directory of their own.
const Root = procfs.DefaultMountPoint

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

func statOf(p procfs.Proc) (Stat, error) {
	st, err := p.Stat()
	if err != nil {
		return Stat{}, err
	}
	if st.CUTime < 0 || st.CSTime < 0 {
		// Signed in the kernel's format; never negative in practice.
		return Stat{}, fmt.Errorf("stat of %d: negative children's time %d, %d", p.PID, st.CUTime, st.CSTime)
	}
	return Stat{
		PID: st.PID, PPID: st.PPID, PGRP: st.PGRP, Comm: st.Comm, State: st.State,
		UTime: uint64(st.UTime), STime: uint64(st.STime), CUTime: uint64(st.CUTime), CSTime: uint64(st.CSTime),
		StartTime: st.Starttime, RSSPages: int64(st.RSS),
	}, nil
}

// ReadStat reads and parses the stat of pid under root.
func ReadStat(root string, pid int) (Stat, error) {
	fsys, err := procfs.NewFS(root)
	if err != nil {
		return Stat{}, err
	}
	p, err := fsys.Proc(pid)
	if err != nil {
		return Stat{}, err
	}
	return statOf(p)
}

// ReadAll reads the stat of every process under root, in PID order.
// Processes that end while being read are left out; a stat that does not
// parse is an error.
func ReadAll(root string) ([]Stat, error) {
	fsys, err := procfs.NewFS(root)
	if err != nil {
		return nil, fmt.Errorf("list processes in %s: %w", root, err)
	}
	procs, err := fsys.AllProcs()
	if err != nil {
		return nil, fmt.Errorf("list processes in %s: %w", root, err)
	}
	out := make([]Stat, 0, len(procs))
	for _, p := range procs {
		st, err := statOf(p)
		var gone *fs.PathError // ENOENT, ESRCH: the process just ended
		if errors.As(err, &gone) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("stat of %d: %w", p.PID, err)
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b Stat) int { return cmp.Compare(a.PID, b.PID) })
	return out, nil
}

// Memory holds the memory lines of /proc/<pid>/status, in bytes. Anon (heap,
// stacks) and File (mapped pages of the executable and libraries) add up to
// RSS with the shared memory pages.
type Memory struct {
	RSS, HWM   int64 // VmRSS: resident now; VmHWM: the peak resident size
	Anon, File int64 // RssAnon, RssFile
}

// ReadMemory reads the memory lines of pid under root. A zombie or kernel
// thread has none (its peak VmHWM reads 0), which is an error.
func ReadMemory(root string, pid int) (Memory, error) {
	fsys, err := procfs.NewFS(root)
	if err != nil {
		return Memory{}, fmt.Errorf("read memory of process %d: %w", pid, err)
	}
	p, err := fsys.Proc(pid)
	if err != nil {
		return Memory{}, fmt.Errorf("read memory of process %d: %w", pid, err)
	}
	st, err := p.NewStatus()
	if err != nil {
		return Memory{}, fmt.Errorf("read memory of process %d: %w", pid, err)
	}
	if st.VmHWM == 0 {
		return Memory{}, fmt.Errorf("process %d: status has no VmRSS and VmHWM lines (process gone or a zombie?)", pid)
	}
	return Memory{RSS: int64(st.VmRSS), HWM: int64(st.VmHWM), Anon: int64(st.RssAnon), File: int64(st.RssFile)}, nil
}
