package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/proxy"
	"github.com/mcrouter-operator/mcrouter-operator/shard"
)

// Shard is this replica's place among the replicas that share the watches'
// resources (package shard). Nil: one replica does everything.
type Shard interface {
	// Identity is this replica's name, the value of its shard label.
	Identity() string
	// Live reports whether replica holds a live Lease.
	Live(replica string) bool
	// RetryPeriod is how often membership is refreshed.
	RetryPeriod() time.Duration
}

var (
	_ Shard         = (*shard.Membership)(nil)
	_ shard.Handoff = (*Reconciler)(nil)
)

// statusReconciledBy names, in status, the replica allowed to run the
// resource: the fence that keeps two replicas from running it at once. It
// sits in status because only the operator writes there (the status
// subresource), whereas the shard label is anyone's who may edit the resource.
const statusReconciledBy = "reconciledBy"

// drainGrace is how long a handoff waits for the resource's reconcile under
// way to finish before cancelling it.
const drainGrace = 30 * time.Second

// admit decides whether this replica may reconcile obj now: it may when
// status.reconciledBy names it, and claims the resource (writes its name,
// guarded by resourceVersion) when it names nobody or a replica that is gone.
// While another live replica holds it (a handoff under way, or a label
// changed by someone else while that replica ran it) it waits.
func (r *Reconciler) admit(ctx context.Context, obj *unstructured.Unstructured) (ctrl.Result, bool, error) {
	me := r.opts.Shard.Identity()
	wait := ctrl.Result{RequeueAfter: r.opts.Shard.RetryPeriod()}
	for attempt := 0; attempt < 5; attempt++ {
		if obj.GetLabels()[shard.Label] != me {
			// The cache is behind a move; the resource leaves it shortly.
			return ctrl.Result{}, false, nil
		}
		by, _, _ := unstructured.NestedString(obj.Object, "status", statusReconciledBy)
		switch {
		case by == me:
			return ctrl.Result{}, true, nil
		case by != "" && r.opts.Shard.Live(by):
			r.log(ctx).V(1).Info("waiting for another replica to let go of the resource", "replica", by)
			return wait, false, nil
		}
		err := r.setReconciledBy(ctx, obj, me)
		if err == nil {
			if by != "" {
				r.log(ctx).Info("took over resource", "from", by)
			}
			return ctrl.Result{}, true, nil
		}
		if apierrors.IsNotFound(err) {
			if getErr := r.apiReader.Get(ctx, client.ObjectKeyFromObject(obj), obj.DeepCopy()); getErr == nil {
				// Sharding records the replica in status, whatever manageStatus says.
				err = errNoStatusSubresource
			}
		}
		if !apierrors.IsConflict(err) {
			return ctrl.Result{}, false, fmt.Errorf("claim %s %s/%s for this replica: %w", r.gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
		}
		if err := r.apiReader.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return ctrl.Result{}, false, client.IgnoreNotFound(err)
		}
	}
	return wait, false, nil
}

// stillHeld is nil unless sharding is on and status.reconciledBy of obj, as
// just read from the API server, names another replica: then this replica
// must not go on (it was presumed gone and its resource taken over).
func (r *Reconciler) stillHeld(obj *unstructured.Unstructured) error {
	if r.opts.Shard == nil {
		return nil
	}
	by, _, _ := unstructured.NestedString(obj.Object, "status", statusReconciledBy)
	if by == r.opts.Shard.Identity() {
		return nil
	}
	return fmt.Errorf("status.reconciledBy names replica %q: this replica no longer holds the resource", by)
}

// setReconciledBy writes status.reconciledBy once, guarded by obj's
// resourceVersion; obj takes the server's answer.
func (r *Reconciler) setReconciledBy(ctx context.Context, obj *unstructured.Unstructured, replica string) error {
	body, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"resourceVersion": obj.GetResourceVersion()},
		"status":   map[string]any{statusReconciledBy: replica},
	})
	if err != nil {
		return err
	}
	return r.client.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, body))
}

