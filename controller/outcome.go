package controller

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mcrouter-operator/mcrouter-operator/proxy"
	"github.com/mcrouter-operator/mcrouter-operator/runner"
)

// outcome is what one Ansible run produced, as the controller sees it.
type outcome struct {
	result *runner.Result // nil when the run could not start
	err    error          // the run did not complete (timeout, crash, could not start)
	writes []proxy.Write  // what the run changed through the proxy
	reads  []proxy.Read   // what it found in place (objects linked to the resource)
}

func (o *outcome) failed() bool {
	return o.err != nil || o.result == nil || len(o.result.Failures) > 0
}

// refused reports that the run never started because the resource's keys
// would have reached Ansible as its own variables or as templates: a
// retry cannot help, a change of the resource can.
func (o *outcome) refused() bool {
	var spec *runner.SpecError
	return errors.As(o.err, &spec)
}

// message names the failing task and its error, for status and Events.
func (o *outcome) message() string {
	if o.err != nil {
		return o.err.Error()
	}
	if o.result == nil {
		return "the run produced no result"
	}
	var parts []string
	for _, f := range o.result.Failures {
		parts = append(parts, fmt.Sprintf("task %q failed: %s", f.Task, oneLine(f.Message)))
	}
	if len(parts) == 0 {
		return MessageSucceeded
	}
	return strings.Join(parts, "; ")
}

// ansibleResult is upstream's status.conditions[Running].ansibleResult.
func (o *outcome) ansibleResult() map[string]any {
	if o.result == nil {
		return nil
	}
	s := o.result.Stats
	completion := o.result.Completion
	if completion.IsZero() {
		completion = time.Now()
	}
	return map[string]any{
		"ok":         int64(s.Ok),
		"changed":    int64(s.Changed),
		"skipped":    int64(s.Skipped),
		"failures":   int64(s.Failures),
		"completion": completion.UTC().Format("2006-01-02T15:04:05.000000"),
	}
}

// status is the status change after a run of generation.
func (o *outcome) status(generation int64) statusChange {
	if !o.failed() {
		return reconciledStatus(generation, []condition{
			{Type: TypeRunning, Status: "True", Reason: ReasonSuccessful, Message: MessageAwaiting, AnsibleResult: o.ansibleResult()},
			{Type: TypeSuccessful, Status: "True", Reason: ReasonSuccessful, Message: MessageSucceeded},
			{Type: TypeFailure, Status: "False", Reason: ReasonSuccessful, Message: MessageSucceeded},
		})
	}
	msg, running := o.message(), MessageFailedRetrying
	if o.refused() {
		running = MessageRefused
	}
	return statusChange{Generation: generation, ObservedGeneration: generation, Conditions: []condition{
		{Type: TypeRunning, Status: "False", Reason: ReasonFailed, Message: running, AnsibleResult: o.ansibleResult()},
		{Type: TypeSuccessful, Status: "False", Reason: ReasonFailed, Message: msg},
		{Type: TypeFailure, Status: "True", Reason: ReasonFailed, Message: msg},
		{Type: TypeReady, Status: "False", Reason: ReasonFailed, Message: msg},
		{Type: TypeReconciling, Status: "False", Reason: ReasonFailed, Message: msg},
		{Type: TypeStalled, Status: "True", Reason: ReasonFailed, Message: msg},
	}}
}

// reconciledStatus says that generation was reconciled successfully: after
// a run, and when a run is skipped because nothing changed since the last
// successful one (which a status written by an older runtime may not say
// yet). more come first.
func reconciledStatus(generation int64, more []condition) statusChange {
	return statusChange{Generation: generation, ObservedGeneration: generation, Conditions: append(more,
		condition{Type: TypeReady, Status: "True", Reason: ReasonSuccessful, Message: MessageSucceeded},
		condition{Type: TypeReconciling, Status: "False", Reason: ReasonSuccessful, Message: MessageSucceeded},
		condition{Type: TypeStalled, Status: "False", Reason: ReasonSuccessful, Message: MessageSucceeded},
	)}
}

// runningStatus is written before a run starts. Successful and Failure keep
// describing the last finished run; the run record goes until the run has
// succeeded. A run of a generation the status does not describe yet makes
// the resource Reconciling, no longer Ready nor Stalled; a run of the same
// generation again (a resync, drift, a retry) leaves them as they are.
func runningStatus(obj *unstructured.Unstructured) statusChange {
	gen := obj.GetGeneration()
	change := statusChange{Generation: gen, SetRecord: true, Conditions: []condition{
		{Type: TypeRunning, Status: "True", Reason: ReasonRunning, Message: MessageRunning},
	}}
	if observed, _, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration"); observed == gen {
		return change
	}
	msg := fmt.Sprintf(MessageReconcilingGeneration, gen)
	change.Conditions = append(change.Conditions,
		condition{Type: TypeReady, Status: "Unknown", Reason: ReasonReconciling, Message: msg},
		condition{Type: TypeReconciling, Status: "True", Reason: ReasonReconciling, Message: msg},
		condition{Type: TypeStalled, Status: "False", Reason: ReasonReconciling, Message: msg},
	)
	return change
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	s = strings.Join(strings.Fields(s), " ")
	const max = 1000
	if len(s) > max {
		s = s[:runeStart(s, max)] + "…"
	}
	return s
}
