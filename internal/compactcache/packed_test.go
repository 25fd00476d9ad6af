package compactcache

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/s2"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
)

// sample is an object with every kind of JSON value the API server sends.
func sample() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata": map[string]any{
			"name": "web", "namespace": "shop", "uid": "0b5e", "resourceVersion": "42", "generation": int64(3),
			"labels":      map[string]any{"app": "web", "tier": "front"},
			"annotations": map[string]any{"note": `<b>"quoted" & ünïcödé</b>`},
		},
		"spec": map[string]any{
			"replicas": int64(2),
			"ratio":    0.25,
			"big":      int64(1) << 60,
			"paused":   false,
			"selector": map[string]any{},
			"list":     []any{},
			"nothing":  nil,
			"template": map[string]any{"spec": map[string]any{"containers": []any{
				map[string]any{"name": "c", "args": []any{"-v", int64(-1), true}},
			}}},
		},
	}}
}

func TestPackRoundTrip(t *testing.T) {
	in := sample()
	p := newPacker().pack(in.DeepCopy())
	if p == nil {
		t.Fatal("pack failed")
	}
	out, err := p.unpack()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in.Object, out.Object); diff != "" {
		t.Errorf("unpacked object differs (-packed +unpacked):\n%s", diff)
	}
	copied, ok := p.DeepCopyObject().(*unstructured.Unstructured)
	if !ok {
		t.Fatalf("DeepCopyObject returned %T, want *unstructured.Unstructured", p.DeepCopyObject())
	}
	if diff := cmp.Diff(in.Object, copied.Object); diff != "" {
		t.Errorf("DeepCopyObject differs:\n%s", diff)
	}
	// Each unpack is a new object: changing one leaves the cache alone.
	copied.SetName("changed")
	if again, _ := p.unpack(); again.GetName() != "web" {
		t.Errorf("the packed object changed with a copy: %q", again.GetName())
	}
}

func TestPackKeepsWhatTheInformerReads(t *testing.T) {
	p := newPacker().pack(sample())
	got := map[string]any{"apiVersion": p.APIVersion, "kind": p.Kind, "name": p.GetName(), "namespace": p.GetNamespace(), "labels": p.GetLabels()}
	want := map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "namespace": "shop",
		"labels": map[string]string{"app": "web", "tier": "front"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("packed metadata (-want +got):\n%s", diff)
	}
	if p.GetUID() != "" || p.GetAnnotations() != nil {
		t.Errorf("packed metadata holds more than the key and labels: uid %q, annotations %v", p.GetUID(), p.GetAnnotations())
	}
	if gvk := p.GetObjectKind().GroupVersionKind(); gvk.Kind != "Deployment" || gvk.Group != "apps" {
		t.Errorf("GetObjectKind = %v", gvk)
	}
}

// An integral float comes back as an int64 that encodes to the same JSON.
func TestPackIntegralFloat(t *testing.T) {
	in := &unstructured.Unstructured{Object: map[string]any{"kind": "K", "spec": map[string]any{"n": 2.0}}}
	out, err := newPacker().pack(in).unpack()
	if err != nil {
		t.Fatal(err)
	}
	if v := out.Object["spec"].(map[string]any)["n"]; v != int64(2) {
		t.Errorf("spec.n = %#v, want int64(2)", v)
	}
	a, _ := json.Marshal(in.Object)
	b, _ := json.Marshal(out.Object)
	if string(a) != string(b) {
		t.Errorf("JSON differs: %s vs %s", a, b)
	}
}

// deployment is the Mcrouter role's Deployment as the API server sends it
// (managedFields left out, as the operator's cache does).
func deployment(t testing.TB) *unstructured.Unstructured {
	t.Helper()
	raw, err := os.ReadFile("testdata/deployment.json")
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(raw); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestPackedIsSmall(t *testing.T) {
	u := deployment(t)
	raw, _ := json.Marshal(u.Object)
	p := newPacker().pack(u)
	if len(p.data)*2 > len(raw) {
		t.Errorf("the Deployment packs to %d bytes of %d bytes of JSON; want half or less", len(p.data), len(raw))
	}
	out, err := p.unpack()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(deployment(t).Object, out.Object); diff != "" {
		t.Errorf("the Deployment unpacked differs:\n%s", diff)
	}
}

// another is u under another name and UID, as the next CR's Deployment.
func another(u *unstructured.Unstructured, name string) *unstructured.Unstructured {
	v := u.DeepCopy()
	v.SetName(name)
	v.SetUID("uid-of-" + types.UID(name))
	return v
}

func TestDictionaryOfTheKind(t *testing.T) {
	pk := newPacker()
	first, second := pk.pack(deployment(t)), pk.pack(another(deployment(t), "m-2"))
	alone := newPacker()
	alone.dicts["apps/v1 Deployment"] = &kindDict{changes: maxDictChanges} // no dictionary
	plain := alone.pack(another(deployment(t), "m-2"))
	if first.dict == nil || second.dict != first.dict {
		t.Fatalf("dictionaries %p and %p, want the same one", first.dict, second.dict)
	}
	if plain.dict != nil || len(second.data)*3 > len(plain.data) {
		t.Errorf("with the kind's dictionary %d bytes, without %d; want a third or less", len(second.data), len(plain.data))
	}
	for _, p := range []*packed{first, second, plain} {
		out, err := p.unpack()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(another(deployment(t), p.Name).Object["spec"], out.Object["spec"]); diff != "" || out.GetName() != p.Name {
			t.Errorf("%s unpacked differs:\n%s", p.Name, diff)
		}
	}
}

func TestSecretsMakeNoDictionary(t *testing.T) {
	pk := newPacker()
	for i := range 2 {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
			"metadata": map[string]any{"name": fmt.Sprint("s", i)}, "data": map[string]any{"password": "c2VjcmV0c2VjcmV0"}}}
		if p := pk.pack(u); p.dict != nil {
			t.Errorf("Secret %d packed with a dictionary", i)
		}
	}
	if len(pk.dicts) != 0 {
		t.Errorf("dictionaries made of Secrets: %v", pk.dicts)
	}
}

