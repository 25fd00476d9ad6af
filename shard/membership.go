package shard

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"
)

// MembershipOptions configure this replica's Lease and its view of the others.
type MembershipOptions struct {
	// Leases is the client of the Leases' namespace; required.
	Leases coordinationclient.LeaseInterface
	// Identity is this replica's name (see Identity); required.
	Identity string
	// Prefix starts every replica's Lease name; required. The Lease of a
	// replica is Prefix+Identity.
	Prefix string
	// LeaseDuration is how long a Lease not renewed keeps its replica a
	// member. Default: 15s.
	LeaseDuration time.Duration
	// RenewDeadline is how long this replica keeps trying to renew before it
	// gives up its work (Run returns ErrLeaseLost). Default: 10s; must be
	// below LeaseDuration.
	RenewDeadline time.Duration
	// RetryPeriod is how often the Lease is renewed and the others read.
	// Default: 2s; must be below RenewDeadline.
	RetryPeriod time.Duration
	// Log receives membership changes. Default: discard.
	Log logr.Logger
}

func (o *MembershipOptions) setDefaults() {
	if o.LeaseDuration == 0 {
		o.LeaseDuration = 15 * time.Second
	}
	if o.RenewDeadline == 0 {
		o.RenewDeadline = 10 * time.Second
	}
	if o.RetryPeriod == 0 {
		o.RetryPeriod = 2 * time.Second
	}
}

// Validate reports missing or inconsistent options.
func (o *MembershipOptions) Validate() error {
	var errs []error
	if o.Leases == nil {
		errs = append(errs, errors.New("no Lease client"))
	}
	if o.Identity == "" || Sanitize(o.Identity) != o.Identity {
		errs = append(errs, fmt.Errorf("identity %q is not a sanitised replica name", o.Identity))
	}
	if o.Prefix == "" {
		errs = append(errs, errors.New("no Lease name prefix"))
	}
	if o.RetryPeriod <= 0 || o.RenewDeadline <= o.RetryPeriod || o.LeaseDuration <= o.RenewDeadline {
		errs = append(errs, fmt.Errorf("need 0 < retry period (%s) < renew deadline (%s) < lease duration (%s)",
			o.RetryPeriod, o.RenewDeadline, o.LeaseDuration))
	}
	return errors.Join(errs...)
}

// ErrLeaseLost: this replica could not renew its Lease within the renew
// deadline, or another process took it; the others may take its resources
// over, so it must stop reconciling.
var ErrLeaseLost = errors.New("shard lease lost")

// Membership holds this replica's Lease and knows the live members: the
// replicas whose Leases were renewed within their duration, as observed by
// this process's clock (no clock is compared across machines).
type Membership struct {
	opts      MembershipOptions
	holder    string // identity plus this process's incarnation
	groupName string

	mu        sync.Mutex
	lease     *coordinationv1.Lease // ours, as last written
	renewed   time.Time             // last successful renewal
	seen      map[string]sighting   // Lease name → last change of its renewTime
	members   []string              // sorted identities
	changedAt time.Time             // when members last changed
}

// sighting is when this process saw a Lease's renewTime change.
type sighting struct {
	renewTime string
	at        time.Time
	duration  time.Duration
}

// NewMembership checks the options; Run takes the Lease.
func NewMembership(opts MembershipOptions) (*Membership, error) {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("shard membership: %w", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return &Membership{opts: opts, holder: opts.Identity + "_" + hex.EncodeToString(b),
		groupName: strings.TrimRight(Sanitize(opts.Prefix), "-"), seen: map[string]sighting{}}, nil
}

// Identity is this replica's name.
func (m *Membership) Identity() string { return m.opts.Identity }

// RetryPeriod is how often membership is refreshed.
func (m *Membership) RetryPeriod() time.Duration { return m.opts.RetryPeriod }

// Members are the live replicas, sorted; this one only while its Lease holds.
func (m *Membership) Members() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.members)
}

// Live reports whether replica is a member.
func (m *Membership) Live(replica string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, found := slices.BinarySearch(m.members, replica)
	return found
}

// Held reports whether this replica holds its Lease: renewed within the
// renew deadline and counted among the members.
func (m *Membership) Held() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.heldLocked(time.Now())
}

func (m *Membership) heldLocked(now time.Time) bool {
	_, member := slices.BinarySearch(m.members, m.opts.Identity)
	return member && now.Sub(m.renewed) < m.opts.RenewDeadline
}

// Settled reports whether this replica holds its Lease and has seen the same
// members for a whole retry period: handoffs planned on a view still
// changing would move resources back and forth.
func (m *Membership) Settled() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	return m.heldLocked(now) && now.Sub(m.changedAt) >= m.opts.RetryPeriod
}

