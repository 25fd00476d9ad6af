package runner_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mcrouter-operator/mcrouter-operator/runner"
)

func object(gvk schema.GroupVersionKind, namespace, name string, spec any) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{Object: map[string]any{}}
	obj.SetGroupVersionKind(gvk)
	obj.SetNamespace(namespace)
	obj.SetName(name)
	if spec != nil {
		obj.Object["spec"] = spec
	}
	return obj
}

func TestExtraVars(t *testing.T) {
	mcrouter := schema.GroupVersionKind{Group: "mcrouter.example.com", Version: "v1alpha3", Kind: "Mcrouter"}
	dashed := schema.GroupVersionKind{Group: "cert-manager.k8s.io", Version: "v1", Kind: "Issuer"}
	tests := []struct {
		name string
		obj  *unstructured.Unstructured
		opts runner.RunOptions
		want map[string]any
	}{
		{
			name: "snake case, not unsafe, no spec",
			obj:  object(mcrouter, "ns", "m", nil),
			opts: runner.RunOptions{SnakeCaseParameters: true},
			want: map[string]any{
				"ansible_operator_meta":               map[string]any{"name": "m", "namespace": "ns"},
				"meta":                                map[string]any{"name": "m", "namespace": "ns"},
				"_mcrouter_example_com_mcrouter":      map[string]any{"apiVersion": "mcrouter.example.com/v1alpha3", "kind": "Mcrouter", "metadata": map[string]any{"name": "m", "namespace": "ns"}},
				"_mcrouter_example_com_mcrouter_spec": map[string]any{},
			},
		},
		{
			name: "keys kept without snake case; dashes in group; vars last",
			obj:  object(dashed, "", "cluster-wide", map[string]any{"poolSetup": "sharded", "name": "from spec"}),
			opts: runner.RunOptions{Vars: map[string]any{"poolSetup": "from watch", "extra": []any{1}}},
			want: map[string]any{
				"poolSetup":             "from watch",
				"name":                  "from spec",
				"extra":                 []any{1},
				"ansible_operator_meta": map[string]any{"name": "cluster-wide", "namespace": ""},
				"meta":                  map[string]any{"name": "cluster-wide", "namespace": ""},
				"_cert_manager_k8s_io_issuer": map[string]any{"apiVersion": "cert-manager.k8s.io/v1", "kind": "Issuer",
					"metadata": map[string]any{"name": "cluster-wide"}, "spec": map[string]any{"poolSetup": "sharded", "name": "from spec"}},
				"_cert_manager_k8s_io_issuer_spec": map[string]any{"poolSetup": "sharded", "name": "from spec"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := runner.ExtraVars(tt.obj, tt.opts)
			if err != nil {
				t.Fatalf("ExtraVars: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ExtraVars (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExtraVarsMarkUnsafeLeavesObjectAlone(t *testing.T) {
	obj := object(testGVK, "ns", "n", map[string]any{"list": []any{"a", map[string]any{"k": "v"}}, "n": int64(1)})
	before := obj.DeepCopy()
	vars, err := runner.ExtraVars(obj, runner.RunOptions{MarkUnsafe: true, SnakeCaseParameters: true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before.Object, obj.Object); diff != "" {
		t.Errorf("object modified (-before +after):\n%s", diff)
	}
	want := []any{map[string]any{"__ansible_unsafe": "a"}, map[string]any{"k": map[string]any{"__ansible_unsafe": "v"}}}
	if diff := cmp.Diff(want, vars["list"]); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
	if vars["n"] != int64(1) {
		t.Errorf("n = %#v, want the number untouched", vars["n"])
	}
}

func TestExtraVarsErrors(t *testing.T) {
	tests := []struct {
		name    string
		obj     *unstructured.Unstructured
		wantErr string
	}{
		{"spec not an object", object(testGVK, "ns", "n", "just a string"), "TestApp ns/n: spec: must be an object, got a string"},
		{"keys collide", object(testGVK, "ns", "n", map[string]any{"fooBar": 1, "foo_bar": 2}),
			`TestApp ns/n: spec: keys "fooBar" and "foo_bar" both convert to "foo_bar"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runner.ExtraVars(tt.obj, runner.RunOptions{SnakeCaseParameters: true})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ExtraVars error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestInputDir(t *testing.T) {
	tests := []struct {
		name      string
		gvk       schema.GroupVersionKind
		namespace string
		objName   string
		want      string
		wantErr   string
	}{
		{"namespaced", testGVK, "ns", "n", "/root/cache.example.com/v1alpha1/TestApp/ns/n", ""},
		{"cluster scoped, core group", schema.GroupVersionKind{Version: "v1", Kind: "Node"}, "", "n", "/root/v1/Node/n", ""},
		{"no name", testGVK, "ns", "", "", `name ""`},
		{"dot dot", testGVK, "..", "n", "", `namespace ".."`},
		{"slash", testGVK, "ns", "a/b", "", `name "a/b"`},
		{"no kind", schema.GroupVersionKind{Version: "v1"}, "ns", "n", "", `kind ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := runner.InputDir("/root", tt.gvk, tt.namespace, tt.objName)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("InputDir error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("InputDir = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestNewNamesMissingPackages(t *testing.T) {
	empty := t.TempDir()
	onlyRunner := t.TempDir()
	if err := os.Symlink("/usr/bin/ansible-runner", filepath.Join(onlyRunner, "ansible-runner")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		opts    runner.Options
		wantErr string
	}{
		{"no ansible-runner", runner.Options{Env: []string{"PATH=" + empty}}, "install the Debian package python3-ansible-runner"},
		{"no ansible-runner at a path", runner.Options{RunnerPath: empty + "/ansible-runner"}, "python3-ansible-runner"},
		{"no ansible-playbook", runner.Options{Env: []string{"PATH=" + onlyRunner}}, "install the Debian package ansible"},
		{"no python", runner.Options{PythonPath: empty + "/python3"}, "install the Debian package python3"},
		{"no timeout", runner.Options{Timeout: -1}, "run timeout must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.RootDir = t.TempDir()
			if tt.opts.Timeout == 0 {
				tt.opts.Timeout = time.Minute
			}
			_, err := runner.New(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestRunRejectsBadInputBeforeStarting(t *testing.T) {
	r, _ := newRunner(t)
	tests := []struct {
		name    string
		obj     *unstructured.Unstructured
		opts    runner.RunOptions
		wantErr string
	}{
		{"no object", nil, runner.RunOptions{Playbook: playbook(t, "noop.yml")}, "no object"},
		{"no playbook", object(testGVK, "ns", "n", nil), runner.RunOptions{}, "TestApp ns/n: one of role and playbook"},
		{"bad spec", object(testGVK, "ns", "n", []any{1}), runner.RunOptions{Playbook: playbook(t, "noop.yml")}, "spec: must be an object, got a []interface {}"},
		{"no name", object(testGVK, "ns", "", nil), runner.RunOptions{Playbook: playbook(t, "noop.yml")}, `name ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := r.Run(t.Context(), tt.obj, tt.opts)
			if res != nil || err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Run = %v, %v; want no Result and an error containing %q", res, err, tt.wantErr)
			}
		})
	}
}

func ExampleExtraVars() {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "mcrouter.example.com/v1alpha3",
		"kind":       "Mcrouter",
		"metadata":   map[string]any{"name": "example", "namespace": "default"},
		"spec":       map[string]any{"poolSetup": "replicated", "memcachedImage": "{{ not templated }}"},
	}}
	vars, err := runner.ExtraVars(obj, runner.RunOptions{SnakeCaseParameters: true, MarkUnsafe: true})
	if err != nil {
		panic(err)
	}
	out, _ := json.MarshalIndent(map[string]any{
		"pool_setup": vars["pool_setup"], "memcached_image": vars["memcached_image"], "meta": vars["ansible_operator_meta"],
	}, "", "  ")
	fmt.Println(string(out))
	fmt.Println(runner.ObjectVarName("mcrouter.example.com", "Mcrouter"))
	// Output:
	// {
	//   "memcached_image": {
	//     "__ansible_unsafe": "{{ not templated }}"
	//   },
	//   "meta": {
	//     "name": "example",
	//     "namespace": "default"
	//   },
	//   "pool_setup": {
	//     "__ansible_unsafe": "replicated"
	//   }
	// }
	// _mcrouter_example_com_mcrouter
}
