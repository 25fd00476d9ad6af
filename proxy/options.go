package proxy

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// DefaultAddr is the listen address when Options.Addr is empty: the port
// ansible-operator has always used.
const DefaultAddr = "127.0.0.1:8888"

// Options configures a Proxy.
type Options struct {
	// Addr is the listen address. Port 0 picks a free port; Proxy.Addr and
	// every Credential.Kubeconfig report the port actually bound.
	// Default: DefaultAddr ("127.0.0.1:8888").
	Addr string
	// Upstream holds the API server address and the operator's own
	// credentials, used for every forwarded request. Required.
	Upstream *rest.Config
	// Cache is the manager's informer cache. GET and LIST requests are
	// answered from it for kinds it already has an informer for; a read never
	// creates an informer, provided the cache was built with
	// cache.Options.ReaderFailOnMissingInformer. The cache must hold complete
	// copies of the kinds it informs on (no label or field selectors in
	// cache.Options.ByObject); objects may have their managedFields stripped.
	// Default: nil, every read goes to the API server.
	Cache cache.Cache
	// CachedNamespaces are the namespaces Cache holds objects of, as given to
	// cache.Options.DefaultNamespaces. Reads in other namespaces, and LISTs
	// across all namespaces, go to the API server. Default: nil, all namespaces.
	CachedNamespaces []string
	// CacheSelector is the label selector every informer of Cache was built
	// with (cache.Options.DefaultLabelSelector: a sharded replica caches only
	// its shard). GETs of objects the cache does not hold and every LIST go
	// to the API server. Default: nil, the cache holds every object.
	CacheSelector labels.Selector
	// Mapper maps request paths (group, version, resource) to kinds and tells
	// namespaced kinds from cluster-scoped ones. Required.
	Mapper meta.RESTMapper
	// InjectOwnerRef links created objects to the run's owner (owner reference
	// or primary-resource annotations); objects that existed before unlinked
	// are never linked (see the package doc). Dependent watches still follow the
	// links a role sets itself when it is false. Default: false; the operator
	// sets it from --inject-owner-ref, which defaults to true.
	InjectOwnerRef bool
	// CacheSyncTimeout bounds how long a cached read waits for an informer
	// that is still syncing before the request goes to the API server.
	// Default: 2s.
	CacheSyncTimeout time.Duration
	// Log receives one V(1) line per request. Default: logr.Discard().
	Log logr.Logger
	// Metrics registers ansible_operator_proxy_requests_total with this
	// registry. Default: nil, no metrics.
	Metrics prometheus.Registerer
}

func (o *Options) setDefaults() {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.CacheSyncTimeout == 0 {
		o.CacheSyncTimeout = 2 * time.Second
	}
	if o.Log.GetSink() == nil {
		o.Log = logr.Discard()
	}
}

// Validate reports every missing or malformed option.
func (o *Options) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		errs = append(errs, fmt.Errorf("proxy address %q: %w", o.Addr, err))
	}
	if o.Upstream == nil {
		errs = append(errs, errors.New("proxy Upstream (the API server's rest.Config) is required"))
	}
	if o.Mapper == nil {
		errs = append(errs, errors.New("proxy Mapper (a meta.RESTMapper) is required"))
	}
	if o.CacheSyncTimeout < 0 {
		errs = append(errs, fmt.Errorf("proxy CacheSyncTimeout %s is negative", o.CacheSyncTimeout))
	}
	return errors.Join(errs...)
}
