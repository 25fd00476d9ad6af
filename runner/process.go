package runner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/procfs"

	"github.com/mcrouter-operator/mcrouter-operator/runner/internal/warm"
)

// process is one ansible-runner process and the reading of its events.
type process struct {
	path, dir string
	args, env []string
	marker    runMarker // in env: marks every process of the run
	timeout   time.Duration
	// maxArtifactBytes is Options.MaxArtifactBytes: the run is killed when
	// its event stream passes half of it.
	maxArtifactBytes int64
	col              *collector
	log              logr.Logger
	// warm, when set, forks ansible-runner from the warm executor; a run
	// it cannot start is exec'd.
	warm *warm.Executor
}

const (
	// pipeDrain bounds the reading of stdout after ansible-runner exited, in
	// case a detached grandchild still holds the pipe open. ansible-playbook
	// itself never holds it: it runs on a pseudo-terminal.
	pipeDrain = 10 * time.Second
	// stderrDrain is exec.Cmd.WaitDelay, the same bound for stderr.
	stderrDrain = 5 * time.Second
)

// errOutputCause is the cancel cause of a run killed for its output.
var errOutputCause = errors.New("output limit")

// ended is what run learned about how the process ended.
type ended struct {
	waitErr, readErr error
	killer           *treeKiller
	leftover, strays []int // groups and marked processes alive after the kill
	stderr           *lineTail
}

func (p *process) execute(ctx context.Context) (*Result, error) {
	timed, cancelTimeout := context.WithTimeout(ctx, p.timeout)
	defer cancelTimeout()
	runCtx, stop := context.WithCancelCause(timed)
	defer stop(nil)
	p.col.maxBytes = p.maxArtifactBytes / 2
	p.col.onLimit = func() { stop(errOutputCause) }

	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start ansible-runner: %w", err)
	}
	defer stdoutR.Close()
	e := ended{killer: &treeKiller{}, stderr: newLineTail(tailLines, tailLineBytes)}
	var wait func() error
	if p.warm != nil {
		wait, err = p.startWarm(runCtx, stdoutW, &e)
		if errors.Is(err, warm.ErrUnavailable) {
			p.log.Info("run starts ansible-runner the ordinary way", "reason", err.Error())
		}
	}
	if wait == nil {
		wait, err = p.startExec(runCtx, stdoutW, &e)
	}
	stdoutW.Close() // the child holds its own copy
	if err != nil {
		return nil, err
	}

	readDone := make(chan error, 1)
	go func() { readDone <- p.col.read(stdoutR) }()
	e.waitErr = wait()
	e.strays = p.killStrays()
	_ = stdoutR.SetReadDeadline(time.Now().Add(pipeDrain))
	e.readErr = <-readDone
	e.leftover = e.killer.waitGone()
	return p.col.result(), p.runError(ctx, runCtx, &e)
}

// startExec starts ansible-runner as a child of this process. wait waits
// for it; runCtx's end kills its tree.
func (p *process) startExec(runCtx context.Context, stdout *os.File, e *ended) (wait func() error, err error) {
	cmd := exec.CommandContext(runCtx, p.path, p.args...)
	cmd.Dir, cmd.Env = p.dir, p.env
	cmd.Stdout, cmd.Stderr = stdout, e.stderr
	cmd.SysProcAttr = newProcessGroup()
	cmd.Cancel = func() error { return e.killer.kill(cmd.Process.Pid) }
	cmd.WaitDelay = stderrDrain
	err = cmd.Start()
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("start %s: %w; install the Debian package python3-ansible-runner", p.path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", p.path, err)
	}
	return cmd.Wait, nil
}

// runError is the error of a run that ended as e says; nil for a run that
// reached its stats and left nothing alive.
func (p *process) runError(ctx, runCtx context.Context, e *ended) error {
	task := p.col.runningTask()
	var err error
	switch {
	case p.col.sawStats && len(e.strays) == 0:
		return nil
	case p.col.sawStats:
	case errors.Is(context.Cause(runCtx), errOutputCause):
		err = fmt.Errorf("%w %s: its event stream passed %d bytes, and ansible-runner keeps it twice: "+
			"its artifacts would pass the per-resource cap of %d bytes (flag --max-runner-artifacts-bytes)",
			ErrOutputLimit, task, p.col.maxBytes, p.maxArtifactBytes)
	case errors.Is(e.waitErr, warm.ErrDied):
		err = fmt.Errorf("%w: %w %s%s", ErrIncomplete, e.waitErr, task, p.outputText(e.stderr))
	case !e.killer.used():
		err = fmt.Errorf("%w: %s %s%s", ErrIncomplete, exitText(e.waitErr), task, p.outputText(e.stderr))
	case ctx.Err() != nil:
		err = fmt.Errorf("%w %s: %w", ErrCanceled, task, context.Cause(ctx))
	default:
		err = fmt.Errorf("%w after %s %s", ErrTimeout, p.timeout, task)
	}
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	if len(e.leftover) > 0 {
		errs = append(errs, fmt.Errorf("process groups %v still alive %s after the kill", e.leftover, killWait))
	}
	if len(e.strays) > 0 {
		errs = append(errs, fmt.Errorf("processes %v the run left behind still alive %s after the kill", e.strays, killWait))
	}
	if e.readErr != nil {
		errs = append(errs, fmt.Errorf("reading the event stream: %w", e.readErr))
	}
	return joinSemicolon(errs)
}

