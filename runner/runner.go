package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mcrouter-operator/mcrouter-operator/runner/internal/warm"
)

// Runner runs Ansible for custom resources. It is safe for concurrent use.
type Runner struct {
	opts       Options
	runnerPath string // resolved ansible-runner executable
	owner      owner  // this process, named in the marker of every run
	locks      dirLocks
	artifacts  *artifactStore
	warm       *warm.Executor // started on first use, or by New when Options.Executor is warm
	prestarted chan struct{}  // closed when New's prestart of warm returned
}

// New checks the options and that ansible-runner, ansible-playbook and the
// Python interpreter are installed, and creates Options.RootDir.
func New(opts Options) (*Runner, error) {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("runner options: %w", err)
	}
	env := runEnv(os.Environ(), opts.Env, "", "")
	path := lookupEnv(env, "PATH")
	runnerPath, err := lookPath(opts.RunnerPath, path)
	if err != nil {
		return nil, fmt.Errorf("%w; install the Debian package python3-ansible-runner", err)
	}
	if _, err := lookPath("ansible-playbook", path); err != nil {
		return nil, fmt.Errorf("%w; install the Debian package ansible", err)
	}
	if filepath.IsAbs(opts.PythonPath) {
		if _, err := lookPath(opts.PythonPath, path); err != nil {
			return nil, fmt.Errorf("ansible python interpreter: %w; install the Debian package python3", err)
		}
	}
	if err := ensureRootDir(opts.RootDir, os.Geteuid()); err != nil {
		return nil, err
	}
	if opts.Env, err = collectionsPathEnv(opts); err != nil {
		return nil, err
	}
	if n := reapOrphans(opts.RootDir); n > 0 {
		opts.Log.Info("killed Ansible runs left behind by an earlier operator process", "runs", n)
	}
	artifacts := newArtifactStore(opts.MaxArtifactBytes, opts.MaxTotalArtifactBytes)
	if err := artifacts.load(opts.RootDir); err != nil {
		opts.Log.Error(err, "could not bring the artifacts of earlier runs under their byte caps")
	}
	r := &Runner{opts: opts, runnerPath: runnerPath, owner: selfOwner(), artifacts: artifacts,
		prestarted: make(chan struct{})}
	if r.warm, err = r.newWarm(); err != nil {
		return nil, err
	}
	if opts.Executor == ExecutorWarm {
		go func() {
			defer close(r.prestarted)
			_ = r.warm.Prestart(context.Background()) // logged; runs fall back until it starts
		}()
	} else {
		close(r.prestarted)
	}
	return r, nil
}

// newWarm prepares the warm executor: its server runs with the environment
// ansible-runner gets, under its own marker (so that New of a later
// operator kills it if this one dies), and keeps its own temp files in
// <RootDir>/.warm.
func (r *Runner) newWarm() (*warm.Executor, error) {
	dir := filepath.Join(r.opts.RootDir, warmDir)
	marker := newMarker(r.owner, dir)
	tmp := filepath.Join(dir, tmpDir)
	env := append(runEnv(withoutMarkers(os.Environ()), r.opts.Env, "", tmp), marker.env()...)
	return warm.New(warm.Options{Python: r.opts.PythonPath, Dir: dir, TempDir: tmp, Env: env,
		MaxRuns: r.opts.WarmMaxRuns, Log: r.opts.Log})
}

// warmDir, under the root dir, holds the warm executor's script and temp
// files. Its leading dot keeps it apart from group names.
const warmDir = ".warm"

// Close stops the warm executor, killing runs it still has; call it once
// no Run is in progress.
func (r *Runner) Close() {
	<-r.prestarted
	r.warm.Close()
}

// lookPath finds an executable like exec.LookPath, but in the given PATH
// list, the one ansible-runner will see.
func lookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		if st, err := os.Stat(name); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("%s not found or not executable", name)
		}
		return name, nil
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH %q", name, path)
}

