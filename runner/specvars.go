package runner

import (
	"strings"

	"github.com/mcrouter-operator/mcrouter-operator/runner/internal/paramconv"
)

// SpecError is a custom resource that cannot be run because of one of its
// keys: a top-level spec key whose extra var Ansible or the operator reads
// itself, a key that Ansible would template or decode, two keys that convert
// to the same name, or a spec that is not an object. Retrying cannot help;
// the resource has to change. ExtraVars and Runner.Run return it (wrapped
// with the resource's kind and name) before anything is written or started.
type SpecError struct {
	// Path locates the key: "spec.ansiblePythonInterpreter",
	// `spec.pools[2]["{{ x }}"]`, `status["{% x %}"]`.
	Path string
	// Var is the extra var the top-level spec key becomes, when that name
	// is the reason; empty otherwise.
	Var string
	// Reason says why, as a clause that follows the path.
	Reason string
}

func (e *SpecError) Error() string {
	if e.Var != "" {
		return e.Path + ": becomes Ansible variable " + paramconv.Quote(e.Var) + ", which " + e.Reason + "; rename the field"
	}
	return e.Path + ": " + e.Reason
}

// Reasons for a refused variable name. Ansible's own names are compared
// case-insensitively: Ansible itself is case-sensitive, so this only refuses
// more, and a future or third-party reader of a differently cased name is
// covered.
const (
	reasonAnsible = "Ansible reads itself (connection, become, interpreter and shell settings, facts, magic variables); " +
		"extra vars outrank the inventory, so the resource would choose how and where Ansible runs commands"
	reasonPrivate = `starts with "_", the prefix of the operator's own variables (_<group>_<kind>) and of roles' private ` +
		"variables (a field starting with a capital letter gets it from the snake_case conversion)"
	reasonHost = "Ansible sets for each host with a lower precedence than extra vars, so the resource would replace it " +
		"for roles and connection plugins that trust it"
	reasonMagic = "Ansible sets itself and puts over extra vars: the role would never see the spec's value"
	reasonMeta  = "the operator sets itself ({name, namespace} of the resource): the role would never see the spec's value"
	reasonPlug  = "a plugin of the Ansible collections reads as its own setting"
)

// reservedVars are the names a top-level spec key must not become, besides
// ansible_* and _*: found in ansible-core 2.14 (VariableManager.get_vars,
// Host.get_magic_vars, inventory data) and in the option vars of the plugins
// of the collections Debian's ansible package ships.
var reservedVars = map[string]string{
	// Host magic variables, below extra vars in precedence.
	"inventory_hostname": reasonHost, "inventory_hostname_short": reasonHost, "group_names": reasonHost,
	"inventory_dir": reasonHost, "inventory_file": reasonHost,
	// Magic variables set above extra vars: a spec field of that name is lost.
	"hostvars": reasonMagic, "groups": reasonMagic, "play_hosts": reasonMagic, "playbook_dir": reasonMagic,
	"role_names": reasonMagic, "role_name": reasonMagic, "role_path": reasonMagic, "role_uuid": reasonMagic,
	"omit": reasonMagic, "vars": reasonMagic, "environment": reasonMagic,
	// Set by the operator after the spec.
	"meta": reasonMeta,
	// Plugin options read from variables without the ansible_ prefix
	// (community.general passwordstore and lmdb_kv lookups, community.zabbix
	// httpapi).
	"passwordstore": reasonPlug, "passwordstore_backend": reasonPlug, "lmdb_kv_db": reasonPlug,
	"http_login_user": reasonPlug, "http_login_password": reasonPlug,
}

// varReason returns why a top-level spec key must not become the extra var
// name, or "".
func varReason(name string) string {
	lower := strings.ToLower(name)
	switch {
	case lower == "ansible_operator_meta":
		return reasonMeta
	case strings.HasPrefix(lower, "ansible_"):
		return reasonAnsible
	case strings.HasPrefix(name, "_"):
		return reasonPrivate
	}
	return reservedVars[lower]
}

// Reasons for a refused key at any depth.
const (
	reasonMarker = " and Ansible cannot mark keys unsafe: a role that templates the map " +
		"(a fact built with to_json, a template) would run it; rename the key"
	reasonTag = "is a tag of Ansible's JSON loader (vault-encrypted or unsafe text), not data; rename the key"
)

