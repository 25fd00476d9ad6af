package usermetrics_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mcrouter-operator/mcrouter-operator/internal/usermetrics"
)

// The server refuses a non-loopback address, serves on its own, and Start
// returns nil once its context ends.
func TestServer(t *testing.T) {
	if _, err := usermetrics.New(usermetrics.Options{Addr: "0.0.0.0:0", Registry: prometheus.NewRegistry()}); err == nil ||
		!strings.Contains(err.Error(), "must be a loopback address") {
		t.Errorf("New on 0.0.0.0: %v, want a refusal", err)
	}
	reg := prometheus.NewRegistry()
	s, err := usermetrics.New(usermetrics.Options{Addr: "127.0.0.1:0", Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := usermetrics.New(usermetrics.Options{Addr: s.Addr(), Registry: reg}); err == nil ||
		!strings.Contains(err.Error(), "choose another address") {
		t.Errorf("New on a taken port: %v, want an error", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()

	body := `{"name":"served_total","description":"Served.","counter":{"increment":true}}`
	resp, err := http.Post("http://"+s.Addr()+usermetrics.Path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("POST: %s %s", resp.Status, msg)
	}
	if v := samples(t, reg)["served_total"]; v != 1 {
		t.Errorf("served_total = %v, want 1", v)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Start after cancel: %v", err)
	}
}
