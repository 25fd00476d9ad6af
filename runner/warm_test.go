package runner_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mcrouter-operator/mcrouter-operator/runner"
)

// The warm executor is only an optimisation: a playbook of every kind of
// task gives the same Result, the same artifacts and the same events as
// with ansible-runner.
func TestWarmRunsLikeRunner(t *testing.T) {
	t.Parallel()
	runs := runBoth(t, "same", runner.RunOptions{Playbook: playbook(t, "warm_equivalence.yml")})
	ref, warm := runs[runner.ExecutorRunner], runs[runner.ExecutorWarm]

	wantStats := runner.Stats{Ok: 9, Changed: 1, Rescued: 1, Ignored: 1}
	if diff := cmp.Diff(wantStats, ref.res.Stats); diff != "" {
		t.Errorf("runner executor stats (-want +got):\n%s", diff)
	}
	if ref.res.RequeueAfter == 0 {
		t.Error("runner executor: no requeue period")
	}
	opt := cmpopts.IgnoreFields(runner.Result{}, "ArtifactDir", "Completion")
	if diff := cmp.Diff(ref.res, warm.res, opt); diff != "" {
		t.Errorf("Result (-runner +warm):\n%s", diff)
	}
	if diff := cmp.Diff(artifactFiles(t, ref.res.ArtifactDir), artifactFiles(t, warm.res.ArtifactDir)); diff != "" {
		t.Errorf("artifact files (-runner +warm):\n%s", diff)
	}
	for _, f := range []string{"rc", "status"} {
		if a, b := readFile(t, filepath.Join(ref.res.ArtifactDir, f)), readFile(t, filepath.Join(warm.res.ArtifactDir, f)); a != b {
			t.Errorf("artifact %s: runner %q, warm %q", f, a, b)
		}
	}
	refEvents, warmEvents := jobEvents(t, ref.res.ArtifactDir), jobEvents(t, warm.res.ArtifactDir)
	if diff := cmp.Diff(eventKinds(refEvents), eventKinds(warmEvents)); diff != "" {
		t.Errorf("events (-runner +warm):\n%s", diff)
	}
	for ex, run := range runs {
		assertNoSecret(t, ex, run)
	}
	refProbes, warmProbes := probes(t, refEvents), probes(t, warmEvents)
	if len(refProbes) != len(warmProbes) {
		t.Fatalf("probes: runner %d, warm %d", len(refProbes), len(warmProbes))
	}
	for i := range refProbes {
		if !warmProbes[i].forked() {
			t.Errorf("warm probe %d: the module was exec'd by %s, not forked", i, warmProbes[i].Parent)
		}
		if diff := cmp.Diff(refProbes[i].fresh(ref.root, ref.res), warmProbes[i].fresh(warm.root, warm.res)); diff != "" {
			t.Errorf("probe %d (-runner +warm):\n%s", i, diff)
		}
	}
}

// theSecret is the value warm_equivalence.yml templates and hides.
const theSecret = "hush-quiet-value"

