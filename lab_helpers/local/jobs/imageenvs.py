"""Each emulated image is a Python environment of its own, with the libraries that image ships.

A job for ``sagemaker-scikit-learn:0.23-1`` runs on that image's numpy, pandas and scikit-learn
(:mod:`..images.requirements`), not on the kit's.  The environment is built once per machine with
``uv`` (a virtual environment of the host's Python) and shared by every ``LAB_HOME``:

    <kit>/.image-envs/<repo>-<version>-<hash>/     the environment (bin/python, its site-packages)
    <kit>/.image-envs/uv-cache/                     uv's download cache
    <kit>/.image-envs/<name>.lock                   held while it is built (parallel jobs build it once)
    <kit>/.image-envs/forks/<hash>.sock             a warm fork server's socket (see :mod:`.forkclient`)

``LAB_IMAGE_ENVS`` moves that folder.  Where an exact version has no wheel for the host's Python, the
nearest later one that installs is used (and the job's log says so).  Where the environment cannot be
built (no network on a first use, ``LAB_IMAGE_ENVS=off``) the job runs on the kit's own environment,
with a one-line note in its log.  ``python3 kit.py setup`` builds the lesson's images ahead, so a class
needs no network.

Inside a job the image's site-packages come first; the kit's site-packages follow (anything the image
does not list, such as boto3, comes from the kit), see :mod:`.jobsite.sitecustomize`.
"""

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import sysconfig
import threading
from pathlib import Path

from ..images import requirements

ENV_VAR = "LAB_IMAGE_ENVS"
_KIT_ROOT = Path(__file__).resolve().parents[3]
_failed = {}  # env name -> the note of a build that failed in this process (not retried per job)
_lock = threading.Lock()


def root():
    """The folder that holds the image environments (``LAB_IMAGE_ENVS``, else beside the kit's .venv)."""
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured and configured.lower() != "off":
        return Path(configured).expanduser()
    if (_KIT_ROOT / "kit.py").is_file():
        return _KIT_ROOT / ".image-envs"
    return Path.home() / ".cache" / "lab-helpers" / "image-envs"


def kit_site_packages():
    """The kit environment's site-packages (a job finds there what its image does not list)."""
    paths = sysconfig.get_paths()
    return [p for p in dict.fromkeys([paths["purelib"], paths["platlib"]]) if os.path.isdir(p)]


def _name(repo, version, table):
    digest = hashlib.sha256(json.dumps([sys.version_info[:2], sorted(table.items())]).encode()).hexdigest()[:10]
    return f"{repo}-{version}-py{sys.version_info[0]}{sys.version_info[1]}-{digest}"


def _uv():
    try:
        import uv
    except ImportError:
        return None
    try:
        return uv.find_uv_bin()
    except FileNotFoundError:
        return None


class Environment:
    """An image's environment: ``python`` is its interpreter, or None for the kit's (with ``notes`` saying why)."""

    def __init__(self, python, notes):
        self.python = python
        self.notes = notes


def for_image(repo, version, build=True):
    """The environment a job of image ``repo:version`` runs in (built on first use when ``build``)."""
    table = requirements.libraries(repo, version)
    if not table:
        return Environment(None, [])
    if os.environ.get(ENV_VAR, "").strip().lower() == "off":
        return Environment(None, [f"[image] {repo}:{version} runs on the kit's own Python environment "
                                  f"({ENV_VAR}=off), not on the image's libraries."])
    name = _name(repo, version, table)
    folder = root() / name
    python = folder / "bin" / "python"
    done = folder / ".lab-built.json"
    if done.is_file():
        return Environment(str(python), json.loads(done.read_text()).get("notes", []))
    with _lock:
        if name in _failed:
            return Environment(None, [_failed[name]])
        if not build:
            return Environment(None, [])
        notes, problem = _build_locked(folder, name, table, done)
        if problem:
            _failed[name] = (f"[image] the {repo}:{version} environment could not be built ({problem}): the job "
                             "runs on the kit's own libraries instead. Run `python3 kit.py setup` with network "
                             "to build it.")
            return Environment(None, [_failed[name]])
    return Environment(str(python), notes)


