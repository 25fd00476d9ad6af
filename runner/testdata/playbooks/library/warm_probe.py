#!/usr/bin/python3
"""Test-only module: reports the process state it starts with, then spoils
that state (environment, cwd, umask, a module_utils global, an open fd, a
signal disposition, a file in its temp dir, the random generator), so that a
later module or run that sees any of it proves a leak. It also leaves a file
in TMPDIR that an exit handler removes, as a process that exits would.

Parameters: prev, the result of an earlier probe, whose temp dir and exit
file must be gone.
"""
import atexit
import os
import random
import signal
import sys
import tempfile

import ansible.module_utils.basic as basic
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.warm_counter import bump

LEAK_ENV = "WARM_PROBE_LEAK"
LEAK_FD = 97


def open_fds():
    """fd number → what it is: pipe, socket, anon_inode, /dev/null or file."""
    out = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink("/proc/self/fd/" + name)
        except OSError:
            continue  # the listing's own fd, closed by now
        if target.startswith("/") and target != os.devnull:
            target = "file"
        out[name] = target.split(":")[0]
    return out


def signal_masks():
    masks = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("SigBlk", "SigIgn"):
                masks[key] = value.strip()
    return masks


def observe(prev):
    umask = os.umask(0o022)
    os.umask(umask)
    tmpdir = (prev or {}).get("tmpdir")
    exit_file = (prev or {}).get("exit_file")
    return dict(
        leaked_env=os.environ.get(LEAK_ENV),
        leaked_attr=getattr(basic, "_warm_probe_leak", None),
        cwd=os.getcwd(),
        umask="%04o" % umask,
        counter=bump(),
        fds=open_fds(),
        signals=signal_masks(),
        usr1=str(signal.getsignal(signal.SIGUSR1)),
        prev_tmpdir_exists=bool(tmpdir) and os.path.exists(tmpdir),
        prev_exit_file_exists=bool(exit_file) and os.path.exists(exit_file),
        random=str(random.getrandbits(64)),
        env=dict(os.environ),
        argv0=os.path.basename(sys.argv[0]),
        stdout_encoding=sys.stdout.encoding,
        # A shell when the module was exec'd, python when it was forked.
        parent=os.path.basename(os.readlink("/proc/%d/exe" % os.getppid())),
    )


def spoil(tmpdir):
    os.environ[LEAK_ENV] = "leaked"
    basic._warm_probe_leak = "leaked"
    os.chdir("/")
    os.umask(0o077)
    os.dup2(os.open(os.devnull, os.O_RDONLY), LEAK_FD)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    with open(os.path.join(tmpdir, "leftover"), "w") as f:
        f.write("leaked")
    random.seed(0)
    fd, exit_file = tempfile.mkstemp(prefix="warm-probe-")
    os.close(fd)
    atexit.register(os.remove, exit_file)
    return exit_file


def main():
    module = AnsibleModule(argument_spec=dict(prev=dict(type="dict")))
    seen = observe(module.params["prev"])
    tmpdir = module.tmpdir
    exit_file = spoil(tmpdir)
    module.exit_json(changed=False, tmpdir=tmpdir, exit_file=exit_file, **seen)


if __name__ == "__main__":
    main()
