package watches

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Defaults of watches.yaml keys and of the flags that feed Options.
const (
	// DefaultReconcilePeriod is the --reconcile-period flag's default.
	DefaultReconcilePeriod = 10 * time.Hour
	// DefaultAnsibleVerbosity is the --ansible-verbosity flag's default.
	DefaultAnsibleVerbosity = 2
	// DefaultMaxRunnerArtifacts applies when an entry has no maxRunnerArtifacts.
	DefaultMaxRunnerArtifacts = 20
	// MaxAnsibleVerbosity is the highest verbosity Ansible understands (-vvvvvvv).
	MaxAnsibleVerbosity = 7
)

// The values of the ansibleExecutor key and the --ansible-executor flag;
// runner.Executor says what each does.
const (
	ExecutorRunner = "runner"
	ExecutorWarm   = "warm"
)

// Watch is one validated, defaulted, resolved entry of watches.yaml.
type Watch struct {
	GroupVersionKind schema.GroupVersionKind
	Role             string         // absolute path of the role directory; "" when Playbook is set
	Playbook         string         // absolute path of the playbook; "" when Role is set
	Vars             map[string]any // `vars`, passed as extra vars (merged last)

	ReconcilePeriod             time.Duration // `reconcilePeriod`; 0 = no periodic requeue; unset → Options.ReconcilePeriod
	ManageStatus                bool          // `manageStatus`, default true
	WatchDependentResources     bool          // `watchDependentResources`, default true
	WatchClusterScopedResources bool          // `watchClusterScopedResources`, default false
	WatchAnnotationsChanges     bool          // `watchAnnotationsChanges`, default false
	SnakeCaseParameters         bool          // `snakeCaseParameters`, default true
	MarkUnsafe                  bool          // `markUnsafe`, default true (upstream: false): CR input is never templated
	MaxRunnerArtifacts          int           // `maxRunnerArtifacts`, default 20; 0 keeps none (upstream: all)
	// MaxConcurrentReconciles comes from MAX_CONCURRENT_RECONCILES_<KIND>_<GROUP> (or the deprecated
	// WORKER_<KIND>_<GROUP>), else Options.MaxConcurrentReconciles.
	MaxConcurrentReconciles int
	// AnsibleVerbosity comes from ANSIBLE_VERBOSITY_<KIND>_<GROUP> (0..7), else Options.AnsibleVerbosity.
	AnsibleVerbosity int
	// SkipUnchangedResync is this runtime's own key `skipUnchangedResync` (default false): a periodic resync that
	// finds the resource and its dependents unchanged since the last successful run does not start Ansible.
	SkipUnchangedResync bool
	// PruneDependents is this runtime's own key `pruneDependents` (default false): after a successful run, the
	// dependents earlier runs of the resource created and this run no longer touched are deleted (see the
	// controller package).
	PruneDependents bool
	// AnsibleExecutor is this runtime's own key `ansibleExecutor`: "runner" or "warm" (see the runner package);
	// "" (absent) leaves it to the --ansible-executor flag.
	AnsibleExecutor string

	Finalizer     *Finalizer                // `finalizer`; nil when not configured
	Blacklist     []schema.GroupVersionKind // `blacklist`: dependent kinds never watched
	Selector      labels.Selector           // `selector` as a selector; labels.Everything() when absent
	LabelSelector metav1.LabelSelector      // `selector` as written
	Source        string                    // "<file>#<index> (<GVK>)", for messages
}

// Finalizer is the `finalizer` key of an entry.
type Finalizer struct {
	Name     string         // the finalizer added to every watched resource
	Role     string         // absolute path; "" if none
	Playbook string         // absolute path; "" if none
	Vars     map[string]any // extra vars of finalizer runs only
	// With neither Role nor Playbook, the watch's own role or playbook runs with Vars (upstream behaviour).
}

