package optest

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
)

// WaitReady polls the operator's /readyz until it answers 200; it fails when
// the process exits, ctx ends, or the operator stalls (see Await).
func (o *Operator) WaitReady(ctx context.Context) error {
	url := "http://127.0.0.1:" + strconv.Itoa(o.ProbePort) + "/readyz"
	return AwaitErr(ctx, "operator "+o.Name+" ready", func(ctx context.Context) (bool, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("/readyz: %s", resp.Status)
	}, o)
}
