package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/mcrouter-operator/mcrouter-operator/runner/internal/warm"
	"github.com/mcrouter-operator/mcrouter-operator/watches"
)

// DefaultTimeout is the default of the --run-timeout flag.
const DefaultTimeout = 10 * time.Minute

// Byte caps of the artifacts (flags --max-runner-artifacts-bytes and
// --max-total-runner-artifacts-bytes). The shipped Deployment gives /tmp,
// which holds the runner dir, a 1 GiB emptyDir: the total cap takes a quarter
// of it, and even with 8 runs in progress each writing up to the
// per-resource cap before their rotation (416 MiB) the rest leaves room for
// the runs' temp files and Ansible's own files under HOME=/tmp.
const (
	DefaultMaxArtifactBytes      int64 = 20 << 20
	DefaultMaxTotalArtifactBytes int64 = 256 << 20
	// MinArtifactBytes is the smallest cap accepted: a run of an empty
	// playbook takes about 40 KiB of disk.
	MinArtifactBytes int64 = 1 << 20
)

// LogEvents selects which Ansible events a run logs (flag --ansible-log-events).
type LogEvents string

// LogEvents values, named as upstream's flag values.
const (
	// LogTasks logs one line per task start and result and the PLAY RECAP;
	// Ansible's own output goes to V(1).
	LogTasks LogEvents = "Tasks"
	// LogEverything also logs Ansible's own output at the default level.
	LogEverything LogEvents = "Everything"
	// LogNothing logs nothing about the run's events.
	LogNothing LogEvents = "Nothing"
)

// ParseLogEvents parses a --ansible-log-events value, in any case.
func ParseLogEvents(s string) (LogEvents, error) {
	for _, v := range []LogEvents{LogTasks, LogEverything, LogNothing} {
		if strings.EqualFold(s, string(v)) {
			return v, nil
		}
	}
	return "", LogEvents(s).validate()
}

func (l LogEvents) validate() error {
	if l != LogTasks && l != LogEverything && l != LogNothing {
		return fmt.Errorf("ansible log events %q: want one of %s, %s, %s", l, LogTasks, LogEverything, LogNothing)
	}
	return nil
}

// Executor names how a run starts ansible-runner (flag --ansible-executor,
// watches.yaml key ansibleExecutor).
type Executor string

// Executor values.
const (
	// ExecutorRunner execs ansible-runner for every run, which execs
	// ansible-playbook, which execs a python3 per module: the reference.
	ExecutorRunner Executor = watches.ExecutorRunner
	// ExecutorWarm forks ansible-runner, the playbook and the Python
	// modules of local tasks from a warm Python process (package
	// runner/internal/warm); what it cannot run warm runs the ordinary way.
	ExecutorWarm Executor = watches.ExecutorWarm
)

// ParseExecutor parses an --ansible-executor value.
func ParseExecutor(s string) (Executor, error) {
	if err := Executor(s).validate(); err != nil {
		return "", err
	}
	return Executor(s), nil
}

func (e Executor) validate() error {
	if e != ExecutorRunner && e != ExecutorWarm {
		return fmt.Errorf("ansible executor %q: want %s or %s", e, ExecutorRunner, ExecutorWarm)
	}
	return nil
}

// DefaultRootDir is where the runs' directories live unless Options.RootDir
// (flag --runner-dir) says otherwise.
func DefaultRootDir() string { return filepath.Join(os.TempDir(), "ansible-operator", "runner") }

