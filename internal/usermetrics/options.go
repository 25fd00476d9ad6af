package usermetrics

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultAddr is where upstream's ansible-operator serves the endpoint and
// where the osdk_metric module sends by default (http://localhost:5050/metrics).
const DefaultAddr = "127.0.0.1:5050"

// Defaults of the bounds on what requests may do.
const (
	DefaultMaxBodyBytes        = 16 << 10
	DefaultMaxSeries           = 1000
	DefaultMaxLabels           = 8
	DefaultMaxNameLength       = 128
	DefaultMaxLabelValueLength = 256
	DefaultMaxHelpLength       = 1024
)

// DefaultReservedPrefixes are the name prefixes of the runtime's own metrics
// and of those controller-runtime, client-go and the Go and process collectors
// register: a role may not publish under them, even where no metric of that
// name exists yet.
var DefaultReservedPrefixes = []string{
	"ansible_operator_", "controller_runtime_", "workqueue_", "rest_client_", "certwatcher_",
	"leader_election_", "go_", "process_", "promhttp_",
}

// Registry is where user metrics are registered and what the operator's
// /metrics serves; controller-runtime's metrics.Registry is one.
type Registry interface {
	prometheus.Registerer
	prometheus.Gatherer
}

// Options configure the endpoint and its bounds.
type Options struct {
	// Addr is the host:port to listen on; the host must be a loopback address
	// or localhost. Default: DefaultAddr.
	Addr string
	// Registry receives the user metrics; its existing metric names are
	// refused. Required.
	Registry Registry
	// ReservedPrefixes are name prefixes refused to roles. Default:
	// DefaultReservedPrefixes.
	ReservedPrefixes []string
	// MaxBodyBytes bounds one request body. Default: DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxSeries bounds the label-value combinations of all user metrics
	// together (a metric without labels is one). Default: DefaultMaxSeries.
	MaxSeries int
	// MaxLabels bounds the label names of one metric. Default:
	// DefaultMaxLabels.
	MaxLabels int
	// MaxNameLength bounds metric and label names, in bytes. Default:
	// DefaultMaxNameLength.
	MaxNameLength int
	// MaxLabelValueLength bounds one label value, in bytes. Default:
	// DefaultMaxLabelValueLength.
	MaxLabelValueLength int
	// MaxHelpLength bounds a description, in bytes. Default:
	// DefaultMaxHelpLength.
	MaxHelpLength int
	// Log receives the registration of each new metric and, at V(1), each
	// refused request. Default: discard.
	Log logr.Logger
}

func (o *Options) setDefaults() {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.ReservedPrefixes == nil {
		o.ReservedPrefixes = DefaultReservedPrefixes
	}
	setDefault(&o.MaxBodyBytes, DefaultMaxBodyBytes)
	setDefault(&o.MaxSeries, DefaultMaxSeries)
	setDefault(&o.MaxLabels, DefaultMaxLabels)
	setDefault(&o.MaxNameLength, DefaultMaxNameLength)
	setDefault(&o.MaxLabelValueLength, DefaultMaxLabelValueLength)
	setDefault(&o.MaxHelpLength, DefaultMaxHelpLength)
	if o.Log.GetSink() == nil {
		o.Log = logr.Discard()
	}
}

func setDefault[T int | int64](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// Validate checks the options after defaults.
func (o *Options) Validate() error {
	var errs []error
	if err := ValidateAddr(o.Addr); err != nil {
		errs = append(errs, err)
	}
	if o.Registry == nil {
		errs = append(errs, errors.New("user metrics: a registry is required"))
	}
	if o.MaxBodyBytes < 0 || o.MaxSeries < 0 || o.MaxLabels < 0 || o.MaxNameLength < 0 ||
		o.MaxLabelValueLength < 0 || o.MaxHelpLength < 0 {
		errs = append(errs, errors.New("user metrics: bounds must not be negative"))
	}
	return errors.Join(errs...)
}

// ValidateAddr accepts host:port with a loopback host (127.0.0.0/8, ::1 or
// localhost) and a port 0-65535: any process that reaches the endpoint can
// write metrics, so it must not be reachable from outside the pod.
func ValidateAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("user metrics address %q: %w; want host:port such as %s", addr, err, DefaultAddr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("user metrics address %q: port %q is not a number 0-65535", addr, port)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("user metrics address %q: the host must be a loopback address (127.0.0.1, ::1 or localhost): "+
		"whoever reaches the endpoint can write the operator's metrics", addr)
}
