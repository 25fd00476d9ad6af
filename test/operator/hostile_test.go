package operator_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

// The test operator's --min-reconcile-period (main_test.go).
const minReconcilePeriod = 5 * time.Second

// A resource cannot ask for runs more often than --min-reconcile-period: a
// 1ns reconcile-period annotation used to run Ansible back to back.
func TestReconcilePeriodAnnotationHasAFloor(t *testing.T) {
	t.Parallel()
	ns := optest.CreateNamespace(t, kube, "period-floor")
	cr := optest.NewObject(gvkBasic, ns, "p", map[string]any{"message": "tick"})
	cr.SetAnnotations(map[string]string{"ansible.sdk.operatorframework.io/reconcile-period": "1ns"})
	start := time.Now()
	optest.Create(t, kube, cr)
	waitRuns(t, gvkBasic, ns, "p", 2, "the periodic run")
	time.Sleep(optest.Quiet(operator))
	elapsed := time.Since(start)
	if got, most := runs(t, gvkBasic, ns, "p"), int(elapsed/minReconcilePeriod)+1; got > most {
		t.Fatalf("%d Ansible runs in %s, want at most %d (one per %s)", got, elapsed.Round(time.Millisecond), most, minReconcilePeriod)
	}
	optest.AwaitEvent(t, kube, ns, "p", "InvalidAnnotation", "--min-reconcile-period", operator)
}

// The verbosity annotation cannot raise Ansible's verbosity above
// --max-verbosity-annotation (4 by default).
func TestVerbosityAnnotationIsBounded(t *testing.T) {
	t.Parallel()
	ns := optest.CreateNamespace(t, kube, "verbosity")
	cr := optest.NewObject(gvkBasic, ns, "v", map[string]any{})
	cr.SetAnnotations(map[string]string{"ansible.sdk.operatorframework.io/verbosity": "7"})
	optest.Create(t, kube, cr)
	optest.AwaitObject(t, kube, gvkBasic, ns, "v", "Successful", optest.Successful, operator)
	cmds, err := filepath.Glob(filepath.Join(runnerDir, gvkBasic.Group, gvkBasic.Version, gvkBasic.Kind, ns, "v", "artifacts", "*", "command"))
	if err != nil || len(cmds) == 0 {
		t.Fatalf("no artifacts/*/command of the run (%v)", err)
	}
	for _, path := range cmds {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"-vvvv"`) || strings.Contains(string(b), "-vvvvv") {
			t.Errorf("%s: want verbosity -vvvv, got %s", path, b)
		}
	}
	optest.AwaitEvent(t, kube, ns, "v", "InvalidAnnotation", "maximum", operator)
}

// A resource whose spec keys would reach Ansible as its own variables
// (ansible_python_interpreter is pasted into a shell command line) or as
// templates is refused before any process starts: Failure naming the key,
// an InvalidSpec event, no run, no retry.
func TestHostileSpecKeysAreRefused(t *testing.T) {
	t.Parallel()
	ns := optest.CreateNamespace(t, kube, "hostile-keys")
	marker := filepath.Join(t.TempDir(), "ran")
	for _, tt := range []struct {
		name, key, want string
		spec            map[string]any
	}{
		{name: "interpreter", key: "spec.ansiblePythonInterpreter", want: `"ansible_python_interpreter"`,
			spec: map[string]any{"ansiblePythonInterpreter": "touch " + marker + "; /usr/bin/python3"}},
		{name: "template-key", key: "spec.config", want: "{{",
			spec: map[string]any{"config": map[string]any{"{{ lookup('pipe', 'touch " + marker + "') }}": 1}}},
		{name: "private", key: "spec.ShadowMe", want: `"_shadow_me"`,
			spec: map[string]any{"ShadowMe": "x"}},
	} {
		optest.Create(t, kube, optest.NewObject(gvkBasic, ns, tt.name, tt.spec))
		u := optest.AwaitObject(t, kube, gvkBasic, ns, tt.name, "Failure", optest.Failed, operator)
		msg := optest.ConditionMessage(u, "Failure")
		if !strings.Contains(msg, tt.key) || !strings.Contains(msg, tt.want) {
			t.Errorf("%s: Failure message %q, want it to name %s and %s", tt.name, msg, tt.key, tt.want)
		}
		optest.AwaitEvent(t, kube, ns, tt.name, "InvalidSpec", tt.want, operator)
	}
	time.Sleep(optest.Quiet(operator)) // a retry would start now
	for _, name := range []string{"interpreter", "template-key", "private"} {
		if n := runs(t, gvkBasic, ns, name); n != 0 {
			t.Errorf("%s: %d Ansible runs, want none", name, n)
		}
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("a hostile spec ran code: %s exists (%v)", marker, err)
	}
}
