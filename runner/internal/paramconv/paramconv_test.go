package paramconv_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mcrouter-operator/mcrouter-operator/runner/internal/paramconv"
)

func TestToSnake(t *testing.T) {
	tests := []struct{ in, want string }{
		{"var", "var"},
		{"888", "888"},
		{"", ""},
		{"   ", ""},
		{"k8s_var", "k8s_var"},
		{"_k8s_var", "_k8s_var"},
		{"k8s var", "k8s_var"},
		{"kebab-case-key", "kebab_case_key"},
		{"ThisShouldHaveUnderscores", "_this_should_have_underscores"},
		{"sizeK8sBuckets", "size_k8s_buckets"},
		{"_CanYou_Handle_mixedVars", "_can_you_handle_mixed_vars"},
		{"this_should_be_a_noop", "this_should_be_a_noop"},
		{"apiVersion", "api_version"},
		{"someURLPath", "some_url_path"},
		{"JSONData", "_json_data"},
		{"memcachedImage", "memcached_image"},
		{"poolSetup", "pool_setup"},
		{"egressIPs", "egress_ips"},
		{"egressIPsEgress", "egress_ips_egress"},
		{"egressIPsegress", "egress_ips_egress"},
		{"IPsegress", "_ips_egress"},
		{"IPs", "__ips"},
		{"egressIP", "egress_ip"},
		{"egressIPEgress", "egress_ip_egress"},
		{"egressIPegress", "egress_ip_egress"},
		{"URLegressIPEgressHTTP", "url_egress_ip_egress_http"},
		{"URLsegressIPsEgressHTTPs", "_urls_egress_ips_egress_https"},
		{"THIS_IS_SKIP_NOT_SK_IP", "_this_is_skip_not_sk_ip"},
		{"a1b2", "a_1_b2"},
		{"example.com/key", "example.com/key"},
		{"app.kubernetes.io/name", "app.kubernetes.io/name"},
		{"dotted.camelKey", "dotted.camel_key"},
		{"ünïcodeKey", "ünïcode_key"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			if got := paramconv.ToSnake(tt.in); got != tt.want {
				t.Errorf("ToSnake(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMapToSnake(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]any
		want map[string]any
	}{
		{
			name: "flat keys",
			in:   map[string]any{"var": "v", "var_var": 1, "size_k8s_test": true, "888": nil, "someURLPath": "/x"},
			want: map[string]any{"var": "v", "var_var": 1, "size_k8s_test": true, "888": nil, "some_url_path": "/x"},
		},
		{
			name: "nested maps and maps in lists",
			in: map[string]any{
				"poolSetup": map[string]any{"egressIPs": []any{"1.2.3.4"}, "innerMap": map[string]any{"deepKey": 1.5}},
				"listOfMaps": []any{
					map[string]any{"itemName": "a"},
					[]any{map[string]any{"nestedListKey": "b"}},
					"plainString",
				},
			},
			want: map[string]any{
				"pool_setup": map[string]any{"egress_ips": []any{"1.2.3.4"}, "inner_map": map[string]any{"deep_key": 1.5}},
				"list_of_maps": []any{
					map[string]any{"item_name": "a"},
					[]any{map[string]any{"nested_list_key": "b"}},
					"plainString",
				},
			},
		},
		{
			name: "empty key and empty map",
			in:   map[string]any{"": "empty", "emptyMap": map[string]any{}},
			want: map[string]any{"": "empty", "empty_map": map[string]any{}},
		},
		{
			name: "values are never converted",
			in:   map[string]any{"someKey": "someValue", "annotations": map[string]any{"app.kubernetes.io/partOf": "camelValue"}},
			want: map[string]any{"some_key": "someValue", "annotations": map[string]any{"app.kubernetes.io/part_of": "camelValue"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := paramconv.MapToSnake("spec", tt.in)
			if err != nil {
				t.Fatalf("MapToSnake: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("MapToSnake (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMapToSnakeDoesNotModifyInput(t *testing.T) {
	in := map[string]any{"outerKey": map[string]any{"innerKey": []any{map[string]any{"itemKey": 1}}}}
	want := map[string]any{"outerKey": map[string]any{"innerKey": []any{map[string]any{"itemKey": 1}}}}
	if _, err := paramconv.MapToSnake("spec", in); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, in); diff != "" {
		t.Errorf("input modified (-want +got):\n%s", diff)
	}
}

func TestMapToSnakeCollision(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]any
		want paramconv.CollisionError
	}{
		{"top level", map[string]any{"fooBar": 1, "foo_bar": 2},
			paramconv.CollisionError{Path: "spec", Keys: [2]string{"fooBar", "foo_bar"}, Name: "foo_bar"}},
		{"nested in list", map[string]any{"items": []any{map[string]any{}, map[string]any{"a-b": 1, "a_b": 2}}},
			paramconv.CollisionError{Path: "spec.items[1]", Keys: [2]string{"a-b", "a_b"}, Name: "a_b"}},
		{"under a dotted key", map[string]any{"example.com/x": map[string]any{"A": 1, "_a": 2}},
			paramconv.CollisionError{Path: `spec["example.com/x"]`, Keys: [2]string{"A", "_a"}, Name: "_a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := paramconv.MapToSnake("spec", tt.in)
			var got *paramconv.CollisionError
			if !errors.As(err, &got) {
				t.Fatalf("MapToSnake error = %v, want a *CollisionError", err)
			}
			if diff := cmp.Diff(tt.want, *got); diff != "" {
				t.Errorf("collision (-want +got):\n%s", diff)
			}
			if want := "; rename one or set snakeCaseParameters: false"; !strings.HasSuffix(err.Error(), want) {
				t.Errorf("error %q does not end with %q", err, want)
			}
		})
	}
}

func TestJoinKey(t *testing.T) {
	long := strings.Repeat("é", 40) // 80 bytes
	tests := []struct{ key, want string }{
		{"poolSetup", "spec.poolSetup"},
		{"snake_case-key9", "spec.snake_case-key9"},
		{"", `spec[""]`},
		{"888", `spec["888"]`},
		{"app.kubernetes.io/name", `spec["app.kubernetes.io/name"]`},
		{"{{ lookup('pipe','id') }}", `spec["{{ lookup('pipe','id') }}"]`},
		{"tab\there", `spec["tab\there"]`},
		{long, `spec["` + strings.Repeat("é", 32) + `…"]`},
	}
	for _, tt := range tests {
		if got := paramconv.JoinKey("spec", tt.key); got != tt.want {
			t.Errorf("JoinKey(spec, %q) = %s, want %s", tt.key, got, tt.want)
		}
	}
	if got := paramconv.JoinIndex("spec.pools", 2); got != "spec.pools[2]" {
		t.Errorf("JoinIndex = %s", got)
	}
}
