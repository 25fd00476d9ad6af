package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/proxy"
)

// Events about pruned dependents (pruneDependents).
const (
	EventPruned      = "Pruned"
	EventPruneFailed = "PruneFailed"
)

// maxPruneAttempts bounds the deletes of one object that others keep
// changing between our read and our delete.
const maxPruneAttempts = 3

// trackCreated keeps, for a watch with pruneDependents, the ledger of what
// runs of ran created: it adds what this run created, and after a successful
// run whose record is complete (rec) it deletes what earlier runs created and
// this one no longer touched. A failed run prunes nothing, but what it
// created is recorded. It returns the status.createdDependents value and
// whether to write it (false when the watch does not prune).
//
// A ledger read back from status may be forged by whoever may write the
// status. It cannot make the operator delete anything but an object that,
// read from the API server with the operator's credentials, has the UID it
// names, is still linked to this resource (its owner reference with the
// resource's UID, or the primary-resource annotations naming it) and was
// created after the resource: an object garbage collection would delete with
// the resource anyway (or, annotation-linked, one the proxy put the
// annotations on, or someone who could edit it did).
func (r *Reconciler) trackCreated(ctx context.Context, ran *unstructured.Unstructured, o *outcome, rec *record) (map[string]any, bool) {
	if !r.opts.Watch.PruneDependents {
		return nil, false
	}
	key := memoryKey(ran.GetNamespace(), ran.GetName())
	prev, known := r.ledgers.get(key, ran.GetUID())
	if !known {
		var err error
		if prev, err = decodeLedger(ran); err != nil {
			r.log(ctx).Info("ignoring the ledger of created dependents in status: nothing it names will be pruned", "reason", err.Error())
		}
	}
	next, dropped := prev.withWrites(o.writes, ran)
	if dropped > 0 {
		r.log(ctx).Info("too many created dependents to record: these will never be pruned", "dropped", dropped, "max", maxLedger)
	}
	if !o.failed() && rec != nil {
		held, prunable := next.stale(rec)
		for _, d := range prunable {
			if !r.prune(ctx, ran, d) {
				held = append(held, d) // tried again after the next successful run
			}
		}
		next.Objects = held
	}
	r.ledgers.set(key, next)
	return next.encode(), true
}

// prune deletes d, an object runs of owner created and the last successful
// run no longer touched, when it is still the object created and still
// linked to owner. It reports whether d is done with (deleted, gone, or no
// longer ours); false keeps it in the ledger.
func (r *Reconciler) prune(ctx context.Context, owner *unstructured.Unstructured, d createdDependent) bool {
	log := r.log(ctx).WithValues("dependent", d.String())
	for range maxPruneAttempts {
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(d.gvk())
		err := r.apiReader.Get(ctx, client.ObjectKey{Namespace: d.Namespace, Name: d.Name}, live)
		switch {
		case apierrors.IsNotFound(err):
			return true
		case err != nil:
			log.Error(err, "read dependent to prune")
			return false
		}
		if why := pruneVeto(owner, d, live); why != "" {
			log.V(1).Info("not pruning dependent", "reason", why)
			return true
		}
		uid, version := live.GetUID(), live.GetResourceVersion()
		err = r.client.Delete(ctx, live, client.Preconditions{UID: &uid, ResourceVersion: &version},
			client.PropagationPolicy(metav1.DeletePropagationBackground))
		switch {
		case err == nil:
			log.Info("pruned dependent: the last successful run no longer created it")
			r.recorder.Eventf(owner, live, corev1.EventTypeNormal, EventPruned, "Prune",
				"deleted %s: the last successful run no longer created it", d)
			return true
		case apierrors.IsNotFound(err):
			return true
		case apierrors.IsConflict(err):
			continue // changed since read: look again
		default:
			log.Error(err, "prune dependent")
			r.recorder.Eventf(owner, live, corev1.EventTypeWarning, EventPruneFailed, "Prune",
				"delete %s: %v", d, err)
			return false
		}
	}
	return false
}

// pruneVeto says why live, the object the ledger entry d names, must not be
// deleted as a dependent of owner, or "" when it may: it is the object a run
// created (same UID), not being deleted, linked to owner as it was created,
// and not older than owner.
func pruneVeto(owner *unstructured.Unstructured, d createdDependent, live *unstructured.Unstructured) string {
	switch {
	case live.GetUID() != d.UID:
		return "replaced by another object (UID)"
	case live.GetDeletionTimestamp() != nil:
		return "being deleted"
	case proxy.OwnerOf(owner).Link(live.Object) != d.Link:
		return "no longer linked to its owner as created"
	}
	created, ownerCreated := live.GetCreationTimestamp(), owner.GetCreationTimestamp()
	if created.Before(&ownerCreated) {
		return "older than its owner"
	}
	return ""
}
