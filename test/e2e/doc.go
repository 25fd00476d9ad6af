// Package e2e holds the end-to-end tests: the built ansible-operator binary
// runs the real Mcrouter role (watches.yaml, roles/mcrouter) through the real
// ansible-runner against the local control plane of internal/devcluster, with
// kube-controller-manager for garbage collection and the workload controllers.
// They replay the original project's README scenarios, inject faults (API
// server restart, SIGKILL, leader loss, a hanging task, 50 resources at once),
// break dependents after a restart, a failed run or a SIGKILL mid-run and
// expect them repaired, and feed bad input (watches files, CRs the schema
// rejects, template injection, oversized values, the CRD deleted,
// unauthenticated proxy calls).
// No pod ever runs there: the tests check objects, status, events and
// processes, never a running memcached.
//
// It exercises the whole watch event → controller → runner → proxy path from
// the outside, as a user meets it.
package e2e