// joinSemicolon joins errors on one line, each kept for errors.Is.
func joinSemicolon(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	err := errs[0]
	for _, e := range errs[1:] {
		err = fmt.Errorf("%w; %w", err, e)
	}
	return err
}

// killStrays kills what the run left running once ansible-runner has exited,
// however the run ended: background jobs (`cmd &`, nohup, setsid, async tasks
// with poll: 0), found by the run's marker wherever they moved in the
// process tree. It returns the processes still alive after killWait.
func (p *process) killStrays() []int {
	n, alive := killMatching(p.marker.marks)
	if n > 0 {
		p.log.Info("killed processes the run left running", "processes", n)
	}
	return alive
}

func exitText(err error) string {
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return "ansible-runner " + exitErr.ProcessState.String()
	}
	var forked forkedExit
	if errors.As(err, &forked) {
		return "ansible-runner " + forked.Error()
	}
	if err == nil {
		return "ansible-runner exited with status 0"
	}
	return "ansible-runner: " + err.Error()
}

func (p *process) outputText(stderr *lineTail) string {
	var b strings.Builder
	if out := p.col.tail.String(); out != "" {
		b.WriteString("; last output:\n" + out)
	}
	if errOut := stderr.String(); errOut != "" {
		b.WriteString("\nstderr:\n" + errOut)
	}
	return b.String()
}

// killWait bounds how long Run waits for killed processes to disappear.
const killWait = 10 * time.Second

// treeKiller kills ansible-runner's process group and the groups of all its
// descendants. ansible-runner starts ansible-playbook on a pseudo-terminal in
// a new session, so killing ansible-runner's group alone would leave
// ansible-playbook and its workers running.
type treeKiller struct {
	mu        sync.Mutex
	signalled bool  // kill ran for a real process
	killed    []int // process groups signalled
}

// kill kills the tree of pid, ansible-runner, the leader of its own group.
// It is called from the exec.Cmd Cancel hook, which runs before Wait reaps
// ansible-runner, so pid still names its group.
func (k *treeKiller) kill(pid int) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if pid <= 1 {
		return nil // never signal our own group (0) or init (1)
	}
	k.signalled = true
	// Freeze the leader's group first so that it cannot start new children
	// while the tree is read.
	_ = syscall.Kill(-pid, syscall.SIGSTOP)
	own := syscall.Getpgrp()
	groups := []int{}
	for _, g := range descendantGroups(pid) {
		if g != own && g != pid && g > 1 {
			groups = append(groups, g)
		}
	}
	var errs []error
	for _, g := range groups {
		if err := syscall.Kill(-g, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, err)
		}
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		errs = append(errs, err)
	}
	k.killed = append(groups, pid)
	return errors.Join(errs...)
}

// used reports whether kill ran, i.e. the run was stopped by its context.
func (k *treeKiller) used() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.signalled
}

// waitGone waits until no live process is left in the killed groups. It
// returns the groups that still have live members after killWait.
func (k *treeKiller) waitGone() []int {
	k.mu.Lock()
	groups := append([]int(nil), k.killed...)
	k.mu.Unlock()
	if len(groups) == 0 {
		return nil
	}
	deadline := time.Now().Add(killWait)
	for {
		alive := liveGroups(groups)
		if len(alive) == 0 || time.Now().After(deadline) {
			return alive
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readProcs reads the stat of every process from /proc, leaving out those
// that end while being read. It returns nil when /proc cannot be read or a
// stat does not parse: the kill then reaches ansible-runner's own group only.
func readProcs() []procfs.ProcStat {
	fsys, err := procfs.NewDefaultFS()
	if err != nil {
		return nil
	}
	procs, err := fsys.AllProcs()
	if err != nil {
		return nil
	}
	out := make([]procfs.ProcStat, 0, len(procs))
	for _, p := range procs {
		st, err := p.Stat()
		var gone *fs.PathError // ENOENT, ESRCH: the process just ended
		if errors.As(err, &gone) {
			continue
		}
		if err != nil {
			return nil
		}
		out = append(out, st)
	}
	return out
}

// descendantGroups returns the process groups of root's descendants.
func descendantGroups(root int) []int {
	procs := readProcs()
	children := map[int][]procfs.ProcStat{}
	for _, p := range procs {
		children[p.PPID] = append(children[p.PPID], p)
	}
	seen := map[int]bool{}
	var groups []int
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			queue = append(queue, c.PID)
			if !seen[c.PGRP] {
				seen[c.PGRP] = true
				groups = append(groups, c.PGRP)
			}
		}
	}
	return groups
}

// liveGroups returns the groups among groups that have a process that is not
// a zombie.
func liveGroups(groups []int) []int {
	want := map[int]bool{}
	for _, g := range groups {
		want[g] = true
	}
	var alive []int
	for _, p := range readProcs() {
		if want[p.PGRP] && !zombie(p) {
			alive = append(alive, p.PGRP)
			delete(want, p.PGRP)
		}
	}
	return alive
}
