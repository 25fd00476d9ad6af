package runner

import (
	"strings"
	"time"

	"github.com/go-logr/logr"
)

// Messages and keys of a run's log lines that log formats for people render
// (see the package doc, "Log lines").
const (
	LogTaskStarted   = "task started"
	LogRecap         = "PLAY RECAP"
	LogAnsibleOutput = "ansible output"
	// LogKeyResult marks a task result line; its value is a TaskStatus.
	LogKeyResult = "result"
)

// eventLogger turns events into human-readable log lines. With LogTasks it
// logs one line per task start and result and the PLAY RECAP, and Ansible's
// own output at V(1), or at V(0) when the run's Ansible verbosity is raised
// above the default of 2 (the verbosity annotation of a resource then shows
// its -v output without changing the operator's log level); with LogEverything Ansible's output
// always at V(0); with LogNothing nothing. Messages of no_log results are
// Ansible's censored notice, and Ansible's output is censored by Ansible.
type eventLogger struct {
	log       logr.Logger
	mode      LogEvents
	verbosity int // Ansible verbosity of the run
}

// quietVerbosity is the Ansible verbosity up to which Ansible's own output is
// debug output: --ansible-verbosity's default.
const quietVerbosity = 2

func (l eventLogger) enabled() bool { return l.mode != LogNothing }

func (l eventLogger) taskStarted(d *taskData) {
	if !l.enabled() {
		return
	}
	l.withTask(d.Task, d.Role).Info(LogTaskStarted)
}

// taskResult logs a result; duration is what ansible-runner measured, and
// is left out when it measured nothing (negative).
func (l eventLogger) taskResult(t *TaskEvent, message string, duration time.Duration) {
	if !l.enabled() {
		return
	}
	log := l.withTask(t.Name, t.Role).WithValues(LogKeyResult, string(t.Status))
	if duration >= 0 {
		log = log.WithValues("duration", duration)
	}
	switch t.Status {
	case TaskFailed, TaskUnreachable:
		log.Info("task "+string(t.Status), "message", message)
	case TaskIgnored:
		log.Info("task failed, ignored", "message", message)
	case TaskSkipped:
		log.V(1).Info("task skipped")
	default:
		log.Info("task " + string(t.Status))
	}
}

func (l eventLogger) recap(s Stats) {
	if !l.enabled() {
		return
	}
	l.log.Info(LogRecap, "ok", s.Ok, "changed", s.Changed, "unreachable", s.Unreachable,
		"failed", s.Failures, "skipped", s.Skipped, "rescued", s.Rescued, "ignored", s.Ignored)
}

// output logs Ansible's own output, line by line.
func (l eventLogger) output(text string) {
	if !l.enabled() {
		return
	}
	log := l.log.V(1)
	if l.mode == LogEverything || l.verbosity > quietVerbosity {
		log = l.log
	}
	if !log.Enabled() {
		return
	}
	for _, line := range strings.Split(cleanOutput(text), "\n") {
		if strings.TrimSpace(line) != "" {
			log.Info(LogAnsibleOutput, "line", line)
		}
	}
}

func (l eventLogger) withTask(task, role string) logr.Logger {
	if role != "" {
		return l.log.WithValues("task", task, "role", role)
	}
	return l.log.WithValues("task", task)
}
