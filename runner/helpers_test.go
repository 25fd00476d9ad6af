package runner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
	"github.com/mcrouter-operator/mcrouter-operator/runner"
)

var testGVK = schema.GroupVersionKind{Group: "cache.example.com", Version: "v1alpha1", Kind: "TestApp"}

// newRunner returns a Runner rooted in a fresh temporary directory. A
// missing ansible-runner or ansible-playbook fails the test.
func newRunner(t *testing.T, mods ...func(*runner.Options)) (*runner.Runner, runner.Options) {
	t.Helper()
	opts := runner.Options{
		RootDir: t.TempDir(),
		// The production default: a bound for a hung run, not a guess of
		// how fast Ansible is here.
		Timeout:  runner.DefaultTimeout,
		Log:      testLogger(t, nil),
		Executor: runner.Executor(optest.Executor()),
	}
	for _, m := range mods {
		m(&opts)
	}
	r, err := runner.New(opts)
	if err != nil {
		t.Fatalf("runner.New: %v (run `make deps` to install ansible and ansible-runner)", err)
	}
	t.Cleanup(r.Close)
	return r, opts
}

// testObject returns a TestApp in a namespace named after the test.
func testObject(t *testing.T, name string, spec map[string]any) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{Object: map[string]any{}}
	obj.SetGroupVersionKind(testGVK)
	obj.SetNamespace(strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())))
	obj.SetName(name)
	if spec != nil {
		obj.Object["spec"] = spec
	}
	return obj
}

func playbook(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "playbooks", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// logRecorder keeps every log line, to check what a run logged.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// testLogger logs to t.Log at every verbosity, and to rec when not nil.
func testLogger(t *testing.T, rec *logRecorder) logr.Logger {
	return funcr.New(func(prefix, args string) {
		if rec != nil {
			rec.mu.Lock()
			rec.lines = append(rec.lines, args)
			rec.mu.Unlock()
		}
		t.Log(prefix, args)
	}, funcr.Options{Verbosity: 10})
}

// readJSON decodes a JSON file.
func readJSON(t *testing.T, path string, into any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, into); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
}

// waitForFile returns when path exists (optest.Await: no fixed budget).
func waitForFile(t *testing.T, path string) {
	t.Helper()
	optest.Await(t, path+" to appear", func(context.Context) (bool, error) {
		_, err := os.Stat(path)
		return err == nil, nil
	})
}

// assertTreeGone checks that no process recorded by sleeper.py is alive,
// and that no live process is left in any of their process groups.
func assertTreeGone(t *testing.T, pidFile string) {
	t.Helper()
	var chain [][2]int
	readJSON(t, pidFile, &chain)
	if len(chain) < 3 {
		t.Fatalf("sleeper recorded %v, want itself and at least two ancestors", chain)
	}
	own := os.Getpid()
	// The warm executor's server is the parent of the run, not part of it.
	chain = slices.DeleteFunc(chain, func(pg [2]int) bool { return isWarmServer(pg[0]) })
	groups := map[int]bool{}
	for _, pg := range chain {
		if pg[1] != own && pg[1] != syscall.Getpgrp() {
			groups[pg[1]] = true
		}
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		state, pgrp, err := procState(pid)
		if err != nil || state == "Z" || state == "X" {
			continue
		}
		for _, pg := range chain {
			if pg[0] == pid {
				t.Errorf("process %d of the run is still alive (state %s)", pid, state)
			}
		}
		if groups[pgrp] {
			t.Errorf("process %d is still alive in process group %d of the run", pid, pgrp)
		}
	}
}

// isWarmServer reports whether pid is the server of a warm executor.
func isWarmServer(pid int) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && strings.HasSuffix(strings.TrimRight(string(cmdline), "\x00"), "/.warm/server.py")
}

func procState(pid int) (state string, pgrp int, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, err
	}
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return "", 0, errors.New("bad stat")
	}
	f := strings.Fields(string(data[end+1:]))
	if len(f) < 3 {
		return "", 0, errors.New("bad stat")
	}
	pgrp, err = strconv.Atoi(f[2])
	return f[0], pgrp, err
}
