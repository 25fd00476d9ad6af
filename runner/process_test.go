package runner

import (
	"bufio"
	"context"
	"os/exec"
	"testing"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

func TestTreeKillerReachesOtherSessions(t *testing.T) {
	// The shell leads its own group, like ansible-runner; its first child
	// starts a new session, like ansible-playbook under a pseudo-terminal.
	cmd := exec.Command("/bin/sh", "-c", "setsid sleep 300 & echo started; exec sleep 300")
	cmd.SysProcAttr = newProcessGroup()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	var groups []int
	optest.Await(t, "the setsid child to leave the shell's process group", func(context.Context) (bool, error) {
		for _, g := range descendantGroups(cmd.Process.Pid) { // setsid may not have run yet
			if g != cmd.Process.Pid {
				groups = append(groups, g)
			}
		}
		return len(groups) > 0, nil
	})
	k := &treeKiller{}
	if err := k.kill(cmd.Process.Pid); err != nil {
		t.Fatalf("kill: %v", err)
	}
	_ = cmd.Wait()
	if alive := k.waitGone(); len(alive) != 0 {
		t.Errorf("process groups %v still alive after kill", alive)
	}
	if alive := liveGroups(groups); len(alive) != 0 {
		t.Errorf("the new session's group %v is still alive after kill", alive)
	}
}

func TestTreeKillerNeverSignalsOwnGroupOrInit(t *testing.T) {
	k := &treeKiller{}
	for _, pid := range []int{0, 1} {
		if err := k.kill(pid); err != nil || len(k.killed) != 0 {
			t.Errorf("kill(%d) = %v, killed %v; want a no-op", pid, err, k.killed)
		}
	}
}
