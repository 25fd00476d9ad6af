package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCollectionsPath(t *testing.T) {
	wd := t.TempDir()
	withBeside := filepath.Join(wd, "op")
	if err := os.MkdirAll(filepath.Join(withBeside, "collections"), 0o755); err != nil {
		t.Fatal(err)
	}
	beside := filepath.Join(withBeside, "collections")
	defaults := []string{"/home/u/.ansible/collections", "/usr/share/ansible/collections"}
	tests := []struct {
		name    string
		flag    string
		watches string
		env     map[string]string
		want    []string
	}{
		{name: "nothing set: Ansible's default", watches: "watches.yaml", want: defaults},
		{name: "beside the watches file, ahead of the default", watches: "op/watches.yaml",
			want: append([]string{beside}, defaults...)},
		{name: "absolute watches file", watches: filepath.Join(withBeside, "watches.yaml"),
			want: append([]string{beside}, defaults...)},
		{name: "ANSIBLE_HOME", watches: "watches.yaml", env: map[string]string{"ANSIBLE_HOME": "/ah"},
			want: []string{"/ah/collections", "/usr/share/ansible/collections"}},
		{name: "environment replaces the default", watches: "op/watches.yaml",
			env:  map[string]string{"ANSIBLE_COLLECTIONS_PATH": "/a:rel:~/c:$X/d"},
			want: []string{"/a", filepath.Join(wd, "rel"), "/home/u/c", "/x/d", beside}},
		{name: "older spelling", watches: "watches.yaml", env: map[string]string{"ANSIBLE_COLLECTIONS_PATHS": "/old"},
			want: []string{"/old"}},
		{name: "newer spelling wins", watches: "watches.yaml",
			env:  map[string]string{"ANSIBLE_COLLECTIONS_PATHS": "/old", "ANSIBLE_COLLECTIONS_PATH": "/new"},
			want: []string{"/new"}},
		{name: "flag wins over the environment", flag: "/f1:/f2", watches: "watches.yaml",
			env: map[string]string{"ANSIBLE_COLLECTIONS_PATH": "/env"}, want: []string{"/f1", "/f2"}},
		{name: "no repeats", flag: beside + ":/f:/f", watches: "op/watches.yaml", want: []string{beside, "/f"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"HOME": "/home/u", "X": "/x"}
			for k, v := range tt.env {
				env[k] = v
			}
			lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
			got := collectionsPath(tt.flag, tt.watches, wd, lookup)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("collectionsPath (-want +got):\n%s", diff)
			}
		})
	}
}
