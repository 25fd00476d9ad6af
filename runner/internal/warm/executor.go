package warm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// Options configure an Executor.
type Options struct {
	// Python is the interpreter of the server; it must be the one that
	// runs ansible-runner and ansible-playbook. Required.
	Python string
	// Dir holds the server's script and compiled templates and is its
	// working dir; created with mode 0700 when a server starts. Required.
	Dir string
	// TempDir is emptied and created (mode 0700) before each server
	// starts, for Env to name as its temp dir: what a server killed with
	// SIGKILL leaves there goes with the next start. Default: none.
	TempDir string
	// Env is the server's environment. Default: none.
	Env []string
	// MaxRuns recycles a server after it forked that many runs. Default:
	// DefaultMaxRuns.
	MaxRuns int
	// MaxGrowth recycles a server whose resident memory grew by more than
	// this factor since it was ready. Default: 2.
	MaxGrowth float64
	// StartTimeout bounds the start of a server, imports included.
	// Default: DefaultStartTimeout.
	StartTimeout time.Duration
	// ForkTimeout bounds the wait for the server to fork a run; a server
	// that does not is replaced. Default: DefaultForkTimeout.
	ForkTimeout time.Duration
	// Retry is how long the Executor waits after a server failed to start
	// before it starts another. Default: 30s.
	Retry time.Duration
	// Log receives the server's own output and its restarts.
	Log logr.Logger
}

// Defaults of Options.
const (
	DefaultMaxRuns      = 500
	DefaultStartTimeout = 2 * time.Minute
	DefaultForkTimeout  = 30 * time.Second
)

func (o *Options) setDefaults() {
	if o.MaxRuns <= 0 {
		o.MaxRuns = DefaultMaxRuns
	}
	if o.MaxGrowth <= 1 {
		o.MaxGrowth = 2
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if o.ForkTimeout <= 0 {
		o.ForkTimeout = DefaultForkTimeout
	}
	if o.Retry <= 0 {
		o.Retry = 30 * time.Second
	}
}

// ErrUnavailable is returned by Start when no server runs and none can be
// started now; the caller runs the ordinary way.
var ErrUnavailable = errors.New("warm executor unavailable")

// Executor keeps one warm server running and forks runs from it: it starts
// the server on first use (or Prestart), replaces it when it dies, and
// recycles it after Options.MaxRuns runs or when its memory grows, letting
// the runs in flight on the old one finish. It is safe for concurrent use.
type Executor struct {
	opts Options

	mu        sync.Mutex
	cur       *server
	rss0      int64     // cur's resident bytes when ready
	failed    time.Time // last failed start
	failedErr error
	closed    bool
	starting  chan struct{} // non-nil while a start is in progress
	retiring  sync.WaitGroup
}

// New returns an Executor; no process starts until Prestart or Start.
func New(opts Options) (*Executor, error) {
	opts.setDefaults()
	if opts.Python == "" || opts.Dir == "" {
		return nil, errors.New("warm executor: python and dir are required")
	}
	return &Executor{opts: opts}, nil
}

// Prestart starts a server now, so that the first run finds it warm. It
// returns when the server is ready or failed (the failure is logged and
// returned; runs fall back until Options.Retry has passed).
func (e *Executor) Prestart(ctx context.Context) error {
	_, err := e.server(ctx)
	return err
}

// Start forks req from the warm server. ErrUnavailable (wrapped) means
// nothing was started and the caller should run the ordinary way.
func (e *Executor) Start(ctx context.Context, req Request) (*Proc, error) {
	s, err := e.server(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	p, err := s.start(ctx, req, e.opts.ForkTimeout)
	if err != nil {
		if ctx.Err() == nil {
			e.opts.Log.Error(err, "warm executor failed; replacing it")
		}
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return p, nil
}

// server returns a live server, starting one when there is none.
func (e *Executor) server(ctx context.Context) (*server, error) {
	for {
		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			return nil, errors.New("closed")
		}
		if s := e.usable(); s != nil {
			e.mu.Unlock()
			return s, nil
		}
		if wait := e.starting; wait != nil {
			e.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, context.Cause(ctx)
			}
		}
		if !e.failed.IsZero() && time.Since(e.failed) < e.opts.Retry {
			err := e.failedErr
			e.mu.Unlock()
			return nil, err
		}
		done := make(chan struct{})
		e.starting = done
		e.mu.Unlock()

		startCtx, cancel := context.WithTimeout(ctx, e.opts.StartTimeout)
		s, err := startServer(startCtx, e.opts)
		cancel()

		e.mu.Lock()
		e.starting = nil
		close(done)
		if err != nil {
			e.failed, e.failedErr = time.Now(), err
			e.mu.Unlock()
			e.opts.Log.Error(err, "warm executor did not start; runs start ansible-runner the ordinary way")
			return nil, err
		}
		if e.closed {
			e.mu.Unlock()
			s.close()
			return nil, errors.New("closed")
		}
		e.failed, e.failedErr = time.Time{}, nil
		e.cur, e.rss0 = s, s.rss()
		e.mu.Unlock()
		return s, nil
	}
}

// usable returns the current server when it may take a run, retiring it
// when it is dead, has forked Options.MaxRuns runs or has grown. e.mu is
// held.
func (e *Executor) usable() *server {
	s := e.cur
	if s == nil {
		return nil
	}
	alive, runs := s.alive()
	why := ""
	switch {
	case !alive:
		why = "died"
	case runs >= e.opts.MaxRuns:
		why = "recycled after its runs"
	case e.rss0 > 0 && float64(s.rss()) > e.opts.MaxGrowth*float64(e.rss0):
		why = "recycled after its memory grew"
	default:
		return s
	}
	e.opts.Log.V(1).Info("warm executor replaced", "reason", why, "runs", runs)
	e.cur = nil
	e.retiring.Add(1)
	go func() {
		defer e.retiring.Done()
		s.closeWhenIdle()
	}()
	return nil
}

// Pid is the process id of the current server, 0 when none runs.
func (e *Executor) Pid() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cur == nil {
		return 0
	}
	return e.cur.cmd.Process.Pid
}

// Close stops the server: processes it forked that still run are killed.
// It waits for retiring servers to finish their runs.
func (e *Executor) Close() {
	e.mu.Lock()
	e.closed = true
	s := e.cur
	e.cur = nil
	e.mu.Unlock()
	if s != nil {
		s.close()
	}
	e.retiring.Wait()
}
