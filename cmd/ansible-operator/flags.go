package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/mcrouter-operator/mcrouter-operator/controller"
	"github.com/mcrouter-operator/mcrouter-operator/internal/cpuquota"
	"github.com/mcrouter-operator/mcrouter-operator/internal/usermetrics"
	"github.com/mcrouter-operator/mcrouter-operator/runner"
	"github.com/mcrouter-operator/mcrouter-operator/watches"
)

// flags are `ansible-operator run`'s flags: upstream's names and defaults,
// plus ours (--run-timeout, --kubeconfig, --runner-dir, --max-concurrent-runs,
// --max-runner-artifacts-bytes, --max-total-runner-artifacts-bytes,
// --log-format).
type flags struct {
	WatchesFile             string
	ReconcilePeriod         time.Duration
	MaxConcurrentReconciles int
	MaxConcurrentRuns       int
	AnsibleVerbosity        int
	AnsibleArgs             string
	AnsibleRolesPath        string
	AnsibleCollectionsPath  string
	AnsibleLogEvents        string
	AnsibleExecutor         string
	InjectOwnerRef          bool
	ProxyPort               int
	MetricsBindAddress      string
	UserMetricsBindAddress  string
	ProbeBindAddress        string
	PprofBindAddress        string
	LeaderElect             bool
	LeaderElectionID        string
	LeaderElectionNamespace string
	LeaseDuration           time.Duration
	RenewDeadline           time.Duration
	RetryPeriod             time.Duration
	Sharding                bool
	ShardLeasePrefix        string
	GracefulShutdownTimeout time.Duration
	RunTimeout              time.Duration
	RunnerDir               string
	MinReconcilePeriod      time.Duration
	MaxVerbosityAnnotation  int
	MaxArtifactsAnnotation  int
	MaxArtifactBytes        byteSize
	MaxTotalArtifactBytes   byteSize
	Kubeconfig              string
	LogFormat               string
	Zap                     zap.Options
	// ZapEncoder is --zap-encoder as given, lower-cased; "" when not given.
	ZapEncoder string

	// Parsed by validate: --ansible-log-events and --ansible-executor.
	logEvents runner.LogEvents
	executor  runner.Executor
}

