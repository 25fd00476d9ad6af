package jsonvalue

import (
	"encoding/json"
	"fmt"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/google/go-cmp/cmp"
)

type obj = map[string]any
type list = []any

func TestContains(t *testing.T) {
	tests := []struct {
		name       string
		have, want any
		ok         bool
	}{
		{name: "equal maps", have: obj{"a": "x"}, want: obj{"a": "x"}, ok: true},
		{name: "extra keys in have", have: obj{"a": "x", "b": "y"}, want: obj{"a": "x"}, ok: true},
		{name: "nested map subset", have: obj{"m": obj{"a": "x", "b": "y"}}, want: obj{"m": obj{"a": "x"}}, ok: true},
		{name: "missing key", have: obj{"b": "y"}, want: obj{"a": "x"}},
		{name: "different value", have: obj{"a": "y"}, want: obj{"a": "x"}},
		{name: "empty want", have: obj{"a": "x"}, want: obj{}, ok: true},
		{name: "map against list", have: list{}, want: obj{}},
		{name: "map against null", have: nil, want: obj{}},

		{name: "null: key absent", have: obj{}, want: obj{"a": nil}, ok: true},
		{name: "null: key null", have: obj{"a": nil}, want: obj{"a": nil}, ok: true},
		{name: "null: key set", have: obj{"a": "x"}, want: obj{"a": nil}},

		{name: "empty map: key absent", have: obj{}, want: obj{"m": obj{}}, ok: true},
		{name: "empty map: key null", have: obj{"m": nil}, want: obj{"m": obj{}}, ok: true},
		{name: "empty map: key filled", have: obj{"m": obj{"a": "x"}}, want: obj{"m": obj{}}, ok: true},
		{name: "map of empty values: key absent", have: obj{}, want: obj{"m": obj{"l": list{}, "n": obj{}}}, ok: true},
		{name: "empty list: key absent", have: obj{}, want: obj{"l": list{}}, ok: true},
		{name: "empty list: key filled", have: obj{"l": list{"x"}}, want: obj{"l": list{}}},
		{name: "empty string: key absent", have: obj{}, want: obj{"s": ""}},
		{name: "zero: key absent", have: obj{}, want: obj{"n": int64(0)}},

		{name: "lists equal", have: list{"a", "b"}, want: list{"a", "b"}, ok: true},
		{name: "lists element-wise subset", have: list{obj{"a": "x", "b": "y"}}, want: list{obj{"a": "x"}}, ok: true},
		{name: "list longer in have", have: list{"a", "b"}, want: list{"a"}},
		{name: "list shorter in have", have: list{"a"}, want: list{"a", "b"}},
		{name: "list order counts", have: list{"b", "a"}, want: list{"a", "b"}},
		{name: "list against map", have: obj{}, want: list{}},

		{name: "int64 and float64", have: int64(3), want: float64(3), ok: true},
		{name: "float64 and int64", have: float64(3), want: int64(3), ok: true},
		{name: "int, int32, float32", have: int(3), want: int32(3), ok: true},
		{name: "float32 and float64", have: float32(0.5), want: 0.5, ok: true},
		{name: "fraction is not the integer", have: int64(3), want: 3.5},
		{name: "number against string", have: int64(3), want: "3"},
		{name: "string against number", have: "3", want: int64(3)},
		{name: "json.Number is not a number", have: int64(3), want: json.Number("3")},
		{name: "json.Numbers as strings", have: json.Number("3"), want: json.Number("3"), ok: true},
		{name: "json.Numbers spelled differently", have: json.Number("3"), want: json.Number("3.0")},
		{name: "integers beyond 2^53 compare as float64", have: int64(1<<53 + 1), want: int64(1 << 53), ok: true},

		{name: "bools", have: true, want: true, ok: true},
		{name: "bool against string", have: true, want: "true"},
		{name: "scalar against null", have: nil, want: "x"},
		{name: "null against null", have: nil, want: nil, ok: true},

		{name: "directives are not compared", have: obj{"a": "x"},
			want: obj{"a": "x", "$patch": "replace", "$setElementOrder/l": list{obj{"name": "c"}}}, ok: true},
		{name: "directives nested", have: obj{"m": obj{}}, want: obj{"m": obj{"$retainKeys": list{"a"}}}, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Contains(tt.have, tt.want); got != tt.ok {
				t.Errorf("Contains(%v, %v) = %v, want %v", tt.have, tt.want, got, tt.ok)
			}
		})
	}
}

func TestEmpty(t *testing.T) {
	tests := []struct {
		v    any
		want bool
	}{
		{obj{}, true},
		{list{}, true},
		{obj{"a": obj{}, "b": list{}}, true},
		{obj{"a": obj{"b": obj{}}}, true},
		{obj{"a": nil}, false},
		{obj{"a": ""}, false},
		{list{nil}, false},
		{list{obj{}}, false},
		{nil, false},
		{"", false},
		{int64(0), false},
		{false, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%#v", tt.v), func(t *testing.T) {
			if got := Empty(tt.v); got != tt.want {
				t.Errorf("Empty(%#v) = %v, want %v", tt.v, got, tt.want)
			}
		})
	}
}

