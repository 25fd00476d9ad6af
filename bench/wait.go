package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

// watchUntil lists and watches gvr in ns (narrowed by fieldSelector when
// set) and passes every event to cond until it returns true or an error.
// ready is closed once the initial list is in the informer's store.
func watchUntil(ctx context.Context, dyn dynamic.Interface, gvr schema.GroupVersionResource, ns, fieldSelector string,
	ready chan<- struct{}, cond watchtools.ConditionFunc) error {
	res := dyn.Resource(gvr).Namespace(ns)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = fieldSelector
			return res.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = fieldSelector
			return res.Watch(ctx, o)
		},
	}
	var once sync.Once
	synced := func(cache.Store) (bool, error) {
		once.Do(func() { close(ready) })
		return false, nil
	}
	_, err := watchtools.UntilWithSync(ctx, lw, &unstructured.Unstructured{}, synced, cond)
	return err
}

// successful reports whether obj's Successful condition is True for its
// current generation, and that generation is at least minGen.
func successful(obj *unstructured.Unstructured, minGen int64) bool {
	return obj.GetGeneration() >= minGen && optest.Successful(obj)
}

// crTracker follows Mcrouters until each wanted one is Successful, recording
// when each got there. observe runs on the watch's goroutine; read the
// fields only after watchUntil returned.
type crTracker struct {
	minGen int64
	want   map[string]bool
	done   map[string]time.Time
	last   map[string]*unstructured.Unstructured
}

func newTracker(names []string, minGen int64) *crTracker {
	t := &crTracker{minGen: minGen, want: map[string]bool{}, done: map[string]time.Time{}, last: map[string]*unstructured.Unstructured{}}
	for _, n := range names {
		t.want[n] = true
	}
	return t
}

func (t *crTracker) observe(ev watch.Event) (bool, error) {
	if ev.Type == watch.Error {
		return false, fmt.Errorf("watch of Mcrouters failed: %v", ev.Object)
	}
	obj, ok := ev.Object.(*unstructured.Unstructured)
	if !ok || !t.want[obj.GetName()] {
		return false, nil
	}
	name := obj.GetName()
	if ev.Type == watch.Deleted {
		return false, fmt.Errorf("the Mcrouter %s/%s was deleted while the benchmark waited for it", obj.GetNamespace(), name)
	}
	t.last[name] = obj
	if _, seen := t.done[name]; !seen && successful(obj, t.minGen) {
		t.done[name] = time.Now()
	}
	return len(t.done) == len(t.want), nil
}

// pending describes the CRs that are not Successful yet, with the messages
// of their conditions, at most max of them.
func (t *crTracker) pending(max int) string {
	var names []string
	for n := range t.want {
		if _, ok := t.done[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d Mcrouters not Successful:", len(names), len(t.want))
	for i, n := range names {
		if i == max {
			fmt.Fprintf(&b, "\n  … and %d more", len(names)-max)
			break
		}
		fmt.Fprintf(&b, "\n  %s: %s", n, conditionSummary(t.last[n]))
	}
	return b.String()
}

func conditionSummary(obj *unstructured.Unstructured) string {
	if obj == nil {
		return "never seen"
	}
	var parts []string
	for _, typ := range []string{"Running", "Successful", "Failure"} {
		if c := optest.Condition(obj, typ); c != nil {
			parts = append(parts, fmt.Sprintf("%s=%v (%v)", typ, c["status"], c["message"]))
		}
	}
	if len(parts) == 0 {
		return fmt.Sprintf("no conditions (generation %d)", obj.GetGeneration())
	}
	return fmt.Sprintf("generation %d, %s", obj.GetGeneration(), strings.Join(parts, ", "))
}
