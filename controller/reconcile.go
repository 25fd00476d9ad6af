package controller

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/mcrouter-operator/mcrouter-operator/proxy"
	"github.com/mcrouter-operator/mcrouter-operator/runner"
	"github.com/mcrouter-operator/mcrouter-operator/shard"
	"github.com/mcrouter-operator/mcrouter-operator/watches"
)

var _ reconcile.Reconciler = (*Reconciler)(nil)

// Reconcile runs the watch's role or playbook for one resource, or its
// finalizer once it is being deleted; doc.go draws the flow.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj, err := r.get(ctx, req)
	if err != nil || obj == nil {
		return ctrl.Result{}, err
	}
	if r.opts.Shard != nil {
		key := memoryKey(obj.GetNamespace(), obj.GetName())
		gated, exit, ok := r.gate.enter(ctx, key, obj.GetResourceVersion())
		if !ok {
			// Being handed off: until it leaves the cache, look again later.
			return ctrl.Result{RequeueAfter: r.opts.Shard.RetryPeriod()}, nil
		}
		defer exit()
		ctx = gated
		if res, ok, err := r.admit(ctx, obj); !ok {
			return res, err
		}
	}
	paused := r.paused(ctx, obj)
	if obj.GetDeletionTimestamp() != nil {
		if paused {
			return r.holdPaused(ctx, obj)
		}
		return r.reconcileDeletion(ctx, obj)
	}
	// Even when paused: a deletion must wait for the finalizer run.
	if err := r.ensureFinalizer(ctx, obj); err != nil {
		return ctrl.Result{}, err
	}
	if paused {
		return r.holdPaused(ctx, obj)
	}
	if err := r.markResumed(ctx, obj); err != nil {
		return ctrl.Result{}, err
	}
	if last := r.lastRecord(ctx, obj); last != nil {
		r.dependents.restore(ctx, obj, last.Dependents)
	}
	if r.requestPending(ctx, obj) {
		return r.reconcileResource(ctx, obj)
	}
	if wait, skip := r.unchanged(ctx, obj); skip {
		return ctrl.Result{RequeueAfter: wait}, r.markReconciled(ctx, obj)
	}
	return r.reconcileResource(ctx, obj)
}

// markReconciled writes, when a run is skipped, that the current generation
// was reconciled successfully, in case the status does not say so yet (it
// was written by an older runtime): the record proves it. No request is
// made when it does.
func (r *Reconciler) markReconciled(ctx context.Context, obj *unstructured.Unstructured) error {
	if !r.opts.Watch.ManageStatus {
		return nil
	}
	if observed, _, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration"); observed == obj.GetGeneration() {
		return nil
	}
	if err := r.patchStatus(ctx, obj, reconciledStatus(obj.GetGeneration(), nil)); err != nil {
		_, err = r.statusFailed(ctx, obj, err)
		return err
	}
	return nil
}

// get reads the resource from the cache; nil when it is gone, in which case
// what we kept for it (memory, runner artifacts) is dropped.
func (r *Reconciler) get(ctx context.Context, req ctrl.Request) (*unstructured.Unstructured, error) {
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(r.gvk)
	err := r.client.Get(ctx, req.NamespacedName, obj)
	if apierrors.IsNotFound(err) {
		r.forget(ctx, req.Namespace, req.Name)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", r.gvk.Kind, req.NamespacedName, err)
	}
	return obj, nil
}

func (r *Reconciler) forget(ctx context.Context, namespace, name string) {
	key := memoryKey(namespace, name)
	if r.opts.Shard != nil {
		// Gone from this replica's cache: deleted, or moved to another replica.
		r.gate.reopen(key)
		if _, known := r.memory.get(key); known {
			if err := r.release(ctx, types.NamespacedName{Namespace: namespace, Name: name}); err != nil {
				r.log(ctx).Error(err, "hand status.reconciledBy to the replica now labelled")
			}
		}
	}
	r.memory.forget(key)
	r.ledgers.forget(key)
	r.requests.forget(key)
	if err := r.opts.Runner.Remove(r.gvk, namespace, name); err != nil {
		r.log(ctx).Error(err, "remove runner artifacts")
	}
}

