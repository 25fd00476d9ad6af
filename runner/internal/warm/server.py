# The warm executor of ansible-operator (see doc.go beside this file).
#
# A long-lived python3 that has imported ansible-runner, Ansible's playbook
# executor and the kubernetes client once. For each run the operator sends a
# request over the socket on fd 3 (JSON, with the run's stdin, stdout and
# stderr as SCM_RIGHTS fds); the server forks a child that becomes
# `ansible-runner <argv>` exactly as if it had been exec'd, in a session of
# its own, and reports the child's pid and, later, its wait status.
#
# Inside the child, ansible-runner's own code writes the artifacts and
# prints the events. When it starts ansible-playbook (pexpect.spawn on a
# pseudo-terminal), the playbook runs in the forked pty child instead of a
# new interpreter, provided that Ansible's configuration under the run's
# environment and working dir resolves to what the image imported (else it
# is exec'd as usual). Inside the playbook, a module of a task on the local
# connection that is a Python AnsiballZ payload for this interpreter runs in
# a fork of the worker instead of `/bin/sh -c 'python3 AnsiballZ_x.py'`;
# anything else (become, async, other interpreters, pipelining through
# other shells) runs the ordinary way.
#
# Nothing here is a contract for roles: what a role sees is what a fresh
# ansible-runner would give it.

import array
import atexit
import contextlib
import copy
import importlib
import io
import json
import os
import selectors
import shlex
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback
import warnings

PROTOCOL = 1
MAX_MSG = 1 << 20
FALLBACK_PREFIX = "ansible-operator warm executor: "

# Settings that may differ between the image and a run: Ansible reads them
# where it uses them, never at import. Any other difference runs the
# playbook cold.
RUN_SETTINGS = frozenset((
    "DEFAULT_LOCAL_TMP",        # ANSIBLE_LOCAL_TEMP, per run
    "CACHE_PLUGIN_CONNECTION",  # ansible-runner's fact cache, per job
    "DEFAULT_ROLES_PATH",       # the watch's role dir
    "CONFIG_FILE",              # compared by the values it sets
))

# Environment the interpreter itself reads at start: a run that differs in
# any of them cannot use an interpreter that started without them.
INTERPRETER_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONHASHSEED", "PYTHONIOENCODING", "PYTHONSAFEPATH",
                   "PYTHONNOUSERSITE", "PYTHONUSERBASE", "PYTHONWARNINGS", "PYTHONUTF8", "PYTHONDEVMODE",
                   "PYTHONOPTIMIZE", "PYTHONPLATLIBDIR", "PYTHONINSPECT", "PYTHONVERBOSE",
                   "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "LANG", "LC_ALL", "LC_CTYPE", "LANGUAGE")


class Image:
    """What the warm image imported and under which settings."""

    def __init__(self):
        self.base_path = list(sys.path)
        self.warning_filters = list(warnings.filters)
        self.interp_env = {k: os.environ.get(k) for k in INTERPRETER_ENV}
        self.settings = None
        self.playbook_path = None
        self.python = os.path.realpath(sys.executable)
        self.runs = 0
        self.payload_code = {}

    def load(self):
        started = time.process_time()
        import ansible_runner.__main__  # noqa: F401
        import ansible_runner.runner  # noqa: F401
        import pexpect  # noqa: F401
        from ansible.config import manager
        _memoize_definitions(manager.ConfigManager)
        with _run_environment():
            import ansible.constants as C
            self.settings = _settings(C)
            self.playbook_path = _which("ansible-playbook", os.environ.get("PATH", ""))
            collection_roots = _collection_roots(C)
            _prime_plugin_docs()
        import ansible.cli.playbook  # noqa: F401
        import ansible.executor.playbook_executor  # noqa: F401
        import ansible.executor.task_queue_manager  # noqa: F401
        import ansible.executor.process.worker  # noqa: F401
        import ansible.executor.module_common  # noqa: F401
        import ansible.plugins.strategy.linear  # noqa: F401
        import ansible.plugins.action.normal  # noqa: F401
        import ansible.plugins.action.command  # noqa: F401
        import ansible.plugins.connection.local as local
        import ansible.plugins.shell.sh  # noqa: F401
        import ansible.plugins.callback.default  # noqa: F401
        import ansible.template  # noqa: F401
        import ansible.module_utils.basic  # noqa: F401
        try:
            import kubernetes.client  # noqa: F401
            import kubernetes.dynamic  # noqa: F401
            import kubernetes.config  # noqa: F401
            import urllib3  # noqa: F401
            import yaml  # noqa: F401
        except ImportError:
            pass  # modules that need it will say so, as without the warm image
        local.Connection.exec_command = _warm_exec_command(local.Connection.exec_command, self)
        _prime_module_syntax(collection_roots)
        _cache_template_code(os.path.join(os.getcwd(), TEMPLATE_CACHE))
        return time.process_time() - started


