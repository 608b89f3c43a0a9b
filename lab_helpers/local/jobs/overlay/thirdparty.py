"""Fixes for libraries whose C code opens paths itself: xgboost, numpy's opener table, sqlite3.

``_LAZY`` names the modules to fix and how; :mod:`.importhook` applies an entry right after
that module is imported, and install() applies it to modules imported before.  pathlib and glob
are listed too (a stand-in stored as a class attribute must become a staticmethod).  The
sqlite3.connect stand-in lives here rather than in :mod:`.standins`, next to the patch that
installs it.  Layer 4 of the package: imports :mod:`.paths`, :mod:`.standins`, :mod:`.patching`.
"""

from __future__ import annotations

import builtins
import sys

from . import paths
from .patching import _fix_class_bindings, _patch_method, _set_attr, _set_item
from .paths import _tr, _tr_str
from .standins import _finish


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
        o = paths._orig.get("open_builtin")
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

