package compactcache

import (
	"context"
	"maps"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// NewCache is a cache.NewCacheFunc (manager.Options.NewCache): the cache
// that cache.New builds from opts, with every unstructured object packed
// after the transforms opts names, and read through Wrap.
func NewCache(config *rest.Config, opts cache.Options) (cache.Cache, error) {
	c, err := cache.New(config, newPacker().options(opts))
	if err != nil {
		return nil, err
	}
	return Wrap(c), nil
}

// options returns opts with each transform it sets followed by packing;
// DefaultTransform is set even when opts has none, so that every informer
// packs (cache.New defaults the others from it).
func (pk *packer) options(opts cache.Options) cache.Options {
	opts.DefaultTransform = pk.transform(opts.DefaultTransform)
	if opts.ByObject != nil {
		opts.ByObject = maps.Clone(opts.ByObject)
		for obj, b := range opts.ByObject {
			if b.Transform != nil {
				b.Transform = pk.transform(b.Transform)
			}
			b.Namespaces = pk.configs(b.Namespaces)
			opts.ByObject[obj] = b
		}
	}
	opts.DefaultNamespaces = pk.configs(opts.DefaultNamespaces)
	return opts
}

func (pk *packer) configs(in map[string]cache.Config) map[string]cache.Config {
	if in == nil {
		return nil
	}
	out := maps.Clone(in)
	for ns, c := range out {
		if c.Transform != nil {
			c.Transform = pk.transform(c.Transform)
			out[ns] = c
		}
	}
	return out
}

// transform is a cache transform that runs next (nil: none), then packs the
// result when it is an *unstructured.Unstructured. A cache built with it must
// be read through Wrap.
func (pk *packer) transform(next toolscache.TransformFunc) toolscache.TransformFunc {
	return func(in any) (any, error) {
		if next != nil {
			var err error
			if in, err = next(in); err != nil {
				return nil, err
			}
		}
		if u, ok := in.(*unstructured.Unstructured); ok {
			if p := pk.pack(u); p != nil {
				return p, nil
			}
		}
		return in, nil
	}
}

// Cache reads a cache whose objects were packed (see NewCache): objects come
// out of Get, List, informers' event handlers and field index functions
// unpacked, as *unstructured.Unstructured.
type Cache struct {
	cache.Cache
}

var _ cache.Cache = (*Cache)(nil)

// Wrap returns c read through a Cache.
func Wrap(c cache.Cache) *Cache { return &Cache{Cache: c} }

// Get is the cache's Get. The cache reader unpacks as it copies (see
// packed): a copy is always made, whatever the options say.
func (c *Cache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) (err error) {
	defer recoverUnpack(&err)
	return c.Cache.Get(ctx, key, obj, append(opts, client.UnsafeDisableDeepCopyOption(false))...)
}

// List is the cache's List; see Get.
func (c *Cache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) (err error) {
	defer recoverUnpack(&err)
	return c.Cache.List(ctx, list, append(opts, client.UnsafeDisableDeepCopyOption(false))...)
}

// recoverUnpack turns the panic of a packed object that does not decode into
// the error of the read.
func recoverUnpack(err *error) {
	if r := recover(); r != nil {
		e, ok := r.(errUnpack)
		if !ok {
			panic(r)
		}
		*err = e.err
	}
}

// GetInformer returns the informer of obj's kind, delivering unpacked
// objects to its handlers.
func (c *Cache) GetInformer(ctx context.Context, obj client.Object, opts ...cache.InformerGetOption) (cache.Informer, error) {
	i, err := c.Cache.GetInformer(ctx, obj, opts...)
	if err != nil {
		return nil, err
	}
	return &informer{Informer: i}, nil
}

// GetInformerForKind is GetInformer by kind. controller-runtime makes it
// for the typed kinds of its scheme, whose objects are not packed; it is
// wrapped all the same, in case that changes.
func (c *Cache) GetInformerForKind(ctx context.Context, gvk schema.GroupVersionKind, opts ...cache.InformerGetOption) (cache.Informer, error) {
	i, err := c.Cache.GetInformerForKind(ctx, gvk, opts...)
	if err != nil {
		return nil, err
	}
	return &informer{Informer: i}, nil
}

// IndexField indexes with extractValue given unpacked objects.
func (c *Cache) IndexField(ctx context.Context, obj client.Object, field string, extractValue client.IndexerFunc) error {
	return c.Cache.IndexField(ctx, obj, field, func(o client.Object) []string {
		if p, ok := o.(*packed); ok {
			u, err := p.unpack()
			if err != nil {
				return nil
			}
			return extractValue(u)
		}
		return extractValue(o)
	})
}

// informer delivers unpacked objects to the handlers and index functions
// added through it.
type informer struct {
	cache.Informer
}

func (i *informer) AddEventHandler(h toolscache.ResourceEventHandler) (toolscache.ResourceEventHandlerRegistration, error) {
	return i.Informer.AddEventHandler(handler{h})
}

func (i *informer) AddEventHandlerWithResyncPeriod(h toolscache.ResourceEventHandler, period time.Duration) (toolscache.ResourceEventHandlerRegistration, error) {
	return i.Informer.AddEventHandlerWithResyncPeriod(handler{h}, period)
}

func (i *informer) AddEventHandlerWithOptions(h toolscache.ResourceEventHandler, opts toolscache.HandlerOptions) (toolscache.ResourceEventHandlerRegistration, error) {
	return i.Informer.AddEventHandlerWithOptions(handler{h}, opts)
}

func (i *informer) AddIndexers(indexers toolscache.Indexers) error {
	out := make(toolscache.Indexers, len(indexers))
	for name, f := range indexers {
		out[name] = func(obj any) ([]string, error) {
			u, err := unpackAny(obj)
			if err != nil {
				return nil, err
			}
			return f(u)
		}
	}
	return i.Informer.AddIndexers(out)
}

// LastSyncResourceVersion is the wrapped informer's (client-go's shared
// informers have it; the proxy reads it), or "".
func (i *informer) LastSyncResourceVersion() string {
	if v, ok := i.Informer.(interface{ LastSyncResourceVersion() string }); ok {
		return v.LastSyncResourceVersion()
	}
	return ""
}

// handler unpacks what it passes on. An object that does not unpack (a
// defect here) is passed on packed: a handler that needs the whole object
// drops it and says so, one that needs only its key still works.
type handler struct {
	next toolscache.ResourceEventHandler
}

func (h handler) OnAdd(obj any, isInInitialList bool) {
	h.next.OnAdd(unpacked(obj), isInInitialList)
}

func (h handler) OnUpdate(oldObj, newObj any) {
	h.next.OnUpdate(unpacked(oldObj), unpacked(newObj))
}

func (h handler) OnDelete(obj any) {
	if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		t.Obj = unpacked(t.Obj)
		h.next.OnDelete(t)
		return
	}
	h.next.OnDelete(unpacked(obj))
}

func unpacked(obj any) any {
	u, err := unpackAny(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return obj
	}
	return u
}
