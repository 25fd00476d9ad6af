package runner

import (
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

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
	time.Sleep(200 * time.Millisecond) // let sh start its child

	if n := reapOrphans(root); n != 1 {
		t.Fatalf("reapOrphans killed %d trees, want 1", n)
	}
	select {
	case <-waitDone:
	case <-time.After(5 * time.Second):
		t.Fatal("the orphaned tree is still running")
	}
	if alive := liveGroups([]int{orphan.Process.Pid}); len(alive) > 0 {
		t.Errorf("processes left in the orphan's group %v", alive)
	}
	if alive := liveGroups([]int{bystander.Process.Pid}); len(alive) == 0 {
		t.Errorf("a process outside the runner root was killed")
	}
}