// assertNoSecret checks that no artifact file and no log line of a run has
// the no_log value, and that the task shows Ansible's censored notice.
func assertNoSecret(t *testing.T, ex runner.Executor, run executorRun) {
	t.Helper()
	if strings.Contains(run.logs.String(), theSecret) {
		t.Errorf("%s executor: the logs show the no_log value", ex)
	}
	err := filepath.WalkDir(run.res.ArtifactDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.Contains(readFile(t, path), theSecret) {
			t.Errorf("%s executor: artifact %s shows the no_log value", ex, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	res := oneResult(t, jobEvents(t, run.res.ArtifactDir), "Show a secret quietly")
	if c, _ := res["censored"].(string); !strings.Contains(c, "no_log") {
		t.Errorf("%s executor: result of the no_log task = %v, want the censored notice", ex, res)
	}
}

// At verbosity 3 both executors print Ansible's verbose lines: the same
// kinds of lines, the same number of times.
func TestWarmVerboseLikeRunner(t *testing.T) {
	t.Parallel()
	runs := runBoth(t, "verbose", runner.RunOptions{Playbook: playbook(t, "warm_equivalence.yml"), Verbosity: 3})
	ref, warm := runs[runner.ExecutorRunner], runs[runner.ExecutorWarm]
	refLines := verboseLines(jobEvents(t, ref.res.ArtifactDir))
	if !slices.Contains(refLines, "EXEC") {
		t.Fatalf("runner executor: verbose lines %v at verbosity 3, want EXEC among them", refLines)
	}
	if diff := cmp.Diff(refLines, verboseLines(jobEvents(t, warm.res.ArtifactDir))); diff != "" {
		t.Errorf("verbose lines (-runner +warm):\n%s", diff)
	}
}

// verboseLine matches what Ansible prints from -vvv on about a host, its
// colour codes removed: "<localhost> EXEC ...", "<localhost> PUT ...".
var verboseLine = regexp.MustCompile(`^<[^>]+> ([A-Z]+)`)

var colour = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// verboseLines are the kinds of the host's verbose lines of a run's
// events, in order.
func verboseLines(events []jobEvent) []string {
	var out []string
	for _, ev := range events {
		if ev.Event != "verbose" {
			continue
		}
		for _, line := range strings.Split(colour.ReplaceAllString(ev.Stdout, ""), "\n") {
			if m := verboseLine.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
				out = append(out, m[1])
			}
		}
	}
	return out
}

// A module that kills itself with SIGSEGV and one that calls sys.exit(3)
// fail their tasks as with ansible-runner: the same Result, and the same
// rc, message and stderr in the task results.
func TestWarmModuleCrashesLikeRunner(t *testing.T) {
	t.Parallel()
	runs := runBoth(t, "crash", runner.RunOptions{Playbook: playbook(t, "warm_crash.yml")})
	ref, warm := runs[runner.ExecutorRunner], runs[runner.ExecutorWarm]
	if len(ref.res.Failures) != 1 || ref.res.Failures[0].Task != "Exit 3" || ref.res.Stats.Ignored != 1 {
		t.Errorf("runner executor: failures %+v, stats %+v; want Segfault ignored and Exit 3 failed",
			ref.res.Failures, ref.res.Stats)
	}
	if diff := cmp.Diff(ref.res, warm.res, cmpopts.IgnoreFields(runner.Result{}, "ArtifactDir", "Completion")); diff != "" {
		t.Errorf("Result (-runner +warm):\n%s", diff)
	}
	refEvents, warmEvents := jobEvents(t, ref.res.ArtifactDir), jobEvents(t, warm.res.ArtifactDir)
	for task, rc := range map[string]float64{"Segfault": 139, "Exit 3": 3} {
		a, b := oneResult(t, refEvents, task), oneResult(t, warmEvents, task)
		if a["rc"] != rc {
			t.Errorf("runner executor: %s rc = %v, want %v", task, a["rc"], rc)
		}
		// The module's only output names its parent.
		if out, _ := b["module_stdout"].(string); !strings.Contains(out, "parent python") {
			t.Errorf("warm: %s printed %q, want a module forked from its python worker", task, out)
		}
		delete(a, "module_stdout")
		delete(b, "module_stdout")
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("%s result (-runner +warm):\n%s", task, diff)
		}
	}
}

// An async task polled to its end and a task with `environment:` work
// warm as with ansible-runner; the environment reaches that task's module
// only, with the value as written.
func TestWarmAsyncAndTaskEnvironment(t *testing.T) {
	t.Parallel()
	runs := runBoth(t, "async", runner.RunOptions{Playbook: playbook(t, "warm_async_env.yml")})
	want := `async async done finished 1; env $HOME and 'quotes' and spaces; after unset`
	for _, ex := range executors {
		run := runs[ex]
		if run.res.Failed() {
			t.Errorf("%s executor: failures %+v", ex, run.res.Failures)
			continue
		}
		events := jobEvents(t, run.res.ArtifactDir)
		if got := oneResult(t, events, "Report")["msg"]; got != want {
			t.Errorf("%s executor: report %q, want %q", ex, got, want)
		}
		if ex != runner.ExecutorWarm {
			continue
		}
		for i, p := range probes(t, events) {
			if !p.forked() {
				t.Errorf("warm probe %d: the module was exec'd by %s, not forked", i, p.Parent)
			}
		}
	}
	if diff := cmp.Diff(runs[runner.ExecutorRunner].res, runs[runner.ExecutorWarm].res,
		cmpopts.IgnoreFields(runner.Result{}, "ArtifactDir", "Completion")); diff != "" {
		t.Errorf("Result (-runner +warm):\n%s", diff)
	}
}
