package proxy_test

import (
	"context"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/proxy"
)

// TestShardedCache: a replica caches only the objects labelled for it; the
// proxy answers everything else from the API server, lists included, and
// labels what a run creates so that the replica caches it.
func TestShardedCache(t *testing.T) {
	t.Parallel()
	const label = "example.com/shard"
	admin := adminClient(t)
	ns := newNamespace(t, admin)
	owner := newOwner(t, admin, ns, "owner")
	mine := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "mine", Labels: map[string]string{label: "me"}}}
	theirs := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "theirs", Labels: map[string]string{label: "other"}}}
	for _, obj := range []client.Object{mine, theirs} {
		if err := admin.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	sel := labels.SelectorFromSet(labels.Set{label: "me"})
	c, err := cache.New(cluster.Config, cache.Options{ReaderFailOnMissingInformer: true, Mapper: newMapper(t),
		DefaultLabelSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(configMapGVK)
	if _, err := c.GetInformer(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	waitCached(t, c, configMapGVK, mine)

	p := startProxy(t, proxy.Options{Cache: c, CacheSelector: sel, InjectOwnerRef: true})
	cred := register(t, p, proxy.Session{Owner: ownerOf(owner), Labels: map[string]string{label: "me"}})
	e := newEndpoint(t, p, cred)
	for _, tt := range []struct {
		path    string
		wantHit bool
	}{
		{"/api/v1/namespaces/" + ns + "/configmaps/mine", true},
		{"/api/v1/namespaces/" + ns + "/configmaps/theirs", false},
		{"/api/v1/namespaces/" + ns + "/configmaps", false},
	} {
		resp, body := e.do(t, http.MethodGet, tt.path, nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d: %s", tt.path, resp.StatusCode, body)
		}
		if hit := resp.Header.Get("X-Cache") == "HIT"; hit != tt.wantHit {
			t.Errorf("GET %s: X-Cache HIT = %v, want %v", tt.path, hit, tt.wantHit)
		}
		if tt.path == "/api/v1/namespaces/"+ns+"/configmaps" {
			if n := len(decode(t, body)["items"].([]any)); n != 2 {
				t.Errorf("LIST answered %d ConfigMaps, want both", n)
			}
		}
	}

	created := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "created",
		Labels: map[string]string{"app": "x", label: "forged"}}}
	if err := credClient(t, cred).Create(t.Context(), created); err != nil {
		t.Fatal(err)
	}
	got := &corev1.ConfigMap{}
	if err := admin.Get(t.Context(), client.ObjectKeyFromObject(created), got); err != nil {
		t.Fatal(err)
	}
	if got.Labels[label] != "me" || got.Labels["app"] != "x" || len(got.OwnerReferences) != 1 {
		t.Errorf("created through a run: labels %v, owner references %d; want the run's shard label, app kept, owned",
			got.Labels, len(got.OwnerReferences))
	}
}
