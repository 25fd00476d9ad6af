package main

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func inf() float64 { return math.Inf(1) }

func TestFloorSeconds(t *testing.T) {
	tests := []struct {
		name string
		n    int
		bare float64
		cpus int
		want float64
	}{
		{"one run is one bare run", 1, 1.4, 2, 1.4},
		{"as many runs as CPUs", 2, 1.4, 2, 1.4},
		{"20 runs on 2 CPUs", 20, 1.4, 2, 14},
		{"50 runs on 4 CPUs", 50, 1.2, 4, 15},
		{"one CPU", 10, 1.5, 1, 15},
		{"zero CPUs counts as one", 3, 2, 0, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := floorSeconds(tt.n, tt.bare, tt.cpus); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("floorSeconds(%d, %g, %d) = %g, want %g", tt.n, tt.bare, tt.cpus, got, tt.want)
			}
		})
	}
}

func TestEveryPeriodCPU(t *testing.T) {
	// 5 minutes at 30s: 10 runs for each of 100 CRs, 1.2 CPU seconds each.
	if got := everyPeriodCPU(5*time.Minute, 30*time.Second, 100, 1.2); math.Abs(got-1200) > 1e-9 {
		t.Errorf("everyPeriodCPU = %g, want 1200", got)
	}
	if got := everyPeriodCPU(time.Minute, 0, 100, 1.2); got != 0 {
		t.Errorf("zero period: %g, want 0", got)
	}
}

func TestMedianOf(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, 0}, {[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := medianOf(tt.in); got != tt.want {
			t.Errorf("medianOf(%v) = %g, want %g", tt.in, got, tt.want)
		}
	}
}

func TestTargets(t *testing.T) {
	r := &Report{
		Machine: Machine{CPUs: 2},
		Bare:    Bare{MedianSeconds: 1.4},
		Latency: Latency{ColdFirstCRSeconds: 2.5, SpecChangeSeconds: []float64{1.8}, SpecChangeMedianSeconds: 1.8},
		Bursts: []Burst{
			{N: 10, RunsPerCR: 1},
			{N: 20, RatioToFloor: 1.25, RunsPerCR: 1.1},
		},
		Restart: &Restart{CRs: 20, AnsibleRuns: 20},
		Idle:    &Idle{Percent: 3},
	}
	got := map[string]string{}
	for _, tg := range targets(r) {
		got[tg.Figure] = tg.Result
	}
	want := map[string]string{
		"Ansible runs after an operator restart":   "fail",
		"cold first CR → Successful":               "fail",
		"spec change → Successful (median)":        "pass", // 1.8 ≤ 1.4 + 0.5
		"burst of 20: wall / floor":                "pass",
		"operator Go RSS after the 50-CR burst":    "n/a",
		"burst of 10: Ansible runs per created CR": "pass",
		"burst of 20: Ansible runs per created CR": "fail",
		"idle cost vs Ansible every period":        "pass",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestResultPath(t *testing.T) {
	at := time.Date(2026, 11, 21, 23, 30, 0, 0, time.FixedZone("east", 3*3600))
	if got, want := resultPath("/r", at, 2, false), "/r/2026-11-21-2cpu.json"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got, want := resultPath("/r", at, 8, true), "/r/2026-11-21-8cpu-quick.json"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestWarnings(t *testing.T) {
	quiet := &Report{Bare: Bare{MedianSeconds: 1.5, MedianCPUSeconds: 1.4}}
	if w := warnings(quiet); len(w) != 0 {
		t.Errorf("quiet machine: warnings %q", w)
	}
	busy := &Report{Bare: Bare{MedianSeconds: 4.7, MedianCPUSeconds: 1.8}}
	if w := warnings(busy); len(w) != 1 || !strings.Contains(w[0], "4.70 s wall for 1.80 s CPU") {
		t.Errorf("busy machine: warnings %q", w)
	}
}

func TestRestartTarget(t *testing.T) {
	tests := []struct {
		name    string
		restart *Restart
		want    Target
	}{
		{"no restart phase", nil, Target{Figure: restartTarget, Op: "==", Unit: "runs", Result: "n/a"}},
		{"nothing ran", &Restart{CRs: 20, SkippedReconciles: 20, Reconciles: 20},
			Target{Figure: restartTarget, Op: "==", Unit: "runs", Result: "pass"}},
		{"one run per CR", &Restart{CRs: 20, AnsibleRuns: 20, Reconciles: 40},
			Target{Figure: restartTarget, Value: 20, Op: "==", Unit: "runs", Result: "fail"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Target
			for _, tg := range targets(&Report{Restart: tt.restart}) {
				if tg.Figure == restartTarget {
					got = append(got, tg)
				}
			}
			if diff := cmp.Diff([]Target{tt.want}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