@contextlib.contextmanager
def _run_environment():
    """The environment and working dir ansible-runner gives ansible-playbook,
    as its own RunnerConfig computes them for a scratch private data dir,
    without the values of one job (its artifact dir). Ansible's settings
    are resolved at import: under this environment they are those of a run."""
    from ansible_runner.config.runner import RunnerConfig
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    scratch = tempfile.mkdtemp(prefix="warm-image-")
    try:
        os.makedirs(os.path.join(scratch, "project"))
        rc = RunnerConfig(private_data_dir=scratch, playbook="main.yml", quiet=True)
        rc.prepare()
        env = {k: v for k, v in rc.env.items() if k not in ("AWX_ISOLATED_DATA_DIR", "ANSIBLE_CACHE_PLUGIN_CONNECTION")}
        os.environ.clear()
        os.environ.update(env)
        os.chdir(rc.cwd)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
        shutil.rmtree(scratch, ignore_errors=True)


# Collections on Python's path (the Debian ansible package's) whose modules an
# operator's roles run: their syntax trees are primed too.
SYSTEM_COLLECTIONS = ("kubernetes/core", "cloud/common")
MAX_PRIMED_FILES = 2000
MAX_PRIMED_BYTES = 1 << 20


def _collection_roots(C):
    """Plugin dirs of the collections a run finds on COLLECTIONS_PATHS, and
    of SYSTEM_COLLECTIONS on Python's path."""
    roots = []
    for base in C.COLLECTIONS_PATHS or []:
        roots.extend(sorted(_glob(os.path.join(base, "ansible_collections", "*", "*", "plugins"))))
    for entry in sys.path:
        for name in SYSTEM_COLLECTIONS:
            p = os.path.join(entry or ".", "ansible_collections", name, "plugins")
            if os.path.isdir(p):
                roots.append(p)
    return roots


def _glob(pattern):
    import glob
    return glob.glob(pattern)


def _prime_module_syntax(collection_roots):
    """Ansible parses every module and module_util it bundles into a payload,
    in each worker, for each task: parse those the image can find once.
    Trees are keyed by the file's bytes, so an edited file is parsed anew."""
    import ast
    import builtins
    import ansible
    import ansible.executor.module_common as module_common
    roots = [os.path.join(os.path.dirname(ansible.__file__), "module_utils")]
    roots += [os.path.join(r, d) for r in collection_roots for d in ("modules", "module_utils")]
    codes = {}    # collection file bytes → code, for modules importing their payload
    trees = {}    # file bytes → syntax tree
    finders = {}  # (id(tree), fqn, is package) → ModuleDepFinder, for primed trees only
    finder_class = module_common.ModuleDepFinder
    for root in roots:
        for dirpath, _, files in os.walk(root):
            for name in files:
                if not name.endswith(".py") or len(trees) >= MAX_PRIMED_FILES:
                    continue
                path = os.path.join(dirpath, name)
                try:
                    with open(path, "rb") as f:
                        data = f.read(MAX_PRIMED_BYTES + 1)
                    if len(data) > MAX_PRIMED_BYTES:
                        continue
                    tree = trees[data] = builtins.compile(data, "<unknown>", "exec", ast.PyCF_ONLY_AST)
                    if root not in roots[:1]:
                        codes[_normalized(data)] = builtins.compile(_normalized(data), "<warm>", "exec",
                                                                    dont_inherit=True)
                    fqn, is_pkg = _python_name(path)
                    if fqn:
                        finder = finder_class(fqn, tree, is_pkg)
                        finder._warm_primed = True
                        finders[(id(tree), fqn, is_pkg)] = finder
                except Exception:
                    continue  # Ansible reports it when a run bundles the file

    def compile(source, filename, mode, flags=0, *args, **kwargs):
        if flags == ast.PyCF_ONLY_AST and not args and not kwargs and isinstance(source, bytes):
            tree = trees.get(source)
            if tree is not None:
                return tree
        return builtins.compile(source, filename, mode, flags, *args, **kwargs)

    # recursive_finder only reads a finder's submodules and optional_imports:
    # a primed one is handed out as it is, and not walked again.
    init = finder_class.__init__

    def new(cls, module_fqn=None, tree=None, is_pkg_init=False, *args, **kwargs):
        found = None
        if cls is finder_class and not args and not kwargs:
            found = finders.get((id(tree), module_fqn, bool(is_pkg_init)))
        if found is not None and found._tree is tree:
            return found
        return object.__new__(cls)

    def init_once(self, *args, **kwargs):
        if not getattr(self, "_warm_primed", False):
            init(self, *args, **kwargs)
    module_common.compile = compile
    finder_class.__new__ = new
    finder_class.__init__ = init_once
    IMAGE.payload_code = codes


