package proxy

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/proxy/internal/reqinfo"
)

// serveFromCache answers a GET or LIST from the informer cache when that
// answer would be the API server's: the kind already has an informer, it is
// synced, the run has not written what it reads since the cache last saw
// it, and the request asks for nothing the cache cannot honour. Otherwise it
// returns false and the request goes to the API server.
func (p *Proxy) serveFromCache(w http.ResponseWriter, req *http.Request, ex *exchange) bool {
	sel, ok := p.cacheable(req, ex)
	if !ok {
		return false
	}
	ex.cache = "miss"
	ctx, cancel := context.WithTimeout(req.Context(), p.opts.CacheSyncTimeout)
	defer cancel()
	var content map[string]any
	if ex.info.Verb == reqinfo.VerbGet {
		content, ok = p.cachedGet(ctx, ex)
	} else {
		content, ok = p.cachedList(ctx, ex, sel)
	}
	if !ok {
		return false
	}
	data, err := json.Marshal(content)
	if err != nil {
		return false
	}
	ex.cache = "hit"
	if ex.info.Verb == reqinfo.VerbGet {
		ex.cred.recordRead(ex, content)
		p.noteDependent(req.Context(), ex, content)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache, private")
	h.Set("X-Cache", "HIT")
	h.Set("Content-Length", strconv.Itoa(len(data)+1))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(data, '\n'))
	return true
}

// cacheable checks everything about a read that does not need the cache,
// and returns its label selector.
func (p *Proxy) cacheable(req *http.Request, ex *exchange) (labels.Selector, bool) {
	info := ex.info
	if p.opts.Cache == nil || req.Method != http.MethodGet || !ex.mapped || ex.cred.blacklisted(ex.gvk) {
		return nil, false
	}
	// Subresources go to the API server, status included: whether a kind has
	// one is not known here, and the API server answers 404 when it has not.
	if info.Subresource != "" || info.Verb != reqinfo.VerbGet && info.Verb != reqinfo.VerbList {
		return nil, false
	}
	if info.Verb == reqinfo.VerbList && p.opts.CacheSelector != nil && !p.opts.CacheSelector.Empty() {
		// The cache holds a part of the kind; the API server has all of it.
		return nil, false
	}
	if !acceptsPlainJSON(req.Header.Values("Accept")) || !p.namespaceCached(info.Namespace, ex.namespaced) {
		return nil, false
	}
	return cacheableQuery(req, info.Verb)
}

// cacheableQuery accepts only parameters whose meaning the cache honours:
// no resourceVersion other than "" or "0", no field selectors, no
// pagination, equality-based label selectors only.
func cacheableQuery(req *http.Request, verb string) (labels.Selector, bool) {
	var sel labels.Selector
	for k, vs := range req.URL.Query() {
		v := vs[len(vs)-1]
		switch {
		case k == "pretty":
		case k == "resourceVersion" && (v == "" || v == "0"):
		case k == "timeoutSeconds" && verb == reqinfo.VerbList:
		case k == "labelSelector" && verb == reqinfo.VerbList && len(vs) == 1:
			s, err := labels.Parse(v)
			if err != nil || !equalityBased(s) {
				return nil, false
			}
			sel = s
		default:
			return nil, false
		}
	}
	return sel, true
}

func equalityBased(s labels.Selector) bool {
	reqs, _ := s.Requirements()
	for _, r := range reqs {
		switch r.Operator() {
		case selection.Equals, selection.DoubleEquals, selection.NotEquals:
		default:
			return false
		}
	}
	return true
}

// acceptsPlainJSON is true when the client takes application/json objects:
// Table and PartialObjectMetadata requests (as=...) and protobuf-only
// clients go to the API server.
func acceptsPlainJSON(accept []string) bool {
	var ranges []string
	for _, a := range accept {
		for r := range strings.SplitSeq(a, ",") {
			if r = strings.TrimSpace(r); r != "" {
				ranges = append(ranges, r)
			}
		}
	}
	if len(ranges) == 0 {
		return true
	}
	for _, r := range ranges {
		mt, params, err := mime.ParseMediaType(r)
		if err != nil {
			return false
		}
		if _, ok := params["as"]; ok {
			return false
		}
		switch mt {
		case "application/json", "application/*", "*/*":
		default:
			return false
		}
	}
	return true
}

func (p *Proxy) namespaceCached(ns string, namespaced bool) bool {
	all := p.opts.CachedNamespaces
	if len(all) == 0 || slices.Contains(all, "") || !namespaced {
		return true
	}
	return ns != "" && slices.Contains(all, ns)
}

