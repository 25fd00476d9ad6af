package controller

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

var (
	t0 = time.Date(2026, 11, 21, 5, 0, 0, 0, time.UTC)
	t1 = t0.Add(time.Minute)
)

func TestApplyConditions(t *testing.T) {
	custom := map[string]any{"type": "Ready", "status": "True", "reason": "Mine", "message": "set by the role"}
	runningOld := map[string]any{
		"type": "Running", "status": "True", "reason": "Running", "message": "Running reconciliation",
		"lastTransitionTime": t0.Format(time.RFC3339), "extra": "kept",
	}
	tests := []struct {
		name     string
		existing []any
		change   statusChange
		want     []any
	}{
		{
			name:     "new conditions are appended after custom ones",
			existing: []any{custom},
			change: statusChange{Generation: 3, Conditions: []condition{
				{Type: TypeSuccessful, Status: "True", Reason: ReasonSuccessful, Message: MessageSucceeded},
			}},
			want: []any{custom, map[string]any{
				"type": "Successful", "status": "True", "reason": "Successful", "message": MessageSucceeded,
				"lastTransitionTime": t1.Format(time.RFC3339), "observedGeneration": int64(3),
			}},
		},
		{
			name:     "same status keeps lastTransitionTime and unknown fields, adds ansibleResult",
			existing: []any{runningOld},
			change: statusChange{Generation: 1, Conditions: []condition{
				{Type: TypeRunning, Status: "True", Reason: ReasonSuccessful, Message: MessageAwaiting, AnsibleResult: map[string]any{"ok": int64(2)}},
			}},
			want: []any{map[string]any{
				"type": "Running", "status": "True", "reason": "Successful", "message": MessageAwaiting,
				"lastTransitionTime": t0.Format(time.RFC3339), "extra": "kept", "observedGeneration": int64(1),
				"ansibleResult": map[string]any{"ok": int64(2)},
			}},
		},
		{
			name:     "status change moves lastTransitionTime",
			existing: []any{runningOld},
			change: statusChange{Conditions: []condition{
				{Type: TypeRunning, Status: "False", Reason: ReasonFailed, Message: MessageFailedRetrying},
			}},
			want: []any{map[string]any{
				"type": "Running", "status": "False", "reason": "Failed", "message": MessageFailedRetrying,
				"lastTransitionTime": t1.Format(time.RFC3339), "extra": "kept",
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := normalize(tt.existing)
			got := applyConditions(tt.existing, tt.change, t1)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, normalize(tt.existing)); diff != "" {
				t.Errorf("input modified (-before +after):\n%s", diff)
			}
		})
	}
}

// TestApplyConditionsSharedRule runs the cases of the condition merge rule
// that k8s_status's unit tests run too (docs/compatibility.md, "Condition
// merge"). A given condition becomes one we write: its observedGeneration is
// the change's Generation, its ansibleResult (Running only) AnsibleResult.
func TestApplyConditionsSharedRule(t *testing.T) {
	path := filepath.Join("..", "collections", "ansible_collections", "operator_sdk", "util", "tests", "unit", "condition_merge.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var fixture struct {
		Now   time.Time
		Cases []struct {
			Name                  string
			Existing, Given, Want []map[string]any
		}
	}
	if err := json.Unmarshal(b, &fixture); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, tc := range fixture.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			var change statusChange
			for _, g := range tc.Given {
				c := condition{Type: g["type"].(string), Status: g["status"].(string), Reason: g["reason"].(string), Message: g["message"].(string)}
				if r, ok := g["ansibleResult"].(map[string]any); ok {
					c.AnsibleResult = r
				}
				change.Conditions = append(change.Conditions, c)
				change.Generation = int64(g["observedGeneration"].(float64))
			}
			existing := make([]any, len(tc.Existing))
			for i, c := range tc.Existing {
				existing[i] = c
			}
			got := applyConditions(existing, change, fixture.Now)
			if diff := cmp.Diff(normalize(tc.Want), normalize(got)); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatusPatchOnlyWhenChanged(t *testing.T) {
	obj := &unstructured.Unstructured{Object: map[string]any{}}
	change := (&outcome{result: nil, err: nil}).status(1) // a run without result is a failure
	patch, changed := statusPatch(obj, change, t0)
	if !changed || patch["conditions"] == nil {
		t.Fatalf("first write: changed=%v patch=%v", changed, patch)
	}
	_ = unstructured.SetNestedField(obj.Object, normalize(patch["conditions"]), "status", "conditions")
	_ = unstructured.SetNestedField(obj.Object, patch["observedGeneration"], "status", "observedGeneration")
	_ = unstructured.SetNestedField(obj.Object, "the role's", "status", "custom")
	if patch, changed := statusPatch(obj, change, t1); changed {
		t.Errorf("identical change written again: %v", patch)
	}
	change.DependentKinds = []any{map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "link": "ownerReference"}}
	patch, changed = statusPatch(obj, change, t1)
	if !changed || patch["conditions"] != nil || patch["custom"] != nil {
		t.Errorf("dependentKinds change: changed=%v patch=%v, want only dependentKinds", changed, patch)
	}
}

func TestStatusPatchOfTheRunRecord(t *testing.T) {
	rec := map[string]any{"format": int64(1), "data": "H4sI"}
	obj := &unstructured.Unstructured{Object: map[string]any{}}
	has := func(patch map[string]any) bool { _, ok := patch[statusRecordKey]; return ok }
	if patch, _ := statusPatch(obj, statusChange{SetRecord: true}, t0); has(patch) {
		t.Errorf("removing an absent record wrote %v", patch)
	}
	if patch, _ := statusPatch(obj, statusChange{SetRecord: true, Record: rec}, t0); patch[statusRecordKey] == nil {
		t.Fatalf("new record not written: %v", patch)
	}
	_ = unstructured.SetNestedField(obj.Object, normalize(rec), "status", statusRecordKey)
	if patch, _ := statusPatch(obj, statusChange{SetRecord: true, Record: rec}, t0); has(patch) {
		t.Errorf("the same record written again: %v", patch)
	}
	if patch, _ := statusPatch(obj, statusChange{}, t0); has(patch) {
		t.Errorf("a change without SetRecord touched the record: %v", patch)
	}
	if patch, _ := statusPatch(obj, runningStatus(obj), t0); !has(patch) || patch[statusRecordKey] != nil {
		t.Errorf("the Running status must remove the record (null in the merge patch): %v", patch)
	}
}
