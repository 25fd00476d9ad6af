// Package devcluster runs a real Kubernetes control plane on loopback for tests
// and for `make run`: etcd and kube-apiserver through controller-runtime's
// envtest, plus kube-controller-manager for garbage collection and the
// workload controllers. There is no kubelet or scheduler, so Pods stay Pending.
//
// It sits outside the watch event → controller → runner → proxy path: it is
// the cluster that path talks to when no other cluster is configured. Every
// process it starts is stopped by Cluster.Stop, and by a guard process when the
// owner dies without calling Stop (test timeout, SIGKILL). A test package
// starts one around its tests with devclustertest.RunTests, which lives apart
// so that cmd/devcluster does not link package testing.
package devcluster
