package runner_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mcrouter-operator/mcrouter-operator/runner"
)

// ExampleRunner_Run shows how a controller runs a role for a resource and
// reads the outcome. It is compiled, not run: it needs a real role.
func ExampleRunner_Run() {
	r, err := runner.New(runner.Options{Timeout: runner.DefaultTimeout})
	if err != nil {
		fmt.Println(err) // names the Debian package to install
		return
	}
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion("mcrouter.example.com/v1alpha3")
	obj.SetKind("Mcrouter")
	obj.SetNamespace("default")
	obj.SetName("example")

	res, err := r.Run(context.Background(), obj, runner.RunOptions{
		Role:                "/opt/ansible/roles/mcrouter",
		SnakeCaseParameters: true,
		MarkUnsafe:          true,
		MaxArtifacts:        20,
	})
	switch {
	case errors.Is(err, runner.ErrTimeout), errors.Is(err, runner.ErrCanceled):
		fmt.Println("no result:", err)
	case err != nil:
		fmt.Println("run broke:", err)
	case res.Failed():
		for _, f := range res.Failures {
			fmt.Printf("task %q failed: %s\n", f.Task, f.Message)
		}
	default:
		fmt.Println("ok", res.Stats.Ok, "changed", res.Stats.Changed, "requeue after", res.RequeueAfter.Round(time.Second))
	}
}