// reconcileResource is one regular run: status Running, Ansible, status result,
// requeue.
func (r *Reconciler) reconcileResource(ctx context.Context, obj *unstructured.Unstructured) (ctrl.Result, error) {
	w := r.opts.Watch
	key := memoryKey(obj.GetNamespace(), obj.GetName())
	// Until this run succeeds nothing may be skipped: not after a failure, not
	// after this process dies mid-run (the status loses the record too).
	prev := r.lastRecord(ctx, obj)
	r.memory.set(key, nil)
	if w.ManageStatus {
		if err := r.patchStatus(ctx, obj, runningStatus(obj)); err != nil {
			return r.statusFailed(ctx, obj, err)
		}
	}
	// The run sees this snapshot; status writes may re-read obj (conflicts)
	// and find a newer generation, which this run did not reconcile.
	ran := obj.DeepCopy()
	opts := r.runOptions(ctx, ran, w.Role, w.Playbook, w.Vars)
	served := r.request(ctx, ran)
	outcome := r.runAnsible(ctx, ran, opts, purposeReconcile)
	if ctx.Err() != nil {
		// Shutting down: the run was cancelled, which says nothing about the resource.
		return ctrl.Result{}, ctx.Err()
	}
	if served != "" {
		r.requests.set(key, served)
	}
	var rec *record
	if !outcome.failed() {
		rec = r.remember(ctx, ran, outcome, prev)
		r.adoptDependents(ctx, rec)
	}
	created, setCreated := r.trackCreated(ctx, ran, outcome, rec)
	if w.ManageStatus {
		// A role that wrote the resource (k8s_status) left a newer version:
		// start from it rather than conflict with it.
		if latest := r.lastPrimaryWrite(obj, outcome.writes); latest != nil {
			obj = latest
		}
		change := r.runStatus(ctx, ran, outcome, rec)
		change.SetCreated, change.Created = setCreated, created
		change.HandledRequest = served
		if err := r.patchStatus(ctx, obj, change); err != nil {
			return r.statusFailed(ctx, obj, err)
		}
	}
	if outcome.refused() {
		r.recorder.Eventf(obj, nil, corev1.EventTypeWarning, EventRefused, "Reconcile", "%s", outcome.message())
		// Only a change of the resource (a new event) can help.
		return ctrl.Result{}, reconcile.TerminalError(reconcileError{outcome.message()})
	}
	if outcome.failed() {
		r.recorder.Eventf(obj, nil, corev1.EventTypeWarning, EventReconcileFailed, "Reconcile", "%s", outcome.message())
		// A returned error makes controller-runtime back off exponentially.
		return ctrl.Result{}, reconcileError{outcome.message()}
	}
	after := r.requeueAfter(ctx, ran, outcome.result)
	if added, err := r.dependents.waitSynced(ctx); err != nil {
		return ctrl.Result{}, err
	} else if added {
		// New dependent informers have synced: check the dependents once more.
		after = recheckDelay
	}
	return ctrl.Result{RequeueAfter: after}, nil
}

// runStatus is the status change after the run of ran: the conditions, the
// watched dependent kinds and the run record (removed when there is none).
func (r *Reconciler) runStatus(ctx context.Context, ran *unstructured.Unstructured, o *outcome, rec *record) statusChange {
	change := o.status(ran.GetGeneration())
	change.DependentKinds = r.dependents.kinds()
	change.SetRecord = true
	if rec == nil {
		return change
	}
	var err error
	if change.Record, err = encodeRecord(rec); err != nil {
		r.log(ctx).Error(err, "run record not kept in status")
	} else if change.Record == nil {
		r.log(ctx).Info("run record too large for status: kept in memory only", "dependents", len(rec.Dependents))
	}
	return change
}

// lastPrimaryWrite returns the resource as the API server answered the last
// write the run made to it, or nil.
func (r *Reconciler) lastPrimaryWrite(obj *unstructured.Unstructured, writes []proxy.Write) *unstructured.Unstructured {
	var latest *unstructured.Unstructured
	for _, w := range writes {
		if isPrimaryWrite(w, obj) && w.Object != nil && w.Object.GetUID() == obj.GetUID() {
			latest = w.Object
		}
	}
	if latest == nil {
		return nil
	}
	latest = latest.DeepCopy()
	latest.SetGroupVersionKind(r.gvk)
	return latest
}

// recheckDelay is how soon a reconcile that added dependent watches checks
// the dependents again (the check is cheap: no run when nothing changed).
const recheckDelay = 100 * time.Millisecond

// reconcileError is a failed run; its message names the task.
type reconcileError struct{ msg string }

func (e reconcileError) Error() string { return e.msg }

