package optest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseMetrics(t *testing.T) {
	text := `# HELP ansible_operator_shard_resources CRs this replica owns
# TYPE ansible_operator_shard_resources gauge
ansible_operator_shard_resources{gvk="mcrouter.example.com/v1alpha3, Kind=Mcrouter"} 20
ansible_operator_shard_members 3
ansible_operator_shard_moves_total{direction="in",gvk="a"} 4 1700000000000
ansible_operator_shard_moves_total{direction="out",gvk="a"} 2
odd{msg="say \"hi\"\\n",x="1"} 1.5e+06
broken{x="1" 7
go_memstats_heap_inuse_bytes 1.234e+07
`
	m, err := ParseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	want := Metrics{
		{Name: "ansible_operator_shard_resources", Labels: map[string]string{"gvk": "mcrouter.example.com/v1alpha3, Kind=Mcrouter"}, Value: 20},
		{Name: "ansible_operator_shard_members", Labels: map[string]string{}, Value: 3},
		{Name: "ansible_operator_shard_moves_total", Labels: map[string]string{"direction": "in", "gvk": "a"}, Value: 4},
		{Name: "ansible_operator_shard_moves_total", Labels: map[string]string{"direction": "out", "gvk": "a"}, Value: 2},
		{Name: "odd", Labels: map[string]string{"msg": `say "hi"\n`, "x": "1"}, Value: 1.5e6},
		{Name: "go_memstats_heap_inuse_bytes", Labels: map[string]string{}, Value: 1.234e7},
	}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("ParseMetrics (-want +got):\n%s", diff)
	}
	for _, c := range []struct {
		name  string
		match map[string]string
		want  float64
	}{
		{"ansible_operator_shard_moves_total", nil, 6},
		{"ansible_operator_shard_moves_total", map[string]string{"direction": "in"}, 4},
		{"ansible_operator_shard_moves_total", map[string]string{"direction": "sideways"}, 0},
		{"absent", nil, 0},
	} {
		if got := m.Sum(c.name, c.match); got != c.want {
			t.Errorf("Sum(%s, %v) = %v, want %v", c.name, c.match, got, c.want)
		}
	}
	if !m.Has("ansible_operator_shard_members") || m.Has("absent") {
		t.Errorf("Has: wrong answer")
	}
}
