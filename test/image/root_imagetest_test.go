//go:build imagetest

package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

// Where the image test keeps its roots between runs (default bin/image-test)
// and which Debian mirror the base root comes from.
const (
	cacheEnv  = "IMAGE_TEST_CACHE"
	mirrorEnv = "IMAGE_TEST_MIRROR"
)

// image is the runtime stage of build/Dockerfile assembled in Root.
type image struct {
	Root   string
	Config imageConfig
}

// assembleImage carries out the runtime stage of build/Dockerfile. The
// stand-in base root and the root after the stage's last RUN are cached
// under the cache dir, keyed by what made them (the base script and mirror;
// the instructions up to that RUN and the files they copy), so a change to
// the packages or the RUN lines rebuilds them and nothing else does. The
// rest of the stage is carried out on an overlay of that root, private to
// the test.
func assembleImage(t *testing.T) image {
	t.Helper()
	p := runtimePlan(t)
	// The build stage (a Go build) runs while the base and the RUN lines
	// (downloads, mostly) are made, unless those copy from it.
	built := startBuildStages(t, p)
	cache := cacheDir(t)
	base, baseKey := cachedBase(t, cache)

	last := -1
	for i, s := range p.Steps {
		if s.Run != "" {
			last = i
		}
	}
	prefix, rest := p.Steps[:last+1], p.Steps[last+1:]
	var outputs map[string]string
	if slices.ContainsFunc(prefix, func(s step) bool { return s.Copy != nil && s.Copy.From != "" }) {
		outputs = built()
	}
	key := stepsKey(t, baseKey, prefix, outputs)
	layer := filepath.Join(cache, "root-"+key)
	if _, err := os.Stat(layer); err != nil {
		buildLayer(t, base, layer, prefix, outputs)
	}
	outputs = built()
	root := overlay(t, layer)
	for _, s := range rest {
		applyStep(t, root, s, outputs)
	}
	return image{Root: root, Config: p.Config}
}

// startBuildStages runs buildStages in the background; the function it
// returns waits for it and fails the test if it failed.
func startBuildStages(t *testing.T, p plan) func() map[string]string {
	t.Helper()
	type result struct {
		outputs map[string]string
		err     error
	}
	ch := make(chan result, 1)
	repo, out, ctx := optest.RepoPath(t), t.TempDir(), t.Context()
	go func() {
		o, err := buildStages(ctx, repo, out, p)
		ch <- result{o, err}
	}()
	var got *result
	t.Cleanup(func() {
		if got == nil {
			<-ch // the context is done: the build is being killed
		}
	})
	return func() map[string]string {
		t.Helper()
		if got == nil {
			r := <-ch
			got = &r
		}
		if got.err != nil {
			t.Fatal(got.err)
		}
		return got.outputs
	}
}

func cacheDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv(cacheEnv)
	if dir == "" {
		dir = optest.RepoPath(t, "bin", "image-test")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("image test cache %s: %v", dir, err)
	}
	return dir
}

// cachedBase returns the stand-in for debian:bookworm-slim, made by
// hack/image-test-base.sh once per version of that script and mirror.
func cachedBase(t *testing.T, cache string) (dir, key string) {
	t.Helper()
	script := optest.RepoPath(t, "hack", "image-test-base.sh")
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	mirror := os.Getenv(mirrorEnv)
	key = digest(string(b), mirror)
	dir = filepath.Join(cache, "base-"+key)
	if _, err := os.Stat(dir); err == nil {
		return dir, key
	}
	tmp := dir + ".tmp"
	_ = os.RemoveAll(tmp)
	args := []string{tmp}
	if mirror != "" {
		args = append(args, mirror)
	}
	start := time.Now()
	cmd := exec.CommandContext(t.Context(), script, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("hack/image-test-base.sh (debootstrap of the base root): %v\n%s", err, tail(string(out), 30))
	}
	t.Logf("base root made by debootstrap in %s", time.Since(start).Round(time.Second))
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatal(err)
	}
	removeOthers(t, dir)
	return dir, key
}

// stepsKey names the root the steps leave on the base: their text, the
// state they run in and the content of what they copy.
func stepsKey(t *testing.T, baseKey string, steps []step, outputs map[string]string) string {
	t.Helper()
	parts := []string{baseKey}
	for _, s := range steps {
		parts = append(parts, s.In.Cmd, s.In.Args, s.User, s.WorkDir, strings.Join(s.Env.strings(), "\n"))
		if s.Copy == nil {
			continue
		}
		for _, src := range s.Copy.Sources {
			parts = append(parts, treeDigest(t, copySource(t, *s.Copy, src, outputs)))
		}
	}
	return digest(parts...)
}

