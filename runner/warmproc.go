package runner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"

	"github.com/mcrouter-operator/mcrouter-operator/runner/internal/warm"
)

// coldNote starts the lines the warm executor writes to a run's stderr
// when it runs ansible-playbook the ordinary way, with the reason.
const coldNote = "ansible-operator warm executor: "

// startWarm forks ansible-runner from the warm executor. wait waits for it;
// runCtx's end kills its tree, as the end of the server does (its forks
// are not children of this process and nobody else would).
func (p *process) startWarm(runCtx context.Context, stdout *os.File, e *ended) (wait func() error, err error) {
	// The fork runs the ansible-runner the image imported, whatever is on
	// disk now: one that disappeared is exec'd, and fails as it should.
	if _, err := lookPath(p.path, lookupEnv(p.env, "PATH")); err != nil {
		return nil, fmt.Errorf("%w: %w", warm.ErrUnavailable, err)
	}
	stdin, err := os.Open(os.DevNull)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", warm.ErrUnavailable, err)
	}
	defer stdin.Close()
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", warm.ErrUnavailable, err)
	}
	proc, err := p.warm.Start(runCtx, warm.Request{
		Argv: append([]string{p.path}, p.args...), Env: p.env, Dir: p.dir,
		Stdin: stdin, Stdout: stdout, Stderr: stderrW,
	})
	stderrW.Close()
	if err != nil {
		stderrR.Close()
		return nil, err
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(io.MultiWriter(e.stderr, &noteLogger{log: p.log}), stderrR)
	}()
	return func() error {
		select {
		case <-proc.Done():
		case <-runCtx.Done():
			_ = e.killer.kill(proc.Pid)
		}
		status, err := proc.Wait()
		if err != nil {
			// The server died first: its fork lives on, orphaned. Killed
			// with the run's killer, so that run waits for its tree to be
			// gone, as after a timeout.
			_ = e.killer.kill(proc.Pid)
		}
		// A detached grandchild may hold stderr open: bounded, as exec's
		// WaitDelay bounds it.
		_ = stderrR.SetReadDeadline(time.Now().Add(stderrDrain))
		<-copied
		stderrR.Close()
		if err != nil {
			return err
		}
		if status.Exited() && status.ExitStatus() == 0 {
			return nil
		}
		return forkedExit(status)
	}, nil
}

// forkedExit is how a forked ansible-runner that failed ended, worded as
// os.ProcessState words it.
type forkedExit syscall.WaitStatus

func (f forkedExit) Error() string {
	ws := syscall.WaitStatus(f)
	if ws.Signaled() {
		return "signal: " + ws.Signal().String()
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}

// noteLogger logs the warm executor's notes among a run's stderr lines.
type noteLogger struct {
	log     logr.Logger
	partial []byte
}

func (n *noteLogger) Write(p []byte) (int, error) {
	n.partial = append(n.partial, p...)
	for {
		i := bytes.IndexByte(n.partial, '\n')
		if i < 0 {
			break
		}
		if reason, ok := strings.CutPrefix(string(n.partial[:i]), coldNote); ok {
			n.log.Info("warm executor ran ansible-playbook the ordinary way", "reason", reason)
		}
		n.partial = n.partial[i+1:]
	}
	if len(n.partial) > tailLineBytes {
		n.partial = n.partial[:0]
	}
	return len(p), nil
}