// Acquire takes this replica's Lease, waiting while a live holder (an
// earlier process of the same identity) still renews it. It returns once
// this process holds the Lease and has read the other members.
func (m *Membership) Acquire(ctx context.Context) error {
	for {
		err := m.acquire(ctx)
		if err == nil {
			return m.refresh(ctx)
		}
		m.opts.Log.Info("waiting for the shard lease", "lease", m.leaseName(), "reason", err.Error())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(m.opts.RetryPeriod):
		}
	}
}

// Run renews the Lease every retry period and reads the members four times
// as often (a replica that died is noticed sooner) until ctx ends, then
// deletes the Lease (the caller has stopped every run by then). It returns
// ErrLeaseLost when renewal fails past the renew deadline.
func (m *Membership) Run(ctx context.Context) error {
	t := time.NewTicker(m.opts.RetryPeriod / readsPerRenewal)
	defer t.Stop()
	for tick := 1; ; tick++ {
		select {
		case <-ctx.Done():
			m.release(ctx)
			return nil
		case <-t.C:
		}
		if ctx.Err() != nil {
			continue
		}
		if err := m.renewEvery(ctx, tick); err != nil {
			return err
		}
		if err := m.refresh(ctx); err != nil {
			m.opts.Log.Error(err, "read shard leases")
		}
		m.mu.Lock()
		stale := time.Since(m.renewed) > m.opts.RenewDeadline
		m.mu.Unlock()
		if stale {
			return fmt.Errorf("%w: not renewed for %s", ErrLeaseLost, m.opts.RenewDeadline)
		}
	}
}

// readsPerRenewal: the Leases are read this many times per retry period.
const readsPerRenewal = 4

// renewEvery renews the Lease on every readsPerRenewal-th tick; only a lost
// Lease is returned, other errors are logged and retried.
func (m *Membership) renewEvery(ctx context.Context, tick int) error {
	if tick%readsPerRenewal != 0 {
		return nil
	}
	err := m.renew(ctx)
	if err != nil && !errors.Is(err, ErrLeaseLost) {
		m.opts.Log.Error(err, "renew shard lease", "lease", m.leaseName())
		return nil
	}
	return err
}

func (m *Membership) leaseName() string { return m.opts.Prefix + m.opts.Identity }

func (m *Membership) acquire(ctx context.Context) error {
	now := metav1.NewMicroTime(time.Now())
	seconds := int32((m.opts.LeaseDuration + time.Second - 1) / time.Second)
	spec := coordinationv1.LeaseSpec{HolderIdentity: &m.holder, LeaseDurationSeconds: &seconds,
		AcquireTime: &now, RenewTime: &now}
	cur, err := m.opts.Leases.Get(ctx, m.leaseName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		l := &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: m.leaseName(), Labels: map[string]string{GroupLabel: m.groupName}},
			Spec:       spec,
		}
		cur, err = m.opts.Leases.Create(ctx, l, metav1.CreateOptions{})
	case err == nil:
		if why := m.heldByOther(cur); why != "" {
			return errors.New(why)
		}
		cur = cur.DeepCopy()
		cur.Labels = map[string]string{GroupLabel: m.groupName}
		cur.Spec = spec
		cur, err = m.opts.Leases.Update(ctx, cur, metav1.UpdateOptions{})
	}
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lease, m.renewed = cur, time.Now()
	m.opts.Log.Info("holding shard lease", "lease", m.leaseName(), "identity", m.opts.Identity)
	return nil
}

// heldByOther says why an existing Lease of our name may not be taken yet:
// another process renewed it within its duration, as seen from here.
func (m *Membership) heldByOther(l *coordinationv1.Lease) string {
	if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" || l.Spec.RenewTime == nil {
		return ""
	}
	s := m.sight(l, time.Now())
	if time.Since(s.at) >= s.duration {
		return ""
	}
	return fmt.Sprintf("held by %s, renewed %s ago", *l.Spec.HolderIdentity, time.Since(l.Spec.RenewTime.Time).Round(time.Second))
}

func (m *Membership) renew(ctx context.Context) error {
	m.mu.Lock()
	l := m.lease.DeepCopy()
	m.mu.Unlock()
	now := metav1.NewMicroTime(time.Now())
	l.Spec.RenewTime = &now
	updated, err := m.opts.Leases.Update(ctx, l, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		cur, getErr := m.opts.Leases.Get(ctx, m.leaseName(), metav1.GetOptions{})
		if getErr != nil || cur.Spec.HolderIdentity == nil || *cur.Spec.HolderIdentity != m.holder {
			return fmt.Errorf("%w: lease %s was taken or deleted", ErrLeaseLost, m.leaseName())
		}
		cur.Spec.RenewTime = &now
		updated, err = m.opts.Leases.Update(ctx, cur, metav1.UpdateOptions{})
	}
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lease, m.renewed = updated, time.Now()
	return nil
}

