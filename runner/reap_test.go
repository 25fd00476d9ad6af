package runner

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/go-logr/logr"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

// groupMembers lists the live processes of process group pgid.
func groupMembers(pgid int) []int {
	var out []int
	for _, p := range readProcs() {
		if p.PGRP == pgid && !zombie(p) {
			out = append(out, p.PID)
		}
	}
	return out
}

// deadOwner names this process with another start time: an operator whose
// pid was reused after it died.
func deadOwner() owner {
	o := selfOwner()
	o.start++
	return o
}

// startTree starts `sh -c 'sleep 300 & wait'` in its own group with env
// added, and waits until the shell has its child.
func startTree(t *testing.T, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", "sleep 300 & wait")
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	startAndReap(t, cmd)
	optest.Await(t, "the shell's child", func(context.Context) (bool, error) {
		return len(groupMembers(cmd.Process.Pid)) > 1, nil
	})
	return cmd
}

// startAndReap starts cmd, waits for it in the background and kills what is
// left of its group at the end of the test.
func startAndReap(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
}

// Only processes marked as a run under the root whose operator is gone are
// killed, children included: not a live operator's run, not a run under
// another root, and not a tail -f of an artifact, although its command line
// names the root.
func TestReapOrphans(t *testing.T) {
	root := t.TempDir()
	inputDir := filepath.Join(root, "g", "v", "k", "ns", "name")
	if err := os.MkdirAll(inputDir, 0o700); err != nil {
		t.Fatal(err)
	}
	artifact := filepath.Join(inputDir, "stdout")
	if err := os.WriteFile(artifact, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	orphan := startTree(t, newMarker(deadOwner(), inputDir).env()...)
	live := startTree(t, newMarker(selfOwner(), inputDir).env()...)
	elsewhere := startTree(t, newMarker(deadOwner(), filepath.Join(t.TempDir(), "ns", "name")).env()...)
	tail := exec.Command("tail", "-f", artifact)
	tail.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	startAndReap(t, tail)

	n := reapOrphans(root) // returns once what it killed is gone
	for name, cmd := range map[string]*exec.Cmd{"a live operator's run": live, "a run under another root": elsewhere,
		"tail -f of an artifact": tail} {
		if !slices.Contains(groupMembers(cmd.Process.Pid), cmd.Process.Pid) {
			t.Errorf("%s was killed", name)
		}
	}
	if alive := groupMembers(orphan.Process.Pid); len(alive) > 0 || n != 1 {
		t.Errorf("reapOrphans killed %d runs, left %v of the orphan alive; want 1 killed, none left", n, alive)
	}
}

// A real ansible-runner tree whose operator died is reaped whole: the
// ansible-runner process, ansible-playbook in its own session, its worker and
// the module's process.
func TestReapOrphansRealAnsibleRunner(t *testing.T) {
	r, err := New(Options{RootDir: t.TempDir(), Timeout: DefaultTimeout})
	if err != nil {
		t.Fatal(err)
	}
	r.owner = deadOwner() // as if started by an operator that has died since
	pidFile := filepath.Join(t.TempDir(), "pids.json")
	dir := filepath.Join(r.opts.RootDir, "g", "v", "k", "ns", "orphan")
	opts := RunOptions{Playbook: testPlaybook(t, "sleep.yml"),
		Vars: map[string]any{"pid_file": pidFile, "stop_at_pid": os.Getpid()}}
	if err := (inputFiles{extraVars: opts.Vars, python: r.opts.PythonPath}).write(dir); err != nil {
		t.Fatal(err)
	}
	p := r.process(dir, "orphan", opts, logr.Discard())
	cmd := exec.Command(p.path, p.args...)
	cmd.Dir, cmd.Env, cmd.SysProcAttr = dir, p.env, newProcessGroup()
	startAndReap(t, cmd)
	optest.Await(t, "the run to reach its sleeping task", func(context.Context) (bool, error) {
		_, err := os.Stat(pidFile)
		return err == nil, nil
	})
	chain := readChain(t, pidFile)

	if n := reapOrphans(r.opts.RootDir); n != 1 {
		t.Fatalf("reapOrphans killed %d runs, want 1", n)
	}
	for _, pid := range append(chain, cmd.Process.Pid) {
		if st, err := readStat(pid); err == nil && !zombie(st) {
			t.Errorf("process %d (%s) of the orphaned run is alive", pid, st.Comm)
		}
	}
}

func testPlaybook(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "playbooks", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// readChain reads the pids sleeper.py recorded: itself and its ancestors.
func readChain(t *testing.T, pidFile string) []int {
	t.Helper()
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	var chain [][2]int
	if err := json.Unmarshal(data, &chain); err != nil {
		t.Fatalf("decode %s: %v", pidFile, err)
	}
	if len(chain) < 3 {
		t.Fatalf("sleeper recorded %v, want itself and at least two ancestors", chain)
	}
	var pids []int
	for _, pg := range chain {
		pids = append(pids, pg[0])
	}
	return pids
}
