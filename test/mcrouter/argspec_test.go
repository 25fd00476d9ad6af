package mcrouter_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
	"github.com/mcrouter-operator/mcrouter-operator/runner"
)

// argumentSpec is the part of `ansible-doc --json` the tests read.
type argumentSpec struct {
	Options map[string]struct {
		Type        string   `json:"type"`
		Default     any      `json:"default"`
		Choices     []string `json:"choices"`
		Description any      `json:"description"`
	} `json:"options"`
}

// ansibleDoc runs ansible-doc for the mcrouter role with args.
func ansibleDoc(t *testing.T, args ...string) []byte {
	t.Helper()
	optest.RequireTool(t, "ansible-doc")
	cmd := exec.CommandContext(optest.Context(t), "ansible-doc",
		append([]string{"-t", "role", "-r", optest.RepoPath(t, "roles")}, append(args, "mcrouter")...)...)
	cmd.Env = append(os.Environ(), "ANSIBLE_NOCOLOR=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ansible-doc -t role mcrouter %v: %v\n%s", args, err, out)
	}
	return out
}

// TestArgumentSpecDocumentsTheSpec reads the role's argument spec through
// ansible-doc: it declares every field of the CRD's spec, with the CRD's
// type, the role's defaults and pool_setup's choices.
func TestArgumentSpecDocumentsTheSpec(t *testing.T) {
	t.Parallel()
	if text := string(ansibleDoc(t)); !strings.Contains(text, "ENTRY POINT: main") || !strings.Contains(text, "- pool_setup") {
		t.Errorf("ansible-doc does not show the entry point main and pool_setup:\n%s", text)
	}
	var doc map[string]struct {
		EntryPoints map[string]argumentSpec `json:"entry_points"`
	}
	if err := json.Unmarshal(ansibleDoc(t, "--json"), &doc); err != nil {
		t.Fatalf("ansible-doc --json: %v", err)
	}
	spec, ok := doc["mcrouter"].EntryPoints["main"]
	if !ok {
		t.Fatalf("ansible-doc --json: no entry point main in %v", doc)
	}

	var crd struct {
		Spec struct {
			Versions []struct {
				Schema struct {
					OpenAPIV3Schema struct {
						Properties map[string]struct {
							Properties map[string]struct {
								Type string `json:"type"`
								Enum []string
							} `json:"properties"`
						} `json:"properties"`
					} `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	readYAML(t, &crd, "deploy", "crds", "mcrouter.example.com_mcrouters.yaml")
	fields := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties
	defaults := map[string]any{}
	readYAML(t, &defaults, "roles", "mcrouter", "defaults", "main.yml")

	argType := map[string]string{"integer": "int", "string": "str", "object": "dict"}
	type option struct {
		Type    string
		Default any
		Choices []string
	}
	want, got := map[string]option{}, map[string]option{}
	for name, f := range fields {
		want[name] = option{Type: argType[f.Type], Default: defaults[name], Choices: f.Enum}
	}
	for name, o := range spec.Options {
		got[name] = option{Type: o.Type, Default: o.Default, Choices: o.Choices}
		if o.Description == nil {
			t.Errorf("option %s has no description", name)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("argument spec differs from the CRD's types and enums and the role's defaults (-want +got):\n%s", diff)
	}
}

// readYAML decodes the repository file at path (YAML numbers become float64,
// as in JSON).
func readYAML(t *testing.T, v any, path ...string) {
	t.Helper()
	b, err := os.ReadFile(optest.RepoPath(t, path...))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", strings.Join(path, "/"), err)
	}
}

// TestBadPoolSetupStopsBeforeAnyTask runs the role as the operator does (a
// play with the role, the spec keys as extra vars) with a pool_setup the CRD
// would refuse: Ansible's argument validation fails before the role's first
// task, names pool_setup, and nothing is created.
func TestBadPoolSetupStopsBeforeAnyTask(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	cr := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "mcrouter.example.com/v1alpha3",
		"kind":       "Mcrouter",
		"metadata":   map[string]any{"name": "bogus", "namespace": ns},
		"spec":       map[string]any{"pool_setup": "bogus", "memcached_pool_size": int64(3)},
	}}
	results, err := playbook{Path: rolePlaybook, Namespace: ns, Vars: operatorVars(cr)}.run(t)
	want := fmt.Sprintf("task %q failed: Validation of arguments failed:\nvalue of pool_setup must be one of: sharded, replicated, got: bogus", argSpecTask)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("run with pool_setup bogus: error = %v\nwant %q", err, want)
	}
	var ran []string
	for _, r := range results {
		ran = append(ran, r.Name)
	}
	if diff := cmp.Diff([]string{argSpecTask}, ran); diff != "" {
		t.Errorf("tasks run (-want +got):\n%s", diff)
	}
	cs := clientset(t)
	var found []string
	if _, err := cs.AppsV1().StatefulSets(ns).Get(t.Context(), "bogus-memcached", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		found = append(found, fmt.Sprintf("StatefulSet (%v)", err))
	}
	if _, err := cs.AppsV1().Deployments(ns).Get(t.Context(), "bogus", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		found = append(found, fmt.Sprintf("Deployment (%v)", err))
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Get(t.Context(), "bogus", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		found = append(found, fmt.Sprintf("ConfigMap (%v)", err))
	}
	for _, svc := range []string{"bogus", "bogus-memcached"} {
		if _, err := cs.CoreV1().Services(ns).Get(t.Context(), svc, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			found = append(found, fmt.Sprintf("Service %s (%v)", svc, err))
		}
	}
	sort.Strings(found)
	if len(found) > 0 {
		t.Errorf("a rejected spec left objects behind: %v", found)
	}
}

// TestRunnerChecksArgumentsFirst runs the role through the operator's runner
// (ansible-runner --role, the play it generates) with a pool_setup the CRD
// would refuse: the run fails in Ansible's argument validation, the only
// task of the role that ran, with the message the operator puts in the
// Failure condition.
func TestRunnerChecksArgumentsFirst(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	r, err := runner.New(runner.Options{
		Timeout:         runner.DefaultTimeout,
		RootDir:         t.TempDir(),
		Executor:        runner.Executor(optest.Executor()),
		CollectionsPath: []string{optest.RepoPath(t, "collections"), "/usr/share/ansible/collections"},
	})
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := os.ReadFile(cluster.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	cr := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "mcrouter.example.com/v1alpha3",
		"kind":       "Mcrouter",
		"metadata":   map[string]any{"name": "bogus", "namespace": ns},
		"spec":       map[string]any{"pool_setup": "bogus", "memcached_pool_size": int64(3)},
	}}
	res, err := r.Run(optest.Context(t), cr, runner.RunOptions{
		Role:                optest.RepoPath(t, "roles", "mcrouter"),
		SnakeCaseParameters: true,
		MarkUnsafe:          true,
		Kubeconfig:          kubeconfig,
		DiscardArtifacts:    true,
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	var ran []string
	for _, task := range res.Tasks {
		if task.Role == "mcrouter" {
			ran = append(ran, task.Name)
		}
	}
	if diff := cmp.Diff([]string{argSpecTask}, ran); diff != "" {
		t.Errorf("tasks of the role run (-want +got):\n%s", diff)
	}
	want := []runner.TaskFailure{{Task: argSpecTask, Role: "mcrouter",
		Message: "Validation of arguments failed:\nvalue of pool_setup must be one of: sharded, replicated, got: bogus"}}
	if diff := cmp.Diff(want, res.Failures, cmpopts.IgnoreFields(runner.TaskFailure{}, "TaskPath")); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
}
