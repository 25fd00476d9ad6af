package shard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// Handoff gives one resource this replica holds to another replica: the
// controller drains its run, relabels it and hands status.reconciledBy over.
type Handoff interface {
	Handoff(ctx context.Context, key types.NamespacedName, to string) error
}

// Members is what the Mover needs of the membership.
type Members interface {
	Identity() string
	Members() []string
	Held() bool
	Settled() bool
}

var _ Members = (*Membership)(nil)

// MoverOptions configure the Mover of one watch.
type MoverOptions struct {
	GVK        schema.GroupVersionKind // required
	Membership Members                 // required
	Client     client.Client           // required: writes the labels
	Handoff    Handoff                 // required
	// Metadata and Mapper build the View of all the watch's resources;
	// required. The kind is mapped when the Mover starts, and again until
	// its CRD is served.
	Metadata metadata.Interface
	Mapper   meta.RESTMapper
	// Namespaces and Selector restrict the View as the watch does: its
	// namespaces (none: all) and its label selector (nil: all).
	Namespaces []string
	Selector   labels.Selector
	// Interval between plans. Default: 500ms, so a new resource is claimed
	// within a second or two.
	Interval time.Duration
	// MaxParallelHandoffs bounds the handoffs under way. Default: 4.
	MaxParallelHandoffs int
	Metrics             *Metrics // default: none
	Log                 logr.Logger
}

// Mover carries out this replica's part of the plan for one watch: it claims
// the resources without a live replica that fall to it and hands its excess
// to the others.
type Mover struct{ opts MoverOptions }

var _ manager.Runnable = (*Mover)(nil)

// NewMover checks the options.
func NewMover(opts MoverOptions) (*Mover, error) {
	if opts.Interval == 0 {
		opts.Interval = 500 * time.Millisecond
	}
	if opts.MaxParallelHandoffs == 0 {
		opts.MaxParallelHandoffs = 4
	}
	var errs []error
	if opts.GVK.Kind == "" {
		errs = append(errs, errors.New("no kind"))
	}
	if opts.Membership == nil || opts.Client == nil || opts.Handoff == nil || opts.Metadata == nil || opts.Mapper == nil {
		errs = append(errs, errors.New("membership, client, handoff, metadata client and mapper are required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("shard mover for %s: %w", opts.GVK, err)
	}
	return &Mover{opts: opts}, nil
}

// NeedLeaderElection: every replica moves its own resources.
func (m *Mover) NeedLeaderElection() bool { return false }

// Start plans every interval until ctx ends.
func (m *Mover) Start(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t := time.NewTicker(m.opts.Interval)
	defer t.Stop()
	var view *View
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if view == nil {
			view = m.view()
			if view == nil {
				continue
			}
			view.Start(ctx, &wg)
		}
		m.step(ctx, view)
	}
}

// view builds the View of the watch's resources, or nil (logged) while the
// kind is not served.
func (m *Mover) view() *View {
	mapping, err := m.opts.Mapper.RESTMapping(m.opts.GVK.GroupKind(), m.opts.GVK.Version)
	if err != nil {
		m.opts.Log.Error(err, "shard view: kind not served yet; retrying", "gvk", m.opts.GVK.String())
		return nil
	}
	v, err := NewView(m.opts.Metadata, mapping.Resource, m.opts.Namespaces, m.opts.Selector)
	if err != nil {
		m.opts.Log.Error(err, "shard view", "gvk", m.opts.GVK.String())
		return nil
	}
	return v
}

// step makes one plan and carries it out.
func (m *Mover) step(ctx context.Context, view *View) {
	self := m.opts.Membership.Identity()
	items, versions := view.Items()
	m.opts.Metrics.observeView(m.opts.GVK, items, self, len(m.opts.Membership.Members()))
	if !view.Synced() || !m.opts.Membership.Held() {
		return
	}
	// Claims are safe on any view (a stale one loses a conflict); handoffs
	// wait until the members have settled.
	settled := m.opts.Membership.Settled()
	var handoffs []Move
	for _, mv := range Plan(items, m.opts.Membership.Members(), self) {
		switch {
		case mv.To == self:
			m.claim(ctx, mv, versions[mv.Key])
		case settled:
			handoffs = append(handoffs, mv)
		}
	}
	m.handOff(ctx, handoffs)
}

// claim labels a resource without a live replica as this one's, if it has
// not changed since the view saw it.
func (m *Mover) claim(ctx context.Context, mv Move, version string) {
	ns, name, _ := strings.Cut(mv.Key, "/")
	log := m.opts.Log.WithValues("namespace", ns, "name", name)
	if _, err := Relabel(ctx, m.opts.Client, m.opts.GVK, types.NamespacedName{Namespace: ns, Name: name}, version, mv.To); err != nil {
		if !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			log.Error(err, "claim resource")
		}
		return
	}
	if mv.From != "" {
		m.opts.Metrics.observeMove(m.opts.GVK, "takeover")
	}
	log.Info("claimed resource", "from", mv.From)
}

// handOff runs the handoffs, a few at a time, and waits for them.
func (m *Mover) handOff(ctx context.Context, moves []Move) {
	var wg sync.WaitGroup
	slots := make(chan struct{}, m.opts.MaxParallelHandoffs)
	for _, mv := range moves {
		ns, name, _ := strings.Cut(mv.Key, "/")
		key := types.NamespacedName{Namespace: ns, Name: name}
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			start := time.Now()
			if err := m.opts.Handoff.Handoff(ctx, key, mv.To); err != nil {
				if ctx.Err() == nil {
					m.opts.Log.Info("handoff not done; retrying with the next plan", "namespace", ns, "name", name,
						"to", mv.To, "reason", err.Error())
				}
				return
			}
			m.opts.Metrics.observeHandoff(m.opts.GVK, time.Since(start))
			m.opts.Log.Info("handed off resource", "namespace", ns, "name", name, "to", mv.To,
				"seconds", time.Since(start).Seconds())
		}()
	}
	wg.Wait()
}

// Relabel sets the shard label of a resource to replica with a merge patch
// guarded by resourceVersion (when version is set): a resource changed since
// it was read is left alone (a conflict). It returns the resourceVersion the
// API server answered with.
func Relabel(ctx context.Context, c client.Client, gvk schema.GroupVersionKind, key types.NamespacedName, version, replica string) (string, error) {
	meta := map[string]any{"labels": map[string]any{Label: replica}}
	if version != "" {
		meta["resourceVersion"] = version
	}
	body, err := json.Marshal(map[string]any{"metadata": meta})
	if err != nil {
		return "", err
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(gvk)
	obj.SetNamespace(key.Namespace)
	obj.SetName(key.Name)
	if err := c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, body)); err != nil {
		return "", err
	}
	return obj.GetResourceVersion(), nil
}
