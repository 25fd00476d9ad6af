package operator_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

var gvkMetered = schema.GroupVersionKind{Group: "ops.example.com", Version: "v1", Kind: "Metered"}

// A role's operator_sdk.util.osdk_metric tasks, with upstream's arguments,
// publish a counter, a gauge, a histogram and a summary that the operator
// serves on /metrics; a name of the operator's own fails the task with the
// endpoint's reason.
func TestUserMetrics(t *testing.T) {
	t.Parallel()
	ns := optest.CreateNamespace(t, kube, "user-metrics")
	dir := t.TempDir()
	metricsPort, userPort := freePort(t), freePort(t)
	watchesFile := filepath.Join(dir, "watches-metered.yaml")
	watches := fmt.Sprintf(`- {version: v1, group: ops.example.com, kind: Metered, role: testop_metrics,
   vars: {user_metrics_url: "http://127.0.0.1:%d/metrics"}}
`, userPort)
	if err := os.WriteFile(watchesFile, []byte(watches), 0o644); err != nil {
		t.Fatal(err)
	}
	op, err := startOperator(dir, watchesFile,
		"--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", metricsPort),
		"--user-metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", userPort))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = op.Stop(optest.StopTimeout) })

	optest.Create(t, kube, optest.NewObject(gvkMetered, ns, "m", map[string]any{"size": 3}))
	optest.AwaitObject(t, kube, gvkMetered, ns, "m", "Successful", optest.Successful, op)
	m, err := optest.ScrapeMetrics(t.Context(), metricsPort)
	if err != nil {
		t.Fatal(err)
	}
	// Every run of the role sets the gauge to 3 and observes 3 once in the
	// histogram and the summary (a later run may be under way).
	hist, summ := m.Sum("testop_size_histogram_count", nil), m.Sum("testop_size_summary_count", nil)
	checks := []struct {
		name      string
		got, want float64
	}{
		{"testop_size", m.Sum("testop_size", nil), 3},
		{"testop_size_histogram_sum", m.Sum("testop_size_histogram_sum", nil), 3 * hist},
		{`testop_size_histogram_bucket{le="5"}`, m.Sum("testop_size_histogram_bucket", map[string]string{"le": "5"}), hist},
		{`testop_size_histogram_bucket{le="2.5"}`, m.Sum("testop_size_histogram_bucket", map[string]string{"le": "2.5"}), 0},
		{"testop_size_summary_sum", m.Sum("testop_size_summary_sum", nil), 3 * summ},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	atLeastOne := map[string]float64{
		"testop_reconciles_total":              m.Sum("testop_reconciles_total", nil),
		"testop_size_histogram_count":          hist,
		"testop_size_summary_count":            summ,
		"testop_resource_runs_total{resource}": m.Sum("testop_resource_runs_total", map[string]string{"resource": ns + "/m"}),
	}
	for name, v := range atLeastOne {
		if v < 1 {
			t.Errorf("%s = %v, want at least 1", name, v)
		}
	}

	optest.Create(t, kube, optest.NewObject(gvkMetered, ns, "bad", map[string]any{"size": 1, "bad_metric": true}))
	u := optest.AwaitObject(t, kube, gvkMetered, ns, "bad", "Failure", optest.Failed, op)
	msg := optest.ConditionMessage(u, "Failure")
	if !strings.Contains(msg, "Publish under a name of the operator's own") ||
		!strings.Contains(msg, `the prefix "controller_runtime_" is reserved`) {
		t.Errorf("Failure message %q does not name the task and the endpoint's reason", msg)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := optest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
