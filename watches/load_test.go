package watches_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mcrouter-operator/mcrouter-operator/watches"
)

// env returns a LookupEnv that sees only vars, so tests do not depend on the process environment.
func env(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

// selectorsEqual compares labels.Selector values by meaning; their implementation has unexported fields.
var selectorsEqual = cmp.Comparer(func(a, b labels.Selector) bool {
	return (a == nil) == (b == nil) && (a == nil || a.String() == b.String())
})

func abs(t *testing.T, parts ...string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(parts...))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadInvalid(t *testing.T) {
	t.Parallel()
	const mcrouter = "(mcrouter.example.com/v1alpha3, Kind=Mcrouter)"
	tests := []struct {
		file string
		env  map[string]string
		want string // a part of the message; the file name always starts it
	}{
		{file: "not-a-list", want: "not-a-list.yaml:2: want a list of watches, got a mapping"},
		{file: "empty", want: "empty.yaml: no watches"},
		{file: "empty-list", want: "empty-list.yaml:2: no watches: the list is empty"},
		{file: "entry-not-mapping", want: `entry-not-mapping.yaml:2: entry 0: want a mapping, got !!str "mcrouter"`},
		{file: "invalid-yaml", want: "invalid-yaml.yaml: invalid YAML: yaml: line 1: did not find expected '-' indicator"},
		{file: "two-documents", want: "two-documents.yaml:6: more than one YAML document"},
		{file: "unknown-key", want: `unknown-key.yaml:6: entry 0 ` + mcrouter + `: unknown key "reconcilePeriode" (did you mean "reconcilePeriod"?)`},
		{file: "unknown-finalizer-key", want: `unknown-finalizer-key.yaml:7: entry 0 ` + mcrouter + `: finalizer: unknown key "nmae" (did you mean "name"?)`},
		{file: "unknown-selector-key", want: `unknown-selector-key.yaml:7: entry 0 ` + mcrouter + `: selector: unknown key "matchLabel" (did you mean "matchLabels"?)`},
		{file: "unknown-expression-key", want: `entry 0 ` + mcrouter + `: selector.matchExpressions[0]: unknown key "value" (did you mean "values"?)`},
		{file: "unknown-blacklist-key", want: `entry 0 ` + mcrouter + `: blacklist[0]: unknown key "knd" (did you mean "kind"?)`},
		{file: "duplicate-key", want: `duplicate-key.yaml:6: entry 0 ` + mcrouter + `: key "role" appears twice`},
		{file: "missing-version", want: "entry 0 (mcrouter.example.com/, Kind=Mcrouter): version: required"},
		{file: "missing-kind", want: "entry 0 (mcrouter.example.com/v1alpha3, Kind=): kind: required"},
		{file: "version-number", want: `version-number.yaml:2: entry 0 (mcrouter.example.com/1, Kind=Mcrouter): version: want a string, got !!int "1"`},
		{file: "bad-group", want: `bad-group.yaml:3: entry 0 (Mcrouter_Example/v1alpha3, Kind=Mcrouter): group: "Mcrouter_Example" is not a valid API group`},
		{file: "duplicate-gvk", want: "duplicate-gvk.yaml:6: entry 1 " + mcrouter + ": duplicate group/version/kind: entry 0 (line 2) already watches it"},
		{file: "role-and-playbook", want: "entry 0 " + mcrouter + ": playbook: role and playbook are both set: keep one"},
		{file: "no-role-no-playbook", want: "entry 0 " + mcrouter + ": missing role or playbook"},
		{file: "role-not-found", want: `role-not-found.yaml:2: entry 0 ` + mcrouter + `: role: role "nosuchrole" not found; searched `},
		{file: "role-not-found", want: filepath.Join("roles", "nosuchrole") + "; set ANSIBLE_ROLES_PATH"},
		{file: "playbook-not-found", want: `entry 0 ` + mcrouter + `: playbook: playbook "nosuch.yml" not found; searched `},
		{file: "finalizer-no-name", want: "entry 0 " + mcrouter + ": finalizer.name: required"},
		{file: "finalizer-bad-name", want: `finalizer.name: "clean up!" is not a valid finalizer name`},
		{file: "finalizer-nothing-to-run", want: "entry 0 " + mcrouter + ": finalizer: nothing to run: set role, playbook or vars"},
		{file: "finalizer-role-and-playbook", want: "finalizer.playbook: role and playbook are both set"},
		{file: "finalizer-role-not-found", want: `entry 0 ` + mcrouter + `: finalizer.role: role "gone" not found`},
		{file: "bad-duration", want: `bad-duration.yaml:6: entry 0 ` + mcrouter + `: reconcilePeriod: invalid duration "10x"`},
		{file: "duration-without-unit", want: `reconcilePeriod: 60 has no unit: write a duration such as "60s"`},
		{file: "negative-duration", want: `reconcilePeriod: duration "-1m" is negative`},
		{file: "negative-artifacts", want: "entry 0 " + mcrouter + ": maxRunnerArtifacts: -1 is negative"},
		{file: "bad-executor", want: `bad-executor.yaml:6: entry 0 ` + mcrouter + `: ansibleExecutor: "fast": want runner or warm`},
		{file: "bad-bool", want: `manageStatus: want true or false, got !!str "maybe"`},
		{file: "vars-not-mapping", want: "vars: want a mapping, got a list"},
		{file: "bad-operator", want: `selector.matchExpressions[0].operator: unknown operator "Inn": want In, NotIn, Exists or DoesNotExist`},
		{file: "missing-values", want: "selector.matchExpressions[0].values: required for operator In"},
		{file: "exists-with-values", want: "selector.matchExpressions[0].values: must be empty for operator Exists"},
		{file: "bad-label-value", want: `bad-label-value.yaml:8: entry 0 ` + mcrouter + `: selector.matchLabels.tier: `},
		{file: "blacklist-no-kind", want: "blacklist[1].kind: required"},
		{file: "merge-self", want: `merge-self.yaml:7:7: merge key "<<" refers to anchor "e" that encloses it`},
		{file: "merge-self-flow", want: `merge-self-flow.yaml:2:91: merge key "<<" refers to anchor "e" that encloses it`},
		{file: "merge-cycle", want: `merge-cycle.yaml:10:11: merge key "<<" refers to anchor "a" that encloses it`},
		{file: "merge-list-cycle", want: `merge-list-cycle.yaml:11:59: merge key "<<" refers to anchor "second" that encloses it`},
		{file: "alias-self", want: `alias-self.yaml:8:12: alias *e refers to anchor "e" that encloses it`},
		{file: "merge-laughs", want: `merge-laughs.yaml:5:452: aliases expand the file to more than 100000 extra nodes (at alias *l14)`},
		{file: "second-entry-bad", want: `second-entry-bad.yaml:10: entry 1 (cache.example.com/v1, Kind=Memcached): unknown key "watchDependentResource" (did you mean "watchDependentResources"?)`},
		{
			file: "valid",
			env:  map[string]string{"ANSIBLE_VERBOSITY_MCROUTER_MCROUTER_EXAMPLE_COM": "8"},
			want: `entry 0 ` + mcrouter + `: environment variable ANSIBLE_VERBOSITY_MCROUTER_MCROUTER_EXAMPLE_COM="8": want an integer from 0 to 7`,
		},
		{
			file: "valid",
			env:  map[string]string{"ANSIBLE_VERBOSITY_MCROUTER_MCROUTER_EXAMPLE_COM": "-1"},
			want: `ANSIBLE_VERBOSITY_MCROUTER_MCROUTER_EXAMPLE_COM="-1": want an integer from 0 to 7`,
		},
		{
			file: "valid",
			env:  map[string]string{"MAX_CONCURRENT_RECONCILES_MCROUTER_MCROUTER_EXAMPLE_COM": "many"},
			want: `environment variable MAX_CONCURRENT_RECONCILES_MCROUTER_MCROUTER_EXAMPLE_COM="many": want an integer of at least 1`,
		},
		{
			file: "valid",
			env:  map[string]string{"WORKER_MCROUTER_MCROUTER_EXAMPLE_COM": "0"},
			want: `environment variable WORKER_MCROUTER_MCROUTER_EXAMPLE_COM="0": want an integer of at least 1`,
		},
	}
	if len(tests) < 15 {
		t.Fatalf("only %d invalid files", len(tests))
	}
	dir := abs(t, "testdata", "invalid")
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, tt.file+".yaml")
			got, err := watches.Load(path, watches.Options{WorkDir: dir, LookupEnv: env(tt.env)})
			if err == nil {
				t.Fatalf("Load(%s) = %d watches, want an error containing %q", tt.file, len(got), tt.want)
			}
			var werr *watches.Error
			if !errors.As(err, &werr) {
				t.Errorf("error %T is not a *watches.Error: %v", err, err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, path) || !strings.Contains(msg, tt.want) {
				t.Errorf("error\n  %s\nwant it to start with the file name and contain\n  %s", msg, tt.want)
			}
		})
	}
}

