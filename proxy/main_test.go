package proxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/mcrouter-operator/mcrouter-operator/internal/devcluster"
	"github.com/mcrouter-operator/mcrouter-operator/internal/devcluster/devclustertest"
	"github.com/mcrouter-operator/mcrouter-operator/proxy"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

var cluster *devcluster.Cluster

func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	os.Exit(devclustertest.RunTests(m, devcluster.Options{CRDPaths: []string{"testdata/crd.yaml"}}, &cluster))
}

var ownerGVK = schema.GroupVersionKind{Group: "proxytest.example.com", Version: "v1", Kind: "Owner"}

var (
	configMapGVK   = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	secretGVK      = schema.GroupVersionKind{Version: "v1", Kind: "Secret"}
	clusterRoleGVK = schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}
)

func adminClient(t *testing.T) client.Client {
	t.Helper()
	c, err := client.New(cluster.Config, client.Options{})
	if err != nil {
		t.Fatalf("admin client: %v", err)
	}
	return c
}

func newMapper(t *testing.T) meta.RESTMapper {
	t.Helper()
	hc, err := rest.HTTPClientFor(cluster.Config)
	if err != nil {
		t.Fatalf("http client: %v", err)
	}
	m, err := apiutil.NewDynamicRESTMapper(cluster.Config, hc)
	if err != nil {
		t.Fatalf("rest mapper: %v", err)
	}
	return m
}

// startProxy starts a proxy on a free port (unless opts says otherwise) and
// stops it when the test ends.
func startProxy(t *testing.T, opts proxy.Options) *proxy.Proxy {
	t.Helper()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Upstream == nil {
		opts.Upstream = cluster.Config
	}
	if opts.Mapper == nil {
		opts.Mapper = newMapper(t)
	}
	p, err := proxy.New(opts)
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("proxy Start returned: %v", err)
		}
	})
	eventually(t, "proxy serving", func(context.Context) (bool, error) { return p.Listening(), nil })
	return p
}

var nsCounter atomic.Int64

// newNamespace creates a namespace named after the test.
func newNamespace(t *testing.T, c client.Client) string {
	t.Helper()
	base := strings.ToLower(regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(t.Name(), "-"))
	if len(base) > 40 {
		base = base[len(base)-40:]
	}
	name := strings.Trim(fmt.Sprintf("%s-%d", base, nsCounter.Add(1)), "-")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := c.Create(t.Context(), ns); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	return name
}

// newOwner creates an Owner custom resource.
func newOwner(t *testing.T, c client.Client, ns, name string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(ownerGVK)
	u.SetNamespace(ns)
	u.SetName(name)
	if err := c.Create(t.Context(), u); err != nil {
		t.Fatalf("create owner %s/%s: %v", ns, name, err)
	}
	return u
}

func ownerOf(u *unstructured.Unstructured) proxy.Owner {
	return proxy.Owner{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Name: u.GetName(),
		Namespace: u.GetNamespace(), UID: u.GetUID()}
}

func register(t *testing.T, p *proxy.Proxy, s proxy.Session) *proxy.Credential {
	t.Helper()
	cred, err := p.Register(s)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	t.Cleanup(cred.Release)
	return cred
}

// credConfig is a client configuration built from the credential's
// kubeconfig, as any Kubernetes client in a role would build it.
func credConfig(t *testing.T, cred *proxy.Credential) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.RESTConfigFromKubeConfig(cred.Kubeconfig())
	if err != nil {
		t.Fatalf("kubeconfig of credential: %v", err)
	}
	return cfg
}

func credClient(t *testing.T, cred *proxy.Credential) client.Client {
	t.Helper()
	c, err := client.New(credConfig(t, cred), client.Options{})
	if err != nil {
		t.Fatalf("client through proxy: %v", err)
	}
	return c
}

// token returns the credential's bearer token, read from its kubeconfig.
func token(t *testing.T, cred *proxy.Credential) string {
	t.Helper()
	return credConfig(t, cred).BearerToken
}

