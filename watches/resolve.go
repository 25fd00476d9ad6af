package watches

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Environment variables read during resolution.
const (
	envRolesPath       = "ANSIBLE_ROLES_PATH"
	envCollectionsPath = "ANSIBLE_COLLECTIONS_PATH"
)

// MaxConcurrentReconcilesEnv is the variable that overrides MaxConcurrentReconciles for gvk, spelled as upstream:
// "MAX_CONCURRENT_RECONCILES_" + kind + "_" + group, upper-cased, dots turned into underscores (dashes stay).
func MaxConcurrentReconcilesEnv(gvk schema.GroupVersionKind) string {
	return kindEnv("MAX_CONCURRENT_RECONCILES", gvk)
}

// WorkerEnv is the deprecated spelling of MaxConcurrentReconcilesEnv, read only when that one is unset.
func WorkerEnv(gvk schema.GroupVersionKind) string { return kindEnv("WORKER", gvk) }

// AnsibleVerbosityEnv is the variable that overrides AnsibleVerbosity for gvk ("ANSIBLE_VERBOSITY_<KIND>_<GROUP>").
func AnsibleVerbosityEnv(gvk schema.GroupVersionKind) string {
	return kindEnv("ANSIBLE_VERBOSITY", gvk)
}

func kindEnv(prefix string, gvk schema.GroupVersionKind) string {
	return strings.ToUpper(strings.ReplaceAll(prefix+"_"+gvk.Kind+"_"+gvk.Group, ".", "_"))
}

// resolveEntry completes one entry with what depends on the disk, the environment and the Options.
func resolveEntry(e Entry, opts Options) (Watch, error) {
	w := e.Watch
	fail := func(key string, err error) (Watch, error) {
		return Watch{}, &fieldErr{key: key, line: e.Line, err: err}
	}
	dir := filepath.Dir(e.File)
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(opts.WorkDir, dir)
	}
	find := pathFinder{opts: opts, watchesDir: dir}
	var err error
	if w.Role, err = find.role(w.Role); err != nil {
		return fail("role", err)
	}
	if w.Playbook, err = find.playbook(w.Playbook); err != nil {
		return fail("playbook", err)
	}
	if e.Finalizer != nil {
		f := *e.Finalizer
		if f.Role, err = find.role(f.Role); err != nil {
			return fail("finalizer.role", err)
		}
		if f.Playbook, err = find.playbook(f.Playbook); err != nil {
			return fail("finalizer.playbook", err)
		}
		w.Finalizer = &f
	}
	if !e.ReconcilePeriodSet {
		w.ReconcilePeriod = opts.ReconcilePeriod
	}
	if w.MaxConcurrentReconciles, err = maxConcurrentReconciles(w.GroupVersionKind, opts); err != nil {
		return fail("", err)
	}
	if w.AnsibleVerbosity, err = ansibleVerbosity(w.GroupVersionKind, opts); err != nil {
		return fail("", err)
	}
	return w, nil
}

// maxConcurrentReconciles reads MAX_CONCURRENT_RECONCILES_<KIND>_<GROUP>, else the deprecated WORKER_<KIND>_<GROUP>,
// else the Options value. Upstream falls back to the default on a value it cannot use; that hides the mistake,
// so here it is an error.
func maxConcurrentReconciles(gvk schema.GroupVersionKind, opts Options) (int, error) {
	for _, name := range []string{MaxConcurrentReconcilesEnv(gvk), WorkerEnv(gvk)} {
		v, ok := opts.LookupEnv(name)
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 {
			return 0, fmt.Errorf("environment variable %s=%q: want an integer of at least 1", name, v)
		}
		return n, nil
	}
	return opts.MaxConcurrentReconciles, nil
}

// ansibleVerbosity reads ANSIBLE_VERBOSITY_<KIND>_<GROUP>, else the Options value.
func ansibleVerbosity(gvk schema.GroupVersionKind, opts Options) (int, error) {
	name := AnsibleVerbosityEnv(gvk)
	v, ok := opts.LookupEnv(name)
	if !ok {
		return opts.AnsibleVerbosity, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 || n > MaxAnsibleVerbosity {
		return 0, fmt.Errorf("environment variable %s=%q: want an integer from 0 to %d", name, v, MaxAnsibleVerbosity)
	}
	return n, nil
}

// pathFinder locates roles and playbooks the way ansible-operator does.
type pathFinder struct {
	opts       Options
	watchesDir string // absolute directory of the watches file
}

// role returns the absolute directory of a role ("" for ""), trying in order: the path itself when absolute;
// for "namespace.collection.role", <collections path>/ansible_collections/<namespace>/<collection>/roles/<role>;
// for every roles path entry <p>, <p>/<role> and <p>/roles/<role>; and <work dir>/roles/<role>.
func (f pathFinder) role(role string) (string, error) {
	if role == "" {
		return "", nil
	}
	candidates := f.roleCandidates(role)
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && st.IsDir() {
			return c, nil
		}
	}
	return "", fmt.Errorf("role %q not found; searched %s; set %s (or --ansible-roles-path) to the directory that holds it",
		role, strings.Join(candidates, ", "), envRolesPath)
}

func (f pathFinder) roleCandidates(role string) []string {
	if filepath.IsAbs(role) {
		return []string{filepath.Clean(role)}
	}
	var out []string
	if parts := strings.Split(role, "."); len(parts) == 3 {
		for _, p := range f.opts.CollectionsPath {
			// Ansible accepts a collections path given either as the parent of ansible_collections or as it.
			if filepath.Base(p) != "ansible_collections" {
				p = filepath.Join(p, "ansible_collections")
			}
			out = append(out, f.abs(filepath.Join(p, parts[0], parts[1], "roles", parts[2])))
		}
	}
	for _, p := range f.opts.RolesPath {
		out = append(out, f.abs(filepath.Join(p, role)), f.abs(filepath.Join(p, "roles", role)))
	}
	return append(out, filepath.Join(f.opts.WorkDir, "roles", role))
}

// playbook returns the absolute path of a playbook ("" for ""): as given when absolute, else relative to the
// watches file's directory, else relative to the work dir.
func (f pathFinder) playbook(playbook string) (string, error) {
	if playbook == "" {
		return "", nil
	}
	candidates := []string{filepath.Clean(playbook)}
	if !filepath.IsAbs(playbook) {
		candidates = []string{filepath.Join(f.watchesDir, playbook)}
		if alt := filepath.Join(f.opts.WorkDir, playbook); alt != candidates[0] {
			candidates = append(candidates, alt)
		}
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() {
			return c, nil
		}
	}
	return "", fmt.Errorf("playbook %q not found; searched %s", playbook, strings.Join(candidates, ", "))
}

func (f pathFinder) abs(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(f.opts.WorkDir, p)
}

// splitPathList reads a ":"-separated list of directories from the environment; nil when unset or empty.
func splitPathList(lookup func(string) (string, bool), name string) []string {
	v, ok := lookup(name)
	if !ok {
		return nil
	}
	return SplitPath(v)
}

// SplitPath splits a colon-separated search path (ANSIBLE_ROLES_PATH and
// the like), dropping empty entries.
func SplitPath(v string) []string {
	var out []string
	for _, p := range filepath.SplitList(v) {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}
