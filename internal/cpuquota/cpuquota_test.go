package cpuquota

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCPUs(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		host  int
		want  int
	}{
		{name: "v2 unlimited", files: map[string]string{"cpu.max": "max 100000\n"}, host: 8, want: 8},
		{name: "v2 two cpus", files: map[string]string{"cpu.max": "200000 100000\n"}, host: 8, want: 2},
		{name: "v2 half cpu rounds up", files: map[string]string{"cpu.max": "50000 100000\n"}, host: 8, want: 1},
		{name: "v2 1.5 cpus rounds up", files: map[string]string{"cpu.max": "150000 100000\n"}, host: 8, want: 2},
		{name: "v2 quota above host", files: map[string]string{"cpu.max": "1600000 100000\n"}, host: 4, want: 4},
		{name: "v1 three cpus", files: map[string]string{"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, host: 8, want: 3},
		{name: "v1 unlimited", files: map[string]string{"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, host: 8, want: 8},
		{name: "no cgroup files", files: nil, host: 6, want: 6},
		{name: "garbage", files: map[string]string{"cpu.max": "lots 100000\n"}, host: 2, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for p, c := range tt.files {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := cpus(root, tt.host); got != tt.want {
				t.Errorf("cpus = %d, want %d", got, tt.want)
			}
		})
	}
}
