package controller

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/proxy"
)

// lastRun is what the last successful run of a resource left behind.
type lastRun struct {
	generation  int64
	annotations map[string]string
	finished    time.Time
	// requeueAfter is a period the role asked for with requeue_after.
	requeueAfter time.Duration
	// intents is, per dependent, what the runs wrote to it: the fields the
	// role wants. Runs that find a dependent as wanted write nothing, so
	// intents accumulate across runs.
	intents map[string]intentRecord
}

// intentRecord is what is kept of the writes to one dependent: the fields
// written (without status and server-owned metadata), or, for writes without
// a comparable body, the generation and resourceVersion they left.
type intentRecord struct {
	gvk             schema.GroupVersionKind
	namespace, name string
	deleted         bool
	body            map[string]any
	generation      int64
	resourceVersion string
}

// remember records a successful run for the skip-unchanged check.
func (r *Reconciler) remember(obj *unstructured.Unstructured, o *outcome) {
	key := memoryKey(obj.GetNamespace(), obj.GetName())
	intents := map[string]intentRecord{}
	if prev := r.memory.get(key); prev != nil {
		for k, w := range prev.intents {
			intents[k] = w
		}
	}
	for _, w := range o.writes {
		if r.isPrimary(w, obj) || w.Subresource != "" || w.Verb == "deletecollection" {
			continue
		}
		k := writeKey(w)
		intents[k] = mergeIntent(intents[k], w)
	}
	lr := &lastRun{
		generation:  obj.GetGeneration(),
		annotations: obj.GetAnnotations(),
		finished:    r.now(),
		intents:     intents,
	}
	if o.result != nil {
		lr.requeueAfter = o.result.RequeueAfter
	}
	r.memory.set(key, lr)
}

func (r *Reconciler) isPrimary(w proxy.Write, obj *unstructured.Unstructured) bool {
	return w.GVK == r.gvk && w.Namespace == obj.GetNamespace() && w.Name == obj.GetName()
}

// mergeIntent folds a write into what was known of a dependent: a merge or
// strategic-merge patch (kubernetes.core's apply and update send only the
// difference) adds to the previous body; anything else replaces it.
func mergeIntent(prev intentRecord, w proxy.Write) intentRecord {
	rec := intentRecord{gvk: w.GVK, namespace: w.Namespace, name: w.Name, deleted: w.Verb == "delete"}
	if w.Object != nil {
		rec.generation, rec.resourceVersion = w.Object.GetGeneration(), w.Object.GetResourceVersion()
	}
	if w.Body == nil {
		return rec
	}
	rec.body = intent(w.Body)
	isMergePatch := w.Verb == "patch" && (strings.Contains(w.ContentType, "merge-patch") || strings.Contains(w.ContentType, "strategic-merge"))
	if isMergePatch && prev.body != nil {
		rec.body = mergePatch(prev.body, rec.body)
	}
	return rec
}

// mergePatch applies a JSON merge patch to a copy of base.
func mergePatch(base, patch map[string]any) map[string]any {
	out := make(map[string]any, len(base))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range patch {
		switch pv := v.(type) {
		case nil:
			delete(out, k)
		case map[string]any:
			if bv, ok := out[k].(map[string]any); ok {
				out[k] = mergePatch(bv, pv)
			} else {
				out[k] = mergePatch(map[string]any{}, pv)
			}
		default:
			out[k] = v
		}
	}
	return out
}

func writeKey(w proxy.Write) string {
	return fmt.Sprintf("%s|%s|%s", w.GVK, w.Namespace, w.Name)
}

// unchanged reports whether a run can be skipped: the resource's generation
// (and, with watchAnnotationsChanges, its annotations) are those of the last
// successful run, every dependent still has what the role wrote, and no
// periodic run is due. It returns how long to wait for the next due run.
func (r *Reconciler) unchanged(ctx context.Context, obj *unstructured.Unstructured) (time.Duration, bool) {
	last := r.memory.get(memoryKey(obj.GetNamespace(), obj.GetName()))
	if last == nil || obj.GetGeneration() == 0 || obj.GetGeneration() != last.generation {
		return 0, false
	}
	if r.opts.Watch.WatchAnnotationsChanges && !reflect.DeepEqual(obj.GetAnnotations(), last.annotations) {
		return 0, false
	}
	period, forced := r.period(ctx, obj), false
	if last.requeueAfter > 0 {
		period, forced = last.requeueAfter, true
	}
	var wait time.Duration
	if period > 0 {
		wait = last.finished.Add(period).Sub(r.now())
		if wait <= 0 {
			if forced || !r.opts.Watch.SkipUnchangedResync {
				return 0, false
			}
			wait = period
		}
	}
	if !r.dependentsIntact(ctx, last) {
		return 0, false
	}
	r.opts.Metrics.observeSkip(r.gvk)
	r.log(ctx).V(1).Info("skipping run: nothing changed since the last successful run")
	return wait, true
}

