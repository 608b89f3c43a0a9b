#!/usr/bin/env python3
"""Set up and run the kit with nothing but Python 3.11 and pip.

    python3 kit.py setup   # set up .venv and register its Jupyter kernel "Lesson 7.1 – SageMaker SDK 2.x"
    python3 kit.py lab     # set up .venv with JupyterLab, then open the lesson's notebooks in it
    python3 kit.py run     # set up .venv, then run the full abalone pipeline offline
    python3 kit.py test    # set up .venv, then run the whole test suite (what CI runs)
    python3 kit.py setup --sdk 3   # the v3 track: .venv-sdk3 with SDK v3, kernel "Lesson 7.1 – SageMaker SDK 3.x"
    python3 kit.py lab --sdk 3     # JupyterLab on the v3 track's notebooks (notebooks/v3), with both kernels

Set-up is a virtual environment in ``.venv`` with the kit installed (editable) and its test
tools; it is redone only when ``pyproject.toml`` changes.  Set-up never installs anything into the
Python that runs ``kit.py`` (in SageMaker Studio: the image's own environment, with SDK v3): only
``venv`` and ``.venv``'s own pip.  ``setup`` also registers ``.venv`` as the Jupyter kernel
"Lesson 7.1 – SageMaker SDK 2.x" in your Jupyter data folder (``JUPYTER_DATA_DIR``, else e.g.
``~/.local/share/jupyter``): the kernel to pick in Studio.  ``KIT_VENV`` puts the environment
elsewhere than ``.venv``.  ``lab`` also installs JupyterLab (the ``lab`` extra), registers the same
kernel inside ``.venv`` only (not in your Jupyter folder) and copies the exercise notebooks once
into ``work/`` (git-ignored, never overwritten: your answers stay yours; the tracked ``notebooks/``
stay as built).  Extra arguments pass through: ``python3 kit.py run --param MseThreshold=0.5``,
``python3 kit.py test -k overlay``, ``python3 kit.py lab --no-browser --port 8890``;
``python3 kit.py lab --dry-run`` sets up and prints the command instead of starting JupyterLab.

The lesson has two tracks (lessons/FORMAT.md): v2, the code the lesson outline shows (``notebooks/``), and v3,
what Studio's images ship (``notebooks/v3/``).  ``--sdk 3`` sets up the v3 track's own environment,
``.venv-sdk3`` (``KIT_VENV_SDK3`` puts it elsewhere): SDK v3 as ``requirements-v3.txt`` pins it, the kit's
other dependencies and its ``test`` extra (as ``.venv``), and the kit's folder on its path; it is redone only when ``pyproject.toml`` or
``requirements-v3.txt`` changes, and registered as the kernel "Lesson 7.1 – SageMaker SDK 3.x".
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path



def venv_python(venv_dir):
    """The Python of the virtual environment in ``venv_dir``."""
    return Path(venv_dir) / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("KIT_VENV") or ROOT / ".venv").absolute()
PYTHON = venv_python(VENV)
STAMP = VENV / ".kit-installed"
LAB_STAMP = VENV / ".kit-lab-installed"
EXERCISES = ROOT / "notebooks"
WORK = ROOT / "work"  # the learner's own copy of the exercise notebooks (git-ignored)
KERNEL_NAME = "lesson-7-1-sdk2"  # the kernel the notebooks name (their kernelspec metadata)
KERNEL_DISPLAY_NAME = "Lesson 7.1 – SageMaker SDK 2.x"  # what JupyterLab's kernel picker shows
#: Per SDK major version (track): the kernel's name and display name, its environment, the exercises it opens
KERNELS = {2: (KERNEL_NAME, KERNEL_DISPLAY_NAME), 3: ("lesson-7-1-sdk3", "Lesson 7.1 – SageMaker SDK 3.x")}
VENV_SDK3 = Path(os.environ.get("KIT_VENV_SDK3") or ROOT / ".venv-sdk3").absolute()
V3_REQUIREMENTS = ROOT / "requirements-v3.txt"
PYTHONS = ((3, 10), (3, 12))  # the Pythons the kit's packages install on (pyproject's requires-python)


def _check_python():
    """Stop with the fix when the calling Python cannot run the kit's packages."""
    if not PYTHONS[0] <= sys.version_info[:2] <= PYTHONS[1]:
        raise SystemExit(f"The kit's packages need Python 3.10-3.12 (3.11 is the one it is made and tested for); "
                         f"this is {sys.version.split()[0]} ({sys.executable}). Run set-up with another Python, "
                         "e.g. `python3.11 kit.py setup`.")
    if sys.version_info[:2] != (3, 11):
        print(f"note: the kit is made and tested for Python 3.11; this is {sys.version.split()[0]}, so {VENV.name} "
              "gets that Python (the kit's packages install on 3.10-3.12).", file=sys.stderr)


