"""The lesson's two SDK tracks side by side: each track's environment, and the pipeline definitions they build.

The v2 track runs on the kit's environment (``.venv``, or ``KIT_VENV``), the v3 track on ``.venv-sdk3`` (or
``KIT_VENV_SDK3``); ``python3 kit.py setup`` and ``python3 kit.py setup --sdk 3`` make them.  One Python has one
SDK, so each definition is built in a child process on its track's Python, with a local session: offline, and
nothing is created (the child only uploads the lesson's data to the local S3 when it is not there yet).
Notebook 10 compares the two tracks with :func:`compare`.
"""

import json
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from . import sdk

KIT_ROOT = Path(__file__).resolve().parents[1]
#: Per SDK major version: the variable that moves the track's environment, its default folder, the set-up command
ENVIRONMENTS = {2: ("KIT_VENV", ".venv", "python3 kit.py setup"),
                3: ("KIT_VENV_SDK3", ".venv-sdk3", "python3 kit.py setup --sdk 3")}
BUILDERS = ("abalone", "outline")
#: A child process prints the definition on its last line, after this marker.
_MARK = "DEFINITION:"
_CHILD = ("import json, sys\n"
          "from lab_helpers import tracks\n"
          "print(%r + json.dumps(tracks.local_definition(sys.argv[1])))" % _MARK)


class TrackUnavailable(RuntimeError):
    """A track's environment is not set up here; the message says which command sets it up."""


def _check_builder(builder):
    """Stop with the choices when ``builder`` is not one of the lesson's pipelines."""
    if builder not in BUILDERS:
        raise ValueError(f"No lesson pipeline {builder!r}: use one of {', '.join(BUILDERS)}.")


def environment_python(major):
    """The Python of the kit's environment for SDK ``major`` (2 or 3): this kernel's when it has that SDK."""
    if major == sdk.major():
        return Path(sys.executable)
    variable, default, _ = ENVIRONMENTS[major]
    venv = Path(os.environ.get(variable) or KIT_ROOT / default)
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def local_definition(builder):
    """The definition (parsed JSON) of the lesson's ``builder`` pipeline ("abalone" or "outline"), built with this
    Python's SDK on a local session."""
    from . import pipelines, sessions

    _check_builder(builder)
    sess = sessions.local_session()
    return json.loads(getattr(pipelines, f"{builder}_pipeline")(sess).definition())


def definition(builder, major):
    """The definition (parsed JSON) SDK ``major`` builds for the lesson's ``builder`` pipeline, from that track's
    environment (a child process, offline; once per process and ``LAB_HOME``)."""
    _check_builder(builder)
    return json.loads(_definition_text(builder, major, environment_python(major), os.environ.get("LAB_HOME")))


@lru_cache(maxsize=None)
def _definition_text(builder, major, python, lab_home):
    """The definition as JSON text, built by a child process on ``python`` (``lab_home`` keys the cache only)."""
    if not python.exists():
        raise TrackUnavailable(f"The v{major} track's environment is not set up here (no {python}): run "
                               f"`{ENVIRONMENTS[major][2]}` in a terminal in the kit's folder, then run this cell again.")
    env = dict(os.environ, LAB_MODE="local",
               PYTHONPATH=os.pathsep.join(filter(None, [str(KIT_ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([str(python), "-c", _CHILD, builder], env=env, capture_output=True, text=True,
                          timeout=600, cwd=KIT_ROOT)
    last = proc.stdout.strip().splitlines()[-1:] or [""]
    if proc.returncode != 0 or not last[0].startswith(_MARK):
        raise TrackUnavailable(f"The v{major} track ({python}) could not build the {builder} pipeline:\n"
                               f"{proc.stderr.strip()[-2000:]}")
    return last[0][len(_MARK):]


def compare(builder="abalone"):
    """A table of every place the v2 and v3 tracks' definitions of one lesson pipeline differ, and why.

    Columns: ``path`` (steps by name), ``v2``, ``v3``, ``why`` (the documented reason from
    :data:`lab_helpers.sdk.V3_DEFINITION_DIFFERENCES`; "UNDOCUMENTED" where nobody has explained it).
    """
    import pandas as pd

    rows = sdk.definition_differences(definition(builder, 2), definition(builder, 3))
    return pd.DataFrame([{"path": path, "v2": _short(a), "v3": _short(b), "why": why or "UNDOCUMENTED"}
                         for path, a, b, why in rows], columns=["path", "v2", "v3", "why"])


def _short(value, width=60):
    """A definition value as one short line of text for a table."""
    text = "—" if value is None else json.dumps(value)
    return text if len(text) <= width else text[: width - 1] + "…"
