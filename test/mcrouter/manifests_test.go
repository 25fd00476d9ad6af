package mcrouter_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

const (
	bundlePath      = "deploy/mcrouter-operator.yaml"
	operatorNS      = "mcrouter-operator"
	operatorSAUser  = "system:serviceaccount:mcrouter-operator:mcrouter-operator"
	operatorWatches = "/opt/ansible/watches.yaml"
)

// TestBundleUpToDate regenerates the one-file bundle and compares it with the
// committed one.
func TestBundleUpToDate(t *testing.T) {
	t.Parallel()
	optest.RequireTool(t, "kubectl")
	out := filepath.Join(t.TempDir(), "bundle.yaml")
	cmd := exec.CommandContext(t.Context(), optest.RepoPath(t, "hack", "bundle.sh"), out)
	cmd.Env = append(os.Environ(), "IMG=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/bundle.sh: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(optest.RepoPath(t, bundlePath))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s is out of date; run `make bundle` (-generated +committed):\n%s", bundlePath, diff)
	}
}

// renderDeploy returns the objects of `kubectl kustomize deploy/`.
func renderDeploy(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	return renderKustomization(t, optest.RepoPath(t, "deploy"))
}

// renderKustomization returns the objects of `kubectl kustomize dir`.
func renderKustomization(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	optest.RequireTool(t, "kubectl")
	cmd := exec.CommandContext(t.Context(), "kubectl", "kustomize", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr.String())
	}
	return decodeObjects(b)
}

// decodeObjects decodes a stream of YAML or JSON documents.
func decodeObjects(b []byte) []*unstructured.Unstructured {
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			break
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
	return objs
}

// TestKustomizeRendersOperator checks what deploy/ renders: the objects, and
// the operator Deployment's command, probes and hardening.
func TestKustomizeRendersOperator(t *testing.T) {
	t.Parallel()
	objs := renderDeploy(t)
	var got []string
	var dep appsv1.Deployment
	for _, o := range objs {
		got = append(got, o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName())
		if o.GetKind() == "Deployment" {
			b, _ := yaml.Marshal(o.Object)
			if err := yaml.Unmarshal(b, &dep); err != nil {
				t.Fatal(err)
			}
		}
	}
	slices.Sort(got)
	want := []string{
		"ClusterRole//mcrouter-operator",
		"ClusterRoleBinding//mcrouter-operator",
		"CustomResourceDefinition//mcrouters.mcrouter.example.com",
		"Deployment/mcrouter-operator/mcrouter-operator",
		"Namespace//mcrouter-operator",
		"Role/mcrouter-operator/mcrouter-operator-leader-election",
		"RoleBinding/mcrouter-operator/mcrouter-operator-leader-election",
		"ServiceAccount/mcrouter-operator/mcrouter-operator",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("objects rendered from deploy/ (-want +got):\n%s", diff)
	}

	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("operator pod has %d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	cmdline := strings.Join(append(slices.Clone(c.Command), c.Args...), " ")
	for _, part := range []string{"tini -- /usr/local/bin/ansible-operator run", "--watches-file=" + operatorWatches,
		"--health-probe-bind-address=:6789", "--leader-elect"} {
		if !strings.Contains(cmdline, part) {
			t.Errorf("operator command %q lacks %q", cmdline, part)
		}
	}
	checks := map[string]bool{
		"liveness probe on /healthz":  c.LivenessProbe != nil && c.LivenessProbe.HTTPGet != nil && c.LivenessProbe.HTTPGet.Path == "/healthz",
		"readiness probe on /readyz":  c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet != nil && c.ReadinessProbe.HTTPGet.Path == "/readyz",
		"health port 6789":            slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.ContainerPort == 6789 }),
		"resource requests":           c.Resources.Requests.Cpu().MilliValue() > 0 && c.Resources.Requests.Memory().Value() > 0,
		"memory limit":                c.Resources.Limits.Memory().Value() > 0,
		"non-root pod":                pod.SecurityContext != nil && pod.SecurityContext.RunAsNonRoot != nil && *pod.SecurityContext.RunAsNonRoot,
		"read-only root filesystem":   c.SecurityContext != nil && c.SecurityContext.ReadOnlyRootFilesystem != nil && *c.SecurityContext.ReadOnlyRootFilesystem,
		"no privilege escalation":     c.SecurityContext != nil && c.SecurityContext.AllowPrivilegeEscalation != nil && !*c.SecurityContext.AllowPrivilegeEscalation,
		"emptyDir mounted on /tmp":    slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/tmp" }) && len(pod.Volumes) == 1 && pod.Volumes[0].EmptyDir != nil,
		"service account":             pod.ServiceAccountName == "mcrouter-operator",
		"WATCH_NAMESPACE (all)":       slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "WATCH_NAMESPACE" && e.Value == "" }),
		"image is the Makefile's IMG": c.Image == "ghcr.io/mcrouter-operator/mcrouter-operator:latest",
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("operator Deployment: no %s", what)
		}
	}
}

