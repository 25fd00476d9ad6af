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

// treeUsage sums a process tree: CPU ticks (including waited-for children),
// resident pages, and the number of direct children of the root.
type treeUsage struct {
	CPUTicks     uint64
	RSSPages     int64
	RootRSSPages int64
	Procs        int
	RootChild    int
}

func usageOf(tree []procfs.Stat) treeUsage {
	var u treeUsage
	if len(tree) > 0 {
		u.RootRSSPages = tree[0].RSSPages
	}
	for _, p := range tree {
		u.CPUTicks += p.CPUTicks()
		u.RSSPages += p.RSSPages
		u.Procs++
		if p.PPID == tree[0].PID {
			u.RootChild++
		}
	}
	return u
}

// readTree reads the usage of pid's process tree.
func readTree(procRoot string, pid int) (treeUsage, error) {
	all, err := procfs.ReadAll(procRoot)
	if err != nil {
		return treeUsage{}, err
	}
	tree := processTree(all, pid)
	if tree == nil {
		return treeUsage{}, fmt.Errorf("process %d not found in %s (did the operator exit?)", pid, procRoot)
	}
	return usageOf(tree), nil
}
