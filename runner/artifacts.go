package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// artifactsDir is ansible-runner's artifact dir inside an input dir.
const artifactsDir = "artifacts"

// artifactRun is the artifact dir of one run, <input dir>/artifacts/<ident>.
type artifactRun struct {
	path  string
	bytes int64     // disk usage
	mtime time.Time // of the dir: ansible-runner's own rotation orders by it
}

// resourceArtifacts are the artifacts of one resource.
type resourceArtifacts struct {
	base int64         // disk usage of the artifacts dir itself
	runs []artifactRun // oldest first
	busy int           // runs and removals in progress
}

func (r *resourceArtifacts) bytes() int64 {
	n := r.base
	for _, run := range r.runs {
		n += run.bytes
	}
	return n
}

// artifactStore keeps the artifacts under the byte caps: those of one
// resource under perResource after each of its runs, and those of all
// resources under total. It knows the size of every run's artifacts, so that
// the end of a run reads only what that run wrote, not the whole root dir.
type artifactStore struct {
	perResource, total int64

	// mu guards resources, and is held while a run's artifacts are deleted
	// for the total cap, so that a run of that resource cannot start
	// (ansible-runner's count rotation deleting the same dir would crash it).
	mu        sync.Mutex
	resources map[string]*resourceArtifacts // by input dir
}

func newArtifactStore(perResource, total int64) *artifactStore {
	return &artifactStore{perResource: perResource, total: total, resources: map[string]*resourceArtifacts{}}
}

// begin marks the input dir busy: the total cap leaves its artifacts alone
// until end.
func (s *artifactStore) begin(dir string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resourceLocked(dir).busy++
}

func (s *artifactStore) end(dir string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.resourceLocked(dir)
	r.busy--
	if r.busy == 0 && len(r.runs) == 0 && r.base == 0 {
		delete(s.resources, dir) // removed, or never ran
	}
}

func (s *artifactStore) resourceLocked(dir string) *resourceArtifacts {
	r, ok := s.resources[dir]
	if !ok {
		r = &resourceArtifacts{}
		s.resources[dir] = r
	}
	return r
}

// forget drops a removed input dir.
func (s *artifactStore) forget(dir string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.resources[dir]; r != nil {
		r.runs, r.base = nil, 0
	}
}

// afterRun enforces the caps after a run of the resource of input dir dir,
// which the caller holds busy; the artifacts of keep, that run, are kept,
// cut down to the per-resource cap if they alone pass it. With discard
// nothing is kept: the resource's artifacts dir goes.
func (s *artifactStore) afterRun(dir, keep string, discard bool) error {
	if discard {
		return s.discard(dir)
	}
	err := s.rotateResource(dir, keep)
	return errors.Join(err, s.rotateTotal(dir, keep))
}

