package runner

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

const (
	// maxLineBytes bounds one stdout line kept in memory; longer lines are
	// dropped (k8s module results of several MiB stay well below it).
	maxLineBytes = 32 << 20
	// readBufferBytes is the read buffer; lines longer than it are assembled.
	readBufferBytes = 64 << 10
	// tailLines and tailLineBytes bound the output kept for error messages.
	tailLines     = 20
	tailLineBytes = 512
)

// failureRecord is a failed result; a rescuable one may still turn out
// rescued when the stats arrive.
type failureRecord struct {
	task      int // index in Result.Tasks
	host      string
	rescuable bool
	rescued   bool
	failure   TaskFailure
}

// collector builds a Result from the event stream of one run. It is owned by
// the single goroutine that reads the stream until read returns.
type collector struct {
	res      Result
	log      eventLogger
	current  *taskData // last task started, for error messages
	failures []failureRecord
	sawStats bool
	tail     *lineTail
	badLines int

	// maxBytes bounds the stream read (0: unbounded); past it onLimit is
	// called once and later lines are dropped unread, so that what the
	// Result and the log take stays bounded too.
	maxBytes  int64
	onLimit   func()
	readBytes int64
}

func newCollector(ident, artifactDir string, log eventLogger) *collector {
	return &collector{
		res:  Result{Ident: ident, ArtifactDir: artifactDir},
		log:  log,
		tail: newLineTail(tailLines, tailLineBytes),
	}
}

// overLimit counts n more bytes read and reports whether the stream has
// passed maxBytes, calling onLimit the first time.
func (c *collector) overLimit(n int) bool {
	was := c.maxBytes > 0 && c.readBytes > c.maxBytes
	c.readBytes += int64(n)
	now := c.maxBytes > 0 && c.readBytes > c.maxBytes
	if now && !was && c.onLimit != nil {
		c.onLimit()
	}
	return now
}

