package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/mcrouter-operator/mcrouter-operator/internal/devcluster"
	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
	"github.com/mcrouter-operator/mcrouter-operator/runner"
	"github.com/mcrouter-operator/mcrouter-operator/watches"
)

// mcrouterGVR is the resource the benchmark creates.
var mcrouterGVR = schema.GroupVersionResource{Group: "mcrouter.example.com", Version: "v1alpha3", Resource: "mcrouters"}

// bench holds what one benchmark run started and measured.
type bench struct {
	opts     Options
	tmp      string // binaries, runner dirs; removed at the end
	logDir   string // operator logs; kept when the run fails
	cluster  *devcluster.Cluster
	dyn      dynamic.Interface
	kube     kubernetes.Interface
	binary   string
	watch    watches.Watch // the Mcrouter entry of watches.yaml
	procRoot string
	clkTck   float64
	report   Report
	log      func(format string, args ...any)
}

// setup builds the operator (unless given), starts the control plane and
// creates the clients.
func (b *bench) setup(ctx context.Context) error {
	ws, err := watches.Load(filepath.Join(b.opts.Root, "watches.yaml"), watches.Options{WorkDir: b.opts.Root})
	if err != nil {
		return fmt.Errorf("load the repository's watches.yaml: %w", err)
	}
	for _, w := range ws {
		if w.GroupVersionKind.Group == mcrouterGVR.Group && w.GroupVersionKind.Kind == "Mcrouter" {
			b.watch = w
		}
	}
	if b.watch.Role == "" {
		return fmt.Errorf("%s has no Mcrouter entry with a role", filepath.Join(b.opts.Root, "watches.yaml"))
	}
	if b.watch.AnsibleExecutor != "" {
		return fmt.Errorf("%s sets ansibleExecutor %q for Mcrouter; remove it: the benchmark picks the executor with --ansible-executor",
			filepath.Join(b.opts.Root, "watches.yaml"), b.watch.AnsibleExecutor)
	}
	if b.binary = b.opts.Operator; b.binary == "" {
		b.log("building cmd/ansible-operator")
		if b.binary, err = optest.Build(b.tmp); err != nil {
			return err
		}
	}
	b.log("starting the local control plane")
	b.cluster, err = devcluster.Start(ctx, devcluster.Options{CRDPaths: []string{filepath.Join(b.opts.Root, "deploy", "crds")}})
	if err != nil {
		return fmt.Errorf("start the local control plane: %w", err)
	}
	cfg := *b.cluster.Config
	cfg.QPS, cfg.Burst = 1000, 1000 // creating a burst must not wait on the client's rate limiter
	if b.dyn, err = dynamic.NewForConfig(&cfg); err != nil {
		return err
	}
	if b.kube, err = kubernetes.NewForConfig(&cfg); err != nil {
		return err
	}
	return nil
}

// teardown stops the control plane and removes the temporary directory.
func (b *bench) teardown() {
	if b.cluster != nil {
		if err := b.cluster.Stop(); err != nil {
			b.log("stop the local control plane: %v", err)
		}
	}
	_ = os.RemoveAll(b.tmp)
}

// operator is one running ansible-operator with its metrics address.
type operator struct {
	*optest.Operator
	phase      string
	executor   string // its --ansible-executor
	metricsURL string
	started    time.Time          // when the process was started
	isServer   func(pid int) bool // tells its warm server among its children
}

// startOperator runs the operator as the image does, from the repository
// root with watches.yaml, with the given executor, and waits until it is
// ready (and its warm server, see startOperatorIn). Its runner directory is
// the phase's own.
func (b *bench) startOperator(ctx context.Context, phase, executor string) (*operator, error) {
	return b.startOperatorWith(ctx, phase, executor)
}

// startOperatorWith is startOperator with more operator flags.
func (b *bench) startOperatorWith(ctx context.Context, phase, executor string, extra ...string) (*operator, error) {
	return b.startOperatorIn(ctx, phase, executor, filepath.Join(b.tmp, "runner-"+phase), extra...)
}

// startOperatorIn is startOperatorWith with the --runner-dir given: an
// operator that takes over from an earlier one uses the earlier one's. With the warm
// executor it also waits until the warm server is ready, so that no
// figure but WarmServer includes its start.
func (b *bench) startOperatorIn(ctx context.Context, phase, executor, runnerDir string, extra ...string) (*operator, error) {
	o, err := b.launch(phase, executor, runnerDir, nil, extra...)
	if err != nil {
		return nil, err
	}
	op := o.Operator
	if err := op.WaitReady(ctx); err != nil {
		_ = op.Stop(10 * time.Second)
		return nil, fmt.Errorf("operator for %s: %w", phase, err)
	}
	if executor == string(runner.ExecutorWarm) {
		if err := b.awaitWarmServer(ctx, o); err != nil {
			b.stopOperator(ctx, o)
			return nil, err
		}
	}
	return o, nil
}

