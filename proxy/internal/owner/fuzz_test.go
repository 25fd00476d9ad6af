package owner_test

import (
	"testing"

	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"

	"github.com/mcrouter-operator/mcrouter-operator/proxy/internal/owner"
)

// FuzzMark decodes a request body the way the proxy does (YAML or JSON into
// an object) and links it: Mark never panics; when it succeeds the object is
// linked to the owner, a second Mark changes nothing, and LinkPatch of the
// result links it the same way.
func FuzzMark(f *testing.F) {
	for _, seed := range []string{
		`{"kind":"ConfigMap","metadata":{"name":"a"}}`,
		`{"metadata":{"ownerReferences":[{"apiVersion":"v1","kind":"Pod","name":"p","uid":"u-9"}]}}`,
		`{"metadata":{"ownerReferences":[{"uid":"u-1"},{"uid":"u-1"}]}}`,
		`{"metadata":{"ownerReferences":[1,"x",null,{"uid":7}]}}`,
		`{"metadata":{"annotations":{"a":1}}}`,
		`{"metadata":{"annotations":null,"ownerReferences":{}}}`,
		`{"metadata":[]}`,
		"metadata:\n  name: a\n  annotations:\n    operator-sdk/primary-resource: x/y\n",
	} {
		f.Add([]byte(seed), "ns1", true)
		f.Add([]byte(seed), "ns2", false)
	}
	f.Fuzz(func(t *testing.T, body []byte, ns string, namespaced bool) {
		data, err := yaml.YAMLToJSON(body)
		if err != nil {
			return
		}
		var obj map[string]any
		if utiljson.Unmarshal(data, &obj) != nil || obj == nil {
			return
		}
		mode, err := owner.Mark(obj, cr, ns, namespaced)
		if err != nil {
			return
		}
		if mode != owner.Decide(cr, ns, namespaced) {
			t.Fatalf("Mark used %v, Decide says %v", mode, owner.Decide(cr, ns, namespaced))
		}
		if got := owner.Links(obj, cr); got == owner.None {
			t.Fatalf("marked object %v is not linked", obj)
		}
		before, err := utiljson.Marshal(obj)
		if err != nil {
			t.Fatalf("marked object does not encode: %v", err)
		}
		if _, err := owner.Mark(obj, cr, ns, namespaced); err != nil {
			t.Fatalf("second Mark: %v", err)
		}
		if after, _ := utiljson.Marshal(obj); string(after) != string(before) {
			t.Fatalf("second Mark changed the object:\n%s\n%s", before, after)
		}
		md, err := owner.LinkPatch(obj, cr, ns, namespaced)
		if err != nil {
			t.Fatalf("LinkPatch of a marked object: %v", err)
		}
		if owner.Links(map[string]any{"metadata": md}, cr) == owner.None {
			t.Fatalf("LinkPatch %v does not link", md)
		}
	})
}
