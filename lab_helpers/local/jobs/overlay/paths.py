"""Overlay state and path translation: virtual container paths <-> host paths, the virtual cwd.

The lowest layer of the overlay package (it imports nothing from its siblings).  The state
of the overlay lives here, once: the mapping tables that the hot path reads as module globals,
the installed flag, the virtual view of the current directory and the originals captured at the
first install.  The other modules read and write it through this module object
(``paths._table``, ``paths._installed``), never with ``from .paths import _table``, which would
copy a binding that install() later replaces.
"""

from __future__ import annotations

import os
import posixpath
import sys

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

_orig = {}             # original objects captured at the first install() (patching fills it)


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
    """Whether the overlay is installed in this process."""
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
# values handed to patched third-party methods (see patching._patch_method)
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


# --------------------------------------------------------------------------------------------
# the mapping
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



def _set_mapping(new):
    """Put a normalised mapping in force ({} clears it); missing host folders are created."""
    global _table, _starts, _rev, _mapping
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
