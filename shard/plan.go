package shard

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"slices"
)

// Item is one resource as the planner sees it.
type Item struct {
	// Key identifies the resource to act on: namespace/name.
	Key string
	// UID ranks the replicas for the resource; it never changes.
	UID string
	// Owner is the value of its shard label ("" when unlabelled).
	Owner string
}

// Move is a change of one resource's replica that self must make: a claim
// (To is self: the resource has no live owner) or a handoff (From is self).
type Move struct {
	Key, From, To string
}

// Plan is rendezvous hashing with bounded loads, computed by every replica
// from the same view: members hold at most ceil(n/m) resources each. A
// resource with a live owner stays where it is (moving costs a handoff);
// one without (new, or its replica gone) goes to the highest-ranked member
// with room; a member above the bound hands its least-attached resources to
// the highest-ranked members with room. Plan returns only the moves self
// makes: its claims and its handoffs. members must be sorted and hold self.
func Plan(items []Item, members []string, self string) []Move {
	if len(members) == 0 || !slices.Contains(members, self) {
		return nil
	}
	bound := (len(items) + len(members) - 1) / len(members)
	load := make(map[string]int, len(members))
	var orphans, mine []Item
	for _, it := range items {
		if _, live := slices.BinarySearch(members, it.Owner); live {
			load[it.Owner]++
			if it.Owner == self {
				mine = append(mine, it)
			}
			continue
		}
		orphans = append(orphans, it)
	}
	// Every replica places the orphans in the same order, so they agree.
	slices.SortFunc(orphans, func(a, b Item) int {
		return cmp.Or(cmp.Compare(score("", a.UID), score("", b.UID)), cmp.Compare(a.Key, b.Key))
	})
	var moves []Move
	for _, it := range orphans {
		to := best(members, it.UID, load, bound, "")
		load[to]++
		if to == self {
			moves = append(moves, Move{Key: it.Key, From: it.Owner, To: self})
		}
	}
	// Hand over the resources that rank self lowest.
	slices.SortFunc(mine, func(a, b Item) int {
		return cmp.Or(cmp.Compare(score(self, a.UID), score(self, b.UID)), cmp.Compare(a.Key, b.Key))
	})
	for _, it := range mine {
		if load[self] <= bound {
			break
		}
		to := best(members, it.UID, load, bound, self)
		if to == "" || load[to] >= bound {
			break
		}
		load[to]++
		load[self]--
		moves = append(moves, Move{Key: it.Key, From: self, To: to})
	}
	return moves
}

// best is the member other than except that ranks uid highest among those
// below bound, else the highest-ranked of all ("" when there is none).
func best(members []string, uid string, load map[string]int, bound int, except string) string {
	var top, topAny string
	var topScore, topAnyScore uint64
	for _, m := range members {
		if m == except {
			continue
		}
		s := score(m, uid)
		if topAny == "" || s > topAnyScore {
			topAny, topAnyScore = m, s
		}
		if load[m] < bound && (top == "" || s > topScore) {
			top, topScore = m, s
		}
	}
	if top == "" {
		return topAny
	}
	return top
}

// score is the rendezvous weight of member for the resource uid.
func score(member, uid string) uint64 {
	sum := sha256.Sum256([]byte(member + "\x00" + uid))
	return binary.BigEndian.Uint64(sum[:8])
}
