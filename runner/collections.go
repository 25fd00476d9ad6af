package runner

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// collectionsDir, under the root dir, holds Options.Collections, one dir per
// content digest: operators of different builds sharing a root dir keep one
// each. Its leading dot keeps it apart from group names.
const collectionsDir = ".collections"

// collectionsEnv is the variable that carries the runs' collections path.
const collectionsEnv = "ANSIBLE_COLLECTIONS_PATH"

// treeFile is one regular file of a collections tree.
type treeFile struct {
	path string // slash-separated, relative to the tree's root
	data []byte
}

// installCollections writes the regular files of src to
// <root>/.collections/<digest> and returns that dir. A dir of that digest
// left by an earlier process is used as it is when it holds exactly those
// files, and replaced whole otherwise (a write cut short, an edit), so runs
// never load anything but what src holds.
func installCollections(root string, src fs.FS) (string, error) {
	files, err := readTree(src)
	if err != nil {
		return "", fmt.Errorf("read the built-in collections: %w", err)
	}
	parent := filepath.Join(root, collectionsDir)
	if err := os.Mkdir(parent, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("built-in collections: %w", err)
	}
	if st, err := os.Lstat(parent); err != nil || !st.IsDir() {
		return "", fmt.Errorf("built-in collections: %s is not a directory; remove it", parent)
	}
	dir := filepath.Join(parent, treeDigest(files))
	if sameTree(dir, files) {
		return dir, nil
	}
	tmp, err := os.MkdirTemp(parent, ".new-")
	if err != nil {
		return "", fmt.Errorf("built-in collections: %w", err)
	}
	defer os.RemoveAll(tmp) // nothing left once renamed
	if err := writeTree(tmp, files); err != nil {
		return "", fmt.Errorf("write the built-in collections to %s: %w", tmp, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("replace the built-in collections in %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if sameTree(dir, files) {
			return dir, nil // another operator sharing the root dir wrote them meanwhile
		}
		return "", fmt.Errorf("install the built-in collections in %s: %w", dir, err)
	}
	return dir, nil
}

// readTree returns the regular files of src, sorted by path.
func readTree(src fs.FS) ([]treeFile, error) {
	var files []treeFile
	err := fs.WalkDir(src, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := fs.ReadFile(src, path)
		files = append(files, treeFile{path: path, data: data})
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, errors.New("no files")
	}
	slices.SortFunc(files, func(a, b treeFile) int { return strings.Compare(a.path, b.path) })
	return files, nil
}

// treeDigest names a tree by its paths and contents.
func treeDigest(files []treeFile) string {
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%d\x00", f.path, len(f.data))
		h.Write(f.data)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func writeTree(dir string, files []treeFile) error {
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// sameTree reports whether dir holds exactly files: the same regular files
// with the same contents, and nothing else but directories and Python's
// __pycache__ dirs. A symlink anywhere is a difference.
func sameTree(dir string, files []treeFile) bool {
	want := make(map[string][]byte, len(files))
	for _, f := range files {
		want[f.path] = f.data
	}
	seen := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && d.Name() == "__pycache__":
			return filepath.SkipDir
		case d.IsDir():
			return nil
		case !d.Type().IsRegular():
			return errors.New("not a regular file")
		}
		rel, _ := filepath.Rel(dir, path) // path is under dir
		data, ok := want[filepath.ToSlash(rel)]
		if !ok {
			return errors.New("extra file")
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, data) {
			return errors.New("differs")
		}
		seen++
		return nil
	})
	return err == nil && seen == len(files)
}

// collectionsPathEnv returns opts.Env with the runs' collections path:
// Options.CollectionsPath, then the installed Options.Collections.
func collectionsPathEnv(opts Options) ([]string, error) {
	path := slices.Clone(opts.CollectionsPath)
	if opts.Collections != nil {
		dir, err := installCollections(opts.RootDir, opts.Collections)
		if err != nil {
			return nil, err
		}
		path = append(path, dir)
	}
	if len(path) == 0 {
		return opts.Env, nil
	}
	return append(slices.Clip(opts.Env), collectionsEnv+"="+strings.Join(path, ":")), nil
}
