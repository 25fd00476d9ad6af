package watches_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mcrouter-operator/mcrouter-operator/watches"
)

// defaults is an Entry for gvk with every static default, as Parse returns it.
func defaults(gvk schema.GroupVersionKind, index, line int) watches.Entry {
	return watches.Entry{
		Watch: watches.Watch{
			GroupVersionKind:        gvk,
			ManageStatus:            true,
			WatchDependentResources: true,
			SnakeCaseParameters:     true,
			MarkUnsafe:              true,
			MaxRunnerArtifacts:      20,
			Selector:                labels.Everything(),
			Source:                  fmt.Sprintf("w.yaml#%d (%s)", index, gvk),
		},
		File:  "w.yaml",
		Index: index,
		Line:  line,
	}
}

func TestParse(t *testing.T) {
	mcrouter := schema.GroupVersionKind{Group: "mcrouter.example.com", Version: "v1alpha3", Kind: "Mcrouter"}
	tests := []struct {
		name string
		yaml string
		want func() []watches.Entry
	}{
		{
			name: "defaults",
			yaml: "- {version: v1alpha3, group: mcrouter.example.com, kind: Mcrouter, role: mcrouter}\n",
			want: func() []watches.Entry {
				e := defaults(mcrouter, 0, 1)
				e.Role = "mcrouter"
				return []watches.Entry{e}
			},
		},
		{
			name: "nothing is looked up or expanded",
			yaml: "- version: v1alpha3\n  group: mcrouter.example.com\n  kind: Mcrouter\n" +
				"  role: ${PARSE_TEST_DIR}/nowhere\n  vars: {home: $PARSE_TEST_DIR}\n",
			want: func() []watches.Entry {
				e := defaults(mcrouter, 0, 1)
				e.Role = "${PARSE_TEST_DIR}/nowhere"
				e.Vars = map[string]any{"home": "$PARSE_TEST_DIR"}
				return []watches.Entry{e}
			},
		},
		{
			name: "core group, explicit zero period, keys without value mean the default",
			yaml: "- version: v1\n  group:\n  kind: ConfigMap\n  playbook: cm.yml\n  reconcilePeriod: 0s\n" +
				"  vars:\n  selector:\n  manageStatus:\n",
			want: func() []watches.Entry {
				e := defaults(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, 0, 1)
				e.Playbook = "cm.yml"
				e.ReconcilePeriodSet = true
				return []watches.Entry{e}
			},
		},
		{
			name: "anchors and merge keys, explicit keys win",
			yaml: "- &base\n  version: v1alpha3\n  group: mcrouter.example.com\n  kind: Mcrouter\n  role: mcrouter\n" +
				"  reconcilePeriod: 1m\n  vars: &vars {size: 3}\n" +
				"- <<: *base\n  version: v1alpha4\n  vars: *vars\n  manageStatus: no\n",
			want: func() []watches.Entry {
				a := defaults(mcrouter, 0, 1)
				a.Role, a.ReconcilePeriod, a.ReconcilePeriodSet = "mcrouter", time.Minute, true
				a.Vars = map[string]any{"size": 3}
				v4 := mcrouter
				v4.Version = "v1alpha4"
				b := defaults(v4, 1, 8)
				b.Role, b.ReconcilePeriod, b.ReconcilePeriodSet = "mcrouter", time.Minute, true
				b.Vars = map[string]any{"size": 3}
				b.ManageStatus = false
				return []watches.Entry{a, b}
			},
		},
	}
	t.Setenv("PARSE_TEST_DIR", "/should/not/appear")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := watches.Parse(strings.NewReader(tt.yaml), "w.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want(), got, selectorsEqual); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseRejectsWithoutDisk checks that Parse alone catches the static mistakes, naming entry and key.
func TestParseRejectsWithoutDisk(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "- {version: v1, kind: Pod, role: r, reconcilePeriode: 1m}", `w.yaml:1: entry 0 (/v1, Kind=Pod): unknown key "reconcilePeriode"`},
		{"quoted bool", "- {version: v1, kind: Pod, role: r, markUnsafe: 'false'}", `entry 0 (/v1, Kind=Pod): markUnsafe: want true or false, got !!str "false"`},
		{"float count", "- {version: v1, kind: Pod, role: r, maxRunnerArtifacts: 2.5}", `maxRunnerArtifacts: want an integer, got !!float "2.5"`},
		{"kind with space", "- {version: v1, kind: My Kind, role: r}", `kind: "My Kind" is not a valid kind`},
		{"non-string key", "- {version: v1, kind: Pod, role: r, [a]: b}", "entry 0 (/v1, Kind=Pod): want a string key, got a list"},
		{"merge of a scalar", "- {version: v1, kind: Pod, role: r, <<: x}", `want a mapping, got !!str "x"`},
		{"blacklist not a list", "- {version: v1, kind: Pod, role: r, blacklist: {kind: Secret}}", "blacklist: want a list, got a mapping"},
		{"label value list", "- {version: v1, kind: Pod, role: r, selector: {matchLabels: {a: [b]}}}", "selector.matchLabels.a: want a string, got a list"},
		{"expression without key", "- {version: v1, kind: Pod, role: r, selector: {matchExpressions: [{operator: Exists}]}}", "selector.matchExpressions[0].key: required"},
		{"infinite var", "- {version: v1, kind: Pod, role: r, vars: {a: [1, {b: .inf}]}}", `w.yaml:1: entry 0 (/v1, Kind=Pod): vars.a[1].b: +Inf is not a number JSON can carry to Ansible`},
		{"NaN finalizer var", "- {version: v1, kind: Pod, role: r, finalizer: {name: a.b/c, vars: {n: .nan}}}", `finalizer.vars.n: NaN is not a number JSON can carry`},
		{"var keys that collide as text", "- {version: v1, kind: Pod, role: r, vars: {x: {1.0: a, '1': b}}}", `vars.x: keys 1 and "1" both become "1": JSON keys are strings`},
		{"expression without operator", "- {version: v1, kind: Pod, role: r, selector: {matchExpressions: [{key: a}]}}", "selector.matchExpressions[0].operator: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := watches.Parse(strings.NewReader(tt.yaml), "w.yaml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
