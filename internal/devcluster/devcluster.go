package devcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// AssetsEnv names the environment variable that overrides where the
// control-plane binaries are looked up.
const AssetsEnv = "DEVCLUSTER_ASSETS"

// DefaultControllers are the kube-controller-manager controllers the local
// control plane runs: garbage collection for owner references, the workload
// controllers that turn Deployments and StatefulSets into ReplicaSets and Pods,
// and namespace deletion.
var DefaultControllers = []string{
	"garbagecollector", "deployment", "replicaset", "statefulset", "namespace", "serviceaccount",
}

// Options configures a local control plane.
type Options struct {
	// BinaryDir holds etcd, kube-apiserver and kube-controller-manager.
	// Default: $DEVCLUSTER_ASSETS, else bin/k8s of the enclosing module.
	BinaryDir string
	// CRDPaths are CRD files or directories installed once the API server is
	// up. Default: none.
	CRDPaths []string
	// Controllers lists the kube-controller-manager controllers to run.
	// Default: DefaultControllers.
	Controllers []string
	// StartTimeout bounds the start of each component that neither becomes
	// ready nor exits. Default: 5m: kube-apiserver starts in seconds alone,
	// but far slower when several control planes start on a busy 2-core
	// machine, and a slow start is not a failed one.
	StartTimeout time.Duration
	// KeepLogs leaves the component logs in LogDir after Stop. Default: false.
	KeepLogs bool
}

func (o *Options) setDefaults() error {
	if o.BinaryDir == "" {
		o.BinaryDir = os.Getenv(AssetsEnv)
	}
	if o.BinaryDir == "" {
		dir, err := moduleBinaryDir()
		if err != nil {
			return err
		}
		o.BinaryDir = dir
	}
	if len(o.Controllers) == 0 {
		o.Controllers = DefaultControllers
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 5 * time.Minute
	}
	return nil
}

// Validate reports missing binaries with the command that installs them.
func (o *Options) Validate() error {
	var errs []error
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager"} {
		p := filepath.Join(o.BinaryDir, name)
		if st, err := os.Stat(p); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			errs = append(errs, fmt.Errorf("%s not found or not executable at %s", name, p))
		}
	}
	if len(errs) > 0 {
		err := fmt.Errorf("%w; run `make deps` to install the control-plane binaries (or set %s)",
			errors.Join(errs...), AssetsEnv)
		return err
	}
	for _, p := range o.CRDPaths {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("CRD path: %w", err)
		}
	}
	return nil
}

// Cluster is a running local control plane.
type Cluster struct {
	// Config is an admin (system:masters) client configuration.
	Config *rest.Config
	// KubeconfigPath is an admin kubeconfig file for kubectl and the operator.
	KubeconfigPath string
	// Dir is the private working directory; it is removed by Stop.
	Dir string
	// LogDir holds etcd.log, kube-apiserver.log and kube-controller-manager.log.
	LogDir string

	opts  Options
	env   *envtest.Environment
	kcm   *component
	guard *guard

	mu      sync.Mutex
	stopped bool
}

