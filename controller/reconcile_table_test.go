package controller

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/mcrouter-operator/mcrouter-operator/runner"
	"github.com/mcrouter-operator/mcrouter-operator/watches"
)

// The tables below drive Reconcile through its phases on a fake API server
// with recording fakes of the runner and the proxy: fast feedback on the
// decisions (run or skip, which status, which event, requeue when). That the
// decisions hold against a real API server and real Ansible is shown by the
// real-cluster tests (test/e2e, test/operator).

const testFinalizer = "ops.example.com/cleanup"

var appKey = types.NamespacedName{Namespace: "ns", Name: "app"}

// testWatch is the watch of the test kind: role app, status managed, an
// hourly reconcile period, no finalizer.
func testWatch() watches.Watch {
	return watches.Watch{GroupVersionKind: ownerGVK, Role: "app", ManageStatus: true,
		ReconcilePeriod: time.Hour, MaxConcurrentReconciles: 1}
}

func withFinalizer(vars map[string]any) func(*watches.Watch) {
	return func(w *watches.Watch) {
		w.Finalizer = &watches.Finalizer{Name: testFinalizer, Role: "cleanup", Vars: vars}
	}
}

// deleting marks the resource deleted while finalizers hold it.
func deleting(finalizers ...string) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) {
		now := metav1.NewTime(testClock)
		u.SetDeletionTimestamp(&now)
		u.SetFinalizers(finalizers)
	}
}

func annotate(kv ...string) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) {
		a := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			a[kv[i]] = kv[i+1]
		}
		u.SetAnnotations(a)
	}
}

// fail is a run script: every run fails in task.
func fail(task, msg string) func(context.Context, runCall) (*runner.Result, error) {
	return func(context.Context, runCall) (*runner.Result, error) {
		return &runner.Result{Stats: runner.Stats{Failures: 1}, Failures: []runner.TaskFailure{{Task: task, Message: msg}}}, nil
	}
}

// statusConflicts makes the first n status writes answer Conflict.
func statusConflicts(n int) interceptor.Funcs {
	writes := 0
	return interceptor.Funcs{
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			writes++
			if writes <= n {
				return apierrors.NewConflict(schema.GroupResource{Group: ownerGVK.Group, Resource: "apps"}, obj.GetName(), errors.New("the object has been modified"))
			}
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
	}
}

// phase is one Reconcile scenario and what it must leave behind.
type phase struct {
	name  string
	watch func(*watches.Watch)
	obj   func(*unstructured.Unstructured)
	gone  bool // the resource does not exist
	funcs interceptor.Funcs
	// run scripts the runner (and the proxy issues credentials); nil: no
	// run may start.
	run func(context.Context, runCall) (*runner.Result, error)
	// reconciles is how many times Reconcile runs (default 1); the
	// expectations are about the last.
	reconciles int
	// between changes the stored resource before each reconcile after the
	// first; nil: nothing changes.
	between func(t *testing.T, f *fakeReconciler)

	wantRoles   []string // the role of each run, in order
	wantResult  ctrl.Result
	wantErr     string // part of the error; "" for none
	wantRemoved bool   // the runner's artifacts of the resource are removed
	// wantConditions maps a condition type to "Status Reason" on the stored
	// resource after the last reconcile.
	wantConditions map[string]string
	wantEvents     []string // "Type Reason" of each Event
	check          func(t *testing.T, f *fakeReconciler, err error)
}

