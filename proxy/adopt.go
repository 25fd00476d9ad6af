package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/mcrouter-operator/mcrouter-operator/proxy/internal/owner"
	"github.com/mcrouter-operator/mcrouter-operator/proxy/internal/reqinfo"
)

// A PUT or a server-side apply writes an object whether or not it exists, so
// linking its body to the run's owner would adopt an object the operator
// never created: a CR named after someone else's ConfigMap, and a role that
// replaces or applies it, would have garbage collection delete that
// ConfigMap with the CR. The proxy therefore links such a write only when the
// object is already linked to this owner, and links an object such a write
// creates afterwards, once the API server has answered 201 Created.
//
// It asks the API server, not the cache: a cache that lags would show an
// object linked that no longer is, or absent when it was just created.

// maxLinkAttempts bounds the retries of the patch that links a created
// object when others keep changing it.
const maxLinkAttempts = 5

// linkNow decides whether the body of a PUT or server-side apply gets the
// owner link before it is forwarded:
//   - the object is linked to this owner already: yes, and the body carries
//     the object's UID, so that the write fails (409/422) rather than adopt
//     an object that replaced it since;
//   - the object does not exist: not now; the write is forwarded as it is
//     and linked once the API server answers that it created it (a write
//     that finds an object someone created in between only updates it). A
//     dry run, which stores nothing, is linked at once;
//   - the object exists and is not linked to this owner: never.
func (p *Proxy) linkNow(ctx context.Context, ex *exchange, obj map[string]any) (bool, error) {
	if obj == nil {
		return true, nil // refused by inject: the body cannot be linked
	}
	if ex.info.Name == "" {
		return false, nil // the API server refuses a PUT or PATCH without a name
	}
	cur, err := p.getObject(ctx, ex.info)
	if err != nil {
		return false, fmt.Errorf("look up %s %s before linking it to %s: %w",
			ex.gvk.Kind, objectName(ex.info), ex.cred.session.Owner, err)
	}
	switch {
	case cur == nil:
		ex.linkCreated = !ex.dryRun
		return ex.dryRun, nil
	case owner.Links(cur, ex.cred.session.Owner.ref()) != owner.None:
		requireUID(obj, (&unstructured.Unstructured{Object: cur}).GetUID())
		return true, nil
	default:
		p.opts.Log.V(1).Info("not linking an object the run did not create", "gvk", ex.gvk.String(),
			"namespace", ex.info.Namespace, "name", ex.info.Name, "owner", ex.cred.session.Owner.String())
		return false, nil
	}
}

// requireUID makes a write apply only to the object with uid, unless the
// body names a UID itself.
func requireUID(obj map[string]any, uid types.UID) {
	md, ok := obj["metadata"].(map[string]any)
	if !ok {
		if obj["metadata"] != nil {
			return // malformed: Mark reports it
		}
		md = map[string]any{}
		obj["metadata"] = md
	}
	if _, set := md["uid"]; !set {
		md["uid"] = string(uid)
	}
}

// linkCreatedObject links the object a forwarded PUT or server-side apply
// created, with a merge patch bound to the created object's resourceVersion
// (re-read on conflict, as long as it is the same object). On success resp
// carries the patched object in place of the created one and the returned
// object is it; an object deleted or replaced in between is left alone. If
// the link cannot be added, the created object is deleted again and the
// error is returned: the write fails as a whole, and the role's next attempt
// creates it anew.
func (p *Proxy) linkCreatedObject(resp *http.Response, ex *exchange, created map[string]any) (map[string]any, error) {
	ctx := resp.Request.Context()
	ref := ex.cred.session.Owner.ref()
	cur := created
	var err error
	if cur == nil {
		if cur, err = p.getObject(ctx, ex.info); err != nil || cur == nil {
			return nil, p.undoCreate(ctx, ex, "", err)
		}
	}
	uid := (&unstructured.Unstructured{Object: cur}).GetUID()
	for attempt := 1; ; attempt++ {
		if cur == nil || (&unstructured.Unstructured{Object: cur}).GetUID() != uid {
			return created, nil // deleted or replaced by someone else meanwhile
		}
		if owner.Links(cur, ref) != owner.None {
			if attempt > 1 { // read back, linked meanwhile: answer with it
				if data, err := json.Marshal(cur); err == nil {
					replaceBody(resp, answer{contentType: "application/json", data: data})
				}
			}
			return cur, nil
		}
		ans, err := p.patchLink(ctx, ex, resp.Request, cur)
		switch {
		case err == nil:
			replaceBody(resp, ans)
			return p.decodeBody(mediaType(ans.contentType), ans.data), nil
		case apierrors.IsNotFound(err):
			return created, nil
		case apierrors.IsConflict(err) && attempt < maxLinkAttempts:
			if cur, err = p.getObject(ctx, ex.info); err != nil {
				return nil, p.undoCreate(ctx, ex, uid, err)
			}
		default:
			return nil, p.undoCreate(ctx, ex, uid, err)
		}
	}
}

