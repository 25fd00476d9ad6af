package runner_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mcrouter-operator/mcrouter-operator/runner"
)

// du is the disk space taken by path and everything under it, in allocated
// blocks as a size-limited emptyDir counts it; 0 when path does not exist.
func du(t *testing.T, path string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += info.Sys().(*syscall.Stat_t).Blocks * 512
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// allArtifacts is the disk space of every artifacts dir under root.
func allArtifacts(t *testing.T, root string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "artifacts" {
			n += du(t, path)
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A resource that fails run after run, as the controller retries it with
// backoff, with the count cap at its maximum and a role that prints a lot,
// keeps its artifacts and all artifacts under the byte caps; the newest run's
// artifacts are always there.
func TestRunArtifactsStayUnderTheByteCaps(t *testing.T) {
	t.Parallel()
	const capBytes = 1 << 20 // each run takes about 640 KiB
	r, opts := newRunner(t, func(o *runner.Options) {
		o.MaxArtifactBytes, o.MaxTotalArtifactBytes = capBytes, capBytes
	})
	vars := map[string]any{"print_bytes": 100000, "times": 1}
	for i, name := range []string{"a", "a", "a", "a", "a", "b", "b"} {
		obj := testObject(t, name, nil)
		res, err := r.Run(t.Context(), obj, runner.RunOptions{Playbook: playbook(t, "loud.yml"), Vars: vars, MaxArtifacts: 1000})
		if err != nil || !res.Failed() {
			t.Fatalf("run %d of %s: %v, failed %v; want a failed task", i, name, err, res != nil && res.Failed())
		}
		if _, err := os.Stat(filepath.Join(res.ArtifactDir, "job_events")); err != nil {
			t.Errorf("run %d of %s: the newest artifacts are gone: %v", i, name, err)
		}
		if got := du(t, filepath.Dir(res.ArtifactDir)); got > capBytes {
			t.Errorf("run %d of %s: its artifacts take %d bytes, per-resource cap %d", i, name, got, capBytes)
		}
		if got := allArtifacts(t, opts.RootDir); got > capBytes {
			t.Errorf("run %d of %s: all artifacts take %d bytes, total cap %d", i, name, got, capBytes)
		}
	}
}

// A run whose output would pass the per-resource cap is killed, and what it
// wrote is cut down to the cap.
func TestRunKilledForItsOutput(t *testing.T) {
	t.Parallel()
	const capBytes = 1 << 20
	r, _ := newRunner(t, func(o *runner.Options) { o.MaxArtifactBytes = capBytes })
	res, err := r.Run(t.Context(), testObject(t, "loud", nil), runner.RunOptions{
		Playbook: playbook(t, "loud.yml"), Vars: map[string]any{"print_bytes": 100000, "times": 40},
	})
	if !errors.Is(err, runner.ErrOutputLimit) {
		t.Fatalf("Run: %v, want ErrOutputLimit", err)
	}
	for _, want := range []string{`in task "Print a lot"`, "1048576", "--max-runner-artifacts-bytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if got := du(t, filepath.Dir(res.ArtifactDir)); got > capBytes {
		t.Errorf("its artifacts take %d bytes, cap %d", got, capBytes)
	}
}
