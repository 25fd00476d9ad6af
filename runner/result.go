package runner

import (
	"errors"
	"time"
)

var (
	// ErrTimeout is wrapped by the error of a run that hit Options.Timeout.
	ErrTimeout = errors.New("run timed out")
	// ErrCanceled is wrapped by the error of a run whose ctx was canceled;
	// the error also wraps the context's cause.
	ErrCanceled = errors.New("run canceled")
	// ErrIncomplete is wrapped by the error of a run whose process ended
	// without a playbook_on_stats event (a crash, a syntax error, a kill from
	// outside).
	ErrIncomplete = errors.New("run ended without a playbook_on_stats event")
	// ErrOutputLimit is wrapped by the error of a run killed because its
	// event stream passed half of Options.MaxArtifactBytes.
	ErrOutputLimit = errors.New("run killed for its output")
)

// Result is what one run produced. Run returns a Result whenever
// ansible-runner started, also alongside an error.
type Result struct {
	// Ident is the ansible-runner job ident; the artifacts are in ArtifactDir
	// ("" with RunOptions.DiscardArtifacts: there are none).
	Ident       string
	ArtifactDir string
	// Stats are the counters of playbook_on_stats for localhost.
	Stats Stats
	// Completion is the time of the playbook_on_stats event; zero without one.
	Completion time.Time
	// Failures are the failed tasks that were neither ignored (ignore_errors)
	// nor rescued, in order, plus unreachable results and tasks that returned
	// an invalid requeue period.
	Failures []TaskFailure
	// RequeueAfter is the period asked for by the last task result that set
	// one; 0 if none did.
	RequeueAfter time.Duration
	// Tasks are the task results in the order they arrived.
	Tasks []TaskEvent
}

// Failed reports whether the playbook failed: a task failed, a host was
// unreachable, or the stats count a failure.
func (r *Result) Failed() bool {
	return len(r.Failures) > 0 || r.Stats.Failures > 0 || r.Stats.Unreachable > 0
}

// Stats are the counters Ansible prints in its PLAY RECAP. Failures does not
// include Unreachable, as in upstream's ansibleResult.
type Stats struct {
	Ok          int
	Changed     int
	Skipped     int
	Failures    int
	Unreachable int
	Rescued     int
	Ignored     int
}

// TaskStatus is the outcome of one task on one host.
type TaskStatus string

// Task outcomes.
const (
	TaskOk          TaskStatus = "ok"
	TaskChanged     TaskStatus = "changed"
	TaskFailed      TaskStatus = "failed"
	TaskIgnored     TaskStatus = "ignored" // failed with ignore_errors
	TaskRescued     TaskStatus = "rescued" // failed, then handled by a rescue section
	TaskSkipped     TaskStatus = "skipped"
	TaskUnreachable TaskStatus = "unreachable"
)

// TaskEvent is the result of one task on one host.
type TaskEvent struct {
	Name   string // as Ansible shows it; the action name for unnamed tasks
	Role   string // the role the task belongs to, if any
	Action string // the resolved action, e.g. "ansible.builtin.debug"
	Path   string // file:line of the task
	Host   string
	Status TaskStatus
}

// TaskFailure describes a failed task.
type TaskFailure struct {
	Task     string // task name
	Role     string // the role the task belongs to, if any
	TaskPath string // file:line of the task
	// Message is res.msg of the result; for a task with no_log it is
	// Ansible's censored notice, never the hidden values.
	Message string
}
