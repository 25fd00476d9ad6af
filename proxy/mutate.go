package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"

	"github.com/mcrouter-operator/mcrouter-operator/proxy/internal/owner"
	"github.com/mcrouter-operator/mcrouter-operator/proxy/internal/reqinfo"
)

var errBodyTooLarge = errors.New("request body too large")

// maxBodyBytes bounds the request bodies the proxy reads to inject owner
// links; the API server itself refuses bodies over 3 MiB.
const maxBodyBytes = 16 << 20

// resolve maps the request's resource to its kind and scope. Requests for
// resources the mapper does not know stay unmapped and are forwarded as they
// are.
func (p *Proxy) resolve(ex *exchange) {
	if !ex.info.Resource {
		return
	}
	gvk, err := p.opts.Mapper.KindFor(ex.info.GroupVersionResource())
	if err != nil {
		return
	}
	m, err := p.opts.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return
	}
	ex.mapped, ex.gvk, ex.namespaced = true, gvk, m.Scope.Name() == meta.RESTScopeNameNamespace
}

// prepare decides what the proxy will do with the response and, for creates,
// updates and server-side applies of a resource, links the body to the run's
// owner (updates and applies only as linkNow allows). It returns an HTTP
// status with an error the client should see.
func (p *Proxy) prepare(req *http.Request, ex *exchange) (int, error) {
	info := ex.info
	ex.dryRun = req.URL.Query().Has("dryRun")
	mutating := reqinfo.Mutating(info.Verb)
	switch {
	case mutating:
		ex.inspect = !ex.dryRun
	case info.Verb == reqinfo.VerbGet && info.Subresource == "" && ex.mapped:
		// What the run finds in place is recorded (Read) and may reveal a
		// dependent kind to watch.
		ex.inspect = true
	}
	if !mutating || req.Body == nil || req.Body == http.NoBody {
		return 0, nil
	}
	ex.contentType = mediaType(req.Header.Get("Content-Type"))
	inject := p.opts.InjectOwnerRef && ex.mapped && info.Subresource == "" &&
		(info.Verb == reqinfo.VerbCreate || info.Verb == reqinfo.VerbUpdate ||
			// Every apply media type: one the proxy cannot decode is refused
			// rather than forwarded without the owner.
			(info.Verb == reqinfo.VerbPatch && isApply(ex.contentType)))
	if !inject && !ex.inspect {
		return 0, nil
	}
	data, err := readBody(req)
	if errors.Is(err, errBodyTooLarge) {
		return http.StatusRequestEntityTooLarge, fmt.Errorf("proxy: %s %s: body over %d bytes",
			req.Method, req.URL.Path, maxBodyBytes)
	}
	if err != nil {
		return http.StatusBadRequest, fmt.Errorf("proxy: %s %s: read body: %w", req.Method, req.URL.Path, err)
	}
	obj := p.decodeBody(ex.contentType, data)
	if inject && info.Verb != reqinfo.VerbCreate {
		// A PUT or server-side apply may write an object that exists.
		if inject, err = p.linkNow(req.Context(), ex, obj); err != nil {
			return http.StatusBadGateway, fmt.Errorf("proxy: %s %s: %w", req.Method, req.URL.Path, err)
		}
	}
	if inject {
		if data, err = p.inject(ex, obj); err != nil {
			code := http.StatusBadRequest
			if obj == nil {
				code = http.StatusUnsupportedMediaType
			}
			return code, fmt.Errorf("proxy: %s %s: %w", req.Method, req.URL.Path, err)
		}
		if ex.contentType == protobuf {
			// The body is JSON now; the answer stays in the media type the
			// client accepts.
			ex.contentType = "application/json"
			req.Header.Set("Content-Type", ex.contentType)
		}
	}
	ex.body = obj
	req.Body = io.NopCloser(bytes.NewReader(data))
	req.ContentLength = int64(len(data))
	req.TransferEncoding = nil
	req.Header.Del("Content-Length")
	return 0, nil
}

// inject links obj to the run's owner and returns the new body.
func (p *Proxy) inject(ex *exchange, obj map[string]any) ([]byte, error) {
	if obj == nil {
		return nil, fmt.Errorf("cannot add the owner reference to a %q body; send an application/json object "+
			"(YAML or JSON for server-side apply, protobuf for built-in kinds)", ex.contentType)
	}
	if _, err := owner.Mark(obj, ex.cred.session.Owner.ref(), ex.info.Namespace, ex.namespaced); err != nil {
		return nil, fmt.Errorf("add owner of %s to %s: %w", ex.cred.session.Owner, ex.gvk.Kind, err)
	}
	if len(ex.cred.session.Labels) > 0 {
		u := &unstructured.Unstructured{Object: obj}
		lbl, _, err := unstructured.NestedStringMap(obj, "metadata", "labels")
		if err != nil {
			return nil, fmt.Errorf("metadata.labels of %s: %w", ex.gvk.Kind, err)
		}
		if lbl == nil {
			lbl = map[string]string{}
		}
		maps.Copy(lbl, ex.cred.session.Labels)
		u.SetLabels(lbl)
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode %s with owner: %w", ex.gvk.Kind, err)
	}
	return data, nil
}

