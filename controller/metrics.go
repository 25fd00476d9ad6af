package controller

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Metrics are the operator's own Prometheus metrics, next to
// controller-runtime's. Names follow upstream ansible-operator.
type Metrics struct {
	reconciles *prometheus.HistogramVec
	results    *prometheus.CounterVec
	skipped    *prometheus.CounterVec
}

// NewMetrics registers the metrics, and build_info for version, with reg.
func NewMetrics(reg prometheus.Registerer, version, goVersion string) (*Metrics, error) {
	m := &Metrics{
		reconciles: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ansible_operator_reconciles",
			Help:    "Duration of Ansible runs (the whole ansible-runner process), by GVK.",
			Buckets: []float64{0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60, 120, 300, 600},
		}, []string{"GVK"}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ansible_operator_reconcile_result",
			Help: "Ansible runs by GVK and result (succeeded, failed) and kind (reconcile, finalizer).",
		}, []string{"GVK", "result", "kind"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ansible_operator_skipped_runs_total",
			Help: "Reconciles that did not start Ansible because nothing changed since the last successful run.",
		}, []string{"GVK"}),
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ansible_operator_build_info",
		Help: "Build information of the running ansible-operator.",
	}, []string{"version", "go_version"})
	build.WithLabelValues(version, goVersion).Set(1)
	for _, c := range []prometheus.Collector{m.reconciles, m.results, m.skipped, build} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// runPurpose is why a run started: to reconcile the resource, or to finalize
// it before deletion. Its values are the "kind" label of
// ansible_operator_reconcile_result.
type runPurpose string

const (
	purposeReconcile runPurpose = "reconcile"
	purposeFinalizer runPurpose = "finalizer"
)

func (m *Metrics) observeRun(gvk schema.GroupVersionKind, purpose runPurpose, failed bool, d time.Duration) {
	if m == nil {
		return
	}
	result := "succeeded"
	if failed {
		result = "failed"
	}
	m.reconciles.WithLabelValues(gvk.String()).Observe(d.Seconds())
	m.results.WithLabelValues(gvk.String(), result, string(purpose)).Inc()
}

func (m *Metrics) observeSkip(gvk schema.GroupVersionKind) {
	if m == nil {
		return
	}
	m.skipped.WithLabelValues(gvk.String()).Inc()
}
