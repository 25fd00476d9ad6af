"""The run child (ansible-runner in a fork) and its playbook, run in the pty child when the
run's Ansible settings are the image's."""

import importlib
import os
import signal
import sys

from .image import IMAGE, RUN_SETTINGS, settings_of, which
from .process import close_fds_from, fresh_process, fresh_stdio, reset_signals, run_main

# Starts the lines a run writes on its stderr when it runs ansible-playbook
# the ordinary way: the operator logs them.
FALLBACK_PREFIX = "ansible-operator warm executor: "

# The run child: ansible-runner in a fork.

def run_child(req):
    os.setsid()
    reset_signals()
    env = dict(kv.split("=", 1) for kv in req["env"])
    os.chdir(req["cwd"])
    fresh_process(env, req["argv"][0], os.path.dirname(req["argv"][0]))
    sys.argv = list(req["argv"])
    fresh_stdio()

    import pexpect
    import ansible_runner.__main__ as runner_main
    importlib.reload(runner_main)  # its default ident is drawn at import
    pexpect.spawn = _warm_spawn(pexpect.spawn)
    run_main(lambda: sys.exit(runner_main.main(sys.argv[1:])))


def _note(msg):
    """Tell the operator why a run went cold: a line on the run's stderr."""
    try:
        sys.stderr.write(FALLBACK_PREFIX + msg + "\n")
        sys.stderr.flush()
    except Exception:
        pass


def _warm_spawn(spawn):
    def warm(command, args=[], **kw):
        plan = _plan_playbook(command, list(args), kw.get("cwd"), kw.get("env"))
        if plan is not None:
            kw["preexec_fn"] = plan
        return spawn(command, args, **kw)
    return warm


def _plan_playbook(command, args, cwd, env):
    """The preexec function that runs the playbook in the pty child, or None
    to exec it: decided here, in the run child, under the run's settings."""
    if env is None or cwd is None:
        _note("ansible-playbook started without an explicit environment: ran cold")
        return None
    path = which(command, env.get("PATH", ""))
    if path is None or path != IMAGE.playbook_path:
        _note("%s is not the ansible-playbook the image imported (%s): ran cold" % (command, IMAGE.playbook_path))
        return None
    for k, v in IMAGE.interp_env.items():
        if env.get(k) != v:
            _note("the run sets %s differently from the image: ran cold" % k)
            return None
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    try:
        os.environ.clear()
        os.environ.update(env)
        os.chdir(cwd)
        import ansible.constants as C
        importlib.reload(C)
        now = settings_of(C)
    except Exception as exc:
        _note("Ansible's configuration did not load in the image (%s): ran cold" % exc)
        return None
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
    differ = sorted(k for k in set(now) | set(IMAGE.settings)
                    if k not in RUN_SETTINGS and now.get(k) != IMAGE.settings.get(k))
    if differ:
        _note("the run's Ansible settings %s differ from the image's: ran cold" % ", ".join(differ[:5]))
        return None
    if now.get("DEFAULT_LOG_PATH"):
        _note("DEFAULT_LOG_PATH is set: ran cold")
        return None

    argv = [path] + args

    def run_playbook():
        # In the pty child, after ptyprocess's chdir: from here on this is
        # ansible-playbook. The pipe ptyprocess watches for an exec error
        # is the only fd above 2; closing it tells the parent that the
        # "exec" succeeded.
        close_fds_from(3)
        reset_signals()
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # pexpect's ignore_sighup
        fresh_process(env, argv[0], os.path.dirname(argv[0]))
        sys.argv = list(argv)
        fresh_stdio()
        import ansible.utils.color
        importlib.reload(ansible.utils.color)  # stdout is a terminal now
        import ansible.utils.vars
        importlib.reload(ansible.utils.vars)  # ids unique to this process
        poll_interval()
        from ansible.cli.playbook import main
        run_main(lambda: main(list(argv)))
    return run_playbook


# The interval at which the playbook process polls its workers' results when
# ansible.cfg does not set internal_poll_interval. Ansible's default, 1 ms,
# costs the playbook process a fifth of a reconcile's CPU in polls; its own
# documentation advises higher values for automation. A result waits at most
# this long longer to be noticed.
POLL_INTERVAL = 0.005


def poll_interval():
    import ansible.constants as C
    _, origin = C.config.get_config_value_and_origin("DEFAULT_INTERNAL_POLL_INTERVAL")
    if origin == "default":
        C.DEFAULT_INTERNAL_POLL_INTERVAL = POLL_INTERVAL
