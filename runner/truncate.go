package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The files of an artifact dir that truncateRun cuts or deletes, and in which
// order. With -j, stdout holds the event stream, the same events as
// job_events/<counter>-<uuid>.json.
const (
	artifactStdout    = "stdout"
	artifactJobEvents = "job_events"
)

// keptAlways are the small files that say how the run ended.
var keptAlways = []string{"status", "rc", "command"}

// truncateRun cuts the artifacts of one run, dir, down to limit bytes of
// disk when they pass it: first stdout is cut to its last quarter of limit,
// then the oldest events are deleted, so that the end of the run (the failing
// task, the recap) stays; then other files, largest first, but never status,
// rc and command. It returns the disk usage left.
func truncateRun(dir string, limit int64) (int64, error) {
	used, err := diskUsage(dir)
	if err != nil || used <= limit {
		return used, err
	}
	var errs []error
	freed, err := keepTail(filepath.Join(dir, artifactStdout), max(limit/4, 0), limit)
	used -= freed
	errs = append(errs, err)
	for _, f := range artifactFiles(dir) {
		if used <= limit {
			break
		}
		if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("cut artifacts: %w", err))
			continue
		}
		used -= f.bytes
	}
	return used, errors.Join(errs...)
}

type artifactFile struct {
	path  string
	bytes int64
	event int // counter of a job event, -1 for other files
}

// artifactFiles lists the files truncateRun may delete, in the order it
// deletes them: job events by counter, then the rest largest first.
func artifactFiles(dir string) []artifactFile {
	var files []artifactFile
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, path) // path is under dir
		if slices.Contains(keptAlways, rel) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		f := artifactFile{path: path, bytes: diskBytes(info), event: -1}
		if filepath.Dir(rel) == artifactJobEvents {
			counter, _, _ := strings.Cut(d.Name(), "-")
			if n, err := strconv.Atoi(counter); err == nil {
				f.event = n
			}
		}
		files = append(files, f)
		return nil
	})
	slices.SortStableFunc(files, func(a, b artifactFile) int {
		switch {
		case (a.event >= 0) != (b.event >= 0):
			if a.event >= 0 {
				return -1
			}
			return 1
		case a.event >= 0:
			return a.event - b.event
		default:
			return int(b.bytes - a.bytes)
		}
	})
	return files
}

// keepTail replaces path, when larger than keep bytes, by its last keep
// bytes from a line start, after a JSON line saying what was cut (stdout is a
// JSON event stream with -j). It returns the disk space freed.
func keepTail(path string, keep, limit int64) (int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cut artifacts: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() <= keep {
		return 0, err
	}
	tail := make([]byte, keep)
	if _, err := f.ReadAt(tail, st.Size()-keep); err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("cut artifacts: %w", err)
	}
	if i := strings.IndexByte(string(tail), '\n'); i >= 0 {
		tail = tail[i+1:]
	}
	note, _ := json.Marshal(map[string]string{ // a map of strings always encodes
		"event": "verbose",
		"stdout": fmt.Sprintf("[the operator cut the first %d bytes of this file: the artifacts of the run passed the per-resource cap of %d bytes]",
			st.Size()-int64(len(tail)), limit),
	})
	if err := writeFileAtomic(path, append(append(note, '\n'), tail...)); err != nil {
		return 0, fmt.Errorf("cut artifacts: %w", err)
	}
	after, err := os.Lstat(path)
	if err != nil {
		return 0, fmt.Errorf("cut artifacts: %w", err)
	}
	return diskBytes(st) - diskBytes(after), nil
}
