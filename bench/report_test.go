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
		Bare:    Bare{MedianSeconds: 1.4, MedianCPUSeconds: 1.6},
		Executors: []ExecutorResult{
			{Executor: "runner",
				Latency: Latency{ColdFirstCRSeconds: 2.5, ColdFirstCRSamples: []float64{2.5}, SpecChangeSeconds: []float64{1.8}, SpecChangeMedianSeconds: 1.8},
				Bursts: []Burst{
					{N: 10, RunsPerCR: 1},
					{N: 20, RatioToFloor: 1.25, RunsPerCR: 1.1},
				},
				RunCost: RunCost{CPUPerRunSeconds: 1.9, CPUPerRunToBare: 1.19, RunPSSBytes: 150e6, MemorySamples: 30}},
			{Executor: "warm",
				Latency: Latency{ColdFirstCRSeconds: 0.7, ColdFirstCRSamples: []float64{0.9, 0.7, 0.6}, SpecChangeSeconds: []float64{0.65}, SpecChangeMedianSeconds: 0.65},
				Bursts: []Burst{
					{N: 10, RunsPerCR: 1},
					{N: 20, RatioToFloor: 0.3, RunsPerCR: 1},
				},
				RunCost: RunCost{CPUPerRunSeconds: 0.5, CPUPerRunToBare: 0.31, RunPSSBytes: 60e6, MemorySamples: 12}},
		},
		Restart: &Restart{CRs: 20, AnsibleRuns: 20},
		Idle:    &Idle{Percent: 3},
	}
	got := map[string]string{}
	for _, tg := range targets(r) {
		got[tg.Executor+"/"+tg.Figure] = tg.Result
	}
	want := map[string]string{
		"runner/cold first CR → Successful (median)":           "missed",
		"runner/spec change → Successful (median)":             "met", // 1.8 ≤ 1.4 + 0.5
		"runner/burst of 20: wall / floor":                     "met",
		"runner/operator Go RSS after the 50-CR burst":         "n/a",
		"runner/burst of 10: Ansible runs per created CR":      "met",
		"runner/burst of 20: Ansible runs per created CR":      "missed",
		"warm/cold first CR → Successful (median)":             "met",
		"warm/spec change → Successful (median)":               "missed", // 0.65 > 0.6
		"warm/burst of 20: wall / floor":                       "met",    // 0.3 ≤ 0.35
		"warm/operator Go RSS after the 50-CR burst":           "n/a",
		"warm/burst of 10: Ansible runs per created CR":        "met",
		"warm/burst of 20: Ansible runs per created CR":        "met",
		"warm/CPU per Ansible run (all bursts) / bare run CPU": "missed", // 0.31 > 0.25
		"warm/PSS per run in flight (all bursts)":              "met",    // 60 ≤ 80 MB
		"/Ansible runs after an operator restart":              "missed",
		"/idle cost vs Ansible every period":                   "met",
		"/operator RSS per CR at 1,000 CRs":                    "n/a",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestTargetsOfAnExecutorNotRun(t *testing.T) {
	r := &Report{Executors: []ExecutorResult{{Executor: "runner", Latency: Latency{ColdFirstCRSeconds: 1, ColdFirstCRSamples: []float64{1}}}}}
	got := map[string]string{}
	for _, tg := range targets(r) {
		if tg.Executor == "warm" {
			got[tg.Figure] = tg.Result
		}
	}
	want := map[string]string{coldTarget: "n/a", specTarget: "n/a", burst20Target: "n/a", rss50Target: "n/a",
		cpuTarget: "n/a", pssTarget: "n/a"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestWarmLimits(t *testing.T) {
	// The warm targets are set against the bare run, whatever floor(1) is;
	// the runner's spec change target moves with it.
	warm, run := limitsOf("warm"), limitsOf("runner")
	got := []float64{warm.ColdFirstCR, warm.SpecChange(1.4), warm.SpecChange(3), warm.Burst20, warm.CPUPerRun, warm.RunPSSMB,
		run.ColdFirstCR, run.SpecChange(1.4), run.Burst20, run.CPUPerRun, run.RunPSSMB}
	want := []float64{0.8, 0.6, 0.6, 0.35, 0.25, 80, 2.0, 1.9, 1.3, 0, 0}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-9 })); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestSummarize(t *testing.T) {
	e := ExecutorResult{Executor: "warm", Bursts: []Burst{
		{N: 10, AnsibleRuns: 10, TreeCPUSeconds: 4, memory: []memSample{
			{Runs: 2, RunPSS: 100e6, RunRSS: 300e6, ServerPSS: 30e6, ServerRSS: 90e6},
			{Runs: 1, RunPSS: 500e6, RunRSS: 500e6}, // one run in flight: left out
		}},
		{N: 20, AnsibleRuns: 22, TreeCPUSeconds: 8, memory: []memSample{
			{Runs: 2, RunPSS: 140e6, RunRSS: 320e6, ServerPSS: 20e6, ServerRSS: 92e6},
			{Runs: 3, RunPSS: 150e6, RunRSS: 330e6, ServerPSS: 25e6, ServerRSS: 91e6},
		}},
	}}
	summarize(&e, 1.5)
	// 12 CPU s over 32 runs; per-run PSS samples 50, 70, 50 MB; RSS 150, 160, 110 MB.
	if math.Abs(e.CPUPerRunSeconds-0.375) > 1e-9 || math.Abs(e.CPUPerRunToBare-0.25) > 1e-9 {
		t.Errorf("CPU per run %g (%g × bare), want 0.375 (0.25 × bare)", e.CPUPerRunSeconds, e.CPUPerRunToBare)
	}
	got := []int64{e.RunPSSBytes, e.RunRSSBytes, e.ServerPSSBytes, e.ServerRSSBytes, int64(e.MemorySamples)}
	if diff := cmp.Diff([]int64{50e6, 150e6, 25e6, 91e6, 3}, got); diff != "" {
		t.Errorf("memory (-want +got):\n%s", diff)
	}
	var none ExecutorResult
	summarize(&none, 1.5)
	if none.CPUPerRunSeconds != 0 || none.MemorySamples != 0 {
		t.Errorf("no bursts: %+v", none)
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
			Target{Figure: restartTarget, Op: "==", Unit: "runs", Result: "met"}},
		{"one run per CR", &Restart{CRs: 20, AnsibleRuns: 20, Reconciles: 40},
			Target{Figure: restartTarget, Value: 20, Op: "==", Unit: "runs", Result: "missed"}},
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

func TestMemoryPerCR(t *testing.T) {
	m := &Memory{}
	m.add(MemoryPoint{RSSBytes: 40e6, HeapInuseBytes: 10e6})
	m.add(MemoryPoint{CRs: 100, RSSBytes: 45e6, HeapInuseBytes: 12e6})
	m.add(MemoryPoint{CRs: 1000, RSSBytes: 70e6, HeapInuseBytes: 30e6})
	var got [][2]float64
	for _, p := range m.Points {
		got = append(got, [2]float64{p.RSSPerCRBytes, p.HeapPerCRBytes})
	}
	want := [][2]float64{{0, 0}, {50e3, 20e3}, {30e3, 20e3}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("per CR (-want +got):\n%s", diff)
	}
}

func TestMemoryTarget(t *testing.T) {
	points := func(rssAt1000 int64, crs ...int) *Memory {
		m := &Memory{}
		m.add(MemoryPoint{RSSBytes: 40e6})
		for _, n := range crs {
			m.add(MemoryPoint{CRs: n, RSSBytes: 40e6 + int64(n)*rssAt1000})
		}
		return m
	}
	tests := []struct {
		name   string
		memory *Memory
		want   Target
	}{
		{"no memory phase", nil, Target{Figure: memoryTarget, Op: "<=", Limit: 40, Unit: "KB", Result: "n/a"}},
		{"fewer than 1,000 CRs", points(30e3, 5, 20), Target{Figure: memoryTarget, Op: "<=", Limit: 40, Unit: "KB", Result: "n/a"}},
		{"30 KB per CR", points(30e3, 100, 1000), Target{Figure: memoryTarget, Value: 30, Op: "<=", Limit: 40, Unit: "KB", Result: "met"}},
		{"150 KB per CR", points(150e3, 100, 1000), Target{Figure: memoryTarget, Value: 150, Op: "<=", Limit: 40, Unit: "KB", Result: "missed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Target
			for _, tg := range targets(&Report{Memory: tt.memory}) {
				if tg.Figure == memoryTarget {
					got = append(got, tg)
				}
			}
			if diff := cmp.Diff([]Target{tt.want}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
