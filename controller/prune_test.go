package controller

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/mcrouter-operator/mcrouter-operator/proxy"
	"github.com/mcrouter-operator/mcrouter-operator/runner"
	"github.com/mcrouter-operator/mcrouter-operator/watches"
)

// ownedCM is ConfigMap ns/name with uid as the API server answers it,
// linked to the test owner by an owner reference when owned.
func ownedCM(name, uid string, owned bool) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(cmGVK)
	u.SetNamespace("ns")
	u.SetName(name)
	u.SetUID(types.UID(uid))
	u.SetResourceVersion("1")
	if owned {
		u.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "ops.example.com/v1", Kind: "App", Name: "app", UID: ownerUID}})
	}
	return u
}

// cmWrite is a run's write of ConfigMap ns/<answer's name>.
func cmWrite(verb proxy.WriteVerb, created bool, answer *unstructured.Unstructured) proxy.Write {
	return proxy.Write{GVK: cmGVK, Namespace: "ns", Name: answer.GetName(), Verb: verb, Created: created, Object: answer}
}

func cmDeleteWrite(name string) proxy.Write {
	return proxy.Write{GVK: cmGVK, Namespace: "ns", Name: name, Verb: proxy.VerbDelete}
}

func created(name, uid string) createdDependent {
	return createdDependent{APIVersion: "v1", Kind: "ConfigMap", Namespace: "ns", Name: name, UID: types.UID(uid), Link: proxy.LinkOwnerReference}
}

// Only what a run created and linked enters the ledger: not what it updated,
// patched or found, not an object it could not link, not the resource itself,
// not an Event.
func TestLedgerRecordsOnlyWhatRunsCreated(t *testing.T) {
	owner := testOwner()
	primary := proxy.Write{GVK: ownerGVK, Namespace: "ns", Name: "app", Verb: "create", Created: true, Object: owner}
	status := cmWrite("create", true, ownedCM("st", "u-st", true))
	status.Subresource = "status"
	event := cmWrite("create", true, ownedCM("app.announced", "u-ev", true))
	event.GVK = schema.GroupVersionKind{Version: "v1", Kind: "Event"}
	event.Object.SetKind("Event")
	prev := ledger{UID: ownerUID, Objects: []createdDependent{created("old", "u-old"), created("gone", "u-gone")}}
	writes := []proxy.Write{
		cmWrite("create", true, ownedCM("a", "u-a", true)),
		cmWrite("apply", true, ownedCM("applied", "u-applied", true)),
		cmWrite("patch", false, ownedCM("patched", "u-patched", true)),
		cmWrite("update", false, ownedCM("updated", "u-updated", true)),
		cmWrite("create", true, ownedCM("unlinked", "u-unlinked", false)),
		cmWrite("create", true, ownedCM("old", "u-old2", true)), // recreated: the new UID
		cmDeleteWrite("gone"),
		cmWrite("create", true, ownedCM("b", "u-b", true)),
		cmDeleteWrite("b"),
		primary,
		status,
		event,
	}
	got, dropped := prev.withWrites(writes, owner)
	want := ledger{UID: ownerUID, Objects: []createdDependent{created("a", "u-a"), created("applied", "u-applied"), created("old", "u-old2")}}
	if diff := cmp.Diff(want, got); diff != "" || dropped != 0 {
		t.Errorf("ledger (-want +got):\n%s\ndropped %d", diff, dropped)
	}
	if len(prev.Objects) != 2 || prev.Objects[0].UID != "u-old" {
		t.Errorf("withWrites changed the previous ledger: %v", prev.Objects)
	}
}

func TestLedgerIsBounded(t *testing.T) {
	owner := testOwner()
	var writes []proxy.Write
	for i := range maxLedger + 5 {
		writes = append(writes, cmWrite("create", true, ownedCM(fmt.Sprintf("cm-%d", i), fmt.Sprintf("u-%d", i), true)))
	}
	got, dropped := ledger{}.withWrites(writes, owner)
	if len(got.Objects) != maxLedger || dropped != 5 {
		t.Errorf("%d objects kept, %d dropped; want %d and 5", len(got.Objects), dropped, maxLedger)
	}
	if got.Objects[maxLedger-1].Name != fmt.Sprintf("cm-%d", maxLedger-1) {
		t.Errorf("kept %s last, want the first %d created", got.Objects[maxLedger-1].Name, maxLedger)
	}
}

