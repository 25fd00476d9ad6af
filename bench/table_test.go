package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMerge(t *testing.T) {
	tests := []struct {
		name              string
		order, next, want []string
	}{
		{"first executor", nil, []string{"a", "b"}, []string{"a", "b"}},
		{"the same figures", []string{"a", "b"}, []string{"a", "b"}, []string{"a", "b"}},
		{"new figures in the middle and at the start", []string{"a", "b", "c"}, []string{"x", "a", "b", "y", "z", "c"},
			[]string{"x", "a", "b", "y", "z", "c"}},
		{"a figure of the first only", []string{"a", "b", "c"}, []string{"a", "c"}, []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, merge(tt.order, tt.next)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// tableReport is a report of both executors and the phases run once.
func tableReport() *Report {
	r := &Report{
		Machine:  Machine{CPUs: 2, NumCPU: 2, CgroupCPU: "no cgroup CPU limit file", CPUModel: "AMD EPYC"},
		Settings: Settings{SingleExecutor: "runner"},
		Bare:     Bare{WallSeconds: []float64{1.4}, MedianSeconds: 1.4, MedianCPUSeconds: 1.3},
		Executors: []ExecutorResult{
			{Executor: "runner",
				Latency: Latency{ColdFirstCRSeconds: 1.9, ColdFirstCRSamples: []float64{1.9}, SpecChangeSeconds: []float64{1.7}, SpecChangeMedianSeconds: 1.7},
				Bursts: []Burst{{N: 20, WallSeconds: 17, FloorSeconds: 14, RatioToFloor: 17.0 / 14, RunsPerCR: 1, AnsibleRuns: 20,
					OperatorRSSBytes: 40e6, OperatorHWMBytes: 42e6, PeakTreeRSSBytes: 500e6, RunsAtPeak: 2, RSSPerRunBytes: 230e6,
					RunCost: RunCost{CPUPerRunSeconds: 1.56, CPUPerRunToBare: 1.2, RunPSSBytes: 120e6, RunRSSBytes: 210e6, MemorySamples: 40}}},
				RunCost: RunCost{CPUPerRunSeconds: 1.56, CPUPerRunToBare: 1.2, RunPSSBytes: 120e6, RunRSSBytes: 210e6, MemorySamples: 40}},
			{Executor: "warm",
				WarmServer: &WarmServer{ReadySeconds: []float64{1.1}, MedianReadySeconds: 1.1, MedianCPUSeconds: 0.9,
					PSSBytes: 70e6, RSSBytes: 80e6},
				Latency: Latency{ColdFirstCRSeconds: 0.9, ColdFirstCRSamples: []float64{0.9, 1.2, 0.7}, SpecChangeSeconds: []float64{0.5}, SpecChangeMedianSeconds: 0.5},
				Bursts: []Burst{{N: 20, WallSeconds: 4.5, FloorSeconds: 14, RatioToFloor: 4.5 / 14, RunsPerCR: 1, AnsibleRuns: 20,
					OperatorRSSBytes: 41e6, RunCost: RunCost{CPUPerRunSeconds: 0.3, CPUPerRunToBare: 0.23, RunPSSBytes: 30e6, RunRSSBytes: 95e6,
						ServerPSSBytes: 25e6, ServerRSSBytes: 80e6, MemorySamples: 9}}},
				RunCost: RunCost{CPUPerRunSeconds: 0.3, CPUPerRunToBare: 0.23, RunPSSBytes: 30e6, RunRSSBytes: 95e6, ServerPSSBytes: 25e6,
					ServerRSSBytes: 80e6, MemorySamples: 9}},
		},
		Restart: &Restart{CRs: 20, ConvergeSeconds: 18, ReadySeconds: 0.8, SettledSeconds: 2.4, SkippedReconciles: 20, Reconciles: 20,
			DependentDeleted: "Service restart-0", DependentRestoreSeconds: 1.6},
		Idle:   &Idle{CRs: 100, WindowSeconds: 90, PeriodSeconds: 30, TreeCPUSeconds: 2, EveryPeriodCPUSeconds: 390, Percent: 0.51},
		Memory: &Memory{Executor: "warm"},
	}
	r.Memory.add(MemoryPoint{RSSBytes: 38e6, HeapInuseBytes: 9e6})
	r.Memory.add(MemoryPoint{CRs: 100, ConvergeSeconds: 70, RSSBytes: 43e6, HeapInuseBytes: 11e6})
	r.Memory.add(MemoryPoint{CRs: 1000, ConvergeSeconds: 600, RSSBytes: 63e6, HeapInuseBytes: 24e6})
	r.Targets = targets(r)
	return r
}

func TestPrintTable(t *testing.T) {
	r := tableReport()
	var out bytes.Buffer
	if err := printTable(&out, r); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"bare role run (ansible-playbook, median of 1): 1.40 s wall, 1.30 s CPU",
		"FIGURE", "RUNNER", "WARM",
		"warm server: operator start → ready (median)", "1.10 s, 0.90 CPU s (1 starts)",
		"cold first CR → Successful (median)", "1.90 s [1.90]", "≤ 2.00 s: met", "0.90 s [0.90 1.20 0.70]", "≤ 0.80 s: MISSED",
		"burst of 20: all Successful (floor 14.0 s)", "17.0 s = 1.21 × floor", "≤ 1.30 × floor: met",
		"4.5 s = 0.32 × floor", "≤ 0.35 × floor: met",
		"burst of 20: Ansible runs per CR", "= 1.0: met",
		"all bursts: CPU per Ansible run", "1.56 s = 1.20 × bare CPU", "0.30 s = 0.23 × bare CPU", "≤ 0.25 × bare CPU: met",
		"all bursts: PSS / RSS per run in flight (median)", "120.0 / 210.0 MB (40 samples)", "30.0 / 95.0 MB (9 samples)", "≤ 80 MB: met",
		"all bursts: warm server PSS / RSS (median)", "25.0 / 80.0 MB",
		"none counted (no ansible_operator_proxy_requests_total)",
		"phases run once, on the runner executor (memory: warm):",
		"memory: operator RSS / Go heap in use, no CR", "38.0 MB / 9.0 MB",
		"memory: 1000 CRs, all Successful in", "600.00 s",
		"memory: per CR, RSS / Go heap in use, 100 CRs", "50.0 / 20.0 KB",
		"memory: per CR, RSS / Go heap in use, 1000 CRs", "25.0 / 15.0 KB", "≤ 40 KB   met",
		"idle: cost vs Ansible every 30 s", "0.51 % of 390 CPU s", "≤ 5 %",
		"restart: Ansible runs after an operator restart with 20 unchanged CRs", "0 (0 failed; 20 skipped of 20 reconciles)", "= 0 runs",
		"restart: new operator start → settled", "2.40 s (ready after 0.80 s)",
		"restart: Service restart-0 deleted → restored", "1.60 s",
		"targets: 12 met, 1 missed; missed: warm: cold first CR → Successful (median); not measured in this run: " +
			"runner: operator Go RSS after the 50-CR burst, warm: operator Go RSS after the 50-CR burst",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("table does not contain %q:\n%s", want, text)
		}
	}
	// One row per figure, whatever the number of samples of each executor.
	if n := strings.Count(text, "\ncold first CR"); n != 1 {
		t.Errorf("%d rows of the cold first CR, want 1:\n%s", n, text)
	}
	// Figures of the warm executor only stay among their neighbours.
	if i, j := strings.Index(text, "warm server at rest"), strings.Index(text, "cold first CR"); i < 0 || i > j {
		t.Errorf("the warm server's rows are not before the first latency row:\n%s", text)
	}
	// The runner has no warm server: its cell says so.
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "warm server: operator start") && !strings.Contains(line, "—") {
			t.Errorf("the runner's cell of %q is not —", line)
		}
	}
}
