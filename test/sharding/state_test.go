package sharding_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

const (
	// shardLabel names the replica that owns a Mcrouter, on the Mcrouter
	// and on its dependents.
	shardLabel = "ansible.sdk.operatorframework.io/shard"
	// shardGroupLabel marks the replicas' Leases.
	shardGroupLabel = "ansible.sdk.operatorframework.io/shard-group"
)

// mcrouter is what the tests read of one Mcrouter.
type mcrouter struct {
	name         string
	uid          string
	shard        string // the shard label; "" when unassigned
	reconciledBy string // status.reconciledBy
	settled      bool   // the last run succeeded for this generation and none is under way
}

// view is the Mcrouters of a namespace at one moment.
type view struct {
	crs []mcrouter
}

func observe(ctx context.Context, ns string) (view, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(optest.McrouterGVK.GroupVersion().WithKind("McrouterList"))
	if err := kube.List(ctx, list, client.InNamespace(ns)); err != nil {
		return view{}, fmt.Errorf("list Mcrouters in %s: %w", ns, err)
	}
	var v view
	for i := range list.Items {
		u := &list.Items[i]
		by, _, _ := unstructured.NestedString(u.Object, "status", "reconciledBy")
		v.crs = append(v.crs, mcrouter{name: u.GetName(), uid: string(u.GetUID()), shard: u.GetLabels()[shardLabel], reconciledBy: by, settled: optest.Settled(u)})
	}
	slices.SortFunc(v.crs, func(a, b mcrouter) int { return strings.Compare(a.name, b.name) })
	return v, nil
}

// byShard counts the Mcrouters by shard label ("" for none).
func (v view) byShard() map[string]int {
	out := map[string]int{}
	for _, c := range v.crs {
		out[c.shard]++
	}
	return out
}

// byReconciler counts the Mcrouters by status.reconciledBy.
func (v view) byReconciler() map[string]int {
	out := map[string]int{}
	for _, c := range v.crs {
		out[c.reconciledBy]++
	}
	return out
}

func (v view) settledCount() int {
	n := 0
	for _, c := range v.crs {
		if c.settled {
			n++
		}
	}
	return n
}

// owned names the Mcrouters labelled with replica name.
func (v view) owned(name string) []string {
	var out []string
	for _, c := range v.crs {
		if c.shard == name {
			out = append(out, c.name)
		}
	}
	return out
}

// shard is the shard label of Mcrouter name.
func (v view) shard(name string) string {
	for _, c := range v.crs {
		if c.name == name {
			return c.shard
		}
	}
	return ""
}

// stray describes every Mcrouter that is not settled and owned by one of
// live: labelled by it, and status.reconciledBy the same replica. Empty when
// all n are.
func (v view) stray(n int, live []string) []string {
	var out []string
	if len(v.crs) != n {
		out = append(out, fmt.Sprintf("%d Mcrouters, want %d", len(v.crs), n))
	}
	for _, c := range v.crs {
		switch {
		case !slices.Contains(live, c.shard):
			out = append(out, fmt.Sprintf("%s labelled %q", c.name, c.shard))
		case c.reconciledBy != c.shard:
			out = append(out, fmt.Sprintf("%s labelled %s, reconciledBy %q", c.name, c.shard, c.reconciledBy))
		case !c.settled:
			out = append(out, c.name+" not settled")
		}
	}
	return out
}

// balanced reports whether no live replica owns more than ceil(n/m) of the
// n Mcrouters (the bound of the assignment) and none of them owns none.
func (v view) balanced(live []string) bool {
	counts, bound := v.byShard(), (len(v.crs)+len(live)-1)/max(1, len(live))
	for _, name := range live {
		if counts[name] == 0 || counts[name] > bound {
			return false
		}
	}
	return true
}

func (v view) String() string {
	return fmt.Sprintf("%d of %d settled; by shard label %s; by status.reconciledBy %s",
		v.settledCount(), len(v.crs), counts(v.byShard()), counts(v.byReconciler()))
}

