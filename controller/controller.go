package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/mcrouter-operator/mcrouter-operator/proxy"
	"github.com/mcrouter-operator/mcrouter-operator/runner"
	"github.com/mcrouter-operator/mcrouter-operator/watches"
)

// Runner runs one role or playbook for one resource.
type Runner interface {
	Run(ctx context.Context, obj *unstructured.Unstructured, opts runner.RunOptions) (*runner.Result, error)
	Remove(gvk schema.GroupVersionKind, namespace, name string) error
}

// CredentialIssuer hands out the per-run proxy credential.
type CredentialIssuer interface {
	Register(s proxy.Session) (Credential, error)
}

// Credential is what a run needs of its proxy credential: the kubeconfig
// Ansible uses, what the run wrote and read through the proxy, and its
// release when the run is over. *proxy.Credential is one.
type Credential interface {
	Kubeconfig() []byte
	Writes() []proxy.Write
	Reads() []proxy.Read
	Release()
}

// ProxyIssuer is p as the CredentialIssuer of Options.Proxy; nil when p is
// nil. The adapter exists because proxy.Proxy.Register returns the concrete
// *proxy.Credential, and a Go method satisfies an interface only with the
// exact result type; the interface result lets tests issue fakes.
func ProxyIssuer(p *proxy.Proxy) CredentialIssuer {
	if p == nil {
		return nil
	}
	return proxyIssuer{p}
}

type proxyIssuer struct{ p *proxy.Proxy }

func (i proxyIssuer) Register(s proxy.Session) (Credential, error) {
	c, err := i.p.Register(s)
	if err != nil {
		return nil, err // not a nil *proxy.Credential in a non-nil interface
	}
	return c, nil
}

var (
	_ Runner           = (*runner.Runner)(nil)
	_ CredentialIssuer = proxyIssuer{}
	_ Credential       = (*proxy.Credential)(nil)
)

// Options configures the controller of one watch.
type Options struct {
	// Watch is the watches.yaml entry as watches.Load resolved it (its
	// MaxConcurrentReconciles bounds parallel reconciles); required.
	Watch watches.Watch
	// Runner runs Ansible; required.
	Runner Runner
	// Proxy issues per-run credentials (ProxyIssuer of the operator's
	// proxy); required.
	Proxy CredentialIssuer
	// RunLimiter caps concurrent Ansible runs across all watches. Default: none.
	RunLimiter *Limiter
	// Metrics records reconcile results. Default: none.
	Metrics *Metrics
	// Namespaces restricts reconciles to these namespaces (WATCH_NAMESPACE).
	// Default: all.
	Namespaces []string
	// MinReconcilePeriod is the shortest period the reconcile-period
	// annotation may ask for (flag --min-reconcile-period). Default:
	// DefaultMinReconcilePeriod.
	MinReconcilePeriod time.Duration
	// MaxVerbosityAnnotation bounds the verbosity annotation (flag
	// --max-verbosity-annotation, whose default is
	// DefaultMaxVerbosityAnnotation). Default: 0, the annotation cannot
	// raise the verbosity.
	MaxVerbosityAnnotation int
	// MaxArtifactsAnnotation bounds the max-runner-artifacts annotation
	// (flag --max-artifacts-annotation). Default: DefaultMaxArtifactsAnnotation.
	MaxArtifactsAnnotation int
	// Shard, when set, makes this replica reconcile only the resources
	// labelled for it, and only once status.reconciledBy names it (flag
	// --sharding). Default: nil, this replica reconciles every resource.
	Shard Shard
}

// Defaults of the bounds on what a resource's annotations may ask for.
const (
	// DefaultMinReconcilePeriod keeps a resource from asking for back-to-back
	// runs (or, with skip, a spinning worker).
	DefaultMinReconcilePeriod = 5 * time.Second
	// DefaultMaxVerbosityAnnotation is -vvvv: connection debugging, short of
	// the levels that dump plugin internals.
	DefaultMaxVerbosityAnnotation = 4
	// DefaultMaxArtifactsAnnotation bounds the kept runs of one resource
	// (the runner's byte caps bound their size).
	DefaultMaxArtifactsAnnotation = 100
)

func (o *Options) setDefaults() {
	if o.MinReconcilePeriod == 0 {
		o.MinReconcilePeriod = DefaultMinReconcilePeriod
	}
	if o.MaxArtifactsAnnotation == 0 {
		o.MaxArtifactsAnnotation = DefaultMaxArtifactsAnnotation
	}
}

// Validate reports missing collaborators.
func (o *Options) Validate() error {
	var errs []error
	if o.Watch.GroupVersionKind.Kind == "" {
		errs = append(errs, errors.New("watch has no kind"))
	}
	if o.Runner == nil {
		errs = append(errs, errors.New("no runner"))
	}
	if o.Proxy == nil {
		errs = append(errs, errors.New("no proxy"))
	}
	if o.Watch.MaxConcurrentReconciles < 1 {
		errs = append(errs, fmt.Errorf("watch's max concurrent reconciles %d < 1 (watches.Load resolves at least 1)", o.Watch.MaxConcurrentReconciles))
	}
	if o.MinReconcilePeriod < 0 {
		errs = append(errs, fmt.Errorf("min reconcile period %s < 0", o.MinReconcilePeriod))
	}
	if o.MaxVerbosityAnnotation < 0 || o.MaxVerbosityAnnotation > watches.MaxAnsibleVerbosity {
		errs = append(errs, fmt.Errorf("max verbosity annotation %d not in 0-%d", o.MaxVerbosityAnnotation, watches.MaxAnsibleVerbosity))
	}
	if o.MaxArtifactsAnnotation < 1 {
		errs = append(errs, fmt.Errorf("max artifacts annotation %d < 1", o.MaxArtifactsAnnotation))
	}
	return errors.Join(errs...)
}

