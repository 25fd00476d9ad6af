package runner_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mcrouter-operator/mcrouter-operator/runner"
)

// Reason fragments, one per rule, so a table row says which rule refused it.
const (
	byAnsible = "Ansible reads itself"
	byPrivate = `starts with "_"`
	byHost    = "Ansible sets for each host"
	byMagic   = "Ansible sets itself and puts over extra vars"
	byMeta    = "the operator sets itself"
	byPlugin  = "a plugin of the Ansible collections"
	byMarker  = "the key holds the Jinja marker"
	byTag     = "the key is a tag of Ansible's JSON loader"
	bySnake   = "both convert to"
	byType    = "must be an object"
)

// deep puts key in a map in a list in a list in a map in a list of the spec.
func deep(key string) map[string]any {
	return map[string]any{"pools": []any{
		map[string]any{}, "x", map[string]any{"servers": []any{[]any{map[string]any{key: 1}}}},
	}}
}

// refusedKeys are resources ExtraVars refuses, and the SpecError each gets.
var refusedKeys = []struct {
	name     string
	spec     any
	raw      bool           // snakeCaseParameters: false
	other    map[string]any // other top-level fields of the object
	wantPath string
	wantVar  string
	reason   string
}{
	{"interpreter, camelCase", map[string]any{"ansiblePythonInterpreter": "touch /tmp/x; /usr/bin/python3"}, false, nil,
		"spec.ansiblePythonInterpreter", "ansible_python_interpreter", byAnsible},
	{"connection, snake_case", map[string]any{"ansible_connection": "ssh"}, false, nil,
		"spec.ansible_connection", "ansible_connection", byAnsible},
	{"shell executable, kebab-case", map[string]any{"ansible-shell-executable": "/bin/x"}, false, nil,
		"spec.ansible-shell-executable", "ansible_shell_executable", byAnsible},
	{"acronym after ansible", map[string]any{"ansibleSSHPass": "p"}, false, nil,
		"spec.ansibleSSHPass", "ansible_ssh_pass", byAnsible},
	{"become, raw keys", map[string]any{"ansible_become_exe": "sh -c id"}, true, nil,
		"spec.ansible_become_exe", "ansible_become_exe", byAnsible},
	{"mixed case, raw keys", map[string]any{"ANSIBLE_connection": "ssh"}, true, nil,
		"spec.ANSIBLE_connection", "ANSIBLE_connection", byAnsible},
	{"facts", map[string]any{"ansibleFacts": map[string]any{}}, false, nil, "spec.ansibleFacts", "ansible_facts", byAnsible},
	{"PascalCase gets a leading _", map[string]any{"AnsibleSSHPass": "p"}, false, nil,
		"spec.AnsibleSSHPass", "_ansible_ssh_pass", byPrivate},
	{"mixed case gets a leading _", map[string]any{"ANSIBLE_connection": "ssh"}, false, nil,
		"spec.ANSIBLE_connection", "_ansible_connection", byPrivate},
	{"capital shadows a private var", map[string]any{"Config": "x"}, false, nil, "spec.Config", "_config", byPrivate},
	{"leading _, raw keys", map[string]any{"_private": 1}, true, nil, "spec._private", "_private", byPrivate},
	{"the object var", map[string]any{"CacheExampleComTestapp": 1}, false, nil,
		"spec.CacheExampleComTestapp", "_cache_example_com_testapp", byPrivate},
	{"operator meta", map[string]any{"ansibleOperatorMeta": 1}, false, nil,
		"spec.ansibleOperatorMeta", "ansible_operator_meta", byMeta},
	{"older SDK meta", map[string]any{"meta": map[string]any{"name": "other"}}, false, nil, "spec.meta", "meta", byMeta},
	{"host magic", map[string]any{"inventoryHostname": "db"}, false, nil,
		"spec.inventoryHostname", "inventory_hostname", byHost},
	{"group names, raw keys", map[string]any{"group_names": []any{}}, true, nil, "spec.group_names", "group_names", byHost},
	{"hostvars", map[string]any{"hostvars": 1}, false, nil, "spec.hostvars", "hostvars", byMagic},
	{"omit", map[string]any{"omit": "x"}, false, nil, "spec.omit", "omit", byMagic},
	{"vars", map[string]any{"vars": map[string]any{}}, false, nil, "spec.vars", "vars", byMagic},
	{"environment", map[string]any{"environment": "prod"}, false, nil, "spec.environment", "environment", byMagic},
	{"playbook dir", map[string]any{"playbookDir": "/"}, false, nil, "spec.playbookDir", "playbook_dir", byMagic},
	{"magic, other case, raw keys", map[string]any{"Groups": 1}, true, nil, "spec.Groups", "Groups", byMagic},
	{"plugin option", map[string]any{"passwordstoreBackend": "gopass"}, false, nil,
		"spec.passwordstoreBackend", "passwordstore_backend", byPlugin},
	{"marker at the top", map[string]any{"{{ lookup('pipe','id') }}": 1}, false, nil,
		`spec["{{ lookup('pipe','id') }}"]`, "", byMarker + ` "{{"`},
	{"marker deep in lists of maps", deep("{{x}}"), false, nil, `spec.pools[2].servers[0][0]["{{x}}"]`, "", byMarker},
	{"statement marker", deep("a{%b"), false, nil, `spec.pools[2].servers[0][0]["a{%b"]`, "", byMarker + ` "{%"`},
	{"comment marker, raw keys", deep("{#"), true, nil, `spec.pools[2].servers[0][0]["{#"]`, "", byMarker + ` "{#"`},
	{"vault tag", map[string]any{"password": map[string]any{"__ansible_vault": "$ANSIBLE_VAULT;1.1;AES256"}}, false, nil,
		"spec.password.__ansible_vault", "", byTag},
	{"unsafe tag", deep("__ansible_unsafe"), false, nil, "spec.pools[2].servers[0][0].__ansible_unsafe", "", byTag},
	{"tag after snake_case", deep("_ AnsibleVault"), false, nil, `spec.pools[2].servers[0][0]["_ AnsibleVault"]`, "",
		`converts to "__ansible_vault", which is a tag`},
	{"tag after snake_case, kebab", map[string]any{"x": map[string]any{"-_ansible-unsafe": 1}}, false, nil,
		"spec.x.-_ansible-unsafe", "", `converts to "__ansible_unsafe"`},
	{"marker in status", map[string]any{}, false, map[string]any{"status": map[string]any{"x": map[string]any{"{{ x }}": 1}}},
		`status.x["{{ x }}"]`, "", byMarker},
	{"marker in another top-level field", nil, false, map[string]any{"data": []any{map[string]any{"{%": 1}}},
		`data[0]["{%"]`, "", byMarker},
	{"snake_case collision", map[string]any{"fooBar": 1, "foo_bar": 2}, false, nil, "spec", "", bySnake},
	{"spec not an object", "text", false, nil, "spec", "", byType},
	{"names before keys", map[string]any{"b": map[string]any{"{{": 1}, "a": []any{map[string]any{"{#": 1}}, "c": 1,
		"ansibleUser": 1}, false, nil, "spec.ansibleUser", "ansible_user", byAnsible},
	{"smallest path of several", map[string]any{"b": map[string]any{"{{": 1}, "a": []any{map[string]any{"{#": 1}}, "c": 1},
		false, map[string]any{"status": map[string]any{"{{": 1}}, `spec.a[0]["{#"]`, "", byMarker},
}