// counts prints a count per name, in name order ("" as "none").
func counts(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		name := k
		if name == "" {
			name = "none"
		}
		parts = append(parts, fmt.Sprintf("%s:%d", name, m[k]))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// leaseHolders maps the identity of the holder of every shard Lease in ns to
// the Lease's name. A holder is the replica's identity, "_" and a token of
// its process; identities never hold "_".
func leaseHolders(ctx context.Context, ns string) (map[string]string, error) {
	var leases coordinationv1.LeaseList
	if err := kube.List(ctx, &leases, client.InNamespace(ns), client.HasLabels{shardGroupLabel}); err != nil {
		return nil, fmt.Errorf("list shard Leases in %s: %w", ns, err)
	}
	out := map[string]string{}
	for _, l := range leases.Items {
		holder := ""
		if l.Spec.HolderIdentity != nil {
			holder = *l.Spec.HolderIdentity
		}
		if i := strings.LastIndex(holder, "_"); i >= 0 {
			holder = holder[:i]
		}
		out[holder] = l.Name
	}
	return out, nil
}

// mislabelledDependents names the dependents of the Mcrouters whose shard
// label differs from their Mcrouter's: the role's StatefulSet, Services,
// ConfigMap and Deployment and each Mcrouter's latest run record (latest:
// Mcrouter name → record name), all named in the record of its last run
// (wrong); apart from them (stale), the records of earlier runs, which the
// last run did not touch: still the Mcrouter's dependents (owner reference),
// but not in the record by which a new owner finds what to relabel.
func mislabelledDependents(ctx context.Context, ns string, v view, latest map[string]string) (wrong, stale []string, err error) {
	lists := []struct {
		kind string
		list client.ObjectList
	}{
		{"StatefulSet", &appsv1.StatefulSetList{}},
		{"Deployment", &appsv1.DeploymentList{}},
		{"Service", &corev1.ServiceList{}},
		{"ConfigMap", &corev1.ConfigMapList{}},
	}
	for _, l := range lists {
		if err := kube.List(ctx, l.list, client.InNamespace(ns)); err != nil {
			return nil, nil, fmt.Errorf("list %ss in %s: %w", l.kind, ns, err)
		}
		for _, o := range objects(l.list) {
			owner := ownerName(o)
			if owner == "" {
				continue
			}
			got, want := o.GetLabels()[shardLabel], v.shard(owner)
			if got == want {
				continue
			}
			msg := fmt.Sprintf("%s %s labelled %q, its Mcrouter %s %q", l.kind, o.GetName(), got, owner, want)
			if o.GetLabels()[runLabel] == "true" && latest[owner] != o.GetName() {
				stale = append(stale, msg)
			} else {
				wrong = append(wrong, msg)
			}
		}
	}
	return wrong, stale, nil
}

// ownerName is the name of the Mcrouter that owns o, or "".
func ownerName(o client.Object) string {
	for _, ref := range o.GetOwnerReferences() {
		if ref.Kind == optest.McrouterGVK.Kind && strings.HasPrefix(ref.APIVersion, optest.McrouterGVK.Group+"/") {
			return ref.Name
		}
	}
	return ""
}

func objects(list client.ObjectList) []client.Object {
	items, _ := apimeta.ExtractList(list)
	out := make([]client.Object, 0, len(items))
	for _, item := range items {
		if o, ok := item.(client.Object); ok {
			out = append(out, o)
		}
	}
	return out
}

// unclaimed counts the Mcrouters not labelled by one of live.
func (v view) unclaimed(live []string) int {
	n := 0
	for _, c := range v.crs {
		if !slices.Contains(live, c.shard) {
			n++
		}
	}
	return n
}

// deleteDeployment deletes the mcrouter Deployment of Mcrouter name and
// returns its UID.
func deleteDeployment(ctx context.Context, ns, name string) (types.UID, error) {
	var d appsv1.Deployment
	if err := kube.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &d); err != nil {
		return "", fmt.Errorf("get Deployment %s/%s: %w", ns, name, err)
	}
	if err := kube.Delete(ctx, &d, client.Preconditions{UID: &d.UID}); err != nil {
		return "", fmt.Errorf("delete Deployment %s/%s: %w", ns, name, err)
	}
	return d.UID, nil
}

// deploymentOf returns the UID and shard label of the mcrouter Deployment of
// Mcrouter name.
func deploymentOf(ctx context.Context, ns, name string) (types.UID, string, error) {
	var d appsv1.Deployment
	if err := kube.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &d); err != nil {
		return "", "", err
	}
	return d.UID, d.Labels[shardLabel], nil
}