// Options configure a Runner; they apply to every run of the process.
type Options struct {
	// RootDir holds the per-resource input directories (flag --runner-dir).
	// New creates it and the missing dirs above it with mode 0700, and refuses
	// a RootDir that is a symlink, is not owned by this process's uid or is
	// writable by group or others, and one with a dir above it owned by
	// another uid (other than root), so that no other user can plant files
	// the runs would execute. Default: DefaultRootDir().
	RootDir string
	// AnsibleArgs are extra ansible-playbook arguments (flag --ansible-args),
	// written to env/cmdline. Default: "".
	AnsibleArgs string
	// Timeout bounds each run (flag --run-timeout, whose default is
	// DefaultTimeout). Required: zero or negative is invalid, there is no
	// unlimited run.
	Timeout time.Duration
	// RunnerPath is the ansible-runner executable, a path or a name looked up
	// in PATH. Default: "ansible-runner".
	RunnerPath string
	// PythonPath is the ansible_python_interpreter written to the inventory.
	// Default: /usr/bin/python3.
	PythonPath string
	// Env is extra environment for ansible-runner, "KEY=value" entries that
	// override the process environment (ANSIBLE_ROLES_PATH,
	// ANSIBLE_COLLECTIONS_PATH, ANSIBLE_GATHERING…). Default: none.
	Env []string
	// CollectionsPath is the runs' collections search path
	// (ANSIBLE_COLLECTIONS_PATH), searched in order, ahead of Collections.
	// Give absolute paths: a run works in its own directory. Default: none;
	// with neither CollectionsPath nor Collections, the environment decides.
	CollectionsPath []string
	// Collections is a tree ansible_collections/<namespace>/<name>/… that
	// every run finds after CollectionsPath, so that any other copy of a
	// collection it holds wins. New writes it to
	// <RootDir>/.collections/<digest of its files>, replacing what differs
	// there. Default: none.
	Collections fs.FS
	// MaxArtifactBytes caps the disk space of one resource's artifacts
	// (<input dir>/artifacts; flag --max-runner-artifacts-bytes). After each
	// run, however it ended, its oldest artifact dirs are deleted until the
	// rest fits; the run's own artifacts are kept, cut down to the cap (oldest
	// events first) when they alone pass it. A run whose event stream passes
	// half of it (ansible-runner keeps the stream twice: job_events and
	// stdout) is killed and fails with ErrOutputLimit. This also bounds the
	// events Run keeps in memory. Default: DefaultMaxArtifactBytes; at least
	// MinArtifactBytes.
	MaxArtifactBytes int64
	// MaxTotalArtifactBytes caps the disk space of the artifacts of all
	// resources under RootDir (flag --max-total-runner-artifacts-bytes):
	// after each run, and when New finds artifacts of an earlier process,
	// runs are deleted oldest first (each resource's newest run last) until
	// the rest fits, leaving alone the resources with a run in progress.
	// Default: DefaultMaxTotalArtifactBytes, or MaxArtifactBytes when that is
	// larger; at least MaxArtifactBytes.
	MaxTotalArtifactBytes int64
	// LogEvents selects what a run logs. Default: LogTasks.
	LogEvents LogEvents
	// Executor is how runs start ansible-runner unless RunOptions.Executor
	// says otherwise. Default: ExecutorRunner.
	Executor Executor
	// WarmMaxRuns is how many runs the warm executor's server forks before
	// a fresh server replaces it (the runs in flight finish on the old one).
	// Default: 500 (the warm package's DefaultMaxRuns).
	WarmMaxRuns int
	// Log receives the run logs when the ctx given to Run carries no logger.
	// Default: the zero Logger, which discards.
	Log logr.Logger
}

func (o *Options) setDefaults() {
	if o.RootDir == "" {
		o.RootDir = DefaultRootDir()
	}
	if o.RunnerPath == "" {
		o.RunnerPath = "ansible-runner"
	}
	if o.PythonPath == "" {
		o.PythonPath = "/usr/bin/python3"
	}
	if o.LogEvents == "" {
		o.LogEvents = LogTasks
	}
	if o.Executor == "" {
		o.Executor = ExecutorRunner
	}
	if o.WarmMaxRuns == 0 {
		o.WarmMaxRuns = warm.DefaultMaxRuns
	}
	if o.MaxArtifactBytes == 0 {
		o.MaxArtifactBytes = DefaultMaxArtifactBytes
	}
	if o.MaxTotalArtifactBytes == 0 {
		o.MaxTotalArtifactBytes = max(DefaultMaxTotalArtifactBytes, o.MaxArtifactBytes)
	}
}

// Validate checks the options after defaults are applied.
func (o *Options) Validate() error {
	var errs []error
	if o.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("run timeout must be positive, got %s (the flag default is %s)",
			o.Timeout, DefaultTimeout))
	}
	if err := o.LogEvents.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := o.Executor.validate(); err != nil {
		errs = append(errs, err)
	}
	if o.WarmMaxRuns < 0 {
		errs = append(errs, fmt.Errorf("warm executor max runs %d must not be negative", o.WarmMaxRuns))
	}
	if o.MaxArtifactBytes < MinArtifactBytes {
		errs = append(errs, fmt.Errorf("per-resource artifact cap %d bytes is below the minimum of %d (1 MiB)",
			o.MaxArtifactBytes, MinArtifactBytes))
	}
	if o.MaxTotalArtifactBytes < o.MaxArtifactBytes {
		errs = append(errs, fmt.Errorf("total artifact cap %d bytes is below the per-resource cap of %d bytes",
			o.MaxTotalArtifactBytes, o.MaxArtifactBytes))
	}
	if !filepath.IsAbs(o.RootDir) {
		errs = append(errs, fmt.Errorf("runner root dir %q must be an absolute path", o.RootDir))
	}
	if strings.ContainsAny(o.PythonPath, " \t\n\"'") {
		errs = append(errs, fmt.Errorf("python path %q must not contain spaces or quotes", o.PythonPath))
	}
	for i, kv := range o.Env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			errs = append(errs, fmt.Errorf("runner env entry %d %q: want KEY=value", i, kv))
		}
		if k == collectionsEnv && (o.CollectionsPath != nil || o.Collections != nil) {
			errs = append(errs, fmt.Errorf("runner env entry %d sets %s, which the collections options set; use those", i, k))
		}
	}
	for _, p := range o.CollectionsPath {
		if p == "" || strings.Contains(p, ":") {
			errs = append(errs, fmt.Errorf("collections path entry %q: want a directory without ':'", p))
		}
	}
	return errors.Join(errs...)
}