func TestExtraVarsRefusesKeys(t *testing.T) {
	for _, tt := range refusedKeys {
		t.Run(tt.name, func(t *testing.T) {
			obj := object(testGVK, "ns", "n", tt.spec)
			for k, v := range tt.other {
				obj.Object[k] = v
			}
			_, err := runner.ExtraVars(obj, runner.RunOptions{SnakeCaseParameters: !tt.raw, MarkUnsafe: true})
			var specErr *runner.SpecError
			if !errors.As(err, &specErr) {
				t.Fatalf("ExtraVars error = %v, want a *SpecError", err)
			}
			if specErr.Path != tt.wantPath || specErr.Var != tt.wantVar || !strings.Contains(specErr.Reason, tt.reason) {
				t.Errorf("SpecError = %+v, want path %s, var %q, a reason containing %q",
					*specErr, tt.wantPath, tt.wantVar, tt.reason)
			}
			if want := "TestApp ns/n: " + tt.wantPath + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q does not start with %q", err, want)
			}
		})
	}
}

func TestSpecErrorMessage(t *testing.T) {
	obj := object(testGVK, "ns", "n", map[string]any{"ansiblePythonInterpreter": "touch /tmp/x; /usr/bin/python3"})
	_, err := runner.ExtraVars(obj, runner.RunOptions{SnakeCaseParameters: true})
	want := `TestApp ns/n: spec.ansiblePythonInterpreter: becomes Ansible variable "ansible_python_interpreter", ` +
		"which Ansible reads itself (connection, become, interpreter and shell settings, facts, magic variables); " +
		"extra vars outrank the inventory, so the resource would choose how and where Ansible runs commands; rename the field"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}

	long := strings.Repeat("{{", 100)
	_, err = runner.ExtraVars(object(testGVK, "ns", "n", map[string]any{"x": map[string]any{long: 1}}), runner.RunOptions{})
	if want := `spec.x["` + strings.Repeat("{{", 32) + `…"]: the key holds the Jinja marker "{{"`; err == nil ||
		!strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want one with the key shortened: %s", err, want)
	}
}