func TestReconcilePhases(t *testing.T) {
	for _, tt := range []phase{
		{
			name:      "run: status Running, then Successful; requeue after the reconcile period",
			run:       succeed(runner.Result{Stats: runner.Stats{Ok: 2}}),
			wantRoles: []string{"app"}, wantResult: ctrl.Result{RequeueAfter: time.Hour},
			wantConditions: map[string]string{
				TypeRunning: "True Successful", TypeSuccessful: "True Successful", TypeFailure: "False Successful",
				TypeReady: "True Successful", TypeReconciling: "False Successful", TypeStalled: "False Successful",
			},
			check: func(t *testing.T, f *fakeReconciler, _ error) {
				run := f.runner.Runs()[0]
				if got := conditions(run.Obj)[TypeRunning]; got != "True Running" {
					t.Errorf("the run saw Running %q, want the Running status written before it", got)
				}
				if string(run.Opts.Kubeconfig) != "fake kubeconfig" {
					t.Errorf("run kubeconfig %q, want the credential's", run.Opts.Kubeconfig)
				}
				if s := f.issuer.Sessions(); len(s) != 1 || s[0].Owner.UID != ownerUID {
					t.Errorf("sessions %+v, want one owned by the resource", s)
				}
				obj := f.stored(t)
				if g, _, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration"); g != obj.GetGeneration() {
					t.Errorf("observedGeneration %d, want %d", g, obj.GetGeneration())
				}
				if _, found, _ := unstructured.NestedFieldNoCopy(obj.Object, "status", statusRecordKey); !found {
					t.Error("no run record in status after a successful run")
				}
				f.wantRuns(t, purposeReconcile, "succeeded", 1)
			},
		},
		{
			name:      "failure: Failure with the task's message, an error for backoff, a Warning",
			run:       fail("install", "boom\n  at line 3"),
			wantRoles: []string{"app"}, wantErr: `task "install" failed: boom at line 3`,
			wantConditions: map[string]string{
				TypeRunning: "False Failed", TypeSuccessful: "False Failed", TypeFailure: "True Failed",
				TypeReady: "False Failed", TypeStalled: "True Failed",
			},
			wantEvents: []string{"Warning " + EventReconcileFailed},
			check: func(t *testing.T, f *fakeReconciler, err error) {
				if errors.Is(err, reconcile.TerminalError(nil)) {
					t.Error("a failed run's error is terminal; want backoff")
				}
				if msg := conditionMessage(f.stored(t), TypeFailure); msg != `task "install" failed: boom at line 3` {
					t.Errorf("Failure message %q", msg)
				}
				if _, found, _ := unstructured.NestedFieldNoCopy(f.stored(t).Object, "status", statusRecordKey); found {
					t.Error("a run record in status after a failed run")
				}
				f.wantRuns(t, purposeReconcile, "failed", 1)
			},
		},
		{
			name: "failure: a run that could not complete reports why",
			run: func(context.Context, runCall) (*runner.Result, error) {
				return nil, errors.New("ansible-runner: exit status 2")
			},
			wantRoles: []string{"app"}, wantErr: "ansible-runner: exit status 2",
			wantConditions: map[string]string{TypeFailure: "True Failed", TypeSuccessful: "False Failed"},
			wantEvents:     []string{"Warning " + EventReconcileFailed},
		},
		{
			name:      "status not managed: the run leaves status alone",
			watch:     func(w *watches.Watch) { w.ManageStatus = false },
			run:       succeed(runner.Result{}),
			wantRoles: []string{"app"}, wantResult: ctrl.Result{RequeueAfter: time.Hour},
			check: func(t *testing.T, f *fakeReconciler, _ error) {
				if st, found, _ := unstructured.NestedFieldNoCopy(f.stored(t).Object, "status"); found {
					t.Errorf("status %v written with manageStatus false", st)
				}
			},
		},
		{
			name: "refused: a resource Ansible must not see ends in a terminal error",
			run: func(context.Context, runCall) (*runner.Result, error) {
				return nil, &runner.SpecError{Path: "spec.x", Reason: "is a template"}
			},
			wantRoles: []string{"app"}, wantErr: "spec.x: is a template",
			wantConditions: map[string]string{TypeFailure: "True Failed", TypeRunning: "False Failed"},
			wantEvents:     []string{"Warning " + EventRefused},
			check: func(t *testing.T, f *fakeReconciler, err error) {
				if !errors.Is(err, reconcile.TerminalError(nil)) {
					t.Errorf("error %v is not terminal", err)
				}
				if msg := conditionMessage(f.stored(t), TypeRunning); msg != MessageRefused {
					t.Errorf("Running message %q, want %q", msg, MessageRefused)
				}
			},
		},
		{
			name:       "skip: a second reconcile with nothing changed starts no run",
			run:        succeed(runner.Result{}),
			reconciles: 2,
			wantRoles:  []string{"app"}, wantResult: ctrl.Result{RequeueAfter: time.Hour},
			wantConditions: map[string]string{TypeSuccessful: "True Successful", TypeReady: "True Successful"},
			check: func(t *testing.T, f *fakeReconciler, _ error) {
				if n := counterValue(t, f.metrics.skipped.WithLabelValues(ownerGVK.String())); n != 1 {
					t.Errorf("%v skipped runs counted, want 1", n)
				}
			},
		},
		{
			name:       "skip: a new generation runs again",
			run:        succeed(runner.Result{}),
			reconciles: 2,
			between: func(t *testing.T, f *fakeReconciler) {
				f.update(t, func(u *unstructured.Unstructured) { u.SetGeneration(u.GetGeneration() + 1) })
			},
			wantRoles: []string{"app", "app"}, wantResult: ctrl.Result{RequeueAfter: time.Hour},
		},
		{
			name:       "skip: a new reconcile-requested-at value runs again",
			obj:        annotate(AnnotationReconcileRequestedAt, "first"),
			run:        succeed(runner.Result{}),
			reconciles: 3,
			between: func(t *testing.T, f *fakeReconciler) {
				f.update(t, func(u *unstructured.Unstructured) {
					u.SetAnnotations(map[string]string{AnnotationReconcileRequestedAt: "second"})
				})
			},
			wantRoles: []string{"app", "app"}, wantResult: ctrl.Result{RequeueAfter: time.Hour},
			check: func(t *testing.T, f *fakeReconciler, _ error) {
				if got, _, _ := unstructured.NestedString(f.stored(t).Object, "status", statusHandledRequestKey); got != "second" {
					t.Errorf("status.%s %q, want the last request served", statusHandledRequestKey, got)
				}
			},
		},
		{
			name:      "requeue: requeue_after from the result wins over the period",
			run:       succeed(runner.Result{RequeueAfter: 42 * time.Second}),
			wantRoles: []string{"app"}, wantResult: ctrl.Result{RequeueAfter: 42 * time.Second},
		},
		{
			name:      "requeue: the reconcile-period annotation wins over the watch's period",
			obj:       annotate(AnnotationReconcilePeriod, "10m"),
			run:       succeed(runner.Result{}),
			wantRoles: []string{"app"}, wantResult: ctrl.Result{RequeueAfter: 10 * time.Minute},
		},
		{
			name:      "requeue: a reconcile-period annotation below the minimum is raised to it",
			obj:       annotate(AnnotationReconcilePeriod, "1s"),
			run:       succeed(runner.Result{}),
			wantRoles: []string{"app"}, wantResult: ctrl.Result{RequeueAfter: DefaultMinReconcilePeriod},
			wantEvents: []string{"Warning " + EventBadAnnotation},
		},
		{
			name:      "requeue: a reconcile-period annotation of 0 disables periodic runs",
			obj:       annotate(AnnotationReconcilePeriod, "0s"),
			run:       succeed(runner.Result{}),
			wantRoles: []string{"app"}, wantResult: ctrl.Result{},
		},
		{
			name:      "finalizer: added on the first reconcile, before the run",
			watch:     withFinalizer(nil),
			run:       succeed(runner.Result{}),
			wantRoles: []string{"app"}, wantResult: ctrl.Result{RequeueAfter: time.Hour},
			check: func(t *testing.T, f *fakeReconciler, _ error) {
				if got := f.runner.Runs()[0].Obj.GetFinalizers(); !slices.Contains(got, testFinalizer) {
					t.Errorf("the run saw finalizers %q, want %s added first", got, testFinalizer)
				}
				if got := f.stored(t).GetFinalizers(); !slices.Equal(got, []string{testFinalizer}) {
					t.Errorf("finalizers %q, want [%s]", got, testFinalizer)
				}
			},
		},
		{
			name:        "deletion: the finalizer role runs, then the finalizer is removed",
			watch:       withFinalizer(map[string]any{"state": "absent"}),
			obj:         deleting(testFinalizer),
			run:         succeed(runner.Result{}),
			wantRoles:   []string{"cleanup"},
			wantRemoved: true,
			check: func(t *testing.T, f *fakeReconciler, _ error) {
				if got := f.runner.Runs()[0].Opts.Vars["state"]; got != "absent" {
					t.Errorf("finalizer run var state=%v, want the finalizer's vars", got)
				}
				if _, ok := f.get(t); ok {
					t.Error("the resource is still there: finalizer not removed")
				}
				f.wantRuns(t, purposeFinalizer, "succeeded", 1)
				f.wantRuns(t, purposeReconcile, "succeeded", 0)
			},
		},
		{
			name:           "deletion: a failed finalizer run keeps the finalizer and backs off",
			watch:          withFinalizer(nil),
			obj:            deleting(testFinalizer),
			run:            fail("cleanup", "cannot"),
			wantRoles:      []string{"cleanup"},
			wantErr:        "finalizer " + testFinalizer + `: task "cleanup" failed: cannot`,
			wantConditions: map[string]string{TypeFailure: "True Failed"},
			wantEvents:     []string{"Warning " + EventFinalizerFailed},
			check: func(t *testing.T, f *fakeReconciler, _ error) {
				if got := f.stored(t).GetFinalizers(); !slices.Contains(got, testFinalizer) {
					t.Errorf("finalizers %q: removed after a failed finalizer run", got)
				}
				f.wantRuns(t, purposeFinalizer, "failed", 1)
			},
		},
		{
			name:  "deletion: without our finalizer nothing runs",
			watch: withFinalizer(nil),
			obj:   deleting("someone.else/keep"),
		},
		{
			name:           "paused: no run, the Paused condition says why",
			obj:            annotate(AnnotationPauseReconcile, "true"),
			wantResult:     ctrl.Result{},
			wantConditions: map[string]string{TypePaused: "True Paused"},
		},
		{
			name:  "paused: a deletion waits, finalizer kept",
			watch: withFinalizer(nil),
			obj: func(u *unstructured.Unstructured) {
				annotate(AnnotationPauseReconcile, "true")(u)
				deleting(testFinalizer)(u)
			},
			wantConditions: map[string]string{TypePaused: "True Paused"},
			check: func(t *testing.T, f *fakeReconciler, _ error) {
				if got := f.stored(t).GetFinalizers(); !slices.Contains(got, testFinalizer) {
					t.Errorf("finalizers %q, want %s kept", got, testFinalizer)
				}
			},
		},
		{
			name:        "gone: the runner's artifacts are removed, nothing runs",
			gone:        true,
			wantRemoved: true,
		},
		{
			name:      "status conflict: the status is re-read and written again",
			funcs:     statusConflicts(1),
			run:       succeed(runner.Result{}),
			wantRoles: []string{"app"}, wantResult: ctrl.Result{RequeueAfter: time.Hour},
			wantConditions: map[string]string{TypeRunning: "True Successful", TypeSuccessful: "True Successful"},
		},
		{
			name:    "status conflict: one that persists starts no run and returns the conflict",
			funcs:   statusConflicts(1000),
			wantErr: "write status",
			check: func(t *testing.T, _ *fakeReconciler, err error) {
				if !apierrors.IsConflict(err) {
					t.Errorf("error %v is not the conflict", err)
				}
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.test(t) })
	}
}

