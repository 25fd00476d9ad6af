//go:build imagetest

package image

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/mcrouter-operator/mcrouter-operator/internal/devcluster"
	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

var mcrouterGVR = schema.GroupVersionResource{Group: "mcrouter.example.com", Version: "v1alpha3", Resource: "mcrouters"}

// TestImageReconcilesTheSample assembles the image from build/Dockerfile,
// runs it as deploy/manager/operator.yaml runs it in a pod, and expects the
// sample Mcrouter reconciled: its status Successful and its dependents
// created, by the image's user under tini.
func TestImageReconcilesTheSample(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the image test needs root (debootstrap, chroot, mounts, namespaces): run `make image-test` as root")
	}
	ctrl.SetLogger(logr.Discard())
	img := assembleImage(t)
	reportSize(t, img.Root)
	checkCollections(t, img.Root)

	cluster, err := devcluster.Start(t.Context(), devcluster.Options{CRDPaths: []string{optest.RepoPath(t, "deploy", "crds")}})
	if err != nil {
		t.Fatalf("start the local control plane: %v", err)
	}
	t.Cleanup(func() {
		if err := cluster.Stop(); err != nil {
			t.Errorf("stop the local control plane: %v", err)
		}
	})
	p := startPod(t, cluster, img)
	optest.Await(t, "the operator's readiness probe", p.probe("readinessProbe"))
	optest.Await(t, "the operator's liveness probe", p.probe("livenessProbe"))

	cs := kubernetes.NewForConfigOrDie(cluster.Config)
	ns := "image-test"
	if _, err := cs.CoreV1().Namespaces().Create(t.Context(), namespace(ns), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubectl(t, cluster, "apply", "-n", ns, "-f", optest.RepoPath(t, "deploy", "samples", "mcrouter_v1alpha3_mcrouter.yaml"))
	dyn := dynamic.NewForConfigOrDie(cluster.Config)
	var cr *unstructured.Unstructured
	optest.Await(t, "the sample Mcrouter reconciled by the image", func(ctx context.Context) (bool, error) {
		p.failIfExited(t)
		got, err := dyn.Resource(mcrouterGVR).Namespace(ns).Get(ctx, "my-mcrouter", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		cr = got
		if optest.ConditionTrue(got, "Failure") {
			t.Fatalf("the sample Mcrouter failed: %v\noperator log:\n%s", optest.Condition(got, "Failure"), p.logTail())
		}
		conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		return optest.ConditionTrue(got, "Successful"), fmt.Errorf("conditions %v", conds)
	})
	checkDependents(t, cs, ns, cr)
	p.checkProcesses(t, img)
	p.stop(t)
}

// reportSize logs the size of the image's root, as `docker images` would
// show it uncompressed.
func reportSize(t *testing.T, root string) {
	t.Helper()
	out, err := exec.Command("du", "-s", "-x", "--block-size=1M", root).Output()
	if err != nil {
		t.Fatalf("du %s: %v", root, err)
	}
	t.Logf("image root: %s MB", strings.Fields(string(out))[0])
}

// checkCollections: the image ships kubernetes.core and our operator_sdk.util,
// not the rest of the Debian ansible package's collections.
func checkCollections(t *testing.T, root string) {
	t.Helper()
	for dir, want := range map[string][]string{
		"/usr/lib/python3/dist-packages/ansible_collections":            {"kubernetes"},
		"/usr/lib/python3/dist-packages/ansible_collections/kubernetes": {"core"},
	} {
		entries, err := os.ReadDir(filepath.Join(root, dir))
		if err != nil {
			t.Fatalf("the image has no %s: %v", dir, err)
		}
		var got []string
		for _, e := range entries {
			got = append(got, e.Name())
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s of the image holds %v; want %v only", dir, got, want)
		}
	}
}

func checkDependents(t *testing.T, cs *kubernetes.Clientset, ns string, cr *unstructured.Unstructured) {
	t.Helper()
	owned := func(refs []metav1.OwnerReference) bool {
		return slices.ContainsFunc(refs, func(r metav1.OwnerReference) bool { return r.UID == cr.GetUID() })
	}
	sts, err := cs.AppsV1().StatefulSets(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deps, err := cs.AppsV1().Deployments(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sts.Items) != 1 || !owned(sts.Items[0].OwnerReferences) {
		t.Errorf("want one memcached StatefulSet owned by the Mcrouter, got %d", len(sts.Items))
	}
	if len(deps.Items) != 1 || !owned(deps.Items[0].OwnerReferences) {
		t.Errorf("want one mcrouter Deployment owned by the Mcrouter, got %d", len(deps.Items))
	}
}

func kubectl(t *testing.T, c *devcluster.Cluster, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "kubectl", append([]string{"--kubeconfig", c.KubeconfigPath}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// procStatus returns the fields of /proc/<pid>/status.
func procStatus(pid int) (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return m, nil
}
