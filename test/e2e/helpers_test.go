package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

// kubectl runs kubectl against the local control plane and returns its
// combined output; a non-zero exit fails the test.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := kubectlErr(t, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// timeoutFlag is kubectl's --timeout for a wait bounded by the test's
// deadline alone.
func timeoutFlag(t *testing.T) string {
	return fmt.Sprintf("--timeout=%ds", int(optest.Remaining(t).Seconds()))
}

func kubectlErr(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(optest.Context(t), optest.RequireTool(t, "kubectl"), append([]string{"--kubeconfig", cluster.KubeconfigPath}, args...)...)
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// verifyOperator runs molecule/shared/verify_operator.yml: the objects of
// the Mcrouter, their owner references and its Successful condition.
func verifyOperator(t *testing.T, ns, name string) {
	t.Helper()
	dir := tempDir(t)
	cmd := exec.CommandContext(optest.Context(t), optest.RequireTool(t, "ansible-playbook"), "-i", "localhost,", "-c", "local",
		"-e", "ansible_python_interpreter=/usr/bin/python3", "-e", "molecule_cr_name="+name,
		filepath.Join(repoRoot, "molecule", "shared", "verify_operator.yml"))
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(),
		"TEST_NAMESPACE="+ns,
		"KUBECONFIG="+cluster.KubeconfigPath,
		"K8S_AUTH_KUBECONFIG="+cluster.KubeconfigPath,
		"ANSIBLE_COLLECTIONS_PATH="+filepath.Join(repoRoot, "collections")+":/usr/share/ansible/collections",
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "local"),
		"ANSIBLE_REMOTE_TEMP="+filepath.Join(dir, "remote"),
		"ANSIBLE_RETRY_FILES_ENABLED=0",
		"ANSIBLE_NOCOLOR=1",
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("molecule/shared/verify_operator.yml for Mcrouter %s/%s: %v\n%s", ns, name, err, lastLines(out.String(), 30))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// mcrouterConfig is the part of the mcrouter config.json the tests read.
type mcrouterConfig struct {
	Pools struct {
		A struct {
			Servers []string `json:"servers"`
		} `json:"A"`
	} `json:"pools"`
	Route json.RawMessage `json:"route"`
}

// routeKind names the route: "PoolRoute|A" for sharded, the
// OperationSelectorRoute type for replicated.
func (c mcrouterConfig) routeKind() string {
	var s string
	if json.Unmarshal(c.Route, &s) == nil {
		return s
	}
	var obj struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(c.Route, &obj)
	return obj.Type
}

// readConfig reads the mcrouter config.json of the Mcrouter's ConfigMap.
func readConfig(ctx context.Context, ns, name string) (mcrouterConfig, error) {
	var cm corev1.ConfigMap
	var c mcrouterConfig
	if err := kube.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &cm); err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(cm.Data["config.json"]), &c); err != nil {
		return c, fmt.Errorf("ConfigMap %s/%s config.json: %w", ns, name, err)
	}
	return c, nil
}

func wantServers(ns, name string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("%s-memcached-%d.%s-memcached.%s.svc.cluster.local:11211", name, i, name, ns))
	}
	return out
}

// dependents are the objects the role makes for one Mcrouter.
func dependents(name string) []client.Object {
	return []client.Object{
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: name + "-memcached"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name + "-memcached"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}},
	}
}

// missingDependents names the dependents of the Mcrouter that do not exist.
func missingDependents(ctx context.Context, ns, name string) ([]string, error) {
	var missing []string
	for _, obj := range dependents(name) {
		err := kube.Get(ctx, client.ObjectKey{Namespace: ns, Name: obj.GetName()}, obj)
		switch {
		case apierrors.IsNotFound(err):
			missing = append(missing, fmt.Sprintf("%T %s", obj, obj.GetName()))
		case err != nil:
			return nil, err
		}
	}
	return missing, nil
}

// runnerDirOf is the runner's input directory of one Mcrouter.
func runnerDirOf(runnerDir, ns, name string) string {
	return filepath.Join(runnerDir, optest.McrouterGVK.Group, optest.McrouterGVK.Version, optest.McrouterGVK.Kind, ns, name)
}

// artifactCount counts the artifact directories kept for one Mcrouter.
func artifactCount(runnerDir, ns, name string) (int, error) {
	entries, err := os.ReadDir(filepath.Join(runnerDirOf(runnerDir, ns, name), "artifacts"))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if e.IsDir() {
			n++
		}
	}
	return n, nil
}

// waitRunning waits until an Ansible run of the Mcrouter is under way and
// returns its processes.
func waitRunning(t *testing.T, op *optest.Operator, runnerDir, ns, name string) []optest.Proc {
	t.Helper()
	dir := runnerDirOf(runnerDir, ns, name)
	var procs []optest.Proc
	optest.Await(t, "an Ansible run of Mcrouter "+ns+"/"+name, func(context.Context) (bool, error) {
		var err error
		procs, err = procsIn(dir)
		return len(procs) > 0, err
	}, op)
	return procs
}

// procsIn lists the Ansible processes under dir (optest.ProcsIn: by
// command line, or by working dir for runs the warm executor forked).
func procsIn(dir string) ([]optest.Proc, error) { return optest.ProcsIn(dir) }
