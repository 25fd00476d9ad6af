package main

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
)

func mcrouterAt(name string, gen int64, conds ...map[string]any) *unstructured.Unstructured {
	u := newMcrouter("ns", name, nil)
	u.SetGeneration(gen)
	list := make([]any, len(conds))
	for i, c := range conds {
		list[i] = c
	}
	if len(conds) > 0 {
		u.Object["status"] = map[string]any{"conditions": list}
	}
	return u
}

func cond(typ, status string, observed int64) map[string]any {
	return map[string]any{"type": typ, "status": status, "observedGeneration": observed, "message": typ + " message"}
}

func TestSuccessful(t *testing.T) {
	tests := []struct {
		name   string
		obj    *unstructured.Unstructured
		minGen int64
		want   bool
	}{
		{"no status", mcrouterAt("a", 1), 1, false},
		{"running", mcrouterAt("a", 1, cond("Running", "True", 1)), 1, false},
		{"successful", mcrouterAt("a", 1, cond("Successful", "True", 1)), 1, true},
		{"successful for an older generation", mcrouterAt("a", 2, cond("Successful", "True", 1)), 1, false},
		{"generation below the one waited for", mcrouterAt("a", 2, cond("Successful", "True", 2)), 3, false},
		{"observedGeneration as float", mcrouterAt("a", 3, map[string]any{"type": "Successful", "status": "True", "observedGeneration": 3.0}), 3, true},
		{"failed", mcrouterAt("a", 1, cond("Successful", "False", 1), cond("Failure", "True", 1)), 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := successful(tt.obj, tt.minGen); got != tt.want {
				t.Errorf("successful = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTracker(t *testing.T) {
	tr := newTracker([]string{"a", "b"}, 1)
	steps := []struct {
		ev   watch.Event
		done bool
	}{
		{watch.Event{Type: watch.Added, Object: mcrouterAt("a", 1)}, false},
		{watch.Event{Type: watch.Added, Object: mcrouterAt("other", 1, cond("Successful", "True", 1))}, false},
		{watch.Event{Type: watch.Modified, Object: mcrouterAt("a", 1, cond("Successful", "True", 1))}, false},
		{watch.Event{Type: watch.Modified, Object: mcrouterAt("b", 1, cond("Failure", "True", 1))}, false},
	}
	for i, s := range steps {
		done, err := tr.observe(s.ev)
		if err != nil || done != s.done {
			t.Fatalf("step %d: done %v err %v, want done %v", i, done, err, s.done)
		}
	}
	pending := tr.pending(10)
	for _, want := range []string{"1 of 2 Mcrouters not Successful", "b: generation 1", "Failure=True (Failure message)"} {
		if !strings.Contains(pending, want) {
			t.Errorf("pending %q does not mention %q", pending, want)
		}
	}
	first := tr.done["a"]
	time.Sleep(time.Millisecond)
	_, _ = tr.observe(watch.Event{Type: watch.Modified, Object: mcrouterAt("a", 1, cond("Successful", "True", 1))})
	if !tr.done["a"].Equal(first) {
		t.Error("a later event moved the time a CR was first done")
	}
	done, err := tr.observe(watch.Event{Type: watch.Modified, Object: mcrouterAt("b", 1, cond("Successful", "True", 1))})
	if err != nil || !done {
		t.Errorf("all Successful: done %v err %v", done, err)
	}
	if _, err := tr.observe(watch.Event{Type: watch.Deleted, Object: mcrouterAt("a", 1)}); err == nil || !strings.Contains(err.Error(), "ns/a was deleted") {
		t.Errorf("deleted CR: error %v", err)
	}
}

func TestDoneStats(t *testing.T) {
	start := time.Unix(1000, 0)
	done := map[string]time.Time{"a": start.Add(2 * time.Second), "b": start.Add(5 * time.Second), "c": start.Add(3 * time.Second)}
	last, first, median := doneStats(start, done)
	if last != 5 || first != 2 || median != 3 {
		t.Errorf("doneStats = %g, %g, %g; want 5, 2, 3", last, first, median)
	}
}
