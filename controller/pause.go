package controller

import (
	"context"
	"strconv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
)

// paused reports whether the pause annotation holds obj: a true value
// (strconv.ParseBool). Another value is reported and does not pause.
func (r *Reconciler) paused(ctx context.Context, obj *unstructured.Unstructured) bool {
	v, ok := obj.GetAnnotations()[AnnotationPauseReconcile]
	if !ok {
		return false
	}
	on, err := strconv.ParseBool(v)
	if err != nil {
		r.badAnnotation(ctx, obj, AnnotationPauseReconcile, v, `is not "true" or "false"; not paused`)
		return false
	}
	return on
}

// holdPaused is the reconcile of a paused resource: no run, no finalizer
// run (a deletion waits), no requeue (removing the annotation is an event);
// the status says why.
func (r *Reconciler) holdPaused(ctx context.Context, obj *unstructured.Unstructured) (ctrl.Result, error) {
	r.log(ctx).V(1).Info("paused: not reconciling", "annotation", AnnotationPauseReconcile)
	if !r.opts.Watch.ManageStatus {
		return ctrl.Result{}, nil
	}
	change := statusChange{Generation: obj.GetGeneration(), Conditions: []condition{
		{Type: TypePaused, Status: "True", Reason: ReasonPaused, Message: MessagePaused},
	}}
	if err := r.patchStatus(ctx, obj, change); err != nil {
		return r.statusFailed(ctx, obj, err)
	}
	return ctrl.Result{}, nil
}

// markResumed turns a Paused condition left from a pause to False, before
// the resumed resource is reconciled as usual.
func (r *Reconciler) markResumed(ctx context.Context, obj *unstructured.Unstructured) error {
	if !r.opts.Watch.ManageStatus || !conditionTrue(obj, TypePaused) {
		return nil
	}
	change := statusChange{Generation: obj.GetGeneration(), Conditions: []condition{
		{Type: TypePaused, Status: "False", Reason: ReasonResumed, Message: MessageResumed},
	}}
	if err := r.patchStatus(ctx, obj, change); err != nil {
		_, err = r.statusFailed(ctx, obj, err)
		return err
	}
	return nil
}

// conditionTrue reports whether obj's status has condType with status True.
func conditionTrue(obj *unstructured.Unstructured, condType string) bool {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == condType {
			return m["status"] == "True"
		}
	}
	return false
}
