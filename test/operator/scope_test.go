package operator_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

// WATCH_NAMESPACE with two namespaces: resources in a third are ignored.
func TestWatchNamespaceRestrictsReconciles(t *testing.T) {
	t.Parallel()
	a, b, c := optest.CreateNamespace(t, kube, "scoped-a"), optest.CreateNamespace(t, kube, "scoped-b"), optest.CreateNamespace(t, kube, "scoped-c")
	op, err := startOperatorEnv(t.TempDir(), "testdata/watches-scoped.yaml", []string{"WATCH_NAMESPACE=" + a + "," + b})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = op.Stop(optest.StopTimeout) })
	optest.Create(t, kube, optest.NewObject(gvkScoped, c, "s", map[string]any{}))
	optest.Create(t, kube, optest.NewObject(gvkScoped, a, "s", map[string]any{}))
	optest.Create(t, kube, optest.NewObject(gvkScoped, b, "s", map[string]any{}))
	optest.AwaitObject(t, kube, gvkScoped, a, "s", "Successful", optest.Successful, op)
	optest.AwaitObject(t, kube, gvkScoped, b, "s", "Successful", optest.Successful, op)
	time.Sleep(optest.Quiet(op)) // c's was created first; give it every chance
	u, err := optest.Get(t.Context(), kube, gvkScoped, c, "s")
	if err != nil {
		t.Fatal(err)
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(u.Object, "status"); found {
		t.Errorf("a resource outside WATCH_NAMESPACE was reconciled: %v", u.Object["status"])
	}
}

// Two replicas with leader election: only the leader reconciles; when it is
// killed, the other takes over and reconciles a resource created afterwards.
func TestLeaderElectionHandsOver(t *testing.T) {
	t.Parallel()
	ns := optest.CreateNamespace(t, kube, "elect")
	args := []string{"--leader-elect", "--leader-election-namespace", ns, "--leader-election-id", "elected-test",
		"--leader-elect-lease-duration", "4s", "--leader-elect-renew-deadline", "3s"}
	dir := t.TempDir()
	var ops []*optest.Operator
	for i := 0; i < 2; i++ {
		op, err := startOperator(dir+"/replica-"+strconv.Itoa(i), "testdata/watches-elected.yaml", args...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = op.Stop(optest.StopTimeout) })
		ops = append(ops, op)
	}
	optest.Create(t, kube, optest.NewObject(gvkElected, ns, "before", map[string]any{}))
	optest.AwaitObject(t, kube, gvkElected, ns, "before", "Successful", optest.Successful, ops...)

	leader := -1
	optest.Await(t, "a leader", func(ctx context.Context) (bool, error) {
		for i, op := range ops {
			if strings.Contains(op.Logs(), "became the leader") {
				leader = i
				return true, nil
			}
		}
		return false, nil
	}, ops...)
	var lease coordinationv1.Lease
	if err := kube.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "elected-test"}, &lease); err != nil {
		t.Fatalf("leader election Lease: %v", err)
	}
	ops[leader].Kill()
	optest.Create(t, kube, optest.NewObject(gvkElected, ns, "after", map[string]any{}))
	optest.AwaitObject(t, kube, gvkElected, ns, "after", "Successful (by the new leader)", optest.Successful, ops[1-leader])
	if !strings.Contains(ops[1-leader].Logs(), "became the leader") {
		t.Errorf("the surviving replica never acquired the lease")
	}
}
