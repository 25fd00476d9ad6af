package operator_test

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

var gvkAnnouncer = schema.GroupVersionKind{Group: "ops.example.com", Version: "v1", Kind: "Announcer"}

// A role's operator_sdk.util.k8s_event task creates an Event about its
// resource through the proxy; the next run with the same reason counts on.
// Events are reports, not part of the run record: one the API server stores
// other than written (the Stamp task) starts no run.
func TestRoleEvent(t *testing.T) {
	t.Parallel()
	ns := optest.CreateNamespace(t, kube, "role-event")
	optest.Create(t, kube, optest.NewObject(gvkAnnouncer, ns, "herald", map[string]any{"announcement": "first"}))
	cr := optest.AwaitObject(t, kube, gvkAnnouncer, ns, "herald", "Successful", optest.Successful, operator)
	first := announcement(t, ns, "first", 1)
	io := first.InvolvedObject
	if io.APIVersion != "ops.example.com/v1" || io.Kind != "Announcer" || io.Namespace != ns || io.Name != "herald" ||
		io.UID != cr.GetUID() {
		t.Errorf("involvedObject = %+v, want the Announcer %s/herald (uid %s)", io, ns, cr.GetUID())
	}
	if first.Reason != "Announced" || first.Type != corev1.EventTypeWarning || first.Source.Component != "testop" ||
		first.ReportingController != "testop" {
		t.Errorf("event reason %q, type %q, source %q, reportingComponent %q; want Announced, Warning, testop, testop",
			first.Reason, first.Type, first.Source.Component, first.ReportingController)
	}
	assertRunsStay(t, gvkAnnouncer, ns, "herald", 1, "a run that wrote an Event the API server stores with other times")

	optest.MergePatch(t, kube, gvkAnnouncer, ns, "herald", map[string]any{"spec": map[string]any{"announcement": "second"}})
	optest.AwaitObject(t, kube, gvkAnnouncer, ns, "herald", "Successful at the new generation", optest.Successful, operator)
	second := announcement(t, ns, "second", 2)
	if !second.FirstTimestamp.Equal(&first.FirstTimestamp) {
		t.Errorf("firstTimestamp moved from %s to %s", first.FirstTimestamp, second.FirstTimestamp)
	}
}

// announcement waits for the Event herald-announcement to carry message and
// count, and returns it.
func announcement(t *testing.T, ns, message string, count int32) *corev1.Event {
	t.Helper()
	ev := &corev1.Event{}
	optest.Await(t, fmt.Sprintf("Event herald-announcement with message %q, count %d", message, count), func(ctx context.Context) (bool, error) {
		if err := kube.Get(ctx, client.ObjectKey{Namespace: ns, Name: "herald-announcement"}, ev); err != nil {
			return false, err
		}
		return ev.Message == message && ev.Count == count, fmt.Errorf("message %q, count %d", ev.Message, ev.Count)
	}, operator)
	return ev
}
