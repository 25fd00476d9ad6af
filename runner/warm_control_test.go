package runner_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
	"github.com/mcrouter-operator/mcrouter-operator/runner"
)

// coldLog is what the Runner logs when the warm executor ran
// ansible-playbook the ordinary way.
const coldLog = "warm executor ran ansible-playbook the ordinary way"

// An ansible.cfg named by Options.Env is honoured; edited after the warm
// server loaded it, the next run's settings differ from the server's: the
// playbook runs the ordinary way, with the edited settings, and the reason
// is logged.
func TestWarmHonoursAnsibleConfig(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "ansible.cfg")
	writeFile(t, cfg, "[defaults]\ndisplay_args_to_stdout = True\n")
	rec := &logRecorder{}
	r, _ := newRunnerFor(t, runner.ExecutorWarm, func(o *runner.Options) {
		o.Env = append(o.Env, "ANSIBLE_CONFIG="+cfg)
		o.Log = testLogger(t, rec)
	})
	run := func(i int) (banner string, p probe) {
		res, err := r.Run(t.Context(), testObject(t, "cfg", nil), runner.RunOptions{
			Playbook: playbook(t, "warm_settings.yml"), Ident: fmt.Sprintf("run-%d", i),
		})
		if err != nil || res.Failed() {
			t.Fatalf("run %d: %v, failures %v", i, err, res.Failures)
		}
		events := jobEvents(t, res.ArtifactDir)
		for _, ev := range events {
			if ev.Event == "playbook_on_task_start" && ev.EventData.Task == "Say hello" {
				banner = colour.ReplaceAllString(ev.Stdout, "")
			}
		}
		return banner, probes(t, events)[0]
	}

	banner, p := run(1)
	if !strings.Contains(banner, "TASK [Say hello msg=hello]") {
		t.Errorf("run 1: banner %q does not show the arguments (display_args_to_stdout)", banner)
	}
	if !p.forked() || strings.Contains(rec.String(), coldLog) {
		t.Errorf("run 1 under the server's own settings was not warm (module parent %s); logs:\n%s", p.Parent, rec)
	}

	writeFile(t, cfg, "[defaults]\ndisplay_args_to_stdout = False\n")
	banner, p = run(2)
	if strings.Contains(banner, "msg=hello") || !strings.Contains(banner, "TASK [Say hello]") {
		t.Errorf("run 2: banner %q, want the edited setting: no arguments", banner)
	}
	if p.forked() {
		t.Errorf("run 2: module forked from a playbook that runs under settings the server did not load")
	}
	if logs := rec.String(); !strings.Contains(logs, coldLog) || !strings.Contains(logs, "DISPLAY_ARGS_TO_STDOUT") {
		t.Errorf("run 2: the logs do not say the playbook ran the ordinary way because of DISPLAY_ARGS_TO_STDOUT:\n%s", logs)
	}
}

// A role edited on disk between two runs on one warm server takes effect:
// its tasks, defaults, module and module_utils.
func TestWarmRoleEditedBetweenRuns(t *testing.T) {
	t.Parallel()
	role := filepath.Join(t.TempDir(), "edited")
	r, _ := newRunnerFor(t, runner.ExecutorWarm)
	for version := 1; version <= 2; version++ {
		writeRole(t, role, version)
		res, err := r.Run(t.Context(), testObject(t, "role", nil), runner.RunOptions{Role: role})
		if err != nil || res.Failed() {
			t.Fatalf("run %d: %v, failures %v", version, err, res.Failures)
		}
		events := jobEvents(t, res.ArtifactDir)
		want := fmt.Sprintf("tasks %d defaults %d", version, version)
		if got := oneResult(t, events, "Report the version")["msg"]; got != want {
			t.Errorf("run %d: role says %q, want %q", version, got, want)
		}
		mod := oneResult(t, events, "Run the role's module")
		if want := fmt.Sprintf("module %d utils %d", version, version); mod["msg"] != want {
			t.Errorf("run %d: module says %q, want %q", version, mod["msg"], want)
		}
		if parent, _ := mod["parent"].(string); !strings.HasPrefix(parent, "python") {
			t.Errorf("run %d: the role's module was exec'd by %s, not forked", version, parent)
		}
	}
}