// keyReason returns why a key at any depth of the object is refused, or "".
// With snake, the key is a spec key that is converted to snake_case, which
// can turn it into a loader tag ("_ AnsibleVault" → "__ansible_vault");
// conversion only inserts "_" and lower-cases, so it never makes a marker.
func keyReason(key string, snake bool) string {
	if strings.Contains(key, "{") {
		for _, m := range [...]string{"{{", "{%", "{#"} {
			if strings.Contains(key, m) {
				return `the key holds the Jinja marker "` + m + `",` + reasonMarker
			}
		}
	}
	if key == unsafeKey || key == vaultKey {
		return "the key " + reasonTag
	}
	if snake && containsFold(key, "ansible") {
		if name := paramconv.ToSnake(key); name == unsafeKey || name == vaultKey {
			return "the key converts to " + paramconv.Quote(name) + ", which " + reasonTag
		}
	}
	return ""
}

// containsFold reports whether s holds the ASCII word w in any case,
// without allocating: it runs on every spec key.
func containsFold(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(w)], w) {
			return true
		}
	}
	return false
}

// vaultKey marks a vault-encrypted string for AnsibleJSONDecoder.
const vaultKey = "__ansible_vault"

// checkObject returns the refused key of a resource, or nil: first a
// top-level spec key by the extra var it becomes (vars holds the spec as it
// becomes vars: converted to snake_case when snake is set), then keys at any
// depth of the spec, then of the rest of obj. Of several refused keys of one
// kind it reports the one with the smallest path, so that one resource always
// gets the same message. One walk, allocating only for the error.
func checkObject(obj, spec, vars map[string]any, snake bool) *SpecError {
	for name := range vars {
		if varReason(name) != "" {
			return varError(spec, snake)
		}
	}
	if p := checkMap(spec, "", snake); p != nil {
		return p.specError("spec")
	}
	if p := checkMap(obj, "spec", false); p != nil {
		return p.specError("")
	}
	return nil
}

// varError finds the smallest spec key whose var is refused, converting the
// keys again: only a refused resource pays for it.
func varError(spec map[string]any, snake bool) *SpecError {
	var best *SpecError
	bestKey := ""
	for k := range spec {
		if best != nil && k >= bestKey {
			continue
		}
		name := k
		if snake {
			name = paramconv.ToSnake(k)
		}
		if r := varReason(name); r != "" {
			best, bestKey = &SpecError{Path: paramconv.JoinKey("spec", k), Var: name, Reason: r}, k
		}
	}
	return best
}

// keyProblem is a refused key below the walk's root. elems is the path to
// it, innermost first (string keys, int indexes), built while unwinding.
type keyProblem struct {
	elems  []any
	reason string
}

func (p *keyProblem) specError(root string) *SpecError {
	path := root
	for i := len(p.elems) - 1; i >= 0; i-- {
		switch e := p.elems[i].(type) {
		case string:
			path = paramconv.JoinKey(path, e)
		case int:
			path = paramconv.JoinIndex(path, e)
		}
	}
	return &SpecError{Path: strings.TrimPrefix(path, "."), Reason: p.reason}
}

// checkMap returns the refused key of m with the smallest path, leaving out
// the key skip. snake is set in a spec that is converted to snake_case.
func checkMap(m map[string]any, skip string, snake bool) *keyProblem {
	var best *keyProblem
	bestKey := ""
	for k, v := range m {
		if (best != nil && k >= bestKey) || (skip != "" && k == skip) {
			continue
		}
		if p := keyProblemAt(k, v, snake); p != nil {
			best, bestKey = p, k
		}
	}
	return best
}

// keyProblemAt checks the key k and everything below it.
func keyProblemAt(k string, v any, snake bool) *keyProblem {
	var p *keyProblem
	if r := keyReason(k, snake); r != "" {
		p = &keyProblem{reason: r}
	} else {
		p = checkValue(v, snake)
	}
	if p != nil {
		p.elems = append(p.elems, k)
	}
	return p
}

func checkValue(v any, snake bool) *keyProblem {
	switch v := v.(type) {
	case map[string]any:
		return checkMap(v, "", snake)
	case []any:
		for i, item := range v {
			if p := checkValue(item, snake); p != nil {
				p.elems = append(p.elems, i)
				return p
			}
		}
	}
	return nil
}