func (tt phase) test(t *testing.T) {
	w := testWatch()
	if tt.watch != nil {
		tt.watch(&w)
	}
	var objs []client.Object
	if !tt.gone {
		obj := testOwner()
		if tt.obj != nil {
			tt.obj(obj)
		}
		objs = append(objs, obj)
	}
	f := newFakeReconciler(t, w, tt.funcs, objs...)
	if tt.run != nil {
		f.runner.run = tt.run
		f.issuer.register = issue(nil, nil)
	}
	if tt.wantRemoved {
		f.runner.remove = func(removeCall) error { return nil }
	}
	ctx := ctrl.LoggerInto(t.Context(), testr.New(t))
	var err error
	var res ctrl.Result
	for i := range max(tt.reconciles, 1) {
		if i > 0 && tt.between != nil {
			tt.between(t, f)
		}
		res, err = f.Reconcile(ctx, ctrl.Request{NamespacedName: appKey})
	}

	if tt.wantErr == "" && err != nil {
		t.Errorf("error %v, want none", err)
	}
	if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
		t.Errorf("error %v, want one containing %q", err, tt.wantErr)
	}
	if res != tt.wantResult {
		t.Errorf("result %+v, want %+v", res, tt.wantResult)
	}
	var roles []string
	for _, r := range f.runner.Runs() {
		roles = append(roles, r.Opts.Role)
	}
	if diff := cmp.Diff(tt.wantRoles, roles); diff != "" {
		t.Errorf("runs by role (-want +got):\n%s", diff)
	}
	for i, c := range f.issuer.Issued() {
		if n := c.Released(); n != 1 {
			t.Errorf("credential %d released %d times, want once", i, n)
		}
	}
	var wantRemoves []removeCall
	if tt.wantRemoved {
		wantRemoves = []removeCall{{GVK: ownerGVK, Namespace: "ns", Name: "app"}}
	}
	if diff := cmp.Diff(wantRemoves, f.runner.Removes()); diff != "" {
		t.Errorf("artifacts removed (-want +got):\n%s", diff)
	}
	var evs []string
	for _, e := range f.events.Events() {
		evs = append(evs, e.Type+" "+e.Reason)
	}
	if diff := cmp.Diff(tt.wantEvents, evs); diff != "" {
		t.Errorf("events (-want +got):\n%s\nall: %v", diff, f.events.Events())
	}
	if len(tt.wantConditions) > 0 {
		got := conditions(f.stored(t))
		for typ, want := range tt.wantConditions {
			if got[typ] != want {
				t.Errorf("condition %s %q, want %q (all: %v)", typ, got[typ], want, got)
			}
		}
	}
	if tt.check != nil {
		tt.check(t, f, err)
	}
}

