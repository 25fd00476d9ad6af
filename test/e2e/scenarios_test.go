package e2e_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

// checksumKey is the pod-template annotation that rolls mcrouter when its
// configuration changes.
const checksumKey = "mcrouter.example.com/config-checksum"

// TestReadmeScenarios walks the original README: apply the sample, grow the
// pool, switch the pool setup, delete dependents.
func TestReadmeScenarios(t *testing.T) {
	t.Parallel()
	op := sharedOperator(t)
	ns := optest.TempNamespace(t, kube, "readme")
	const name = "my-mcrouter" // deploy/samples names it so, as the README does
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"apply the sample", func(t *testing.T) { readmeApplySample(t, op, ns, name) }},
		{"pool size 4", func(t *testing.T) { readmeGrowPool(t, op, ns, name) }},
		{"sharded and back", func(t *testing.T) { readmeSwitchPoolSetup(t, op, ns, name) }},
		{"deleted dependents restored", func(t *testing.T) { readmeRestoreDependents(t, op, ns, name) }},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.Fatalf("step %q failed; the later steps build on it", s.name)
		}
	}
}

func readmeApplySample(t *testing.T, op *optest.Operator, ns, name string) {
	kubectl(t, "apply", "-n", ns, "-f", filepath.Join("deploy", "samples", "mcrouter_v1alpha3_mcrouter.yaml"))
	u := optest.AwaitObject(t, kube, optest.McrouterGVK, ns, name, "Successful", optest.Settled, op)
	// The status that says Successful says Ready too: kubectl wait, checking
	// once (--timeout=0s), finds it so.
	kubectl(t, "wait", "-n", ns, "--for=condition=Ready", "--timeout=0s", "mcrouter/"+name)

	running := optest.Condition(u, "Running")
	res, _ := running["ansibleResult"].(map[string]any)
	if running["message"] != "Awaiting next reconciliation" || res == nil ||
		optest.Int64(res["ok"]) < 1 || optest.Int64(res["failures"]) != 0 || res["completion"] == "" {
		t.Errorf("Running condition = %v, want message \"Awaiting next reconciliation\" and an ansibleResult", running)
	}
	var sts appsv1.StatefulSet
	if err := kube.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name + "-memcached"}, &sts); err != nil {
		t.Fatal(err)
	}
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 3 {
		t.Errorf("StatefulSet replicas = %v, want 3", sts.Spec.Replicas)
	}
	var headless corev1.Service
	if err := kube.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name + "-memcached"}, &headless); err != nil {
		t.Fatal(err)
	}
	if headless.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("memcached Service clusterIP = %q, want None (headless)", headless.Spec.ClusterIP)
	}
	if missing, err := missingDependents(t.Context(), ns, name); err != nil || len(missing) > 0 {
		t.Errorf("missing dependents %v (%v)", missing, err)
	}
	cfg, err := readConfig(t.Context(), ns, name)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantServers(ns, name, 3), cfg.Pools.A.Servers); diff != "" {
		t.Errorf("mcrouter servers (-want +got):\n%s", diff)
	}
	if got := cfg.routeKind(); got != "OperationSelectorRoute" {
		t.Errorf("route = %s, want the replicated OperationSelectorRoute", got)
	}
	// The StatefulSet controller creates the pods (they stay Pending: no kubelet).
	optest.Await(t, "StatefulSet status.replicas 3", func(ctx context.Context) (bool, error) {
		err := kube.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-memcached"}, &sts)
		return err == nil && sts.Status.Replicas == 3, err
	}, op)
	if out := kubectl(t, "describe", "mcrouter", "-n", ns, name); !strings.Contains(out, "Awaiting next reconciliation") {
		t.Errorf("kubectl describe mcrouter does not show \"Awaiting next reconciliation\":\n%s", out)
	}
	verifyOperator(t, ns, name)
}

