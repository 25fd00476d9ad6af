package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// spread labels n CRs: shares[i] of them for members[i], each named in
// status.reconciledBy by by (nil: the member labelled).
func spread(members []string, shares []int, by func(label string) string) map[string]shardOf {
	out := map[string]shardOf{}
	for i, m := range members {
		for j := 0; j < shares[i]; j++ {
			s := shardOf{label: m, by: m}
			if by != nil {
				s.by = by(m)
			}
			out[fmt.Sprintf("%s-%d", m, j)] = s
		}
	}
	return out
}

// movedFromA: the CRs labelled d still name a in status.reconciledBy.
func movedFromA(label string) string {
	if label == "d" {
		return "a"
	}
	return label
}

func TestBalanced(t *testing.T) {
	abc, abcd := []string{"a", "b", "c"}, []string{"a", "b", "c", "d"}
	tests := []struct {
		name    string
		state   map[string]shardOf
		members []string
		n       int
		want    bool
	}{
		{"60 over 3, 20 each", spread(abc, []int{20, 20, 20}, nil), abc, 60, true},
		{"a 4th member joined: 20 is above ⌈60/4⌉", spread(abc, []int{20, 20, 20}, nil), abcd, 60, false},
		{"15 each over 4", spread(abcd, []int{15, 15, 15, 15}, nil), abcd, 60, true},
		{"below the bound on some is fine", spread(abc, []int{4, 4, 2}, nil), abc, 10, true},
		{"a CR of a member that is gone", spread(abcd, []int{15, 15, 15, 15}, nil), abc, 60, false},
		{"a handoff pending: reconciledBy still the old replica",
			spread(abcd, []int{15, 15, 15, 15}, movedFromA), abcd, 60, false},
		{"an unlabelled CR", spread([]string{"a", ""}, []int{3, 1}, nil), []string{"a"}, 4, false},
		{"CRs not all seen yet", spread(abc, []int{20, 20, 19}, nil), abc, 60, false},
		{"no members", map[string]shardOf{}, nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := balanced(tt.state, tt.members, tt.n); got != tt.want {
				t.Errorf("balanced = %v, want %v (shares %v)", got, tt.want, sharesOf(tt.state))
			}
		})
	}
}

func TestValidateSharding(t *testing.T) {
	tests := []struct {
		crs  int
		want string // in the error; "" for none
	}{
		{0, ""}, {60, ""}, {12, ""}, {4, ""}, {7, ""},
		{-1, "out of range"}, {501, "out of range"},
		{6, "a fourth replica would take none"}, {9, "a fourth replica would take none"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.crs), func(t *testing.T) {
			err := (&Options{ShardCRs: tt.crs}).validateSharding()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestShardingTargets(t *testing.T) {
	results := func(s *Sharding) map[string]string {
		out := map[string]string{}
		for _, tg := range shardingTargets(s) {
			out[tg.Figure] = tg.Result
		}
		return out
	}
	if got := shardingTargets(nil); got != nil {
		t.Errorf("targets without the phase: %v, want none", got)
	}
	s := &Sharding{CRs: 60, LeaseDurationSeconds: 15,
		Groups: []ShardGroup{
			{Replicas: 1, RunsPerCR: 1.2, Shares: map[string]int{"one-a": 60}},
			{Replicas: 3, RunsPerCR: 1, Shares: map[string]int{"a": 20, "b": 21, "c": 19}},
		},
		Join:     &ShardMove{AnsibleRuns: 0},
		Takeover: &ShardMove{Seconds: 21},
	}
	want := map[string]string{
		shardRunsTarget:     "met",
		shardShareTarget:    "missed", // 21 > ⌈60/3⌉
		shardJoinRunsTarget: "met",
		shardTakeoverTarget: "missed", // 21 s > 15 + 5
	}
	if diff := cmp.Diff(want, results(s)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	partial := &Sharding{CRs: 12, LeaseDurationSeconds: 15, Groups: []ShardGroup{{Replicas: 1, RunsPerCR: 1}}}
	want = map[string]string{shardRunsTarget: "n/a", shardShareTarget: "n/a", shardJoinRunsTarget: "n/a", shardTakeoverTarget: "n/a"}
	if diff := cmp.Diff(want, results(partial)); diff != "" {
		t.Errorf("phase cut short (-want +got):\n%s", diff)
	}
}
