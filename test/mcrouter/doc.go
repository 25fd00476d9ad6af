// Package mcrouter holds the tests of the Mcrouter operator product: the
// mcrouter role and its molecule playbooks, the CRD, the manifests in deploy/,
// the image recipe in build/ and the operator_sdk.util collection. They run
// the real ansible-playbook against the local control plane of
// internal/devcluster (no pod ever runs there, so the data path is left to
// molecule's test-local scenario on KIND).
//
// It sits beside the watch event → controller → runner → proxy path: it checks
// what that path executes (the role and the collection) and what it is
// deployed with.
package mcrouter
