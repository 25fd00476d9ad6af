package image

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
)

// slimBase is the only base image the image test knows how to stand in for
// (hack/image-test-base.sh), and slimBaseEnv the environment its image
// config sets.
const slimBase = "debian:bookworm-slim"

var slimBaseEnv = [][2]string{{"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}

// envList is an ordered environment in which a later value replaces an
// earlier one, as ENV does.
type envList [][2]string

func (e envList) with(kvs [][2]string) envList {
	out := slices.Clone(e)
	for _, kv := range kvs {
		i := slices.IndexFunc(out, func(o [2]string) bool { return o[0] == kv[0] })
		if i >= 0 {
			out[i] = kv
		} else {
			out = append(out, kv)
		}
	}
	return out
}

func (e envList) strings() []string {
	out := make([]string, len(e))
	for i, kv := range e {
		out[i] = kv[0] + "=" + kv[1]
	}
	return out
}

// step is an instruction of the runtime stage that changes the root's files,
// with the state the engine runs it in.
type step struct {
	In      instruction
	Run     string    // RUN: the shell command
	Copy    *copySpec // COPY
	Env     envList   // ENV so far (and ARG, for RUN)
	User    string    // USER so far; "" is root
	WorkDir string    // WORKDIR so far
}

// imageConfig is what the runtime stage leaves besides its files.
type imageConfig struct {
	Env        envList
	User       string
	WorkDir    string
	Entrypoint []string
	Cmd        []string
}

// plan is the runtime stage read for the image test.
type plan struct {
	Base   string
	Steps  []step
	Config imageConfig
	// Stages are the earlier stages by name, for COPY --from.
	Stages map[string]stage
}

// planRuntime reads the last stage of stages as an engine would build it.
func planRuntime(stages []stage) (plan, error) {
	rt := stages[len(stages)-1]
	p := plan{Base: rt.From, Stages: map[string]stage{}}
	for _, st := range stages[:len(stages)-1] {
		p.Stages[st.Name] = st
	}
	cfg := imageConfig{Env: envList(nil).with(slimBaseEnv), WorkDir: "/"}
	var args envList
	for _, in := range rt.Instructions {
		switch in.Cmd {
		case "ENV", "ARG":
			kvs, err := parseEnv(in)
			if err != nil {
				return plan{}, err
			}
			if in.Cmd == "ENV" {
				cfg.Env = cfg.Env.with(kvs)
			} else {
				args = args.with(kvs)
			}
		case "RUN":
			cmd, err := parseRun(in)
			if err != nil {
				return plan{}, err
			}
			p.Steps = append(p.Steps, step{In: in, Run: cmd, Env: args.with(cfg.Env), User: cfg.User, WorkDir: cfg.WorkDir})
		case "COPY":
			c, err := parseCopy(in)
			if err != nil {
				return plan{}, err
			}
			if _, ok := p.Stages[c.From]; c.From != "" && !ok {
				return plan{}, fmt.Errorf("%s: no earlier stage %q", in, c.From)
			}
			p.Steps = append(p.Steps, step{In: in, Copy: &c, Env: cfg.Env, User: cfg.User, WorkDir: cfg.WorkDir})
		case "USER":
			cfg.User = in.Args
		case "WORKDIR":
			cfg.WorkDir = path.Join(cfg.WorkDir, in.Args)
		case "ENTRYPOINT", "CMD":
			argv, err := parseCommand(in)
			if err != nil {
				return plan{}, err
			}
			if in.Cmd == "ENTRYPOINT" {
				cfg.Entrypoint, cfg.Cmd = argv, nil // a new ENTRYPOINT resets CMD
			} else {
				cfg.Cmd = argv
			}
		case "LABEL", "EXPOSE":
			// Metadata: no effect on the root or on how the process runs.
		default:
			return plan{}, fmt.Errorf("%s: the image test does not know %s; teach test/image to carry it out", in, in.Cmd)
		}
	}
	p.Config = cfg
	return p, nil
}

// buildPlan is an earlier stage run on the host: its RUN lines in the
// repository root (the stage's COPY lines bring the repository to its
// WORKDIR, TestDockerfileCopiesExistingPaths of test/mcrouter checks them),
// with its outputs outside WORKDIR moved to outDir.
type buildPlan struct {
	Runs []instruction
	Env  envList // ARG defaults and ENV
	// Paths maps a path of the stage's file system that a later COPY --from
	// reads to the host path it lands on.
	Paths map[string]string
}

// planBuild reads stage st for the paths later stages copy out of it;
// repo is the repository root and outDir the host directory standing in
// for the stage's own directories.
func planBuild(st stage, copied []string, repo, outDir string) (buildPlan, error) {
	bp := buildPlan{Paths: map[string]string{}}
	workdir := "/"
	var runs []instruction
	for _, in := range st.Instructions {
		switch in.Cmd {
		case "ARG", "ENV":
			kvs, err := parseEnv(in)
			if err != nil {
				return buildPlan{}, err
			}
			bp.Env = bp.Env.with(kvs)
		case "WORKDIR":
			workdir = path.Join(workdir, in.Args)
		case "COPY":
			if c, err := parseCopy(in); err != nil || c.From != "" {
				return buildPlan{}, fmt.Errorf("%s: the image test runs the build stage from the repository and knows COPY from it only", in)
			}
		case "RUN":
			if _, err := parseRun(in); err != nil {
				return buildPlan{}, err
			}
			runs = append(runs, in)
		default:
			return buildPlan{}, fmt.Errorf("%s: the image test does not know %s in the build stage", in, in.Cmd)
		}
	}
	var tops []string
	for _, src := range copied {
		if rel, ok := strings.CutPrefix(src, strings.TrimSuffix(workdir, "/")+"/"); ok && workdir != "/" {
			bp.Paths[src] = path.Join(repo, rel)
			continue
		}
		top := "/" + strings.SplitN(strings.TrimPrefix(src, "/"), "/", 2)[0]
		if top == "/" || !path.IsAbs(src) {
			return buildPlan{}, fmt.Errorf("stage %s: COPY --from reads %s, outside WORKDIR %s and not absolute", st.Name, src, workdir)
		}
		bp.Paths[src] = path.Join(outDir, src)
		tops = append(tops, top)
	}
	for _, in := range runs {
		cmd := in.Args
		for _, top := range slices.Compact(slices.Sorted(slices.Values(tops))) {
			re := regexp.MustCompile(`(^|[\s=])` + regexp.QuoteMeta(top) + `(/|\s|$)`)
			cmd = re.ReplaceAllString(cmd, "${1}"+path.Join(outDir, top)+"${2}")
		}
		bp.Runs = append(bp.Runs, instruction{Line: in.Line, Cmd: in.Cmd, Args: cmd})
	}
	return bp, nil
}
