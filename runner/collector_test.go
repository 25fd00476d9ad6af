package runner

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/google/go-cmp/cmp"
)

func TestParseEventTime(t *testing.T) {
	tests := []struct {
		name, in string
		want     time.Time
		wantErr  bool
	}{
		{"ansible-runner 2.3, no offset", "2026-11-21T05:31:49.837556", time.Date(2026, 11, 21, 5, 31, 49, 837556000, time.UTC), false},
		{"ansible-runner 2.4, +00:00", "2026-11-21T05:31:49.837556+00:00", time.Date(2026, 11, 21, 5, 31, 49, 837556000, time.UTC), false},
		{"no fraction, no offset", "2026-11-21T05:31:49", time.Date(2026, 11, 21, 5, 31, 49, 0, time.UTC), false},
		{"Z suffix", "2026-11-21T05:31:49.5Z", time.Date(2026, 11, 21, 5, 31, 49, 500000000, time.UTC), false},
		{"other offset", "2026-11-21T07:31:49+02:00", time.Date(2026, 11, 21, 5, 31, 49, 0, time.UTC), false},
		{"empty", "", time.Time{}, true},
		{"not a time", "yesterday", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEventTime(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseEventTime(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if !got.Equal(tt.want) {
				t.Errorf("ParseEventTime(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// eventLine encodes one ansible-runner event line.
func eventLine(t *testing.T, event, created string, data map[string]any) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"event": event, "created": created, "event_data": data, "stdout": ""})
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

func collect(t *testing.T, lines ...string) *collector {
	t.Helper()
	c := newCollector("job", "/artifacts/job", eventLogger{log: logr.Discard(), mode: LogTasks})
	if err := c.read(strings.NewReader(strings.Join(lines, ""))); err != nil {
		t.Fatalf("read: %v", err)
	}
	return c
}

func task(name string) map[string]any {
	return map[string]any{"task": name, "host": "localhost", "task_path": "/p.yml:1", "resolved_action": "ansible.builtin.debug"}
}

func withRes(d map[string]any, res map[string]any) map[string]any {
	d["res"] = res
	return d
}

func stats(failures, rescued int) map[string]any {
	return map[string]any{
		"ok": map[string]int{"localhost": 4}, "changed": map[string]int{"localhost": 1},
		"failures": map[string]int{"localhost": failures}, "rescued": map[string]int{"localhost": rescued},
		"skipped": map[string]int{}, "dark": map[string]int{}, "ignored": map[string]int{},
	}
}

func TestCollectorToleratesLargeAndForeignLines(t *testing.T) {
	big := strings.Repeat("x", 200<<10) // beyond any default 64 KiB line limit
	c := collect(t,
		"not json at all\n",
		"\n",
		`{"half": "an object"`+"\n",
		eventLine(t, eventTaskStart, "2026-11-21T05:31:48", task("big")),
		eventLine(t, eventOk, "2026-11-21T05:31:49", withRes(task("big"), map[string]any{"msg": big, "changed": true})),
		eventLine(t, eventStats, "2026-11-21T05:31:50.25+00:00", stats(0, 0)),
	)
	res := c.result()
	want := []TaskEvent{{Name: "big", Action: "ansible.builtin.debug", Path: "/p.yml:1", Host: "localhost", Status: TaskChanged}}
	if diff := cmp.Diff(want, res.Tasks); diff != "" {
		t.Errorf("tasks (-want +got):\n%s", diff)
	}
	if want := time.Date(2026, 11, 21, 5, 31, 50, 250000000, time.UTC); !res.Completion.Equal(want) {
		t.Errorf("completion = %v, want %v", res.Completion, want)
	}
	if !c.sawStats || res.Stats.Ok != 4 || res.Stats.Changed != 1 {
		t.Errorf("stats = %+v (seen %v), want ok 4 changed 1", res.Stats, c.sawStats)
	}
	if c.badLines != 2 || !strings.Contains(c.tail.String(), "not json at all") {
		t.Errorf("bad lines = %d, tail %q; want 2 and the foreign line kept", c.badLines, c.tail.String())
	}
}

func TestCollectorDropsOverlongLine(t *testing.T) {
	huge := `{"event": "verbose", "stdout": "` + strings.Repeat("y", maxLineBytes) + `"}` + "\n"
	c := collect(t, huge, eventLine(t, eventStats, "2026-11-21T05:31:50", stats(0, 0)))
	if !c.sawStats {
		t.Error("the event after an overlong line was lost")
	}
	if !strings.Contains(c.tail.String(), "was dropped") {
		t.Errorf("tail %q does not mention the dropped line", c.tail.String())
	}
}

func TestCollectorFailures(t *testing.T) {
	failed := func(name, msg string) string {
		return eventLine(t, eventFailed, "2026-11-21T05:31:49", withRes(task(name), map[string]any{"msg": msg}))
	}
	tests := []struct {
		name  string
		lines []string
		want  []string // task names of Result.Failures
	}{
		{"no stats: every failure counts", []string{failed("a", "m1"), failed("b", "m2")}, []string{"a", "b"}},
		{"stats count one failure: earlier ones were rescued", []string{failed("a", "m1"), failed("b", "m2"),
			eventLine(t, eventStats, "2026-11-21T05:31:50", stats(1, 1))}, []string{"b"}},
		{"all rescued", []string{failed("a", "m1"), eventLine(t, eventStats, "2026-11-21T05:31:50", stats(0, 1))}, nil},
		{"unreachable is a failure", []string{eventLine(t, eventUnreachable, "2026-11-21T05:31:49",
			withRes(task("u"), map[string]any{"msg": "gone"})), eventLine(t, eventStats, "2026-11-21T05:31:50", stats(0, 0))},
			[]string{"u"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, f := range collect(t, tt.lines...).result().Failures {
				got = append(got, f.Task)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("failures (-want +got):\n%s", diff)
			}
		})
	}
}

// ansible-runner empties the res of a result over MAX_EVENT_RES; the failure
// message then comes from what Ansible displayed.
func TestCollectorDroppedResultMessage(t *testing.T) {
	display := `fatal: [localhost]: FAILED! => {"changed": false, "msg": "Failed to apply object: Too long"}`
	tests := []struct {
		name   string
		res    map[string]any
		stdout string
		want   string
	}{
		{"res dropped: the display", map[string]any{}, display, display},
		{"res dropped: the display without colours", map[string]any{}, "\x1b[0;31m" + display + "\x1b[0m", display},
		{"res dropped, huge display: cut", map[string]any{}, strings.Repeat("y", 10<<10), strings.Repeat("y", maxDisplayMessage) + "…"},
		{"res kept: its msg", map[string]any{"msg": "from res"}, display, "from res"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(map[string]any{"event": eventFailed, "created": "2026-11-21T05:31:49",
				"event_data": withRes(task("apply"), tt.res), "stdout": tt.stdout})
			if err != nil {
				t.Fatal(err)
			}
			c := collect(t, string(b)+"\n")
			res := c.result()
			if len(res.Failures) != 1 {
				t.Fatalf("failures = %v, want one", res.Failures)
			}
			if diff := cmp.Diff(tt.want, res.Failures[0].Message); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCollectorRequeue(t *testing.T) {
	okWith := func(action string, res map[string]any) string {
		d := task("t")
		d["resolved_action"] = action
		return eventLine(t, eventOk, "2026-11-21T05:31:49", withRes(d, res))
	}
	tests := []struct {
		name        string
		lines       []string
		want        time.Duration
		wantFailure string
	}{
		{"requeue_after", []string{okWith("x.y.z", map[string]any{"requeue_after": "45s"})}, 45 * time.Second, ""},
		{"last wins", []string{okWith("x.y.z", map[string]any{"requeue_after": "1h"}),
			okWith("x.y.z", map[string]any{"requeue_after": "2m"})}, 2 * time.Minute, ""},
		{"upstream module period", []string{okWith(upstreamRequeueAction, map[string]any{"period": "5m"})}, 5 * time.Minute, ""},
		{"period of another module is not a requeue", []string{okWith("my.own.module", map[string]any{"period": "5m"})}, 0, ""},
		{"not a string", []string{okWith("x.y.z", map[string]any{"requeue_after": 30})}, 0, "want a duration string"},
		{"negative", []string{okWith("x.y.z", map[string]any{"requeue_after": "-1s"})}, 0, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := collect(t, tt.lines...).result()
			if res.RequeueAfter != tt.want {
				t.Errorf("RequeueAfter = %v, want %v", res.RequeueAfter, tt.want)
			}
			switch {
			case tt.wantFailure == "" && res.Failures != nil:
				t.Errorf("failures = %+v, want none", res.Failures)
			case tt.wantFailure != "" && (len(res.Failures) != 1 || !strings.Contains(res.Failures[0].Message, tt.wantFailure)):
				t.Errorf("failures = %+v, want one containing %q", res.Failures, tt.wantFailure)
			}
		})
	}
}

func TestTaskResultMessage(t *testing.T) {
	tests := []struct {
		name string
		res  taskResult
		want string
	}{
		{"string", taskResult{Msg: "boom"}, "boom"},
		{"list", taskResult{Msg: []any{"a", "b"}}, `["a","b"]`},
		{"censored", taskResult{Msg: "hidden", Censored: "the output has been hidden"}, "the output has been hidden"},
		{"no_log without censoring", taskResult{Msg: "hidden", NoLog: true}, censoredNotice},
		{"none", taskResult{}, ""},
		{"module crash: the last exception", taskResult{
			Msg: "MODULE FAILURE\nSee stdout/stderr for the exact error",
			ModuleStderr: "Traceback (most recent call last):\n  File \"rest.py\", line 234, in request\n    raise ApiException(http_resp=r)\n" +
				"kubernetes.client.exceptions.ApiException: (503)\nReason: Service Unavailable\n\n" +
				"During handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\n" +
				"kubernetes.dynamic.exceptions.ServiceUnavailableError: 503\nReason: Service Unavailable\n" +
				"HTTP response body: b'{}'\nOriginal traceback: \n  File \"rest.py\", line 234, in request\n    raise ApiException(http_resp=r)\n\n",
		}, "MODULE FAILURE\nSee stdout/stderr for the exact error: kubernetes.dynamic.exceptions.ServiceUnavailableError: 503; Reason: Service Unavailable"},
		{"module crash without a traceback", taskResult{Msg: "MODULE FAILURE\nSee stdout/stderr for the exact error", ModuleStderr: "killed\n"},
			"MODULE FAILURE\nSee stdout/stderr for the exact error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.res.message(); got != tt.want {
				t.Errorf("message() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLineTail(t *testing.T) {
	tail := newLineTail(3, 10)
	tail.add("\x1b[0;31mone\x1b[0m\r\ntwo")
	_, _ = tail.Write([]byte("three\nfour-is-longer-than-ten\nfi"))
	tail.add("")
	if want := "two\nthree\nfour-is-lo…\nfi"; tail.String() != want { // 3 lines, then the partial one
		t.Errorf("tail = %q, want %q", tail.String(), want)
	}
}

func TestEventLoggerLevels(t *testing.T) {
	tests := []struct {
		name       string
		mode       LogEvents
		verbosity  int
		wantTask   bool
		wantOutput bool
	}{
		{"tasks", LogTasks, 0, true, false},
		{"tasks at the default verbosity", LogTasks, 2, true, false},
		{"tasks with raised verbosity", LogTasks, 3, true, true},
		{"everything", LogEverything, 0, true, true},
		{"nothing", LogNothing, 3, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lines []string
			log := funcr.New(func(_, args string) { lines = append(lines, args) }, funcr.Options{Verbosity: 0})
			l := eventLogger{log: log, mode: tt.mode, verbosity: tt.verbosity}
			l.taskStarted(&taskData{Task: "t1"})
			l.output("\x1b[0;32mok: [localhost]\x1b[0m\r\n")
			all := strings.Join(lines, "\n")
			if got := strings.Contains(all, `"task"="t1"`); got != tt.wantTask {
				t.Errorf("task line logged = %v, want %v:\n%s", got, tt.wantTask, all)
			}
			if got := strings.Contains(all, `"line"="ok: [localhost]"`); got != tt.wantOutput {
				t.Errorf("output logged = %v, want %v:\n%s", got, tt.wantOutput, all)
			}
		})
	}
}

func TestResultLogLines(t *testing.T) {
	var lines []string
	log := funcr.New(func(_, args string) { lines = append(lines, args) }, funcr.Options{Verbosity: 0})
	c := newCollector("job", "/artifacts/job", eventLogger{log: log, mode: LogTasks})
	failed := task("Check")
	failed["duration"], failed["res"] = 0.1234, map[string]any{"msg": "boom"}
	unmeasured := task("Plain")
	unmeasured["res"] = map[string]any{"changed": true}
	in := eventLine(t, eventOk, "", unmeasured) + eventLine(t, eventFailed, "", failed)
	if err := c.read(strings.NewReader(in)); err != nil {
		t.Fatalf("read: %v", err)
	}
	want := []string{
		`"task"="Plain" "result"="changed"`,
		`"task"="Check" "result"="failed" "duration"="123ms" "message"="boom"`,
	}
	if len(lines) != len(want) {
		t.Fatalf("logged %q, want %d lines", lines, len(want))
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d = %s, want it to contain %s", i, lines[i], w)
		}
	}
}