func TestLoadFull(t *testing.T) {
	t.Parallel()
	dir := abs(t, "testdata", "full")
	file := filepath.Join(dir, "watches.yaml")
	opts := watches.Options{
		ReconcilePeriod:         10 * time.Hour,
		MaxConcurrentReconciles: 2,
		AnsibleVerbosity:        2,
		RolesPath:               []string{"ansible"}, // relative: under WorkDir
		WorkDir:                 dir,
		LookupEnv: env(map[string]string{
			"IMAGE_TAG": "1.2.3",
			"MAX_CONCURRENT_RECONCILES_MCROUTER_MCROUTER_EXAMPLE_COM": "4",
			"ANSIBLE_VERBOSITY_MEMCACHED_CACHE_EXAMPLE_COM":           "5",
		}),
	}
	got, err := watches.Load(file, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := wantFull(t, dir, file)
	if diff := cmp.Diff(want, got, selectorsEqual); diff != "" {
		t.Errorf("Load(%s) mismatch (-want +got):\n%s", file, diff)
	}
	if !got[0].Selector.Matches(labels.Set{"tier": "cache", "shard": "1", "env": "prod"}) ||
		got[0].Selector.Matches(labels.Set{"tier": "cache", "shard": "1", "env": "prod", "canary": "yes"}) {
		t.Errorf("selector %q does not select what the file says", got[0].Selector)
	}
}

// wantFull is what testdata/full/watches.yaml holds, resolved under dir with TestLoadFull's options.
func wantFull(t *testing.T, dir, file string) []watches.Watch {
	t.Helper()
	mcrouterSelector := metav1.LabelSelector{
		MatchLabels: map[string]string{"tier": "cache", "shard": "1"},
		MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "env", Operator: metav1.LabelSelectorOpIn, Values: []string{"prod", "staging"}},
			{Key: "canary", Operator: metav1.LabelSelectorOpDoesNotExist},
		},
	}
	sel, err := labels.Parse("!canary,env in (prod,staging),shard=1,tier=cache")
	if err != nil {
		t.Fatal(err)
	}
	memcachedV1 := schema.GroupVersionKind{Group: "cache.example.com", Version: "v1", Kind: "Memcached"}
	memcachedV1beta1 := schema.GroupVersionKind{Group: "cache.example.com", Version: "v1beta1", Kind: "Memcached"}
	return []watches.Watch{
		{
			GroupVersionKind: schema.GroupVersionKind{Group: "mcrouter.example.com", Version: "v1alpha3", Kind: "Mcrouter"},
			Role:             filepath.Join(dir, "roles", "mcrouter"),
			Vars: map[string]any{
				"replicas": 3,
				"image":    "quay.io/example/mcrouter:1.2.3",
				"nested":   map[string]any{"list": []any{1, "two", map[string]any{"deep": true}}},
				"1":        "a number as key",
			},
			ReconcilePeriod:             90 * time.Minute,
			ManageStatus:                false,
			WatchDependentResources:     false,
			WatchClusterScopedResources: true,
			WatchAnnotationsChanges:     true,
			SnakeCaseParameters:         false,
			MarkUnsafe:                  false,
			MaxRunnerArtifacts:          5,
			MaxConcurrentReconciles:     4,
			AnsibleVerbosity:            2,
			SkipUnchangedResync:         true,
			PruneDependents:             true,
			AnsibleExecutor:             "warm",
			Finalizer: &watches.Finalizer{
				Name: "finalizer.mcrouter.example.com",
				Role: filepath.Join(dir, "ansible", "roles", "cleanup"),
				Vars: map[string]any{"state": "absent"},
			},
			Blacklist: []schema.GroupVersionKind{
				{Group: "apps", Version: "v1", Kind: "StatefulSet"},
				{Kind: "ConfigMap"},
			},
			Selector:      sel,
			LabelSelector: mcrouterSelector,
			Source:        file + "#0 (mcrouter.example.com/v1alpha3, Kind=Mcrouter)",
		},
		{
			GroupVersionKind:        memcachedV1,
			Playbook:                filepath.Join(dir, "playbooks", "memcached.yml"),
			ReconcilePeriod:         0,
			ManageStatus:            true,
			WatchDependentResources: true,
			SnakeCaseParameters:     true,
			MarkUnsafe:              true,
			MaxRunnerArtifacts:      20,
			MaxConcurrentReconciles: 2,
			AnsibleVerbosity:        5,
			Finalizer: &watches.Finalizer{
				Name:     "cache.example.com/cleanup",
				Playbook: filepath.Join(dir, "playbooks", "cleanup.yml"),
			},
			Selector: labels.Everything(),
			Source:   file + "#1 (cache.example.com/v1, Kind=Memcached)",
		},
		{
			GroupVersionKind:        memcachedV1beta1,
			Playbook:                filepath.Join(dir, "playbooks", "memcached.yml"),
			ReconcilePeriod:         10 * time.Hour,
			ManageStatus:            true,
			WatchDependentResources: true,
			SnakeCaseParameters:     true,
			MarkUnsafe:              true,
			MaxRunnerArtifacts:      20,
			MaxConcurrentReconciles: 2,
			AnsibleVerbosity:        5,
			Finalizer:               &watches.Finalizer{Name: "cache.example.com/vars-only", Vars: map[string]any{"cleanup": true}},
			Selector:                labels.Everything(),
			Source:                  file + "#2 (cache.example.com/v1beta1, Kind=Memcached)",
		},
	}
}
