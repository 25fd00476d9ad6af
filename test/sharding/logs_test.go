package sharding_test

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

// probeAnnotation names, on a Mcrouter, a ConfigMap its next run reads
// through the proxy (testdata/record.yml).
const probeAnnotation = "sharding.test.example.com/probe"

// annotate sets annotation key of Mcrouter name to value: a change of
// metadata, which starts no run by itself.
func annotate(t *testing.T, ns, name, key, value string) {
	t.Helper()
	optest.MergePatch(t, kube, optest.McrouterGVK, ns, name, map[string]any{"metadata": map[string]any{"annotations": map[string]string{key: value}}})
}

// cacheAnswers lists, in order, how the proxy answered the GETs of path made
// by the runs of owner (the proxy's "Mcrouter.<group> <namespace>/<name>")
// in an operator's log: "hit" (from the informer cache), "miss" (the cache
// did not hold it: the API server answered) or "bypass". Reads by the runs
// of other Mcrouters are left out: the replica may have run the Mcrouter
// that path belongs to before it moved.
func cacheAnswers(log, owner, path string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !strings.Contains(string(line), path) {
			continue
		}
		var e struct {
			Logger, Msg, Method, Path, Cache, Owner string
		}
		if json.Unmarshal(line, &e) != nil {
			continue
		}
		if e.Logger == "proxy" && e.Msg == "request" && e.Method == "GET" && e.Path == path && e.Owner == owner {
			out = append(out, e.Cache)
		}
	}
	return out
}
