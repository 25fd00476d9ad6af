package watches

import (
	"errors"
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// fieldErr is a problem with one key inside an entry; parseEntry turns it into an *Error with the entry's context.
type fieldErr struct {
	key  string
	line int
	err  error
}

func (e *fieldErr) Error() string { return e.key + ": " + e.err.Error() }

func (e *fieldErr) Unwrap() error { return e.err }

// errAt reports a problem with the value of key, found at node n.
func errAt(n *yaml.Node, key, format string, args ...any) error {
	return &fieldErr{key: key, line: n.Line, err: fmt.Errorf(format, args...)}
}

// nest prefixes the key of a fieldErr with its parent key ("finalizer" + "name" → "finalizer.name").
func nest(parent string, err error) error {
	var fe *fieldErr
	if !errors.As(err, &fe) {
		return err
	}
	switch {
	case fe.key == "":
		fe.key = parent
	case strings.HasPrefix(fe.key, "["):
		fe.key = parent + fe.key
	default:
		fe.key = parent + "." + fe.key
	}
	return fe
}

// pair is one key/value of a mapping.
type pair struct {
	key   string
	keyN  *yaml.Node
	value *yaml.Node
}

// resolveAlias follows YAML aliases (*name) to the anchored node.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolveAlias(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func kindName(n *yaml.Node) string {
	n = resolveAlias(n)
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%s %q", n.ShortTag(), n.Value)
	default:
		return "an empty document"
	}
}

// mappingPairs returns the pairs of a mapping node in order. Keys merged in with `<<: *anchor` come after the
// explicit ones and never override them, as in YAML 1.1; a key written twice is an error.
func mappingPairs(n *yaml.Node, key string) ([]pair, error) {
	n = resolveAlias(n)
	if n.Kind != yaml.MappingNode {
		return nil, errAt(n, key, "want a mapping, got %s", kindName(n))
	}
	var own, merged []pair
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolveAlias(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, errAt(k, key, "want a string key, got %s", kindName(k))
		}
		if k.ShortTag() == "!!merge" {
			m, err := mergeSources(v, key)
			if err != nil {
				return nil, err
			}
			merged = append(merged, m...)
			continue
		}
		if seen[k.Value] {
			return nil, errAt(k, key, "key %q appears twice", k.Value)
		}
		seen[k.Value] = true
		own = append(own, pair{key: k.Value, keyN: k, value: v})
	}
	for _, p := range merged {
		if !seen[p.key] {
			seen[p.key] = true
			own = append(own, p)
		}
	}
	return own, nil
}

// mergeSources returns the pairs that a `<<` key brings in: one mapping or a list of mappings, earlier ones first.
func mergeSources(v *yaml.Node, key string) ([]pair, error) {
	v = resolveAlias(v)
	sources := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		sources = v.Content
	}
	var out []pair
	for _, s := range sources {
		ps, err := mappingPairs(s, key)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	return out, nil
}

// sequenceItems returns the items of a list node.
func sequenceItems(n *yaml.Node, key string) ([]*yaml.Node, error) {
	n = resolveAlias(n)
	if n.Kind != yaml.SequenceNode {
		return nil, errAt(n, key, "want a list, got %s", kindName(n))
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, item := range n.Content {
		out[i] = resolveAlias(item)
	}
	return out, nil
}

// decodeString accepts only YAML strings: `version: 1` is a number, and silently turning it into "1" would hide
// the mistake.
func decodeString(n *yaml.Node, key string) (string, error) {
	n = resolveAlias(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return "", errAt(n, key, "want a string, got %s", kindName(n))
	}
	return n.Value, nil
}

// decodeText accepts any scalar and returns its text, for label values, where `tier: 1` plainly means "1".
func decodeText(n *yaml.Node, key string) (string, error) {
	n = resolveAlias(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		return "", errAt(n, key, "want a string, got %s", kindName(n))
	}
	return n.Value, nil
}

func decodeBool(n *yaml.Node, key string) (bool, error) {
	n = resolveAlias(n)
	var b bool
	if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
		return false, errAt(n, key, "want true or false, got %s", kindName(n))
	}
	return b, nil
}

func decodeInt(n *yaml.Node, key string) (int, error) {
	n = resolveAlias(n)
	var i int
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
		return 0, errAt(n, key, "want an integer, got %s", kindName(n))
	}
	return i, nil
}
