package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

func TestChooseLogFormat(t *testing.T) {
	tests := []struct {
		format, encoder string
		devel, terminal bool
		want, wantErr   string
	}{
		{format: "auto", want: "json"},
		{format: "auto", terminal: true, want: "text"},
		{format: "auto", devel: true, want: "text"},
		{format: "auto", encoder: "json", terminal: true, want: "json"},
		{format: "auto", encoder: "json", devel: true, want: "json"},
		{format: "auto", encoder: "console", want: "text"},
		{format: "json", terminal: true, want: "json"},
		{format: "json", devel: true, want: "json"},
		{format: "json", encoder: "json", want: "json"},
		{format: "text", want: "text"},
		{format: "text", encoder: "console", want: "text"},
		{format: "text", encoder: "json", wantErr: "--log-format text and --zap-encoder json disagree"},
		{format: "json", encoder: "console", wantErr: "disagree"},
		{format: "yaml", wantErr: `--log-format "yaml": want auto, json or text`},
	}
	for _, tt := range tests {
		name := strings.Join([]string{tt.format, "encoder=" + tt.encoder}, " ")
		if tt.devel {
			name += " devel"
		}
		if tt.terminal {
			name += " terminal"
		}
		t.Run(name, func(t *testing.T) {
			got, err := chooseLogFormat(tt.format, tt.encoder, tt.devel, tt.terminal)
			switch {
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error %v, want one containing %s", err, tt.wantErr)
			case tt.wantErr == "" && (err != nil || got != tt.want):
				t.Errorf("= %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestLogFormatFlags(t *testing.T) {
	f, err := parse(t, "--zap-encoder", "JSON", "--log-format", "text")
	if err == nil || !strings.Contains(err.Error(), "disagree") {
		t.Errorf("--zap-encoder JSON --log-format text: %v, want a disagreement", err)
	}
	if f.ZapEncoder != "json" {
		t.Errorf("ZapEncoder = %q, want json", f.ZapEncoder)
	}
	if f, _ := parse(t); f.LogFormat != "auto" || f.ZapEncoder != "" {
		t.Errorf("defaults: --log-format %q, encoder %q; want auto and none", f.LogFormat, f.ZapEncoder)
	}
}

// runLog logs what a run logs through the reconcile logger of a Basic
// ns/x, in format, and returns the output lines.
func runLog(t *testing.T, format string, zapOpts zap.Options) []string {
	t.Helper()
	var out bytes.Buffer
	root := newLogger(&zapOpts, format, &out)
	log := root.WithValues("controller", "basic", "controllerGroup", "ops.example.com", "controllerKind", "Basic",
		"Basic", map[string]string{"name": "x", "namespace": "ns"}, "namespace", "ns", "name", "x",
		"reconcileID", "7f3c").WithValues("job", "20261129T000000.000000Z-abcd")
	root.WithName("setup").Info("starting", "watches", 1)
	log.WithValues("task", "Create the ConfigMap", "role", "testop").Info("task started")
	log.WithValues("task", "Create the ConfigMap", "role", "testop", "result", "changed", "duration", 412*time.Millisecond).
		Info("task changed")
	log.WithValues("task", "Check the spec", "result", "failed", "duration", 50*time.Millisecond).
		Info("task failed", "message", "spec.size must be\npositive")
	log.WithValues("task", "Lint", "result", "ignored").Info("task failed, ignored", "message", "meh")
	log.Info("PLAY RECAP", "ok", 3, "changed", 1, "unreachable", 0, "failed", 1, "skipped", 0, "rescued", 0, "ignored", 0)
	log.Info("reconciled", "requeueAfter", "1h")
	return strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
}

func TestTextLogLines(t *testing.T) {
	lines := runLog(t, logFormatText, zap.Options{})
	want := []string{
		"INFO\tsetup\tstarting\t{\"watches\": 1}",
		"INFO\tchanged: [Basic ns/x] TASK [testop : Create the ConfigMap] 0.41s",
		"INFO\tfatal: [Basic ns/x] TASK [Check the spec] 0.05s: FAILED! => spec.size must be\\npositive",
		"INFO\tfatal: [Basic ns/x] TASK [Lint]: FAILED! (ignored) => meh",
		"INFO\tPLAY RECAP [Basic ns/x] ok=3 changed=1 unreachable=0 failed=1 skipped=0 rescued=0 ignored=0",
		"INFO\treconciled\t{\"controller\": \"basic\"",
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	for i, w := range want {
		if _, rest, _ := strings.Cut(lines[i], "\t"); !strings.HasPrefix(rest, w) {
			t.Errorf("line %d:\n got %q\nwant %q after the time", i, lines[i], w)
		}
	}
}

func TestTextLogLinesShowTaskStartsAtDebug(t *testing.T) {
	lines := runLog(t, logFormatText, zap.Options{Development: true})
	if len(lines) < 2 || !strings.Contains(lines[1], "\tstarted: [Basic ns/x] TASK [testop : Create the ConfigMap]") {
		t.Errorf("second line %q, want the task start", lines[1])
	}
}

func TestJSONLogLinesKeepEveryKey(t *testing.T) {
	lines := runLog(t, logFormatJSON, zap.Options{})
	var entry map[string]any
	if err := json.Unmarshal([]byte(lines[3]), &entry); err != nil {
		t.Fatalf("line %q: %v", lines[3], err)
	}
	for k, v := range map[string]any{"msg": "task failed", "controllerKind": "Basic", "namespace": "ns", "name": "x",
		"task": "Check the spec", "result": "failed", "duration": 0.05, "message": "spec.size must be\npositive",
		"job": "20261129T000000.000000Z-abcd"} {
		if entry[k] != v {
			t.Errorf("%s = %v, want %v (line %s)", k, entry[k], v, lines[3])
		}
	}
}
