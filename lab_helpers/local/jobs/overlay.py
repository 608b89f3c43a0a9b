"""In-process path overlay: container paths such as ``/opt/ml/...`` resolve to per-job host folders.

A SageMaker script hard-codes container paths (``/opt/ml/processing/input/abalone.csv``,
``/opt/ml/model``, ``/opt/ml/input/data/train``).  The kit runs every job as a host Python
process instead of a container, so inside that process we call::

    from lab_helpers.local import overlay
    overlay.install({"/opt/ml": "<jobdir>/opt/ml", "/data/in": "<jobdir>/data/in"})

and from then on every file-system access of *this* process whose absolute path is at or
below a virtual prefix goes to the matching host folder (longest prefix wins).  Nothing is
created at the real ``/opt/ml``, so it works for a non-root user, on Linux and macOS, and two
jobs running at the same time (two processes, two mappings) never see each other's files.

API
---
``install(mapping)``   redirect; idempotent; a different mapping replaces the previous one.
                       Host folders are created if missing.  Virtual prefixes must be absolute,
                       not ``/``, and no host folder may overlap a virtual prefix.
``uninstall()``        restore every patched object (mainly for tests).
``translate(path)``    virtual -> host (str, bytes or os.PathLike; same kind back, a pathlib
                       path stays a pathlib path).  Paths outside the prefixes come back as given.
``to_virtual(path)``   host -> virtual (the reverse; paths outside the host folders unchanged).
``is_installed()``, ``current_mapping()``, ``install_from_env()`` (see ENV_VAR below).

What is covered
---------------
* ``builtins.open``, ``io.open``, ``io.open_code`` (``runpy``/``import`` of a script at a virtual
  path), ``io.FileIO`` (a subclass; ``isinstance(f, io.FileIO)`` stays true for ordinary files).
  Files opened through a virtual path keep the *virtual* path as ``.name``.
* every path-taking function of ``os`` that is implemented in C: ``open stat lstat access
  listdir scandir mkdir rmdir remove unlink rename replace link symlink readlink chdir utime
  chmod chown lchown chflags lchflags lchmod truncate mkfifo mknod pathconf statvfs chroot
  getxattr setxattr listxattr removexattr`` (those that exist on the platform).  ``dir_fd=``
  arguments keep their meaning (relative names under a directory fd are left alone).
  Everything written in Python on top of them follows: ``os.makedirs/removedirs/renames/walk/
  fwalk``, all of ``os.path`` (``exists isfile isdir getsize getmtime samefile ismount
  realpath abspath`` ...; ``genericpath``/``posixpath`` look ``os.stat`` up at call time on
  3.9-3.13), ``shutil``, ``glob``, ``tempfile`` (``dir=``), ``tarfile``, ``zipfile``, ``gzip``,
  ``bz2``, ``lzma``, ``json``/``pickle``/``csv`` via ``open``, ``logging.FileHandler``, ...
* ``os.scandir`` entries carry the *virtual* ``.path``, so ``os.walk``, ``glob.glob`` and
  ``pathlib`` globbing/iteration return virtual paths a script can reuse.  ``os.readlink``
  maps a target inside a job folder back to its virtual path, and ``os.symlink`` stores the
  host path for an absolute virtual target, so symlinks behave and ``realpath`` stays virtual.
* ``os.chdir`` into a virtual directory really changes into the host folder (so even C code
  resolves relative paths right) and ``os.getcwd``/``os.getcwdb``/``Path.cwd``/``abspath``
  report the virtual path; relative paths (also with ``..``) resolve against that.
* names bound at import time are re-pointed: ``tarfile.bltn_open``, ``bz2``/``tokenize``
  ``_builtin_open``, any module-level alias of a patched function in an already imported
  module, and class attributes such as pathlib's ``_NormalAccessor`` (3.9/3.10) and
  ``glob._StringGlobber`` (3.13).  The stand-ins are deliberately *not* descriptors, so a
  module imported later that stores ``os.stat`` as a class attribute still works.
* pathlib on 3.9-3.13 (all its file-system methods go through ``os``/``io``).
* ``sys.path`` entries at virtual paths (importing a helper module that lives next to the script).
* C-level path consumers, patched as soon as they are imported (an import hook) or at
  ``install()`` if already imported: ``xgboost`` (``DMatrix(path[?format=..][#cache])``,
  ``DMatrix.save_binary``, ``Booster.save_model/load_model/dump_model(fout, fmap)``,
  ``get_dump/get_fscore/get_score/trees_to_dataframe(fmap)``, ``DataIter(cache_prefix)``,
  ``XGBModel.save_model/load_model``), ``numpy`` (``np.loadtxt``/``genfromtxt``' DataSource opener
  table, bound at import time), ``sqlite3.connect`` (also ``file:`` URIs with ``uri=True``).
  pandas itself opens files with Python's ``open`` (its C parser gets a handle), numpy's
  ``save/load/savetxt/fromfile/tofile/memmap`` call ``open`` too, joblib uses ``open``/``io.open``.

Known limits
------------
* Only *this* process sees the overlay.  A subprocess the script starts (``subprocess``,
  ``os.system``, ``os.exec*``, ``multiprocessing`` with the spawn/forkserver start methods,
  joblib/loky workers) sees the real file system, where ``/opt/ml`` does not exist.  A child
  made with ``fork`` (multiprocessing's default on Linux up to 3.13) inherits the overlay.
  ``install()`` exports the mapping as ``$LAB_HELPERS_OVERLAY`` (JSON); a child Python program
  can opt in with ``overlay.install_from_env()``, or pass ``overlay.translate(p)`` to tools.
* C/C++ code that opens a path itself is not covered unless listed above: e.g. pyarrow
  datasets given a *directory*, HDF5/h5py/PyTables, torch's zip writer, LightGBM/CatBoost
  model files, TensorFlow's gfile.  Pass them ``overlay.translate(path)`` or an open file.
* Ancestors of a prefix are real: ``os.listdir("/opt")`` lists the host's ``/opt``.
* ``..`` inside a virtual path is resolved lexically (like a shell's logical ``cd ..``).
* ``realpath``/``Path.resolve`` stay virtual, except through a symlink whose target lies outside
  every job folder (e.g. an input folder the launcher linked in): that gives the real target.
* Stand-ins that escaped into places ``uninstall()`` can't see (closures, instance dicts) stay,
  but pass everything through unchanged once uninstalled.
* C code calling ``chdir`` itself desynchronises the virtual cwd until the next ``os.getcwd()``.
* Module ``__file__`` of code imported from a virtual ``sys.path`` entry is the host path.
* Not thread-safe against concurrent ``install()``/``uninstall()``; POSIX only.
"""