// What the last successful run touched (wrote or read) is held; what it
// did not is prunable; an object it touched under another UID is neither.
func TestLedgerStale(t *testing.T) {
	l := ledger{UID: ownerUID, Objects: []createdDependent{
		created("written", "u-1"), created("read", "u-2"), created("dropped", "u-3"),
		created("replaced", "u-4"), created("deleted", "u-5"),
	}}
	rec := &record{UID: ownerUID, Dependents: []dependentRecord{
		{APIVersion: "v1", Kind: "ConfigMap", Namespace: "ns", Name: "written", UID: "u-1"},
		// Another version of the same kind is the same object.
		{APIVersion: "v1beta1", Kind: "ConfigMap", Namespace: "ns", Name: "read", UID: "u-2"},
		{APIVersion: "v1", Kind: "ConfigMap", Namespace: "ns", Name: "replaced", UID: "u-other"},
		{APIVersion: "v1", Kind: "ConfigMap", Namespace: "ns", Name: "deleted", Deleted: true},
		{APIVersion: "v1", Kind: "Secret", Namespace: "ns", Name: "dropped", UID: "u-3"},
	}}
	held, prunable := l.stale(rec)
	names := func(ds []createdDependent) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.Name)
		}
		return out
	}
	if diff := cmp.Diff([]string{"written", "read"}, names(held)); diff != "" {
		t.Errorf("held (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"dropped", "deleted"}, names(prunable)); diff != "" {
		t.Errorf("prunable (-want +got):\n%s", diff)
	}
}

func TestLedgerRoundTripsThroughStatus(t *testing.T) {
	owner := testOwner()
	annotated := createdDependent{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Name: "app-reader", UID: "u-cr", Link: proxy.LinkAnnotation}
	l := ledger{UID: ownerUID, Objects: []createdDependent{created("a", "u-a"), annotated}}
	obj := testOwner()
	obj.Object["status"] = map[string]any{statusLedgerKey: normalize(l.encode())}
	got, err := decodeLedger(obj)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(l, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if (ledger{UID: ownerUID}).encode() != nil {
		t.Error("an empty ledger encodes as a value; want nil (the key is removed)")
	}
	if got, err := decodeLedger(owner); err != nil || len(got.Objects) != 0 || got.UID != ownerUID {
		t.Errorf("no ledger in status: %v, %v; want an empty ledger of the owner", got, err)
	}
}

// A ledger in status that this operator could not have written for the
// resource is refused whole: nothing it names is pruned.
func TestForgedLedgersAreRefused(t *testing.T) {
	entry := func(mod func(m map[string]any)) map[string]any {
		m := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "namespace": "ns", "name": "a", "uid": "u-a", "link": "ownerReference"}
		mod(m)
		return m
	}
	many := make([]any, maxLedger+1)
	for i := range many {
		many[i] = entry(func(m map[string]any) { m["name"] = fmt.Sprintf("cm-%d", i) })
	}
	for _, tt := range []struct {
		name  string
		value any
		want  string
	}{
		{"another resource's", map[string]any{"uid": "someone-else", "objects": []any{entry(func(map[string]any) {})}}, "UID"},
		{"not an object", "everything", "cannot unmarshal"},
		{"too many", map[string]any{"uid": string(ownerUID), "objects": many}, "more than"},
		{"twice", map[string]any{"uid": string(ownerUID), "objects": []any{entry(func(map[string]any) {}), entry(func(map[string]any) {})}}, "twice"},
		{"no uid", map[string]any{"uid": string(ownerUID), "objects": []any{entry(func(m map[string]any) { delete(m, "uid") })}}, "uid"},
		{"unknown link", map[string]any{"uid": string(ownerUID), "objects": []any{entry(func(m map[string]any) { m["link"] = "label" })}}, "link"},
		{"no link", map[string]any{"uid": string(ownerUID), "objects": []any{entry(func(m map[string]any) { delete(m, "link") })}}, "link"},
		{"owner reference across namespaces", map[string]any{"uid": string(ownerUID), "objects": []any{entry(func(m map[string]any) { m["namespace"] = "kube-system" })}}, "cannot link"},
		{"cluster-scoped by owner reference", map[string]any{"uid": string(ownerUID), "objects": []any{entry(func(m map[string]any) { delete(m, "namespace") })}}, "cannot link"},
		{"bad apiVersion", map[string]any{"uid": string(ownerUID), "objects": []any{entry(func(m map[string]any) { m["apiVersion"] = "a/b/c" })}}, "apiVersion"},
		{"bad kind", map[string]any{"uid": string(ownerUID), "objects": []any{entry(func(m map[string]any) { m["kind"] = "Config Map" })}}, "kind"},
		{"long name", map[string]any{"uid": string(ownerUID), "objects": []any{entry(func(m map[string]any) { m["name"] = strings.Repeat("x", 254) })}}, "name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			obj := testOwner()
			obj.Object["status"] = map[string]any{statusLedgerKey: normalize(tt.value)}
			got, err := decodeLedger(obj)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one mentioning %q", err, tt.want)
			}
			if got.UID != ownerUID || len(got.Objects) != 0 {
				t.Errorf("ledger %v, want the empty ledger of the owner", got)
			}
		})
	}
}

