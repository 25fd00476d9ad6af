package reqinfo_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mcrouter-operator/mcrouter-operator/proxy/internal/reqinfo"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		method string
		url    string
		want   reqinfo.Info
	}{
		{"version", http.MethodGet, "/version", reqinfo.Info{Verb: "get"}},
		{"core discovery", http.MethodGet, "/api/v1", reqinfo.Info{Verb: "get", Version: "v1"}},
		{"group discovery", http.MethodGet, "/apis/apps/v1", reqinfo.Info{Verb: "get", Group: "apps", Version: "v1"}},
		{"groups list", http.MethodGet, "/apis", reqinfo.Info{Verb: "get"}},
		{"openapi", http.MethodGet, "/openapi/v3/apis/apps/v1", reqinfo.Info{Verb: "get"}},
		{"get configmap", http.MethodGet, "/api/v1/namespaces/ns1/configmaps/cm1", reqinfo.Info{
			Resource: true, Verb: "get", Version: "v1", Namespace: "ns1", Plural: "configmaps", Name: "cm1"}},
		{"list configmaps in namespace", http.MethodGet, "/api/v1/namespaces/ns1/configmaps", reqinfo.Info{
			Resource: true, Verb: "list", Version: "v1", Namespace: "ns1", Plural: "configmaps"}},
		{"list configmaps everywhere", http.MethodGet, "/api/v1/configmaps", reqinfo.Info{
			Resource: true, Verb: "list", Version: "v1", Plural: "configmaps"}},
		{"watch by parameter", http.MethodGet, "/api/v1/namespaces/ns1/configmaps?watch=true", reqinfo.Info{
			Resource: true, Verb: "watch", Version: "v1", Namespace: "ns1", Plural: "configmaps"}},
		{"watch by parameter 1", http.MethodGet, "/api/v1/configmaps?watch=1", reqinfo.Info{
			Resource: true, Verb: "watch", Version: "v1", Plural: "configmaps"}},
		{"watch false is a list", http.MethodGet, "/api/v1/configmaps?watch=false", reqinfo.Info{
			Resource: true, Verb: "list", Version: "v1", Plural: "configmaps"}},
		{"watch prefix, POST", http.MethodPost, "/api/v1/watch/namespaces/ns1/configmaps", reqinfo.Info{
			Resource: true, Verb: "watch", Version: "v1", Namespace: "ns1", Plural: "configmaps"}},
		{"named get ignores watch", http.MethodGet, "/api/v1/namespaces/ns1/configmaps/cm1?watch=true", reqinfo.Info{
			Resource: true, Verb: "get", Version: "v1", Namespace: "ns1", Plural: "configmaps", Name: "cm1"}},
		{"proxy prefix", http.MethodGet, "/api/v1/proxy/namespaces/ns1/pods/p/metrics", reqinfo.Info{
			Resource: true, Verb: "proxy", Version: "v1", Namespace: "ns1", Plural: "pods", Name: "p"}},
		{"watch prefix", http.MethodGet, "/api/v1/watch/namespaces/ns1/configmaps/cm1", reqinfo.Info{
			Resource: true, Verb: "watch", Version: "v1", Namespace: "ns1", Plural: "configmaps", Name: "cm1"}},
		{"create deployment", http.MethodPost, "/apis/apps/v1/namespaces/ns1/deployments", reqinfo.Info{
			Resource: true, Verb: "create", Group: "apps", Version: "v1", Namespace: "ns1", Plural: "deployments"}},
		{"update status", http.MethodPut, "/apis/apps/v1/namespaces/ns1/deployments/d/status", reqinfo.Info{
			Resource: true, Verb: "update", Group: "apps", Version: "v1", Namespace: "ns1", Plural: "deployments",
			Name: "d", Subresource: "status"}},
		{"patch", http.MethodPatch, "/apis/apps/v1/namespaces/ns1/deployments/d", reqinfo.Info{
			Resource: true, Verb: "patch", Group: "apps", Version: "v1", Namespace: "ns1", Plural: "deployments", Name: "d"}},
		{"delete", http.MethodDelete, "/api/v1/namespaces/ns1/configmaps/cm1", reqinfo.Info{
			Resource: true, Verb: "delete", Version: "v1", Namespace: "ns1", Plural: "configmaps", Name: "cm1"}},
		{"delete collection", http.MethodDelete, "/api/v1/namespaces/ns1/configmaps", reqinfo.Info{
			Resource: true, Verb: "deletecollection", Version: "v1", Namespace: "ns1", Plural: "configmaps"}},
		{"cluster-scoped create", http.MethodPost, "/apis/rbac.authorization.k8s.io/v1/clusterroles", reqinfo.Info{
			Resource: true, Verb: "create", Group: "rbac.authorization.k8s.io", Version: "v1", Plural: "clusterroles"}},
		{"namespace object", http.MethodGet, "/api/v1/namespaces/ns1", reqinfo.Info{
			Resource: true, Verb: "get", Version: "v1", Plural: "namespaces", Name: "ns1"}},
		{"namespace status", http.MethodPut, "/api/v1/namespaces/ns1/status", reqinfo.Info{
			Resource: true, Verb: "update", Version: "v1", Plural: "namespaces", Name: "ns1", Subresource: "status"}},
		{"namespace finalize", http.MethodPut, "/api/v1/namespaces/ns1/finalize", reqinfo.Info{
			Resource: true, Verb: "update", Version: "v1", Plural: "namespaces", Name: "ns1", Subresource: "finalize"}},
		{"create namespace", http.MethodPost, "/api/v1/namespaces", reqinfo.Info{
			Resource: true, Verb: "create", Version: "v1", Plural: "namespaces"}},
		{"exec", http.MethodPost, "/api/v1/namespaces/ns1/pods/p/exec?command=ls", reqinfo.Info{
			Resource: true, Verb: "create", Version: "v1", Namespace: "ns1", Plural: "pods", Name: "p", Subresource: "exec"}},
		{"pod proxy path", http.MethodGet, "/api/v1/namespaces/ns1/pods/p/proxy/metrics", reqinfo.Info{
			Resource: true, Verb: "get", Version: "v1", Namespace: "ns1", Plural: "pods", Name: "p", Subresource: "proxy"}},
		{"custom resource", http.MethodGet, "/apis/mcrouter.example.com/v1alpha3/namespaces/ns1/mcrouters/m", reqinfo.Info{
			Resource: true, Verb: "get", Group: "mcrouter.example.com", Version: "v1alpha3", Namespace: "ns1",
			Plural: "mcrouters", Name: "m"}},
		{"trailing slash", http.MethodGet, "/api/v1/namespaces/ns1/configmaps/", reqinfo.Info{
			Resource: true, Verb: "list", Version: "v1", Namespace: "ns1", Plural: "configmaps"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			got := reqinfo.Parse(tt.method, u)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse(%s %s) mismatch (-want +got):\n%s", tt.method, tt.url, diff)
			}
		})
	}
}

