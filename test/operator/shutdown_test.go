package operator_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

// SIGTERM during a run cancels it: the operator exits (its exit time after
// SIGTERM, which --graceful-shutdown-timeout bounds, is logged) and leaves no
// Ansible process behind.
func TestGracefulShutdownCancelsRuns(t *testing.T) {
	t.Parallel()
	ns := optest.CreateNamespace(t, kube, "shutdown")
	dir := t.TempDir()
	op, err := startOperator(dir, "testdata/watches-hanger.yaml", "--graceful-shutdown-timeout", "20s")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = op.Stop(optest.StopTimeout) })
	optest.Create(t, kube, optest.NewObject(gvkHanger, ns, "h", map[string]any{"hang": true}))
	optest.Await(t, "the hanging task to start", func(context.Context) (bool, error) {
		return strings.Contains(op.Logs(), `"task":"Hang on request"`), nil
	}, op)
	runDir := runnerDirFor(dir, "testdata/watches-hanger.yaml")
	// The run's own processes: under the warm executor its server lives
	// under runDir as well, with or without a run.
	inputDir := filepath.Join(runDir, gvkHanger.Group, gvkHanger.Version, gvkHanger.Kind, ns, "h")
	if procs, _ := optest.ProcsIn(inputDir); len(procs) == 0 {
		t.Fatalf("no Ansible process found under %s while the task hangs", inputDir)
	}
	start := time.Now()
	if err := syscall.Kill(op.Pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The hanging run would keep the operator up for an hour: an exit at
	// all proves the cancellation. Nothing but the 20 s timer runs, so the
	// stall window bounds the wait.
	exited := func(context.Context) (bool, error) {
		done, _ := op.Exited()
		return done, nil
	}
	if err := optest.AwaitErr(optest.Context(t), "the operator to exit after SIGTERM", exited); err != nil {
		t.Fatalf("%v\n--- operator log ---\n%s", err, op.LogTail(20))
	}
	t.Logf("operator exited %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	optest.Await(t, "no Ansible process left", func(context.Context) (bool, error) {
		procs, err := optest.ProcsIn(runDir)
		return err == nil && len(procs) == 0, fmt.Errorf("left: %v", procs)
	})
}

// requeue_after from a task makes the operator reconcile again after that
// period, with status written for every run.
func TestRequeueAfterFromTask(t *testing.T) {
	t.Parallel()
	ns := optest.CreateNamespace(t, kube, "requeue")
	optest.Create(t, kube, optest.NewObject(gvkBasic, ns, "q", map[string]any{"requeue_after": "2s"}))
	first := completion(optest.AwaitObject(t, kube, gvkBasic, ns, "q", "Successful", optest.Successful, operator))
	optest.Await(t, "two more runs asked for by requeue_after", func(context.Context) (bool, error) {
		return runs(t, gvkBasic, ns, "q") >= 3, nil
	}, operator)
	u := optest.AwaitObject(t, kube, gvkBasic, ns, "q", "status of a later run", func(u *unstructured.Unstructured) bool {
		return optest.Successful(u) && completion(u) != first
	}, operator)
	if c := completion(u); c == first {
		t.Errorf("status not written by the requeued runs")
	}
}
