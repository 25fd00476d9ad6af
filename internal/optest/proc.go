package optest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
	now, err := readProc(p.PID)
	return err == nil && now.StartTime == p.StartTime && !now.zombie
}

func (p Proc) String() string {
	return fmt.Sprintf("pid %d (ppid %d, pgid %d): %s", p.PID, p.PPID, p.PGID, p.Cmdline)
}

type procEntry struct {
	Proc
	zombie bool
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
		env, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.PID), "environ"))
		return err == nil && bytes.Contains(env, []byte(substr))
	})
}

// procsWhere lists the live processes for which match holds; processes that
// end while /proc is read are skipped.
func procsWhere(match func(Proc) bool) ([]Proc, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var out []Proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, err := readProc(pid); err == nil && !p.zombie && match(p.Proc) {
			out = append(out, p.Proc)
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
		p, err := readProc(pid)
		if err != nil {
			return false
		}
		pid = p.PPID
	}
	return pid == ancestor
}

func readProc(pid int) (procEntry, error) {
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return procEntry{}, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return procEntry{}, fmt.Errorf("%s/stat: no command name", dir)
	}
	fields := strings.Fields(string(stat[end+1:]))
	if len(fields) < 20 {
		return procEntry{}, fmt.Errorf("%s/stat: %d fields", dir, len(fields))
	}
	// fields[0] is field 3 (state); field n is fields[n-3].
	e := procEntry{zombie: fields[0] == "Z" || fields[0] == "X"}
	e.PID = pid
	e.PPID, _ = strconv.Atoi(fields[1])
	e.PGID, _ = strconv.Atoi(fields[2])
	e.StartTime, _ = strconv.ParseUint(fields[19], 10, 64)
	cmdline, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
	e.Cmdline = strings.TrimSpace(string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
	return e, nil
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
	path := filepath.Join("/proc", strconv.Itoa(o.Pid()), "status")
	f, err := os.Open(path)
	if err != nil {
		return Memory{}, fmt.Errorf("read memory of the operator: %w", err)
	}
	defer f.Close()
	var m Memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("%s: %s: %w", path, key, err)
		}
		if key == "VmRSS" {
			m.RSS = kb << 10
		} else {
			m.HWM = kb << 10
		}
	}
	if err := sc.Err(); err != nil {
		return Memory{}, fmt.Errorf("%s: %w", path, err)
	}
	if m.RSS == 0 || m.HWM == 0 {
		return Memory{}, fmt.Errorf("%s: no VmRSS or VmHWM", path)
	}
	return m, nil
}
