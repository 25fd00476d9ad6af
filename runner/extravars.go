package runner

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mcrouter-operator/mcrouter-operator/runner/internal/paramconv"
)

// unsafeKey marks a JSON object as one unsafe string for Ansible's JSON
// loader (AnsibleJSONDecoder): {"__ansible_unsafe": "text"}.
const unsafeKey = "__ansible_unsafe"

// ExtraVars returns the extra vars of a run for obj, as written to
// env/extravars; the package documentation describes the layout. Every error
// is a *SpecError wrapped with the resource's kind and name: the spec is not
// an object, a key is refused (see "Refused keys" in the package
// documentation), or two spec keys convert to the same snake_case name.
func ExtraVars(obj *unstructured.Unstructured, opts RunOptions) (map[string]any, error) {
	vars, err := extraVars(obj, opts)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", obj.GroupVersionKind().Kind, objectName(obj), err)
	}
	return vars, nil
}

func extraVars(obj *unstructured.Unstructured, opts RunOptions) (map[string]any, error) {
	spec := map[string]any{}
	if raw, found := obj.Object["spec"]; found && raw != nil {
		m, ok := raw.(map[string]any)
		if !ok {
			return nil, &SpecError{Path: "spec", Reason: fmt.Sprintf("must be an object, got a %T", raw)}
		}
		spec = m
	}
	vars := make(map[string]any, len(spec)+len(opts.Vars)+4)
	if opts.SnakeCaseParameters {
		converted, err := paramconv.MapToSnake("spec", spec)
		var collision *paramconv.CollisionError
		if errors.As(err, &collision) {
			return nil, &SpecError{Path: collision.Path, Reason: collision.Reason()}
		}
		if err != nil {
			return nil, err
		}
		for k, v := range converted {
			vars[k] = v
		}
	} else {
		for k, v := range spec {
			vars[k] = v
		}
	}
	rawObj := objectVar(obj.Object)
	if err := checkObject(rawObj, spec, vars, opts.SnakeCaseParameters); err != nil {
		return nil, err
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
	var objValue, specValue any = rawObj, spec
	if opts.MarkUnsafe {
		objValue, specValue = markUnsafe(rawObj), markUnsafe(spec)
	}
	vars[objKey] = objValue
	vars[objKey+"_spec"] = specValue

	for k, v := range opts.Vars {
		vars[k] = v
	}
	return vars, nil
}

// objectVar returns the object as the role sees it: without
// metadata.managedFields, server bookkeeping whose keys spell field values
// (`v:"<value>"`, `k:{"name":"<value>"}`), which cannot be marked unsafe.
// The operator's cache drops them anyway; objects read back from a write do
// not. obj is not modified: the top level and metadata are copied when
// needed.
func objectVar(obj map[string]any) map[string]any {
	meta, ok := obj["metadata"].(map[string]any)
	if !ok {
		return obj
	}
	if _, found := meta["managedFields"]; !found {
		return obj
	}
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		out[k] = v
	}
	m := make(map[string]any, len(meta))
	for k, v := range meta {
		if k != "managedFields" {
			m[k] = v
		}
	}
	out["metadata"] = m
	return out
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
