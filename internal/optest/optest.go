// Package optest runs the built ansible-operator binary in integration and
// end-to-end tests: build once, start with a kubeconfig and watches file,
// capture its log, stop or kill it, and wait on Kubernetes conditions.
//
// It is also the one home of what the test packages share: the wait
// (Await, and AwaitObject and AwaitEvent on top of it), the readers of a
// resource's conditions (Successful, Settled, Failed, ObservedGeneration),
// and the namespaces, custom resources and Events the tests create and read.
package optest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Build compiles cmd/ansible-operator of the enclosing module into dir.
func Build(dir string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "ansible-operator")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/ansible-operator")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/ansible-operator: %w\n%s", err, out)
	}
	return bin, nil
}

// ModuleRoot is the directory of the repository's go.mod.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the module")
	}
	return filepath.Dir(mod), nil
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Options start one operator process.
type Options struct {
	Binary      string   // required
	Kubeconfig  string   // required
	WatchesFile string   // required
	Dir         string   // working directory; default: the watches file's directory
	Args        []string // more flags
	Env         []string // more environment (KEY=VALUE)
	Unset       []string // names of variables of the test's environment the operator does not get
	LogPath     string   // operator output; default: <Dir>/operator-<pid>.log in a temp dir
	Name        string   // names the operator in failure messages; default: the log file's name
}

// Operator is a running ansible-operator process in its own process group.
type Operator struct {
	cmd       *exec.Cmd
	Name      string
	LogPath   string
	ProbePort int
	ProxyPort int
	done      chan struct{}
	waitErr   error
	stopOnce  sync.Once
	logFile   *os.File
	// runs samples the operator's Ansible runs; runTimeout is its
	// --run-timeout (0: the default): a run older than that is not
	// progress but a hang.
	runs       *runTracker
	runTimeout time.Duration
}

// Start runs the operator with free ports for probes and proxy, metrics and
// user metrics (fixed port 5050 by default) off unless Args set them, and
// --ansible-executor Executor() unless Args set it. The operator brings its
// own operator_sdk.util collection.
func Start(o Options) (*Operator, error) {
	probe, err := FreePort()
	if err != nil {
		return nil, err
	}
	proxyPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	if o.Dir == "" {
		o.Dir = filepath.Dir(o.WatchesFile)
	}
	if o.LogPath == "" {
		f, err := os.CreateTemp("", "operator-*.log")
		if err != nil {
			return nil, err
		}
		f.Close()
		o.LogPath = f.Name()
	}
	logFile, err := os.OpenFile(o.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	args := []string{"run",
		"--kubeconfig", o.Kubeconfig,
		"--watches-file", o.WatchesFile,
		"--health-probe-bind-address", "127.0.0.1:" + strconv.Itoa(probe),
		"--proxy-port", strconv.Itoa(proxyPort),
		"--metrics-bind-address", "0",
		"--user-metrics-bind-address", "0",
	}
	args = append(args, o.Args...)
	if _, set := flagValue(args, "--ansible-executor"); !set {
		args = append(args, "--ansible-executor", Executor())
	}
	cmd := exec.Command(o.Binary, args...)
	cmd.Dir = o.Dir
	cmd.Env = append(environWithout(o.Unset), o.Env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", o.Binary, err)
	}
	if o.Name == "" {
		o.Name = strings.TrimSuffix(filepath.Base(o.LogPath), ".log")
	}
	op := &Operator{cmd: cmd, Name: o.Name, LogPath: o.LogPath, ProbePort: probe, ProxyPort: proxyPort,
		done: make(chan struct{}), logFile: logFile,
		runs: newRunTracker(cmd.Process.Pid), runTimeout: runTimeout(args)}
	exited, tracked := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(tracked)
		op.runs.track(exited)
	}()
	go func() {
		op.waitErr = cmd.Wait()
		logFile.Close()
		close(exited)
		<-tracked
		close(op.done)
	}()
	return op, nil
}

// environWithout is the test's environment without the variables named.
func environWithout(names []string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, k) {
			out = append(out, kv)
		}
	}
	return out
}

// runTimeout is the value of --run-timeout in args, or 0 when it is not set:
// the operator's default then bounds its runs.
func runTimeout(args []string) time.Duration {
	v, _ := flagValue(args, "--run-timeout")
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0
	}
	return d
}

// flagValue is the value of the last occurrence of flag in args, given as
// "flag value" or "flag=value", and whether it occurs at all.
func flagValue(args []string, flag string) (value string, set bool) {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			value, set = v, true
		} else if a == flag && i+1 < len(args) {
			value, set = args[i+1], true
		}
	}
	return value, set
}

// Activity is the operator's Ansible runs so far, as sampled from /proc.
func (o *Operator) Activity() Activity { return o.runs.activity() }

// Pid is the operator's process id (also its process group id).
func (o *Operator) Pid() int { return o.cmd.Process.Pid }

// Exited reports whether the process has ended, and how.
func (o *Operator) Exited() (bool, error) {
	select {
	case <-o.done:
		return true, o.waitErr
	default:
		return false, nil
	}
}

// Done is closed when the process has ended.
func (o *Operator) Done() <-chan struct{} { return o.done }

// Stop sends SIGTERM and waits up to timeout, then kills the process group.
func (o *Operator) Stop(timeout time.Duration) error {
	var err error
	o.stopOnce.Do(func() {
		_ = o.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-o.done:
		case <-time.After(timeout):
			_ = syscall.Kill(-o.Pid(), syscall.SIGKILL)
			<-o.done
			err = fmt.Errorf("operator did not stop within %s after SIGTERM", timeout)
		}
		// Whatever it left in its group goes too.
		_ = syscall.Kill(-o.Pid(), syscall.SIGKILL)
	})
	return err
}

// Kill sends SIGKILL to the operator process only (not its group): the
// crash case.
func (o *Operator) Kill() {
	_ = o.cmd.Process.Signal(syscall.SIGKILL)
	<-o.done
}

// Logs returns the operator's output so far.
func (o *Operator) Logs() string {
	b, _ := os.ReadFile(o.LogPath)
	return string(b)
}

// LogTail returns the last n lines of the operator's output, each cut to
// 600 bytes: task results carry whole Kubernetes objects.
func (o *Operator) LogTail(n int) string {
	lines := bytes.Split(bytes.TrimRight([]byte(o.Logs()), "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		if len(l) > 600 {
			lines[i] = append(l[:600:600], "…"...)
		}
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// ExecutorEnv names the environment variable that selects how the runners
// and operators started by tests start Ansible: "runner" (the default) or
// "warm". `make test` runs the Ansible suites once with each.
const ExecutorEnv = "TEST_ANSIBLE_EXECUTOR"

// Executor is the executor selected by ExecutorEnv.
func Executor() string {
	if v := os.Getenv(ExecutorEnv); v != "" {
		return v
	}
	return "runner"
}
