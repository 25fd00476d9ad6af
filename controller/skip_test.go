package controller

import (
	"testing"

	"github.com/mcrouter-operator/mcrouter-operator/internal/jsonvalue"
)

func TestContainsIntent(t *testing.T) {
	live := map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{
			"name": "web", "namespace": "ns", "resourceVersion": "42", "generation": int64(2),
			"labels":      map[string]any{"app": "web", "added-by-someone": "x"},
			"annotations": map[string]any{"deployment.kubernetes.io/revision": "1"},
		},
		"spec": map[string]any{
			"replicas": int64(3),
			"template": map[string]any{"spec": map[string]any{"containers": []any{
				map[string]any{"name": "web", "image": "nginx", "ports": []any{map[string]any{"containerPort": int64(80), "protocol": "TCP"}}},
			}}},
		},
		"status": map[string]any{"replicas": int64(1)},
	}
	want := map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "namespace": "ns", "labels": map[string]any{"app": "web"}, "resourceVersion": "1",
			"annotations": map[string]any{}, "finalizers": []any{}},
		"spec": map[string]any{
			"replicas": float64(3),
			"template": map[string]any{
				// Empty maps and lists: the API server does not store them.
				"metadata": map[string]any{"annotations": map[string]any{}},
				"spec": map[string]any{"volumes": []any{}, "containers": []any{
					map[string]any{"name": "web", "image": "nginx", "ports": []any{map[string]any{"containerPort": float64(80)}}},
				}},
			},
		},
		"status": map[string]any{"replicas": int64(3)},
	}
	tests := []struct {
		name   string
		mutate func(live map[string]any)
		want   bool
	}{
		{name: "defaults, status and volatile metadata do not count", want: true},
		{name: "replicas changed", mutate: func(m map[string]any) { m["spec"].(map[string]any)["replicas"] = int64(1) }},
		{name: "label the role set removed", mutate: func(m map[string]any) {
			delete(m["metadata"].(map[string]any)["labels"].(map[string]any), "app")
		}},
		{name: "image changed", mutate: func(m map[string]any) {
			c := m["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)
			c[0].(map[string]any)["image"] = "httpd"
		}},
		{name: "annotations the role left empty were set", mutate: func(m map[string]any) {
			m["spec"].(map[string]any)["template"].(map[string]any)["metadata"] = map[string]any{
				"annotations": map[string]any{"a": "b"}}
		}, want: true},
		{name: "a list the role left empty was filled", mutate: func(m map[string]any) {
			m["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["volumes"] = []any{map[string]any{"name": "v"}}
		}},
		{name: "container added", mutate: func(m map[string]any) {
			s := m["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
			s["containers"] = append(s["containers"].([]any), map[string]any{"name": "sidecar"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := deepCopy(live)
			if tt.mutate != nil {
				tt.mutate(l)
			} else {
				tt.want = true
			}
			if got := jsonvalue.Contains(l, intent(want)); got != tt.want {
				t.Errorf("Contains = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIntentIgnoresApplyBookkeepingAndServerFields(t *testing.T) {
	body := map[string]any{
		"metadata": map[string]any{
			"name": "c", "resourceVersion": "7", "uid": "u",
			"annotations": map[string]any{lastAppliedAnnotation: "{...}", "mine": "x"},
		},
		"data":   map[string]any{"k": "v"},
		"status": map[string]any{"phase": "x"},
	}
	live := map[string]any{
		"metadata": map[string]any{"name": "c", "resourceVersion": "9", "annotations": map[string]any{"mine": "x"}},
		"data":     map[string]any{"k": "v"},
	}
	if !jsonvalue.Contains(live, intent(body)) {
		t.Errorf("intent %v not satisfied by %v", intent(body), live)
	}
	if _, ok := body["metadata"].(map[string]any)["annotations"].(map[string]any)[lastAppliedAnnotation]; !ok {
		t.Errorf("intent modified its input")
	}
}

func deepCopy(m map[string]any) map[string]any {
	return normalize(m).(map[string]any)
}
