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
	// Executors holds the phases that depend on how runs start Ansible,
	// once per executor, in the order of Settings.Executors.
	Executors []ExecutorResult `json:"executors"`
	// Restart and Idle ran once, on Settings.SingleExecutor.
	Restart *Restart `json:"restart,omitempty"`
	Idle    *Idle    `json:"idle,omitempty"`
	// Memory ran once, on Memory.Executor.
	Memory   *Memory  `json:"memory,omitempty"`
	Targets  []Target `json:"targets"`
	Warnings []string `json:"warnings,omitempty"`

	// Sharding ran once, on Settings.SingleExecutor (sharding.go).
	Sharding *Sharding `json:"sharding,omitempty"`
}

// ExecutorResult is what the phases of one executor measured.
type ExecutorResult struct {
	Executor string `json:"executor"` // the operator's --ansible-executor
	// WarmServer is the start of the warm server of each operator
	// process of this executor; nil for the runner executor.
	WarmServer *WarmServer `json:"warmServer,omitempty"`
	Latency    Latency     `json:"latency"`
	Bursts     []Burst     `json:"bursts"`
	// RunCost of the bursts together.
	RunCost
}

// RunCost is what an Ansible run costs: CPUPerRunSeconds is the CPU time
// of the operator's process tree (its warm server and the server's forks
// included) per Ansible run, CPUPerRunToBare that as a multiple of the bare
// run's CPU time. RunPSSBytes and RunRSSBytes are the memory of the runs'
// processes per run in flight; ServerPSSBytes and ServerRSSBytes the warm
// server's own: medians over the MemorySamples taken while at least two
// runs were in flight.
type RunCost struct {
	CPUPerRunSeconds float64 `json:"cpuPerRunSeconds"`
	CPUPerRunToBare  float64 `json:"cpuPerRunToBare"`
	RunPSSBytes      int64   `json:"runPSSBytes"`
	RunRSSBytes      int64   `json:"runRSSBytes"`
	ServerPSSBytes   int64   `json:"serverPSSBytes"`
	ServerRSSBytes   int64   `json:"serverRSSBytes"`
	MemorySamples    int     `json:"memorySamples"`
}

// WarmServer is the start of the warm server: from the start of the
// operator process until the server is idle, having imported what it
// keeps warm, once per operator process of the executor's phases.
type WarmServer struct {
	ReadySeconds       []float64 `json:"readySeconds"`
	MedianReadySeconds float64   `json:"medianReadySeconds"`
	// CPUSeconds is the server's CPU time until ready: its imports.
	CPUSeconds       []float64 `json:"cpuSeconds"`
	MedianCPUSeconds float64   `json:"medianCPUSeconds"`
	// PSSBytes and RSSBytes are the server's memory once ready, before any
	// run (median over the starts).
	PSSBytes int64 `json:"pssBytes"`
	RSSBytes int64 `json:"rssBytes"`
	pss, rss []float64
}

