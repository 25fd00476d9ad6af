package usermetrics

import (
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// metric is one user metric: its type, its label names (sorted) and the
// label-value combinations it holds.
type metric struct {
	kind     kind
	labels   []string
	counter  *prometheus.CounterVec
	gauge    *prometheus.GaugeVec
	observer prometheus.ObserverVec
	series   map[string]struct{}
}

// registry holds the user metrics; one lock serialises requests, which
// are rare and short.
type registry struct {
	opts    *Options
	mu      sync.Mutex
	metrics map[string]*metric
	series  int
}

func newRegistry(o *Options) *registry {
	return &registry{opts: o, metrics: map[string]*metric{}}
}

// apply validates req and applies it, registering its metric on first use.
func (g *registry) apply(req *Request) error {
	k, err := req.kind()
	if err != nil {
		return err
	}
	if err := req.validate(k, g.opts); err != nil {
		return err
	}
	names := sortedKeys(req.Labels)
	values := make([]string, len(names))
	for i, n := range names {
		values[i] = req.Labels[n]
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	m, known := g.metrics[req.Name]
	if known {
		if err := m.matches(req.Name, k, names); err != nil {
			return err
		}
	}
	key := strings.Join(values, "\xff")
	if !known || !m.has(key) {
		if g.series >= g.opts.MaxSeries {
			return refuse(http.StatusUnprocessableEntity,
				"metric %q: the user metrics hold %d series, the most the operator keeps; "+
					"publish fewer metrics or fewer label values", req.Name, g.series)
		}
	}
	if !known {
		if m, err = g.register(req, k, names); err != nil {
			return err
		}
	}
	if !m.has(key) {
		m.series[key] = struct{}{}
		g.series++
	}
	m.apply(req, values)
	return nil
}

// matches refuses a request that would change the metric's type or labels.
func (m *metric) matches(name string, k kind, labels []string) error {
	if m.kind != k {
		return refuse(http.StatusConflict, "metric %q is a %s; it cannot be used as a %s", name, m.kind, k)
	}
	if !slices.Equal(m.labels, labels) {
		return refuse(http.StatusConflict, "metric %q has the labels %v; this request gives %v", name, m.labels, labels)
	}
	return nil
}

func (m *metric) has(key string) bool {
	_, ok := m.series[key]
	return ok
}

// register creates the metric and adds it to the operator's registry,
// refusing a name that collides with a metric there.
func (g *registry) register(req *Request, k kind, labels []string) (*metric, error) {
	if err := g.checkCollision(req.Name, k); err != nil {
		return nil, err
	}
	m := &metric{kind: k, labels: labels, series: map[string]struct{}{}}
	var c prometheus.Collector
	switch k {
	case kindCounter:
		m.counter = prometheus.NewCounterVec(prometheus.CounterOpts{Name: req.Name, Help: req.Description}, labels)
		c = m.counter
	case kindGauge:
		m.gauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: req.Name, Help: req.Description}, labels)
		c = m.gauge
	case kindHistogram:
		v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: req.Name, Help: req.Description}, labels)
		m.observer, c = v, v
	case kindSummary:
		v := prometheus.NewSummaryVec(prometheus.SummaryOpts{Name: req.Name, Help: req.Description}, labels)
		m.observer, c = v, v
	}
	if err := g.opts.Registry.Register(c); err != nil {
		return nil, refuse(http.StatusConflict, "metric %q cannot be registered beside the operator's metrics: %v", req.Name, err)
	}
	g.metrics[req.Name] = m
	g.opts.Log.Info("registered user metric", "metric", req.Name, "type", string(k), "labels", labels)
	return m, nil
}

// checkCollision refuses a metric whose exposed series names (a histogram
// also exposes name_bucket, name_sum and name_count) meet those of a metric
// the registry serves or of another user metric.
func (g *registry) checkCollision(name string, k kind) error {
	taken := map[string]string{}
	families, _ := g.opts.Registry.Gather() // a partial answer still names what exists
	for _, f := range families {
		for _, s := range exposed(f.GetName(), kindOf(f.GetType().String())) {
			taken[s] = f.GetName()
		}
	}
	for n, m := range g.metrics {
		for _, s := range exposed(n, m.kind) {
			taken[s] = n
		}
	}
	for _, s := range exposed(name, k) {
		if other, ok := taken[s]; ok {
			return refuse(http.StatusConflict, "metric %q: its series %q would collide with the metric %q", name, s, other)
		}
	}
	return nil
}

// exposed are the series names a metric of kind k called name shows.
func exposed(name string, k kind) []string {
	switch k {
	case kindHistogram:
		return []string{name, name + "_bucket", name + "_sum", name + "_count"}
	case kindSummary:
		return []string{name, name + "_sum", name + "_count"}
	}
	return []string{name}
}

// kindOf maps a gathered family's type name to the kind whose series names
// it shows.
func kindOf(typ string) kind {
	switch typ {
	case "HISTOGRAM", "GAUGE_HISTOGRAM":
		return kindHistogram
	case "SUMMARY":
		return kindSummary
	}
	return kindGauge
}

// apply performs the request's operation on the series of values; none set
// only creates it.
func (m *metric) apply(req *Request, values []string) {
	switch m.kind {
	case kindCounter:
		c, op := m.counter.WithLabelValues(values...), req.Counter
		if isTrue(op.Increment) {
			c.Inc()
		} else if op.Add != nil {
			c.Add(*op.Add)
		}
	case kindGauge:
		applyGauge(m.gauge.WithLabelValues(values...), req.Gauge)
	case kindHistogram, kindSummary:
		o, op := m.observer.WithLabelValues(values...), req.Histogram
		if m.kind == kindSummary {
			op = req.Summary
		}
		if op.Observe != nil {
			o.Observe(*op.Observe)
		}
	}
}

// applyGauge applies the first operation set, in upstream's order.
func applyGauge(g prometheus.Gauge, op *GaugeOp) {
	switch {
	case isTrue(op.Increment):
		g.Inc()
	case isTrue(op.Decrement):
		g.Dec()
	case op.Add != nil:
		g.Add(*op.Add)
	case op.Subtract != nil:
		g.Sub(*op.Subtract)
	case op.Set != nil:
		g.Set(*op.Set)
	case isTrue(op.SetToCurrentTime):
		g.SetToCurrentTime()
	}
}
