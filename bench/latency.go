package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// serviceGVR names core Services for the dependent-restore watch.
var serviceGVR = schema.GroupVersionResource{Version: "v1", Resource: "services"}

// timeout bounds the wait for n CRs: generous against the floor, so only a
// stuck operator trips it.
func (b *bench) timeout(n int) time.Duration {
	floor := floorSeconds(n, b.report.Bare.MedianSeconds, b.report.Machine.CPUs)
	return 90*time.Second + time.Duration(4*floor*float64(time.Second))
}

// measureLatency measures the single-CR latencies with e's executor: cold
// create → Successful on opts.Repeat fresh operators, each in a namespace
// of its own; on the last one, spec changes and deletions of a dependent.
func (b *bench) measureLatency(ctx context.Context, e *ExecutorResult) error {
	lat := &e.Latency
	for i := 1; i <= b.opts.Repeat; i++ {
		phase := phaseName("latency", e.Executor)
		if i < b.opts.Repeat {
			phase = phaseName(fmt.Sprintf("cold-%d", i), e.Executor)
		}
		ns := "bench-" + phase
		if err := b.createNamespace(ctx, ns); err != nil {
			return err
		}
		op, err := b.startOperator(ctx, phase, e.Executor)
		if err != nil {
			return err
		}
		err = b.coldFirstCR(ctx, op, ns, lat)
		if err == nil && i == b.opts.Repeat {
			err = b.latencySamples(ctx, op, ns, lat)
		}
		b.stopOperator(ctx, op)
		if err != nil {
			return fmt.Errorf("%s executor: %w", e.Executor, err)
		}
		if err := b.deleteNamespace(ctx, ns); err != nil {
			return err
		}
	}
	lat.ColdFirstCRSeconds = medianOf(lat.ColdFirstCRSamples)
	lat.SpecChangeMedianSeconds = medianOf(lat.SpecChangeSeconds)
	lat.DependentRestoreMedianSeconds = medianOf(lat.DependentRestoreSeconds)
	return nil
}

// latencyCR is the name of the CR of the latency phase.
const latencyCR = "single"

// coldFirstCR creates the first CR a fresh operator sees and records the
// time until it is Successful.
func (b *bench) coldFirstCR(ctx context.Context, op *operator, ns string, lat *Latency) error {
	create := func(ctx context.Context) error { return b.createAll(ctx, ns, []string{latencyCR}, nil) }
	start, done, err := b.awaitSuccessful(ctx, op, ns, []string{latencyCR}, 1, b.timeout(1), create)
	if err != nil {
		return fmt.Errorf("cold first CR: %w", err)
	}
	d := done[latencyCR].Sub(start).Seconds()
	lat.ColdFirstCRSamples = append(lat.ColdFirstCRSamples, d)
	b.log("%s: cold first CR → Successful: %.2fs", op.phase, d)
	return nil
}

// latencySamples flips the CR's spec and deletes one of its dependents,
// opts.Repeat times each.
func (b *bench) latencySamples(ctx context.Context, op *operator, ns string, lat *Latency) error {
	name := latencyCR
	for i := 0; i < b.opts.Repeat; i++ {
		if _, err := b.settle(ctx, op, 2*time.Second, 30*time.Second, allActivity); err != nil {
			return err
		}
		d, err := b.specChange(ctx, op, ns, name)
		if err != nil {
			return fmt.Errorf("spec change: %w", err)
		}
		b.log("%s: spec change → Successful: %.2fs", op.phase, d.Seconds())
		lat.SpecChangeSeconds = append(lat.SpecChangeSeconds, d.Seconds())
	}
	lat.DependentDeleted = "Service " + name + "-memcached"
	for i := 0; i < b.opts.Repeat; i++ {
		if _, err := b.settle(ctx, op, 2*time.Second, 30*time.Second, allActivity); err != nil {
			return err
		}
		d, err := b.restoreDependent(ctx, op, ns, name+"-memcached")
		if err != nil {
			return fmt.Errorf("dependent deleted: %w", err)
		}
		b.log("%s: dependent deleted → restored: %.2fs", op.phase, d.Seconds())
		lat.DependentRestoreSeconds = append(lat.DependentRestoreSeconds, d.Seconds())
	}
	return nil
}

// specChange flips spec.memcached_pool_size between 2 and 3 and returns the
// time until the CR is Successful for the new generation.
func (b *bench) specChange(ctx context.Context, op *operator, ns, name string) (time.Duration, error) {
	res := b.dyn.Resource(mcrouterGVR).Namespace(ns)
	obj, err := res.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("get Mcrouter %s/%s: %w", ns, name, err)
	}
	size, _, _ := unstructured.NestedInt64(obj.Object, "spec", "memcached_pool_size")
	next := int64(3)
	if size == 3 {
		next = 2
	}
	patch := fmt.Appendf(nil, `{"spec":{"memcached_pool_size":%d}}`, next)
	act := func(ctx context.Context) error {
		_, err := res.Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
		if err != nil {
			return fmt.Errorf("patch Mcrouter %s/%s: %w", ns, name, err)
		}
		return nil
	}
	// A spec change bumps the generation by exactly one.
	start, done, err := b.awaitSuccessful(ctx, op, ns, []string{name}, obj.GetGeneration()+1, b.timeout(1), act)
	if err != nil {
		return 0, err
	}
	return done[name].Sub(start), nil
}

// restoreDependent deletes the Service svc and returns the time until a new
// Service of that name exists.
func (b *bench) restoreDependent(ctx context.Context, op *operator, ns, svc string) (time.Duration, error) {
	old, err := b.dyn.Resource(serviceGVR).Namespace(ns).Get(ctx, svc, metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("get Service %s/%s the role should have created: %w", ns, svc, err)
	}
	ctx, cancel := context.WithTimeout(ctx, b.timeout(1))
	defer cancel()
	var restored time.Time
	cond := func(ev watch.Event) (bool, error) {
		u, ok := ev.Object.(*unstructured.Unstructured)
		if ev.Type == watch.Deleted || !ok || u.GetUID() == old.GetUID() {
			return false, nil
		}
		restored = time.Now()
		return true, nil
	}
	ready, errc := make(chan struct{}), make(chan error, 1)
	go func() { errc <- watchUntil(ctx, b.dyn, serviceGVR, ns, "metadata.name="+svc, ready, cond) }()
	select {
	case <-ready:
	case err := <-errc:
		return 0, fmt.Errorf("watch Service %s/%s: %w", ns, svc, err)
	}
	start := time.Now()
	uid := old.GetUID()
	err = b.dyn.Resource(serviceGVR).Namespace(ns).Delete(ctx, svc, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil {
		cancel()
		<-errc
		return 0, fmt.Errorf("delete Service %s/%s: %w", ns, svc, err)
	}
	if err := <-errc; err != nil {
		if ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled) {
			return 0, err
		}
		return 0, op.failure(fmt.Errorf("the Service %s/%s was not restored after %s: %w", ns, svc, time.Since(start).Round(time.Second), err))
	}
	return restored.Sub(start), nil
}
