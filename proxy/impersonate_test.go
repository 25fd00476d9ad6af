package proxy_test

import (
	"net/http"
	"testing"

	"github.com/mcrouter-operator/mcrouter-operator/proxy"
)

const selfSubjectReviews = "/apis/authentication.k8s.io/v1/selfsubjectreviews"

var selfSubjectReview = []byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`)

// reviewedUser is the user name a SelfSubjectReview answer reports.
func reviewedUser(t *testing.T, code int, body []byte) string {
	t.Helper()
	if code != http.StatusCreated {
		t.Fatalf("SelfSubjectReview: status %d: %s", code, body)
	}
	st, _ := decode(t, body)["status"].(map[string]any)
	info, _ := st["userInfo"].(map[string]any)
	name, _ := info["username"].(string)
	if name == "" {
		t.Fatalf("SelfSubjectReview names no user: %s", body)
	}
	return name
}

// TestImpersonationHeadersAreDropped: a run cannot act as another user by
// sending Impersonate-* headers, although the operator's own credentials (the
// local control plane's admin) may impersonate anyone. The API server answers
// as the operator; forwarded, the headers would make it answer as "nobody"
// (no rights) or refuse a group, UID or extra without a user.
func TestImpersonationHeadersAreDropped(t *testing.T) {
	t.Parallel()
	admin := adminClient(t)
	ns := newNamespace(t, admin)
	p := startProxy(t, proxy.Options{})
	e := newEndpoint(t, p, register(t, p, proxy.Session{Owner: ownerOf(newOwner(t, admin, ns, "owner"))}))

	resp, body := directWithBody(t, http.MethodPost, selfSubjectReviews, selfSubjectReview, nil)
	operator := reviewedUser(t, resp.StatusCode, body)
	resp, body = directWithBody(t, http.MethodPost, selfSubjectReviews, selfSubjectReview,
		http.Header{"Impersonate-User": {"nobody"}})
	if got := reviewedUser(t, resp.StatusCode, body); got != "nobody" {
		t.Fatalf("the operator's credentials cannot impersonate (user %q): the test proves nothing", got)
	}

	tests := []struct {
		name   string
		header http.Header
	}{
		{"user", http.Header{"Impersonate-User": {"nobody"}}},
		{"user and groups", http.Header{"Impersonate-User": {"nobody"}, "Impersonate-Group": {"g1", "g2"}}},
		{"group alone", http.Header{"Impersonate-Group": {"system:masters"}}},
		{"uid alone", http.Header{"Impersonate-Uid": {"1234"}}},
		{"extra alone", http.Header{"Impersonate-Extra-Scopes": {"view"}}},
		{"lower case", http.Header{"impersonate-user": {"nobody"}}},
		{"mixed case", http.Header{"IMPERSONATE-user": {"nobody"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.do(t, http.MethodPost, selfSubjectReviews, selfSubjectReview, tt.header)
			if got := reviewedUser(t, resp.StatusCode, body); got != operator {
				t.Errorf("answered as %q, want the operator %q", got, operator)
			}
			resp, body = e.do(t, http.MethodGet, "/api/v1/namespaces/"+ns+"/configmaps", nil, tt.header)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("list ConfigMaps: status %d, want 200 as the operator: %s", resp.StatusCode, body)
			}
		})
	}
}
