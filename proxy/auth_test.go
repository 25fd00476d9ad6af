package proxy_test

import (
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/proxy"
)

func TestRequestsWithoutALiveTokenAreRejected(t *testing.T) {
	t.Parallel()
	admin := adminClient(t)
	ns := newNamespace(t, admin)
	p := startProxy(t, proxy.Options{})
	owner := newOwner(t, admin, ns, "owner")
	live := register(t, p, proxy.Session{Owner: ownerOf(owner)})
	released := register(t, p, proxy.Session{Owner: ownerOf(owner)})
	releasedToken := token(t, released)
	released.Release()

	path := "/api/v1/namespaces/" + ns + "/configmaps"
	anonymous := newEndpoint(t, p, live)
	anonymous.token = ""
	tests := []struct {
		name          string
		authorization string
		wantCode      int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"forged token", "Bearer bm90LWEtcmVhbC10b2tlbg", http.StatusUnauthorized},
		{"basic auth", "Basic YWRtaW46YWRtaW4=", http.StatusUnauthorized},
		{"empty bearer", "Bearer ", http.StatusUnauthorized},
		{"token of a released credential", "Bearer " + releasedToken, http.StatusUnauthorized},
		{"live token", "Bearer " + token(t, live), http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.authorization != "" {
				h.Set("Authorization", tt.authorization)
			}
			resp, body := anonymous.do(t, http.MethodGet, path, nil, h)
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tt.wantCode, body)
			}
			if tt.wantCode != http.StatusUnauthorized {
				return
			}
			st := decode(t, body)
			want := map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure",
				"reason": "Unauthorized", "code": float64(401)}
			for k, v := range want {
				if st[k] != v {
					t.Errorf("Status %s = %v, want %v (body %s)", k, st[k], v, body)
				}
			}
			if msg, _ := st["message"].(string); msg == "" {
				t.Errorf("Status without message: %s", body)
			}
		})
	}
}

func TestReleasedCredentialFailsThroughClient(t *testing.T) {
	t.Parallel()
	admin := adminClient(t)
	ns := newNamespace(t, admin)
	p := startProxy(t, proxy.Options{})
	cred := register(t, p, proxy.Session{Owner: ownerOf(newOwner(t, admin, ns, "owner"))})
	c := credClient(t, cred)
	var cms corev1.ConfigMapList
	if err := c.List(t.Context(), &cms, client.InNamespace(ns)); err != nil {
		t.Fatalf("list with a live credential: %v", err)
	}
	cred.Release()
	err := c.List(t.Context(), &cms, client.InNamespace(ns))
	if err == nil || !strings.Contains(err.Error(), "Unauthorized") && !strings.Contains(err.Error(), "expired") {
		t.Fatalf("list after Release: err = %v, want Unauthorized", err)
	}
}

func TestKubeconfig(t *testing.T) {
	t.Parallel()
	admin := adminClient(t)
	ns := newNamespace(t, admin)
	p := startProxy(t, proxy.Options{})
	cred := register(t, p, proxy.Session{Owner: ownerOf(newOwner(t, admin, ns, "owner"))})
	cfg, err := clientcmd.Load(cred.Kubeconfig())
	if err != nil {
		t.Fatalf("load kubeconfig: %v", err)
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	if ctx == nil {
		t.Fatalf("current context %q missing", cfg.CurrentContext)
	}
	got := map[string]string{
		"server":    cfg.Clusters[ctx.Cluster].Server,
		"namespace": ctx.Namespace,
		"hasToken":  boolString(cfg.AuthInfos[ctx.AuthInfo].Token != ""),
	}
	want := map[string]string{"server": "https://" + p.Addr(), "namespace": ns, "hasToken": "true"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("kubeconfig mismatch (-want +got):\n%s", diff)
	}
	other := register(t, p, proxy.Session{Owner: ownerOf(newOwner(t, admin, ns, "owner2"))})
	if token(t, other) == token(t, cred) {
		t.Error("two credentials share a token")
	}
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func TestPorts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		addr string
		port string // "" for any
	}{
		{"fixed port 18888", "127.0.0.1:18888", "18888"},
		{"free port", "127.0.0.1:0", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			admin := adminClient(t)
			ns := newNamespace(t, admin)
			p := startProxy(t, proxy.Options{Addr: tt.addr, InjectOwnerRef: true})
			_, port, err := net.SplitHostPort(p.Addr())
			if err != nil {
				t.Fatal(err)
			}
			if port == "0" || tt.port != "" && port != tt.port {
				t.Fatalf("Addr() = %s, want port %q", p.Addr(), tt.port)
			}
			if !strings.Contains(string(register(t, p, proxy.Session{Owner: ownerOf(newOwner(t, admin, ns, "x"))}).Kubeconfig()),
				"https://127.0.0.1:"+port) {
				t.Errorf("kubeconfig does not point at port %s", port)
			}
			owner := newOwner(t, admin, ns, "owner")
			cred := register(t, p, proxy.Session{Owner: ownerOf(owner)})
			playbook(t, cred, "configmap.yml", map[string]any{"owner_namespace": ns, "name": "through-" + port})
			var cm corev1.ConfigMap
			if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "through-" + port}, &cm); err != nil {
				t.Fatalf("ConfigMap created through port %s: %v", port, err)
			}
			if refs := cm.OwnerReferences; len(refs) != 1 || refs[0].UID != owner.GetUID() {
				t.Errorf("ownerReferences = %+v, want one to %s", refs, owner.GetUID())
			}
		})
	}
}

func TestOptionsValidation(t *testing.T) {
	tests := []struct {
		name string
		opts proxy.Options
		want []string
	}{
		{"nothing", proxy.Options{}, []string{"Upstream", "Mapper"}},
		{"bad address", proxy.Options{Addr: "localhost", Upstream: cluster.Config, Mapper: newMapper(t)},
			[]string{`proxy address "localhost"`}},
		{"negative timeout", proxy.Options{Upstream: cluster.Config, Mapper: newMapper(t), CacheSyncTimeout: -1},
			[]string{"CacheSyncTimeout -1ns is negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := proxy.New(tt.opts)
			if err == nil {
				t.Fatal("New accepted invalid options")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestPortInUse(t *testing.T) {
	t.Parallel()
	p := startProxy(t, proxy.Options{})
	_, err := proxy.New(proxy.Options{Addr: p.Addr(), Upstream: cluster.Config, Mapper: newMapper(t)})
	if err == nil || !strings.Contains(err.Error(), p.Addr()) {
		t.Fatalf("New on a busy port: err = %v, want one naming %s", err, p.Addr())
	}
}

func TestRegisterValidation(t *testing.T) {
	t.Parallel()
	p := startProxy(t, proxy.Options{})
	good := proxy.Owner{APIVersion: "proxytest.example.com/v1", Kind: "Owner", Name: "o", Namespace: "ns", UID: "u"}
	tests := []struct {
		name    string
		session proxy.Session
		want    string
	}{
		{"missing uid and name", proxy.Session{Owner: proxy.Owner{APIVersion: "v1", Kind: "ConfigMap"}}, "missing name, uid"},
		{"missing kind", proxy.Session{Owner: proxy.Owner{APIVersion: "v1", Name: "n", UID: "u"}}, "missing kind"},
		{"bad apiVersion", proxy.Session{Owner: proxy.Owner{APIVersion: "a/b/c", Kind: "K", Name: "n", UID: "u"}}, "apiVersion"},
		{"watcher that is not comparable", proxy.Session{Owner: good, Watcher: funcWatcher(nil)}, "not comparable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Register(tt.session)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Register: err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
