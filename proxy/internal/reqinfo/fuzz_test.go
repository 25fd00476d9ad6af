package reqinfo_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metainternalversionscheme "k8s.io/apimachinery/pkg/apis/meta/internalversion/scheme"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcrouter-operator/mcrouter-operator/proxy/internal/reqinfo"
)

// serverWatches is the API server's own reading of a GET of a collection:
// the list options decoded by apimachinery's parameter codec, as the list
// handler and the request-info resolver decode them, and the resolver's
// fallback when they do not decode.
func serverWatches(q url.Values) bool {
	var opts metainternalversion.ListOptions
	err := metainternalversionscheme.ParameterCodec.DecodeParameters(q, metav1.SchemeGroupVersion, &opts)
	if err == nil {
		return opts.Watch
	}
	vs := q["watch"]
	return len(vs) > 0 && strings.ToLower(vs[0]) != "false" && vs[0] != "0"
}

// FuzzParse: Parse never panics, names no namespace, name or resource with
// a "/", calls only writes mutating, and never takes for a list or a get a
// request the API server serves as a watch.
func FuzzParse(f *testing.F) {
	for _, seed := range []struct{ method, target string }{
		{http.MethodGet, "/api/v1/namespaces/ns1/configmaps?watch=yes"},
		{http.MethodGet, "/api/v1/configmaps?watch=&limit=5"},
		{http.MethodGet, "/api/v1/configmaps?watch=falſe&limit=x"},
		{http.MethodGet, "/apis/apps/v1/watch/namespaces/ns1/deployments/d"},
		{http.MethodHead, "/apis/apps/v1/namespaces/ns1/deployments?watch=1&watch=0"},
		{http.MethodPost, "/api/v1/namespaces/ns1/configmaps"},
		{http.MethodPut, "/api/v1/namespaces/ns1/status"},
		{http.MethodPatch, "/apis/g/v/namespaces//x/y/z/w?fieldManager=a"},
		{http.MethodDelete, "/api/v1/proxy/namespaces/ns1/pods/p/a/b"},
		{"BREW", "//api//v1/..%2F/namespaces/%2e%2e/x"},
	} {
		f.Add(seed.method, seed.target)
	}
	f.Fuzz(func(t *testing.T, method, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		info := reqinfo.Parse(method, u)
		for field, v := range map[string]string{"group": info.Group, "version": info.Version,
			"namespace": info.Namespace, "resource": info.Plural, "name": info.Name, "subresource": info.Subresource} {
			if strings.Contains(v, "/") {
				t.Errorf("%s %q: %s %q holds a /", method, target, field, v)
			}
		}
		if !info.Resource && (info.Plural != "" || info.Name != "" || info.Namespace != "" || info.Subresource != "") {
			t.Errorf("%s %q: non-resource request names a resource: %+v", method, target, info)
		}
		if reqinfo.Mutating(info.Verb) {
			switch method {
			case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			default:
				t.Errorf("%s %q: verb %q of a method that writes nothing", method, target, info.Verb)
			}
		}
		collectionRead := info.Resource && info.Name == "" && (method == http.MethodGet || method == http.MethodHead)
		if collectionRead && info.Verb != reqinfo.VerbWatch && serverWatches(u.Query()) {
			t.Errorf("%s %q: verb %q, but the API server serves a watch", method, target, info.Verb)
		}
	})
}