func (f *flags) bind(fs *pflag.FlagSet) {
	cpus := cpuquota.CPUs()
	fs.StringVar(&f.WatchesFile, "watches-file", "./watches.yaml", "path to the watches file")
	fs.DurationVar(&f.ReconcilePeriod, "reconcile-period", watches.DefaultReconcilePeriod, "default reconcile period of a watch without reconcilePeriod")
	fs.IntVar(&f.MaxConcurrentReconciles, "max-concurrent-reconciles", cpus,
		"maximum concurrent reconciles per watch; the default is the cgroup CPU quota")
	fs.IntVar(&f.MaxConcurrentRuns, "max-concurrent-runs", cpus,
		"maximum concurrent Ansible runs across all watches; the default is the cgroup CPU quota")
	fs.IntVar(&f.AnsibleVerbosity, "ansible-verbosity", watches.DefaultAnsibleVerbosity, fmt.Sprintf("Ansible verbosity (0-%d); ANSIBLE_VERBOSITY_<KIND>_<GROUP> overrides it per watch", watches.MaxAnsibleVerbosity))
	fs.StringVar(&f.AnsibleArgs, "ansible-args", "", "extra arguments for ansible-playbook, written to env/cmdline")
	fs.StringVar(&f.AnsibleRolesPath, "ansible-roles-path", "", "roles search path; overrides ANSIBLE_ROLES_PATH")
	fs.StringVar(&f.AnsibleCollectionsPath, "ansible-collections-path", "",
		"collections search path, ahead of collections/ beside the watches file and the built-in operator_sdk.util; overrides ANSIBLE_COLLECTIONS_PATH")
	fs.StringVar(&f.AnsibleLogEvents, "ansible-log-events", "tasks", "which Ansible events to log: tasks, everything or nothing")
	fs.StringVar(&f.AnsibleExecutor, "ansible-executor", string(runner.ExecutorRunner),
		"how runs start Ansible: runner (exec ansible-runner for each run) or warm (fork it from a warm Python process); "+
			"watches.yaml key ansibleExecutor overrides it per watch")
	fs.BoolVar(&f.InjectOwnerRef, "inject-owner-ref", true, "inject owner references into objects the roles create")
	fs.IntVar(&f.ProxyPort, "proxy-port", 8888, "loopback port of the Kubernetes API proxy the roles use (0 picks a free port)")
	fs.StringVar(&f.MetricsBindAddress, "metrics-bind-address", ":8080", `metrics endpoint address ("0" disables)`)
	fs.StringVar(&f.UserMetricsBindAddress, "user-metrics-bind-address", usermetrics.DefaultAddr,
		`loopback address where roles' osdk_metric tasks publish metrics, served on /metrics ("0" disables)`)
	fs.StringVar(&f.ProbeBindAddress, "health-probe-bind-address", ":6789", "health probe endpoint address (/healthz, /readyz)")
	fs.StringVar(&f.PprofBindAddress, "pprof-bind-address", "", `address serving net/http/pprof ("" disables)`)
	fs.BoolVar(&f.LeaderElect, "leader-elect", false, "elect a leader so only one replica reconciles")
	fs.StringVar(&f.LeaderElectionID, "leader-election-id", "", "name of the leader election Lease (default: derived from the first watch)")
	fs.StringVar(&f.LeaderElectionNamespace, "leader-election-namespace", "",
		"namespace of the leader election Lease (default: the pod's namespace, else the first WATCH_NAMESPACE)")
	fs.DurationVar(&f.LeaseDuration, "leader-elect-lease-duration", 15*time.Second, "how long non-leaders wait before taking over leadership")
	fs.DurationVar(&f.RenewDeadline, "leader-elect-renew-deadline", 10*time.Second, "how long the leader retries renewing before giving up")
	fs.DurationVar(&f.RetryPeriod, "leader-elect-retry-period", 2*time.Second,
		"how often leader election, and with --sharding each replica's Lease, is renewed and the others read")
	fs.BoolVar(&f.Sharding, "sharding", false,
		"spread the watched resources over all replicas (each holds a Lease; identity: POD_NAME, else the host name); "+
			"excludes --leader-elect")
	fs.StringVar(&f.ShardLeasePrefix, "shard-lease-prefix", "",
		"name prefix of the replicas' Leases with --sharding (default: the leader election id and \"-shard-\")")
	fs.DurationVar(&f.GracefulShutdownTimeout, "graceful-shutdown-timeout", 30*time.Second,
		"how long to wait for running reconciles (which are cancelled) to end at shutdown")
	fs.DurationVar(&f.RunTimeout, "run-timeout", runner.DefaultTimeout, "kill an Ansible run after this long")
	fs.StringVar(&f.RunnerDir, "runner-dir", runner.DefaultRootDir(), "where ansible-runner input and artifacts live")
	fs.DurationVar(&f.MinReconcilePeriod, "min-reconcile-period", controller.DefaultMinReconcilePeriod,
		"shortest period a resource's reconcile-period annotation may ask for")
	fs.IntVar(&f.MaxVerbosityAnnotation, "max-verbosity-annotation", controller.DefaultMaxVerbosityAnnotation,
		fmt.Sprintf("highest Ansible verbosity a resource's verbosity annotation may ask for (0-%d)", watches.MaxAnsibleVerbosity))
	fs.IntVar(&f.MaxArtifactsAnnotation, "max-artifacts-annotation", controller.DefaultMaxArtifactsAnnotation,
		"most runs' artifacts a resource's max-runner-artifacts annotation may ask to keep")
	f.MaxArtifactBytes = byteSize(runner.DefaultMaxArtifactBytes)
	fs.Var(&f.MaxArtifactBytes, "max-runner-artifacts-bytes",
		"disk space the artifacts of one resource may take (bytes or a quantity such as 20Mi); a run whose output passes half of it is killed")
	f.MaxTotalArtifactBytes = byteSize(runner.DefaultMaxTotalArtifactBytes)
	fs.Var(&f.MaxTotalArtifactBytes, "max-total-runner-artifacts-bytes",
		"disk space the artifacts of all resources under --runner-dir may take (bytes or a quantity such as 256Mi)")
	fs.StringVar(&f.Kubeconfig, "kubeconfig", "", "kubeconfig to use (default: KUBECONFIG, ~/.kube/config, or in-cluster)")
	fs.StringVar(&f.LogFormat, "log-format", logFormatAuto,
		"log format: json, text (the runs' tasks as ansible-playbook prints them) or auto (text on a terminal, else json; "+
			"--zap-encoder or --zap-devel decide when given)")
	gofs := flag.NewFlagSet("zap", flag.ContinueOnError)
	f.Zap.BindFlags(gofs)
	fs.AddGoFlagSet(gofs)
}

// readZapFlags records the upstream zap flags that --log-format=auto defers
// to, once fs is parsed.
func (f *flags) readZapFlags(fs *pflag.FlagSet) {
	if fl := fs.Lookup("zap-encoder"); fl != nil && fl.Changed {
		f.ZapEncoder = strings.ToLower(fl.Value.String())
	}
}

