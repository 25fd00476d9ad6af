// Package controller is the reconciler: one controller-runtime controller per
// watches.yaml entry. It sits between the watch event and the runner: it
// decides whether a run is needed (finalizers, skip-unchanged), writes the
// Running condition, obtains a per-run credential from the proxy, runs the
// role or playbook through the runner, turns the Result into status conditions
// and Events, and requeues after the reconcile period.
//
// Data flow of one reconcile (Reconcile, reconcile.go), by function:
//
//	get → [sharding: gate.enter → admit] → paused →
//	  deleted:  holdPaused | reconcileDeletion (runAnsible of the finalizer →
//	            removeFinalizer)
//	  else:     ensureFinalizer → holdPaused | markResumed →
//	            requestPending | unchanged (skip: markReconciled) →
//	            reconcileResource: patchStatus(runningStatus) → runAnsible →
//	            remember → trackCreated → patchStatus(runStatus) →
//	            requeueAfter → dependents.waitSynced
//
// runAnsible registers a proxy.Session, runs the Runner with the session's
// credential and returns the outcome (outcome.go), which status turns into
// the conditions and statusPatch into the merge patch of the status.
//
// Besides upstream's Running, Successful and Failure the status carries the
// conditions kstatus reads (Ready, Reconciling, Stalled; outcome.go) and
// status.observedGeneration; the pause annotation (pause.go) holds every run
// of a resource and the reconcile-requested-at annotation (trigger.go) asks
// for one.
//
// Skip-unchanged works from a record of the last successful run (record.go):
// every dependent the run touched, created or read, by UID, with the fields
// that define it. newRecord builds it from the proxy's Writes and Reads,
// remember keeps it in memory and reconcileResource writes it to status.runRecord
// (recordcodec.go: gzip JSON, at most 256 KiB; 1.8 KiB for the Mcrouter
// role) in the status write every run makes. unchanged skips only when
// lastRecord (memory, else status) is of this UID and generation and
// dependentsHold finds every dependent as recorded. The record is removed
// when a run starts and restored only by a run that succeeded.
//
// With the watch's pruneDependents, trackCreated keeps a ledger of what
// runs of each resource created (prune_ledger.go: in memory and in
// status.createdDependents, surviving failed runs and restarts) and, after a
// successful run, prune deletes what the ledger holds and the run's record
// does not, once the API server shows it is still the object created and
// still linked to the resource (prune.go).
//
// With Options.Shard (--sharding, package shard) the reconciler sees only
// the resources labelled for its replica, and Reconcile passes the gate
// (no reconcile of a resource being handed off) and admit (status.reconciledBy
// must name this replica, or be claimed from nobody or a replica that is
// gone) before anything else. Handoff drains a resource, moves its label and
// its cached dependents' (handDependents), then releases it; adoptDependents
// relabels recorded dependents a skip check or run finds without the label.
//
// The proxy reaches back into the controller only through the
// proxy.DependentWatcher interface, to make the controller watch the kinds a
// run created. The controller reaches the proxy only through
// Options.Proxy, a CredentialIssuer handing out a Credential (ProxyIssuer
// adapts *proxy.Proxy), and Ansible only through Options.Runner: the table
// tests of the reconcile phases (reconcile_table_test.go) put recording
// fakes of both in their place (fakes_test.go); the real-cluster suites prove
// the behaviour end to end.
package controller
