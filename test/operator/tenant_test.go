package operator_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

var gvkTenant = schema.GroupVersionKind{Group: "ops.example.com", Version: "v1", Kind: "Tenant"}

// startTenantOperator runs testdata/watches-tenant.yaml for namespace ns as a
// user that RBAC allows only what the test role needs there: no Secrets.
func startTenantOperator(t *testing.T, ns string) *optest.Operator {
	t.Helper()
	user := "tenant-operator-" + ns
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "operator"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"ops.example.com"}, Resources: []string{"tenants"}, Verbs: []string{"get", "list", "watch", "update", "patch"}},
			{APIGroups: []string{"ops.example.com"}, Resources: []string{"tenants/status"}, Verbs: []string{"get", "update", "patch"}},
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
			{APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
		},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "operator"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "operator"},
		Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: user}},
	}
	for _, obj := range []client.Object{role, binding} {
		if err := kube.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	kubeconfig, _, err := cluster.AddUser(user)
	if err != nil {
		t.Fatal(err)
	}
	op, err := startOperatorEnv(t.TempDir(), "testdata/watches-tenant.yaml", []string{"WATCH_NAMESPACE=" + ns},
		"--kubeconfig", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = op.Stop(optest.StopTimeout) })
	return op
}

// Whoever may write a resource's status can name any kind in it
// (status.dependentKinds, status.runRecord). The operator must not watch a
// kind on that word alone: here Secrets, which it may not even list, so
// watching them used to keep /readyz failing for good.
func TestForgedStatusDoesNotChooseWatchedKinds(t *testing.T) {
	t.Parallel()
	ns := optest.CreateNamespace(t, kube, "forged-status")
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "victim"}, StringData: map[string]string{"k": "v"}}
	if err := kube.Create(t.Context(), secret); err != nil {
		t.Fatal(err)
	}
	cr := optest.NewObject(gvkTenant, ns, "t", map[string]any{"message": "hi"})
	optest.Create(t, kube, cr)
	forged := map[string]any{
		"dependentKinds": []any{
			map[string]any{"apiVersion": "v1", "kind": "Secret", "link": "ownerReference"},
			map[string]any{"apiVersion": "v1", "kind": "Pod", "link": "ownerReference"},
		},
		"runRecord": forgedRecord(t, cr, map[string]any{
			"apiVersion": "v1", "kind": "Secret", "namespace": ns, "name": "victim", "uid": string(secret.UID),
			"link": "ownerReference", "secretData": "forged",
		}),
	}
	body, _ := json.Marshal(map[string]any{"status": forged})
	if err := kube.Status().Patch(t.Context(), cr, client.RawPatch(types.MergePatchType, body)); err != nil {
		t.Fatalf("forge status: %v", err)
	}

	op := startTenantOperator(t, ns)
	u := optest.AwaitObject(t, kube, gvkTenant, ns, "t", "Successful", optest.Successful, op)
	if data, _, _ := unstructured.NestedString(u.Object, "status", "runRecord", "data"); data == forged["runRecord"].(map[string]any)["data"] {
		t.Errorf("the forged run record is still in status: the resource was skipped")
	}
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(op.ProbePort) + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz: %s after a forged status named Secrets\n--- operator log ---\n%s", resp.Status, op.LogTail(30))
	}
}

// forgedRecord is a status.runRecord (controller/recordcodec.go) for cr
// naming dependent, as whoever may write the status can make one.
func forgedRecord(t *testing.T, cr *unstructured.Unstructured, dependent map[string]any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(map[string]any{
		"uid": string(cr.GetUID()), "generation": cr.GetGeneration(), "finished": metav1.Now().UTC(),
		"dependents": []any{dependent},
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	return map[string]any{
		"format": 1, "uid": string(cr.GetUID()), "generation": cr.GetGeneration(), "dependents": 1,
		"data": base64.StdEncoding.EncodeToString(buf.Bytes()),
	}
}
