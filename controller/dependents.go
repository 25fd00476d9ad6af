package controller

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/mcrouter-operator/mcrouter-operator/proxy"
	"github.com/mcrouter-operator/mcrouter-operator/watches"
)

// Annotations linking dependents the owner cannot own by reference
// (cluster-scoped, or in another namespace) to their primary resource.
const (
	AnnotationPrimaryResource     = "operator-sdk/primary-resource"
	AnnotationPrimaryResourceType = "operator-sdk/primary-resource-type"
)

// dependentWatches is the controller side of proxy.DependentWatcher: it adds
// a watch on a dependent kind the first time a run touches it.
type dependentWatches struct {
	mgr    manager.Manager
	ctrl   crcontroller.Controller
	reader client.Reader              // uncached: proofs for restore
	owner  *unstructured.Unstructured // type only
	watch  watches.Watch

	mu      sync.Mutex
	started map[dependentKind]source.TypedSyncingSource[reconcile.Request]
	syncing []source.TypedSyncingSource[reconcile.Request] // added, maybe not yet synced
}

// dependentKind is a watched dependent kind and how its objects link to the
// owner. It is what status.dependentKinds records, so a restarted operator
// watches the same kinds before its first run.
type dependentKind struct {
	GVK       schema.GroupVersionKind
	Annotated bool
}

var _ proxy.DependentWatcher = (*dependentWatches)(nil)

// dependentSyncTimeout bounds the wait for a new dependent informer.
const dependentSyncTimeout = 30 * time.Second

func newDependentWatches(mgr manager.Manager, c crcontroller.Controller, owner *unstructured.Unstructured, w watches.Watch) *dependentWatches {
	return &dependentWatches{mgr: mgr, ctrl: c, reader: mgr.GetAPIReader(), owner: owner, watch: w,
		started: map[dependentKind]source.TypedSyncingSource[reconcile.Request]{}}
}

// WatchDependent makes the controller watch gvk, once.
func (d *dependentWatches) WatchDependent(ctx context.Context, gvk schema.GroupVersionKind, annotated bool) error {
	if !d.allows(gvk) {
		return nil
	}
	k := dependentKind{GVK: gvk, Annotated: annotated}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started[k] != nil {
		return nil
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(gvk)
	var h handler.TypedEventHandler[*unstructured.Unstructured, reconcile.Request]
	if annotated {
		h = handler.TypedEnqueueRequestsFromMapFunc(d.mapAnnotated)
	} else {
		h = handler.TypedEnqueueRequestForOwner[*unstructured.Unstructured](d.mgr.GetScheme(), d.mgr.GetRESTMapper(), d.owner)
	}
	src := source.Kind(d.mgr.GetCache(), obj, h)
	if err := d.ctrl.Watch(src); err != nil {
		return fmt.Errorf("watch dependent %s: %w", gvk, err)
	}
	d.started[k] = src
	// The run goes on while the informer syncs; the reconcile waits for it
	// afterwards (waitSynced), so a change made before the sync is not missed.
	d.syncing = append(d.syncing, src)
	return nil
}

// allows reports whether the watch lets gvk be watched as a dependent: it
// watches dependents, gvk is not blacklisted and is not the watch's own kind.
func (d *dependentWatches) allows(gvk schema.GroupVersionKind) bool {
	return d.watch.WatchDependentResources && !slices.Contains(d.watch.Blacklist, gvk) && gvk != d.watch.GroupVersionKind
}

// waitSynced waits for the informers of watches added since the last call
// and reports whether there were any: the caller then checks the
// dependents once more, because a dependent deleted before its informer's
// first list produces no event.
func (d *dependentWatches) waitSynced(ctx context.Context) (bool, error) {
	d.mu.Lock()
	pending := d.syncing
	d.syncing = nil
	d.mu.Unlock()
	if len(pending) == 0 {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, dependentSyncTimeout)
	defer cancel()
	for _, src := range pending {
		if err := src.WaitForSync(ctx); err != nil {
			return true, fmt.Errorf("dependent watch not synced: %w", err)
		}
	}
	return true, nil
}

// mapAnnotated maps a dependent carrying the primary-resource annotations of
// our kind to its primary.
func (d *dependentWatches) mapAnnotated(_ context.Context, o *unstructured.Unstructured) []reconcile.Request {
	a := o.GetAnnotations()
	gk := d.watch.GroupVersionKind.GroupKind()
	if a[AnnotationPrimaryResourceType] != gk.Kind+"."+gk.Group {
		return nil
	}
	ns, name, found := strings.Cut(a[AnnotationPrimaryResource], "/")
	if !found {
		ns, name = "", a[AnnotationPrimaryResource]
	}
	if name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}}}
}