from __future__ import annotations

import builtins
import io
import os
import posixpath
import sys

import _io

__all__ = [
    "ENV_VAR",
    "current_mapping",
    "install",
    "install_from_env",
    "is_installed",
    "to_virtual",
    "translate",
    "uninstall",
]

ENV_VAR = "LAB_HELPERS_OVERLAY"

# --------------------------------------------------------------------------------------------
# state (module globals: the hot path reads them directly)
# --------------------------------------------------------------------------------------------
_table = ()        # ((virtual prefix, host folder), ...), longest prefix first
_starts = ()       # the virtual prefixes, for one str.startswith() call
_rev = ()          # ((host folder or its realpath, virtual prefix), ...), longest first
_mapping = {}
_installed = False

_vcwd = "/"            # virtual view of the current directory
_real_cwd = None       # the real directory that view belongs to
_cwd_virtual = False   # cwd is at/below a prefix (real cwd is then the host folder)
_cwd_ancestor = False  # cwd is a (real) ancestor of a prefix, e.g. "/" or "/opt"

_orig = {}             # original objects captured at the first install()
_restore = []          # [(kind, target, key, old, new)] undone by uninstall()
_sweep_map = {}        # id(original) -> (original, stand-in), for re-pointing aliases


# --------------------------------------------------------------------------------------------
# translation
# --------------------------------------------------------------------------------------------
def _norm(s):
    n = posixpath.normpath(s)
    if n.startswith("//"):
        n = "/" + n.lstrip("/")
    return n