// isApply reports whether a PATCH of mediaType is a server-side apply, in
// any of the apply media types (YAML, CBOR, ...).
func isApply(mediaType string) bool { return strings.HasPrefix(mediaType, "application/apply-patch") }

const (
	applyPatch = string(types.ApplyPatchType)
	jsonPatch  = string(types.JSONPatchType)
	protobuf   = runtime.ContentTypeProtobuf
)

func mediaType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return contentType
	}
	return mt
}

func readBody(req *http.Request) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(req.Body, maxBodyBytes+1))
	_ = req.Body.Close()
	if err != nil {
		return nil, err
	}
	if len(data) > maxBodyBytes {
		return nil, errBodyTooLarge
	}
	return data, nil
}

// decodeBody decodes a JSON object body, a YAML one for server-side apply,
// or a protobuf one of a built-in kind. Anything else (JSON-patch lists,
// CBOR) is nil.
func (p *Proxy) decodeBody(contentType string, data []byte) map[string]any {
	switch contentType {
	case applyPatch:
		j, err := yaml.YAMLToJSON(data)
		if err != nil {
			return nil
		}
		return decodeObject(j)
	case jsonPatch:
		return nil
	case protobuf:
		return p.decodeProtobuf(data)
	case "application/json", "application/merge-patch+json", "application/strategic-merge-patch+json", "":
		return decodeObject(data)
	}
	return nil
}

// decodeProtobuf decodes a protobuf-encoded object of a built-in kind.
func (p *Proxy) decodeProtobuf(data []byte) map[string]any {
	obj, gvk, err := p.protobuf.Decode(data, nil, nil)
	if err != nil {
		return nil
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil
	}
	m["apiVersion"], m["kind"] = gvk.GroupVersion().String(), gvk.Kind
	return m
}

// decodeObject decodes a JSON object keeping integers as int64, so that
// re-encoding does not round large numbers.
func decodeObject(data []byte) map[string]any {
	var obj map[string]any
	if err := utiljson.Unmarshal(data, &obj); err != nil {
		return nil
	}
	return obj
}

// afterSuccess runs once the API server accepted a request.
func (p *Proxy) afterSuccess(ctx context.Context, ex *exchange, obj map[string]any) {
	info := ex.info
	if reqinfo.Mutating(info.Verb) && !ex.dryRun {
		ex.cred.recordWrite(ex, obj)
	}
	if info.Verb == reqinfo.VerbGet && info.Subresource == "" {
		ex.cred.recordRead(ex, obj)
	}
	switch info.Verb {
	case reqinfo.VerbCreate, reqinfo.VerbUpdate, reqinfo.VerbPatch, reqinfo.VerbGet:
		if obj != nil && info.Subresource == "" && isKind(obj, ex.gvk) {
			p.noteDependent(ctx, ex, obj)
		}
	}
}

func isKind(obj map[string]any, gvk schema.GroupVersionKind) bool {
	kind, _ := obj["kind"].(string)
	return gvk.Kind != "" && kind == gvk.Kind
}

// recordWrite appends the write and remembers the object's new
// resourceVersion, so reads of it by this run bypass a cache that lags.
func (c *Credential) recordWrite(ex *exchange, obj map[string]any) {
	info := ex.info
	w := Write{
		GVK: ex.gvk, Namespace: info.Namespace, Name: info.Name, Subresource: info.Subresource,
		Verb: WriteVerb(info.Verb), ContentType: ex.contentType, Body: ex.body, Created: ex.created,
	}
	switch info.Verb {
	case reqinfo.VerbPatch:
		if isApply(ex.contentType) {
			w.Verb = VerbApply
		}
	case reqinfo.VerbDelete, reqinfo.VerbDeleteCollection:
		w.Body = nil // DeleteOptions, not an object
	}
	key := objectKey{resource: schema.GroupResource{Group: info.Group, Resource: info.Plural},
		namespace: info.Namespace, name: info.Name}
	version := tombstone // unknown: reads of it go to the API server
	if info.Subresource == "token" {
		version = "" // a TokenRequest leaves its ServiceAccount unchanged
	}
	if obj != nil && isKind(obj, ex.gvk) {
		w.Object = &unstructured.Unstructured{Object: obj}
		if w.Name == "" {
			w.Name = w.Object.GetName()
			key.name = w.Name
		}
		if v := w.Object.GetResourceVersion(); v != "" {
			version = v
		}
	}
	c.record(w, key, version)
}
