package controller

import (
	"strings"
	"testing"
)

// "true" (as strconv.ParseBool reads it) pauses; another value is reported
// and pauses nothing.
func TestPausedAnnotation(t *testing.T) {
	for _, tt := range []struct {
		value string
		want  bool
		event string
	}{
		{"true", true, ""},
		{"True", true, ""},
		{"1", true, ""},
		{"false", false, ""},
		{"yes please", false, `is not "true" or "false"`},
	} {
		t.Run(tt.value, func(t *testing.T) {
			ev := &recordedEvents{}
			r := &Reconciler{recorder: ev}
			if got := r.paused(t.Context(), annotated(AnnotationPauseReconcile, tt.value)); got != tt.want {
				t.Errorf("paused = %v, want %v", got, tt.want)
			}
			if (tt.event == "") != (len(ev.notes) == 0) || tt.event != "" && !strings.Contains(ev.notes[0], tt.event) {
				t.Errorf("events %q, want one with %q", ev.notes, tt.event)
			}
		})
	}
	if (&Reconciler{}).paused(t.Context(), testOwner()) {
		t.Error("paused without the annotation")
	}
}
