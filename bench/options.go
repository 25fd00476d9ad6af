package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mcrouter-operator/mcrouter-operator/runner"
)

// Options configure one benchmark run. Zero values take the defaults named
// on each field; Quick replaces the defaults of the fields not set explicitly
// with small ones (see applyQuick).
type Options struct {
	// Root is the repository root (watches.yaml, roles/, deploy/crds).
	// Default: the directory of the enclosing go.mod.
	Root string
	// Bursts are the sizes of the bursts of CRs created at once; each runs on
	// a fresh operator in a fresh namespace. Default: 10, 20, 50.
	Bursts []int
	// Executors are the operator's --ansible-executor values the latency
	// and burst phases run with, each phase once per executor; the restart
	// and idle phases run on the first. Default: runner, warm.
	Executors []string
	// IdleCRs is the number of CRs of the idle-cost phase. Default: 100.
	IdleCRs int
	// SkipIdle leaves the idle-cost phase out (the flag -idle-crs 0).
	// Default: false.
	SkipIdle bool
	// RestartCRs is the number of CRs of the restart phase. Default: 20.
	RestartCRs int
	// SkipRestart leaves the restart phase out (the flag -restart-crs 0).
	// Default: false.
	SkipRestart bool
	// MemoryCRs are the numbers of Mcrouters, ascending, at which the
	// memory phase reads the operator's memory. Default: 100, 1000.
	MemoryCRs []int
	// SkipMemory leaves the memory phase out (the flag -memory-crs 0).
	// Default: false.
	SkipMemory bool
	// IdleWindow is how long the idle CPU cost is measured. Default: 90s.
	IdleWindow time.Duration
	// IdlePeriod is the reconcile-period annotation of the idle CRs.
	// Default: 30s.
	IdlePeriod time.Duration
	// Repeat is the number of samples of the spec-change and
	// dependent-restore latencies (the median is reported). Default: 3.
	Repeat int
	// BareRuns is the number of measured bare role runs (after one warm-up
	// run). Default: 3.
	BareRuns int
	// OutDir receives the JSON result; relative to Root. Default:
	// bench/results.
	OutDir string
	// Operator is the ansible-operator binary. Default: built from
	// cmd/ansible-operator into a temporary directory.
	Operator string
	// Quick marks a smoke run: its JSON file name ends in -quick.
	Quick bool
	// OperatorArgs are more flags for every operator started, e.g.
	// --zap-log-level debug. Default: none.
	OperatorArgs []string
	// ShardCRs is the number of CRs of the sharding phase (sharding.go); 0
	// leaves it out. Default: 60 (the flag's default; -quick: 12).
	ShardCRs int
	// Keep leaves the operator logs and the last metrics scrape of each
	// phase in the log directory, also on success. Default: false (they are
	// kept only when the run fails).
	Keep bool
}

// fullDefaults are the settings of a full run.
func fullDefaults() Options {
	return Options{Bursts: []int{10, 20, 50}, Executors: allExecutors(), IdleCRs: 100, RestartCRs: 20, MemoryCRs: []int{100, 1000},
		IdleWindow: 90 * time.Second, Repeat: 3, BareRuns: 3}
}

// quickDefaults are the settings of a smoke run (-quick).
func quickDefaults() Options {
	return Options{Bursts: []int{3, 6}, IdleCRs: 6, RestartCRs: 4, MemoryCRs: []int{5, 20}, IdleWindow: 20 * time.Second, Repeat: 1, BareRuns: 2}
}

// applyQuick replaces the options whose flags were not set with the quick
// defaults. set holds the names of the flags given on the command line.
func (o *Options) applyQuick(set map[string]bool) {
	if !o.Quick {
		return
	}
	q := quickDefaults()
	if !set["bursts"] {
		o.Bursts = q.Bursts
	}
	if !set["idle-crs"] {
		o.IdleCRs = q.IdleCRs
	}
	if !set["restart-crs"] {
		o.RestartCRs = q.RestartCRs
	}
	if !set["idle-window"] {
		o.IdleWindow = q.IdleWindow
	}
	if !set["memory-crs"] {
		o.MemoryCRs = q.MemoryCRs
	}
	if !set["repeat"] {
		o.Repeat = q.Repeat
	}
	if !set["bare-runs"] {
		o.BareRuns = q.BareRuns
	}
}

func (o *Options) setDefaults() {
	d := fullDefaults()
	if o.Bursts == nil {
		o.Bursts = d.Bursts
	}
	if o.Executors == nil {
		o.Executors = d.Executors
	}
	if o.IdleCRs == 0 && !o.SkipIdle {
		o.IdleCRs = d.IdleCRs
	}
	if o.RestartCRs == 0 && !o.SkipRestart {
		o.RestartCRs = d.RestartCRs
	}
	if o.MemoryCRs == nil && !o.SkipMemory {
		o.MemoryCRs = d.MemoryCRs
	}
	if o.IdleWindow == 0 {
		o.IdleWindow = d.IdleWindow
	}
	if o.IdlePeriod == 0 {
		o.IdlePeriod = 30 * time.Second
	}
	if o.Repeat == 0 {
		o.Repeat = d.Repeat
	}
	if o.BareRuns == 0 {
		o.BareRuns = d.BareRuns
	}
	if o.OutDir == "" {
		o.OutDir = filepath.Join("bench", "results")
	}
	if !filepath.IsAbs(o.OutDir) && o.Root != "" {
		o.OutDir = filepath.Join(o.Root, o.OutDir)
	}
}

