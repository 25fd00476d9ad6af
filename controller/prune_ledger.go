package controller

import (
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/mcrouter-operator/mcrouter-operator/proxy"
)

// ledger is what pruneDependents works from: the objects runs of one
// resource created (the API server answered 201 Created to a write of the
// run's own) and linked to it, that no run has deleted or pruned since. Only
// a create adds to it — an object a run merely updated, patched or read never
// enters it — so the operator never prunes what it did not create. The
// run record (record.go) cannot serve: it is dropped when a run starts and
// after a failure, and the ledger must outlive both.
//
// Its wire format, in the resource's status:
//
//	status:
//	  createdDependents:
//	    uid: <resource UID>       # whose runs created them
//	    objects:                  # at most maxLedger
//	    - {apiVersion: v1, kind: ConfigMap, namespace: ns, name: x-a, uid: <UID>, link: ownerReference}
//
// Whoever may write the status can forge it; see prune.go for why that can
// at most delete objects linked to that same resource and created after it.
type ledger struct {
	UID     types.UID          `json:"uid"`
	Objects []createdDependent `json:"objects,omitempty"`
}

// createdDependent is one object a run created, as it answered the create.
type createdDependent struct {
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Namespace  string    `json:"namespace,omitempty"`
	Name       string    `json:"name"`
	UID        types.UID `json:"uid"`
	// Link is how the created object was linked to the resource
	// (proxy.LinkOwnerReference or proxy.LinkAnnotation); it must still be.
	Link string `json:"link"`
}

const (
	// statusLedgerKey is the status key of the ledger.
	statusLedgerKey = "createdDependents"
	// maxLedger bounds the objects a ledger holds (about 200 bytes each in
	// status). Objects created beyond it are not recorded, so never pruned.
	maxLedger = 1000
)

func (d createdDependent) gvk() schema.GroupVersionKind {
	return schema.FromAPIVersionAndKind(d.APIVersion, d.Kind)
}

func (d createdDependent) String() string {
	return dependentRecord{APIVersion: d.APIVersion, Kind: d.Kind, Namespace: d.Namespace, Name: d.Name}.String()
}

// objectKey names an object whatever the API version it was written in.
func objectKey(gk schema.GroupKind, namespace, name string) string {
	return gk.String() + "|" + namespace + "|" + name
}

func (d createdDependent) key() string {
	return objectKey(d.gvk().GroupKind(), d.Namespace, d.Name)
}

// withWrites returns l updated with the writes of one run of owner, in
// their order: an object the run created and linked to owner is added (or
// replaces an earlier object of the same name), one it deleted is removed.
// It also returns how many created objects did not fit under maxLedger.
func (l ledger) withWrites(writes []proxy.Write, owner *unstructured.Unstructured) (ledger, int) {
	out := ledger{UID: owner.GetUID(), Objects: append([]createdDependent(nil), l.Objects...)}
	link := proxy.OwnerOf(owner)
	dropped := 0
	for _, w := range writes {
		if w.Subresource != "" || isPrimaryWrite(w, owner) || isReport(w.GVK.GroupKind()) {
			continue
		}
		key := objectKey(w.GVK.GroupKind(), w.Namespace, w.Name)
		switch {
		case w.Verb == proxy.VerbDelete:
			out.remove(key)
		case w.Created && w.Object != nil:
			d := createdDependent{APIVersion: w.Object.GetAPIVersion(), Kind: w.Object.GetKind(),
				Namespace: w.Object.GetNamespace(), Name: w.Object.GetName(), UID: w.Object.GetUID(),
				Link: link.Link(w.Object.Object)}
			if d.Link == "" || d.UID == "" || d.Name == "" {
				continue // not linked: nothing later could prove it ours
			}
			out.remove(d.key())
			if len(out.Objects) >= maxLedger {
				dropped++
				continue
			}
			out.Objects = append(out.Objects, d)
		}
	}
	return out, dropped
}

func (l *ledger) remove(key string) {
	kept := l.Objects[:0]
	for _, d := range l.Objects {
		if d.key() != key {
			kept = append(kept, d)
		}
	}
	l.Objects = kept
}

// stale splits l by the record of a successful run: the objects the run
// still created, updated or read (held), and those it no longer touched
// (prunable). An object the record holds under another UID is in neither:
// the one the ledger names is gone or was replaced by someone else.
func (l ledger) stale(rec *record) (held, prunable []createdDependent) {
	touched := make(map[string]types.UID, len(rec.Dependents))
	for _, d := range rec.Dependents {
		if !d.Deleted {
			touched[objectKey(d.gvk().GroupKind(), d.Namespace, d.Name)] = d.UID
		}
	}
	for _, d := range l.Objects {
		uid, found := touched[d.key()]
		switch {
		case !found:
			prunable = append(prunable, d)
		case uid == d.UID:
			held = append(held, d)
		}
	}
	return held, prunable
}