// Settings are the options of the run.
type Settings struct {
	Bursts            []int   `json:"bursts"`
	BurstIsolation    string  `json:"burstIsolation"`
	IdleCRs           int     `json:"idleCRs"`
	IdleWindowSeconds float64 `json:"idleWindowSeconds"`
	IdlePeriodSeconds float64 `json:"idlePeriodSeconds"`
	RestartCRs        int     `json:"restartCRs"`          // 0: no restart phase
	MemoryCRs         []int   `json:"memoryCRs,omitempty"` // none: no memory phase
	// Executors are the executors of the phases that depend on it.
	Executors []string `json:"executors"`
	// SingleExecutor is the executor of the restart and idle phases,
	// which do not depend on it.
	SingleExecutor string `json:"singleExecutor"`
	Repeat         int    `json:"repeat"`
	BareRuns       int    `json:"bareRuns"`
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
	LoadAvgAtEnd   string `json:"loadAvgAtEnd"`
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
	// ColdFirstCRSeconds is the median of ColdFirstCRSamples, one per
	// fresh operator.
	ColdFirstCRSeconds            float64   `json:"coldFirstCRSeconds"`
	ColdFirstCRSamples            []float64 `json:"coldFirstCRSamples"`
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

	// TreeCPUSeconds is the CPU time of the operator's process tree over
	// the burst (its warm server and the server's forks included).
	TreeCPUSeconds float64 `json:"treeCPUSeconds"`
	RunCost
	// OrdinaryRuns counts the operator's log lines saying that the warm
	// executor ran ansible-runner or ansible-playbook the ordinary way.
	OrdinaryRuns int `json:"ordinaryRuns"`

	memory []memSample // for the median over all bursts
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

// Memory is the operator's memory as Mcrouters accumulate: Points[0] with
// none, then one point per size of Settings.MemoryCRs.
type Memory struct {
	Executor string        `json:"executor"`
	Points   []MemoryPoint `json:"points"`
}

// MemoryPoint is the operator's memory holding CRs Successful Mcrouters,
// once it is quiet. RSS is read first; the heap after a garbage collection
// (HeapInuse: the spans holding objects; HeapAlloc: the live objects).
// The per-CR figures are the growth since Points[0], divided by CRs.
type MemoryPoint struct {
	CRs             int     `json:"crs"`
	ConvergeSeconds float64 `json:"convergeSeconds"` // the step's CRs created → all Successful
	RSSBytes        int64   `json:"rssBytes"`
	RSSAnonBytes    int64   `json:"rssAnonBytes"`
	HeapInuseBytes  int64   `json:"heapInuseBytes"`
	HeapAllocBytes  int64   `json:"heapAllocBytes"`
	RSSPerCRBytes   float64 `json:"rssPerCRBytes"`
	HeapPerCRBytes  float64 `json:"heapPerCRBytes"` // of HeapInuse
}

// add appends p with its per-CR figures.
func (m *Memory) add(p MemoryPoint) {
	if len(m.Points) > 0 && p.CRs > 0 {
		base := m.Points[0]
		p.RSSPerCRBytes = float64(p.RSSBytes-base.RSSBytes) / float64(p.CRs)
		p.HeapPerCRBytes = float64(p.HeapInuseBytes-base.HeapInuseBytes) / float64(p.CRs)
	}
	m.Points = append(m.Points, p)
}

// at returns the point with crs CRs.
func (m *Memory) at(crs int) (MemoryPoint, bool) {
	if m == nil {
		return MemoryPoint{}, false
	}
	for _, p := range m.Points {
		if p.CRs == crs {
			return p, true
		}
	}
	return MemoryPoint{}, false
}

// Target is one figure checked against the target.
type Target struct {
	// Executor is the executor whose figure it is; "" for the phases
	// that ran once (restart, idle).
	Executor string  `json:"executor,omitempty"`
	Figure   string  `json:"figure"`
	Value    float64 `json:"value"`
	Op       string  `json:"op"` // "<=" or "=="
	Limit    float64 `json:"limit"`
	Unit     string  `json:"unit"`
	Result   string  `json:"result"` // met, missed, or n/a (the run did not measure it)
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

// megabytes is the unit of the RSS figures and target: 10^6 bytes;
// kilobytes, of the memory per CR: 10^3 bytes.
const (
	megabytes = 1e6
	kilobytes = 1e3
)

// warnings flags a run whose figures other load inflated: a bare role run
// that spent much longer on the wall than on the CPU waited for CPUs.
func warnings(r *Report) []string {
	var out []string
	if b := r.Bare; b.MedianCPUSeconds > 0 && b.MedianSeconds > 1.25*b.MedianCPUSeconds {
		out = append(out, fmt.Sprintf("the machine was busy: the bare role run took %.2f s wall for %.2f s CPU; "+
			"every figure is inflated, run again on a quiet machine", b.MedianSeconds, b.MedianCPUSeconds))
	}
	for _, e := range r.Executors {
		n := 0
		for _, x := range e.Bursts {
			n += x.OrdinaryRuns
		}
		if n > 0 {
			out = append(out, fmt.Sprintf("the %s executor's operators logged %d times that a run or its playbook started "+
				"the ordinary way instead of forked: its burst figures mix both (keep the logs with -keep)", e.Executor, n))
		}
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

// summarize fills the figures of e that cover all its bursts: the tree's
// CPU time over all of them per Ansible run (against bareCPU, the bare
// run's), and the medians over all their memory samples.
func summarize(e *ExecutorResult, bareCPU float64) {
	var cpu, runs float64
	var mem []memSample
	for _, b := range e.Bursts {
		cpu += b.TreeCPUSeconds
		runs += b.AnsibleRuns
		mem = append(mem, b.memory...)
	}
	e.CPUPerRunSeconds = perUnit(cpu, runs)
	e.CPUPerRunToBare = perUnit(e.CPUPerRunSeconds, bareCPU)
	m := medianMemory(mem)
	e.RunPSSBytes, e.RunRSSBytes, e.MemorySamples = m.RunPSS, m.RunRSS, m.Samples
	e.ServerPSSBytes, e.ServerRSSBytes = m.ServerPSS, m.ServerRSS
}

// add records one start of a warm server.
func (w *WarmServer) add(ready, cpu float64, mem rollup) {
	w.ReadySeconds = append(w.ReadySeconds, ready)
	w.CPUSeconds = append(w.CPUSeconds, cpu)
	w.pss, w.rss = append(w.pss, float64(mem.PSS)), append(w.rss, float64(mem.RSS))
	w.MedianReadySeconds, w.MedianCPUSeconds = medianOf(w.ReadySeconds), medianOf(w.CPUSeconds)
	w.PSSBytes, w.RSSBytes = int64(medianOf(w.pss)), int64(medianOf(w.rss))
}