// launch starts the operator process of phase, with env and extra flags
// added to the bench's own, and returns at once.
func (b *bench) launch(phase, executor, runnerDir string, env []string, extra ...string) (*operator, error) {
	port, err := optest.FreePort()
	if err != nil {
		return nil, err
	}
	started := time.Now()
	op, err := optest.Start(optest.Options{
		Binary:      b.binary,
		Kubeconfig:  b.cluster.KubeconfigPath,
		WatchesFile: filepath.Join(b.opts.Root, "watches.yaml"),
		Dir:         b.opts.Root,
		Args: append([]string{
			"--runner-dir", runnerDir,
			"--metrics-bind-address", "127.0.0.1:" + strconv.Itoa(port),
			"--ansible-executor", executor,
		}, append(extra, b.opts.OperatorArgs...)...),
		Env:     append([]string{"ANSIBLE_GATHERING=explicit"}, env...),
		LogPath: filepath.Join(b.logDir, "operator-"+phase+".log"),
		Name:    phase,
	})
	if err != nil {
		return nil, fmt.Errorf("start the operator for %s: %w", phase, err)
	}
	return &operator{Operator: op, phase: phase, executor: executor, started: started,
		metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", port),
		isServer:   serverMatcher(b.procRoot, warmServerScript(executor, runnerDir))}, nil
}

// stopOperator saves op's last metrics next to its log and stops it; a slow
// stop is reported, not fatal.
func (b *bench) stopOperator(ctx context.Context, op *operator) {
	if text, err := fetch(ctx, op.metricsURL); err == nil {
		_ = os.WriteFile(filepath.Join(b.logDir, "metrics-"+op.phase+".txt"), text, 0o644)
	}
	if err := op.Stop(30 * time.Second); err != nil {
		b.log("operator for %s: %v", op.phase, err)
	}
}

func (op *operator) counters(ctx context.Context) (counters, error) {
	m, err := scrape(ctx, op.metricsURL)
	if err != nil {
		return counters{}, fmt.Errorf("operator for %s: %w", op.phase, err)
	}
	return countersOf(m), nil
}

// failure wraps err with the tail of op's log, long lines shortened.
func (op *operator) failure(err error) error {
	lines := strings.Split(op.LogTail(40), "\n")
	for i, l := range lines {
		lines[i] = truncate(l, 400)
	}
	return fmt.Errorf("%w\n--- operator log (%s, last lines) ---\n%s", err, op.LogPath, strings.Join(lines, "\n"))
}

// settle waits until op is quiet: no Ansible process running and the
// counters picked by key unchanged for quiet. After limit it returns the
// counters anyway (and says so): later figures then include stragglers.
func (b *bench) settle(ctx context.Context, op *operator, quiet, limit time.Duration, key func(counters) [3]float64) (counters, error) {
	c, _, err := b.settleOn(ctx, op, quiet, limit, key, nil)
	return c, err
}

// settleOn is settle with a goal: op does not count as quiet while goal
// (nil: none) returns an error, and a goal still missed after limit is an
// error, since what follows would measure nothing. It also returns the time
// of the last poll that saw op busy or its counters changing.
func (b *bench) settleOn(ctx context.Context, op *operator, quiet, limit time.Duration, key func(counters) [3]float64,
	goal func(counters) error) (counters, time.Time, error) {
	start := time.Now()
	clock := quietClock{quiet: quiet}
	for {
		c, err := op.counters(ctx)
		if err != nil {
			return c, clock.lastChange, err
		}
		tree, err := readTree(b.procRoot, op.Pid(), op.isServer)
		if err != nil {
			return c, clock.lastChange, op.failure(err)
		}
		var missing error
		if goal != nil {
			missing = goal(c)
		}
		if clock.observe(time.Now(), key(c), tree.Runs > 0 || missing != nil) {
			return c, clock.lastChange, nil
		}
		if time.Since(start) >= limit {
			if missing != nil {
				return c, clock.lastChange, op.failure(fmt.Errorf("operator for %s after %s: %w", op.phase, limit, missing))
			}
			b.log("operator for %s still busy after %s; measuring anyway", op.phase, limit)
			return c, clock.lastChange, nil
		}
		select {
		case <-ctx.Done():
			return c, clock.lastChange, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// quietClock decides when an operator has settled, one poll at a time.
type quietClock struct {
	quiet      time.Duration
	prev       [3]float64
	lastChange time.Time // the last poll that saw op busy or its key changed
	started    bool
}

// observe records a poll at now: the first poll, a key other than the last
// one, or busy (an Ansible process running, a goal not reached) restart the
// quiet interval. It reports whether the interval has passed.
func (q *quietClock) observe(now time.Time, key [3]float64, busy bool) bool {
	if !q.started || key != q.prev || busy {
		q.started, q.prev, q.lastChange = true, key, now
	}
	return now.Sub(q.lastChange) >= q.quiet
}

// allActivity and runActivity are settle keys: every reconcile, or only
// Ansible runs (periodic resyncs keep reconciling while nothing runs).
func allActivity(c counters) [3]float64 { return [3]float64{c.Runs, c.Skipped, c.Reconciles} }
func runActivity(c counters) [3]float64 { return [3]float64{c.Runs, c.FailedRuns, 0} }

// createNamespace creates a fresh namespace for one phase.
func (b *bench) createNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := b.kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}

// deleteNamespace deletes ns and waits until it is gone, so the next
// operator neither reconciles its CRs nor competes with their garbage
// collection. The Mcrouters go first: no operator runs then, so no
// finalizer holds them.
func (b *bench) deleteNamespace(ctx context.Context, ns string) error {
	err := b.dyn.Resource(mcrouterGVR).Namespace(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("delete the Mcrouters of %s: %w", ns, err)
	}
	if err := b.kube.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete namespace %s: %w", ns, err)
	}
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := b.kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		b.log("namespace %s still terminating after 3m; going on", ns)
		return nil
	}
	if err != nil {
		return fmt.Errorf("wait for namespace %s to be deleted: %w", ns, err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
