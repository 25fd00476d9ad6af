package optest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func TestEventsFilterByReasonAndObject(t *testing.T) {
	event := func(name, obj, reason string) *corev1.Event {
		return &corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
			InvolvedObject: corev1.ObjectReference{Name: obj}, Reason: reason}
	}
	c := fake.NewClientBuilder().WithObjects(
		event("e1", "a", "Failed"), event("e2", "b", "Failed"), event("e3", "a", "Pruned"),
	).Build()
	for _, tt := range []struct {
		name, reason string
		want         []string
	}{
		{"a", "Failed", []string{"e1"}},
		{"", "Failed", []string{"e1", "e2"}},
		{"a", "Pruned", []string{"e3"}},
		{"c", "Failed", nil},
	} {
		evs, err := Events(t.Context(), c, "ns", tt.name, tt.reason)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range evs {
			got = append(got, e.Name)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Events(%q, %q) (-want +got):\n%s", tt.name, tt.reason, diff)
		}
	}
}

func TestMergePatchAndAwaitObject(t *testing.T) {
	gvk := schema.GroupVersionKind{Group: "ops.example.com", Version: "v1", Kind: "Basic"}
	c := fake.NewClientBuilder().Build()
	Create(t, c, NewObject(gvk, "ns", "x", map[string]any{"keep": "yes", "drop": "me"}))
	MergePatch(t, c, gvk, "ns", "x", map[string]any{"spec": map[string]any{"drop": nil, "add": int64(1)}})
	u := AwaitObject(t, c, gvk, "ns", "x", "patched", func(u *unstructured.Unstructured) bool {
		return u.Object["spec"] != nil
	})
	want := map[string]any{"keep": "yes", "add": int64(1)}
	if diff := cmp.Diff(want, u.Object["spec"]); diff != "" {
		t.Errorf("spec after the merge patch (-want +got):\n%s", diff)
	}
}
