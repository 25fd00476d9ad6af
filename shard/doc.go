// Package shard spreads the resources of each watch over the operator's
// replicas. It sits beside the controller: each replica holds its own Lease
// (Membership), sees every resource of a watch through a small metadata-only
// informer (View), and moves resources between replicas by rewriting one label
// (Mover) so that each replica's informers — the controller's and the proxy's
// cache — select only its own share.
//
// Assignment is rendezvous hashing with bounded loads (Plan): a resource
// without a live owner goes to the highest-ranked replica that holds fewer
// than ceil(n/m) resources; a replica holding more hands the excess over. The
// controller owns the other half of a move: it drains the resource's run
// before the label changes (Handoff) and fences runs with
// status.reconciledBy, so two replicas never run one resource at once.
package shard