def setup():
    """Create .venv with the calling Python's ``venv``; install the kit into it (only into it), once per pyproject."""
    _check_python()
    want = _pyproject_hash()
    if PYTHON.exists() and STAMP.exists() and STAMP.read_text().strip() == want:
        _image_environments()
        return
    if not PYTHON.exists():
        print(f"Creating {VENV} …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print(f"Installing the kit and its tools into {VENV} (first time: a few minutes) …", flush=True)
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


def kit_dependencies_without_sdk():
    """The kit's dependencies and its ``test`` extra (kernel, notebook runner, the AWS emulator notebook 08 uses
    offline) from pyproject.toml, less its ``sagemaker<3`` pin: what the v3 environment has besides SDK v3."""
    try:
        import tomllib
    except ImportError:  # Python 3.10: pip carries the same parser
        from pip._vendor import tomli as tomllib
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["test"]
    return [dep for dep in wanted if not dep.replace("-", "_").lower().startswith("sagemaker")]


def sdk3_requirements():
    """Everything the v3 environment installs: requirements-v3.txt's SDK v3 pins, then the kit's other packages."""
    pins = [line.strip() for line in V3_REQUIREMENTS.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#")]
    return pins + kit_dependencies_without_sdk()


def setup_sdk3(venv_dir=VENV_SDK3):
    """Create the v3 track's environment (``.venv-sdk3``) once per pyproject.toml and requirements-v3.txt; its python.

    SDK v3 and the kit's other dependencies are installed with pip; the kit itself is put on the environment's
    path with a ``.pth`` file (an editable install would ask for the kit's own ``sagemaker<3``).
    """
    _check_python()
    venv_dir = Path(venv_dir)
    python = venv_python(venv_dir)
    stamp = venv_dir / ".kit-installed"
    want = hashlib.sha256("\n".join(sdk3_requirements()).encode()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text().strip() == want:
        return python
    if not python.exists():
        print(f"Creating {venv_dir} (the v3 track's environment) …", flush=True)
        venv.EnvBuilder(with_pip=True).create(venv_dir)
    print(f"Installing SageMaker SDK v3 and the kit's dependencies into {venv_dir} (first time: a few minutes) …",
          flush=True)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    subprocess.run(pip + ["--upgrade", "pip"], check=True)
    subprocess.run(pip + sdk3_requirements(), check=True)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "lesson-7-1-kit.pth").write_text(str(ROOT) + "\n", encoding="utf-8")
    stamp.write_text(want)
    return python


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


def jupyter_data_dir():
    """The user's Jupyter data folder, as Jupyter finds it: ``JUPYTER_DATA_DIR``, else the platform's default."""
    if os.environ.get("JUPYTER_DATA_DIR"):
        return Path(os.environ["JUPYTER_DATA_DIR"]).expanduser()
    if os.name == "nt":
        return Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming") / "jupyter"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Jupyter"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "jupyter"


def write_kernel_spec(venv_dir, python, data_dir=None, sdk=2):
    """Write the kit's kernel for SDK ``sdk`` (running ``python``) into ``venv_dir``'s Jupyter folder, or ``data_dir``."""
    data_dir = Path(venv_dir) / "share" / "jupyter" if data_dir is None else Path(data_dir)
    name, display_name = KERNELS[sdk]
    folder = data_dir / "kernels" / name
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": display_name, "language": "python",
            "metadata": {"debugger": True}}
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return folder


def register_kernel(python=PYTHON, data_dir=None, sdk=2):
    """Register a kit environment as the user's Jupyter kernel; check first that it starts the kit with SDK ``sdk``."""
    probe = ("import importlib.metadata as m, importlib.util as u, ipykernel; "
             "assert u.find_spec('lab_helpers'), 'No module named lab_helpers'; print(m.version('sagemaker'), end='')")
    result = subprocess.run([str(python), "-c", probe], capture_output=True, text=True)
    venv_dir, command = (VENV, "python3 kit.py setup") if sdk == 2 else (VENV_SDK3, "python3 kit.py setup --sdk 3")
    if result.returncode != 0 or not result.stdout.startswith(f"{sdk}."):
        raise SystemExit(f"{python} cannot be the kit's kernel (it needs ipykernel, lab_helpers and SageMaker SDK "
                         f"{sdk}.x): {(result.stderr.strip().splitlines() or [result.stdout])[-1]}. Delete "
                         f"{venv_dir} and run `{command}` again.")
    folder = write_kernel_spec(venv_dir, python, data_dir=jupyter_data_dir() if data_dir is None else data_dir,
                               sdk=sdk)
    name, display_name = KERNELS[sdk]
    print(f"Kernel '{display_name}' ({name}: {python}, SageMaker SDK {result.stdout}) "
          f"registered in {folder}.\nIn JupyterLab or SageMaker Studio, open a notebook and pick that kernel "
          "(Kernel → Change Kernel…; reload the page if it is not listed yet).\n"
          f"The Python that ran this set-up ({sys.executable}) was not changed.", flush=True)
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


def lab(rest, venv_dir=VENV, python=PYTHON, work=WORK, sdk3_python=None):
    """Prepare the working copy and the kernel, then start JupyterLab (``--dry-run``: print the command only).

    With ``sdk3_python`` (the v3 track), the working copy is of ``notebooks/v3`` (in ``work/v3``) and the v3
    kernel is written beside the v2 one.
    """
    dry_run = "--dry-run" in rest
    rest = [arg for arg in rest if arg != "--dry-run"]
    if sdk3_python is not None:
        work = Path(work) / "v3"
        copied = make_work_copy(source=EXERCISES / "v3", target=work)
        write_kernel_spec(venv_dir, sdk3_python, sdk=3)
    else:
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
    sdk = 2
    if rest[:2] in (["--sdk", "3"], ["--sdk", "2"]) and command in ("setup", "lab"):
        sdk, rest = int(rest[1]), rest[2:]
    elif "--sdk" in rest:
        print("--sdk comes right after `setup` or `lab`, and is 2 (the default) or 3: e.g. `python3 kit.py setup --sdk 3`.")
        return 2
    if command == "setup":
        if sdk == 3:
            register_kernel(setup_sdk3(), sdk=3)
            return 0
        setup()
        register_kernel()
        return 0
    if command == "lab":
        setup_lab()
        return lab(rest, sdk3_python=setup_sdk3() if sdk == 3 else None)
    if command == "test":
        setup_lab()  # the suite starts JupyterLab too (tests/test_browser.py, tests/test_kit_lab.py)
    else:
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
