package main

import (
	"strings"
	"testing"
	"time"
)

func TestQuietClock(t *testing.T) {
	type poll struct {
		at    time.Duration // since the first poll
		key   float64
		busy  bool
		quiet bool // want
	}
	tests := []struct {
		name       string
		polls      []poll
		lastChange time.Duration // want, after the last poll
	}{
		{"the first poll starts the interval", []poll{{0, 5, false, false}, {2 * time.Second, 5, false, false}, {3 * time.Second, 5, false, true}}, 0},
		{"a changed key restarts it", []poll{{0, 5, false, false}, {2 * time.Second, 6, false, false},
			{4 * time.Second, 6, false, false}, {5 * time.Second, 6, false, true}}, 2 * time.Second},
		{"a busy poll restarts it", []poll{{0, 5, false, false}, {2 * time.Second, 5, true, false},
			{4 * time.Second, 5, false, false}, {5 * time.Second, 5, false, true}}, 2 * time.Second},
		{"busy with an unchanged key is never quiet", []poll{{0, 5, true, false}, {4 * time.Second, 5, true, false},
			{8 * time.Second, 5, true, false}}, 8 * time.Second},
		{"a key that changes back still changed", []poll{{0, 5, false, false}, {time.Second, 6, false, false},
			{2 * time.Second, 5, false, false}, {5 * time.Second, 5, false, true}}, 2 * time.Second},
	}
	t0 := time.Unix(1000, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := quietClock{quiet: 3 * time.Second}
			for i, p := range tt.polls {
				if got := clock.observe(t0.Add(p.at), [3]float64{p.key}, p.busy); got != p.quiet {
					t.Errorf("poll %d at %s: quiet %v, want %v", i, p.at, got, p.quiet)
				}
			}
			if got := clock.lastChange.Sub(t0); got != tt.lastChange {
				t.Errorf("last change at %s, want %s", got, tt.lastChange)
			}
		})
	}
}

func TestReconciledAll(t *testing.T) {
	tests := []struct {
		name       string
		reconciles float64
		want       string // in the error; "" for reached
	}{
		{"none yet", 0, "0 reconciles for 4 CRs"},
		{"some", 3, "3 reconciles for 4 CRs"},
		{"one per CR", 4, ""},
		{"more than one per CR", 9, ""},
	}
	goal := reconciledAll(4)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := goal(counters{Reconciles: tt.reconciles, Runs: 4})
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