// Handoff gives the resource to replica to: it waits for (at most
// drainGrace, then cancels) the reconcile under way and refuses new ones,
// moves the shard label (our cache drops the resource, to's picks it up),
// then names to in status.reconciledBy, which lets it run.
func (r *Reconciler) Handoff(ctx context.Context, key types.NamespacedName, to string) error {
	k := memoryKey(key.Namespace, key.Name)
	if err := r.gate.drain(ctx, k, drainGrace); err != nil {
		r.gate.reopen(k)
		return err
	}
	version, err := r.handOver(ctx, key, to)
	if err != nil {
		r.gate.reopen(k)
		return err
	}
	r.gate.handedOff(k, version)
	return nil
}

// handOver moves the label of the drained resource and releases it; it
// returns the resourceVersion of the relabelled resource.
func (r *Reconciler) handOver(ctx context.Context, key types.NamespacedName, to string) (string, error) {
	me := r.opts.Shard.Identity()
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(r.gvk)
	if err := r.apiReader.Get(ctx, key, obj); err != nil {
		return "", err
	}
	if owner := obj.GetLabels()[shard.Label]; owner != me {
		return "", fmt.Errorf("labelled for replica %q, not this one", owner)
	}
	if by, _, _ := unstructured.NestedString(obj.Object, "status", statusReconciledBy); by != "" && by != me && r.opts.Shard.Live(by) {
		return "", fmt.Errorf("replica %q still holds it", by)
	}
	r.handDependents(ctx, obj, to)
	version, err := shard.Relabel(ctx, r.client, r.gvk, key, obj.GetResourceVersion(), to)
	if err != nil {
		return "", fmt.Errorf("relabel: %w", err)
	}
	if err := r.release(ctx, key); err != nil {
		// The replica labelled waits; forget releases again when the
		// resource leaves this replica's cache.
		r.log(ctx).Error(err, "hand status.reconciledBy over", "to", to)
	}
	return version, nil
}

// release hands status.reconciledBy to the replica the resource is labelled
// for, when it still names this one. It runs after a handoff and when the
// resource left this replica's cache some other way (its label was edited
// while this replica ran it): the replica now labelled waits for it.
func (r *Reconciler) release(ctx context.Context, key types.NamespacedName) error {
	me := r.opts.Shard.Identity()
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(r.gvk)
	for attempt := 0; ; attempt++ {
		if err := r.apiReader.Get(ctx, key, obj); err != nil {
			return client.IgnoreNotFound(err)
		}
		owner := obj.GetLabels()[shard.Label]
		by, _, _ := unstructured.NestedString(obj.Object, "status", statusReconciledBy)
		if by != me || owner == me {
			return nil
		}
		err := r.setReconciledBy(ctx, obj, owner)
		if err == nil || !apierrors.IsConflict(err) || attempt == 4 {
			return err
		}
	}
}

// adoptDependents moves the shard label of obj's linked dependents in rec
// to this replica when it is missing from them (the resource came from
// another replica, or a run patched an object without the label): this
// replica's informers select on it, so a dependent without it is not
// watched. It reads the cache first and the API server only on a miss.
func (r *Reconciler) adoptDependents(ctx context.Context, rec *record) {
	if r.opts.Shard == nil || rec == nil {
		return
	}
	me := r.opts.Shard.Identity()
	noWait, cancel := context.WithCancel(ctx)
	cancel()
	owner := metav1.OwnerReference{APIVersion: r.gvk.GroupVersion().String(), Kind: r.gvk.Kind, UID: rec.UID}
	for _, d := range rec.Dependents {
		if d.Deleted || d.Link == "" {
			continue
		}
		key := client.ObjectKey{Namespace: d.Namespace, Name: d.Name}
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(d.gvk())
		if err := r.client.Get(noWait, key, live); err == nil || !apierrors.IsNotFound(err) {
			continue
		}
		if err := r.apiReader.Get(ctx, key, live); err != nil || live.GetUID() != d.UID || live.GetLabels()[shard.Label] == me ||
			!firstOwner(live, owner) {
			continue
		}
		if _, err := shard.Relabel(ctx, r.client, d.gvk(), key, live.GetResourceVersion(), me); err != nil {
			r.log(ctx).Info("dependent not relabelled; retrying at the next check", "dependent", d.String(), "reason", err.Error())
		}
	}
}