// Options configures Load and Resolve. The zero value is usable; fields the caller takes from flags are used as
// given, because zero is meaningful for them.
type Options struct {
	// ReconcilePeriod applies to entries without reconcilePeriod. Used as given (no default here): 0 means no
	// periodic requeue. The --reconcile-period flag defaults to DefaultReconcilePeriod (10h).
	ReconcilePeriod time.Duration
	// MaxConcurrentReconciles applies to kinds without an environment override. Default 1 when 0.
	MaxConcurrentReconciles int
	// AnsibleVerbosity (0..7) applies to kinds without an environment override. Used as given (0 is quiet); the
	// --ansible-verbosity flag defaults to DefaultAnsibleVerbosity (2).
	AnsibleVerbosity int
	// RolesPath is searched for roles named by a relative path. Default: ANSIBLE_ROLES_PATH split on ":"
	// (the --ansible-roles-path flag, when given, is passed here and wins over the environment).
	RolesPath []string
	// CollectionsPath is searched for roles named "namespace.collection.role". Default: ANSIBLE_COLLECTIONS_PATH
	// split on ":", else /usr/share/ansible/collections and $HOME/.ansible/collections.
	CollectionsPath []string
	// WorkDir anchors relative paths (the watches file's path given to Load, roles and collections path entries)
	// and holds the last-resort roles/ directory. Default: the process's working directory.
	WorkDir string
	// LookupEnv reads environment variables: ${VAR} references, per-kind overrides, the path defaults above.
	// Default: os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

func (o *Options) setDefaults() error {
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	if o.MaxConcurrentReconciles == 0 {
		o.MaxConcurrentReconciles = 1
	}
	wd, err := filepath.Abs(o.WorkDir) // "" is the process's working directory
	if err != nil {
		return fmt.Errorf("watches: working directory: %w", err)
	}
	o.WorkDir = wd
	if o.RolesPath == nil {
		o.RolesPath = splitPathList(o.LookupEnv, envRolesPath)
	}
	if o.CollectionsPath == nil {
		o.CollectionsPath = splitPathList(o.LookupEnv, envCollectionsPath)
	}
	if len(o.CollectionsPath) == 0 {
		o.CollectionsPath = []string{"/usr/share/ansible/collections"}
		if home, ok := o.LookupEnv("HOME"); ok && home != "" {
			o.CollectionsPath = append(o.CollectionsPath, filepath.Join(home, ".ansible", "collections"))
		}
	}
	return nil
}

// Validate reports option values that cannot be used.
func (o *Options) Validate() error {
	var errs []error
	if o.ReconcilePeriod < 0 {
		errs = append(errs, fmt.Errorf("reconcile period %s is negative", o.ReconcilePeriod))
	}
	if o.MaxConcurrentReconciles < 0 {
		errs = append(errs, fmt.Errorf("max concurrent reconciles %d is negative", o.MaxConcurrentReconciles))
	}
	if o.AnsibleVerbosity < 0 || o.AnsibleVerbosity > MaxAnsibleVerbosity {
		errs = append(errs, fmt.Errorf("ansible verbosity %d is outside 0..%d", o.AnsibleVerbosity, MaxAnsibleVerbosity))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("watches options: %w", err)
	}
	return nil
}

// Load reads the watches file at path and returns its watches: environment references expanded, entries parsed
// strictly, roles and playbooks found on disk, per-kind environment overrides applied. Any problem is an *Error
// naming the file, the entry and the key.
func Load(path string, opts Options) ([]Watch, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	file := path
	if !filepath.IsAbs(file) {
		file = filepath.Join(opts.WorkDir, file)
	}
	data, err := readFile(file, path)
	if err != nil {
		return nil, err
	}
	entries, err := Parse(strings.NewReader(expandEnv(string(data), opts.LookupEnv)), path)
	if err != nil {
		return nil, err
	}
	return resolve(entries, opts)
}

// readFile reads the watches file at file, named source in messages, up to MaxFileSize bytes.
func readFile(file, source string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("read watches file: %w", err)
	}
	defer f.Close()
	return readLimited(f, source)
}

// Resolve turns parsed entries into watches: it finds roles and playbooks on disk, applies the per-kind
// environment overrides and the Options defaults. It does not expand ${VAR} references: Load does that before
// parsing.
func Resolve(entries []Entry, opts Options) ([]Watch, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return resolve(entries, opts)
}

func resolve(entries []Entry, opts Options) ([]Watch, error) {
	out := make([]Watch, 0, len(entries))
	for _, e := range entries {
		w, err := resolveEntry(e, opts)
		if err != nil {
			var fe *fieldErr
			if errors.As(err, &fe) {
				return nil, &Error{File: e.File, Line: fe.line, Index: e.Index, GVK: e.GroupVersionKind, Key: fe.key, Err: fe.err}
			}
			return nil, &Error{File: e.File, Index: e.Index, GVK: e.GroupVersionKind, Err: err}
		}
		out = append(out, w)
	}
	return out, nil
}