def _match(n):
    """Host path for a clean absolute virtual path, or None."""
    for p, h in _table:
        if n.startswith(p):
            k = len(p)
            if len(n) == k or n[k] == "/":
                return h + n[k:]
    return None


def _slow_abs(s):
    n = _norm(s)
    r = _match(n)
    if r is None:
        # "/opt/ml/x/../../etc" leaves the virtual tree: resolve it lexically, as the
        # container would; a real path with ".." stays as given (kernel semantics).
        i = s.find("/..")
        if i <= 0 or _match(_norm(s[:i])) is None:
            return s
        r = n
    if s.endswith("/") and not r.endswith("/"):
        r += "/"
    return r


def _slow_rel(s):
    full = _norm(posixpath.join(_vcwd, s))
    r = _match(full)
    if r is None:
        if not _cwd_virtual:
            return s
        r = full  # left the virtual tree with "..": the real absolute path
    if s.endswith("/") and not r.endswith("/"):
        r += "/"
    return r


def _tr_str(s):
    if s[:1] == "/":
        if s.startswith(_starts) and "/.." not in s:
            r = _match(s)
            if r is not None:
                return r
        if "//" in s or "/." in s:
            return _slow_abs(s)
        return s
    # relative: when cwd is virtual the real cwd is its host folder, so only ".." needs work
    if s and ("/.." in s or s.startswith("..") or _cwd_ancestor):
        return _slow_rel(s)
    return s


def _tr_other(p, rel=True):
    if p is None or isinstance(p, int):
        return p
    if isinstance(p, (str, bytes)):
        f = p
    elif isinstance(p, os.PathLike):
        f = os.fspath(p)
    else:
        return p
    s = f if isinstance(f, str) else os.fsdecode(f)
    if not rel and s[:1] != "/":
        return p
    r = _tr_str(s)
    if r is s:
        return p
    return r if isinstance(f, str) else os.fsencode(r)


def _tr(p):
    if type(p) is str:
        return _tr_str(p)
    return _tr_other(p)


def _tr_abs(p):
    """Translate only an absolute path (a relative one is relative to a dir_fd)."""
    if type(p) is str:
        return _tr_str(p) if p[:1] == "/" else p
    return _tr_other(p, False)


def _to_virtual_str(s):
    for h, p in _rev:
        if s.startswith(h):
            k = len(h)
            if len(s) == k or s[k] == "/":
                return p + s[k:]
    return None


def _rev_value(r):
    if isinstance(r, str):
        v = _to_virtual_str(r)
        return r if v is None else v
    if isinstance(r, bytes):
        v = _to_virtual_str(os.fsdecode(r))
        return r if v is None else os.fsencode(v)
    return r


def _as_pathlike_kind(given, f, r):
    """Return r (str) as the kind of `given` (whose fspath is f)."""
    if isinstance(f, bytes):
        r = os.fsencode(r)
    if isinstance(given, (str, bytes)):
        return r
    pl = sys.modules.get("pathlib")
    if pl is not None and isinstance(given, pl.PurePath):
        return type(given)(r)
    return r


def translate(path):
    """Virtual container path -> host path (same kind as given; unchanged outside the prefixes).

    Relative paths are resolved against the (virtual) current directory first; a relative path
    that lands inside a prefix comes back as an absolute host path.
    """
    if isinstance(path, int):
        return path
    f = os.fspath(path)
    s = f if isinstance(f, str) else os.fsdecode(f)
    if s[:1] == "/":
        r = _tr_str(s)
    elif s:
        full = _norm(posixpath.join(os.getcwd(), s))
        r = _match(full)
        if r is None:
            r = s
        elif s.endswith("/"):
            r += "/"
    else:
        r = s
    if r == s:
        return path
    return _as_pathlike_kind(path, f, r)


