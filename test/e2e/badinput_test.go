package e2e_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

// TestBadWatchesFiles runs the binary with broken watches files and a
// kubeconfig that does not exist: it exits non-zero naming the entry and the
// key, so it failed before it ever read the kubeconfig.
func TestBadWatchesFiles(t *testing.T) {
	t.Parallel()
	kubeconfig := filepath.Join(tempDir(t), "no-such-kubeconfig")
	dir := filepath.Join(repoRoot, "test", "e2e", "testdata", "watches-bad")
	const entry = "(mcrouter.example.com/v1alpha3, Kind=Mcrouter)"
	tests := []struct {
		file string
		want []string
	}{
		{"typo-key.yaml", []string{"typo-key.yaml:7: entry 0 " + entry, `unknown key "reconcilePeriode"`, `did you mean "reconcilePeriod"?`}},
		{"missing-role.yaml", []string{"missing-role.yaml:3: entry 0 " + entry, `role: role "mcroutr" not found`, "ANSIBLE_ROLES_PATH"}},
		{"duplicate-gvk.yaml", []string{"duplicate-gvk.yaml:7: entry 1 " + entry, "duplicate group/version/kind", "entry 0 (line 3)"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			out := runToExit(t, filepath.Join(dir, tt.file), kubeconfig)
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output does not contain %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, kubeconfig) {
				t.Errorf("the operator read the kubeconfig before rejecting the watches file:\n%s", out)
			}
		})
	}
	// The control: with a good watches file the same kubeconfig is what fails.
	t.Run("valid watches.yaml", func(t *testing.T) {
		t.Parallel()
		out := runToExit(t, filepath.Join(repoRoot, "watches.yaml"), kubeconfig)
		if !strings.Contains(out, "load Kubernetes client configuration") || !strings.Contains(out, kubeconfig) {
			t.Errorf("with a valid watches file the missing kubeconfig should be the error:\n%s", out)
		}
	})
}

// runToExit runs the operator, expects it to exit non-zero and returns its
// output.
func runToExit(t *testing.T, watchesFile, kubeconfig string) string {
	t.Helper()
	dir := tempDir(t)
	op, err := optest.Start(optest.Options{
		Binary: binary, Kubeconfig: kubeconfig, WatchesFile: watchesFile, Dir: repoRoot,
		Args:    []string{"--runner-dir", filepath.Join(dir, "runner")},
		LogPath: filepath.Join(dir, "operator.log"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = op.Stop(5 * time.Second) })
	exited := func(context.Context) (bool, error) {
		done, _ := op.Exited()
		return done, nil
	}
	if err := optest.AwaitErr(optest.Context(t), "the operator exits on its bad configuration", exited); err != nil {
		t.Fatalf("%v\n--- operator log ---\n%s", err, op.LogTail(20))
	}
	_, err = op.Exited()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Errorf("exit status: %v, want non-zero", err)
	}
	return op.Logs()
}

// TestSchemaRejectsInvalidMcrouters: the CRD's schema refuses bad values with
// a message naming the field; nothing reaches the operator, which keeps
// running, and a valid Mcrouter beside them stays Successful.
func TestSchemaRejectsInvalidMcrouters(t *testing.T) {
	t.Parallel()
	op := sharedOperator(t)
	ns := optest.TempNamespace(t, kube, "schema")
	optest.Create(t, kube, optest.NewObject(optest.McrouterGVK, ns, "bystander", map[string]any{"memcached_pool_size": 2}))
	optest.AwaitObject(t, kube, optest.McrouterGVK, ns, "bystander", "Successful", optest.Settled, op)
	tests := []struct {
		name  string
		spec  map[string]any
		field string
	}{
		{"pool_setup foo", map[string]any{"pool_setup": "foo"}, "spec.pool_setup"},
		{"pool size 0", map[string]any{"memcached_pool_size": 0}, "spec.memcached_pool_size"},
		{"pool size 10000", map[string]any{"memcached_pool_size": 10000}, "spec.memcached_pool_size"},
		{"pool size three", map[string]any{"memcached_pool_size": "three"}, "spec.memcached_pool_size"},
		{"memcached port 70000", map[string]any{"memcached_port": 70000}, "spec.memcached_port"},
		{"mcrouter port 70000", map[string]any{"mcrouter_port": 70000}, "spec.mcrouter_port"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("invalid-%d", i)
			err := kube.Create(t.Context(), optest.NewObject(optest.McrouterGVK, ns, name, tt.spec))
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("create with %v: %v, want Invalid naming %s", tt.spec, err, tt.field)
			}
			if _, err := optest.Get(t.Context(), kube, optest.McrouterGVK, ns, name); !apierrors.IsNotFound(err) {
				t.Errorf("the rejected Mcrouter exists: %v", err)
			}
		})
	}
	if done, err := op.Exited(); done {
		t.Fatalf("the operator exited: %v", err)
	}
	optest.AwaitObject(t, kube, optest.McrouterGVK, ns, "bystander", "still Successful", optest.Settled, op)
}