func TestDictionaryChangesAreBounded(t *testing.T) {
	pk := newPacker()
	var all []*packed
	dicts := map[*s2.Dict]bool{}
	for i := range 8 {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": fmt.Sprint("c", i)},
			"data":     map[string]any{"k": strings.Repeat(fmt.Sprint(i), 100<<i)}}}
		p := pk.pack(u)
		all = append(all, p)
		dicts[p.dict] = true
	}
	if len(dicts) != 1+maxDictChanges {
		t.Errorf("%d dictionaries for objects doubling in size, want %d", len(dicts), 1+maxDictChanges)
	}
	for i, p := range all {
		out, err := p.unpack()
		if err != nil {
			t.Fatalf("object %d packed before the dictionary changed: %v", i, err)
		}
		if v, _, _ := unstructured.NestedString(out.Object, "data", "k"); len(v) != 100<<i {
			t.Errorf("object %d unpacks to %d bytes of data, want %d", i, len(v), 100<<i)
		}
	}
}

func TestTransform(t *testing.T) {
	var seen []any
	next := func(in any) (any, error) { seen = append(seen, in); return in, nil }
	out, err := newPacker().transform(next)(sample())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := out.(*packed); !ok || len(seen) != 1 {
		t.Errorf("transform(next) gave %T after %d calls of next, want *packed after 1", out, len(seen))
	}
	typed := &toolscache.DeletedFinalStateUnknown{Key: "k"}
	if out, _ := newPacker().transform(nil)(typed); out != typed {
		t.Errorf("transform changed a %T", typed)
	}
	boom := errors.New("boom")
	if _, err := newPacker().transform(func(any) (any, error) { return nil, boom })(sample()); !errors.Is(err, boom) {
		t.Errorf("transform error = %v, want next's", err)
	}
}

// recorder is a ResourceEventHandler that records what it is given.
type recorder struct{ got []any }

func (r *recorder) OnAdd(obj any, _ bool)       { r.got = append(r.got, obj) }
func (r *recorder) OnUpdate(oldObj, newObj any) { r.got = append(r.got, oldObj, newObj) }
func (r *recorder) OnDelete(obj any)            { r.got = append(r.got, obj) }

func TestHandlerUnpacks(t *testing.T) {
	rec := &recorder{}
	h := handler{rec}
	p := newPacker().pack(sample())
	h.OnAdd(p, true)
	h.OnUpdate(p, p)
	h.OnDelete(p)
	h.OnDelete(toolscache.DeletedFinalStateUnknown{Key: "shop/web", Obj: p})
	if len(rec.got) != 5 {
		t.Fatalf("handler got %d objects, want 5", len(rec.got))
	}
	for i, o := range rec.got {
		if t2, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
			o = t2.Obj
		}
		u, ok := o.(*unstructured.Unstructured)
		if !ok {
			t.Errorf("object %d is a %T", i, o)
			continue
		}
		if diff := cmp.Diff(sample().Object, u.Object); diff != "" {
			t.Errorf("object %d differs:\n%s", i, diff)
		}
	}
}

func TestUnpackFailureIsAnError(t *testing.T) {
	p := newPacker().pack(sample())
	p.data = p.data[:len(p.data)/2]
	if _, err := p.unpack(); err == nil {
		t.Fatal("unpack of truncated data succeeded")
	}
	err := func() (err error) {
		defer recoverUnpack(&err)
		p.DeepCopyObject()
		return nil
	}()
	if err == nil || !strings.Contains(err.Error(), "shop/web") {
		t.Errorf("DeepCopyObject of bad data: error %v, want one naming the object", err)
	}
}

func BenchmarkPack(b *testing.B) {
	u := deployment(b)
	pk := newPacker()
	for b.Loop() {
		pk.pack(u)
	}
}

func BenchmarkUnpack(b *testing.B) {
	p := newPacker().pack(deployment(b))
	for b.Loop() {
		if _, err := p.unpack(); err != nil {
			b.Fatal(err)
		}
	}
}
