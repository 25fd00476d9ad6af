package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/mcrouter-operator/mcrouter-operator/proxy/internal/reqinfo"
)

// Proxy is the HTTP server Ansible runs talk to instead of the API server.
type Proxy struct {
	opts     Options
	listener net.Listener
	server   *http.Server
	forward  *httputil.ReverseProxy
	// upstream and target reach the API server with the operator's
	// credentials for the proxy's own requests (see adopt.go).
	upstream *http.Client
	target   *url.URL
	caPEM    []byte // the serving certificate, trusted by every kubeconfig
	protobuf runtime.Decoder

	started atomic.Bool
	serving atomic.Bool

	requests *prometheus.CounterVec // nil without Options.Metrics

	mu          sync.Mutex
	credentials map[string]*Credential
	watches     map[watchKey]bool
}

var (
	_ manager.Runnable               = (*Proxy)(nil)
	_ manager.LeaderElectionRunnable = (*Proxy)(nil)
	_ http.Handler                   = (*Proxy)(nil)
)

// New validates opts and binds the listener, so Addr is known at once. It
// does not serve until Start.
func New(opts Options) (*Proxy, error) {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	p := &Proxy{
		opts:        opts,
		credentials: map[string]*Credential{},
		watches:     map[watchKey]bool{},
		protobuf:    serializer.NewCodecFactory(clientgoscheme.Scheme).UniversalDeserializer(),
	}
	if err := p.registerMetrics(); err != nil {
		return nil, err
	}
	var err error
	if p.target, _, err = rest.DefaultServerUrlFor(opts.Upstream); err != nil {
		return nil, fmt.Errorf("proxy upstream %q: %w", opts.Upstream.Host, err)
	}
	if p.upstream, err = rest.HTTPClientFor(opts.Upstream); err != nil {
		return nil, fmt.Errorf("proxy client of %s: %w", p.target, err)
	}
	if p.forward, err = p.newForwarder(); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("proxy listen on %s: %w; choose another address or port", opts.Addr, err)
	}
	p.listener = l
	var ip net.IP
	if tcp, ok := l.Addr().(*net.TCPAddr); ok {
		ip = tcp.IP
	}
	cert, caPEM, err := selfSigned(ip)
	if err != nil {
		_ = l.Close()
		return nil, err
	}
	p.caPEM = caPEM
	p.server = &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 30 * time.Second,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ErrorLog:          log.New(logWriter{opts.Log}, "", 0),
	}
	return p, nil
}

// Addr returns the bound host:port.
func (p *Proxy) Addr() string {
	return p.listener.Addr().String()
}

// kubeconfigServer is the URL runs reach the proxy at: the bound address,
// with a wildcard host replaced by loopback.
func (p *Proxy) kubeconfigServer() string {
	tcp, ok := p.listener.Addr().(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return "https://" + p.Addr()
	}
	host := "127.0.0.1"
	if tcp.IP.To4() == nil {
		host = "::1"
	}
	return "https://" + net.JoinHostPort(host, fmt.Sprint(tcp.Port))
}

// Start serves until ctx ends, then shuts down: requests in flight, watches
// and exec streams included, are cancelled. It implements manager.Runnable.
func (p *Proxy) Start(ctx context.Context) error {
	if !p.started.CompareAndSwap(false, true) {
		return errors.New("proxy already started")
	}
	p.server.BaseContext = func(net.Listener) context.Context { return ctx }
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := make(chan struct{})
	defer close(stop)
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
		case <-stop:
		}
		p.serving.Store(false)
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := p.server.Shutdown(shutdownCtx); err != nil {
			_ = p.server.Close()
		}
	}()
	p.serving.Store(true)
	p.opts.Log.Info("serving", "addr", p.Addr())
	err := p.server.ServeTLS(p.listener, "", "")
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("proxy serve on %s: %w", p.Addr(), err)
}

// NeedLeaderElection is false: followers serve too, so the proxy is ready
// before the controllers that use it win the election.
func (p *Proxy) NeedLeaderElection() bool { return false }

// Listening reports whether the proxy is serving.
func (p *Proxy) Listening() bool {
	return p.serving.Load()
}

// ReadyzCheck is a healthz.Checker for the manager's AddReadyzCheck.
func (p *Proxy) ReadyzCheck(_ *http.Request) error {
	if !p.Listening() {
		return fmt.Errorf("proxy on %s is not serving", p.Addr())
	}
	return nil
}

// ServeHTTP authenticates the run, then answers from the cache or forwards
// to the API server.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rec := &recorder{ResponseWriter: w}
	ex := &exchange{start: time.Now(), info: reqinfo.Parse(req.Method, req.URL)}
	defer p.logRequest(req, rec, ex)
	cred, err := p.authenticate(req)
	if err != nil {
		respondStatus(rec, http.StatusUnauthorized, err.Error())
		return
	}
	ex.cred = cred
	ctx, cancel := context.WithCancel(req.Context())
	defer cancel()
	// Release cancels the request; the deferred call unregisters that.
	defer cred.whenReleased(cancel)()
	req = req.WithContext(withExchange(ctx, ex))
	req.Header.Del("Authorization")
	p.resolve(ex)
	if p.serveFromCache(rec, req, ex) {
		return
	}
	if code, err := p.prepare(req, ex); err != nil {
		respondStatus(rec, code, err.Error())
		return
	}
	p.forward.ServeHTTP(rec, req)
}

func (p *Proxy) logRequest(req *http.Request, rec *recorder, ex *exchange) {
	var who string
	if ex.cred != nil {
		who = ex.cred.session.Owner.String()
	}
	cache := ex.cache
	if cache == "" {
		cache = "bypass"
	}
	p.opts.Log.V(1).Info("request", "method", req.Method, "path", req.URL.Path, "owner", who,
		"cache", cache, "status", rec.code(), "duration", time.Since(ex.start).String())
	if p.requests != nil {
		p.requests.WithLabelValues(req.Method, cache, strconv.Itoa(rec.code())).Inc()
	}
}

// registerMetrics counts proxied requests by method, cache outcome (hit,
// miss, bypass) and status code, so the API calls of roles can be measured.
func (p *Proxy) registerMetrics() error {
	if p.opts.Metrics == nil {
		return nil
	}
	p.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ansible_operator_proxy_requests_total",
		Help: "Requests the roles made through the proxy, by method, cache outcome and status code.",
	}, []string{"method", "cache", "code"})
	if err := p.opts.Metrics.Register(p.requests); err != nil {
		return fmt.Errorf("register proxy metrics: %w", err)
	}
	return nil
}