// TestTemplateInjectionIsText puts `{{ lookup('pipe', 'touch <file>') }}` in
// a Mcrouter's spec and annotations: Ansible never evaluates it, the role
// copies it as text, and the file is never created.
func TestTemplateInjectionIsText(t *testing.T) {
	t.Parallel()
	op := sharedOperator(t)
	ns := optest.TempNamespace(t, kube, "unsafe")
	marker := filepath.Join(tempDir(t), "pwned")
	payload := fmt.Sprintf("{{ lookup('pipe', 'touch %s') }}", marker)

	cr := optest.NewObject(optest.McrouterGVK, ns, "annotated", map[string]any{"memcached_pool_size": 1, "annotations": map[string]any{"note": payload}})
	cr.SetAnnotations(map[string]string{"e2e.example.com/note": payload})
	if err := kube.Create(t.Context(), cr); err != nil {
		t.Fatal(err)
	}
	optest.AwaitObject(t, kube, optest.McrouterGVK, ns, "annotated", "Successful", optest.Settled, op)
	var d appsv1.Deployment
	if err := kube.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "annotated"}, &d); err != nil {
		t.Fatal(err)
	}
	if got := d.Annotations["note"]; got != payload {
		t.Errorf("Deployment annotation note = %q, want the spec value as text %q", got, payload)
	}

	optest.Create(t, kube, optest.NewObject(optest.McrouterGVK, ns, "image", map[string]any{"mcrouter_image": payload}))
	u := optest.AwaitObject(t, kube, optest.McrouterGVK, ns, "image", "Failure", optest.Failed, op)
	msg := optest.ConditionMessage(u, "Failure")
	if !strings.Contains(msg, "spec.mcrouter_image must be a non-empty image reference without spaces") || !strings.Contains(msg, payload) {
		t.Errorf("Failure message %q does not quote the image as text", msg)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("%s exists (%v): a spec value was evaluated as a template", marker, err)
	}
}

// TestOversizedValues: a 1 MiB annotation is over the API server's own limit
// (256 KiB for all annotations), so the largest annotation a Mcrouter can
// carry is reconciled; a 1 MiB spec value is accepted by the API server and
// ends in a Failure that names the task and the cause. The operator keeps
// running and a Mcrouter beside them stays Successful.
func TestOversizedValues(t *testing.T) {
	t.Parallel()
	op := sharedOperator(t)
	ns := optest.TempNamespace(t, kube, "oversized")
	optest.Create(t, kube, optest.NewObject(optest.McrouterGVK, ns, "bystander", map[string]any{"memcached_pool_size": 1}))
	optest.AwaitObject(t, kube, optest.McrouterGVK, ns, "bystander", "Successful", optest.Settled, op)
	mib := strings.Repeat("m", 1<<20)

	cr := optest.NewObject(optest.McrouterGVK, ns, "annotation-1mib", map[string]any{"memcached_pool_size": 1})
	cr.SetAnnotations(map[string]string{"e2e.example.com/big": mib})
	if err := kube.Create(t.Context(), cr); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "Too long") {
		t.Fatalf("create with a 1 MiB annotation: %v, want the API server's Too long", err)
	}
	cr = optest.NewObject(optest.McrouterGVK, ns, "annotation-250kib", map[string]any{"memcached_pool_size": 1})
	cr.SetAnnotations(map[string]string{"e2e.example.com/big": mib[:250<<10]})
	if err := kube.Create(t.Context(), cr); err != nil {
		t.Fatal(err)
	}
	optest.Create(t, kube, optest.NewObject(optest.McrouterGVK, ns, "spec-1mib", map[string]any{"memcached_pool_size": 1, "annotations": map[string]any{"big": mib}}))

	optest.AwaitObject(t, kube, optest.McrouterGVK, ns, "annotation-250kib", "Successful", optest.Settled, op)
	u := optest.AwaitObject(t, kube, optest.McrouterGVK, ns, "spec-1mib", "Failure", optest.Failed, op)
	msg := optest.ConditionMessage(u, "Failure")
	if !strings.Contains(msg, "Apply the memcached pool") || !strings.Contains(msg, "Too long") {
		t.Errorf("Failure message does not name the task and the cause: %.2000s", msg)
	}
	t.Logf("Failure of the 1 MiB spec value: %.300s", msg)
	if len(msg) > 4096 {
		t.Errorf("Failure message is %d bytes: the value should not be copied whole", len(msg))
	}
	if done, err := op.Exited(); done {
		t.Fatalf("the operator exited: %v", err)
	}
	optest.AwaitObject(t, kube, optest.McrouterGVK, ns, "bystander", "still Successful", optest.Settled, op)
}

