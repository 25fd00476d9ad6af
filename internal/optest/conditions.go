package optest

import "k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

// The readers below take a custom resource as read from the API server and
// never fail: a nil object, one without status.conditions and one without
// the condition asked for all read as "no such condition", so that a wait
// keeps waiting until the operator has written it.

// Condition returns status.conditions[type] of obj, or nil when obj is nil
// or has no condition of that type.
func Condition(obj *unstructured.Unstructured, condType string) map[string]any {
	if obj == nil {
		return nil
	}
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == condType {
			return m
		}
	}
	return nil
}

// ConditionTrue reports whether condition condType has status "True"; false
// when there is no such condition.
func ConditionTrue(obj *unstructured.Unstructured, condType string) bool {
	return Condition(obj, condType)["status"] == "True"
}

// ConditionMessage is the message of condition condType, or "" when there is
// no such condition or it has no message.
func ConditionMessage(obj *unstructured.Unstructured, condType string) string {
	s, _ := Condition(obj, condType)["message"].(string)
	return s
}

// ObservedGeneration is the observedGeneration of condition condType, or -1
// when there is no such condition or it has none: -1 equals no generation,
// which starts at 1.
func ObservedGeneration(obj *unstructured.Unstructured, condType string) int64 {
	return Int64(Condition(obj, condType)["observedGeneration"])
}

// Int64 is a number of an unstructured object: an int64 as the API client
// decodes it, a float64 as encoding/json does, or an int as a test writes
// it. Anything else, nil included, is -1, which no count or generation the
// tests read equals.
func Int64(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	case int:
		return int64(n)
	}
	return -1
}

// Successful: the last run succeeded and it ran the current generation.
func Successful(obj *unstructured.Unstructured) bool {
	return ConditionTrue(obj, "Successful") && ObservedGeneration(obj, "Successful") == obj.GetGeneration()
}

// Failed: the last run failed (condition Failure is True).
func Failed(obj *unstructured.Unstructured) bool { return ConditionTrue(obj, "Failure") }

// Settled: Successful, and no later run under way (Running says "Awaiting
// next reconciliation").
func Settled(obj *unstructured.Unstructured) bool {
	return Successful(obj) && ConditionMessage(obj, "Running") == "Awaiting next reconciliation"
}
