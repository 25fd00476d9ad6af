package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"k8s.io/client-go/discovery"

	"github.com/mcrouter-operator/mcrouter-operator/internal/cpuquota"
)

// machineFacts describes the machine and the versions in use. Facts that
// cannot be read are reported as "unknown", never fatal.
func (b *bench) machineFacts(ctx context.Context) Machine {
	m := Machine{
		NumCPU:         runtime.NumCPU(),
		CPUs:           cpuquota.CPUs(),
		CgroupCPU:      cgroupCPU("/sys/fs/cgroup"),
		CPUModel:       cpuinfoField(readOr(filepath.Join(b.procRoot, "cpuinfo"), ""), "model name"),
		MemTotalBytes:  memTotal(readOr(filepath.Join(b.procRoot, "meminfo"), "")),
		Kernel:         strings.TrimSpace(readOr(filepath.Join(b.procRoot, "sys/kernel/osrelease"), "unknown")),
		LoadAvgAtStart: loadAvg(readOr(filepath.Join(b.procRoot, "loadavg"), "")),
		GoVersion:      runtime.Version(),
		Ansible:        firstLine(command(ctx, b.opts.Root, "ansible-playbook", "--version")),
		AnsibleRunner:  firstLine(command(ctx, b.opts.Root, "ansible-runner", "--version")),
		GitCommit:      firstLine(command(ctx, b.opts.Root, "git", "rev-parse", "HEAD")),
		GitDirty:       command(ctx, b.opts.Root, "git", "status", "--porcelain", "--untracked-files=no") != "",
		KubeAPIServer:  "unknown",
	}
	if dc, err := discovery.NewDiscoveryClientForConfig(b.cluster.Config); err == nil {
		if v, err := dc.ServerVersion(); err == nil {
			m.KubeAPIServer = v.GitVersion
		}
	}
	return m
}

// cgroupCPU returns the cgroup CPU limit as its files say: cpu.max (v2) or
// cfs quota/period (v1), or "no cgroup CPU limit file".
func cgroupCPU(root string) string {
	if b, err := os.ReadFile(filepath.Join(root, "cpu.max")); err == nil {
		return "cpu.max " + strings.TrimSpace(string(b))
	}
	q, err1 := os.ReadFile(filepath.Join(root, "cpu", "cpu.cfs_quota_us"))
	p, err2 := os.ReadFile(filepath.Join(root, "cpu", "cpu.cfs_period_us"))
	if err1 == nil && err2 == nil {
		return "cfs_quota_us/cfs_period_us " + strings.TrimSpace(string(q)) + "/" + strings.TrimSpace(string(p))
	}
	return "no cgroup CPU limit file"
}

// cpuinfoField returns the first value of key in /proc/cpuinfo's content.
func cpuinfoField(cpuinfo, key string) string {
	sc := bufio.NewScanner(strings.NewReader(cpuinfo))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// memTotal returns MemTotal of /proc/meminfo's content in bytes, or 0.
func memTotal(meminfo string) int64 {
	for _, line := range strings.Split(meminfo, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "MemTotal:" && f[2] == "kB" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// loadAvg returns the 1, 5 and 15 minute load averages of /proc/loadavg's
// content.
func loadAvg(s string) string {
	f := strings.Fields(s)
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/<pid>/stat times.
func clockTicks(ctx context.Context) float64 {
	if n, err := strconv.ParseFloat(firstLine(command(ctx, "", "getconf", "CLK_TCK")), 64); err == nil && n > 0 {
		return n
	}
	return 100 // USER_HZ on every Linux architecture Go supports
}

func readOr(path, fallback string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fallback
	}
	return string(b)
}

// command runs a short command and returns its output, "" on failure.
func command(ctx context.Context, dir, name string, args ...string) string {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	if line = strings.TrimSpace(line); line == "" {
		return "unknown"
	}
	return line
}
