package operator_test

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

// SIGTERM during a run cancels it: the operator exits within
// --graceful-shutdown-timeout and leaves no Ansible process behind.
func TestGracefulShutdownCancelsRuns(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "shutdown")
	dir := t.TempDir()
	op, err := startOperator(dir, "testdata/watches-hanger.yaml", "--graceful-shutdown-timeout", "20s")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = op.Stop(30 * time.Second) })
	create(t, newCR(gvkHanger, ns, "h", map[string]any{"hang": true}))
	waitFor(t, 60*time.Second, "the hanging task to start", func(context.Context) (bool, error) {
		return strings.Contains(op.Logs(), `"task":"Hang on request"`), nil
	})
	runDir := runnerDirFor(dir, "testdata/watches-hanger.yaml")
	if procs, _ := optest.ProcsMatching(runDir + "/"); len(procs) == 0 {
		t.Fatalf("no Ansible process found under %s while the task hangs", runDir)
	}
	start := time.Now()
	if err := syscall.Kill(op.Pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-op.Done():
	case <-time.After(25 * time.Second):
		t.Fatalf("operator still running 25s after SIGTERM\n%s", op.LogTail(20))
	}
	t.Logf("operator exited %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	waitFor(t, 15*time.Second, "no Ansible process left", func(context.Context) (bool, error) {
		procs, err := optest.ProcsMatching(runDir + "/")
		return err == nil && len(procs) == 0, nil
	})
}

// requeue_after from a task makes the operator reconcile again after that
// period, with status written for every run.
func TestRequeueAfterFromTask(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "requeue")
	create(t, newCR(gvkBasic, ns, "q", map[string]any{"requeue_after": "2s"}))
	first := completion(waitCR(t, gvkBasic, ns, "q", "Successful", successful))
	waitFor(t, 60*time.Second, "two more runs asked for by requeue_after", func(context.Context) (bool, error) {
		return runs(t, gvkBasic, ns, "q") >= 3, nil
	})
	u := waitCR(t, gvkBasic, ns, "q", "status of a later run", func(u *unstructured.Unstructured) bool {
		return successful(u) && completion(u) != first
	})
	if c := completion(u); c == first {
		t.Errorf("status not written by the requeued runs")
	}
}