def _normalized(source):
    return source.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def _compiled_payloads():
    """Modules import their collection's module_utils from the payload zip,
    which Python compiles from source on every import: code compiled by the
    image from the same bytes is used instead, named after the zip's file."""
    import zipimport
    codes = IMAGE.payload_code
    compile_source = zipimport._compile_source

    def compile_cached(pathname, source):
        code = codes.get(_normalized(source)) if isinstance(source, bytes) else None
        if code is None:
            return compile_source(pathname, source)
        return _renamed(code, pathname)
    zipimport._compile_source = compile_cached


def _renamed(code, filename):
    consts = tuple(_renamed(c, filename) if isinstance(c, type(code)) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


# Kinds of Ansible's own plugins that every run lists and loads, each one's
# documentation parsed to learn its options (connection, shell and become
# plugins by the playbook executor, callbacks by the task queue manager).
PRIMED_PLUGIN_KINDS = ("connection", "shell", "become", "callback", "vars", "cache", "strategy")


def _prime_plugin_docs():
    """Import Ansible's own plugins of PRIMED_PLUGIN_KINDS and parse their
    documentation once; a run parses it again only for another text."""
    import ansible.plugins.loader as loader
    real = loader.AnsibleLoader
    base = os.path.dirname(loader.__file__)
    docs = {}
    for kind in PRIMED_PLUGIN_KINDS:
        for path in sorted(_glob(os.path.join(base, kind, "*.py"))):
            name = os.path.basename(path)[:-3]
            if name == "__init__":
                continue
            try:
                module = importlib.import_module("ansible.plugins.%s.%s" % (kind, name))
                doc = getattr(module, "DOCUMENTATION", "")
                if isinstance(doc, str) and doc:
                    docs[(doc, path)] = real(doc, file_name=path).get_single_data()
            except Exception:
                continue  # the run loads it itself, and reports what is wrong

    class AnsibleLoader:
        def __init__(self, stream, *args, **kwargs):
            self._stream, self._args, self._kwargs = stream, args, kwargs

        def get_single_data(self):
            key = (self._stream, self._kwargs.get("file_name"))
            if isinstance(self._stream, str) and not self._args and set(self._kwargs) <= {"file_name"} \
                    and key in docs:
                return copy.deepcopy(docs[key])
            return real(self._stream, *self._args, **self._kwargs).get_single_data()
    loader.AnsibleLoader = AnsibleLoader


def _python_name(path):
    """The dotted name Ansible gives a module or module_util file in a
    payload, and whether it is a package's __init__."""
    parts = os.path.normpath(path)[:-3].split(os.sep)
    for top in ("ansible_collections", "ansible"):
        if top in parts:
            parts = parts[len(parts) - 1 - parts[::-1].index(top):]
            break
    else:
        return None, False
    is_pkg = parts[-1] == "__init__"
    if is_pkg:
        parts = parts[:-1]
    return ".".join(parts), is_pkg


def _memoize_definitions(cls):
    """Parse Ansible's base.yml once: each reload of the config re-reads it."""
    read = cls._read_config_yaml_file
    cache = {}

    def cached(self, yml_file):
        if yml_file not in cache:
            cache[yml_file] = read(self, yml_file)
        return copy.deepcopy(cache[yml_file])
    cls._read_config_yaml_file = cached


def _settings(C):
    out = {}
    for name in C.config.get_configuration_definitions():
        out[name] = copy.deepcopy(getattr(C, name, None))
    return out


def _which(name, path):
    if "/" in name:
        return os.path.realpath(name) if os.access(name, os.X_OK) else None
    for d in path.split(os.pathsep):
        p = os.path.join(d or ".", name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return os.path.realpath(p)
    return None


# ---------------------------------------------------------------------------
# Fresh-process state, applied in every fork that stands for a new process.

def _reset_signals():
    """The dispositions a new python3 would start with: exec resets caught
    signals to the default and keeps ignored ones ignored (pexpect's
    SIGHUP, for one), then python3 sets its own."""
    for sig in range(1, signal.NSIG):
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            handler = signal.getsignal(sig)
        except ValueError:
            continue
        if handler in (None, signal.SIG_DFL, signal.SIG_IGN):
            continue
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    if signal.getsignal(signal.SIGINT) == signal.SIG_DFL:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_IGN)
    signal.set_wakeup_fd(-1)


_kept = []  # stream objects replaced in a fork: never finalized (they would flush)


def _fresh_stdio():
    enc = os.environ.get("PYTHONIOENCODING", "utf-8").split(":")[0] or "utf-8"
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))
    _kept.extend((sys.stdin, sys.stdout, sys.stderr))
    sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding=enc)
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding=enc,
                                  errors="strict", line_buffering=unbuffered, write_through=unbuffered)
    sys.stderr = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)), encoding=enc,
                                  errors="backslashreplace", line_buffering=True)


