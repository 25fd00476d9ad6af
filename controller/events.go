package controller

import (
	"fmt"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
)

// noteLimit is the API server's limit on the note (message) of an event, in
// bytes: a longer one is rejected and the event lost.
const noteLimit = 1024

// elision marks the middle cut out of a long note.
const elision = "\n[…]\n"

// boundedRecorder shortens notes to noteLimit, so that failure events whose
// message carries Ansible's output are recorded rather than rejected.
type boundedRecorder struct {
	events.EventRecorder
}

func (b boundedRecorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	b.EventRecorder.Eventf(regarding, related, eventtype, reason, action, "%s", shortenNote(fmt.Sprintf(note, args...)))
}

// shortenNote keeps the beginning of a long note, which says what failed,
// and its end, where Ansible prints its error, and cuts the middle.
func shortenNote(note string) string {
	if len(note) <= noteLimit {
		return note
	}
	keep := noteLimit - len(elision)
	head := runeStart(note, keep*2/5)
	tail := len(note) - (keep - head)
	for tail < len(note) && !utf8.RuneStart(note[tail]) {
		tail++
	}
	return note[:head] + elision + note[tail:]
}

// runeStart returns the largest i <= n at which a UTF-8 sequence of s starts.
func runeStart(s string, n int) int {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}
