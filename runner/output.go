package runner

import (
	"regexp"
	"strings"
	"sync"
)

// ansiEscape matches the terminal color sequences in Ansible's output.
var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

// cleanOutput removes color sequences and carriage returns.
func cleanOutput(s string) string {
	s = ansiEscape.ReplaceAllString(s, "")
	return strings.ReplaceAll(s, "\r", "")
}

// lineTail keeps the last lines of a run's output for error messages. It is
// safe for concurrent use, so it can also serve as the stderr writer.
type lineTail struct {
	mu       sync.Mutex
	lines    []string
	max      int
	maxBytes int
	partial  []byte
}

func newLineTail(maxLines, maxLineBytes int) *lineTail {
	return &lineTail{max: maxLines, maxBytes: maxLineBytes}
}

// add records text, one entry per non-empty line.
func (t *lineTail) add(text string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.addLocked(text)
}

func (t *lineTail) addLocked(text string) {
	for _, line := range strings.Split(cleanOutput(text), "\n") {
		line = strings.TrimRight(line, " \t")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if len(line) > t.maxBytes {
			line = line[:t.maxBytes] + "…"
		}
		if len(t.lines) == t.max {
			copy(t.lines, t.lines[1:])
			t.lines = t.lines[:t.max-1]
		}
		t.lines = append(t.lines, line)
	}
}

// Write implements io.Writer for stderr: complete lines are added, a
// trailing partial line waits for the next write (bounded by maxBytes).
func (t *lineTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.partial = append(t.partial, p...)
	if i := strings.LastIndexByte(string(t.partial), '\n'); i >= 0 {
		t.addLocked(string(t.partial[:i]))
		t.partial = append(t.partial[:0], t.partial[i+1:]...)
	}
	if len(t.partial) > t.maxBytes {
		t.addLocked(string(t.partial))
		t.partial = t.partial[:0]
	}
	return len(p), nil
}

// String returns the kept lines, the partial line last.
func (t *lineTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := t.lines
	if len(t.partial) > 0 {
		lines = append(append([]string(nil), lines...), cleanOutput(string(t.partial)))
	}
	return strings.Join(lines, "\n")
}