def _close_fds_from(low):
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd >= low:
            try:
                os.close(fd)
            except OSError:
                pass


def _fresh_process(env, argv0, script_dir):
    """State a new interpreter would have: environment, argv, path, temp dir,
    warnings, exit handlers. Signals and fds are the caller's."""
    os.environ.clear()
    os.environ.update(env)
    tempfile.tempdir = None  # re-read TMPDIR: it is the run's
    sys.argv = [argv0]
    sys.path[:] = [script_dir] + IMAGE.base_path[1:]
    warnings.filters[:] = IMAGE.warning_filters
    atexit._clear()
    sys.excepthook = sys.__excepthook__


def _exit_code(exc):
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        sys.stderr.write(str(code) + "\n")
    except Exception:
        pass
    return 1


def _finish(code):
    """Leave a fork as an interpreter would, without running what the
    image registered: its exit handlers ran, streams flushed."""
    try:
        atexit._run_exitfuncs()
    except Exception:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)


def _run_main(main):
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException:
        traceback.print_exc()
        code = 1
    _finish(code)


# ---------------------------------------------------------------------------
# The run child: ansible-runner in a fork.

def run_child(req):
    os.setsid()
    _reset_signals()
    env = dict(kv.split("=", 1) for kv in req["env"])
    os.chdir(req["cwd"])
    _fresh_process(env, req["argv"][0], os.path.dirname(req["argv"][0]))
    sys.argv = list(req["argv"])
    _fresh_stdio()

    import pexpect
    import ansible_runner.__main__ as runner_main
    importlib.reload(runner_main)  # its default ident is drawn at import
    pexpect.spawn = _warm_spawn(pexpect.spawn)
    _run_main(lambda: sys.exit(runner_main.main(sys.argv[1:])))


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
    path = _which(command, env.get("PATH", ""))
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
        now = _settings(C)
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
        _close_fds_from(3)
        _reset_signals()
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # pexpect's ignore_sighup
        _fresh_process(env, argv[0], os.path.dirname(argv[0]))
        sys.argv = list(argv)
        _fresh_stdio()
        import ansible.utils.color
        importlib.reload(ansible.utils.color)  # stdout is a terminal now
        import ansible.utils.vars
        importlib.reload(ansible.utils.vars)  # ids unique to this process
        _poll_interval()
        from ansible.cli.playbook import main
        _run_main(lambda: main(list(argv)))
    return run_playbook


# ---------------------------------------------------------------------------
# Compiled templates, kept across runs.
#
# Ansible makes a new Jinja environment for each templating and compiles
# every template anew: a fifth to a third of a reconcile's CPU. The code
# Jinja generates depends on the template's text, the environment's syntax
# settings and on which filters and tests exist and what they are passed;
# and, through constant folding, on what a filter returns for constants.
# So a compiled template is kept (in files under the server's dir, written
# atomically by the runs) with the filters and tests its compilation looked
# up, and used again only when those still resolve the same way; a
# compilation that called a filter or test (folding) is never kept, so
# `{{ 100 | random }}` still draws a new number in every run.

