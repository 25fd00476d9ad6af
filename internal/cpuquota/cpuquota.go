// Package cpuquota reads the CPU limit of the process's cgroup, so defaults
// for parallelism follow the container's quota rather than the host's cores.
//
// runtime.GOMAXPROCS(0) is cgroup-aware since Go 1.25 but is not the same
// number, so the defaults do not use it:
//
//   - The runtime never goes below 2 for a quota (cgroup_linux.go,
//     adjustCgroupGOMAXPROCS: "limit = max(limit, 2)"). The shipped Deployment
//     limits the operator to cpu: "1"; on any node with two or more CPUs
//     CPUs() is 1 and GOMAXPROCS is 2, which would double the default
//     --max-concurrent-reconciles and --max-concurrent-runs, and with them
//     the peak memory of Ansible runs (about 225 MB each, under a 768Mi limit).
//   - A GOMAXPROCS environment variable, set to tune the Go scheduler, would
//     silently change how many Ansible processes run at once.
//
// The runtime exposes only its result, not the quota it read. What the runtime
// does better — it reads the process's own cgroup from /proc/self/cgroup and
// the minimum over its ancestors — does not matter where the operator runs:
// in a container /sys/fs/cgroup is the container's own cgroup (cgroup v2
// namespaces, or runc's bind mount of the container's subtree in v1). A
// process in a nested cgroup below the mount (a systemd slice on a host) is
// not seen here; set the flags there.
package cpuquota

import (
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// CPUs returns the number of CPUs the process may use: the cgroup quota
// (v2 cpu.max, or v1 cfs quota/period) rounded up, at most runtime.NumCPU,
// at least 1.
func CPUs() int {
	return cpus("/sys/fs/cgroup", runtime.NumCPU())
}

func cpus(root string, numCPU int) int {
	n := numCPU
	if q, ok := quota(root); ok && q < float64(n) {
		n = int(math.Ceil(q))
	}
	return max(n, 1)
}

// quota returns quota/period, and false when there is no limit.
func quota(root string) (float64, bool) {
	if b, err := os.ReadFile(filepath.Join(root, "cpu.max")); err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 && f[0] != "max" {
			return ratio(f[0], f[1])
		}
		return 0, false
	}
	q, err1 := os.ReadFile(filepath.Join(root, "cpu", "cpu.cfs_quota_us"))
	p, err2 := os.ReadFile(filepath.Join(root, "cpu", "cpu.cfs_period_us"))
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return ratio(strings.TrimSpace(string(q)), strings.TrimSpace(string(p)))
}

func ratio(q, p string) (float64, bool) {
	qn, err1 := strconv.ParseFloat(q, 64)
	pn, err2 := strconv.ParseFloat(p, 64)
	if err1 != nil || err2 != nil || qn <= 0 || pn <= 0 {
		return 0, false
	}
	return qn / pn, true
}
