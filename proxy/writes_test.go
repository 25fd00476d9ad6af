package proxy_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/proxy"
)

// writeSummary is the part of a proxy.Write a test can predict.
type writeSummary struct {
	Verb, Patch, Namespace, Name, Subresource, ContentType string
	GVK                                                    string
	HasBody, HasObject                                     bool
	Created                                                bool // the API server answered 201
}

func summarize(ws []proxy.Write) []writeSummary {
	var out []writeSummary
	for _, w := range ws {
		out = append(out, writeSummary{Verb: string(w.Verb), Patch: string(w.PatchType()), Namespace: w.Namespace, Name: w.Name, Subresource: w.Subresource,
			ContentType: w.ContentType, GVK: w.GVK.String(), HasBody: w.Body != nil, HasObject: w.Object != nil, Created: w.Created})
	}
	return out
}

// writeEveryWay writes ConfigMaps in ns by every verb and content type,
// checking that the creating ones link them to owner exactly once.
func writeEveryWay(t *testing.T, e endpoint, c client.Client, ns string, owner *unstructured.Unstructured) {
	t.Helper()
	ref := map[string]any{"apiVersion": owner.GetAPIVersion(), "kind": "Owner", "name": "owner", "uid": string(owner.GetUID())}
	cm := func(name string, md map[string]any) []byte {
		md["name"] = name
		return mustJSON(t, map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": map[string]any{"k": name}})
	}
	base := "/api/v1/namespaces/" + ns + "/configmaps"
	steps := []struct {
		what, method, path, contentType string
		body                            []byte
		code                            int
		owned                           bool
	}{
		{"create", http.MethodPost, base, "application/json", cm("w", map[string]any{}), http.StatusCreated, true},
		{"merge patch", http.MethodPatch, base + "/w", "application/merge-patch+json", []byte(`{"data":{"k":"2"}}`),
			http.StatusOK, true},
		{"server-side apply", http.MethodPatch, base + "/ssa?fieldManager=test", "application/apply-patch+yaml",
			[]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  k: v\n"), http.StatusCreated, true},
		// A replace without the reference keeps the object owned.
		{"update", http.MethodPut, base + "/w", "application/json", cm("w", map[string]any{}), http.StatusOK, true},
		{"json patch", http.MethodPatch, base + "/w", "application/json-patch+json",
			[]byte(`[{"op":"replace","path":"/data/k","value":"4"}]`), http.StatusOK, true},
		{"dry-run create", http.MethodPost, base + "?dryRun=All", "application/json", cm("dry", map[string]any{}),
			http.StatusCreated, true},
		{"create with the reference already set", http.MethodPost, base, "application/json",
			cm("preowned", map[string]any{"ownerReferences": []any{ref}}), http.StatusCreated, true},
		{"delete", http.MethodDelete, base + "/w", "application/json", []byte(`{"propagationPolicy":"Background"}`),
			http.StatusOK, false},
	}
	for _, st := range steps {
		resp, body := e.do(t, st.method, st.path, st.body, http.Header{"Content-Type": {st.contentType}})
		if resp.StatusCode != st.code {
			t.Fatalf("%s: status %d, want %d: %s", st.what, resp.StatusCode, st.code, body)
		}
		if !st.owned {
			continue
		}
		md, _ := decode(t, body)["metadata"].(map[string]any)
		if diff := cmp.Diff([]any{ref}, md["ownerReferences"]); diff != "" {
			t.Errorf("%s: ownerReferences (-want +got):\n%s", st.what, diff)
		}
	}
	typed := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "typed"}}
	if err := c.Create(t.Context(), typed); err != nil {
		t.Fatalf("create with a protobuf client: %v", err)
	}
	if len(typed.OwnerReferences) != 1 || typed.OwnerReferences[0].UID != owner.GetUID() {
		t.Errorf("protobuf create: ownerReferences %+v", typed.OwnerReferences)
	}
}

