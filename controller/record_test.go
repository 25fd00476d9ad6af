package controller

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/mcrouter-operator/mcrouter-operator/internal/jsonvalue"
	"github.com/mcrouter-operator/mcrouter-operator/proxy"
)

var (
	cmGVK      = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	ownerGVK   = schema.GroupVersionKind{Group: "ops.example.com", Version: "v1", Kind: "App"}
	strategic  = "application/strategic-merge-patch+json"
	jsonPatch  = "application/json-patch+json"
	ownerUID   = types.UID("owner-uid")
	ownerRefTo = []any{map[string]any{"apiVersion": "ops.example.com/v1", "kind": "App", "name": "app", "uid": string(ownerUID)}}
)

func testOwner() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(ownerGVK)
	u.SetNamespace("ns")
	u.SetName("app")
	u.SetUID(ownerUID)
	u.SetGeneration(3)
	return u
}

// configMap is a ConfigMap as the API server answers: owned by the test
// owner, with server fields set.
func configMap(uid string, data map[string]any, labels map[string]any) *unstructured.Unstructured {
	md := map[string]any{"name": "cm", "namespace": "ns", "uid": uid, "resourceVersion": "7", "ownerReferences": ownerRefTo}
	if labels != nil {
		md["labels"] = labels
	}
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": data}}
}

type touches struct {
	writes []proxy.Write
	reads  []proxy.Read
}

func (ts *touches) write(verb proxy.WriteVerb, contentType string, body map[string]any, answer *unstructured.Unstructured) *touches {
	ts.writes = append(ts.writes, proxy.Write{Seq: len(ts.writes) + len(ts.reads) + 1, GVK: cmGVK, Namespace: "ns", Name: "cm",
		Verb: verb, ContentType: contentType, Body: body, Object: answer})
	return ts
}

func (ts *touches) read(obj *unstructured.Unstructured) *touches {
	ts.reads = append(ts.reads, proxy.Read{Seq: len(ts.writes) + len(ts.reads) + 1, GVK: cmGVK, Namespace: "ns", Name: "cm", Object: obj})
	return ts
}

func prevWith(uid string, fields map[string]any) *record {
	return &record{UID: ownerUID, Dependents: []dependentRecord{{APIVersion: "v1", Kind: "ConfigMap", Namespace: "ns", Name: "cm",
		UID: types.UID(uid), Link: proxy.LinkOwnerReference, Fields: fields}}}
}