// patchLink sends the merge patch that links cur as the role's own field
// manager (the fieldManager parameter, else the User-Agent of the role's
// write, out) and in a media type the role accepts.
func (p *Proxy) patchLink(ctx context.Context, ex *exchange, out *http.Request, cur map[string]any) (answer, error) {
	u := &unstructured.Unstructured{Object: cur}
	md, err := owner.LinkPatch(cur, ex.cred.session.Owner.ref(), ex.info.Namespace, ex.namespaced)
	if err != nil {
		return answer{}, err
	}
	md["uid"], md["resourceVersion"] = string(u.GetUID()), u.GetResourceVersion()
	body, err := json.Marshal(map[string]any{"metadata": md})
	if err != nil {
		return answer{}, err
	}
	q := url.Values{}
	if fm := out.URL.Query().Get("fieldManager"); fm != "" {
		q.Set("fieldManager", fm)
	}
	h := http.Header{"Content-Type": {string(types.MergePatchType)}}
	for _, k := range []string{"Accept", "User-Agent"} {
		if v := out.Header.Values(k); len(v) > 0 {
			h[k] = v
		}
	}
	return p.call(ctx, http.MethodPatch, ex.info, q, h, body)
}

// undoCreate deletes the object the run created (only that one: a UID
// precondition) after linking it failed with cause, and returns the error
// the run gets.
func (p *Proxy) undoCreate(ctx context.Context, ex *exchange, uid types.UID, cause error) error {
	if cause == nil {
		cause = errors.New("it is gone")
	}
	what := fmt.Sprintf("%s %s", ex.gvk.Kind, objectName(ex.info))
	if uid == "" {
		return fmt.Errorf("created %s but could not read it back to link it to %s: %w", what, ex.cred.session.Owner, cause)
	}
	body, err := json.Marshal(metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err == nil {
		_, err = p.call(ctx, http.MethodDelete, ex.info, nil, http.Header{"Content-Type": {"application/json"}}, body)
	}
	switch {
	case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
		return fmt.Errorf("created %s but could not link it to %s (%w); it has been deleted or replaced since",
			what, ex.cred.session.Owner, cause)
	case err != nil:
		return fmt.Errorf("created %s but could not link it to %s (%w), nor delete it again: %v",
			what, ex.cred.session.Owner, cause, err)
	}
	return fmt.Errorf("created %s but could not link it to %s, so deleted it again: %w", what, ex.cred.session.Owner, cause)
}

// answer is a successful answer of the API server to the proxy's own request.
type answer struct {
	contentType string
	data        []byte
}

// getObject reads the object a request addresses with the operator's
// credentials: nil when it does not exist.
func (p *Proxy) getObject(ctx context.Context, info reqinfo.Info) (map[string]any, error) {
	ans, err := p.call(ctx, http.MethodGet, info, nil, http.Header{"Accept": {"application/json"}}, nil)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	obj := decodeObject(ans.data)
	if obj == nil {
		return nil, fmt.Errorf("the API server answered with no object: %.200q", ans.data)
	}
	return obj, nil
}

// call sends one request about the object info addresses to the API server.
// An answer other than 2xx is an error that apierrors classifies.
func (p *Proxy) call(ctx context.Context, method string, info reqinfo.Info, q url.Values, h http.Header,
	body []byte) (answer, error) {
	u := *p.target
	u.Path, u.RawPath = objectPath(p.target.Path, info, false), objectPath(p.target.EscapedPath(), info, true)
	u.RawQuery = q.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return answer{}, err
	}
	req.Header = h
	resp, err := p.upstream.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	if err != nil {
		return answer{}, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		st := &metav1.Status{}
		if json.Unmarshal(data, st) != nil || st.Kind != "Status" {
			st = &metav1.Status{Code: int32(resp.StatusCode), Message: fmt.Sprintf("%s %s: status %d: %.200q",
				method, u.Path, resp.StatusCode, data), Reason: reasonFor(resp.StatusCode)}
		}
		return answer{}, &apierrors.StatusError{ErrStatus: *st}
	}
	return answer{contentType: resp.Header.Get("Content-Type"), data: data}, nil
}

// objectPath is the path of the object info addresses under base, each
// segment escaped when escaped is true.
func objectPath(base string, info reqinfo.Info, escaped bool) string {
	segs := []string{"api", info.Version}
	if info.Group != "" {
		segs = []string{"apis", info.Group, info.Version}
	}
	if info.Namespace != "" {
		segs = append(segs, "namespaces", info.Namespace)
	}
	segs = append(segs, info.Plural, info.Name)
	if escaped {
		for i, s := range segs {
			segs[i] = url.PathEscape(s)
		}
	}
	return strings.TrimSuffix(base, "/") + "/" + strings.Join(segs, "/")
}

func objectName(info reqinfo.Info) string {
	if info.Namespace == "" {
		return info.Name
	}
	return info.Namespace + "/" + info.Name
}

// replaceBody makes resp carry ans, keeping its status code.
func replaceBody(resp *http.Response, ans answer) {
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(ans.data))
	resp.ContentLength = int64(len(ans.data))
	resp.Header.Set("Content-Length", strconv.Itoa(len(ans.data)))
	resp.Header.Set("Content-Type", ans.contentType)
	resp.Header.Del("Content-Encoding")
}
