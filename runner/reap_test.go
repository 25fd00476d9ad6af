package runner

import (
	"context"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
	"github.com/mcrouter-operator/mcrouter-operator/internal/procfs"
)

// groupMembers lists the live processes of process group pgid.
func groupMembers(pgid int) []int {
	all, _ := procfs.ReadAll(procfs.Root)
	var out []int
	for _, p := range all {
		if p.PGRP == pgid && !p.Zombie() {
			out = append(out, p.PID)
		}
	}
	return out
}

// A process tree naming the runner root whose parent is not an operator (as
// after the operator was SIGKILLed) is killed, children included; processes
// that do not name the root are left alone.
func TestReapOrphans(t *testing.T) {
	root := t.TempDir()
	orphan := exec.Command("/bin/sh", "-c", "sleep 300 & wait", filepath.Join(root, "g", "v", "k", "ns", "name"))
	orphan.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	bystander := exec.Command("/bin/sh", "-c", "sleep 300 & wait", filepath.Join(t.TempDir(), "elsewhere"))
	bystander.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	for _, c := range []*exec.Cmd{orphan, bystander} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-bystander.Process.Pid, syscall.SIGKILL)
		_ = bystander.Wait()
	})
	waitDone := make(chan error, 1)
	go func() { waitDone <- orphan.Wait() }()
	// The tree must have its child before it is reaped.
	optest.Await(t, "the orphaned shell's child", func(context.Context) (bool, error) {
		return len(groupMembers(orphan.Process.Pid)) > 1, nil
	})

	if n := reapOrphans(root); n != 1 {
		t.Fatalf("reapOrphans killed %d trees, want 1", n)
	}
	optest.Await(t, "the orphaned tree to end", func(context.Context) (bool, error) {
		select {
		case <-waitDone:
			return true, nil
		default:
			return false, nil
		}
	})
	if alive := liveGroups([]int{orphan.Process.Pid}); len(alive) > 0 {
		t.Errorf("processes left in the orphan's group %v", alive)
	}
	if alive := liveGroups([]int{bystander.Process.Pid}); len(alive) == 0 {
		t.Errorf("a process outside the runner root was killed")
	}
}