// RunOptions configure one run.
type RunOptions struct {
	// Role is the absolute path of the role directory to run; exactly one of
	// Role and Playbook is set.
	Role string
	// Playbook is the absolute path of the playbook to run.
	Playbook string
	// Vars are merged last into the extra vars: the watch's vars, plus the
	// finalizer's vars in a finalizer run (the caller merges those).
	Vars map[string]any
	// SnakeCaseParameters converts the spec keys to snake_case.
	SnakeCaseParameters bool
	// MarkUnsafe marks every string of the spec and the object unsafe, so
	// Ansible never templates them.
	MarkUnsafe bool
	// Kubeconfig is written to the input dir with mode 0600 and named by
	// K8S_AUTH_KUBECONFIG and KUBECONFIG. Default: none (the inherited
	// environment decides).
	Kubeconfig []byte
	// Verbosity is the Ansible verbosity, 0 to watches.MaxAnsibleVerbosity
	// (-v…-vvvvvvv). Default: 0.
	Verbosity int
	// MaxArtifacts is the number of artifact directories kept
	// (--rotate-artifacts); 0 keeps all, as in ansible-runner. Default: 0.
	MaxArtifacts int
	// DiscardArtifacts deletes the resource's artifact directories, this
	// run's included, when the run ends (watches.yaml maxRunnerArtifacts: 0):
	// the Result is read from ansible-runner's stdout either way. Default:
	// false.
	DiscardArtifacts bool
	// Executor overrides Options.Executor for this run. Default: "", the
	// Options' executor.
	Executor Executor
	// Ident names the ansible-runner job and its artifact directory: letters,
	// digits, ".", "_" and "-". Default: generated from the time and random
	// bytes.
	Ident string
}

func (o *RunOptions) validate() error {
	var errs []error
	switch {
	case o.Role == "" && o.Playbook == "":
		errs = append(errs, errors.New("one of role and playbook is required"))
	case o.Role != "" && o.Playbook != "":
		errs = append(errs, fmt.Errorf("role %q and playbook %q are both set; set one", o.Role, o.Playbook))
	}
	for _, p := range []struct{ what, path string }{{"role", o.Role}, {"playbook", o.Playbook}} {
		if p.path == "" {
			continue
		}
		if !filepath.IsAbs(p.path) {
			errs = append(errs, fmt.Errorf("%s %q must be an absolute path", p.what, p.path))
			continue
		}
		st, err := os.Stat(p.path)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", p.what, err))
		case p.what == "role" && !st.IsDir():
			errs = append(errs, fmt.Errorf("role %s is not a directory", p.path))
		case p.what == "playbook" && st.IsDir():
			errs = append(errs, fmt.Errorf("playbook %s is a directory", p.path))
		}
	}
	if o.Verbosity < 0 || o.Verbosity > watches.MaxAnsibleVerbosity {
		errs = append(errs, fmt.Errorf("verbosity %d out of range 0–%d", o.Verbosity, watches.MaxAnsibleVerbosity))
	}
	if o.MaxArtifacts < 0 {
		errs = append(errs, fmt.Errorf("max artifacts %d must not be negative", o.MaxArtifacts))
	}
	if o.Executor != "" {
		if err := o.Executor.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if o.Ident != "" && !validIdent(o.Ident) {
		errs = append(errs, fmt.Errorf("ident %q: use letters, digits, '.', '_' and '-', not starting with '.'", o.Ident))
	}
	return errors.Join(errs...)
}

func validIdent(s string) bool {
	if s == "" || s[0] == '.' || len(s) > 128 {
		return false
	}
	for _, c := range s {
		ok := c == '.' || c == '_' || c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !ok {
			return false
		}
	}
	return true
}
