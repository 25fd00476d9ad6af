"""Compiled templates, kept across runs."""

import os

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
MAX_TEMPLATE_BYTES = 64 << 20
MAX_TEMPLATE_SOURCE = 256 << 10
# The server prunes the cache every PRUNE_EVERY runs it forks.
PRUNE_EVERY = 10


def cache_template_code(cache_dir):
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


def prune_template_cache(cache_dir):
    """Keep the newest compiled templates within MAX_TEMPLATE_FILES and
    MAX_TEMPLATE_BYTES; beyond either, the older half goes."""
    try:
        entries = [(e.stat().st_mtime, e.stat().st_size, e.path) for e in os.scandir(cache_dir) if e.is_file()]
    except OSError:
        return
    if len(entries) <= MAX_TEMPLATE_FILES and sum(size for _, size, _ in entries) <= MAX_TEMPLATE_BYTES:
        return
    entries.sort(reverse=True)
    kept = 0
    for i, (_, size, path) in enumerate(entries):
        kept += size
        if i < MAX_TEMPLATE_FILES // 2 and kept <= MAX_TEMPLATE_BYTES // 2:
            continue
        try:
            os.unlink(path)
        except OSError:
            pass