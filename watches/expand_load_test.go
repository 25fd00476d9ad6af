package watches_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mcrouter-operator/mcrouter-operator/watches"
)

// TestLoadExpandsEnvironment covers the places upstream's expansion reaches (anywhere in the text: keys, flow
// collections, typed values) and what stays literal.
func TestLoadExpandsEnvironment(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mkdirs(t, dir, "ansible/roles/mcrouter")
	const text = `
- version: "${WATCH_VERSION}"
  group: $WATCH_GROUP
  kind: Mcrouter
  role: ${ROLE_DIR}/mcrouter
  maxRunnerArtifacts: ${ARTIFACTS}
  markUnsafe: ${UNSAFE}
  reconcilePeriod: ${PERIOD}
  vars:
    unset: "${NOT_SET}"
    dollars: "price: 5$, regex ^a$, $$, $1"
    quoted_number: "${ARTIFACTS}"
    plain_number: ${ARTIFACTS}
    colon: "${COLON}"
    shared: &shared "${WATCH_VERSION}"
    alias: *shared
  selector:
    matchLabels:
      ${LABEL_KEY}: "${LABEL_VALUE}"
    matchExpressions:
      - {key: ${EXPR_KEY}, operator: In, values: [a, b]}
`
	file := filepath.Join(dir, "watches.yaml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := watches.Load(file, watches.Options{WorkDir: dir, RolesPath: []string{}, LookupEnv: env(map[string]string{
		"WATCH_VERSION": "v1alpha3",
		"WATCH_GROUP":   "mcrouter.example.com",
		"ROLE_DIR":      filepath.Join(dir, "ansible", "roles"),
		"ARTIFACTS":     "7",
		"UNSAFE":        "false",
		"PERIOD":        "2m",
		"COLON":         "a: b",
		"LABEL_KEY":     "app.kubernetes.io/name",
		"LABEL_VALUE":   "mcrouter",
		"EXPR_KEY":      "tier",
		"1":             "never read: $1 is not a reference",
	})})
	if err != nil {
		t.Fatal(err)
	}
	w := got[0]
	if want := (schema.GroupVersionKind{Group: "mcrouter.example.com", Version: "v1alpha3", Kind: "Mcrouter"}); w.GroupVersionKind != want {
		t.Errorf("GVK = %s, want %s", w.GroupVersionKind, want)
	}
	if want := filepath.Join(dir, "ansible", "roles", "mcrouter"); w.Role != want {
		t.Errorf("Role = %s, want %s", w.Role, want)
	}
	if w.MaxRunnerArtifacts != 7 || w.MarkUnsafe || w.ReconcilePeriod.String() != "2m0s" {
		t.Errorf("MaxRunnerArtifacts, MarkUnsafe, ReconcilePeriod = %d, %t, %s; want 7, false, 2m0s",
			w.MaxRunnerArtifacts, w.MarkUnsafe, w.ReconcilePeriod)
	}
	wantVars := map[string]any{
		"unset":         "${NOT_SET}",
		"dollars":       "price: 5$, regex ^a$, $$, $1",
		"quoted_number": "7",
		"plain_number":  7,
		"colon":         "a: b",
		"shared":        "v1alpha3",
		"alias":         "v1alpha3",
	}
	if diff := cmp.Diff(wantVars, w.Vars); diff != "" {
		t.Errorf("Vars (-want +got):\n%s", diff)
	}
	wantSel := metav1.LabelSelector{
		MatchLabels:      map[string]string{"app.kubernetes.io/name": "mcrouter"},
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}}},
	}
	if diff := cmp.Diff(wantSel, w.LabelSelector); diff != "" {
		t.Errorf("LabelSelector (-want +got):\n%s", diff)
	}
	if got, want := w.Selector.String(), "app.kubernetes.io/name=mcrouter,tier in (a,b)"; got != want {
		t.Errorf("Selector = %s, want %s", got, want)
	}
}
