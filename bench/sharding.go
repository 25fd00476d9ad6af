package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/mcrouter-operator/mcrouter-operator/internal/procfs"
	"github.com/mcrouter-operator/mcrouter-operator/runner"
	"github.com/mcrouter-operator/mcrouter-operator/shard"
)

// The sharding phase (docs/sharding.md): the same burst on 1 and on 3
// operator processes run with --sharding, each with its own POD_NAME, then a
// fourth process joining the three, then one of the four killed.

const (
	// shardStatusKey is the status key naming the replica that may run a
	// resource (the controller's statusReconciledBy, not exported).
	shardStatusKey = "reconciledBy"
	// shardLeaseDuration is the operator's default
	// --leader-elect-lease-duration, which the phase leaves as it is: a
	// killed replica's resources move once its Lease has expired.
	shardLeaseDuration = 15 * time.Second
	// shardCRsFull and shardCRsQuick are the CRs of the phase: the issue's
	// 60, and few for -quick (enough for a fourth replica to take some).
	shardCRsFull  = 60
	shardCRsQuick = 12
	// shardWaitLimit bounds the waits for membership and for a rebalance:
	// a hang guard, far above what either takes.
	shardWaitLimit = 3 * time.Minute
)

// replicaSet is the operator processes of one namespace, by identity.
type replicaSet struct {
	ns  string
	ids []string
	ops map[string]*operator
}

func (s *replicaSet) list() []*operator {
	var out []*operator
	for _, id := range s.ids {
		out = append(out, s.ops[id])
	}
	return out
}

// measureSharding runs the sharding phase unless -shard-crs is 0.
func (b *bench) measureSharding(ctx context.Context) error {
	n := b.opts.ShardCRs
	if n == 0 {
		return nil
	}
	res := &Sharding{CRs: n, LeaseDurationSeconds: shardLeaseDuration.Seconds()}
	b.report.Sharding = res
	b.log("sharding: %d CRs on 1 replica (%s executor)", n, b.opts.SingleExecutor())
	if err := b.shardBurst(ctx, res, []string{"one-a"}, false); err != nil {
		return fmt.Errorf("sharding, 1 replica: %w", err)
	}
	b.log("sharding: %d CRs on 3 replicas, then a 4th joins, then one is killed", n)
	err := b.shardBurst(ctx, res, []string{"three-a", "three-b", "three-c"}, true)
	if err != nil {
		return fmt.Errorf("sharding, 3 replicas: %w", err)
	}
	return nil
}

// shardBurst starts a replica per id in a fresh namespace (which also holds
// their Leases), waits until each sees all as members, creates the CRs and
// measures until they are Successful and the replicas quiet. With rebalance
// it then has a fourth replica join and kills the first one.
func (b *bench) shardBurst(ctx context.Context, res *Sharding, ids []string, rebalance bool) error {
	set := &replicaSet{ns: fmt.Sprintf("bench-shard-%d", len(ids)), ops: map[string]*operator{}}
	if err := b.createNamespace(ctx, set.ns); err != nil {
		return err
	}
	defer b.stopReplicas(ctx, set)
	for _, id := range ids {
		if _, err := b.startReplica(ctx, set, id); err != nil {
			return err
		}
	}
	if err := b.awaitMembers(ctx, set); err != nil {
		return err
	}
	g, err := b.shardGroup(ctx, set, res.CRs)
	if err != nil {
		return err
	}
	res.Groups = append(res.Groups, g)
	b.log("sharding, %s: all Successful in %.1fs, %.2f CPU s per CR, %.2f runs per CR; CRs per replica %s; RSS %s",
		replicas(g.Replicas), g.WallSeconds, g.CPUPerCRSeconds, g.RunsPerCR, shareList(g.Shares), rssList(g.RSSBytes))
	if rebalance {
		if res.Join, err = b.shardJoin(ctx, set, res.CRs, "three-d"); err != nil {
			return fmt.Errorf("a 4th replica: %w", err)
		}
		b.log("sharding: a 4th replica took its share %.1fs after its start (ready after %.1fs): %d CRs moved, %.0f Ansible runs",
			res.Join.Seconds, res.Join.ReadySeconds, res.Join.Moved, res.Join.AnsibleRuns)
		if res.Takeover, err = b.shardKill(ctx, set, res.CRs, ids[0]); err != nil {
			return fmt.Errorf("SIGKILL of %s: %w", ids[0], err)
		}
		b.log("sharding: %s killed; its CRs taken over in %.1fs: %d moved, %.0f Ansible runs",
			ids[0], res.Takeover.Seconds, res.Takeover.Moved, res.Takeover.AnsibleRuns)
	}
	b.stopReplicas(ctx, set)
	return b.deleteNamespace(ctx, set.ns)
}