func TestNumber(t *testing.T) {
	tests := []struct {
		v    any
		want float64
		ok   bool
	}{
		{int(-2), -2, true},
		{int32(7), 7, true},
		{int64(1 << 40), 1 << 40, true},
		{float32(0.25), 0.25, true},
		{1.5, 1.5, true},
		{uint64(1), 0, false},
		{json.Number("1"), 0, false},
		{"1", 0, false},
		{nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%#v", tt.v), func(t *testing.T) {
			got, ok := Number(tt.v)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Number(%#v) = %v, %v, want %v, %v", tt.v, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestMergePatch(t *testing.T) {
	tests := []struct {
		name              string
		base, patch, want obj
		// libraryPrunes: json-patch also drops nulls inside maps in a patch's
		// lists, where RFC 7386 takes a list as it is.
		libraryPrunes bool
	}{
		// RFC 7386, appendix A, where target and patch are objects.
		{name: "replace a value", base: obj{"a": "b"}, patch: obj{"a": "c"}, want: obj{"a": "c"}},
		{name: "add a key", base: obj{"a": "b"}, patch: obj{"b": "c"}, want: obj{"a": "b", "b": "c"}},
		{name: "null deletes", base: obj{"a": "b"}, patch: obj{"a": nil}, want: obj{}},
		{name: "null deletes one of two", base: obj{"a": "b", "b": "c"}, patch: obj{"a": nil}, want: obj{"b": "c"}},
		{name: "list replaces list", base: obj{"a": list{"b"}}, patch: obj{"a": "c"}, want: obj{"a": "c"}},
		{name: "value replaces list", base: obj{"a": "c"}, patch: obj{"a": list{"b"}}, want: obj{"a": list{"b"}}},
		{name: "nested merge and delete", base: obj{"a": obj{"b": "c"}}, patch: obj{"a": obj{"b": "d", "c": nil}},
			want: obj{"a": obj{"b": "d"}}},
		{name: "lists are not merged", base: obj{"a": list{obj{"b": "c"}}}, patch: obj{"a": list{int64(1)}},
			want: obj{"a": list{int64(1)}}},
		{name: "nulls in the base stay", base: obj{"e": nil}, patch: obj{"a": int64(1)}, want: obj{"e": nil, "a": int64(1)}},
		{name: "null for an absent key", base: obj{}, patch: obj{"a": nil}, want: obj{}},
		{name: "map replaces a scalar, its nulls dropped", base: obj{"a": "x"}, patch: obj{"a": obj{"bb": obj{"ccc": nil}}},
			want: obj{"a": obj{"bb": obj{}}}},
		{name: "map into absent key, its nulls dropped", base: obj{}, patch: obj{"a": obj{"b": nil, "c": "d"}},
			want: obj{"a": obj{"c": "d"}}},
		{name: "list in a patch keeps its nulls", base: obj{}, patch: obj{"a": list{nil, obj{"b": nil}}},
			want: obj{"a": list{nil, obj{"b": nil}}}, libraryPrunes: true},
		{name: "empty patch", base: obj{"a": "b"}, patch: obj{}, want: obj{"a": "b"}},
		{name: "nil base", base: nil, patch: obj{"a": "b"}, want: obj{"a": "b"}},
		// What a run does: a strategic-merge patch's directives are kept as keys
		// (Contains skips them).
		{name: "directives are keys", base: obj{"spec": obj{"replicas": int64(1)}},
			patch: obj{"spec": obj{"$patch": "replace", "replicas": int64(2)}},
			want:  obj{"spec": obj{"$patch": "replace", "replicas": int64(2)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			baseJSON := marshal(t, tt.base)
			got := MergePatch(tt.base, tt.patch)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("MergePatch (-want +got):\n%s", diff)
			}
			if after := marshal(t, tt.base); after != baseJSON {
				t.Errorf("base changed: %s, was %s", after, baseJSON)
			}
			// evanphx/json-patch implements RFC 7386 on JSON text: the same
			// result, up to Go number types.
			lib, err := jsonpatch.MergePatch([]byte(baseJSON), []byte(marshal(t, tt.patch)))
			if err != nil {
				t.Fatal(err)
			}
			var ours, theirs any
			if err := json.Unmarshal([]byte(marshal(t, got)), &ours); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(lib, &theirs); err != nil {
				t.Fatal(err)
			}
			if same := cmp.Equal(ours, theirs); same == tt.libraryPrunes {
				t.Errorf("MergePatch = %v, json-patch gives %v; same: %v, want %v", ours, theirs, same, !tt.libraryPrunes)
			}
		})
	}
}

func marshal(t *testing.T, v any) string {
	t.Helper()
	if m, ok := v.(obj); ok && m == nil {
		v = obj{}
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ExampleContains() {
	live := map[string]any{
		"metadata": map[string]any{"name": "web", "resourceVersion": "42"},
		"spec":     map[string]any{"replicas": int64(3), "paused": false},
	}
	written := map[string]any{
		"metadata": map[string]any{"name": "web", "annotations": map[string]any{}},
		"spec":     map[string]any{"replicas": 3.0},
	}
	fmt.Println(Contains(live, written))
	// Output: true
}

func ExampleMergePatch() {
	base := map[string]any{"data": map[string]any{"a": "1", "b": "2"}}
	patch := map[string]any{"data": map[string]any{"b": nil, "c": "3"}}
	fmt.Println(MergePatch(base, patch))
	// Output: map[data:map[a:1 c:3]]
}
