package watches_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcrouter-operator/mcrouter-operator/watches"
)

// hostileSeeds are inputs that once crashed or stalled Parse, or sit next to its limits.
var hostileSeeds = []string{
	"- &e {version: v1, kind: X, role: r, <<: *e}\n",
	"- &a {version: v1, kind: X, role: r, <<: [&b {<<: [*a]}]}\n",
	"- &a {version: v1, kind: X, <<: &b {role: r, <<: &c {<<: *a}}}\n",
	"- &a {version: v1, kind: X, role: r, vars: {self: *a}}\n",
	"- &a {version: v1, kind: X, role: r, *a : 1}\n",
	"- {version: v1, kind: X, <<: &l3 {<<: [&l2 {<<: [&l1 {<<: [&l0 {role: r}, *l0]}, *l1]}, *l2]}}\n",
	"- {version: v1, kind: X, role: r, vars: &v {a: [*v]}}\n",
	"- {version: v1, kind: X, role: r, vars: {a: .inf, b: .nan, c: !!binary aGk=, d: 2001-12-14}}\n",
	"- {version: v1, kind: X, role: r, finalizer: &f {name: a.b/c, <<: *f}}\n",
	"- {version: v1, kind: X, role: r, selector: {matchExpressions: [&m {key: a, operator: In, values: [*m]}]}}\n",
}

// FuzzParse checks that Parse, whatever its input, returns entries that hold what Resolve and the runner rely on,
// or a *watches.Error that starts with the file name and, when it has a position, names it. It never panics;
// that it never stalls rests on the file size limit and the alias budget, which bound the work.
func FuzzParse(f *testing.F) {
	err := filepath.WalkDir("testdata", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := os.ReadFile(path)
		f.Add(data)
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range hostileSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := watches.Parse(bytes.NewReader(data), "fuzz.yaml")
		if err != nil {
			checkFuzzError(t, data, err)
			return
		}
		for i, e := range entries {
			checkFuzzEntry(t, i, e)
		}
		if len(entries) == 0 {
			t.Error("Parse returned no entries and no error")
		}
	})
}

func checkFuzzError(t *testing.T, data []byte, err error) {
	t.Helper()
	var werr *watches.Error
	if !errors.As(err, &werr) {
		t.Fatalf("error %T is not a *watches.Error: %v", err, err)
	}
	prefix := "fuzz.yaml"
	if werr.Line > 0 {
		prefix += fmt.Sprintf(":%d", werr.Line)
		if werr.Column > 0 {
			prefix += fmt.Sprintf(":%d", werr.Column)
		}
	}
	if msg := err.Error(); !strings.HasPrefix(msg, prefix+": ") {
		t.Errorf("error %q does not start with %q", msg, prefix+": ")
	}
	if lines := lineBreaks(data) + 1; werr.Line > lines {
		t.Errorf("error at line %d of a %d-line input: %v", werr.Line, lines, err)
	}
	if werr.Column > 0 && werr.Line == 0 {
		t.Errorf("error with a column and no line: %v", err)
	}
}

func checkFuzzEntry(t *testing.T, i int, e watches.Entry) {
	t.Helper()
	switch {
	case e.Index != i || e.File != "fuzz.yaml":
		t.Errorf("entry %d: Index %d, File %q", i, e.Index, e.File)
	case e.GroupVersionKind.Version == "" || e.GroupVersionKind.Kind == "":
		t.Errorf("entry %d: incomplete GVK %s", i, e.GroupVersionKind)
	case (e.Role == "") == (e.Playbook == ""):
		t.Errorf("entry %d: role %q, playbook %q: want exactly one", i, e.Role, e.Playbook)
	case e.Selector == nil || e.MaxRunnerArtifacts < 0 || e.ReconcilePeriod < 0:
		t.Errorf("entry %d: selector %v, maxRunnerArtifacts %d, reconcilePeriod %s", i, e.Selector, e.MaxRunnerArtifacts, e.ReconcilePeriod)
	case e.Finalizer != nil && e.Finalizer.Name == "":
		t.Errorf("entry %d: finalizer without a name", i)
	}
	// The runner passes vars to Ansible as JSON.
	if _, err := json.Marshal(e.Vars); err != nil {
		t.Errorf("entry %d: vars are not JSON: %v", i, err)
	}
	if e.Finalizer != nil {
		if _, err := json.Marshal(e.Finalizer.Vars); err != nil {
			t.Errorf("entry %d: finalizer vars are not JSON: %v", i, err)
		}
	}
}

// lineBreaks counts what YAML may take for a line break, an upper bound of the lines it numbers: "\r\n" counts
// twice, and NEL, LS and PS are breaks in YAML 1.1.
func lineBreaks(data []byte) int {
	n := bytes.Count(data, []byte("\n")) + bytes.Count(data, []byte("\r"))
	for _, r := range []string{"\u0085", "\u2028", "\u2029"} {
		n += bytes.Count(data, []byte(r))
	}
	return n
}