func readmeGrowPool(t *testing.T, op *optest.Operator, ns, name string) {
	before := deploymentChecksum(t, ns, name)
	optest.MergePatch(t, kube, optest.McrouterGVK, ns, name, map[string]any{"spec": map[string]any{"memcached_pool_size": 4}})
	optest.AwaitObject(t, kube, optest.McrouterGVK, ns, name, "Successful at pool size 4", optest.Settled, op)

	var sts appsv1.StatefulSet
	if err := kube.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name + "-memcached"}, &sts); err != nil {
		t.Fatal(err)
	}
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 4 {
		t.Errorf("StatefulSet replicas = %v, want 4", sts.Spec.Replicas)
	}
	cfg, err := readConfig(t.Context(), ns, name)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantServers(ns, name, 4), cfg.Pools.A.Servers); diff != "" {
		t.Errorf("mcrouter servers (-want +got):\n%s", diff)
	}
	after := deploymentChecksum(t, ns, name)
	if after == before {
		t.Fatalf("the mcrouter pod template checksum did not change (%s): the Deployment would not roll", after)
	}
	// The Deployment controller rolls out a ReplicaSet for the new template.
	optest.Await(t, "a ReplicaSet with the new configuration checksum", func(ctx context.Context) (bool, error) {
		var list appsv1.ReplicaSetList
		if err := kube.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{"app.kubernetes.io/instance": name, "app.kubernetes.io/name": "mcrouter"}); err != nil {
			return false, err
		}
		for _, rs := range list.Items {
			if rs.Spec.Template.Annotations[checksumKey] == after {
				return true, nil
			}
		}
		return false, fmt.Errorf("%d ReplicaSets, none with checksum %s", len(list.Items), after)
	}, op)
}

func deploymentChecksum(t *testing.T, ns, name string) string {
	t.Helper()
	var d appsv1.Deployment
	if err := kube.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, &d); err != nil {
		t.Fatal(err)
	}
	sum := d.Spec.Template.Annotations[checksumKey]
	if sum == "" {
		t.Fatalf("Deployment %s/%s has no %s annotation on its pod template", ns, name, checksumKey)
	}
	return sum
}

func readmeSwitchPoolSetup(t *testing.T, op *optest.Operator, ns, name string) {
	for _, step := range []struct{ setup, route string }{
		{"sharded", "PoolRoute|A"},
		{"replicated", "OperationSelectorRoute"},
	} {
		optest.MergePatch(t, kube, optest.McrouterGVK, ns, name, map[string]any{"spec": map[string]any{"pool_setup": step.setup}})
		optest.AwaitObject(t, kube, optest.McrouterGVK, ns, name, "Successful with pool_setup "+step.setup, optest.Settled, op)
		cfg, err := readConfig(t.Context(), ns, name)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.routeKind(); got != step.route {
			t.Errorf("pool_setup %s: route = %s, want %s", step.setup, got, step.route)
		}
		if diff := cmp.Diff(wantServers(ns, name, 4), cfg.Pools.A.Servers); diff != "" {
			t.Errorf("pool_setup %s: servers (-want +got):\n%s", step.setup, diff)
		}
	}
}

func readmeRestoreDependents(t *testing.T, op *optest.Operator, ns, name string) {
	cr, err := optest.Get(t.Context(), kube, optest.McrouterGVK, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range []client.Object{
		&corev1.Service{},
		&appsv1.Deployment{},
	} {
		objName := name + "-memcached"
		if _, ok := obj.(*appsv1.Deployment); ok {
			objName = name
		}
		what := fmt.Sprintf("%T %s/%s", obj, ns, objName)
		if err := kube.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: objName}, obj); err != nil {
			t.Fatal(err)
		}
		oldUID := obj.GetUID()
		if err := kube.Delete(t.Context(), obj); err != nil {
			t.Fatalf("delete %s: %v", what, err)
		}
		optest.Await(t, what+" re-created", func(ctx context.Context) (bool, error) {
			err := kube.Get(ctx, client.ObjectKey{Namespace: ns, Name: objName}, obj)
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			return err == nil && obj.GetUID() != oldUID && obj.GetDeletionTimestamp() == nil, err
		}, op)
	}
	now := optest.AwaitObject(t, kube, optest.McrouterGVK, ns, name, "Successful", optest.Settled, op)
	if now.GetGeneration() != cr.GetGeneration() {
		t.Errorf("generation %d → %d: the Mcrouter changed, but restoring dependents must not need that",
			cr.GetGeneration(), now.GetGeneration())
	}
	if missing, err := missingDependents(t.Context(), ns, name); err != nil || len(missing) > 0 {
		t.Errorf("missing dependents %v (%v)", missing, err)
	}
}

