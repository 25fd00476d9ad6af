package controller

import "context"

// Limiter caps concurrent Ansible runs across all controllers of a process.
// A nil *Limiter allows any number.
type Limiter struct{ slots chan struct{} }

// NewLimiter allows n concurrent runs; n < 1 means 1.
func NewLimiter(n int) *Limiter {
	if n < 1 {
		n = 1
	}
	return &Limiter{slots: make(chan struct{}, n)}
}

// Acquire waits for a free slot or for ctx to end.
func (l *Limiter) Acquire(ctx context.Context) error {
	if l == nil {
		return nil
	}
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Release frees a slot taken by Acquire.
func (l *Limiter) Release() {
	if l == nil {
		return
	}
	<-l.slots
}

// Size is the number of concurrent runs allowed; 0 for a nil Limiter.
func (l *Limiter) Size() int {
	if l == nil {
		return 0
	}
	return cap(l.slots)
}