def _build_locked(folder, name, table, done):
    """Build under a file lock (another process may be building it); returns (notes, problem or None)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.is_file():
            return json.loads(done.read_text()).get("notes", []), None
        return _build(folder, table, done)


def _run(uv, args, env):
    proc = subprocess.run([uv, *args], capture_output=True, text=True, env=env, timeout=900, check=False)
    if proc.returncode != 0:
        lines = [line for line in (proc.stderr or proc.stdout).strip().splitlines() if line.strip()]
        return " ".join(lines[-2:])[:400] or f"uv exited with {proc.returncode}"
    return None


def _build(folder, table, done):
    """Create the virtual environment and install the image's libraries (nearest that install)."""
    import shutil

    uv = _uv()
    if uv is None:
        return [], "uv is not installed in the kit's environment"
    env = dict(os.environ)
    env.setdefault("UV_CACHE_DIR", str(root() / "uv-cache"))
    env.pop("VIRTUAL_ENV", None)
    shutil.rmtree(folder, ignore_errors=True)
    scratch = folder.parent / (folder.name + ".building")
    shutil.rmtree(scratch, ignore_errors=True)
    base = getattr(sys, "_base_executable", None) or sys.executable
    problem = _run(uv, ["venv", "--quiet", "--seed", "--python", base, str(scratch)], env)
    if problem:
        shutil.rmtree(scratch, ignore_errors=True)
        return [], problem
    wanted = scratch / "requirements.in"
    wanted.write_text("".join(f"{dist}>={version}\n" for dist, version in sorted(table.items())))
    pinned = scratch / "requirements.txt"
    problem = _run(uv, ["pip", "compile", "--quiet", "--resolution", "lowest-direct", "--only-binary", ":all:",
                        "--no-header", "--no-annotate", "--python", str(scratch / "bin" / "python"),
                        "-o", str(pinned), str(wanted)], env) or _run(
        uv, ["pip", "install", "--quiet", "--only-binary", ":all:", "--python", str(scratch / "bin" / "python"),
             "-r", str(pinned)], env)
    if problem:
        shutil.rmtree(scratch, ignore_errors=True)
        return [], problem
    got = {}
    for line in pinned.read_text().splitlines():
        dist, sep, version = line.strip().partition("==")
        if sep:
            got[dist.lower()] = version.split(";")[0].strip()
    moved = [f"{dist} {got.get(dist.lower(), '?')} (image: {version})" for dist, version in sorted(table.items())
             if got.get(dist.lower()) != version]
    notes = [f"[image] on Python {sys.version_info[0]}.{sys.version_info[1]} the job runs on the nearest versions that "
             f"install where the image's own have no build for it: {', '.join(moved)}."] if moved else []
    (scratch / ".lab-built.json").write_text(json.dumps({"libraries": got, "notes": notes}, indent=1))
    os.replace(scratch, folder)  # the venv's scripts name their folder, but jobs run bin/python -m ... only
    _fix_paths(scratch, folder)
    return notes, None


def _fix_paths(old, new):
    """The environment was built under a scratch name: point its config and scripts at the final folder."""
    for path in [new / "pyvenv.cfg", *(new / "bin").iterdir()]:
        if path.is_file() and not path.is_symlink() and path.stat().st_size < 1_000_000:
            try:
                text = path.read_text()
            except (UnicodeDecodeError, OSError):
                continue
            if str(old) in text:
                path.write_text(text.replace(str(old), str(new)))


def lesson_ready():
    """True when every lesson image's environment is built (their jobs need nothing of the kit's libraries)."""
    return all(for_image(repo, version, build=False).python for repo, version in requirements.LESSON_IMAGES)


def build_lesson_images(echo=print):
    """Build the lesson's images' environments (``kit.py setup``); returns True when all are ready."""
    ok = True
    for repo, version in requirements.LESSON_IMAGES:
        env = for_image(repo, version)
        echo(f"image environment {repo}:{version}: {env.python or 'not built'}")
        for note in env.notes:
            echo("  " + note)
        ok = ok and env.python is not None
    return ok