// TestDeleteMcrouter deletes a Mcrouter while a run for it is under way: its
// dependents are garbage-collected, no Ansible process stays behind and its
// runner directory (input and artifacts) is removed.
func TestDeleteMcrouter(t *testing.T) {
	t.Parallel()
	op := sharedOperator(t)
	ns := optest.TempNamespace(t, kube, "delete-cr")
	const name = "doomed"
	optest.Create(t, kube, optest.NewObject(optest.McrouterGVK, ns, name, map[string]any{"memcached_pool_size": 2}))
	optest.AwaitObject(t, kube, optest.McrouterGVK, ns, name, "Successful", optest.Settled, op)
	dir := runnerDirOf(shared.runnerDir, ns, name)
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("runner directory of the Mcrouter: %v", err)
	}

	optest.MergePatch(t, kube, optest.McrouterGVK, ns, name, map[string]any{"spec": map[string]any{"memcached_pool_size": 3}})
	procs := waitRunning(t, op, shared.runnerDir, ns, name)
	cr, err := optest.Get(t.Context(), kube, optest.McrouterGVK, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := kube.Delete(t.Context(), cr); err != nil {
		t.Fatalf("delete Mcrouter: %v", err)
	}
	t.Logf("deleted the Mcrouter during a run (%d processes)", len(procs))

	optest.Await(t, "dependents garbage-collected", func(ctx context.Context) (bool, error) {
		missing, err := missingDependents(ctx, ns, name)
		if err != nil {
			return false, err
		}
		if len(missing) != len(dependents(name)) {
			return false, fmt.Errorf("only %v are gone", missing)
		}
		var pods corev1.PodList
		if err := kube.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app.kubernetes.io/instance": name}); err != nil {
			return false, err
		}
		var rss appsv1.ReplicaSetList
		if err := kube.List(ctx, &rss, client.InNamespace(ns), client.MatchingLabels{"app.kubernetes.io/instance": name}); err != nil {
			return false, err
		}
		return len(pods.Items) == 0 && len(rss.Items) == 0, fmt.Errorf("%d pods, %d ReplicaSets left", len(pods.Items), len(rss.Items))
	}, op)
	optest.Await(t, "no Ansible process and no runner directory left", func(context.Context) (bool, error) {
		left, err := procsIn(dir)
		if err != nil || len(left) > 0 {
			return false, fmt.Errorf("processes %v (%v)", left, err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			return false, fmt.Errorf("runner directory %s still there (%v)", dir, err)
		}
		return true, nil
	}, op)
	if _, err := optest.Get(t.Context(), kube, optest.McrouterGVK, ns, name); !apierrors.IsNotFound(err) {
		t.Errorf("the Mcrouter is still there: %v", err)
	}
}

// TestOriginalV1alpha3Sample applies the original project's
// deploy/crds/mcrouter_v1alpha3_mcrouter_cr.yaml unchanged.
func TestOriginalV1alpha3Sample(t *testing.T) {
	t.Parallel()
	op := sharedOperator(t)
	ns := optest.TempNamespace(t, kube, "sample-v1alpha3")
	kubectl(t, "apply", "-n", ns, "-f", filepath.Join("test", "e2e", "testdata", "mcrouter_v1alpha3_mcrouter_cr.yaml"))
	u := optest.AwaitObject(t, kube, optest.McrouterGVK, ns, "mcrouter", "Successful", optest.Settled, op)
	spec, _, _ := unstructured.NestedMap(u.Object, "spec")
	want := map[string]any{
		"mcrouter_image": "devan2502/mcrouter:latest", "mcrouter_port": int64(5000),
		"memcached_image": "memcached:1.5-alpine", "memcached_pool_size": int64(2), "memcached_port": int64(11211),
		"pool_setup": "replicated", "debug_fifo_root": "",
	}
	for k, v := range want {
		if diff := cmp.Diff(v, spec[k]); diff != "" {
			t.Errorf("spec.%s (-want +got):\n%s", k, diff)
		}
	}
	var sts appsv1.StatefulSet
	if err := kube.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "mcrouter-memcached"}, &sts); err != nil {
		t.Fatal(err)
	}
	if img := sts.Spec.Template.Spec.Containers[0].Image; img != "memcached:1.5-alpine" {
		t.Errorf("memcached image = %s, want the sample's memcached:1.5-alpine", img)
	}
	verifyOperator(t, ns, "mcrouter")
}
