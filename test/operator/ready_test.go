package operator_test

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

// kstatus is what GitOps tools (Flux, kstatus-based health checks) make of
// the resource.
func kstatus(t *testing.T, u *unstructured.Unstructured) *status.Result {
	t.Helper()
	res, err := status.Compute(u)
	if err != nil {
		t.Fatalf("kstatus of %s/%s: %v", u.GetNamespace(), u.GetName(), err)
	}
	return res
}

// waitKstatus waits until kstatus computes want for the resource; bad, when
// set, fails the test on an observation on the way.
func waitKstatus(t *testing.T, gvk schema.GroupVersionKind, ns, name string, want status.Status, bad func(*unstructured.Unstructured, *status.Result) string) *unstructured.Unstructured {
	t.Helper()
	return optest.AwaitObject(t, kube, gvk, ns, name, "kstatus "+want.String(), func(u *unstructured.Unstructured) bool {
		res := kstatus(t, u)
		if bad != nil {
			if why := bad(u, res); why != "" {
				t.Errorf("kstatus %s (%s) on the way to %s: %s; status %v", res.Status, res.Message, want, why, u.Object["status"])
			}
		}
		return res.Status == want
	}, operator)
}

// kubectlWait runs kubectl wait --for=condition=Ready on the resource.
func kubectlWait(t *testing.T, resource, ns string) {
	t.Helper()
	cmd := exec.CommandContext(optest.Context(t), "kubectl", "--kubeconfig", cluster.KubeconfigPath, "-n", ns,
		"wait", "--for=condition=Ready", resource, fmt.Sprintf("--timeout=%ds", int(optest.Remaining(t).Seconds())))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubectl wait --for=condition=Ready %s: %v\n%s\n--- operator log ---\n%s", resource, err, out, operator.LogTail(30))
	}
}

// Ready and the kstatus conditions follow the current generation: kubectl
// wait returns once it is reconciled, a failed run reads Failed naming the
// task, and never Current before the new generation's run succeeded.
func TestReadyForGitOps(t *testing.T) {
	t.Parallel()
	ns := optest.CreateNamespace(t, kube, "ready")
	// report_status false: the role sets no Ready of its own.
	optest.Create(t, kube, optest.NewObject(gvkBasic, ns, "r", map[string]any{"report_status": false}))
	kubectlWait(t, "basics.ops.example.com/r", ns)
	u, err := optest.Get(t.Context(), kube, gvkBasic, ns, "r")
	if err != nil {
		t.Fatal(err)
	}
	if res := kstatus(t, u); res.Status != status.CurrentStatus || !optest.Successful(u) || optest.ObservedGeneration(u, "Ready") != u.GetGeneration() {
		t.Errorf("after kubectl wait: kstatus %s, status %v; want Current, Successful, Ready at generation %d", res.Status, u.Object["status"], u.GetGeneration())
	}

	optest.MergePatch(t, kube, gvkBasic, ns, "r", map[string]any{"spec": map[string]any{"fail": true, "fail_reason": "not today"}})
	notCurrentYet := func(u *unstructured.Unstructured, res *status.Result) string {
		if res.Status == status.CurrentStatus {
			return "Current before the new generation was reconciled"
		}
		return ""
	}
	u = waitKstatus(t, gvkBasic, ns, "r", status.FailedStatus, notCurrentYet)
	if res := kstatus(t, u); !strings.Contains(res.Message, "Fail on request") {
		t.Errorf("kstatus message %q does not name the failing task", res.Message)
	}
	ready := optest.Condition(u, "Ready")
	if ready["status"] != "False" || !strings.Contains(fmt.Sprint(ready["message"]), "requested failure: not today") ||
		optest.ObservedGeneration(u, "Ready") != u.GetGeneration() {
		t.Errorf("Ready after the failed run = %v, want False with the task's message at generation %d", ready, u.GetGeneration())
	}
	// Upstream's conditions are as they were.
	if !optest.Failed(u) || optest.ConditionTrue(u, "Successful") {
		t.Errorf("Successful/Failure after the failed run: %v", u.Object["status"])
	}

	optest.MergePatch(t, kube, gvkBasic, ns, "r", map[string]any{"spec": map[string]any{"fail": false}})
	u = waitKstatus(t, gvkBasic, ns, "r", status.CurrentStatus, nil)
	if !optest.ConditionTrue(u, "Ready") || optest.ObservedGeneration(u, "Ready") != u.GetGeneration() || !optest.Successful(u) {
		t.Errorf("after the fix: status %v, want Ready and Successful at generation %d", u.Object["status"], u.GetGeneration())
	}
	for _, c := range []string{"Reconciling", "Stalled"} {
		if optest.ConditionTrue(u, c) {
			t.Errorf("%s still True after success: %v", c, optest.Condition(u, c))
		}
	}
}
