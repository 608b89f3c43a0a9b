"""Run at the start of every Python process a script-mode job starts: the job's /opt/ml overlay, there too.

A script-mode job puts this folder first on ``PYTHONPATH`` (and ``python``/``python3`` on ``PATH``
are the kit's interpreter), so a child Python - the ``python _repack_model.py`` of the SDK's repack
step's shell launcher, or one a training script starts with ``subprocess`` - installs the overlay
its parent exported (``LAB_HELPERS_OVERLAY``) before it runs, and sees the same ``/opt/ml``.  Then
any other ``sitecustomize`` further along ``sys.path`` runs, as it would have without this one.
"""

import os
import sys


def _install_overlay():
    if not os.environ.get("LAB_HELPERS_OVERLAY"):
        return
    try:
        from lab_helpers.local.jobs import overlay

        overlay.install_from_env()
    except Exception as exc:  # noqa: BLE001 - the child still runs, without the overlay
        print("[lab_helpers] this process does not see the job's /opt/ml: {}".format(exc), file=sys.stderr)


def _chain():
    here = os.path.dirname(os.path.abspath(__file__))
    saved = sys.path[:]
    me = sys.modules.pop("sitecustomize", None)
    try:
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
        import sitecustomize  # noqa: F401 - the next one, if any
    except ImportError:
        pass
    finally:
        sys.path[:] = saved
        if me is not None and "sitecustomize" not in sys.modules:
            sys.modules["sitecustomize"] = me


_install_overlay()
_chain()
