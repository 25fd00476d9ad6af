package runner

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnsureRootDirCreates0700(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "ansible-operator", "runner")
	if err := ensureRootDir(root, os.Geteuid()); err != nil {
		t.Fatalf("ensureRootDir: %v", err)
	}
	for _, dir := range []string{filepath.Dir(root), root} {
		st, err := os.Lstat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !st.IsDir() || st.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, want a directory with mode 0700", dir, st.Mode())
		}
	}
	// A second start accepts what the first created.
	if err := ensureRootDir(root, os.Geteuid()); err != nil {
		t.Errorf("ensureRootDir again: %v", err)
	}
}

func TestEnsureRootDirRefusesUnsafeDirs(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, base string) string // returns the runner dir
		want  []string
	}{
		{"world-writable runner dir", func(t *testing.T, base string) string {
			root := filepath.Join(base, "runner")
			mkdirMode(t, root, 0o777)
			return root
		}, []string{"runner dir " + "%ROOT%", "writable by group or others", "mode -rwxrwxrwx", "--runner-dir"}},
		{"group-writable runner dir", func(t *testing.T, base string) string {
			root := filepath.Join(base, "runner")
			mkdirMode(t, root, 0o770)
			return root
		}, []string{"writable by group or others"}},
		{"sticky world-writable runner dir", func(t *testing.T, base string) string {
			root := filepath.Join(base, "runner")
			mkdirMode(t, root, 0o777|fs.ModeSticky)
			return root
		}, []string{"writable by group or others"}},
		{"runner dir is a symlink", func(t *testing.T, base string) string {
			target := filepath.Join(base, "elsewhere")
			mkdirMode(t, target, 0o700)
			root := filepath.Join(base, "runner")
			if err := os.Symlink(target, root); err != nil {
				t.Fatal(err)
			}
			return root
		}, []string{"is a symbolic link", "--runner-dir"}},
		{"runner dir is a file", func(t *testing.T, base string) string {
			root := filepath.Join(base, "runner")
			if err := os.WriteFile(root, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return root
		}, []string{"is not a directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := tt.setup(t, t.TempDir())
			err := ensureRootDir(root, os.Geteuid())
			if err == nil {
				t.Fatalf("ensureRootDir(%s) accepted it", root)
			}
			for _, w := range tt.want {
				if w = strings.ReplaceAll(w, "%ROOT%", root); !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// Directories owned by another uid can only be made by root: when the test
// runs as root it chowns them; checkDir's table test covers every uid case
// with stat values whoever runs it.
func TestEnsureRootDirRefusesAnotherUsersDirs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Log("not root: another uid's dirs cannot be made here; TestCheckDir covers them with stat values")
		return
	}
	const other = 4242
	t.Run("runner dir", func(t *testing.T) {
		root := filepath.Join(t.TempDir(), "runner")
		mkdirMode(t, root, 0o700)
		chown(t, root, other)
		wantErr(t, ensureRootDir(root, 0), "owned by uid 4242, not by this process's uid 0")
	})
	t.Run("parent created first by another user", func(t *testing.T) {
		parent := filepath.Join(t.TempDir(), "ansible-operator")
		mkdirMode(t, parent, 0o755)
		chown(t, parent, other)
		wantErr(t, ensureRootDir(filepath.Join(parent, "runner"), 0),
			parent+" above runner dir", "owned by uid 4242")
	})
	t.Run("parent is another user's symlink", func(t *testing.T) {
		base := t.TempDir()
		mkdirMode(t, filepath.Join(base, "mine"), 0o700)
		link := filepath.Join(base, "ansible-operator")
		if err := os.Symlink(filepath.Join(base, "mine"), link); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(link, other, other); err != nil {
			t.Fatal(err)
		}
		wantErr(t, ensureRootDir(filepath.Join(link, "runner"), 0), "owned by uid 4242")
	})
}

func TestCheckDir(t *testing.T) {
	const me, other = 1000, 1001
	dir := func(perm fs.FileMode, uid int) dirState { return dirState{mode: fs.ModeDir | perm, uid: uid} }
	link := func(uid int) dirState { return dirState{mode: fs.ModeSymlink | 0o777, uid: uid} }
	tests := []struct {
		name string
		st   dirState
		self bool
		want string // "" = accepted
	}{
		{"own runner dir 0700", dir(0o700, me), true, ""},
		{"own runner dir 0755", dir(0o755, me), true, ""},
		{"runner dir of another uid", dir(0o700, other), true, "owned by uid 1001, not by this process's uid 1000"},
		{"runner dir of root", dir(0o700, 0), true, "owned by uid 0"},
		{"world-writable runner dir", dir(0o777, me), true, "writable by group or others"},
		{"sticky runner dir is no excuse", dir(0o777|fs.ModeSticky, me), true, "writable by group or others"},
		{"runner dir symlink", link(me), true, "symbolic link"},
		{"root's /tmp", dir(0o777|fs.ModeSticky, 0), false, ""},
		{"root's emptyDir without sticky bit", dir(0o777, 0), false, ""},
		{"own parent 0700", dir(0o700, me), false, ""},
		{"own parent world-writable", dir(0o777, me), false, "without the sticky bit"},
		{"own sticky parent", dir(0o777|fs.ModeSticky, me), false, ""},
		{"parent of another uid", dir(0o755, other), false, "owned by uid 1001, neither this process's uid 1000 nor root"},
		{"parent symlink of another uid", link(other), false, "owned by uid 1001"},
		{"own parent symlink", link(me), false, ""},
		{"root's parent symlink", link(0), false, ""},
		{"parent is a file", dirState{mode: 0o600, uid: me}, false, "not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkDir("/x/p", "/x/p/runner", tt.st, me, tt.self)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && err == nil:
				t.Errorf("accepted, want an error containing %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func mkdirMode(t *testing.T, dir string, mode fs.FileMode) {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

func chown(t *testing.T, path string, uid int) {
	t.Helper()
	if err := os.Chown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted, want an error containing %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}
