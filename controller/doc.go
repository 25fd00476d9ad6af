// Package controller is the reconciler: one controller-runtime controller per
// watches.yaml entry. It sits between the watch event and the runner: it
// decides whether a run is needed (finalizers, skip-unchanged), writes the
// Running condition, obtains a per-run credential from the proxy, runs the
// role or playbook through the runner, turns the Result into status conditions
// and Events, and requeues after the reconcile period.
//
// Data flow of one reconcile:
//
//	get → deletion? (finalizer run, finalizer removal) → ensureFinalizer →
//	unchanged? (skip) → status Running → run → interpret → applyStatus → requeue
//
// The proxy reaches back into the controller only through the
// proxy.DependentWatcher interface, to make the controller watch the kinds a
// run created.
package controller
