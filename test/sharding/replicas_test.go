package sharding_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

// Every replica's membership timing: short, so that a killed replica's
// Mcrouters move within seconds. A replica that cannot renew its Lease for
// renewDeadline exits, which fails every wait (optest.Await watches the
// replicas' processes).
const (
	leaseDuration = 4 * time.Second
	renewDeadline = 3 * time.Second
	retryPeriod   = time.Second
)

// executor is how the replicas start Ansible, whatever TEST_ANSIBLE_EXECUTOR
// says: the warm executor makes the package's 60-odd runs of the role
// affordable on two cores, and how a run starts is not what these tests are
// about (test/e2e covers both executors).
const executor = "warm"

// replica is one ansible-operator process with --sharding.
type replica struct {
	name        string // POD_NAME: its identity
	op          *optest.Operator
	runnerDir   string
	metricsPort int
	gone        bool // killed or stopped
	// last is the replica's Ansible runs as seen just before it was
	// killed or stopped. A warm executor server that exits with its
	// operator has lost its command line before it becomes a zombie, and
	// may then pass for a run in optest's samples: the runs of a gone
	// replica are counted up to its end (its run records count the rest).
	last optest.Activity
}

// fleet is the replicas of one test, started in order; gone ones are kept for
// their runner directories and logs.
type fleet struct {
	ns  string
	dir string

	mu       sync.Mutex // guards replicas against runSampler's reads
	replicas []*replica
}

// newFleet prepares replicas for namespace ns (their WATCH_NAMESPACE and
// leader-election namespace) and stops the live ones at the end of the test;
// when it failed, their logs are kept and named.
func newFleet(t *testing.T, ns string) *fleet {
	t.Helper()
	dir, err := os.MkdirTemp("", "sharding-"+ns+"-")
	if err != nil {
		t.Fatal(err)
	}
	f := &fleet{ns: ns, dir: dir}
	t.Cleanup(func() {
		for _, r := range f.live() {
			if err := r.op.Stop(optest.StopTimeout); err != nil {
				t.Errorf("stop replica %s: %v", r.name, err)
			}
		}
		for _, r := range f.replicas {
			// A killed replica's leftovers (its group) go too.
			_ = r.op.Stop(time.Second)
		}
		if t.Failed() || os.Getenv("KEEP_TEST_LOGS") != "" {
			t.Logf("replica logs and runner directories kept in %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	return f
}

// start starts replica name and waits until it is ready. A port another
// process took between optest's pick and the replica's bind gets a second try
// with new ports.
func (f *fleet) start(t *testing.T, name string) *replica {
	t.Helper()
	r := &replica{name: name, runnerDir: filepath.Join(f.dir, name, "runner")}
	for attempt := 1; ; attempt++ {
		port, err := optest.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		r.metricsPort = port
		r.op, err = optest.Start(optest.Options{
			Binary:      binary,
			Kubeconfig:  cluster.KubeconfigPath,
			WatchesFile: filepath.Join(repoRoot, "test", "sharding", "testdata", "watches.yaml"),
			Dir:         repoRoot,
			Args:        f.args(r),
			Env:         []string{"POD_NAME=" + name, "WATCH_NAMESPACE=" + f.ns, "ANSIBLE_GATHERING=explicit"},
			LogPath:     filepath.Join(f.dir, fmt.Sprintf("%s-%d.log", name, attempt)),
			Name:        name,
		})
		if err != nil {
			t.Fatalf("start replica %s: %v", name, err)
		}
		err = r.op.WaitReady(optest.Context(t))
		if err == nil {
			f.add(r)
			return r
		}
		_ = r.op.Stop(10 * time.Second)
		if attempt == 3 || !strings.Contains(r.op.Logs(), "address already in use") {
			t.Fatalf("start replica %s: %v", name, err)
		}
	}
}

func (f *fleet) add(r *replica) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replicas = append(f.replicas, r)
}

func (f *fleet) args(r *replica) []string {
	return []string{
		"--sharding",
		"--leader-election-namespace", f.ns,
		"--leader-elect-lease-duration", leaseDuration.String(),
		"--leader-elect-renew-deadline", renewDeadline.String(),
		"--leader-elect-retry-period", retryPeriod.String(),
		"--runner-dir", r.runnerDir,
		"--ansible-roles-path", filepath.Join(repoRoot, "roles"),
		"--metrics-bind-address", "127.0.0.1:" + strconv.Itoa(r.metricsPort),
		"--ansible-executor", executor,
		"--zap-log-level", "debug",
	}
}

// live lists the replicas neither killed nor stopped.
func (f *fleet) live() []*replica {
	var out []*replica
	for _, r := range f.replicas {
		if !r.gone {
			out = append(out, r)
		}
	}
	return out
}

// names lists the identities of the live replicas.
func (f *fleet) names() []string {
	var out []string
	for _, r := range f.live() {
		out = append(out, r.name)
	}
	return out
}

func (f *fleet) isLive(name string) bool { return slices.Contains(f.names(), name) }

// ops are the live replicas' processes: what a wait watches for progress
// (their Ansible runs) and for an unexpected exit.
func (f *fleet) ops() []*optest.Operator {
	var out []*optest.Operator
	for _, r := range f.live() {
		out = append(out, r.op)
	}
	return out
}

// kill sends SIGKILL to the replica's process: the crash of a pod.
func (f *fleet) kill(r *replica) {
	r.gone, r.last = true, r.op.Activity()
	r.op.Kill()
}

// stop sends SIGTERM and waits for the replica to finish: a pod deleted by a
// rolling update.
func (f *fleet) stop(t *testing.T, r *replica) {
	t.Helper()
	r.gone, r.last = true, r.op.Activity()
	if err := r.op.Stop(optest.StopTimeout); err != nil {
		t.Errorf("stop replica %s: %v", r.name, err)
	}
	if _, err := r.op.Exited(); err != nil {
		t.Errorf("replica %s stopped by SIGTERM exited with %v", r.name, err)
	}
}

// started is the number of Ansible runs each replica has started, as seen
// from its processes (optest.Activity; for a gone replica, until its end).
func (f *fleet) started() map[string]int {
	out := map[string]int{}
	for _, r := range f.replicas {
		a := r.last
		if !r.gone {
			a = r.op.Activity()
		}
		out[r.name] = a.Started()
	}
	return out
}

// metrics scrapes every live replica's /metrics.
func (f *fleet) metrics(ctx context.Context) (map[string]optest.Metrics, error) {
	out := map[string]optest.Metrics{}
	for _, r := range f.live() {
		m, err := optest.ScrapeMetrics(ctx, r.metricsPort)
		if err != nil {
			return nil, fmt.Errorf("replica %s: %w", r.name, err)
		}
		out[r.name] = m
	}
	return out, nil
}
