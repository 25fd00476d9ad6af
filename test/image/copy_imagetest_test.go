//go:build imagetest

package image

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

// COPY as an engine does it, into the image root.

// ignored reports whether .dockerignore keeps a path (relative to the
// repository) out of the build context: its patterns as Docker reads them,
// "**/" matching any depth.
func ignored(t *testing.T) func(rel string) bool {
	t.Helper()
	b, err := os.ReadFile(optest.RepoPath(t, ".dockerignore"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var pats []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			pats = append(pats, strings.TrimSuffix(l, "/"))
		}
	}
	repo := optest.RepoPath(t)
	return func(host string) bool {
		rel, err := filepath.Rel(repo, host)
		if err != nil || strings.HasPrefix(rel, "..") {
			return false // not from the build context
		}
		for _, p := range pats {
			if sub, ok := strings.CutPrefix(p, "**/"); ok {
				for _, part := range strings.Split(rel, "/") {
					if m, _ := filepath.Match(sub, part); m {
						return true
					}
				}
			} else if m, _ := filepath.Match(p, rel); m || strings.HasPrefix(rel, p+"/") {
				return true
			}
		}
		return false
	}
}

// copyTree copies from (a file, or a directory's contents) to path to of
// root as COPY does: owned by root, modes kept.
func copyTree(root, from, to string, skip func(string) bool) error {
	return filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if skip(p) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		dst, err := inRoot(root, filepath.Join(to, rel))
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir() && rel == ".":
			// COPY into an existing directory leaves it as it is.
			if _, err := os.Stat(dst); err == nil {
				return nil
			}
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
		case d.IsDir():
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
			if err := os.Chmod(dst, info.Mode().Perm()); err != nil {
				return err
			}
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, dst); err != nil {
				return err
			}
		default:
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			if err := copyFile(p, dst, info.Mode().Perm()); err != nil {
				return err
			}
		}
		return os.Lchown(dst, 0, 0)
	})
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}

// inRoot resolves p inside root: symlinks met on the way are followed
// relative to root, never out of it.
func inRoot(root, p string) (string, error) {
	cur := "/"
	parts := strings.Split(strings.Trim(filepath.Clean("/"+p), "/"), "/")
	for hops := 0; len(parts) > 0; {
		next := filepath.Join(cur, parts[0])
		parts = parts[1:]
		fi, err := os.Lstat(filepath.Join(root, next))
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 || len(parts) == 0 {
			cur = next
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("%s: too many symlinks in the image root", p)
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(cur, target)
		}
		parts = append(strings.Split(strings.Trim(filepath.Clean(target), "/"), "/"), parts...)
		cur = "/"
	}
	return filepath.Join(root, cur), nil
}

// treeDigest hashes the names, modes and contents under p.
func treeDigest(t *testing.T, p string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %v\n", strings.TrimPrefix(q, p), info.Mode())
		if d.Type().IsRegular() {
			f, err := os.Open(q)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(h, f)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("hash %s: %v", p, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}
