package sharding_test

import (
	"fmt"
	"testing"
)

// memory is what a replica's process and Go runtime hold.
type memory struct {
	rss, hwm  int64   // VmRSS, VmHWM
	heapInuse float64 // go_memstats_heap_inuse_bytes
	owned     int     // Mcrouters it owns
}

func (m memory) String() string {
	return fmt.Sprintf("%d Mcrouters: VmRSS %.1f MiB, VmHWM %.1f MiB, Go heap in use %.1f MiB",
		m.owned, float64(m.rss)/(1<<20), float64(m.hwm)/(1<<20), m.heapInuse/(1<<20))
}

// logMemory logs and returns the memory of every live replica. Figures, not
// assertions: how much a replica holds depends on when its garbage collector
// last ran.
func (s *scenario) logMemory(t *testing.T, what string) map[string]memory {
	t.Helper()
	metrics, err := s.f.metrics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	v := s.observe(t)
	out := map[string]memory{}
	for _, r := range s.f.live() {
		m, err := r.op.Memory()
		if err != nil {
			t.Fatal(err)
		}
		mem := memory{rss: m.RSS, hwm: m.HWM, heapInuse: metrics[r.name].Sum("go_memstats_heap_inuse_bytes", nil), owned: len(v.owned(r.name))}
		out[r.name] = mem
		t.Logf("memory of %s, replica %s: %s", what, r.name, mem)
	}
	return out
}

// logMoves logs the moves each live replica made (handoffs of its own
// Mcrouters, takeovers of a gone replica's) and its handoff times.
func (s *scenario) logMoves(t *testing.T) {
	t.Helper()
	metrics, err := s.f.metrics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range s.f.names() {
		m := metrics[name]
		handoffs := m.Sum("ansible_operator_shard_moves_total", map[string]string{"reason": "handoff"})
		takeovers := m.Sum("ansible_operator_shard_moves_total", map[string]string{"reason": "takeover"})
		n, sum := m.Sum("ansible_operator_shard_handoff_seconds_count", nil), m.Sum("ansible_operator_shard_handoff_seconds_sum", nil)
		mean := 0.0
		if n > 0 {
			mean = sum / n
		}
		t.Logf("replica %s: %v Mcrouters handed off (mean %.2f s from drain to relabelled over %v), %v taken over",
			name, handoffs, mean, n, takeovers)
	}
}