// endpoint makes plain HTTP requests to a proxy, trusting its certificate
// (from a credential's kubeconfig) and sending token, if any.
type endpoint struct {
	p     *proxy.Proxy
	hc    *http.Client
	token string
}

func newEndpoint(t *testing.T, p *proxy.Proxy, cred *proxy.Credential) endpoint {
	t.Helper()
	cfg := credConfig(t, cred)
	tok := cfg.BearerToken
	cfg.BearerToken = ""
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatalf("http client for proxy: %v", err)
	}
	return endpoint{p: p, hc: hc, token: tok}
}

func (e endpoint) do(t *testing.T, method, path string, body []byte, header http.Header) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, "https://"+e.p.Addr()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, data
}

// direct makes the same request straight to the API server as admin, over
// HTTP/1.1 so that upgrade requests can be compared.
func direct(t *testing.T, method, path string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	return directWithBody(t, method, path, nil, header)
}

// directWithBody is direct with a request body (JSON unless header says
// otherwise).
func directWithBody(t *testing.T, method, path string, body []byte, header http.Header) (*http.Response, []byte) {
	t.Helper()
	cfg := rest.CopyConfig(cluster.Config)
	cfg.NextProtos = []string{"http/1.1"}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, strings.TrimSuffix(cluster.Config.Host, "/")+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("direct %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decode(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("decode %q: %v", data, err)
	}
	return m
}

func eventually(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	optest.Await(t, what, cond)
}

// runPlaybook runs ansible-playbook with the credential's kubeconfig, the
// way a run does. It returns the output on failure.
func runPlaybook(ctx context.Context, dir string, cred *proxy.Credential, playbook string, vars map[string]any) error {
	bin, err := exec.LookPath("ansible-playbook")
	if err != nil {
		return fmt.Errorf("ansible-playbook not found (%w); run `make deps`", err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, cred.Kubeconfig(), 0o600); err != nil {
		return err
	}
	varsJSON, err := json.Marshal(vars)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, "-i", "localhost,", "-e", string(varsJSON), playbook)
	cmd.Env = append(os.Environ(),
		"K8S_AUTH_KUBECONFIG="+kubeconfig,
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "tmp"),
		"ANSIBLE_NOCOLOR=1",
		"ANSIBLE_RETRY_FILES_ENABLED=0",
		"HOME="+dir,
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("ansible-playbook %s: %w\n%s", playbook, err, out)
	}
	return nil
}

func playbook(t *testing.T, cred *proxy.Credential, name string, vars map[string]any) {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := runPlaybook(t.Context(), t.TempDir(), cred, abs, vars); err != nil {
		t.Fatal(err)
	}
}

// watchCall is one recorded DependentWatcher call.
type watchCall struct {
	GVK       schema.GroupVersionKind
	Annotated bool
}

// recordingWatcher records its calls; it fails the first failFirst calls.
type recordingWatcher struct {
	mu        sync.Mutex
	calls     []watchCall
	failFirst int
}

func (w *recordingWatcher) WatchDependent(_ context.Context, gvk schema.GroupVersionKind, annotated bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, watchCall{GVK: gvk, Annotated: annotated})
	if w.failFirst > 0 {
		w.failFirst--
		return errors.New("injected watch failure")
	}
	return nil
}

func (w *recordingWatcher) Calls() []watchCall {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]watchCall(nil), w.calls...)
}

// logSink collects funcr output.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (s *logSink) add(prefix, args string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, prefix+" "+args)
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
}

// funcWatcher is a DependentWatcher of a non-comparable type.
type funcWatcher func(ctx context.Context, gvk schema.GroupVersionKind, annotated bool) error

func (f funcWatcher) WatchDependent(ctx context.Context, gvk schema.GroupVersionKind, annotated bool) error {
	return f(ctx, gvk, annotated)
}
