package proxy

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mcrouter-operator/mcrouter-operator/proxy/internal/owner"
)

// DependentWatcher is implemented by the controller of a run's owner kind.
type DependentWatcher interface {
	// WatchDependent makes the owner's controller watch gvk. annotated is true
	// when the dependents are linked by the operator-sdk/primary-resource
	// annotations rather than by owner references. It is called while the
	// request that revealed the kind waits, so the watch is registered by
	// the time the run ends; it need not wait for the watch's first list
	// (the controller waits for that after the run, and checks the
	// dependents once more, since a dependent deleted before the first
	// list produces no event). An error is logged and the registration
	// retried on the next request that reveals the kind.
	WatchDependent(ctx context.Context, gvk schema.GroupVersionKind, annotated bool) error
}

// watchKey identifies one registered watch: owner references and
// annotations need different event handlers, so a kind can be registered
// once for each.
type watchKey struct {
	watcher   DependentWatcher
	gvk       schema.GroupVersionKind
	annotated bool
}

// noteDependent registers a watch on obj's kind the first time a run of the
// owner's controller creates or reads an object linked to an owner of its
// kind. A failed registration is logged and retried on the next such
// request; the request itself goes on.
func (p *Proxy) noteDependent(ctx context.Context, ex *exchange, obj map[string]any) {
	run := ex.cred.session
	ownerGK := run.Owner.ref().GroupKind()
	if run.Watcher == nil || !ex.mapped || ex.gvk.GroupKind() == ownerGK || ex.cred.blacklisted(ex.gvk) {
		return
	}
	mode := owner.Find(obj, ownerGK)
	if mode == owner.None {
		return
	}
	annotated := mode == owner.Annotation
	if annotated && !ex.namespaced && !run.WatchClusterScopedResources {
		return
	}
	key := watchKey{watcher: run.Watcher, gvk: ex.gvk, annotated: annotated}
	if !p.claimWatch(key) {
		return
	}
	if err := run.Watcher.WatchDependent(ctx, ex.gvk, annotated); err != nil {
		p.releaseWatch(key)
		p.opts.Log.Error(err, "watch dependent kind; retrying on the next request that touches it",
			"gvk", ex.gvk.String(), "owner", run.Owner.String(), "annotated", annotated)
		return
	}
	p.opts.Log.Info("watching dependent kind", "gvk", ex.gvk.String(), "owner", run.Owner.String(),
		"annotated", annotated)
}

// claimWatch returns true for the one caller that should register key.
func (p *Proxy) claimWatch(key watchKey) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.watches[key] {
		return false
	}
	p.watches[key] = true
	return true
}

func (p *Proxy) releaseWatch(key watchKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.watches, key)
}
