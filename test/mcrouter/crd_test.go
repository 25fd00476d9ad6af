package mcrouter_test

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

// TestCRDValidation creates Mcrouters on the API server: the schema rejects
// bad values with an error naming the field, and accepts the sample.
func TestCRDValidation(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	mcrouters := dynamicClient(t).Resource(mcrouterGVR).Namespace(ns)
	for _, tc := range []struct {
		name  string
		spec  map[string]any
		field string // empty: accepted
	}{
		{name: "pool setup foo", spec: map[string]any{"pool_setup": "foo"}, field: "spec.pool_setup"},
		{name: "pool size 0", spec: map[string]any{"memcached_pool_size": 0}, field: "spec.memcached_pool_size"},
		{name: "pool size 10000", spec: map[string]any{"memcached_pool_size": 10000}, field: "spec.memcached_pool_size"},
		{name: "pool size three", spec: map[string]any{"memcached_pool_size": "three"}, field: "spec.memcached_pool_size"},
		{name: "memcached port 70000", spec: map[string]any{"memcached_port": 70000}, field: "spec.memcached_port"},
		{name: "mcrouter port 0", spec: map[string]any{"mcrouter_port": 0}, field: "spec.mcrouter_port"},
		{name: "replicas -1", spec: map[string]any{"mcrouter_replicas": -1}, field: "spec.mcrouter_replicas"},
		{name: "relative fifo root", spec: map[string]any{"debug_fifo_root": "fifos"}, field: "spec.debug_fifo_root"},
		{name: "bad quantity", spec: map[string]any{"memcached_resources": map[string]any{"limits": map[string]any{"memory": "lots"}}},
			field: "spec.memcached_resources.limits.memory"},
		{name: "label not a string", spec: map[string]any{"labels": map[string]any{"team": 7}}, field: "spec.labels.team"},
		{name: "empty spec", spec: map[string]any{}},
		{name: "bounds", spec: map[string]any{"memcached_pool_size": 256, "memcached_port": 65535, "mcrouter_port": 1,
			"pool_setup": "sharded", "debug_fifo_root": "/var/mcrouter/fifos",
			"mcrouter_resources": map[string]any{"requests": map[string]any{"cpu": "100m", "memory": 67108864}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			obj := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "mcrouter.example.com/v1alpha3",
				"kind":       "Mcrouter",
				"metadata":   map[string]any{"generateName": "crd-"},
				"spec":       tc.spec,
			}}
			_, err := mcrouters.Create(t.Context(), obj, metav1.CreateOptions{})
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("create with spec %v: %v", tc.spec, err)
			case tc.field != "" && err == nil:
				t.Fatalf("create with spec %v succeeded; want %s rejected", tc.spec, tc.field)
			case tc.field != "" && (!apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.field)):
				t.Fatalf("create with spec %v: error %v; want Invalid naming %s", tc.spec, err, tc.field)
			}
		})
	}
}

// TestCRDSampleAndDefaults applies deploy/samples and checks the defaults the
// API server fills in are the role's defaults.
func TestCRDSampleAndDefaults(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	b, err := os.ReadFile(optest.RepoPath(t, "deploy", "samples", "mcrouter_v1alpha3_mcrouter.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sample := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(b, &sample.Object); err != nil {
		t.Fatalf("deploy/samples/mcrouter_v1alpha3_mcrouter.yaml: %v", err)
	}
	sample.SetNamespace(ns)
	created, err := dynamicClient(t).Resource(mcrouterGVR).Namespace(ns).Create(t.Context(), sample, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create the sample: %v", err)
	}
	spec, _, _ := unstructured.NestedMap(created.Object, "spec")
	if spec["memcached_pool_size"] != int64(3) || spec["pool_setup"] != "replicated" {
		t.Errorf("sample spec = %v; want the README example (3 pods, replicated)", spec)
	}

	defaults := map[string]any{}
	b, err = os.ReadFile(optest.RepoPath(t, "roles", "mcrouter", "defaults", "main.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &defaults); err != nil {
		t.Fatalf("roles/mcrouter/defaults/main.yml: %v", err)
	}
	empty := createMcrouter(t, ns, "defaults", map[string]any{})
	got, _, _ := unstructured.NestedMap(empty.Object, "spec")
	want := map[string]any{}
	for k := range got {
		want[k] = defaults[k]
	}
	// JSON numbers decode as int64 from the API server and float64 from YAML.
	for k, v := range want {
		if f, ok := v.(float64); ok {
			want[k] = int64(f)
		}
	}
	if len(got) < 8 {
		t.Errorf("the CRD defaults only %v", got)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CRD defaults differ from the role defaults (-role +crd):\n%s", diff)
	}
}
