package sharding_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/internal/devcluster"
	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

var (
	cluster *devcluster.Cluster
	kube    client.Client
	// binary is cmd/ansible-operator built once for the package.
	binary string
	// repoRoot is the repository root: the replicas' working directory and
	// the home of roles/ and deploy/.
	repoRoot string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "sharding-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if repoRoot, err = optest.ModuleRoot(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	if binary, err = optest.Build(tmp); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	cluster, err = devcluster.Start(context.Background(), devcluster.Options{
		CRDPaths: []string{filepath.Join(repoRoot, "deploy", "crds")},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: start local control plane:", err)
		return 1
	}
	defer cluster.Stop()
	if kube, err = client.New(cluster.Config, client.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	start := time.Now()
	code := m.Run()
	fmt.Printf("sharding: tests took %s\n", time.Since(start).Round(time.Second))
	return code
}
