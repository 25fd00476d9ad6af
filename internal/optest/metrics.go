package optest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Sample is one line of a Prometheus text exposition: a metric name, its
// labels and its value.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Metrics is what an operator's /metrics showed at one moment.
type Metrics []Sample

// Sum adds the values of the samples called name whose labels include every
// pair of match; a metric that has not been set yet is absent and sums to 0.
func (m Metrics) Sum(name string, match map[string]string) float64 {
	var sum float64
	for _, s := range m {
		if s.Name == name && hasLabels(s.Labels, match) {
			sum += s.Value
		}
	}
	return sum
}

// Has reports whether a sample called name is there at all.
func (m Metrics) Has(name string) bool {
	for _, s := range m {
		if s.Name == name {
			return true
		}
	}
	return false
}

func hasLabels(labels, match map[string]string) bool {
	for k, v := range match {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// ScrapeMetrics reads http://127.0.0.1:<port>/metrics, the operator's
// --metrics-bind-address, and fails when it is not the operator's endpoint
// (no ansible_operator_build_info).
func ScrapeMetrics(ctx context.Context, port int) (Metrics, error) {
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
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
		return nil, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	m, err := ParseMetrics(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	if !m.Has("ansible_operator_build_info") {
		return nil, fmt.Errorf("no ansible_operator_build_info on %s: not the operator's metrics endpoint", url)
	}
	return m, nil
}

// ParseMetrics reads the samples of a Prometheus text exposition; comments
// and lines it cannot read are skipped.
func ParseMetrics(r io.Reader) (Metrics, error) {
	var m Metrics
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if s, ok := parseSample(sc.Text()); ok {
			m = append(m, s)
		}
	}
	return m, sc.Err()
}

// parseSample reads `name{k="v",…} value [timestamp]`.
func parseSample(line string) (Sample, bool) {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return Sample{}, false
	}
	s := Sample{Labels: map[string]string{}}
	rest := line
	if i := strings.IndexAny(line, "{ "); i > 0 && line[i] == '{' {
		s.Name = line[:i]
		end := strings.LastIndex(line, "}")
		if end < i {
			return Sample{}, false
		}
		if !parseLabels(line[i+1:end], s.Labels) {
			return Sample{}, false
		}
		rest = line[end+1:]
	} else if i > 0 {
		s.Name, rest = line[:i], line[i:]
	} else {
		return Sample{}, false
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return Sample{}, false
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return Sample{}, false
	}
	s.Value = v
	return s, true
}

// parseLabels reads `k="v",k2="v2"` (values quoted with Go-like escapes)
// into into.
func parseLabels(text string, into map[string]string) bool {
	for text = strings.TrimSpace(text); text != ""; text = strings.TrimLeft(strings.TrimSpace(text), ",") {
		eq := strings.Index(text, "=")
		if eq <= 0 || eq+1 >= len(text) || text[eq+1] != '"' {
			return false
		}
		key := strings.TrimSpace(text[:eq])
		value, rest, ok := unquoteLabel(text[eq+1:])
		if !ok {
			return false
		}
		into[key] = value
		text = rest
	}
	return true
}

// unquoteLabel reads a quoted label value at the start of s and returns it
// and what follows it.
func unquoteLabel(s string) (value, rest string, ok bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 >= len(s) {
				return "", "", false
			}
			i++
			if s[i] == 'n' {
				b.WriteByte('\n')
			} else {
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:], true
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false
}
