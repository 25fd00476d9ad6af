package operator_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
	"github.com/mcrouter-operator/mcrouter-operator/runner"
)

func TestCreateSucceedsWithAnsibleResult(t *testing.T) {
	t.Parallel()
	ns := optest.CreateNamespace(t, kube, "create-ok")
	optest.Create(t, kube, optest.NewObject(gvkBasic, ns, "one", map[string]any{"message": "hi there"}))
	u := optest.AwaitObject(t, kube, gvkBasic, ns, "one", "Successful", optest.Successful, operator)

	running := optest.Condition(u, "Running")
	if running["status"] != "True" || running["reason"] != "Successful" || running["message"] != "Awaiting next reconciliation" {
		t.Errorf("Running condition = %v", running)
	}
	res, _ := running["ansibleResult"].(map[string]any)
	if res == nil || optest.Int64(res["ok"]) < 1 || optest.Int64(res["failures"]) != 0 || res["completion"] == "" {
		t.Errorf("ansibleResult = %v", res)
	}
	if c := optest.Condition(u, "Successful"); c["message"] != "Last reconciliation succeeded" {
		t.Errorf("Successful condition = %v", c)
	}
	if c := optest.Condition(u, "Failure"); c == nil || c["status"] != "False" {
		t.Errorf("Failure condition = %v", c)
	}
	// The role's own status (k8s_status) survives our status writes.
	if g, _, _ := unstructured.NestedString(u.Object, "status", "greeting"); g != "hi there" {
		t.Errorf("status.greeting = %q, want the role's value", g)
	}
	if c := optest.Condition(u, "Ready"); c == nil || c["reason"] != "ConfigMapReady" {
		t.Errorf("custom condition Ready = %v, want the role's", c)
	}
	var cm corev1.ConfigMap
	if err := kube.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "one-cm"}, &cm); err != nil {
		t.Fatalf("the role's ConfigMap: %v", err)
	}
	if len(cm.OwnerReferences) != 1 || cm.OwnerReferences[0].UID != u.GetUID() {
		t.Errorf("ConfigMap owner references = %v, want the CR", cm.OwnerReferences)
	}
	// The run's temp dir is gone; kubernetes.core's discovery cache is kept
	// for the next runs.
	dir, err := runner.InputDir(runnerDir, gvkBasic, ns, "one")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "tmp")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("temp dir of the run: %v, want it removed", err)
	}
	if kept, _ := filepath.Glob(filepath.Join(runnerDir, ".cache", "k8srcp-*.json")); len(kept) == 0 {
		t.Errorf("no kubernetes.core discovery cache kept in %s/.cache", runnerDir)
	}
}

func TestFailureNamesTaskThenRecovers(t *testing.T) {
	t.Parallel()
	ns := optest.CreateNamespace(t, kube, "failure")
	optest.Create(t, kube, optest.NewObject(gvkBasic, ns, "bad", map[string]any{"fail": true, "fail_reason": "spec says so"}))
	u := optest.AwaitObject(t, kube, gvkBasic, ns, "bad", "Failure", optest.Failed, operator)
	msg := optest.ConditionMessage(u, "Failure")
	if !strings.Contains(msg, "Fail on request") || !strings.Contains(msg, "requested failure: spec says so") {
		t.Errorf("Failure message %q does not name the task and its error", msg)
	}
	if c := optest.Condition(u, "Successful"); c == nil || c["status"] != "False" {
		t.Errorf("Successful condition = %v, want False", c)
	}
	optest.Await(t, "ReconcileFailed event", func(ctx context.Context) (bool, error) {
		ev, err := optest.Events(ctx, kube, ns, "bad", "ReconcileFailed")
		return err == nil && len(ev) > 0 && strings.Contains(ev[0].Message, "Fail on request"), nil
	}, operator)

	optest.MergePatch(t, kube, gvkBasic, ns, "bad", map[string]any{"spec": map[string]any{"fail": false}})
	u = optest.AwaitObject(t, kube, gvkBasic, ns, "bad", "Successful after the fix", optest.Successful, operator)
	if optest.Failed(u) {
		t.Errorf("Failure still True after success: %v", optest.Condition(u, "Failure"))
	}
}