// refresh lists the group's Leases and recomputes the members.
func (m *Membership) refresh(ctx context.Context) error {
	sel := labels.SelectorFromSet(labels.Set{GroupLabel: m.groupName}).String()
	list, err := m.opts.Leases.List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return err
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var members []string
	present := map[string]bool{}
	for i := range list.Items {
		l := &list.Items[i]
		id, ok := strings.CutPrefix(l.Name, m.opts.Prefix)
		if !ok || id == "" || l.Spec.RenewTime == nil {
			continue
		}
		present[l.Name] = true
		s := m.sightLocked(l, now)
		if id == m.opts.Identity {
			if now.Sub(m.renewed) < m.opts.LeaseDuration && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity == m.holder {
				members = append(members, id)
			}
			continue
		}
		switch age := now.Sub(s.at); {
		case age < s.duration:
			members = append(members, id)
		case age > expiredLeaseTTL*s.duration:
			m.collect(ctx, l)
		}
	}
	for name := range m.seen {
		if !present[name] {
			delete(m.seen, name)
		}
	}
	slices.Sort(members)
	if !slices.Equal(members, m.members) {
		m.opts.Log.Info("shard members changed", "members", strings.Join(members, ","))
		m.members, m.changedAt = members, now
	}
	return nil
}

// expiredLeaseTTL, in lease durations: a Lease not renewed for that long
// (its replica was killed, and replicas of a Deployment get new names) is
// deleted by the members that see it.
const expiredLeaseTTL = 20

// collect deletes an expired Lease unless it changed since it was read.
func (m *Membership) collect(ctx context.Context, l *coordinationv1.Lease) {
	if m.deleteUnchanged(ctx, l) == nil {
		m.opts.Log.Info("deleted the Lease of a replica gone for long", "lease", l.Name)
	}
}

func (m *Membership) sight(l *coordinationv1.Lease, now time.Time) sighting {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sightLocked(l, now)
}

func (m *Membership) sightLocked(l *coordinationv1.Lease, now time.Time) sighting {
	renew := l.Spec.RenewTime.Format(time.RFC3339Nano)
	d := m.opts.LeaseDuration
	if l.Spec.LeaseDurationSeconds != nil && *l.Spec.LeaseDurationSeconds > 0 {
		d = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
	}
	s, ok := m.seen[l.Name]
	switch {
	case !ok && now.Sub(l.Spec.RenewTime.Time) > 2*d:
		// First seen long after its last renewal: expired, even if the
		// clocks of the two machines were a whole lease duration apart.
		s = sighting{renewTime: renew, at: now.Add(-d)}
	case !ok || s.renewTime != renew:
		s = sighting{renewTime: renew, at: now}
	}
	s.duration = d
	m.seen[l.Name] = s
	return s
}

// release deletes the Lease if this process still holds it, so the others
// take its resources over at once rather than after the Lease expires.
// A renewal cancelled on the client may still have been written, so on a
// conflict the Lease is read again and deleted if this process holds it.
func (m *Membership) release(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.opts.RetryPeriod)
	defer cancel()
	m.mu.Lock()
	l := m.lease
	m.mu.Unlock()
	if l == nil {
		return
	}
	err := m.deleteUnchanged(ctx, l)
	for attempt := 0; apierrors.IsConflict(err) && attempt < 3; attempt++ {
		var cur *coordinationv1.Lease
		cur, err = m.opts.Leases.Get(ctx, l.Name, metav1.GetOptions{})
		if err != nil {
			break
		}
		if cur.UID != l.UID || cur.Spec.HolderIdentity == nil || *cur.Spec.HolderIdentity != m.holder {
			m.opts.Log.Info("shard lease is no longer this process's; left in place", "lease", l.Name)
			return
		}
		err = m.deleteUnchanged(ctx, cur)
	}
	if err != nil && !apierrors.IsNotFound(err) {
		m.opts.Log.Error(err, "release shard lease; the others take over when it expires", "lease", l.Name)
		return
	}
	m.opts.Log.Info("released shard lease", "lease", l.Name)
}

// deleteUnchanged deletes l unless it changed since it was read.
func (m *Membership) deleteUnchanged(ctx context.Context, l *coordinationv1.Lease) error {
	uid, rv := l.UID, l.ResourceVersion
	return m.opts.Leases.Delete(ctx, l.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid, ResourceVersion: &rv}})
}
