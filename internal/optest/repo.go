package optest

import (
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// moduleRoot is ModuleRoot, asked of the go command once.
var moduleRoot = sync.OnceValues(ModuleRoot)

// RepoPath returns the absolute path of a file of the repository; the test
// fails when the repository cannot be found.
func RepoPath(t testing.TB, parts ...string) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("repository path %v: %v", parts, err)
	}
	return filepath.Join(append([]string{root}, parts...)...)
}

// RequireTool is the path of the program name on PATH; without it the test
// fails, naming the step that installs it.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found in PATH: run `make deps`", name)
	}
	return p
}
