package optest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CreateNamespace creates namespace name and leaves it to the end of the
// control plane: for a package whose operator would otherwise run the
// finalizers of its resources while later tests run. The test fails when the
// namespace cannot be created (one of that name exists already).
func CreateNamespace(t testing.TB, c client.Client, name string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := c.Create(t.Context(), ns); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	return name
}

// TempNamespace is CreateNamespace, and deletes the namespace when the test
// ends.
func TempNamespace(t testing.TB, c client.Client, name string) string {
	t.Helper()
	CreateNamespace(t, c, name)
	t.Cleanup(func() {
		_ = c.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	})
	return name
}

// NewObject is a custom resource of gvk with spec, not yet created. A nil
// spec is written as "spec": null.
func NewObject(gvk schema.GroupVersionKind, ns, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetGroupVersionKind(gvk)
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

// Create creates obj, or fails the test, and returns obj as the API server
// returned it.
func Create(t testing.TB, c client.Client, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	if err := c.Create(t.Context(), obj); err != nil {
		t.Fatalf("create %s %s/%s: %v", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	return obj
}

// Get reads the custom resource.
func Get(ctx context.Context, c client.Reader, gvk schema.GroupVersionKind, ns, name string) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, u)
	return u, err
}

// MergePatch applies patch to the custom resource as a JSON merge patch
// (RFC 7386: a null value removes the field), or fails the test. A change of
// spec bumps the resource's generation.
func MergePatch(t testing.TB, c client.Client, gvk schema.GroupVersionKind, ns, name string, patch map[string]any) {
	t.Helper()
	body, err := json.Marshal(patch)
	if err != nil {
		t.Fatalf("patch %s %s/%s: %v", gvk.Kind, ns, name, err)
	}
	if err := c.Patch(t.Context(), NewObject(gvk, ns, name, nil), client.RawPatch(types.MergePatchType, body)); err != nil {
		t.Fatalf("patch %s %s/%s: %v", gvk.Kind, ns, name, err)
	}
}

// AwaitObject waits (Await) until the custom resource satisfies cond and
// returns it as cond last saw it. While it waits, the resource's generation
// and status are the observation: a change of either is progress, and the
// failure message shows the last. A resource that does not exist yet is
// waited for, as any other error of the read.
func AwaitObject(t testing.TB, c client.Reader, gvk schema.GroupVersionKind, ns, name, what string, cond func(*unstructured.Unstructured) bool, ops ...*Operator) *unstructured.Unstructured {
	t.Helper()
	var last *unstructured.Unstructured
	Await(t, fmt.Sprintf("%s %s/%s: %s", gvk.Kind, ns, name, what), func(ctx context.Context) (bool, error) {
		u, err := Get(ctx, c, gvk, ns, name)
		if err != nil {
			return false, err
		}
		last = u
		return cond(u), fmt.Errorf("generation %d, status %v", u.GetGeneration(), u.Object["status"])
	}, ops...)
	return last
}

// Events lists the Events of reason in namespace ns about the object called
// name; an empty name matches every object.
func Events(ctx context.Context, c client.Reader, ns, name, reason string) ([]corev1.Event, error) {
	var list corev1.EventList
	if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	var out []corev1.Event
	for _, e := range list.Items {
		if e.Reason == reason && (name == "" || e.InvolvedObject.Name == name) {
			out = append(out, e)
		}
	}
	return out, nil
}

// AwaitEvent waits (Await) for an Event of reason in namespace ns about the
// object called name ("" for any object) whose message contains text.
func AwaitEvent(t testing.TB, c client.Reader, ns, name, reason, text string, ops ...*Operator) {
	t.Helper()
	about := ns
	if name != "" {
		about += "/" + name
	}
	Await(t, fmt.Sprintf("%s: a %s event containing %q", about, reason, text), func(ctx context.Context) (bool, error) {
		evs, err := Events(ctx, c, ns, name, reason)
		for _, e := range evs {
			if strings.Contains(e.Message, text) {
				return true, nil
			}
		}
		return false, err
	}, ops...)
}
