package runner_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcrouter-operator/mcrouter-operator/runner"
)

// A runner dir another user could write to is refused before any run; a
// fresh one is created with mode 0700.
func TestNewChecksTheRunnerDir(t *testing.T) {
	shared := filepath.Join(t.TempDir(), "runner")
	if err := os.Mkdir(shared, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err := runner.New(runner.Options{RootDir: shared, Timeout: runner.DefaultTimeout})
	if err == nil || !strings.Contains(err.Error(), shared) || !strings.Contains(err.Error(), "--runner-dir") {
		t.Errorf("New with a world-writable runner dir: %v, want an error naming %s and --runner-dir", err, shared)
	}

	fresh := filepath.Join(t.TempDir(), "ansible-operator", "runner")
	if _, err := runner.New(runner.Options{RootDir: fresh, Timeout: runner.DefaultTimeout}); err != nil {
		t.Fatalf("New: %v", err)
	}
	for _, dir := range []string{fresh, filepath.Dir(fresh)} {
		if st, err := os.Lstat(dir); err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v, %v; want mode 0700", dir, st.Mode(), err)
		}
	}
}
