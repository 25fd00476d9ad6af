package runner_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mcrouter-operator/mcrouter-operator/runner"
)

// FuzzExtraVars builds a resource from a JSON spec and a key placed at the
// top of the spec, inside a list of maps in it, and in status. ExtraVars
// must either refuse it with a *SpecError naming the resource, or return vars
// where no spec-derived name is one Ansible or the operator reads, no key at
// any depth holds a template marker or a loader tag, the JSON encoding
// round-trips, and the object is left as it was.
func FuzzExtraVars(f *testing.F) {
	f.Add([]byte(`{"ansiblePythonInterpreter":"touch /tmp/x; /usr/bin/python3"}`), "size", true, true)
	f.Add([]byte(`{"pools":[{"servers":[{"{{ lookup('pipe','id') }}":1}]}]}`), "port", true, false)
	f.Add([]byte(`{"memcached_pool_size":3,"pool_setup":"replicated","labels":{"app.kubernetes.io/name":"x"}}`), "timeout", true, true)
	f.Add([]byte(`{"fooBar":1,"foo_bar":2}`), "fooBar", false, true)
	f.Add([]byte(`{"a":{"__ansible_vault":"x"},"b":"{{ value }}"}`), "AnsibleSSHPass", true, true)
	f.Add([]byte(`"text"`), "", true, true)
	f.Add([]byte(`null`), "ANSIBLE_connection", false, false)
	f.Add([]byte(`{"x":[[{"{#":1}]],"meta":{}}`), "{%", true, true)
	f.Add([]byte(`{"IPs":1,"Hostvars":2,"groups":3}`), "inventoryHostname", true, true)

	f.Fuzz(func(t *testing.T, specJSON []byte, key string, snake, unsafe bool) {
		key = strings.ToValidUTF8(key, "?") // the API server only serves valid UTF-8
		var spec any
		if err := json.Unmarshal(specJSON, &spec); err != nil {
			spec = map[string]any{"raw": strings.ToValidUTF8(string(specJSON), "?")}
		}
		if m, ok := spec.(map[string]any); ok {
			m[key] = "top"
			m["nested"] = []any{map[string]any{key: []any{map[string]any{key: 1.5}}}}
		}
		obj := object(testGVK, "ns", "n", spec)
		obj.Object["status"] = map[string]any{key: map[string]any{"k": "v"}}
		before := obj.DeepCopy()
		watchVars := map[string]any{"from_watch": "w"}

		vars, err := runner.ExtraVars(obj, runner.RunOptions{SnakeCaseParameters: snake, MarkUnsafe: unsafe, Vars: watchVars})
		if diff := cmp.Diff(before.Object, obj.Object); diff != "" {
			t.Fatalf("object modified (-before +after):\n%s", diff)
		}
		if err != nil {
			var specErr *runner.SpecError
			if !errors.As(err, &specErr) || specErr.Path == "" || !strings.HasPrefix(err.Error(), "TestApp ns/n: ") {
				t.Fatalf("error %v: want a *SpecError with a path, naming the resource", err)
			}
			return
		}
		runtime := map[string]bool{"ansible_operator_meta": true, "meta": true,
			"_cache_example_com_testapp": true, "_cache_example_com_testapp_spec": true}
		for name, v := range vars {
			if _, fromWatch := watchVars[name]; fromWatch {
				continue
			}
			if !runtime[name] && dangerousVar(name) {
				t.Errorf("spec key became the var %q", name)
			}
			if problem := badKey(v, unsafe); problem != "" {
				t.Errorf("var %q: %s", name, problem)
			}
		}
		data, err := json.Marshal(vars)
		if err != nil {
			t.Fatalf("encode vars: %v", err)
		}
		var back any
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatalf("decode vars: %v", err)
		}
		if again, err := json.Marshal(back); err != nil || !bytes.Equal(data, again) {
			t.Fatalf("vars do not round-trip through JSON (%v):\n%s\n%s", err, data, again)
		}
	})
}

// dangerousVar is the test's own statement of the names a spec key must not
// become: Ansible's variables, private and operator names, magic variables.
func dangerousVar(name string) bool {
	lower := strings.ToLower(name)
	if strings.HasPrefix(lower, "ansible_") || strings.HasPrefix(name, "_") {
		return true
	}
	switch lower {
	case "meta", "hostvars", "groups", "group_names", "inventory_hostname", "inventory_hostname_short",
		"inventory_dir", "inventory_file", "playbook_dir", "play_hosts", "role_names", "role_name", "role_path",
		"omit", "vars", "environment":
		return true
	}
	return false
}

// badKey returns a key of v at any depth that Ansible would template or
// decode, or "". With unsafe, {"__ansible_unsafe": "<string>"} is the
// marking itself.
func badKey(v any, unsafe bool) string {
	switch v := v.(type) {
	case map[string]any:
		if _, ok := v["__ansible_unsafe"].(string); ok && unsafe && len(v) == 1 {
			return ""
		}
		for k, item := range v {
			if strings.Contains(k, "{{") || strings.Contains(k, "{%") || strings.Contains(k, "{#") {
				return "key " + k + " holds a template marker"
			}
			if k == "__ansible_unsafe" || k == "__ansible_vault" {
				return "key " + k + " is a loader tag"
			}
			if p := badKey(item, unsafe); p != "" {
				return p
			}
		}
	case []any:
		for _, item := range v {
			if p := badKey(item, unsafe); p != "" {
				return p
			}
		}
	}
	return ""
}
