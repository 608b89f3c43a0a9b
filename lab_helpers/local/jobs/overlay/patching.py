"""Patching machinery: put the stand-ins in place, re-point aliases bound earlier, undo it all.

``_patch_core()`` replaces the os/io/builtins functions with the stand-ins of :mod:`.standins`
and sweeps ``sys.modules`` for names bound to the originals before install(); every change is
recorded in ``_restore`` so that ``_undo_all()`` can put the originals back.  ``_patch_method``
wraps a method of a third-party class so its path parameters are translated.  Layer 3 of the
package: imports :mod:`.paths` and :mod:`.standins` only.
"""

from __future__ import annotations

import builtins
import io
import os
import sys

from . import paths, standins
from .paths import _tr_value
from .standins import (FileIO, _mk_chdir, _mk_fchdir, _mk_getcwd, _mk_getcwdb, _mk_open, _mk_opt_path,
                       _mk_path1, _mk_readlink, _mk_scandir, _mk_symlink, _mk_two_paths)

_restore = []          # [(kind, target, key, old, new)] undone by uninstall()
_sweep_map = {}        # id(original) -> (original, stand-in), for re-pointing aliases


# --------------------------------------------------------------------------------------------
# patch bookkeeping
# --------------------------------------------------------------------------------------------
def _set_attr(target, key, new):
    old = getattr(target, key)
    setattr(target, key, new)
    _restore.append(("attr", target, key, old, new))


def _set_class_attr(cls, key, new):
    old = cls.__dict__[key]
    setattr(cls, key, new)
    _restore.append(("attr", cls, key, old, new))


def _set_item(d, key, new):
    old = d[key]
    d[key] = new
    _restore.append(("item", d, key, old, new))


def _set_add(s, new):
    s.add(new)
    _restore.append(("set", s, None, None, new))


_PATH1 = ("access", "chflags", "chmod", "chown", "chroot", "getxattr", "lchflags", "lchmod", "lchown",
          "lstat", "mkdir", "mkfifo", "mknod", "open", "pathconf", "remove", "removexattr", "rmdir",
          "setxattr", "stat", "statvfs", "truncate", "unlink", "utime")
_OPT1 = ("listdir", "listxattr")
_TWO = ("link", "rename", "replace")
_SPECIAL = {"symlink": _mk_symlink, "readlink": _mk_readlink, "scandir": _mk_scandir, "chdir": _mk_chdir,
            "fchdir": _mk_fchdir, "getcwd": _mk_getcwd, "getcwdb": _mk_getcwdb}

# the overlay package itself (its modules hold stand-ins, e.g. standins.FileIO, that must stay)
_OWN = __name__.rpartition(".")[0]
_OWN_PREFIX = _OWN + "."
# never re-point names inside these modules (they *are* the originals, or must keep them)
_SWEEP_SKIP = frozenset({
    _OWN, "os", "posix", "nt", "io", "_io", "_pyio", "builtins", "_frozen_importlib",
    "_frozen_importlib_external", "importlib._bootstrap", "importlib._bootstrap_external", "zipimport",
})
# stdlib modules whose classes hold functions as class attributes
_CLASS_SWEEP = ("pathlib", "pathlib._local", "pathlib._abc", "glob", "shutil", "tempfile", "zipfile",
                "zipfile._path", "tarfile")


def _patch_core():
    """Replace the path-taking functions of os, io and builtins (and io.FileIO) by stand-ins."""
    replacements = []
    for name in _PATH1 + _OPT1 + _TWO + tuple(_SPECIAL):
        orig = getattr(os, name, None)
        if orig is None:
            continue
        make = _SPECIAL.get(name) or (_mk_opt_path if name in _OPT1 else _mk_two_paths if name in _TWO else _mk_path1)
        new = make(orig)
        paths._orig[name] = orig
        _set_attr(os, name, new)
        replacements.append((orig, new))
        for sname in ("supports_dir_fd", "supports_fd", "supports_follow_symlinks", "supports_effective_ids"):
            sset = getattr(os, sname, None)
            if isinstance(sset, set) and orig in sset:
                _set_add(sset, new)
    standins._GETCWD = os.getcwd

    open_orig = builtins.open
    paths._orig["open_builtin"] = open_orig
    new_open = _mk_open(open_orig)
    _set_attr(builtins, "open", new_open)
    replacements.append((open_orig, new_open))
    if io.open is open_orig:
        _set_attr(io, "open", new_open)
    else:  # someone else's io.open: wrap it separately
        io_open = io.open
        new_io_open = _mk_open(io_open)
        _set_attr(io, "open", new_io_open)
        replacements.append((io_open, new_io_open))
    if hasattr(io, "open_code"):
        oc = io.open_code
        new_oc = _mk_open(oc)
        _set_attr(io, "open_code", new_oc)
        replacements.append((oc, new_oc))
    fio = io.FileIO
    _set_attr(io, "FileIO", FileIO)
    replacements.append((fio, FileIO))

    _sweep_map.clear()
    for orig, new in replacements:
        _sweep_map[id(orig)] = (orig, new)
    _sweep(_sweep_map)