// TestBundleAppliesWithLeastPrivilege applies the bundle to the local control
// plane, then runs the role and its checks as the operator's ServiceAccount
// and asks the API server what that account may and may not do.
func TestBundleAppliesWithLeastPrivilege(t *testing.T) {
	t.Parallel()
	optest.RequireTool(t, "kubectl")
	cmd := exec.CommandContext(t.Context(), "kubectl", "--kubeconfig", cluster.KubeconfigPath, "apply", "-f", optest.RepoPath(t, bundlePath))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply -f %s: %v\n%s", bundlePath, err, b)
	}

	ns := newNamespace(t)
	createMcrouter(t, ns, defaultCRName, map[string]any{"memcached_pool_size": 3})
	asOperator := []string{"K8S_AUTH_IMPERSONATE_USER=" + operatorSAUser}
	vars := map[string]any{"molecule_create_cr": false, "memcached_pool_size": 3}
	if _, err := (playbook{Path: convergePlaybook, Namespace: ns, Vars: vars, Env: asOperator}).run(t); err != nil {
		t.Fatalf("the role as %s: %v", operatorSAUser, err)
	}
	if _, err := (playbook{Path: verifyPlaybook, Namespace: ns, Env: asOperator}).run(t); err != nil {
		t.Fatalf("the checks as %s: %v", operatorSAUser, err)
	}

	for _, tc := range []struct {
		verb, group, resource, sub, ns string
		allowed                        bool
	}{
		{"watch", "apps", "statefulsets", "", "", true},
		{"patch", "apps", "deployments", "", ns, true},
		{"list", "", "configmaps", "", "", true},
		{"create", "", "services", "", ns, true},
		{"update", "mcrouter.example.com", "mcrouters", "status", ns, true},
		{"update", "mcrouter.example.com", "mcrouters", "finalizers", ns, true},
		{"create", "", "events", "", ns, true},
		// Leader election, and sharding's Leases: one per replica, listed
		// (the live ones are the replicas), deleted on a graceful stop.
		{"update", "coordination.k8s.io", "leases", "", operatorNS, true},
		{"create", "coordination.k8s.io", "leases", "", operatorNS, true},
		{"list", "coordination.k8s.io", "leases", "", operatorNS, true},
		{"delete", "coordination.k8s.io", "leases", "", operatorNS, true},
		{"watch", "coordination.k8s.io", "leases", "", operatorNS, false},
		{"patch", "coordination.k8s.io", "leases", "", operatorNS, false},
		{"create", "coordination.k8s.io", "leases", "", ns, false},
		{"list", "coordination.k8s.io", "leases", "", "", false},
		// Sharding labels the Mcrouters and their dependents with their
		// replica and names it in status.reconciledBy.
		{"patch", "mcrouter.example.com", "mcrouters", "", ns, true},
		{"patch", "mcrouter.example.com", "mcrouters", "status", ns, true},
		{"patch", "apps", "statefulsets", "", ns, true},
		{"patch", "", "services", "", ns, true},
		{"patch", "", "configmaps", "", ns, true},
		// pruneDependents deletes what a run no longer creates.
		{"delete", "apps", "statefulsets", "", ns, true},
		{"delete", "", "configmaps", "", ns, true},
		{"delete", "", "secrets", "", ns, false},
		{"create", "mcrouter.example.com", "mcrouters", "", ns, false},
		{"get", "", "secrets", "", ns, false},
		{"list", "", "pods", "", "", false},
		{"update", "apiextensions.k8s.io", "customresourcedefinitions", "", "", false},
		{"create", "rbac.authorization.k8s.io", "clusterrolebindings", "", "", false},
	} {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   operatorSAUser,
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + operatorNS, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: tc.verb, Group: tc.group, Resource: tc.resource, Subresource: tc.sub, Namespace: tc.ns,
			},
		}}
		res, err := clientset(t).AuthorizationV1().SubjectAccessReviews().Create(t.Context(), sar, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status.Allowed != tc.allowed {
			t.Errorf("%s %s.%s/%s in %q: allowed = %v, want %v", tc.verb, tc.resource, tc.group, tc.sub, tc.ns,
				res.Status.Allowed, tc.allowed)
		}
	}
}

