package operator_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
	"github.com/mcrouter-operator/mcrouter-operator/runner"
)

// gvkEphemeral's watch sets maxRunnerArtifacts: 0.
var gvkEphemeral = schema.GroupVersionKind{Group: "ops.example.com", Version: "v1", Kind: "Ephemeral"}

// artifactRuns returns the artifact dirs of the resource, -1 when it has no
// artifacts dir.
func artifactRuns(t *testing.T, gvk schema.GroupVersionKind, ns, name string) int {
	t.Helper()
	dir, err := runner.InputDir(runnerDir, gvk, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "artifacts"))
	if errors.Is(err, fs.ErrNotExist) {
		return -1
	}
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// noArtifacts fails the test when the resource's input dir holds artifacts.
func noArtifacts(t *testing.T, gvk schema.GroupVersionKind, ns, name, after string) {
	t.Helper()
	if n := artifactRuns(t, gvk, ns, name); n != -1 {
		t.Errorf("after %s: artifacts dir holds %d entries, want no artifacts dir", after, n)
	}
}

// maxRunnerArtifacts: 0 in watches.yaml, or the annotation set to "0",
// keeps no artifacts at all; the runs' events still make the status.
func TestArtifactsOff(t *testing.T) {
	t.Parallel()
	ns := optest.CreateNamespace(t, kube, "artifacts-off")
	optest.Create(t, kube, optest.NewObject(gvkEphemeral, ns, "w", map[string]any{"report_status": false}))
	annotated := optest.NewObject(gvkBasic, ns, "a", map[string]any{"report_status": false})
	annotated.SetAnnotations(map[string]string{"ansible.sdk.operatorframework.io/max-runner-artifacts": "0"})
	optest.Create(t, kube, annotated)

	for _, c := range []struct {
		gvk  schema.GroupVersionKind
		name string
	}{{gvkEphemeral, "w"}, {gvkBasic, "a"}} {
		u := optest.AwaitObject(t, kube, c.gvk, ns, c.name, "Successful", optest.Successful, operator)
		res, _ := optest.Condition(u, "Running")["ansibleResult"].(map[string]any)
		if res == nil || optest.Int64(res["ok"]) < 1 || res["completion"] == "" {
			t.Errorf("%s %s: ansibleResult = %v, want the run's stats", c.gvk.Kind, c.name, res)
		}
		noArtifacts(t, c.gvk, ns, c.name, "a successful run")
	}

	optest.MergePatch(t, kube, gvkEphemeral, ns, "w", map[string]any{"spec": map[string]any{"fail": true, "fail_reason": "no trace"}})
	u := optest.AwaitObject(t, kube, gvkEphemeral, ns, "w", "Failure", func(u *unstructured.Unstructured) bool {
		return optest.Failed(u) && optest.ObservedGeneration(u, "Failure") == u.GetGeneration()
	}, operator)
	if msg := optest.ConditionMessage(u, "Failure"); !strings.Contains(msg, "Fail on request") ||
		!strings.Contains(msg, "requested failure: no trace") {
		t.Errorf("Failure message %q does not name the task and its error", msg)
	}
	// Failed runs are retried: the artifacts of a retry under way may be
	// there, never those of a run that ended.
	if n := artifactRuns(t, gvkEphemeral, ns, "w"); n > 1 {
		t.Errorf("after a failed run: %d artifact dirs, want at most the one of a retry under way", n)
	}
	optest.MergePatch(t, kube, gvkEphemeral, ns, "w", map[string]any{"spec": map[string]any{"fail": false}})
	optest.AwaitObject(t, kube, gvkEphemeral, ns, "w", "Successful after the fix", optest.Successful, operator)
	noArtifacts(t, gvkEphemeral, ns, "w", "failed runs and a successful one")
}
