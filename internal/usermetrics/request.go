package usermetrics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Request is one POST of the osdk_metric module (see the package doc).
type Request struct {
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Labels      map[string]string `json:"labels,omitempty"`
	Counter     *CounterOp        `json:"counter,omitempty"`
	Gauge       *GaugeOp          `json:"gauge,omitempty"`
	Histogram   *ObserveOp        `json:"histogram,omitempty"`
	Summary     *ObserveOp        `json:"summary,omitempty"`
}

// CounterOp increments a counter, or adds a non-negative value to it.
type CounterOp struct {
	Increment *bool    `json:"increment,omitempty"`
	Add       *float64 `json:"add,omitempty"`
}

// GaugeOp changes a gauge.
type GaugeOp struct {
	Set              *float64 `json:"set,omitempty"`
	Increment        *bool    `json:"increment,omitempty"`
	Decrement        *bool    `json:"decrement,omitempty"`
	Add              *float64 `json:"add,omitempty"`
	Subtract         *float64 `json:"subtract,omitempty"`
	SetToCurrentTime *bool    `json:"set_to_current_time,omitempty"`
}

// ObserveOp adds one observation to a histogram or summary.
type ObserveOp struct {
	Observe *float64 `json:"observe,omitempty"`
}

// kind is a metric type.
type kind string

const (
	kindCounter   kind = "counter"
	kindGauge     kind = "gauge"
	kindHistogram kind = "histogram"
	kindSummary   kind = "summary"
)

// requestError is a refusal: the HTTP status and the message the task shows.
type requestError struct {
	code int
	msg  string
}

func (e *requestError) Error() string { return e.msg }

func refuse(code int, format string, args ...any) error {
	return &requestError{code: code, msg: fmt.Sprintf(format, args...)}
}

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// decode reads one Request from body, strictly: unknown keys and trailing
// data are refused, and so is a body over max bytes.
func decode(body io.Reader, max int64) (*Request, error) {
	data, err := io.ReadAll(io.LimitReader(body, max+1))
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "read body: %v", err)
	}
	if int64(len(data)) > max {
		return nil, refuse(http.StatusRequestEntityTooLarge, "body over %d bytes", max)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var req Request
	if err := dec.Decode(&req); err != nil {
		return nil, refuse(http.StatusBadRequest, "decode the metric: %v", err)
	}
	if dec.More() {
		return nil, refuse(http.StatusBadRequest, "decode the metric: data after the JSON object")
	}
	return &req, nil
}

// kind says which type the request operates on: exactly one must be given.
func (r *Request) kind() (kind, error) {
	var kinds []kind
	if r.Counter != nil {
		kinds = append(kinds, kindCounter)
	}
	if r.Gauge != nil {
		kinds = append(kinds, kindGauge)
	}
	if r.Histogram != nil {
		kinds = append(kinds, kindHistogram)
	}
	if r.Summary != nil {
		kinds = append(kinds, kindSummary)
	}
	switch len(kinds) {
	case 0:
		return "", refuse(http.StatusBadRequest, "metric %q: give one of counter, gauge, histogram or summary", r.Name)
	case 1:
		return kinds[0], nil
	}
	return "", refuse(http.StatusBadRequest, "metric %q: give only one of counter, gauge, histogram or summary, got %v",
		r.Name, kinds)
}

// validate checks names, lengths and values against the bounds in o.
func (r *Request) validate(k kind, o *Options) error {
	if err := o.checkName(r.Name); err != nil {
		return err
	}
	if strings.TrimSpace(r.Description) == "" {
		return refuse(http.StatusBadRequest, "metric %q: description is required (it is the metric's help text)", r.Name)
	}
	if len(r.Description) > o.MaxHelpLength {
		return refuse(http.StatusBadRequest, "metric %q: description over %d bytes", r.Name, o.MaxHelpLength)
	}
	if err := o.checkLabels(r.Name, k, r.Labels); err != nil {
		return err
	}
	if r.Counter != nil && r.Counter.Add != nil && *r.Counter.Add < 0 && !isTrue(r.Counter.Increment) {
		return refuse(http.StatusBadRequest, "counter %q: add %v: a counter cannot decrease", r.Name, *r.Counter.Add)
	}
	return nil
}

func (o *Options) checkName(name string) error {
	switch {
	case name == "":
		return refuse(http.StatusBadRequest, "name is required")
	case len(name) > o.MaxNameLength:
		return refuse(http.StatusBadRequest, "metric name %.40q…: over %d bytes", name, o.MaxNameLength)
	case !metricName.MatchString(name):
		return refuse(http.StatusBadRequest, "metric name %q: use letters, digits, _ and :, not starting with a digit", name)
	}
	for _, p := range o.ReservedPrefixes {
		if strings.HasPrefix(name, p) {
			return refuse(http.StatusConflict, "metric name %q: the prefix %q is reserved for the operator's own metrics", name, p)
		}
	}
	return nil
}

func (o *Options) checkLabels(name string, k kind, labels map[string]string) error {
	if len(labels) > o.MaxLabels {
		return refuse(http.StatusBadRequest, "metric %q: %d labels, at most %d", name, len(labels), o.MaxLabels)
	}
	for _, l := range sortedKeys(labels) {
		v := labels[l]
		switch {
		case len(l) > o.MaxNameLength:
			return refuse(http.StatusBadRequest, "metric %q: label name %.40q…: over %d bytes", name, l, o.MaxNameLength)
		case !labelName.MatchString(l) || strings.HasPrefix(l, "__"):
			return refuse(http.StatusBadRequest, "metric %q: label name %q: use letters, digits and _, not starting with a digit or __", name, l)
		case l == "le" && k == kindHistogram, l == "quantile" && k == kindSummary:
			return refuse(http.StatusBadRequest, "metric %q: label name %q is reserved for a %s's own series", name, l, k)
		case len(v) > o.MaxLabelValueLength:
			return refuse(http.StatusBadRequest, "metric %q: value of label %q over %d bytes", name, l, o.MaxLabelValueLength)
		case !utf8.ValidString(v):
			return refuse(http.StatusBadRequest, "metric %q: value of label %q is not UTF-8", name, l)
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func isTrue(b *bool) bool { return b != nil && *b }
