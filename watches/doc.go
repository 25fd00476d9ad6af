// Package watches loads watches.yaml, the file that maps each watched custom resource kind to the Ansible role or
// playbook that reconciles it, into validated []Watch values.
//
// It sits before the watch event → controller → runner → proxy path: cmd/ansible-operator calls Load once at
// start-up, and a bad file stops the process before it touches the cluster. The controller reads the Watch
// values; nothing here talks to Kubernetes or runs Ansible.
//
// # Steps
//
// Load = read the file, expand environment references, Parse, Resolve.
//
//   - Parse is pure: strict YAML decoding (unknown keys are errors, at every level: entry, finalizer, selector,
//     blacklist), structural checks and the defaults that need neither disk nor environment. It returns []Entry.
//   - Resolve looks roles and playbooks up on disk, fills in Options defaults and applies the per-kind
//     environment overrides, returning []Watch.
//
// Every error is an *Error naming the file, the line where known, the entry (0-based index in the list, and its
// group/version/kind as far as it could be read) and the key, for example
//
//	watches.yaml:7: entry 1 (mcrouter.example.com/v1alpha3, Kind=Mcrouter): unknown key "reconcilePeriode" (did you mean "reconcilePeriod"?)
//
// # Keys and defaults
//
// Those of operator-framework's ansible-operator v1.x: version and kind (required), group (empty means the core
// group), role or playbook (exactly one), vars, reconcilePeriod (a Go duration string such as "30s"; absent means
// Options.ReconcilePeriod; "0s" disables periodic requeue), manageStatus (true), watchDependentResources (true),
// watchClusterScopedResources (false), watchAnnotationsChanges (false), snakeCaseParameters (true),
// maxRunnerArtifacts (20; 0 keeps none), finalizer {name, role, playbook, vars}, blacklist [{group, version, kind}],
// selector {matchLabels, matchExpressions}.
//
// Differences from upstream: markUnsafe defaults to true, so values taken from the custom resource are never
// evaluated as Jinja templates unless an entry sets markUnsafe: false. skipUnchangedResync (default false) is this
// runtime's own key: when true, a periodic resync that finds the resource and its dependents unchanged since the
// last successful run does not start Ansible. pruneDependents (default false) is ours as well: when true, a
// successful run is followed by the deletion of the dependents earlier runs of the resource created and this run
// no longer created, updated or read. Unknown keys, bare numbers as durations, both role and playbook, and
// unusable environment overrides are errors where upstream ignores them or falls back silently. A key given with
// no value (`vars:`) means its default.
// ansibleExecutor ("runner" or "warm"; default: the --ansible-executor flag) is this runtime's own key too: it
// chooses how the entry's runs start Ansible (see the runner package).
//
// # Limits
//
// A watches file is at most MaxFileSize (1 MiB) bytes; Load and Parse refuse a larger one without reading on.
// Anchors, aliases and merge keys (`<<: *base`) work as in YAML 1.1, but an alias inside the value of its own
// anchor (`- &e {kind: X, <<: *e}`, directly or through other anchors) is an error at the alias's line and
// column, and aliases may add at most MaxAliasNodes (100,000) nodes to the file once expanded, so that nested
// anchors cannot make decoding take exponential time or memory. Vars must be representable as JSON, which is
// how they reach Ansible: .inf, .nan and keys that read the same once turned into text (1.0 and "1") are errors.
//
// # Environment
//
// Load expands ${NAME} and $NAME when NAME is set, anywhere in the file's text before parsing, as upstream does:
// keys, flow collections (`- {key: ${LABEL}, operator: Exists}`) and typed values (`maxRunnerArtifacts: ${N}`)
// all work. A reference to an unset variable, and any "$" that does not start a reference ("$$", "$1",
// "cost: 5$"), stay exactly as written (upstream rewrites some of those). Because expansion is textual, a value
// containing YAML syntax (": ", a newline) changes the document; quote the reference ("${VAR}") for such values.
// Parse and Resolve do not expand.
//
// Per kind, MAX_CONCURRENT_RECONCILES_<KIND>_<GROUP> (or the deprecated WORKER_<KIND>_<GROUP>) and
// ANSIBLE_VERBOSITY_<KIND>_<GROUP> (0..7) override the Options values. The names are upstream's: kind and group
// upper-cased, dots in the group replaced by "_" (dashes are kept), e.g.
// MAX_CONCURRENT_RECONCILES_MCROUTER_MCROUTER_EXAMPLE_COM; see MaxConcurrentReconcilesEnv.
//
// # Finding roles and playbooks
//
// A role (and a finalizer role) is the first existing directory among: the path itself when absolute; for
// "namespace.collection.role", <p>/ansible_collections/<namespace>/<collection>/roles/<role> for each entry p of
// Options.CollectionsPath (ANSIBLE_COLLECTIONS_PATH, else /usr/share/ansible/collections and
// ~/.ansible/collections); <p>/<role> and <p>/roles/<role> for each entry p of Options.RolesPath
// (--ansible-roles-path, else ANSIBLE_ROLES_PATH); <work dir>/roles/<role>. A role not found is an error listing
// every path searched.
//
// A relative playbook path is resolved against the directory of the watches file first, then against the
// working directory (Options.WorkDir), which is where upstream looks; the two are the same in the usual layout
// (/opt/ansible/watches.yaml, run from /opt/ansible).
package watches
