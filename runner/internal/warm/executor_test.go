package warm

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
)

// These tests run the real server.py under Debian's python3 with
// ansible-runner: a missing one fails them (`make deps` installs it).

func ansibleRunner(t *testing.T) string {
	t.Helper()
	runner, err := exec.LookPath("ansible-runner")
	if err != nil {
		t.Fatalf("ansible-runner: %v (run `make deps`)", err)
	}
	return runner
}

func newExecutor(t *testing.T, mod func(*Options)) *Executor {
	t.Helper()
	dir := t.TempDir()
	o := Options{Python: "/usr/bin/python3", Dir: filepath.Join(dir, "warm"), Log: testr.New(t),
		Env: append(os.Environ(), "TMPDIR="+dir)}
	if mod != nil {
		mod(&o)
	}
	e, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// version runs `ansible-runner --version` in a fork and returns its output
// and the Proc.
func version(t *testing.T, e *Executor) (string, *Proc) {
	t.Helper()
	out, p, err := tryVersion(t, e)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return out, p
}

func tryVersion(t *testing.T, e *Executor) (string, *Proc, error) {
	t.Helper()
	stdin, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer outR.Close()
	p, err := e.Start(t.Context(), Request{
		Argv: []string{ansibleRunner(t), "--version"}, Env: os.Environ(), Dir: t.TempDir(),
		Stdin: stdin, Stdout: outW, Stderr: outW,
	})
	outW.Close()
	if err != nil {
		return "", nil, err
	}
	out, _ := io.ReadAll(outR)
	return string(out), p, nil
}

func TestForkRunsAnsibleRunner(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, nil)
	out, p := version(t, e)
	status, err := p.Wait()
	if err != nil || !status.Exited() || status.ExitStatus() != 0 {
		t.Fatalf("Wait = %v, %v; want exit status 0 (output %q)", status, err, out)
	}
	want, err := exec.Command(ansibleRunner(t), "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != strings.TrimSpace(string(want)) {
		t.Errorf("fork printed %q, ansible-runner prints %q", out, want)
	}
	if p.Pid == e.Pid() || p.Pid <= 0 {
		t.Errorf("fork pid %d, server pid %d", p.Pid, e.Pid())
	}
}

func TestDeadServerIsReplaced(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, nil)
	if err := e.Prestart(t.Context()); err != nil {
		t.Fatal(err)
	}
	first := e.Pid()
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// A run that finds the server dead before the executor noticed is
	// refused (the runner then execs ansible-runner); the next gets a
	// new server.
	_, p2, err := tryVersion(t, e)
	if errors.Is(err, ErrUnavailable) {
		_, p2 = version(t, e)
	} else if err != nil {
		t.Fatal(err)
	}
	if _, err := p2.Wait(); err != nil {
		t.Fatalf("run after the server died: %v", err)
	}
	if second := e.Pid(); second == first || second == 0 {
		t.Errorf("server pid %d after the first (%d) died, want a new one", second, first)
	}
}

func TestServerIsRecycledAfterMaxRuns(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, func(o *Options) { o.MaxRuns = 2 })
	var pids []int
	for range 3 {
		_, p := version(t, e)
		if _, err := p.Wait(); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, e.Pid())
	}
	if pids[0] != pids[1] {
		t.Errorf("server changed before MaxRuns: %v", pids)
	}
	// The third run found the server at its limit: a new one forked it.
	if pids[2] == pids[1] {
		t.Errorf("server not recycled after MaxRuns: %v", pids)
	}
	deadline := time.Now().Add(time.Minute)
	for syscall.Kill(pids[0], 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("recycled server %d still alive", pids[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStartFailureIsUnavailable(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, func(o *Options) { o.Python = filepath.Join(t.TempDir(), "no-python") })
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	stdin, _ := os.Open(os.DevNull)
	defer stdin.Close()
	_, err := e.Start(ctx, Request{Argv: []string{"x"}, Dir: t.TempDir(), Stdin: stdin, Stdout: stdin, Stderr: stdin})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Start with no interpreter = %v, want ErrUnavailable", err)
	}
}

// The compiled-template cache is kept under its byte cap: once the server
// has forked PRUNE_EVERY runs, the oldest entries beyond half the cap go.
func TestTemplateCacheIsPrunedToItsByteCap(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "warm")
	e := newExecutor(t, func(o *Options) { o.Dir = dir })
	cache := filepath.Join(dir, "templates")
	if err := os.MkdirAll(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	const mib = 1 << 20
	names := []string{"oldest", "older", "newer"} // 3 × 30 MiB (sparse): past the 64 MiB cap
	for i, name := range names {
		p := filepath.Join(cache, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(30 * mib); err != nil {
			t.Fatal(err)
		}
		f.Close()
		mtime := time.Now().Add(time.Duration(i-10) * time.Hour)
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 { // PRUNE_EVERY in templates.py
		_, p := version(t, e)
		if _, err := p.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range names {
		_, err := os.Stat(filepath.Join(cache, name))
		if kept := err == nil; kept != (name == "newer") {
			t.Errorf("%s kept = %v, want only the newest kept (its 30 MiB fit half of the 64 MiB cap)", name, kept)
		}
	}
}
