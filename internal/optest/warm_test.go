package optest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcrouter-operator/mcrouter-operator/internal/procfs"
)

// fakeServer stands in for the warm executor's server: a python3 running
// <root>/.warm/server.py that forks one "run", which works in input and
// sleeps, and runs a program of its own (as the real one runs `ldconfig -p`
// while it imports Ansible), which is no run. It returns the server's and
// the fork's pids.
func fakeServer(t *testing.T, root, input string) (server, fork int) {
	t.Helper()
	script := filepath.Join(root, ".warm", "server.py")
	if err := os.MkdirAll(filepath.Dir(script), 0o755); err != nil {
		t.Fatal(err)
	}
	src := "import os, sys, time\n" +
		"pid = os.fork()\n" +
		"if pid == 0:\n" +
		"    os.chdir(os.environ['RUN_DIR'])\n" +
		"    time.sleep(60)\n" +
		"    os._exit(0)\n" +
		"import subprocess\n" +
		"subprocess.Popen(['/bin/sleep', '60'])\n" +
		"print(pid, flush=True)\n" +
		"time.sleep(60)\n"
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/python3", script)
	cmd.Dir = filepath.Dir(script)
	cmd.Env = append(os.Environ(), "RUN_DIR="+input)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("fake server: %v", err)
	}
	if fork, err = strconv.Atoi(strings.TrimSpace(line)); err != nil {
		t.Fatalf("fake server printed %q", line)
	}
	// The fork's chdir may not have happened yet.
	for cwd(fork) != input {
		if st, err := procfs.ReadStat(procfs.Root, fork); err != nil || st.Zombie() {
			t.Fatalf("the fake server's fork %d ended before it went to %s", fork, input)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cmd.Process.Pid, fork
}

func pids(procs []Proc) []int {
	var out []int
	for _, p := range procs {
		out = append(out, p.PID)
	}
	return out
}

func TestWarmForksAreTheRuns(t *testing.T) {
	root := t.TempDir()
	input := filepath.Join(root, "g", "v1", "Kind", "ns", "name")
	if err := os.MkdirAll(input, 0o755); err != nil {
		t.Fatal(err)
	}
	server, fork := fakeServer(t, root, input)

	rt := newRunTracker(os.Getpid())
	rt.sample(time.Now())
	if got := rt.activity().Running; len(got) != 1 || got[0].PID != fork {
		t.Errorf("tracked runs %+v, want only the fork %d (server %d)", got, fork, server)
	}
	dirs, err := RunningDirs(root)
	if err != nil || !slices.Equal(dirs, []string{input}) {
		t.Errorf("RunningDirs = %q (%v), want [%s]", dirs, err, input)
	}
	self, _ := os.FindProcess(os.Getpid())
	op := &Operator{cmd: &exec.Cmd{Process: self}}
	if p, ok := op.WarmServer(); !ok || p.PID != server {
		t.Errorf("WarmServer = %v, %v; want the server %d", p, ok, server)
	}
	procs, err := ProcsIn(input)
	if err != nil || !slices.Equal(pids(procs), []int{fork}) {
		t.Errorf("ProcsIn(input) = %v (%v), want the fork %d only", procs, err, fork)
	}
	procs, err = ProcsIn(root)
	if got := pids(procs); err != nil || !slices.Contains(got, server) || !slices.Contains(got, fork) {
		t.Errorf("ProcsIn(root) = %v (%v), want the server %d and the fork %d", procs, err, server, fork)
	}
}

func TestRunningDirsOfAnsibleRunner(t *testing.T) {
	root := t.TempDir()
	input := filepath.Join(root, "g", "v1", "Kind", "ns", "name")
	// A script named ansible-runner gives the process ansible-runner's
	// command line: `<interpreter> <path>/ansible-runner run DIR -j`.
	script := filepath.Join(t.TempDir(), "ansible-runner")
	if err := os.WriteFile(script, []byte("sleep 60\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", script, "run", input, "-j")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	me := Proc{PID: cmd.Process.Pid}
	if st, err := procfs.ReadStat(procfs.Root, me.PID); err == nil {
		me.StartTime = st.StartTime
	}
	for {
		dirs, err := RunningDirs(root)
		switch {
		case err != nil:
			t.Fatal(err)
		case slices.Equal(dirs, []string{input}):
			return
		case len(dirs) > 0:
			t.Fatalf("RunningDirs = %q, want [%s]", dirs, input)
		case !me.Alive():
			t.Fatalf("RunningDirs never saw %s (the script ended)", input)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFlagValue(t *testing.T) {
	for _, tt := range []struct {
		args  []string
		value string
		set   bool
	}{
		{nil, "", false},
		{[]string{"--ansible-executor", "warm"}, "warm", true},
		{[]string{"--ansible-executor=runner", "--x"}, "runner", true},
		{[]string{"--ansible-executor"}, "", false},
		{[]string{"--ansible-executor-x", "warm"}, "", false},
	} {
		value, set := flagValue(tt.args, "--ansible-executor")
		if value != tt.value || set != tt.set {
			t.Errorf("flagValue(%q) = %q, %v; want %q, %v", tt.args, value, set, tt.value, tt.set)
		}
	}
}
