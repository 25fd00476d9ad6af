//go:build imagetest

package image

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/mcrouter-operator/mcrouter-operator/internal/devcluster"
	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

// podName is the pod's host name, as a Deployment's pod would have one.
const podName = "mcrouter-operator-image-test"

// pod is the operator container of deploy/manager/operator.yaml running
// from the image root.
type pod struct {
	c     *container
	opts  containerOptions
	log   *lockedBuffer
	spec  corev1.Container
	ports map[string]int // container port (name and number) → loopback port
	grace time.Duration
}

// startPod runs the image as the operator Deployment runs it, with what a
// kubelet gives it: the ServiceAccount token, ca.crt and namespace mounted
// where client-go looks for them, KUBERNETES_SERVICE_HOST/PORT, the
// emptyDir volumes, a read-only root when the container asks for it. The
// network is the host's, so the ports the container binds on all interfaces
// are bound on loopback ports that are free, and the API proxy the roles
// use takes a free port too (--proxy-port=0): the only changes to the
// Deployment's arguments.
func startPod(t *testing.T, cluster *devcluster.Cluster, img image) *pod {
	t.Helper()
	dep := operatorDeployment(t)
	spec := dep.Spec.Template.Spec
	ctr := spec.Containers[0]
	saNS := applyDeploy(t, cluster)
	saDir := serviceAccountDir(t, cluster, saNS, spec.ServiceAccountName)

	p := &pod{log: &lockedBuffer{}, spec: ctr, ports: map[string]int{}, grace: 30 * time.Second}
	if spec.TerminationGracePeriodSeconds != nil {
		p.grace = time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
	}
	for _, cp := range ctr.Ports {
		port, err := optest.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		p.ports[cp.Name], p.ports[strconv.Itoa(int(cp.ContainerPort))] = port, port
	}
	argv := podArgv(t, ctr, img.Config, p.ports)
	env := podEnv(t, cluster, ctr, img.Config)
	user := podUser(t, spec, ctr, img.Config)
	p.opts = podSandbox(t, spec, ctr)
	p.opts.Root, p.opts.User, p.opts.Env, p.opts.Argv = img.Root, user, env, argv
	p.opts.WorkDir = img.Config.WorkDir
	if ctr.WorkingDir != "" {
		p.opts.WorkDir = ctr.WorkingDir
	}
	p.opts.Binds = []string{saDir + ":/var/run/secrets/kubernetes.io/serviceaccount"}
	p.opts.Hostname, p.opts.Output = podName, p.log
	c, err := startContainer(t, p.opts)
	if err != nil {
		t.Fatal(err)
	}
	p.c = c
	t.Logf("operator container: %s", strings.Join(argv, " "))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("operator container log (last lines):\n%s", p.logTail())
		}
	})
	return p
}

// podSandbox is what the container's securityContext and volumes ask of
// the runtime; what the image test cannot provide fails the test.
func podSandbox(t *testing.T, spec corev1.PodSpec, ctr corev1.Container) containerOptions {
	t.Helper()
	var o containerOptions
	for _, vm := range ctr.VolumeMounts {
		i := slices.IndexFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == vm.Name })
		if i < 0 || spec.Volumes[i].EmptyDir == nil {
			t.Fatalf("volume %s of the operator Deployment: the image test provides emptyDir volumes only", vm.Name)
		}
		o.Tmpfs = append(o.Tmpfs, vm.MountPath)
	}
	sc := ctr.SecurityContext
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	if sc.Capabilities != nil && (len(sc.Capabilities.Add) > 0 || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"})) {
		t.Fatalf("the operator container's capabilities %+v: the image test provides drop: [ALL] only", sc.Capabilities)
	}
	o.ReadOnly = sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem
	o.NoNewPrivs = sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation
	o.DropAllCaps = sc.Capabilities != nil
	return o
}

