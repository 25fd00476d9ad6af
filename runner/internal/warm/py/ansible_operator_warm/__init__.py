"""The warm executor of ansible-operator (see doc.go in runner/internal/warm).

A long-lived python3 that has imported ansible-runner, Ansible's playbook
executor and the kubernetes client once. For each run the operator sends a
request over the socket on fd 3 (JSON, with the run's stdin, stdout and
stderr as SCM_RIGHTS fds); the server forks a child that becomes
`ansible-runner <argv>` exactly as if it had been exec'd, in a session of
its own, and reports the child's pid and, later, its wait status.

Inside the child, ansible-runner's own code writes the artifacts and
prints the events. When it starts ansible-playbook (pexpect.spawn on a
pseudo-terminal), the playbook runs in the forked pty child instead of a
new interpreter, provided that Ansible's configuration under the run's
environment and working dir resolves to what the image imported (else it
is exec'd as usual). Inside the playbook, a module of a task on the local
connection that is a Python AnsiballZ payload for this interpreter runs in
a fork of the worker instead of `/bin/sh -c 'python3 AnsiballZ_x.py'`;
anything else (become, async, other interpreters, pipelining through
other shells) runs the ordinary way.

Nothing here is a contract for roles: what a role sees is what a fresh
ansible-runner would give it."""
