package watches

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"

	yaml "go.yaml.in/yaml/v3"
)

// decodeVars decodes a mapping of arbitrary values into the JSON-compatible shape the runner marshals:
// nested mappings become map[string]any whatever YAML type their keys had.
func decodeVars(n *yaml.Node, key string) (map[string]any, error) {
	if isNull(n) {
		return nil, nil
	}
	if resolveAlias(n).Kind != yaml.MappingNode {
		return nil, errAt(n, key, "want a mapping, got %s", kindName(n))
	}
	var raw map[string]any
	if err := n.Decode(&raw); err != nil {
		return nil, errAt(n, key, "%v", err)
	}
	v, err := jsonShape(n, raw, key)
	if err != nil {
		return nil, err
	}
	out, _ := v.(map[string]any)
	return out, nil
}

// jsonShape rewrites map[any]any (YAML mappings with non-string keys) into map[string]any, recursively, and
// refuses what JSON cannot carry: the runner hands vars to Ansible as JSON, so a .inf or .nan would make every
// run of the watch fail, and two keys that read the same once turned into text (1.0 and "1") would silently lose
// one value. Errors are reported at n, the vars mapping, with the path of the value (vars.a.b). Keys are visited
// in order so that the first error is always the same one.
func jsonShape(n *yaml.Node, v any, path string) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(t)) {
			e, err := jsonShape(n, t[k], path+"."+k)
			if err != nil {
				return nil, err
			}
			t[k] = e
		}
		return t, nil
	case map[any]any:
		return stringKeys(n, t, path)
	case []any:
		for i, e := range t {
			s, err := jsonShape(n, e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			t[i] = s
		}
		return t, nil
	case float64:
		if math.IsInf(t, 0) || math.IsNaN(t) {
			return nil, errAt(n, path, "%v is not a number JSON can carry to Ansible: quote it to pass a string", t)
		}
		return t, nil
	default:
		return v, nil
	}
}

// stringKeys turns a mapping with keys of any YAML type into one with string keys.
func stringKeys(n *yaml.Node, m map[any]any, path string) (map[string]any, error) {
	type entry struct {
		text string
		key  any
	}
	keys := make([]entry, 0, len(m))
	for k := range m {
		keys = append(keys, entry{fmt.Sprint(k), k})
	}
	slices.SortFunc(keys, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.text, b.text), cmp.Compare(fmt.Sprintf("%T", a.key), fmt.Sprintf("%T", b.key)))
	})
	out := make(map[string]any, len(m))
	for i, k := range keys {
		if i > 0 && keys[i-1].text == k.text {
			return nil, errAt(n, path, "keys %#v and %#v both become %q: JSON keys are strings", keys[i-1].key, k.key, k.text)
		}
		e, err := jsonShape(n, m[k.key], path+"."+k.text)
		if err != nil {
			return nil, err
		}
		out[k.text] = e
	}
	return out, nil
}
