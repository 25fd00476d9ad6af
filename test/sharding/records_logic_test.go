package sharding_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestOverlapping checks the check the scenarios rely on: intersecting runs
// of one Mcrouter are found, an unended run overlaps whatever follows it,
// runs of different Mcrouters and runs that only touch are not reported.
func TestOverlapping(t *testing.T) {
	at := func(s float64) time.Time {
		return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(s * float64(time.Second)))
	}
	runs := []run{
		{record: "a1", mcrouter: "a", replica: "r1", start: at(0), end: at(2)},
		{record: "a2", mcrouter: "a", replica: "r2", start: at(1), end: at(3)}, // inside a1
		{record: "a3", mcrouter: "a", replica: "r1", start: at(3), end: at(4)}, // touches a2
		{record: "b1", mcrouter: "b", replica: "r1", start: at(1), end: at(5)}, // another Mcrouter
		{record: "c1", mcrouter: "c", replica: "r3", start: at(0)},             // never ended
		{record: "c2", mcrouter: "c", replica: "r1", start: at(9), end: at(10)},
	}
	got := overlapping(runs)
	want := []string{
		runs[0].String() + " overlaps " + runs[1].String(),
		runs[4].String() + " overlaps " + runs[5].String(),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("overlapping (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{runs[4].String()}, unended(runs)); diff != "" {
		t.Errorf("unended (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"a": "a3", "b": "b1", "c": "c2"}, latestRuns(runs)); diff != "" {
		t.Errorf("latestRuns (-want +got):\n%s", diff)
	}
	if fresh := newRuns(runs[:3], runs); len(fresh) != 3 || fresh[0].record != "b1" {
		t.Errorf("newRuns: %v", fresh)
	}
}
