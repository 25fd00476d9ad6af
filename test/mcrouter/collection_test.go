package mcrouter_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const (
	statusPlaybook  = "test/mcrouter/testdata/k8s_status.yml"
	requeuePlaybook = "test/mcrouter/testdata/requeue_after.yml"
	oldTime         = "2021-01-01T00:00:00Z"
)

// running is the condition the operator itself writes; k8s_status keeps it,
// and keeps its observedGeneration and ansibleResult when a role writes it.
var running = map[string]any{
	"type": "Running", "status": "True", "reason": "Running",
	"message": "Running reconciliation", "lastTransitionTime": "2020-01-01T00:00:00Z",
	"observedGeneration": int64(1), "ansibleResult": map[string]any{"ok": int64(2)},
}

// TestK8sStatus calls operator_sdk.util.k8s_status step by step on one
// Mcrouter and checks the status on the API server after each call.
func TestK8sStatus(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	createMcrouter(t, ns, "status", map[string]any{})
	seeded := getMcrouter(t, ns, "status")
	if err := unstructured.SetNestedSlice(seeded.Object, []any{running}, "status", "conditions"); err != nil {
		t.Fatal(err)
	}
	if _, err := dynamicClient(t).Resource(mcrouterGVR).Namespace(ns).UpdateStatus(t.Context(), seeded, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("seed the operator's Running condition: %v", err)
	}
	if _, err := clientset(t).CoreV1().ConfigMaps(ns).Create(t.Context(),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "plain"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	ready := func(status, reason, message, ltt string) map[string]any {
		c := map[string]any{"type": "Ready", "status": status, "reason": reason, "lastTransitionTime": ltt}
		if message != "" {
			c["message"] = message
		}
		return c
	}
	steps := []struct {
		name        string
		vars        map[string]any
		wantChanged bool
		wantErr     string
		want        map[string]any // the whole status; "now" as lastTransitionTime means a fresh time
	}{
		{
			name:        "custom keys",
			vars:        map[string]any{"status_status": map[string]any{"a": 1, "nested": map[string]any{"x": 1}}},
			wantChanged: true,
			want:        map[string]any{"a": int64(1), "nested": map[string]any{"x": int64(1)}, "conditions": []any{running}},
		},
		{
			name: "same keys again",
			vars: map[string]any{"status_status": map[string]any{"a": 1, "nested": map[string]any{"x": 1}}},
			want: map[string]any{"a": int64(1), "nested": map[string]any{"x": int64(1)}, "conditions": []any{running}},
		},
		{
			name: "new condition with its time",
			vars: map[string]any{"status_conditions": []any{
				map[string]any{"type": "Ready", "status": "False", "reason": "Waiting", "lastTransitionTime": oldTime}}},
			wantChanged: true,
			want: map[string]any{"a": int64(1), "nested": map[string]any{"x": int64(1)},
				"conditions": []any{running, ready("False", "Waiting", "", oldTime)}},
		},
		{
			name: "same condition status keeps the transition time",
			vars: map[string]any{"status_conditions": []any{
				map[string]any{"type": "Ready", "status": "False", "reason": "StillWaiting", "message": "pods pending"}}},
			wantChanged: true,
			want: map[string]any{"a": int64(1), "nested": map[string]any{"x": int64(1)},
				"conditions": []any{running, ready("False", "StillWaiting", "pods pending", oldTime)}},
		},
		{
			name:        "status change sets a new transition time",
			vars:        map[string]any{"status_conditions": []any{map[string]any{"type": "Ready", "status": true, "reason": "Done"}}},
			wantChanged: true,
			want: map[string]any{"a": int64(1), "nested": map[string]any{"x": int64(1)},
				"conditions": []any{running, ready("True", "Done", "", "now")}},
		},
		{
			name: "a condition given keeps the fields it leaves out",
			vars: map[string]any{"status_conditions": []any{map[string]any{
				"type": "Running", "status": "True", "reason": "Running", "message": "Running reconciliation"}}},
			want: map[string]any{"a": int64(1), "nested": map[string]any{"x": int64(1)},
				"conditions": []any{running, ready("True", "Done", "", "now")}},
		},
		{
			name:        "top-level key replaced whole",
			vars:        map[string]any{"status_status": map[string]any{"nested": map[string]any{"y": 2}}},
			wantChanged: true,
			want: map[string]any{"a": int64(1), "nested": map[string]any{"y": int64(2)},
				"conditions": []any{running, ready("True", "Done", "", "now")}},
		},
		{
			name:        "check mode writes nothing",
			vars:        map[string]any{"status_status": map[string]any{"a": 2}, "status_check_mode": true},
			wantChanged: true,
			want: map[string]any{"a": int64(1), "nested": map[string]any{"y": int64(2)},
				"conditions": []any{running, ready("True", "Done", "", "now")}},
		},
		{
			name:        "replace keeps only the operator's conditions",
			vars:        map[string]any{"status_status": map[string]any{"b": 1}, "status_replace": true},
			wantChanged: true,
			want:        map[string]any{"b": int64(1), "conditions": []any{running}},
		},
		{
			name:    "invalid condition status",
			vars:    map[string]any{"status_conditions": []any{map[string]any{"type": "Ready", "status": "Maybe"}}},
			wantErr: "conditions[0] (type Ready): status must be True, False or Unknown",
		},
		{
			name:    "invalid reason",
			vars:    map[string]any{"status_conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "not camel"}}},
			wantErr: "reason must be one CamelCase word",
		},
		{
			name:    "missing object",
			vars:    map[string]any{"status_name": "missing", "status_status": map[string]any{"a": 1}},
			wantErr: "Mcrouter missing not found in namespace " + ns,
		},
		{
			name: "kind without status subresource",
			vars: map[string]any{"status_name": "plain", "status_kind": "ConfigMap", "status_api_version": "v1",
				"status_status": map[string]any{"a": 1}},
			wantErr: "v1 ConfigMap has no status subresource",
		},
	}
	for _, step := range steps {
		before := getMcrouter(t, ns, "status")
		vars := map[string]any{"status_name": "status"}
		for k, v := range step.vars {
			vars[k] = v
		}
		results, err := playbook{Path: statusPlaybook, Namespace: ns, Vars: vars}.run(t)
		if step.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), step.wantErr) {
				t.Fatalf("%s: error = %v, want one containing %q", step.name, err, step.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got := task(t, results, "Call k8s_status").changed(); got != step.wantChanged {
			t.Errorf("%s: changed = %v, want %v", step.name, got, step.wantChanged)
		}
		after := getMcrouter(t, ns, "status")
		if !step.wantChanged || step.vars["status_check_mode"] == true {
			if after.GetResourceVersion() != before.GetResourceVersion() {
				t.Errorf("%s: the object was written (resourceVersion %s → %s)", step.name,
					before.GetResourceVersion(), after.GetResourceVersion())
			}
		}
		got, _, _ := unstructured.NestedMap(after.Object, "status")
		checkFreshTimes(t, step.name, got)
		if diff := cmp.Diff(step.want, got); diff != "" {
			t.Errorf("%s: status (-want +got):\n%s", step.name, diff)
		}
	}
}

// checkFreshTimes replaces a lastTransitionTime within the last hour by "now".
func checkFreshTimes(t *testing.T, step string, status map[string]any) {
	t.Helper()
	conditions, _ := status["conditions"].([]any)
	for _, c := range conditions {
		c := c.(map[string]any)
		ltt, _ := c["lastTransitionTime"].(string)
		ts, err := time.Parse(time.RFC3339, ltt)
		if err != nil {
			t.Errorf("%s: condition %v: lastTransitionTime %q is not RFC 3339", step, c["type"], ltt)
			continue
		}
		if age := time.Since(ts); age > -time.Minute && age < time.Hour {
			c["lastTransitionTime"] = "now"
		}
	}
}

// TestRequeueAfter checks operator_sdk.util.requeue_after returns the Go
// duration the runtime parses, and rejects what Go would not parse.
func TestRequeueAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want, wantErr string
	}{
		{in: "30s", want: "30s"},
		{in: "1m", want: "1m0s"},
		{in: "1h30m", want: "1h30m0s"},
		{in: "1.5h", want: "1h30m0s"},
		{in: "250ms", want: "250ms"},
		{in: "36h", want: "36h0m0s"},
		{in: "30", wantErr: "time '30' is not a duration such as 30s"},
		{in: "-5s", wantErr: "time '-5s' is negative"},
		{in: "0s", wantErr: "time '0s' must be longer than 0"},
		{in: "soon", wantErr: "time 'soon' is not a duration"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			results, err := playbook{Path: requeuePlaybook, Vars: map[string]any{"requeue_time": tc.in}}.run(t)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("requeue_after %q: error = %v, want %q", tc.in, err, tc.wantErr)
				}
				if _, goErr := time.ParseDuration(tc.in); goErr == nil && tc.in != "0s" && !strings.HasPrefix(tc.in, "-") {
					t.Errorf("Go parses %q, but the module rejects it", tc.in)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r := task(t, results, "Call requeue_after")
			got, _ := r.Result["requeue_after"].(string)
			if got != tc.want || r.changed() {
				t.Errorf("requeue_after %q = %q (changed %v), want %q unchanged", tc.in, got, r.changed(), tc.want)
			}
			want, err := time.ParseDuration(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if parsed, err := time.ParseDuration(got); err != nil || parsed != want || parsed.String() != got {
				t.Errorf("Go reads %q as %v (%v); want %v formatted as %q", got, parsed, err, want, want.String())
			}
		})
	}
}
