package main

import (
	"os"
	"time"
)

// treePeak is what a sampler saw of a process tree.
type treePeak struct {
	RSSBytes   int64 // largest sum of the tree's resident sets
	RootRSS    int64 // the root's resident set at that sample
	ServerRSS  int64 // the warm servers' resident sets at that sample
	Procs      int   // processes in the tree at that sample
	RunsAtPeak int   // Ansible runs in flight at that sample
	MaxRuns    int   // most runs in flight in any sample
	Samples    int
	// Memory holds the PSS and RSS samples of the runs' processes, taken
	// while at least minConcurrentRuns runs were in flight.
	Memory []memSample
	Err    error // the first read error, if any sample failed
}

// sampler reads a process tree at a fixed interval until stopped.
type sampler struct {
	stop chan struct{}
	done chan struct{}
	peak treePeak
}

// memEvery spaces the memory samples: a smaps_rollup read costs about half
// a millisecond per process (the kernel walks its mappings), ten times a
// stat read, and the benchmark must not compete with the runs it measures.
const memEvery = 250 * time.Millisecond

// startSampler samples the tree of pid every interval on its own goroutine,
// and the memory of its runs every memEvery while enough are in flight;
// isServer tells the warm servers among the children of pid. Stop ends it
// and waits for it.
func startSampler(procRoot string, pid int, isServer func(int) bool, interval time.Duration) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	page := int64(os.Getpagesize())
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		var lastMem time.Time
		for {
			if s.sample(procRoot, pid, isServer, page, time.Since(lastMem) >= memEvery) {
				lastMem = time.Now()
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// sample reads the tree once, and the memory of its runs when memDue and
// enough runs are in flight; it reports whether it read the memory.
func (s *sampler) sample(procRoot string, pid int, isServer func(int) bool, page int64, memDue bool) bool {
	u, err := readTree(procRoot, pid, isServer)
	if err != nil {
		s.fail(err)
		return false
	}
	s.peak.Samples++
	if rss := u.RSSPages * page; rss > s.peak.RSSBytes {
		s.peak.RSSBytes, s.peak.Procs, s.peak.RunsAtPeak = rss, u.Procs, u.Runs
		s.peak.RootRSS, s.peak.ServerRSS = u.RootRSSPages*page, u.ServerRSSPages*page
	}
	s.peak.MaxRuns = max(s.peak.MaxRuns, u.Runs)
	if !memDue || u.Runs < minConcurrentRuns {
		return false
	}
	m, err := readMemSample(procRoot, u.parts)
	if err != nil {
		s.fail(err)
		return false
	}
	s.peak.Memory = append(s.peak.Memory, m)
	return true
}

func (s *sampler) fail(err error) {
	if s.peak.Err == nil {
		s.peak.Err = err
	}
}

// Stop ends sampling and returns the peak.
func (s *sampler) Stop() treePeak {
	close(s.stop)
	<-s.done
	return s.peak
}