// watchedKinds lists the watched dependent kinds, each once.
func (d *dependentWatches) watchedKinds() []schema.GroupVersionKind {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []schema.GroupVersionKind
	for k := range d.started {
		if !slices.Contains(out, k.GVK) {
			out = append(out, k.GVK)
		}
	}
	return out
}

// kinds lists the watched dependent kinds for status.dependentKinds.
func (d *dependentWatches) kinds() []any {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]any, 0, len(d.started))
	for k := range d.started {
		m := map[string]any{"apiVersion": k.GVK.GroupVersion().String(), "kind": k.GVK.Kind}
		if k.Annotated {
			m["link"] = "annotation"
		} else {
			m["link"] = "ownerReference"
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i]) < fmt.Sprint(out[j]) })
	return out
}

// maxRestoredKinds bounds the dependent kinds one resource's record may ask a
// restarted operator to watch; a record naming more restores none.
const maxRestoredKinds = 32

// restore re-establishes, before this process's first run of obj, the
// dependent watches of the last successful run, so drift is noticed and the
// skip check can read the dependents; it waits until their informers have
// synced. The record sits in obj's status, which whoever may write that
// status can forge: a kind is watched only when the watch allows it and the
// API server confirms that an object of that kind named by the record is
// linked to obj — never on the record's word (nor on
// status.dependentKinds, which is informational). A kind that is not
// restored leaves its dependents unreadable, so the skip check runs.
func (d *dependentWatches) restore(ctx context.Context, obj *unstructured.Unstructured, deps []dependentRecord) {
	log := ctrl.LoggerFrom(ctx)
	proofs := map[dependentKind]dependentRecord{}
	for _, dep := range deps {
		if dep.Deleted || dep.Link == "" {
			continue
		}
		k := dependentKind{GVK: dep.gvk(), Annotated: dep.Link == proxy.LinkAnnotation}
		if _, seen := proofs[k]; !seen {
			proofs[k] = dep
		}
	}
	if len(proofs) > maxRestoredKinds {
		log.Info("run record names too many dependent kinds; restoring none", "kinds", len(proofs))
		return
	}
	var kinds []dependentKind
	for k, dep := range proofs {
		if d.watching(k) {
			kinds = append(kinds, k)
			continue
		}
		if why := d.unproven(ctx, obj, k, dep); why != "" {
			log.V(1).Info("dependent watch not restored", "gvk", k.GVK.String(), "reason", why)
			continue
		}
		if err := d.WatchDependent(ctx, k.GVK, k.Annotated); err != nil {
			log.Error(err, "restore dependent watch", "gvk", k.GVK.String())
			continue
		}
		kinds = append(kinds, k)
	}
	d.waitKinds(ctx, kinds)
}

// unproven says why kind k may not be watched for obj on the evidence of
// dep, or "" when it may: the watch allows the kind, and dep, read from the
// API server with the operator's own credentials, is linked to obj.
func (d *dependentWatches) unproven(ctx context.Context, obj *unstructured.Unstructured, k dependentKind, dep dependentRecord) string {
	if !d.allows(k.GVK) {
		return "not watched by this watch"
	}
	mapping, err := d.mgr.GetRESTMapper().RESTMapping(k.GVK.GroupKind(), k.GVK.Version)
	if err != nil {
		return err.Error()
	}
	if mapping.Scope.Name() == meta.RESTScopeNameRoot && !d.watch.WatchClusterScopedResources {
		return "cluster-scoped and watchClusterScopedResources is false"
	}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(k.GVK)
	if err := d.reader.Get(ctx, client.ObjectKey{Namespace: dep.Namespace, Name: dep.Name}, live); err != nil {
		return err.Error()
	}
	if live.GetUID() != dep.UID || proxy.OwnerOf(obj).Link(live.Object) != dep.Link {
		return "the recorded dependent is not linked to the resource"
	}
	return ""
}

// watching reports whether kind k is watched already.
func (d *dependentWatches) watching(k dependentKind) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.started[k] != nil
}

// waitKinds waits until the informers of the watched kinds among kinds have
// synced. One that does not sync in time is logged; the skip check then finds
// its dependents unreadable and runs.
func (d *dependentWatches) waitKinds(ctx context.Context, kinds []dependentKind) {
	ctx, cancel := context.WithTimeout(ctx, dependentSyncTimeout)
	defer cancel()
	for _, k := range kinds {
		d.mu.Lock()
		src := d.started[k]
		d.mu.Unlock()
		if src == nil {
			continue
		}
		if err := src.WaitForSync(ctx); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "restored dependent watch not synced", "gvk", k.GVK.String())
			return
		}
	}
}
