package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// ensureFinalizer adds the watch's finalizer before the first run, so a
// deletion always waits for the finalizer role.
func (r *Reconciler) ensureFinalizer(ctx context.Context, obj *unstructured.Unstructured) error {
	f := r.opts.Watch.Finalizer
	if f == nil || slices.Contains(obj.GetFinalizers(), f.Name) {
		return nil
	}
	return r.patchFinalizers(ctx, obj, append(obj.GetFinalizers(), f.Name))
}

// reconcileDeletion runs the finalizer role or playbook of a resource being
// deleted and removes the finalizer only when that run succeeded. Without a
// finalizer nothing runs: garbage collection removes the dependents.
func (r *Reconciler) reconcileDeletion(ctx context.Context, obj *unstructured.Unstructured) (ctrl.Result, error) {
	f := r.opts.Watch.Finalizer
	if f == nil || !slices.Contains(obj.GetFinalizers(), f.Name) {
		return ctrl.Result{}, nil
	}
	role, playbook := f.Role, f.Playbook
	if role == "" && playbook == "" {
		// A finalizer with only vars runs the watch's own role or playbook.
		role, playbook = r.opts.Watch.Role, r.opts.Watch.Playbook
	}
	vars := maps.Clone(r.opts.Watch.Vars)
	if vars == nil {
		vars = map[string]any{}
	}
	maps.Copy(vars, f.Vars)
	out := r.runAnsible(ctx, obj, r.runOptions(ctx, obj, role, playbook, vars), purposeFinalizer)
	if ctx.Err() != nil {
		return ctrl.Result{}, ctx.Err()
	}
	if out.failed() {
		msg := "finalizer " + f.Name + ": " + out.message()
		r.recorder.Eventf(obj, nil, corev1.EventTypeWarning, EventFinalizerFailed, "Finalize", "%s", msg)
		if r.opts.Watch.ManageStatus {
			if err := r.patchStatus(ctx, obj, out.status(obj.GetGeneration())); err != nil {
				r.log(ctx).Error(err, "write finalizer failure to status")
			}
		}
		if out.refused() {
			// The finalizer waits for a change of the resource.
			return ctrl.Result{}, reconcile.TerminalError(reconcileError{msg})
		}
		return ctrl.Result{}, reconcileError{msg}
	}
	if err := r.removeFinalizer(ctx, obj, f.Name); err != nil {
		return ctrl.Result{}, err
	}
	r.forget(ctx, obj.GetNamespace(), obj.GetName())
	return ctrl.Result{}, nil
}

// removeFinalizer removes name from obj's finalizers after a successful
// finalizer run. The run may have written obj (k8s_status), so the version
// read before it is stale: on a conflict the removal is retried on the
// latest version — never by running the finalizer again, which would
// conflict in turn and run forever.
func (r *Reconciler) removeFinalizer(ctx context.Context, obj *unstructured.Unstructured, name string) error {
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		if !slices.Contains(obj.GetFinalizers(), name) {
			return nil
		}
		kept := slices.DeleteFunc(slices.Clone(obj.GetFinalizers()), func(s string) bool { return s == name })
		err := r.patchFinalizers(ctx, obj, kept)
		if !apierrors.IsConflict(err) {
			return err
		}
		latest := &unstructured.Unstructured{}
		latest.SetGroupVersionKind(r.gvk)
		if getErr := r.apiReader.Get(ctx, client.ObjectKeyFromObject(obj), latest); getErr != nil {
			if apierrors.IsNotFound(getErr) {
				return nil
			}
			return getErr
		}
		if latest.GetUID() != obj.GetUID() {
			return nil // gone and recreated: the new object is not ours to finalize
		}
		*obj = *latest
		return err
	})
}

// patchFinalizers sets metadata.finalizers with a merge patch guarded by
// resourceVersion, so a concurrent change is never overwritten.
func (r *Reconciler) patchFinalizers(ctx context.Context, obj *unstructured.Unstructured, finalizers []string) error {
	if finalizers == nil {
		finalizers = []string{}
	}
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"finalizers": finalizers, "resourceVersion": obj.GetResourceVersion(),
	}})
	if err != nil {
		return err
	}
	err = r.client.Patch(ctx, obj, client.RawPatch(types.MergePatchType, body))
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update finalizers of %s %s/%s: %w", r.gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}
