package compactcache_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/internal/compactcache"
	"github.com/mcrouter-operator/mcrouter-operator/internal/devcluster"
	"github.com/mcrouter-operator/mcrouter-operator/internal/devcluster/devclustertest"
	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

var cluster *devcluster.Cluster

func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	os.Exit(devclustertest.RunTests(m, devcluster.Options{}, &cluster))
}

var (
	serviceGVK   = schema.GroupVersionKind{Version: "v1", Kind: "Service"}
	configMapGVK = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
)

func newObject(gvk schema.GroupVersionKind, ns, name string, labels map[string]string, content map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: content}
	u.SetGroupVersionKind(gvk)
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetLabels(labels)
	u.SetAnnotations(map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"a":"<&>"}`})
	return u
}

// setup creates a namespace with two Services and a ConfigMap, and a started
// packed cache informing on both kinds, synced.
func setup(t *testing.T, ns string) (client.Client, cache.Cache) {
	t.Helper()
	ctx := t.Context()
	api, err := client.New(cluster.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	nsObj := &unstructured.Unstructured{}
	nsObj.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"})
	nsObj.SetName(ns)
	if err := api.Create(ctx, nsObj); err != nil {
		t.Fatal(err)
	}
	ports := []any{map[string]any{"name": "a", "port": int64(5000), "protocol": "TCP", "targetPort": int64(5000)}}
	for _, o := range []*unstructured.Unstructured{
		newObject(serviceGVK, ns, "web", map[string]string{"app": "web"}, map[string]any{"spec": map[string]any{"ports": ports}}),
		newObject(serviceGVK, ns, "db", map[string]string{"app": "db"}, map[string]any{"spec": map[string]any{"ports": ports, "clusterIP": "None"}}),
		newObject(configMapGVK, ns, "conf", nil, map[string]any{"data": map[string]any{"key": "ünïcödé \"quoted\""}}),
	} {
		if err := api.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	c, err := compactcache.NewCache(cluster.Config, cache.Options{
		ReaderFailOnMissingInformer: true,
		DefaultTransform: func(in any) (any, error) {
			if u, ok := in.(*unstructured.Unstructured); ok {
				unstructured.RemoveNestedField(u.Object, "metadata", "managedFields")
			}
			return in, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, gvk := range []schema.GroupVersionKind{serviceGVK, configMapGVK} {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		if _, err := c.GetInformer(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = c.Start(cctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("cache did not sync")
	}
	return api, c
}

// fromAPI is the object as the API server has it, managedFields aside.
func fromAPI(t *testing.T, api client.Client, gvk schema.GroupVersionKind, ns, name string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	if err := api.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
		t.Fatal(err)
	}
	unstructured.RemoveNestedField(u.Object, "metadata", "managedFields")
	return u
}

// awaitCached waits until the cache holds want's resourceVersion.
func awaitCached(t *testing.T, c cache.Cache, want *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	got := &unstructured.Unstructured{}
	optest.Await(t, "the cache has "+want.GetName()+" at "+want.GetResourceVersion(), func(ctx context.Context) (bool, error) {
		got = &unstructured.Unstructured{}
		got.SetGroupVersionKind(want.GroupVersionKind())
		if err := c.Get(ctx, client.ObjectKeyFromObject(want), got); err != nil {
			return false, err
		}
		return got.GetResourceVersion() == want.GetResourceVersion(), fmt.Errorf("resourceVersion %s", got.GetResourceVersion())
	})
	return got
}

func TestGetIsTheAPIServersObject(t *testing.T) {
	api, c := setup(t, "get")
	for _, k := range []struct {
		gvk  schema.GroupVersionKind
		name string
	}{{serviceGVK, "web"}, {serviceGVK, "db"}, {configMapGVK, "conf"}} {
		want := fromAPI(t, api, k.gvk, "get", k.name)
		got := awaitCached(t, c, want)
		if diff := cmp.Diff(want.Object, got.Object); diff != "" {
			t.Errorf("%s %s from the cache differs from the API server's (-api +cache):\n%s", k.gvk.Kind, k.name, diff)
		}
		// No deep copy asked: still a whole object of its own.
		unsafe := &unstructured.Unstructured{}
		unsafe.SetGroupVersionKind(k.gvk)
		if err := c.Get(t.Context(), client.ObjectKeyFromObject(want), unsafe, client.UnsafeDisableDeepCopy); err != nil {
			t.Fatalf("Get with UnsafeDisableDeepCopy: %v", err)
		}
		if diff := cmp.Diff(want.Object, unsafe.Object); diff != "" {
			t.Errorf("%s %s with UnsafeDisableDeepCopy differs:\n%s", k.gvk.Kind, k.name, diff)
		}
	}
}

func TestListSelectsByLabel(t *testing.T) {
	api, c := setup(t, "list")
	want := fromAPI(t, api, serviceGVK, "list", "web")
	awaitCached(t, c, want)
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "ServiceList"})
	if err := c.List(t.Context(), list, client.InNamespace("list"), client.MatchingLabels{"app": "web"}); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 {
		t.Fatalf("List app=web: %d items, want 1", len(list.Items))
	}
	if diff := cmp.Diff(want.Object, list.Items[0].Object); diff != "" {
		t.Errorf("listed Service differs from the API server's:\n%s", diff)
	}
}

func TestHandlersAndIndexesGetWholeObjects(t *testing.T) {
	api, c := setup(t, "events")
	ctx := t.Context()
	if err := c.IndexField(ctx, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap"}}, "data.key",
		func(o client.Object) []string {
			v, _, _ := unstructured.NestedString(o.(*unstructured.Unstructured).Object, "data", "key")
			return []string{v}
		}); err != nil {
		t.Fatal(err)
	}
	want := fromAPI(t, api, configMapGVK, "events", "conf")
	awaitCached(t, c, want)
	byIndex := &unstructured.UnstructuredList{}
	byIndex.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMapList"})
	if err := c.List(ctx, byIndex, client.InNamespace("events"), client.MatchingFields{"data.key": "ünïcödé \"quoted\""}); err != nil {
		t.Fatal(err)
	}
	if len(byIndex.Items) != 1 {
		t.Errorf("List by the field index: %d items, want 1", len(byIndex.Items))
	}

	inf, err := c.GetInformer(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	got := firstAdded(t, inf, "events")
	if diff := cmp.Diff(want.Object, got.Object); diff != "" {
		t.Errorf("the handler got a ConfigMap that differs from the API server's:\n%s", diff)
	}
	if v, ok := inf.(interface{ LastSyncResourceVersion() string }); !ok || v.LastSyncResourceVersion() == "" {
		t.Errorf("the informer does not tell its last synced resourceVersion")
	}
}

// firstAdded adds a handler to inf and returns the first object of ns it
// is given.
func firstAdded(t *testing.T, inf cache.Informer, ns string) *unstructured.Unstructured {
	t.Helper()
	var mu sync.Mutex
	var added []any
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
		mu.Lock()
		defer mu.Unlock()
		if o, ok := obj.(client.Object); !ok || o.GetNamespace() == ns {
			added = append(added, obj)
		}
	}}); err != nil {
		t.Fatal(err)
	}
	optest.Await(t, "the handler is given an object of "+ns, func(context.Context) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		return len(added) > 0, fmt.Errorf("%d objects", len(added))
	})
	mu.Lock()
	defer mu.Unlock()
	got, ok := added[0].(*unstructured.Unstructured)
	if !ok {
		t.Fatalf("handler got a %T", added[0])
	}
	return got
}
