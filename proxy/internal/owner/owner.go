// Package owner marks a dependent object as belonging to the custom resource
// whose Ansible run created it, and recognises such marks on objects read
// back: an owner reference where Kubernetes garbage collection can follow it,
// else the operator-sdk/primary-resource annotations.
package owner

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// Annotations naming the owner of a dependent that cannot carry an owner
// reference to it (cluster-scoped, or in another namespace). The values are
// "<namespace>/<name>" and "<Kind>.<group>" ("<Kind>" for the core group).
const (
	NameAnnotation = "operator-sdk/primary-resource"
	TypeAnnotation = "operator-sdk/primary-resource-type"
)

// Ref identifies the owner of a run.
type Ref struct {
	APIVersion, Kind, Name, Namespace string
	UID                               types.UID
}

// GroupKind is the owner's group and kind.
func (r Ref) GroupKind() schema.GroupKind {
	gv, err := schema.ParseGroupVersion(r.APIVersion)
	if err != nil {
		return schema.GroupKind{Kind: r.Kind}
	}
	return schema.GroupKind{Group: gv.Group, Kind: r.Kind}
}

// OwnerReference is the reference injected into dependents. Controller and
// BlockOwnerDeletion stay unset, as operator-sdk's ansible-operator leaves
// them: a role may create objects that another controller also claims.
func (r Ref) OwnerReference() metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: r.APIVersion, Kind: r.Kind, Name: r.Name, UID: r.UID}
}

// Mode is how a dependent is linked to its owner.
type Mode int

const (
	// None: the object carries no link to an owner of the run's kind.
	None Mode = iota
	// Reference: an owner reference (garbage-collected with the owner).
	Reference
	// Annotation: the two primary-resource annotations (not garbage-collected).
	Annotation
)

func (m Mode) String() string {
	switch m {
	case Reference:
		return "ownerReference"
	case Annotation:
		return "annotation"
	default:
		return "none"
	}
}

// Decide returns how a dependent in namespace ns (empty for cluster-scoped
// dependents) can be linked to owner: Kubernetes allows an owner reference to
// a namespaced owner only from the same namespace, and to a cluster-scoped
// owner from anywhere.
func Decide(o Ref, ns string, namespaced bool) Mode {
	if o.Namespace == "" || (namespaced && ns == o.Namespace) {
		return Reference
	}
	return Annotation
}

// Mark links obj to o the way Decide says. An owner reference with the same
// UID is not added twice. It returns the mode used, or an error naming the
// field when obj's metadata has the wrong shape.
func Mark(obj map[string]any, o Ref, ns string, namespaced bool) (Mode, error) {
	if md, ok := obj["metadata"]; ok && md == nil {
		// "metadata: null": unstructured's setters would silently set nothing.
		obj["metadata"] = map[string]any{}
	}
	u := &unstructured.Unstructured{Object: obj}
	mode := Decide(o, ns, namespaced)
	switch mode {
	case Reference:
		v, err := metadataField(obj, "ownerReferences")
		if err != nil {
			return None, err
		}
		if _, ok := v.([]any); v != nil && !ok {
			return None, fmt.Errorf("metadata.ownerReferences must be a list, not %T", v)
		}
		refs := u.GetOwnerReferences()
		for _, r := range refs {
			if r.UID == o.UID {
				return mode, nil
			}
		}
		u.SetOwnerReferences(append(refs, o.OwnerReference()))
	case Annotation:
		if _, err := metadataField(obj, "annotations"); err != nil {
			return None, err
		}
		ann, _, err := unstructured.NestedStringMap(obj, "metadata", "annotations")
		if err != nil {
			return None, fmt.Errorf("metadata.annotations: %w", err)
		}
		if ann == nil {
			ann = map[string]string{}
		}
		ann[NameAnnotation] = o.Namespace + "/" + o.Name
		ann[TypeAnnotation] = o.GroupKind().String()
		u.SetAnnotations(ann)
	}
	return mode, nil
}

// LinkPatch returns the metadata of a JSON merge patch that links the
// stored object obj to o the way Mark would: the complete ownerReferences
// list (obj's own with o's added), or the two annotations (a merge patch
// keeps the other annotations).
func LinkPatch(obj map[string]any, o Ref, ns string, namespaced bool) (map[string]any, error) {
	md := map[string]any{}
	if refs := (&unstructured.Unstructured{Object: obj}).GetOwnerReferences(); len(refs) > 0 &&
		Decide(o, ns, namespaced) == Reference {
		(&unstructured.Unstructured{Object: map[string]any{"metadata": md}}).SetOwnerReferences(refs)
	}
	if _, err := Mark(map[string]any{"metadata": md}, o, ns, namespaced); err != nil {
		return nil, err
	}
	return md, nil
}

// metadataField returns metadata.<field> of obj, nil when absent, or an
// error when metadata is not an object.
func metadataField(obj map[string]any, field string) (any, error) {
	md, ok := obj["metadata"]
	if !ok || md == nil {
		return nil, nil
	}
	m, ok := md.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("metadata must be an object, not %T", md)
	}
	return m[field], nil
}

// Links reports how obj is linked to the owner o itself: an owner reference
// with o's UID, or the primary-resource annotations naming o. Owner
// references win when both are present.
func Links(obj map[string]any, o Ref) Mode {
	u := &unstructured.Unstructured{Object: obj}
	for _, r := range u.GetOwnerReferences() {
		if r.UID == o.UID {
			return Reference
		}
	}
	ann := u.GetAnnotations()
	if ann[TypeAnnotation] == o.GroupKind().String() && ann[NameAnnotation] == o.Namespace+"/"+o.Name {
		return Annotation
	}
	return None
}

// Find reports how obj is linked to an owner of kind gk: by an owner
// reference to any object of that group and kind, or by a primary-resource-type
// annotation naming it. Owner references win when both are present.
func Find(obj map[string]any, gk schema.GroupKind) Mode {
	u := &unstructured.Unstructured{Object: obj}
	for _, r := range u.GetOwnerReferences() {
		gv, err := schema.ParseGroupVersion(r.APIVersion)
		if err == nil && gv.Group == gk.Group && r.Kind == gk.Kind {
			return Reference
		}
	}
	if u.GetAnnotations()[TypeAnnotation] == gk.String() {
		return Annotation
	}
	return None
}
