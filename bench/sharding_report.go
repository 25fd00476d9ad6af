package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// The sharding phase's results, options, table rows and targets.

// The figures of the sharding phase that have targets.
const (
	shardRunsTarget     = "sharding, 3 replicas: Ansible runs per created CR"
	shardShareTarget    = "sharding, 3 replicas: largest share (≤ ⌈CRs/3⌉)"
	shardJoinRunsTarget = "sharding: Ansible runs while a 4th replica takes its share"
	shardTakeoverTarget = "sharding: SIGKILL of a replica → its CRs taken over"
)

// Sharding is what the sharding phase measured.
type Sharding struct {
	CRs int `json:"crs"`
	// Groups are the bursts on 1 and on 3 replicas.
	Groups []ShardGroup `json:"groups"`
	// Join is a fourth replica started beside the three, Takeover one of
	// the four killed with SIGKILL.
	Join                 *ShardMove `json:"join,omitempty"`
	Takeover             *ShardMove `json:"takeover,omitempty"`
	LeaseDurationSeconds float64    `json:"leaseDurationSeconds"`
}

// ShardGroup is a burst of CRs created at once, reconciled by Replicas
// operator processes.
type ShardGroup struct {
	Replicas  int    `json:"replicas"`
	Namespace string `json:"namespace"`
	// WallSeconds runs from the creation of the CRs to all Successful.
	WallSeconds float64 `json:"wallSeconds"`
	// TreeCPUSeconds is the CPU time of every replica's process tree over
	// the burst (its Ansible runs included); CPUPerCRSeconds that per CR.
	TreeCPUSeconds  float64 `json:"treeCPUSeconds"`
	CPUPerCRSeconds float64 `json:"cpuPerCRSeconds"`
	AnsibleRuns     float64 `json:"ansibleRuns"`
	FailedRuns      float64 `json:"failedRuns"`
	RunsPerCR       float64 `json:"runsPerCR"`
	// RSSBytes is each replica's RSS once the burst has settled, by replica.
	RSSBytes map[string]int64 `json:"rssBytes"`
	// Shares are the CRs labelled for each replica.
	Shares map[string]int `json:"shares"`
}

// ShardMove is a change of members and the rebalancing that follows.
type ShardMove struct {
	Replica  string `json:"replica"`  // the one started or killed
	Replicas int    `json:"replicas"` // members afterwards
	// Seconds runs from the start (or the kill) to every CR labelled for a
	// member, none holding more than ⌈CRs/members⌉, and no handoff pending
	// (status.reconciledBy equal to the label everywhere).
	Seconds float64 `json:"seconds"`
	// ReadySeconds is the new replica's start → ready (join only).
	ReadySeconds float64 `json:"readySeconds,omitempty"`
	Moved        int     `json:"moved"` // CRs whose label changed
	// MeanHandoffSeconds is ansible_operator_shard_handoff_seconds over
	// the move (join only: a killed replica hands nothing off).
	MeanHandoffSeconds float64        `json:"meanHandoffSeconds,omitempty"`
	AnsibleRuns        float64        `json:"ansibleRuns"`
	Shares             map[string]int `json:"shares"`
}

// applyShardQuick gives -quick its number of sharding CRs unless
// -shard-crs was given.
func (o *Options) applyShardQuick(set map[string]bool) {
	if o.Quick && !set["shard-crs"] {
		o.ShardCRs = shardCRsQuick
	}
}

// validateSharding checks -shard-crs: 0 leaves the phase out; otherwise a
// fourth replica must take some CRs from three (⌈n/4⌉ < ⌈n/3⌉).
func (o *Options) validateSharding() error {
	n := o.ShardCRs
	switch {
	case n == 0:
		return nil
	case n < 1 || n > 500:
		return fmt.Errorf("-shard-crs: %d out of range 0..500 (0 skips the sharding phase)", n)
	case ceilDiv(n, 4) >= ceilDiv(n, 3):
		return fmt.Errorf("-shard-crs: with %d CRs a fourth replica would take none from three (⌈n/4⌉ = ⌈n/3⌉); try %d", n, n+1)
	}
	return nil
}

func replicas(n int) string {
	if n == 1 {
		return "1 replica"
	}
	return fmt.Sprintf("%d replicas", n)
}

