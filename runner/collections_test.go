package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func testCollections() fstest.MapFS {
	return fstest.MapFS{
		"ansible_collections/ns/coll/plugins/modules/mod.py": {Data: []byte("print('mod')\n")},
		"ansible_collections/ns/coll/meta/runtime.yml":       {Data: []byte("requires_ansible: '>=2.14'\n")},
	}
}

// readDir returns the regular files under dir by slash path.
func readDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestInstallCollections(t *testing.T) {
	want := map[string]string{
		"ansible_collections/ns/coll/plugins/modules/mod.py": "print('mod')\n",
		"ansible_collections/ns/coll/meta/runtime.yml":       "requires_ansible: '>=2.14'\n",
	}
	mod := filepath.FromSlash("ansible_collections/ns/coll/plugins/modules/mod.py")
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string) // what an earlier process left
	}{
		{"fresh", nil},
		{"kept as it is", func(*testing.T, string) {}},
		{"edited file", func(t *testing.T, dir string) {
			writeTestFile(t, filepath.Join(dir, mod), "import os; os.system('id')\n")
		}},
		{"extra module", func(t *testing.T, dir string) {
			writeTestFile(t, filepath.Join(dir, "ansible_collections/ns/coll/plugins/modules/extra.py"), "x\n")
		}},
		{"missing file", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, mod)); err != nil {
				t.Fatal(err)
			}
		}},
		{"symlinked file", func(t *testing.T, dir string) {
			other := filepath.Join(t.TempDir(), "mod.py")
			writeTestFile(t, other, "print('mod')\n")
			if err := os.Remove(filepath.Join(dir, mod)); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(other, filepath.Join(dir, mod)); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if tt.damage != nil {
				first, err := installCollections(root, testCollections())
				if err != nil {
					t.Fatal(err)
				}
				tt.damage(t, first)
			}
			dir, err := installCollections(root, testCollections())
			if err != nil {
				t.Fatalf("installCollections: %v", err)
			}
			if filepath.Dir(dir) != filepath.Join(root, collectionsDir) {
				t.Errorf("installed in %s, want a dir of %s", dir, filepath.Join(root, collectionsDir))
			}
			if diff := cmp.Diff(want, readDir(t, dir)); diff != "" {
				t.Errorf("installed files (-want +got):\n%s", diff)
			}
			if entries, _ := os.ReadDir(filepath.Dir(dir)); len(entries) != 1 {
				t.Errorf("%s holds %d entries, want the one dir", filepath.Dir(dir), len(entries))
			}
		})
	}
}

func TestInstallCollectionsNamesTheContent(t *testing.T) {
	root := t.TempDir()
	a, err := installCollections(root, testCollections())
	if err != nil {
		t.Fatal(err)
	}
	changed := testCollections()
	changed["ansible_collections/ns/coll/plugins/modules/mod.py"] = &fstest.MapFile{Data: []byte("print('v2')\n")}
	b, err := installCollections(root, changed)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Errorf("two contents share the dir %s", a)
	}
	if got := readDir(t, a)["ansible_collections/ns/coll/plugins/modules/mod.py"]; got != "print('mod')\n" {
		t.Errorf("the first content changed under its name: %q", got)
	}
}

func TestCollectionsPathEnv(t *testing.T) {
	root := t.TempDir()
	env, err := collectionsPathEnv(Options{RootDir: root, Env: []string{"A=1"},
		CollectionsPath: []string{"/mine", "/beside"}, Collections: testCollections()})
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := installCollections(root, testCollections())
	if diff := cmp.Diff([]string{"A=1", "ANSIBLE_COLLECTIONS_PATH=/mine:/beside:" + dir}, env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	env, err = collectionsPathEnv(Options{RootDir: root, Env: []string{"A=1"}})
	if err != nil || !cmp.Equal(env, []string{"A=1"}) {
		t.Errorf("without collections options: env %q, %v; want it unchanged", env, err)
	}
}

func TestCollectionsOptionsValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts Options
		want string
	}{
		{"env and options", Options{Env: []string{"ANSIBLE_COLLECTIONS_PATH=/x"}, CollectionsPath: []string{"/y"}},
			"sets ANSIBLE_COLLECTIONS_PATH"},
		{"colon", Options{CollectionsPath: []string{"/a:/b"}}, `"/a:/b"`},
		{"empty entry", Options{CollectionsPath: []string{""}}, `""`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			o.Timeout = DefaultTimeout
			o.setDefaults()
			if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error containing %s", err, tt.want)
			}
		})
	}
}

func writeTestFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
