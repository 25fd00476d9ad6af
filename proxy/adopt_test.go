package proxy_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/proxy"
)

const applyYAML = "application/apply-patch+yaml"

func ownerRef(o *unstructured.Unstructured) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: o.GetAPIVersion(), Kind: o.GetKind(), Name: o.GetName(), UID: o.GetUID()}
}

// existingConfigMap creates a ConfigMap as admin, not through the proxy.
func existingConfigMap(t *testing.T, c client.Client, ns, name string, refs []metav1.OwnerReference,
	ann map[string]string) *corev1.ConfigMap {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, OwnerReferences: refs,
		Annotations: ann}, Data: map[string]string{"written": "by-admin"}}
	if err := c.Create(t.Context(), cm); err != nil {
		t.Fatalf("create ConfigMap %s/%s: %v", ns, name, err)
	}
	return cm
}

func configMapBody(t *testing.T, name string) []byte {
	t.Helper()
	return mustJSON(t, map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name}, "data": map[string]any{"written": "by-the-role"}})
}

// TestRoleDoesNotAdoptExistingObjects is the attack of issue 14: a role
// replaces (force: true) and server-side applies ConfigMaps named after its
// CR. The ones it creates are linked to the CR and garbage-collected with it;
// the ones that existed before are written but not linked, and survive the
// CR's deletion.
func TestRoleDoesNotAdoptExistingObjects(t *testing.T) {
	t.Parallel()
	admin := adminClient(t)
	ns := newNamespace(t, admin)
	p := startProxy(t, proxy.Options{InjectOwnerRef: true})
	owner := newOwner(t, admin, ns, "owner")
	victims := []string{"victim-replace", "victim-apply"}
	for _, name := range victims {
		existingConfigMap(t, admin, ns, name, nil, nil)
	}
	watcher := &recordingWatcher{}
	cred := register(t, p, proxy.Session{Owner: ownerOf(owner), Watcher: watcher})
	playbook(t, cred, "adopt.yml", map[string]any{"owner_namespace": ns,
		"replace": []string{"victim-replace", "new-replace"}, "apply": []string{"victim-apply", "new-apply"}})

	for _, name := range []string{"victim-replace", "victim-apply", "new-replace", "new-apply"} {
		var cm corev1.ConfigMap
		mustGet(t, admin, client.ObjectKey{Namespace: ns, Name: name}, &cm)
		if cm.Data["written"] != "by-the-role" {
			t.Errorf("ConfigMap %s: data %v, want the role's write applied", name, cm.Data)
		}
		var want []metav1.OwnerReference
		if strings.HasPrefix(name, "new-") {
			want = []metav1.OwnerReference{ownerRef(owner)}
		}
		if diff := cmp.Diff(want, cm.OwnerReferences); diff != "" {
			t.Errorf("ConfigMap %s: ownerReferences (-want +got):\n%s", name, diff)
		}
	}
	// Writes of objects the run does not own are recorded as writes all the
	// same: the run changed them.
	if n := len(cred.Writes()); n != 4 {
		t.Errorf("%d writes recorded, want 4: %+v", n, summarize(cred.Writes()))
	}

	if err := admin.Delete(t.Context(), owner); err != nil {
		t.Fatalf("delete owner: %v", err)
	}
	for _, name := range []string{"new-replace", "new-apply"} {
		eventually(t, "garbage collection of "+name, func(ctx context.Context) (bool, error) {
			err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &corev1.ConfigMap{})
			return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
		})
	}
	for _, name := range victims {
		mustGet(t, admin, client.ObjectKey{Namespace: ns, Name: name}, &corev1.ConfigMap{})
	}
}

// linkCase is one write through the proxy and the owner links the stored
// object must have after it.
type linkCase struct {
	name, method, path, contentType string
	body                            []byte
	code                            int
	// key is the stored object to check; empty: a dry run, nothing stored,
	// and the answer is checked instead.
	key     client.ObjectKey
	refs    []metav1.OwnerReference
	annotes map[string]string
}

