#!/usr/bin/env python3
"""Set up and run the kit with nothing but Python 3.11 and pip.

    python3 kit.py lab     # set up .venv with JupyterLab, then open the lesson's notebooks in it
    python3 kit.py run     # set up .venv, then run the full abalone pipeline offline
    python3 kit.py test    # set up .venv, then run the whole test suite (what CI runs)

Set-up is a virtual environment in ``.venv`` with the kit installed (editable) and its test
tools; it is redone only when ``pyproject.toml`` changes.  ``lab`` also installs JupyterLab (the
``lab`` extra), registers the kit's kernel inside ``.venv`` and copies the exercise notebooks once
into ``work/`` (git-ignored, never overwritten: your answers stay yours; the tracked ``notebooks/``
stay as built).  Extra arguments pass through: ``python3 kit.py run --param MseThreshold=0.5``,
``python3 kit.py test -k overlay``, ``python3 kit.py lab --no-browser --port 8890``;
``python3 kit.py lab --dry-run`` sets up and prints the command instead of starting JupyterLab.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".kit-installed"
LAB_STAMP = VENV / ".kit-lab-installed"
EXERCISES = ROOT / "notebooks"
WORK = ROOT / "work"  # the learner's own copy of the exercise notebooks (git-ignored)
KERNEL_NAME = "python3"  # the kernel the notebooks name


def setup():
    if sys.version_info[:2] != (3, 11):
        print(f"note: the kit is made for Python 3.11; this is {sys.version.split()[0]}.", file=sys.stderr)
    want = _pyproject_hash()
    if PYTHON.exists() and STAMP.exists() and STAMP.read_text().strip() == want:
        _image_environments()
        return
    if not PYTHON.exists():
        print("Creating .venv …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("Installing the kit and its tools into .venv (first time: a few minutes) …", flush=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    subprocess.run(pip + ["--upgrade", "pip"], check=True)
    subprocess.run(pip + ["-e", f"{ROOT}[test]"], check=True)
    STAMP.write_text(want)
    _image_environments()


def _image_environments():
    """Build the Python environments of the lesson's images (once; a class then needs no network)."""
    code = ("import sys; from lab_helpers.local.jobs import imageenvs; "
            "sys.exit(0 if imageenvs.build_lesson_images(lambda line: None) else 1)")
    if subprocess.run([str(PYTHON), "-c", code], cwd=ROOT, check=False).returncode != 0:
        print("note: the lesson's image environments could not be built (no network?): jobs run on the kit's "
              "own libraries until `python3 kit.py setup` can build them.", file=sys.stderr)


def _pyproject_hash():
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def setup_lab():
    """Set up .venv, then install JupyterLab into it (the ``lab`` extra), once per pyproject.toml."""
    setup()
    want = _pyproject_hash()
    if LAB_STAMP.exists() and LAB_STAMP.read_text().strip() == want:
        return
    print("Installing JupyterLab into .venv (first time: a minute or two) …", flush=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
                    "-e", f"{ROOT}[test,lab]"], check=True)
    LAB_STAMP.write_text(want)


def write_kernel_spec(venv_dir, python):
    """Write the kernel ``python3`` (running ``python``) into the environment ``venv_dir`` (not the user's)."""
    folder = Path(venv_dir) / "share" / "jupyter" / "kernels" / KERNEL_NAME
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (SageMaker lab kit)", "language": "python",
            "metadata": {"debugger": True}}
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")
    return folder


def make_work_copy(source=EXERCISES, target=WORK):
    """Copy the exercise notebooks into ``target``: only those not there yet, so no answer is ever overwritten."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for notebook in sorted(Path(source).glob("[0-9][0-9]_*.ipynb")):
        if not (target / notebook.name).exists():
            shutil.copy2(notebook, target / notebook.name)
            copied.append(notebook.name)
    return copied


def lab_command(rest=(), venv_dir=VENV, python=PYTHON, work=WORK):
    """The command and environment that open JupyterLab on the working copy, with the kit's kernel found first."""
    env = dict(os.environ)
    data = str(Path(venv_dir) / "share" / "jupyter")
    env["JUPYTER_PATH"] = data + (os.pathsep + env["JUPYTER_PATH"] if env.get("JUPYTER_PATH") else "")
    command = [str(python), "-m", "jupyterlab", f"--ServerApp.root_dir={work}", *rest]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in command:
        command.append("--allow-root")  # JupyterLab refuses to start as root without it (containers, CI machines)
    return command, env


def lab(rest, venv_dir=VENV, python=PYTHON, work=WORK):
    """Prepare the working copy and the kernel, then start JupyterLab (``--dry-run``: print the command only)."""
    dry_run = "--dry-run" in rest
    rest = [arg for arg in rest if arg != "--dry-run"]
    copied = make_work_copy(target=work)
    print(f"Your notebooks: {work} ({len(copied)} copied now; existing ones are kept as they are)", flush=True)
    write_kernel_spec(venv_dir, python)
    command, env = lab_command(rest, venv_dir, python, work)
    if dry_run:
        print(" ".join(command))
        return 0
    return subprocess.call(command, env=env, cwd=work)


def main(argv):
    if not argv or argv[0] not in ("run", "test", "setup", "lab"):
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "lab":
        setup_lab()
        return lab(rest)
    setup()
    env = dict(os.environ)
    if command == "run":
        env.setdefault("LAB_MODE", "local")
        return subprocess.call([str(PYTHON), "-m", "lab_helpers", "run", *rest], env=env, cwd=ROOT)
    if command == "test":
        code = subprocess.call([str(PYTHON), "-m", "pytest", *rest], env=env, cwd=ROOT)
        return code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
