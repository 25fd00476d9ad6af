package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/mcrouter-operator/mcrouter-operator/proxy"
	"github.com/mcrouter-operator/mcrouter-operator/runner"
	"github.com/mcrouter-operator/mcrouter-operator/watches"
)

// errNotImplemented is what a fake answers for a call its test did not
// script; the fake also fails the test, so nothing passes by accident.
var errNotImplemented = errors.New("not implemented by the fake")

// notImplemented fails t for an unscripted call and returns the error the
// fake answers with. Errorf, not Fatal: the call may come from any goroutine.
func notImplemented(t testing.TB, call string) error {
	t.Helper()
	t.Errorf("unscripted call %s", call)
	return fmt.Errorf("%s: %w", call, errNotImplemented)
}

// runCall is one call of fakeRunner.Run: a copy of the resource as the run
// saw it, and its options.
type runCall struct {
	Obj  *unstructured.Unstructured
	Opts runner.RunOptions
}

// removeCall is one call of fakeRunner.Remove.
type removeCall struct {
	GVK             schema.GroupVersionKind
	Namespace, Name string
}

// fakeRunner is a Runner that records its calls and answers with what the
// test scripted: run answers Run, remove answers Remove; an unscripted call
// fails the test.
type fakeRunner struct {
	t      testing.TB
	run    func(ctx context.Context, call runCall) (*runner.Result, error)
	remove func(call removeCall) error

	mu      sync.Mutex
	runs    []runCall
	removes []removeCall
}

var _ Runner = (*fakeRunner)(nil)

func (f *fakeRunner) Run(ctx context.Context, obj *unstructured.Unstructured, opts runner.RunOptions) (*runner.Result, error) {
	call := runCall{Obj: obj.DeepCopy(), Opts: opts}
	f.mu.Lock()
	f.runs = append(f.runs, call)
	f.mu.Unlock()
	if f.run == nil {
		return nil, notImplemented(f.t, "Runner.Run")
	}
	return f.run(ctx, call)
}

func (f *fakeRunner) Remove(gvk schema.GroupVersionKind, namespace, name string) error {
	call := removeCall{GVK: gvk, Namespace: namespace, Name: name}
	f.mu.Lock()
	f.removes = append(f.removes, call)
	f.mu.Unlock()
	if f.remove == nil {
		return notImplemented(f.t, "Runner.Remove")
	}
	return f.remove(call)
}

// Runs returns the recorded Run calls.
func (f *fakeRunner) Runs() []runCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]runCall(nil), f.runs...)
}

// Removes returns the recorded Remove calls.
func (f *fakeRunner) Removes() []removeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]removeCall(nil), f.removes...)
}

// succeed is a run script: every run succeeds with result.
func succeed(result runner.Result) func(context.Context, runCall) (*runner.Result, error) {
	return func(context.Context, runCall) (*runner.Result, error) {
		res := result
		return &res, nil
	}
}

// fakeIssuer is a CredentialIssuer that records the sessions it is asked
// for and answers with what the test scripted: register answers Register;
// unscripted, Register fails the test.
type fakeIssuer struct {
	t        testing.TB
	register func(s proxy.Session) (Credential, error)

	mu       sync.Mutex
	sessions []proxy.Session
	issued   []*fakeCredential
}

var _ CredentialIssuer = (*fakeIssuer)(nil)

func (f *fakeIssuer) Register(s proxy.Session) (Credential, error) {
	f.mu.Lock()
	f.sessions = append(f.sessions, s)
	f.mu.Unlock()
	if f.register == nil {
		return nil, notImplemented(f.t, "CredentialIssuer.Register")
	}
	c, err := f.register(s)
	if fc, ok := c.(*fakeCredential); ok {
		f.mu.Lock()
		f.issued = append(f.issued, fc)
		f.mu.Unlock()
	}
	return c, err
}

// Sessions returns the recorded Register calls.
func (f *fakeIssuer) Sessions() []proxy.Session {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]proxy.Session(nil), f.sessions...)
}

// Issued returns the fake credentials handed out.
func (f *fakeIssuer) Issued() []*fakeCredential {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*fakeCredential(nil), f.issued...)
}

// issue is a register script: every session gets a fresh fakeCredential
// reporting writes and reads as the run's.
func issue(writes []proxy.Write, reads []proxy.Read) func(proxy.Session) (Credential, error) {
	return func(proxy.Session) (Credential, error) {
		return &fakeCredential{kubeconfig: []byte("fake kubeconfig"), writes: writes, reads: reads}, nil
	}
}

// fakeCredential is a Credential reporting the writes and reads it was
// given; it records whether it was released.
type fakeCredential struct {
	kubeconfig []byte
	writes     []proxy.Write
	reads      []proxy.Read

	mu       sync.Mutex
	released int
}

var _ Credential = (*fakeCredential)(nil)