// TestLinkOnlyWhatTheRunCreates: PUT and server-side apply link an object
// only when they create it or it is linked to the owner already; objects
// that exist unlinked, or linked to another owner, are written without a
// link to this one, and unlinked ones get no dependent watch.
func TestLinkOnlyWhatTheRunCreates(t *testing.T) {
	t.Parallel()
	admin := adminClient(t)
	ns, other := newNamespace(t, admin), newNamespace(t, admin)
	p := startProxy(t, proxy.Options{InjectOwnerRef: true})
	owner, rival := newOwner(t, admin, ns, "owner"), newOwner(t, admin, ns, "rival")
	mine := []metav1.OwnerReference{ownerRef(owner)}
	theirs := []metav1.OwnerReference{ownerRef(rival)}
	ann := map[string]string{"operator-sdk/primary-resource": ns + "/owner",
		"operator-sdk/primary-resource-type": "Owner.proxytest.example.com"}
	existingConfigMap(t, admin, ns, "unlinked-put", nil, nil)
	existingConfigMap(t, admin, ns, "unlinked-apply", nil, nil)
	existingConfigMap(t, admin, ns, "rivals", theirs, nil)
	existingConfigMap(t, admin, other, "unlinked-far", nil, nil)
	existingConfigMap(t, admin, ns, "linked-put", mine, nil)
	existingConfigMap(t, admin, ns, "linked-apply", mine, nil)
	existingConfigMap(t, admin, other, "linked-far", nil, ann)
	watcher := &recordingWatcher{}
	e := newEndpoint(t, p, register(t, p, proxy.Session{Owner: ownerOf(owner), Watcher: watcher}))

	cms := func(namespace string) string { return "/api/v1/namespaces/" + namespace + "/configmaps/" }
	key := func(namespace, name string) client.ObjectKey {
		return client.ObjectKey{Namespace: namespace, Name: name}
	}
	ssa := func(namespace, name string) string { return cms(namespace) + name + "?fieldManager=role&force=true" }
	body := func(name string) []byte { return configMapBody(t, name) }
	ownerPath := "/apis/proxytest.example.com/v1/namespaces/" + ns + "/owners/owner"
	unlinked := []linkCase{
		{"replace of an unlinked object", http.MethodPut, cms(ns) + "unlinked-put", "application/json",
			body("unlinked-put"), http.StatusOK, key(ns, "unlinked-put"), nil, nil},
		{"apply to an unlinked object", http.MethodPatch, ssa(ns, "unlinked-apply"), applyYAML,
			body("unlinked-apply"), http.StatusOK, key(ns, "unlinked-apply"), nil, nil},
		{"apply to an unlinked object in another namespace", http.MethodPatch, ssa(other, "unlinked-far"), applyYAML,
			body("unlinked-far"), http.StatusOK, key(other, "unlinked-far"), nil, nil},
		{"dry-run apply to an unlinked object", http.MethodPatch, ssa(ns, "unlinked-apply") + "&dryRun=All",
			applyYAML, body("unlinked-apply"), http.StatusOK, client.ObjectKey{}, nil, nil},
		{"replace of the owner itself", http.MethodPut, ownerPath, "application/json",
			mustJSON(t, owner.Object), http.StatusOK, key(ns, "owner"), nil, nil},
	}
	for _, c := range unlinked {
		checkWrite(t, e, admin, c)
	}
	if calls := watcher.Calls(); len(calls) != 0 {
		t.Errorf("writes of objects the run does not own asked for dependent watches: %+v", calls)
	}

	linked := []linkCase{
		// Linked to another owner of the same kind: it stays theirs. (Its kind
		// gets a watch, whose events go to the owner it names.)
		{"apply to another owner's object", http.MethodPatch, ssa(ns, "rivals"), applyYAML,
			body("rivals"), http.StatusOK, key(ns, "rivals"), theirs, nil},
		{"apply that creates", http.MethodPatch, ssa(ns, "new-apply"), applyYAML,
			body("new-apply"), http.StatusCreated, key(ns, "new-apply"), mine, nil},
		{"apply that creates in another namespace", http.MethodPatch, ssa(other, "new-far"), applyYAML,
			body("new-far"), http.StatusCreated, key(other, "new-far"), nil, ann},
		{"dry-run apply that would create", http.MethodPatch, ssa(ns, "dry") + "&dryRun=All", applyYAML,
			body("dry"), http.StatusCreated, client.ObjectKey{}, mine, nil},
		{"replace of a linked object", http.MethodPut, cms(ns) + "linked-put", "application/json",
			body("linked-put"), http.StatusOK, key(ns, "linked-put"), mine, nil},
		{"apply to a linked object", http.MethodPatch, ssa(ns, "linked-apply"), applyYAML,
			body("linked-apply"), http.StatusOK, key(ns, "linked-apply"), mine, nil},
		{"apply to an annotated object in another namespace", http.MethodPatch, ssa(other, "linked-far"), applyYAML,
			body("linked-far"), http.StatusOK, key(other, "linked-far"), nil, ann},
	}
	for _, c := range linked {
		checkWrite(t, e, admin, c)
	}
	checkRoleCreatedByReplace(t, e, admin, ns, mine)
}

