package runner_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
	"github.com/mcrouter-operator/mcrouter-operator/runner"
)

// The timeout must fire in the task that hangs, so it is three times what
// reaching that task took in a first run here (at least 5 s): a busy machine
// takes longer to start Ansible, and a timeout in an earlier task would prove
// nothing about killing the tree.
func TestRunTimeoutKillsTheProcessTree(t *testing.T) {
	t.Parallel()
	timeout := 3 * timeToHang(t)
	timeout = max(5*time.Second, timeout).Round(time.Second)
	r, _ := newRunner(t, func(o *runner.Options) { o.Timeout = timeout })
	pidFile := filepath.Join(t.TempDir(), "pids.json")

	res, err := r.Run(t.Context(), testObject(t, "sleepy", nil), runner.RunOptions{
		Playbook: playbook(t, "sleep.yml"),
		Vars:     map[string]any{"pid_file": pidFile, "stop_at_pid": os.Getpid()},
	})
	if !errors.Is(err, runner.ErrTimeout) {
		t.Fatalf("Run error = %v, want ErrTimeout", err)
	}
	if errors.Is(err, runner.ErrCanceled) {
		t.Errorf("timeout error %v also matches ErrCanceled", err)
	}
	if want := fmt.Sprintf(`run timed out after %s in task "Wait forever"`, timeout); err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if res == nil {
		t.Fatal("no Result alongside the timeout error")
	}
	if len(res.Tasks) != 1 || res.Tasks[0].Name != "Before waiting" {
		t.Errorf("tasks = %+v, want only the task before the wait", res.Tasks)
	}
	assertTreeGone(t, pidFile)
}

// timeToHang runs sleep.yml until its hanging task has started, cancels it,
// and returns how long that took.
func timeToHang(t *testing.T) time.Duration {
	t.Helper()
	r, _ := newRunner(t)
	pidFile := filepath.Join(t.TempDir(), "pids.json")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	start := time.Now()
	reached := make(chan time.Duration, 1)
	go func() {
		defer cancel()
		err := optest.AwaitErr(ctx, "the hanging task", func(context.Context) (bool, error) {
			_, err := os.Stat(pidFile)
			return err == nil, nil
		})
		if err == nil {
			reached <- time.Since(start)
		}
	}()
	_, err := r.Run(ctx, testObject(t, "measure", nil), runner.RunOptions{
		Playbook: playbook(t, "sleep.yml"),
		Vars:     map[string]any{"pid_file": pidFile, "stop_at_pid": os.Getpid()},
	})
	select {
	case d := <-reached:
		t.Logf("the hanging task started %s after the run", d.Round(10*time.Millisecond))
		return d
	default:
		t.Fatalf("the run ended before its hanging task started: %v", err)
		return 0
	}
}

func TestRunCanceledKillsTheProcessTree(t *testing.T) {
	t.Parallel()
	r, opts := newRunner(t)
	pidFile := filepath.Join(t.TempDir(), "pids.json")
	obj := testObject(t, "sleepy", nil)
	dir, err := runner.InputDir(opts.RootDir, testGVK, obj.GetNamespace(), obj.GetName())
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "tmp")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan []string, 1)
	go func() {
		defer close(done)
		waitForFile(t, pidFile)
		done <- tempEntries(t, tmp)
		cancel()
	}()

	res, err := r.Run(ctx, obj, runner.RunOptions{
		Playbook: playbook(t, "sleep.yml"),
		Vars:     map[string]any{"pid_file": pidFile, "stop_at_pid": os.Getpid()},
	})
	during := <-done
	if !errors.Is(err, runner.ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error = %v, want ErrCanceled wrapping context.Canceled", err)
	}
	if !strings.Contains(err.Error(), `in task "Wait forever"`) {
		t.Errorf("error %q does not name the running task", err)
	}
	if res == nil {
		t.Fatal("no Result alongside the cancel error")
	}
	assertTreeGone(t, pidFile)

	// The killed Ansible could not remove its temp files; Run must have.
	if !slices.ContainsFunc(during, func(e string) bool { return strings.HasPrefix(e, "ansible_ansible.legacy.command_payload_") }) ||
		!slices.ContainsFunc(during, func(e string) bool { return strings.HasPrefix(e, "local/ansible-local-") }) {
		t.Errorf("temp dir of the run held %q while the task ran, want the module payload and Ansible's local temp", during)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("temp dir %s after the killed run: %v, want it removed", tmp, err)
	}
}

// tempEntries lists dir and its subdirectories one level down.
func tempEntries(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		names = append(names, e.Name())
		if sub, err := os.ReadDir(filepath.Join(dir, e.Name())); err == nil {
			for _, s := range sub {
				names = append(names, e.Name()+"/"+s.Name())
			}
		}
	}
	return names
}

func TestRunCrashReportsOutput(t *testing.T) {
	t.Parallel()
	r, _ := newRunner(t)
	res, err := r.Run(t.Context(), testObject(t, "app", nil), runner.RunOptions{Playbook: playbook(t, "syntax_error.yml")})
	if !errors.Is(err, runner.ErrIncomplete) {
		t.Fatalf("Run error = %v, want ErrIncomplete", err)
	}
	t.Logf("crash error: %v", err)
	for _, want := range []string{"exit status", "before the first task", "conflicting action statements", "syntax_error.yml"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "\x1b[") {
		t.Errorf("error %q contains terminal color codes", err)
	}
	if res == nil {
		t.Error("no Result alongside the crash error")
	}
}

func TestRunWhenAnsibleRunnerDisappeared(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	link := filepath.Join(bin, "ansible-runner")
	if err := os.Symlink("/usr/bin/ansible-runner", link); err != nil {
		t.Fatal(err)
	}
	r, _ := newRunner(t, func(o *runner.Options) { o.RunnerPath = link })
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(t.Context(), testObject(t, "app", nil), runner.RunOptions{Playbook: playbook(t, "noop.yml")})
	if res != nil || err == nil || !strings.Contains(err.Error(), "install the Debian package python3-ansible-runner") {
		t.Errorf("Run = %v, %v; want no Result and an error naming python3-ansible-runner", res, err)
	}
}