def _sweep(mapping):
    """Re-point module-level aliases and class attributes bound before install()."""
    for mname, mod in list(sys.modules.items()):
        if mname in _SWEEP_SKIP or mname.startswith(_OWN_PREFIX) or not isinstance(mod, type(sys)):
            continue
        d = getattr(mod, "__dict__", None)
        if not d:
            continue
        hits = []
        try:
            for k, v in d.items():
                hit = mapping.get(id(v))
                if hit is not None and hit[0] is v:
                    hits.append((k, hit[1]))
        except RuntimeError:  # dict changed size (a lazy module): skip it
            continue
        for k, new in hits:
            _set_attr(mod, k, new)
    for mname in _CLASS_SWEEP:
        mod = sys.modules.get(mname)
        if mod is None:
            continue
        for cls in list(vars(mod).values()):
            if not isinstance(cls, type) or cls.__module__ != mname:
                continue
            for k, v in list(vars(cls).items()):
                static = isinstance(v, staticmethod)
                inner = v.__func__ if static else v
                hit = mapping.get(id(inner))
                if hit is None or hit[0] is not inner:
                    continue
                new = hit[1]
                if static or id(new) in standins._STAND_INS:  # a function would bind as a method
                    new = staticmethod(new)
                _set_class_attr(cls, k, new)


def _fix_class_bindings(mod):
    """A module imported after install() that stored a stand-in as a class attribute
    (``stat = os.stat`` in pathlib's _NormalAccessor on 3.9/3.10): make it a staticmethod."""
    mname = mod.__name__
    for cls in list(vars(mod).values()):
        if not isinstance(cls, type) or cls.__module__ != mname:
            continue
        for k, v in list(vars(cls).items()):
            if standins._STAND_INS.get(id(v)) is v:
                _set_class_attr(cls, k, staticmethod(v))


def _undo_all():
    """Put back every original recorded by the _set_* helpers (the inverse of install())."""
    while _restore:
        kind, target, key, old, new = _restore.pop()
        try:
            if kind == "attr":
                cur = target.__dict__.get(key) if isinstance(target, type) else getattr(target, key, None)
                if cur is new:
                    setattr(target, key, old)
            elif kind == "item":
                if target.get(key) is new:
                    target[key] = old
            elif kind == "set":
                target.discard(new)
        except Exception:  # noqa: BLE001 - best effort
            pass
    # modules imported while installed captured stand-ins: point them back at the originals
    back = {id(new): (new, orig) for orig, new in _sweep_map.values()}
    if back:
        _sweep(back)
        _restore.clear()
    _sweep_map.clear()
    standins._STAND_INS.clear()  # stand-ins still referenced elsewhere pass everything through now


# --------------------------------------------------------------------------------------------
# methods of third-party classes (C code that opens paths itself): see thirdparty.py
# --------------------------------------------------------------------------------------------
def _patch_method(cls, name, params):
    """Wrap cls.<name> so the named parameters (path or "uri") are translated."""
    func = cls.__dict__.get(name)
    if func is None or getattr(func, "__overlay_orig__", None) is not None:
        return
    import functools
    import inspect

    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return
    names = list(sig.parameters)
    where = {}
    for pname, kind in params.items():
        if pname in sig.parameters:
            p = sig.parameters[pname]
            pos = names.index(pname) if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) else None
            where[pname] = (pos, kind == "uri")
    if not where:
        return

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if paths._installed:
            for pname, (pos, uri) in where.items():
                if pos is not None and pos < len(args):
                    v = args[pos]
                    nv = _tr_value(v, uri)
                    if nv is not v:
                        args = args[:pos] + (nv,) + args[pos + 1:]
                elif pname in kwargs:
                    kwargs[pname] = _tr_value(kwargs[pname], uri)
        return func(*args, **kwargs)

    wrapper.__overlay_orig__ = func
    _set_class_attr(cls, name, wrapper)