// read consumes r line by line until EOF or a read error, such as the
// deadline set once the process exited.
func (c *collector) read(r io.Reader) error {
	br := bufio.NewReaderSize(r, readBufferBytes)
	var line []byte
	tooLong := false
	for {
		chunk, err := br.ReadSlice('\n')
		over := c.overLimit(len(chunk))
		switch {
		case over:
			tooLong, line = false, line[:0] // dropped unread
		case tooLong:
		case len(line)+len(chunk) > maxLineBytes:
			tooLong, line = true, line[:0]
		default:
			line = append(line, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		switch {
		case over:
		case tooLong:
			c.tail.add(fmt.Sprintf("[a line longer than %d bytes was dropped]", maxLineBytes))
			c.badLines++
		case len(bytes.TrimSpace(line)) > 0:
			c.handleLine(line)
		}
		if cap(line) > 4*readBufferBytes {
			line = nil // do not keep a huge buffer for the rest of the run
		}
		line, tooLong = line[:0], false
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return nil
		case errors.Is(err, os.ErrDeadlineExceeded):
			return errors.New("stdout stayed open after ansible-runner exited; later events were not read")
		default:
			return err
		}
	}
}

func (c *collector) handleLine(line []byte) {
	var ev jobEvent
	if err := json.Unmarshal(line, &ev); err != nil || ev.Event == "" {
		text := string(bytes.TrimRight(line, "\r\n"))
		c.badLines++
		c.tail.add(text)
		c.log.output(text)
		return
	}
	if ev.Stdout != "" {
		c.tail.add(ev.Stdout)
		c.log.output(ev.Stdout)
	}
	c.handleEvent(&ev)
}

func (c *collector) handleEvent(ev *jobEvent) {
	if ev.Event == eventStats {
		c.handleStats(ev)
		return
	}
	var data taskData
	if len(ev.EventData) == 0 || json.Unmarshal(ev.EventData, &data) != nil {
		return
	}
	switch ev.Event {
	case eventTaskStart, eventHandlerTaskStart:
		c.current = &data
		c.log.taskStarted(&data)
	case eventOk, eventFailed, eventSkipped, eventUnreachable:
		c.handleResult(ev.Event, &data, ev.Stdout)
	}
}

// maxDisplayMessage bounds a failure message taken from the displayed output.
const maxDisplayMessage = 4 << 10

func (c *collector) handleResult(event string, data *taskData, stdout string) {
	var res taskResult
	if len(data.Res) > 0 {
		_ = json.Unmarshal(data.Res, &res) // a result without the fields we read is still a result
	}
	msg := res.message()
	if msg == "" && resDropped(data.Res) && event != eventOk {
		msg = displayedMessage(stdout)
	}
	task := TaskEvent{Name: data.Task, Role: data.Role, Action: data.action(), Path: data.TaskPath, Host: data.Host}
	failure := failureRecord{task: len(c.res.Tasks), host: data.Host,
		failure: TaskFailure{Task: data.Task, Role: data.Role, TaskPath: data.TaskPath, Message: msg}}
	switch event {
	case eventOk:
		task.Status = TaskOk
		if res.Changed {
			task.Status = TaskChanged
		}
		if d, found, err := res.requeuePeriod(data.action()); err != nil {
			failure.failure.Message = err.Error()
			c.failures = append(c.failures, failure)
		} else if found {
			c.res.RequeueAfter = d
		}
	case eventSkipped:
		task.Status = TaskSkipped
	case eventUnreachable:
		task.Status = TaskUnreachable
		c.failures = append(c.failures, failure)
	case eventFailed:
		task.Status = TaskFailed
		if data.IgnoreErrors != nil && *data.IgnoreErrors {
			task.Status = TaskIgnored
		} else {
			failure.rescuable = true
			c.failures = append(c.failures, failure)
		}
	}
	c.res.Tasks = append(c.res.Tasks, task)
	c.log.taskResult(&task, failure.failure.Message, data.duration())
}

// resDropped reports an empty result: ansible-runner replaces a result
// larger than MAX_EVENT_RES (700000 characters) with {} in the event.
func resDropped(res json.RawMessage) bool {
	r := strings.TrimSpace(string(res))
	return r == "" || r == "{}" || r == "null"
}

// displayedMessage is the failure as Ansible displayed it ("fatal:
// [localhost]: FAILED! => {...}"), cut to maxDisplayMessage. Ansible
// censors no_log results in its display too.
func displayedMessage(stdout string) string {
	s := strings.TrimSpace(cleanOutput(stdout))
	if len(s) > maxDisplayMessage {
		s = strings.ToValidUTF8(s[:maxDisplayMessage], "") + "…"
	}
	return s
}

// handleStats records the counters and settles the pending failures: Ansible
// counts a failure as rescued when a rescue section takes over, and a host
// stops at its first failure that is not rescued, so of a host's n failed
// results all but the last stats.failures[host] were rescued.
func (c *collector) handleStats(ev *jobEvent) {
	var data statsData
	if err := json.Unmarshal(ev.EventData, &data); err != nil {
		c.tail.add(fmt.Sprintf("[playbook_on_stats event not understood: %v]", err))
		return
	}
	c.sawStats = true
	c.res.Stats = data.stats(statsHost)
	if t, err := ParseEventTime(ev.Created); err == nil {
		c.res.Completion = t
	} else {
		c.tail.add(err.Error())
	}
	c.settleRescued(data.Failures)
	c.log.recap(c.res.Stats)
}

// settleRescued marks all but the last failures[host] rescuable failures of
// each host as rescued.
func (c *collector) settleRescued(failures map[string]int) {
	keep := map[string]int{}
	for i := len(c.failures) - 1; i >= 0; i-- {
		f := &c.failures[i]
		if !f.rescuable {
			continue
		}
		if keep[f.host] < failures[f.host] {
			keep[f.host]++
			continue
		}
		f.rescued = true
		c.res.Tasks[f.task].Status = TaskRescued
	}
}

// result returns the Result. Without stats no failure can be known to be
// rescued, so all are reported.
func (c *collector) result() *Result {
	res := c.res
	res.Failures = nil
	for _, f := range c.failures {
		if !f.rescued {
			res.Failures = append(res.Failures, f.failure)
		}
	}
	return &res
}

// runningTask describes the task that was running, for error messages.
func (c *collector) runningTask() string {
	if c.current == nil {
		return "before the first task"
	}
	if c.current.Role != "" {
		return fmt.Sprintf("in task %q of role %q", c.current.Task, c.current.Role)
	}
	return fmt.Sprintf("in task %q", c.current.Task)
}
