package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

const (
	// healPoolSize is the memcached pool of the heal tests' Mcrouters.
	healPoolSize = 2
	// healed names the Mcrouter of each heal test (each has its namespace).
	healed = "healed"
	// failAnnotation makes testdata/failonce fail in its first task.
	failAnnotation = "e2e.example.com/fail"
	// restartedCRs Mcrouters are settled when their operator is restarted.
	restartedCRs = 20
)

// TestHealAfterRestart stops the operator of a settled Mcrouter and starts
// another with the same runner directory: once it has reconciled the
// Mcrouter (by a run or a skip), it still repairs each dependent broken
// afterwards.
func TestHealAfterRestart(t *testing.T) {
	t.Parallel()
	timed(t)
	ns := optest.TempNamespace(t, kube, "heal-restart")
	o := operatorOptions{Name: "heal-restart-first", RunnerDir: filepath.Join(tempDir(t), "runner"), Namespaces: []string{ns}}
	first := startOperator(t, o)
	optest.Create(t, kube, optest.NewObject(optest.McrouterGVK, ns, healed, map[string]any{"memcached_pool_size": healPoolSize}))
	optest.AwaitObject(t, kube, optest.McrouterGVK, ns, healed, "Successful", optest.Settled, first)
	if err := first.Stop(optest.StopTimeout); err != nil {
		t.Fatal(err)
	}

	o.Name = "heal-restart-second"
	second, port := meteredOperator(t, o)
	runs, skips := waitReconciled(t, second, port, 1)
	optest.AwaitObject(t, kube, optest.McrouterGVK, ns, healed, "Successful after the restart", optest.Settled, second)
	t.Logf("the restarted operator reconciled the settled Mcrouter: %v Ansible runs, %v skipped", runs, skips)
	breakAndHeal(t, second, ns, healed)
}

// TestHealAfterFailedRun maps Mcrouter to testdata/failonce: a spec change
// together with the annotation that makes the playbook fail ends in Failure;
// with the annotation gone the retry succeeds, and the operator repairs each
// dependent broken afterwards.
func TestHealAfterFailedRun(t *testing.T) {
	t.Parallel()
	timed(t)
	ns := optest.TempNamespace(t, kube, "heal-failed")
	op := startOperator(t, operatorOptions{
		Name:        "heal-failed",
		WatchesFile: filepath.Join(repoRoot, "test", "e2e", "testdata", "failonce", "watches.yaml"),
		Namespaces:  []string{ns},
		Args:        []string{"--ansible-roles-path", filepath.Join(repoRoot, "roles")},
	})
	optest.Create(t, kube, optest.NewObject(optest.McrouterGVK, ns, healed, map[string]any{"memcached_pool_size": healPoolSize}))
	optest.AwaitObject(t, kube, optest.McrouterGVK, ns, healed, "Successful", optest.Settled, op)

	// An annotation change alone starts no reconcile: the spec changes too.
	optest.MergePatch(t, kube, optest.McrouterGVK, ns, healed, map[string]any{
		"metadata": map[string]any{"annotations": map[string]any{failAnnotation: "true"}},
		"spec":     map[string]any{"mcrouter_replicas": 2},
	})
	u := optest.AwaitObject(t, kube, optest.McrouterGVK, ns, healed, "Failure while it carries "+failAnnotation, optest.Failed, op)
	if msg := optest.ConditionMessage(u, "Failure"); !strings.Contains(msg, "Fail while the Mcrouter asks for it") {
		t.Errorf("Failure message %q does not name the failing task", msg)
	}
	// The failed Mcrouter is retried with backoff; the next retry succeeds.
	optest.MergePatch(t, kube, optest.McrouterGVK, ns, healed, map[string]any{"metadata": map[string]any{"annotations": map[string]any{failAnnotation: nil}}})
	optest.AwaitObject(t, kube, optest.McrouterGVK, ns, healed, "Successful on a retry without "+failAnnotation, optest.Settled, op)
	breakAndHeal(t, op, ns, healed)
}

