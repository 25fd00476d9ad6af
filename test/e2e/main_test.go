package e2e_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/internal/devcluster"
	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

var (
	cluster   *devcluster.Cluster
	kube      client.Client
	clientset *kubernetes.Clientset
	// binary is cmd/ansible-operator built once for the package.
	binary string
	// repoRoot is the repository root: the operators' working directory.
	repoRoot string

	// shared is the operator of sharedNamespaces, started on first use.
	shared struct {
		once      sync.Once
		op        *optest.Operator
		err       error
		dir       string
		runnerDir string
	}
)

// sharedNamespaces are the namespaces the package's shared operator serves
// (WATCH_NAMESPACE); tests that start their own operator use other ones, so
// that exactly one operator reconciles each Mcrouter.
var sharedNamespaces = []string{"readme", "sample-v1alpha3", "delete-cr", "schema", "unsafe", "oversized"}

// parallelism is -test.parallel when the command line does not set it: the
// tests mostly wait on operators, leases and timeouts, not on the CPU.
const parallelism = 6

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	flag.Parse()
	setParallel := false
	flag.Visit(func(f *flag.Flag) { setParallel = setParallel || f.Name == "test.parallel" })
	if !setParallel {
		_ = flag.Set("test.parallel", fmt.Sprint(parallelism))
	}
	tmp, err := os.MkdirTemp("", "e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if repoRoot, err = optest.ModuleRoot(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	if binary, err = optest.Build(tmp); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	cluster, err = devcluster.Start(context.Background(), devcluster.Options{
		CRDPaths: []string{filepath.Join(repoRoot, "deploy", "crds")},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: start local control plane:", err)
		return 1
	}
	defer cluster.Stop()
	if kube, err = client.New(cluster.Config, client.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	if clientset, err = kubernetes.NewForConfig(cluster.Config); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	start := time.Now()
	code := m.Run()
	fmt.Printf("e2e: tests took %s\n", time.Since(start).Round(time.Second))
	if op := shared.op; op != nil {
		if err := op.Stop(optest.StopTimeout); err != nil {
			fmt.Fprintln(os.Stderr, "stop the shared operator:", err)
			code = 1
		}
		if code != 0 {
			fmt.Fprintf(os.Stderr, "--- shared operator log (last lines) ---\n%s\n", op.LogTail(60))
		}
	}
	if shared.dir != "" && code == 0 {
		_ = os.RemoveAll(shared.dir)
	} else if shared.dir != "" {
		fmt.Fprintf(os.Stderr, "shared operator log and runner directory kept in %s\n", shared.dir)
	}
	return code
}

// sharedOperator starts, on first use, the operator that serves
// sharedNamespaces: the repository's watches.yaml and roles, as `make run`
// runs them. It starts after the serial fault tests, which change the whole
// control plane.
func sharedOperator(t *testing.T) *optest.Operator {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "e2e-shared-")
		if shared.err != nil {
			return
		}
		shared.runnerDir = filepath.Join(shared.dir, "runner")
		shared.op, shared.err = launch(operatorOptions{
			Name:       "shared",
			Dir:        shared.dir,
			RunnerDir:  shared.runnerDir,
			Namespaces: sharedNamespaces,
		})
	})
	if shared.err != nil {
		t.Fatalf("start the shared operator: %v", shared.err)
	}
	return shared.op
}

// operatorOptions start one ansible-operator process for a test.
type operatorOptions struct {
	Name        string   // names the log file
	Dir         string   // holds the log and, unless RunnerDir is set, the runner dir
	WatchesFile string   // default: the repository's watches.yaml
	RunnerDir   string   // --runner-dir; default <Dir>/runner
	Namespaces  []string // WATCH_NAMESPACE; default: all
	Args        []string // more flags
	NoWait      bool     // do not wait for /readyz
}

func (o *operatorOptions) setDefaults() {
	if o.WatchesFile == "" {
		o.WatchesFile = filepath.Join(repoRoot, "watches.yaml")
	}
	if o.RunnerDir == "" {
		o.RunnerDir = filepath.Join(o.Dir, "runner")
	}
}

// launch starts an operator from the repository root, as the image does
// (ANSIBLE_GATHERING=explicit), and waits until it is ready. A port that
// another test took between optest's pick and the operator's bind gets a
// second try with new ports.
func launch(o operatorOptions) (*optest.Operator, error) {
	o.setDefaults()
	env := []string{"ANSIBLE_GATHERING=explicit", "WATCH_NAMESPACE=" + strings.Join(o.Namespaces, ",")}
	for attempt := 1; ; attempt++ {
		op, err := optest.Start(optest.Options{
			Binary:      binary,
			Kubeconfig:  cluster.KubeconfigPath,
			WatchesFile: o.WatchesFile,
			Dir:         repoRoot,
			Args: append([]string{
				"--runner-dir", o.RunnerDir,
				"--zap-log-level", "debug",
			}, o.Args...),
			Env:     env,
			LogPath: filepath.Join(o.Dir, fmt.Sprintf("%s-%d.log", o.Name, attempt)),
			Name:    o.Name,
		})
		if err != nil || o.NoWait {
			return op, err
		}
		err = op.WaitReady(context.Background())
		if err == nil {
			return op, nil
		}
		_ = op.Stop(10 * time.Second)
		if attempt == 3 || !strings.Contains(op.Logs(), "address already in use") {
			return nil, err
		}
	}
}

// startOperator starts an operator for one test and stops it at the end of
// the test, printing its log tail when the test failed.
func startOperator(t *testing.T, o operatorOptions) *optest.Operator {
	t.Helper()
	if o.Dir == "" {
		o.Dir = tempDir(t)
	}
	op, err := launch(o)
	if err != nil {
		t.Fatalf("start operator %s: %v", o.Name, err)
	}
	t.Cleanup(func() {
		if err := op.Stop(optest.StopTimeout); err != nil {
			t.Errorf("stop operator %s: %v", o.Name, err)
		}
		if t.Failed() {
			t.Logf("--- operator %s log (last lines) ---\n%s", o.Name, op.LogTail(60))
		}
	})
	return op
}

// tempDir is like t.TempDir, but its removal does not fail the test: Ansible
// may still be writing there while the operator stops.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "e2e-"+strings.ReplaceAll(t.Name(), "/", "-")+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// timed logs the wall time of a fault test.
func timed(t *testing.T) {
	t.Helper()
	start := time.Now()
	t.Cleanup(func() { t.Logf("wall time of %s: %s", t.Name(), time.Since(start).Round(100*time.Millisecond)) })
}