// A failure message longer than the API server accepts in an event (1024
// bytes) is shortened, keeping its start and its end, not lost.
func TestLongFailureMessageStillMakesAnEvent(t *testing.T) {
	t.Parallel()
	ns := optest.CreateNamespace(t, kube, "long-failure")
	// Just short enough for the condition (1000 bytes per failed task), too
	// long for an event once the task name is added.
	reason := strings.Repeat("a long reason, ", 64) + "and the end of it"
	optest.Create(t, kube, optest.NewObject(gvkBasic, ns, "wordy", map[string]any{"fail": true, "fail_reason": reason}))
	u := optest.AwaitObject(t, kube, gvkBasic, ns, "wordy", "Failure", optest.Failed, operator)
	if msg := optest.ConditionMessage(u, "Failure"); !strings.Contains(msg, reason) {
		t.Errorf("Failure condition message %q does not carry the whole error", msg)
	}
	optest.Await(t, "ReconcileFailed event", func(ctx context.Context) (bool, error) {
		ev, err := optest.Events(ctx, kube, ns, "wordy", "ReconcileFailed")
		if err != nil || len(ev) == 0 {
			return false, err
		}
		msg := ev[0].Message
		if len(msg) > 1024 || !strings.Contains(msg, "Fail on request") || !strings.Contains(msg, "and the end of it") {
			t.Errorf("event message (%d bytes) = %q, want at most 1024 bytes with the task and the end of the error", len(msg), msg)
		}
		return true, nil
	}, operator)
}

func TestManageStatusFalseLeavesStatusAlone(t *testing.T) {
	t.Parallel()
	ns := optest.CreateNamespace(t, kube, "quiet")
	optest.Create(t, kube, optest.NewObject(gvkQuiet, ns, "q", map[string]any{"message": "shh"}))
	optest.Await(t, "the role's ConfigMap", func(ctx context.Context) (bool, error) {
		err := kube.Get(ctx, client.ObjectKey{Namespace: ns, Name: "q-cm"}, &corev1.ConfigMap{})
		return err == nil, nil
	}, operator)
	u, err := optest.Get(t.Context(), kube, gvkQuiet, ns, "q")
	if err != nil {
		t.Fatal(err)
	}
	if st, found, _ := unstructured.NestedMap(u.Object, "status"); found && len(st) > 0 {
		t.Errorf("status written with manageStatus: false: %v", st)
	}
}

