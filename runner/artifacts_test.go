package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const kib = 1 << 10

// fakeRun writes an artifact dir <input dir>/artifacts/<ident> with an
// env/extravars file in the input dir, files of the given sizes, and mtime
// base+age.
func fakeRun(t *testing.T, inputDir, ident string, age time.Duration, files map[string]int) string {
	t.Helper()
	extravars := filepath.Join(inputDir, "env", "extravars")
	if err := os.MkdirAll(filepath.Dir(extravars), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(extravars, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(inputDir, artifactsDir, ident)
	for name, size := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		// Lines of JSON-ish text, as ansible-runner writes.
		line := strings.Repeat("x", 99) + "\n"
		data := []byte(strings.Repeat(line, size/len(line)+1)[:size])
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	when := time.Now().Add(-time.Hour).Add(age)
	if err := os.Chtimes(dir, when, when); err != nil {
		t.Fatal(err)
	}
	return dir
}

func runNames(t *testing.T, inputDir string) []string {
	t.Helper()
	return dirNames(t, filepath.Join(inputDir, artifactsDir))
}

func usage(t *testing.T, path string) int64 {
	t.Helper()
	n, err := diskUsage(path)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestArtifactStoreRotatesOneResourceOldestFirst(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "g", "v", "K", "ns", "a")
	for i := range 4 {
		fakeRun(t, dir, fmt.Sprintf("run-%d", i), time.Duration(i)*time.Minute, map[string]int{"stdout": 100 * kib})
	}
	// The run that just ended is kept even when its dir looks oldest.
	s := newArtifactStore(250*kib, 10<<20)
	keep := filepath.Join(dir, artifactsDir, "run-0")
	if err := s.afterRun(dir, keep, false); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"run-0", "run-3"}, runNames(t, dir)); diff != "" {
		t.Errorf("runs kept (-want +got):\n%s", diff)
	}
	if got := usage(t, filepath.Join(dir, artifactsDir)); got > 250*kib {
		t.Errorf("artifacts take %d bytes, cap %d", got, 250*kib)
	}
}

// A run whose artifacts alone pass the per-resource cap is cut down: the
// oldest events go first, stdout keeps its end, status, rc and command stay.
func TestArtifactStoreCutsARunPastTheCap(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "g", "v", "K", "ns", "loud")
	files := map[string]int{"stdout": 600 * kib, "status": 6, "rc": 1, "command": 2 * kib}
	for i := 1; i <= 30; i++ {
		files[fmt.Sprintf("job_events/%d-uuid%d.json", i, i)] = 20 * kib
	}
	keep := fakeRun(t, dir, "loud", 0, files)
	fakeRun(t, dir, "older", -time.Minute, map[string]int{"stdout": 10 * kib})
	s := newArtifactStore(256*kib, 10<<20)
	if err := s.afterRun(dir, keep, false); err != nil {
		t.Fatal(err)
	}
	if got := usage(t, filepath.Join(dir, artifactsDir)); got > 256*kib {
		t.Errorf("artifacts take %d bytes, cap %d", got, 256*kib)
	}
	if diff := cmp.Diff([]string{"loud"}, runNames(t, dir)); diff != "" {
		t.Errorf("runs kept (-want +got):\n%s", diff)
	}
	for _, name := range []string{"status", "rc", "command", "job_events/30-uuid30.json"} {
		if _, err := os.Stat(filepath.Join(keep, name)); err != nil {
			t.Errorf("%s was not kept: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(keep, "job_events", "1-uuid1.json")); err == nil {
		t.Error("the first event was kept, want the oldest events deleted first")
	}
	stdout, err := os.ReadFile(filepath.Join(keep, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	first, rest, _ := strings.Cut(string(stdout), "\n")
	if !strings.Contains(first, "the operator cut the first") || len(rest) > 64*kib || !strings.HasPrefix(rest, "xxx") {
		t.Errorf("stdout starts %.200q and keeps %d bytes; want a note, then at most its last quarter of the cap", first, len(rest))
	}
}

// The total cap deletes the oldest runs that are not their resource's
// newest first, then the oldest newest runs, never the run that just ended
// nor anything of a resource with a run in progress.
func TestArtifactStoreTotalCap(t *testing.T) {
	root := t.TempDir()
	a := filepath.Join(root, "g", "v", "K", "ns", "a")
	b := filepath.Join(root, "g", "v", "K", "ns", "b")
	busy := filepath.Join(root, "g", "v", "K", "ns", "busy")
	fakeRun(t, a, "a-old", 0, map[string]int{"stdout": 100 * kib})
	fakeRun(t, a, "a-new", 3*time.Minute, map[string]int{"stdout": 100 * kib})
	fakeRun(t, b, "b-old", 1*time.Minute, map[string]int{"stdout": 100 * kib})
	fakeRun(t, busy, "busy-oldest", -time.Minute, map[string]int{"stdout": 100 * kib})
	bNew := fakeRun(t, b, "b-new", 4*time.Minute, map[string]int{"stdout": 100 * kib})

	s := newArtifactStore(1<<20, 10<<20)
	if err := s.load(root); err != nil {
		t.Fatal(err)
	}
	s.total = 300 * kib
	s.begin(busy)
	if err := s.afterRun(b, bNew, false); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{"a": runNames(t, a), "b": runNames(t, b), "busy": runNames(t, busy)}
	want := map[string][]string{"a": nil, "b": {"b-new"}, "busy": {"busy-oldest"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("runs kept (-want +got):\n%s", diff)
	}
}

// After a restart the store finds every input dir, whatever the resources
// are called, and brings what earlier runs left under the caps.
func TestArtifactStoreLoad(t *testing.T) {
	root := t.TempDir()
	// Resources named like the files of an input dir.
	dirs := []string{
		filepath.Join(root, "g", "v", "K", "ns", "env"),
		filepath.Join(root, "g", "v", "K", "ns", "extravars"),
		filepath.Join(root, "g", "v", "K", "env", "artifacts"),
		filepath.Join(root, "v1", "Cluster", "c"), // core group, cluster-scoped
	}
	for i, d := range dirs {
		fakeRun(t, d, "one", time.Duration(i)*time.Minute, map[string]int{"stdout": 40 * kib})
		fakeRun(t, d, "two", time.Duration(i)*time.Minute+time.Second, map[string]int{"stdout": 40 * kib})
	}
	if err := os.MkdirAll(filepath.Join(root, sharedCacheDir, "env"), 0o700); err != nil {
		t.Fatal(err)
	}
	found := findInputDirs(root)
	slices.Sort(found)
	want := slices.Clone(dirs)
	slices.Sort(want)
	if diff := cmp.Diff(want, found); diff != "" {
		t.Fatalf("input dirs (-want +got):\n%s", diff)
	}
	s := newArtifactStore(60*kib, 10<<20)
	if err := s.load(root); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if diff := cmp.Diff([]string{"two"}, runNames(t, d)); diff != "" {
			t.Errorf("%s: runs kept (-want +got):\n%s", d, diff)
		}
	}
}