// podArgv is the container's command line as Kubernetes makes it from the
// image and the container spec, bind addresses moved to loopback ports.
func podArgv(t *testing.T, ctr corev1.Container, cfg imageConfig, ports map[string]int) []string {
	t.Helper()
	cmd, args := cfg.Entrypoint, cfg.Cmd
	if len(ctr.Command) > 0 {
		cmd, args = ctr.Command, nil
	}
	if len(ctr.Args) > 0 {
		args = ctr.Args
	}
	var out []string
	for _, a := range append(slices.Clone(cmd), args...) {
		for _, cp := range ctr.Ports {
			suffix := ":" + strconv.Itoa(int(cp.ContainerPort))
			if strings.HasSuffix(a, "="+suffix) || strings.HasSuffix(a, "=0.0.0.0"+suffix) {
				a = a[:strings.Index(a, "=")+1] + "127.0.0.1:" + strconv.Itoa(ports[cp.Name])
			}
		}
		out = append(out, a)
	}
	return append(out, "--proxy-port=0")
}

// podEnv is the image's ENV, then the container's env, then what the
// kubelet adds.
func podEnv(t *testing.T, cluster *devcluster.Cluster, ctr corev1.Container, cfg imageConfig) []string {
	t.Helper()
	env := cfg.Env
	for _, e := range ctr.Env {
		if e.ValueFrom != nil {
			t.Fatalf("env %s of the operator Deployment: the image test provides literal values only", e.Name)
		}
		env = env.with([][2]string{{e.Name, e.Value}})
	}
	u, err := url.Parse(cluster.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	return env.with([][2]string{
		{"HOSTNAME", podName},
		{"KUBERNETES_SERVICE_HOST", u.Hostname()},
		{"KUBERNETES_SERVICE_PORT", u.Port()},
	}).strings()
}

// podUser is the user the container runs as; runAsNonRoot is checked as
// the kubelet checks it (a numeric, non-zero user).
func podUser(t *testing.T, spec corev1.PodSpec, ctr corev1.Container, cfg imageConfig) string {
	t.Helper()
	user := cfg.User
	nonRoot := false
	if psc := spec.SecurityContext; psc != nil {
		if psc.RunAsUser != nil {
			user = strconv.FormatInt(*psc.RunAsUser, 10)
		}
		nonRoot = psc.RunAsNonRoot != nil && *psc.RunAsNonRoot
	}
	if csc := ctr.SecurityContext; csc != nil {
		if csc.RunAsUser != nil {
			user = strconv.FormatInt(*csc.RunAsUser, 10)
		}
		if csc.RunAsNonRoot != nil {
			nonRoot = *csc.RunAsNonRoot
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); nonRoot && (err != nil || n == 0) {
		t.Fatalf("runAsNonRoot: the image's USER %q is not a numeric non-root user; the kubelet would refuse to start it", user)
	}
	return user
}

// applyDeploy applies what `kubectl apply -k deploy/` applies but the
// operator Deployment (and the CRD, installed with the control plane), and
// returns the operator's namespace.
func applyDeploy(t *testing.T, cluster *devcluster.Cluster) string {
	t.Helper()
	rendered := kubectl(t, cluster, "kustomize", optest.RepoPath(t, "deploy"))
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(rendered), 4096)
	var keep bytes.Buffer
	ns := ""
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("kubectl kustomize deploy/: %v", err)
		}
		switch u.GetKind() {
		case "", "Deployment", "CustomResourceDefinition":
			continue
		case "ServiceAccount":
			ns = u.GetNamespace()
		}
		b, err := yaml.Marshal(u.Object)
		if err != nil {
			t.Fatal(err)
		}
		keep.WriteString("---\n")
		keep.Write(b)
	}
	f := filepath.Join(t.TempDir(), "deploy.yaml")
	if err := os.WriteFile(f, keep.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	kubectl(t, cluster, "apply", "-f", f)
	if ns == "" {
		t.Fatal("deploy/ renders no ServiceAccount")
	}
	return ns
}

