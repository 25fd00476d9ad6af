package e2e_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

// TestFaultAPIServerRestart stops kube-apiserver for 10 s while a run is
// under way, then starts it again on the same etcd: the run fails or
// completes, the operator retries and every Mcrouter ends Successful with all
// its objects. It is not parallel: every client of the control plane sees the
// outage.
func TestFaultAPIServerRestart(t *testing.T) {
	timed(t)
	ns := optest.TempNamespace(t, kube, "fault-apiserver")
	runnerDir := filepath.Join(tempDir(t), "runner")
	op := startOperator(t, operatorOptions{Name: "apiserver", RunnerDir: runnerDir, Namespaces: []string{ns}})
	names := []string{"first", "second"}
	for _, name := range names {
		optest.Create(t, kube, optest.NewObject(optest.McrouterGVK, ns, name, map[string]any{"memcached_pool_size": 2}))
	}
	procs := waitRunning(t, op, runnerDir, ns, names[0])
	t.Logf("stopping kube-apiserver during a run (%d Ansible processes)", len(procs))
	if err := cluster.RestartAPIServer(t.Context(), 10*time.Second); err != nil {
		t.Fatalf("restart kube-apiserver: %v", err)
	}
	if done, err := op.Exited(); done {
		t.Fatalf("the operator exited during the API server outage: %v\n%s", err, op.LogTail(40))
	}
	for _, name := range names {
		optest.AwaitObject(t, kube, optest.McrouterGVK, ns, name, "Successful after the API server came back", optest.Settled, op)
		verifyOperator(t, ns, name)
	}
	failures, err := optest.Events(t.Context(), kube, ns, "", "ReconcileFailed")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range failures {
		t.Logf("failed run recorded for %s: %.200s", e.InvolvedObject.Name, e.Message)
	}
}

