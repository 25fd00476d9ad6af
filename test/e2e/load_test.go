package e2e_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

const (
	// fiftyCRs Mcrouters are created at once.
	fiftyCRs = 50
	// defaultMaxRunnerArtifacts is watches.DefaultMaxRunnerArtifacts: the
	// repository's watches.yaml does not set maxRunnerArtifacts.
	defaultMaxRunnerArtifacts = 20
	// rotated Mcrouters carry the max-runner-artifacts annotation and are
	// changed until they have had more runs than it keeps.
	rotated, rotatedArtifacts = 3, 2
	// rssBound is a generous ceiling for the operator's peak resident memory
	// with 50 Mcrouters and their dependents in its caches.
	rssBound = 256 << 20
)

// TestFault50Mcrouters creates 50 Mcrouters at once for an operator with
// --max-concurrent-reconciles 2: all end Successful, no more than two runs go
// at a time, the operator's resident memory stays bounded (its figures are
// logged) and no Mcrouter keeps more artifact directories than its limit.
// Not parallel: it loads both CPUs, and its figures are the operator's alone.
func TestFault50Mcrouters(t *testing.T) {
	timed(t)
	ns := optest.TempNamespace(t, kube, "fault-fifty")
	runnerDir := filepath.Join(tempDir(t), "runner")
	metricsPort, err := optest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	op := startOperator(t, operatorOptions{
		Name: "fifty", RunnerDir: runnerDir, Namespaces: []string{ns},
		Args: []string{"--max-concurrent-reconciles", "2", "--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", metricsPort)},
	})
	before, err := op.Memory()
	if err != nil {
		t.Fatal(err)
	}
	sampler := sampleConcurrency(t, runnerDir)
	start := time.Now()
	for i := range fiftyCRs {
		cr := optest.NewObject(optest.McrouterGVK, ns, fmt.Sprintf("cr-%02d", i), map[string]any{"memcached_pool_size": 1})
		if i < rotated {
			cr.SetAnnotations(map[string]string{"ansible.sdk.operatorframework.io/max-runner-artifacts": strconv.Itoa(rotatedArtifacts)})
		}
		if err := kube.Create(t.Context(), cr); err != nil {
			t.Fatalf("create Mcrouter %d: %v", i, err)
		}
	}
	for i := range fiftyCRs {
		optest.AwaitObject(t, kube, optest.McrouterGVK, ns, fmt.Sprintf("cr-%02d", i), "Successful", optest.Settled, op)
	}
	t.Logf("%d Mcrouters Successful %s after their creation", fiftyCRs, time.Since(start).Round(time.Second))
	maxRuns := sampler.stop()
	after, err := op.Memory()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("operator memory: before the Mcrouters %s; after %d Mcrouters %s", before, fiftyCRs, after)
	if srv, ok := op.WarmServer(); ok {
		// Its own process, recycled by the operator when it grows: logged,
		// not part of the operator's bound.
		m, err := srv.Memory()
		t.Logf("warm executor server (pid %d): %s (%v)", srv.PID, m, err)
	}
	if after.HWM > rssBound {
		t.Errorf("operator peak resident memory %s exceeds %d MiB", after, rssBound>>20)
	}
	if maxRuns == 0 {
		t.Errorf("never saw an Ansible run under %s: the concurrency check proves nothing", runnerDir)
	}
	if maxRuns > 2 {
		t.Errorf("saw %d Ansible runs at once with --max-concurrent-reconciles 2", maxRuns)
	}
	if runs, skips, err := runCounts(t.Context(), metricsPort); err != nil {
		t.Errorf("metrics: %v", err)
	} else {
		t.Logf("Ansible runs: %v; skipped (nothing changed): %v; most at once: %d", runs, skips, maxRuns)
	}

	checkArtifacts(t, op, runnerDir, ns)
}

// checkArtifacts gives the first Mcrouters more runs than their annotation
// keeps artifacts for, then counts every Mcrouter's artifact directories.
func checkArtifacts(t *testing.T, op *optest.Operator, runnerDir, ns string) {
	t.Helper()
	for gen := 2; gen <= rotatedArtifacts+2; gen++ {
		for i := range rotated {
			optest.MergePatch(t, kube, optest.McrouterGVK, ns, fmt.Sprintf("cr-%02d", i), map[string]any{"spec": map[string]any{"memcached_pool_size": gen}})
		}
		for i := range rotated {
			optest.AwaitObject(t, kube, optest.McrouterGVK, ns, fmt.Sprintf("cr-%02d", i), fmt.Sprintf("Successful at pool size %d", gen), optest.Settled, op)
		}
	}
	for i := range fiftyCRs {
		name, limit := fmt.Sprintf("cr-%02d", i), defaultMaxRunnerArtifacts
		if i < rotated {
			limit = rotatedArtifacts
		}
		n, err := artifactCount(runnerDir, ns, name)
		switch {
		case err != nil:
			t.Errorf("artifacts of %s: %v", name, err)
		case n < 1 || n > limit:
			t.Errorf("%s keeps %d artifact directories, want 1 to %d", name, n, limit)
		case i < rotated && n != rotatedArtifacts:
			t.Errorf("%s had %d or more runs but keeps %d artifact directories, want %d", name, rotatedArtifacts+1, n, rotatedArtifacts)
		}
	}
}

// concurrencySampler counts, every 100 ms, the resources with an Ansible
// run under way below a runner directory (optest.RunningDirs: an
// ansible-runner process, or a fork of the warm executor).
type concurrencySampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	max  int
}

func sampleConcurrency(t *testing.T, runnerDir string) *concurrencySampler {
	s := &concurrencySampler{done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-tick.C:
			}
			dirs, err := optest.RunningDirs(runnerDir)
			if err != nil {
				continue
			}
			s.max = max(s.max, len(dirs))
		}
	}()
	t.Cleanup(func() { s.stop() })
	return s
}

func (s *concurrencySampler) stop() int {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	s.wg.Wait()
	return s.max
}

// runCounts reads ansible_operator_reconcile_result (by result) and
// ansible_operator_skipped_runs_total from the operator's metrics endpoint.
// A counter that has not counted yet is absent from /metrics: it reads as 0.
// ansible_operator_build_info, always there, shows it is the operator's
// endpoint.
func runCounts(ctx context.Context, port int) (map[string]float64, float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/metrics", port), nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	runs, skips, operator := map[string]float64{}, 0.0, false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(line, "ansible_operator_reconcile_result{"):
			for _, result := range []string{"succeeded", "failed"} {
				if strings.Contains(line, `result="`+result+`"`) {
					runs[result] += v
				}
			}
		case strings.HasPrefix(line, "ansible_operator_skipped_runs_total{"):
			skips += v
		case strings.HasPrefix(line, "ansible_operator_build_info{"):
			operator = true
		}
	}
	if !operator {
		return nil, 0, fmt.Errorf("no ansible_operator_build_info on 127.0.0.1:%d/metrics: not the operator's metrics endpoint", port)
	}
	return runs, skips, sc.Err()
}