// TestCRDDeletedWhileRunning deletes the Mcrouter CRD under a running
// operator: its Mcrouters and their dependents go, the operator keeps
// running and healthy and logs that it cannot list Mcrouters, and once the
// CRD is back a new Mcrouter is reconciled. Not parallel: the CRD is
// cluster-wide.
func TestCRDDeletedWhileRunning(t *testing.T) {
	timed(t)
	ns := optest.TempNamespace(t, kube, "crd-deleted")
	op := startOperator(t, operatorOptions{Name: "crd", Namespaces: []string{ns}})
	optest.Create(t, kube, optest.NewObject(optest.McrouterGVK, ns, "before", map[string]any{"memcached_pool_size": 1}))
	optest.AwaitObject(t, kube, optest.McrouterGVK, ns, "before", "Successful", optest.Settled, op)

	crd := filepath.Join("deploy", "crds", "mcrouter.example.com_mcrouters.yaml")
	t.Cleanup(func() { restoreCRD(t, crd) }) // the other tests need it, whatever happens here
	kubectl(t, "delete", "-f", crd, "--wait=true", timeoutFlag(t))
	optest.Await(t, "the deleted Mcrouter's dependents garbage-collected", func(ctx context.Context) (bool, error) {
		missing, err := missingDependents(ctx, ns, "before")
		return len(missing) == len(dependents("before")), err
	}, op)
	optest.Await(t, "a log line naming the Mcrouter kind the server no longer serves", func(context.Context) (bool, error) {
		for _, line := range strings.Split(op.Logs(), "\n") {
			if strings.Contains(line, "Kind=Mcrouter") && strings.Contains(line, "was its CRD deleted?") {
				return true, nil
			}
		}
		return false, nil
	}, op)
	if done, err := op.Exited(); done {
		t.Fatalf("the operator exited without its CRD: %v", err)
	}
	if err := healthz(t.Context(), op); err != nil {
		t.Errorf("/healthz without the CRD: %v", err)
	}

	restoreCRD(t, crd)
	optest.Create(t, kube, optest.NewObject(optest.McrouterGVK, ns, "after", map[string]any{"memcached_pool_size": 1}))
	optest.AwaitObject(t, kube, optest.McrouterGVK, ns, "after", "Successful once the CRD is back", optest.Settled, op)
	if missing, err := missingDependents(t.Context(), ns, "after"); err != nil || len(missing) > 0 {
		t.Errorf("missing dependents %v (%v)", missing, err)
	}
}

// restoreCRD applies the Mcrouter CRD and waits until it is served.
func restoreCRD(t *testing.T, file string) {
	t.Helper()
	// It runs in a cleanup, after the test's context has ended.
	ctx, cancel := context.WithTimeout(context.Background(), optest.Remaining(t))
	defer cancel()
	for _, args := range [][]string{
		{"apply", "-f", file},
		{"wait", "--for", "condition=established", timeoutFlag(t), "crd/mcrouters.mcrouter.example.com"},
	} {
		cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", cluster.KubeconfigPath}, args...)...)
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
			return
		}
	}
}

func healthz(ctx context.Context, op *optest.Operator) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/healthz", op.ProbePort), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return nil
}

// TestProxyRejectsRequestsWithoutCredential: the API proxy the roles use
// answers 401 to a request that does not carry a live run's token.
func TestProxyRejectsRequestsWithoutCredential(t *testing.T) {
	t.Parallel()
	op := sharedOperator(t)
	httpClient := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // the proxy's certificate is made at start-up
	}
	url := fmt.Sprintf("https://127.0.0.1:%d/api/v1/namespaces/readme/secrets", op.ProxyPort)
	for _, tc := range []struct{ name, authorization string }{
		{"no credential", ""},
		{"unknown bearer token", "Bearer not-a-run-token"},
		{"basic auth", "Basic YWRtaW46YWRtaW4="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.authorization != "" {
				req.Header.Set("Authorization", tc.authorization)
			}
			resp, err := httpClient.Do(req)
			if err != nil {
				t.Fatalf("GET %s: %v", url, err)
			}
			defer resp.Body.Close()
			var status struct {
				Kind string `json:"kind"`
				Code int    `json:"code"`
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401: %s", resp.StatusCode, body)
			}
			if err := json.Unmarshal(body, &status); err != nil || status.Kind != "Status" || status.Code != http.StatusUnauthorized {
				t.Errorf("body %s: want a Status with code 401 (%v)", body, err)
			}
		})
	}
}
