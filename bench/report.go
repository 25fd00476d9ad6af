package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Report is everything one run measured; it is written as JSON.
type Report struct {
	Started         time.Time `json:"started"`
	DurationSeconds float64   `json:"durationSeconds"`
	Quick           bool      `json:"quick"`
	Settings        Settings  `json:"settings"`
	Machine         Machine   `json:"machine"`
	Bare            Bare      `json:"bare"`
	Latency         Latency   `json:"latency"`
	Bursts          []Burst   `json:"bursts"`
	Restart         *Restart  `json:"restart,omitempty"`
	Idle            *Idle     `json:"idle,omitempty"`
	Targets         []Target  `json:"targets"`
	Warnings        []string  `json:"warnings,omitempty"`
}

// Settings are the options of the run.
type Settings struct {
	Bursts            []int   `json:"bursts"`
	BurstIsolation    string  `json:"burstIsolation"`
	IdleCRs           int     `json:"idleCRs"`
	IdleWindowSeconds float64 `json:"idleWindowSeconds"`
	IdlePeriodSeconds float64 `json:"idlePeriodSeconds"`
	RestartCRs        int     `json:"restartCRs"` // 0: no restart phase
	Repeat            int     `json:"repeat"`
	BareRuns          int     `json:"bareRuns"`
}

// Machine describes where the run happened.
type Machine struct {
	NumCPU         int    `json:"numCPU"`
	CgroupCPU      string `json:"cgroupCPU"` // the cgroup's CPU limit file, as read
	CPUs           int    `json:"cpus"`      // what the floor divides by: the quota, at most NumCPU
	CPUModel       string `json:"cpuModel"`
	MemTotalBytes  int64  `json:"memTotalBytes"`
	Kernel         string `json:"kernel"`
	GoVersion      string `json:"goVersion"`
	Ansible        string `json:"ansible"`
	AnsibleRunner  string `json:"ansibleRunner"`
	KubeAPIServer  string `json:"kubeAPIServer"`
	GitCommit      string `json:"gitCommit"`
	GitDirty       bool   `json:"gitDirty"`
	LoadAvgAtStart string `json:"loadAvgAtStart"`
}

// Bare is the bare role time: ansible-playbook of playbook.yml.
type Bare struct {
	Playbook         string    `json:"playbook"`
	WallSeconds      []float64 `json:"wallSeconds"`
	MedianSeconds    float64   `json:"medianSeconds"`
	CPUSeconds       []float64 `json:"cpuSeconds"`
	MedianCPUSeconds float64   `json:"medianCPUSeconds"`
}

// Latency holds the single-CR figures.
type Latency struct {
	ColdFirstCRSeconds            float64   `json:"coldFirstCRSeconds"`
	SpecChangeSeconds             []float64 `json:"specChangeSeconds"`
	SpecChangeMedianSeconds       float64   `json:"specChangeMedianSeconds"`
	DependentRestoreSeconds       []float64 `json:"dependentRestoreSeconds"`
	DependentRestoreMedianSeconds float64   `json:"dependentRestoreMedianSeconds"`
	DependentDeleted              string    `json:"dependentDeleted"`
}

