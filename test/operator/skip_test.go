package operator_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

// runs counts the Ansible runs of one resource: one artifacts directory per
// run (far below the rotation limit in these tests).
func runs(t *testing.T, gvk schema.GroupVersionKind, ns, name string) int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(runnerDir, gvk.Group, gvk.Version, gvk.Kind, ns, name, "artifacts"))
	if err != nil {
		if os.IsNotExist(err) {
			return 0
		}
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.IsDir() {
			n++
		}
	}
	return n
}

// assertRunsStay waits long enough for an unwanted run to have started (longer
// when the runs it has seen were slow), then checks that the number of runs is
// still want.
func assertRunsStay(t *testing.T, gvk schema.GroupVersionKind, ns, name string, want int, after string) {
	t.Helper()
	time.Sleep(optest.Quiet(operator))
	if got := runs(t, gvk, ns, name); got != want {
		t.Fatalf("after %s: %d Ansible runs, want %d\n--- operator log ---\n%s", after, got, want, operator.LogTail(30))
	}
}

func waitRuns(t *testing.T, gvk schema.GroupVersionKind, ns, name string, want int, after string) {
	t.Helper()
	optest.Await(t, after+": run number "+strconv.Itoa(want), func(context.Context) (bool, error) {
		return runs(t, gvk, ns, name) >= want, nil
	}, operator)
	optest.AwaitObject(t, kube, gvk, ns, name, "Successful", optest.Successful, operator)
}

func TestSkipUnchangedWork(t *testing.T) {
	t.Parallel()
	ns := optest.CreateNamespace(t, kube, "skip")
	optest.Create(t, kube, optest.NewObject(gvkSkippy, ns, "s", map[string]any{}))
	optest.AwaitObject(t, kube, gvkSkippy, ns, "s", "Successful", optest.Successful, operator)
	key := client.ObjectKey{Namespace: ns, Name: "s-web"}
	// kube-controller-manager now updates the Deployment's status and
	// annotations and creates a ReplicaSet: none of it starts Ansible.
	optest.Await(t, "the deployment controller to act", func(ctx context.Context) (bool, error) {
		var d appsv1.Deployment
		err := kube.Get(ctx, key, &d)
		return err == nil && d.Status.ObservedGeneration > 0, nil
	}, operator)
	assertRunsStay(t, gvkSkippy, ns, "s", 1, "the deployment controller's updates")

	var d appsv1.Deployment
	if err := kube.Get(t.Context(), key, &d); err != nil {
		t.Fatal(err)
	}
	status, _ := json.Marshal(map[string]any{"status": map[string]any{"unavailableReplicas": 7}})
	if err := kube.Status().Patch(t.Context(), &d, client.RawPatch(types.MergePatchType, status)); err != nil {
		t.Fatalf("patch dependent status: %v", err)
	}
	meta, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{"someone/else": "x"}}})
	if err := kube.Patch(t.Context(), &d, client.RawPatch(types.MergePatchType, meta)); err != nil {
		t.Fatalf("annotate dependent: %v", err)
	}
	assertRunsStay(t, gvkSkippy, ns, "s", 1, "a status-only and an unrelated metadata change of the dependent")

	scale, _ := json.Marshal(map[string]any{"spec": map[string]any{"replicas": 5}})
	if err := kube.Patch(t.Context(), &d, client.RawPatch(types.MergePatchType, scale)); err != nil {
		t.Fatal(err)
	}
	waitRuns(t, gvkSkippy, ns, "s", 2, "a spec change of the dependent")
	optest.Await(t, "replicas restored by the role", func(ctx context.Context) (bool, error) {
		var now appsv1.Deployment
		err := kube.Get(ctx, key, &now)
		return err == nil && now.Spec.Replicas != nil && *now.Spec.Replicas == 1, nil
	}, operator)

	if err := kube.Delete(t.Context(), &appsv1.Deployment{ObjectMeta: d.ObjectMeta}); err != nil {
		t.Fatal(err)
	}
	waitRuns(t, gvkSkippy, ns, "s", 3, "deleting the dependent")

	optest.MergePatch(t, kube, gvkSkippy, ns, "s", map[string]any{"spec": map[string]any{"replicas": 2}})
	waitRuns(t, gvkSkippy, ns, "s", 4, "a generation bump of the CR")
	assertRunsStay(t, gvkSkippy, ns, "s", 4, "the run for the generation bump")
}

// A periodic resync with nothing changed runs Ansible by default (roles may
// poll external state) and not with skipUnchangedResync.
func TestResyncRunsUnlessOptedOut(t *testing.T) {
	t.Parallel()
	ns := optest.CreateNamespace(t, kube, "resync")
	for _, gvk := range []schema.GroupVersionKind{gvkSkippy, gvkResync} {
		cr := optest.NewObject(gvk, ns, "r", map[string]any{})
		cr.SetAnnotations(map[string]string{"ansible.sdk.operatorframework.io/reconcile-period": "2s"})
		optest.Create(t, kube, cr)
	}
	optest.AwaitObject(t, kube, gvkSkippy, ns, "r", "Successful", optest.Successful, operator)
	optest.AwaitObject(t, kube, gvkResync, ns, "r", "Successful", optest.Successful, operator)
	// Two resyncs of the default watch have run; the opted-out one, created at
	// the same time with the same period, was due as often and ran once.
	optest.Await(t, "two periodic runs of the default watch", func(context.Context) (bool, error) {
		return runs(t, gvkSkippy, ns, "r") >= 3, nil
	}, operator)
	if got := runs(t, gvkResync, ns, "r"); got != 1 {
		t.Errorf("skipUnchangedResync watch: %d runs, want 1 (resyncs skipped)", got)
	}
}
