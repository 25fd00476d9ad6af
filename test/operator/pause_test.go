package operator_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

const pauseAnnotation = "ansible.sdk.operatorframework.io/pause-reconcile"

// patchAnnotation sets the annotation key to value on the resource, or
// removes it when value is nil.
func patchAnnotation(t *testing.T, gvk schema.GroupVersionKind, ns, name, key string, value *string) {
	t.Helper()
	var v any
	if value != nil {
		v = *value
	}
	optest.MergePatch(t, kube, gvk, ns, name, map[string]any{"metadata": map[string]any{"annotations": map[string]any{key: v}}})
}

func some(s string) *string { return &s }

func pausedCond(u *unstructured.Unstructured) bool { return optest.ConditionTrue(u, "Paused") }

func resumed(u *unstructured.Unstructured) bool {
	c := optest.Condition(u, "Paused")
	return c != nil && c["status"] == "False"
}

// The pause annotation stops every run of the resource — a spec change, a
// deleted dependent, its deletion's finalizer — and the Paused condition
// says so; removing it resumes, with a run only when something changed.
func TestPauseStopsRunsUntilRemoved(t *testing.T) {
	t.Parallel()
	ns := optest.CreateNamespace(t, kube, "pause")
	optest.Create(t, kube, optest.NewObject(gvkGuarded, ns, "p", map[string]any{"message": "one"}))
	optest.AwaitObject(t, kube, gvkGuarded, ns, "p", "Successful", optest.Successful, operator)
	if got := runs(t, gvkGuarded, ns, "p"); got != 1 {
		t.Fatalf("%d runs after creation, want 1", got)
	}

	patchAnnotation(t, gvkGuarded, ns, "p", pauseAnnotation, some("true"))
	optest.AwaitObject(t, kube, gvkGuarded, ns, "p", "Paused", pausedCond, operator)
	patchAnnotation(t, gvkGuarded, ns, "p", pauseAnnotation, nil)
	optest.AwaitObject(t, kube, gvkGuarded, ns, "p", "Paused False", resumed, operator)
	assertRunsStay(t, gvkGuarded, ns, "p", 1, "a pause and its removal with nothing changed")

	patchAnnotation(t, gvkGuarded, ns, "p", pauseAnnotation, some("true"))
	optest.AwaitObject(t, kube, gvkGuarded, ns, "p", "Paused", pausedCond, operator)
	optest.MergePatch(t, kube, gvkGuarded, ns, "p", map[string]any{"spec": map[string]any{"message": "two"}})
	cm := &corev1.ConfigMap{}
	cm.SetNamespace(ns)
	cm.SetName("p-cm")
	if err := kube.Delete(t.Context(), cm); err != nil {
		t.Fatal(err)
	}
	assertRunsStay(t, gvkGuarded, ns, "p", 1, "a spec change and a deleted dependent while paused")
	if err := kube.Get(t.Context(), client.ObjectKeyFromObject(cm), cm); !apierrors.IsNotFound(err) {
		t.Errorf("the dependent deleted while paused: %v, want it still absent", err)
	}
	u, err := optest.Get(t.Context(), kube, gvkGuarded, ns, "p")
	if err != nil {
		t.Fatal(err)
	}
	if res := kstatus(t, u); res.Status != status.InProgressStatus {
		t.Errorf("kstatus of a paused resource with an unreconciled spec: %s, want InProgress", res.Status)
	}

	patchAnnotation(t, gvkGuarded, ns, "p", pauseAnnotation, nil)
	optest.Await(t, "the dependent restored with the new spec after the pause", func(ctx context.Context) (bool, error) {
		err := kube.Get(ctx, client.ObjectKeyFromObject(cm), cm)
		return err == nil && cm.Data["message"] == "two", nil
	}, operator)
	u = optest.AwaitObject(t, kube, gvkGuarded, ns, "p", "Successful and no longer Paused", func(u *unstructured.Unstructured) bool {
		return optest.Successful(u) && resumed(u)
	}, operator)
	if got := runs(t, gvkGuarded, ns, "p"); got != 2 {
		t.Errorf("%d runs after resuming, want 2", got)
	}

	// Paused, a deletion waits: the finalizer does not run until the
	// annotation goes.
	patchAnnotation(t, gvkGuarded, ns, "p", pauseAnnotation, some("true"))
	optest.AwaitObject(t, kube, gvkGuarded, ns, "p", "Paused", pausedCond, operator)
	if err := kube.Delete(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	assertRunsStay(t, gvkGuarded, ns, "p", 2, "deleting the paused resource")
	if _, err := optest.Get(t.Context(), kube, gvkGuarded, ns, "p"); err != nil {
		t.Fatalf("the paused resource went away without its finalizer run: %v", err)
	}
	patchAnnotation(t, gvkGuarded, ns, "p", pauseAnnotation, nil)
	optest.Await(t, "the resource deleted after its finalizer ran", func(ctx context.Context) (bool, error) {
		_, err := optest.Get(ctx, kube, gvkGuarded, ns, "p")
		return apierrors.IsNotFound(err), nil
	}, operator)
	var marker corev1.ConfigMap
	if err := kube.Get(t.Context(), client.ObjectKey{Namespace: "markers", Name: "finalized-pause-p"}, &marker); err != nil {
		t.Errorf("finalizer marker: %v", err)
	}
}
