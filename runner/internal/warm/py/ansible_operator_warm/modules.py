"""Modules in a fork of the worker."""

import atexit
import io
import os
import selectors
import shlex
import signal
import sys
import tempfile

from .image import which
from .prime import compiled_payloads
from .process import close_fds_from, fresh_process, fresh_stdio, reset_signals, run_main

# Modules in a fork of the worker.

def warm_exec_command(exec_command, image):
    def warm(self, cmd, in_data=None, sudoable=True):
        plan = _plan_module(cmd, in_data, image, self.cwd)
        if plan is None:
            return exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        # What the connection's own exec_command does before it runs a
        # command: the base checks, and its -vvv line.
        from ansible.module_utils.common.text.converters import to_text
        from ansible.plugins.connection import ConnectionBase
        from ansible.utils.display import Display
        ConnectionBase.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        Display().vvv("EXEC {0}".format(to_text(cmd)), host=self._play_context.remote_addr)
        return _run_module(plan, in_data)
    warm.__wrapped__ = exec_command
    return warm


def _plan_module(cmd, in_data, image, cwd):
    """(env assignments, script path or None for stdin, source, zip, cwd)
    when cmd is exactly `/bin/sh -c '[VAR=value ...] <this python>
    [AnsiballZ_x.py] && sleep 0'`, /bin/sh is dash and the module can run on
    the image. cwd is where the connection would run cmd (the task's dir)."""
    import ansible.constants as C
    if not isinstance(cmd, str) or os.environ.get("ANSIBLE_OPERATOR_WARM_MODULES") == "0":
        return None
    try:
        outer = shlex.split(cmd)
    except ValueError:
        return None
    shell = (C.DEFAULT_EXECUTABLE or "/bin/sh").split()[0]
    # dash adds nothing to the module's environment but PWD (bash adds
    # SHLVL and _): _module_env gives what dash gives.
    if len(outer) != 3 or outer[0] != shell or outer[1] != "-c" or \
            os.path.basename(os.path.realpath(shell)) != "dash":
        return None
    if cwd is not None and not os.path.isdir(cwd):
        return None  # the connection's Popen fails there, as it should
    try:
        words = shlex.split(outer[2])
    except ValueError:
        return None
    if len(words) < 4 or words[-3:] != ["&&", "sleep", "0"]:
        return None
    words = words[:-3]
    assigns = {}
    while words and "=" in words[0] and words[0].split("=", 1)[0].isidentifier():
        k, v = words.pop(0).split("=", 1)
        assigns[k] = v
    if not words or os.path.realpath(which(words[0], os.environ.get("PATH", "")) or "") != image.python:
        return None
    words = words[1:]
    if len(words) == 0 and in_data is not None:
        script, source = None, in_data
    elif len(words) == 1 and in_data is None and os.path.basename(words[0]).startswith("AnsiballZ_") \
            and words[0].endswith(".py") and os.path.isfile(words[0]):
        script = words[0]
        try:
            with open(script, "rb") as f:
                source = f.read()
        except OSError:
            return None
    else:
        return None
    payload = _payload(source)
    if payload is None:
        return None
    return assigns, script, source, payload, cwd


def _payload(source):
    """The module's zip, when every file of it under ansible/ that the image
    imported is the file the image imported it from: then a module that
    imports them from the image runs what it would run from the zip. None
    when a file differs (a role's module_utils shadowing Ansible's) or the
    source is not an AnsiballZ wrapper of this Ansible."""
    import base64
    import re
    import zipfile
    if isinstance(source, str):
        source = source.encode()
    m = re.search(rb'\n[ \t]*ZIPDATA = """([A-Za-z0-9+/=\s]*)"""', source)
    if m is None:
        return None
    try:
        data = base64.b64decode(m.group(1))
        zf = zipfile.ZipFile(io.BytesIO(data))
        names = zf.namelist()
    except Exception:
        return None
    import ansible
    root = os.path.dirname(os.path.dirname(ansible.__file__))
    for name in names:
        if not (name.startswith("ansible/") and name.endswith(".py")) or name in STUB_INITS:
            continue
        mod = name[:-3].replace("/", ".")
        if mod.endswith(".__init__"):
            mod = mod[: -len(".__init__")]
        if mod not in sys.modules:
            continue
        try:
            with open(os.path.join(root, name), "rb") as f:
                same = f.read() == zf.read(name)
        except OSError:
            same = False
        if not same:
            return None
    return data


# The packages AnsiballZ writes as pkgutil.extend_path stubs: their
# __path__ starts with the zip's dir, then the system's, as here.
STUB_INITS = ("ansible/__init__.py", "ansible/module_utils/__init__.py")


