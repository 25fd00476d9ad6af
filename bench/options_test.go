package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseBursts(t *testing.T) {
	got, err := parseSizes("bursts", " 10, 20,,50 ")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{10, 20, 50}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := parseSizes("bursts", "10,x"); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("error %v, want one naming \"x\"", err)
	}
}

func TestOptionsDefaultsAndQuick(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		set  map[string]bool
		want Options
	}{
		{"full defaults", Options{Root: "/repo"}, nil, Options{Root: "/repo", Bursts: []int{10, 20, 50}, Executors: []string{"runner", "warm"}, IdleCRs: 100, RestartCRs: 20, MemoryCRs: []int{100, 1000},
			IdleWindow: 90 * time.Second, IdlePeriod: 30 * time.Second, Repeat: 3, BareRuns: 3, OutDir: "/repo/bench/results"}},
		{"quick", Options{Root: "/repo", Quick: true}, nil, Options{Root: "/repo", Quick: true, Bursts: []int{3, 6}, Executors: []string{"runner", "warm"}, IdleCRs: 6, RestartCRs: 4, MemoryCRs: []int{5, 20},
			IdleWindow: 20 * time.Second, IdlePeriod: 30 * time.Second, Repeat: 1, BareRuns: 2, OutDir: "/repo/bench/results"}},
		{"quick keeps explicit flags", Options{Root: "/repo", Quick: true, Bursts: []int{20}, RestartCRs: 9, OutDir: "/tmp/out"},
			map[string]bool{"bursts": true, "restart-crs": true}, Options{Root: "/repo", Quick: true, Bursts: []int{20},
				Executors: []string{"runner", "warm"}, IdleCRs: 6, RestartCRs: 9, MemoryCRs: []int{5, 20},
				IdleWindow: 20 * time.Second, IdlePeriod: 30 * time.Second, Repeat: 1, BareRuns: 2, OutDir: "/tmp/out"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			o.applyQuick(tt.set)
			o.setDefaults()
			if diff := cmp.Diff(tt.want, o); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if err := o.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	o := Options{Root: "/repo", Bursts: []int{0, 20}, IdleCRs: -1, RestartCRs: 501, IdleWindow: time.Second, Repeat: 50,
		Executors: []string{"warm", "cold", "warm"}, OperatorArgs: []string{"--ansible-executor=runner"}}
	o.setDefaults()
	err := o.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"-bursts: size 0", "-idle-crs: -1", "-restart-crs: 501", "-idle-window: 1s", "-repeat: 50",
		`-executors: `, `"cold"`, "-executors: warm given twice", "-operator-args: --ansible-executor is set by the benchmark"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-quick", "-bursts", "4", "-idle-crs", "0", "-operator-args", "--zap-log-level=debug  --ansible-verbosity=1"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{4}, o.Bursts); diff != "" {
		t.Errorf("bursts (-want +got):\n%s", diff)
	}
	if !o.SkipIdle || o.IdleCRs != 0 || o.Repeat != 1 {
		t.Errorf("SkipIdle %v, IdleCRs %d, Repeat %d; want true, 0 (as the report's settings say), 1", o.SkipIdle, o.IdleCRs, o.Repeat)
	}
	if o.SkipRestart || o.RestartCRs != 4 {
		t.Errorf("SkipRestart %v, RestartCRs %d; want false, 4 (the quick default)", o.SkipRestart, o.RestartCRs)
	}
	if diff := cmp.Diff([]string{"--zap-log-level=debug", "--ansible-verbosity=1"}, o.OperatorArgs); diff != "" {
		t.Errorf("operator args (-want +got):\n%s", diff)
	}
	if _, err := parseFlags([]string{"extra"}); err == nil {
		t.Error("a positional argument is accepted")
	}
	o, err = parseFlags([]string{"-restart-crs", "0"})
	if err != nil {
		t.Fatal(err)
	}
	if !o.SkipRestart {
		t.Error("-restart-crs 0 does not skip the restart phase")
	}
	if diff := cmp.Diff([]string{"runner", "warm"}, o.Executors); diff != "" || o.SingleExecutor() != "runner" {
		t.Errorf("default executors (-want +got):\n%s; single %s", diff, o.SingleExecutor())
	}
	o, err = parseFlags([]string{"-executors", " warm, runner,"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"warm", "runner"}, o.Executors); diff != "" || o.SingleExecutor() != "warm" {
		t.Errorf("-executors warm,runner (-want +got):\n%s; single %s", diff, o.SingleExecutor())
	}
}

func TestMemoryFlags(t *testing.T) {
	o, err := parseFlags([]string{"-memory-crs", "0"})
	if err != nil {
		t.Fatal(err)
	}
	if !o.SkipMemory || o.MemoryCRs != nil {
		t.Errorf("-memory-crs 0: SkipMemory %v, MemoryCRs %v; want true, none", o.SkipMemory, o.MemoryCRs)
	}
	o, err = parseFlags([]string{"-memory-crs", "50,500", "-executors", "runner"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{50, 500}, o.MemoryCRs); diff != "" || o.MemoryExecutor() != "runner" {
		t.Errorf("-memory-crs 50,500 (-want +got):\n%s; executor %s, want runner (the only one)", diff, o.MemoryExecutor())
	}
	if o, _ := parseFlags(nil); o.MemoryExecutor() != "warm" {
		t.Errorf("memory executor %s with runner,warm; want warm", o.MemoryExecutor())
	}
	for _, bad := range []struct{ flag, want string }{
		{"1000,100", "-memory-crs: 100 after 1000"},
		{"0,100", "-memory-crs: 0 out of range"},
		{"100,x", `-memory-crs: "x" is not a number`},
	} {
		if _, err := parseFlags([]string{"-memory-crs", bad.flag}); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("-memory-crs %s: error %v, want one saying %q", bad.flag, err, bad.want)
		}
	}
}

func TestMachineParsers(t *testing.T) {
	cpuinfo := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
	if got := cpuinfoField(cpuinfo, "model name"); got != "AMD EPYC 7B13" {
		t.Errorf("cpu model %q", got)
	}
	if got := cpuinfoField("", "model name"); got != "unknown" {
		t.Errorf("cpu model of nothing %q", got)
	}
	if got := memTotal("MemTotal:       24684000 kB\nMemFree: 1 kB\n"); got != 24684000*1024 {
		t.Errorf("memTotal %d", got)
	}
	if got := loadAvg("1.53 1.49 1.78 3/456 7890\n"); got != "1.53 1.49 1.78" {
		t.Errorf("loadAvg %q", got)
	}
}

func TestCgroupCPU(t *testing.T) {
	v2 := t.TempDir()
	writeFile(t, filepath.Join(v2, "cpu.max"), "200000 100000\n")
	v1 := t.TempDir()
	writeFile(t, filepath.Join(v1, "cpu", "cpu.cfs_quota_us"), "-1\n")
	writeFile(t, filepath.Join(v1, "cpu", "cpu.cfs_period_us"), "100000\n")
	tests := []struct{ name, root, want string }{
		{"v2", v2, "cpu.max 200000 100000"},
		{"v1", v1, "cfs_quota_us/cfs_period_us -1/100000"},
		{"none", t.TempDir(), "no cgroup CPU limit file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cgroupCPU(tt.root); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
