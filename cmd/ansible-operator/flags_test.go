package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mcrouter-operator/mcrouter-operator/watches"
)

func parse(t *testing.T, args ...string) (*flags, error) {
	t.Helper()
	f := &flags{}
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	f.bind(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	f.readZapFlags(fs)
	return f, f.validate()
}

func TestFlagDefaultsAreUpstreams(t *testing.T) {
	f, err := parse(t)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{
		"watches-file": f.WatchesFile, "reconcile-period": f.ReconcilePeriod, "ansible-verbosity": f.AnsibleVerbosity,
		"inject-owner-ref": f.InjectOwnerRef, "proxy-port": f.ProxyPort, "health-probe-bind-address": f.ProbeBindAddress,
		"metrics-bind-address": f.MetricsBindAddress, "ansible-log-events": f.AnsibleLogEvents,
		"leader-elect": f.LeaderElect, "run-timeout": f.RunTimeout,
	}
	want := map[string]any{
		"watches-file": "./watches.yaml", "reconcile-period": 10 * time.Hour, "ansible-verbosity": 2,
		"inject-owner-ref": true, "proxy-port": 8888, "health-probe-bind-address": ":6789",
		"metrics-bind-address": ":8080", "ansible-log-events": "tasks",
		"leader-elect": false, "run-timeout": 10 * time.Minute,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	if f.MaxConcurrentReconciles < 1 || f.MaxConcurrentRuns < 1 {
		t.Errorf("concurrency defaults %d/%d, want at least 1", f.MaxConcurrentReconciles, f.MaxConcurrentRuns)
	}
}

func TestFlagValidation(t *testing.T) {
	tests := []struct {
		args []string
		want string // "" = valid
	}{
		{args: []string{"--proxy-port", "0"}},
		{args: []string{"--sharding"}},
		{args: []string{"--sharding", "--leader-elect"}, want: "--sharding and --leader-elect exclude each other"},
		{args: []string{"--leader-elect-retry-period", "10s"}, want: "--leader-elect-retry-period"},
		{args: []string{"--leader-elect-lease-duration", "5s"}, want: "--leader-elect-lease-duration"},
		{args: []string{"--ansible-log-events", "everything"}},
		{args: []string{"--max-concurrent-reconciles", "0"}, want: "--max-concurrent-reconciles"},
		{args: []string{"--max-concurrent-runs", "-1"}, want: "--max-concurrent-runs"},
		{args: []string{"--ansible-verbosity", "8"}, want: "--ansible-verbosity"},
		{args: []string{"--proxy-port", "70000"}, want: "--proxy-port"},
		{args: []string{"--run-timeout", "0s"}, want: "--run-timeout"},
		{args: []string{"--reconcile-period", "-1s"}, want: "--reconcile-period"},
		{args: []string{"--ansible-log-events", "some"}, want: "--ansible-log-events"},
		{args: []string{"--ansible-executor", "warm"}},
		{args: []string{"--ansible-executor", "fast"}, want: `--ansible-executor: ansible executor "fast": want runner or warm`},
		{args: []string{"--max-runner-artifacts-bytes", "5Mi", "--max-total-runner-artifacts-bytes", "1Gi"}},
		{args: []string{"--max-runner-artifacts-bytes", "512Ki"}, want: "--max-runner-artifacts-bytes must be at least 1Mi"},
		{args: []string{"--max-runner-artifacts-bytes", "300Mi"}, want: "must not be below --max-runner-artifacts-bytes (300Mi)"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := parse(t, tt.args...)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one naming %s", err, tt.want)
			}
		})
	}
}

func TestWatchNamespaces(t *testing.T) {
	for in, want := range map[string][]string{
		"":          nil,
		"a":         {"a"},
		"a,b":       {"a", "b"},
		" a , ,b ,": {"a", "b"},
	} {
		if diff := cmp.Diff(want, watchNamespaces(in)); diff != "" {
			t.Errorf("watchNamespaces(%q) (-want +got):\n%s", in, diff)
		}
	}
}

func TestLeaseID(t *testing.T) {
	ws := []watches.Watch{{GroupVersionKind: schema.GroupVersionKind{Group: "mcrouter.example.com", Version: "v1alpha3", Kind: "Mcrouter"}}}
	if got := leaseID(&flags{}, ws); got != "mcrouter.mcrouter.example.com-ansible-operator" {
		t.Errorf("derived lease ID %q", got)
	}
	if got := leaseID(&flags{LeaderElectionID: "mine"}, ws); got != "mine" {
		t.Errorf("explicit lease ID %q", got)
	}
}

func TestStripManagedFields(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{
		"name": "x", "managedFields": []any{map[string]any{"manager": "m"}},
	}}}
	out, err := stripManagedFields(u)
	if err != nil {
		t.Fatal(err)
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(out.(*unstructured.Unstructured).Object, "metadata", "managedFields"); found {
		t.Errorf("managedFields kept: %v", out)
	}
	if out.(*unstructured.Unstructured).GetName() != "x" {
		t.Errorf("other metadata lost: %v", out)
	}
}

func TestByteSizeFlags(t *testing.T) {
	f, err := parse(t)
	if err != nil {
		t.Fatal(err)
	}
	if f.MaxArtifactBytes != 20<<20 || f.MaxTotalArtifactBytes != 256<<20 {
		t.Errorf("defaults %d, %d; want 20 MiB and 256 MiB", f.MaxArtifactBytes, f.MaxTotalArtifactBytes)
	}
	if f, _ = parse(t, "--max-runner-artifacts-bytes=1048576", "--max-total-runner-artifacts-bytes=1G"); f.MaxArtifactBytes != 1<<20 ||
		f.MaxTotalArtifactBytes != 1e9 {
		t.Errorf("parsed %d, %d; want 1048576 and 1e9", f.MaxArtifactBytes, f.MaxTotalArtifactBytes)
	}
	for _, bad := range []string{"lots", "-1Mi", "1.5"} {
		fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
		(&flags{}).bind(fs)
		if err := fs.Parse([]string{"--max-runner-artifacts-bytes", bad}); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("--max-runner-artifacts-bytes %s: %v, want an error naming the value", bad, err)
		}
	}
}
