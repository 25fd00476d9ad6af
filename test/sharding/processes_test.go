package sharding_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

// sampleEvery is how often the replicas' runs are looked at: a run of the
// role lasts a second or more, a quarter of a second catches two that meet.
const sampleEvery = 250 * time.Millisecond

// runSampler looks at the Ansible runs under way in every replica's runner
// directory (optest.RunningDirs: an ansible-runner process, or a fork of the
// warm executor) and notes each moment one Mcrouter had runs in two replicas:
// the processes' own account of overlap, beside the run records'.
type runSampler struct {
	f    *fleet
	done chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	samples  int      // samples taken
	busy     int      // samples that saw a run under way
	overlaps []string // Mcrouters seen running in two replicas at once, with when and where
}

func sampleRuns(t *testing.T, f *fleet) *runSampler {
	s := &runSampler{f: f, done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(sampleEvery)
		defer tick.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-tick.C:
			}
			s.sample()
		}
	}()
	t.Cleanup(s.stop)
	return s
}

// sample maps each Mcrouter with a run under way to the replicas running it.
// Every replica started so far is looked at: a killed replica's run may
// outlive it.
func (s *runSampler) sample() {
	now := time.Now()
	where := map[string][]string{}
	for _, r := range s.replicas() {
		dirs, err := optest.RunningDirs(r.runnerDir)
		if err != nil {
			continue
		}
		for _, d := range dirs {
			// <runner dir>/<group>/<version>/<kind>/<namespace>/<name>
			key := filepath.Base(filepath.Dir(d)) + "/" + filepath.Base(d)
			where[key] = append(where[key], r.name)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples++
	if len(where) > 0 {
		s.busy++
	}
	for key, names := range where {
		if len(names) > 1 {
			s.overlaps = append(s.overlaps, fmt.Sprintf("%s: %s run by %v at once", now.Format("15:04:05.000"), key, names))
		}
	}
}

// replicas is a copy of the fleet's replicas: the test adds to it meanwhile.
func (s *runSampler) replicas() []*replica {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	return append([]*replica(nil), s.f.replicas...)
}

func (s *runSampler) stop() {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	s.wg.Wait()
}

// report is how many samples were taken, how many saw a run, and the
// overlaps seen.
func (s *runSampler) report() (samples, busy int, overlaps []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples, s.busy, append([]string(nil), s.overlaps...)
}
