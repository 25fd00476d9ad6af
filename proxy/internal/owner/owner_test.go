package owner_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mcrouter-operator/mcrouter-operator/proxy/internal/owner"
)

var cr = owner.Ref{APIVersion: "cache.example.com/v1", Kind: "Memcached", Name: "mc", Namespace: "ns1", UID: "u-1"}

func ref() map[string]any {
	return map[string]any{"apiVersion": "cache.example.com/v1", "kind": "Memcached", "name": "mc", "uid": "u-1"}
}

func TestMark(t *testing.T) {
	tests := []struct {
		name       string
		owner      owner.Ref
		obj        map[string]any
		ns         string
		namespaced bool
		wantMode   owner.Mode
		want       map[string]any
	}{
		{
			name: "same namespace gets a reference", owner: cr, ns: "ns1", namespaced: true,
			obj:      map[string]any{"kind": "ConfigMap", "metadata": map[string]any{"name": "a"}},
			wantMode: owner.Reference,
			want: map[string]any{"kind": "ConfigMap", "metadata": map[string]any{
				"name": "a", "ownerReferences": []any{ref()}}},
		},
		{
			name: "no metadata at all", owner: cr, ns: "ns1", namespaced: true,
			obj:      map[string]any{"kind": "ConfigMap"},
			wantMode: owner.Reference,
			want:     map[string]any{"kind": "ConfigMap", "metadata": map[string]any{"ownerReferences": []any{ref()}}},
		},
		{
			name: "null metadata", owner: cr, ns: "ns1", namespaced: true,
			obj:      map[string]any{"kind": "ConfigMap", "metadata": nil},
			wantMode: owner.Reference,
			want:     map[string]any{"kind": "ConfigMap", "metadata": map[string]any{"ownerReferences": []any{ref()}}},
		},
		{
			name: "existing references are kept", owner: cr, ns: "ns1", namespaced: true,
			obj: map[string]any{"metadata": map[string]any{"ownerReferences": []any{
				map[string]any{"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "u-9"}}}},
			wantMode: owner.Reference,
			want: map[string]any{"metadata": map[string]any{"ownerReferences": []any{
				map[string]any{"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "u-9"}, ref()}}},
		},
		{
			name: "no duplicate reference", owner: cr, ns: "ns1", namespaced: true,
			obj:      map[string]any{"metadata": map[string]any{"ownerReferences": []any{ref()}}},
			wantMode: owner.Reference,
			want:     map[string]any{"metadata": map[string]any{"ownerReferences": []any{ref()}}},
		},
		{
			name: "other namespace gets annotations", owner: cr, ns: "ns2", namespaced: true,
			obj:      map[string]any{"metadata": map[string]any{"annotations": map[string]any{"keep": "me"}}},
			wantMode: owner.Annotation,
			want: map[string]any{"metadata": map[string]any{"annotations": map[string]any{
				"keep": "me", owner.NameAnnotation: "ns1/mc", owner.TypeAnnotation: "Memcached.cache.example.com"}}},
		},
		{
			name: "cluster-scoped dependent gets annotations", owner: cr, namespaced: false,
			obj:      map[string]any{"metadata": map[string]any{"name": "role"}},
			wantMode: owner.Annotation,
			want: map[string]any{"metadata": map[string]any{"name": "role", "annotations": map[string]any{
				owner.NameAnnotation: "ns1/mc", owner.TypeAnnotation: "Memcached.cache.example.com"}}},
		},
		{
			name:  "core-group owner type has no trailing dot",
			owner: owner.Ref{APIVersion: "v1", Kind: "ConfigMap", Name: "c", Namespace: "ns1", UID: "u-2"},
			obj:   map[string]any{}, namespaced: false, wantMode: owner.Annotation,
			want: map[string]any{"metadata": map[string]any{"annotations": map[string]any{
				owner.NameAnnotation: "ns1/c", owner.TypeAnnotation: "ConfigMap"}}},
		},
		{
			name:  "cluster-scoped owner references anything",
			owner: owner.Ref{APIVersion: "cache.example.com/v1", Kind: "Cluster", Name: "c", UID: "u-3"},
			obj:   map[string]any{}, ns: "ns5", namespaced: true, wantMode: owner.Reference,
			want: map[string]any{"metadata": map[string]any{"ownerReferences": []any{
				map[string]any{"apiVersion": "cache.example.com/v1", "kind": "Cluster", "name": "c", "uid": "u-3"}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mode, err := owner.Mark(tt.obj, tt.owner, tt.ns, tt.namespaced)
			if err != nil {
				t.Fatalf("Mark: %v", err)
			}
			if mode != tt.wantMode {
				t.Errorf("mode = %v, want %v", mode, tt.wantMode)
			}
			if diff := cmp.Diff(tt.want, tt.obj); diff != "" {
				t.Errorf("object mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMarkRejectsMalformedMetadata(t *testing.T) {
	tests := []struct {
		name string
		obj  map[string]any
		ns   string
		want string
	}{
		{"metadata not an object", map[string]any{"metadata": "x"}, "ns1", "metadata must be an object, not string"},
		{"ownerReferences not a list", map[string]any{"metadata": map[string]any{"ownerReferences": "x"}}, "ns1",
			"metadata.ownerReferences must be a list, not string"},
		{"annotations not strings", map[string]any{"metadata": map[string]any{"annotations": map[string]any{"a": 1}}},
			"ns2", "metadata.annotations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := owner.Mark(tt.obj, cr, tt.ns, true)
			if err == nil {
				t.Fatalf("Mark accepted %v", tt.obj)
			}
			if got := err.Error(); !strings.HasPrefix(got, tt.want) {
				t.Errorf("error %q does not start with %q", got, tt.want)
			}
		})
	}
}

func TestFind(t *testing.T) {
	gk := schema.GroupKind{Group: "cache.example.com", Kind: "Memcached"}
	tests := []struct {
		name string
		obj  map[string]any
		want owner.Mode
	}{
		{"nothing", map[string]any{"metadata": map[string]any{"name": "a"}}, owner.None},
		{"reference of another version", map[string]any{"metadata": map[string]any{"ownerReferences": []any{
			map[string]any{"apiVersion": "cache.example.com/v2", "kind": "Memcached", "name": "x", "uid": "u"}}}},
			owner.Reference},
		{"reference of another kind", map[string]any{"metadata": map[string]any{"ownerReferences": []any{
			map[string]any{"apiVersion": "cache.example.com/v1", "kind": "Other", "name": "x", "uid": "u"}}}},
			owner.None},
		{"annotation", map[string]any{"metadata": map[string]any{"annotations": map[string]any{
			owner.TypeAnnotation: "Memcached.cache.example.com", owner.NameAnnotation: "ns/x"}}}, owner.Annotation},
		{"annotation of another kind", map[string]any{"metadata": map[string]any{"annotations": map[string]any{
			owner.TypeAnnotation: "Other.cache.example.com"}}}, owner.None},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := owner.Find(tt.obj, gk); got != tt.want {
				t.Errorf("Find = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLinks(t *testing.T) {
	meta := func(m map[string]any) map[string]any { return map[string]any{"metadata": m} }
	tests := []struct {
		name string
		obj  map[string]any
		want owner.Mode
	}{
		{"nothing", meta(map[string]any{"name": "a"}), owner.None},
		{"reference to this owner", meta(map[string]any{"ownerReferences": []any{ref()}}), owner.Reference},
		{"reference to another of its kind", meta(map[string]any{"ownerReferences": []any{
			map[string]any{"apiVersion": "cache.example.com/v1", "kind": "Memcached", "name": "mc", "uid": "u-2"}}}),
			owner.None},
		{"annotations naming this owner", meta(map[string]any{"annotations": map[string]any{
			owner.TypeAnnotation: "Memcached.cache.example.com", owner.NameAnnotation: "ns1/mc"}}), owner.Annotation},
		{"annotations naming another", meta(map[string]any{"annotations": map[string]any{
			owner.TypeAnnotation: "Memcached.cache.example.com", owner.NameAnnotation: "ns1/other"}}), owner.None},
		{"annotations of another kind", meta(map[string]any{"annotations": map[string]any{
			owner.TypeAnnotation: "Other.cache.example.com", owner.NameAnnotation: "ns1/mc"}}), owner.None},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := owner.Links(tt.obj, cr); got != tt.want {
				t.Errorf("Links = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLinkPatch(t *testing.T) {
	pod := map[string]any{"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "u-9"}
	stored := map[string]any{"kind": "ConfigMap", "metadata": map[string]any{
		"name": "a", "uid": "x", "ownerReferences": []any{pod}, "annotations": map[string]any{"keep": "me"}}}
	tests := []struct {
		name       string
		ns         string
		namespaced bool
		want       map[string]any
	}{
		{"same namespace: the whole reference list", "ns1", true,
			map[string]any{"ownerReferences": []any{pod, ref()}}},
		{"other namespace: the two annotations only", "ns2", true,
			map[string]any{"annotations": map[string]any{
				owner.NameAnnotation: "ns1/mc", owner.TypeAnnotation: "Memcached.cache.example.com"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := owner.LinkPatch(stored, cr, tt.ns, tt.namespaced)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("LinkPatch (-want +got):\n%s", diff)
			}
		})
	}
	if refs := stored["metadata"].(map[string]any)["ownerReferences"].([]any); len(refs) != 1 {
		t.Errorf("LinkPatch changed the stored object: %v", refs)
	}
}
