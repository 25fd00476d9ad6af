package optest

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
)

// WaitReady polls the operator's /readyz until it answers 200, the process
// exits, or ctx ends.
func (o *Operator) WaitReady(ctx context.Context, timeout time.Duration) error {
	url := "http://127.0.0.1:" + strconv.Itoa(o.ProbePort) + "/readyz"
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if done, err := o.Exited(); done {
			return false, fmt.Errorf("operator exited: %v", err)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return fmt.Errorf("operator not ready: %w\n--- operator log ---\n%s", err, o.LogTail(40))
	}
	return nil
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
