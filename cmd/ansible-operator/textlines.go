package main

import (
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/mcrouter-operator/mcrouter-operator/runner"
)

// resourceKeys are the context keys that name the resource of a run: those
// of controller-runtime's reconcile logger and the runner's job. A text line
// names the resource once, as "[Kind namespace/name]", and drops them.
var resourceKeys = []string{"controller", "controllerGroup", "controllerKind", "object", "namespace", "name",
	"reconcileID", "job"}

// recapKeys are the counters of the PLAY RECAP line, in Ansible's order.
var recapKeys = []string{"ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored"}

// resultWords are what ansible-playbook prints before the host of a result.
var resultWords = map[runner.TaskStatus]string{
	runner.TaskOk: "ok", runner.TaskChanged: "changed", runner.TaskSkipped: "skipping",
	runner.TaskFailed: "fatal", runner.TaskUnreachable: "fatal", runner.TaskIgnored: "fatal",
	runner.TaskRescued: "fatal",
}

// runFields are the fields of one log line, by key; the last of a key wins.
type runFields struct {
	all  []zapcore.Field
	byID map[string]zapcore.Field
}

func newRunFields(fields []zapcore.Field) runFields {
	m := make(map[string]zapcore.Field, len(fields))
	for _, f := range fields {
		m[f.Key] = f
	}
	return runFields{all: fields, byID: m}
}

func (r runFields) has(key string) bool {
	_, ok := r.byID[key]
	return ok
}

// str is the value of a string field, "" when absent or not a string.
func (r runFields) str(key string) string {
	if f, ok := r.byID[key]; ok && f.Type == zapcore.StringType {
		return f.String
	}
	return ""
}

// resource is "[Kind namespace/name]", or "[namespace/name]" without a kind.
func (r runFields) resource() string {
	name := r.str("name")
	if ns := r.str("namespace"); ns != "" {
		name = ns + "/" + name
	}
	if kind := r.str("controllerKind"); kind != "" {
		return "[" + kind + " " + name + "]"
	}
	return "[" + name + "]"
}

// task is "TASK [role : name]", as ansible-playbook names a task.
func (r runFields) task() string {
	if role := r.str("role"); role != "" {
		return "TASK [" + role + " : " + r.str("task") + "]"
	}
	return "TASK [" + r.str("task") + "]"
}

// rest are the fields neither in used nor naming the resource.
func (r runFields) rest(used ...string) []zapcore.Field {
	drop := map[string]bool{}
	for _, k := range append(used, resourceKeys...) {
		drop[k] = true
	}
	if kind := r.str("controllerKind"); kind != "" {
		// the reconcile logger's object reference, keyed by the kind (in
		// older controller-runtime versions, the lowerCamel kind)
		drop[kind], drop[strings.ToLower(kind[:1])+kind[1:]] = true, true
	}
	var out []zapcore.Field
	for _, f := range r.all {
		if !drop[f.Key] {
			out = append(out, f)
		}
	}
	return out
}

// renderRunLine renders a log line of an Ansible run for people; ok is false
// for other lines. An empty line with ok drops the entry: task starts show
// only when debug is on.
func renderRunLine(msg string, fields []zapcore.Field, debug bool) (line string, rest []zapcore.Field, ok bool) {
	r := newRunFields(fields)
	switch {
	case r.has(runner.LogKeyResult) && r.has("task"):
		return renderResult(r), r.rest("task", "role", runner.LogKeyResult, "duration", "message"), true
	case msg == runner.LogTaskStarted && r.has("task"):
		if !debug {
			return "", nil, true
		}
		return "started: " + r.resource() + " " + r.task(), r.rest("task", "role"), true
	case msg == runner.LogRecap:
		return renderRecap(r), r.rest(recapKeys...), true
	case msg == runner.LogAnsibleOutput && r.has("line"):
		return r.resource() + " " + r.str("line"), r.rest("line"), true
	}
	return "", nil, false
}

func renderResult(r runFields) string {
	status := runner.TaskStatus(r.str(runner.LogKeyResult))
	word, known := resultWords[status]
	if !known {
		word = string(status)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s %s", word, r.resource(), r.task())
	if f, ok := r.byID["duration"]; ok && f.Type == zapcore.DurationType {
		fmt.Fprintf(&b, " %.2fs", time.Duration(f.Integer).Seconds())
	}
	switch status {
	case runner.TaskFailed, runner.TaskRescued:
		b.WriteString(": FAILED!")
	case runner.TaskUnreachable:
		b.WriteString(": UNREACHABLE!")
	case runner.TaskIgnored:
		b.WriteString(": FAILED! (ignored)")
	}
	if msg := r.str("message"); msg != "" {
		b.WriteString(" => " + oneLine(msg))
	}
	return b.String()
}

func renderRecap(r runFields) string {
	var b strings.Builder
	b.WriteString("PLAY RECAP " + r.resource())
	for _, k := range recapKeys {
		if f, ok := r.byID[k]; ok && f.Type == zapcore.Int64Type {
			fmt.Fprintf(&b, " %s=%d", k, f.Integer)
		}
	}
	return b.String()
}

// oneLine keeps a message on its line, as Ansible shows it inside JSON.
func oneLine(s string) string {
	return strings.NewReplacer("\r", "", "\n", `\n`).Replace(strings.TrimSpace(s))
}