// Burst is one burst of N CRs created at once.
type Burst struct {
	N                 int     `json:"n"`
	Namespace         string  `json:"namespace"`
	WallSeconds       float64 `json:"wallSeconds"`
	FirstDoneSeconds  float64 `json:"firstDoneSeconds"`
	MedianDoneSeconds float64 `json:"medianDoneSeconds"`
	FloorSeconds      float64 `json:"floorSeconds"`
	RatioToFloor      float64 `json:"ratioToFloor"`

	AnsibleRuns       float64 `json:"ansibleRuns"`
	FailedRuns        float64 `json:"failedRuns"`
	RunsPerCR         float64 `json:"runsPerCR"`
	SkippedReconciles float64 `json:"skippedReconciles"`
	Reconciles        float64 `json:"reconciles"`
	MeanRunSeconds    float64 `json:"meanRunSeconds"`

	OperatorRequests         float64            `json:"operatorRequests"`
	OperatorRequestsPerRun   float64            `json:"operatorRequestsPerRun"`
	OperatorRequestsPerCR    float64            `json:"operatorRequestsPerCR"`
	OperatorRequestsByMethod map[string]float64 `json:"operatorRequestsByMethod"`
	RoleRequests             float64            `json:"roleRequests"`
	RoleRequestsPerRun       float64            `json:"roleRequestsPerRun"`
	RoleRequestsPerCR        float64            `json:"roleRequestsPerCR"`
	RoleRequestsByMethod     map[string]float64 `json:"roleRequestsByMethod"`
	RoleCacheHits            float64            `json:"roleCacheHits"`

	OperatorRSSBytes int64 `json:"operatorRSSBytes"`
	OperatorHWMBytes int64 `json:"operatorHWMBytes"`
	// OperatorRSSAnonBytes (heap, stacks) and OperatorRSSFileBytes (pages
	// of the executable) split OperatorRSSBytes.
	OperatorRSSAnonBytes int64 `json:"operatorRSSAnonBytes"`
	OperatorRSSFileBytes int64 `json:"operatorRSSFileBytes"`
	PeakTreeRSSBytes     int64 `json:"peakTreeRSSBytes"`
	PeakTreeProcs        int   `json:"peakTreeProcs"`
	RunsAtPeak           int   `json:"runsAtPeak"`
	MaxConcurrentRuns    int   `json:"maxConcurrentRuns"`
	RSSPerRunBytes       int64 `json:"rssPerRunBytes"`
	TreeSamples          int   `json:"treeSamples"`
}

// Restart is a new operator taking over CRs that a stopped one left
// Successful, with the same runner directory. Its counters are the new
// operator's, from its start.
type Restart struct {
	CRs       int    `json:"crs"`
	Namespace string `json:"namespace"`
	// ConvergeSeconds is the first operator's time to all Successful.
	ConvergeSeconds float64 `json:"convergeSeconds"`
	// ReadySeconds and SettledSeconds run from the new operator's start to
	// its readiness and to the last poll that saw it busy or counting.
	ReadySeconds      float64 `json:"readySeconds"`
	SettledSeconds    float64 `json:"settledSeconds"`
	AnsibleRuns       float64 `json:"ansibleRuns"`
	FailedRuns        float64 `json:"failedRuns"`
	SkippedReconciles float64 `json:"skippedReconciles"`
	Reconciles        float64 `json:"reconciles"`
	// DependentDeleted is the Service deleted after the new operator
	// settled; DependentRestoreSeconds the time until it was back.
	DependentDeleted        string  `json:"dependentDeleted"`
	DependentRestoreSeconds float64 `json:"dependentRestoreSeconds"`
}

// Idle is the idle cost of CRs resynced every period.
type Idle struct {
	CRs                   int     `json:"crs"`
	PeriodSeconds         float64 `json:"periodSeconds"`
	ConvergeSeconds       float64 `json:"convergeSeconds"`
	WindowSeconds         float64 `json:"windowSeconds"`
	TreeCPUSeconds        float64 `json:"treeCPUSeconds"`
	AnsibleRuns           float64 `json:"ansibleRuns"`
	SkippedReconciles     float64 `json:"skippedReconciles"`
	EveryPeriodCPUSeconds float64 `json:"everyPeriodCPUSeconds"`
	Percent               float64 `json:"percent"`
	OperatorRSSBytes      int64   `json:"operatorRSSBytes"`
}

// Target is one figure checked against the target.
type Target struct {
	Figure string  `json:"figure"`
	Value  float64 `json:"value"`
	Op     string  `json:"op"` // "<=" or "=="
	Limit  float64 `json:"limit"`
	Unit   string  `json:"unit"`
	Result string  `json:"result"` // pass, fail, or n/a (the run did not measure it)
}

