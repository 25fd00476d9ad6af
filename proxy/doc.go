// Package proxy is the HTTP proxy between Ansible and the Kubernetes API
// server. In the path watch event → controller → runner → proxy it is the
// last hop: every Kubernetes call a role makes arrives here, identified by the
// per-run credential the controller registered before starting
// ansible-runner, and leaves for the API server with the operator's own
// credentials.
//
// What it adds to plain forwarding:
//
//   - Identity. Register issues a random bearer token bound to the run's
//     owner and a kubeconfig that carries it; requests without a live token
//     get 401 with a Status body, so no other process can borrow the
//     operator's identity. Release ends the token and cancels its requests.
//     The proxy speaks HTTPS with a certificate it makes at start-up and puts
//     in every kubeconfig: Go clients such as kubectl send a token only over
//     TLS.
//   - Ownership. Creates (POST of a resource), updates (PUT) and server-side
//     applies (PATCH application/apply-patch+yaml) get an owner reference to
//     the run's owner when Kubernetes allows one (same namespace, or a
//     cluster-scoped owner); otherwise the annotations
//     operator-sdk/primary-resource: <namespace>/<name> and
//     operator-sdk/primary-resource-type: <Kind>.<group>. The reference has
//     controller and blockOwnerDeletion unset, as in operator-sdk's
//     ansible-operator, so watchers must enqueue for any owner reference of
//     the owner's kind, not only for the controller reference.
//     A PUT or server-side apply can write an object that exists, so the
//     proxy links it only if it is linked to this owner already (and then
//     sends the object's UID, so that a replacement of it fails rather than
//     being adopted) or if the write creates it: such a write goes out
//     unlinked, and an answer of 201 Created is followed by a merge patch
//     that links the new object (bound to its resourceVersion; if that fails,
//     the object is deleted again and the write fails). An object that exists
//     and is not linked to the owner is written but never adopted.
//   - Dependent watches. The first time a run creates, updates or reads an
//     object linked to an owner of its kind, the run's DependentWatcher is
//     asked to watch that kind: once per watcher, kind and link type, never
//     for the owner's own kind or blacklisted kinds, and for annotated
//     cluster-scoped kinds only with WatchClusterScopedResources.
//   - Cached reads. GET and LIST of kinds the manager's cache already informs
//     on are answered from it, shaped as the API server would answer them and
//     marked with the header X-Cache: HIT. A run always reads its own writes:
//     an object it changed is read from the API server until the cache holds
//     that change.
//   - Writes. Each credential records its successful mutating requests, for
//     the controller to tell whether a run changed anything.
//
// Watches, logs and upgraded connections (exec, attach, port-forward) stream
// through unchanged. Impersonate-* headers are dropped: the API server sees
// the operator, never a user the operator may impersonate. Each request is logged once at V(1) with its method,
// path, owner, cache outcome, status and duration; bodies are never logged.
package proxy
