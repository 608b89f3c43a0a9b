"""In-process path overlay: container paths such as ``/opt/ml/...`` resolve to per-job host folders.

A SageMaker script hard-codes container paths (``/opt/ml/processing/input/abalone.csv``,
``/opt/ml/model``, ``/opt/ml/input/data/train``).  The kit runs every job as a host Python
process instead of a container, so inside that process we call::

    from lab_helpers.local.jobs import overlay
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

Layout
------
The package is layered: each module imports only the ones above it in this list.  Each piece
of module-level state is defined once, in the module that owns it (the mapping, installed flag,
virtual cwd and captured originals in ``paths``; the undo log in ``patching``; the registry of
stand-ins in ``standins``), and other modules reach it through that module object:

``paths``       state, translation virtual <-> host, the virtual cwd, mapping validation
``standins``    the stand-ins for os/io/builtins functions, ``os.DirEntry`` and ``io.FileIO``
``patching``    putting stand-ins in place, re-pointing earlier aliases, undoing it all
``thirdparty``  xgboost, numpy and sqlite3 fixes (``_LAZY``: which module gets which fix)
``importhook``  the post-import finder that applies ``_LAZY``; virtual ``sys.path`` entries
``__init__``    the public API below: install/uninstall tie the layers together

Only the standard library is used, so the package can also be loaded by file location
(``importlib.util.spec_from_file_location`` with ``submodule_search_locations``) by a Python
that cannot import ``lab_helpers``.
"""

from __future__ import annotations

import os

from . import importhook, patching, paths
from .paths import current_mapping, is_installed, to_virtual, translate
from .standins import FileIO  # noqa: F401 - a public name of the module before it became a package

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


def install(mapping):
    """Redirect file-system access at or below each virtual prefix to its host folder.

    ``mapping``: {virtual prefix: host folder}, e.g. {"/opt/ml": "<jobdir>/opt/ml"}.
    Longest prefix wins; paths outside every prefix are untouched.  Installing the same
    mapping again is harmless; a different mapping replaces the previous one.
    """
    if os.name != "posix":
        raise NotImplementedError("the path overlay supports POSIX systems (Linux, macOS) only")
    cwd_fn = paths._orig.get("getcwd") or os.getcwd
    new = paths._normalize_mapping(mapping, cwd_fn())
    if paths._installed and new == paths._mapping:
        return
    old_prefixes = tuple(paths._mapping)
    paths._set_mapping(new)
    if not paths._installed:
        patching._patch_core()
        importhook._add_hooks()
        paths._installed = True
        importhook._patch_imported()
    importhook._forget_importers(old_prefixes + paths._starts)
    paths._set_cwd(paths._real_getcwd())
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
    if paths._installed:
        old_prefixes = tuple(paths._mapping)
        patching._undo_all()
        importhook._remove_hooks()
        importhook._forget_importers(old_prefixes)
    paths._set_mapping({})
    paths._installed = False
    paths._set_cwd(None, "/")
    os.environ.pop(ENV_VAR, None)