// TestWatchParameter: every value of ?watch that the API server reads as
// true makes a GET of a collection a watch (checked against the API server in
// the proxy package's TestWatchParameterAsTheAPIServer).
func TestWatchParameter(t *testing.T) {
	tests := []struct {
		query string
		watch bool
	}{
		{"", false},
		{"watch=false", false},
		{"watch=False", false},
		{"watch=FALSE", false},
		{"watch=0", false},
		{"watch=0&watch=1", false},
		{"labelSelector=a%3Db", false},
		{"watch=true", true},
		{"watch=1", true},
		{"watch=yes", true},
		{"watch=True", true},
		{"watch=t", true},
		{"watch=y", true},
		{"watch=on", true},
		{"watch=", true},
		{"watch", true},
		{"watch=no", true},
		{"watch=n", true},
		{"watch=f", true},
		{"watch=off", true},
		{"watch=00", true},
		{"watch=+0", true},
		{"watch=%20false", true},
		{"watch=fal%C5%BFe", true}, // "falſe": the decoder's false, the resolver's fallback's true
		{"watch=1&watch=0", true},
		{"WATCH=true", false}, // parameter names are case-sensitive
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			u := &url.URL{Path: "/api/v1/namespaces/ns1/configmaps", RawQuery: tt.query}
			want := reqinfo.VerbList
			if tt.watch {
				want = reqinfo.VerbWatch
			}
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				if got := reqinfo.Parse(method, u).Verb; got != want {
					t.Errorf("%s ?%s: verb %q, want %q", method, tt.query, got, want)
				}
			}
		})
	}
}

func TestMutating(t *testing.T) {
	for verb, want := range map[string]bool{
		"get": false, "list": false, "watch": false, "create": true, "update": true, "patch": true,
		"delete": true, "deletecollection": true,
	} {
		t.Run(verb, func(t *testing.T) {
			if got := reqinfo.Mutating(verb); got != want {
				t.Errorf("Mutating(%q) = %v, want %v", verb, got, want)
			}
		})
	}
}
