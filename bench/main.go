package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

func main() {
	opts, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, opts)
	interrupted := ctx.Err() != nil
	stop()
	if interrupted {
		fmt.Fprintln(os.Stderr, "bench: interrupted; everything it started is stopped")
		os.Exit(130)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: FAIL:", err)
		os.Exit(1)
	}
}

// parseFlags turns the command line into Options with defaults applied.
func parseFlags(args []string) (Options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	d := fullDefaults()
	var o Options
	bursts := fs.String("bursts", "10,20,50", "sizes of the bursts of CRs created at once, comma-separated")
	executorList := fs.String("executors", strings.Join(d.Executors, ","),
		"the operator's --ansible-executor values the latency and burst phases run with, comma-separated; restart and idle run on the first")
	fs.IntVar(&o.IdleCRs, "idle-crs", d.IdleCRs, "CRs of the idle-cost phase (0 skips it)")
	memoryCRs := fs.String("memory-crs", joinInts(d.MemoryCRs), "numbers of Mcrouters, ascending, at which the memory phase reads the operator's memory (0 skips it)")
	fs.IntVar(&o.RestartCRs, "restart-crs", d.RestartCRs, "unchanged CRs an operator restart finds (0 skips the restart phase)")
	fs.DurationVar(&o.IdleWindow, "idle-window", d.IdleWindow, "how long the idle CPU cost is measured (5m for a full run)")
	fs.IntVar(&o.Repeat, "repeat", d.Repeat, "samples of the spec-change and dependent-restore latencies")
	fs.IntVar(&o.BareRuns, "bare-runs", d.BareRuns, "measured bare role runs (after one warm-up run)")
	fs.StringVar(&o.OutDir, "out", filepath.Join("bench", "results"), "directory of the JSON result (relative to the repository root)")
	fs.StringVar(&o.Operator, "operator", "", "ansible-operator binary (default: build cmd/ansible-operator)")
	operatorArgs := fs.String("operator-args", "", "more flags for every operator started, space-separated (e.g. --zap-log-level=debug)")
	fs.IntVar(&o.ShardCRs, "shard-crs", shardCRsFull, "CRs of the sharding phase: 1 and 3 replicas with --sharding, a 4th joining, one killed (0 skips it)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the operator logs and metrics of every phase (printed path)")
	fs.BoolVar(&o.Quick, "quick", false, "smoke run: small bursts, few idle and restart CRs, a short window (explicit flags still win)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.Bursts, err = parseSizes("bursts", *bursts); err != nil {
		return o, err
	}
	if o.MemoryCRs, err = parseSizes("memory-crs", *memoryCRs); err != nil {
		return o, err
	}
	o.OperatorArgs = strings.Fields(*operatorArgs)
	o.Executors = parseList(*executorList)
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	o.applyQuick(set)
	o.applyShardQuick(set)
	o.SkipIdle = o.IdleCRs == 0
	o.SkipRestart = o.RestartCRs == 0
	o.SkipMemory = slices.Equal(o.MemoryCRs, []int{0})
	if o.SkipMemory {
		o.MemoryCRs = nil
	}
	if o.Root, err = optest.ModuleRoot(); err != nil {
		return o, fmt.Errorf("find the repository root: %w", err)
	}
	if o.Operator != "" {
		if o.Operator, err = filepath.Abs(o.Operator); err != nil {
			return o, err
		}
	}
	o.setDefaults()
	return o, o.Validate()
}

// run executes every phase, then prints and writes the report. Whatever it
// started is stopped before it returns, also when ctx is cancelled.
func run(ctx context.Context, opts Options) (err error) {
	tmp, err := os.MkdirTemp("", "bench-")
	if err != nil {
		return err
	}
	b := &bench{
		opts: opts, tmp: tmp, logDir: filepath.Join(os.TempDir(), "bench-logs-"+filepath.Base(tmp)),
		procRoot: "/proc", clkTck: clockTicks(ctx),
		log: func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
		},
	}
	defer b.teardown()
	if err := os.MkdirAll(b.logDir, 0o755); err != nil {
		return err
	}
	defer func() {
		if entries, _ := os.ReadDir(b.logDir); err != nil && ctx.Err() == nil && len(entries) > 0 {
			err = fmt.Errorf("%w\n(operator logs kept in %s)", err, b.logDir)
			return
		}
		if b.opts.Keep {
			b.log("operator logs and metrics kept in %s", b.logDir)
			return
		}
		_ = os.RemoveAll(b.logDir)
	}()
	b.report.Started = time.Now().UTC()
	if err := b.setup(ctx); err != nil {
		return err
	}
	if err := b.phases(ctx); err != nil {
		return err
	}
	return b.finish()
}

func (b *bench) phases(ctx context.Context) error {
	o := b.opts
	b.report.Quick = o.Quick
	b.report.Settings = Settings{
		Bursts:         o.Bursts,
		BurstIsolation: "each burst on a fresh operator in a fresh namespace; the previous namespace deleted first",
		IdleCRs:        o.IdleCRs, IdleWindowSeconds: o.IdleWindow.Seconds(), IdlePeriodSeconds: o.IdlePeriod.Seconds(),
		Repeat: o.Repeat, BareRuns: o.BareRuns,
		Executors: o.Executors, SingleExecutor: o.SingleExecutor(),
	}
	if !o.SkipRestart {
		b.report.Settings.RestartCRs = o.RestartCRs
	}
	if !o.SkipMemory {
		b.report.Settings.MemoryCRs = o.MemoryCRs
	}
	b.report.Machine = b.machineFacts(ctx)
	b.log("measuring the bare role run")
	if err := b.measureBare(ctx); err != nil {
		return err
	}
	b.log("bare role run: median %.2fs wall, %.2fs CPU", b.report.Bare.MedianSeconds, b.report.Bare.MedianCPUSeconds)
	if err := b.executorPhases(ctx); err != nil {
		return err
	}
	if !o.SkipRestart {
		b.log("restart: %d CRs, then a new operator on the same runner directory (%s executor)", o.RestartCRs, o.SingleExecutor())
		if err := b.measureRestart(ctx); err != nil {
			return err
		}
	}
	if err := b.measureSharding(ctx); err != nil {
		return err
	}
	if !o.SkipIdle {
		b.log("idle cost: %d CRs, reconcile period %s, window %s (%s executor)", o.IdleCRs, o.IdlePeriod, o.IdleWindow, o.SingleExecutor())
		if err := b.measureIdle(ctx); err != nil {
			return err
		}
	}
	if !o.SkipMemory {
		b.log("memory: the operator's memory at %s Mcrouters (%s executor)", joinInts(o.MemoryCRs), o.MemoryExecutor())
		return b.measureMemory(ctx)
	}
	return nil
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

// finish prints the table and writes the JSON file.
func (b *bench) finish() error {
	r := &b.report
	r.DurationSeconds = time.Since(r.Started).Seconds()
	r.Machine.LoadAvgAtEnd = loadAvg(readOr(filepath.Join(b.procRoot, "loadavg"), ""))
	r.Targets = targets(r)
	r.Warnings = warnings(r)
	if err := printTable(os.Stdout, r); err != nil {
		return err
	}
	path := resultPath(b.opts.OutDir, r.Started, r.Machine.CPUs, r.Quick)
	if err := writeJSON(path, r); err != nil {
		return err
	}
	fmt.Println("results:", strings.TrimPrefix(path, b.opts.Root+string(filepath.Separator)))
	return nil
}
