package runner

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/procfs"
)

// Every process of a run carries two environment variables, inherited from
// ansible-runner by ansible-playbook, its workers, the modules and whatever
// they start, also when it leaves the process group or the session (nohup,
// setsid, async tasks): that is how the processes of a run are found once
// ansible-runner has exited and its tree has come apart. A PR_SET_CHILD_SUBREAPER
// on the operator would keep the tree, but it makes the operator the parent
// of every orphan of every run (no longer telling runs apart) and obliges it
// to wait for them, which races with os/exec's own waits.
const (
	// envRun names the run: "<owner pid>.<owner start time>.<random>". The
	// owner is the operator process that started it, named by its start
	// time too so that a reused pid is not taken for it.
	envRun = "ANSIBLE_OPERATOR_RUN"
	// envRunDir is the input dir of the run.
	envRunDir = "ANSIBLE_OPERATOR_RUN_DIR"
)

// owner identifies the operator process that starts runs.
type owner struct {
	pid   int
	start uint64 // 0 when /proc could not tell
}

func selfOwner() owner {
	o := owner{pid: os.Getpid()}
	if st, err := readStat(o.pid); err == nil {
		o.start = st.Starttime
	}
	return o
}

// alive reports whether the owner process still runs.
func (o owner) alive() bool {
	st, err := readStat(o.pid)
	return err == nil && !zombie(st) && (o.start == 0 || st.Starttime == o.start)
}

// readStat reads /proc/<pid>/stat. Starttime (clock ticks after boot) names
// the process together with its pid even after the pid is reused.
func readStat(pid int) (procfs.ProcStat, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return procfs.ProcStat{}, err
	}
	return p.Stat()
}

// zombie reports whether the process has exited and waits to be reaped (Z),
// or is dead (X).
func zombie(st procfs.ProcStat) bool { return st.State == "Z" || st.State == "X" }

// runMarker is the marking of one run's processes.
type runMarker struct {
	token string // the value of envRun
	dir   string // the value of envRunDir
}

func newMarker(o owner, dir string) runMarker {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return runMarker{token: fmt.Sprintf("%d.%d.%s", o.pid, o.start, hex.EncodeToString(b[:])), dir: dir}
}

func (m runMarker) env() []string {
	return []string{envRun + "=" + m.token, envRunDir + "=" + m.dir}
}

// marks reports whether a process environment carries this run's marker.
func (m runMarker) marks(environ []string) bool {
	return slices.Contains(environ, envRun+"="+m.token)
}

// markerOf reads the marker of a process environment and the owner named in
// it; ok is false for a process that is not part of any run.
func markerOf(environ []string) (m runMarker, o owner, ok bool) {
	for _, kv := range environ {
		if v, found := strings.CutPrefix(kv, envRun+"="); found {
			m.token = v
		} else if v, found := strings.CutPrefix(kv, envRunDir+"="); found {
			m.dir = v
		}
	}
	parts := strings.Split(m.token, ".")
	if m.token == "" || m.dir == "" || len(parts) != 3 {
		return m, o, false
	}
	pid, err1 := strconv.Atoi(parts[0])
	start, err2 := strconv.ParseUint(parts[1], 10, 64)
	if err1 != nil || err2 != nil || pid <= 0 {
		return m, o, false
	}
	return m, owner{pid: pid, start: start}, true
}

// withoutMarkers drops inherited marker variables from env, so that an
// operator started from within a run does not pass its parent's marker on.
func withoutMarkers(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return strings.HasPrefix(kv, envRun+"=") || strings.HasPrefix(kv, envRunDir+"=")
	})
}

// killMatching kills every process whose environment match selects, scanning
// /proc again until a scan finds none (a process may fork while its
// relatives are killed) and every process signalled has exited, or killWait
// passes. It returns how many processes it signalled and those still alive
// at the end. Processes whose environment cannot be read (another user's, a
// non-dumpable one) are never matched.
func killMatching(match func(environ []string) bool) (killed int, alive []int) {
	signalled := map[int]uint64{} // pid → start time
	deadline := time.Now().Add(killWait)
	for {
		found := findMatching(match)
		alive = found
		if len(found) == 0 {
			// An exiting process loses its environment before it is a
			// zombie: wait for the state.
			alive = notExited(signalled)
		}
		if len(alive) == 0 || time.Now().After(deadline) {
			return len(signalled), alive
		}
		for _, pid := range found {
			if _, ok := signalled[pid]; !ok {
				st, _ := readStat(pid) // gone: start 0 never matches a live one
				signalled[pid] = st.Starttime
			}
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// findMatching lists the processes, other than this one and init, whose
// environment match selects. A zombie's environment reads empty. The
// environment is what execve received, read up to its first MiB (procfs's
// bound; the markers come last, after the operator's own environment of a
// few KiB).
func findMatching(match func(environ []string) bool) []int {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return nil // no /proc: nothing can be found
	}
	procs, err := fs.AllProcs()
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var found []int
	for _, p := range procs {
		if p.PID <= 1 || p.PID == self {
			continue
		}
		if env, err := p.Environ(); err == nil && match(env) {
			found = append(found, p.PID)
		}
	}
	return found
}

// notExited returns the processes of procs (pid → start time) that are
// neither gone nor zombies.
func notExited(procs map[int]uint64) []int {
	var out []int
	for pid, start := range procs {
		if st, err := readStat(pid); err == nil && st.Starttime == start && !zombie(st) {
			out = append(out, pid)
		}
	}
	return out
}

// reapOrphans kills the processes of runs under rootDir whose operator
// process is gone (killed by SIGKILL or the OOM killer before it could stop
// them): processes marked with a run whose input dir is under rootDir and
// whose owner no longer runs. Runs of a live operator sharing rootDir, and
// processes that merely name a path under rootDir (a tail -f of an artifact,
// an editor), are left alone. It returns the number of runs killed.
func reapOrphans(rootDir string) int {
	root := filepath.Clean(rootDir)
	runs := map[string]bool{}
	owners := map[owner]bool{} // owner → alive
	killMatching(func(environ []string) bool {
		m, o, ok := markerOf(environ)
		if !ok || (m.dir != root && !strings.HasPrefix(m.dir, root+"/")) {
			return false
		}
		alive, seen := owners[o]
		if !seen {
			alive = o.alive()
			owners[o] = alive
		}
		if !alive {
			runs[m.token] = true
		}
		return !alive
	})
	return len(runs)
}
