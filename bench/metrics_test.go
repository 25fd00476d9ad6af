package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const exposition = `# HELP ansible_operator_reconcile_result Ansible runs.
# TYPE ansible_operator_reconcile_result counter
ansible_operator_reconcile_result{GVK="mcrouter.example.com/v1alpha3, Kind=Mcrouter",kind="reconcile",result="succeeded"} 12
ansible_operator_reconcile_result{GVK="mcrouter.example.com/v1alpha3, Kind=Mcrouter",kind="reconcile",result="failed"} 1
ansible_operator_reconcile_result{GVK="mcrouter.example.com/v1alpha3, Kind=Mcrouter",kind="finalizer",result="succeeded"} 4
ansible_operator_skipped_runs_total{GVK="mcrouter.example.com/v1alpha3, Kind=Mcrouter"} 7
ansible_operator_reconciles_sum{GVK="mcrouter.example.com/v1alpha3, Kind=Mcrouter"} 30.5
ansible_operator_reconciles_count{GVK="mcrouter.example.com/v1alpha3, Kind=Mcrouter"} 13
rest_client_requests_total{code="200",host="127.0.0.1:6443",method="GET"} 40
rest_client_requests_total{code="200",host="127.0.0.1:6443",method="PATCH"} 9
rest_client_requests_total{code="409",host="127.0.0.1:6443",method="PATCH"} 1
ansible_operator_proxy_requests_total{cache="hit",code="200",method="GET"} 20
ansible_operator_proxy_requests_total{cache="bypass",code="201",method="POST"} 5
controller_runtime_reconcile_total{controller="mcrouter",result="success"} 25
controller_runtime_reconcile_total{controller="mcrouter",result="error"} 2
go_gc_duration_seconds{quantile="0.5"} 1.5e-05
process_start_time_seconds 1.7e+09 1700000000000
`

func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	got := countersOf(m)
	want := counters{
		Runs: 13, FailedRuns: 1, Skipped: 7, Reconciles: 27, RunSeconds: 30.5,
		RestRequests: 50, ProxyRequests: 25, ProxyCacheHits: 20,
		RestByMethod:  map[string]float64{"GET": 40, "PATCH": 10},
		ProxyByMethod: map[string]float64{"GET": 20, "POST": 5},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
	if v := m.sum("process_start_time_seconds", nil); v != 1.7e9 {
		t.Errorf("sample with timestamp: value %g, want 1.7e9", v)
	}
}

func TestParseSampleLabels(t *testing.T) {
	tests := []struct {
		name string
		line string
		want sample
	}{
		{"no labels", "up 1", sample{Name: "up", Labels: map[string]string{}, Value: 1}},
		{"escapes", `m{a="q\"uote",b="back\\slash",c="new\nline"} 2`,
			sample{Name: "m", Labels: map[string]string{"a": `q"uote`, "b": `back\slash`, "c": "new\nline"}, Value: 2}},
		{"comma and brace in value", `m{a="x,}y"} 3`, sample{Name: "m", Labels: map[string]string{"a": "x,}y"}, Value: 3}},
		{"trailing comma", `m{a="1",} 4`, sample{Name: "m", Labels: map[string]string{"a": "1"}, Value: 4}},
		{"special values", `m +Inf`, sample{Name: "m", Labels: map[string]string{}, Value: inf()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSample(tt.line)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseMetricsErrors(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"no value", "metric_without_value\n", "line 1"},
		{"bad value", "# c\nm{a=\"b\"} lots\n", `line 2 "m{a=\"b\"} lots": value "lots"`},
		{"unterminated label", "m{a=\"b} 1\n", "unterminated"},
		{"label without quotes", "m{a=b} 1\n", "label without"},
		{"too many fields", "m 1 2 3\n", "fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseMetrics(strings.NewReader(tt.text))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestCountersSub(t *testing.T) {
	before := counters{Runs: 3, Skipped: 1, RestRequests: 10, RestByMethod: map[string]float64{"GET": 8, "PATCH": 2}}
	after := counters{Runs: 13, Skipped: 4, RestRequests: 25, RestByMethod: map[string]float64{"GET": 8, "PATCH": 12, "POST": 5}}
	got := after.sub(before)
	want := counters{Runs: 10, Skipped: 3, RestRequests: 15,
		RestByMethod: map[string]float64{"PATCH": 10, "POST": 5}, ProxyByMethod: map[string]float64{}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
