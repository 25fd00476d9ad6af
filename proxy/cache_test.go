package proxy_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/proxy"
)

// newCache starts an informer cache that fails reads of kinds without an
// informer, with informers for kinds.
func newCache(t *testing.T, kinds ...schema.GroupVersionKind) cache.Cache {
	t.Helper()
	c, err := cache.New(cluster.Config, cache.Options{ReaderFailOnMissingInformer: true, Mapper: newMapper(t)})
	if err != nil {
		t.Fatalf("cache: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("cache Start returned: %v", err)
		}
	})
	for _, gvk := range kinds {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		if _, err := c.GetInformer(t.Context(), u); err != nil {
			t.Fatalf("informer for %s: %v", gvk, err)
		}
	}
	if !c.WaitForCacheSync(t.Context()) {
		t.Fatal("cache did not sync")
	}
	return c
}

// waitCached waits until c holds the object as the API server has it.
func waitCached(t *testing.T, c cache.Cache, gvk schema.GroupVersionKind, obj client.Object) {
	t.Helper()
	eventually(t, fmt.Sprintf("cache holds %s %s", gvk.Kind, obj.GetName()), func(ctx context.Context) (bool, error) {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), u); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		return u.GetResourceVersion() == obj.GetResourceVersion(), nil
	})
}

// comparable drops what legitimately differs between two reads of the same
// state: the resourceVersion of a list or table.
func comparable(t *testing.T, data []byte) map[string]any {
	t.Helper()
	m := decode(t, data)
	_, isList := m["items"]
	_, isTable := m["rows"]
	if isList || isTable {
		if md, ok := m["metadata"].(map[string]any); ok {
			delete(md, "resourceVersion")
		}
	}
	return m
}

const secretValue = "s3cr3t-value-never-logged"

// readFixture is a namespace with objects of cached and uncached kinds, and
// a proxy reading through a synced cache.
type readFixture struct {
	ns          string
	e           endpoint // a run with no blacklist
	blacklisted endpoint // a run that blacklists ConfigMaps
	logs        *logSink
}

func newReadFixture(t *testing.T) readFixture {
	t.Helper()
	admin := adminClient(t)
	ns := newNamespace(t, admin)
	owner := newOwner(t, admin, ns, "owner")
	cm1 := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cm1", Labels: map[string]string{"app": "a"}},
		Data: map[string]string{"k": "v"}}
	cm2 := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cm2", Labels: map[string]string{"app": "b"}}}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "s1"},
		Data: map[string][]byte{"password": []byte(secretValue)}}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sa"}}
	for _, obj := range []client.Object{cm2, cm1, secret, sa} {
		if err := admin.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	informed := newCache(t, configMapGVK, secretGVK, ownerGVK)
	waitCached(t, informed, configMapGVK, cm1)
	waitCached(t, informed, configMapGVK, cm2)
	waitCached(t, informed, secretGVK, secret)
	waitCached(t, informed, ownerGVK, owner)
	logs := &logSink{}
	p := startProxy(t, proxy.Options{Cache: informed, Log: funcr.New(logs.add, funcr.Options{Verbosity: 1})})
	return readFixture{
		ns:   ns,
		e:    newEndpoint(t, p, register(t, p, proxy.Session{Owner: ownerOf(owner)})),
		logs: logs,
		blacklisted: newEndpoint(t, p, register(t, p, proxy.Session{Owner: ownerOf(owner),
			Blacklist: []schema.GroupVersionKind{configMapGVK}})),
	}
}

