package shard

import (
	"fmt"
	"maps"
	"slices"
	"testing"
)

// cluster is the shared state the replicas plan from in these tests: the
// owner label of every resource.
type cluster struct {
	uids   []string
	owners map[string]string // key → owner
}

func newCluster(n int) *cluster {
	c := &cluster{owners: map[string]string{}}
	for i := range n {
		c.uids = append(c.uids, fmt.Sprintf("uid-%04d-%x", i, i*7919))
		c.owners[key(i)] = ""
	}
	return c
}

func key(i int) string { return fmt.Sprintf("ns/cr-%d", i) }

func (c *cluster) items() []Item {
	out := make([]Item, len(c.uids))
	for i, uid := range c.uids {
		out[i] = Item{Key: key(i), UID: uid, Owner: c.owners[key(i)]}
	}
	return out
}

func (c *cluster) loads(members []string) map[string]int {
	l := map[string]int{}
	for _, m := range members {
		l[m] = 0
	}
	for _, o := range c.owners {
		l[o]++
	}
	return l
}

// settle lets each member in turn carry out its plan on the current state
// until no member has a move left; it returns the number of moves.
func (c *cluster) settle(t *testing.T, members []string) int {
	t.Helper()
	moves := 0
	for round := 0; round < 20; round++ {
		moved := false
		for _, m := range members {
			for _, mv := range Plan(c.items(), members, m) {
				if c.owners[mv.Key] != mv.From {
					t.Fatalf("%s moves %s from %q, but its owner is %q", m, mv.Key, mv.From, c.owners[mv.Key])
				}
				if mv.From != m && mv.To != m {
					t.Fatalf("%s planned a move it does not take part in: %+v", m, mv)
				}
				c.owners[mv.Key] = mv.To
				moves++
				moved = true
			}
		}
		if !moved {
			return moves
		}
	}
	t.Fatalf("no steady state after 20 rounds: loads %v", c.loads(members))
	return 0
}

func checkBalanced(t *testing.T, c *cluster, members []string) {
	t.Helper()
	n, m := len(c.uids), len(members)
	bound := (n + m - 1) / m
	for who, l := range c.loads(members) {
		if !slices.Contains(members, who) {
			t.Errorf("%d resources held by %q, not a member", l, who)
		}
		if l > bound || l < n-(m-1)*bound {
			t.Errorf("%s holds %d, want %d..%d (loads %v)", who, l, n-(m-1)*bound, bound, c.loads(members))
		}
	}
}

func TestPlanSpreadsNewResourcesEvenly(t *testing.T) {
	for _, tc := range []struct{ n, m int }{{60, 3}, {61, 3}, {1000, 7}, {2, 3}, {0, 2}, {5, 1}} {
		t.Run(fmt.Sprintf("%d over %d", tc.n, tc.m), func(t *testing.T) {
			c := newCluster(tc.n)
			var members []string
			for i := range tc.m {
				members = append(members, fmt.Sprintf("r%d", i))
			}
			if moves := c.settle(t, members); moves != tc.n {
				t.Errorf("%d moves to place %d resources, want one each", moves, tc.n)
			}
			checkBalanced(t, c, members)
		})
	}
}

func TestPlanMovesOnlyTheShareOfAJoiningReplica(t *testing.T) {
	c := newCluster(60)
	members := []string{"r1", "r2", "r3"}
	c.settle(t, members)
	before := maps.Clone(c.owners)
	members = []string{"r1", "r2", "r3", "r4"}
	moves := c.settle(t, members)
	checkBalanced(t, c, members)
	if moves != 15 {
		t.Errorf("%d moves for a fourth replica, want its share, 15", moves)
	}
	for k, o := range c.owners {
		if o != before[k] && o != "r4" {
			t.Errorf("%s moved from %s to %s, not to the new replica", k, before[k], o)
		}
	}
}

func TestPlanSpreadsTheResourcesOfAReplicaThatLeft(t *testing.T) {
	c := newCluster(60)
	c.settle(t, []string{"r1", "r2", "r3"})
	members := []string{"r1", "r3"}
	before := maps.Clone(c.owners)
	moves := c.settle(t, members)
	checkBalanced(t, c, members)
	if moves != 20 {
		t.Errorf("%d moves after r2 left, want its 20", moves)
	}
	for k, o := range c.owners {
		if before[k] != "r2" && o != before[k] {
			t.Errorf("%s moved from %s, which stayed", k, before[k])
		}
	}
}

func TestPlanTakesLabelsOfNonMembersAsUnassigned(t *testing.T) {
	c := newCluster(10)
	for i := range 10 {
		c.owners[key(i)] = "someone-else"
	}
	members := []string{"a", "b"}
	c.settle(t, members)
	checkBalanced(t, c, members)
}

func TestPlanLeavesAStickyImbalanceWithinTheBound(t *testing.T) {
	// A tenant may label its resources for one replica; that replica keeps
	// up to the bound and hands over the rest.
	c := newCluster(9)
	for i := range 9 {
		c.owners[key(i)] = "a"
	}
	members := []string{"a", "b", "c"}
	if moves := c.settle(t, members); moves != 6 {
		t.Errorf("%d moves, want 6", moves)
	}
	checkBalanced(t, c, members)
}

func TestPlanNothingForNonMembers(t *testing.T) {
	c := newCluster(4)
	if got := Plan(c.items(), []string{"a"}, "b"); got != nil {
		t.Errorf("a replica that is not a member planned %v", got)
	}
	if got := Plan(c.items(), nil, "b"); got != nil {
		t.Errorf("no members, yet a plan: %v", got)
	}
}

// TestPlainRendezvousSpread measures what the bound buys: with plain
// rendezvous hashing, how often does one of 3 replicas hold fewer than 15 or
// more than 25 of 60 resources? (docs/sharding.md quotes it.)
func TestPlainRendezvousSpread(t *testing.T) {
	const trials = 2000
	out := 0
	for trial := range trials {
		loads := map[string]int{}
		for i := range 60 {
			uid := fmt.Sprintf("%d-%d", trial, i)
			loads[best([]string{"r1", "r2", "r3"}, uid, nil, 0, "")]++
		}
		for _, r := range []string{"r1", "r2", "r3"} {
			if loads[r] < 15 || loads[r] > 25 {
				out++
				break
			}
		}
	}
	t.Logf("plain rendezvous, 60 over 3: a replica outside 15..25 in %d of %d trials (%.0f%%)", out, trials, 100*float64(out)/trials)
	if out == 0 {
		t.Errorf("plain rendezvous never left 15..25: the bound would not be needed")
	}
}

func TestSanitize(t *testing.T) {
	long := "Operator_" + string(slices.Repeat([]byte("x"), 80))
	for in, want := range map[string]string{
		"mcrouter-operator-7d9c-abcde": "mcrouter-operator-7d9c-abcde",
		"Host.Example.COM":             "host-example-com",
		"--a_b--":                      "a-b",
		"***":                          "",
	} {
		if got := Sanitize(in); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
	got := Sanitize(long)
	if len(got) > 63 || got != Sanitize(long) || got == Sanitize(long+"y") {
		t.Errorf("Sanitize of a long name: %q (len %d), must be ≤ 63, stable and distinct", got, len(got))
	}
}