func TestExtraVarsRefusalIsStable(t *testing.T) {
	spec := map[string]any{}
	for _, k := range []string{"zeta", "ansibleUser", "Omega", "meta", "x{{", "hostvars", "mid"} {
		spec[k] = map[string]any{"{{" + k: []any{map[string]any{"{%": 1}}}
	}
	first := ""
	for i := range 50 {
		_, err := runner.ExtraVars(object(testGVK, "ns", "n", spec), runner.RunOptions{SnakeCaseParameters: true})
		if err == nil {
			t.Fatal("ExtraVars succeeded")
		}
		if i == 0 {
			first = err.Error()
		} else if err.Error() != first {
			t.Fatalf("error changed between calls:\n%s\n%v", first, err)
		}
	}
	if !strings.HasPrefix(first, "TestApp ns/n: spec.Omega: ") {
		t.Errorf("error = %s, want the smallest key, spec.Omega", first)
	}
}

func TestExtraVarsAcceptsOrdinaryKeys(t *testing.T) {
	// Play keywords and Jinja globals are ordinary variables in extra vars:
	// Ansible reads keywords from the play, never from variables.
	spec := map[string]any{
		"name": "n", "port": int64(1), "timeout": "5s", "hosts": []any{"a"}, "tags": []any{"t"}, "when": "now",
		"become": true, "connection": "x", "remoteUser": "u", "delegateTo": "d", "noLog": false, "item": 1,
		"lookup": "l", "range": "r", "state": "present", "ansible": "just the word", "myAnsibleVar": 1, "notAnsible_x": 1,
		"labels":      map[string]any{"app.kubernetes.io/name": "x", "a_b": "{{ values may hold markers }}"},
		"braces":      map[string]any{"{": 1, "}}": 2, "{ {": 3, "%}": 4, "x}{": 5},
		"hostVarsRef": "fine: not the magic name",
	}
	mcrouter := map[string]any{ // deploy/samples and every default of roles/mcrouter
		"memcached_pool_size": int64(3), "pool_setup": "replicated", "mcrouter_image": "devan2502/mcrouter:latest",
		"mcrouter_port": int64(5000), "mcrouter_replicas": int64(1), "memcached_image": "memcached:1.6-alpine",
		"memcached_port": int64(11211), "memcached_memory_mb": int64(64), "debug_fifo_root": "",
		"mcrouter_resources":  map[string]any{"requests": map[string]any{"cpu": "50m"}, "limits": map[string]any{"memory": "256Mi"}},
		"memcached_resources": map[string]any{"limits": map[string]any{"memory": "128Mi"}},
		"labels":              map[string]any{}, "annotations": map[string]any{"example.com/x": "y"},
	}
	for name, s := range map[string]map[string]any{"ordinary": spec, "mcrouter": mcrouter} {
		for _, snake := range []bool{true, false} {
			obj := object(testGVK, "ns", "n", s)
			obj.Object["status"] = map[string]any{"conditions": []any{map[string]any{"message": "{{ fine in a value }}"}}}
			vars, err := runner.ExtraVars(obj, runner.RunOptions{SnakeCaseParameters: snake, MarkUnsafe: true})
			if err != nil {
				t.Errorf("%s spec, snake_case %v: %v", name, snake, err)
				continue
			}
			if _, ok := vars["pool_setup"]; name == "mcrouter" && !ok {
				t.Errorf("mcrouter vars lack pool_setup: %v", vars)
			}
		}
	}
}

