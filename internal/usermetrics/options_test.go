package usermetrics_test

import (
	"testing"

	"github.com/mcrouter-operator/mcrouter-operator/internal/usermetrics"
)

func TestValidateAddr(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{usermetrics.DefaultAddr, true},
		{"localhost:5050", true},
		{"[::1]:5050", true},
		{"127.0.0.2:0", true},
		{":5050", false},
		{"0.0.0.0:5050", false},
		{"10.0.0.1:5050", false},
		{"example.com:5050", false},
		{"127.0.0.1", false},
		{"127.0.0.1:http", false},
		{"127.0.0.1:70000", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if err := usermetrics.ValidateAddr(tt.addr); (err == nil) != tt.ok {
				t.Errorf("ValidateAddr(%q) = %v, want ok %v", tt.addr, err, tt.ok)
			}
		})
	}
}
