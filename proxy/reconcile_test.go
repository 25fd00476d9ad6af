package proxy_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/mcrouter-operator/mcrouter-operator/proxy"
)

// stubController stands in for the Ansible controller: each reconcile makes
// the "role's" two ConfigMaps what they should be, through the proxy with a
// fresh credential, and WatchDependent adds the watches a real controller
// adds.
type stubController struct {
	mgr        manager.Manager
	ctrl       controller.Controller
	proxy      *proxy.Proxy
	other      string // namespace of the annotated dependent
	mu         sync.Mutex
	reconciles int
	errs       []error
}

var _ proxy.DependentWatcher = (*stubController)(nil)

func (s *stubController) WatchDependent(ctx context.Context, gvk schema.GroupVersionKind, annotated bool) error {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	ownerType := &unstructured.Unstructured{}
	ownerType.SetGroupVersionKind(ownerGVK)
	var h handler.EventHandler = handler.EnqueueRequestForOwner(s.mgr.GetScheme(), s.mgr.GetRESTMapper(), ownerType)
	if annotated {
		h = handler.EnqueueRequestsFromMapFunc(enqueueAnnotatedOwner)
	}
	src := source.Kind(s.mgr.GetCache(), client.Object(u), h)
	if err := s.ctrl.Watch(src); err != nil {
		return err
	}
	// Return only once the handler has seen the existing objects: a change
	// made before that (a dependent deleted right after the run) would
	// otherwise never reach it.
	return src.WaitForSync(ctx)
}

// enqueueAnnotatedOwner maps an annotated dependent to its Owner.
func enqueueAnnotatedOwner(_ context.Context, obj client.Object) []reconcile.Request {
	if obj.GetAnnotations()["operator-sdk/primary-resource-type"] != "Owner.proxytest.example.com" {
		return nil
	}
	ns, name, ok := strings.Cut(obj.GetAnnotations()["operator-sdk/primary-resource"], "/")
	if !ok {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}}}
}

func (s *stubController) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	err := s.reconcile(ctx, req)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reconciles++
	if err != nil {
		s.errs = append(s.errs, err)
	}
	return reconcile.Result{}, err
}

func (s *stubController) reconcile(ctx context.Context, req reconcile.Request) error {
	owner := &unstructured.Unstructured{}
	owner.SetGroupVersionKind(ownerGVK)
	if err := s.mgr.GetClient().Get(ctx, req.NamespacedName, owner); err != nil {
		return client.IgnoreNotFound(err)
	}
	cred, err := s.proxy.Register(proxy.Session{Owner: ownerOf(owner), Watcher: s})
	if err != nil {
		return err
	}
	defer cred.Release()
	cfg, err := clientcmd.RESTConfigFromKubeConfig(cred.Kubeconfig())
	if err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return err
	}
	for _, key := range []client.ObjectKey{{Namespace: req.Namespace, Name: "restored"}, {Namespace: s.other, Name: "restored"}} {
		if err := ensureConfigMap(ctx, c, key); err != nil {
			return err
		}
	}
	return nil
}

// ensureConfigMap makes key exist with data want=value, like an idempotent
// kubernetes.core task.
func ensureConfigMap(ctx context.Context, c client.Client, key client.ObjectKey) error {
	var cm corev1.ConfigMap
	err := c.Get(ctx, key, &cm)
	switch {
	case apierrors.IsNotFound(err):
		cm = corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name},
			Data: map[string]string{"want": "value"}}
		return c.Create(ctx, &cm)
	case err != nil:
		return err
	case cm.Data["want"] != "value":
		return c.Patch(ctx, &cm, client.RawPatch(types.MergePatchType, []byte(`{"data":{"want":"value"}}`)))
	}
	return nil
}

func (s *stubController) counts() (int, []error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reconciles, append([]error(nil), s.errs...)
}

// startStubController runs a manager with the proxy and a controller for
// the Owners in ns until the test ends.
func startStubController(t *testing.T, ns, other string) *stubController {
	t.Helper()
	mgr, err := ctrl.NewManager(cluster.Config, ctrl.Options{
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{ReaderFailOnMissingInformer: true},
	})
	if err != nil {
		t.Fatalf("manager: %v", err)
	}
	p, err := proxy.New(proxy.Options{Addr: "127.0.0.1:0", Upstream: cluster.Config, Mapper: mgr.GetRESTMapper(),
		Cache: mgr.GetCache(), InjectOwnerRef: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Add(p); err != nil {
		t.Fatal(err)
	}
	stub := &stubController{mgr: mgr, proxy: p, other: other}
	ownerType := &unstructured.Unstructured{}
	ownerType.SetGroupVersionKind(ownerGVK)
	inNamespace := predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetNamespace() == ns })
	stub.ctrl, err = builder.ControllerManagedBy(mgr).Named(fmt.Sprintf("owner-%s", ns)).
		For(ownerType, builder.WithPredicates(inNamespace)).Build(stub)
	if err != nil {
		t.Fatalf("controller: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	return stub
}

// TestDependentChangesTriggerReconcile changes dependents behind the
// operator's back. Only the dependent watches the proxy asked for can bring
// the owner's controller back to restore them.
func TestDependentChangesTriggerReconcile(t *testing.T) {
	t.Parallel()
	admin := adminClient(t)
	ns, other := newNamespace(t, admin), newNamespace(t, admin)
	stub := startStubController(t, ns, other)
	newOwner(t, admin, ns, "owner")
	same := client.ObjectKey{Namespace: ns, Name: "restored"}
	far := client.ObjectKey{Namespace: other, Name: "restored"}
	eventually(t, "first reconcile creates the dependents", func(ctx context.Context) (bool, error) {
		err1 := admin.Get(ctx, same, &corev1.ConfigMap{})
		err2 := admin.Get(ctx, far, &corev1.ConfigMap{})
		return err1 == nil && err2 == nil, nil
	})
	edit := func(cm *corev1.ConfigMap) error {
		cm.Data["want"] = "edited"
		return admin.Update(t.Context(), cm)
	}
	remove := func(cm *corev1.ConfigMap) error { return admin.Delete(t.Context(), cm) }
	tests := []struct {
		name   string
		key    client.ObjectKey
		change func(*corev1.ConfigMap) error
	}{
		{"delete owned", same, remove},
		{"edit owned", same, edit},
		{"delete annotated", far, remove},
		{"edit annotated", far, edit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before corev1.ConfigMap
			mustGet(t, admin, tt.key, &before)
			if err := tt.change(before.DeepCopy()); err != nil {
				t.Fatal(err)
			}
			eventually(t, "ConfigMap restored", func(ctx context.Context) (bool, error) {
				var cm corev1.ConfigMap
				if err := admin.Get(ctx, tt.key, &cm); err != nil {
					return false, client.IgnoreNotFound(err)
				}
				return cm.Data["want"] == "value" && cm.ResourceVersion != before.ResourceVersion, nil
			})
		})
	}
	n, errs := stub.counts()
	if len(errs) > 0 {
		t.Errorf("reconcile errors: %v", errs)
	}
	t.Logf("%d reconciles", n)
}