// TestFaultOperatorKilled kills the operator with SIGKILL during a run and
// starts it again with the same runner directory: the Mcrouter converges and
// no Ansible process of the killed operator survives.
func TestFaultOperatorKilled(t *testing.T) {
	t.Parallel()
	timed(t)
	ns := optest.TempNamespace(t, kube, "fault-sigkill")
	runnerDir := filepath.Join(tempDir(t), "runner")
	first := startOperator(t, operatorOptions{Name: "sigkill-first", RunnerDir: runnerDir, Namespaces: []string{ns}})
	optest.Create(t, kube, optest.NewObject(optest.McrouterGVK, ns, "victim", map[string]any{"memcached_pool_size": 2}))
	seen := waitRunning(t, first, runnerDir, ns, "victim")
	first.Kill()
	// Whatever the killed operator left: the run it had started, with the
	// children that run started meanwhile.
	left, err := procsIn(runnerDir)
	if err != nil {
		t.Fatal(err)
	}
	old := append(seen, left...)
	t.Logf("killed the operator during a run; %d of its Ansible processes alive right after: %v", len(left), left)

	second := startOperator(t, operatorOptions{Name: "sigkill-second", RunnerDir: runnerDir, Namespaces: []string{ns}})
	optest.AwaitObject(t, kube, optest.McrouterGVK, ns, "victim", "Successful after the restart", optest.Settled, second)
	for _, p := range old {
		if p.Alive() {
			t.Errorf("a process of the killed operator survived: %s", p)
		}
	}
	now, err := procsIn(runnerDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range now {
		if !optest.IsDescendant(p.PID, second.Pid()) && p.Alive() {
			t.Errorf("an Ansible process that the running operator did not start: %s", p)
		}
	}
	if strings.Contains(second.Logs(), "killed Ansible runs left behind") {
		t.Logf("the restarted operator reaped the orphaned run")
	}
	verifyOperator(t, ns, "victim")
}

// TestFaultLeaderKilled runs two replicas with --leader-elect and kills the
// leader: the other one takes over and reconciles a Mcrouter created after the
// kill. How long the takeover took is logged; the bench, not this test,
// judges speed.
func TestFaultLeaderKilled(t *testing.T) {
	t.Parallel()
	timed(t)
	ns := optest.TempNamespace(t, kube, "fault-leader")
	args := []string{"--leader-elect", "--leader-election-namespace", ns, "--leader-election-id", "mcrouter-e2e",
		"--leader-elect-lease-duration", "10s", "--leader-elect-renew-deadline", "7s"}
	ops := make([]*optest.Operator, 2)
	for i := range ops {
		ops[i] = startOperator(t, operatorOptions{Name: fmt.Sprintf("replica-%d", i), Namespaces: []string{ns}, Args: args})
	}
	optest.Create(t, kube, optest.NewObject(optest.McrouterGVK, ns, "before", map[string]any{"memcached_pool_size": 1}))
	leader := -1
	optest.Await(t, "one replica leads", func(context.Context) (bool, error) {
		for i, op := range ops {
			if strings.Contains(op.Logs(), "became the leader") {
				leader = i
				return true, nil
			}
		}
		return false, nil
	})
	optest.AwaitObject(t, kube, optest.McrouterGVK, ns, "before", "Successful", optest.Settled, ops[leader])
	follower := ops[1-leader]
	if strings.Contains(follower.Logs(), "became the leader") {
		t.Fatalf("both replicas lead")
	}

	ops[leader].Kill()
	killed := time.Now()
	optest.Create(t, kube, optest.NewObject(optest.McrouterGVK, ns, "after", map[string]any{"memcached_pool_size": 1}))
	optest.Await(t, "the surviving replica takes the lease", func(context.Context) (bool, error) {
		return strings.Contains(follower.Logs(), "became the leader"), nil
	}, follower)
	tookOver := time.Since(killed)
	optest.AwaitObject(t, kube, optest.McrouterGVK, ns, "after", "Successful, reconciled by the new leader", optest.Settled, follower)
	t.Logf("the follower took the lease %s after the leader was killed (lease duration 10s) and reconciled a new Mcrouter %s after it; %s",
		tookOver.Round(100*time.Millisecond), time.Since(killed).Round(100*time.Millisecond), follower.Activity())
	if missing, err := missingDependents(t.Context(), ns, "after"); err != nil || len(missing) > 0 {
		t.Errorf("missing dependents %v (%v)", missing, err)
	}
}

// TestFaultHangingTask maps Mcrouter to testdata/hang: a task hangs while the
// Mcrouter has the annotation e2e.example.com/hang=true. With a short
// --run-timeout the run is killed and Failure names the task; once the
// annotation is gone, the next spec change reconciles. The timeout is four
// times the run this test first measures (at least 10 s): a busy machine
// slows the role down, and a role that cannot finish within the timeout
// would never reconcile again.
func TestFaultHangingTask(t *testing.T) {
	t.Parallel()
	timed(t)
	ns := optest.TempNamespace(t, kube, "fault-hang")
	runnerDir := filepath.Join(tempDir(t), "runner")
	o := operatorOptions{
		Name:        "hang-measure",
		WatchesFile: filepath.Join(repoRoot, "test", "e2e", "testdata", "hang", "watches.yaml"),
		RunnerDir:   runnerDir,
		Namespaces:  []string{ns},
		Args:        []string{"--ansible-roles-path", filepath.Join(repoRoot, "roles")},
	}
	measure := startOperator(t, o)
	optest.Create(t, kube, optest.NewObject(optest.McrouterGVK, ns, "stuck", map[string]any{"memcached_pool_size": 1}))
	optest.AwaitObject(t, kube, optest.McrouterGVK, ns, "stuck", "Successful before any hang", optest.Settled, measure)
	if err := measure.Stop(optest.StopTimeout); err != nil {
		t.Fatal(err)
	}
	timeout := max(10*time.Second, 4*measure.Activity().Longest()).Round(time.Second)
	t.Logf("the role's run took %s here; --run-timeout %s", measure.Activity().Longest().Round(100*time.Millisecond), timeout)
	o.Name, o.Args = "hang", append(o.Args, "--run-timeout", timeout.String())
	op := startOperator(t, o)
	optest.MergePatch(t, kube, optest.McrouterGVK, ns, "stuck", map[string]any{
		"metadata": map[string]any{"annotations": map[string]any{"e2e.example.com/hang": "true"}},
		"spec":     map[string]any{"memcached_pool_size": 2},
	})
	// The hanging command inherits the run's KUBECONFIG, under the runner dir.
	hanging := func() ([]optest.Proc, error) {
		procs, err := optest.ProcsWithEnv(runnerDirOf(runnerDir, ns, "stuck") + "/")
		var out []optest.Proc
		for _, p := range procs {
			if strings.Contains(p.Cmdline, "sleep 3600") {
				out = append(out, p)
			}
		}
		return out, err
	}
	optest.Await(t, "the hanging task's command", func(context.Context) (bool, error) {
		procs, err := hanging()
		return len(procs) > 0, err
	}, op)
	u := optest.AwaitObject(t, kube, optest.McrouterGVK, ns, "stuck", "Failure", optest.Failed, op)
	msg := optest.ConditionMessage(u, "Failure")
	if !strings.Contains(msg, "timed out") || !strings.Contains(msg, "Hang while the Mcrouter asks for it") {
		t.Errorf("Failure message %q does not say the run timed out in the hanging task", msg)
	}
	optest.AwaitEvent(t, kube, ns, "", "ReconcileFailed", "Hang while the Mcrouter asks for it", op)

	optest.MergePatch(t, kube, optest.McrouterGVK, ns, "stuck", map[string]any{
		"metadata": map[string]any{"annotations": map[string]any{"e2e.example.com/hang": nil}},
		"spec":     map[string]any{"memcached_pool_size": 3},
	})
	u = optest.AwaitObject(t, kube, optest.McrouterGVK, ns, "stuck", "Successful after the spec change", optest.Settled, op)
	if optest.Failed(u) {
		t.Errorf("Failure still True: %v", optest.Condition(u, "Failure"))
	}
	if left, err := hanging(); err != nil || len(left) > 0 {
		t.Errorf("the hanging task's command outlived its run: %v (%v)", left, err)
	}
	if missing, err := missingDependents(t.Context(), ns, "stuck"); err != nil || len(missing) > 0 {
		t.Errorf("missing dependents %v (%v)", missing, err)
	}
}
