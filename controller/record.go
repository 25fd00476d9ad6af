package controller

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/mcrouter-operator/mcrouter-operator/internal/jsonvalue"
	"github.com/mcrouter-operator/mcrouter-operator/proxy"
)

// record is what the last successful run of a resource left: the proof the
// skip-unchanged check works from. It names every dependent the run touched
// — created, updated, patched, applied, deleted, or read and left as it was —
// by kind, namespace, name and UID, with the fields that define it as the run
// left it. A run is skipped only when the record belongs to the resource (its
// UID and generation) and every dependent in it still holds (see
// Reconciler.dependentsHold). It is kept in memory and persisted in the
// resource's status (status.runRecord, see recordcodec.go), so a restarted
// operator or another replica skips exactly what this one would.
type record struct {
	UID        types.UID `json:"uid"`
	Generation int64     `json:"generation"`
	// Annotations is a digest of the resource's annotations, set only when
	// the watch has watchAnnotationsChanges.
	Annotations  string            `json:"annotations,omitempty"`
	Finished     time.Time         `json:"finished"`
	RequeueAfter time.Duration     `json:"requeueAfter,omitempty"`
	Dependents   []dependentRecord `json:"dependents,omitempty"`
}

// dependentRecord is one dependent as the run left it.
type dependentRecord struct {
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Namespace  string    `json:"namespace,omitempty"`
	Name       string    `json:"name"`
	UID        types.UID `json:"uid,omitempty"`
	// Deleted: the run deleted it; it must stay absent.
	Deleted bool `json:"deleted,omitempty"`
	// Link is how it was linked to the resource (proxy.Owner.Link:
	// "ownerReference", "annotation", or empty): losing the link is drift.
	Link string `json:"link,omitempty"`
	// Fields must all hold in the live object (see contains): what the runs
	// wrote, or, for an object the run only read, the object as read —
	// status and server-managed metadata left out (see intent).
	Fields map[string]any `json:"fields,omitempty"`
	// SecretData is, for a Secret, a digest of its data as the run left it:
	// the record sits in the resource's status, which is no place for a
	// Secret's values, so they are not among Fields.
	SecretData string `json:"secretData,omitempty"`
}

func (d dependentRecord) gvk() schema.GroupVersionKind {
	return schema.FromAPIVersionAndKind(d.APIVersion, d.Kind)
}

func (d dependentRecord) String() string {
	return fmt.Sprintf("%s %s", d.gvk().GroupKind(), strings.TrimPrefix(d.Namespace+"/"+d.Name, "/"))
}

// annotationsDigest is what the record keeps of the resource's annotations:
// enough to notice a change, whatever their size.
func annotationsDigest(a map[string]string) string { return digest(a) }