// handDependents moves the shard label of the objects in this replica's
// cache that are linked to obj (obj first among their owners) to replica to:
// the dependents go with the resource, those no recent run touched too. One
// left behind (a write failed) is relabelled by to's skip check when its
// record names it.
func (r *Reconciler) handDependents(ctx context.Context, obj *unstructured.Unstructured, to string) {
	ctx, cancel := context.WithTimeout(ctx, dependentSyncTimeout)
	defer cancel()
	owner := metav1.OwnerReference{APIVersion: r.gvk.GroupVersion().String(), Kind: r.gvk.Kind, UID: obj.GetUID()}
	link := proxy.OwnerOf(obj)
	for _, gvk := range r.dependents.watchedKinds() {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := r.client.List(ctx, list); err != nil {
			r.log(ctx).Info("dependents not handed over", "gvk", gvk.String(), "reason", err.Error())
			continue
		}
		for i := range list.Items {
			o := &list.Items[i]
			if link.Link(o.Object) == "" || !firstOwner(o, owner) {
				continue
			}
			key := client.ObjectKeyFromObject(o)
			if _, err := shard.Relabel(ctx, r.client, gvk, key, o.GetResourceVersion(), to); err != nil {
				r.log(ctx).Info("dependent not handed over", "gvk", gvk.String(), "dependent", key.String(), "reason", err.Error())
			}
		}
	}
}

// firstOwner reports whether owner is the first resource of its kind that
// obj's owner references name (or, with none, whether obj is linked by
// annotation): of several resources owning one object, only the first one's
// replica labels it, so replicas never take it from each other in turn.
func firstOwner(obj *unstructured.Unstructured, owner metav1.OwnerReference) bool {
	for _, ref := range obj.GetOwnerReferences() {
		gv, err := schema.ParseGroupVersion(ref.APIVersion)
		if err == nil && gv.Group == schema.FromAPIVersionAndKind(owner.APIVersion, owner.Kind).Group && ref.Kind == owner.Kind {
			return ref.UID == owner.UID
		}
	}
	return true
}

// gate tracks the reconciles under way per resource and the resources
// handed off, which may not start one until they have left the cache.
type gate struct {
	mu      sync.Mutex
	flights map[string]*flight
	// leaving holds the resources being handed off (value "") or handed off
	// (value: the resourceVersion of the relabelled resource).
	leaving map[string]string
}

// flight is one reconcile under way.
type flight struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func newGate() *gate { return &gate{flights: map[string]*flight{}, leaving: map[string]string{}} }

// enter starts a reconcile of obj, unless it is leaving: handed off, and
// the cached copy is not newer than the handoff (it came back). The returned
// context is cancelled by a drain that runs out of patience; exit must be
// called when the reconcile ends.
func (g *gate) enter(ctx context.Context, key, cachedVersion string) (context.Context, func(), bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if handed, leaving := g.leaving[key]; leaving {
		if !newer(cachedVersion, handed) {
			return ctx, nil, false
		}
		delete(g.leaving, key)
	}
	ctx, cancel := context.WithCancel(ctx)
	f := &flight{cancel: cancel, done: make(chan struct{})}
	g.flights[key] = f
	return ctx, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		cancel()
		close(f.done)
		if g.flights[key] == f {
			delete(g.flights, key)
		}
	}, true
}

// newer reports whether resourceVersion v is later than handed. Versions are
// compared as the numbers etcd makes them; anything else is not newer, and
// the resource waits until it leaves the cache.
func newer(v, handed string) bool {
	if handed == "" {
		return false
	}
	a, errA := strconv.ParseUint(v, 10, 64)
	b, errB := strconv.ParseUint(handed, 10, 64)
	return errA == nil && errB == nil && a > b
}

// drain marks key leaving and waits until no reconcile of it is under way:
// after grace it cancels the one under way.
func (g *gate) drain(ctx context.Context, key string, grace time.Duration) error {
	g.mu.Lock()
	g.leaving[key] = ""
	f := g.flights[key]
	g.mu.Unlock()
	if f == nil {
		return nil
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		f.cancel()
	}
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		return errors.Join(ctx.Err(), errors.New("the cancelled reconcile did not end"))
	}
}

// handedOff records that key was relabelled away at resourceVersion version.
func (g *gate) handedOff(key, version string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.leaving[key] = version
}

// reopen lets key be reconciled again (a handoff failed, or the resource
// left the cache).
func (g *gate) reopen(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.leaving, key)
}