func TestWritesAndInjectionByVerb(t *testing.T) {
	t.Parallel()
	admin := adminClient(t)
	ns := newNamespace(t, admin)
	p := startProxy(t, proxy.Options{InjectOwnerRef: true})
	owner := newOwner(t, admin, ns, "owner")
	cred := register(t, p, proxy.Session{Owner: ownerOf(owner)})
	writeEveryWay(t, newEndpoint(t, p, cred), credClient(t, cred), ns, owner)

	cm := "/v1, Kind=ConfigMap"
	want := []writeSummary{
		{Verb: "create", Namespace: ns, Name: "w", ContentType: "application/json", GVK: cm, HasBody: true, HasObject: true, Created: true},
		{Verb: "patch", Patch: "application/merge-patch+json", Namespace: ns, Name: "w", ContentType: "application/merge-patch+json", GVK: cm, HasBody: true, HasObject: true},
		{Verb: "apply", Patch: "application/apply-patch+yaml", Namespace: ns, Name: "ssa", ContentType: "application/apply-patch+yaml", GVK: cm, HasBody: true, HasObject: true, Created: true},
		{Verb: "update", Namespace: ns, Name: "w", ContentType: "application/json", GVK: cm, HasBody: true, HasObject: true},
		{Verb: "patch", Patch: "application/json-patch+json", Namespace: ns, Name: "w", ContentType: "application/json-patch+json", GVK: cm, HasObject: true},
		{Verb: "create", Namespace: ns, Name: "preowned", ContentType: "application/json", GVK: cm, HasBody: true, HasObject: true, Created: true},
		// The API server answers this delete with a Status, not an object.
		{Verb: "delete", Namespace: ns, Name: "w", ContentType: "application/json", GVK: cm},
		{Verb: "create", Namespace: ns, Name: "typed", ContentType: "application/json", GVK: cm, HasBody: true, HasObject: true, Created: true},
	}
	got := summarize(cred.Writes())
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Writes() (-want +got):\n%s", diff)
	}
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "dry"}, &corev1.ConfigMap{}); err == nil {
		t.Error("dry-run create stored an object")
	}
}

// TestUnsupportedBodyIsRefused: a body the proxy cannot add the owner to is
// refused, never forwarded without it.
func TestUnsupportedBodyIsRefused(t *testing.T) {
	t.Parallel()
	admin := adminClient(t)
	ns := newNamespace(t, admin)
	p := startProxy(t, proxy.Options{InjectOwnerRef: true})
	cred := register(t, p, proxy.Session{Owner: ownerOf(newOwner(t, admin, ns, "owner"))})
	e := newEndpoint(t, p, cred)
	base := "/api/v1/namespaces/" + ns + "/configmaps"
	tests := []struct {
		name, method, path, contentType string
	}{
		{"form body", http.MethodPost, base, "application/x-www-form-urlencoded"},
		{"CBOR apply", http.MethodPatch, base + "/x?fieldManager=t", "application/apply-patch+cbor"},
		{"JSON that is not an object", http.MethodPut, base + "/x", "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.do(t, tt.method, tt.path, []byte(`["x"]`), http.Header{"Content-Type": {tt.contentType}})
			if resp.StatusCode != http.StatusUnsupportedMediaType {
				t.Fatalf("status %d, want 415: %s", resp.StatusCode, body)
			}
			st := decode(t, body)
			if msg, _ := st["message"].(string); st["kind"] != "Status" || !strings.Contains(msg, "cannot add the owner reference") {
				t.Errorf("answer is not a Status explaining the refusal: %s", body)
			}
		})
	}
	if len(cred.Writes()) != 0 {
		t.Errorf("a refused request was recorded: %+v", cred.Writes())
	}
}

// TestReadsOfLinkedObjects: GETs of objects linked to the run's owner are
// recorded in order with the writes; reads of other objects and lists are not.
func TestReadsOfLinkedObjects(t *testing.T) {
	t.Parallel()
	admin := adminClient(t)
	ns := newNamespace(t, admin)
	p := startProxy(t, proxy.Options{InjectOwnerRef: true})
	owner := newOwner(t, admin, ns, "owner")
	other := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "unrelated"}}
	if err := admin.Create(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	cred := register(t, p, proxy.Session{Owner: ownerOf(owner)})
	e := newEndpoint(t, p, cred)
	base := "/api/v1/namespaces/" + ns + "/configmaps"
	body := mustJSON(t, map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "mine"}})
	for _, st := range []struct{ method, path string }{
		{http.MethodPost, base}, {http.MethodGet, base + "/mine"}, {http.MethodGet, base + "/unrelated"},
		{http.MethodGet, base}, {http.MethodGet, base + "/mine"},
	} {
		if resp, out := e.do(t, st.method, st.path, body, http.Header{"Content-Type": {"application/json"}}); resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %s", st.method, st.path, resp.StatusCode, out)
		}
	}
	reads, writes := cred.Reads(), cred.Writes()
	if len(writes) != 1 || writes[0].Seq != 1 {
		t.Fatalf("writes = %+v, want the create as the first request", summarize(writes))
	}
	if len(reads) != 2 {
		t.Fatalf("%d reads recorded, want the 2 GETs of the owned ConfigMap: %+v", len(reads), reads)
	}
	for i, r := range reads {
		if r.Name != "mine" || r.Namespace != ns || r.Object == nil || r.Object.GetUID() != writes[0].Object.GetUID() || r.Seq != 2+i {
			t.Errorf("read %d = %+v (seq %d), want ConfigMap %s/mine as created, in order", i, r, r.Seq, ns)
		}
	}
}
