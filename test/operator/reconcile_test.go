package operator_test

import (
	"context"
	"encoding/json"
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
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
	"github.com/mcrouter-operator/mcrouter-operator/runner"
)

func TestCreateSucceedsWithAnsibleResult(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "create-ok")
	create(t, newCR(gvkBasic, ns, "one", map[string]any{"message": "hi there"}))
	u := waitCR(t, gvkBasic, ns, "one", "Successful", optest.Successful)

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
	ns := namespace(t, "failure")
	create(t, newCR(gvkBasic, ns, "bad", map[string]any{"fail": true, "fail_reason": "spec says so"}))
	u := waitCR(t, gvkBasic, ns, "bad", "Failure", optest.Failed)
	msg, _ := optest.Condition(u, "Failure")["message"].(string)
	if !strings.Contains(msg, "Fail on request") || !strings.Contains(msg, "requested failure: spec says so") {
		t.Errorf("Failure message %q does not name the task and its error", msg)
	}
	if c := optest.Condition(u, "Successful"); c == nil || c["status"] != "False" {
		t.Errorf("Successful condition = %v, want False", c)
	}
	waitFor(t, "ReconcileFailed event", func(ctx context.Context) (bool, error) {
		ev, err := events(ctx, ns, "bad", "ReconcileFailed")
		return err == nil && len(ev) > 0 && strings.Contains(ev[0].Message, "Fail on request"), nil
	})

	patchSpec(t, gvkBasic, ns, "bad", map[string]any{"fail": false})
	u = waitCR(t, gvkBasic, ns, "bad", "Successful after the fix", optest.Successful)
	if optest.Failed(u) {
		t.Errorf("Failure still True after success: %v", optest.Condition(u, "Failure"))
	}
}

// A failure message longer than the API server accepts in an event (1024
// bytes) is shortened, keeping its start and its end, not lost.
func TestLongFailureMessageStillMakesAnEvent(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "long-failure")
	// Just short enough for the condition (1000 bytes per failed task), too
	// long for an event once the task name is added.
	reason := strings.Repeat("a long reason, ", 64) + "and the end of it"
	create(t, newCR(gvkBasic, ns, "wordy", map[string]any{"fail": true, "fail_reason": reason}))
	u := waitCR(t, gvkBasic, ns, "wordy", "Failure", optest.Failed)
	if msg, _ := optest.Condition(u, "Failure")["message"].(string); !strings.Contains(msg, reason) {
		t.Errorf("Failure condition message %q does not carry the whole error", msg)
	}
	waitFor(t, "ReconcileFailed event", func(ctx context.Context) (bool, error) {
		ev, err := events(ctx, ns, "wordy", "ReconcileFailed")
		if err != nil || len(ev) == 0 {
			return false, err
		}
		msg := ev[0].Message
		if len(msg) > 1024 || !strings.Contains(msg, "Fail on request") || !strings.Contains(msg, "and the end of it") {
			t.Errorf("event message (%d bytes) = %q, want at most 1024 bytes with the task and the end of the error", len(msg), msg)
		}
		return true, nil
	})
}

func TestManageStatusFalseLeavesStatusAlone(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "quiet")
	create(t, newCR(gvkQuiet, ns, "q", map[string]any{"message": "shh"}))
	waitFor(t, "the role's ConfigMap", func(ctx context.Context) (bool, error) {
		err := kube.Get(ctx, client.ObjectKey{Namespace: ns, Name: "q-cm"}, &corev1.ConfigMap{})
		return err == nil, nil
	})
	u, err := get(t.Context(), gvkQuiet, ns, "q")
	if err != nil {
		t.Fatal(err)
	}
	if st, found, _ := unstructured.NestedMap(u.Object, "status"); found && len(st) > 0 {
		t.Errorf("status written with manageStatus: false: %v", st)
	}
}

func TestFinalizerRunsOnDeleteAndGatesRemoval(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "finalizer")
	create(t, newCR(gvkGuarded, ns, "g", map[string]any{"refuse_finalize": true}))
	u := waitCR(t, gvkGuarded, ns, "g", "Successful", optest.Successful)
	if !containsString(u.GetFinalizers(), "ops.example.com/finalizer") {
		t.Fatalf("finalizers = %v, want ops.example.com/finalizer", u.GetFinalizers())
	}
	if err := kube.Delete(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "FinalizerFailed event", func(ctx context.Context) (bool, error) {
		ev, err := events(ctx, ns, "g", "FinalizerFailed")
		return err == nil && len(ev) > 0, nil
	})
	if _, err := get(t.Context(), gvkGuarded, ns, "g"); err != nil {
		t.Fatalf("the CR went away although its finalizer failed: %v", err)
	}
	patchSpec(t, gvkGuarded, ns, "g", map[string]any{"refuse_finalize": false})
	waitFor(t, "the CR deleted after its finalizer succeeded", func(ctx context.Context) (bool, error) {
		_, err := get(ctx, gvkGuarded, ns, "g")
		return apierrors.IsNotFound(err), nil
	})
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
	ns := namespace(t, "period")
	cr := newCR(gvkBasic, ns, "p", map[string]any{"message": "tick"})
	cr.SetAnnotations(map[string]string{"ansible.sdk.operatorframework.io/reconcile-period": "2s"})
	create(t, cr)
	first := completion(waitCR(t, gvkBasic, ns, "p", "Successful", optest.Successful))
	// No change to the CR: only the annotation's period can start another run.
	waitCR(t, gvkBasic, ns, "p", "a later run", func(u *unstructured.Unstructured) bool {
		c := completion(u)
		return c != "" && c != first
	})
}