def to_virtual(path):
    """Host path inside a job folder -> its virtual path (unchanged otherwise)."""
    f = os.fspath(path)
    s = f if isinstance(f, str) else os.fsdecode(f)
    r = _to_virtual_str(s)
    if r is None:
        return path
    return _as_pathlike_kind(path, f, r)


def is_installed():
    return _installed


def current_mapping():
    """The mapping in force (normalised), {} when not installed."""
    return dict(_mapping)


# --------------------------------------------------------------------------------------------
# current directory
# --------------------------------------------------------------------------------------------
def _set_cwd(real, virtual=None):
    global _vcwd, _real_cwd, _cwd_virtual, _cwd_ancestor
    if virtual is None:
        virtual = _to_virtual_str(real) if real is not None else None
        if virtual is None:
            virtual = real if real is not None else "/"
    _real_cwd = real
    _vcwd = virtual
    _cwd_virtual = _match(virtual) is not None
    base = virtual.rstrip("/") + "/"
    _cwd_ancestor = (not _cwd_virtual) and any(p.startswith(base) for p, _ in _table)


def _real_getcwd():
    try:
        return _orig["getcwd"]()
    except OSError:  # the cwd was removed
        return None


# --------------------------------------------------------------------------------------------
# stand-ins: plain closures (the cheapest call).  A function stored as a class attribute
# would bind as a method, so class attributes get staticmethod(stand-in): see _sweep() and
# _fix_class_bindings() (pathlib's _NormalAccessor on 3.9/3.10 does ``stat = os.stat``).
# --------------------------------------------------------------------------------------------
_STAND_INS = {}  # id(stand-in) -> stand-in


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
            cand = _norm(posixpath.join(_vcwd, s))
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
        if real != _real_cwd:
            _set_cwd(real)
        return _vcwd

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


def _mk_sqlite_connect(orig):
    def stand_in(database, *args, **kwargs):
        uri = kwargs.get("uri", args[6] if len(args) > 6 else False)
        if uri and isinstance(database, str) and database.startswith("file:"):
            database = _tr_sqlite_uri(database)
        else:
            database = _tr(database)
        return orig(database, *args, **kwargs)

    return _finish(stand_in, orig)


def _tr_sqlite_uri(u):
    rest, q, query = u[5:].partition("?")
    authority = ""
    if rest.startswith("//"):
        slash = rest.find("/", 2)
        if slash < 0:
            return u
        authority, rest = rest[:slash], rest[slash:]
    t = _tr_str(rest)
    if t is rest:
        return u
    for ch, esc in (("%", "%25"), ("?", "%3f"), ("#", "%23")):
        t = t.replace(ch, esc)
    return "file:" + authority + t + q + query


_GETCWD = None  # our os.getcwd stand-in, set by install()


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

# never re-point names inside these modules (they *are* the originals, or must keep them)
_SWEEP_SKIP = frozenset({
    __name__, "os", "posix", "nt", "io", "_io", "_pyio", "builtins", "_frozen_importlib",
    "_frozen_importlib_external", "importlib._bootstrap", "importlib._bootstrap_external", "zipimport",
})
# stdlib modules whose classes hold functions as class attributes
_CLASS_SWEEP = ("pathlib", "pathlib._local", "pathlib._abc", "glob", "shutil", "tempfile", "zipfile",
                "zipfile._path", "tarfile")


