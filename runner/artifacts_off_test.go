package runner_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcrouter-operator/mcrouter-operator/runner"
)

// DiscardArtifacts (maxRunnerArtifacts: 0) keeps no artifacts, not even of
// earlier runs; the Result still comes from the event stream.
func TestRunDiscardsArtifacts(t *testing.T) {
	t.Parallel()
	r, opts := newRunner(t)
	obj := testObject(t, "discarded", nil)
	if _, err := r.Run(t.Context(), obj, runner.RunOptions{Playbook: playbook(t, "noop.yml"), MaxArtifacts: 2}); err != nil {
		t.Fatalf("run keeping artifacts: %v", err)
	}
	res, err := r.Run(t.Context(), obj, runner.RunOptions{Playbook: playbook(t, "success.yml"), DiscardArtifacts: true})
	if err != nil {
		t.Fatalf("run discarding artifacts: %v", err)
	}
	if res.Stats.Ok != 2 || len(res.Tasks) != 3 || res.ArtifactDir != "" {
		t.Errorf("result: stats %+v, %d tasks, artifact dir %q; want the run's stats and tasks, no artifact dir", res.Stats, len(res.Tasks), res.ArtifactDir)
	}
	dir := filepath.Join(opts.RootDir, "cache.example.com", "v1alpha1", "TestApp", obj.GetNamespace(), "discarded", "artifacts")
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("artifacts dir after the discarding run: %v, want it gone", err)
	}
}
