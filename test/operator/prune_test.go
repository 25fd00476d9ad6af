package operator_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

var (
	gvkPruner = schema.GroupVersionKind{Group: "ops.example.com", Version: "v1", Kind: "Pruner"}
	gvkKeeper = schema.GroupVersionKind{Group: "ops.example.com", Version: "v1", Kind: "Keeper"}
)

// With pruneDependents, a run that no longer creates a ConfigMap an earlier
// run created deletes it; a ConfigMap someone owned to the CR by hand, which
// a run read, is kept. Without it (Keeper), nothing is deleted.
func TestPruneDependents(t *testing.T) {
	t.Parallel()
	ns := optest.CreateNamespace(t, kube, "prune")
	optest.Create(t, kube, optest.NewObject(gvkPruner, ns, "p", map[string]any{"configmaps": []any{"a", "b"}}))
	optest.Create(t, kube, optest.NewObject(gvkKeeper, ns, "k", map[string]any{"configmaps": []any{"a", "b"}}))
	p := optest.AwaitObject(t, kube, gvkPruner, ns, "p", "Successful", optest.Successful, operator)
	optest.AwaitObject(t, kube, gvkKeeper, ns, "k", "Successful", optest.Successful, operator)
	assertConfigMaps(t, ns, map[string]bool{"p-a": true, "p-b": true, "k-a": true, "k-b": true})
	if got := ledgerNames(p); len(got) != 2 || !got["p-a"] || !got["p-b"] {
		t.Errorf("status.createdDependents names %v, want p-a and p-b", got)
	}

	handMade(t, p, "p-hand")
	optest.MergePatch(t, kube, gvkPruner, ns, "p", map[string]any{"spec": map[string]any{"configmaps": []any{"a"}, "read": "hand"}})
	optest.MergePatch(t, kube, gvkKeeper, ns, "k", map[string]any{"spec": map[string]any{"configmaps": []any{"a"}}})
	optest.AwaitObject(t, kube, gvkPruner, ns, "p", "Successful at generation 2", optest.Successful, operator)
	k := optest.AwaitObject(t, kube, gvkKeeper, ns, "k", "Successful at generation 2", optest.Successful, operator)
	// Pruning precedes the status of the run.
	assertConfigMaps(t, ns, map[string]bool{"p-a": true, "p-b": false, "p-hand": true, "k-a": true, "k-b": true})
	if _, found := k.Object["status"].(map[string]any)["createdDependents"]; found {
		t.Errorf("a watch without pruneDependents keeps status.createdDependents")
	}
	optest.Await(t, "a Pruned event about p-b", func(ctx context.Context) (bool, error) {
		evs, err := optest.Events(ctx, kube, ns, "p", "Pruned")
		return len(evs) >= 1, err
	}, operator)

	// The run that no longer reads p-hand leaves it: the runs only read it.
	optest.MergePatch(t, kube, gvkPruner, ns, "p", map[string]any{"spec": map[string]any{"read": nil}})
	optest.AwaitObject(t, kube, gvkPruner, ns, "p", "Successful at generation 3", optest.Successful, operator)
	assertConfigMaps(t, ns, map[string]bool{"p-a": true, "p-hand": true})
}

// handMade creates ConfigMap name owned by cr, as a user would by hand.
func handMade(t *testing.T, cr *unstructured.Unstructured, name string) {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: cr.GetNamespace(),
		OwnerReferences: []metav1.OwnerReference{{APIVersion: cr.GetAPIVersion(), Kind: cr.GetKind(), Name: cr.GetName(), UID: cr.GetUID()}}}}
	if err := kube.Create(t.Context(), cm); err != nil {
		t.Fatalf("create ConfigMap %s: %v", name, err)
	}
}

// assertConfigMaps checks which ConfigMaps of ns exist.
func assertConfigMaps(t *testing.T, ns string, want map[string]bool) {
	t.Helper()
	for name, exists := range want {
		var cm corev1.ConfigMap
		err := kube.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, &cm)
		switch {
		case err != nil && !apierrors.IsNotFound(err):
			t.Fatal(err)
		case exists && err != nil:
			t.Errorf("ConfigMap %s/%s is gone, want it kept", ns, name)
		case !exists && err == nil && cm.DeletionTimestamp == nil:
			t.Errorf("ConfigMap %s/%s exists, want it pruned", ns, name)
		}
	}
}

// ledgerNames are the names status.createdDependents holds.
func ledgerNames(u *unstructured.Unstructured) map[string]bool {
	objects, _, _ := unstructured.NestedSlice(u.Object, "status", "createdDependents", "objects")
	out := map[string]bool{}
	for _, o := range objects {
		if m, ok := o.(map[string]any); ok {
			name, _ := m["name"].(string)
			out[name] = true
		}
	}
	return out
}
