"""The import side of the overlay: patch listed libraries when imported, import from virtual paths.

``_FINDER`` (a ``sys.meta_path`` entry) wraps the loader of every module named in
``thirdparty._LAZY`` so the fix runs right after the module executes; ``_path_hook`` (a
``sys.path_hooks`` entry) lets a ``sys.path`` directory at a virtual path import from its host
folder.  ``_add_hooks``/``_remove_hooks`` are called by install()/uninstall().  Layer 5 of the
package: imports :mod:`.paths` and :mod:`.thirdparty` (and through it the layers below).
"""

from __future__ import annotations

import sys

from . import paths, thirdparty
from .paths import _tr_str


class _PatchingLoader:
    """Runs the real loader, then patches the module (the real loader stays visible)."""

    def __init__(self, loader, name):
        self._loader = loader
        self._name = name

    def __getattr__(self, item):
        return getattr(self._loader, item)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = self._loader
        if getattr(module, "__spec__", None) is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        if paths._installed:
            _apply_lazy(self._name)


def _apply_lazy(name):
    fn = thirdparty._LAZY.get(name)
    if fn is None or name not in sys.modules:
        return
    try:
        fn(sys.modules[name])
    except Exception as exc:  # noqa: BLE001 - never break the import itself
        sys.stderr.write("path overlay: could not patch %s: %r\n" % (name, exc))


class _PostImportFinder:
    """sys.meta_path entry: patches the libraries in _LAZY right after they are imported."""

    def __init__(self):
        self._busy = set()

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in thirdparty._LAZY or fullname in self._busy:
            return None
        self._busy.add(fullname)
        try:
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
            else:
                return None
        finally:
            self._busy.discard(fullname)
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        spec.loader = _PatchingLoader(spec.loader, fullname)
        return spec

    def invalidate_caches(self):
        pass


_FINDER = _PostImportFinder()
_FILEFINDER_HOOK = None


def _path_hook(entry):
    """sys.path_hooks entry: a sys.path directory at a virtual path imports from its host folder."""
    if paths._installed and isinstance(entry, str) and entry[:1] == "/":
        t = _tr_str(entry)
        if t is not entry:
            return _FILEFINDER_HOOK(t)
    raise ImportError("not a virtual path")


def _make_filefinder_hook():
    import importlib.machinery as m

    details = [(m.ExtensionFileLoader, m.EXTENSION_SUFFIXES), (m.SourceFileLoader, m.SOURCE_SUFFIXES),
               (m.SourcelessFileLoader, m.BYTECODE_SUFFIXES)]
    return m.FileFinder.path_hook(*details)


def _forget_importers(prefixes):
    for key in list(sys.path_importer_cache):
        if isinstance(key, str) and any(key == p or key.startswith(p + "/") for p in prefixes):
            sys.path_importer_cache.pop(key, None)


def _add_hooks():
    """Put the path hook and the post-import finder first in line (install())."""
    global _FILEFINDER_HOOK
    if _FILEFINDER_HOOK is None:
        _FILEFINDER_HOOK = _make_filefinder_hook()
    sys.path_hooks.insert(0, _path_hook)
    sys.meta_path.insert(0, _FINDER)


def _remove_hooks():
    """Take the path hook and the post-import finder out again (uninstall())."""
    while _path_hook in sys.path_hooks:
        sys.path_hooks.remove(_path_hook)
    while _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)


def _patch_imported():
    """Apply the fixes of thirdparty._LAZY to the listed modules that are already imported."""
    for name in thirdparty._LAZY:
        if name in sys.modules:
            _apply_lazy(name)
