package proxy

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
)

// statusClientClosed is logged for requests whose client went away.
const statusClientClosed = 499

// newForwarder builds the reverse proxy to the API server. Upgrade requests
// (exec, attach, port-forward) use their own HTTP/1.1-only transport: an
// upgrade cannot ride on an HTTP/2 connection.
func (p *Proxy) newForwarder() (*httputil.ReverseProxy, error) {
	target := p.target
	plain, err := rest.TransportFor(p.opts.Upstream)
	if err != nil {
		return nil, fmt.Errorf("proxy transport to %s: %w", target, err)
	}
	h1 := rest.CopyConfig(p.opts.Upstream)
	h1.NextProtos = []string{"http/1.1"}
	upgrade, err := rest.TransportFor(h1)
	if err != nil {
		return nil, fmt.Errorf("proxy upgrade transport to %s: %w", target, err)
	}
	return &httputil.ReverseProxy{
		Rewrite:        func(pr *httputil.ProxyRequest) { rewrite(pr, target) },
		Transport:      upgradeSplitter{plain: plain, upgrade: upgrade},
		FlushInterval:  -1, // watches and logs stream event by event
		ModifyResponse: p.inspectResponse,
		ErrorHandler:   p.forwardError,
		ErrorLog:       log.New(logWriter{p.opts.Log}, "", 0),
		BufferPool:     &bufferPool{},
	}, nil
}

// bufferPool reuses the copy buffers of responses: without one the
// ReverseProxy allocates 32 KiB for every request, most of the proxy's garbage.
type bufferPool struct{ pool sync.Pool }

var _ httputil.BufferPool = (*bufferPool)(nil)

func (b *bufferPool) Get() []byte {
	if buf, ok := b.pool.Get().(*[]byte); ok {
		return *buf
	}
	return make([]byte, 32*1024)
}

func (b *bufferPool) Put(buf []byte) { b.pool.Put(&buf) }

func rewrite(pr *httputil.ProxyRequest, target *url.URL) {
	pr.SetURL(target)
	pr.Out.Header.Del("Authorization")
	stripImpersonation(pr.Out.Header)
	if ex := exchangeFrom(pr.In.Context()); ex != nil && ex.inspect {
		// Let the transport negotiate compression itself, so the body it hands
		// back is plain and can be decoded.
		pr.Out.Header.Del("Accept-Encoding")
	}
}

// stripImpersonation removes every Impersonate-* header (User, Group, Uid,
// Extra-<key>): requests go out with the operator's credentials, which may
// hold the right to impersonate, and a role must act as the operator, never
// as someone the operator could become. Impersonation the operator's own
// rest.Config asks for is added later, by its transport.
func stripImpersonation(h http.Header) {
	for k := range h {
		if len(k) >= len(impersonatePrefix) && strings.EqualFold(k[:len(impersonatePrefix)], impersonatePrefix) {
			delete(h, k)
		}
	}
}

const impersonatePrefix = "Impersonate-"

type upgradeSplitter struct {
	plain, upgrade http.RoundTripper
}

func (u upgradeSplitter) RoundTrip(req *http.Request) (*http.Response, error) {
	if isUpgrade(req.Header) {
		return u.upgrade.RoundTrip(req)
	}
	return u.plain.RoundTrip(req)
}

func isUpgrade(h http.Header) bool {
	for _, v := range h.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

// forwardError answers when the API server could not be reached.
func (p *Proxy) forwardError(w http.ResponseWriter, req *http.Request, err error) {
	if req.Context().Err() != nil {
		// The client went away or the run was released; nobody reads an answer.
		if rec, ok := w.(*recorder); ok && rec.status == 0 {
			rec.status = statusClientClosed
		}
		return
	}
	p.opts.Log.Error(err, "forward request", "method", req.Method, "path", req.URL.Path)
	respondStatus(w, http.StatusBadGateway, fmt.Sprintf("proxy: forward %s %s to the API server: %v",
		req.Method, req.URL.Path, err))
}

// inspectResponse decodes successful JSON answers to requests that need it:
// writes are recorded on the credential, and owned objects register
// dependent watches before the answer reaches the client.
func (p *Proxy) inspectResponse(resp *http.Response) error {
	ex := exchangeFrom(resp.Request.Context())
	if ex == nil || !ex.inspect || resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil
	}
	var obj map[string]any
	switch mt := mediaType(resp.Header.Get("Content-Type")); {
	case resp.Header.Get("Content-Encoding") != "":
	case mt == "application/json" || mt == protobuf:
		data, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("read API server response: %w", err)
		}
		obj = p.decodeBody(mt, data)
	}
	ex.created = resp.StatusCode == http.StatusCreated && !ex.dryRun
	if ex.linkCreated && resp.StatusCode == http.StatusCreated {
		linked, err := p.linkCreatedObject(resp, ex, obj)
		if err != nil {
			return err
		}
		obj = linked
	}
	p.afterSuccess(resp.Request.Context(), ex, obj)
	return nil
}

// logWriter turns the reverse proxy's own messages (mostly clients that hung
// up mid-stream) into debug log lines.
type logWriter struct{ log logr.Logger }

func (w logWriter) Write(b []byte) (int, error) {
	w.log.V(1).Info("forward", "message", strings.TrimSpace(string(b)))
	return len(b), nil
}
