package devcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// component is a control-plane process started by this package (envtest
// starts etcd and kube-apiserver; we start kube-controller-manager).
type component struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
	err  error
}

func startComponent(name, path string, args []string, log *os.File) (*component, error) {
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &component{name: name, cmd: cmd, log: log, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *component) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group and SIGKILL after timeout.
func (c *component) stop(timeout time.Duration) error {
	defer c.log.Close()
	if c.exited() {
		return nil
	}
	pgid := -c.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-c.done:
		return nil
	case <-time.After(timeout):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-c.done
		return fmt.Errorf("%s did not stop within %s; killed", c.name, timeout)
	}
}

func (c *Cluster) startControllerManager(ctx context.Context) error {
	user, err := c.env.AddUser(envtest.User{Name: "system:kube-controller-manager", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("provision kube-controller-manager user: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("kube-controller-manager kubeconfig: %w", err)
	}
	kcPath := filepath.Join(c.Dir, "kube-controller-manager.kubeconfig")
	if err := os.WriteFile(kcPath, kc, 0o600); err != nil {
		return fmt.Errorf("write kube-controller-manager kubeconfig: %w", err)
	}
	log, err := c.openLog("kube-controller-manager.log")
	if err != nil {
		return err
	}
	args := []string{
		"--kubeconfig=" + kcPath,
		"--controllers=" + strings.Join(c.opts.Controllers, ","),
		"--leader-elect=false",
		"--secure-port=0",
		"--concurrent-gc-syncs=5",
		"--v=1",
	}
	c.kcm, err = startComponent("kube-controller-manager", filepath.Join(c.opts.BinaryDir, "kube-controller-manager"), args, log)
	if err != nil {
		return err
	}
	return c.waitControllerManager(ctx)
}

// waitControllerManager waits until kube-controller-manager has acted on the
// cluster: its serviceaccount controller creates "default" in every namespace.
func (c *Cluster) waitControllerManager(ctx context.Context) error {
	cl, err := client.New(c.Config, client.Options{})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.StartTimeout)
	defer cancel()
	err = wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if c.kcm.exited() {
			return false, fmt.Errorf("kube-controller-manager exited: %v", c.kcm.err)
		}
		if !hasController(c.opts.Controllers, "serviceaccount") {
			return true, nil
		}
		var sa corev1.ServiceAccount
		err := cl.Get(ctx, client.ObjectKey{Namespace: "default", Name: "default"}, &sa)
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, nil
	})
	if err != nil {
		return fmt.Errorf("wait for kube-controller-manager: %w%s", err, c.logTail("kube-controller-manager.log"))
	}
	return nil
}

func hasController(list []string, name string) bool {
	for _, c := range list {
		if c == name || c == "*" {
			return true
		}
	}
	return false
}

// moduleBinaryDir finds bin/k8s of the module enclosing the working directory.
func moduleBinaryDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module "+modulePath+"\n")) {
			return filepath.Join(dir, "bin", "k8s"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot locate the control-plane binaries: run from inside the repository, " +
				"or set " + AssetsEnv + " to the directory holding etcd, kube-apiserver and kube-controller-manager")
		}
		dir = parent
	}
}

const modulePath = "github.com/mcrouter-operator/mcrouter-operator"

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