// shareList is "a 20, b 20, c 20" (sorted; "(none)" for CRs unlabelled).
func shareList(shares map[string]int) string {
	var parts []string
	for _, id := range slices.Sorted(maps.Keys(shares)) {
		name := id
		if name == "" {
			name = "(none)"
		}
		parts = append(parts, fmt.Sprintf("%s %d", name, shares[id]))
	}
	return strings.Join(parts, ", ")
}

func rssList(rss map[string]int64) string {
	var parts []string
	for _, id := range slices.Sorted(maps.Keys(rss)) {
		parts = append(parts, fmt.Sprintf("%s %.1f MB", id, float64(rss[id])/megabytes))
	}
	return strings.Join(parts, ", ")
}

// shardingRows are the table's figures of the sharding phase.
func shardingRows(s *Sharding) []row {
	if s == nil {
		return nil
	}
	var out []row
	for _, g := range s.Groups {
		p := fmt.Sprintf("sharding, %s, %d CRs: ", replicas(g.Replicas), s.CRs)
		runsTarget := ""
		if g.Replicas == 3 {
			runsTarget = shardRunsTarget
		}
		out = append(out,
			row{p + "all Successful", secs(g.WallSeconds), ""},
			row{p + "CPU per CR (all replicas' process trees)", fmt.Sprintf("%.2f s (%.1f s in all)", g.CPUPerCRSeconds, g.TreeCPUSeconds), ""},
			row{p + "Ansible runs per CR", fmt.Sprintf("%.2f (%.0f runs, %.0f failed)", g.RunsPerCR, g.AnsibleRuns, g.FailedRuns), runsTarget},
			row{p + "operator RSS per replica", rssList(g.RSSBytes), ""},
			row{p + "CRs per replica", shareList(g.Shares), shareTargetOf(g)},
		)
	}
	if j := s.Join; j != nil {
		out = append(out,
			row{"sharding: 4th replica start → share taken, no handoff pending",
				fmt.Sprintf("%s (ready after %s; %d moved, mean handoff %s)", secs(j.Seconds), secs(j.ReadySeconds), j.Moved, secs(j.MeanHandoffSeconds)), ""},
			row{"sharding: Ansible runs while the 4th replica took its share", fmt.Sprintf("%.0f; CRs per replica %s", j.AnsibleRuns, shareList(j.Shares)), shardJoinRunsTarget})
	}
	if k := s.Takeover; k != nil {
		out = append(out, row{"sharding: SIGKILL of a replica → its CRs taken over",
			fmt.Sprintf("%s (%d moved, %.0f Ansible runs; CRs per replica %s)", secs(k.Seconds), k.Moved, k.AnsibleRuns, shareList(k.Shares)),
			shardTakeoverTarget})
	}
	return out
}

func shareTargetOf(g ShardGroup) string {
	if g.Replicas == 3 {
		return shardShareTarget
	}
	return ""
}

// shardingTargets checks the sharding phase's figures: one Ansible run per
// CR and no replica above ⌈CRs/3⌉ on 3 replicas, no run while a fourth
// replica takes its share, and a killed replica's CRs taken over within
// the lease duration + 5 s (the issue's). A run without the phase
// (-shard-crs 0) has none of them.
func shardingTargets(s *Sharding) []Target {
	if s == nil {
		return nil
	}
	i := slices.IndexFunc(s.Groups, func(g ShardGroup) bool { return g.Replicas == 3 })
	var g3 ShardGroup
	if i >= 0 {
		g3 = s.Groups[i]
	}
	largest := 0
	for id, n := range g3.Shares {
		if id != "" {
			largest = max(largest, n)
		}
	}
	var join, kill ShardMove
	if s.Join != nil {
		join = *s.Join
	}
	if s.Takeover != nil {
		kill = *s.Takeover
	}
	return []Target{
		check(shardRunsTarget, g3.RunsPerCR, "==", 1, "", i >= 0),
		check(shardShareTarget, float64(largest), "<=", float64(ceilDiv(s.CRs, 3)), "CRs", i >= 0),
		check(shardJoinRunsTarget, join.AnsibleRuns, "==", 0, "runs", s.Join != nil),
		check(shardTakeoverTarget, kill.Seconds, "<=", s.LeaseDurationSeconds+5, "s", s.Takeover != nil),
	}
}
