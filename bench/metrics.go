package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// sample is one line of the Prometheus text exposition format.
type sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// metricSet is one scrape of an operator's /metrics.
type metricSet []sample

// parseMetrics reads the Prometheus text format: comments and blank lines
// are skipped; every other line is name{labels} value [timestamp]. The error
// names the line.
func parseMetrics(r io.Reader) (metricSet, error) {
	var out metricSet
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := parseSample(line)
		if err != nil {
			return nil, fmt.Errorf("metrics line %d %q: %w", n, line, err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	return out, nil
}

func parseSample(line string) (sample, error) {
	s := sample{Labels: map[string]string{}}
	i := strings.IndexAny(line, "{ \t")
	if i <= 0 {
		return s, fmt.Errorf("no value")
	}
	s.Name, line = line[:i], line[i:]
	if line[0] == '{' {
		rest, err := parseLabels(line[1:], s.Labels)
		if err != nil {
			return s, err
		}
		line = rest
	}
	fields := strings.Fields(line)
	if len(fields) < 1 || len(fields) > 2 {
		return s, fmt.Errorf("want a value and an optional timestamp after the name, got %d fields", len(fields))
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return s, fmt.Errorf("value %q: %w", fields[0], err)
	}
	s.Value = v
	return s, nil
}

// parseLabels reads name="value" pairs up to the closing brace into into,
// and returns what follows the brace.
func parseLabels(s string, into map[string]string) (string, error) {
	for {
		s = strings.TrimLeft(s, " \t,")
		if strings.HasPrefix(s, "}") {
			return s[1:], nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || len(s) < eq+2 || s[eq+1] != '"' {
			return "", fmt.Errorf("label without name=\"value\" at %q", s)
		}
		name := strings.TrimSpace(s[:eq])
		value, rest, err := unquoteLabel(s[eq+2:])
		if err != nil {
			return "", fmt.Errorf("label %s: %w", name, err)
		}
		into[name] = value
		s = rest
	}
}

// unquoteLabel reads a label value up to its closing quote, undoing the
// format's escapes (\\, \" and \n).
func unquoteLabel(s string) (string, string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return b.String(), s[i+1:], nil
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			default:
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", fmt.Errorf("unterminated value")
}

// sum adds the values of the samples named name whose labels include match.
func (m metricSet) sum(name string, match map[string]string) float64 {
	var total float64
	for _, s := range m {
		if s.Name == name && hasLabels(s.Labels, match) {
			total += s.Value
		}
	}
	return total
}

// byLabel sums the samples named name per value of label.
func (m metricSet) byLabel(name, label string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range m {
		if s.Name == name {
			out[s.Labels[label]] += s.Value
		}
	}
	return out
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// scrape reads and parses the metrics at url.
func scrape(ctx context.Context, url string) (metricSet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: HTTP %s", url, resp.Status)
	}
	m, err := parseMetrics(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	return m, nil
}

// fetch returns the raw text at url, for the kept metrics files.
func fetch(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// counters are the operator metrics the benchmark follows, at one moment.
type counters struct {
	Runs           float64 // ansible_operator_reconcile_result{kind="reconcile"}: Ansible runs
	FailedRuns     float64 // ... {result="failed"}
	Skipped        float64 // ansible_operator_skipped_runs_total
	Reconciles     float64 // controller_runtime_reconcile_total
	RunSeconds     float64 // ansible_operator_reconciles_sum
	RestRequests   float64 // rest_client_requests_total: the operator's own API calls
	ProxyRequests  float64 // ansible_operator_proxy_requests_total: the roles' API calls
	ProxyCacheHits float64 // ... {cache="hit"}
	RestByMethod   map[string]float64
	ProxyByMethod  map[string]float64
}

func countersOf(m metricSet) counters {
	return counters{
		Runs:           m.sum("ansible_operator_reconcile_result", map[string]string{"kind": "reconcile"}),
		FailedRuns:     m.sum("ansible_operator_reconcile_result", map[string]string{"kind": "reconcile", "result": "failed"}),
		Skipped:        m.sum("ansible_operator_skipped_runs_total", nil),
		Reconciles:     m.sum("controller_runtime_reconcile_total", nil),
		RunSeconds:     m.sum("ansible_operator_reconciles_sum", nil),
		RestRequests:   m.sum("rest_client_requests_total", nil),
		ProxyRequests:  m.sum("ansible_operator_proxy_requests_total", nil),
		ProxyCacheHits: m.sum("ansible_operator_proxy_requests_total", map[string]string{"cache": "hit"}),
		RestByMethod:   m.byLabel("rest_client_requests_total", "method"),
		ProxyByMethod:  m.byLabel("ansible_operator_proxy_requests_total", "method"),
	}
}

// sub returns c − before: what happened between two scrapes.
func (c counters) sub(before counters) counters {
	return counters{
		Runs:           c.Runs - before.Runs,
		FailedRuns:     c.FailedRuns - before.FailedRuns,
		Skipped:        c.Skipped - before.Skipped,
		Reconciles:     c.Reconciles - before.Reconciles,
		RunSeconds:     c.RunSeconds - before.RunSeconds,
		RestRequests:   c.RestRequests - before.RestRequests,
		ProxyRequests:  c.ProxyRequests - before.ProxyRequests,
		ProxyCacheHits: c.ProxyCacheHits - before.ProxyCacheHits,
		RestByMethod:   subMap(c.RestByMethod, before.RestByMethod),
		ProxyByMethod:  subMap(c.ProxyByMethod, before.ProxyByMethod),
	}
}

func subMap(after, before map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}
