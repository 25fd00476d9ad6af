package shard

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Metrics of this replica's shard.
type Metrics struct {
	members   prometheus.Gauge
	resources *prometheus.GaugeVec
	moves     *prometheus.CounterVec
	handoffs  *prometheus.HistogramVec
}

// NewMetrics registers the shard metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		members: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ansible_operator_shard_members",
			Help: "Replicas sharing the resources, as this replica sees them.",
		}),
		resources: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ansible_operator_shard_resources",
			Help: "Resources this replica holds (its shard label), by GVK.",
		}, []string{"GVK"}),
		moves: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ansible_operator_shard_moves_total",
			Help: "Resources this replica moved, by GVK and reason: handoff (given to another replica) or " +
				"takeover (claimed from a replica that is gone).",
		}, []string{"GVK", "reason"}),
		handoffs: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ansible_operator_shard_handoff_seconds",
			Help:    "Time from the start of a handoff (drain) to the resource relabelled, by GVK.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300},
		}, []string{"GVK"}),
	}
	for _, c := range []prometheus.Collector{m.members, m.resources, m.moves, m.handoffs} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) observeView(gvk schema.GroupVersionKind, items []Item, self string, members int) {
	if m == nil {
		return
	}
	n := 0
	for _, it := range items {
		if it.Owner == self {
			n++
		}
	}
	m.members.Set(float64(members))
	m.resources.WithLabelValues(gvk.String()).Set(float64(n))
}

func (m *Metrics) observeMove(gvk schema.GroupVersionKind, reason string) {
	if m == nil {
		return
	}
	m.moves.WithLabelValues(gvk.String(), reason).Inc()
}

func (m *Metrics) observeHandoff(gvk schema.GroupVersionKind, d time.Duration) {
	if m == nil {
		return
	}
	m.moves.WithLabelValues(gvk.String(), "handoff").Inc()
	m.handoffs.WithLabelValues(gvk.String()).Observe(d.Seconds())
}