// discard deletes the artifacts dir of input dir dir, which the caller
// holds busy.
func (s *artifactStore) discard(dir string) error {
	err := os.RemoveAll(filepath.Join(dir, artifactsDir))
	if err != nil {
		err = fmt.Errorf("discard artifacts: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.resourceLocked(dir)
	r.base, r.runs = 0, nil
	return err
}

// rotateResource deletes the oldest runs of dir until its artifacts fit the
// per-resource cap, then cuts keep if they still do not.
func (s *artifactStore) rotateResource(dir, keep string) error {
	s.mu.Lock()
	known := slices.Clone(s.resourceLocked(dir).runs)
	s.mu.Unlock()
	res, err := scanResource(dir, known)
	if err != nil {
		return err
	}
	var errs []error
	for i := 0; i < len(res.runs) && res.bytes() > s.perResource; {
		if res.runs[i].path == keep {
			i++
			continue
		}
		if err := os.RemoveAll(res.runs[i].path); err != nil {
			errs = append(errs, fmt.Errorf("rotate artifacts: %w", err))
			i++
			continue
		}
		res.runs = slices.Delete(res.runs, i, i+1)
	}
	if over := res.bytes() - s.perResource; over > 0 {
		for i := range res.runs {
			if res.runs[i].path == keep {
				used, err := truncateRun(keep, res.runs[i].bytes-over)
				errs = append(errs, err)
				res.runs[i].bytes = used
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.resourceLocked(dir)
	r.base, r.runs = res.base, res.runs
	return errors.Join(errs...)
}

// rotateTotal deletes runs, oldest first, until all artifacts fit the total
// cap: first runs that are not their resource's newest, then the newest of
// other resources. It never deletes keep, nor the artifacts of a busy
// resource other than own (whose run is the caller's).
func (s *artifactStore) rotateTotal(own, keep string) error {
	var errs []error
	for {
		done, err := s.evictOne(own, keep)
		if err != nil {
			errs = append(errs, err)
		}
		if done {
			return errors.Join(errs...)
		}
	}
}

// evictOne deletes the run rotateTotal should delete next, if any; done
// reports that there is none.
func (s *artifactStore) evictOne(own, keep string) (done bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var total int64
	for _, r := range s.resources {
		total += r.bytes()
	}
	if total <= s.total {
		return true, nil
	}
	var victim *resourceArtifacts
	vi, vNewest := -1, false
	for dir, r := range s.resources {
		if r.busy > 0 && dir != own {
			continue
		}
		for i, run := range r.runs {
			newest := i == len(r.runs)-1
			if run.path == keep || victim != nil && !olderVictim(newest, run, vNewest, victim.runs[vi]) {
				continue
			}
			victim, vi, vNewest = r, i, newest
		}
	}
	if victim == nil {
		return true, nil // what is left belongs to runs in progress
	}
	path := victim.runs[vi].path
	victim.runs = slices.Delete(victim.runs, vi, vi+1)
	if err := os.RemoveAll(path); err != nil {
		return false, fmt.Errorf("rotate artifacts for the total cap: %w", err)
	}
	return false, nil
}

// olderVictim reports whether run a (newest of its resource or not) goes
// before run b.
func olderVictim(aNewest bool, a artifactRun, bNewest bool, b artifactRun) bool {
	if aNewest != bNewest {
		return !aNewest
	}
	return a.mtime.Before(b.mtime)
}

// load reads the artifacts of every input dir under root, as left by an
// earlier operator process, and brings them under the caps, keeping the
// newest run of each resource where the per-resource cap allows.
func (s *artifactStore) load(root string) error {
	var errs []error
	for _, dir := range findInputDirs(root) {
		res, err := scanResource(dir, nil)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.mu.Lock()
		s.resources[dir] = res
		s.mu.Unlock()
		if len(res.runs) > 0 {
			errs = append(errs, s.rotateResource(dir, res.runs[len(res.runs)-1].path))
		}
	}
	return errors.Join(append(errs, s.rotateTotal("", ""))...)
}

// inputDirDepth is the depth of <group>/<version>/<kind>/<namespace>/<name>.
const inputDirDepth = 5

// findInputDirs lists the input dirs under root: the dirs holding the
// env/extravars file that every run writes. No path element of a resource
// can be mistaken for one: above an input dir, env/extravars is a directory
// if anything.
func findInputDirs(root string) []string {
	var dirs []string
	root = filepath.Clean(root)
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil // unreadable: its runs are accounted for when they run again
		}
		rel, _ := filepath.Rel(root, path) // path is under root
		if rel == sharedCacheDir {
			return filepath.SkipDir
		}
		if st, err := os.Lstat(filepath.Join(path, "env", "extravars")); err == nil && st.Mode().IsRegular() {
			dirs = append(dirs, path)
			return filepath.SkipDir
		}
		if rel != "." && strings.Count(rel, "/")+1 >= inputDirDepth {
			return filepath.SkipDir
		}
		return nil
	})
	return dirs
}

// scanResource reads the artifact runs of input dir dir, oldest first. Runs
// in known whose dir has not changed keep their size: a finished run's
// artifacts do not change.
func scanResource(dir string, known []artifactRun) (*resourceArtifacts, error) {
	art := filepath.Join(dir, artifactsDir)
	st, err := os.Lstat(art)
	if errors.Is(err, fs.ErrNotExist) {
		return &resourceArtifacts{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read artifacts: %w", err)
	}
	entries, err := os.ReadDir(art)
	if err != nil {
		return nil, fmt.Errorf("read artifacts: %w", err)
	}
	res := &resourceArtifacts{base: diskBytes(st)}
	for _, e := range entries {
		run := artifactRun{path: filepath.Join(art, e.Name())}
		info, err := e.Info()
		if err != nil {
			continue // removed in between
		}
		run.mtime = info.ModTime()
		if i := slices.IndexFunc(known, func(k artifactRun) bool { return k.path == run.path }); i >= 0 &&
			known[i].mtime.Equal(run.mtime) {
			run.bytes = known[i].bytes
		} else if run.bytes, err = diskUsage(run.path); err != nil {
			return nil, err
		}
		res.runs = append(res.runs, run)
	}
	slices.SortStableFunc(res.runs, func(a, b artifactRun) int { return a.mtime.Compare(b.mtime) })
	return res, nil
}

// diskBytes is the disk space a file takes: its allocated blocks, which is
// what a size-limited emptyDir counts (a 300-byte event file takes 4 KiB).
func diskBytes(fi fs.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}

// diskUsage is the disk space taken by path and everything under it.
func diskUsage(path string) (int64, error) {
	var n int64
	err := filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed in between
		}
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += diskBytes(info)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("measure artifacts: %w", err)
	}
	return n, nil
}