// TestHealAfterKillMidRun kills the operator with SIGKILL during a run for a
// spec change and starts another with the same runner directory: it
// reconciles the new generation and repairs each dependent broken afterwards.
func TestHealAfterKillMidRun(t *testing.T) {
	t.Parallel()
	timed(t)
	ns := optest.TempNamespace(t, kube, "heal-sigkill")
	runnerDir := filepath.Join(tempDir(t), "runner")
	o := operatorOptions{Name: "heal-sigkill-first", RunnerDir: runnerDir, Namespaces: []string{ns}}
	first := startOperator(t, o)
	optest.Create(t, kube, optest.NewObject(optest.McrouterGVK, ns, healed, map[string]any{"memcached_pool_size": healPoolSize}))
	optest.AwaitObject(t, kube, optest.McrouterGVK, ns, healed, "Successful", optest.Settled, first)

	optest.MergePatch(t, kube, optest.McrouterGVK, ns, healed, map[string]any{"spec": map[string]any{"mcrouter_replicas": 2}})
	procs := waitRunning(t, first, runnerDir, ns, healed)
	first.Kill()
	t.Logf("killed the operator during a run (%d Ansible processes)", len(procs))

	o.Name = "heal-sigkill-second"
	second := startOperator(t, o)
	optest.AwaitObject(t, kube, optest.McrouterGVK, ns, healed, "Successful at the new generation after the restart", optest.Settled, second)
	breakAndHeal(t, second, ns, healed)
}

// TestRecreatedDependentRuns replaces the Mcrouter's ConfigMap with one of
// the same name and content that the operator did not make: only the new UID
// and the missing owner reference differ, and that starts a run.
func TestRecreatedDependentRuns(t *testing.T) {
	t.Parallel()
	ns := optest.TempNamespace(t, kube, "heal-recreated")
	op := startOperator(t, operatorOptions{Name: "heal-recreated", Namespaces: []string{ns}})
	optest.Create(t, kube, optest.NewObject(optest.McrouterGVK, ns, healed, map[string]any{"memcached_pool_size": healPoolSize}))
	optest.AwaitObject(t, kube, optest.McrouterGVK, ns, healed, "Successful", optest.Settled, op)

	var cm corev1.ConfigMap
	if err := kube.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: healed}, &cm); err != nil {
		t.Fatal(err)
	}
	before := op.Activity().Started()
	if err := kube.Delete(t.Context(), &cm); err != nil {
		t.Fatalf("delete ConfigMap %s/%s: %v", ns, healed, err)
	}
	// The same labels, annotations and data: only the UID and the missing
	// owner reference tell it from the Mcrouter's.
	own := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: healed, Labels: cm.Labels, Annotations: cm.Annotations},
		Data:       cm.Data,
	}
	if err := kube.Create(t.Context(), own); err != nil {
		t.Fatalf("create our own ConfigMap %s/%s right after deleting the Mcrouter's: %v", ns, healed, err)
	}
	optest.Await(t, "an Ansible run for the ConfigMap replaced by an identical one", func(context.Context) (bool, error) {
		return op.Activity().Started() > before, fmt.Errorf("%d runs started, as before the replacement", op.Activity().Started())
	}, op)
	optest.AwaitObject(t, kube, optest.McrouterGVK, ns, healed, "Successful", optest.Settled, op)
}

