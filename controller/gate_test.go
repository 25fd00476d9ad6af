package controller

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestGateRefusesALeavingResourceUntilItComesBack(t *testing.T) {
	g := newGate()
	if _, exit, ok := g.enter(t.Context(), "ns/a", "10"); !ok {
		t.Fatal("a resource never handed off was refused")
	} else {
		exit()
	}
	if err := g.drain(t.Context(), "ns/a", time.Second); err != nil {
		t.Fatalf("drain with nothing under way: %v", err)
	}
	if _, _, ok := g.enter(t.Context(), "ns/a", "10"); ok {
		t.Error("a draining resource was let in")
	}
	g.handedOff("ns/a", "12")
	for _, v := range []string{"11", "12", "not-a-number"} {
		if _, _, ok := g.enter(t.Context(), "ns/a", v); ok {
			t.Errorf("handed off at 12, a cached copy at %q was let in", v)
		}
	}
	if _, exit, ok := g.enter(t.Context(), "ns/a", "13"); !ok {
		t.Error("a copy newer than the handoff (it came back) was refused")
	} else {
		exit()
	}
	g.handedOff("ns/b", "5")
	g.reopen("ns/b")
	if _, exit, ok := g.enter(t.Context(), "ns/b", "1"); !ok {
		t.Error("reopened, still refused")
	} else {
		exit()
	}
}

func TestGateDrainWaitsForTheReconcileUnderWay(t *testing.T) {
	g := newGate()
	ctx, exit, ok := g.enter(t.Context(), "ns/a", "1")
	if !ok {
		t.Fatal("refused")
	}
	drained := make(chan error, 1)
	go func() { drained <- g.drain(t.Context(), "ns/a", time.Hour) }()
	select {
	case err := <-drained:
		t.Fatalf("drain returned (%v) while the reconcile was under way", err)
	case <-time.After(50 * time.Millisecond):
	}
	if ctx.Err() != nil {
		t.Error("drain cancelled the reconcile before its grace ran out")
	}
	exit()
	if err := <-drained; err != nil {
		t.Errorf("drain: %v", err)
	}
}

func TestGateDrainCancelsAReconcileThatOutlastsTheGrace(t *testing.T) {
	g := newGate()
	ctx, exit, _ := g.enter(t.Context(), "ns/a", "1")
	go func() {
		<-ctx.Done()
		exit()
	}()
	if err := g.drain(t.Context(), "ns/a", 10*time.Millisecond); err != nil {
		t.Errorf("drain: %v", err)
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("the reconcile's context: %v, want cancelled", ctx.Err())
	}
}
