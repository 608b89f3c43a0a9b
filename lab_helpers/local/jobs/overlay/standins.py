"""Stand-ins for the path-taking functions of os, io and builtins (and io.FileIO).

Each ``_mk_*(orig)`` returns a plain closure that translates its path arguments through
:mod:`.paths` and calls the original; ``os.scandir`` entries and ``open``'s file objects keep
the virtual path.  Layer 2 of the package: imports only :mod:`.paths`.  Nothing here patches
anything; :mod:`.patching` decides where the stand-ins go.
"""

from __future__ import annotations

import os
import posixpath

import _io

from . import paths
from .paths import _match, _norm, _real_getcwd, _rev_value, _set_cwd, _tr, _tr_abs, _tr_other, _tr_str

# --------------------------------------------------------------------------------------------
# stand-ins: plain closures (the cheapest call).  A function stored as a class attribute
# would bind as a method, so class attributes get staticmethod(stand-in): see patching._sweep()
# and _fix_class_bindings() (pathlib's _NormalAccessor on 3.9/3.10 does ``stat = os.stat``).
# --------------------------------------------------------------------------------------------
_STAND_INS = {}  # id(stand-in) -> stand-in (patching reads it, and clears it at uninstall)
_GETCWD = None   # our os.getcwd stand-in, set by patching._patch_core() at install()


def _finish(fn, orig):
    try:
        fn.__name__ = orig.__name__
        fn.__qualname__ = getattr(orig, "__qualname__", orig.__name__)
        fn.__doc__ = orig.__doc__
    except (AttributeError, TypeError):
        pass
    fn.__wrapped__ = orig  # inspect.signature() shows the original's signature
    fn.__overlay_orig__ = orig
    _STAND_INS[id(fn)] = fn
    return fn


def _mk_path1(orig):
    """fn(path, ...) with the optional dir_fd= keyword."""

    def stand_in(path, *args, **kwargs):
        if kwargs and kwargs.get("dir_fd") is not None:
            return orig(_tr_abs(path), *args, **kwargs)
        return orig(_tr_str(path) if type(path) is str else _tr_other(path), *args, **kwargs)

    return _finish(stand_in, orig)


def _mk_opt_path(orig):
    """fn(path=None, ...): listdir, listxattr."""

    def stand_in(path=None, *args, **kwargs):
        if path is None:
            return orig(*args, **kwargs)
        return orig(_tr_str(path) if type(path) is str else _tr_other(path), *args, **kwargs)

    return _finish(stand_in, orig)


def _mk_two_paths(orig):
    """fn(src, dst, ...): rename, replace, link (src_dir_fd=/dst_dir_fd=)."""

    def stand_in(src, dst, *args, **kwargs):
        if kwargs:
            s = _tr_abs(src) if kwargs.get("src_dir_fd") is not None else _tr(src)
            d = _tr_abs(dst) if kwargs.get("dst_dir_fd") is not None else _tr(dst)
            return orig(s, d, *args, **kwargs)
        return orig(_tr(src), _tr(dst), *args)

    return _finish(stand_in, orig)


def _mk_symlink(orig):
    """symlink(src, dst): an absolute virtual target is stored as its host path."""

    def stand_in(src, dst, *args, **kwargs):
        d = _tr_abs(dst) if kwargs.get("dir_fd") is not None else _tr(dst)
        return orig(_tr_abs(src), d, *args, **kwargs)

    return _finish(stand_in, orig)


def _mk_readlink(orig):
    """readlink(): a target inside a job folder reads back as its virtual path."""

    def stand_in(path, *args, **kwargs):
        if kwargs and kwargs.get("dir_fd") is not None:
            return _rev_value(orig(_tr_abs(path), *args, **kwargs))
        return _rev_value(orig(_tr(path), *args, **kwargs))

    return _finish(stand_in, orig)


