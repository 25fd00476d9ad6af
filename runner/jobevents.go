package runner

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Event names of ansible-runner's job events used by the Runner.
const (
	eventTaskStart        = "playbook_on_task_start"
	eventHandlerTaskStart = "playbook_on_handler_task_start"
	eventOk               = "runner_on_ok"
	eventFailed           = "runner_on_failed"
	eventSkipped          = "runner_on_skipped"
	eventUnreachable      = "runner_on_unreachable"
	eventStats            = "playbook_on_stats"
	statsHost             = "localhost"
	upstreamRequeueAction = "operator_sdk.util.requeue_after"
)

// jobEvent is one line of `ansible-runner run -j`.
type jobEvent struct {
	Event     string          `json:"event"`
	Stdout    string          `json:"stdout"`
	Created   string          `json:"created"`
	EventData json.RawMessage `json:"event_data"`
}

// taskData is the event_data of task and result events.
type taskData struct {
	Task           string          `json:"task"`
	Role           string          `json:"role"`
	TaskAction     string          `json:"task_action"`
	ResolvedAction string          `json:"resolved_action"`
	TaskPath       string          `json:"task_path"`
	Host           string          `json:"host"`
	IgnoreErrors   *bool           `json:"ignore_errors"`
	Res            json.RawMessage `json:"res"`
	// Duration is the seconds a result took, as ansible-runner measured
	// them; absent (nil) when it did not.
	Duration *float64 `json:"duration"`
}

// duration returns Duration, or -1 when absent.
func (d *taskData) duration() time.Duration {
	if d.Duration == nil || *d.Duration < 0 {
		return -1
	}
	return time.Duration(*d.Duration * float64(time.Second)).Round(time.Millisecond)
}

func (d *taskData) action() string {
	if d.ResolvedAction != "" {
		return d.ResolvedAction
	}
	return d.TaskAction
}

// statsData is the event_data of playbook_on_stats: counters per host.
type statsData struct {
	Ok       map[string]int `json:"ok"`
	Changed  map[string]int `json:"changed"`
	Skipped  map[string]int `json:"skipped"`
	Failures map[string]int `json:"failures"`
	Dark     map[string]int `json:"dark"`
	Rescued  map[string]int `json:"rescued"`
	Ignored  map[string]int `json:"ignored"`
}

func (s *statsData) stats(host string) Stats {
	return Stats{
		Ok: s.Ok[host], Changed: s.Changed[host], Skipped: s.Skipped[host], Failures: s.Failures[host],
		Unreachable: s.Dark[host], Rescued: s.Rescued[host], Ignored: s.Ignored[host],
	}
}

// taskResult is the part of event_data.res the Runner reads.
type taskResult struct {
	Msg          any    `json:"msg"`
	Changed      bool   `json:"changed"`
	NoLog        bool   `json:"_ansible_no_log"`
	Censored     string `json:"censored"`
	RequeueAfter any    `json:"requeue_after"`
	Period       any    `json:"period"`
	// ModuleStderr holds the traceback of a module that crashed ("MODULE
	// FAILURE"): its last line says why.
	ModuleStderr string `json:"module_stderr"`
}

// censoredNotice replaces a message of a no_log result that Ansible did not
// censor itself.
const censoredNotice = "the output has been hidden due to the fact that 'no_log: true' was specified for this result"

// message returns res.msg as text, or Ansible's censored notice for a
// no_log result.
func (r *taskResult) message() string {
	switch {
	case r.Censored != "":
		return r.Censored
	case r.NoLog:
		return censoredNotice
	case r.Msg == nil:
		return ""
	}
	if s, ok := r.Msg.(string); ok {
		if why := moduleCrash(r.ModuleStderr); why != "" && strings.HasPrefix(s, "MODULE FAILURE") {
			return s + ": " + why
		}
		return s
	}
	b, err := json.Marshal(r.Msg)
	if err != nil {
		return fmt.Sprint(r.Msg)
	}
	return string(b)
}

// exceptionLine is the first line of a Python exception in a traceback:
// "kubernetes.dynamic.exceptions.ServiceUnavailableError: 503".
var exceptionLine = regexp.MustCompile(`^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\w*(:|$)`)

// moduleCrash names the last exception of a crashed module's traceback, and
// the HTTP reason of Kubernetes client errors that carry one.
func moduleCrash(stderr string) string {
	lines := strings.Split(stderr, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if !exceptionLine.MatchString(lines[i]) {
			continue
		}
		why := strings.TrimSpace(lines[i])
		if i+1 < len(lines) && strings.HasPrefix(lines[i+1], "Reason: ") {
			why += "; " + strings.TrimSpace(lines[i+1])
		}
		return why
	}
	return ""
}

// requeuePeriod returns the requeue period a result asks for, if any.
func (r *taskResult) requeuePeriod(action string) (time.Duration, bool, error) {
	raw := r.RequeueAfter
	if raw == nil && action == upstreamRequeueAction {
		raw = r.Period
	}
	if raw == nil {
		return 0, false, nil
	}
	s, ok := raw.(string)
	if !ok {
		return 0, true, fmt.Errorf("requeue_after %v is a %T, want a duration string such as \"30s\" or \"1m30s\"", raw, raw)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, true, fmt.Errorf("requeue_after %q is not a duration such as \"30s\" or \"1m30s\": %w", s, err)
	}
	if d < 0 {
		return 0, true, fmt.Errorf("requeue_after %q is negative", s)
	}
	return d, true, nil
}

// ParseEventTime parses the created time of an ansible-runner event.
// ansible-runner 2.3 writes UTC times without an offset
// ("2026-11-21T05:31:49.837556"); 2.4 adds one ("...+00:00"). Python omits
// the fraction when it is zero.
func ParseEventTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.UTC)
	if err != nil {
		return time.Time{}, fmt.Errorf("event time %q: want ISO 8601 such as 2026-11-21T05:31:49.837556 with or without +00:00", s)
	}
	return t, nil
}
