package watches_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mcrouter-operator/mcrouter-operator/watches"
)

// mkdirs creates directories (and, for names ending in .yml, files) under root.
func mkdirs(t *testing.T, root string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		full := filepath.Join(root, p)
		if filepath.Ext(p) == ".yml" {
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, []byte("- hosts: localhost\n  tasks: []\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(full, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// parseOne parses a single entry that runs ref as a role ("role: ref") or playbook, from a watches file at file.
func parseOne(t *testing.T, file, key, ref string) []watches.Entry {
	t.Helper()
	text := "- {version: v1alpha3, group: mcrouter.example.com, kind: Mcrouter, " + key + ": '" + ref + "'}\n"
	entries, err := watches.Parse(strings.NewReader(text), file)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func TestResolveRole(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	mkdirs(t, root,
		"abs/myrole",
		"work/roles/local",
		"work/roles/shadowed",
		"rp1/flat",
		"rp1/shadowed",
		"rp2/roles/nested",
		"coll/ansible_collections/ns/coll/roles/cr",
		"coll2/ansible_collections/ns/coll/roles/second",
		"home/.ansible/collections/ansible_collections/ns/coll/roles/homerole",
		"envroles/fromenv",
		"flagroles/fromenv",
	)
	if err := os.WriteFile(filepath.Join(root, "rp1", "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	mkdirs(t, root, "work/roles/file")
	work := filepath.Join(root, "work")
	explicit := watches.Options{
		WorkDir:         work,
		RolesPath:       []string{filepath.Join(root, "rp1"), filepath.Join(root, "rp2")},
		CollectionsPath: []string{filepath.Join(root, "coll"), filepath.Join(root, "coll2", "ansible_collections")},
		LookupEnv:       env(nil),
	}
	fromEnv := watches.Options{WorkDir: work, LookupEnv: env(map[string]string{
		"ANSIBLE_ROLES_PATH": filepath.Join(root, "envroles") + "::" + filepath.Join(root, "rp2"),
		"HOME":               filepath.Join(root, "home"),
	})}
	tests := []struct {
		name, role string
		opts       watches.Options
		want       string
	}{
		{"absolute path", filepath.Join(root, "abs", "myrole"), explicit, "abs/myrole"},
		{"collection in collections path", "ns.coll.cr", explicit, "coll/ansible_collections/ns/coll/roles/cr"},
		{"collections path given as ansible_collections", "ns.coll.second", explicit, "coll2/ansible_collections/ns/coll/roles/second"},
		{"roles path <p>/<role>", "flat", explicit, "rp1/flat"},
		{"roles path <p>/roles/<role>", "nested", explicit, "rp2/roles/nested"},
		{"<work dir>/roles/<role>", "local", explicit, "work/roles/local"},
		{"roles path before work dir", "shadowed", explicit, "rp1/shadowed"},
		{"a file is not a role", "file", explicit, "work/roles/file"},
		{"ANSIBLE_ROLES_PATH when RolesPath is nil", "fromenv", fromEnv, "envroles/fromenv"},
		{"RolesPath (the flag) wins over ANSIBLE_ROLES_PATH", "fromenv", func() watches.Options {
			o := fromEnv
			o.RolesPath = []string{filepath.Join(root, "flagroles")}
			return o
		}(), "flagroles/fromenv"},
		{"default collections path under HOME", "ns.coll.homerole", fromEnv, "home/.ansible/collections/ansible_collections/ns/coll/roles/homerole"},
		{"relative roles path entry is under the work dir", "local", func() watches.Options {
			o := explicit
			o.RolesPath = []string{"roles"}
			return o
		}(), "work/roles/local"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := watches.Resolve(parseOne(t, filepath.Join(work, "watches.yaml"), "role", tt.role), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(root, tt.want); got[0].Role != want {
				t.Errorf("Role = %s, want %s", got[0].Role, want)
			}
		})
	}
}

func TestResolveRoleNotFound(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	opts := watches.Options{
		WorkDir:         filepath.Join(root, "work"),
		RolesPath:       []string{filepath.Join(root, "rp")},
		CollectionsPath: []string{filepath.Join(root, "coll")},
		LookupEnv:       env(nil),
	}
	_, err := watches.Resolve(parseOne(t, "watches.yaml", "role", "ns.coll.gone"), opts)
	if err == nil {
		t.Fatal("Resolve found a role that does not exist")
	}
	for _, searched := range []string{
		"coll/ansible_collections/ns/coll/roles/gone", "rp/ns.coll.gone", "rp/roles/ns.coll.gone", "work/roles/ns.coll.gone",
	} {
		if !strings.Contains(err.Error(), filepath.Join(root, searched)) {
			t.Errorf("error does not list %s as searched:\n%v", searched, err)
		}
	}
	want := `watches.yaml:1: entry 0 (mcrouter.example.com/v1alpha3, Kind=Mcrouter): role: role "ns.coll.gone" not found`
	if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "set ANSIBLE_ROLES_PATH") {
		t.Errorf("error = %v\nwant it to start with %q and say to set ANSIBLE_ROLES_PATH", err, want)
	}
}

func TestResolvePlaybook(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	mkdirs(t, root, "config/site.yml", "config/both.yml", "work/both.yml", "work/cwdonly.yml", "abs/pb.yml", "config/dir.yml/x")
	opts := watches.Options{WorkDir: filepath.Join(root, "work"), LookupEnv: env(nil)}
	tests := []struct {
		name, file, playbook, want string
	}{
		{"relative to the watches file", filepath.Join(root, "config", "watches.yaml"), "site.yml", "config/site.yml"},
		{"watches file's directory before the work dir", filepath.Join(root, "config", "watches.yaml"), "both.yml", "config/both.yml"},
		{"then the work dir", filepath.Join(root, "config", "watches.yaml"), "cwdonly.yml", "work/cwdonly.yml"},
		{"relative watches file path is under the work dir", "../config/watches.yaml", "./site.yml", "config/site.yml"},
		{"absolute", filepath.Join(root, "config", "watches.yaml"), filepath.Join(root, "abs", "pb.yml"), "abs/pb.yml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := watches.Resolve(parseOne(t, tt.file, "playbook", tt.playbook), opts)
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(root, tt.want); got[0].Playbook != want || got[0].Role != "" {
				t.Errorf("Playbook, Role = %q, %q; want %q, \"\"", got[0].Playbook, got[0].Role, want)
			}
		})
	}
	t.Run("a directory is not a playbook", func(t *testing.T) {
		t.Parallel()
		_, err := watches.Resolve(parseOne(t, filepath.Join(root, "config", "w.yaml"), "playbook", "dir.yml"), opts)
		want := `playbook: playbook "dir.yml" not found; searched ` + filepath.Join(root, "config", "dir.yml") + ", " + filepath.Join(root, "work", "dir.yml")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v, want one containing %q", err, want)
		}
	})
}

func TestEnvOverrides(t *testing.T) {
	t.Parallel()
	mcrouter := schema.GroupVersionKind{Group: "mcrouter.example.com", Version: "v1alpha3", Kind: "Mcrouter"}
	tests := []struct {
		name                  string
		env                   map[string]string
		wantWorkers, wantVerb int
	}{
		{"no override: Options values", nil, 3, 2},
		{"MAX_CONCURRENT_RECONCILES beats the option", map[string]string{"MAX_CONCURRENT_RECONCILES_MCROUTER_MCROUTER_EXAMPLE_COM": "6"}, 6, 2},
		{"deprecated WORKER", map[string]string{"WORKER_MCROUTER_MCROUTER_EXAMPLE_COM": "5"}, 5, 2},
		{"MAX_CONCURRENT_RECONCILES before WORKER", map[string]string{
			"MAX_CONCURRENT_RECONCILES_MCROUTER_MCROUTER_EXAMPLE_COM": "6", "WORKER_MCROUTER_MCROUTER_EXAMPLE_COM": "5",
		}, 6, 2},
		{"verbosity 0 beats the option", map[string]string{"ANSIBLE_VERBOSITY_MCROUTER_MCROUTER_EXAMPLE_COM": "0"}, 3, 0},
		{"verbosity 7", map[string]string{"ANSIBLE_VERBOSITY_MCROUTER_MCROUTER_EXAMPLE_COM": " 7 "}, 3, 7},
		{"another kind's variables do not apply", map[string]string{
			"MAX_CONCURRENT_RECONCILES_MEMCACHED_MCROUTER_EXAMPLE_COM": "9", "ANSIBLE_VERBOSITY_MCROUTER_": "6",
		}, 3, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := watches.Options{
				MaxConcurrentReconciles: 3, AnsibleVerbosity: 2, ReconcilePeriod: time.Hour,
				WorkDir: t.TempDir(), RolesPath: []string{}, LookupEnv: env(tt.env),
			}
			got, err := watches.Resolve(parseOne(t, "w.yaml", "role", filepath.Join(opts.WorkDir)), opts)
			if err != nil {
				t.Fatal(err)
			}
			if got[0].GroupVersionKind != mcrouter || got[0].MaxConcurrentReconciles != tt.wantWorkers || got[0].AnsibleVerbosity != tt.wantVerb {
				t.Errorf("%s: MaxConcurrentReconciles, AnsibleVerbosity = %d, %d; want %d, %d",
					got[0].GroupVersionKind, got[0].MaxConcurrentReconciles, got[0].AnsibleVerbosity, tt.wantWorkers, tt.wantVerb)
			}
			if got[0].ReconcilePeriod != time.Hour {
				t.Errorf("ReconcilePeriod = %s, want the option's 1h", got[0].ReconcilePeriod)
			}
		})
	}
}

func TestEnvNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		gvk                      schema.GroupVersionKind
		workers, worker, verbose string
	}{
		{
			schema.GroupVersionKind{Group: "mcrouter.example.com", Version: "v1alpha3", Kind: "Mcrouter"},
			"MAX_CONCURRENT_RECONCILES_MCROUTER_MCROUTER_EXAMPLE_COM", "WORKER_MCROUTER_MCROUTER_EXAMPLE_COM",
			"ANSIBLE_VERBOSITY_MCROUTER_MCROUTER_EXAMPLE_COM",
		},
		{
			schema.GroupVersionKind{Group: "my-app.example.com", Version: "v1", Kind: "AppService"},
			"MAX_CONCURRENT_RECONCILES_APPSERVICE_MY-APP_EXAMPLE_COM", "WORKER_APPSERVICE_MY-APP_EXAMPLE_COM",
			"ANSIBLE_VERBOSITY_APPSERVICE_MY-APP_EXAMPLE_COM",
		},
		{
			schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"},
			"MAX_CONCURRENT_RECONCILES_CONFIGMAP_", "WORKER_CONFIGMAP_", "ANSIBLE_VERBOSITY_CONFIGMAP_",
		},
	}
	for _, tt := range tests {
		got := []string{watches.MaxConcurrentReconcilesEnv(tt.gvk), watches.WorkerEnv(tt.gvk), watches.AnsibleVerbosityEnv(tt.gvk)}
		if diff := cmp.Diff([]string{tt.workers, tt.worker, tt.verbose}, got); diff != "" {
			t.Errorf("%s: env names (-want +got):\n%s", tt.gvk, diff)
		}
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	dir := abs(t, "testdata", "example")
	tests := []struct {
		name string
		opts watches.Options
		want string
	}{
		{"negative period", watches.Options{ReconcilePeriod: -time.Second}, "reconcile period -1s is negative"},
		{"negative workers", watches.Options{MaxConcurrentReconciles: -1}, "max concurrent reconciles -1 is negative"},
		{"verbosity too high", watches.Options{AnsibleVerbosity: 8}, "ansible verbosity 8 is outside 0..7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.opts.WorkDir, tt.opts.LookupEnv = dir, env(nil)
			if err := tt.opts.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
			if _, err := watches.Load("watches.yaml", tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load() error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	t.Run("zero workers means 1", func(t *testing.T) {
		t.Parallel()
		got, err := watches.Load("watches.yaml", watches.Options{WorkDir: dir, LookupEnv: env(nil)})
		if err != nil {
			t.Fatal(err)
		}
		if got[0].MaxConcurrentReconciles != 1 || got[0].AnsibleVerbosity != 0 {
			t.Errorf("MaxConcurrentReconciles, AnsibleVerbosity = %d, %d; want 1, 0", got[0].MaxConcurrentReconciles, got[0].AnsibleVerbosity)
		}
	})
}

// TestLoadProcessEnvironment checks the defaults: os.LookupEnv and the process's working directory.
func TestLoadProcessEnvironment(t *testing.T) {
	dir := t.TempDir()
	mkdirs(t, dir, "rolesdir/fromenv")
	file := filepath.Join(dir, "watches.yaml")
	text := "- {version: v1, group: cache.example.com, kind: Memcached, role: fromenv, vars: {v: '${LOAD_TEST_VALUE}'}}\n"
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ANSIBLE_ROLES_PATH", filepath.Join(dir, "rolesdir"))
	t.Setenv("LOAD_TEST_VALUE", "from the environment")
	t.Setenv("MAX_CONCURRENT_RECONCILES_MEMCACHED_CACHE_EXAMPLE_COM", "7")
	got, err := watches.Load(file, watches.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Role != filepath.Join(dir, "rolesdir", "fromenv") || got[0].Vars["v"] != "from the environment" || got[0].MaxConcurrentReconciles != 7 {
		t.Errorf("Load with the process environment = role %q, vars %v, workers %d", got[0].Role, got[0].Vars, got[0].MaxConcurrentReconciles)
	}
}