func TestNewRecordFields(t *testing.T) {
	created := map[string]any{"metadata": map[string]any{"name": "cm", "labels": map[string]any{"a": "1"}}, "data": map[string]any{"k": "v1"}}
	asRead := configMap("u1", map[string]any{"k": "v0", "other": "x"}, map[string]any{"a": "1", "someone": "else"})
	tests := []struct {
		name string
		ts   *touches
		prev *record
		want map[string]any
	}{
		{"create: the body", new(touches).write("create", "application/json", created, configMap("u1", nil, nil)), nil,
			map[string]any{"metadata": map[string]any{"name": "cm", "labels": map[string]any{"a": "1"}}, "data": map[string]any{"k": "v1"}}},
		{"create then patch: folded", new(touches).write("create", "application/json", created, configMap("u1", nil, nil)).
			write("patch", strategic, map[string]any{"data": map[string]any{"k": "v2"}}, configMap("u1", nil, nil)), nil,
			map[string]any{"metadata": map[string]any{"name": "cm", "labels": map[string]any{"a": "1"}}, "data": map[string]any{"k": "v2"}}},
		{"only read, nothing before: as read", new(touches).read(asRead), nil, intent(asRead.Object)},
		{"only read, the previous fields hold: kept", new(touches).read(asRead), prevWith("u1", map[string]any{"data": map[string]any{"other": "x"}}),
			map[string]any{"data": map[string]any{"other": "x"}}},
		{"only read, the previous fields do not hold: as read", new(touches).read(asRead), prevWith("u1", map[string]any{"data": map[string]any{"k": "v1"}}),
			intent(asRead.Object)},
		{"only read, previous of another UID: as read", new(touches).read(asRead), prevWith("u0", map[string]any{"data": map[string]any{"other": "x"}}),
			intent(asRead.Object)},
		{"read then patch, nothing before: as read with the patch", new(touches).read(asRead).
			write("patch", strategic, map[string]any{"data": map[string]any{"k": "v1"}}, asRead), nil,
			jsonvalue.MergePatch(intent(asRead.Object), map[string]any{"data": map[string]any{"k": "v1"}})},
		{"read then patch: the previous fields with the patch", new(touches).read(asRead).
			write("patch", strategic, map[string]any{"data": map[string]any{"k": "v1"}}, asRead), prevWith("u1", map[string]any{"data": map[string]any{"k": "v1", "j": "w"}}),
			map[string]any{"data": map[string]any{"k": "v1", "j": "w"}}},
		{"json patch: the object as answered", new(touches).write("patch", jsonPatch, nil, configMap("u1", map[string]any{"k": "j"}, nil)), nil,
			intent(configMap("u1", map[string]any{"k": "j"}, nil).Object)},
		{"read after the run's write: the write", new(touches).write("create", "application/json", created, configMap("u1", nil, nil)).read(asRead), nil,
			map[string]any{"metadata": map[string]any{"name": "cm", "labels": map[string]any{"a": "1"}}, "data": map[string]any{"k": "v1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, why := newRecord(testOwner(), tt.ts.writes, tt.ts.reads, tt.prev)
			if rec == nil {
				t.Fatalf("no record: %s", why)
			}
			if rec.UID != ownerUID || rec.Generation != 3 || len(rec.Dependents) != 1 {
				t.Fatalf("record %+v, want one dependent of the owner at generation 3", rec)
			}
			d := rec.Dependents[0]
			if d.UID != "u1" || d.Link != proxy.LinkOwnerReference || d.Deleted || d.Kind != "ConfigMap" || d.Namespace != "ns" {
				t.Errorf("dependent %+v", d)
			}
			if diff := cmp.Diff(tt.want, d.Fields); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewRecordRefusesWhatItCannotDescribe(t *testing.T) {
	cm := configMap("u1", nil, nil)
	tests := []struct {
		name string
		w    proxy.Write
		want string
	}{
		{"deletecollection", proxy.Write{Verb: "deletecollection", GVK: cmGVK, Namespace: "ns"}, "deleted a collection"},
		{"scale subresource", proxy.Write{Verb: "patch", GVK: cmGVK, Namespace: "ns", Name: "cm", Subresource: "scale", Object: cm}, "scale subresource"},
		{"no object in the answer", proxy.Write{Verb: "create", GVK: cmGVK, Namespace: "ns", Name: "cm", Body: map[string]any{}}, "held no object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, why := newRecord(testOwner(), []proxy.Write{tt.w}, nil, nil)
			if rec != nil || !strings.Contains(why, tt.want) {
				t.Errorf("newRecord = %+v, %q; want no record and a reason containing %q", rec, why, tt.want)
			}
		})
	}
}

func TestNewRecordLeavesOutTheResourceStatusAndEvents(t *testing.T) {
	owner := testOwner()
	event := func(gvk schema.GroupVersionKind) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{
			"name": "app.announced", "namespace": "ns", "uid": "e1", "ownerReferences": ownerRefTo}}}
		u.SetGroupVersionKind(gvk)
		return u
	}
	coreEvent := schema.GroupVersionKind{Version: "v1", Kind: "Event"}
	eventsEvent := schema.GroupVersionKind{Group: "events.k8s.io", Version: "v1", Kind: "Event"}
	writes := []proxy.Write{
		{Seq: 1, Verb: "patch", GVK: ownerGVK, Namespace: "ns", Name: "app", Subresource: "status", Object: owner},
		{Seq: 2, Verb: "patch", GVK: cmGVK, Namespace: "ns", Name: "cm", Subresource: "status", Object: configMap("u1", nil, nil)},
		{Seq: 3, Verb: "delete", GVK: cmGVK, Namespace: "ns", Name: "old"},
		{Seq: 4, Verb: "create", GVK: coreEvent, Namespace: "ns", Name: "app.announced", Body: map[string]any{}, Object: event(coreEvent)},
		{Seq: 5, Verb: "create", GVK: eventsEvent, Namespace: "ns", Name: "app.announced", Body: map[string]any{}, Object: event(eventsEvent)},
	}
	reads := []proxy.Read{{Seq: 6, GVK: coreEvent, Namespace: "ns", Name: "app.announced", Object: event(coreEvent)}}
	rec, why := newRecord(owner, writes, reads, nil)
	if rec == nil {
		t.Fatal(why)
	}
	want := []dependentRecord{{APIVersion: "v1", Kind: "ConfigMap", Namespace: "ns", Name: "old", Deleted: true}}
	if diff := cmp.Diff(want, rec.Dependents); diff != "" {
		t.Errorf("dependents (-want +got):\n%s", diff)
	}
}

func TestRecordRoundTripsThroughStatus(t *testing.T) {
	owner := testOwner()
	rec, _ := newRecord(owner, nil, new(touches).read(configMap("u1", map[string]any{"k": "v", "n": int64(3)}, nil)).reads, nil)
	rec.Finished = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	rec.RequeueAfter = 90 * time.Second
	enc, err := encodeRecord(rec)
	if err != nil || enc == nil {
		t.Fatalf("encode: %v, %v", enc, err)
	}
	withStatus := func(v any) *unstructured.Unstructured {
		u := owner.DeepCopy()
		u.Object["status"] = map[string]any{statusRecordKey: normalize(v)}
		return u
	}
	got, err := decodeRecord(withStatus(enc))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	// JSON has one kind of number; the check compares numbers numerically.
	if diff := cmp.Diff(normalize(rec), normalize(got)); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if !jsonvalue.Contains(configMap("u1", map[string]any{"k": "v", "n": int64(3)}, nil).Object, got.Dependents[0].Fields) {
		t.Errorf("the decoded fields no longer match the object they were read from")
	}

	bomb := gzipBase64(t, bytes.Repeat([]byte(" "), maxRecordJSON+10))
	bad := map[string]any{
		"another object's record": withStatus(enc),
		"another format":          withStatus(map[string]any{"format": 2, "data": enc["data"]}),
		"not base64":              withStatus(map[string]any{"format": 1, "data": "%%%"}),
		"not gzip":                withStatus(map[string]any{"format": 1, "data": base64.StdEncoding.EncodeToString([]byte("{}"))}),
		"not an object":           withStatus("x"),
		"a decompression bomb":    withStatus(map[string]any{"format": 1, "data": bomb}),
		"a dependent without UID": withStatus(mustEncode(t, &record{UID: ownerUID, Dependents: []dependentRecord{{Kind: "ConfigMap", Name: "cm"}}})),
		"too many dependents":     withStatus(mustEncode(t, &record{UID: ownerUID, Dependents: manyDependents(maxRecordDependents + 1)})),
	}
	bad["another object's record"].(*unstructured.Unstructured).SetUID("someone-else")
	for name, u := range bad {
		t.Run(name, func(t *testing.T) {
			if rec, err := decodeRecord(u.(*unstructured.Unstructured)); err == nil || rec != nil {
				t.Errorf("decoded %+v, want an error", rec)
			}
		})
	}
	if _, err := decodeRecord(owner); err != errNoRecord {
		t.Errorf("no status: %v, want errNoRecord", err)
	}
}

func mustEncode(t *testing.T, rec *record) map[string]any {
	t.Helper()
	enc, err := encodeRecord(rec)
	if err != nil || enc == nil {
		t.Fatal(err)
	}
	return enc
}

func gzipBase64(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// TestRecordSizeOfFiftyDependents measures what status.runRecord costs for a
// resource with 50 dependents like the Mcrouter role's Deployment, each read
// as found (the largest form: the whole object with its defaults).
func TestRecordSizeOfFiftyDependents(t *testing.T) {
	rec := &record{UID: ownerUID, Generation: 1}
	for i := range 50 {
		obj := deploymentAsRead(i)
		rec.Dependents = append(rec.Dependents, dependentRecord{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "ns",
			Name: obj.GetName(), UID: obj.GetUID(), Link: proxy.LinkOwnerReference, Fields: intent(obj.Object)})
	}
	enc := mustEncode(t, rec)
	data := enc["data"].(string)
	raw := len(mustJSONBytes(t, rec))
	// Similar dependents compress well; base64 of the raw JSON is the bound
	// for dependents that share nothing.
	t.Logf("50 Deployments as read: %d bytes of JSON, %d bytes in status.runRecord.data (%d per dependent); at most %d without compression",
		raw, len(data), len(data)/50, raw*4/3)
	if raw*4/3 > maxRecordData {
		t.Errorf("50 dependents could need %d bytes, over the %d bound", raw*4/3, maxRecordData)
	}
}

func mustJSONBytes(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func deploymentAsRead(i int) *unstructured.Unstructured {
	name := fmt.Sprintf("web-%02d", i)
	container := map[string]any{
		"name": "mcrouter", "image": "devan2502/mcrouter:latest", "imagePullPolicy": "Always",
		"args":                   []any{"-p", "5000", "--config-file=/etc/mcrouter/config.json", "--debug-fifo-root=/var/mcrouter/fifos"},
		"ports":                  []any{map[string]any{"containerPort": int64(5000), "name": "mcrouter", "protocol": "TCP"}},
		"resources":              map[string]any{"limits": map[string]any{"cpu": "500m", "memory": "256Mi"}, "requests": map[string]any{"cpu": "100m", "memory": "64Mi"}},
		"volumeMounts":           []any{map[string]any{"mountPath": "/etc/mcrouter", "name": "config"}},
		"terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{
			"name": name, "namespace": "ns", "uid": fmt.Sprintf("0f8e3c2a-1b2c-4d5e-8f90-%012d", i), "resourceVersion": "12345", "generation": int64(2),
			"labels":          map[string]any{"app": "mcrouter", "mcrouter": name, "app.kubernetes.io/managed-by": "mcrouter-operator"},
			"annotations":     map[string]any{"deployment.kubernetes.io/revision": "2"},
			"ownerReferences": ownerRefTo,
		},
		"spec": map[string]any{
			"replicas": int64(1), "revisionHistoryLimit": int64(10), "progressDeadlineSeconds": int64(600),
			"selector": map[string]any{"matchLabels": map[string]any{"app": "mcrouter", "mcrouter": name}},
			"strategy": map[string]any{"type": "RollingUpdate", "rollingUpdate": map[string]any{"maxSurge": "25%", "maxUnavailable": "25%"}},
			"template": map[string]any{
				"metadata": map[string]any{
					"labels":      map[string]any{"app": "mcrouter", "mcrouter": name},
					"annotations": map[string]any{"mcrouter.example.com/config-checksum": "4f1d2c3b5a6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c"},
				},
				"spec": map[string]any{
					"containers": []any{container}, "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
					"schedulerName": "default-scheduler", "securityContext": map[string]any{}, "terminationGracePeriodSeconds": int64(30),
					"volumes": []any{map[string]any{"name": "config", "configMap": map[string]any{"name": name, "defaultMode": int64(420)}}},
				},
			},
		},
		"status": map[string]any{"replicas": int64(1), "observedGeneration": int64(2)},
	}}
}

func TestDependentsHold(t *testing.T) {
	owner := testOwner()
	rec := &record{UID: ownerUID, Dependents: []dependentRecord{{APIVersion: "v1", Kind: "ConfigMap", Namespace: "ns", Name: "cm",
		UID: "u1", Link: proxy.LinkOwnerReference, Fields: map[string]any{"data": map[string]any{"k": "v"}}}}}
	gone := &record{UID: ownerUID, Dependents: []dependentRecord{{APIVersion: "v1", Kind: "ConfigMap", Namespace: "ns", Name: "cm", Deleted: true}}}
	unowned := configMap("u1", map[string]any{"k": "v"}, nil)
	unstructured.RemoveNestedField(unowned.Object, "metadata", "ownerReferences")
	tests := []struct {
		name string
		live *unstructured.Unstructured // nil: absent
		rec  *record
		want bool
	}{
		{"as the run left it, with more fields and labels", configMap("u1", map[string]any{"k": "v", "extra": "x"}, map[string]any{"l": "1"}), rec, true},
		{"a recorded field changed", configMap("u1", map[string]any{"k": "w"}, nil), rec, false},
		{"recreated by someone else", configMap("u2", map[string]any{"k": "v"}, nil), rec, false},
		{"lost its owner reference", unowned, rec, false},
		{"deleted", nil, rec, false},
		{"deleted by the run and still absent", nil, gone, true},
		{"deleted by the run and back", configMap("u3", nil, nil), gone, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := fake.NewClientBuilder()
			if tt.live != nil {
				b = b.WithObjects(tt.live)
			}
			r := &Reconciler{client: b.Build()}
			if got := r.dependentsHold(t.Context(), owner, tt.rec); got != tt.want {
				t.Errorf("dependentsHold = %v, want %v", got, tt.want)
			}
		})
	}
}