// digest is the SHA-256 of m's entries in key order, each length-prefixed so
// that no two maps share one.
func digest(m map[string]string) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(h, "%d:%s%d:%s", len(k), k, len(m[k]), m[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// touched is what a run did to one dependent, as its requests went by.
type touched struct {
	dep     dependentRecord
	last    *unstructured.Unstructured // the object as last seen (answer or read)
	prev    map[string]any             // the fields of the previous record for this object (same UID)
	read    *unstructured.Unstructured
	written bool
}

// newRecord builds the record of a successful run of obj from the requests
// the run made through the proxy, in their order. prev is the record of the
// run before, if any. It returns a reason instead when the run did something
// a record cannot describe (a deletecollection, a write to a subresource
// other than status, an answer without the object): then nothing may be
// skipped until the next run.
func newRecord(obj *unstructured.Unstructured, writes []proxy.Write, reads []proxy.Read, prev *record) (*record, string) {
	byKey := map[string]*touched{}
	var order []string
	step := func(gvk schema.GroupVersionKind, ns, name string) *touched {
		k := gvk.String() + "|" + ns + "|" + name
		if t, ok := byKey[k]; ok {
			return t
		}
		apiVersion, kind := gvk.ToAPIVersionAndKind()
		t := &touched{dep: dependentRecord{APIVersion: apiVersion, Kind: kind, Namespace: ns, Name: name}}
		byKey[k] = t
		order = append(order, k)
		return t
	}
	for _, e := range sequence(writes, reads) {
		if e.write != nil {
			w := *e.write
			if isPrimaryWrite(w, obj) || w.Subresource == "status" || isReport(w.GVK.GroupKind()) {
				continue
			}
			if why := recordable(w); why != "" {
				return nil, why
			}
			step(w.GVK, w.Namespace, w.Name).applyWrite(w, obj, prev)
			continue
		}
		if isReport(e.read.GVK.GroupKind()) {
			continue
		}
		t := step(e.read.GVK, e.read.Namespace, e.read.Name)
		t.applyRead(e.read.Object, obj, prev)
	}
	rec := &record{UID: obj.GetUID(), Generation: obj.GetGeneration()}
	for _, k := range order {
		rec.Dependents = append(rec.Dependents, byKey[k].result())
	}
	return rec, ""
}

// isReport reports whether objects of gk are reports about other objects,
// Kubernetes Events, rather than state a run sets up: they are neither
// recorded (the API server deletes them after an hour, and stores their times
// in its own precision, so a record of one would only ever start runs that
// change nothing) nor pruned (they are history).
func isReport(gk schema.GroupKind) bool {
	return gk.Kind == "Event" && (gk.Group == "" || gk.Group == "events.k8s.io")
}

// touch is one write or one read of a run.
type touch struct {
	write *proxy.Write
	read  *proxy.Read
}

// sequence interleaves writes and reads in the order they happened.
func sequence(writes []proxy.Write, reads []proxy.Read) []touch {
	out := make([]touch, 0, len(writes)+len(reads))
	for i := range writes {
		out = append(out, touch{write: &writes[i]})
	}
	for i := range reads {
		out = append(out, touch{read: &reads[i]})
	}
	slices.SortStableFunc(out, func(a, b touch) int { return cmp.Compare(a.seq(), b.seq()) })
	return out
}

func (e touch) seq() int {
	if e.write != nil {
		return e.write.Seq
	}
	return e.read.Seq
}

func isPrimaryWrite(w proxy.Write, obj *unstructured.Unstructured) bool {
	return w.GVK == obj.GroupVersionKind() && w.Namespace == obj.GetNamespace() && w.Name == obj.GetName()
}

// recordable says why a write cannot be recorded, or "".
func recordable(w proxy.Write) string {
	switch {
	case w.Verb == proxy.VerbDeleteCollection:
		return fmt.Sprintf("the run deleted a collection of %s in %q", w.GVK.Kind, w.Namespace)
	case w.Subresource != "":
		return fmt.Sprintf("the run wrote the %s subresource of %s %s", w.Subresource, w.GVK.Kind, w.Name)
	case w.Verb != proxy.VerbDelete && w.Object == nil:
		return fmt.Sprintf("the answer to the %s of %s %s held no object", w.Verb, w.GVK.Kind, w.Name)
	}
	return ""
}

// applyWrite folds one write into what the run did to the object. Merge and
// strategic-merge patches (kubernetes.core sends only the difference) add to
// what was known: this run's earlier write, else the previous record's fields
// for the same object, else the object as this run read it.
func (t *touched) applyWrite(w proxy.Write, owner *unstructured.Unstructured, prev *record) {
	if w.Verb == proxy.VerbDelete {
		t.dep = dependentRecord{APIVersion: t.dep.APIVersion, Kind: t.dep.Kind, Namespace: t.dep.Namespace, Name: t.dep.Name, Deleted: true}
		t.written, t.read, t.prev, t.last = true, nil, nil, nil
		return
	}
	left := w.Object
	t.see(left, owner, prev)
	patch := w.PatchType()
	isMergePatch := patch == types.MergePatchType || patch == types.StrategicMergePatchType
	switch {
	case w.Body == nil:
		// A JSON patch: what it changed is only known from the answer.
		t.dep.Fields = intent(left.Object)
	case isMergePatch:
		base := t.dep.Fields
		if !t.written {
			base = t.prev
			if base == nil && t.read != nil {
				base = intent(t.read.Object)
			}
		}
		if base == nil {
			base = intent(left.Object)
		}
		t.dep.Fields = jsonvalue.MergePatch(base, intent(w.Body))
	default:
		t.dep.Fields = intent(w.Body)
	}
	t.dep.Deleted, t.written = false, true
}

// applyRead notes what the run found in place.
func (t *touched) applyRead(obj, owner *unstructured.Unstructured, prev *record) {
	t.see(obj, owner, prev)
	if !t.written {
		t.read = obj
	}
}

// see updates UID and link from an object the run saw, and looks up the
// previous record's fields for it: they count only for the same UID.
func (t *touched) see(obj, owner *unstructured.Unstructured, prev *record) {
	t.last = obj
	if obj.GetUID() != t.dep.UID {
		t.prev = prev.fieldsOf(t.dep, obj.GetUID())
	}
	t.dep.UID, t.dep.Link = obj.GetUID(), proxy.OwnerOf(owner).Link(obj.Object)
}

// result is the dependent as the run left it. An object only read keeps the
// previous record's fields when it still has them (they are what the role
// wrote, which the object as read would widen with what others set), and is
// recorded as read otherwise.
func (t *touched) result() dependentRecord {
	d := t.dep
	if !t.written && t.read != nil {
		if t.prev != nil && jsonvalue.Contains(t.read.Object, t.prev) {
			d.Fields = t.prev
		} else {
			d.Fields = intent(t.read.Object)
		}
	}
	if isSecret(d) && !d.Deleted {
		d.Fields = withoutSecretData(d.Fields)
		d.SecretData = secretDigest(t.last)
	}
	return d
}

func isSecret(d dependentRecord) bool { return d.APIVersion == "v1" && d.Kind == "Secret" }

// withoutSecretData is fields without a Secret's values.
func withoutSecretData(fields map[string]any) map[string]any {
	out := maps.Clone(fields)
	delete(out, "data")
	delete(out, "stringData")
	return out
}

// secretDigest is a digest of a Secret's data (the API server keeps
// stringData there too); "-" when the object is not known.
func secretDigest(obj *unstructured.Unstructured) string {
	if obj == nil {
		return "-"
	}
	data, _, _ := unstructured.NestedMap(obj.Object, "data")
	values := make(map[string]string, len(data))
	for k, v := range data {
		values[k] = fmt.Sprint(v)
	}
	return "sha256:" + digest(values)
}

// fieldsOf returns the fields recorded for the object named like d with that
// UID, or nil.
func (r *record) fieldsOf(d dependentRecord, uid types.UID) map[string]any {
	if r == nil || uid == "" {
		return nil
	}
	for _, p := range r.Dependents {
		if p.UID == uid && p.APIVersion == d.APIVersion && p.Kind == d.Kind && p.Namespace == d.Namespace && p.Name == d.Name {
			return p.Fields
		}
	}
	return nil
}