// TestDockerfileCopiesExistingPaths checks every path build/Dockerfile copies
// from the build context exists, that the Go packages of the operator binary
// are all copied, and that watches.yaml lands where the Deployment reads it.
func TestDockerfileCopiesExistingPaths(t *testing.T) {
	t.Parallel()
	copies := dockerfileCopies(t)
	if len(copies) == 0 {
		t.Fatal("build/Dockerfile has no COPY from the build context")
	}
	var dirs []string
	for _, c := range copies {
		for _, src := range c.sources {
			if _, err := os.Stat(optest.RepoPath(t, src)); err != nil {
				t.Errorf("build/Dockerfile line %d copies %s: %v", c.line, src, err)
			}
			dirs = append(dirs, strings.TrimSuffix(src, "/"))
		}
		if slices.Equal(c.sources, []string{"watches.yaml"}) && c.dest != operatorWatches {
			t.Errorf("watches.yaml is copied to %s; the operator Deployment reads %s", c.dest, operatorWatches)
		}
	}

	optest.RequireTool(t, "go")
	cmd := exec.CommandContext(t.Context(), "go", "list", "-e", "-deps",
		"-f", "{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}", "./cmd/ansible-operator")
	cmd.Dir = optest.RepoPath(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/ansible-operator: %v", err)
	}
	for _, dir := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(optest.RepoPath(t), dir)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(dirs, func(d string) bool { return rel == d || strings.HasPrefix(rel, d+"/") }) {
			t.Errorf("package %s of ansible-operator is not copied into the build stage of build/Dockerfile", rel)
		}
	}
}

type dockerCopy struct {
	line    int
	sources []string
	dest    string
}

// dockerfileCopies returns the COPY instructions that read the build context.
func dockerfileCopies(t *testing.T) []dockerCopy {
	t.Helper()
	f, err := os.Open(optest.RepoPath(t, "build", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var copies []dockerCopy
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || !strings.EqualFold(fields[0], "COPY") {
			continue
		}
		args := fields[1:]
		fromStage := false
		for len(args) > 0 && strings.HasPrefix(args[0], "--") {
			fromStage = fromStage || strings.HasPrefix(args[0], "--from=")
			args = args[1:]
		}
		if fromStage || len(args) < 2 {
			continue
		}
		copies = append(copies, dockerCopy{line: n, sources: args[:len(args)-1], dest: args[len(args)-1]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return copies
}

// TestWatchesFile checks watches.yaml maps Mcrouter to the role as the
// runtime expects.
func TestWatchesFile(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(optest.RepoPath(t, "watches.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := yaml.UnmarshalStrict(b, &got); err != nil {
		t.Fatalf("watches.yaml: %v", err)
	}
	want := []map[string]any{{
		"version": "v1alpha3", "group": "mcrouter.example.com", "kind": "Mcrouter",
		"role": "mcrouter", "skipUnchangedResync": true, "pruneDependents": true,
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("watches.yaml (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(optest.RepoPath(t, "roles", "mcrouter", "tasks", "main.yml")); err != nil {
		t.Errorf("role mcrouter of watches.yaml: %v", err)
	}
}

// TestLint runs hack/lint.sh (yamllint and ansible-lint), as `make lint` does.
func TestLint(t *testing.T) {
	t.Parallel()
	optest.RequireTool(t, "yamllint")
	optest.RequireTool(t, "ansible-lint")
	cmd := exec.CommandContext(t.Context(), optest.RepoPath(t, "hack", "lint.sh"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/lint.sh: %v\n%s", err, b)
	}
}