// Validate reports every bad option, naming its flag.
func (o *Options) Validate() error {
	var errs []error
	if o.Root == "" {
		errs = append(errs, errors.New("repository root unknown; run from inside the repository"))
	}
	if len(o.Bursts) == 0 {
		errs = append(errs, errors.New("-bursts: need at least one burst size"))
	}
	for _, n := range o.Bursts {
		if n < 1 || n > 500 {
			errs = append(errs, fmt.Errorf("-bursts: size %d out of range 1..500", n))
		}
	}
	if !o.SkipIdle && (o.IdleCRs < 1 || o.IdleCRs > 1000) {
		errs = append(errs, fmt.Errorf("-idle-crs: %d out of range 0..1000 (0 skips the idle phase)", o.IdleCRs))
	}
	if !o.SkipRestart && (o.RestartCRs < 1 || o.RestartCRs > 500) {
		errs = append(errs, fmt.Errorf("-restart-crs: %d out of range 0..500 (0 skips the restart phase)", o.RestartCRs))
	}
	errs = append(errs, o.validateMemoryCRs()...)
	errs = append(errs, o.validateExecutors()...)
	errs = append(errs, o.validateSharding())
	if o.IdleWindow < 5*time.Second {
		errs = append(errs, fmt.Errorf("-idle-window: %s is shorter than 5s", o.IdleWindow))
	}
	if o.IdlePeriod < time.Second {
		errs = append(errs, fmt.Errorf("idle reconcile period %s is shorter than 1s", o.IdlePeriod))
	}
	if o.Repeat < 1 || o.Repeat > 20 {
		errs = append(errs, fmt.Errorf("-repeat: %d out of range 1..20", o.Repeat))
	}
	if o.BareRuns < 1 || o.BareRuns > 20 {
		errs = append(errs, fmt.Errorf("-bare-runs: %d out of range 1..20", o.BareRuns))
	}
	return errors.Join(errs...)
}

// maxMemoryCRs bounds -memory-crs: the local control plane's Service range
// (a /16, see internal/devcluster) and the time a run takes.
const maxMemoryCRs = 5000

func (o *Options) validateMemoryCRs() []error {
	if o.SkipMemory {
		return nil
	}
	var errs []error
	if len(o.MemoryCRs) == 0 {
		errs = append(errs, errors.New("-memory-crs: need at least one number of CRs (0 skips the memory phase)"))
	}
	for i, n := range o.MemoryCRs {
		if n < 1 || n > maxMemoryCRs {
			errs = append(errs, fmt.Errorf("-memory-crs: %d out of range 1..%d", n, maxMemoryCRs))
		}
		if i > 0 && n <= o.MemoryCRs[i-1] {
			errs = append(errs, fmt.Errorf("-memory-crs: %d after %d; give them in ascending order", n, o.MemoryCRs[i-1]))
		}
	}
	return errs
}

// MemoryExecutor is the executor of the memory phase: warm when the run
// has it (a thousand runs of the runner executor take half an hour on two
// CPUs), else the first. What a CR costs the operator to hold does not
// depend on how its runs start.
func (o *Options) MemoryExecutor() string {
	if slices.Contains(o.Executors, string(runner.ExecutorWarm)) {
		return string(runner.ExecutorWarm)
	}
	return o.SingleExecutor()
}

// validateExecutors checks -executors, and that -operator-args leaves the
// executor to it.
func (o *Options) validateExecutors() []error {
	var errs []error
	if len(o.Executors) == 0 {
		errs = append(errs, errors.New("-executors: need at least one executor"))
	}
	for i, e := range o.Executors {
		if _, err := runner.ParseExecutor(e); err != nil {
			errs = append(errs, fmt.Errorf("-executors: %w", err))
		}
		if slices.Contains(o.Executors[:i], e) {
			errs = append(errs, fmt.Errorf("-executors: %s given twice", e))
		}
	}
	for _, a := range o.OperatorArgs {
		if a == "--ansible-executor" || strings.HasPrefix(a, "--ansible-executor=") {
			errs = append(errs, errors.New("-operator-args: --ansible-executor is set by the benchmark; use -executors"))
		}
	}
	return errs
}

// SingleExecutor is the executor of the phases that run once.
func (o *Options) SingleExecutor() string {
	if len(o.Executors) == 0 {
		return string(runner.ExecutorRunner)
	}
	return o.Executors[0]
}

// parseList splits a comma-separated flag value, leaving out empty items.
func parseList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseSizes parses the comma-separated numbers of flag name, such as
// "10,20,50".
func parseSizes(name, s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("-%s: %q is not a number", name, f)
		}
		out = append(out, n)
	}
	return out, nil
}
