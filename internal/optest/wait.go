package optest

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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

// Condition returns status.conditions[type] of obj, or nil.
func Condition(obj *unstructured.Unstructured, condType string) map[string]any {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == condType {
			return m
		}
	}
	return nil
}

// ConditionTrue reports whether condition condType has status "True".
func ConditionTrue(obj *unstructured.Unstructured, condType string) bool {
	c := Condition(obj, condType)
	return c != nil && c["status"] == "True"
}
