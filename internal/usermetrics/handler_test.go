package usermetrics_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mcrouter-operator/mcrouter-operator/internal/usermetrics"
)

// runtimeRegistry stands for the operator's registry: one metric of the
// runtime under a reserved prefix and one under a name roles may not take.
func runtimeRegistry(t *testing.T) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "ansible_operator_proxy_requests_total", Help: "h"}))
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "app_latency_seconds", Help: "h"})
	h.Observe(1)
	reg.MustRegister(h)
	return reg
}

func post(t *testing.T, h http.Handler, method, path, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// TestHandler posts a sequence of bodies to a fresh handler; every one but
// the last must succeed, the last must answer want (status and a part of
// the message), and then the registry must show the samples in values.
func TestHandler(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct {
		name     string
		opts     usermetrics.Options
		before   []string
		method   string // default POST
		path     string // default /metrics
		body     string
		wantCode int
		wantMsg  string
		values   map[string]float64 // sample (name{labels} as exposed) → value
	}{
		{
			name:     "upstream counter increment with nulls",
			body:     `{"name":"things_total","description":"Things.","counter":{"increment":true,"add":null}}`,
			wantCode: 200,
			values:   map[string]float64{"things_total": 1},
		},
		{
			name:     "counter add after increments",
			before:   []string{`{"name":"things_total","description":"Things.","counter":{"increment":true}}`},
			body:     `{"name":"things_total","description":"Things.","counter":{"add":2.5}}`,
			wantCode: 200,
			values:   map[string]float64{"things_total": 3.5},
		},
		{
			name:     "an empty counter is created at 0",
			body:     `{"name":"things_total","description":"Things.","counter":{"increment":null,"add":null}}`,
			wantCode: 200,
			values:   map[string]float64{"things_total": 0},
		},
		{
			name:     "a counter cannot decrease",
			body:     `{"name":"things_total","description":"Things.","counter":{"add":-1}}`,
			wantCode: 400,
			wantMsg:  "a counter cannot decrease",
		},
		{
			name: "gauge set, then add, then set to 0",
			before: []string{
				`{"name":"depth","description":"Depth.","gauge":{"set":2}}`,
				`{"name":"depth","description":"Depth.","gauge":{"add":3}}`,
			},
			body:     `{"name":"depth","description":"Depth.","gauge":{"set":0,"increment":null,"decrement":null,"add":null,"subtract":null,"set_to_current_time":null}}`,
			wantCode: 200,
			values:   map[string]float64{"depth": 0},
		},
		{
			name:     "gauge increment wins over set, as upstream",
			before:   []string{`{"name":"depth","description":"Depth.","gauge":{"set":5}}`},
			body:     `{"name":"depth","description":"Depth.","gauge":{"increment":true,"set":10}}`,
			wantCode: 200,
			values:   map[string]float64{"depth": 6},
		},
		{
			name:     "gauge decrement and subtract",
			before:   []string{`{"name":"depth","description":"Depth.","gauge":{"decrement":true}}`},
			body:     `{"name":"depth","description":"Depth.","gauge":{"subtract":1.5}}`,
			wantCode: 200,
			values:   map[string]float64{"depth": -2.5},
		},
		{
			name:     "histogram observe",
			before:   []string{`{"name":"wait_seconds","description":"Wait.","histogram":{"observe":0.25}}`},
			body:     `{"name":"wait_seconds","description":"Wait.","histogram":{"observe":3}}`,
			wantCode: 200,
			values:   map[string]float64{"wait_seconds_count": 2, "wait_seconds_sum": 3.25, `wait_seconds_bucket{le="0.25"}`: 1},
		},
		{
			name:     "summary observe",
			body:     `{"name":"size_bytes","description":"Size.","summary":{"observe":7}}`,
			wantCode: 200,
			values:   map[string]float64{"size_bytes_count": 1, "size_bytes_sum": 7},
		},
		{
			name:     "labels make series",
			before:   []string{`{"name":"jobs_total","description":"Jobs.","labels":{"cr":"a"},"counter":{"increment":true}}`},
			body:     `{"name":"jobs_total","description":"Jobs.","labels":{"cr":"b"},"counter":{"add":4}}`,
			wantCode: 200,
			values:   map[string]float64{`jobs_total{cr="a"}`: 1, `jobs_total{cr="b"}`: 4},
		},
		{
			name:     "no type",
			body:     `{"name":"x","description":"X."}`,
			wantCode: 400,
			wantMsg:  "give one of counter, gauge, histogram or summary",
		},
		{
			name:     "two types",
			body:     `{"name":"x","description":"X.","counter":{},"gauge":{}}`,
			wantCode: 400,
			wantMsg:  "give only one of",
		},
		{
			name:     "unknown key",
			body:     `{"name":"x","description":"X.","counter":{"incremnet":true}}`,
			wantCode: 400,
			wantMsg:  `unknown field "incremnet"`,
		},
		{
			name:     "not JSON",
			body:     `name=x`,
			wantCode: 400,
			wantMsg:  "decode the metric",
		},
		{
			name:     "trailing data",
			body:     `{"name":"x","description":"X.","counter":{}} {}`,
			wantCode: 400,
			wantMsg:  "data after the JSON object",
		},
		{
			name:     "body too large",
			opts:     usermetrics.Options{MaxBodyBytes: 64},
			body:     `{"name":"x","description":"` + long + `","counter":{}}`,
			wantCode: 413,
			wantMsg:  "body over 64 bytes",
		},
		{
			name:     "invalid name",
			body:     `{"name":"my-metric","description":"X.","counter":{}}`,
			wantCode: 400,
			wantMsg:  `metric name "my-metric"`,
		},
		{
			name:     "name too long",
			body:     `{"name":"` + long + `","description":"X.","counter":{}}`,
			wantCode: 400,
			wantMsg:  "over 128 bytes",
		},
		{
			name:     "no description",
			body:     `{"name":"x","counter":{}}`,
			wantCode: 400,
			wantMsg:  "description is required",
		},
		{
			name:     "reserved prefix, even for a name the runtime has not registered",
			body:     `{"name":"controller_runtime_mine","description":"X.","gauge":{"set":1}}`,
			wantCode: 409,
			wantMsg:  `prefix "controller_runtime_" is reserved`,
		},
		{
			name:     "a name the registry serves",
			body:     `{"name":"app_latency_seconds","description":"X.","histogram":{"observe":1}}`,
			wantCode: 409,
			wantMsg:  `would collide with the metric "app_latency_seconds"`,
		},
		{
			name:     "a series name of the registry's histogram",
			body:     `{"name":"app_latency_seconds_count","description":"X.","gauge":{"set":1}}`,
			wantCode: 409,
			wantMsg:  `would collide with the metric "app_latency_seconds"`,
		},
		{
			name:     "a summary over another user metric's series",
			before:   []string{`{"name":"load_sum","description":"X.","gauge":{"set":1}}`},
			body:     `{"name":"load","description":"X.","summary":{"observe":1}}`,
			wantCode: 409,
			wantMsg:  `would collide with the metric "load_sum"`,
		},
		{
			name:     "type change",
			before:   []string{`{"name":"things_total","description":"Things.","counter":{"increment":true}}`},
			body:     `{"name":"things_total","description":"Things.","gauge":{"set":3}}`,
			wantCode: 409,
			wantMsg:  `metric "things_total" is a counter; it cannot be used as a gauge`,
			values:   map[string]float64{"things_total": 1},
		},
		{
			name:     "histogram used as a summary",
			before:   []string{`{"name":"wait_seconds","description":"Wait.","histogram":{"observe":1}}`},
			body:     `{"name":"wait_seconds","description":"Wait.","summary":{"observe":1}}`,
			wantCode: 409,
			wantMsg:  "is a histogram; it cannot be used as a summary",
		},
		{
			name:     "label set change",
			before:   []string{`{"name":"jobs_total","description":"Jobs.","labels":{"cr":"a"},"counter":{}}`},
			body:     `{"name":"jobs_total","description":"Jobs.","labels":{"kind":"a"},"counter":{}}`,
			wantCode: 409,
			wantMsg:  `has the labels [cr]; this request gives [kind]`,
		},
		{
			name:     "too many labels",
			opts:     usermetrics.Options{MaxLabels: 1},
			body:     `{"name":"x","description":"X.","labels":{"a":"1","b":"2"},"counter":{}}`,
			wantCode: 400,
			wantMsg:  "2 labels, at most 1",
		},
		{
			name:     "invalid label name",
			body:     `{"name":"x","description":"X.","labels":{"__name__":"y"},"counter":{}}`,
			wantCode: 400,
			wantMsg:  `label name "__name__"`,
		},
		{
			name:     "le on a histogram",
			body:     `{"name":"x","description":"X.","labels":{"le":"1"},"histogram":{"observe":1}}`,
			wantCode: 400,
			wantMsg:  `"le" is reserved for a histogram's own series`,
		},
		{
			name:     "label value too long",
			body:     `{"name":"x","description":"X.","labels":{"a":"` + long + `"},"counter":{}}`,
			wantCode: 400,
			wantMsg:  `value of label "a" over 256 bytes`,
		},
		{
			name: "series limit",
			opts: usermetrics.Options{MaxSeries: 2},
			before: []string{
				`{"name":"jobs_total","description":"Jobs.","labels":{"cr":"a"},"counter":{}}`,
				`{"name":"jobs_total","description":"Jobs.","labels":{"cr":"b"},"counter":{}}`,
				`{"name":"jobs_total","description":"Jobs.","labels":{"cr":"a"},"counter":{"increment":true}}`,
			},
			body:     `{"name":"jobs_total","description":"Jobs.","labels":{"cr":"c"},"counter":{}}`,
			wantCode: 422,
			wantMsg:  "hold 2 series, the most the operator keeps",
			values:   map[string]float64{`jobs_total{cr="a"}`: 1, `jobs_total{cr="b"}`: 0},
		},
		{
			name:     "series limit counts new metrics",
			opts:     usermetrics.Options{MaxSeries: 1},
			before:   []string{`{"name":"a","description":"A.","gauge":{}}`},
			body:     `{"name":"b","description":"B.","gauge":{}}`,
			wantCode: 422,
			wantMsg:  "hold 1 series",
		},
		{
			name:     "GET",
			method:   http.MethodGet,
			wantCode: 405,
			wantMsg:  "method GET not allowed",
		},
		{
			name:     "other path",
			path:     "/metricz",
			body:     `{}`,
			wantCode: 404,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := runtimeRegistry(t)
			tt.opts.Registry = reg
			h, err := usermetrics.NewHandler(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			for i, b := range tt.before {
				if code, msg := post(t, h, http.MethodPost, usermetrics.Path, b); code != http.StatusOK {
					t.Fatalf("before[%d]: %d %s", i, code, msg)
				}
			}
			method, path := tt.method, tt.path
			if method == "" {
				method = http.MethodPost
			}
			if path == "" {
				path = usermetrics.Path
			}
			code, msg := post(t, h, method, path, tt.body)
			if code != tt.wantCode || !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("got %d %q, want %d with %q", code, msg, tt.wantCode, tt.wantMsg)
			}
			got := samples(t, reg)
			for s, want := range tt.values {
				if v, ok := got[s]; !ok || v != want {
					t.Errorf("%s = %v (present %v), want %v; all: %v", s, v, ok, want, got)
				}
			}
		})
	}
}

// samples gathers reg as name{labels} → value; histograms and summaries
// as their _count, _sum and _bucket{le} series.
func samples(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var pairs []string
			for _, l := range m.GetLabel() {
				pairs = append(pairs, l.GetName()+`="`+l.GetValue()+`"`)
			}
			key := func(name string, extra ...string) string {
				all := append(append([]string{}, pairs...), extra...)
				if len(all) == 0 {
					return name
				}
				return name + "{" + strings.Join(all, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[key(f.GetName())] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[key(f.GetName())] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[key(f.GetName()+"_count")] = float64(m.GetHistogram().GetSampleCount())
				out[key(f.GetName()+"_sum")] = m.GetHistogram().GetSampleSum()
				for _, b := range m.GetHistogram().GetBucket() {
					out[key(f.GetName()+"_bucket", `le="`+trimFloat(b.GetUpperBound())+`"`)] = float64(b.GetCumulativeCount())
				}
			case m.Summary != nil:
				out[key(f.GetName()+"_count")] = float64(m.GetSummary().GetSampleCount())
				out[key(f.GetName()+"_sum")] = m.GetSummary().GetSampleSum()
			}
		}
	}
	return out
}

func trimFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