// Run runs the role or playbook of opts for obj and returns what the run
// produced. The error is non-nil when the run did not reach its
// playbook_on_stats event; it then wraps ErrTimeout, ErrCanceled or
// ErrIncomplete and names the task that was running, and the Result (non-nil
// whenever ansible-runner started) carries what was seen. A failed task is not
// an error: see Result.Failures. A resource whose keys are refused (see
// ExtraVars) gets a *SpecError before anything is written or started.
//
// The logger in ctx (logr.FromContext) receives the run's log lines with the
// key job; without one, Options.Log is used with namespace and name added.
func (r *Runner) Run(ctx context.Context, obj *unstructured.Unstructured, opts RunOptions) (*Result, error) {
	if obj == nil {
		return nil, errors.New("run: no object")
	}
	gvk := obj.GroupVersionKind()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("run %s %s: %w", gvk.Kind, objectName(obj), err)
	}
	dir, err := InputDir(r.opts.RootDir, gvk, obj.GetNamespace(), obj.GetName())
	if err != nil {
		return nil, fmt.Errorf("run %s %s: %w", gvk.Kind, objectName(obj), err)
	}
	extraVars, err := ExtraVars(obj, opts)
	if err != nil {
		return nil, fmt.Errorf("extra vars: %w", err)
	}
	ident := opts.Ident
	if ident == "" {
		ident = newIdent()
	}
	log := r.runLogger(ctx, obj).WithValues("job", ident)

	unlock, err := r.locks.lock(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("%w before the run of %s %s started: %w", ErrCanceled, gvk.Kind, objectName(obj), err)
	}
	defer unlock()
	r.artifacts.begin(dir)
	defer r.artifacts.end(dir)
	defer func() {
		// However the run ended: a failing resource retried with backoff
		// must not grow the disk run after run.
		if err := r.artifacts.afterRun(dir, filepath.Join(dir, artifactsDir, ident), opts.DiscardArtifacts); err != nil {
			log.Error(err, "could not bring the artifacts under their byte caps")
		}
	}()

	files := inputFiles{extraVars: extraVars, kubeconfig: opts.Kubeconfig,
		ansibleArgs: r.opts.AnsibleArgs, python: r.opts.PythonPath}
	if err := files.write(dir); err != nil {
		return nil, err
	}
	tmp := runTemp{dir: filepath.Join(dir, tmpDir), shared: filepath.Join(r.opts.RootDir, sharedCacheDir)}
	if err := tmp.prepare(log); err != nil {
		return nil, fmt.Errorf("run %s %s: %w", gvk.Kind, objectName(obj), err)
	}
	defer func() {
		if err := tmp.finish(); err != nil {
			log.Error(err, "could not clean up the temp dir of the run")
		}
	}()
	res, err := r.process(dir, ident, opts, log).execute(ctx)
	if res != nil && opts.DiscardArtifacts {
		res.ArtifactDir = "" // deleted when Run returns
	}
	return res, err
}

// process prepares the ansible-runner process of one run.
func (r *Runner) process(dir, ident string, opts RunOptions, log logr.Logger) *process {
	kubeconfig := ""
	if opts.Kubeconfig != nil {
		kubeconfig = filepath.Join(dir, kubeconfigFile)
	}
	marker := newMarker(r.owner, dir)
	env := append(runEnv(withoutMarkers(os.Environ()), r.opts.Env, kubeconfig, filepath.Join(dir, tmpDir)),
		marker.env()...)
	events := eventLogger{log: log, mode: r.opts.LogEvents, verbosity: opts.Verbosity}
	executor := opts.Executor
	if executor == "" {
		executor = r.opts.Executor
	}
	var forks *warm.Executor
	if executor == ExecutorWarm {
		forks = r.warm
	}
	return &process{
		path: r.runnerPath, dir: dir, env: env, marker: marker, log: log, warm: forks,
		args:             commandArgs(dir, ident, opts, env),
		timeout:          r.opts.Timeout,
		maxArtifactBytes: r.opts.MaxArtifactBytes,
		col:              newCollector(ident, filepath.Join(dir, artifactsDir, ident), events),
	}
}

// Remove deletes the input directory and artifacts of one resource. It
// waits for a run of that resource in progress to end.
func (r *Runner) Remove(gvk schema.GroupVersionKind, namespace, name string) error {
	dir, err := InputDir(r.opts.RootDir, gvk, namespace, name)
	if err != nil {
		return fmt.Errorf("remove input dir of %s %s/%s: %w", gvk.Kind, namespace, name, err)
	}
	unlock, err := r.locks.lock(context.Background(), dir)
	if err != nil {
		return err
	}
	defer unlock()
	r.artifacts.begin(dir)
	defer r.artifacts.end(dir)
	defer r.artifacts.forget(dir)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove input dir of %s %s/%s: %w", gvk.Kind, namespace, name, err)
	}
	return nil
}

func (r *Runner) runLogger(ctx context.Context, obj *unstructured.Unstructured) logr.Logger {
	if log, err := logr.FromContext(ctx); err == nil {
		return log
	}
	return r.opts.Log.WithValues("namespace", obj.GetNamespace(), "name", obj.GetName())
}

// newIdent returns a job ident that sorts by start time and is unique.
func newIdent() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return time.Now().UTC().Format("20060102T150405.000000Z") + "-" + hex.EncodeToString(b[:])
}
