// Package reqinfo parses the URL and method of a Kubernetes API request into
// the resource it addresses and the verb it performs, the way the API server
// classifies requests for authorization.
package reqinfo

import (
	"net/http"
	"net/url"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Verbs of resource requests.
const (
	VerbGet              = "get"
	VerbList             = "list"
	VerbWatch            = "watch"
	VerbCreate           = "create"
	VerbUpdate           = "update"
	VerbPatch            = "patch"
	VerbDelete           = "delete"
	VerbDeleteCollection = "deletecollection"

	// VerbProxy is the verb of the deprecated /api/<version>/proxy/... paths.
	VerbProxy = "proxy"
)

// Info describes one API request.
type Info struct {
	// Resource is false for non-resource URLs (/version, /api, /apis/<group>,
	// /openapi/..., /healthz): those carry no GVR.
	Resource bool
	// Verb is one of the Verb constants for resource requests, else the
	// lower-case HTTP method. It is the verb the API server authorizes: a
	// path under /watch/ is a watch whatever the method.
	Verb        string
	Group       string
	Version     string
	Name        string
	Namespace   string
	Plural      string // the resource name in the URL, e.g. "configmaps"
	Subresource string
}

// GroupVersionResource returns the GVR of a resource request.
func (i Info) GroupVersionResource() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: i.Group, Version: i.Version, Resource: i.Plural}
}

// namespaceSubresources are the subresources of a Namespace object, so that
// /api/v1/namespaces/foo/status addresses the Namespace foo, not a resource
// called "status" in namespace foo.
var namespaceSubresources = map[string]bool{"status": true, "finalize": true}

// Parse classifies a request by method and URL. It never fails: anything it
// cannot place is a non-resource request, which callers forward unchanged.
func Parse(method string, u *url.URL) Info {
	info := Info{Verb: strings.ToLower(method)}
	parts := splitPath(u.Path)
	switch {
	case len(parts) >= 3 && parts[0] == "apis":
		info.Group, info.Version, parts = parts[1], parts[2], parts[3:]
	case len(parts) >= 2 && parts[0] == "api":
		info.Version, parts = parts[1], parts[2:]
	default:
		return info
	}
	// The API server reads a leading "watch" or "proxy" segment as the verb,
	// whatever the method.
	var pathVerb string
	if len(parts) > 0 && (parts[0] == VerbWatch || parts[0] == VerbProxy) {
		pathVerb, parts = parts[0], parts[1:]
	}
	if len(parts) == 0 {
		// /api/v1 and /apis/<group>/<version> are discovery documents.
		return info
	}
	if parts[0] == "namespaces" && len(parts) > 1 {
		info.Namespace = parts[1]
		if len(parts) > 2 && !namespaceSubresources[parts[2]] {
			parts = parts[2:]
		}
	}
	info.Resource = true
	info.Plural = parts[0]
	if len(parts) > 1 {
		info.Name = parts[1]
	}
	if len(parts) > 2 && pathVerb != VerbProxy {
		info.Subresource = parts[2]
	}
	if info.Group == "" && info.Plural == "namespaces" {
		// A Namespace object is cluster-scoped; its name is not a namespace
		// the request is made in.
		info.Namespace = ""
	}
	info.Verb = pathVerb
	if info.Verb == "" {
		info.Verb = verb(method, info.Name, u)
	}
	return info
}

func verb(method, name string, u *url.URL) string {
	switch method {
	case http.MethodGet, http.MethodHead:
		switch {
		case name != "":
			// The API server ignores ?watch on a named GET: it answers the object.
			return VerbGet
		case watchParam(u.Query()):
			return VerbWatch
		default:
			return VerbList
		}
	case http.MethodPost:
		return VerbCreate
	case http.MethodPut:
		return VerbUpdate
	case http.MethodPatch:
		return VerbPatch
	case http.MethodDelete:
		if name == "" {
			return VerbDeleteCollection
		}
		return VerbDelete
	default:
		return strings.ToLower(method)
	}
}

// Mutating reports whether the verb changes stored objects.
func Mutating(verb string) bool {
	switch verb {
	case VerbCreate, VerbUpdate, VerbPatch, VerbDelete, VerbDeleteCollection:
		return true
	}
	return false
}

// watchParam reports whether the API server treats a GET of a collection
// with query q as a watch. It reads the first "watch" value, as the API
// server does: absent, "0" and "false" in any case are a list; anything else,
// "" and "no" included, is a watch (k8s.io/apimachinery's
// Convert_Slice_string_To_bool, and the request-info resolver's fallback when
// the other list options do not decode). The one value the two paths disagree
// on, a Unicode case-folding of "false" such as "falſe", is a watch here: a
// list answered as a watch is only not served from the cache, a watch
// answered as a list would be.
func watchParam(q url.Values) bool {
	vs := q["watch"]
	if len(vs) == 0 {
		return false
	}
	return vs[0] != "0" && strings.ToLower(vs[0]) != "false"
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}