// serviceAccountDir writes what the kubelet mounts at
// /var/run/secrets/kubernetes.io/serviceaccount: a token of the
// ServiceAccount, the API server's CA and the namespace.
func serviceAccountDir(t *testing.T, cluster *devcluster.Cluster, ns, name string) string {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(cluster.Config)
	hour := int64(3600)
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(t.Context(), name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &hour}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token of ServiceAccount %s/%s: %v", ns, name, err)
	}
	dir := t.TempDir()
	for file, content := range map[string][]byte{
		"token": []byte(tr.Status.Token), "ca.crt": cluster.Config.CAData, "namespace": []byte(ns),
	} {
		if err := os.WriteFile(filepath.Join(dir, file), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// probe returns an Await condition: the container's HTTP probe (by field
// name, e.g. "readinessProbe") answers 200.
func (p *pod) probe(field string) func(context.Context) (bool, error) {
	pr := p.spec.ReadinessProbe
	if field == "livenessProbe" {
		pr = p.spec.LivenessProbe
	}
	return func(ctx context.Context) (bool, error) {
		if exited, err := p.c.Exited(); exited {
			return false, fmt.Errorf("the container exited (%v)", err)
		}
		if pr == nil || pr.HTTPGet == nil {
			return false, fmt.Errorf("the operator Deployment has no HTTP %s", field)
		}
		url := fmt.Sprintf("http://127.0.0.1:%d%s", p.ports[pr.HTTPGet.Port.String()], pr.HTTPGet.Path)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, fmt.Errorf("%s %s: no answer", field, pr.HTTPGet.Path)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("%s %s: %s", field, pr.HTTPGet.Path, resp.Status)
	}
}

func (p *pod) failIfExited(t *testing.T) {
	t.Helper()
	if exited, err := p.c.Exited(); exited {
		t.Fatalf("the operator container exited (%v)", err)
	}
}

func (p *pod) logTail() string { return tail(p.log.String(), 60) }

// checkProcesses: tini is PID 1 of the container, and it and the operator
// run as the image's user with no capabilities, in the image's root.
func (p *pod) checkProcesses(t *testing.T, img image) {
	t.Helper()
	uid, _, _ := strings.Cut(img.Config.User, ":")
	tini := p.c.Pid()
	kids, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", tini, tini))
	if err != nil {
		t.Fatal(err)
	}
	for i, pid := range append([]int{tini}, fieldsInts(string(kids))...) {
		st, err := procStatus(pid)
		if err != nil {
			t.Fatal(err)
		}
		nspid := strings.Fields(st["NSpid"])
		if i == 0 && (st["Name"] != "tini" || nspid[len(nspid)-1] != "1") {
			t.Errorf("PID 1 of the container is %s (NSpid %v); want tini", st["Name"], nspid)
		}
		if st["Uid"] != strings.Repeat(uid+" ", 3)+uid || st["CapEff"] != "0000000000000000" {
			t.Errorf("%s (pid %d) runs with uids %s and capabilities %s; want %s and none", st["Name"], pid, st["Uid"], st["CapEff"], uid)
		}
		if p.opts.DropAllCaps && st["CapBnd"] != "0000000000000000" || p.opts.NoNewPrivs && st["NoNewPrivs"] != "1" {
			t.Errorf("%s (pid %d): bounding set %s, no_new_privs %s; the pod's securityContext wants them empty and 1", st["Name"], pid, st["CapBnd"], st["NoNewPrivs"])
		}
		if root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", pid)); err != nil || root != img.Root {
			t.Errorf("%s (pid %d) has root %s (%v); want the image's %s", st["Name"], pid, root, err, img.Root)
		}
	}
	if len(fieldsInts(string(kids))) == 0 {
		t.Error("tini has no child: the operator is not running under it")
	}
}

// stop sends SIGTERM to the container as the kubelet does and expects the
// operator to exit 0 within the pod's termination grace period, after which
// the kubelet would kill it.
func (p *pod) stop(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(p.c.Pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.c.done:
	case <-time.After(p.grace):
		_ = syscall.Kill(p.c.Pid(), syscall.SIGKILL)
		<-p.c.done
		t.Fatalf("the operator did not exit within the pod's terminationGracePeriodSeconds (%s) of SIGTERM", p.grace)
	}
	if code := exitCode(p.c.err); code != 0 {
		t.Errorf("the operator container exited with %d (%v) on SIGTERM; want 0", code, p.c.err)
	}
}

func fieldsInts(s string) []int {
	var out []int
	for _, f := range strings.Fields(s) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}
