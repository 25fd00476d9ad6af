package watches_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcrouter-operator/mcrouter-operator/watches"
)

// sharedList returns a watches file whose vars hold a list of size-1 items and then copies aliases of it, so that
// aliases add exactly copies*size nodes.
func sharedList(size, copies int) string {
	var b strings.Builder
	b.WriteString("- version: v1\n  kind: ConfigMap\n  role: r\n  vars:\n    big: &big [0")
	b.WriteString(strings.Repeat(", 0", size-2))
	b.WriteString("]\n")
	for i := range copies {
		fmt.Fprintf(&b, "    c%02d: *big\n", i)
	}
	return b.String()
}

// TestParseAliasBudget checks the bound on what aliases may add: up to MaxAliasNodes is read, one alias more is
// refused at that alias's line and column.
func TestParseAliasBudget(t *testing.T) {
	t.Parallel()
	const size = watches.MaxAliasNodes / 10
	entries, err := watches.Parse(strings.NewReader(sharedList(size, 10)), "w.yaml")
	if err != nil {
		t.Fatalf("aliases adding exactly %d nodes: %v", watches.MaxAliasNodes, err)
	}
	if got := len(entries[0].Vars); got != 11 {
		t.Errorf("vars has %d keys, want 11", got)
	}
	_, err = watches.Parse(strings.NewReader(sharedList(size, 11)), "w.yaml")
	want := fmt.Sprintf("w.yaml:16:10: aliases expand the file to more than %d extra nodes (at alias *big)", watches.MaxAliasNodes)
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Parse error = %v, want one starting with %q", err, want)
	}
	var werr *watches.Error
	if !errors.As(err, &werr) || werr.Line != 16 || werr.Column != 10 || werr.Index != -1 {
		t.Errorf("error = %#v, want a *watches.Error at 16:10 for the whole file", err)
	}
}

// TestParseSharedAnchors is the kind of anchor use real files have (one base entry merged into many) and must
// stay well inside the alias budget.
func TestParseSharedAnchors(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("- &base\n  version: v1\n  group: base.example.com\n  kind: Base\n  role: r\n  reconcilePeriod: 1m\n" +
		"  selector: {matchLabels: {tier: cache}, matchExpressions: [{key: env, operator: In, values: [a, b]}]}\n" +
		"  finalizer: {name: cleanup.example.com, vars: {state: absent}}\n  vars:\n")
	for i := range 20 {
		fmt.Fprintf(&b, "    v%d: [x, {y: z}]\n", i)
	}
	for i := range 50 {
		fmt.Fprintf(&b, "- {<<: *base, group: g%d.example.com}\n", i)
	}
	entries, err := watches.Parse(strings.NewReader(b.String()), "w.yaml")
	if err != nil {
		t.Fatal(err)
	}
	last := entries[len(entries)-1]
	if len(entries) != 51 || len(last.Vars) != 20 || last.Finalizer == nil || last.Selector.String() != "env in (a,b),tier=cache" {
		t.Errorf("got %d entries, the last %+v", len(entries), last)
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// padded returns a valid watches file of exactly size bytes, the rest being a comment.
func padded(size int) string {
	const entry = "- {version: v1, kind: ConfigMap, role: r}\n#"
	return entry + strings.Repeat("x", size-len(entry))
}

// TestParseSizeLimit checks that Parse and Load take a file of MaxFileSize bytes and refuse a larger one without
// reading further.
func TestParseSizeLimit(t *testing.T) {
	t.Parallel()
	if _, err := watches.Parse(strings.NewReader(padded(watches.MaxFileSize)), "w.yaml"); err != nil {
		t.Fatalf("a file of MaxFileSize bytes: %v", err)
	}
	r := &countingReader{r: strings.NewReader(padded(2 * watches.MaxFileSize))}
	_, err := watches.Parse(r, "w.yaml")
	const want = "w.yaml: larger than 1048576 bytes (1 MiB)"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Parse error = %v, want one starting with %q", err, want)
	}
	if r.n > watches.MaxFileSize+1 {
		t.Errorf("Parse read %d bytes, want at most %d", r.n, watches.MaxFileSize+1)
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "watches.yaml")
	if err := os.WriteFile(file, []byte(padded(watches.MaxFileSize+1)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = watches.Load(file, watches.Options{WorkDir: dir, LookupEnv: env(nil)})
	if err == nil || !strings.HasPrefix(err.Error(), file+": larger than 1048576 bytes (1 MiB)") {
		t.Errorf("Load error = %v, want one naming %s and the limit", err, file)
	}
}