// writeRole writes a role whose tasks, defaults, module and module_utils
// all name version.
func writeRole(t *testing.T, role string, version int) {
	t.Helper()
	files := map[string]string{
		"tasks/main.yml": fmt.Sprintf(`---
- name: Report the version
  ansible.builtin.debug:
    msg: "tasks %d defaults {{ version }}"
- name: Run the role's module
  edited_version:
`, version),
		"defaults/main.yml": fmt.Sprintf("---\nversion: %d\n", version),
		"library/edited_version.py": fmt.Sprintf(`#!/usr/bin/python3
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.edited_util import VALUE


def main():
    module = AnsibleModule(argument_spec={})
    parent = os.path.basename(os.readlink("/proc/%%d/exe" %% os.getppid()))
    module.exit_json(changed=False, msg="module %d utils %%d" %% VALUE, parent=parent)


if __name__ == "__main__":
    main()
`, version),
		"module_utils/edited_util.py": fmt.Sprintf("VALUE = %d\n", version),
	}
	for name, content := range files {
		writeFile(t, filepath.Join(role, name), content)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	// Through a rename, as an editor saves: a new inode, a new mtime.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// killTimeout is the run timeout of the kill tests: far longer than the
// run takes to reach its hanging task on a loaded machine, so that a run
// ending with ErrTimeout means the server's death went unnoticed.
const killTimeout = 3 * time.Minute

// The warm server killed with SIGKILL while a run is in progress: that Run
// returns ErrIncomplete without waiting for its timeout, nothing of the
// run stays alive, and the next Run works warm on a new server.
func TestWarmServerKilledDuringRun(t *testing.T) {
	t.Parallel()
	r, opts := newRunnerFor(t, runner.ExecutorWarm, func(o *runner.Options) { o.Timeout = killTimeout })
	pidFile := filepath.Join(t.TempDir(), "pids.json")
	killed := make(chan int, 1)
	go func() {
		defer close(killed)
		if optest.AwaitErr(t.Context(), "the hanging task", func(context.Context) (bool, error) {
			_, err := os.Stat(pidFile)
			return err == nil, nil
		}) != nil {
			return
		}
		pids := warmServers(opts.RootDir)
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if len(pids) == 1 {
			killed <- pids[0]
		}
	}()
	res, err := r.Run(t.Context(), testObject(t, "sleepy", nil), runner.RunOptions{
		Playbook: playbook(t, "sleep.yml"),
		Vars:     map[string]any{"pid_file": pidFile, "stop_at_pid": os.Getpid()},
	})
	old, ok := <-killed
	if !ok {
		t.Fatalf("no single warm server to kill; Run: %v", err)
	}
	if !errors.Is(err, runner.ErrIncomplete) || errors.Is(err, runner.ErrTimeout) {
		t.Fatalf("Run error = %v, want ErrIncomplete (and not the timeout)", err)
	}
	if !strings.Contains(err.Error(), `"Wait forever"`) {
		t.Errorf("error %q does not name the running task", err)
	}
	if res == nil || len(res.Tasks) != 1 {
		t.Errorf("Result %+v, want the task before the hang", res)
	}
	assertTreeGone(t, pidFile)
	assertRunsWarm(t, r, opts.RootDir, old)
}

// The warm server killed between runs: the next runs just work, and warm
// again once a new server started.
func TestWarmServerKilledBetweenRuns(t *testing.T) {
	t.Parallel()
	r, opts := newRunnerFor(t, runner.ExecutorWarm)
	old := assertRunsWarm(t, r, opts.RootDir, 0)
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	optest.Await(t, "the killed server to die", func(context.Context) (bool, error) {
		return !alive(old), nil
	})
	res, err := r.Run(t.Context(), testObject(t, "after", nil), runner.RunOptions{Playbook: playbook(t, "noop.yml")})
	if err != nil || res.Failed() {
		t.Fatalf("first run after the kill: %v, failures %v", err, res.Failures)
	}
	assertRunsWarm(t, r, opts.RootDir, old)
}

// A server is replaced after Options.WarmMaxRuns runs: the runs keep
// working warm across the recycle and the old server exits.
func TestWarmRecyclesTheServer(t *testing.T) {
	t.Parallel()
	r, opts := newRunnerFor(t, runner.ExecutorWarm, func(o *runner.Options) { o.WarmMaxRuns = 2 })
	first := assertRunsWarm(t, r, opts.RootDir, 0)
	if again := assertRunsWarm(t, r, opts.RootDir, 0); again != first {
		t.Fatalf("server %d replaced by %d before its second run ended", first, again)
	}
	assertRunsWarm(t, r, opts.RootDir, first)
	optest.Await(t, "the recycled server to exit", func(context.Context) (bool, error) {
		_, err := os.Stat(fmt.Sprintf("/proc/%d", first))
		return errors.Is(err, os.ErrNotExist), nil
	})
}

// assertRunsWarm runs a playbook whose module reports how it started,
// checks that the run succeeded with its module forked from a warm server
// other than not (0: any), and returns that server's pid.
func assertRunsWarm(t *testing.T, r *runner.Runner, root string, not int) int {
	t.Helper()
	res, err := r.Run(t.Context(), testObject(t, "warm", nil), runner.RunOptions{Playbook: playbook(t, "warm_settings.yml")})
	if err != nil || res.Failed() {
		t.Fatalf("Run: %v, failures %v", err, res.Failures)
	}
	if p := probes(t, jobEvents(t, res.ArtifactDir))[0]; !p.forked() {
		t.Errorf("the module was exec'd by %s, not forked from a warm server", p.Parent)
	}
	pid := warmServer(t, root)
	if pid == not {
		t.Errorf("the run was forked from server %d, want a new one", pid)
	}
	return pid
}