// dependentsIntact checks every remembered intent against the cache. A
// dependent that cannot be checked (its kind is not cached) counts as changed.
func (r *Reconciler) dependentsIntact(ctx context.Context, last *lastRun) bool {
	for _, w := range last.intents {
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(w.gvk)
		err := r.client.Get(ctx, client.ObjectKey{Namespace: w.namespace, Name: w.name}, live)
		if w.deleted {
			if !apierrors.IsNotFound(err) {
				return false
			}
			continue
		}
		if err != nil {
			return false
		}
		if !satisfies(live, w) {
			r.log(ctx).V(1).Info("dependent changed", "gvk", w.gvk.String(), "namespace", w.namespace, "name", w.name)
			return false
		}
	}
	return true
}

// satisfies reports whether the live object still has what the write set.
// Writes without a comparable body (JSON patches) fall back to the object's
// generation, or its resourceVersion for kinds without one.
func satisfies(live *unstructured.Unstructured, w intentRecord) bool {
	if w.body == nil {
		if w.generation > 0 {
			return live.GetGeneration() == w.generation
		}
		return w.resourceVersion != "" && live.GetResourceVersion() == w.resourceVersion
	}
	return contains(live.Object, w.body)
}

// intent is a write body without what the server or other controllers own:
// status, volatile metadata and client-side apply's bookkeeping annotation.
func intent(body map[string]any) map[string]any {
	out := make(map[string]any, len(body))
	for k, v := range body {
		out[k] = v
	}
	delete(out, "status")
	if meta, ok := body["metadata"].(map[string]any); ok {
		m := make(map[string]any, len(meta))
		for k, v := range meta {
			if !ignoredMeta[k] {
				m[k] = v
			}
		}
		if ann, ok := m["annotations"].(map[string]any); ok {
			if _, found := ann[lastAppliedAnnotation]; found {
				kept := make(map[string]any, len(ann))
				for k, v := range ann {
					if k != lastAppliedAnnotation {
						kept[k] = v
					}
				}
				m["annotations"] = kept
			}
		}
		out["metadata"] = m
	}
	return out
}

// lastAppliedAnnotation is kubectl-style client-side apply's copy of the
// applied object (kubernetes.core apply: true); it repeats the body.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// ignoredMeta are metadata fields the server or other controllers own.
var ignoredMeta = map[string]bool{
	"resourceVersion": true, "uid": true, "creationTimestamp": true, "generation": true,
	"managedFields": true, "selfLink": true, "deletionTimestamp": true, "deletionGracePeriodSeconds": true,
	"ownerReferences": true,
}

// contains reports whether want is a subset of have: maps by key, lists
// element-wise with equal length, scalars by value (numbers numerically).
// A null in want means the key must be absent; an empty map or list in want
// is also met by an absent key, as the API server stores it.
func contains(have, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			if strings.HasPrefix(k, "$") {
				continue // strategic-merge directives ($patch, $setElementOrder/...)
			}
			hv, present := h[k]
			if wv == nil {
				if present && hv != nil {
					return false
				}
				continue
			}
			if (!present || hv == nil) && emptyValue(wv) {
				continue // the API server drops empty maps and lists of omitempty fields
			}
			if !present || !contains(hv, wv) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return false
		}
		for i := range w {
			if !contains(h[i], w[i]) {
				return false
			}
		}
		return true
	default:
		if hn, ok := number(have); ok {
			wn, ok := number(want)
			return ok && hn == wn
		}
		return reflect.DeepEqual(have, want)
	}
}

// emptyValue reports whether v is an empty list or a map holding only empty
// values: nothing the API server would store.
func emptyValue(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			if !emptyValue(e) {
				return false
			}
		}
		return true
	case []any:
		return len(x) == 0
	}
	return false
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case float64:
		return n, true
	case float32:
		return float64(n), true
	}
	return 0, false
}
