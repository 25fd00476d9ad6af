//go:build imagetest

package image

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

// containerOptions say how hack/image-test-container.sh runs one process.
type containerOptions struct {
	Root     string
	User     string // uid[:gid]; "" is root
	WorkDir  string // default "/"
	Env      []string
	Argv     []string
	ReadOnly bool     // the root file system is read-only
	Tmpfs    []string // tmpfs mounts (emptyDir volumes)
	Binds    []string // "hostpath:containerpath", read-only
	Hostname string
	// NoNewPrivs and DropAllCaps: allowPrivilegeEscalation: false and
	// capabilities: drop: [ALL] of a pod's securityContext.
	NoNewPrivs, DropAllCaps bool
	Output                  io.Writer // stdout and stderr; default: discarded
}

// container is a process started by hack/image-test-container.sh as PID 1
// of its own mount, PID, IPC and UTS namespaces: its Pid is, after the
// script's exec, the command's (tini's in a pod).
type container struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startContainer(t testing.TB, o containerOptions) (*container, error) {
	t.Helper()
	for _, s := range append(append([]string{o.Root, o.User, o.WorkDir}, o.Tmpfs...), o.Binds...) {
		if strings.ContainsAny(s, " \t\n") {
			return nil, fmt.Errorf("container option %q has a blank; the runtime script splits on blanks", s)
		}
	}
	if o.User == "" {
		o.User = "0:0"
	}
	if o.WorkDir == "" {
		o.WorkDir = "/"
	}
	if o.Output == nil {
		o.Output = io.Discard
	}
	for _, kv := range o.Env {
		if !strings.Contains(kv, "=") {
			return nil, fmt.Errorf("environment entry %q is not KEY=VALUE", kv)
		}
	}
	if len(o.Argv) == 0 || strings.Contains(o.Argv[0], "=") {
		return nil, fmt.Errorf("command %q: empty or looks like an assignment", o.Argv)
	}
	args := append([]string{o.Root, o.User, o.WorkDir}, o.Env...)
	args = append(args, o.Argv...)
	cmd := exec.Command(optest.RepoPath(t, "hack", "image-test-container.sh"), args...)
	cmd.Env = append(os.Environ(),
		"IMAGE_TMPFS="+strings.Join(o.Tmpfs, " "),
		"IMAGE_BINDS="+strings.Join(o.Binds, " "),
		"IMAGE_HOSTNAME="+o.Hostname)
	for set, name := range map[*bool]string{&o.ReadOnly: "IMAGE_READONLY", &o.NoNewPrivs: "IMAGE_NO_NEW_PRIVS", &o.DropAllCaps: "IMAGE_DROP_ALL_CAPS"} {
		if *set {
			cmd.Env = append(cmd.Env, name+"=1")
		}
	}
	cmd.Stdout, cmd.Stderr = o.Output, o.Output
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the container runtime hack/image-test-container.sh: %w", err)
	}
	c := &container{cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	// Killing PID 1 ends every process of its PID namespace.
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-c.done
	})
	return c, nil
}

func (c *container) Pid() int { return c.cmd.Process.Pid }

// Exited reports whether the container's PID 1 has ended, and how.
func (c *container) Exited() (bool, error) {
	select {
	case <-c.done:
		return true, c.err
	default:
		return false, nil
	}
}

// runInRoot runs argv in the root as a RUN step runs: to its end, its
// output returned (and in the error when it fails).
func runInRoot(t testing.TB, o containerOptions) (string, error) {
	t.Helper()
	var out lockedBuffer
	o.Output = &out
	c, err := startContainer(t, o)
	if err != nil {
		return "", err
	}
	<-c.done
	if c.err != nil {
		return out.String(), fmt.Errorf("%w; output:\n%s", c.err, tail(out.String(), 40))
	}
	return out.String(), nil
}

// exitCode is the exit status of a finished process, -1 for a signal.
func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -1
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
