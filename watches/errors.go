package watches

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Error is a problem with one watches.yaml entry, or with the file as a whole when Index is -1.
// Its message reads like
//
//	watches.yaml:14: entry 1 (mcrouter.example.com/v1alpha3, Kind=Mcrouter): unknown key "reconcilePeriode"
//	watches.yaml:9: entry 0 (mcrouter.example.com/v1alpha3, Kind=Mcrouter): finalizer.name: required
//	watches.yaml:3:5: merge key "<<" refers to anchor "e" that encloses it
type Error struct {
	File   string                  // the source name given to Parse, or the path given to Load
	Line   int                     // 1-based line in File; 0 when unknown (resolution and environment problems)
	Column int                     // 1-based column, when one node is at fault (an alias); else 0
	Index  int                     // 0-based position of the entry in the list; -1 for the whole file
	GVK    schema.GroupVersionKind // as far as it was read
	Key    string                  // the key at fault, dotted for nested keys ("selector.matchExpressions[0].operator")
	Err    error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	if e.Index >= 0 {
		fmt.Fprintf(&b, ": entry %d", e.Index)
		if !e.GVK.Empty() {
			fmt.Fprintf(&b, " (%s)", e.GVK)
		}
	}
	if e.Key != "" {
		fmt.Fprintf(&b, ": %s", e.Key)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// unknownKeyError names an unexpected key and, when one of the known keys is a likely typo target, suggests it.
func unknownKeyError(key string, known []string) error {
	best, bestDist := "", 3
	for _, k := range known {
		if abs(len(key)-len(k)) >= bestDist {
			continue // the distance is at least the difference in length: skip the quadratic work on a long key
		}
		if d := editDistance(strings.ToLower(key), strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return fmt.Errorf("unknown key %q (did you mean %q?)", key, best)
	}
	return fmt.Errorf("unknown key %q (known keys: %s)", key, strings.Join(known, ", "))
}

// editDistance is the Levenshtein distance between a and b, on bytes: keys are ASCII.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