func (c *fakeCredential) Kubeconfig() []byte    { return c.kubeconfig }
func (c *fakeCredential) Writes() []proxy.Write { return c.writes }
func (c *fakeCredential) Reads() []proxy.Read   { return c.reads }

func (c *fakeCredential) Release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.released++
}

// Released is how many times Release was called.
func (c *fakeCredential) Released() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.released
}

// recordedEvent is one Event a fakeEvents recorded.
type recordedEvent struct{ Type, Reason, Note string }

func (e recordedEvent) String() string { return e.Type + " " + e.Reason + ": " + e.Note }

// fakeEvents is an events recorder that records every Event.
type fakeEvents struct {
	mu     sync.Mutex
	events []recordedEvent
}

var _ events.EventRecorder = (*fakeEvents)(nil)

func (f *fakeEvents) Eventf(_, _ runtime.Object, eventtype, reason, _, note string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, recordedEvent{Type: eventtype, Reason: reason, Note: fmt.Sprintf(note, args...)})
}

// Events returns the recorded Events.
func (f *fakeEvents) Events() []recordedEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recordedEvent(nil), f.events...)
}

// testClock is the reconciler's fixed now.
var testClock = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// fakeReconciler is a Reconciler built without a manager: a fake API server
// with the status subresource of the watch's kind, recording fakes of the
// runner, the credential issuer and the events recorder, and a fixed clock.
type fakeReconciler struct {
	*Reconciler
	client  client.Client
	runner  *fakeRunner
	issuer  *fakeIssuer
	events  *fakeEvents
	metrics *Metrics
}

// newFakeReconciler builds the Reconciler of w on a fake API server holding
// objs, whose calls go through funcs first. The runner and issuer are
// unscripted: the test sets what they answer.
func newFakeReconciler(t testing.TB, w watches.Watch, funcs interceptor.Funcs, objs ...client.Object) *fakeReconciler {
	t.Helper()
	kind := &unstructured.Unstructured{}
	kind.SetGroupVersionKind(w.GroupVersionKind)
	// A scheme of its own and the deduced type converter keep the fake
	// cheap: with client-go's scheme and schemas, building the type
	// converter takes about 100 ms, and every write maps its kind over the
	// whole scheme. The resource is unstructured, a kind neither knows.
	c := fake.NewClientBuilder().
		WithScheme(runtime.NewScheme()).
		WithTypeConverters(managedfields.NewDeducedTypeConverter()).
		WithObjects(objs...).
		WithStatusSubresource(kind).
		WithInterceptorFuncs(funcs).
		Build()
	m, err := NewMetrics(prometheus.NewRegistry(), "test", "go")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeReconciler{
		client:  c,
		runner:  &fakeRunner{t: t},
		issuer:  &fakeIssuer{t: t},
		events:  &fakeEvents{},
		metrics: m,
	}
	opts := Options{Watch: w, Runner: f.runner, Proxy: f.issuer, Metrics: m}
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		t.Fatal(err)
	}
	f.Reconciler = &Reconciler{
		opts:      opts,
		gvk:       w.GroupVersionKind,
		name:      Name(w.GroupVersionKind),
		client:    c,
		apiReader: c,
		recorder:  f.events,
		now:       func() time.Time { return testClock },
		// No manager: a watch that restores or adds dependent watches
		// needs one (the tests keep watchDependentResources off).
		dependents: &dependentWatches{watch: w, started: map[dependentKind]source.TypedSyncingSource[reconcile.Request]{}},
		memory:     newMemory(),
		ledgers:    newLedgers(),
		requests:   newRequests(),
		gate:       newGate(),
	}
	return f
}

// failures records what a fake reports to its test.
type failures struct {
	testing.TB
	msgs []string
}

func (f *failures) Errorf(format string, args ...any) {
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}

// Unscripted, each fake fails its test and answers "not implemented".
func TestFakesDefaultToNotImplemented(t *testing.T) {
	tb := &failures{TB: t}
	r, i := &fakeRunner{t: tb}, &fakeIssuer{t: tb}
	_, runErr := r.Run(t.Context(), testOwner(), runner.RunOptions{Role: "app"})
	removeErr := r.Remove(ownerGVK, "ns", "app")
	cred, registerErr := i.Register(proxy.Session{})
	for _, err := range []error{runErr, removeErr, registerErr} {
		if !errors.Is(err, errNotImplemented) {
			t.Errorf("error %v, want %v", err, errNotImplemented)
		}
	}
	if cred != nil {
		t.Errorf("credential %v issued unscripted", cred)
	}
	if len(tb.msgs) != 3 {
		t.Errorf("test failed %d times (%q), want once per call", len(tb.msgs), tb.msgs)
	}
	if len(r.Runs()) != 1 || r.Runs()[0].Opts.Role != "app" || len(r.Removes()) != 1 || len(i.Sessions()) != 1 {
		t.Errorf("calls not recorded: runs %v, removes %v, sessions %v", r.Runs(), r.Removes(), i.Sessions())
	}
}