// get reads the resource from the fake API server; false when it is gone.
func (f *fakeReconciler) get(t *testing.T) (*unstructured.Unstructured, bool) {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(f.gvk)
	err := f.client.Get(t.Context(), appKey, u)
	if apierrors.IsNotFound(err) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return u, true
}

// stored is the resource as the fake API server holds it.
func (f *fakeReconciler) stored(t *testing.T) *unstructured.Unstructured {
	t.Helper()
	u, ok := f.get(t)
	if !ok {
		t.Fatal("the resource is gone")
	}
	return u
}

// update changes the stored resource with mutate.
func (f *fakeReconciler) update(t *testing.T, mutate func(*unstructured.Unstructured)) {
	t.Helper()
	u := f.stored(t)
	mutate(u)
	if err := f.client.Update(t.Context(), u); err != nil {
		t.Fatal(err)
	}
}

// wantRuns checks the ansible_operator_reconcile_result count of purpose
// and result.
func (f *fakeReconciler) wantRuns(t *testing.T, purpose runPurpose, result string, want float64) {
	t.Helper()
	if n := counterValue(t, f.metrics.results.WithLabelValues(ownerGVK.String(), result, string(purpose))); n != want {
		t.Errorf("%v %s runs %s, want %v", n, purpose, result, want)
	}
}

// conditions maps each condition type of obj's status to "Status Reason".
func conditions(obj *unstructured.Unstructured) map[string]string {
	out := map[string]string{}
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		typ, _ := m["type"].(string)
		status, _ := m["status"].(string)
		reason, _ := m["reason"].(string)
		out[typ] = status + " " + reason
	}
	return out
}

func conditionMessage(obj *unstructured.Unstructured, typ string) string {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		if m, _ := c.(map[string]any); m["type"] == typ {
			msg, _ := m["message"].(string)
			return msg
		}
	}
	return ""
}

// counterValue reads counter c.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
