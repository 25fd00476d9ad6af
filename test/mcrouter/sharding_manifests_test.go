package mcrouter_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

const shardingPatch = "deploy/sharded/sharding.yaml"

// quantities compares resource.Quantity by value (cmp cannot look inside).
var quantities = cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })

// TestShardedComponent renders deploy/ with the component deploy/sharded as
// docs/sharding.md tells users to (a kustomization of their own beside
// deploy/), and checks that it changes the operator Deployment only, by what
// sharding needs: 3 replicas, --sharding instead of --leader-elect, POD_NAME
// from the downward API, replicas spread over nodes. `kubectl patch` of the
// bundle's Deployment with the component's patch must give the same result.
func TestShardedComponent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	kustomization := "resources: [" + relPath(t, dir, optest.RepoPath(t, "deploy")) + "]\n" +
		"components: [" + relPath(t, dir, optest.RepoPath(t, "deploy", "sharded")) + "]\n"
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kustomization), 0o644); err != nil {
		t.Fatal(err)
	}
	baseDep, baseRest := splitDeployment(t, renderDeploy(t))
	dep, rest := splitDeployment(t, renderKustomization(t, dir))
	if diff := cmp.Diff(baseRest, rest); diff != "" {
		t.Errorf("deploy/sharded changes more than the Deployment (-deploy/ +sharded):\n%s", diff)
	}

	c := dep.Spec.Template.Spec.Containers[0]
	leaderElect := func(a string) bool { return a == "--leader-elect" || strings.HasPrefix(a, "--leader-elect=") }
	checks := map[string]bool{
		"3 replicas":             dep.Spec.Replicas != nil && *dep.Spec.Replicas == 3,
		"--sharding":             slices.Contains(c.Args, "--sharding"),
		"no --leader-elect":      !slices.ContainsFunc(c.Args, leaderElect),
		"POD_NAME from pod name": slices.ContainsFunc(c.Env, isPodNameFromDownwardAPI),
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("sharded operator Deployment: no %s; args %q", what, c.Args)
		}
	}
	if diff := cmp.Diff(shardedDeployment(baseDep), dep, quantities); diff != "" {
		t.Errorf("sharded operator Deployment (-want +got):\n%s", diff)
	}

	if diff := cmp.Diff(dep, patchBundleDeployment(t), quantities); diff != "" {
		t.Errorf("kubectl patch of the bundle's Deployment with %s differs from the component (-component +patch):\n%s",
			shardingPatch, diff)
	}
}

// shardedDeployment is what deploy/sharded should make of deploy/'s operator
// Deployment.
func shardedDeployment(base appsv1.Deployment) appsv1.Deployment {
	d := *base.DeepCopy()
	replicas := int32(3)
	d.Spec.Replicas = &replicas
	c := &d.Spec.Template.Spec.Containers[0]
	c.Args[slices.Index(c.Args, "--leader-elect")] = "--sharding"
	c.Env = append(c.Env, corev1.EnvVar{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"},
	}})
	d.Spec.Template.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
		MaxSkew:           1,
		TopologyKey:       corev1.LabelHostname,
		WhenUnsatisfiable: corev1.ScheduleAnyway,
		LabelSelector:     d.Spec.Selector.DeepCopy(),
	}}
	return d
}

func isPodNameFromDownwardAPI(e corev1.EnvVar) bool {
	return e.Name == "POD_NAME" && e.Value == "" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil &&
		e.ValueFrom.FieldRef.FieldPath == "metadata.name"
}

// patchBundleDeployment applies the sharding patch to the Deployment of the
// one-file bundle with `kubectl patch --local`, as docs/sharding.md shows for
// an operator installed from the bundle.
func patchBundleDeployment(t *testing.T) appsv1.Deployment {
	t.Helper()
	b, err := os.ReadFile(optest.RepoPath(t, bundlePath))
	if err != nil {
		t.Fatal(err)
	}
	dep, _ := splitDeployment(t, decodeObjects(b))
	depJSON, err := json.Marshal(dep)
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(t.TempDir(), "deployment.json")
	if err := os.WriteFile(in, depJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), "kubectl", "patch", "--local", "-f", in, "--type", "json",
		"--patch-file", optest.RepoPath(t, shardingPatch), "-o", "json")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl patch --local --patch-file %s: %v\n%s", shardingPatch, err, stderrOf(err))
	}
	return decodeDeployment(t, out)
}

// splitDeployment returns the one Deployment among objs, decoded strictly
// (an unknown field is an error), and the other objects.
func splitDeployment(t *testing.T, objs []*unstructured.Unstructured) (appsv1.Deployment, []*unstructured.Unstructured) {
	t.Helper()
	var deps []appsv1.Deployment
	var rest []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			rest = append(rest, o)
			continue
		}
		b, err := json.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		deps = append(deps, decodeDeployment(t, b))
	}
	if len(deps) != 1 {
		t.Fatalf("%d Deployments rendered, want 1", len(deps))
	}
	return deps[0], rest
}

func decodeDeployment(t *testing.T, b []byte) appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(b, &d); err != nil {
		t.Fatalf("operator Deployment: %v", err)
	}
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("operator Deployment has %d containers, want 1", len(d.Spec.Template.Spec.Containers))
	}
	return d
}

func relPath(t *testing.T, from, to string) string {
	t.Helper()
	r, err := filepath.Rel(from, to)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}
