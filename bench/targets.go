package main

import (
	"fmt"
	"math"

	"github.com/mcrouter-operator/mcrouter-operator/runner"
)

// The figures that have targets, as Target.Figure names them.
const (
	coldTarget    = "cold first CR → Successful (median)"
	specTarget    = "spec change → Successful (median)"
	burst20Target = "burst of 20: wall / floor"
	rss50Target   = "operator Go RSS after the 50-CR burst"
	cpuTarget     = "CPU per Ansible run (all bursts) / bare run CPU"
	pssTarget     = "PSS per run in flight (all bursts)"
	restartTarget = "Ansible runs after an operator restart"
	idleTarget    = "idle cost vs Ansible every period"
	memoryTarget  = "operator RSS per CR at 1,000 CRs"
)

// memoryTargetCRs is the number of CRs memoryTarget is measured at: with
// fewer, the operator's fixed costs (the dependents' informers, the heap's
// own growth) weigh on each CR.
const memoryTargetCRs = 1000

// runsTarget names the target of the Ansible runs per CR of a burst.
func runsTarget(n int) string { return fmt.Sprintf("burst of %d: Ansible runs per created CR", n) }

// allExecutors are the values of the operator's --ansible-executor, in the
// order the phases run them by default.
func allExecutors() []string {
	return []string{string(runner.ExecutorRunner), string(runner.ExecutorWarm)}
}

// limits are the targets of the figures that depend on the executor: the
// runner executor's are issue 8's, the warm executor's are set against the
// bare run. A zero limit is no target.
type limits struct {
	ColdFirstCR float64                      // s
	SpecChange  func(floor1 float64) float64 // s
	Burst20     float64                      // × floor(20)
	CPUPerRun   float64                      // × the bare run's CPU time
	RunPSSMB    float64                      // MB per run in flight
}

func limitsOf(executor string) limits {
	if executor == string(runner.ExecutorWarm) {
		return limits{ColdFirstCR: 0.8, SpecChange: func(float64) float64 { return 0.6 }, Burst20: 0.35, CPUPerRun: 0.25, RunPSSMB: 80}
	}
	return limits{ColdFirstCR: 2.0, SpecChange: func(floor1 float64) float64 { return floor1 + 0.5 }, Burst20: 1.3}
}

// targets checks the figures of r against their targets (README.md): those
// of every executor, measured or not, then those of the phases that ran
// once.
func targets(r *Report) []Target {
	floor1 := floorSeconds(1, r.Bare.MedianSeconds, r.Machine.CPUs)
	var out []Target
	for _, name := range allExecutors() {
		e, ran := findExecutor(r.Executors, name)
		out = append(out, executorTargets(e, ran, name, limitsOf(name), floor1)...)
	}
	if r.Restart != nil {
		out = append(out, check(restartTarget, r.Restart.AnsibleRuns, "==", 0, "runs", true))
	} else {
		out = append(out, check(restartTarget, 0, "==", 0, "runs", false))
	}
	if r.Idle != nil {
		out = append(out, check(idleTarget, r.Idle.Percent, "<=", 5, "%", true))
	} else {
		out = append(out, check(idleTarget, 0, "<=", 5, "%", false))
	}
	p, measured := r.Memory.at(memoryTargetCRs)
	out = append(out, check(memoryTarget, p.RSSPerCRBytes/kilobytes, "<=", 40, "KB", measured))
	return append(out, shardingTargets(r.Sharding)...)
}

// executorTargets checks the figures of one executor; ran is false when
// its phases did not run (every target n/a).
func executorTargets(e ExecutorResult, ran bool, name string, lim limits, floor1 float64) []Target {
	l := e.Latency
	b20, has20 := findBurst(e.Bursts, 20)
	b50, has50 := findBurst(e.Bursts, 50)
	out := []Target{
		check(coldTarget, l.ColdFirstCRSeconds, "<=", lim.ColdFirstCR, "s", ran && len(l.ColdFirstCRSamples) > 0),
		check(specTarget, l.SpecChangeMedianSeconds, "<=", lim.SpecChange(floor1), "s", ran && len(l.SpecChangeSeconds) > 0),
		check(burst20Target, b20.RatioToFloor, "<=", lim.Burst20, "×", ran && has20),
		check(rss50Target, float64(b50.OperatorRSSBytes)/megabytes, "<=", 45, "MB", ran && has50),
	}
	for _, b := range e.Bursts {
		out = append(out, check(runsTarget(b.N), b.RunsPerCR, "==", 1.0, "", true))
	}
	if lim.CPUPerRun > 0 {
		out = append(out, check(cpuTarget, e.CPUPerRunToBare, "<=", lim.CPUPerRun, "× bare CPU", ran && e.CPUPerRunSeconds > 0))
	}
	if lim.RunPSSMB > 0 {
		out = append(out, check(pssTarget, float64(e.RunPSSBytes)/megabytes, "<=", lim.RunPSSMB, "MB", ran && e.MemorySamples > 0))
	}
	for i := range out {
		out[i].Executor = name
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
	t.Result = map[bool]string{true: "met", false: "missed"}[ok]
	return t
}

func findExecutor(es []ExecutorResult, name string) (ExecutorResult, bool) {
	for _, e := range es {
		if e.Executor == name {
			return e, true
		}
	}
	return ExecutorResult{}, false
}

func findBurst(bs []Burst, n int) (Burst, bool) {
	for _, b := range bs {
		if b.N == n {
			return b, true
		}
	}
	return Burst{}, false
}
