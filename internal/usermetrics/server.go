package usermetrics

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
)

// Server serves the Handler on its loopback address. It implements
// manager.Runnable.
type Server struct {
	listener net.Listener
	server   *http.Server
	log      logr.Logger
	started  atomic.Bool
}

// New validates opts and binds the listener, so that Addr is known and a
// taken port fails at start-up; it does not serve until Start.
func New(opts Options) (*Server, error) {
	h, err := NewHandler(opts)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", h.opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("user metrics listen on %s: %w; choose another address or disable the endpoint", h.opts.Addr, err)
	}
	return &Server{
		listener: l,
		log:      h.opts.Log,
		server: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          log.New(logWriter{h.opts.Log}, "", 0),
		},
	}, nil
}

// Addr returns the bound host:port.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Start serves until ctx ends.
func (s *Server) Start(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("user metrics endpoint already started")
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	defer func() {
		close(stop)
		<-done
	}()
	go func() {
		defer close(done)
		select {
		case <-ctx.Done():
		case <-stop:
		}
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := s.server.Shutdown(shutdownCtx); err != nil {
			_ = s.server.Close()
		}
	}()
	s.log.Info("serving user metrics", "addr", "http://"+s.Addr()+Path)
	err := s.server.Serve(s.listener)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("user metrics serve on %s: %w", s.Addr(), err)
}

// NeedLeaderElection is false: a replica that does not lead runs no role,
// but serving costs nothing and keeps the endpoint's life simple.
func (s *Server) NeedLeaderElection() bool { return false }

// logWriter sends net/http's own error lines to the logger.
type logWriter struct{ log logr.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.log.V(1).Info("http server error", "error", strings.TrimSpace(string(p)))
	return len(p), nil
}