func TestFinalizerRunsOnDeleteAndGatesRemoval(t *testing.T) {
	t.Parallel()
	ns := optest.CreateNamespace(t, kube, "finalizer")
	optest.Create(t, kube, optest.NewObject(gvkGuarded, ns, "g", map[string]any{"refuse_finalize": true}))
	u := optest.AwaitObject(t, kube, gvkGuarded, ns, "g", "Successful", optest.Successful, operator)
	if !containsString(u.GetFinalizers(), "ops.example.com/finalizer") {
		t.Fatalf("finalizers = %v, want ops.example.com/finalizer", u.GetFinalizers())
	}
	if err := kube.Delete(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	optest.Await(t, "FinalizerFailed event", func(ctx context.Context) (bool, error) {
		ev, err := optest.Events(ctx, kube, ns, "g", "FinalizerFailed")
		return err == nil && len(ev) > 0, nil
	}, operator)
	if _, err := optest.Get(t.Context(), kube, gvkGuarded, ns, "g"); err != nil {
		t.Fatalf("the CR went away although its finalizer failed: %v", err)
	}
	optest.MergePatch(t, kube, gvkGuarded, ns, "g", map[string]any{"spec": map[string]any{"refuse_finalize": false}})
	optest.Await(t, "the CR deleted after its finalizer succeeded", func(ctx context.Context) (bool, error) {
		_, err := optest.Get(ctx, kube, gvkGuarded, ns, "g")
		return apierrors.IsNotFound(err), nil
	}, operator)
	var marker corev1.ConfigMap
	if err := kube.Get(t.Context(), client.ObjectKey{Namespace: "markers", Name: "finalized-finalizer-g"}, &marker); err != nil {
		t.Fatalf("finalizer marker: %v", err)
	}
	if marker.Data["finalized_by"] != "guarded" {
		t.Errorf("marker data = %v, want the finalizer vars", marker.Data)
	}
}

func TestReconcilePeriodAnnotationRequeues(t *testing.T) {
	t.Parallel()
	ns := optest.CreateNamespace(t, kube, "period")
	cr := optest.NewObject(gvkBasic, ns, "p", map[string]any{"message": "tick"})
	cr.SetAnnotations(map[string]string{"ansible.sdk.operatorframework.io/reconcile-period": "2s"})
	optest.Create(t, kube, cr)
	first := completion(optest.AwaitObject(t, kube, gvkBasic, ns, "p", "Successful", optest.Successful, operator))
	// No change to the CR: only the annotation's period can start another run.
	optest.AwaitObject(t, kube, gvkBasic, ns, "p", "a later run", func(u *unstructured.Unstructured) bool {
		c := completion(u)
		return c != "" && c != first
	}, operator)
}

func TestSelectorFilters(t *testing.T) {
	t.Parallel()
	ns := optest.CreateNamespace(t, kube, "selector")
	optest.Create(t, kube, optest.NewObject(gvkPicky, ns, "ignored", map[string]any{}))
	picked := optest.NewObject(gvkPicky, ns, "picked", map[string]any{})
	picked.SetLabels(map[string]string{"pick": "yes"})
	optest.Create(t, kube, picked)
	optest.AwaitObject(t, kube, gvkPicky, ns, "picked", "Successful", optest.Successful, operator)
	time.Sleep(optest.Quiet(operator)) // the unselected one was created first; give it every chance
	u, err := optest.Get(t.Context(), kube, gvkPicky, ns, "ignored")
	if err != nil {
		t.Fatal(err)
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(u.Object, "status"); found {
		t.Errorf("a resource outside the selector was reconciled: %v", u.Object["status"])
	}
}

func TestSameKindInTwoGroups(t *testing.T) {
	t.Parallel()
	ns := optest.CreateNamespace(t, kube, "two-groups")
	optest.Create(t, kube, optest.NewObject(gvkOther, ns, "o", map[string]any{"message": "other"}))
	optest.Create(t, kube, optest.NewObject(gvkBasic, ns, "b", map[string]any{"message": "ops"}))
	optest.AwaitObject(t, kube, gvkOther, ns, "o", "Successful", optest.Successful, operator)
	optest.AwaitObject(t, kube, gvkBasic, ns, "b", "Successful", optest.Successful, operator)
}

func TestCRDWithoutStatusSubresourceGetsEvent(t *testing.T) {
	t.Parallel()
	ns := optest.CreateNamespace(t, kube, "bare")
	optest.Create(t, kube, optest.NewObject(gvkBare, ns, "b", map[string]any{}))
	optest.Await(t, "StatusSubresourceMissing event", func(ctx context.Context) (bool, error) {
		ev, err := optest.Events(ctx, kube, ns, "b", "StatusSubresourceMissing")
		return err == nil && len(ev) > 0 && strings.Contains(ev[0].Message, "status subresource"), nil
	}, operator)
}

func TestDeletedDependentIsRestored(t *testing.T) {
	t.Parallel()
	ns := optest.CreateNamespace(t, kube, "restore")
	optest.Create(t, kube, optest.NewObject(gvkBasic, ns, "r", map[string]any{"message": "keep me"}))
	optest.AwaitObject(t, kube, gvkBasic, ns, "r", "Successful", optest.Successful, operator)
	var cm corev1.ConfigMap
	key := client.ObjectKey{Namespace: ns, Name: "r-cm"}
	if err := kube.Get(t.Context(), key, &cm); err != nil {
		t.Fatal(err)
	}
	oldUID := cm.UID
	if err := kube.Delete(t.Context(), &cm); err != nil {
		t.Fatal(err)
	}
	optest.Await(t, "ConfigMap recreated", func(ctx context.Context) (bool, error) {
		var now corev1.ConfigMap
		err := kube.Get(ctx, key, &now)
		return err == nil && now.UID != oldUID && now.Data["message"] == "keep me", nil
	}, operator)

}

func completion(u *unstructured.Unstructured) string {
	c := optest.Condition(u, "Running")
	res, _ := c["ansibleResult"].(map[string]any)
	s, _ := res["completion"].(string)
	return s
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// A finalizer role that writes its own resource (k8s_status) leaves the
// version read before the run stale: removing the finalizer must not run the
// role again.
func TestFinalizerThatWritesStatusRunsOnce(t *testing.T) {
	t.Parallel()
	ns := optest.CreateNamespace(t, kube, "finalizer-status")
	optest.Create(t, kube, optest.NewObject(gvkGuarded, ns, "g", map[string]any{"count_runs": true}))
	u := optest.AwaitObject(t, kube, gvkGuarded, ns, "g", "Successful", optest.Successful, operator)
	if err := kube.Delete(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	runs := func(ctx context.Context) string {
		var counter corev1.ConfigMap
		_ = kube.Get(ctx, client.ObjectKey{Namespace: "markers", Name: "finalizer-runs-" + ns + "-g"}, &counter)
		return counter.Data["runs"]
	}
	optest.Await(t, "the CR deleted, or a second finalizer run", func(ctx context.Context) (bool, error) {
		if n := runs(ctx); n != "" && n != "1" {
			return true, nil
		}
		_, err := optest.Get(ctx, kube, gvkGuarded, ns, "g")
		return apierrors.IsNotFound(err), nil
	}, operator)
	// A second run would have started at once, on the conflict.
	time.Sleep(optest.Quiet(operator))
	if got := runs(t.Context()); got != "1" {
		t.Errorf("the finalizer ran %q times, want 1\n--- operator log ---\n%s", got, operator.LogTail(30))
	}
	if _, err := optest.Get(t.Context(), kube, gvkGuarded, ns, "g"); !apierrors.IsNotFound(err) {
		t.Errorf("the CR is still there after its finalizer succeeded (%v)", err)
	}
}
