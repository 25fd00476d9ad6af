// Package devclustertest starts the local control plane of package devcluster
// around a test package's tests. It is a package of its own so that
// cmd/devcluster, which links devcluster, does not link package testing.
package devclustertest

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/mcrouter-operator/mcrouter-operator/internal/devcluster"
)

// RunTests is a TestMain body: it starts one control plane for the test
// package, stores it in *cluster, runs the tests and stops it. A control plane
// that cannot start fails the package with the reason (never a silent skip).
func RunTests(m *testing.M, opts devcluster.Options, cluster **devcluster.Cluster) int {
	c, err := devcluster.Start(context.Background(), opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: start local control plane: %v\n", err)
		return 1
	}
	*cluster = c
	code := m.Run()
	if err := c.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "stop local control plane: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}