def _patch_core():
    global _GETCWD
    replacements = []
    for name in _PATH1 + _OPT1 + _TWO + tuple(_SPECIAL):
        orig = getattr(os, name, None)
        if orig is None:
            continue
        make = _SPECIAL.get(name) or (_mk_opt_path if name in _OPT1 else _mk_two_paths if name in _TWO else _mk_path1)
        new = make(orig)
        _orig[name] = orig
        _set_attr(os, name, new)
        replacements.append((orig, new))
        for sname in ("supports_dir_fd", "supports_fd", "supports_follow_symlinks", "supports_effective_ids"):
            sset = getattr(os, sname, None)
            if isinstance(sset, set) and orig in sset:
                _set_add(sset, new)
    _GETCWD = os.getcwd

    open_orig = builtins.open
    _orig["open_builtin"] = open_orig
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
        if mname in _SWEEP_SKIP or not isinstance(mod, type(sys)):
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
                if static or id(new) in _STAND_INS:  # a function would bind as a method
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
            if _STAND_INS.get(id(v)) is v:
                _set_class_attr(cls, k, staticmethod(v))


def _undo_all():
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
    _STAND_INS.clear()  # stand-ins still referenced elsewhere pass everything through now


# --------------------------------------------------------------------------------------------
# lazily patched libraries (C code that opens paths itself)
# --------------------------------------------------------------------------------------------
def _tr_value(v, uri=False):
    if isinstance(v, os.PathLike):
        f = os.fspath(v)
    elif isinstance(v, str):
        f = v
    else:
        return v
    if not isinstance(f, str):
        return v
    suffix = ""
    if uri:
        cut = [i for i in (f.find("?"), f.find("#")) if i >= 0]
        if cut:
            f, suffix = f[: min(cut)], f[min(cut):]
    r = _tr_str(f)
    if r is f:
        return v
    return r + suffix


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
        if _installed:
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


def _patch_xgboost(_mod):
    core = sys.modules.get("xgboost.core")
    if core is not None:
        dm = getattr(core, "DMatrix", None)
        if dm is not None:
            _patch_method(dm, "__init__", {"data": "uri"})
            _patch_method(dm, "save_binary", {"fname": "path"})
        bst = getattr(core, "Booster", None)
        if bst is not None:
            _patch_method(bst, "save_model", {"fname": "path"})
            _patch_method(bst, "load_model", {"fname": "path"})
            _patch_method(bst, "dump_model", {"fout": "path", "fmap": "path"})
            for meth in ("get_dump", "get_fscore", "get_score", "trees_to_dataframe"):
                _patch_method(bst, meth, {"fmap": "path"})
        it = getattr(core, "DataIter", None)
        if it is not None:
            _patch_method(it, "__init__", {"cache_prefix": "path"})
    sk = sys.modules.get("xgboost.sklearn")
    if sk is not None and getattr(sk, "XGBModel", None) is not None:
        _patch_method(sk.XGBModel, "save_model", {"fname": "path"})
        _patch_method(sk.XGBModel, "load_model", {"fname": "path"})


def _patch_numpy(_mod):
    ds = sys.modules.get("numpy.lib._datasource")
    table = getattr(getattr(ds, "_file_openers", None), "_file_openers", None)
    if isinstance(table, dict):
        o = _orig.get("open_builtin")
        if o is not None and table.get(None) is o:
            _set_item(table, None, builtins.open)


def _patch_sqlite3(_mod):
    for mname in ("sqlite3", "sqlite3.dbapi2"):
        m = sys.modules.get(mname)
        fn = getattr(m, "connect", None)
        if fn is not None and getattr(fn, "__overlay_orig__", None) is None:
            _set_attr(m, "connect", _mk_sqlite_connect(fn))


_LAZY = {
    "pathlib": _fix_class_bindings,
    "pathlib._local": _fix_class_bindings,
    "glob": _fix_class_bindings,
    "xgboost": _patch_xgboost,
    "xgboost.sklearn": _patch_xgboost,
    "numpy": _patch_numpy,
    "numpy.lib._datasource": _patch_numpy,
    "sqlite3": _patch_sqlite3,
}


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
        if _installed:
            _apply_lazy(self._name)


