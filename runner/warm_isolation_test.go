package runner_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mcrouter-operator/mcrouter-operator/runner"
)

// probe is what testdata/playbooks/library/warm_probe.py reports about the
// process it started in.
type probe struct {
	LeakedEnv        *string           `json:"leaked_env"`
	LeakedAttr       *string           `json:"leaked_attr"`
	Cwd              string            `json:"cwd"`
	Umask            string            `json:"umask"`
	Counter          int               `json:"counter"`
	Fds              map[string]string `json:"fds"`
	Signals          map[string]string `json:"signals"`
	Usr1             string            `json:"usr1"`
	PrevTmpdirExists bool              `json:"prev_tmpdir_exists"`
	PrevExitFile     bool              `json:"prev_exit_file_exists"`
	Env              map[string]string `json:"env"`
	Argv0            string            `json:"argv0"`
	StdoutEncoding   string            `json:"stdout_encoding"`
	// Random, Parent, Tmpdir and ExitFile differ from one process to the
	// next.
	Random   string `json:"random"`
	Parent   string `json:"parent"`
	Tmpdir   string `json:"tmpdir"`
	ExitFile string `json:"exit_file"`
}

// probes returns the probes of a run of warm_isolation.yml or
// warm_equivalence.yml, in order, loop items expanded.
func probes(t *testing.T, events []jobEvent) []probe {
	t.Helper()
	var out []probe
	for _, ev := range events {
		if ev.Event != "runner_on_ok" || ev.EventData.Res["tmpdir"] == nil && ev.EventData.Res["results"] == nil {
			continue
		}
		items := []any{ev.EventData.Res}
		if results, ok := ev.EventData.Res["results"].([]any); ok {
			items = results
		}
		for _, item := range items {
			var p probe
			decodeJSON(t, item, &p)
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Fatal("no probe results in the run's events")
	}
	return out
}

// fresh is what a probe saw that must be the same in every fresh process
// of the same run: run-specific paths and values are replaced by names.
func (p probe) fresh(root string, res *runner.Result) probe {
	dir := res.ArtifactDir[:strings.Index(res.ArtifactDir, "/artifacts/")]
	r := strings.NewReplacer(res.ArtifactDir, "<artifacts>", dir, "<input dir>", root, "<root>")
	env := map[string]string{}
	for k, v := range p.Env {
		env[k] = r.Replace(v)
	}
	env["ANSIBLE_OPERATOR_RUN"] = "<marker>" // unique per run
	p.Env = env
	p.Cwd = r.Replace(p.Cwd)
	p.Random, p.Parent, p.Tmpdir, p.ExitFile = "", "", "", ""
	return p
}

// forked reports whether the probe's module was forked from its worker
// rather than exec'd by /bin/sh.
func (p probe) forked() bool {
	return strings.HasPrefix(p.Parent, "python")
}

// Alternating runs of two resources on one warm server, each running the
// probe module in several tasks and loop items: every module starts from
// the state a module of ansible-runner starts from, whatever the modules
// and runs before it changed (environment, cwd, umask, a module_utils
// global, an open fd, a signal disposition, its temp dir, exit handlers,
// facts). And Python's random differs in each module and each controller.
func TestWarmIsolatesModulesAndRuns(t *testing.T) {
	t.Parallel()
	cold, coldOpts := newRunnerFor(t, runner.ExecutorRunner)
	warm, warmOpts := newRunnerFor(t, runner.ExecutorWarm)
	randoms := map[string]string{} // value → where it was drawn
	run := func(r *runner.Runner, obj string, i int) (*runner.Result, []jobEvent) {
		t.Helper()
		res, err := r.Run(t.Context(), testObject(t, obj, nil), runner.RunOptions{
			Playbook: playbook(t, "warm_isolation.yml"), Ident: fmt.Sprintf("run-%d", i),
		})
		if err != nil || res.Failed() {
			t.Fatalf("run %d of %s: %v, failures %v", i, obj, err, res.Failures)
		}
		events := jobEvents(t, res.ArtifactDir)
		if msg := oneResult(t, events, "Look for the fact of another run")["msg"]; msg != "leaked fact none" {
			t.Errorf("run %d of %s: %v", i, obj, msg)
		}
		drawn := fmt.Sprint(oneResult(t, events, "Draw a random number in the controller")["msg"])
		if prev, ok := randoms[drawn]; ok {
			t.Errorf("run %d of %s: the controller drew %s, as %s did", i, obj, drawn, prev)
		}
		randoms[drawn] = fmt.Sprintf("the controller in run %d of %s", i, obj)
		return res, events
	}

	refRes, refEvents := run(cold, "a", 0)
	ref := probes(t, refEvents)
	want := ref[0].fresh(coldOpts.RootDir, refRes)
	if want.Counter != 1 || want.LeakedEnv != nil || want.LeakedAttr != nil || ref[0].forked() {
		t.Fatalf("runner executor: first probe %+v, want a fresh exec'd process", ref[0])
	}
	for _, p := range ref {
		randoms[p.Random] = "runner executor"
	}
	for i, obj := range []string{"a", "b", "a"} {
		res, events := run(warm, obj, i)
		for j, p := range probes(t, events) {
			where := fmt.Sprintf("run %d of %s, probe %d", i, obj, j)
			if !p.forked() {
				t.Errorf("%s: the module was exec'd by %s, not forked from its worker", where, p.Parent)
			}
			if diff := cmp.Diff(want, p.fresh(warmOpts.RootDir, res)); diff != "" {
				t.Errorf("%s: state (-runner executor +warm):\n%s", where, diff)
			}
			if prev, ok := randoms[p.Random]; ok {
				t.Errorf("%s: random value %s already drawn in %s", where, p.Random, prev)
			}
			randoms[p.Random] = where
		}
	}
}
