package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/mcrouter-operator/mcrouter-operator/controller"
	"github.com/mcrouter-operator/mcrouter-operator/shard"
	"github.com/mcrouter-operator/mcrouter-operator/watches"
)

// joinShards takes this replica's Lease (--sharding): it returns once the
// replica is a member and knows the others.
func joinShards(ctx context.Context, cfg *rest.Config, f *flags, ws []watches.Watch, namespaces []string) (*shard.Membership, error) {
	id, err := shard.Identity()
	if err != nil {
		return nil, err
	}
	leases, err := coordinationclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("lease client: %w", err)
	}
	prefix := f.ShardLeasePrefix
	if prefix == "" {
		prefix = leaseID(f, ws) + "-shard-"
	}
	ns := leaseNamespace(f, namespaces)
	m, err := shard.NewMembership(shard.MembershipOptions{
		Leases: leases.Leases(ns), Identity: id, Prefix: prefix,
		LeaseDuration: f.LeaseDuration, RenewDeadline: f.RenewDeadline, RetryPeriod: f.RetryPeriod,
		Log: ctrl.Log.WithName("shard"),
	})
	if err != nil {
		return nil, err
	}
	if err := m.Acquire(ctx); err != nil {
		return nil, fmt.Errorf("take shard lease %s%s in %s: %w", prefix, id, ns, err)
	}
	return m, nil
}

// leaseNamespace is --leader-election-namespace, else the pod's namespace,
// else the first watched namespace, else "default".
func leaseNamespace(f *flags, namespaces []string) string {
	if f.LeaderElectionNamespace != "" {
		return f.LeaderElectionNamespace
	}
	if b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil {
		if ns := strings.TrimSpace(string(b)); ns != "" {
			return ns
		}
	}
	if len(namespaces) > 0 {
		return namespaces[0]
	}
	return "default"
}

// shardSelector is what a sharded replica's informers select.
func shardSelector(m *shard.Membership) labels.Selector {
	if m == nil {
		return nil
	}
	return labels.SelectorFromSet(labels.Set{shard.Label: m.Identity()})
}

// addMovers adds, per watch, the Mover that claims and hands off resources.
func addMovers(mgr manager.Manager, cfg *rest.Config, m *shard.Membership, ws []watches.Watch,
	namespaces []string, handoffs map[string]shard.Handoff) error {
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("metadata client: %w", err)
	}
	sm, err := shard.NewMetrics(metrics.Registry)
	if err != nil {
		return err
	}
	for _, w := range ws {
		mv, err := shard.NewMover(shard.MoverOptions{
			GVK: w.GroupVersionKind, Membership: m, Client: mgr.GetClient(),
			Handoff: handoffs[controller.Name(w.GroupVersionKind)], Metadata: md, Mapper: mgr.GetRESTMapper(),
			Namespaces: namespaces, Selector: w.Selector, Metrics: sm,
			Log: ctrl.Log.WithName("shard").WithValues("gvk", w.GroupVersionKind.String()),
		})
		if err != nil {
			return err
		}
		if err := mgr.Add(mv); err != nil {
			return err
		}
	}
	return nil
}

// startSharded runs the manager while this replica holds its Lease: losing
// the Lease stops the manager (the others take the resources over), and the
// Lease is released only after the manager — every run — has stopped.
func startSharded(ctx context.Context, mgr manager.Manager, m *shard.Membership) error {
	mgrCtx, stop := context.WithCancel(ctx)
	defer stop()
	leaseCtx, release := context.WithCancel(context.WithoutCancel(ctx))
	defer release()
	lost := make(chan error, 1)
	go func() {
		err := m.Run(leaseCtx)
		if err != nil {
			ctrl.Log.WithName("shard").Error(err, "stopping: this replica's resources go to the others")
			stop()
		}
		lost <- err
	}()
	err := mgr.Start(mgrCtx)
	release()
	return errors.Join(err, <-lost)
}