// TestRestartRunsNothingForUnchangedMcrouters restarts the operator of 20
// settled Mcrouters: the new one reconciles each once without starting
// Ansible, then re-creates each Mcrouter's deleted Service. Not parallel: the
// 20 runs load both CPUs, and its figures are the operator's alone.
func TestRestartRunsNothingForUnchangedMcrouters(t *testing.T) {
	timed(t)
	ns := optest.TempNamespace(t, kube, "restart-unchanged")
	o := operatorOptions{Name: "unchanged-first", RunnerDir: filepath.Join(tempDir(t), "runner"), Namespaces: []string{ns}}
	first, firstPort := meteredOperator(t, o)
	names := make([]string, restartedCRs)
	for i := range names {
		names[i] = fmt.Sprintf("cr-%02d", i)
		optest.Create(t, kube, optest.NewObject(optest.McrouterGVK, ns, names[i], map[string]any{"memcached_pool_size": 1}))
	}
	for _, name := range names {
		optest.AwaitObject(t, kube, optest.McrouterGVK, ns, name, "Successful", optest.Settled, first)
	}
	runs, skips := reconcileCounts(t, firstPort)
	t.Logf("first operator: %v Ansible runs, %v skipped for %d new Mcrouters", runs, skips, restartedCRs)
	if err := first.Stop(optest.StopTimeout); err != nil {
		t.Fatal(err)
	}

	o.Name = "unchanged-second"
	second, port := meteredOperator(t, o)
	// It reconciles each Mcrouter once at start. Runs count towards the wait
	// as skips do: a run that should not happen ends it too.
	waitReconciled(t, second, port, restartedCRs)
	// Give a run that should not happen every chance to start.
	time.Sleep(optest.Quiet(first, second))
	runs, skips = reconcileCounts(t, port)
	started := second.Activity().Started()
	t.Logf("restarted operator over %d settled Mcrouters: %v Ansible runs, %v skipped, %d runs seen starting",
		restartedCRs, runs, skips, started)
	if runs != 0 || started != 0 {
		t.Errorf("the restarted operator ran Ansible for unchanged Mcrouters: %v runs counted, %d seen starting", runs, started)
	}

	start := time.Now()
	waitServicesRestored(t, second, ns, deleteServices(t, ns, names...))
	runs, skips = reconcileCounts(t, port)
	t.Logf("%d deleted Services re-created in %s; restarted operator now at %v Ansible runs, %v skipped",
		restartedCRs, time.Since(start).Round(100*time.Millisecond), runs, skips)
}

// breakAndHeal breaks three dependents of the Mcrouter, one after another,
// and waits until op puts each back: the mcrouter Service deleted, the
// memcached StatefulSet scaled to 0, the ConfigMap's config.json emptied.
// Each is a subtest, so that one left broken does not hide the others.
func breakAndHeal(t *testing.T, op *optest.Operator, ns, name string) {
	t.Helper()
	t.Run("Service deleted", func(t *testing.T) {
		waitServicesRestored(t, op, ns, deleteServices(t, ns, name))
	})
	t.Run("StatefulSet scaled to 0", func(t *testing.T) {
		sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-memcached"}}
		mergePatch(t, sts, `{"spec":{"replicas":0}}`)
		optest.Await(t, fmt.Sprintf("StatefulSet %s/%s spec.replicas back to %d", ns, sts.Name, healPoolSize), func(ctx context.Context) (bool, error) {
			if err := kube.Get(ctx, client.ObjectKeyFromObject(sts), sts); err != nil {
				return false, err
			}
			if sts.Spec.Replicas == nil {
				return false, errors.New("spec.replicas unset")
			}
			return *sts.Spec.Replicas == healPoolSize, fmt.Errorf("spec.replicas %d", *sts.Spec.Replicas)
		}, op)
	})
	t.Run("config.json emptied", func(t *testing.T) {
		mergePatch(t, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}, `{"data":{"config.json":"{}"}}`)
		waitConfigServers(t, op, ns, name)
	})
}

// mergePatch applies a JSON merge patch to obj, which has its namespace and
// name set.
func mergePatch(t *testing.T, obj client.Object, patch string) {
	t.Helper()
	if err := kube.Patch(t.Context(), obj, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		t.Fatalf("patch %T %s/%s with %s: %v", obj, obj.GetNamespace(), obj.GetName(), patch, err)
	}
}

