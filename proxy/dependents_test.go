package proxy_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/proxy"
)

func TestDependentWatcherOnCreate(t *testing.T) {
	t.Parallel()
	p := startProxy(t, proxy.Options{InjectOwnerRef: true})
	tests := []struct {
		name          string
		blacklist     []schema.GroupVersionKind
		clusterScoped bool
		want          []watchCall
	}{
		{"default", nil, false, []watchCall{
			{GVK: configMapGVK}, {GVK: configMapGVK, Annotated: true}, {GVK: secretGVK}}},
		{"cluster-scoped watches", nil, true, []watchCall{
			{GVK: configMapGVK}, {GVK: configMapGVK, Annotated: true}, {GVK: secretGVK},
			{GVK: clusterRoleGVK, Annotated: true}}},
		{"ConfigMaps blacklisted", []schema.GroupVersionKind{configMapGVK}, false, []watchCall{{GVK: secretGVK}}},
		{"Secrets and ClusterRoles blacklisted", []schema.GroupVersionKind{secretGVK, clusterRoleGVK}, true, []watchCall{
			{GVK: configMapGVK}, {GVK: configMapGVK, Annotated: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			admin := adminClient(t)
			ns, other := newNamespace(t, admin), newNamespace(t, admin)
			watcher := &recordingWatcher{}
			cred := register(t, p, proxy.Session{Owner: ownerOf(newOwner(t, admin, ns, "owner")), Watcher: watcher,
				Blacklist: tt.blacklist, WatchClusterScopedResources: tt.clusterScoped})
			c := credClient(t, cred)
			sibling := &unstructured.Unstructured{}
			sibling.SetGroupVersionKind(ownerGVK)
			sibling.SetNamespace(ns)
			sibling.SetName("sibling")
			role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: ns + "-role"}}
			t.Cleanup(func() { _ = admin.Delete(context.Background(), role) })
			for _, obj := range []client.Object{
				&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "a"}},
				&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "b"}},
				&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: other, Name: "c"}},
				&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: other, Name: "d"}},
				&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "s"}},
				role,
				sibling, // the owner's own kind never gets a dependent watch
			} {
				if err := c.Create(t.Context(), obj); err != nil {
					t.Fatalf("create %T %s through the proxy: %v", obj, obj.GetName(), err)
				}
			}
			if diff := cmp.Diff(tt.want, watcher.Calls()); diff != "" {
				t.Errorf("WatchDependent calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDependentWatcherOnRead(t *testing.T) {
	t.Parallel()
	saGVK := schema.GroupVersionKind{Version: "v1", Kind: "ServiceAccount"}
	for _, cached := range []bool{false, true} {
		t.Run(fmt.Sprintf("cached=%v", cached), func(t *testing.T) {
			t.Parallel()
			admin := adminClient(t)
			ns := newNamespace(t, admin)
			owner := newOwner(t, admin, ns, "owner")
			ref := metav1.OwnerReference{APIVersion: owner.GetAPIVersion(), Kind: owner.GetKind(),
				Name: owner.GetName(), UID: owner.GetUID()}
			unowned := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "unowned"}}
			owned := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "owned",
				OwnerReferences: []metav1.OwnerReference{ref}}}
			opts := proxy.Options{InjectOwnerRef: true}
			if cached {
				opts.Cache = newCache(t, saGVK)
			}
			for _, sa := range []*corev1.ServiceAccount{unowned, owned} {
				if err := admin.Create(t.Context(), sa); err != nil {
					t.Fatal(err)
				}
				if cached {
					waitCached(t, opts.Cache, saGVK, sa)
				}
			}
			p := startProxy(t, opts)
			watcher := &recordingWatcher{}
			e := newEndpoint(t, p, register(t, p, proxy.Session{Owner: ownerOf(owner), Watcher: watcher}))
			get := func(name string) {
				t.Helper()
				resp, body := e.do(t, http.MethodGet, "/api/v1/namespaces/"+ns+"/serviceaccounts/"+name, nil, nil)
				if resp.StatusCode != http.StatusOK || (resp.Header.Get("X-Cache") == "HIT") != cached {
					t.Fatalf("GET %s: status %d, X-Cache %q: %s", name, resp.StatusCode, resp.Header.Get("X-Cache"), body)
				}
			}
			get("unowned")
			if calls := watcher.Calls(); len(calls) != 0 {
				t.Fatalf("reading an unowned object asked for watches: %v", calls)
			}
			get("owned")
			get("owned")
			if diff := cmp.Diff([]watchCall{{GVK: saGVK}}, watcher.Calls()); diff != "" {
				t.Errorf("WatchDependent calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDependentWatcherRetriesAfterFailure(t *testing.T) {
	t.Parallel()
	admin := adminClient(t)
	ns := newNamespace(t, admin)
	p := startProxy(t, proxy.Options{InjectOwnerRef: true})
	watcher := &recordingWatcher{failFirst: 1}
	c := credClient(t, register(t, p, proxy.Session{Owner: ownerOf(newOwner(t, admin, ns, "owner")), Watcher: watcher}))
	for _, name := range []string{"a", "b", "c"} {
		// A failed registration does not fail the request.
		if err := c.Create(t.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	if diff := cmp.Diff([]watchCall{{GVK: configMapGVK}, {GVK: configMapGVK}}, watcher.Calls()); diff != "" {
		t.Errorf("WatchDependent calls (-want +got):\n%s", diff)
	}
}

func TestWithoutInjection(t *testing.T) {
	t.Parallel()
	admin := adminClient(t)
	ns := newNamespace(t, admin)
	p := startProxy(t, proxy.Options{InjectOwnerRef: false})
	owner := newOwner(t, admin, ns, "owner")
	watcher := &recordingWatcher{}
	c := credClient(t, register(t, p, proxy.Session{Owner: ownerOf(owner), Watcher: watcher}))

	plain := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "plain"}}
	if err := c.Create(t.Context(), plain); err != nil {
		t.Fatal(err)
	}
	if len(plain.OwnerReferences) != 0 || len(watcher.Calls()) != 0 {
		t.Fatalf("injection disabled, yet refs %v and watch calls %v", plain.OwnerReferences, watcher.Calls())
	}
	// A role that links its objects itself still gets the dependent watch.
	linked := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "linked",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: owner.GetAPIVersion(), Kind: owner.GetKind(),
			Name: owner.GetName(), UID: owner.GetUID()}}}}
	if err := c.Create(t.Context(), linked); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]watchCall{{GVK: configMapGVK}}, watcher.Calls()); diff != "" {
		t.Errorf("WatchDependent calls (-want +got):\n%s", diff)
	}
}
