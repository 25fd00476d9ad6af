package runner

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCommandArgs(t *testing.T) {
	tests := []struct {
		name string
		opts RunOptions
		env  []string
		want string
	}{
		{"playbook", RunOptions{Playbook: "/p/site.yml", MaxArtifacts: 20}, nil,
			"run /in -j --rotate-artifacts 20 -i job -p /p/site.yml"},
		{"playbook with verbosity", RunOptions{Playbook: "/p/site.yml", Verbosity: 3}, []string{"ANSIBLE_GATHERING=explicit"},
			"run /in -j --rotate-artifacts 0 -i job -p /p/site.yml -vvv"},
		{"role", RunOptions{Role: "/opt/roles/mcrouter/", MaxArtifacts: 5}, nil,
			"run /in -j --rotate-artifacts 5 -i job --role mcrouter --roles-path /opt/roles --hosts localhost"},
		{"role, explicit gathering", RunOptions{Role: "/opt/roles/mcrouter", Verbosity: 1},
			[]string{"ANSIBLE_GATHERING=explicit"},
			"run /in -j --rotate-artifacts 0 -i job --role mcrouter --roles-path /opt/roles --hosts localhost --role-skip-facts -v"},
		{"role, later env entry wins", RunOptions{Role: "/opt/roles/mcrouter"},
			[]string{"ANSIBLE_GATHERING=explicit", "ANSIBLE_GATHERING=smart"},
			"run /in -j --rotate-artifacts 0 -i job --role mcrouter --roles-path /opt/roles --hosts localhost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(commandArgs("/in", "job", tt.opts, tt.env), " ")
			if got != tt.want {
				t.Errorf("args = %q\nwant   %q", got, tt.want)
			}
		})
	}
}

func TestRunEnv(t *testing.T) {
	got := runEnv([]string{"PATH=/bin", "KUBECONFIG=/old", "TMPDIR=/var/tmp"}, []string{"ANSIBLE_ROLES_PATH=/r"},
		"/in/kubeconfig", "/in/tmp")
	want := []string{"PATH=/bin", "KUBECONFIG=/old", "TMPDIR=/var/tmp",
		"TMPDIR=/in/tmp", "ANSIBLE_LOCAL_TEMP=/in/tmp/local", "ANSIBLE_REMOTE_TEMP=/in/tmp/remote",
		"ANSIBLE_ROLES_PATH=/r", "K8S_AUTH_KUBECONFIG=/in/kubeconfig", "KUBECONFIG=/in/kubeconfig"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("runEnv (-want +got):\n%s", diff)
	}
	if v := lookupEnv(got, "KUBECONFIG"); v != "/in/kubeconfig" {
		t.Errorf("KUBECONFIG = %q, want the per-run one", v)
	}
}

func TestOptionsDefaultsAndValidate(t *testing.T) {
	var o Options
	o.setDefaults()
	if o.RunnerPath != "ansible-runner" || o.PythonPath != "/usr/bin/python3" || o.LogEvents != LogTasks ||
		!strings.HasSuffix(o.RootDir, "/ansible-operator/runner") ||
		o.MaxArtifactBytes != DefaultMaxArtifactBytes || o.MaxTotalArtifactBytes != DefaultMaxTotalArtifactBytes {
		t.Errorf("defaults = %+v", o)
	}
	tests := []struct {
		name    string
		mod     func(*Options)
		wantErr string
	}{
		{"valid", func(o *Options) {}, ""},
		{"zero timeout", func(o *Options) { o.Timeout = 0 }, "run timeout must be positive"},
		{"negative timeout", func(o *Options) { o.Timeout = -time.Second }, "run timeout must be positive"},
		{"bad log events", func(o *Options) { o.LogEvents = "Some" }, `ansible log events "Some"`},
		{"relative root", func(o *Options) { o.RootDir = "tmp/runner" }, "must be an absolute path"},
		{"python with space", func(o *Options) { o.PythonPath = "/usr/bin/python3 -u" }, "must not contain spaces"},
		{"env without =", func(o *Options) { o.Env = []string{"A=1", "BROKEN"} }, `runner env entry 1 "BROKEN"`},
		{"artifact cap below 1 MiB", func(o *Options) { o.MaxArtifactBytes = 4096 }, "per-resource artifact cap 4096 bytes is below"},
		{"total below per-resource", func(o *Options) { o.MaxTotalArtifactBytes = 10 << 20 },
			"total artifact cap 10485760 bytes is below the per-resource cap of 20971520"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{Timeout: DefaultTimeout}
			o.setDefaults()
			tt.mod(&o)
			err := o.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseLogEvents(t *testing.T) {
	for in, want := range map[string]LogEvents{"Tasks": LogTasks, "everything": LogEverything, "NOTHING": LogNothing} {
		if got, err := ParseLogEvents(in); err != nil || got != want {
			t.Errorf("ParseLogEvents(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseLogEvents("All"); err == nil {
		t.Error(`ParseLogEvents("All") succeeded`)
	}
}

func TestRunOptionsValidate(t *testing.T) {
	dir := t.TempDir()
	pb := dir + "/site.yml"
	if err := writeFileAtomic(pb, []byte("---\n")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		opts    RunOptions
		wantErr string
	}{
		{"playbook", RunOptions{Playbook: pb}, ""},
		{"role", RunOptions{Role: dir, Verbosity: 7, MaxArtifacts: 3, Ident: "a.b_c-1"}, ""},
		{"neither", RunOptions{}, "one of role and playbook is required"},
		{"both", RunOptions{Role: dir, Playbook: pb}, "both set"},
		{"relative playbook", RunOptions{Playbook: "site.yml"}, `playbook "site.yml" must be an absolute path`},
		{"missing playbook", RunOptions{Playbook: dir + "/nope.yml"}, "nope.yml: no such file"},
		{"playbook is a dir", RunOptions{Playbook: dir}, "is a directory"},
		{"role is a file", RunOptions{Role: pb}, "is not a directory"},
		{"verbosity", RunOptions{Playbook: pb, Verbosity: 8}, "verbosity 8 out of range"},
		{"negative artifacts", RunOptions{Playbook: pb, MaxArtifacts: -1}, "max artifacts -1"},
		{"ident with slash", RunOptions{Playbook: pb, Ident: "../x"}, `ident "../x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("validate: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("validate = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
