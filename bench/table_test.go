package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestPrintTable(t *testing.T) {
	r := &Report{
		Machine: Machine{CPUs: 2, NumCPU: 2, CgroupCPU: "no cgroup CPU limit file", CPUModel: "AMD EPYC"},
		Bare:    Bare{WallSeconds: []float64{1.4}, MedianSeconds: 1.4, MedianCPUSeconds: 1.3},
		Latency: Latency{ColdFirstCRSeconds: 1.9, SpecChangeSeconds: []float64{1.7}, SpecChangeMedianSeconds: 1.7},
		Bursts: []Burst{{N: 20, WallSeconds: 17, FloorSeconds: 14, RatioToFloor: 17.0 / 14, RunsPerCR: 1, AnsibleRuns: 20,
			OperatorRSSBytes: 40e6, OperatorHWMBytes: 42e6, PeakTreeRSSBytes: 500e6, RunsAtPeak: 2, RSSPerRunBytes: 230e6}},
		Restart: &Restart{CRs: 20, ConvergeSeconds: 18, ReadySeconds: 0.8, SettledSeconds: 2.4, SkippedReconciles: 20, Reconciles: 20,
			DependentDeleted: "Service restart-0", DependentRestoreSeconds: 1.6},
		Idle: &Idle{CRs: 100, WindowSeconds: 90, PeriodSeconds: 30, TreeCPUSeconds: 2, EveryPeriodCPUSeconds: 390, Percent: 0.51},
	}
	r.Targets = targets(r)
	var out bytes.Buffer
	if err := printTable(&out, r); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"cold first CR → Successful", "1.90 s", "≤ 2.00 s",
		"burst of 20: all Successful", "17.0 s = 1.21 × floor 14.0 s", "≤ 1.30 × floor",
		"burst of 20: Ansible runs per CR", "= 1.0",
		"none counted: the operator exports no ansible_operator_proxy_requests_total",
		"idle: cost vs Ansible every 30 s", "0.51 % of 390 CPU s", "≤ 5 %",
		"restart: Ansible runs after an operator restart with 20 unchanged CRs", "0 (0 failed; 20 skipped of 20 reconciles)", "= 0 runs",
		"restart: new operator start → settled", "2.40 s (ready after 0.80 s)",
		"restart: Service restart-0 deleted → restored", "1.60 s",
		"targets: 6 pass, 0 fail; not measured in this run: operator Go RSS after the 50-CR burst",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("table does not contain %q:\n%s", want, text)
		}
	}
}
