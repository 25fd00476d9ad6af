package controller

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/mcrouter-operator/mcrouter-operator/watches"
)

// recordedEvents records the notes of the events it is given.
type recordedEvents struct{ notes []string }

func (r *recordedEvents) Eventf(_, _ runtime.Object, _, reason, _, note string, args ...any) {
	r.notes = append(r.notes, reason+": "+fmt.Sprintf(note, args...))
}

func annotated(key, value string) *unstructured.Unstructured {
	u := testOwner()
	u.SetAnnotations(map[string]string{key: value})
	return u
}

// A resource's annotations are bounded by the operator's options: a value
// out of range is clamped (or the default used) and reported.
func TestAnnotationsAreBounded(t *testing.T) {
	opts := Options{
		Watch:                  watches.Watch{ReconcilePeriod: time.Hour, AnsibleVerbosity: 1, MaxRunnerArtifacts: 20},
		MinReconcilePeriod:     5 * time.Second,
		MaxVerbosityAnnotation: 4,
		MaxArtifactsAnnotation: 100,
	}
	for _, tt := range []struct {
		key, value string
		want       any
		event      string // part of the event's note; "" for no event
	}{
		{AnnotationReconcilePeriod, "1ns", 5 * time.Second, "--min-reconcile-period"},
		{AnnotationReconcilePeriod, "4s", 5 * time.Second, "below the operator's minimum"},
		{AnnotationReconcilePeriod, "5s", 5 * time.Second, ""},
		{AnnotationReconcilePeriod, "0", time.Duration(0), ""},
		{AnnotationReconcilePeriod, "-1s", time.Hour, "not a duration"},
		{AnnotationReconcilePeriod, "soon", time.Hour, "not a duration"},
		{AnnotationVerbosity, "7", 4, "above the operator's maximum; using 4"},
		{AnnotationVerbosity, "4", 4, ""},
		{AnnotationVerbosity, "-1", 1, "using the default"},
		{AnnotationMaxRunnerArtifacts, "1000", 100, "using 100"},
		{AnnotationMaxRunnerArtifacts, "-1", 20, "using the default"},
		{AnnotationMaxRunnerArtifacts, "0", 0, ""},
		{AnnotationMaxRunnerArtifacts, "3", 3, ""},
	} {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			ev := &recordedEvents{}
			r := &Reconciler{opts: opts, recorder: ev}
			obj := annotated(tt.key, tt.value)
			var got any
			switch tt.key {
			case AnnotationReconcilePeriod:
				got = r.period(t.Context(), obj)
			default:
				o := r.runOptions(t.Context(), obj, "role", "", nil)
				got = map[string]int{AnnotationVerbosity: o.Verbosity, AnnotationMaxRunnerArtifacts: o.MaxArtifacts}[tt.key]
			}
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			switch {
			case tt.event == "" && len(ev.notes) > 0:
				t.Errorf("unexpected events %q", ev.notes)
			case tt.event != "" && (len(ev.notes) != 1 || !strings.Contains(ev.notes[0], EventBadAnnotation+": ") ||
				!strings.Contains(ev.notes[0], tt.event)):
				t.Errorf("events %q, want one %s event with %q", ev.notes, EventBadAnnotation, tt.event)
			}
		})
	}
}
