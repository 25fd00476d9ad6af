package operator_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

const requestAnnotation = "ansible.sdk.operatorframework.io/reconcile-requested-at"

func handledRequest(value string) func(*unstructured.Unstructured) bool {
	return func(u *unstructured.Unstructured) bool {
		h, _, _ := unstructured.NestedString(u.Object, "status", "lastHandledReconcileAt")
		return h == value && optest.Successful(u)
	}
}

// A new value of reconcile-requested-at starts one run although nothing
// changed, and status.lastHandledReconcileAt names it; the same value again
// starts none.
func TestRunOnRequest(t *testing.T) {
	t.Parallel()
	ns := optest.CreateNamespace(t, kube, "trigger")
	optest.Create(t, kube, optest.NewObject(gvkBasic, ns, "t", map[string]any{}))
	optest.AwaitObject(t, kube, gvkBasic, ns, "t", "Successful", optest.Successful, operator)
	if got := runs(t, gvkBasic, ns, "t"); got != 1 {
		t.Fatalf("%d runs after creation, want 1", got)
	}

	first := "2026-11-30T00:00:00Z"
	patchAnnotation(t, gvkBasic, ns, "t", requestAnnotation, some(first))
	optest.AwaitObject(t, kube, gvkBasic, ns, "t", "lastHandledReconcileAt "+first, handledRequest(first), operator)
	if got := runs(t, gvkBasic, ns, "t"); got != 2 {
		t.Errorf("%d runs after the request, want 2", got)
	}

	// Both changes reach the controller; neither is a new request.
	patchAnnotation(t, gvkBasic, ns, "t", requestAnnotation, nil)
	patchAnnotation(t, gvkBasic, ns, "t", requestAnnotation, some(first))
	assertRunsStay(t, gvkBasic, ns, "t", 2, "the same request again")

	second := "again"
	patchAnnotation(t, gvkBasic, ns, "t", requestAnnotation, some(second))
	optest.AwaitObject(t, kube, gvkBasic, ns, "t", "lastHandledReconcileAt "+second, handledRequest(second), operator)
	assertRunsStay(t, gvkBasic, ns, "t", 3, "a second request")
}
