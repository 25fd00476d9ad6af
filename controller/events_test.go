package controller

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestShortenNote(t *testing.T) {
	short := "task \"Apply\" failed: forbidden"
	if got := shortenNote(short); got != short {
		t.Errorf("short note changed to %q", got)
	}
	exact := strings.Repeat("x", noteLimit)
	if got := shortenNote(exact); got != exact {
		t.Errorf("note of exactly %d bytes changed", noteLimit)
	}

	long := "run ended without a playbook_on_stats event; last output:\n" +
		strings.Repeat("ansible-playbook [core 2.14.18] — ünïcode output line\n", 60) +
		"ERROR! couldn't resolve module/action 'operator_sdk.util.k8s_status'"
	got := shortenNote(long)
	if len(got) > noteLimit {
		t.Errorf("shortened note has %d bytes, want at most %d", len(got), noteLimit)
	}
	if len(got) < noteLimit-utf8.UTFMax {
		t.Errorf("shortened note has %d bytes, want close to %d", len(got), noteLimit)
	}
	if !utf8.ValidString(got) {
		t.Errorf("shortened note is not valid UTF-8: %q", got)
	}
	if !strings.HasPrefix(got, "run ended without a playbook_on_stats event") ||
		!strings.HasSuffix(got, "ERROR! couldn't resolve module/action 'operator_sdk.util.k8s_status'") ||
		!strings.Contains(got, elision) {
		t.Errorf("shortened note lost its start or its end, or does not mark the cut:\n%s", got)
	}
}

func TestOneLineKeepsUTF8Whole(t *testing.T) {
	got := oneLine(strings.Repeat("x", 999) + "ü and more")
	if !utf8.ValidString(got) || got != strings.Repeat("x", 999)+"…" {
		t.Errorf("oneLine cut a character in half: %q", got[990:])
	}
	if got := oneLine("  two\n\tlines  "); got != "two lines" {
		t.Errorf("oneLine = %q, want %q", got, "two lines")
	}
}
