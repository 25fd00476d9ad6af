package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// kubeconfigFile is the per-run kubeconfig inside the input dir.
const kubeconfigFile = "kubeconfig"

// InputDir returns the input directory of one resource:
// <root>/<group>/<version>/<kind>/<namespace>/<name>. The error names the
// element that cannot be a path element.
func InputDir(root string, gvk schema.GroupVersionKind, namespace, name string) (string, error) {
	elems := []struct{ what, value string }{
		{"group", gvk.Group}, {"version", gvk.Version}, {"kind", gvk.Kind},
		{"namespace", namespace}, {"name", name},
	}
	parts := []string{root}
	for _, e := range elems {
		if e.value == "" && (e.what == "group" || e.what == "namespace") {
			continue // core group, cluster-scoped resource
		}
		if e.value == "" || e.value == "." || e.value == ".." || strings.ContainsAny(e.value, "/\x00") {
			return "", fmt.Errorf("%s %q cannot name a directory", e.what, e.value)
		}
		parts = append(parts, e.value)
	}
	return filepath.Join(parts...), nil
}

// inputFiles is what one run writes to its input dir.
type inputFiles struct {
	extraVars   map[string]any
	kubeconfig  []byte
	ansibleArgs string
	python      string
}

// write prepares dir for one run. Stale optional files from an earlier run
// (cmdline, kubeconfig) are removed so they never leak into this one.
func (f inputFiles) write(dir string) error {
	for _, sub := range []string{"env", "inventory"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return fmt.Errorf("create input dir: %w", err)
		}
	}
	extra, err := json.Marshal(f.extraVars)
	if err != nil {
		return fmt.Errorf("encode extra vars for %s: %w", dir, err)
	}
	envvars := map[string]string{}
	kubeconfigPath := filepath.Join(dir, kubeconfigFile)
	if f.kubeconfig != nil {
		envvars["K8S_AUTH_KUBECONFIG"] = kubeconfigPath
		envvars["KUBECONFIG"] = kubeconfigPath
	}
	env, err := json.Marshal(envvars)
	if err != nil {
		return fmt.Errorf("encode envvars for %s: %w", dir, err)
	}
	hosts := fmt.Sprintf("localhost ansible_connection=local ansible_python_interpreter=%s\n", f.python)

	files := []struct {
		path string
		data []byte
	}{
		{filepath.Join(dir, "env", "extravars"), extra},
		{filepath.Join(dir, "env", "envvars"), env},
		{filepath.Join(dir, "inventory", "hosts"), []byte(hosts)},
		{filepath.Join(dir, "env", "cmdline"), optional(f.ansibleArgs != "", []byte(f.ansibleArgs))},
		{kubeconfigPath, optional(f.kubeconfig != nil, f.kubeconfig)},
	}
	for _, file := range files {
		if file.data == nil {
			if err := os.Remove(file.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove stale %s: %w", file.path, err)
			}
			continue
		}
		if err := writeFileAtomic(file.path, file.data); err != nil {
			return err
		}
	}
	return nil
}

func optional(present bool, data []byte) []byte {
	if !present {
		return nil
	}
	if data == nil {
		return []byte{}
	}
	return data
}

// writeFileAtomic replaces path with data, mode 0600, so that a reader sees
// either the old or the new content, never a mix.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
