package optest

import (
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
