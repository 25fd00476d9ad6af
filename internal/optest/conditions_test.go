package optest

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// cr is a resource at generation 2 with the conditions given.
func cr(conds ...map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetGeneration(2)
	if conds != nil {
		list := make([]any, len(conds))
		for i, c := range conds {
			list[i] = c
		}
		u.Object["status"] = map[string]any{"conditions": list}
	}
	return u
}

func TestConditionReaders(t *testing.T) {
	successful := func(gen any) map[string]any {
		return map[string]any{"type": "Successful", "status": "True", "observedGeneration": gen}
	}
	awaiting := map[string]any{"type": "Running", "status": "True", "message": "Awaiting next reconciliation"}
	for _, tt := range []struct {
		name                        string
		obj                         *unstructured.Unstructured
		observed                    int64
		message                     string
		successful, settled, failed bool
	}{
		{name: "nil object", obj: nil, observed: -1},
		{name: "no status", obj: cr(), observed: -1},
		{name: "no such condition", obj: cr(map[string]any{"type": "Running", "status": "True"}), observed: -1},
		{name: "not a map", obj: &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"conditions": []any{"Successful"}}}}, observed: -1},
		{name: "observedGeneration absent", obj: cr(map[string]any{"type": "Successful", "status": "True"}), observed: -1},
		{name: "observedGeneration int64", obj: cr(successful(int64(2))), observed: 2, successful: true},
		{name: "observedGeneration float64", obj: cr(successful(float64(2))), observed: 2, successful: true},
		{name: "observedGeneration a string", obj: cr(successful("2")), observed: -1},
		{name: "an older generation", obj: cr(successful(int64(1))), observed: 1},
		{name: "successful, not true", obj: cr(map[string]any{"type": "Successful", "status": "False", "observedGeneration": int64(2)}), observed: 2},
		{name: "settled", obj: cr(successful(int64(2)), awaiting), observed: 2, successful: true, settled: true},
		{name: "running again", obj: cr(successful(int64(2)), map[string]any{"type": "Running", "status": "True", "message": "Running reconciliation"}), observed: 2, successful: true},
		{name: "awaiting, never successful", obj: cr(awaiting), observed: -1},
		{name: "failed", obj: cr(map[string]any{"type": "Failure", "status": "True", "message": "boom"}), observed: -1, message: "boom", failed: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := ObservedGeneration(tt.obj, "Successful"); got != tt.observed {
				t.Errorf("ObservedGeneration = %d, want %d", got, tt.observed)
			}
			if got := ConditionMessage(tt.obj, "Failure"); got != tt.message {
				t.Errorf("ConditionMessage(Failure) = %q, want %q", got, tt.message)
			}
			if got := Successful(tt.obj); got != tt.successful {
				t.Errorf("Successful = %v, want %v", got, tt.successful)
			}
			if got := Settled(tt.obj); got != tt.settled {
				t.Errorf("Settled = %v, want %v", got, tt.settled)
			}
			if got := Failed(tt.obj); got != tt.failed {
				t.Errorf("Failed = %v, want %v", got, tt.failed)
			}
		})
	}
}

func TestInt64(t *testing.T) {
	for _, tt := range []struct {
		v    any
		want int64
	}{
		{nil, -1},
		{int64(3), 3},
		{float64(3), 3},
		{int64(0), 0},
		{"3", -1},
		{3, 3},
		{map[string]any{}, -1},
	} {
		if got := Int64(tt.v); got != tt.want {
			t.Errorf("Int64(%#v) = %d, want %d", tt.v, got, tt.want)
		}
	}
}
