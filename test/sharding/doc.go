// Package sharding holds the acceptance tests of --sharding: several
// ansible-operator processes on one machine share one watch's Mcrouters
// against the local control plane of internal/devcluster, with the real
// Mcrouter role run by real Ansible (the warm executor).
//
// A test playbook (testdata/record.yml) wraps the role between two writes of
// a ConfigMap per run that names the replica and the run's start and end:
// from these records the tests count each Mcrouter's runs and prove that no
// two runs of one Mcrouter overlapped; a sampler of the replicas' runner
// directories checks the same from the processes. The scenarios follow one
// another over the same 60 Mcrouters: three replicas share them, a fourth
// joins, one is killed, the rest are restarted one by one.
package sharding