func TestPruneVeto(t *testing.T) {
	owner := testOwner()
	born := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	owner.SetCreationTimestamp(born)
	annotatedEntry := created("a", "u-a")
	annotatedEntry.Link = proxy.LinkAnnotation
	for _, tt := range []struct {
		name  string
		entry createdDependent
		live  func(u *unstructured.Unstructured)
		want  string
	}{
		{"the object created", created("a", "u-a"), func(*unstructured.Unstructured) {}, ""},
		{"replaced", created("a", "u-a"), func(u *unstructured.Unstructured) { u.SetUID("u-b") }, "replaced"},
		{"unlinked", created("a", "u-a"), func(u *unstructured.Unstructured) { u.SetOwnerReferences(nil) }, "no longer linked"},
		{"linked otherwise", annotatedEntry, func(*unstructured.Unstructured) {}, "no longer linked"},
		{"being deleted", created("a", "u-a"), func(u *unstructured.Unstructured) { u.SetDeletionTimestamp(&born) }, "being deleted"},
		{"older than its owner", created("a", "u-a"), func(u *unstructured.Unstructured) {
			u.SetCreationTimestamp(metav1.NewTime(born.Add(-time.Second)))
		}, "older"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			live := ownedCM("a", "u-a", true)
			live.SetCreationTimestamp(metav1.NewTime(born.Add(time.Minute)))
			tt.live(live)
			if got := pruneVeto(owner, tt.entry, live); !strings.Contains(got, tt.want) || (tt.want == "") != (got == "") {
				t.Errorf("veto %q, want %q", got, tt.want)
			}
		})
	}
}

// prunerFor is a Reconciler of a watch with pruneDependents (or not) on a
// fake API server holding objs.
func prunerFor(prune bool, objs ...client.Object) (*Reconciler, client.Client, *recordedEvents) {
	c := fake.NewClientBuilder().WithObjects(objs...).Build()
	ev := &recordedEvents{}
	return &Reconciler{client: c, apiReader: c, recorder: ev, ledgers: newLedgers(),
		opts: Options{Watch: watches.Watch{PruneDependents: prune}}}, c, ev
}

func succeeded(writes ...proxy.Write) *outcome {
	return &outcome{result: &runner.Result{}, writes: writes}
}

func recordOf(names ...string) *record {
	rec := &record{UID: ownerUID}
	for _, n := range names {
		rec.Dependents = append(rec.Dependents, dependentRecord{APIVersion: "v1", Kind: "ConfigMap", Namespace: "ns", Name: n, UID: types.UID("u-" + n)})
	}
	return rec
}

