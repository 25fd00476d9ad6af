// Command bench is the performance benchmark of the ansible-operator runtime
// with the Mcrouter operator (`make bench`, or `go run ./bench [flags]`).
//
// It starts its own local control plane (internal/devcluster) with the CRDs
// of deploy/crds, runs the built operator with the repository's watches.yaml
// and roles/mcrouter, and measures, with each executor of Ansible runs
// (--ansible-executor runner and warm) where the figure concerns runs:
//
//   - the bare role time: ansible-playbook of playbook.yml (roles/mcrouter
//     with the extra vars the operator would pass) against the same control
//     plane, the floor of one reconcile;
//   - the warm server's start: from the operator's start until it is ready,
//     its CPU time and memory;
//   - cold first CR → Successful, spec change → Successful with the new
//     observedGeneration, and dependent deleted → restored latencies;
//   - bursts of N CRs created at once → all Successful: wall time against the
//     floor, Ansible runs and skipped reconciles per CR, the CPU time of the
//     operator's process tree per run against the bare run's, the PSS and RSS
//     of the runs' processes per run in flight, API requests per run and per
//     CR, the operator's RSS and the peak RSS of its process tree;
//   - once, on the first executor: an operator restart over unchanged CRs:
//     the Ansible runs of the new operator (the same runner directory), its
//     time to settle, and whether it still restores a deleted Service; and
//     the idle cost of CRs resynced every 30s: CPU seconds of the operator's
//     process tree over a window, against running Ansible every period;
//   - once, on the warm executor when it is measured: the operator's memory
//     (RSS, and the Go heap in use after a garbage collection) with no CR,
//     then at 100 and 1,000 Successful Mcrouters, and per CR.
//
// It prints a table with the executors side by side and the targets of each
// figure (met or missed) and writes the same as JSON to
// bench/results/<UTC date>-<N>cpu.json. README.md explains each
// figure. Everything it starts is stopped on return and on SIGINT/SIGTERM.
package main
