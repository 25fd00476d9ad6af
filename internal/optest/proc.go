package optest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
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

// Memory reads VmRSS and VmHWM of the operator process from /proc.
func (o *Operator) Memory() (Memory, error) {
	m, err := procfs.ReadMemory(procfs.Root, o.Pid())
	if err != nil {
		return Memory{}, fmt.Errorf("operator: %w", err)
	}
	return Memory{RSS: m.RSS, HWM: m.HWM}, nil
}
