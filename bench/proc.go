package main

import (
	"fmt"

	"github.com/mcrouter-operator/mcrouter-operator/internal/procfs"
)

// processTree returns root and its live descendants from all, root first;
// nil when root is not among them.
func processTree(all []procfs.Stat, root int) []procfs.Stat {
	children := map[int][]procfs.Stat{}
	var top *procfs.Stat
	for i := range all {
		if all[i].PID == root {
			top = &all[i]
		}
		children[all[i].PPID] = append(children[all[i].PPID], all[i])
	}
	if top == nil {
		return nil
	}
	tree := []procfs.Stat{*top}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, children[tree[i].PID]...)
	}
	return tree
}

// treeUsage sums an operator's process tree: CPU ticks (including
// waited-for children), resident pages of the whole tree, of the operator
// and of its warm servers, and the runs in flight.
type treeUsage struct {
	CPUTicks       uint64
	RSSPages       int64
	RootRSSPages   int64
	ServerRSSPages int64
	Procs          int
	Runs           int
	parts          treeParts
}

// usageOf sums tree (root first); isServer tells which of the root's
// children are warm servers.
func usageOf(tree []procfs.Stat, isServer func(pid int) bool) treeUsage {
	var u treeUsage
	if len(tree) == 0 {
		return u
	}
	u.parts = splitTree(tree, isServer)
	u.Runs = u.parts.Runs
	u.RootRSSPages = tree[0].RSSPages
	for _, p := range tree {
		u.CPUTicks += p.CPUTicks()
		u.RSSPages += p.RSSPages
		u.Procs++
		for _, s := range u.parts.Servers {
			if p.PID == s {
				u.ServerRSSPages += p.RSSPages
			}
		}
	}
	return u
}

// readTree reads the usage of pid's process tree.
func readTree(procRoot string, pid int, isServer func(pid int) bool) (treeUsage, error) {
	all, err := procfs.ReadAll(procRoot)
	if err != nil {
		return treeUsage{}, err
	}
	tree := processTree(all, pid)
	if tree == nil {
		return treeUsage{}, fmt.Errorf("process %d not found in %s (did the operator exit?)", pid, procRoot)
	}
	return usageOf(tree, isServer), nil
}
