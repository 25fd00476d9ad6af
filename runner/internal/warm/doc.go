// Package warm starts ansible-runner processes as forks of a warm Python
// process instead of new interpreters.
//
// The server (py/server.py and its package py/ansible_operator_warm,
// embedded and written to Options.Dir) imports ansible-runner, Ansible's
// playbook executor and the kubernetes client once; each run is a fork of
// it that becomes `ansible-runner <argv>` with the run's environment,
// working dir and fds, in a session of its own. Inside that fork
// ansible-runner's own code runs unchanged and writes the artifacts; when
// it starts ansible-playbook, the playbook runs in the forked pty child
// when Ansible's settings under the run's environment are those the image
// imported, and is exec'd otherwise (the reason is written to the run's
// stderr with the prefix "ansible-operator warm executor: "). Python
// modules of tasks on the local connection run in forks of the worker
// instead of `/bin/sh -c 'python3 AnsiballZ_x.py'`; anything else runs the
// ordinary way.
//
// The runner package uses an Executor when the warm executor is selected;
// a run the Executor cannot start (ErrUnavailable) starts ansible-runner
// the ordinary way.
//
// # Wire format
//
// The socket is a SOCK_SEQPACKET pair; the server's end is its fd 3. Each
// message is one JSON object. The server first sends
// {"ready": 1, "pid": ..., "load_cpu": ...}. A run is
// {"id": n, "argv": [...], "env": ["K=v", ...], "cwd": dir} with the run's
// stdin, stdout and stderr as SCM_RIGHTS fds; the server answers
// {"id": n, "pid": p} once it forked (or {"id": n, "error": "..."}) and
// {"id": n, "status": s}, s a wait(2) status, once the fork ended. When the
// socket closes, the server kills the processes it forked and exits.
package warm
