package watches

import (
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
)

// decodeFinalizer reads `finalizer: {name, role, playbook, vars}`.
func decodeFinalizer(n *yaml.Node) (*Finalizer, error) {
	pairs, err := mappingPairs(n, "")
	if err != nil {
		return nil, nest("finalizer", err)
	}
	f := &Finalizer{}
	for _, p := range pairs {
		if isNull(p.value) {
			continue
		}
		switch p.key {
		case "name":
			f.Name, err = decodeString(p.value, p.key)
		case "role":
			f.Role, err = decodeString(p.value, p.key)
		case "playbook":
			f.Playbook, err = decodeString(p.value, p.key)
		case "vars":
			f.Vars, err = decodeVars(p.value, p.key)
		default:
			err = &fieldErr{line: p.keyN.Line, err: unknownKeyError(p.key, []string{"name", "role", "playbook", "vars"})}
		}
		if err != nil {
			return nil, nest("finalizer", err)
		}
	}
	switch msgs := validation.IsQualifiedName(f.Name); {
	case f.Name == "":
		return nil, errAt(n, "finalizer.name", "required")
	case len(msgs) > 0:
		return nil, errAt(n, "finalizer.name", "%q is not a valid finalizer name: %s", f.Name, strings.Join(msgs, "; "))
	case f.Role != "" && f.Playbook != "":
		return nil, errAt(n, "finalizer.playbook", "role and playbook are both set: keep one")
	case f.Role == "" && f.Playbook == "" && len(f.Vars) == 0:
		return nil, errAt(n, "finalizer", "nothing to run: set role, playbook or vars (vars alone run the entry's own role or playbook)")
	}
	return f, nil
}

// decodeBlacklist reads `blacklist: [{group, version, kind}]`: dependent kinds that are never watched.
func decodeBlacklist(n *yaml.Node) ([]schema.GroupVersionKind, error) {
	items, err := sequenceItems(n, "blacklist")
	if err != nil {
		return nil, err
	}
	var out []schema.GroupVersionKind
	for i, item := range items {
		key := fmt.Sprintf("blacklist[%d]", i)
		pairs, err := mappingPairs(item, key)
		if err != nil {
			return nil, err
		}
		var gvk schema.GroupVersionKind
		for _, p := range pairs {
			if isNull(p.value) {
				continue
			}
			switch p.key {
			case "group":
				gvk.Group, err = decodeString(p.value, key+".group")
			case "version":
				gvk.Version, err = decodeString(p.value, key+".version")
			case "kind":
				gvk.Kind, err = decodeString(p.value, key+".kind")
			default:
				err = &fieldErr{key: key, line: p.keyN.Line, err: unknownKeyError(p.key, []string{"group", "version", "kind"})}
			}
			if err != nil {
				return nil, err
			}
		}
		if gvk.Kind == "" {
			return nil, errAt(item, key+".kind", "required")
		}
		out = append(out, gvk)
	}
	return out, nil
}

// decodeSelector reads `selector: {matchLabels, matchExpressions}` and checks it as the API server would.
func decodeSelector(n *yaml.Node) (metav1.LabelSelector, labels.Selector, error) {
	var ls metav1.LabelSelector
	pairs, err := mappingPairs(n, "selector")
	if err != nil {
		return ls, nil, err
	}
	for _, p := range pairs {
		if isNull(p.value) {
			continue
		}
		switch p.key {
		case "matchLabels":
			ls.MatchLabels, err = decodeMatchLabels(p.value)
		case "matchExpressions":
			ls.MatchExpressions, err = decodeMatchExpressions(p.value)
		default:
			err = &fieldErr{key: "selector", line: p.keyN.Line, err: unknownKeyError(p.key, []string{"matchLabels", "matchExpressions"})}
		}
		if err != nil {
			return ls, nil, err
		}
	}
	sel, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil {
		return ls, nil, errAt(n, "selector", "%v", err)
	}
	return ls, sel, nil
}

func decodeMatchLabels(n *yaml.Node) (map[string]string, error) {
	const key = "selector.matchLabels"
	pairs, err := mappingPairs(n, key)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(pairs))
	for _, p := range pairs {
		v, err := decodeText(p.value, key+"."+p.key)
		if err != nil {
			return nil, err
		}
		one := &metav1.LabelSelector{MatchLabels: map[string]string{p.key: v}}
		if _, err := metav1.LabelSelectorAsSelector(one); err != nil {
			return nil, errAt(p.keyN, key+"."+p.key, "%v", err)
		}
		out[p.key] = v
	}
	return out, nil
}

func decodeMatchExpressions(n *yaml.Node) ([]metav1.LabelSelectorRequirement, error) {
	items, err := sequenceItems(n, "selector.matchExpressions")
	if err != nil {
		return nil, err
	}
	out := make([]metav1.LabelSelectorRequirement, 0, len(items))
	for i, item := range items {
		r, err := decodeRequirement(item, fmt.Sprintf("selector.matchExpressions[%d]", i))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// decodeRequirement reads one {key, operator, values} of matchExpressions.
func decodeRequirement(n *yaml.Node, key string) (metav1.LabelSelectorRequirement, error) {
	var r metav1.LabelSelectorRequirement
	pairs, err := mappingPairs(n, key)
	if err != nil {
		return r, err
	}
	for _, p := range pairs {
		if isNull(p.value) {
			continue
		}
		switch p.key {
		case "key":
			r.Key, err = decodeString(p.value, key+".key")
		case "operator":
			var op string
			op, err = decodeString(p.value, key+".operator")
			r.Operator = metav1.LabelSelectorOperator(op)
		case "values":
			r.Values, err = decodeValues(p.value, key+".values")
		default:
			err = &fieldErr{key: key, line: p.keyN.Line, err: unknownKeyError(p.key, []string{"key", "operator", "values"})}
		}
		if err != nil {
			return r, err
		}
	}
	switch r.Operator {
	case metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn:
		if len(r.Values) == 0 {
			return r, errAt(n, key+".values", "required for operator %s", r.Operator)
		}
	case metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist:
		if len(r.Values) != 0 {
			return r, errAt(n, key+".values", "must be empty for operator %s", r.Operator)
		}
	case "":
		return r, errAt(n, key+".operator", "required: In, NotIn, Exists or DoesNotExist")
	default:
		return r, errAt(n, key+".operator", "unknown operator %q: want In, NotIn, Exists or DoesNotExist", r.Operator)
	}
	if r.Key == "" {
		return r, errAt(n, key+".key", "required")
	}
	one := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{r}}
	if _, err := metav1.LabelSelectorAsSelector(one); err != nil {
		return r, errAt(n, key, "%v", err)
	}
	return r, nil
}

func decodeValues(n *yaml.Node, key string) ([]string, error) {
	items, err := sequenceItems(n, key)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		v, err := decodeText(item, fmt.Sprintf("%s[%d]", key, i))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
