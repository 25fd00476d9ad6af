package proxy_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/mcrouter-operator/mcrouter-operator/proxy/internal/reqinfo"
)

// servedAsWatch asks the API server for path and reports whether it answers
// with a watch event rather than a list.
func servedAsWatch(t *testing.T, path string) bool {
	t.Helper()
	hc, err := rest.HTTPClientFor(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, strings.TrimSuffix(cluster.Config.Host, "/")+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	// A watch never ends: read its first event, then hang up.
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", path, resp.StatusCode)
	}
	var first struct {
		Kind   string          `json:"kind"`
		Type   string          `json:"type"`
		Object json.RawMessage `json:"object"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&first); err != nil {
		t.Fatalf("GET %s: decode the answer: %v", path, err)
	}
	switch {
	case first.Type != "" && first.Object != nil:
		return true
	case first.Kind == "ConfigMapList":
		return false
	}
	t.Fatalf("GET %s: neither a watch event nor a list: %+v", path, first)
	return false
}

// TestWatchParameterAsTheAPIServer: the proxy takes a GET for a watch exactly
// when the API server serves one, for every spelling of ?watch.
func TestWatchParameterAsTheAPIServer(t *testing.T) {
	t.Parallel()
	admin := adminClient(t)
	ns := newNamespace(t, admin)
	// A watch starts with an ADDED event for every existing object.
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "present"}}
	if err := admin.Create(t.Context(), cm); err != nil {
		t.Fatal(err)
	}
	base := "/api/v1/namespaces/" + ns + "/configmaps"
	for _, q := range []string{"", "watch=true", "watch=1", "watch=yes", "watch=True", "watch=t", "watch=",
		"watch", "watch=no", "watch=n", "watch=f", "watch=off", "watch=false", "watch=FALSE", "watch=0",
		"watch=00", "watch=1&watch=0", "watch=0&watch=1", "watch=fal%C5%BFe"} {
		t.Run(q, func(t *testing.T) {
			u := &url.URL{Path: base, RawQuery: q}
			proxyWatch := reqinfo.Parse(http.MethodGet, u).Verb == reqinfo.VerbWatch
			serverWatch := servedAsWatch(t, u.String())
			switch {
			case serverWatch && !proxyWatch:
				t.Errorf("?%s: the API server serves a watch, the proxy takes it for a list", q)
			case proxyWatch && !serverWatch && q != "watch=fal%C5%BFe":
				// "falſe" is the one deliberate difference (see reqinfo).
				t.Errorf("?%s: the API server serves a list, the proxy takes it for a watch", q)
			}
		})
	}
}
