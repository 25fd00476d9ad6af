package devcluster_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/internal/devcluster"
	"github.com/mcrouter-operator/mcrouter-operator/internal/devcluster/devclustertest"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

var cluster *devcluster.Cluster

func TestMain(m *testing.M) {
	if os.Getenv("DEVCLUSTER_TEST_CHILD") != "" {
		os.Exit(runChild())
	}
	os.Exit(devclustertest.RunTests(m, devcluster.Options{}, &cluster))
}

func newClient(t *testing.T) client.Client {
	t.Helper()
	c, err := client.New(cluster.Config, client.Options{})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return c
}

func TestDeploymentGetsReplicaSetAndPods(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	optest.CreateNamespace(t, c, "deploy")
	labels := map[string]string{"app": "web"}
	replicas := int32(2)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "deploy"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
			},
		},
	}
	if err := c.Create(t.Context(), d); err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	// The deployment and replicaset controllers of kube-controller-manager turn
	// it into a ReplicaSet and Pods. The Pods stay Pending: nothing schedules them.
	optest.Await(t, "pods created for the deployment", func(ctx context.Context) (bool, error) {
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace("deploy"), client.MatchingLabels(labels)); err != nil {
			return false, err
		}
		return len(pods.Items) == 2, nil
	})
	var rs appsv1.ReplicaSetList
	if err := c.List(t.Context(), &rs, client.InNamespace("deploy")); err != nil || len(rs.Items) != 1 {
		t.Fatalf("want one ReplicaSet, got %d (err %v)", len(rs.Items), err)
	}
}

func TestGarbageCollectorDeletesOwnedConfigMap(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	optest.CreateNamespace(t, c, "gc")
	owner := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner", Namespace: "gc"}}
	if err := c.Create(t.Context(), owner); err != nil {
		t.Fatalf("create owner: %v", err)
	}
	owned := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: "owned", Namespace: "gc",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: owner.UID}},
	}}
	if err := c.Create(t.Context(), owned); err != nil {
		t.Fatalf("create owned: %v", err)
	}
	if err := c.Delete(t.Context(), owner); err != nil {
		t.Fatalf("delete owner: %v", err)
	}
	optest.Await(t, "owned ConfigMap garbage-collected", func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, client.ObjectKeyFromObject(owned), &corev1.ConfigMap{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

func TestKubeconfigFileWorksWithKubectl(t *testing.T) {
	t.Parallel()
	out, err := exec.CommandContext(t.Context(), "kubectl", "--kubeconfig", cluster.KubeconfigPath,
		"get", "namespace", "default", "-o", "name").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "namespace/default" {
		t.Fatalf("kubectl printed %q", got)
	}
}

// A second control plane runs beside the package's one (free ports), and
// Stop leaves neither a process nor its directory behind.
func TestSecondClusterAndCleanStop(t *testing.T) {
	t.Parallel()
	second, err := devcluster.Start(t.Context(), devcluster.Options{})
	if err != nil {
		t.Fatalf("start second cluster: %v", err)
	}
	if second.Config.Host == cluster.Config.Host {
		t.Fatalf("both clusters serve on %s", second.Config.Host)
	}
	c, err := client.New(second.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "only-in-second"}}); err != nil {
		t.Fatalf("create namespace in second cluster: %v", err)
	}
	if err := newClient(t).Get(t.Context(), client.ObjectKey{Name: "only-in-second"}, &corev1.Namespace{}); !apierrors.IsNotFound(err) {
		t.Fatalf("namespace of the second cluster visible in the first: %v", err)
	}
	if err := second.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	assertGone(t, second.Dir)
}

// The owner of a cluster dies by SIGKILL, without running any cleanup: the
// guard must still stop etcd, kube-apiserver and kube-controller-manager and
// remove the directory.
func TestNoLeftoversWhenOwnerIsKilled(t *testing.T) {
	t.Parallel()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "DEVCLUSTER_TEST_CHILD=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		t.Fatalf("child did not report its cluster: %v", err)
	}
	dir := strings.TrimSpace(strings.TrimPrefix(line, "DIR "))
	if pids := processesUnder(dir); len(pids) < 3 {
		t.Fatalf("want etcd, kube-apiserver and kube-controller-manager running under %s, found pids %v", dir, pids)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	assertGone(t, dir)
}

func assertGone(t *testing.T, dir string) {
	t.Helper()
	optest.Await(t, "no process left under "+dir, func(context.Context) (bool, error) {
		return len(processesUnder(dir)) == 0, nil
	})
	optest.Await(t, dir+" removed", func(context.Context) (bool, error) {
		_, err := os.Stat(dir)
		return os.IsNotExist(err), nil
	})
}

// processesUnder lists processes whose command line names a path in dir.
func processesUnder(dir string) []string {
	var pids []string
	entries, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, e := range entries {
		b, err := os.ReadFile(e)
		if err != nil {
			continue
		}
		if strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), dir+"/") {
			pids = append(pids, filepath.Base(filepath.Dir(e)))
		}
	}
	return pids
}

func runChild() int {
	c, err := devcluster.Start(context.Background(), devcluster.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("DIR %s\n", c.Dir)
	time.Sleep(time.Hour) // until the parent kills us
	return 0
}