// waitConfigServers waits until the Mcrouter's config.json lists its
// healPoolSize memcached servers.
func waitConfigServers(t *testing.T, op *optest.Operator, ns, name string) {
	t.Helper()
	want := wantServers(ns, name, healPoolSize)
	optest.Await(t, fmt.Sprintf("ConfigMap %s/%s config.json lists the %d memcached servers", ns, name, healPoolSize), func(ctx context.Context) (bool, error) {
		cfg, err := readConfig(ctx, ns, name)
		if err != nil {
			return false, err
		}
		return slices.Equal(cfg.Pools.A.Servers, want), fmt.Errorf("servers %q", cfg.Pools.A.Servers)
	}, op)
}

// deleteServices deletes the mcrouter Service of each Mcrouter and returns
// their UIDs by name.
func deleteServices(t *testing.T, ns string, names ...string) map[string]types.UID {
	t.Helper()
	old := make(map[string]types.UID, len(names))
	for _, name := range names {
		var svc corev1.Service
		if err := kube.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, &svc); err != nil {
			t.Fatalf("get Service %s/%s: %v", ns, name, err)
		}
		if err := kube.Delete(t.Context(), &svc); err != nil {
			t.Fatalf("delete Service %s/%s: %v", ns, name, err)
		}
		old[name] = svc.UID
	}
	return old
}

// waitServicesRestored waits until each Service of old exists again with
// another UID.
func waitServicesRestored(t *testing.T, op *optest.Operator, ns string, old map[string]types.UID) {
	t.Helper()
	optest.Await(t, fmt.Sprintf("%d deleted Services in %s re-created", len(old), ns), func(ctx context.Context) (bool, error) {
		var list corev1.ServiceList
		if err := kube.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return false, err
		}
		live := map[string]corev1.Service{}
		for _, svc := range list.Items {
			live[svc.Name] = svc
		}
		var waiting []string
		for name, uid := range old {
			switch svc, ok := live[name]; {
			case !ok:
				waiting = append(waiting, name+" absent")
			case svc.UID == uid || svc.DeletionTimestamp != nil:
				waiting = append(waiting, name+" still the deleted one")
			}
		}
		slices.Sort(waiting)
		return len(waiting) == 0, fmt.Errorf("%d of %d not re-created: %s", len(waiting), len(old), strings.Join(waiting, ", "))
	}, op)
}

// meteredOperator starts an operator with its metrics endpoint on a free
// port, and returns the port.
func meteredOperator(t *testing.T, o operatorOptions) (*optest.Operator, int) {
	t.Helper()
	port, err := optest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	o.Args = append(slices.Clone(o.Args), "--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", port))
	return startOperator(t, o), port
}

// waitReconciled waits until the operator's metrics count at least n
// finished reconciles, runs (any result or kind) and skips together, and
// returns the two counts. A run under way is not counted yet.
func waitReconciled(t *testing.T, op *optest.Operator, port, n int) (runs, skips float64) {
	t.Helper()
	optest.Await(t, fmt.Sprintf("operator %s reconciled %d times (Ansible runs and skips)", op.Name, n), func(ctx context.Context) (bool, error) {
		byResult, s, err := runCounts(ctx, port)
		if err != nil {
			return false, err
		}
		runs, skips = byResult["succeeded"]+byResult["failed"], s
		return runs+skips >= float64(n), fmt.Errorf("%v Ansible runs, %v skipped", runs, skips)
	}, op)
	return runs, skips
}

// reconcileCounts reads the operator's Ansible runs (any result or kind) and
// skips from its metrics.
func reconcileCounts(t *testing.T, port int) (runs, skips float64) {
	t.Helper()
	byResult, skips, err := runCounts(t.Context(), port)
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	return byResult["succeeded"] + byResult["failed"], skips
}