func TestExtraVarsDropsManagedFields(t *testing.T) {
	obj := object(testGVK, "ns", "n", map[string]any{"hosts": []any{"{{ x }}"}})
	// A set-typed list shows its values as keys in managedFields.
	managed := []any{map[string]any{"manager": "kubectl", "fieldsV1": map[string]any{
		"f:spec": map[string]any{"f:hosts": map[string]any{`v:"{{ x }}"`: map[string]any{}}}}}}
	unstructured.SetNestedField(obj.Object, managed, "metadata", "managedFields")
	before := obj.DeepCopy()
	for _, unsafe := range []bool{true, false} {
		vars, err := runner.ExtraVars(obj, runner.RunOptions{SnakeCaseParameters: true, MarkUnsafe: unsafe})
		if err != nil {
			t.Fatalf("ExtraVars: %v (managedFields keys spell values, which may hold markers)", err)
		}
		meta := vars["_cache_example_com_testapp"].(map[string]any)["metadata"].(map[string]any)
		if _, found := meta["managedFields"]; found || meta["name"] == nil {
			t.Errorf("metadata = %v, want it without managedFields", meta)
		}
	}
	if diff := cmp.Diff(before.Object, obj.Object); diff != "" {
		t.Errorf("object modified (-before +after):\n%s", diff)
	}
}

// TestRunRefusesHostileSpec runs a careless playbook with real Ansible: a
// spec key that becomes ansible_python_interpreter, and a map key that the
// playbook templates through a to_json fact, each write a file when they
// reach Ansible. Run must refuse both before writing the input dir.
func TestRunRefusesHostileSpec(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	keyFile := filepath.Join(out, "from-key")
	// The command names the file through the environment: snake_case would
	// mangle capitals, spaces and dashes of a path written in the key.
	r, opts := newRunner(t, func(o *runner.Options) { o.Env = []string{"hostilekeyfile=" + keyFile} })
	tests := []struct {
		name    string
		spec    map[string]any
		file    string
		wantVar string
	}{
		{"interpreter", map[string]any{"ansiblePythonInterpreter": "touch " + filepath.Join(out, "from-interpreter") + "; /usr/bin/python3"},
			filepath.Join(out, "from-interpreter"), "ansible_python_interpreter"},
		{"template in a key", map[string]any{"pools": map[string]any{"{{lookup('pipe','>$hostilekeyfile')}}": int64(1)}},
			keyFile, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			obj := testObject(t, "hostile", tt.spec)
			res, err := r.Run(t.Context(), obj, runner.RunOptions{
				Playbook: playbook(t, "careless.yml"), SnakeCaseParameters: true, MarkUnsafe: true,
			})
			if _, statErr := os.Stat(tt.file); statErr == nil {
				t.Errorf("%s was written: the spec ran a command", tt.file)
			}
			var specErr *runner.SpecError
			if !errors.As(err, &specErr) || res != nil || specErr.Var != tt.wantVar {
				t.Fatalf("Run = %+v, %v; want no Result and a *SpecError for var %q", res, err, tt.wantVar)
			}
			if !strings.Contains(err.Error(), "TestApp "+obj.GetNamespace()+"/hostile: spec.") {
				t.Errorf("error %q does not name the resource", err)
			}
			dir := filepath.Join(opts.RootDir, "cache.example.com", "v1alpha1", "TestApp", obj.GetNamespace(), "hostile")
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("input dir %s: %v; want none written", dir, err)
			}
		})
	}
}

// BenchmarkExtraVars measures the vars of a Mcrouter as the operator builds
// them, refusal check included.
func BenchmarkExtraVars(b *testing.B) {
	spec := map[string]any{
		"memcachedPoolSize": int64(3), "poolSetup": "replicated", "mcrouterImage": "devan2502/mcrouter:latest",
		"mcrouterResources": map[string]any{"requests": map[string]any{"cpu": "50m", "memory": "64Mi"}},
		"labels":            map[string]any{"app.kubernetes.io/part-of": "cache"},
		"servers":           []any{map[string]any{"hostName": "a", "port": int64(1)}, map[string]any{"hostName": "b"}},
	}
	obj := object(testGVK, "ns", "n", spec)
	obj.Object["status"] = map[string]any{"conditions": []any{map[string]any{"type": "Successful", "status": "True"}}}
	opts := runner.RunOptions{SnakeCaseParameters: true, MarkUnsafe: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := runner.ExtraVars(obj, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// ExampleSpecError shows how a caller tells a resource that must change from
// a run that may succeed when retried.
func ExampleSpecError() {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "mcrouter.example.com/v1alpha3",
		"kind":       "Mcrouter",
		"metadata":   map[string]any{"name": "example", "namespace": "default"},
		"spec":       map[string]any{"poolSetup": "sharded", "ansibleConnection": "ssh"},
	}}
	_, err := runner.ExtraVars(obj, runner.RunOptions{SnakeCaseParameters: true, MarkUnsafe: true})
	var specErr *runner.SpecError
	if errors.As(err, &specErr) {
		fmt.Println("do not retry:", specErr.Path, "→", specErr.Var)
	}
	// Output:
	// do not retry: spec.ansibleConnection → ansible_connection
}
