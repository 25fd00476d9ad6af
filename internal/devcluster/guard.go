package devcluster

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// guardScript waits until its stdin closes — because the owning process called
// Stop or died, however it died — then kills every process whose command line
// names a path inside the cluster directory and removes that directory. The
// directory is passed in the environment so the guard never matches itself.
const guardScript = `cat >/dev/null
for d in /proc/[0-9]*; do
  cmd=$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null) || continue
  case "$cmd" in
    *"$DEVCLUSTER_GUARD_ROOT/"*) kill -KILL "${d#/proc/}" 2>/dev/null ;;
  esac
done
rm -rf "$DEVCLUSTER_GUARD_ROOT"
`

// guard is a tiny shell process that outlives its owner just long enough to
// clean up after it. Go cannot run deferred cleanups when a test binary is
// killed by a timeout or SIGKILL; the guard covers exactly that case.
type guard struct {
	cmd  *exec.Cmd
	pipe *os.File
	done chan error
}

func startGuard(root string) (*guard, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start devcluster guard: %w", err)
	}
	cmd := exec.Command("/bin/sh", "-c", guardScript)
	cmd.Env = append(os.Environ(), "DEVCLUSTER_GUARD_ROOT="+root)
	cmd.Stdin = r
	// Its own process group: a Ctrl-C aimed at the owner must not kill the guard.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = r.Close()
		_ = w.Close()
		return nil, fmt.Errorf("start devcluster guard: %w", err)
	}
	_ = r.Close()
	g := &guard{cmd: cmd, pipe: w, done: make(chan error, 1)}
	go func() { g.done <- cmd.Wait() }()
	return g, nil
}

// release lets the guard run its cleanup and waits for it.
func (g *guard) release() error {
	_ = g.pipe.Close()
	select {
	case err := <-g.done:
		if err != nil {
			return fmt.Errorf("devcluster guard: %w", err)
		}
		return nil
	case <-time.After(30 * time.Second):
		_ = g.cmd.Process.Kill()
		return fmt.Errorf("devcluster guard did not finish within 30s")
	}
}
