package runner

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// maxRunnerArtifacts: 0 keeps nothing: the run's own artifacts and those
// earlier runs left go, and the total cap no longer counts them.
func TestArtifactStoreDiscardKeepsNothing(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "g", "v", "K", "ns", "quiet")
	other := filepath.Join(root, "g", "v", "K", "ns", "other")
	fakeRun(t, dir, "earlier", -time.Minute, map[string]int{"stdout": 10 * kib})
	keep := fakeRun(t, dir, "now", 0, map[string]int{"stdout": 10 * kib, "job_events/1-a.json": kib})
	fakeRun(t, other, "kept", 0, map[string]int{"stdout": 10 * kib})
	s := newArtifactStore(1<<20, 10<<20)
	if err := s.load(root); err != nil {
		t.Fatal(err)
	}
	if err := s.afterRun(dir, keep, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, artifactsDir)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("artifacts dir after a discarding run: %v, want it gone", err)
	}
	if got := runNames(t, other); len(got) != 1 {
		t.Errorf("another resource's runs = %v, want its one run kept", got)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.resources[dir]; r != nil && r.bytes() != 0 {
		t.Errorf("the store still counts %d bytes for the discarded artifacts", r.bytes())
	}
}