func (r *Reconciler) statusFailed(ctx context.Context, obj *unstructured.Unstructured, err error) (ctrl.Result, error) {
	if errors.Is(err, errNoStatusSubresource) {
		r.recorder.Eventf(obj, nil, corev1.EventTypeWarning, EventStatusUnavailable, "UpdateStatus", "%v", err)
	}
	return ctrl.Result{}, fmt.Errorf("status of %s %s/%s: %w", r.gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
}

// runAnsible executes Ansible for obj with a fresh proxy credential, within the
// global runAnsible limit.
func (r *Reconciler) runAnsible(ctx context.Context, obj *unstructured.Unstructured, opts runner.RunOptions, purpose runPurpose) *outcome {
	if err := r.opts.RunLimiter.Acquire(ctx); err != nil {
		return &outcome{err: err}
	}
	defer r.opts.RunLimiter.Release()

	session := proxy.Session{
		Owner:                       proxy.OwnerOf(obj),
		Blacklist:                   r.opts.Watch.Blacklist,
		WatchClusterScopedResources: r.opts.Watch.WatchClusterScopedResources,
	}
	if r.opts.Watch.WatchDependentResources {
		session.Watcher = r.dependents
	}
	if r.opts.Shard != nil {
		session.Labels = map[string]string{shard.Label: r.opts.Shard.Identity()}
	}
	cred, err := r.opts.Proxy.Register(session)
	if err != nil {
		return &outcome{err: fmt.Errorf("register run with proxy: %w", err)}
	}
	defer cred.Release()
	opts.Kubeconfig = cred.Kubeconfig()

	start := time.Now()
	res, err := r.opts.Runner.Run(ctx, obj, opts)
	o := &outcome{result: res, err: err, writes: cred.Writes(), reads: cred.Reads()}
	r.opts.Metrics.observeRun(r.gvk, purpose, o.failed(), time.Since(start))
	return o
}

// RunOptions are the options every run of w's role or playbook shares,
// before a resource's annotations apply.
func RunOptions(w watches.Watch) runner.RunOptions {
	return runner.RunOptions{
		Role:                w.Role,
		Playbook:            w.Playbook,
		Vars:                w.Vars,
		SnakeCaseParameters: w.SnakeCaseParameters,
		MarkUnsafe:          w.MarkUnsafe,
		Verbosity:           w.AnsibleVerbosity,
		MaxArtifacts:        w.MaxRunnerArtifacts,
		DiscardArtifacts:    w.MaxRunnerArtifacts == 0,
		Executor:            runner.Executor(w.AnsibleExecutor),
	}
}

// runOptions maps the watch and the resource's annotations to one run of
// role or playbook with vars (the watch's, or its finalizer's). The
// annotations are CR input: the operator's flags bound what they may ask for.
func (r *Reconciler) runOptions(ctx context.Context, obj *unstructured.Unstructured, role, playbook string, vars map[string]any) runner.RunOptions {
	o := RunOptions(r.opts.Watch)
	o.Role, o.Playbook, o.Vars = role, playbook, vars
	o.Verbosity = r.intAnnotation(ctx, obj, AnnotationVerbosity, o.Verbosity, 0, r.opts.MaxVerbosityAnnotation)
	o.MaxArtifacts = r.intAnnotation(ctx, obj, AnnotationMaxRunnerArtifacts, o.MaxArtifacts, 0, r.opts.MaxArtifactsAnnotation)
	o.DiscardArtifacts = o.MaxArtifacts == 0
	return o
}

// requeueAfter: a requeue_after task result wins, then the reconcile-period
// annotation, then the watch's reconcilePeriod; 0 disables periodic requeue.
func (r *Reconciler) requeueAfter(ctx context.Context, obj *unstructured.Unstructured, res *runner.Result) time.Duration {
	if res != nil && res.RequeueAfter > 0 {
		return res.RequeueAfter
	}
	return r.period(ctx, obj)
}

// period is the reconcile-period annotation, else the watch's period. The
// annotation may disable periodic runs (0) but not ask for them more often
// than MinReconcilePeriod.
func (r *Reconciler) period(ctx context.Context, obj *unstructured.Unstructured) time.Duration {
	v, ok := obj.GetAnnotations()[AnnotationReconcilePeriod]
	if !ok {
		return r.opts.Watch.ReconcilePeriod
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil || d < 0:
		r.badAnnotation(ctx, obj, AnnotationReconcilePeriod, v, "is not a duration such as 30s or 5m; using the default")
		return r.opts.Watch.ReconcilePeriod
	case d > 0 && d < r.opts.MinReconcilePeriod:
		r.badAnnotation(ctx, obj, AnnotationReconcilePeriod, v,
			fmt.Sprintf("is below the operator's minimum; using %s (flag --min-reconcile-period)", r.opts.MinReconcilePeriod))
		return r.opts.MinReconcilePeriod
	}
	return d
}

// intAnnotation reads an integer annotation: def when absent or not an
// integer of at least lo, hi when above hi.
func (r *Reconciler) intAnnotation(ctx context.Context, obj *unstructured.Unstructured, key string, def, lo, hi int) int {
	v, ok := obj.GetAnnotations()[key]
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	switch {
	case err != nil || n < lo:
		r.badAnnotation(ctx, obj, key, v, fmt.Sprintf("is not an integer from %d to %d; using the default", lo, hi))
		return def
	case n > hi:
		r.badAnnotation(ctx, obj, key, v, fmt.Sprintf("is above the operator's maximum; using %d", hi))
		return hi
	}
	return n
}

// badAnnotation reports an annotation value not used as given: why says
// what was used instead.
func (r *Reconciler) badAnnotation(ctx context.Context, obj *unstructured.Unstructured, key, value, why string) {
	msg := fmt.Sprintf("annotation %s=%q %s", key, value, why)
	r.log(ctx).Info("invalid annotation", "annotation", key, "value", value)
	r.recorder.Eventf(obj, nil, corev1.EventTypeWarning, EventBadAnnotation, "Reconcile", "%s", msg)
}

func memoryKey(namespace, name string) string { return namespace + "/" + name }
