// Command devcluster runs the local control plane (etcd, kube-apiserver,
// kube-controller-manager) for humans: it prints the KUBECONFIG to use and
// stays up until Ctrl-C. With a command after "--" it runs that command
// against the cluster and stops the cluster when the command exits.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/pflag"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/mcrouter-operator/mcrouter-operator/internal/devcluster"
)

func main() {
	os.Exit(run())
}

func run() int {
	fs := pflag.NewFlagSet("devcluster", pflag.ContinueOnError)
	crds := fs.StringSlice("crds", nil, "CRD files or directories to install (repeatable)")
	kubeconfigOut := fs.String("kubeconfig-out", "", "also write the admin kubeconfig to this path (removed on exit)")
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: devcluster [--crds DIR] [--kubeconfig-out FILE] [-- command args...]\n%s", fs.FlagUsages())
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return 2
	}
	ctrllog.SetLogger(zap.New())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Fprintln(os.Stderr, "devcluster: starting etcd, kube-apiserver and kube-controller-manager…")
	c, err := devcluster.Start(ctx, devcluster.Options{CRDPaths: *crds})
	if err != nil {
		fmt.Fprintf(os.Stderr, "devcluster: %v\n", err)
		return 1
	}
	defer func() {
		fmt.Fprintln(os.Stderr, "devcluster: stopping the control plane")
		if err := c.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "devcluster: %v\n", err)
		}
	}()
	kubeconfig := c.KubeconfigPath
	if *kubeconfigOut != "" {
		if err := copyFile(c.KubeconfigPath, *kubeconfigOut); err != nil {
			fmt.Fprintf(os.Stderr, "devcluster: %v\n", err)
			return 1
		}
		defer os.Remove(*kubeconfigOut)
		kubeconfig, _ = filepath.Abs(*kubeconfigOut)
	}
	fmt.Fprintf(os.Stderr, "devcluster: control plane ready at %s\n\n    export KUBECONFIG=%s\n\n", c.Config.Host, kubeconfig)

	if args := fs.Args(); len(args) > 0 {
		return runCommand(ctx, kubeconfig, args)
	}
	fmt.Fprintln(os.Stderr, "devcluster: press Ctrl-C to stop")
	<-ctx.Done()
	return 0
}

// runCommand runs args with KUBECONFIG set, forwarding SIGINT/SIGTERM (a
// Ctrl-C in a terminal reaches both of us anyway) and returns its exit code.
func runCommand(ctx context.Context, kubeconfig string, args []string) int {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "devcluster: start %s: %v\n", args[0], err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return exitCode(err)
	case <-ctx.Done():
		_ = cmd.Process.Signal(syscall.SIGTERM)
		return exitCode(<-done)
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ee.ExitCode() < 0 { // killed by a signal we forwarded
			return 0
		}
		return ee.ExitCode()
	default:
		fmt.Fprintf(os.Stderr, "devcluster: %v\n", err)
		return 1
	}
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o600)
}
