package runner

import (
	"context"
	"sync"
	"syscall"
)

// dirLocks serializes the runs of one input directory.
type dirLocks struct {
	mu    sync.Mutex
	locks map[string]*dirLock
}

type dirLock struct {
	sem  chan struct{} // holds one token while locked
	refs int
}

// lock waits for dir to be free or for ctx to end, and returns the unlock
// function.
func (l *dirLocks) lock(ctx context.Context, dir string) (func(), error) {
	d := l.acquireRef(dir)
	select {
	case d.sem <- struct{}{}:
		return func() {
			<-d.sem
			l.releaseRef(dir)
		}, nil
	case <-ctx.Done():
		l.releaseRef(dir)
		return nil, context.Cause(ctx)
	}
}

func (l *dirLocks) acquireRef(dir string) *dirLock {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.locks == nil {
		l.locks = map[string]*dirLock{}
	}
	d, ok := l.locks[dir]
	if !ok {
		d = &dirLock{sem: make(chan struct{}, 1)}
		l.locks[dir] = d
	}
	d.refs++
	return d
}

func (l *dirLocks) releaseRef(dir string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.locks[dir]
	d.refs--
	if d.refs == 0 {
		delete(l.locks, dir)
	}
}

// newProcessGroup makes a child the leader of a new process group.
func newProcessGroup() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