// encode is the status.createdDependents value of l; nil when it is empty,
// which removes the key.
func (l ledger) encode() map[string]any {
	if len(l.Objects) == 0 {
		return nil
	}
	objects := make([]any, 0, len(l.Objects))
	for _, d := range l.Objects {
		m := map[string]any{"apiVersion": d.APIVersion, "kind": d.Kind, "name": d.Name, "uid": string(d.UID), "link": d.Link}
		if d.Namespace != "" {
			m["namespace"] = d.Namespace
		}
		objects = append(objects, m)
	}
	return map[string]any{"uid": string(l.UID), "objects": objects}
}

// decodeLedger reads status.createdDependents of obj: an empty ledger when
// absent, an error when it is not one this operator could have written for
// obj (the caller then starts from an empty one: forgetting costs a leak,
// never a deletion).
func decodeLedger(obj *unstructured.Unstructured) (ledger, error) {
	empty := ledger{UID: obj.GetUID()}
	v, found, _ := unstructured.NestedFieldNoCopy(obj.Object, "status", statusLedgerKey)
	if !found || v == nil {
		return empty, nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return empty, fmt.Errorf("status.%s: %w", statusLedgerKey, err)
	}
	var l ledger
	if err := json.Unmarshal(raw, &l); err != nil {
		return empty, fmt.Errorf("status.%s: %w", statusLedgerKey, err)
	}
	if err := l.validate(obj); err != nil {
		return empty, fmt.Errorf("status.%s: %w", statusLedgerKey, err)
	}
	return l, nil
}

// validate checks a ledger read back from status against what withWrites
// can produce for owner.
func (l ledger) validate(owner *unstructured.Unstructured) error {
	if l.UID != owner.GetUID() {
		return fmt.Errorf("the ledger of UID %q, not of this object (%q)", l.UID, owner.GetUID())
	}
	if len(l.Objects) > maxLedger {
		return fmt.Errorf("%d objects, more than %d", len(l.Objects), maxLedger)
	}
	seen := make(map[string]bool, len(l.Objects))
	for i, d := range l.Objects {
		if err := d.validate(owner); err != nil {
			return fmt.Errorf("objects[%d]: %w", i, err)
		}
		if seen[d.key()] {
			return fmt.Errorf("objects[%d]: %s named twice", i, d)
		}
		seen[d.key()] = true
	}
	return nil
}

func (d createdDependent) validate(owner *unstructured.Unstructured) error {
	gv, err := schema.ParseGroupVersion(d.APIVersion)
	switch {
	case err != nil || gv.Version == "":
		return fmt.Errorf("apiVersion %q", d.APIVersion)
	case len(validation.IsDNS1035Label(lowerASCII(d.Kind))) > 0:
		return fmt.Errorf("kind %q", d.Kind)
	case d.Name == "" || len(d.Name) > validation.DNS1123SubdomainMaxLength:
		return fmt.Errorf("name %q", d.Name)
	case d.Namespace != "" && len(validation.IsDNS1123Label(d.Namespace)) > 0:
		return fmt.Errorf("namespace %q", d.Namespace)
	case d.UID == "" || len(d.UID) > 128:
		return fmt.Errorf("uid %q", d.UID)
	case d.Link == proxy.LinkOwnerReference:
		// An owner reference links only within the owner's namespace.
		if owner.GetNamespace() == "" || d.Namespace != owner.GetNamespace() {
			return fmt.Errorf("%s: an owner reference cannot link it to %s", d, proxy.OwnerOf(owner))
		}
	case d.Link != proxy.LinkAnnotation:
		return fmt.Errorf("link %q", d.Link)
	}
	return nil
}

// lowerASCII lowers A-Z only: a kind is checked as a DNS label would be.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// ledgers is the ledger of each resource this process has run, by
// memoryKey: the truth while the process lives (the cached status may lag
// behind the last write); status.createdDependents is read only for a
// resource it has not run yet (a restart, another replica).
type ledgers struct{ *perResource[ledger] }

func newLedgers() *ledgers { return &ledgers{newPerResource[ledger]()} }

// get returns the ledger of key when it is known and belongs to uid.
func (s *ledgers) get(key string, uid types.UID) (ledger, bool) {
	l, known := s.perResource.get(key)
	if !known || l.UID != uid {
		return ledger{}, false
	}
	return l, true
}
