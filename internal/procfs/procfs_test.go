package procfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// statLine builds a /proc/<pid>/stat line with the given fields and zeros
// elsewhere (52 fields, as on current kernels).
func statLine(pid int, comm, state string, ppid, pgrp int, utime, stime, cutime, cstime, start, rss int64) string {
	f := make([]string, 52)
	for i := range f {
		f[i] = "0"
	}
	f[0], f[1], f[2], f[3], f[4] = fmt.Sprint(pid), "("+comm+")", state, fmt.Sprint(ppid), fmt.Sprint(pgrp)
	f[13], f[14], f[15], f[16] = fmt.Sprint(utime), fmt.Sprint(stime), fmt.Sprint(cutime), fmt.Sprint(cstime)
	f[21], f[23] = fmt.Sprint(start), fmt.Sprint(rss)
	return strings.Join(f, " ") + "\n"
}

func TestReadStat(t *testing.T) {
	tests := []struct {
		name string
		pid  int
		line string
		want Stat
	}{
		{"plain", 42, statLine(42, "ansible-operator", "S", 1, 42, 150, 30, 700, 90, 5555, 9000),
			Stat{PID: 42, PPID: 1, PGRP: 42, Comm: "ansible-operator", State: "S",
				UTime: 150, STime: 30, CUTime: 700, CSTime: 90, StartTime: 5555, RSSPages: 9000}},
		{"comm with spaces and parens, zombie", 7, statLine(7, "a b) (c", "Z", 3, 40, 1, 2, 3, 4, 6, 5),
			Stat{PID: 7, PPID: 3, PGRP: 40, Comm: "a b) (c", State: "Z",
				UTime: 1, STime: 2, CUTime: 3, CSTime: 4, StartTime: 6, RSSPages: 5}},
		{"real line", 1234, "1234 (python3) S 1000 1234 1234 34816 1234 4194560 5000 0 0 0 321 45 6 7 20 0 1 0 98765 123456789 4321 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
			Stat{PID: 1234, PPID: 1000, PGRP: 1234, Comm: "python3", State: "S",
				UTime: 321, STime: 45, CUTime: 6, CSTime: 7, StartTime: 98765, RSSPages: 4321}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeFile(t, filepath.Join(root, fmt.Sprint(tt.pid), "stat"), tt.line)
			got, err := ReadStat(root, tt.pid)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if got.CPUTicks() != tt.want.UTime+tt.want.STime+tt.want.CUTime+tt.want.CSTime {
				t.Errorf("CPUTicks %d", got.CPUTicks())
			}
			if got.Zombie() != (tt.want.State == "Z") {
				t.Errorf("Zombie() = %v for state %s", got.Zombie(), got.State)
			}
		})
	}
}

func TestReadStatErrors(t *testing.T) {
	tests := []struct{ name, line string }{
		{"empty", ""},
		{"garbage", "nonsense"},
		{"short", "5 (x) S 1 2 3\n"},
		{"bad ppid", strings.Replace(statLine(5, "z", "S", 1, 9, 1, 2, 3, 4, 5, 6), "(z) S 1 ", "(z) S one ", 1)},
		{"bad utime", strings.Replace(statLine(5, "z", "S", 1, 9, 1, 2, 3, 4, 5, 6), " 1 2 3 4 ", " one 2 3 4 ", 1)},
		{"negative children's time", statLine(5, "z", "S", 1, 9, 1, 2, -3, 4, 5, 6)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeFile(t, filepath.Join(root, "5", "stat"), tt.line)
			if st, err := ReadStat(root, 5); err == nil {
				t.Errorf("no error, stat %+v", st)
			}
		})
	}
	if _, err := ReadStat(t.TempDir(), 5); !os.IsNotExist(err) {
		t.Errorf("missing process: error %v, want not-exist", err)
	}
}

