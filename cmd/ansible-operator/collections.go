package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/mcrouter-operator/mcrouter-operator/watches"
)

// Environment variables of the collections path, as Ansible reads them:
// ANSIBLE_COLLECTIONS_PATH wins over its older spelling.
const (
	envCollectionsPath    = "ANSIBLE_COLLECTIONS_PATH"
	envCollectionsPathOld = "ANSIBLE_COLLECTIONS_PATHS"
)

// collectionsPath is the collections search path of every run, ahead of the
// built-in collections that the runner puts last:
//
//  1. --ansible-collections-path, else ANSIBLE_COLLECTIONS_PATH, else
//     ANSIBLE_COLLECTIONS_PATHS;
//  2. collections/ beside the watches file, when it is a directory (as
//     ansible-playbook finds collections/ beside a playbook);
//  3. when step 1 found nothing, Ansible's default: $ANSIBLE_HOME/collections
//     (~/.ansible/collections) and /usr/share/ansible/collections.
//
// Entries are resolved as Ansible resolves them, "~" and $VAR expanded and
// relative ones joined to the working directory, since a run works in a
// directory of its own. A path set in an ansible.cfg is not read: the runs'
// ANSIBLE_COLLECTIONS_PATH replaces it.
func collectionsPath(flagValue, watchesFile, workDir string, lookupEnv func(string) (string, bool)) []string {
	explicit := flagValue
	for _, name := range []string{envCollectionsPath, envCollectionsPathOld} {
		if v, ok := lookupEnv(name); ok && explicit == "" {
			explicit = v
		}
	}
	var out []string
	add := func(p string) {
		p = resolvePath(p, workDir, lookupEnv)
		for _, have := range out {
			if have == p {
				return
			}
		}
		out = append(out, p)
	}
	for _, p := range watches.SplitPath(explicit) {
		add(p)
	}
	beside := filepath.Join(filepath.Dir(resolvePath(watchesFile, workDir, lookupEnv)), "collections")
	if st, err := os.Stat(beside); err == nil && st.IsDir() {
		add(beside)
	}
	if explicit == "" {
		home, ok := lookupEnv("ANSIBLE_HOME")
		if !ok || home == "" {
			home = "~/.ansible"
		}
		add(filepath.Join(home, "collections"))
		add("/usr/share/ansible/collections")
	}
	return out
}

// resolvePath expands $VAR and a leading "~" and makes p absolute against
// workDir.
func resolvePath(p, workDir string, lookupEnv func(string) (string, bool)) string {
	p = os.Expand(p, func(name string) string {
		v, _ := lookupEnv(name)
		return v
	})
	if p == "~" || strings.HasPrefix(p, "~/") {
		home, _ := lookupEnv("HOME")
		p = home + p[1:]
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(workDir, p)
	}
	return filepath.Clean(p)
}