// startReplica starts one operator with --sharding and POD_NAME=id, its
// Leases in set.ns, as startOperatorIn starts the others, and adds it to set
// once it is ready. A port picked free and taken by another process before
// the operator bound it (the operator then exits at once) is picked again.
func (b *bench) startReplica(ctx context.Context, set *replicaSet, id string) (*operator, error) {
	for attempt := 1; ; attempt++ {
		o, err := b.launchReplica(set.ns, id)
		if err != nil {
			return nil, err
		}
		err = o.WaitReady(ctx)
		if err != nil && attempt < 3 && strings.Contains(o.Logs(), "address already in use") {
			b.log("replica %s: a port picked for it was taken meanwhile; starting it again", id)
			_ = o.Stop(10 * time.Second)
			continue
		}
		set.ids, set.ops[id] = append(set.ids, id), o
		if err != nil {
			return nil, o.failure(fmt.Errorf("replica %s: %w", id, err))
		}
		if o.executor == string(runner.ExecutorWarm) {
			if err := b.awaitWarmServer(ctx, o); err != nil {
				return nil, err
			}
		}
		return o, nil
	}
}

// launchReplica starts the process of replica id.
func (b *bench) launchReplica(ns, id string) (*operator, error) {
	phase := "shard-" + id
	return b.launch(phase, b.opts.SingleExecutor(), filepath.Join(b.tmp, "runner-"+phase), []string{"POD_NAME=" + id},
		"--sharding", "--leader-election-namespace", ns)
}

// stopReplicas stops every replica of set still running (SIGTERM: each
// releases its Lease) and forgets them.
func (b *bench) stopReplicas(ctx context.Context, set *replicaSet) {
	for _, op := range set.list() {
		b.stopOperator(ctx, op)
	}
	set.ids, set.ops = nil, map[string]*operator{}
}

// awaitMembers waits until every replica of set counts all of them as
// members (ansible_operator_shard_members).
func (b *bench) awaitMembers(ctx context.Context, set *replicaSet) error {
	want := float64(len(set.ids))
	return b.pollReplicas(ctx, set, "every replica to see the others", func() (bool, error) {
		for _, op := range set.list() {
			m, err := scrape(ctx, op.metricsURL)
			if err != nil {
				return false, err
			}
			if m.sum("ansible_operator_shard_members", nil) != want {
				return false, nil
			}
		}
		return true, nil
	})
}

