package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// condition is one status condition we own. It is applied onto the existing
// condition of the same type, so fields written by others survive.
type condition struct {
	Type, Status, Reason, Message string
	// AnsibleResult is set on the Running condition after a run; nil removes it.
	AnsibleResult map[string]any
}

// statusChange is everything one reconcile step changes in status.
type statusChange struct {
	Conditions []condition
	Generation int64
	// ObservedGeneration sets status.observedGeneration; 0 leaves it as is.
	ObservedGeneration int64
	DependentKinds     []any // status.dependentKinds; nil: leave as is
	// HandledRequest sets status.lastHandledReconcileAt; "" leaves it as is.
	HandledRequest string
	// SetRecord sets status.runRecord to Record, or removes it when Record
	// is nil; without SetRecord it is left as is.
	SetRecord bool
	Record    map[string]any
	// SetCreated sets status.createdDependents (prune_ledger.go) to Created,
	// or removes it when Created is nil; without SetCreated it is left as is.
	SetCreated bool
	Created    map[string]any
}

// applyConditions returns the conditions list with ours merged in by type,
// by the rule k8s_status follows too (docs/compatibility.md, "Condition
// merge"): each condition we write sets its status, reason and message (and
// observedGeneration, and ansibleResult on Running: nil removes it); fields
// we do not write are kept; lastTransitionTime changes only when the status
// does, or when there is none. Custom conditions keep their place; new ones
// are appended.
func applyConditions(existing []any, change statusChange, now time.Time) []any {
	out := make([]any, 0, len(existing)+len(change.Conditions))
	index := map[string]int{}
	for _, e := range existing {
		m, ok := e.(map[string]any)
		if !ok {
			out = append(out, e)
			continue
		}
		m = copyMap(m)
		if t, ok := m["type"].(string); ok {
			index[t] = len(out)
		}
		out = append(out, m)
	}
	for _, c := range change.Conditions {
		m := map[string]any{"type": c.Type}
		i, found := index[c.Type]
		if found {
			m = out[i].(map[string]any)
			if c.Type == TypeReady && !ownReady(m) {
				continue // the role's
			}
		}
		if lt, _ := m["lastTransitionTime"].(string); m["status"] != c.Status || lt == "" {
			m["lastTransitionTime"] = now.UTC().Format(time.RFC3339)
		}
		m["status"], m["reason"], m["message"] = c.Status, c.Reason, c.Message
		if change.Generation > 0 {
			m["observedGeneration"] = change.Generation
		}
		if c.Type == TypeRunning {
			if c.AnsibleResult != nil {
				m["ansibleResult"] = c.AnsibleResult
			} else {
				delete(m, "ansibleResult")
			}
		}
		if !found {
			index[c.Type] = len(out)
			out = append(out, m)
		}
	}
	return out
}

// ownReady reports whether the Ready condition c is the runtime's: one
// with a reason the runtime does not write is the role's.
func ownReady(c map[string]any) bool {
	reason, _ := c["reason"].(string)
	return ownReadyReasons[reason]
}

// statusPatch returns the status keys to write, and false when obj already
// has them.
func statusPatch(obj *unstructured.Unstructured, change statusChange, now time.Time) (map[string]any, bool) {
	existing, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	conds := applyConditions(existing, change, now)
	patch := map[string]any{}
	if !reflect.DeepEqual(normalize(conds), normalize(existing)) {
		patch["conditions"] = conds
	}
	if g := change.ObservedGeneration; g > 0 {
		if cur, _, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration"); cur != g {
			patch["observedGeneration"] = g
		}
	}
	if h := change.HandledRequest; h != "" {
		if cur, _, _ := unstructured.NestedString(obj.Object, "status", statusHandledRequestKey); cur != h {
			patch[statusHandledRequestKey] = h
		}
	}
	if change.DependentKinds != nil {
		cur, _, _ := unstructured.NestedSlice(obj.Object, "status", "dependentKinds")
		if !reflect.DeepEqual(normalize(cur), normalize(change.DependentKinds)) {
			patch["dependentKinds"] = change.DependentKinds
		}
	}
	if change.SetRecord {
		setOrRemove(patch, obj, statusRecordKey, change.Record)
	}
	if change.SetCreated {
		setOrRemove(patch, obj, statusLedgerKey, change.Created)
	}
	return patch, len(patch) > 0
}

// setOrRemove adds status.<key> = value to patch, or its removal when value
// is nil, unless obj has it so already.
func setOrRemove(patch map[string]any, obj *unstructured.Unstructured, key string, value map[string]any) {
	cur, found, _ := unstructured.NestedFieldNoCopy(obj.Object, "status", key)
	switch {
	case value == nil && found && cur != nil:
		patch[key] = nil // removed by the merge patch
	case value != nil && !reflect.DeepEqual(normalize(cur), normalize(value)):
		patch[key] = value
	}
}

// normalize round-trips through JSON so int64 vs float64 and []string vs
// []any do not count as changes.
func normalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

var errNoStatusSubresource = errors.New("the CRD of this resource has no status subresource; " +
	"add `subresources: {status: {}}` to it or set manageStatus: false in watches.yaml")

// patchStatus applies change to the status subresource with a JSON merge patch
// that names only the keys we own, guarded by resourceVersion; on conflict it
// re-reads the object from the API server and tries again. obj is updated in
// place with the server's answer. No request is made when nothing changes.
func (r *Reconciler) patchStatus(ctx context.Context, obj *unstructured.Unstructured, change statusChange) error {
	for attempt := 0; ; attempt++ {
		patch, changed := statusPatch(obj, change, r.now())
		if !changed {
			return nil
		}
		body, err := json.Marshal(map[string]any{
			"metadata": map[string]any{"resourceVersion": obj.GetResourceVersion()},
			"status":   patch,
		})
		if err != nil {
			return err
		}
		err = r.client.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, body))
		switch {
		case err == nil:
			return nil
		case apierrors.IsConflict(err) && attempt < 5:
			if err := r.apiReader.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
				return fmt.Errorf("re-read after status conflict: %w", err)
			}
			if err := r.stillHeld(obj); err != nil {
				return err
			}
		case apierrors.IsNotFound(err):
			// The object exists (we just read it), so the status endpoint is missing.
			if getErr := r.apiReader.Get(ctx, client.ObjectKeyFromObject(obj), obj.DeepCopy()); getErr == nil {
				return errNoStatusSubresource
			}
			return err
		default:
			return fmt.Errorf("write status: %w", err)
		}
	}
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