def _run_module(plan, in_data):
    assigns, script, source, payload, cwd = plan
    # A python3 reading its program from stdin reads it all: the module
    # finds stdin at its end.
    in_data = b"" if script is None else None
    r_in, w_in = os.pipe()
    r_out, w_out = os.pipe()
    r_err, w_err = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(r_in, 0)
            os.dup2(w_out, 1)
            os.dup2(w_err, 2)
            close_fds_from(3)
            reset_signals()
            _module_child(_module_env(cwd, assigns), script, source, payload)
        finally:
            os._exit(1)
    for fd in (r_in, w_out, w_err):
        os.close(fd)
    return _collect(pid, w_in, in_data, r_out, r_err)


def _module_env(cwd, assigns):
    """Go to cwd and return the environment the module would get from
    `/bin/sh -c` run there: the worker's, with PWD as dash exports it (the
    inherited one when it names the dir, else the physical path), then the
    command's assignments."""
    if cwd is not None:
        os.chdir(cwd)
    env = dict(os.environ)
    pwd = env.get("PWD", "")
    try:
        same = os.path.isabs(pwd) and os.path.samefile(pwd, ".")
    except OSError:
        same = False
    if not same:
        env["PWD"] = os.getcwd()
    env.update(assigns)
    return env


def _module_child(env, script, source, payload):
    import locale
    argv0 = script or ""
    fresh_process(env, argv0, os.path.dirname(script) if script else "")
    fresh_stdio()
    try:
        locale.setlocale(locale.LC_ALL, "")
    except locale.Error:
        pass
    # The controller's collection loader must not serve the module: it
    # imports its collections from its own payload, like a new python3.
    sys.meta_path[:] = [f for f in sys.meta_path if "AnsibleCollection" not in type(f).__name__]
    sys.path_hooks[:] = [h for h in sys.path_hooks if "AnsibleCollection" not in getattr(h, "__qualname__", repr(h))]
    sys.path_importer_cache.clear()
    for name in [n for n in sys.modules if n == "ansible_collections" or n.startswith("ansible_collections.")]:
        del sys.modules[name]
    import logging
    logging.root.handlers[:] = []
    _payload_first(payload)
    compiled_payloads()
    import runpy
    if script is not None:
        run_main(lambda: runpy.run_path(script, run_name="__main__"))
    import types
    main = types.ModuleType("__main__")
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main
    run_main(lambda: exec(compile(source, "<stdin>", "exec"), main.__dict__))


def _payload_first(payload):
    """Put a copy of the module's zip in front of the path of every package
    under ansible that the image imported, as the zip is first on a new
    python3's sys.path: what the image lacks (a role's own module, its
    module_utils) comes from the zip."""
    fd, path = tempfile.mkstemp(prefix="ansible-operator-warm-", suffix=".zip")
    with os.fdopen(fd, "wb") as f:
        f.write(payload)
    atexit.register(os.unlink, path)
    import zipfile
    dirs = {os.path.dirname(n) for n in zipfile.ZipFile(path).namelist()}
    for name, mod in list(sys.modules.items()):
        if not (name == "ansible" or name.startswith("ansible.")) or getattr(mod, "__path__", None) is None:
            continue
        sub = name.replace(".", "/")
        if sub in dirs:
            mod.__path__ = [os.path.join(path, sub)] + [p for p in mod.__path__]


def _collect(pid, w_in, in_data, r_out, r_err):
    sel = selectors.DefaultSelector()
    out, err = [], []
    pending = memoryview(in_data if isinstance(in_data, bytes) else (in_data or b"").encode()) \
        if in_data is not None else None
    if pending is not None and len(pending):
        os.set_blocking(w_in, False)
        sel.register(w_in, selectors.EVENT_WRITE)
    else:
        os.close(w_in)
        w_in = None
    sel.register(r_out, selectors.EVENT_READ, out)
    sel.register(r_err, selectors.EVENT_READ, err)
    open_readers = 2
    while open_readers:
        for key, _ in sel.select():
            if key.fd == w_in:
                try:
                    n = os.write(w_in, pending[:65536])
                except BrokenPipeError:
                    n = len(pending)
                pending = pending[n:]
                if not len(pending):
                    sel.unregister(w_in)
                    os.close(w_in)
                    w_in = None
                continue
            chunk = os.read(key.fd, 65536)
            if chunk:
                key.data.append(chunk)
            else:
                sel.unregister(key.fd)
                os.close(key.fd)
                open_readers -= 1
    if w_in is not None:
        sel.unregister(w_in)
        os.close(w_in)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        # As dash reports it: the exit status, and the signal on stderr.
        sig = os.WTERMSIG(status)
        rc = 128 + sig
        if sig not in (signal.SIGINT, signal.SIGPIPE):
            why = signal.strsignal(sig) or "Signal %d" % sig
            err.append((why + (" (core dumped)" if os.WCOREDUMP(status) else "") + "\n").encode())
    else:
        rc = os.WEXITSTATUS(status)
    return rc, b"".join(out), b"".join(err)