func (p *Proxy) cachedGet(ctx context.Context, ex *exchange) (map[string]any, bool) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(ex.gvk)
	key := client.ObjectKey{Namespace: ex.info.Namespace, Name: ex.info.Name}
	if err := p.opts.Cache.Get(ctx, key, u); err != nil {
		return nil, false
	}
	if !ex.cred.freshInCache(ex.objectKey(), u.GetResourceVersion()) {
		return nil, false
	}
	return u.Object, true
}

func (p *Proxy) cachedList(ctx context.Context, ex *exchange, sel labels.Selector) (map[string]any, bool) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(ex.gvk.GroupVersion().WithKind(ex.gvk.Kind + "List"))
	opts := []client.ListOption{client.InNamespace(ex.info.Namespace)}
	if sel != nil {
		opts = append(opts, client.MatchingLabelsSelector{Selector: sel})
	}
	if err := p.opts.Cache.List(ctx, list, opts...); err != nil {
		return nil, false
	}
	key := ex.objectKey()
	if !ex.cred.freshListInCache(key.resource, key.namespace, list.Items) {
		return nil, false
	}
	list.SetResourceVersion(p.listVersion(ctx, ex.gvk, list.Items))
	// The API server lists in storage key order: namespace, then name.
	slices.SortFunc(list.Items, func(a, b unstructured.Unstructured) int {
		if c := strings.Compare(a.GetNamespace(), b.GetNamespace()); c != 0 {
			return c
		}
		return strings.Compare(a.GetName(), b.GetName())
	})
	// The cache marks its lists "continue-not-supported"; the API server
	// sends a complete list of custom resources with an empty continue token,
	// and one of built-in kinds without any.
	list.SetContinue("")
	content := list.UnstructuredContent()
	if clientgoscheme.Scheme.Recognizes(ex.gvk) {
		unstructured.RemoveNestedField(content, "metadata", "continue")
		// Built-in kinds are encoded from typed lists, whose items carry no
		// apiVersion and kind; custom resources keep them.
		for _, item := range content["items"].([]any) {
			m := item.(map[string]any)
			delete(m, "apiVersion")
			delete(m, "kind")
		}
	}
	return content, true
}

// listVersion is a resourceVersion no newer than the listed content, so a
// watch started from it misses no event: the newest item's, else the
// informer's last synced one.
func (p *Proxy) listVersion(ctx context.Context, gvk schema.GroupVersionKind, items []unstructured.Unstructured) string {
	var newest uint64
	var version string
	for i := range items {
		v := items[i].GetResourceVersion()
		if n, err := strconv.ParseUint(v, 10, 64); err == nil && n >= newest {
			newest, version = n, v
		}
	}
	if version != "" {
		return version
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	// The List above succeeded, so the informer exists and this does not
	// create one.
	inf, err := p.opts.Cache.GetInformer(ctx, u, cache.BlockUntilSynced(false))
	if err != nil {
		return ""
	}
	if v, ok := inf.(interface{ LastSyncResourceVersion() string }); ok {
		return v.LastSyncResourceVersion()
	}
	return ""
}

func (ex *exchange) objectKey() objectKey {
	return objectKey{
		resource:  schema.GroupResource{Group: ex.info.Group, Resource: ex.info.Plural},
		namespace: ex.info.Namespace, name: ex.info.Name,
	}
}

// freshInCache is false when this run wrote the object and the cache does
// not show that write yet (or shows a later one: the API server decides).
func (c *Credential) freshInCache(key objectKey, cachedVersion string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.versions[objectKey{resource: key.resource, namespace: key.namespace}]; ok {
		return false
	}
	v, ok := c.versions[key]
	return !ok || v == cachedVersion
}

// freshListInCache is freshInCache for every object of resource in ns ("" for
// all namespaces) that this run wrote.
func (c *Credential) freshListInCache(resource schema.GroupResource, ns string, items []unstructured.Unstructured) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	var cached map[objectKey]string
	for k, v := range c.versions {
		if k.resource != resource || (ns != "" && k.namespace != ns) {
			continue
		}
		if k.name == "" {
			return false
		}
		if cached == nil {
			cached = make(map[objectKey]string, len(items))
			for i := range items {
				cached[objectKey{resource: resource, namespace: items[i].GetNamespace(), name: items[i].GetName()}] =
					items[i].GetResourceVersion()
			}
		}
		got, present := cached[k]
		if v == tombstone && present || v != tombstone && got != v {
			return false
		}
	}
	return true
}
