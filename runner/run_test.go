package runner_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mcrouter-operator/mcrouter-operator/runner"
)

// ignorePath leaves task paths out of comparisons; tests that care check them.
var ignorePath = cmpopts.IgnoreFields(runner.TaskEvent{}, "Path")

func TestRunSuccess(t *testing.T) {
	t.Parallel()
	r, opts := newRunner(t)
	obj := testObject(t, "ok", map[string]any{"size": 3})
	before := time.Now().Add(-time.Second)

	res, err := r.Run(t.Context(), obj, runner.RunOptions{Playbook: playbook(t, "success.yml"), MaxArtifacts: 5})
	after := time.Now().Add(time.Second)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if diff := cmp.Diff(runner.Stats{Ok: 2, Changed: 1, Skipped: 1}, res.Stats); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	wantTasks := []runner.TaskEvent{
		{Name: "Say hello", Action: "ansible.builtin.debug", Host: "localhost", Status: runner.TaskOk},
		{Name: "Change something", Action: "ansible.builtin.command", Host: "localhost", Status: runner.TaskChanged},
		{Name: "Never runs", Action: "ansible.builtin.debug", Host: "localhost", Status: runner.TaskSkipped},
	}
	if diff := cmp.Diff(wantTasks, res.Tasks, ignorePath); diff != "" {
		t.Errorf("tasks (-want +got):\n%s", diff)
	}
	if want := playbook(t, "success.yml") + ":6"; res.Tasks[0].Path != want {
		t.Errorf("first task path = %q, want %q", res.Tasks[0].Path, want)
	}
	if res.Failed() || res.Failures != nil {
		t.Errorf("Failed() = %v, Failures = %v; want a successful run", res.Failed(), res.Failures)
	}
	if res.Completion.Before(before) || res.Completion.After(after) {
		t.Errorf("completion %v not within the run [%v, %v]", res.Completion, before, after)
	}
	wantDir := filepath.Join(opts.RootDir, "cache.example.com", "v1alpha1", "TestApp", obj.GetNamespace(), "ok",
		"artifacts", res.Ident)
	if res.ArtifactDir != wantDir {
		t.Errorf("artifact dir = %q, want %q", res.ArtifactDir, wantDir)
	}
	if _, err := os.Stat(filepath.Join(res.ArtifactDir, "stdout")); err != nil {
		t.Errorf("artifacts: %v", err)
	}
}

func TestRunFailingTask(t *testing.T) {
	t.Parallel()
	r, _ := newRunner(t)
	obj := testObject(t, "broken", nil)

	res, err := r.Run(t.Context(), obj, runner.RunOptions{Playbook: playbook(t, "fail.yml")})
	if err != nil {
		t.Fatalf("Run: %v (a failed task is not a run error)", err)
	}
	want := []runner.TaskFailure{{
		Task:     "Break it",
		TaskPath: playbook(t, "fail.yml") + ":9",
		Message:  "boom for " + obj.GetNamespace() + "/broken",
	}}
	if diff := cmp.Diff(want, res.Failures); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(runner.Stats{Ok: 1, Failures: 1}, res.Stats); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if !res.Failed() {
		t.Error("Failed() = false, want true")
	}
}

func TestRunIgnoredAndRescuedFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		playbook     string
		wantStats    runner.Stats
		wantTasks    []runner.TaskEvent
		wantFailures []runner.TaskFailure
	}{
		{
			playbook:  "ignored.yml",
			wantStats: runner.Stats{Ok: 2, Changed: 1, Ignored: 1}, // Ansible counts an ignored failure as ok too
			wantTasks: []runner.TaskEvent{
				{Name: "Fail but ignore", Action: "ansible.builtin.command", Host: "localhost", Status: runner.TaskIgnored},
				{Name: "Carry on", Action: "ansible.builtin.debug", Host: "localhost", Status: runner.TaskOk},
			},
		},
		{
			playbook:  "rescued.yml",
			wantStats: runner.Stats{Ok: 2, Rescued: 1},
			wantTasks: []runner.TaskEvent{
				{Name: "Fail inside block", Action: "ansible.builtin.fail", Host: "localhost", Status: runner.TaskRescued},
				{Name: "Rescue it", Action: "ansible.builtin.debug", Host: "localhost", Status: runner.TaskOk},
				{Name: "Carry on", Action: "ansible.builtin.debug", Host: "localhost", Status: runner.TaskOk},
			},
		},
		{
			playbook:  "rescued_then_failed.yml",
			wantStats: runner.Stats{Ok: 2, Failures: 1, Rescued: 1, Ignored: 1},
			wantTasks: []runner.TaskEvent{
				{Name: "Fail inside block", Action: "ansible.builtin.fail", Host: "localhost", Status: runner.TaskRescued},
				{Name: "Rescue it", Action: "ansible.builtin.debug", Host: "localhost", Status: runner.TaskOk},
				{Name: "Ignored on the way", Action: "ansible.builtin.fail", Host: "localhost", Status: runner.TaskIgnored},
				{Name: "Fail for real", Action: "ansible.builtin.fail", Host: "localhost", Status: runner.TaskFailed},
			},
			wantFailures: []runner.TaskFailure{{Task: "Fail for real", Message: "real failure"}},
		},
	}
	r, _ := newRunner(t)
	for _, tt := range tests {
		t.Run(tt.playbook, func(t *testing.T) {
			t.Parallel()
			obj := testObject(t, "app", nil)
			res, err := r.Run(t.Context(), obj, runner.RunOptions{Playbook: playbook(t, tt.playbook)})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if diff := cmp.Diff(tt.wantStats, res.Stats); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantTasks, res.Tasks, ignorePath); diff != "" {
				t.Errorf("tasks (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantFailures, res.Failures,
				cmpopts.IgnoreFields(runner.TaskFailure{}, "TaskPath")); diff != "" {
				t.Errorf("failures (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunMarkUnsafe(t *testing.T) {
	t.Parallel()
	const template = "{{ lookup('pipe', 'id') }}"
	tests := []struct {
		name       string
		markUnsafe bool
		literal    bool
	}{
		{"unsafe values reach the role literally", true, true},
		{"without markUnsafe the value is templated", false, false},
	}
	r, _ := newRunner(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "seen.json")
			res, err := r.Run(t.Context(), testObject(t, "app", map[string]any{"command": template}), runner.RunOptions{
				Playbook:            playbook(t, "unsafe.yml"),
				SnakeCaseParameters: true,
				MarkUnsafe:          tt.markUnsafe,
				Vars:                map[string]any{"out_file": out},
			})
			if err != nil || res.Failed() {
				t.Fatalf("Run: %v, failures %v", err, res.Failures)
			}
			var seen map[string]string
			readJSON(t, out, &seen)
			for _, key := range []string{"converted", "object", "spec"} {
				if got := seen[key] == template; got != tt.literal {
					t.Errorf("%s value = %q; literal = %v, want %v", key, seen[key], got, tt.literal)
				}
				if !tt.literal && !strings.HasPrefix(seen[key], "uid=") {
					t.Errorf("%s value = %q, want the output of id", key, seen[key])
				}
			}
		})
	}
}

func TestRunWritesExtraVarsForNestedSpec(t *testing.T) {
	t.Parallel()
	r, opts := newRunner(t)
	spec := map[string]any{
		"poolSetup":  map[string]any{"egressIPs": []any{"10.0.0.1"}, "replicaCount": int64(3)},
		"servers":    []any{map[string]any{"hostName": "a", "portNumber": int64(11211)}},
		"apiVersion": "v9",
	}
	obj := testObject(t, "nested", spec)
	res, err := r.Run(t.Context(), obj, runner.RunOptions{
		Playbook: playbook(t, "noop.yml"), SnakeCaseParameters: true, MarkUnsafe: true,
		Vars: map[string]any{"from_watch": "watch-value", "api_version": "watch wins"},
	})
	if err != nil || res.Failed() {
		t.Fatalf("Run: %v, failures %v", err, res.Failures)
	}
	u := func(s string) map[string]any { return map[string]any{"__ansible_unsafe": s} }
	meta := map[string]any{"name": "nested", "namespace": obj.GetNamespace()}
	rawSpec := map[string]any{
		"poolSetup":  map[string]any{"egressIPs": []any{u("10.0.0.1")}, "replicaCount": 3.0},
		"servers":    []any{map[string]any{"hostName": u("a"), "portNumber": 11211.0}},
		"apiVersion": u("v9"),
	}
	want := map[string]any{
		"pool_setup":            map[string]any{"egress_ips": []any{u("10.0.0.1")}, "replica_count": 3.0},
		"servers":               []any{map[string]any{"host_name": u("a"), "port_number": 11211.0}},
		"api_version":           "watch wins",
		"from_watch":            "watch-value",
		"ansible_operator_meta": meta,
		"meta":                  meta,
		"_cache_example_com_testapp": map[string]any{
			"apiVersion": u("cache.example.com/v1alpha1"),
			"kind":       u("TestApp"),
			"metadata":   map[string]any{"name": u("nested"), "namespace": u(obj.GetNamespace())},
			"spec":       rawSpec,
		},
		"_cache_example_com_testapp_spec": rawSpec,
	}
	dir := filepath.Join(opts.RootDir, "cache.example.com", "v1alpha1", "TestApp", obj.GetNamespace(), "nested")
	var got map[string]any
	readJSON(t, filepath.Join(dir, "env", "extravars"), &got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("env/extravars (-want +got):\n%s", diff)
	}
	hosts, err := os.ReadFile(filepath.Join(dir, "inventory", "hosts"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n"; string(hosts) != want {
		t.Errorf("inventory/hosts = %q, want %q", hosts, want)
	}
}

func TestRunKubeconfigAndCmdline(t *testing.T) {
	t.Parallel()
	r, opts := newRunner(t, func(o *runner.Options) { o.AnsibleArgs = "--skip-tags never_run" })
	obj := testObject(t, "kc", nil)
	kubeconfig := []byte("apiVersion: v1\nkind: Config\n")
	res, err := r.Run(t.Context(), obj, runner.RunOptions{Playbook: playbook(t, "noop.yml"), Kubeconfig: kubeconfig})
	if err != nil || res.Failed() {
		t.Fatalf("Run: %v, failures %v", err, res.Failures)
	}
	dir := filepath.Join(opts.RootDir, "cache.example.com", "v1alpha1", "TestApp", obj.GetNamespace(), "kc")
	kcPath := filepath.Join(dir, "kubeconfig")
	st, err := os.Stat(kcPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode = %v, want 0600", st.Mode().Perm())
	}
	var envvars map[string]string
	readJSON(t, filepath.Join(dir, "env", "envvars"), &envvars)
	if diff := cmp.Diff(map[string]string{"K8S_AUTH_KUBECONFIG": kcPath, "KUBECONFIG": kcPath}, envvars); diff != "" {
		t.Errorf("env/envvars (-want +got):\n%s", diff)
	}
	cmdline, err := os.ReadFile(filepath.Join(dir, "env", "cmdline"))
	if err != nil || string(cmdline) != "--skip-tags never_run" {
		t.Errorf("env/cmdline = %q, %v", cmdline, err)
	}

	// A later run without a kubeconfig must not reuse the stale one.
	if _, err := r.Run(t.Context(), obj, runner.RunOptions{Playbook: playbook(t, "noop.yml")}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(kcPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale kubeconfig left behind: %v", err)
	}
}

func TestRunRole(t *testing.T) {
	t.Parallel()
	r, _ := newRunner(t, func(o *runner.Options) { o.Env = []string{"ANSIBLE_GATHERING=explicit"} })
	role, err := filepath.Abs(filepath.Join("testdata", "roles", "testrole"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "message")
	res, err := r.Run(t.Context(), testObject(t, "roled", map[string]any{"message": "hi"}), runner.RunOptions{
		Role: role, Vars: map[string]any{"out_file": out},
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := []runner.TaskEvent{
		{Name: "Greet from the role", Role: "testrole", Action: "ansible.builtin.debug", Host: "localhost", Status: runner.TaskOk},
		{Name: "Record the spec value", Role: "testrole", Action: "ansible.builtin.copy", Host: "localhost", Status: runner.TaskChanged},
	}
	// No "Gathering Facts" task: ANSIBLE_GATHERING=explicit adds --role-skip-facts.
	if diff := cmp.Diff(want, res.Tasks, ignorePath); diff != "" {
		t.Errorf("tasks (-want +got):\n%s", diff)
	}
	if got, err := os.ReadFile(out); err != nil || string(got) != "hi" {
		t.Errorf("role wrote %q, %v; want %q", got, err, "hi")
	}
}

func TestRunRequeueAfter(t *testing.T) {
	t.Parallel()
	r, _ := newRunner(t)
	t.Run("last period wins", func(t *testing.T) {
		t.Parallel()
		res, err := r.Run(t.Context(), testObject(t, "app", nil), runner.RunOptions{Playbook: playbook(t, "requeue.yml")})
		if err != nil || res.Failed() {
			t.Fatalf("Run: %v, failures %v", err, res.Failures)
		}
		if res.RequeueAfter != 90*time.Second {
			t.Errorf("RequeueAfter = %v, want 1m30s", res.RequeueAfter)
		}
	})
	t.Run("operator_sdk.util.requeue_after of this repository", func(t *testing.T) {
		t.Parallel()
		collections, err := filepath.Abs(filepath.Join("..", "collections"))
		if err != nil {
			t.Fatal(err)
		}
		r, _ := newRunner(t, func(o *runner.Options) { o.Env = []string{"ANSIBLE_COLLECTIONS_PATH=" + collections} })
		res, err := r.Run(t.Context(), testObject(t, "app", nil), runner.RunOptions{Playbook: playbook(t, "requeue_collection.yml")})
		if err != nil || res.Failed() {
			t.Fatalf("Run: %v, failures %v", err, res.Failures)
		}
		if res.RequeueAfter != 90*time.Minute {
			t.Errorf("RequeueAfter = %v, want 1h30m", res.RequeueAfter)
		}
	})
	t.Run("invalid period is a task failure", func(t *testing.T) {
		t.Parallel()
		res, err := r.Run(t.Context(), testObject(t, "app", nil), runner.RunOptions{Playbook: playbook(t, "requeue_invalid.yml")})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if len(res.Failures) != 1 || res.Failures[0].Task != "Bad period" ||
			!strings.Contains(res.Failures[0].Message, `requeue_after "soon"`) {
			t.Errorf("failures = %+v, want one naming task \"Bad period\" and the value", res.Failures)
		}
		if res.RequeueAfter != 0 {
			t.Errorf("RequeueAfter = %v, want 0", res.RequeueAfter)
		}
	})
}

func TestRunNeverLogsNoLogValues(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-value-that-must-not-leak"
	rec := &logRecorder{}
	r, _ := newRunner(t, func(o *runner.Options) {
		o.LogEvents = runner.LogEverything
		o.Log = testLogger(t, rec)
	})
	res, err := r.Run(t.Context(), testObject(t, "quiet", nil), runner.RunOptions{
		Playbook: playbook(t, "nolog.yml"), Verbosity: 3, Vars: map[string]any{"secret": secret},
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	logs := rec.String()
	if strings.Contains(logs, secret) {
		t.Errorf("logs contain the no_log value:\n%s", logs)
	}
	if len(res.Failures) != 1 || strings.Contains(res.Failures[0].Message, secret) ||
		!strings.Contains(res.Failures[0].Message, "no_log") {
		t.Errorf("failures = %+v, want the censored notice", res.Failures)
	}
	for _, want := range []string{
		`"task"="Show a secret quietly"`, `"msg"="task started"`, `"msg"="task failed"`, `"msg"="PLAY RECAP"`,
		`"result"="failed"`, `"duration"=`,
		`"namespace"="` + strings.ToLower(t.Name()) + `"`, `"name"="quiet"`, `"msg"="ansible output"`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs do not contain %s", want)
		}
	}
}

func TestRunSameResourceConcurrently(t *testing.T) {
	t.Parallel()
	r, _ := newRunner(t)
	out := t.TempDir()
	errs := make(chan error, 2)
	for _, value := range []string{"first", "second"} {
		go func() {
			obj := testObject(t, "shared", map[string]any{"value": value})
			res, err := r.Run(t.Context(), obj, runner.RunOptions{
				Playbook: playbook(t, "seen.yml"), Vars: map[string]any{"out_dir": out},
			})
			if err == nil && res.Failed() {
				err = errors.New(res.Failures[0].Message)
			}
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	// Each run saw its own spec: neither overwrote the other's extravars mid-run.
	for _, value := range []string{"first", "second"} {
		if got, err := os.ReadFile(filepath.Join(out, value)); err != nil || string(got) != value {
			t.Errorf("run with value %q saw %q, %v", value, got, err)
		}
	}
}

func TestRunRotatesArtifacts(t *testing.T) {
	t.Parallel()
	r, opts := newRunner(t)
	obj := testObject(t, "rotated", nil)
	for i := range 3 {
		if _, err := r.Run(t.Context(), obj, runner.RunOptions{
			Playbook: playbook(t, "noop.yml"), MaxArtifacts: 2, Ident: "run-" + strconv.Itoa(i),
		}); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	entries, err := os.ReadDir(filepath.Join(opts.RootDir, "cache.example.com", "v1alpha1", "TestApp",
		obj.GetNamespace(), "rotated", "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"run-1", "run-2"}, names); diff != "" {
		t.Errorf("artifact dirs (-want +got):\n%s", diff)
	}

	if err := r.Remove(testGVK, obj.GetNamespace(), "rotated"); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(opts.RootDir, "cache.example.com", "v1alpha1", "TestApp", obj.GetNamespace(), "rotated")
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("input dir after Remove: %v", err)
	}
}
