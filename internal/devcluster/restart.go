package devcluster

import (
	"context"
	"fmt"
	"time"
)

// RestartAPIServer stops kube-apiserver, waits for downtime (or ctx), and
// starts it again on the same port with the same certificates and etcd, so
// clients holding the old kubeconfig reconnect. It is for fault tests.
func (c *Cluster) RestartAPIServer(ctx context.Context, downtime time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return fmt.Errorf("restart kube-apiserver: cluster stopped")
	}
	api := c.env.ControlPlane.GetAPIServer()
	if err := api.Stop(); err != nil {
		return fmt.Errorf("stop kube-apiserver: %w", err)
	}
	select {
	case <-time.After(downtime):
	case <-ctx.Done():
	}
	if err := api.Start(); err != nil {
		return fmt.Errorf("start kube-apiserver: %w%s", err, c.logTail("kube-apiserver.log"))
	}
	return nil
}
