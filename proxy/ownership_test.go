package proxy_test

import (
	"context"
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/proxy"
)

// TestOwnershipThroughAnsible runs a role's kubernetes.core tasks through the
// proxy and checks how each dependent is linked to the owner, which dependent
// watches were asked for, and that garbage collection follows the link.
func TestOwnershipThroughAnsible(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vars map[string]any
	}{
		{"create", map[string]any{}},
		{"apply", map[string]any{"use_apply": true}},
		{"server-side apply", map[string]any{"server_side": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			admin := adminClient(t)
			ns, other := newNamespace(t, admin), newNamespace(t, admin)
			logs := &logSink{}
			p := startProxy(t, proxy.Options{InjectOwnerRef: true, Cache: newCache(t, configMapGVK, clusterRoleGVK),
				Log: funcr.New(logs.add, funcr.Options{Verbosity: 1})})
			owner := newOwner(t, admin, ns, "owner")
			watcher := &recordingWatcher{}
			vars := map[string]any{"owner_namespace": ns, "other_namespace": other, "cluster_role": ns + "-role"}
			for k, v := range tt.vars {
				vars[k] = v
			}
			t.Cleanup(func() {
				role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: ns + "-role"}}
				_ = admin.Delete(context.Background(), role)
			})
			// Two runs: the second finds everything in place and must not add
			// a second reference or ask for watches again.
			for range 2 {
				cred := register(t, p, proxy.Session{Owner: ownerOf(owner), Watcher: watcher})
				playbook(t, cred, "dependents.yml", vars)
				cred.Release()
			}
			same, far := checkLinks(t, admin, ns, other, owner)
			if !strings.Contains(logs.String(), `"cache"="hit"`) {
				t.Errorf("no read of the runs was answered from the cache:\n%s", logs)
			}
			wantCalls := []watchCall{{GVK: configMapGVK}, {GVK: configMapGVK, Annotated: true}}
			if diff := cmp.Diff(wantCalls, watcher.Calls()); diff != "" {
				t.Errorf("dependent watches (-want +got):\n%s", diff)
			}

			if err := admin.Delete(t.Context(), owner); err != nil {
				t.Fatalf("delete owner: %v", err)
			}
			eventually(t, "garbage collection of the owned ConfigMap", func(ctx context.Context) (bool, error) {
				err := admin.Get(ctx, client.ObjectKeyFromObject(same), &corev1.ConfigMap{})
				return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
			})
			mustGet(t, admin, client.ObjectKeyFromObject(far), &corev1.ConfigMap{})
		})
	}
}

// checkLinks checks how the dependents of dependents.yml are linked to
// owner and returns the two ConfigMaps.
func checkLinks(t *testing.T, admin client.Client, ns, other string, owner *unstructured.Unstructured) (same, far *corev1.ConfigMap) {
	t.Helper()
	wantRef := []metav1.OwnerReference{{APIVersion: "proxytest.example.com/v1", Kind: "Owner",
		Name: "owner", UID: owner.GetUID()}}
	wantAnn := map[string]string{"operator-sdk/primary-resource": ns + "/owner",
		"operator-sdk/primary-resource-type": "Owner.proxytest.example.com"}
	same, far = &corev1.ConfigMap{}, &corev1.ConfigMap{}
	var role rbacv1.ClusterRole
	mustGet(t, admin, client.ObjectKey{Namespace: ns, Name: "same-namespace"}, same)
	mustGet(t, admin, client.ObjectKey{Namespace: other, Name: "other-namespace"}, far)
	mustGet(t, admin, client.ObjectKey{Name: ns + "-role"}, &role)
	if diff := cmp.Diff(wantRef, same.OwnerReferences); diff != "" {
		t.Errorf("ConfigMap in the owner's namespace: ownerReferences (-want +got):\n%s", diff)
	}
	for what, obj := range map[string]metav1.Object{"ClusterRole": &role, "ConfigMap in another namespace": far} {
		if diff := cmp.Diff(wantAnn, ownerAnnotations(obj)); diff != "" {
			t.Errorf("%s: owner annotations (-want +got):\n%s", what, diff)
		}
		if refs := obj.GetOwnerReferences(); len(refs) != 0 {
			t.Errorf("%s: unexpected ownerReferences %+v", what, refs)
		}
	}
	return same, far
}

func mustGet(t *testing.T, c client.Client, key client.ObjectKey, obj client.Object) {
	t.Helper()
	if err := c.Get(t.Context(), key, obj); err != nil {
		t.Fatalf("get %T %s: %v", obj, key, err)
	}
}

func ownerAnnotations(obj metav1.Object) map[string]string {
	out := map[string]string{}
	for _, k := range []string{"operator-sdk/primary-resource", "operator-sdk/primary-resource-type"} {
		if v, ok := obj.GetAnnotations()[k]; ok {
			out[k] = v
		}
	}
	return out
}