TEMPLATE_CACHE = "templates"
TEMPLATE_CACHE_TAG = "ansible-operator-template-cache-1"
MAX_TEMPLATE_FILES = 10000
MAX_TEMPLATE_SOURCE = 256 << 10


def _cache_template_code(cache_dir):
    import hashlib
    import marshal
    import jinja2
    from jinja2.environment import Environment
    from jinja2.utils import _PassArg
    os.makedirs(cache_dir, mode=0o700, exist_ok=True)
    compile_template = Environment.compile

    def state(func):
        if func is None:
            return None
        return repr(_PassArg.from_obj(func))

    def signature(env):
        if callable(env.autoescape):
            return None
        finalize = env.finalize
        return (TEMPLATE_CACHE_TAG, jinja2.__version__, type(env).__module__, type(env).__qualname__,
                env.block_start_string, env.block_end_string, env.variable_start_string,
                env.variable_end_string, env.comment_start_string, env.comment_end_string,
                env.line_statement_prefix, env.line_comment_prefix, env.trim_blocks, env.lstrip_blocks,
                env.newline_sequence, env.keep_trailing_newline, env.optimized, env.is_async,
                env.autoescape, env.code_generator_class.__module__, env.code_generator_class.__qualname__,
                None if finalize is None else (getattr(finalize, "__module__", ""),
                                               getattr(finalize, "__qualname__", repr(finalize)), state(finalize)),
                tuple(sorted(type(e).__module__ + "." + type(e).__qualname__ for e in env.extensions.values())))

    def compile(self, source, name=None, filename=None, raw=False, defer_init=False):
        sig = None if raw or not isinstance(source, str) or len(source) > MAX_TEMPLATE_SOURCE \
            else signature(self)
        if sig is None:
            return compile_template(self, source, name, filename, raw, defer_init)
        key = hashlib.sha256(repr((sig, source, name, filename, defer_init)).encode("utf-8", "surrogatepass"))
        path = os.path.join(cache_dir, key.hexdigest())
        try:
            with open(path, "rb") as f:
                tag, lookups, code = marshal.loads(f.read())
            if tag == TEMPLATE_CACHE_TAG and all(
                    state((self.filters if kind == "filter" else self.tests).get(n)) == st
                    for kind, n, st in lookups):
                return code
        except (OSError, ValueError, EOFError, TypeError):
            pass
        lookups, called = [], []
        filters, tests = self.filters, self.tests
        self.filters = _Recorder(filters, "filter", lookups, called, state)
        self.tests = _Recorder(tests, "test", lookups, called, state)
        try:
            code = compile_template(self, source, name, filename, raw, defer_init)
        finally:
            self.filters, self.tests = filters, tests
        if not called:
            _write_atomic(path, marshal.dumps((TEMPLATE_CACHE_TAG, lookups, code)))
        return code
    Environment.compile = compile


class _Recorder:
    """A filters or tests mapping that records what compiling looks up, and
    whether it calls any of it."""

    def __init__(self, mapping, kind, lookups, called, state):
        self._mapping, self._kind, self._lookups, self._called, self._state = mapping, kind, lookups, called, state

    def get(self, name, default=None):
        func = self._mapping.get(name)
        self._lookups.append((self._kind, name, self._state(func)))
        if func is None:
            return default
        called = self._called

        def record(*args, **kwargs):
            called.append(name)
            return func(*args, **kwargs)
        for attr in ("jinja_pass_arg", "jinja_async_variant"):
            if hasattr(func, attr):
                setattr(record, attr, getattr(func, attr))
        return record

    def __getitem__(self, name):
        func = self.get(name)
        if func is None:
            raise KeyError(name)
        return func

    def __contains__(self, name):
        return self.get(name) is not None

    def __getattr__(self, attr):
        return getattr(self._mapping, attr)