// TestCachedReads compares every answer with the API server's own answer to
// the same request.
func TestCachedReads(t *testing.T) {
	t.Parallel()
	f := newReadFixture(t)
	e, blacklisted, ns := f.e, f.blacklisted, f.ns
	cms := "/api/v1/namespaces/" + ns + "/configmaps"
	owners := "/apis/proxytest.example.com/v1/namespaces/" + ns + "/owners"
	table := http.Header{"Accept": {"application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}}
	tests := []struct {
		name    string
		via     endpoint
		path    string
		header  http.Header
		wantHit bool
	}{
		{"get", e, cms + "/cm1", nil, true},
		{"get with resourceVersion 0", e, cms + "/cm1?resourceVersion=0", nil, true},
		{"get accepting json", e, cms + "/cm1", http.Header{"Accept": {"application/json, */*"}}, true},
		{"list", e, cms, nil, true},
		{"list with equality selector", e, cms + "?labelSelector=app%3Da", nil, true},
		{"list with inequality selector", e, cms + "?labelSelector=app%21%3Da", nil, true},
		{"get custom resource", e, owners + "/owner", nil, true},
		{"list custom resources", e, owners, nil, true},
		{"get secret", e, "/api/v1/namespaces/" + ns + "/secrets/s1", nil, true},
		{"missing object", e, cms + "/nope", nil, false},
		{"kind without informer", e, "/api/v1/namespaces/" + ns + "/serviceaccounts/sa", nil, false},
		{"blacklisted kind", blacklisted, cms + "/cm1", nil, false},
		{"status subresource", e, owners + "/owner/status", nil, false},
		{"set-based selector", e, cms + "?labelSelector=app+in+%28a%29", nil, false},
		{"field selector", e, cms + "?fieldSelector=metadata.name%3Dcm1", nil, false},
		{"pagination", e, cms + "?limit=1", nil, false},
		{"exact resourceVersion", e, cms + "/cm1?resourceVersion=1", nil, false},
		{"table", e, cms, table, false},
		{"protobuf", e, cms + "/cm1", http.Header{"Accept": {"application/vnd.kubernetes.protobuf"}}, false},
		{"non-resource", e, "/version", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := tt.via.do(t, http.MethodGet, tt.path, nil, tt.header)
			if hit := resp.Header.Get("X-Cache") == "HIT"; hit != tt.wantHit {
				t.Errorf("X-Cache HIT = %v, want %v", hit, tt.wantHit)
			}
			want, wantBody := direct(t, http.MethodGet, tt.path, tt.header)
			if resp.StatusCode != want.StatusCode {
				t.Fatalf("status %d, API server says %d: %s", resp.StatusCode, want.StatusCode, body)
			}
			if ct := mediaType(resp.Header.Get("Content-Type")); ct != mediaType(want.Header.Get("Content-Type")) {
				t.Errorf("Content-Type %q, API server says %q", ct, want.Header.Get("Content-Type"))
			}
			if mediaType(want.Header.Get("Content-Type")) != "application/json" {
				return
			}
			if diff := cmp.Diff(comparable(t, wantBody), comparable(t, body)); diff != "" {
				t.Errorf("answer differs from the API server's (-api +proxy):\n%s", diff)
			}
		})
	}

	t.Run("secret data is never logged", func(t *testing.T) {
		out := f.logs.String()
		if !strings.Contains(out, "/secrets/s1") {
			t.Fatalf("no request line for the Secret read in the log:\n%s", out)
		}
		encoded := base64.StdEncoding.EncodeToString([]byte(secretValue))
		if strings.Contains(out, secretValue) || strings.Contains(out, encoded) {
			t.Errorf("Secret data in the log:\n%s", out)
		}
		if !strings.Contains(out, `"cache"="hit"`) || !strings.Contains(out, `"cache"="miss"`) {
			t.Errorf("request lines do not say hit and miss:\n%s", out)
		}
	})
}

func mediaType(ct string) string {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.TrimSpace(mt)
}

func TestCachedReadsOutsideCachedNamespaces(t *testing.T) {
	t.Parallel()
	admin := adminClient(t)
	ns := newNamespace(t, admin)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cm"}}
	if err := admin.Create(t.Context(), cm); err != nil {
		t.Fatal(err)
	}
	informed := newCache(t, configMapGVK)
	waitCached(t, informed, configMapGVK, cm)
	owner := newOwner(t, admin, ns, "owner")
	tests := []struct {
		name       string
		namespaces []string
		path       string
		wantHit    bool
	}{
		{"namespace cached", []string{ns}, "/api/v1/namespaces/" + ns + "/configmaps/cm", true},
		{"namespace not cached", []string{"elsewhere"}, "/api/v1/namespaces/" + ns + "/configmaps/cm", false},
		{"all namespaces with some cached", []string{ns}, "/api/v1/configmaps", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startProxy(t, proxy.Options{Cache: informed, CachedNamespaces: tt.namespaces})
			resp, body := newEndpoint(t, p, register(t, p, proxy.Session{Owner: ownerOf(owner)})).do(t, http.MethodGet, tt.path, nil, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if hit := resp.Header.Get("X-Cache") == "HIT"; hit != tt.wantHit {
				t.Errorf("X-Cache HIT = %v, want %v", hit, tt.wantHit)
			}
		})
	}
}

// TestRunReadsItsOwnWrites reads right after each write: the cache may not
// have seen the write yet, and the answer must show it anyway.
func TestRunReadsItsOwnWrites(t *testing.T) {
	t.Parallel()
	admin := adminClient(t)
	ns := newNamespace(t, admin)
	informed := newCache(t, configMapGVK)
	p := startProxy(t, proxy.Options{Cache: informed, InjectOwnerRef: true})
	e := newEndpoint(t, p, register(t, p, proxy.Session{Owner: ownerOf(newOwner(t, admin, ns, "owner"))}))
	base := "/api/v1/namespaces/" + ns + "/configmaps"
	resp, body := e.do(t, http.MethodPost, base, mustJSON(t, map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "rw"}, "data": map[string]any{"n": "0"}}), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	hits := 0
	for i := 1; i <= 15; i++ {
		n := fmt.Sprint(i)
		resp, body = e.do(t, http.MethodPatch, base+"/rw", mustJSON(t, map[string]any{"data": map[string]any{"n": n}}),
			http.Header{"Content-Type": {"application/merge-patch+json"}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("patch %d: %d %s", i, resp.StatusCode, body)
		}
		resp, body = e.do(t, http.MethodGet, base+"/rw", nil, nil)
		if got := decode(t, body)["data"].(map[string]any)["n"]; got != n {
			t.Fatalf("read after write %d shows n=%v (X-Cache %q)", i, got, resp.Header.Get("X-Cache"))
		}
		resp, body = e.do(t, http.MethodGet, base, nil, nil)
		items := decode(t, body)["items"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["data"].(map[string]any)["n"] != n {
			t.Fatalf("list after write %d: %s", i, body)
		}
		if resp.Header.Get("X-Cache") == "HIT" {
			hits++
		}
	}
	t.Logf("%d of 15 lists after a write were answered from the cache", hits)
	if resp, body = e.do(t, http.MethodDelete, base+"/rw", nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("delete: %d %s", resp.StatusCode, body)
	}
	if resp, body = e.do(t, http.MethodGet, base+"/rw", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("read after delete: %d %s", resp.StatusCode, body)
	}
}