// pollReplicas polls cond every 100 ms until it holds, a replica exits or
// shardWaitLimit passes.
func (b *bench) pollReplicas(ctx context.Context, set *replicaSet, what string, cond func() (bool, error)) error {
	for start := time.Now(); ; {
		ok, err := cond()
		if ok || err != nil {
			return err
		}
		for _, op := range set.list() {
			if exited, exitErr := op.Exited(); exited {
				return op.failure(fmt.Errorf("waiting for %s: replica %s exited: %v", what, op.phase, exitErr))
			}
		}
		if time.Since(start) > shardWaitLimit {
			return set.list()[0].failure(fmt.Errorf("waiting for %s: not after %s", what, shardWaitLimit))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// shardGroup creates n CRs at once in set.ns and measures until all are
// Successful and every replica is quiet.
func (b *bench) shardGroup(ctx context.Context, set *replicaSet, n int) (ShardGroup, error) {
	g := ShardGroup{Replicas: len(set.ids), Namespace: set.ns, RSSBytes: map[string]int64{}}
	before, err := b.replicaUsage(ctx, set)
	if err != nil {
		return g, err
	}
	names := crNames("shard", n)
	create := func(ctx context.Context) error { return b.createAll(ctx, set.ns, names, nil) }
	start, done, err := b.awaitSuccessful(ctx, set.ops[set.ids[0]], set.ns, names, 1, b.timeout(n), create)
	if err != nil {
		return g, err
	}
	g.WallSeconds, _, _ = doneStats(start, done)
	// Runs that controllers re-trigger after Successful belong to the burst.
	if err := b.settleReplicas(ctx, set, 3*time.Second, 60*time.Second); err != nil {
		return g, err
	}
	after, err := b.replicaUsage(ctx, set)
	if err != nil {
		return g, err
	}
	d := after.sub(before.counters)
	g.TreeCPUSeconds = float64(after.cpuTicks-before.cpuTicks) / b.clkTck
	g.CPUPerCRSeconds = perUnit(g.TreeCPUSeconds, float64(n))
	g.AnsibleRuns, g.FailedRuns, g.RunsPerCR = d.Runs, d.FailedRuns, perUnit(d.Runs, float64(n))
	for _, id := range set.ids {
		mem, err := procfs.ReadMemory(b.procRoot, set.ops[id].Pid())
		if err != nil {
			return g, err
		}
		g.RSSBytes[id] = mem.RSS
	}
	labels, err := b.shardState(ctx, set.ns)
	if err != nil {
		return g, err
	}
	g.Shares = sharesOf(labels)
	return g, nil
}

// shardJoin starts replica id beside the others of set and measures until
// it holds its share and no handoff is pending.
func (b *bench) shardJoin(ctx context.Context, set *replicaSet, n int, id string) (*ShardMove, error) {
	mv := &ShardMove{Replica: id, Replicas: len(set.ids) + 1}
	before, err := b.shardState(ctx, set.ns)
	if err != nil {
		return nil, err
	}
	u0, err := b.replicaUsage(ctx, set)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if _, err := b.startReplica(ctx, set, id); err != nil {
		return nil, err
	}
	mv.ReadySeconds = time.Since(start).Seconds()
	if err := b.finishMove(ctx, set, n, start, before, mv); err != nil {
		return nil, err
	}
	u1, err := b.replicaUsage(ctx, set)
	if err != nil {
		return nil, err
	}
	mv.AnsibleRuns = u1.Runs - u0.Runs
	mv.MeanHandoffSeconds = perUnit(u1.handoffSeconds-u0.handoffSeconds, u1.handoffs-u0.handoffs)
	return mv, nil
}

// shardKill kills replica id (SIGKILL) and measures until the others have
// taken its CRs over.
func (b *bench) shardKill(ctx context.Context, set *replicaSet, n int, id string) (*ShardMove, error) {
	mv := &ShardMove{Replica: id, Replicas: len(set.ids) - 1}
	before, err := b.shardState(ctx, set.ns)
	if err != nil {
		return nil, err
	}
	op := set.ops[id]
	set.ids = slices.DeleteFunc(set.ids, func(s string) bool { return s == id })
	delete(set.ops, id)
	u0, err := b.replicaUsage(ctx, set)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	op.Kill()
	b.stopOperator(ctx, op) // its process group, whatever it left
	if err := b.finishMove(ctx, set, n, start, before, mv); err != nil {
		return nil, err
	}
	u1, err := b.replicaUsage(ctx, set)
	if err != nil {
		return nil, err
	}
	mv.AnsibleRuns = u1.Runs - u0.Runs
	return mv, nil
}

// finishMove waits until the CRs of set.ns are balanced over set's
// replicas, records when, then lets the replicas settle and records what
// moved.
func (b *bench) finishMove(ctx context.Context, set *replicaSet, n int, start time.Time,
	before map[string]shardOf, mv *ShardMove) error {
	done, err := b.awaitBalanced(ctx, set, n)
	if err != nil {
		return err
	}
	mv.Seconds = done.Sub(start).Seconds()
	if err := b.settleReplicas(ctx, set, 3*time.Second, 60*time.Second); err != nil {
		return err
	}
	after, err := b.shardState(ctx, set.ns)
	if err != nil {
		return err
	}
	mv.Shares = sharesOf(after)
	for name, s := range after {
		if before[name].label != s.label {
			mv.Moved++
		}
	}
	return nil
}

// shardOf is where one CR is: its shard label and status.reconciledBy.
type shardOf struct{ label, by string }

func shardOfObject(obj *unstructured.Unstructured) shardOf {
	by, _, _ := unstructured.NestedString(obj.Object, "status", shardStatusKey)
	return shardOf{label: obj.GetLabels()[shard.Label], by: by}
}

// shardState lists the Mcrouters of ns: where each is, by name.
func (b *bench) shardState(ctx context.Context, ns string) (map[string]shardOf, error) {
	list, err := b.dyn.Resource(mcrouterGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list the Mcrouters of %s: %w", ns, err)
	}
	out := map[string]shardOf{}
	for i := range list.Items {
		out[list.Items[i].GetName()] = shardOfObject(&list.Items[i])
	}
	return out, nil
}

// balanced reports whether the n CRs in state are spread over members as
// the planner leaves them: each labelled for a member, no member holding
// more than ⌈n/members⌉, and each named in status.reconciledBy by the
// member it is labelled for (no handoff pending).
func balanced(state map[string]shardOf, members []string, n int) bool {
	if len(state) != n || len(members) == 0 {
		return false
	}
	bound := ceilDiv(n, len(members))
	shares := map[string]int{}
	for _, s := range state {
		if !slices.Contains(members, s.label) || s.by != s.label {
			return false
		}
		if shares[s.label]++; shares[s.label] > bound {
			return false
		}
	}
	return true
}

// awaitBalanced watches the Mcrouters of set.ns until they are balanced
// over set's replicas, and returns when that was seen.
func (b *bench) awaitBalanced(ctx context.Context, set *replicaSet, n int) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, shardWaitLimit)
	defer cancel()
	state := map[string]shardOf{}
	var at time.Time
	observe := func(ev watch.Event) (bool, error) {
		obj, ok := ev.Object.(*unstructured.Unstructured)
		if ev.Type == watch.Error || !ok {
			return false, fmt.Errorf("watch of Mcrouters failed: %v", ev.Object)
		}
		if ev.Type == watch.Deleted {
			delete(state, obj.GetName())
		} else {
			state[obj.GetName()] = shardOfObject(obj)
		}
		if balanced(state, set.ids, n) {
			at = time.Now()
			return true, nil
		}
		return false, nil
	}
	err := watchUntil(ctx, b.dyn, mcrouterGVR, set.ns, "", make(chan struct{}), observe)
	if err != nil {
		err = fmt.Errorf("CRs not balanced over %s: %w; shares %v", strings.Join(set.ids, ", "), err, sharesOf(state))
		return at, set.list()[0].failure(err)
	}
	return at, nil
}

// settleReplicas waits until no replica of set runs Ansible and their
// summed counters have not changed for quiet; after limit it goes on and
// says so.
func (b *bench) settleReplicas(ctx context.Context, set *replicaSet, quiet, limit time.Duration) error {
	clock := quietClock{quiet: quiet}
	for start := time.Now(); ; {
		now, err := b.replicaUsage(ctx, set)
		if err != nil {
			return err
		}
		if clock.observe(time.Now(), allActivity(now.counters), now.busy) {
			return nil
		}
		if time.Since(start) >= limit {
			b.log("replicas in %s still busy after %s; measuring anyway", set.ns, limit)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// replicasNow is the replicas of a set at one moment, summed.
type replicasNow struct {
	counters
	cpuTicks uint64 // of their process trees
	busy     bool   // some replica runs Ansible
	// handoffSeconds and handoffs are ansible_operator_shard_handoff_seconds'
	// sum and count.
	handoffSeconds, handoffs float64
}

// replicaUsage reads and sums the metrics and process trees of set's
// replicas.
func (b *bench) replicaUsage(ctx context.Context, set *replicaSet) (replicasNow, error) {
	var now replicasNow
	for _, op := range set.list() {
		m, err := scrape(ctx, op.metricsURL)
		if err != nil {
			return now, op.failure(err)
		}
		tree, err := readTree(b.procRoot, op.Pid(), op.isServer)
		if err != nil {
			return now, op.failure(err)
		}
		now.counters = addCounters(now.counters, countersOf(m))
		now.cpuTicks += tree.CPUTicks
		now.busy = now.busy || tree.Runs > 0
		now.handoffSeconds += m.sum("ansible_operator_shard_handoff_seconds_sum", nil)
		now.handoffs += m.sum("ansible_operator_shard_handoff_seconds_count", nil)
	}
	return now, nil
}

// addCounters adds the run and reconcile counters of c to sum.
func addCounters(sum, c counters) counters {
	sum.Runs += c.Runs
	sum.FailedRuns += c.FailedRuns
	sum.Skipped += c.Skipped
	sum.Reconciles += c.Reconciles
	sum.RunSeconds += c.RunSeconds
	return sum
}

// sharesOf counts the CRs labelled for each replica ("" for none).
func sharesOf(state map[string]shardOf) map[string]int {
	out := map[string]int{}
	for _, s := range state {
		out[s.label]++
	}
	return out
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
