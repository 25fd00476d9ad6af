package devcluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// RestartAPIServer stops kube-apiserver, waits for downtime (or ctx), and
// starts it again on the same port with the same certificates and etcd, so
// clients holding the old kubeconfig reconnect. It is for fault tests.
//
// The server gets SIGTERM, as a real stop would send, and SIGKILL if it has
// not exited when downtime is over: its graceful termination waits for
// requests in flight for up to its 60 s request timeout, and with
// kube-controller-manager connected it does wait that long.
func (c *Cluster) RestartAPIServer(ctx context.Context, downtime time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return fmt.Errorf("restart kube-apiserver: cluster stopped")
	}
	api := c.env.ControlPlane.GetAPIServer()
	pid, err := findAPIServer(api.CertDir)
	if err != nil {
		return fmt.Errorf("stop kube-apiserver: %w", err)
	}
	stopped := time.Now()
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop kube-apiserver (pid %d): %w", pid, err)
	}
	if !waitGone(ctx, pid, downtime) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		if !waitGone(context.Background(), pid, 10*time.Second) {
			return fmt.Errorf("stop kube-apiserver: pid %d still alive 10s after SIGKILL", pid)
		}
	}
	select {
	case <-time.After(downtime - time.Since(stopped)):
	case <-ctx.Done():
	}
	// envtest's Start sets the process up afresh; it notices on its own that
	// the old process is gone.
	if err := api.Start(); err != nil {
		return fmt.Errorf("start kube-apiserver: %w%s", err, c.logTail("kube-apiserver.log"))
	}
	return nil
}

// findAPIServer returns the pid of the kube-apiserver serving from certDir
// (unique to one Cluster).
func findAPIServer(certDir string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	flag := []byte("--cert-dir=" + certDir + "\x00")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if bytes.Contains(cmdline, flag) && filepath.Base(string(bytes.SplitN(cmdline, []byte{0}, 2)[0])) == "kube-apiserver" {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no kube-apiserver process with --cert-dir=%s", certDir)
}

// waitGone waits until the process has exited and been reaped (envtest
// waits for its children), up to timeout or ctx.
func waitGone(ctx context.Context, pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); os.IsNotExist(err) {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}
