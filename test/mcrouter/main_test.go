package mcrouter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/mcrouter-operator/mcrouter-operator/internal/devcluster"
	"github.com/mcrouter-operator/mcrouter-operator/internal/devcluster/devclustertest"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

// cluster is the one local control plane of this test package.
var cluster *devcluster.Cluster

func TestMain(m *testing.M) {
	crds, err := filepath.Abs(filepath.Join("..", "..", "deploy", "crds"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		os.Exit(1)
	}
	os.Exit(devclustertest.RunTests(m, devcluster.Options{CRDPaths: []string{crds}}, &cluster))
}

var mcrouterGVR = schema.GroupVersionResource{Group: "mcrouter.example.com", Version: "v1alpha3", Resource: "mcrouters"}

func clientset(t testing.TB) *kubernetes.Clientset {
	t.Helper()
	c, err := kubernetes.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatalf("kubernetes client: %v", err)
	}
	return c
}

func dynamicClient(t testing.TB) *dynamic.DynamicClient {
	t.Helper()
	c, err := dynamic.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatalf("dynamic client: %v", err)
	}
	return c
}

var nonDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// newNamespace creates a namespace named after the test and deletes it at the end.
func newNamespace(t testing.TB) string {
	t.Helper()
	base := strings.Trim(nonDNS.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(base) > 40 {
		base = base[len(base)-40:]
	}
	name := strings.Trim(base, "-") + "-" + rand.String(5)
	cs := clientset(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := cs.CoreV1().Namespaces().Create(t.Context(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

// playbook is one ansible-playbook run against the local control plane.
type playbook struct {
	// Path relative to the repository root.
	Path string
	// Namespace is passed as TEST_NAMESPACE.
	Namespace string
	// Vars are extra vars (written to a JSON file).
	Vars map[string]any
	// Env is added to the environment (e.g. K8S_AUTH_IMPERSONATE_USER).
	Env []string
}

// taskResult is the result of one task on localhost, from the json callback.
type taskResult struct {
	Name   string
	Result map[string]any
}

func (r taskResult) changed() bool { b, _ := r.Result["changed"].(bool); return b }
func (r taskResult) failed() bool  { b, _ := r.Result["failed"].(bool); return b }
func (r taskResult) skipped() bool { b, _ := r.Result["skipped"].(bool); return b }
func (r taskResult) msg() string   { s, _ := r.Result["msg"].(string); return s }

type playbookOutput struct {
	Plays []struct {
		Tasks []struct {
			Task struct {
				Name string `json:"name"`
			} `json:"task"`
			Hosts map[string]map[string]any `json:"hosts"`
		} `json:"tasks"`
	} `json:"plays"`
}

// run runs the playbook and returns its task results; the error names the
// failed task and its message.
func (p playbook) run(t testing.TB) ([]taskResult, error) {
	t.Helper()
	optest.RequireTool(t, "ansible-playbook")
	dir := t.TempDir()
	vars := map[string]any{"ansible_python_interpreter": "/usr/bin/python3"}
	for k, v := range p.Vars {
		vars[k] = v
	}
	varsFile := filepath.Join(dir, "vars.json")
	b, err := json.Marshal(vars)
	if err != nil {
		t.Fatalf("encode extra vars: %v", err)
	}
	if err := os.WriteFile(varsFile, b, 0o600); err != nil {
		t.Fatalf("write extra vars: %v", err)
	}
	cmd := exec.CommandContext(optest.Context(t), "ansible-playbook", "-i", "localhost,", "-c", "local",
		"-e", "@"+varsFile, optest.RepoPath(t, p.Path))
	cmd.Dir = optest.RepoPath(t)
	cmd.Env = append(os.Environ(),
		"KUBECONFIG="+cluster.KubeconfigPath,
		"K8S_AUTH_KUBECONFIG="+cluster.KubeconfigPath,
		"TEST_NAMESPACE="+p.Namespace,
		"ANSIBLE_ROLES_PATH="+optest.RepoPath(t, "roles"),
		"ANSIBLE_COLLECTIONS_PATH="+optest.RepoPath(t, "collections")+":/usr/share/ansible/collections",
		"ANSIBLE_STDOUT_CALLBACK=ansible.posix.json",
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "local"),
		"ANSIBLE_REMOTE_TEMP="+filepath.Join(dir, "remote"),
		"ANSIBLE_RETRY_FILES_ENABLED=0",
		"ANSIBLE_NOCOLOR=1",
	)
	cmd.Env = append(cmd.Env, p.Env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var out playbookOutput
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("ansible-playbook %s: cannot decode its json output (%v)\nstdout:\n%s\nstderr:\n%s",
			p.Path, err, stdout.String(), stderr.String())
	}
	var results []taskResult
	for _, play := range out.Plays {
		for _, task := range play.Tasks {
			if r, ok := task.Hosts["localhost"]; ok {
				// Role tasks are reported as "<role> : <name>".
				_, name, _ := strings.Cut(task.Task.Name, " : ")
				if name == "" {
					name = task.Task.Name
				}
				results = append(results, taskResult{Name: name, Result: r})
			}
		}
	}
	if runErr != nil {
		for _, r := range results {
			if r.failed() {
				return results, fmt.Errorf("ansible-playbook %s: task %q failed: %s", p.Path, r.Name, r.msg())
			}
		}
		return results, fmt.Errorf("ansible-playbook %s: %v\nstderr:\n%s", p.Path, runErr, stderr.String())
	}
	return results, nil
}

// mustRun runs the playbook and fails the test when it fails.
func (p playbook) mustRun(t testing.TB) []taskResult {
	t.Helper()
	results, err := p.run(t)
	if err != nil {
		t.Fatal(err)
	}
	return results
}

// task returns the result of the named task (its last run).
func task(t testing.TB, results []taskResult, name string) taskResult {
	t.Helper()
	for i := len(results) - 1; i >= 0; i-- {
		if results[i].Name == name {
			return results[i]
		}
	}
	t.Fatalf("no result for task %q", name)
	return taskResult{}
}
