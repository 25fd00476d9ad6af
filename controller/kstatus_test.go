package controller

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/mcrouter-operator/mcrouter-operator/runner"
)

// applyStatus writes change into obj's status as the merge patch of
// patchStatus would.
func applyStatus(t *testing.T, obj *unstructured.Unstructured, change statusChange) {
	t.Helper()
	patch, _ := statusPatch(obj, change, t1)
	st, _, _ := unstructured.NestedMap(obj.Object, "status")
	if st == nil {
		st = map[string]any{}
	}
	for k, v := range normalize(patch).(map[string]any) {
		if v == nil {
			delete(st, k)
			continue
		}
		st[k] = v
	}
	// The API server hands integers back as int64.
	if g, ok := st["observedGeneration"].(float64); ok {
		st["observedGeneration"] = int64(g)
	}
	obj.Object["status"] = st
}

func kstatus(t *testing.T, obj *unstructured.Unstructured) *status.Result {
	t.Helper()
	res, err := status.Compute(obj)
	if err != nil {
		t.Fatalf("kstatus: %v", err)
	}
	return res
}

var failedRun = &outcome{result: &runner.Result{Failures: []runner.TaskFailure{{Task: "Ensure the ConfigMap", Message: "forbidden"}}}}

// The status the runtime writes reads, through kstatus, as GitOps tools
// expect: InProgress while a generation is not reconciled yet, Current once
// it was, Failed when its run failed, through the whole life of a resource.
func TestKstatusOfTheRuntimesStatus(t *testing.T) {
	obj := testOwner()
	obj.SetGeneration(1)
	ok := &outcome{result: &runner.Result{}}
	steps := []struct {
		name   string
		do     func()
		want   status.Status
		inText string // part of the kstatus message
	}{
		{"first run starts", func() { applyStatus(t, obj, runningStatus(obj)) }, status.InProgressStatus, "generation 1"},
		{"first run succeeds", func() { applyStatus(t, obj, ok.status(1)) }, status.CurrentStatus, ""},
		{"a periodic run of the same generation", func() { applyStatus(t, obj, runningStatus(obj)) }, status.CurrentStatus, ""},
		{"and its success", func() { applyStatus(t, obj, ok.status(1)) }, status.CurrentStatus, ""},
		{"spec changed, before any run", func() { obj.SetGeneration(2) }, status.InProgressStatus, "observed generation is 1"},
		{"its run starts", func() { applyStatus(t, obj, runningStatus(obj)) }, status.InProgressStatus, "observed generation is 1"},
		{"and fails", func() { applyStatus(t, obj, failedRun.status(2)) }, status.FailedStatus, "Ensure the ConfigMap"},
		{"a retry starts", func() { applyStatus(t, obj, runningStatus(obj)) }, status.FailedStatus, "Ensure the ConfigMap"},
		{"and succeeds", func() { applyStatus(t, obj, ok.status(2)) }, status.CurrentStatus, ""},
		{"spec changed during a run of 3", func() {
			obj.SetGeneration(3)
			applyStatus(t, obj, runningStatus(obj))
			obj.SetGeneration(4)
			applyStatus(t, obj, ok.status(3))
		}, status.InProgressStatus, "observed generation is 3"},
	}
	for _, s := range steps {
		s.do()
		res := kstatus(t, obj)
		if res.Status != s.want || !strings.Contains(res.Message, s.inText) {
			t.Errorf("%s: kstatus %s %q, want %s mentioning %q; conditions %v", s.name, res.Status, res.Message, s.want, s.inText, obj.Object["status"])
		}
	}
}

// Ready says whether the current generation was reconciled successfully,
// with observedGeneration, for kubectl wait --for=condition=Ready.
func TestReadyCondition(t *testing.T) {
	obj := testOwner()
	applyStatus(t, obj, runningStatus(obj))
	if c := conditionOf(obj, TypeReady); c["status"] != "Unknown" || c["reason"] != ReasonReconciling {
		t.Errorf("Ready during the first run = %v, want Unknown, Reconciling", c)
	}
	applyStatus(t, obj, failedRun.status(3))
	if c := conditionOf(obj, TypeReady); c["status"] != "False" || !strings.Contains(c["message"].(string), `task "Ensure the ConfigMap" failed: forbidden`) {
		t.Errorf("Ready after a failure = %v, want False naming the task", c)
	}
	applyStatus(t, obj, (&outcome{result: &runner.Result{}}).status(3))
	if c := conditionOf(obj, TypeReady); c["status"] != "True" || c["observedGeneration"] != float64(3) {
		t.Errorf("Ready after success = %v, want True at generation 3", c)
	}
}

// A role that reports its own Ready condition (k8s_status) keeps it: the
// runtime still reports Reconciling, Stalled and observedGeneration.
func TestReadyOfTheRoleIsLeftAlone(t *testing.T) {
	obj := testOwner()
	role := map[string]any{"type": "Ready", "status": "False", "reason": "PodsPending", "message": "waiting for pods"}
	_ = unstructured.SetNestedSlice(obj.Object, []any{role}, "status", "conditions")
	applyStatus(t, obj, runningStatus(obj))
	applyStatus(t, obj, (&outcome{result: &runner.Result{}}).status(3))
	if c := conditionOf(obj, TypeReady); c["reason"] != "PodsPending" || c["status"] != "False" {
		t.Errorf("the role's Ready = %v, want it untouched", c)
	}
	if res := kstatus(t, obj); res.Status != status.InProgressStatus || res.Message != "waiting for pods" {
		t.Errorf("kstatus %s %q, want InProgress from the role's Ready", res.Status, res.Message)
	}
	applyStatus(t, obj, failedRun.status(3))
	if res := kstatus(t, obj); res.Status != status.FailedStatus {
		t.Errorf("kstatus after a failed run %s, want Failed", res.Status)
	}
}

// A status written by an older runtime has no Ready and no
// observedGeneration; a skipped run (the record proves the generation was
// reconciled) adds them.
func TestReconciledStatusCompletesAnOlderStatus(t *testing.T) {
	obj := testOwner()
	applyStatus(t, obj, statusChange{Generation: 3, Conditions: []condition{
		{Type: TypeSuccessful, Status: "True", Reason: ReasonSuccessful, Message: MessageSucceeded},
	}})
	applyStatus(t, obj, reconciledStatus(obj.GetGeneration(), nil))
	if c := conditionOf(obj, TypeReady); c["status"] != "True" {
		t.Errorf("Ready = %v, want True", c)
	}
	if res := kstatus(t, obj); res.Status != status.CurrentStatus {
		t.Errorf("kstatus %s, want Current", res.Status)
	}
}

func conditionOf(obj *unstructured.Unstructured, condType string) map[string]any {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == condType {
			return m
		}
	}
	return nil
}