// Start brings up etcd, kube-apiserver and kube-controller-manager on
// loopback, installs the CRDs and waits until the API server is ready. Every
// process it starts is stopped by Stop, and also — by a guard process — if the
// calling process dies without calling Stop.
func Start(ctx context.Context, opts Options) (_ *Cluster, retErr error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "devcluster-")
	if err != nil {
		return nil, fmt.Errorf("create devcluster directory: %w", err)
	}
	c := &Cluster{Dir: dir, LogDir: filepath.Join(dir, "logs"), opts: opts}
	if opts.KeepLogs {
		c.LogDir = dir + "-logs"
	}
	if err := os.MkdirAll(c.LogDir, 0o755); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	if c.guard, err = startGuard(dir); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	defer func() {
		if retErr != nil {
			_ = c.Stop()
		}
	}()
	if err := c.startAPI(ctx); err != nil {
		return nil, err
	}
	if err := c.startControllerManager(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Cluster) startAPI(ctx context.Context) error {
	etcdLog, err := c.openLog("etcd.log")
	if err != nil {
		return err
	}
	apiLog, err := c.openLog("kube-apiserver.log")
	if err != nil {
		return err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory:    c.opts.BinaryDir,
		CRDDirectoryPaths:        c.opts.CRDPaths,
		ErrorIfCRDPathMissing:    len(c.opts.CRDPaths) > 0,
		ControlPlaneStartTimeout: c.opts.StartTimeout,
		ControlPlaneStopTimeout:  20 * time.Second,
	}
	env.ControlPlane.Etcd = &envtest.Etcd{DataDir: filepath.Join(c.Dir, "etcd"), Out: etcdLog, Err: etcdLog}
	// A fixed certificate directory keeps the serving and client CAs across
	// RestartAPIServer, so existing kubeconfigs stay valid.
	api := env.ControlPlane.GetAPIServer()
	api.CertDir = filepath.Join(c.Dir, "apiserver")
	api.Out, api.Err = apiLog, apiLog
	// envtest's default, a /24, holds 254 ClusterIP Services; the benchmark
	// creates a thousand Mcrouters, each with one.
	api.Configure().Set("service-cluster-ip-range", "10.0.0.0/16")
	if err := os.MkdirAll(api.CertDir, 0o700); err != nil {
		return err
	}
	c.env = env
	if err := ctx.Err(); err != nil {
		return err
	}
	// envtest's Start is bounded by StartTimeout per component.
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("start etcd and kube-apiserver: %w%s", err, c.logTail("kube-apiserver.log", "etcd.log"))
	}
	c.Config = cfg
	c.KubeconfigPath = filepath.Join(c.Dir, "kubeconfig")
	if err := os.WriteFile(c.KubeconfigPath, env.KubeConfig, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

// Stop stops every component and removes Dir. It is safe to call twice.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil
	}
	c.stopped = true
	var errs []error
	if c.kcm != nil {
		errs = append(errs, c.kcm.stop(10*time.Second))
	}
	if c.env != nil && c.Config != nil {
		errs = append(errs, c.env.Stop())
	}
	if c.guard != nil {
		// The guard kills whatever is left and removes the directory.
		errs = append(errs, c.guard.release())
	}
	errs = append(errs, os.RemoveAll(c.Dir))
	return errors.Join(errs...)
}

func (c *Cluster) openLog(name string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(c.LogDir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open component log: %w", err)
	}
	return f, nil
}

// logTail returns the last lines of the named logs, for error messages.
func (c *Cluster) logTail(names ...string) string {
	var out string
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(c.LogDir, n))
		if err != nil || len(b) == 0 {
			continue
		}
		out += fmt.Sprintf("\n--- last lines of %s ---\n%s", n, lastLines(b, 15))
	}
	return out
}

// AddUser provisions a client certificate for a user with no rights but
// those RBAC grants it (and its groups), and writes a kubeconfig for it
// into Dir. It returns the kubeconfig's path and the user's client
// configuration.
func (c *Cluster) AddUser(name string, groups ...string) (string, *rest.Config, error) {
	u, err := c.env.AddUser(envtest.User{Name: name, Groups: groups}, c.Config)
	if err != nil {
		return "", nil, fmt.Errorf("add user %s: %w", name, err)
	}
	kubeconfig, err := u.KubeConfig()
	if err != nil {
		return "", nil, fmt.Errorf("kubeconfig of user %s: %w", name, err)
	}
	path := filepath.Join(c.Dir, "kubeconfig-"+name)
	if err := os.WriteFile(path, kubeconfig, 0o600); err != nil {
		return "", nil, fmt.Errorf("write kubeconfig of user %s: %w", name, err)
	}
	return path, u.Config(), nil
}