// buildLayer copies the base to layer and carries out the steps on it.
func buildLayer(t *testing.T, base, layer string, steps []step, outputs map[string]string) {
	t.Helper()
	tmp := layer + ".tmp"
	_ = os.RemoveAll(tmp)
	if out, err := exec.Command("cp", "-a", base, tmp).CombinedOutput(); err != nil {
		t.Fatalf("copy the base root: %v\n%s", err, out)
	}
	start := time.Now()
	for _, s := range steps {
		applyStep(t, tmp, s, outputs)
	}
	t.Logf("the runtime stage's RUN steps took %s", time.Since(start).Round(time.Second))
	if err := os.Rename(tmp, layer); err != nil {
		t.Fatal(err)
	}
	removeOthers(t, layer)
}

// removeOthers deletes the cached roots of the same kind as keep (base- or
// root-) made for other keys: one of each is kept.
func removeOthers(t *testing.T, keep string) {
	t.Helper()
	kind, _, _ := strings.Cut(filepath.Base(keep), "-")
	old, _ := filepath.Glob(filepath.Join(filepath.Dir(keep), kind+"-*"))
	for _, d := range old {
		if d == keep {
			continue
		}
		if err := os.RemoveAll(d); err != nil {
			t.Logf("remove stale cached root: %v", err)
		}
	}
}

// overlay mounts a private, writable overlay of lower and returns it.
func overlay(t *testing.T, lower string) string {
	t.Helper()
	dir := t.TempDir()
	upper, work, merged := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "root")
	for _, d := range []string{upper, work, merged} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work)
	if out, err := exec.Command("mount", "-t", "overlay", "overlay", "-o", opts, merged).CombinedOutput(); err != nil {
		t.Fatalf("mount an overlay of the cached root %s: %v\n%s", lower, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", merged).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", merged, err, out)
		}
	})
	return merged
}

// applyStep carries out one RUN or COPY of the runtime stage on root.
func applyStep(t *testing.T, root string, s step, outputs map[string]string) {
	t.Helper()
	if s.Run != "" {
		out, err := runInRoot(t, containerOptions{
			Root: root, User: s.User, WorkDir: s.WorkDir, Env: s.Env.strings(),
			Argv: []string{"/bin/sh", "-c", s.Run},
		})
		if err != nil {
			t.Fatalf("build/Dockerfile %s: %v", s.In, err)
		}
		t.Logf("build/Dockerfile line %d (RUN): %d lines of output", s.In.Line, strings.Count(out, "\n"))
		return
	}
	dest := s.Copy.Dest
	if !filepath.IsAbs(dest) {
		dest = filepath.Join(s.WorkDir, dest)
	}
	for _, src := range s.Copy.Sources {
		from := copySource(t, *s.Copy, src, outputs)
		to := dest
		if len(s.Copy.Sources) > 1 || strings.HasSuffix(s.Copy.Dest, "/") {
			if st, err := os.Stat(from); err == nil && !st.IsDir() {
				to = filepath.Join(dest, filepath.Base(from))
			}
		}
		if err := copyTree(root, from, to, ignored(t)); err != nil {
			t.Fatalf("build/Dockerfile %s: %v", s.In, err)
		}
	}
}

// copySource is the host path a COPY source reads.
func copySource(t *testing.T, c copySpec, src string, outputs map[string]string) string {
	t.Helper()
	if c.From == "" {
		return optest.RepoPath(t, src)
	}
	p, ok := outputs[c.From+":"+src]
	if !ok {
		t.Fatalf("COPY --from=%s %s: the build stage has no such output", c.From, src)
	}
	return p
}

// buildStages runs the stages the runtime stage copies from on the host,
// in the repository, with their outputs under outRoot, and returns where
// each copied path landed, by "stage:path".
func buildStages(ctx context.Context, repo, outRoot string, p plan) (map[string]string, error) {
	wanted := map[string][]string{}
	for _, s := range p.Steps {
		if s.Copy != nil && s.Copy.From != "" {
			wanted[s.Copy.From] = append(wanted[s.Copy.From], s.Copy.Sources...)
		}
	}
	outputs := map[string]string{}
	for name, srcs := range wanted {
		bp, err := planBuild(p.Stages[name], srcs, repo, filepath.Join(outRoot, name))
		if err != nil {
			return nil, err
		}
		for src, host := range bp.Paths {
			if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
				return nil, err
			}
			outputs[name+":"+src] = host
		}
		for _, in := range bp.Runs {
			cmd := exec.CommandContext(ctx, "/bin/sh", "-c", in.Args)
			cmd.Dir = repo
			cmd.Env = append(os.Environ(), bp.Env.strings()...)
			if out, err := cmd.CombinedOutput(); err != nil {
				return nil, fmt.Errorf("build stage %s, build/Dockerfile line %d, on the host: %w\n%s", name, in.Line, err, tail(string(out), 30))
			}
		}
		for src, host := range bp.Paths {
			if _, err := os.Stat(host); err != nil {
				return nil, fmt.Errorf("build stage %s made no %s (looked for it at %s)", name, src, host)
			}
		}
	}
	return outputs, nil
}

func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
