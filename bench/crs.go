package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// newMcrouter is a Mcrouter with the CRD's defaults for every spec field
// but pool_setup, and the given annotations.
func newMcrouter(ns, name string, annotations map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": mcrouterGVR.GroupVersion().String(),
		"kind":       "Mcrouter",
		"spec":       map[string]any{"pool_setup": "replicated"},
	}}
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetAnnotations(annotations)
	return u
}

// crNames returns prefix-0 … prefix-(n-1).
func crNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

// createAll creates the Mcrouters named names in ns at once, one request
// each, in parallel.
func (b *bench) createAll(ctx context.Context, ns string, names []string, annotations map[string]string) error {
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.dyn.Resource(mcrouterGVR).Namespace(ns).Create(ctx, newMcrouter(ns, name, annotations), metav1.CreateOptions{})
			if err != nil {
				errs[i] = fmt.Errorf("create Mcrouter %s/%s: %w", ns, name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// awaitSuccessful watches the Mcrouters of ns, runs act once the watch is
// synced, and waits until every CR in names is Successful for a generation of
// at least minGen. It returns when act started and when each CR got there. A
// timeout, or the operator exiting, fails with the CRs still pending and the
// operator's log tail.
func (b *bench) awaitSuccessful(ctx context.Context, op *operator, ns string, names []string, minGen int64,
	timeout time.Duration, act func(context.Context) error) (time.Time, map[string]time.Time, error) {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tr := newTracker(names, minGen)
	ready, errc := make(chan struct{}), make(chan error, 1)
	go func() { errc <- watchUntil(ctx, b.dyn, mcrouterGVR, ns, "", ready, tr.observe) }()
	select {
	case <-ready:
	case err := <-errc:
		return time.Time{}, nil, fmt.Errorf("watch Mcrouters in %s: %w", ns, err)
	}
	start := time.Now()
	if err := act(ctx); err != nil {
		cancel()
		<-errc
		return start, nil, err
	}
	var err error
	select {
	case err = <-errc:
	case <-op.Done():
		cancel()
		<-errc
		_, exitErr := op.Exited()
		err = fmt.Errorf("the operator exited: %v", exitErr)
	}
	if parent.Err() != nil {
		return start, tr.done, parent.Err()
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || ctx.Err() != nil {
			err = fmt.Errorf("after %s: %v", time.Since(start).Round(time.Second), err)
		}
		return start, tr.done, op.failure(fmt.Errorf("%s: %w\n%s", ns, err, tr.pending(10)))
	}
	return start, tr.done, nil
}

// doneStats returns the time from start to the last CR done, to the first
// and to the median one.
func doneStats(start time.Time, done map[string]time.Time) (last, first, median float64) {
	var ds []float64
	for _, t := range done {
		ds = append(ds, t.Sub(start).Seconds())
	}
	if len(ds) == 0 {
		return 0, 0, 0
	}
	return maxOf(ds), minOf(ds), medianOf(ds)
}
