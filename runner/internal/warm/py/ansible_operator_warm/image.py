"""The warm image: what the server imports once, and under which settings."""

import contextlib
import copy
import os
import shutil
import sys
import tempfile
import time
import warnings

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
        from .modules import warm_exec_command
        from .prime import collection_roots, prime_module_syntax, prime_plugin_docs
        from .templates import TEMPLATE_CACHE, cache_template_code
        with _run_environment():
            import ansible.constants as C
            self.settings = settings_of(C)
            self.playbook_path = which("ansible-playbook", os.environ.get("PATH", ""))
            collection_roots = collection_roots(C)
            prime_plugin_docs()
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
        local.Connection.exec_command = warm_exec_command(local.Connection.exec_command, self)
        prime_module_syntax(collection_roots)
        cache_template_code(os.path.join(os.getcwd(), TEMPLATE_CACHE))
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


def _memoize_definitions(cls):
    """Parse Ansible's base.yml once: each reload of the config re-reads it."""
    read = cls._read_config_yaml_file
    cache = {}

    def cached(self, yml_file):
        if yml_file not in cache:
            cache[yml_file] = read(self, yml_file)
        return copy.deepcopy(cache[yml_file])
    cls._read_config_yaml_file = cached


def settings_of(C):
    out = {}
    for name in C.config.get_configuration_definitions():
        out[name] = copy.deepcopy(getattr(C, name, None))
    return out


def which(name, path):
    if "/" in name:
        return os.path.realpath(name) if os.access(name, os.X_OK) else None
    for d in path.split(os.pathsep):
        p = os.path.join(d or ".", name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return os.path.realpath(p)
    return None


IMAGE = Image()