def _mk_open(orig):
    """open(file, ...), io.open, io.open_code: the file object keeps the virtual name."""

    def stand_in(file, *args, **kwargs):
        t = _tr_str(file) if type(file) is str else _tr_other(file)
        f = orig(t, *args, **kwargs)
        if t is not file:
            _set_name(f, file)
        return f

    return _finish(stand_in, orig)


def _set_name(f, given):
    raw = getattr(f, "buffer", f)
    raw = getattr(raw, "raw", raw)
    try:
        raw.name = given if isinstance(given, (str, bytes)) else os.fspath(given)
    except Exception:  # noqa: BLE001 - cosmetic only
        pass


def _mk_chdir(orig):
    def stand_in(path):
        t = _tr(path)
        orig(t)
        virtual = None
        if not isinstance(path, int):
            f = os.fspath(path)
            s = f if isinstance(f, str) else os.fsdecode(f)
            cand = _norm(posixpath.join(paths._vcwd, s))
            if _match(cand) is not None:
                virtual = cand  # logical path, as a shell's $PWD (the host folder may be a symlink)
        _set_cwd(_real_getcwd(), virtual)

    return _finish(stand_in, orig)


def _mk_fchdir(orig):
    def stand_in(fd):
        orig(fd)
        _set_cwd(_real_getcwd())

    return _finish(stand_in, orig)


def _mk_getcwd(orig):
    def stand_in():
        real = orig()
        if real != paths._real_cwd:
            _set_cwd(real)
        return paths._vcwd

    return _finish(stand_in, orig)


def _mk_getcwdb(orig):
    def stand_in():
        return os.fsencode(_GETCWD())

    return _finish(stand_in, orig)


class _DirEntry:
    """os.DirEntry stand-in whose .path is the virtual path (os.DirEntry can't be built)."""

    __slots__ = ("_e", "name", "path")

    def __init__(self, entry, path):
        self._e = entry
        self.name = entry.name
        self.path = path

    def __fspath__(self):
        return self.path

    def __repr__(self):
        return "<DirEntry %r>" % (self.name,)

    def inode(self):
        return self._e.inode()

    def is_dir(self, *, follow_symlinks=True):
        return self._e.is_dir(follow_symlinks=follow_symlinks)

    def is_file(self, *, follow_symlinks=True):
        return self._e.is_file(follow_symlinks=follow_symlinks)

    def is_symlink(self):
        return self._e.is_symlink()

    def is_junction(self):
        fn = getattr(self._e, "is_junction", None)
        return fn() if fn is not None else False

    def stat(self, *, follow_symlinks=True):
        return self._e.stat(follow_symlinks=follow_symlinks)

    @classmethod
    def __class_getitem__(cls, item):
        return cls


class _ScandirIterator:
    __slots__ = ("_it", "_base")

    def __init__(self, it, base):
        self._it = it
        self._base = base

    def __iter__(self):
        return self

    def __next__(self):
        e = next(self._it)
        return _DirEntry(e, self._base + e.name)

    def close(self):
        self._it.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._it.close()
        return False

    def __del__(self):
        try:
            self._it.close()
        except Exception:  # noqa: BLE001
            pass


def _mk_scandir(orig):
    def stand_in(path=None):
        if path is None:
            return orig()
        t = _tr_str(path) if type(path) is str else _tr_other(path)
        it = orig(t)
        if t is path or isinstance(path, int):
            return it
        base = os.fspath(path)
        sep = b"/" if isinstance(base, bytes) else "/"
        if not base.endswith(sep):
            base += sep
        return _ScandirIterator(it, base)

    return _finish(stand_in, orig)


class _FileIOMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, _io.FileIO)

    def __subclasscheck__(cls, sub):
        return issubclass(sub, _io.FileIO)


class FileIO(_io.FileIO, metaclass=_FileIOMeta):
    """io.FileIO that follows the overlay (isinstance checks still accept plain FileIO objects)."""

    def __init__(self, file, mode="r", closefd=True, opener=None):
        t = _tr(file)
        super().__init__(t, mode, closefd, opener)
        if t is not file:
            self.name = file if isinstance(file, (str, bytes)) else os.fspath(file)
