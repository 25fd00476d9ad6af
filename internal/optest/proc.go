package optest

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/mcrouter-operator/mcrouter-operator/internal/procfs"
)

// Proc is one process as /proc showed it.
type Proc struct {
	PID, PPID, PGID int
	// StartTime is field 22 of /proc/<pid>/stat (clock ticks after boot):
	// with PID it names the process even after its PID is reused.
	StartTime uint64
	// Cmdline is the command line, arguments joined with spaces.
	Cmdline string
}

// Alive reports whether the same process (PID and start time) still exists
// and is not a zombie.
func (p Proc) Alive() bool {
	now, err := procfs.ReadStat(procfs.Root, p.PID)
	return err == nil && now.StartTime == p.StartTime && !now.Zombie()
}

func (p Proc) String() string {
	return fmt.Sprintf("pid %d (ppid %d, pgid %d): %s", p.PID, p.PPID, p.PGID, p.Cmdline)
}

// ProcsMatching lists the live (non-zombie) processes whose command line
// contains substr.
func ProcsMatching(substr string) ([]Proc, error) {
	return procsWhere(func(p Proc) bool { return strings.Contains(p.Cmdline, substr) })
}

// ProcsWithEnv lists the live processes whose environment holds an entry
// containing substr: a run's children inherit its KUBECONFIG, which names
// the run's directory, whatever their command line.
func ProcsWithEnv(substr string) ([]Proc, error) {
	return procsWhere(func(p Proc) bool {
		env, err := os.ReadFile(filepath.Join(procfs.Root, strconv.Itoa(p.PID), "environ"))
		return err == nil && bytes.Contains(env, []byte(substr))
	})
}

// ProcsIn lists the live processes of the Ansible runs under dir: those
// whose command line names dir or a path below it (ansible-runner and what
// it execs name the run's input dir), and those whose working dir is dir or
// below it (a run forked by the warm executor keeps its server's command
// line, but works in the run's input dir).
func ProcsIn(dir string) ([]Proc, error) {
	dir = filepath.Clean(dir)
	under := func(s string) bool { return s == dir || strings.HasPrefix(s, dir+"/") }
	return procsWhere(func(p Proc) bool {
		for _, f := range strings.Fields(p.Cmdline) {
			if under(f) {
				return true
			}
		}
		return under(cwd(p.PID))
	})
}

// cwd is the working dir of pid, "" when unknown; a removed dir reads as
// its former path.
func cwd(pid int) string {
	d, err := os.Readlink(filepath.Join(procfs.Root, strconv.Itoa(pid), "cwd"))
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(d, " (deleted)")
}

// RunningDirs lists the input dirs of the Ansible runs under way below
// runnerDir, once each: the DIR of every `ansible-runner run DIR` process,
// and the working dir of every run the warm executor forked (a child of a
// server below runnerDir) once it has left the server's.
func RunningDirs(runnerDir string) ([]string, error) {
	all, err := procfs.ReadAll(procfs.Root)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	procs := map[int]Proc{}
	for _, st := range all {
		if !st.Zombie() {
			procs[st.PID] = newProc(st)
		}
	}
	isServer := func(pid int) bool {
		p, ok := procs[pid]
		return ok && warmImage(p.Cmdline) && strings.Contains(p.Cmdline, runnerDir+"/") &&
			!warmImage(procs[p.PPID].Cmdline)
	}
	dirs := map[string]bool{}
	for _, p := range procs {
		fields := strings.Fields(p.Cmdline)
		switch {
		case len(fields) > 3 && strings.HasSuffix(fields[1], "ansible-runner") && fields[2] == "run" &&
			strings.HasPrefix(fields[3], runnerDir+"/"):
			dirs[fields[3]] = true
		case isServer(p.PPID):
			// A fork that has not yet entered its run's dir is still in
			// its server's (<runner dir>/.warm): no run to name yet.
			if d := cwd(p.PID); d != "" && d != cwd(p.PPID) {
				dirs[d] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(dirs)), nil
}

// warmImage reports whether cmdline is that of the warm executor's server
// (runner/internal/warm), `python3 <runner dir>/.warm/server.py`, which the
// processes it forks keep.
func warmImage(cmdline string) bool {
	fields := strings.Fields(cmdline)
	return len(fields) == 2 && strings.HasSuffix(fields[1], "/.warm/server.py")
}

// procsWhere lists the live processes for which match holds; processes that
// end while /proc is read are skipped.
func procsWhere(match func(Proc) bool) ([]Proc, error) {
	all, err := procfs.ReadAll(procfs.Root)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var out []Proc
	for _, st := range all {
		if st.Zombie() {
			continue
		}
		if p := newProc(st); match(p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// IsDescendant reports whether pid is ancestor or one of its descendants.
func IsDescendant(pid, ancestor int) bool {
	for seen := 0; pid > 1 && seen < 64; seen++ {
		if pid == ancestor {
			return true
		}
		p, err := procfs.ReadStat(procfs.Root, pid)
		if err != nil {
			return false
		}
		pid = p.PPID
	}
	return pid == ancestor
}

// newProc is st with its command line.
func newProc(st procfs.Stat) Proc {
	cmdline, _ := os.ReadFile(filepath.Join(procfs.Root, strconv.Itoa(st.PID), "cmdline"))
	return Proc{PID: st.PID, PPID: st.PPID, PGID: st.PGRP, StartTime: st.StartTime,
		Cmdline: strings.TrimSpace(string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))}
}

// Memory is the resident memory of a process, in bytes.
type Memory struct {
	RSS int64 // VmRSS: resident now
	HWM int64 // VmHWM: the peak resident size
}

func (m Memory) String() string {
	return fmt.Sprintf("VmRSS %.1f MiB, VmHWM %.1f MiB", float64(m.RSS)/(1<<20), float64(m.HWM)/(1<<20))
}

// Memory reads VmRSS and VmHWM of the process from /proc.
func (p Proc) Memory() (Memory, error) {
	m, err := procfs.ReadMemory(procfs.Root, p.PID)
	if err != nil {
		return Memory{}, fmt.Errorf("pid %d: %w", p.PID, err)
	}
	return Memory{RSS: m.RSS, HWM: m.HWM}, nil
}

// WarmServer is the operator's warm executor server, when one runs: the
// child running server.py (runner/internal/warm).
func (o *Operator) WarmServer() (Proc, bool) {
	for _, pid := range children(o.Pid()) {
		st, err := procfs.ReadStat(procfs.Root, pid)
		if err != nil || st.Zombie() || st.PPID != o.Pid() {
			continue
		}
		if p := newProc(st); warmImage(p.Cmdline) {
			return p, true
		}
	}
	return Proc{}, false
}

// Memory reads VmRSS and VmHWM of the operator process from /proc.
func (o *Operator) Memory() (Memory, error) {
	m, err := procfs.ReadMemory(procfs.Root, o.Pid())
	if err != nil {
		return Memory{}, fmt.Errorf("operator: %w", err)
	}
	return Memory{RSS: m.RSS, HWM: m.HWM}, nil
}