// Reconciler reconciles the resources of one watch.
type Reconciler struct {
	opts      Options
	gvk       schema.GroupVersionKind
	name      string
	client    client.Client
	apiReader client.Reader
	recorder  events.EventRecorder
	now       func() time.Time

	ctrl       crcontroller.Controller
	dependents *dependentWatches
	memory     *memory
	ledgers    *ledgers
	requests   *requests
	gate       *gate
}

// Name is the controller's name: unique per group, version and kind.
func Name(gvk schema.GroupVersionKind) string {
	parts := []string{strings.ToLower(gvk.Kind), gvk.Version}
	if gvk.Group != "" {
		parts = append(parts, gvk.Group)
	}
	return strings.Join(parts, ".")
}

// Add builds the controller of one watch and registers it with the manager.
func Add(mgr manager.Manager, opts Options) (*Reconciler, error) {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("controller for %s: %w", opts.Watch.GroupVersionKind, err)
	}
	gvk := opts.Watch.GroupVersionKind
	r := &Reconciler{
		opts:      opts,
		gvk:       gvk,
		name:      Name(gvk),
		client:    mgr.GetClient(),
		apiReader: mgr.GetAPIReader(),
		recorder:  boundedRecorder{mgr.GetEventRecorder(Name(gvk))},
		now:       time.Now,
		memory:    newMemory(),
		ledgers:   newLedgers(),
		requests:  newRequests(),
		gate:      newGate(),
	}
	primary := &unstructured.Unstructured{}
	primary.SetGroupVersionKind(gvk)
	c, err := builder.ControllerManagedBy(mgr).
		Named(r.name).
		For(primary, builder.WithPredicates(primaryPredicates(opts.Watch, opts.Namespaces)...)).
		WithOptions(crcontroller.Options{
			MaxConcurrentReconciles: opts.Watch.MaxConcurrentReconciles,
			// Dependent watches are added while the manager runs.
			SkipNameValidation: ptrTo(false),
		}).
		Build(r)
	if err != nil {
		return nil, fmt.Errorf("controller for %s: %w", gvk, err)
	}
	r.ctrl = c
	r.dependents = newDependentWatches(mgr, c, primary, opts.Watch)
	return r, nil
}

// log returns the reconcile logger; controller-runtime fills in the
// controller, name, namespace and reconcileID.
func (r *Reconciler) log(ctx context.Context) logr.Logger {
	return ctrl.LoggerFrom(ctx)
}

func ptrTo[T any](v T) *T { return &v }

// perResource is what the controller keeps about each resource between
// reconciles, by memoryKey; reconciles of different resources use it at once.
type perResource[V any] struct {
	mu    sync.Mutex
	items map[string]V
}

func newPerResource[V any]() *perResource[V] { return &perResource[V]{items: map[string]V{}} }

// get returns the value of key and whether there is one.
func (p *perResource[V]) get(key string) (V, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, known := p.items[key]
	return v, known
}

func (p *perResource[V]) set(key string, v V) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.items[key] = v
}

// forget drops the resource (it is gone, or no longer this replica's).
func (p *perResource[V]) forget(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.items, key)
}

// memory is what the controller remembers between reconciles of a resource:
// the record of its last successful run, so unchanged work can be skipped.
// A key present with a nil record means "known: nothing to skip by" (a run
// is under way or failed); an absent key means this process has not looked
// yet, and the record in the resource's status is read.
//
// Records are kept packed (packRecord) and decoded on each get: decoded, a
// record holds every dependent's fields as maps, about 25 KB for the Mcrouter
// role's five dependents against 1.4 KB packed.
type memory struct {
	packed *perResource[[]byte] // nil: known, nothing to skip by
}

func newMemory() *memory { return &memory{packed: newPerResource[[]byte]()} }

// get returns the record and whether this process knows the resource. A
// record that does not unpack (a defect) is no record: the caller runs.
// The record is unpacked outside the lock.
func (m *memory) get(key string) (*record, bool) {
	packed, known := m.packed.get(key)
	if packed == nil {
		return nil, known
	}
	rec, err := unpackRecord(packed)
	if err != nil {
		return nil, true
	}
	return rec, true
}

// set stores rec; nil records that there is nothing to skip by, and so does
// a record that cannot be packed.
func (m *memory) set(key string, rec *record) {
	var packed []byte
	if rec != nil {
		packed, _ = packRecord(rec)
	}
	m.packed.set(key, packed)
}

// forget drops the resource (it is gone).
func (m *memory) forget(key string) { m.packed.forget(key) }
