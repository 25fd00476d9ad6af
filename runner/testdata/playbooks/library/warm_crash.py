#!/usr/bin/python3
"""Test-only module: ends its process as `how` says, before any result:
"segv" kills itself with SIGSEGV, "exit3" calls sys.exit(3). Its only
output names the program of its parent: a shell when it was exec'd, python
when the warm executor forked it."""
import os
import signal
import sys

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(how=dict(type="str", required=True, choices=["segv", "exit3"])))
    print("parent " + os.path.basename(os.readlink("/proc/%d/exe" % os.getppid())))
    sys.stdout.flush()
    if module.params["how"] == "segv":
        signal.signal(signal.SIGSEGV, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGSEGV)
    sys.exit(3)


if __name__ == "__main__":
    main()