func (f *flags) validate() error {
	var errs []error
	if f.MaxConcurrentReconciles < 1 {
		errs = append(errs, fmt.Errorf("--max-concurrent-reconciles must be at least 1, got %d", f.MaxConcurrentReconciles))
	}
	if f.MaxConcurrentRuns < 1 {
		errs = append(errs, fmt.Errorf("--max-concurrent-runs must be at least 1, got %d", f.MaxConcurrentRuns))
	}
	if f.AnsibleVerbosity < 0 || f.AnsibleVerbosity > watches.MaxAnsibleVerbosity {
		errs = append(errs, fmt.Errorf("--ansible-verbosity must be 0-%d, got %d", watches.MaxAnsibleVerbosity, f.AnsibleVerbosity))
	}
	if f.ProxyPort < 0 || f.ProxyPort > 65535 {
		errs = append(errs, fmt.Errorf("--proxy-port must be 0-65535, got %d", f.ProxyPort))
	}
	if f.UserMetricsBindAddress != "0" {
		if err := usermetrics.ValidateAddr(f.UserMetricsBindAddress); err != nil {
			errs = append(errs, fmt.Errorf("--user-metrics-bind-address: %w", err))
		}
	}
	if f.RunTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--run-timeout must be positive, got %s", f.RunTimeout))
	}
	if f.ReconcilePeriod < 0 {
		errs = append(errs, fmt.Errorf("--reconcile-period must not be negative, got %s", f.ReconcilePeriod))
	}
	if f.MinReconcilePeriod < 0 {
		errs = append(errs, fmt.Errorf("--min-reconcile-period must not be negative, got %s", f.MinReconcilePeriod))
	}
	if f.MaxVerbosityAnnotation < 0 || f.MaxVerbosityAnnotation > watches.MaxAnsibleVerbosity {
		errs = append(errs, fmt.Errorf("--max-verbosity-annotation must be 0-%d, got %d", watches.MaxAnsibleVerbosity, f.MaxVerbosityAnnotation))
	}
	if f.MaxArtifactsAnnotation < 1 {
		errs = append(errs, fmt.Errorf("--max-artifacts-annotation must be at least 1, got %d", f.MaxArtifactsAnnotation))
	}
	if int64(f.MaxArtifactBytes) < runner.MinArtifactBytes {
		errs = append(errs, fmt.Errorf("--max-runner-artifacts-bytes must be at least %s, got %s",
			byteSize(runner.MinArtifactBytes), f.MaxArtifactBytes))
	}
	if f.MaxTotalArtifactBytes < f.MaxArtifactBytes {
		errs = append(errs, fmt.Errorf("--max-total-runner-artifacts-bytes (%s) must not be below --max-runner-artifacts-bytes (%s)",
			f.MaxTotalArtifactBytes, f.MaxArtifactBytes))
	}
	if f.Sharding && f.LeaderElect {
		errs = append(errs, errors.New("--sharding and --leader-elect exclude each other: with sharding every replica reconciles its share"))
	}
	if f.RetryPeriod <= 0 || f.RenewDeadline <= f.RetryPeriod || f.LeaseDuration <= f.RenewDeadline {
		errs = append(errs, fmt.Errorf("need 0 < --leader-elect-retry-period (%s) < --leader-elect-renew-deadline (%s) < --leader-elect-lease-duration (%s)",
			f.RetryPeriod, f.RenewDeadline, f.LeaseDuration))
	}
	var err error
	if f.logEvents, err = runner.ParseLogEvents(f.AnsibleLogEvents); err != nil {
		errs = append(errs, fmt.Errorf("--ansible-log-events: %w", err))
	}
	if f.executor, err = runner.ParseExecutor(f.AnsibleExecutor); err != nil {
		errs = append(errs, fmt.Errorf("--ansible-executor: %w", err))
	}
	if _, err := chooseLogFormat(f.LogFormat, f.ZapEncoder, f.Zap.Development, false); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// byteSize is a flag value in bytes, written as a number or a Kubernetes
// quantity ("20Mi", "1Gi", "500M").
type byteSize int64

func (b byteSize) String() string {
	return resource.NewQuantity(int64(b), resource.BinarySI).String()
}

func (b *byteSize) Set(s string) error {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return fmt.Errorf("%q is not a size such as 20Mi, 1Gi or 1048576", s)
	}
	v, ok := q.AsInt64()
	if !ok || v < 0 {
		return fmt.Errorf("%q is not a whole, non-negative number of bytes", s)
	}
	*b = byteSize(v)
	return nil
}

func (b *byteSize) Type() string { return "bytes" }

// watchNamespaces parses WATCH_NAMESPACE: empty means all namespaces.
func watchNamespaces(v string) []string {
	var out []string
	for _, ns := range strings.Split(v, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			out = append(out, ns)
		}
	}
	return out
}
