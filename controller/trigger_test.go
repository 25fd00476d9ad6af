package controller

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/mcrouter-operator/mcrouter-operator/watches"
)

// A request is pending until a run served its value: this process's memory
// first, status.lastHandledReconcileAt when it has none.
func TestRequestPending(t *testing.T) {
	withStatus := func(annotation, handled string) *unstructured.Unstructured {
		u := annotated(AnnotationReconcileRequestedAt, annotation)
		if handled != "" {
			_ = unstructured.SetNestedField(u.Object, handled, "status", statusHandledRequestKey)
		}
		return u
	}
	for _, tt := range []struct {
		name       string
		obj        *unstructured.Unstructured
		remembered string // "" for nothing remembered
		want       bool
		event      string
	}{
		{"no annotation", testOwner(), "", false, ""},
		{"empty value", withStatus("", ""), "", false, ""},
		{"new value, nothing served", withStatus("t1", ""), "", true, ""},
		{"value served per status", withStatus("t1", "t1"), "", false, ""},
		{"new value after one served per status", withStatus("t2", "t1"), "", true, ""},
		{"memory wins over a stale status", withStatus("t2", "t1"), "t2", false, ""},
		{"memory of an older value", withStatus("t3", "t3"), "t2", true, ""},
		{"too long", withStatus(strings.Repeat("x", maxRequestBytes+1), ""), "", false, "longer than 256 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ev := &recordedEvents{}
			r := &Reconciler{recorder: ev, requests: newRequests()}
			if tt.remembered != "" {
				r.requests.set(memoryKey(tt.obj.GetNamespace(), tt.obj.GetName()), tt.remembered)
			}
			if got := r.requestPending(t.Context(), tt.obj); got != tt.want {
				t.Errorf("pending = %v, want %v", got, tt.want)
			}
			if (tt.event == "") != (len(ev.notes) == 0) || tt.event != "" && !strings.Contains(ev.notes[0], tt.event) {
				t.Errorf("events %q, want one with %q", ev.notes, tt.event)
			}
		})
	}
}

// Changes of the pause and reconcile-requested-at annotations reach the
// controller without watchAnnotationsChanges; other annotation changes do
// not.
func TestPredicatesPassOurAnnotations(t *testing.T) {
	update := primaryPredicates(watches.Watch{}, nil)[0]
	for _, tt := range []struct {
		name     string
		old, new map[string]string
		want     bool
	}{
		{"pause set", nil, map[string]string{AnnotationPauseReconcile: "true"}, true},
		{"pause removed", map[string]string{AnnotationPauseReconcile: "true"}, nil, true},
		{"request changed", map[string]string{AnnotationReconcileRequestedAt: "a"}, map[string]string{AnnotationReconcileRequestedAt: "b"}, true},
		{"request set to empty", nil, map[string]string{AnnotationReconcileRequestedAt: ""}, true},
		{"same request", map[string]string{AnnotationReconcileRequestedAt: "a"}, map[string]string{AnnotationReconcileRequestedAt: "a", "x": "y"}, false},
		{"another annotation", nil, map[string]string{"someone/else": "x"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o, n := testOwner(), testOwner()
			o.SetAnnotations(tt.old)
			n.SetAnnotations(tt.new)
			if got := update.Update(event.UpdateEvent{ObjectOld: o, ObjectNew: n}); got != tt.want {
				t.Errorf("update passes = %v, want %v", got, tt.want)
			}
		})
	}
}