// checkRoleCreatedByReplace: a PUT creates a Role (ConfigMaps cannot be
// created so), and the Role is linked.
func checkRoleCreatedByReplace(t *testing.T, e endpoint, admin client.Client, ns string, want []metav1.OwnerReference) {
	t.Helper()
	role := mustJSON(t, map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
		"metadata": map[string]any{"name": "new-role"}})
	resp, out := e.do(t, http.MethodPut, "/apis/rbac.authorization.k8s.io/v1/namespaces/"+ns+"/roles/new-role",
		role, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("replace that creates a Role: status %d: %s", resp.StatusCode, out)
	}
	var got rbacv1.Role
	mustGet(t, admin, client.ObjectKey{Namespace: ns, Name: "new-role"}, &got)
	if diff := cmp.Diff(want, got.OwnerReferences); diff != "" {
		t.Errorf("Role created by a replace: ownerReferences (-want +got):\n%s", diff)
	}
}

// checkWrite sends c through e and checks the links of what it wrote.
func checkWrite(t *testing.T, e endpoint, admin client.Client, c linkCase) {
	t.Helper()
	resp, out := e.do(t, c.method, c.path, c.body, http.Header{"Content-Type": {c.contentType}})
	if resp.StatusCode != c.code {
		t.Errorf("%s: status %d, want %d: %s", c.name, resp.StatusCode, c.code, out)
		return
	}
	var obj unstructured.Unstructured
	if err := obj.UnmarshalJSON(out); err != nil {
		t.Fatalf("%s: decode answer: %v", c.name, err)
	}
	if c.key.Name != "" {
		mustGet(t, admin, c.key, &obj)
	}
	if diff := cmp.Diff(c.refs, obj.GetOwnerReferences()); diff != "" {
		t.Errorf("%s: ownerReferences (-want +got):\n%s", c.name, diff)
	}
	if diff := cmp.Diff(c.annotes, ownerAnnotations(&obj), cmpEmptyMap); diff != "" {
		t.Errorf("%s: owner annotations (-want +got):\n%s", c.name, diff)
	}
}

var cmpEmptyMap = cmp.Transformer("emptyIsNil", func(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
})

// raceHook runs act once, right after the API server answered the first
// GET of path: the proxy's look-up before a PUT or apply.
type raceHook struct {
	path string
	act  func() error
	once sync.Once

	mu  sync.Mutex
	err error // of act
}

