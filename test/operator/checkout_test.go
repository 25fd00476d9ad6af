package operator_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

// An operator started by hand, as from a checkout: a watches file in a
// directory of its own and no ANSIBLE_COLLECTIONS_PATH. Each test runs an
// operator of its own for a kind nobody else watches.
var (
	gvkCheckout = schema.GroupVersionKind{Group: "ops.example.com", Version: "v1", Kind: "Checkout"}
	gvkOwnCopy  = schema.GroupVersionKind{Group: "ops.example.com", Version: "v1", Kind: "OwnCopy"}
)

// startByHand writes a watches file for kind (the testop role) to dir and
// starts an operator on it without the test's ANSIBLE_COLLECTIONS_PATH.
func startByHand(t *testing.T, dir string, kind string, env []string, args ...string) *optest.Operator {
	t.Helper()
	watchesFile := filepath.Join(dir, "watches.yaml")
	watches := "- {version: v1, group: ops.example.com, kind: " + kind + ", role: testop,\n" +
		"   vars: {cr_api_version: ops.example.com/v1, cr_kind: " + kind + "}}\n"
	if err := os.WriteFile(watchesFile, []byte(watches), 0o644); err != nil {
		t.Fatal(err)
	}
	roles, _ := filepath.Abs("testdata/roles")
	op, err := optest.Start(optest.Options{
		Binary: binary, Kubeconfig: cluster.KubeconfigPath, WatchesFile: watchesFile,
		Args: append([]string{"--ansible-roles-path", roles, "--runner-dir", filepath.Join(dir, "runner"),
			"--reconcile-period", "1h"}, args...),
		Env:     env,
		Unset:   []string{"ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_COLLECTIONS_PATHS"},
		LogPath: filepath.Join(dir, "operator.log"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := op.Stop(optest.StopTimeout); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("operator log:\n%s", op.LogTail(60))
		}
	})
	if err := op.WaitReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	return op
}

// TestRunFromACheckout: the built-in operator_sdk.util serves the role's
// k8s_status, and --log-format=text logs a line per task result, failures
// with their message.
func TestRunFromACheckout(t *testing.T) {
	ns := optest.CreateNamespace(t, kube, "checkout")
	op := startByHand(t, t.TempDir(), gvkCheckout.Kind, nil, "--log-format", "text")
	optest.Create(t, kube, optest.NewObject(gvkCheckout, ns, "good", map[string]any{"message": "from the binary"}))
	optest.Create(t, kube, optest.NewObject(gvkCheckout, ns, "bad", map[string]any{"fail": true, "fail_reason": "on purpose"}))

	u := optest.AwaitObject(t, kube, gvkCheckout, ns, "good", "Successful", optest.Successful, op)
	if got, _, _ := unstructured.NestedString(u.Object, "status", "greeting"); got != "from the binary" {
		t.Errorf("status.greeting = %q, want the one operator_sdk.util.k8s_status wrote", got)
	}
	optest.AwaitObject(t, kube, gvkCheckout, ns, "bad", "Failure", optest.Failed, op)

	logs := op.Logs()
	for what, re := range map[string]string{
		"task line": `(ok|changed): \[Checkout checkout/good\] TASK \[testop : Report custom status\] \d+\.\d\ds`,
		"failure line": `fatal: \[Checkout checkout/bad\] TASK \[testop : Fail on request\] \d+\.\d\ds: ` +
			`FAILED! => requested failure: on purpose`,
		"recap": `PLAY RECAP \[Checkout checkout/good\] ok=\d+ changed=\d+ unreachable=0 failed=0`,
	} {
		if !regexp.MustCompile(re).MatchString(logs) {
			t.Errorf("no %s matching %s in the log", what, re)
		}
	}
	if strings.Contains(logs, `"msg":"task`) {
		t.Errorf("the text log holds JSON task lines")
	}
}

// TestOwnCollectionWins: a collections/ beside the watches file replaces the
// built-in operator_sdk.util, as any copy of it on the path does.
func TestOwnCollectionWins(t *testing.T) {
	ns := optest.CreateNamespace(t, kube, "owncopy")
	dir := t.TempDir()
	// The collection replaces the built-in one whole: it has every module
	// the role names, used or not.
	modules := filepath.Join(dir, "collections", "ansible_collections", "operator_sdk", "util", "plugins", "modules")
	if err := os.MkdirAll(modules, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, code := range map[string]string{"k8s_status.py": ownK8sStatus, "requeue_after.py": ownRequeueAfter} {
		if err := os.WriteFile(filepath.Join(modules, name), []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	marker := filepath.Join(dir, "marker")
	op := startByHand(t, dir, gvkOwnCopy.Kind, []string{"OWN_K8S_STATUS_MARKER=" + marker})
	optest.Create(t, kube, optest.NewObject(gvkOwnCopy, ns, "mine", nil))

	u := optest.AwaitObject(t, kube, gvkOwnCopy, ns, "mine", "Successful", optest.Successful, op)
	if got, found, _ := unstructured.NestedString(u.Object, "status", "greeting"); found {
		t.Errorf("status.greeting = %q: the built-in k8s_status ran, not the one beside the watches file", got)
	}
	// The run that made it Successful ran the module before it ended.
	if b, err := os.ReadFile(marker); err != nil || !strings.Contains(string(b), "mine\n") {
		t.Errorf("the own k8s_status left no marker for mine: %q, %v", b, err)
	}
}

// ownK8sStatus is a user's k8s_status: it leaves the status alone and notes
// the resource in a file.
const ownK8sStatus = `#!/usr/bin/python3
import os
from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(
        api_version=dict(), kind=dict(), name=dict(), namespace=dict(),
        status=dict(type="dict"), conditions=dict(type="list", elements="dict")))
    with open(os.environ["OWN_K8S_STATUS_MARKER"], "a") as f:
        f.write(module.params["name"] + "\n")
    module.exit_json(changed=False)


if __name__ == "__main__":
    main()
`

// ownRequeueAfter is a user's requeue_after that asks for nothing.
const ownRequeueAfter = `#!/usr/bin/python3
from ansible.module_utils.basic import AnsibleModule

if __name__ == "__main__":
    AnsibleModule(argument_spec=dict(time=dict())).exit_json(changed=False)
`
