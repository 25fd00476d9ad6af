package main

import (
	"os"
	"time"
)

// treePeak is what a sampler saw of a process tree.
type treePeak struct {
	RSSBytes   int64 // largest sum of the tree's resident sets
	RootRSS    int64 // the root's resident set at that sample
	Procs      int   // processes in the tree at that sample
	RunsAtPeak int   // direct children of the root (Ansible runs) at that sample
	MaxRuns    int   // most direct children in any sample
	Samples    int
	Err        error // the first read error, if any sample failed
}

// sampler reads a process tree at a fixed interval until stopped.
type sampler struct {
	stop chan struct{}
	done chan struct{}
	peak treePeak
}

// startSampler samples the tree of pid every interval on its own goroutine;
// Stop ends it and waits for it.
func startSampler(procRoot string, pid int, interval time.Duration) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	page := int64(os.Getpagesize())
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			s.sample(procRoot, pid, page)
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *sampler) sample(procRoot string, pid int, page int64) {
	u, err := readTree(procRoot, pid)
	if err != nil {
		if s.peak.Err == nil {
			s.peak.Err = err
		}
		return
	}
	s.peak.Samples++
	if rss := u.RSSPages * page; rss > s.peak.RSSBytes {
		s.peak.RSSBytes, s.peak.Procs, s.peak.RunsAtPeak = rss, u.Procs, u.RootChild
		s.peak.RootRSS = u.RootRSSPages * page
	}
	s.peak.MaxRuns = max(s.peak.MaxRuns, u.RootChild)
}

// Stop ends sampling and returns the peak.
func (s *sampler) Stop() treePeak {
	close(s.stop)
	<-s.done
	return s.peak
}