func (h *raceHook) actErr() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// wrap is a rest.Config WrapTransport.
func (h *raceHook) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		if err == nil && req.Method == http.MethodGet && req.URL.Path == h.path {
			h.once.Do(func() {
				err := h.act()
				h.mu.Lock()
				defer h.mu.Unlock()
				h.err = err
			})
		}
		return resp, err
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// TestLinkRaces: an object replaced or created by someone else between the
// proxy's look-up and the role's write is not adopted.
func TestLinkRaces(t *testing.T) {
	t.Parallel()
	admin := adminClient(t)
	ns := newNamespace(t, admin)
	owner := newOwner(t, admin, ns, "owner")
	mine := []metav1.OwnerReference{ownerRef(owner)}
	base := "/api/v1/namespaces/" + ns + "/configmaps/"
	create := func(name string) func() error {
		return func() error {
			return admin.Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
				Namespace: ns, Name: name}})
		}
	}
	replace := func(name string) func() error {
		return func() error {
			if err := admin.Delete(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
				Namespace: ns, Name: name}}); err != nil {
				return err
			}
			return create(name)()
		}
	}
	tests := []struct {
		name, existing, method, path, contentType string
		act                                       func() error
		code                                      int
	}{
		{"linked object replaced before a replace", "swap-put", http.MethodPut, base + "swap-put", "application/json",
			replace("swap-put"), http.StatusConflict},
		{"linked object replaced before an apply", "swap-apply", http.MethodPatch, base + "swap-apply?fieldManager=r&force=true",
			applyYAML, replace("swap-apply"), http.StatusUnprocessableEntity},
		{"object created before an apply", "", http.MethodPatch, base + "late?fieldManager=r&force=true", applyYAML,
			create("late"), http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := tt.existing
			if name == "" {
				name = "late"
			} else {
				existingConfigMap(t, admin, ns, name, mine, nil)
			}
			cfg := rest.CopyConfig(cluster.Config)
			hook := &raceHook{path: base + name, act: tt.act}
			cfg.WrapTransport = hook.wrap
			p := startProxy(t, proxy.Options{InjectOwnerRef: true, Upstream: cfg})
			e := newEndpoint(t, p, register(t, p, proxy.Session{Owner: ownerOf(owner)}))
			resp, out := e.do(t, tt.method, tt.path, configMapBody(t, name), http.Header{"Content-Type": {tt.contentType}})
			if err := hook.actErr(); err != nil {
				t.Fatalf("racing write: %v", err)
			}
			if resp.StatusCode != tt.code {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tt.code, out)
			}
			var cm corev1.ConfigMap
			mustGet(t, admin, client.ObjectKey{Namespace: ns, Name: name}, &cm)
			if len(cm.OwnerReferences) != 0 {
				t.Errorf("the object that appeared meanwhile was adopted: %+v", cm.OwnerReferences)
			}
		})
	}
}

// TestCreatedObjectThatCannotBeLinkedIsRemoved: when the object a PUT
// created cannot be linked (here the operator may update Roles but not patch
// them), the proxy deletes it again and the write fails, rather than leave an
// object of the run that its CR does not own. The operator's credentials
// impersonate a user: the proxy strips only the run's Impersonate headers.
func TestCreatedObjectThatCannotBeLinkedIsRemoved(t *testing.T) {
	t.Parallel()
	admin := adminClient(t)
	ns := newNamespace(t, admin)
	owner := newOwner(t, admin, ns, "owner")
	const user = "operator-without-patch"
	grant := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "no-patch"}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"roles"},
		Verbs: []string{"get", "create", "update", "delete"}}}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "no-patch"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "no-patch"},
		Subjects: []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: user}}}
	for _, obj := range []client.Object{grant, binding} {
		if err := admin.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	cfg := rest.CopyConfig(cluster.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	p := startProxy(t, proxy.Options{InjectOwnerRef: true, Upstream: cfg})
	cred := register(t, p, proxy.Session{Owner: ownerOf(owner)})
	e := newEndpoint(t, p, cred)

	role := mustJSON(t, map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
		"metadata": map[string]any{"name": "doomed"}})
	resp, out := e.do(t, http.MethodPut, "/apis/rbac.authorization.k8s.io/v1/namespaces/"+ns+"/roles/doomed", role, nil)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(out), "could not link it") ||
		!strings.Contains(string(out), "deleted it again") {
		t.Errorf("status %d, want 502 saying the Role was created, not linked and deleted: %s", resp.StatusCode, out)
	}
	err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "doomed"}, &rbacv1.Role{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("the Role that could not be linked is still there (get: %v)", err)
	}
	if w := cred.Writes(); len(w) != 0 {
		t.Errorf("the failed write was recorded: %+v", summarize(w))
	}
}