func TestSelectorFilters(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "selector")
	create(t, newCR(gvkPicky, ns, "ignored", map[string]any{}))
	picked := newCR(gvkPicky, ns, "picked", map[string]any{})
	picked.SetLabels(map[string]string{"pick": "yes"})
	create(t, picked)
	waitCR(t, gvkPicky, ns, "picked", "Successful", optest.Successful)
	time.Sleep(optest.Quiet(operator)) // the unselected one was created first; give it every chance
	u, err := get(t.Context(), gvkPicky, ns, "ignored")
	if err != nil {
		t.Fatal(err)
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(u.Object, "status"); found {
		t.Errorf("a resource outside the selector was reconciled: %v", u.Object["status"])
	}
}

func TestSameKindInTwoGroups(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "two-groups")
	create(t, newCR(gvkOther, ns, "o", map[string]any{"message": "other"}))
	create(t, newCR(gvkBasic, ns, "b", map[string]any{"message": "ops"}))
	waitCR(t, gvkOther, ns, "o", "Successful", optest.Successful)
	waitCR(t, gvkBasic, ns, "b", "Successful", optest.Successful)
}

func TestCRDWithoutStatusSubresourceGetsEvent(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "bare")
	create(t, newCR(gvkBare, ns, "b", map[string]any{}))
	waitFor(t, "StatusSubresourceMissing event", func(ctx context.Context) (bool, error) {
		ev, err := events(ctx, ns, "b", "StatusSubresourceMissing")
		return err == nil && len(ev) > 0 && strings.Contains(ev[0].Message, "status subresource"), nil
	})
}

func TestDeletedDependentIsRestored(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "restore")
	create(t, newCR(gvkBasic, ns, "r", map[string]any{"message": "keep me"}))
	waitCR(t, gvkBasic, ns, "r", "Successful", optest.Successful)
	var cm corev1.ConfigMap
	key := client.ObjectKey{Namespace: ns, Name: "r-cm"}
	if err := kube.Get(t.Context(), key, &cm); err != nil {
		t.Fatal(err)
	}
	oldUID := cm.UID
	if err := kube.Delete(t.Context(), &cm); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ConfigMap recreated", func(ctx context.Context) (bool, error) {
		var now corev1.ConfigMap
		err := kube.Get(ctx, key, &now)
		return err == nil && now.UID != oldUID && now.Data["message"] == "keep me", nil
	})
}

func patchSpec(t *testing.T, gvk schema.GroupVersionKind, ns, name string, spec map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"spec": spec})
	u, err := get(t.Context(), gvk, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := kube.Patch(t.Context(), u, client.RawPatch(types.MergePatchType, body)); err != nil {
		t.Fatalf("patch %s/%s: %v", ns, name, err)
	}
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
	ns := namespace(t, "finalizer-status")
	create(t, newCR(gvkGuarded, ns, "g", map[string]any{"count_runs": true}))
	u := waitCR(t, gvkGuarded, ns, "g", "Successful", optest.Successful)
	if err := kube.Delete(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	runs := func(ctx context.Context) string {
		var counter corev1.ConfigMap
		_ = kube.Get(ctx, client.ObjectKey{Namespace: "markers", Name: "finalizer-runs-" + ns + "-g"}, &counter)
		return counter.Data["runs"]
	}
	waitFor(t, "the CR deleted, or a second finalizer run", func(ctx context.Context) (bool, error) {
		if n := runs(ctx); n != "" && n != "1" {
			return true, nil
		}
		_, err := get(ctx, gvkGuarded, ns, "g")
		return apierrors.IsNotFound(err), nil
	})
	// A second run would have started at once, on the conflict.
	time.Sleep(optest.Quiet(operator))
	if got := runs(t.Context()); got != "1" {
		t.Errorf("the finalizer ran %q times, want 1\n--- operator log ---\n%s", got, operator.LogTail(30))
	}
	if _, err := get(t.Context(), gvkGuarded, ns, "g"); !apierrors.IsNotFound(err) {
		t.Errorf("the CR is still there after its finalizer succeeded (%v)", err)
	}
}
