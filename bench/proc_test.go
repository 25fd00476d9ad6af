package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mcrouter-operator/mcrouter-operator/internal/procfs"
)

// statLine builds a /proc/<pid>/stat line with the given fields and zeros
// elsewhere (52 fields, as on current kernels).
func statLine(pid int, comm string, ppid int, utime, stime, cutime, cstime, rss int64) string {
	f := make([]string, 52)
	for i := range f {
		f[i] = "0"
	}
	f[0], f[1], f[2], f[3] = fmt.Sprint(pid), "("+comm+")", "S", fmt.Sprint(ppid)
	f[13], f[14], f[15], f[16] = fmt.Sprint(utime), fmt.Sprint(stime), fmt.Sprint(cutime), fmt.Sprint(cstime)
	f[23] = fmt.Sprint(rss)
	return strings.Join(f, " ") + "\n"
}

func noServer(int) bool { return false }

func TestProcessTree(t *testing.T) {
	all := []procfs.Stat{
		{PID: 1, PPID: 0},
		{PID: 10, PPID: 1, UTime: 100, CUTime: 50, RSSPages: 1000}, // the operator
		{PID: 11, PPID: 10, UTime: 20, STime: 5, RSSPages: 300},    // ansible-runner
		{PID: 12, PPID: 11, UTime: 40, CSTime: 3, RSSPages: 400},   // ansible-playbook
		{PID: 13, PPID: 10, UTime: 7, RSSPages: 200},               // another run
		{PID: 20, PPID: 1, UTime: 999, RSSPages: 99999},            // not ours
	}
	tree := processTree(all, 10)
	var pids []int
	for _, p := range tree {
		pids = append(pids, p.PID)
	}
	if diff := cmp.Diff([]int{10, 11, 13, 12}, pids); diff != "" {
		t.Errorf("tree pids (-want +got):\n%s", diff)
	}
	want := treeUsage{CPUTicks: 150 + 25 + 43 + 7, RSSPages: 1900, RootRSSPages: 1000, Procs: 4, Runs: 2,
		parts: treeParts{Runs: 2, RunPIDs: []int{11, 13, 12}}}
	if diff := cmp.Diff(want, usageOf(tree, noServer), cmp.AllowUnexported(treeUsage{})); diff != "" {
		t.Errorf("usage (-want +got):\n%s", diff)
	}
	if processTree(all, 77) != nil {
		t.Error("tree of a missing process is not nil")
	}
}

func TestReadTree(t *testing.T) {
	root := t.TempDir()
	procs := map[int]string{
		1:   statLine(1, "init", 0, 5, 5, 0, 0, 10),
		300: statLine(300, "ansible-operator", 1, 100, 20, 400, 60, 10000),
		301: statLine(301, "ansible-runner", 300, 30, 10, 0, 0, 5000),
		302: statLine(302, "ansible-playboo", 301, 80, 15, 12, 3, 15000),
	}
	for pid, line := range procs {
		dir := filepath.Join(root, fmt.Sprint(pid))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Not a process directory, and a process that vanished (no stat file).
	for _, d := range []string{"self-not-numeric", "999"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got, err := readTree(root, 300, noServer)
	if err != nil {
		t.Fatal(err)
	}
	want := treeUsage{CPUTicks: 580 + 40 + 110, RSSPages: 30000, RootRSSPages: 10000, Procs: 3, Runs: 1,
		parts: treeParts{Runs: 1, RunPIDs: []int{301, 302}}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(treeUsage{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := readTree(root, 4242, noServer); err == nil || !strings.Contains(err.Error(), "4242") {
		t.Errorf("missing process: error %v, want one naming 4242", err)
	}
}
