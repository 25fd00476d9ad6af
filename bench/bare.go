package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcrouter-operator/mcrouter-operator/controller"
	"github.com/mcrouter-operator/mcrouter-operator/runner"
)

// bareNamespace holds the CRs of the bare runs; it is deleted before any
// operator starts.
const bareNamespace = "bench-bare"

// measureBare runs playbook.yml once to warm up and opts.BareRuns times to
// measure, each for a new Mcrouter (so each run creates its objects, as a
// first reconcile does), and records wall and CPU time.
func (b *bench) measureBare(ctx context.Context) error {
	playbook := filepath.Join(b.opts.Root, "bench", "playbook.yml")
	b.report.Bare.Playbook = "bench/playbook.yml"
	if err := b.createNamespace(ctx, bareNamespace); err != nil {
		return err
	}
	for i := 0; i <= b.opts.BareRuns; i++ {
		vars, err := b.bareVars(ctx, fmt.Sprintf("bare-%d", i))
		if err != nil {
			return err
		}
		wall, cpu, err := b.runPlaybook(ctx, playbook, vars)
		if err != nil {
			return err
		}
		if i == 0 {
			b.log("bare role run: warm-up %.2fs", wall.Seconds())
			continue
		}
		b.log("bare role run %d: %.2fs wall, %.2fs CPU", i, wall.Seconds(), cpu.Seconds())
		b.report.Bare.WallSeconds = append(b.report.Bare.WallSeconds, wall.Seconds())
		b.report.Bare.CPUSeconds = append(b.report.Bare.CPUSeconds, cpu.Seconds())
	}
	b.report.Bare.MedianSeconds = medianOf(b.report.Bare.WallSeconds)
	b.report.Bare.MedianCPUSeconds = medianOf(b.report.Bare.CPUSeconds)
	return b.deleteNamespace(ctx, bareNamespace)
}

// bareVars creates a Mcrouter, reads it back with the CRD's defaults, and
// writes the extra vars the operator would pass for it to a file.
func (b *bench) bareVars(ctx context.Context, name string) (string, error) {
	res := b.dyn.Resource(mcrouterGVR).Namespace(bareNamespace)
	if _, err := res.Create(ctx, newMcrouter(bareNamespace, name, nil), metav1.CreateOptions{}); err != nil {
		return "", fmt.Errorf("create Mcrouter %s/%s: %w", bareNamespace, name, err)
	}
	obj, err := res.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("get Mcrouter %s/%s: %w", bareNamespace, name, err)
	}
	vars, err := runner.ExtraVars(obj, controller.RunOptions(b.watch))
	if err != nil {
		return "", err
	}
	data, err := json.Marshal(vars)
	if err != nil {
		return "", fmt.Errorf("encode extra vars of %s: %w", name, err)
	}
	path := filepath.Join(b.tmp, "bare", name+".json")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	return path, os.WriteFile(path, data, 0o600)
}

// runPlaybook runs ansible-playbook against the control plane and returns
// its wall time and CPU time (user + system, including the workers it waited
// for). The process group is killed when ctx ends.
func (b *bench) runPlaybook(ctx context.Context, playbook, varsFile string) (time.Duration, time.Duration, error) {
	inventory := filepath.Join(b.tmp, "bare", "hosts")
	hosts := "localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n"
	if err := os.WriteFile(inventory, []byte(hosts), 0o600); err != nil {
		return 0, 0, err
	}
	cmd := exec.CommandContext(ctx, "ansible-playbook", "-i", inventory, "-e", "@"+varsFile, playbook)
	cmd.Dir = b.opts.Root
	cmd.Env = append(os.Environ(),
		"ANSIBLE_GATHERING=explicit",
		"ANSIBLE_ROLES_PATH="+filepath.Dir(b.watch.Role),
		"ANSIBLE_COLLECTIONS_PATH="+filepath.Join(b.opts.Root, "collections"),
		"KUBECONFIG="+b.cluster.KubeconfigPath,
		"K8S_AUTH_KUBECONFIG="+b.cluster.KubeconfigPath,
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	start := time.Now()
	if err := cmd.Run(); err != nil {
		if _, lookErr := exec.LookPath("ansible-playbook"); lookErr != nil {
			return 0, 0, fmt.Errorf("ansible-playbook not found; run `make deps`: %w", lookErr)
		}
		return 0, 0, fmt.Errorf("bare role run (ansible-playbook %s -e @%s): %w\n%s", playbook, varsFile, err, tail(out.String(), 30))
	}
	wall := time.Since(start)
	return wall, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := bytes.Split(bytes.TrimRight([]byte(s), "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
