"""Work every run repeats, done once by the image: parsing modules and module_utils, their import
walks, their code for payload imports, Ansible's plugin documentation."""

import copy
import glob
import importlib
import os
import sys

from .image import IMAGE

# Collections on Python's path (the Debian ansible package's) whose modules an
# operator's roles run: their syntax trees are primed too.
SYSTEM_COLLECTIONS = ("kubernetes/core", "cloud/common")
MAX_PRIMED_FILES = 2000
MAX_PRIMED_BYTES = 1 << 20


def collection_roots(C):
    """Plugin dirs of the collections a run finds on COLLECTIONS_PATHS, and
    of SYSTEM_COLLECTIONS on Python's path."""
    roots = []
    for base in C.COLLECTIONS_PATHS or []:
        roots.extend(sorted(glob.glob(os.path.join(base, "ansible_collections", "*", "*", "plugins"))))
    for entry in sys.path:
        for name in SYSTEM_COLLECTIONS:
            p = os.path.join(entry or ".", "ansible_collections", name, "plugins")
            if os.path.isdir(p):
                roots.append(p)
    return roots


def prime_module_syntax(collection_roots):
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


def compiled_payloads():
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


def prime_plugin_docs():
    """Import Ansible's own plugins of PRIMED_PLUGIN_KINDS and parse their
    documentation once; a run parses it again only for another text."""
    import ansible.plugins.loader as loader
    real = loader.AnsibleLoader
    base = os.path.dirname(loader.__file__)
    docs = {}
    for kind in PRIMED_PLUGIN_KINDS:
        for path in sorted(glob.glob(os.path.join(base, kind, "*.py"))):
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
