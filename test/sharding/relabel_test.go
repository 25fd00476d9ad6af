package sharding_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

// relabelMidRun: whoever may edit a Mcrouter may set its shard label. While
// a run of one is under way on its replica, its label is set to another live
// replica: that one waits until the first has finished and let go
// (status.reconciledBy), then holds it without running it again; the two
// never run it at once (checkOverlaps, at the end of TestSharding).
func (s *scenario) relabelMidRun(t *testing.T) {
	v := s.observe(t)
	name := v.crs[0].name
	from, to := v.shard(name), ""
	for _, n := range s.f.names() {
		if n != from {
			to = n
			break
		}
	}
	runsBefore := s.runs(t)
	if err := patchMcrouter(t.Context(), s.ns, name, map[string]any{"spec": map[string]any{"memcached_pool_size": 2}}); err != nil {
		t.Fatal(err)
	}
	optest.Await(t, "the run of "+name+" for its new spec started on "+from, func(ctx context.Context) (bool, error) {
		runs, err := listRuns(ctx, s.ns)
		if err != nil {
			return false, err
		}
		fresh := newRuns(runsBefore, runs)
		return len(fresh) > 0, fmt.Errorf("%d new runs", len(fresh))
	}, s.f.ops()...)
	if err := patchMcrouter(t.Context(), s.ns, name, map[string]any{"metadata": map[string]any{
		"labels": map[string]any{shardLabel: to}}}); err != nil {
		t.Fatal(err)
	}
	// The bound may move it on from to afterwards: what counts is that it
	// settles, held by the replica it is labelled for.
	s.awaitView(t, fmt.Sprintf("%s relabelled from %s to %s mid-run, settled and let go by %s", name, from, to, from), func(v view) bool {
		for _, c := range v.crs {
			if c.name == name {
				return c.settled && c.reconciledBy == c.shard && c.shard != from
			}
		}
		return false
	})
	s.quiet()
	fresh := newRuns(runsBefore, s.runs(t))
	t.Logf("runs of %s after its spec changed and its label moved from %s to %s mid-run: %v", name, from, to, fresh)
	if len(fresh) != 1 || fresh[0].replica != from || fresh[0].end.IsZero() {
		t.Errorf("want one finished run, by %s (the replica that held it when the spec changed); got %v", from, fresh)
	}
}

func patchMcrouter(ctx context.Context, ns, name string, patch map[string]any) error {
	body, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(mcrouterGVK)
	u.SetNamespace(ns)
	u.SetName(name)
	if err := kube.Patch(ctx, u, client.RawPatch(types.MergePatchType, body)); err != nil {
		return fmt.Errorf("patch Mcrouter %s/%s: %w", ns, name, err)
	}
	return nil
}
