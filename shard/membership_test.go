package shard_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"

	"github.com/mcrouter-operator/mcrouter-operator/internal/devcluster"
	"github.com/mcrouter-operator/mcrouter-operator/internal/devcluster/devclustertest"
	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
	"github.com/mcrouter-operator/mcrouter-operator/shard"
)

var cluster *devcluster.Cluster

func TestMain(m *testing.M) {
	os.Exit(devclustertest.RunTests(m, devcluster.Options{}, &cluster))
}

// Short durations: the tests watch Leases expire.
const (
	leaseDuration = 2 * time.Second
	renewDeadline = 1500 * time.Millisecond
	retryPeriod   = 250 * time.Millisecond
)

func leases(t *testing.T) coordinationclient.LeaseInterface {
	t.Helper()
	c, err := coordinationclient.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	return c.Leases("default")
}

func member(t *testing.T, prefix, id string) *shard.Membership {
	t.Helper()
	m, err := shard.NewMembership(shard.MembershipOptions{
		Leases: leases(t), Identity: id, Prefix: prefix,
		LeaseDuration: leaseDuration, RenewDeadline: renewDeadline, RetryPeriod: retryPeriod, Log: testLog(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Acquire(t.Context()); err != nil {
		t.Fatalf("acquire %s: %v", id, err)
	}
	return m
}

// running runs m until the test ends or stop is called; Run's result is
// sent on the returned channel.
func running(t *testing.T, m *shard.Membership) (stop func(), result <-chan error) {
	ctx, cancel := context.WithCancel(t.Context())
	done, finished := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(finished)
		done <- m.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-finished
	})
	return cancel, done
}

func awaitMembers(t *testing.T, m *shard.Membership, want ...string) {
	t.Helper()
	optest.Await(t, "members "+m.Identity()+" sees", func(context.Context) (bool, error) {
		got := m.Members()
		if !slices.Equal(got, want) {
			return false, errors.New("members: " + strings.Join(got, ","))
		}
		return true, nil
	})
}

func TestMembersSeeEachOtherAndAReleasedLeaseGoesAtOnce(t *testing.T) {
	a, b := member(t, "t1-", "a"), member(t, "t1-", "b")
	running(t, a)
	stopB, doneB := running(t, b)
	awaitMembers(t, a, "a", "b")
	awaitMembers(t, b, "a", "b")
	if !a.Live("b") || a.Live("c") {
		t.Errorf("Live: b %v (want true), c %v (want false)", a.Live("b"), a.Live("c"))
	}
	stopB()
	if err := <-doneB; err != nil {
		t.Fatalf("b's Run: %v", err)
	}
	if _, err := leases(t).Get(t.Context(), "t1-b", metav1.GetOptions{}); err == nil {
		t.Errorf("b's Lease is still there after b stopped")
	}
	awaitMembers(t, a, "a")
}

func TestALeaseNotRenewedExpires(t *testing.T) {
	a := member(t, "t2-", "a")
	member(t, "t2-", "dead") // acquired, never renewed: a process killed
	running(t, a)
	awaitMembers(t, a, "a", "dead")
	start := time.Now()
	awaitMembers(t, a, "a")
	if waited := time.Since(start); waited < leaseDuration-2*retryPeriod {
		t.Errorf("a dead replica left the members after %s, before its lease duration %s", waited, leaseDuration)
	}
}

func TestASecondProcessOfOneIdentityWaitsForTheFirst(t *testing.T) {
	first := member(t, "t3-", "same")
	stop, done := running(t, first)
	second, err := shard.NewMembership(shard.MembershipOptions{
		Leases: leases(t), Identity: "same", Prefix: "t3-",
		LeaseDuration: leaseDuration, RenewDeadline: renewDeadline, RetryPeriod: retryPeriod, Log: testLog(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	acquired := make(chan error, 1)
	go func() { acquired <- second.Acquire(t.Context()) }()
	select {
	case err := <-acquired:
		t.Fatalf("the second process took a Lease the first renews (err %v)", err)
	case <-time.After(2 * leaseDuration):
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("first Run: %v", err)
	}
	if err := <-acquired; err != nil {
		t.Fatalf("the second process did not take the released Lease: %v", err)
	}
}

func TestRunEndsWhenTheLeaseIsTaken(t *testing.T) {
	a := member(t, "t4-", "a")
	_, done := running(t, a)
	if err := leases(t).Delete(t.Context(), "t4-a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, shard.ErrLeaseLost) {
			t.Fatalf("Run after its Lease was deleted: %v, want ErrLeaseLost", err)
		}
	case <-time.After(optest.Remaining(t)):
		t.Fatal("Run went on after its Lease was deleted")
	}
}

func testLog(t *testing.T) logr.Logger {
	return funcr.New(func(prefix, args string) { t.Log(prefix, args) }, funcr.Options{})
}

func TestALeaseFirstSeenLongExpiredIsNoMember(t *testing.T) {
	member(t, "t5-", "dead")
	l, err := leases(t).Get(t.Context(), "t5-dead", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	old := metav1.NewMicroTime(time.Now().Add(-3 * leaseDuration))
	l.Spec.RenewTime = &old
	if _, err := leases(t).Update(t.Context(), l, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	a := member(t, "t5-", "a") // starts after "dead" stopped renewing
	if got := a.Members(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("a replica started after another died sees members %v, want only itself", got)
	}
}

// A renewal the client gave up on (its context ended) may still have been
// written: the Lease then has a newer version than the one this process
// last saw, and releasing it must still delete it, unless another process
// holds it by then.
func TestReleaseAfterARenewalWrittenUnseen(t *testing.T) {
	for _, tc := range []struct {
		name     string
		holder   string // written out of band; "" keeps this process's
		wantGone bool
	}{
		{name: "still ours", wantGone: true},
		{name: "taken by another process", holder: "a_other", wantGone: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := "t6-" + strings.ReplaceAll(tc.name, " ", "-") + "-"
			a := member(t, prefix, "a")
			l, err := leases(t).Get(t.Context(), prefix+"a", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			now := metav1.NewMicroTime(time.Now())
			l.Spec.RenewTime = &now
			if tc.holder != "" {
				l.Spec.HolderIdentity = &tc.holder
			}
			if _, err := leases(t).Update(t.Context(), l, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			stop, done := running(t, a)
			stop()
			if err := <-done; err != nil {
				t.Fatalf("Run: %v", err)
			}
			_, err = leases(t).Get(t.Context(), prefix+"a", metav1.GetOptions{})
			switch gone := apierrors.IsNotFound(err); {
			case err != nil && !gone:
				t.Fatal(err)
			case gone != tc.wantGone:
				t.Errorf("Lease deleted on release: %v, want %v", gone, tc.wantGone)
			}
		})
	}
}
