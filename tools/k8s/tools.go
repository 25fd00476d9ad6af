//go:build tools

// Package k8s pins the Kubernetes control-plane commands that the local
// development cluster runs. It is a separate module so that the main module
// does not inherit k8s.io/kubernetes' dependency graph.
package k8s

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