// A Secret's values never reach the record (it sits in the resource's
// status); a digest of them does, and a change to them is drift.
func TestSecretDataIsADigest(t *testing.T) {
	owner := testOwner()
	secretGVK := schema.GroupVersionKind{Version: "v1", Kind: "Secret"}
	answer := func(uid, password string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
			"metadata": map[string]any{"name": "s", "namespace": "ns", "uid": uid, "ownerReferences": ownerRefTo},
			"type":     "Opaque", "data": map[string]any{"password": base64.StdEncoding.EncodeToString([]byte(password))}}}
	}
	w := proxy.Write{Seq: 1, Verb: "create", GVK: secretGVK, Namespace: "ns", Name: "s", Object: answer("s1", "hunter2"),
		Body: map[string]any{"metadata": map[string]any{"name": "s"}, "type": "Opaque", "stringData": map[string]any{"password": "hunter2"}}}
	rec, why := newRecord(owner, []proxy.Write{w}, nil, nil)
	if rec == nil {
		t.Fatal(why)
	}
	enc := mustEncode(t, rec)
	raw := mustJSONBytes(t, rec)
	if bytes.Contains(raw, []byte("hunter2")) || bytes.Contains(raw, []byte(base64.StdEncoding.EncodeToString([]byte("hunter2")))) {
		t.Fatalf("the record holds the Secret's value: %s", raw)
	}
	for live, want := range map[*unstructured.Unstructured]bool{answer("s1", "hunter2"): true, answer("s1", "changed"): false} {
		r := &Reconciler{client: fake.NewClientBuilder().WithObjects(live).Build()}
		u := owner.DeepCopy()
		u.Object["status"] = map[string]any{statusRecordKey: normalize(enc)}
		dec, err := decodeRecord(u)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.dependentsHold(t.Context(), owner, dec); got != want {
			t.Errorf("dependentsHold with data %v = %v, want %v", live.Object["data"], got, want)
		}
	}
}

// manyDependents is n alike dependents, which compress well: a record whose
// size alone would pass.
func manyDependents(n int) []dependentRecord {
	out := make([]dependentRecord, n)
	for i := range out {
		out[i] = dependentRecord{APIVersion: "v1", Kind: "ConfigMap", Namespace: "ns", Name: "cm", UID: "u"}
	}
	return out
}