// floorSeconds is the least wall time n runs of bare seconds need on cpus
// CPUs: n × bare / cpus, and never less than one run (one run does not
// spread over CPUs).
func floorSeconds(n int, bare float64, cpus int) float64 {
	if cpus < 1 {
		cpus = 1
	}
	return math.Max(bare, float64(n)*bare/float64(cpus))
}

// megabytes is the unit of the RSS figures and target: 10^6 bytes.
const megabytes = 1e6

// restartTarget names the target of the restart phase.
const restartTarget = "Ansible runs after an operator restart"

// targets checks the figures of r against their targets (README.md).
func targets(r *Report) []Target {
	floor1 := floorSeconds(1, r.Bare.MedianSeconds, r.Machine.CPUs)
	out := []Target{
		check("cold first CR → Successful", r.Latency.ColdFirstCRSeconds, "<=", 2.0, "s", true),
		check("spec change → Successful (median)", r.Latency.SpecChangeMedianSeconds, "<=", floor1+0.5, "s",
			len(r.Latency.SpecChangeSeconds) > 0),
	}
	b20, has20 := findBurst(r.Bursts, 20)
	out = append(out, check("burst of 20: wall / floor", b20.RatioToFloor, "<=", 1.3, "×", has20))
	b50, has50 := findBurst(r.Bursts, 50)
	out = append(out, check("operator Go RSS after the 50-CR burst", float64(b50.OperatorRSSBytes)/megabytes, "<=", 45, "MB", has50))
	for _, b := range r.Bursts {
		out = append(out, check(fmt.Sprintf("burst of %d: Ansible runs per created CR", b.N), b.RunsPerCR, "==", 1.0, "", true))
	}
	if r.Restart != nil {
		out = append(out, check(restartTarget, r.Restart.AnsibleRuns, "==", 0, "runs", true))
	} else {
		out = append(out, check(restartTarget, 0, "==", 0, "runs", false))
	}
	if r.Idle != nil {
		out = append(out, check("idle cost vs Ansible every period", r.Idle.Percent, "<=", 5, "%", true))
	} else {
		out = append(out, check("idle cost vs Ansible every period", 0, "<=", 5, "%", false))
	}
	return out
}

func check(figure string, value float64, op string, limit float64, unit string, measured bool) Target {
	t := Target{Figure: figure, Value: value, Op: op, Limit: limit, Unit: unit, Result: "n/a"}
	if !measured {
		t.Value = 0
		return t
	}
	ok := value <= limit
	if op == "==" {
		ok = math.Abs(value-limit) < 1e-9
	}
	t.Result = map[bool]string{true: "pass", false: "fail"}[ok]
	return t
}

func findBurst(bs []Burst, n int) (Burst, bool) {
	for _, b := range bs {
		if b.N == n {
			return b, true
		}
	}
	return Burst{}, false
}

// warnings flags a run whose figures other load inflated: a bare role run
// that spent much longer on the wall than on the CPU waited for CPUs.
func warnings(r *Report) []string {
	var out []string
	if b := r.Bare; b.MedianCPUSeconds > 0 && b.MedianSeconds > 1.25*b.MedianCPUSeconds {
		out = append(out, fmt.Sprintf("the machine was busy: the bare role run took %.2f s wall for %.2f s CPU; "+
			"every figure is inflated, run again on a quiet machine", b.MedianSeconds, b.MedianCPUSeconds))
	}
	return out
}

// resultPath is <out>/<UTC date>-<CPUs>cpu[-quick].json.
func resultPath(out string, started time.Time, cpus int, quick bool) string {
	suffix := ""
	if quick {
		suffix = "-quick"
	}
	return filepath.Join(out, fmt.Sprintf("%s-%dcpu%s.json", started.UTC().Format("2006-01-02"), cpus, suffix))
}

// writeJSON writes r to path, creating its directory.
func writeJSON(path string, r *Report) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

func medianOf(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func maxOf(xs []float64) float64 { return slices.Max(xs) }
func minOf(xs []float64) float64 { return slices.Min(xs) }

// perUnit is a / b, or 0 when b is 0.
func perUnit(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
