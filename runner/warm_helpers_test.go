package runner_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
	"github.com/mcrouter-operator/mcrouter-operator/runner"
)

// executors are the two executors, the reference first.
var executors = []runner.Executor{runner.ExecutorRunner, runner.ExecutorWarm}

// newRunnerFor returns a Runner of the given executor, whatever
// TEST_ANSIBLE_EXECUTOR says.
func newRunnerFor(t *testing.T, ex runner.Executor, mods ...func(*runner.Options)) (*runner.Runner, runner.Options) {
	t.Helper()
	return newRunner(t, append([]func(*runner.Options){func(o *runner.Options) { o.Executor = ex }}, mods...)...)
}

// executorRun is one run of a playbook by one executor.
type executorRun struct {
	res  *runner.Result
	err  error
	root string // the Runner's root dir
	logs *logRecorder
}

// runBoth runs the same playbook for the same resource with each executor,
// in parallel, each in a Runner of its own with the same ident, so that
// their artifacts can be compared.
func runBoth(t *testing.T, name string, opts runner.RunOptions, mods ...func(*runner.Options)) map[runner.Executor]executorRun {
	t.Helper()
	if opts.Ident == "" {
		opts.Ident = "compare"
	}
	runs := map[runner.Executor]executorRun{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, ex := range executors {
		rec := &logRecorder{}
		r, ro := newRunnerFor(t, ex, append(mods, func(o *runner.Options) { o.Log = testLogger(t, rec) })...)
		wg.Go(func() {
			res, err := r.Run(t.Context(), testObject(t, name, nil), opts)
			mu.Lock()
			defer mu.Unlock()
			runs[ex] = executorRun{res: res, err: err, root: ro.RootDir, logs: rec}
		})
	}
	wg.Wait()
	for _, ex := range executors {
		if runs[ex].err != nil {
			t.Fatalf("%s executor: Run: %v", ex, runs[ex].err)
		}
	}
	return runs
}

// jobEvent is what the tests read of an event in job_events.
type jobEvent struct {
	Counter   int    `json:"counter"`
	Event     string `json:"event"`
	Stdout    string `json:"stdout"`
	EventData struct {
		Task string         `json:"task"`
		Res  map[string]any `json:"res"`
	} `json:"event_data"`
}

// jobEvents reads the job_events of a run's artifacts in counter order.
func jobEvents(t *testing.T, artifactDir string) []jobEvent {
	t.Helper()
	dir := filepath.Join(artifactDir, "job_events")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var events []jobEvent
	for _, e := range entries {
		var ev jobEvent
		readJSON(t, filepath.Join(dir, e.Name()), &ev)
		events = append(events, ev)
	}
	slices.SortFunc(events, func(a, b jobEvent) int { return a.Counter - b.Counter })
	return events
}

// eventKinds are the "event task" lines of a run's events, in order.
func eventKinds(events []jobEvent) []string {
	out := make([]string, 0, len(events))
	for _, ev := range events {
		out = append(out, strings.TrimSpace(ev.Event+" "+ev.EventData.Task))
	}
	return out
}

// taskResults returns the res of each result event of the named task.
func taskResults(events []jobEvent, task string) []map[string]any {
	var out []map[string]any
	for _, ev := range events {
		if strings.HasPrefix(ev.Event, "runner_on_") && ev.EventData.Task == task && ev.EventData.Res != nil {
			out = append(out, ev.EventData.Res)
		}
	}
	return out
}

// oneResult is the only result of the named task.
func oneResult(t *testing.T, events []jobEvent, task string) map[string]any {
	t.Helper()
	res := taskResults(events, task)
	if len(res) != 1 {
		t.Fatalf("task %q has %d results, want 1", task, len(res))
	}
	return res[0]
}

// artifactFiles lists the files of a run's artifact dir, relative to it,
// with each job event file counted but not named (their names are uuids).
func artifactFiles(t *testing.T, artifactDir string) []string {
	t.Helper()
	var out []string
	events := 0
	err := filepath.WalkDir(artifactDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(artifactDir, path)
		if filepath.Dir(rel) == "job_events" {
			events++
			return nil
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return append(out, fmt.Sprintf("job_events/ (%d files)", events))
}

// readFile returns the content of a file, failing the test when it is
// missing.
func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// warmServers returns the pids of the warm servers of the Runner rooted in
// root: children of this process running <root>/.warm/server.py.
func warmServers(root string) []int {
	entries, _ := os.ReadDir("/proc")
	want := filepath.Join(root, ".warm", "server.py")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !isWarmServer(pid) || parentOf(pid) != os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && strings.HasSuffix(strings.TrimRight(string(cmdline), "\x00"), "\x00"+want) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// warmServer returns the pid of the one warm server of the Runner rooted in
// root, waiting for it to start.
func warmServer(t *testing.T, root string) int {
	t.Helper()
	var pids []int
	optest.Await(t, "the warm server of "+root, func(context.Context) (bool, error) {
		pids = warmServers(root)
		return len(pids) == 1, fmt.Errorf("warm servers %v", pids)
	})
	return pids[0]
}

func parentOf(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	end := strings.LastIndexByte(string(data), ')')
	f := strings.Fields(string(data[end+1:]))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// alive reports whether pid is a process that is not a zombie.
func alive(pid int) bool {
	state, _, err := procState(pid)
	return err == nil && state != "Z" && state != "X"
}

// decodeJSON decodes a JSON value of a task result into a typed value.
func decodeJSON(t *testing.T, v any, into any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, into); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
}
