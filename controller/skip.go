package controller

import (
	"context"
	"errors"
	"maps"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/internal/jsonvalue"
	"github.com/mcrouter-operator/mcrouter-operator/proxy"
	"github.com/mcrouter-operator/mcrouter-operator/shard"
)

// remember records a successful run of obj for the skip-unchanged check, in
// memory and (returned) for status.runRecord; nil when the run left nothing
// that may be skipped by. prev is the record the run started from.
func (r *Reconciler) remember(ctx context.Context, obj *unstructured.Unstructured, o *outcome, prev *record) *record {
	key := memoryKey(obj.GetNamespace(), obj.GetName())
	rec, why := newRecord(obj, o.writes, o.reads, prev)
	if rec == nil {
		r.log(ctx).V(1).Info("no run record: the next event runs again", "reason", why)
		r.memory.set(key, nil)
		return nil
	}
	rec.Finished = r.now()
	if o.result != nil {
		rec.RequeueAfter = o.result.RequeueAfter
	}
	if r.opts.Watch.WatchAnnotationsChanges {
		rec.Annotations = annotationsDigest(obj.GetAnnotations())
	}
	r.memory.set(key, rec)
	return rec
}

// lastRecord is the record of the last successful run of obj: the one this
// process made, or, when it made none yet (a restart, another replica), the
// one in obj's status. Nil means run.
func (r *Reconciler) lastRecord(ctx context.Context, obj *unstructured.Unstructured) *record {
	key := memoryKey(obj.GetNamespace(), obj.GetName())
	rec, known := r.memory.get(key)
	if !known {
		var err error
		rec, err = decodeRecord(obj)
		if err != nil && !errors.Is(err, errNoRecord) {
			r.log(ctx).Info("ignoring the run record in status; running", "reason", err.Error())
		}
		r.memory.set(key, rec)
	}
	if rec == nil || rec.UID != obj.GetUID() {
		return nil
	}
	return rec
}

// unchanged reports whether a run can be skipped: the record of the last
// successful run belongs to this resource (UID) at this generation (and, with
// watchAnnotationsChanges, these annotations), every dependent it names still
// holds, and no periodic run is due. It returns how long to wait for the next
// due run.
func (r *Reconciler) unchanged(ctx context.Context, obj *unstructured.Unstructured) (time.Duration, bool) {
	last := r.lastRecord(ctx, obj)
	if last == nil || obj.GetGeneration() == 0 || obj.GetGeneration() != last.Generation {
		return 0, false
	}
	if r.opts.Watch.WatchAnnotationsChanges && annotationsDigest(obj.GetAnnotations()) != last.Annotations {
		return 0, false
	}
	period, forced := r.period(ctx, obj), false
	if last.RequeueAfter > 0 {
		period, forced = last.RequeueAfter, true
	}
	var wait time.Duration
	if period > 0 {
		wait = last.Finished.Add(period).Sub(r.now())
		if wait <= 0 {
			if forced || !r.opts.Watch.SkipUnchangedResync {
				return 0, false
			}
			wait = period
		}
	}
	if !r.dependentsHold(ctx, obj, last) {
		return 0, false
	}
	r.adoptDependents(ctx, last)
	r.opts.Metrics.observeSkip(r.gvk)
	r.log(ctx).V(1).Info("skipping run: nothing changed since the last successful run")
	return wait, true
}

// dependentsHold checks every dependent of the record against the cache: the
// same object (UID), still linked to obj as it was, with every recorded field;
// a deleted one still absent. A dependent that cannot be read counts as
// changed.
//
// The reads never wait: the cache holds a read until the kind's informer has
// synced, which for a kind the operator cannot list is forever. With a done
// context it answers at once — the object, NotFound, or an error (kind not
// cached, informer not synced) that counts as changed.
func (r *Reconciler) dependentsHold(ctx context.Context, obj *unstructured.Unstructured, rec *record) bool {
	noWait, cancel := context.WithCancel(ctx)
	cancel()
	for _, d := range rec.Dependents {
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(d.gvk())
		key := client.ObjectKey{Namespace: d.Namespace, Name: d.Name}
		err := r.client.Get(noWait, key, live)
		if r.opts.Shard != nil && apierrors.IsNotFound(err) {
			// This replica caches only objects labelled for it: one moved
			// from another replica (or recreated by someone) is read live.
			err = r.apiReader.Get(ctx, key, live)
		}
		if d.Deleted {
			if !apierrors.IsNotFound(err) {
				r.log(ctx).V(1).Info("dependent changed: deleted by the last run, present now", "dependent", d.String())
				return false
			}
			continue
		}
		var why string
		switch {
		case err != nil:
			why = err.Error()
		case live.GetUID() != d.UID:
			why = "replaced (another UID)"
		case d.Link != "" && proxy.OwnerOf(obj).Link(live.Object) != d.Link:
			why = "no longer linked to its owner"
		case !jsonvalue.Contains(live.Object, d.Fields):
			why = "fields differ"
		case d.SecretData != "" && secretDigest(live) != d.SecretData:
			why = "secret data differs"
		}
		if why != "" {
			r.log(ctx).V(1).Info("dependent changed", "dependent", d.String(), "reason", why)
			return false
		}
	}
	return true
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
		if lbl, ok := m["labels"].(map[string]any); ok {
			if _, found := lbl[shard.Label]; found {
				// Which replica holds the object is the runtime's, not the role's.
				kept := maps.Clone(lbl)
				delete(kept, shard.Label)
				m["labels"] = kept
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
