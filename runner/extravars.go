package runner

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mcrouter-operator/mcrouter-operator/runner/internal/paramconv"
)

// unsafeKey marks a JSON object as one unsafe string for Ansible's JSON
// loader (AnsibleJSONDecoder): {"__ansible_unsafe": "text"}.
const unsafeKey = "__ansible_unsafe"

// ExtraVars returns the extra vars of a run for obj, as written to
// env/extravars; the package documentation describes the layout. The error
// names the resource when its spec is not an object or two spec keys convert
// to the same snake_case name.
func ExtraVars(obj *unstructured.Unstructured, opts RunOptions) (map[string]any, error) {
	spec := map[string]any{}
	if raw, found := obj.Object["spec"]; found && raw != nil {
		m, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s %s: spec is a %T, want an object", obj.GroupVersionKind().Kind, objectName(obj), raw)
		}
		spec = m
	}

	vars := make(map[string]any, len(spec)+len(opts.Vars)+4)
	if opts.SnakeCaseParameters {
		converted, err := paramconv.MapToSnake("spec", spec)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", obj.GroupVersionKind().Kind, objectName(obj), err)
		}
		for k, v := range converted {
			vars[k] = v
		}
	} else {
		for k, v := range spec {
			vars[k] = v
		}
	}
	if opts.MarkUnsafe {
		for k, v := range vars {
			vars[k] = markUnsafe(v)
		}
	}

	meta := map[string]any{"name": obj.GetName(), "namespace": obj.GetNamespace()}
	vars["ansible_operator_meta"] = meta
	vars["meta"] = meta

	objKey := ObjectVarName(obj.GroupVersionKind().Group, obj.GroupVersionKind().Kind)
	var rawObj, rawSpec any = obj.Object, spec
	if opts.MarkUnsafe {
		rawObj, rawSpec = markUnsafe(obj.Object), markUnsafe(spec)
	}
	vars[objKey] = rawObj
	vars[objKey+"_spec"] = rawSpec

	for k, v := range opts.Vars {
		vars[k] = v
	}
	return vars, nil
}

// ObjectVarName is the extra var holding the whole object:
// "_<group>_<kind>" with the kind lower-cased and dots and dashes replaced by
// underscores, e.g. "_cache_example_com_mcrouter".
func ObjectVarName(group, kind string) string {
	return strings.NewReplacer(".", "_", "-", "_").Replace("_" + group + "_" + strings.ToLower(kind))
}

// markUnsafe returns a copy of v with every string wrapped as an unsafe
// value; maps and lists are copied, other values shared.
func markUnsafe(v any) any {
	switch v := v.(type) {
	case string:
		return map[string]any{unsafeKey: v}
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, item := range v {
			out[k] = markUnsafe(item)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, item := range v {
			out[i] = markUnsafe(item)
		}
		return out
	default:
		return v
	}
}

func objectName(obj *unstructured.Unstructured) string {
	if obj.GetNamespace() == "" {
		return obj.GetName()
	}
	return obj.GetNamespace() + "/" + obj.GetName()
}