func exists(t *testing.T, c client.Client, name string) bool {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(cmGVK)
	err := c.Get(t.Context(), client.ObjectKey{Namespace: "ns", Name: name}, u)
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

// After a successful run, what earlier runs created and this one no longer
// touched is deleted; a hand-made owned object, one someone unlinked, and
// everything after a failed run are kept.
func TestTrackCreatedPrunesAfterSuccessOnly(t *testing.T) {
	owner := testOwner()
	a, b, c := ownedCM("a", "u-a", true), ownedCM("b", "u-b", true), ownedCM("c", "u-c", true)
	hand := ownedCM("hand", "u-hand", true)
	unlinked := ownedCM("unlinked", "u-unlinked", false)
	r, kube, ev := prunerFor(true, a, b, c, hand, unlinked)
	ctx := t.Context()

	// The run that created them; unlinked was linked then.
	first := succeeded(cmWrite("create", true, a), cmWrite("create", true, b), cmWrite("create", true, c),
		cmWrite("create", true, ownedCM("unlinked", "u-unlinked", true)))
	if _, set := r.trackCreated(ctx, owner, first, recordOf("a", "b", "c", "unlinked")); !set {
		t.Fatal("a watch with pruneDependents does not write its ledger")
	}

	// A failed run touching only a prunes nothing.
	failed := &outcome{result: &runner.Result{Failures: []runner.TaskFailure{{Task: "t"}}}}
	r.trackCreated(ctx, owner, failed, nil)
	for _, n := range []string{"a", "b", "c", "hand", "unlinked"} {
		if !exists(t, kube, n) {
			t.Fatalf("%s deleted after a failed run", n)
		}
	}

	// A successful run that still writes a and reads c.
	value, _ := r.trackCreated(ctx, owner, succeeded(cmWrite("patch", false, a)), recordOf("a", "c", "hand"))
	for n, want := range map[string]bool{"a": true, "b": false, "c": true, "hand": true, "unlinked": true} {
		if got := exists(t, kube, n); got != want {
			t.Errorf("%s exists: %v, want %v", n, got, want)
		}
	}
	if len(ev.notes) != 1 || !strings.HasPrefix(ev.notes[0], EventPruned+": deleted ConfigMap ns/b") {
		t.Errorf("events %q, want one %s event about ns/b", ev.notes, EventPruned)
	}
	objects, _ := value["objects"].([]any)
	var names []string
	for _, o := range objects {
		names = append(names, o.(map[string]any)["name"].(string))
	}
	slices.Sort(names)
	if diff := cmp.Diff([]string{"a", "c"}, names); diff != "" {
		t.Errorf("ledger after pruning (-want +got):\n%s", diff)
	}
}

// Without pruneDependents nothing is recorded or deleted, and the status is
// left as it is.
func TestTrackCreatedOffByDefault(t *testing.T) {
	owner := testOwner()
	b := ownedCM("b", "u-b", true)
	r, kube, _ := prunerFor(false, b)
	for _, o := range []*outcome{succeeded(cmWrite("create", true, b)), succeeded()} {
		if value, set := r.trackCreated(t.Context(), owner, o, recordOf()); set || value != nil {
			t.Errorf("status value %v, set %v; want none", value, set)
		}
	}
	if !exists(t, kube, "b") {
		t.Error("pruned without pruneDependents")
	}
}

// A restarted operator reads the ledger from status, for the same resource
// only.
func TestTrackCreatedReadsTheLedgerInStatus(t *testing.T) {
	b := ownedCM("b", "u-b", true)
	r, kube, _ := prunerFor(true, b)
	owner := testOwner()
	owner.Object["status"] = map[string]any{statusLedgerKey: normalize(ledger{UID: ownerUID, Objects: []createdDependent{created("b", "u-b")}}.encode())}
	recreated := owner.DeepCopy()
	recreated.SetUID("another-uid")
	r.trackCreated(t.Context(), recreated, succeeded(), &record{UID: "another-uid"})
	if !exists(t, kube, "b") {
		t.Fatal("pruned on the ledger of another resource of the same name")
	}
	r.ledgers.forget(memoryKey("ns", "app"))
	r.trackCreated(t.Context(), owner, succeeded(), recordOf())
	if exists(t, kube, "b") {
		t.Error("not pruned on the ledger in status")
	}
}