def _apply_lazy(name):
    fn = _LAZY.get(name)
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
        if fullname not in _LAZY or fullname in self._busy:
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
    if _installed and isinstance(entry, str) and entry[:1] == "/":
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


# --------------------------------------------------------------------------------------------
# install / uninstall
# --------------------------------------------------------------------------------------------
def _under(a, b):
    return a == b or a.startswith(b.rstrip("/") + "/")


def _normalize_mapping(mapping, cwd):
    out = {}
    for v, h in dict(mapping).items():
        v = os.fsdecode(os.fspath(v))
        h = os.fsdecode(os.fspath(h))
        if not v.startswith("/"):
            raise ValueError("virtual prefix must be an absolute path: %r" % (v,))
        v = _norm(v)
        if v == "/":
            raise ValueError("the file-system root can't be a virtual prefix")
        h = _norm(posixpath.join(cwd, os.path.expanduser(h)))
        if h == "/":
            raise ValueError("the file-system root can't be a host folder (for %r)" % (v,))
        out[v] = h
    for v in out:
        for h in out.values():
            if _under(h, v) or _under(v, h):
                raise ValueError("host folder %r and virtual prefix %r overlap" % (h, v))
    return out


def install(mapping):
    """Redirect file-system access at or below each virtual prefix to its host folder.

    ``mapping``: {virtual prefix: host folder}, e.g. {"/opt/ml": "<jobdir>/opt/ml"}.
    Longest prefix wins; paths outside every prefix are untouched.  Installing the same
    mapping again is harmless; a different mapping replaces the previous one.
    """
    global _table, _starts, _rev, _mapping, _installed, _FILEFINDER_HOOK
    if os.name != "posix":
        raise NotImplementedError("the path overlay supports POSIX systems (Linux, macOS) only")
    cwd_fn = _orig.get("getcwd") or os.getcwd
    new = _normalize_mapping(mapping, cwd_fn())
    if _installed and new == _mapping:
        return
    old_prefixes = tuple(_mapping)
    _table = _starts = _rev = ()  # the host folders must be reached as they are
    for h in new.values():
        os.makedirs(h, exist_ok=True)
    rev = []
    for v, h in new.items():
        rev.append((h, v))
        real = os.path.realpath(h)
        if real != h:
            rev.append((real, v))
    _table = tuple(sorted(new.items(), key=lambda kv: len(kv[0]), reverse=True))
    _starts = tuple(v for v, _ in _table)
    _rev = tuple(sorted(rev, key=lambda kv: len(kv[0]), reverse=True))
    _mapping = new
    if not _installed:
        _patch_core()
        if _FILEFINDER_HOOK is None:
            _FILEFINDER_HOOK = _make_filefinder_hook()
        sys.path_hooks.insert(0, _path_hook)
        sys.meta_path.insert(0, _FINDER)
        _installed = True
        for name in _LAZY:
            if name in sys.modules:
                _apply_lazy(name)
    _forget_importers(old_prefixes + _starts)
    _set_cwd(_real_getcwd())
    import json

    os.environ[ENV_VAR] = json.dumps(new, sort_keys=True)


def install_from_env():
    """Install the mapping exported by a parent's install() (for a child Python process). True if installed."""
    raw = os.environ.get(ENV_VAR)
    if not raw:
        return False
    import json

    install(json.loads(raw))
    return True


def uninstall():
    """Undo install(): every patched object gets its original back."""
    global _table, _starts, _rev, _mapping, _installed
    if _installed:
        old_prefixes = tuple(_mapping)
        _undo_all()
        while _path_hook in sys.path_hooks:
            sys.path_hooks.remove(_path_hook)
        while _FINDER in sys.meta_path:
            sys.meta_path.remove(_FINDER)
        _forget_importers(old_prefixes)
    _table = _starts = _rev = ()
    _mapping = {}
    _installed = False
    _set_cwd(None, "/")
    os.environ.pop(ENV_VAR, None)
