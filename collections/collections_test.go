package collections_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mcrouter-operator/mcrouter-operator/collections"
)

// TestFSHoldsWhatAnsibleReads compares the embedded tree with the
// directory: every file is embedded but the README, the tests and hidden
// files.
func TestFSHoldsWhatAnsibleReads(t *testing.T) {
	var want []string
	err := filepath.WalkDir("ansible_collections", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && (name == "tests" || strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".")) {
			return filepath.SkipDir
		}
		if !d.IsDir() && name != "README.md" && !strings.HasPrefix(name, ".") && !strings.HasPrefix(name, "_") {
			want = append(want, filepath.ToSlash(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = fs.WalkDir(collections.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			got = append(got, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("embedded files (-directory +embedded):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join("ansible_collections", "operator_sdk", "util", "tests", "unit")); err != nil {
		t.Errorf("the collection's unit tests are missing: %v", err)
	}
}
