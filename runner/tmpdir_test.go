package runner

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/go-logr/logr"
)

func TestRunTempCarriesOnlyTheDiscoveryCache(t *testing.T) {
	root := t.TempDir()
	tmp := runTemp{dir: filepath.Join(root, "in", "tmp"), shared: filepath.Join(root, sharedCacheDir)}
	if err := os.MkdirAll(filepath.Join(tmp.dir, "ansible_x_payload_1"), 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(tmp.dir, "left-by-a-killed-run"), "old")

	// First run: nothing shared yet; what a killed run left is gone.
	if err := tmp.prepare(logr.Discard()); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	if names := dirNames(t, tmp.dir); len(names) != 0 {
		t.Fatalf("temp dir after prepare holds %v, want it empty", names)
	}
	write(t, filepath.Join(tmp.dir, "k8srcp-abc.json"), `{"v":1}`)
	write(t, filepath.Join(tmp.dir, "other.json"), "scratch")
	if err := os.Mkdir(filepath.Join(tmp.dir, "local"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := tmp.finish(); err != nil {
		t.Fatalf("finish: %v", err)
	}
	if _, err := os.Stat(tmp.dir); !os.IsNotExist(err) {
		t.Errorf("temp dir after finish: %v, want it removed", err)
	}
	if names := dirNames(t, tmp.shared); len(names) != 1 || names[0] != "k8srcp-abc.json" {
		t.Errorf("shared dir holds %v, want only the discovery cache", names)
	}

	// Next run starts with a copy, and its refreshed cache replaces the old.
	if err := tmp.prepare(logr.Discard()); err != nil {
		t.Fatalf("second prepare: %v", err)
	}
	if got := read(t, filepath.Join(tmp.dir, "k8srcp-abc.json")); got != `{"v":1}` {
		t.Errorf("discovery cache in the next run = %q", got)
	}
	write(t, filepath.Join(tmp.dir, "k8srcp-abc.json"), `{"v":2}`)
	if err := tmp.finish(); err != nil {
		t.Fatalf("second finish: %v", err)
	}
	if got := read(t, filepath.Join(tmp.shared, "k8srcp-abc.json")); got != `{"v":2}` {
		t.Errorf("shared discovery cache = %q, want the refreshed one", got)
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
