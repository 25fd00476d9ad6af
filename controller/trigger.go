package controller

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// request returns the reconcile-requested-at value of obj: "" when absent,
// empty or too long (reported).
func (r *Reconciler) request(ctx context.Context, obj *unstructured.Unstructured) string {
	v := obj.GetAnnotations()[AnnotationReconcileRequestedAt]
	if len(v) > maxRequestBytes {
		r.badAnnotation(ctx, obj, AnnotationReconcileRequestedAt, v[:runeStart(v, 64)]+"…",
			fmt.Sprintf("is longer than %d bytes; ignored", maxRequestBytes))
		return ""
	}
	return v
}

// requestPending reports whether obj asks for a run that no run served
// yet: its reconcile-requested-at value is not the last one served, as this
// process remembers it or, when it does not (a restart, another replica),
// as status.lastHandledReconcileAt records it. Memory first: the cache may
// not show the status written after the last run yet.
func (r *Reconciler) requestPending(ctx context.Context, obj *unstructured.Unstructured) bool {
	v := r.request(ctx, obj)
	if v == "" {
		return false
	}
	handled, known := r.requests.get(memoryKey(obj.GetNamespace(), obj.GetName()))
	if !known {
		handled, _, _ = unstructured.NestedString(obj.Object, "status", statusHandledRequestKey)
	}
	return v != handled
}

// requests remembers, per resource, the reconcile-requested-at value the
// last run served.
type requests = perResource[string]

func newRequests() *requests { return newPerResource[string]() }
