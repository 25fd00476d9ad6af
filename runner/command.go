package runner

import (
	"path/filepath"
	"strconv"
	"strings"
)

// commandArgs returns the ansible-runner arguments of one run. env is the
// run's full environment; ANSIBLE_GATHERING=explicit there adds
// --role-skip-facts, since ansible-runner's generated role play ignores it.
func commandArgs(dir, ident string, opts RunOptions, env []string) []string {
	args := []string{"run", dir, "-j",
		"--rotate-artifacts", strconv.Itoa(opts.MaxArtifacts),
		"-i", ident,
	}
	if opts.Playbook != "" {
		args = append(args, "-p", opts.Playbook)
	} else {
		role := filepath.Clean(opts.Role)
		args = append(args,
			"--role", filepath.Base(role),
			"--roles-path", filepath.Dir(role),
			"--hosts", "localhost")
		if lookupEnv(env, "ANSIBLE_GATHERING") == "explicit" {
			args = append(args, "--role-skip-facts")
		}
	}
	if opts.Verbosity > 0 {
		args = append(args, "-"+strings.Repeat("v", opts.Verbosity))
	}
	return args
}

// runEnv is the environment of ansible-runner: the process environment, the
// per-run temp dir, then Options.Env, then the per-run kubeconfig.
//
// tmp, when set, holds every temporary file of the run: Python's (TMPDIR,
// where modules unpack) and Ansible's local and remote temp dirs, which
// otherwise default to ~/.ansible/tmp. Ansible removes them itself only when
// it exits normally; a killed run would leave them behind in the image
// forever, so Run removes tmp after every run instead.
func runEnv(base, extra []string, kubeconfig, tmp string) []string {
	env := make([]string, 0, len(base)+len(extra)+5)
	env = append(env, base...)
	if tmp != "" {
		env = append(env, "TMPDIR="+tmp,
			"ANSIBLE_LOCAL_TEMP="+filepath.Join(tmp, "local"),
			"ANSIBLE_REMOTE_TEMP="+filepath.Join(tmp, "remote"))
	}
	env = append(env, extra...)
	if kubeconfig != "" {
		env = append(env, "K8S_AUTH_KUBECONFIG="+kubeconfig, "KUBECONFIG="+kubeconfig)
	}
	return env
}

// lookupEnv returns the value of the last key= entry of env, as exec does.
func lookupEnv(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}