def _write_atomic(path, data):
    tmp = "%s.%d.tmp" % (path, os.getpid())
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _prune_template_cache(cache_dir):
    """Keep the newest MAX_TEMPLATE_FILES compiled templates."""
    try:
        entries = [e for e in os.scandir(cache_dir) if e.is_file()]
    except OSError:
        return
    if len(entries) <= MAX_TEMPLATE_FILES:
        return
    entries.sort(key=lambda e: e.stat().st_mtime)
    for e in entries[: len(entries) - MAX_TEMPLATE_FILES // 2]:
        try:
            os.unlink(e.path)
        except OSError:
            pass


# The interval at which the playbook process polls its workers' results when
# ansible.cfg does not set internal_poll_interval. Ansible's default, 1 ms,
# costs the playbook process a fifth of a reconcile's CPU in polls; its own
# documentation advises higher values for automation. A result waits at most
# this long longer to be noticed.
POLL_INTERVAL = 0.005


def _poll_interval():
    import ansible.constants as C
    _, origin = C.config.get_config_value_and_origin("DEFAULT_INTERNAL_POLL_INTERVAL")
    if origin == "default":
        C.DEFAULT_INTERNAL_POLL_INTERVAL = POLL_INTERVAL


# ---------------------------------------------------------------------------
# Modules in a fork of the worker.

def _warm_exec_command(exec_command, image):
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
    if not words or os.path.realpath(_which(words[0], os.environ.get("PATH", "")) or "") != image.python:
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
            _close_fds_from(3)
            _reset_signals()
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
    _fresh_process(env, argv0, os.path.dirname(script) if script else "")
    _fresh_stdio()
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
    _compiled_payloads()
    import runpy
    if script is not None:
        _run_main(lambda: runpy.run_path(script, run_name="__main__"))
    import types
    main = types.ModuleType("__main__")
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main
    _run_main(lambda: exec(compile(source, "<stdin>", "exec"), main.__dict__))


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


# ---------------------------------------------------------------------------
# The server loop.

def _send(sock, msg):
    sock.send(json.dumps(msg).encode())


def _recv(sock):
    fds = array.array("i")
    data, ancdata, _, _ = sock.recvmsg(MAX_MSG, socket.CMSG_SPACE(8 * fds.itemsize))
    for level, typ, cdata in ancdata:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds.frombytes(cdata[:len(cdata) - (len(cdata) % fds.itemsize)])
    return data, list(fds)


def serve(sock):
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children = {}
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    sel.register(wake_r, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select(timeout=1.0):
            if key.fileobj is sock:
                data, fds = _recv(sock)
                if not data:
                    _shutdown(children)
                    return
                _handle(sock, wake_r, wake_w, data, fds, children)
            else:
                try:
                    while os.read(wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
        _reap(sock, children)


def _handle(sock, wake_r, wake_w, data, fds, children):
    try:
        req = json.loads(data)
        rid = req["id"]
    except (ValueError, KeyError, TypeError) as exc:
        for fd in fds:
            os.close(fd)
        _send(sock, {"error": "bad request: %s" % exc})
        return
    if req.get("op") == "ping":
        _send(sock, {"id": rid, "pid": os.getpid(), "runs": IMAGE.runs})
        return
    if len(fds) != 3:
        for fd in fds:
            os.close(fd)
        _send(sock, {"id": rid, "error": "want 3 fds (stdin, stdout, stderr), got %d" % len(fds)})
        return
    pid = os.fork()
    if pid == 0:
        try:
            for i, fd in enumerate(fds):
                os.dup2(fd, i)
            sock.close()
            for fd in (wake_r, wake_w):
                os.close(fd)
            _close_fds_from(3)
            run_child(req)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(70)
    for fd in fds:
        os.close(fd)
    IMAGE.runs += 1
    if IMAGE.runs % 100 == 0:
        _prune_template_cache(os.path.join(os.getcwd(), TEMPLATE_CACHE))
    children[pid] = rid
    _send(sock, {"id": rid, "pid": pid})


def _reap(sock, children):
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        rid = children.pop(pid, None)
        if rid is not None:
            _send(sock, {"id": rid, "status": status})


def _shutdown(children):
    for pid in children:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass


IMAGE = Image()


def main():
    sock = socket.socket(fileno=3)
    os.set_inheritable(3, False)
    load = IMAGE.load()
    _send(sock, {"ready": PROTOCOL, "pid": os.getpid(), "load_cpu": load,
                 "python": IMAGE.python, "ansible_playbook": IMAGE.playbook_path})
    serve(sock)


if __name__ == "__main__":
    main()
