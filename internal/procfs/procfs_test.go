package procfs

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

func TestParseStat(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Stat
	}{
		{"plain", statLine(42, "ansible-operator", "S", 1, 42, 150, 30, 700, 90, 5555, 9000),
			Stat{PID: 42, PPID: 1, PGRP: 42, Comm: "ansible-operator", State: "S",
				UTime: 150, STime: 30, CUTime: 700, CSTime: 90, StartTime: 5555, RSSPages: 9000}},
		{"comm with spaces and parens, zombie", statLine(7, "a b) (c", "Z", 3, 40, 1, 2, 3, 4, 6, 5),
			Stat{PID: 7, PPID: 3, PGRP: 40, Comm: "a b) (c", State: "Z",
				UTime: 1, STime: 2, CUTime: 3, CSTime: 4, StartTime: 6, RSSPages: 5}},
		{"real line", "1234 (python3) S 1000 1234 1234 34816 1234 4194560 5000 0 0 0 321 45 6 7 20 0 1 0 98765 123456789 4321 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
			Stat{PID: 1234, PPID: 1000, PGRP: 1234, Comm: "python3", State: "S",
				UTime: 321, STime: 45, CUTime: 6, CSTime: 7, StartTime: 98765, RSSPages: 4321}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStat(tt.line)
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

func TestParseStatErrors(t *testing.T) {
	tests := []struct{ name, line, want string }{
		{"empty", "", "no (comm)"},
		{"garbage", "nonsense", "no (comm)"},
		{"short", "5 (x) S 1 2 3", "fields after comm"},
		{"bad pid", "x (y) S 1", "pid"},
		{"bad ppid", strings.Replace(statLine(9, "z", "S", 1, 9, 1, 2, 3, 4, 5, 6), "(z) S 1 ", "(z) S one ", 1), "field 4"},
		{"bad utime", strings.Replace(statLine(9, "z", "S", 1, 9, 1, 2, 3, 4, 5, 6), " 1 2 3 4 ", " one 2 3 4 ", 1), "field 14"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseStat(tt.line)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestReadAll(t *testing.T) {
	root := t.TempDir()
	for pid, line := range map[int]string{
		1:   statLine(1, "init", "S", 0, 1, 5, 5, 0, 0, 1, 10),
		300: statLine(300, "ansible-operator", "S", 1, 300, 100, 20, 400, 60, 2, 10000),
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
	if diff := cmp.Diff([]int{1, 300}, pids); diff != "" {
		t.Errorf("pids (-want +got):\n%s", diff)
	}

	writeFile(t, filepath.Join(root, "400", "stat"), "400 (broken")
	if _, err := ReadAll(root); err == nil || !strings.Contains(err.Error(), "no (comm)") {
		t.Errorf("ReadAll with a broken stat: error %v, want the parse error", err)
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
	if self.PPID != os.Getppid() || self.Zombie() {
		t.Errorf("own stat = %+v, want ppid %d, alive", self, os.Getppid())
	}
	found := false
	for _, p := range all {
		found = found || p.PID == os.Getpid()
	}
	if !found {
		t.Errorf("ReadAll(%s) misses this process (%d of %d processes)", Root, os.Getpid(), len(all))
	}
}

func TestParseStatus(t *testing.T) {
	status := "Name:\tansible-operator\nVmPeak:\t 1300000 kB\nVmHWM:\t   41000 kB\nVmRSS:\t   39000 kB\n" +
		"RssAnon:\t   14000 kB\nRssFile:\t   25000 kB\nRssShmem:\t       0 kB\nThreads:\t12\n"
	got, err := ParseStatus(status)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Memory{RSS: 39000 * 1024, HWM: 41000 * 1024, Anon: 14000 * 1024, File: 25000 * 1024}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for name, bad := range map[string]string{
		"zombie":  "Name:\tx\nState:\tZ (zombie)\n",
		"no unit": "VmHWM:\t1\nVmRSS:\t2\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseStatus(bad); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestReadMemory(t *testing.T) {
	m, err := ReadMemory(Root, os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.HWM < m.RSS {
		t.Errorf("own memory = %+v, want RSS > 0 and HWM >= RSS", m)
	}
	if _, err := ReadMemory(t.TempDir(), 4242); err == nil || !strings.Contains(err.Error(), "4242") {
		t.Errorf("missing process: error %v, want one naming 4242", err)
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

func TestParseEnviron(t *testing.T) {
	got := ParseEnviron([]byte("A=1\x00B=two words\x00\x00EMPTY=\x00"))
	if diff := cmp.Diff([]string{"A=1", "B=two words", "EMPTY="}, got); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if got := ParseEnviron(nil); got != nil {
		t.Errorf("empty environ = %q, want nil", got)
	}
}

// ReadEnviron sees what a child was started with.
func TestReadEnviron(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "echo started; read line")
	cmd.Env = []string{"PROCFS_TEST_MARK=here", "OTHER=x"}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	// Until the shell runs, the child is a copy of this process.
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	env, err := ReadEnviron(Root, cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(env, "PROCFS_TEST_MARK=here") {
		t.Errorf("environ of the child = %q, want PROCFS_TEST_MARK=here in it", env)
	}
	if _, err := ReadEnviron(t.TempDir(), 1); err == nil {
		t.Error("ReadEnviron of a missing process: no error")
	}
}
