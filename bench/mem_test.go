package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mcrouter-operator/mcrouter-operator/internal/procfs"
)

// rollupText is /proc/<pid>/smaps_rollup as kernel 6.x writes it.
const rollupText = `00400000-7fffa4fac000 ---p 00000000 00:00 0                              [rollup]
Rss:               80512 kB
Pss:               78709 kB
Pss_Dirty:         66960 kB
Pss_Anon:          66960 kB
Pss_File:          11749 kB
Shared_Clean:       2024 kB
Private_Dirty:     66960 kB
Swap:                  0 kB
SwapPss:               0 kB
`

func TestParseRollup(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    rollup
		ok      bool
		wantErr string
	}{
		{"kernel 6", rollupText, rollup{RSS: 80512 * 1024, PSS: 78709 * 1024}, true, ""},
		{"a process without memory", "", rollup{}, false, ""},
		{"only Rss", "Rss: 12 kB\n", rollup{RSS: 12 * 1024}, false, ""},
		{"Pss_Anon is not Pss", "Rss: 4 kB\nPss_Anon: 3 kB\n", rollup{RSS: 4 * 1024}, false, ""},
		{"not in kB", "Rss: 4 MB\nPss: 3 kB\n", rollup{}, false, `smaps_rollup Rss: "4 MB" is not a size in kB`},
		{"not a number", "Rss: 4 kB\nPss: x kB\n", rollup{}, false, "smaps_rollup Pss"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := parseRollup(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || ok != tt.ok {
				t.Errorf("got %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// fakeProc writes files under root/<pid>/ for each pid: name → content.
func fakeProc(t *testing.T, root string, procs map[int]map[string]string) {
	t.Helper()
	for pid, files := range procs {
		for name, content := range files {
			writeFile(t, filepath.Join(root, itoa(pid), name), content)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestReadRollupAndMemSample(t *testing.T) {
	root := t.TempDir()
	roll := func(rss, pss int) string {
		return "[rollup]\nRss: " + itoa(rss) + " kB\nPss: " + itoa(pss) + " kB\n"
	}
	fakeProc(t, root, map[int]map[string]string{
		201: {"smaps_rollup": roll(500, 300)}, // the server
		202: {"smaps_rollup": roll(100, 40)},  // a fork
		203: {"smaps_rollup": roll(120, 60)},  // its playbook
		204: {"smaps_rollup": ""},             // a zombie: no memory
	})
	// 205 ended: no directory.
	parts := treeParts{Servers: []int{201}, Runs: 2, RunPIDs: []int{202, 203, 204, 205}}
	got, err := readMemSample(root, parts)
	if err != nil {
		t.Fatal(err)
	}
	want := memSample{Runs: 2, RunPSS: 100 * 1024, RunRSS: 220 * 1024, ServerPSS: 300 * 1024, ServerRSS: 500 * 1024}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// A rollup that cannot be read for another reason is an error naming the process.
	if err := os.Chmod(filepath.Join(root, "203", "smaps_rollup"), 0); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 { // root reads a file of mode 0 anyway
		if _, err := readMemSample(root, parts); err == nil || !strings.Contains(err.Error(), "process 203") {
			t.Errorf("unreadable rollup: error %v, want one naming process 203", err)
		}
	}
	writeFile(t, filepath.Join(root, "206", "smaps_rollup"), "Rss: 1 MB\nPss: 1 kB\n")
	if _, _, err := readRollup(root, 206); err == nil || !strings.Contains(err.Error(), "process 206") {
		t.Errorf("bad rollup: error %v, want one naming process 206", err)
	}
}

func TestSplitTree(t *testing.T) {
	servers := map[int]bool{11: true}
	isServer := func(pid int) bool { return servers[pid] }
	tests := []struct {
		name string
		tree []procfs.Stat
		want treeParts
	}{
		{"runner executor: children of the operator are runs", []procfs.Stat{
			{PID: 10, PPID: 1},
			{PID: 12, PPID: 10}, {PID: 13, PPID: 10},
			{PID: 14, PPID: 12}, {PID: 15, PPID: 14},
		}, treeParts{Runs: 2, RunPIDs: []int{12, 13, 14, 15}}},
		{"warm executor: children of the server are runs", []procfs.Stat{
			{PID: 10, PPID: 1},
			{PID: 11, PPID: 10},
			{PID: 20, PPID: 11}, {PID: 21, PPID: 11},
			{PID: 22, PPID: 20}, {PID: 23, PPID: 22},
		}, treeParts{Servers: []int{11}, Runs: 2, RunPIDs: []int{20, 21, 22, 23}}},
		{"warm executor falling back: an exec'd run beside the forks", []procfs.Stat{
			{PID: 10, PPID: 1},
			{PID: 11, PPID: 10}, {PID: 30, PPID: 10},
			{PID: 20, PPID: 11},
		}, treeParts{Servers: []int{11}, Runs: 2, RunPIDs: []int{30, 20}}},
		{"zombies are neither runs nor memory", []procfs.Stat{
			{PID: 10, PPID: 1},
			{PID: 11, PPID: 10},
			{PID: 20, PPID: 11, State: "Z"}, {PID: 21, PPID: 11, State: "S"}, {PID: 24, PPID: 21, State: "Z"},
		}, treeParts{Servers: []int{11}, Runs: 1, RunPIDs: []int{21}}},
		{"a server's cmdline deeper in the tree is a run's process", []procfs.Stat{
			{PID: 10, PPID: 1},
			{PID: 12, PPID: 10},
			{PID: 11, PPID: 12},
		}, treeParts{Runs: 1, RunPIDs: []int{12, 11}}},
		{"the operator alone", []procfs.Stat{{PID: 10, PPID: 1}}, treeParts{}},
		{"no tree", nil, treeParts{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, splitTree(tt.tree, isServer)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestServerMatcher(t *testing.T) {
	root := t.TempDir()
	script := "/tmp/runner-latency-warm/.warm/server.py"
	fakeProc(t, root, map[int]map[string]string{
		301: {"cmdline": "/usr/bin/python3\x00" + script + "\x00"},
		302: {"cmdline": "/usr/bin/ansible-runner\x00run\x00/tmp/x\x00"},
		303: {"cmdline": "/usr/bin/python3\x00/tmp/other/.warm/server.py\x00"}, // another operator's server
	})
	isServer := serverMatcher(root, script)
	for pid, want := range map[int]bool{301: true, 302: false, 303: false, 399: false} {
		if got := isServer(pid); got != want {
			t.Errorf("pid %d: server %v, want %v", pid, got, want)
		}
	}
	if serverMatcher(root, "")(301) {
		t.Error("with no script (the runner executor) a process is a server")
	}
	if got, want := warmServerScript("warm", "/tmp/runner-latency-warm"), script; got != want {
		t.Errorf("warmServerScript = %s, want %s", got, want)
	}
	if got := warmServerScript("runner", "/tmp/runner-latency-runner"); got != "" {
		t.Errorf("warmServerScript of the runner executor = %q, want none", got)
	}
}

func TestMedianMemory(t *testing.T) {
	samples := []memSample{
		{Runs: 0},
		{Runs: 1, RunPSS: 900, RunRSS: 900, ServerPSS: 900, ServerRSS: 900}, // one run: not a sample
		{Runs: 2, RunPSS: 100, RunRSS: 400, ServerPSS: 50, ServerRSS: 80},
		{Runs: 2, RunPSS: 140, RunRSS: 420, ServerPSS: 40, ServerRSS: 80},
		{Runs: 4, RunPSS: 240, RunRSS: 880, ServerPSS: 30, ServerRSS: 82},
	}
	// Per run: PSS 50, 70, 60; RSS 200, 210, 220.
	want := perRunMemory{RunPSS: 60, RunRSS: 210, ServerPSS: 40, ServerRSS: 80, Samples: 3}
	if diff := cmp.Diff(want, medianMemory(samples)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(perRunMemory{}, medianMemory(samples[:2])); diff != "" {
		t.Errorf("never two runs (-want +got):\n%s", diff)
	}
}

func TestOrdinaryRuns(t *testing.T) {
	log := strings.Join([]string{
		`{"level":"info","msg":"run starts ansible-runner the ordinary way","reason":"warm executor unavailable: closed"}`,
		`{"level":"info","msg":"warm executor ran ansible-playbook the ordinary way","reason":"DEFAULT_LOG_PATH is set: ran cold"}`,
		`{"level":"info","msg":"Ansible run finished"}`,
	}, "\n")
	if got := ordinaryRuns(log); got != 2 {
		t.Errorf("ordinaryRuns = %d, want 2", got)
	}
	if got := ordinaryRuns(""); got != 0 {
		t.Errorf("ordinaryRuns of nothing = %d", got)
	}
}
