// Package operator_test runs the built ansible-operator against the local
// control plane with a small test operator (testdata/watches.yaml and
// testdata/roles) and real ansible-runner: status, failures, finalizers,
// annotations, selectors, WATCH_NAMESPACE and leader election.
package operator_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/internal/devcluster"
	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

var (
	cluster *devcluster.Cluster
	kube    client.Client
	binary  string
	// operator runs testdata/watches.yaml for the whole package.
	operator *optest.Operator
	// runnerDir is operator's --runner-dir.
	runnerDir string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "operator-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if os.Getenv("KEEP_TEST_LOGS") == "" {
			os.RemoveAll(tmp)
		}
	}()
	if binary, err = optest.Build(tmp); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	cluster, err = devcluster.Start(ctx, devcluster.Options{CRDPaths: []string{"testdata/crds"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: start local control plane:", err)
		return 1
	}
	defer cluster.Stop()
	if kube, err = client.New(cluster.Config, client.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := kube.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "markers"}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	runnerDir = runnerDirFor(tmp, "testdata/watches.yaml")
	operator, err = startOperator(tmp, "testdata/watches.yaml")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	code := m.Run()
	if err := operator.Stop(optest.StopTimeout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "--- operator log (last lines; KEEP_TEST_LOGS=1 keeps %s) ---\n%s\n",
			operator.LogPath, operator.LogTail(80))
	}
	return code
}

func startOperator(dir, watchesFile string, args ...string) (*optest.Operator, error) {
	return startOperatorEnv(dir, watchesFile, nil, args...)
}

func startOperatorEnv(dir, watchesFile string, env []string, args ...string) (*optest.Operator, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	abs, _ := filepath.Abs(watchesFile)
	roles, _ := filepath.Abs("testdata/roles")
	op, err := optest.Start(optest.Options{
		Binary:      binary,
		Kubeconfig:  cluster.KubeconfigPath,
		WatchesFile: abs,
		Args: append([]string{
			"--ansible-roles-path", roles,
			"--runner-dir", runnerDirFor(dir, watchesFile),
			"--reconcile-period", "1h",
			"--min-reconcile-period", minReconcilePeriod.String(),
			"--zap-log-level", "debug",
		}, args...),
		Env:     env,
		LogPath: filepath.Join(dir, filepath.Base(watchesFile)+".log"),
	})
	if err != nil {
		return nil, err
	}
	if err := op.WaitReady(context.Background()); err != nil {
		_ = op.Stop(10 * time.Second)
		return nil, err
	}
	return op, nil
}

func runnerDirFor(dir, watchesFile string) string {
	return filepath.Join(dir, "runner-"+filepath.Base(watchesFile))
}

var (
	gvkBasic   = schema.GroupVersionKind{Group: "ops.example.com", Version: "v1", Kind: "Basic"}
	gvkOther   = schema.GroupVersionKind{Group: "other.example.com", Version: "v1", Kind: "Basic"}
	gvkQuiet   = schema.GroupVersionKind{Group: "ops.example.com", Version: "v1", Kind: "Quiet"}
	gvkGuarded = schema.GroupVersionKind{Group: "ops.example.com", Version: "v1", Kind: "Guarded"}
	gvkPicky   = schema.GroupVersionKind{Group: "ops.example.com", Version: "v1", Kind: "Picky"}
	gvkBare    = schema.GroupVersionKind{Group: "ops.example.com", Version: "v1", Kind: "Bare"}
	gvkScoped  = schema.GroupVersionKind{Group: "ops.example.com", Version: "v1", Kind: "Scoped"}
	gvkElected = schema.GroupVersionKind{Group: "ops.example.com", Version: "v1", Kind: "Elected"}
	gvkSkippy  = schema.GroupVersionKind{Group: "ops.example.com", Version: "v1", Kind: "Skippy"}
	gvkResync  = schema.GroupVersionKind{Group: "ops.example.com", Version: "v1", Kind: "Resync"}
	gvkHanger  = schema.GroupVersionKind{Group: "ops.example.com", Version: "v1", Kind: "Hanger"}
)