func TestReadAll(t *testing.T) {
	root := t.TempDir()
	for pid, line := range map[int]string{
		1:   statLine(1, "init", "S", 0, 1, 5, 5, 0, 0, 1, 10),
		300: statLine(300, "ansible-operator", "S", 1, 300, 100, 20, 400, 60, 2, 10000),
		40:  statLine(40, "sh", "Z", 1, 40, 0, 0, 0, 0, 3, 0),
	} {
		writeFile(t, filepath.Join(root, fmt.Sprint(pid), "stat"), line)
	}
	// Not a process directory, and a process that vanished (no stat file).
	for _, d := range []string{"self-not-numeric", "999"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	all, err := ReadAll(root)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, p := range all {
		pids = append(pids, p.PID)
	}
	if diff := cmp.Diff([]int{1, 40, 300}, pids); diff != "" {
		t.Errorf("pids (-want +got):\n%s", diff)
	}

	writeFile(t, filepath.Join(root, "400", "stat"), "400 (broken")
	if _, err := ReadAll(root); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("ReadAll with a broken stat: error %v, want the parse error naming 400", err)
	}
	if _, err := ReadAll(filepath.Join(root, "none")); err == nil {
		t.Error("ReadAll of a missing root: no error")
	}
}

func TestReadAllOfThisMachine(t *testing.T) {
	all, err := ReadAll(Root)
	if err != nil {
		t.Fatal(err)
	}
	self, err := ReadStat(Root, os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if self.PPID != os.Getppid() || self.Zombie() || self.StartTime == 0 || self.RSSPages <= 0 {
		t.Errorf("own stat = %+v, want ppid %d, alive, started, resident", self, os.Getppid())
	}
	found := false
	for _, p := range all {
		found = found || p.PID == os.Getpid()
	}
	if !found {
		t.Errorf("ReadAll(%s) misses this process (%d of %d processes)", Root, os.Getpid(), len(all))
	}
}

func TestReadMemory(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "10", "status"), "Name:\tansible-operator\nState:\tS (sleeping)\n"+
		"VmPeak:\t 1300000 kB\nVmHWM:\t   41000 kB\nVmRSS:\t   39000 kB\n"+
		"RssAnon:\t   14000 kB\nRssFile:\t   25000 kB\nRssShmem:\t       0 kB\nThreads:\t12\n")
	writeFile(t, filepath.Join(root, "11", "status"), "Name:\tx\nState:\tZ (zombie)\nThreads:\t1\n")

	got, err := ReadMemory(root, 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Memory{RSS: 39000 * 1024, HWM: 41000 * 1024, Anon: 14000 * 1024, File: 25000 * 1024}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, pid := range []int{11, 4242} {
		if _, err := ReadMemory(root, pid); err == nil || !strings.Contains(err.Error(), fmt.Sprint(pid)) {
			t.Errorf("process %d (zombie, missing): error %v, want one naming it", pid, err)
		}
	}

	m, err := ReadMemory(Root, os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.HWM < m.RSS {
		t.Errorf("own memory = %+v, want RSS > 0 and HWM >= RSS", m)
	}
}

func TestParseKB(t *testing.T) {
	rollup := "55d8a0e2c000-7ffc8a3f1000 ---p 00000000 00:00 0                          [rollup]\n" +
		"Rss:               39000 kB\nPss:               21000 kB\nPss_Anon:          14000 kB\n"
	var rss, pss, swap int64
	found, err := ParseKB(rollup, "smaps_rollup", map[string]*int64{"Rss": &rss, "Pss": &pss, "Swap": &swap})
	if err != nil {
		t.Fatal(err)
	}
	if rss != 39000*1024 || pss != 21000*1024 || swap != 0 {
		t.Errorf("Rss %d, Pss %d, Swap %d", rss, pss, swap)
	}
	if diff := cmp.Diff(map[string]bool{"Rss": true, "Pss": true}, found); diff != "" {
		t.Errorf("found (-want +got):\n%s", diff)
	}
	for name, bad := range map[string]string{
		"no unit":      "Rss:\t2\n",
		"not a number": "Rss:\tx kB\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseKB(bad, "smaps_rollup", map[string]*int64{"Rss": &rss}); err == nil || !strings.Contains(err.Error(), "smaps_rollup Rss") {
				t.Errorf("error %v, want one naming smaps_rollup Rss", err)
			}
		})
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
