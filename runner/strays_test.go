package runner_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
	"github.com/mcrouter-operator/mcrouter-operator/runner"
)

// Processes a role leaves running in the background (nohup, setsid, an async
// task never polled) are killed when the run ends, however it ends.
func TestRunKillsWhatTheRunLeftRunning(t *testing.T) {
	t.Parallel()
	tests := []struct {
		finish string
		check  func(t *testing.T, res *runner.Result, err error)
	}{
		{"ok", func(t *testing.T, res *runner.Result, err error) {
			if err != nil || res.Failed() {
				t.Errorf("Run: %v, failures %v; want success", err, res.Failures)
			}
		}},
		{"fail", func(t *testing.T, res *runner.Result, err error) {
			if err != nil || !res.Failed() {
				t.Errorf("Run: %v, failed %v; want a failed task", err, res != nil && res.Failed())
			}
		}},
		{"hang", func(t *testing.T, _ *runner.Result, err error) {
			if !errors.Is(err, runner.ErrCanceled) {
				t.Errorf("Run: %v, want ErrCanceled", err)
			}
		}},
	}
	r, _ := newRunner(t, func(o *runner.Options) { o.Env = []string{"ANSIBLE_ASYNC_DIR=" + t.TempDir()} })
	for _, tt := range tests {
		t.Run(tt.finish, func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tt.finish == "hang" {
				go func() {
					defer cancel()
					_ = optest.AwaitErr(ctx, "the hanging task", func(context.Context) (bool, error) {
						_, err := os.Stat(filepath.Join(out, "hanging"))
						return err == nil, nil
					})
				}()
			}
			res, err := r.Run(ctx, testObject(t, "bg", nil), runner.RunOptions{
				Playbook: playbook(t, "background.yml"),
				Vars:     map[string]any{"out_dir": out, "finish": tt.finish},
			})
			tt.check(t, res, err)
			for _, job := range []string{"nohup", "setsid", "async"} {
				assertGone(t, filepath.Join(out, job+".pid"))
			}
		})
	}
}

// assertGone fails if the process whose pid is in pidFile still runs.
func assertGone(t *testing.T, pidFile string) {
	t.Helper()
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the job never started: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("%s: %v", pidFile, err)
	}
	state, _, err := procState(pid)
	if err != nil || state == "Z" || state == "X" {
		return
	}
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if strings.Contains(string(cmdline), "sleep") {
		t.Errorf("%s: process %d (%q) is still running after the run", filepath.Base(pidFile), pid,
			strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
}
