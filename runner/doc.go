// Package runner performs one Ansible run for one custom resource through
// ansible-runner and turns its event stream into a Result.
//
// It is the third step of watch event → controller → runner → proxy: the
// controller decides that a resource needs a run and calls Runner.Run with the
// object and the watch's settings; the role or playbook then talks to the API
// server through the proxy, using the per-run kubeconfig the controller passes
// in RunOptions.Kubeconfig.
//
// # Input directory
//
// Each resource has its own ansible-runner private data directory,
// <RootDir>/<group>/<version>/<kind>/<namespace>/<name>, holding:
//
//	env/extravars    the extra vars, JSON (layout below)
//	env/envvars      K8S_AUTH_KUBECONFIG and KUBECONFIG → ./kubeconfig (when given)
//	env/cmdline      Options.AnsibleArgs (when not empty)
//	inventory/hosts  localhost, ansible_connection=local, ansible_python_interpreter
//	kubeconfig       RunOptions.Kubeconfig, mode 0600
//	artifacts/<job>  written by ansible-runner, rotated to RunOptions.MaxArtifacts
//	                 and to the byte caps of Options (see below)
//	tmp              the run's TMPDIR, removed after the run
//
// New creates the root dir (and the dirs above it it has to create) with mode
// 0700 and refuses a root dir that another user owns or can write to, or a
// symlink: such a user could plant an inventory script that runs as the
// operator.
//
// # Artifacts
//
// ansible-runner keeps at most RunOptions.MaxArtifacts artifact dirs per
// resource; with RunOptions.DiscardArtifacts the resource's artifacts dir is
// deleted after each run instead. The Runner also caps them in bytes of disk (allocated blocks, as
// a size-limited emptyDir counts them): after every run, however it ended,
// the resource's oldest artifact dirs are deleted until the rest fits
// Options.MaxArtifactBytes, and the run's own artifacts, kept always, are cut
// down to it (stdout to its end, then the oldest job events) when they alone
// pass it; then the oldest artifact dirs of all resources are deleted (the
// newest of each resource last, never those of a resource whose run is in
// progress) until all fit Options.MaxTotalArtifactBytes. A run whose event
// stream passes half of MaxArtifactBytes (ansible-runner writes it twice,
// to job_events and to stdout) is killed and fails with ErrOutputLimit, which
// also bounds what Run holds in memory for it.
//
// Files are replaced atomically (write to a temporary file, then rename).
// Runs for the same resource are serialized by the Runner: a second Run for a
// resource waits (or gives up with its ctx) until the first one returns, so
// two runs never rewrite each other's input files mid-run. Runs for different
// resources proceed concurrently.
//
// # Extra vars
//
// env/extravars is a JSON object with, in this order (later keys replace
// earlier ones of the same name):
//
//	<spec keys>                       the spec, keys snake_cased when RunOptions.SnakeCaseParameters
//	ansible_operator_meta             {"name": ..., "namespace": ...}
//	meta                              the same, for roles written for the older SDK
//	_<group>_<kind>                   the whole object as stored without metadata.managedFields, group dots
//	                                  and dashes → "_", kind lower-cased
//	_<group>_<kind>_spec              the spec as stored (keys not converted)
//	<RunOptions.Vars>                 watch vars (and finalizer vars), merged last, never marked unsafe
//
// With RunOptions.MarkUnsafe every string in the converted spec, the object
// and the raw spec is written as {"__ansible_unsafe": "..."}; Ansible loads
// such a value as unsafe text that is never templated, so a spec value such as
// "{{ lookup('pipe', 'id') }}" reaches the role literally.
//
// # Refused keys
//
// Keys cannot be marked unsafe, and extra vars outrank every other variable,
// so ExtraVars refuses a resource, with a *SpecError and before anything is
// written or started, when:
//
//   - a top-level spec key becomes (after snake_case conversion, when on) an
//     ansible_* variable, a name starting with "_", meta, a variable Ansible
//     sets itself (hostvars, groups, inventory_hostname, omit, vars,
//     environment, …) or a plugin option variable without the ansible_
//     prefix (passwordstore, …), compared case-insensitively;
//   - a key anywhere in the object (spec, status, any other field; not
//     metadata.managedFields, which the vars leave out) holds a
//     Jinja marker "{{", "{%" or "{#", or is, or converts to, a tag of
//     Ansible's JSON loader ("__ansible_unsafe", "__ansible_vault");
//   - two keys of one spec map convert to the same snake_case name, or the
//     spec is not an object.
//
// Watch vars are trusted: one of the same name as a spec key replaces it, so
// an operator author can pin a variable that resources must not choose.
//
// # Events
//
// ansible-runner runs with -j and prints one JSON event per line on stdout.
// One goroutine per run reads those lines as they come (lines of any size up
// to 32 MiB; longer lines and lines that are not JSON are kept only in the
// output tail used for error messages) and builds the Result as it goes:
// stats and completion time from playbook_on_stats for localhost, failures
// from runner_on_failed and runner_on_unreachable, the requeue period from
// task results, and the ordered list of task results. Failures with
// ignore_errors are not failures. Rescued failures carry no mark in their
// event; since a host stops at its first failure that no rescue section
// handles, all but the last stats.failures[host] failed results of a host are
// counted as rescued once the stats arrive. Without stats, every failure is
// reported.
//
// A task result whose res has the key requeue_after with a Go duration string
// ("30s", "1m30s") asks for a requeue after that period; the last such task
// wins. For roles written for the upstream operator_sdk.util collection, the
// res.period of a task whose action is operator_sdk.util.requeue_after is
// read the same way. An invalid period is reported as a failure of that task.
//
// # Collections
//
// Options.Collections (the operator passes its built-in operator_sdk.util)
// is written once per process to <RootDir>/.collections/<digest>: a dir of
// that digest left by an earlier process is kept only when it holds exactly
// those files. Every run gets ANSIBLE_COLLECTIONS_PATH set to
// Options.CollectionsPath followed by that dir, so a collection of the same
// name anywhere on the path comes first and replaces it whole, as Ansible
// loads a collection from the first path entry that has it.
//
// # Log lines
//
// With LogTasks a run logs, with the keys of the ctx logger (or namespace and
// name) and job: LogTaskStarted with task (and role, for a task in a role);
// one line per task result with task, role, result (a TaskStatus), duration
// (what ansible-runner measured) and, for a failure, message; LogRecap with
// the Stats; and LogAnsibleOutput with line at V(1). Log formats for people
// render them by these names (the operator's --log-format=text).
//
// # Process
//
// ansible-runner starts in its own process group. It runs ansible-playbook
// under a pseudo-terminal, which puts ansible-playbook in a session of its
// own; so on timeout or cancellation the Runner stops ansible-runner's group,
// kills the process group of every descendant, then ansible-runner's group,
// and waits until none of those processes is alive before Run returns.
//
// Every process of a run inherits two environment variables,
// ANSIBLE_OPERATOR_RUN (the run, and the operator process that owns it) and
// ANSIBLE_OPERATOR_RUN_DIR (its input dir). Once ansible-runner has exited,
// however the run ended, every process still carrying the run's mark is
// killed: what a role left in the background (`cmd &`, nohup, setsid, async
// tasks with poll: 0) does not outlive its run. New kills the processes of
// runs under the root dir whose owner has died (an operator killed with
// SIGKILL); it never touches a process without the mark, such as a tail -f
// of an artifact. A process that clears its environment before exec, or that
// is not dumpable, escapes the mark: the role author is trusted not to do so.
package runner
