package runner

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/go-logr/logr"
)

const (
	// tmpDir is the per-run temp dir inside the input dir.
	tmpDir = "tmp"
	// sharedCacheDir, under the root dir, keeps the files that runs hand on
	// to later runs. Its leading dot keeps it apart from group names.
	sharedCacheDir = ".cache"
	// discoveryCache matches the API discovery cache that kubernetes.core
	// writes to Python's temp dir (k8srcp-<hash of host and user>.json).
	// Without it every run would discover the API again.
	discoveryCache = "k8srcp-*.json"
)

// runTemp is the temp dir of one run. Everything Ansible leaves there is
// removed when the run ends, however it ends; the discovery cache is carried
// over to the next runs through the shared dir.
type runTemp struct {
	dir    string // the run's TMPDIR
	shared string // files carried between runs
}

// prepare makes the run's temp dir empty, removing what an earlier run that
// could not clean up (an operator killed mid-run) left in it, and copies in
// the shared discovery cache. A cache that cannot be copied only costs the
// run its discovery requests: it is logged, not an error.
func (t runTemp) prepare(log logr.Logger) error {
	if err := os.RemoveAll(t.dir); err != nil {
		return fmt.Errorf("clear temp dir: %w", err)
	}
	if err := os.Mkdir(t.dir, 0o700); err != nil {
		return fmt.Errorf("create temp dir: %w", err)
	}
	cached, _ := filepath.Glob(filepath.Join(t.shared, discoveryCache)) // the pattern is valid
	for _, src := range cached {
		if err := copyFile(src, filepath.Join(t.dir, filepath.Base(src))); err != nil {
			log.Error(err, "the run discovers the API itself")
		}
	}
	return nil
}

// finish moves the discovery cache the run wrote or refreshed to the shared
// dir, replacing the older copy whole, and removes the run's temp dir.
func (t runTemp) finish() error {
	var errs []error
	written, _ := filepath.Glob(filepath.Join(t.dir, discoveryCache))
	if len(written) > 0 {
		if err := os.MkdirAll(t.shared, 0o700); err != nil {
			errs = append(errs, fmt.Errorf("create shared cache dir: %w", err))
			written = nil
		}
	}
	for _, src := range written {
		if err := os.Rename(src, filepath.Join(t.shared, filepath.Base(src))); err != nil {
			errs = append(errs, fmt.Errorf("keep discovery cache: %w", err))
		}
	}
	if err := os.RemoveAll(t.dir); err != nil {
		errs = append(errs, fmt.Errorf("remove temp dir: %w", err))
	}
	return errors.Join(errs...)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if errors.Is(err, os.ErrNotExist) {
		return nil // removed in between: the run discovers the API itself
	}
	if err != nil {
		return fmt.Errorf("copy discovery cache: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("copy discovery cache: %w", err)
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(dst)
		return fmt.Errorf("copy discovery cache to %s: %w", dst, err)
	}
	return nil
}
