package image

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

func TestParseDockerfile(t *testing.T) {
	t.Parallel()
	const df = `# syntax=docker/dockerfile:1
FROM golang:1.26 AS build
ARG VERSION=dev
RUN go build \
      -o /out/x ./cmd/x
FROM debian:bookworm-slim
RUN apt-get update \
 # a comment inside a continuation
 && apt-get install -y tini
ENV A=1 \
    B="two words" C=3
ENV OLD form value
COPY --from=build /out/x /usr/local/bin/x
COPY roles/ /opt/roles/
USER 1001
WORKDIR /opt
WORKDIR ansible
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/x"]
CMD ["run"]
`
	stages, err := parseDockerfile(strings.NewReader(df))
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) != 2 || stages[0].Name != "build" || stages[1].From != "debian:bookworm-slim" {
		t.Fatalf("stages = %+v", stages)
	}
	p, err := planRuntime(stages)
	if err != nil {
		t.Fatal(err)
	}
	wantRun := "apt-get update && apt-get install -y tini"
	if len(p.Steps) != 3 || p.Steps[0].Run != wantRun || p.Steps[0].In.Line != 7 {
		t.Errorf("steps = %+v, want first RUN %q on line 7", p.Steps, wantRun)
	}
	if diff := cmp.Diff([]string{"PATH=" + slimBaseEnv[0][1]}, p.Steps[0].Env.strings()); diff != "" {
		t.Errorf("the first RUN's environment (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&copySpec{From: "build", Sources: []string{"/out/x"}, Dest: "/usr/local/bin/x"}, p.Steps[1].Copy); diff != "" {
		t.Errorf("COPY --from (-want +got):\n%s", diff)
	}
	want := imageConfig{
		Env:        envList{slimBaseEnv[0], {"A", "1"}, {"B", "two words"}, {"C", "3"}, {"OLD", "form value"}},
		User:       "1001",
		WorkDir:    "/opt/ansible",
		Entrypoint: []string{"/usr/bin/tini", "--", "/usr/local/bin/x"},
		Cmd:        []string{"run"},
	}
	if diff := cmp.Diff(want, p.Config); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}

	bp, err := planBuild(stages[0], []string{"/out/x"}, "/repo", "/tmp/o")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := bp.Runs[0].Args, "go build -o /tmp/o/out/x ./cmd/x"; got != want {
		t.Errorf("build RUN = %q, want %q", got, want)
	}
	if got := bp.Paths["/out/x"]; got != "/tmp/o/out/x" {
		t.Errorf("/out/x lands on %q", got)
	}
}

func TestParseDockerfileRejectsWhatItDoesNotKnow(t *testing.T) {
	t.Parallel()
	for name, df := range map[string]string{
		"unknown instruction": "FROM debian:bookworm-slim\nHEALTHCHECK CMD true\n",
		"COPY --chown":        "FROM debian:bookworm-slim\nCOPY --chown=1001 a /a\n",
		"RUN exec form":       "FROM debian:bookworm-slim\nRUN [\"true\"]\n",
		"COPY from nowhere":   "FROM debian:bookworm-slim\nCOPY --from=build /x /x\n",
	} {
		t.Run(name, func(t *testing.T) {
			stages, err := parseDockerfile(strings.NewReader(df))
			if err == nil {
				_, err = planRuntime(stages)
			}
			if err == nil || !strings.Contains(err.Error(), "line 2") {
				t.Errorf("err = %v, want an error naming line 2", err)
			}
		})
	}
}

// TestRuntimeStageIsUnderstood checks, without root, that `make image-test`
// can carry out build/Dockerfile: every instruction of the runtime stage is
// one it knows, the base is the one it stands in for, the build stage's
// outputs are found, and the operator Deployment starts the image's own
// entrypoint.
func TestRuntimeStageIsUnderstood(t *testing.T) {
	t.Parallel()
	p := runtimePlan(t)
	if p.Config.User == "" || p.Config.User == "0" || p.Config.User == "root" {
		t.Errorf("the image runs as %q; want a non-root USER", p.Config.User)
	}
	for _, s := range p.Steps {
		if s.Copy == nil || s.Copy.From == "" {
			continue
		}
		if _, err := planBuild(p.Stages[s.Copy.From], s.Copy.Sources, optest.RepoPath(t), t.TempDir()); err != nil {
			t.Error(err)
		}
	}
	dep := operatorDeployment(t)
	c := dep.Spec.Template.Spec.Containers[0]
	if diff := cmp.Diff(p.Config.Entrypoint, c.Command); diff != "" {
		t.Errorf("deploy/manager/operator.yaml's command is not the image's ENTRYPOINT (-image +deployment):\n%s", diff)
	}
}

// operatorDeployment is deploy/manager/operator.yaml.
func operatorDeployment(t testing.TB) *appsv1.Deployment {
	t.Helper()
	b, err := os.ReadFile(optest.RepoPath(t, "deploy", "manager", "operator.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(b, &d); err != nil {
		t.Fatalf("deploy/manager/operator.yaml: %v", err)
	}
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("deploy/manager/operator.yaml: want one container, got %d", len(d.Spec.Template.Spec.Containers))
	}
	return &d
}

// runtimePlan plans the runtime stage of build/Dockerfile; the test fails
// unless its base is the one the image test stands in for.
func runtimePlan(t *testing.T) plan {
	t.Helper()
	stages, err := readDockerfile(optest.RepoPath(t, "build", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := planRuntime(stages)
	if err != nil {
		t.Fatal(err)
	}
	if p.Base != slimBase {
		t.Fatalf("the runtime stage is FROM %s; the image test stands in for %s only (hack/image-test-base.sh)", p.Base, slimBase)
	}
	return p
}
