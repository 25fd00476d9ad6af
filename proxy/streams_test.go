package proxy_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/mcrouter-operator/mcrouter-operator/proxy"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

func TestWatchStreamsThroughProxy(t *testing.T) {
	t.Parallel()
	admin := adminClient(t)
	ns := newNamespace(t, admin)
	p := startProxy(t, proxy.Options{})
	cred := register(t, p, proxy.Session{Owner: ownerOf(newOwner(t, admin, ns, "owner"))})
	cs, err := kubernetes.NewForConfig(credConfig(t, cred))
	if err != nil {
		t.Fatal(err)
	}
	w, err := cs.CoreV1().ConfigMaps(ns).Watch(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("watch through the proxy: %v", err)
	}
	defer w.Stop()
	for _, name := range []string{"first", "second"} {
		if err := admin.Create(t.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}); err != nil {
			t.Fatal(err)
		}
		ev := nextEvent(t, w)
		if cm, ok := ev.Object.(*corev1.ConfigMap); ev.Type != watch.Added || !ok || cm.Name != name {
			t.Fatalf("event %s %T, want ADDED ConfigMap %s", ev.Type, ev.Object, name)
		}
	}
	// Releasing the credential ends the streams it opened.
	cred.Release()
	select {
	case ev, open := <-w.ResultChan():
		for open && ev.Type != watch.Error {
			ev, open = <-w.ResultChan()
		}
	case <-time.After(optest.StallFloor):
		t.Fatalf("watch still open %s after Release", optest.StallFloor)
	}
}

func nextEvent(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("watch closed")
		}
		return ev
	case <-time.After(optest.StallFloor):
		t.Fatalf("no watch event within %s", optest.StallFloor)
	}
	return watch.Event{}
}

// newPendingPod creates a Pod that stays Pending: nothing schedules it.
func newPendingPod(t *testing.T, ns string) {
	t.Helper()
	admin := adminClient(t)
	no := false
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "p"}, Spec: corev1.PodSpec{
		AutomountServiceAccountToken: &no,
		Containers:                   []corev1.Container{{Name: "c", Image: "busybox"}},
	}}
	eventually(t, "create pod", func(ctx context.Context) (bool, error) {
		return admin.Create(ctx, pod.DeepCopy()) == nil, nil
	})
}

// TestExecUpgradeReachesAPIServer sends an exec upgrade through the proxy.
// No kubelet runs here, so the API server refuses the exec; its answer, not a
// proxy error, must come back.
func TestExecUpgradeReachesAPIServer(t *testing.T) {
	t.Parallel()
	admin := adminClient(t)
	ns := newNamespace(t, admin)
	newPendingPod(t, ns)
	p := startProxy(t, proxy.Options{})
	cred := register(t, p, proxy.Session{Owner: ownerOf(newOwner(t, admin, ns, "owner"))})
	cfg := credConfig(t, cred)
	cfg.NextProtos = []string{"http/1.1"}
	tok := cfg.BearerToken
	cfg.BearerToken = ""
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := endpoint{p: p, hc: hc, token: tok}
	path := "/api/v1/namespaces/" + ns + "/pods/p/exec?command=ls&stdout=true&container=c"
	upgrade := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"SPDY/3.1"},
		"X-Stream-Protocol-Version": {"v4.channel.k8s.io"}}
	resp, body := e.do(t, http.MethodPost, path, nil, upgrade)
	want, wantBody := direct(t, http.MethodPost, path, upgrade)
	if resp.StatusCode != want.StatusCode {
		t.Fatalf("status %d %s; API server says %d %s", resp.StatusCode, body, want.StatusCode, wantBody)
	}
	got, exp := decode(t, body)["message"], decode(t, wantBody)["message"]
	if got != exp || !strings.Contains(got.(string), "host") {
		t.Errorf("message %q, API server says %q", got, exp)
	}
}

// TestKubectlThroughProxy uses kubectl, a Go client that sends its token
// only over TLS, with a run's kubeconfig.
func TestKubectlThroughProxy(t *testing.T) {
	t.Parallel()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatalf("kubectl not found (%v); run `make deps`", err)
	}
	admin := adminClient(t)
	ns := newNamespace(t, admin)
	newPendingPod(t, ns)
	if err := admin.Create(t.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "listed"}}); err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, proxy.Options{InjectOwnerRef: true})
	cred := register(t, p, proxy.Session{Owner: ownerOf(newOwner(t, admin, ns, "owner"))})
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, cred.Kubeconfig(), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		cmd := exec.CommandContext(t.Context(), kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// The context namespace is the owner's.
	if out, err := run("get", "configmaps", "-o", "name"); err != nil || !strings.Contains(out, "configmap/listed") {
		t.Fatalf("kubectl get: %v\n%s", err, out)
	}
	if out, err := run("create", "configmap", "made-by-kubectl"); err != nil {
		t.Fatalf("kubectl create: %v\n%s", err, out)
	}
	out, err := run("get", "configmap", "made-by-kubectl", "-o", "jsonpath={.metadata.ownerReferences[0].name}")
	if err != nil || out != "owner" {
		t.Errorf("ConfigMap created by kubectl: owner %q, err %v", out, err)
	}
	out, err = run("exec", "p", "--", "ls")
	if err == nil || !strings.Contains(out, "does not have a host assigned") {
		t.Errorf("kubectl exec: err %v, output %q; want the API server's refusal", err, out)
	}
}

// TestUpgradedConnectionsStream checks that an upgraded connection carries
// bytes both ways. The local API server cannot upgrade (no kubelet), so the
// upstream here is a stand-in that upgrades and echoes.
func TestUpgradedConnectionsStream(t *testing.T) {
	t.Parallel()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" || r.Header.Get("Authorization") != "Bearer upstream-token" {
			http.Error(w, "want an echo upgrade with the operator's token", http.StatusBadRequest)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		_ = rw.Flush()
		_, _ = io.Copy(conn, rw)
	}))
	t.Cleanup(upstream.Close)
	p := startProxy(t, proxy.Options{Upstream: &rest.Config{Host: upstream.URL, BearerToken: "upstream-token"}})
	cred := register(t, p, proxy.Session{Owner: proxy.Owner{APIVersion: "v1", Kind: "ConfigMap", Name: "o", Namespace: "ns", UID: "u"}})

	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(credConfig(t, cred).CAData) {
		t.Fatal("kubeconfig has no CA")
	}
	conn, err := tls.Dial("tcp", p.Addr(), &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(optest.StallFloor))
	req := "POST /api/v1/namespaces/ns/pods/p/exec HTTP/1.1\r\nHost: proxy\r\nConnection: Upgrade\r\nUpgrade: echo\r\n" +
		"Authorization: Bearer " + token(t, cred) + "\r\nContent-Length: 0\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read upgrade response: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d, want 101: %s", resp.StatusCode, b)
	}
	for _, msg := range []string{"ping\n", "second message\n"} {
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		got, err := br.ReadString('\n')
		if err != nil || got != msg {
			t.Fatalf("echo: got %q, %v; want %q", got, err, msg)
		}
	}
}
