"""A Studio-safe install: setting the kit up never changes the Python it was started from.

SageMaker Studio's images ship SageMaker SDK v3 in the environment JupyterLab itself runs in; the kit is SDK v2
code.  ``python3 kit.py setup`` builds the kit's own environment and registers it as the Jupyter kernel
"Lesson 7.1 – SageMaker SDK 2.x"; every notebook's first cell, notebook 00's SDK checkpoint and
``python -m lab_helpers check`` tell a learner on another kernel which one to pick.

* Quick tests: the kernel guard (the same few lines at the top of every lesson's set-up cell) run by Pythons
  without the kit, with a v3 SDK, and in the kit's own environment; where the kernel is registered; that
  set-up only ever runs the new environment's pip; that no instruction tells a learner to install ``sagemaker``.
* The stand-in test: a virtual environment with SDK v3 (``sagemaker==3.12.0`` and its family, as in a current
  Studio image, and ipykernel) plays the image. It is built once per machine into the git-ignored ``.kit-cache/`` (pip's cache
  makes a rebuild quicker). From it, ``kit.py setup`` builds a fresh kit environment in a temporary folder
  (``KIT_VENV``) and registers its kernel in a temporary ``JUPYTER_DATA_DIR``; then the stand-in's package list
  and files are unchanged, its own v3 modules still import, the kernel is found by Jupyter and runs notebooks
  offline, the stand-in's kernel stops notebook 00 at its first cell with the fix, and ``check`` run by the
  stand-in prints the fix and exits 1.  On two cores, with the stand-in cached: 1.5-2.5 minutes (the kit's
  set-up 50-150 s with pip's cache warm, three notebooks 25-60 s); building the stand-in the first time adds
  2.5-4 minutes (1 GB; downloads unless pip's cache has them).
"""

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest
import sdk_envs
from sdk_envs import kit as _kit

ROOT = Path(__file__).resolve().parents[1]
LESSONS = ROOT / "lessons"
KERNEL_NAME = "lesson-7-1-sdk2"
KERNEL_DISPLAY_NAME = "Lesson 7.1 – SageMaker SDK 2.x"
#: What stands in for the Studio image: its SDK v3 as one release family (sagemaker 3.12.0 alone would pull the
#: newest sagemaker-core/-train/-serve/-mlops, unlike an image) and ipykernel, the image's own kernel.
STANDIN_REQUIREMENTS = ("sagemaker==3.12.0", "sagemaker-core==2.12.0", "sagemaker-train==1.12.0",
                        "sagemaker-serve==1.12.0", "sagemaker-mlops==1.12.0", "ipykernel")
STANDIN_CACHE = ROOT / ".kit-cache"
GUARD_FIRST_LINE = "# Kernel check (imports nothing from the kit)"
KERNEL_CHECK_MARKER = "# KERNEL CHECK"  # the lessons' line that the build replaces with lessons/kernel_check.py


def _build_tool():
    spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "tools" / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _guard(track="v2"):
    """The kernel guard a track's notebooks start with (its one source, lessons/kernel_check.py, for that track)."""
    guard = _build_tool().kernel_check(track) + "\n"
    assert guard.startswith(GUARD_FIRST_LINE) and "$" not in guard
    return guard


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(extra)
    return env


# --------------------------------------------------------------------------- the kernel guard (quick)


def test_every_lesson_starts_with_the_same_kernel_guard():
    sources = sorted(LESSONS.glob("[0-9][0-9]_*.py"))
    first_lines = {path.name: path.read_text(encoding="utf-8").split("\n# %%\n", 1)[1].split("\n", 1)[0]
                   for path in sources}
    assert set(first_lines.values()) == {KERNEL_CHECK_MARKER}, first_lines
    import nbformat

    tracks = {"v2": (("notebooks", "solutions"), KERNEL_NAME, KERNEL_DISPLAY_NAME),
              "v3": (("notebooks/v3", "solutions/v3"), "lesson-7-1-sdk3", "Lesson 7.1 – SageMaker SDK 3.x")}
    for track, (folders, name, display_name) in tracks.items():
        reference = _guard(track)
        assert "import lab_helpers" not in reference and "from lab_helpers" not in reference
        assert f"Switch the kernel to '{display_name}'" in reference
        for folder in folders:
            paths = sorted((ROOT / folder).glob("[0-9][0-9]_*.ipynb"))
            assert len(paths) == len(sources), f"{folder}: a lesson is missing"
            for path in paths:
                nb = nbformat.read(path, as_version=4)
                first = next(cell for cell in nb.cells if cell.cell_type == "code")
                assert first.source.startswith(reference.rstrip("\n")), f"{folder}/{path.name}: no kernel check first"
                assert nb.metadata.kernelspec == {"display_name": display_name, "language": "python", "name": name}


def _run_guard(python_args, env, cwd, track="v2"):
    guard = _guard(track)
    return subprocess.run([*python_args, "-c", guard], capture_output=True, text=True, env=env, cwd=cwd, timeout=60)


def _fake_distribution(folder, name, version):
    info = folder / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def test_guard_on_a_python_without_the_kit_or_the_sdk_says_which_kernel_to_pick(tmp_path):
    # -I -S: no site-packages, so neither the SDK nor lab_helpers
    result = _run_guard([sys.executable, "-I", "-S"], _clean_env(), tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    message = result.stderr.strip()
    assert message == (f"This notebook is running on {sys.executable}, which has SageMaker SDK none and no "
                       f"lab_helpers. Switch the kernel to '{KERNEL_DISPLAY_NAME}' (Kernel → Change Kernel…); if it "
                       "isn't listed, run `python3 kit.py setup` in a terminal in the kit's folder.")


def test_guard_names_the_v3_sdk_of_studios_own_kernel(tmp_path):
    _fake_distribution(tmp_path, "sagemaker", "3.12.0")
    result = _run_guard([sys.executable, "-S"], _clean_env(PYTHONPATH=str(tmp_path)), tmp_path)
    assert result.returncode == 1
    assert "which has SageMaker SDK 3.12.0 and no lab_helpers. Switch the kernel to" in result.stderr
    (tmp_path / "lab_helpers").mkdir()  # the kit on the path, yet the SDK is v3: still the wrong kernel
    (tmp_path / "lab_helpers" / "__init__.py").write_text("")
    result = _run_guard([sys.executable, "-S"], _clean_env(PYTHONPATH=str(tmp_path)), tmp_path)
    assert result.returncode == 1 and "which has SageMaker SDK 3.12.0. Switch the kernel to" in result.stderr


def test_v3_guard_sends_the_v2_environment_and_studios_own_kernel_to_the_v3_kernel(tmp_path):
    result = _run_guard([sys.executable], _clean_env(PYTHONPATH=str(ROOT)), tmp_path, track="v3")
    assert result.returncode == 1 and "which has SageMaker SDK 2." in result.stderr
    assert ("Switch the kernel to 'Lesson 7.1 – SageMaker SDK 3.x' (Kernel → Change Kernel…); if it isn't listed, "
            "run `python3 kit.py setup --sdk 3` in a terminal in the kit's folder.") in result.stderr
    _fake_distribution(tmp_path, "sagemaker", "3.12.0")  # Studio's own kernel: v3, but not the kit
    result = _run_guard([sys.executable, "-S"], _clean_env(PYTHONPATH=str(tmp_path)), tmp_path, track="v3")
    assert result.returncode == 1 and "which has SageMaker SDK 3.12.0 and no lab_helpers." in result.stderr
    (tmp_path / "lab_helpers").mkdir()  # the kit and SDK 3.x: the v3 track's notebooks go on
    (tmp_path / "lab_helpers" / "__init__.py").write_text("")
    result = _run_guard([sys.executable, "-S"], _clean_env(PYTHONPATH=str(tmp_path)), tmp_path, track="v3")
    assert (result.returncode, result.stderr) == (0, "")


def test_guard_is_silent_in_the_kits_own_environment(tmp_path):
    result = _run_guard([sys.executable], _clean_env(PYTHONPATH=str(ROOT)), tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


# --------------------------------------------------------------------------- kit.py setup (quick)


def test_the_kernel_names_agree_across_kit_preflight_and_notebooks():
    from lab_helpers import preflight

    kit = _kit()
    assert (kit.KERNEL_NAME, kit.KERNEL_DISPLAY_NAME) == (KERNEL_NAME, KERNEL_DISPLAY_NAME)
    assert preflight.KIT_KERNEL == KERNEL_DISPLAY_NAME


def test_jupyter_data_dir_is_the_users_as_jupyter_finds_it(tmp_path, monkeypatch):
    kit = _kit()
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jd"))
    assert kit.jupyter_data_dir() == tmp_path / "jd"
    monkeypatch.delenv("JUPYTER_DATA_DIR")
    if os.name == "posix" and sys.platform != "darwin":
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
        assert kit.jupyter_data_dir() == tmp_path / "xdg" / "jupyter"
        monkeypatch.delenv("XDG_DATA_HOME")
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        assert kit.jupyter_data_dir() == tmp_path / "home" / ".local" / "share" / "jupyter"
    from jupyter_core.paths import jupyter_data_dir

    assert kit.jupyter_data_dir() == Path(jupyter_data_dir())  # the same folder Jupyter itself reads


def test_register_kernel_checks_the_environment_then_writes_the_users_kernel(tmp_path, capsys):
    kit = _kit()
    folder = kit.register_kernel(python=sys.executable, data_dir=tmp_path)  # this is a kit environment
    spec = json.loads((tmp_path / "kernels" / KERNEL_NAME / "kernel.json").read_text(encoding="utf-8"))
    assert folder == tmp_path / "kernels" / KERNEL_NAME
    assert spec == {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                    "display_name": KERNEL_DISPLAY_NAME, "language": "python", "metadata": {"debugger": True}}
    assert "pick that kernel (Kernel → Change Kernel…" in capsys.readouterr().out
    not_a_kit = tmp_path / "bare-python"  # a Python without ipykernel, lab_helpers or the SDK
    not_a_kit.write_text(f'#!/bin/sh\nexec "{sys.executable}" -I -S "$@"\n')
    not_a_kit.chmod(0o755)
    with pytest.raises(SystemExit, match=r"cannot be the kit's kernel .*No module named 'ipykernel'"):
        kit.register_kernel(python=not_a_kit, data_dir=tmp_path / "other")
    assert not (tmp_path / "other").exists()


def test_setup_runs_only_the_new_environments_pip(tmp_path, monkeypatch):
    kit = _kit()
    created, commands = [], []
    monkeypatch.setattr(kit, "VENV", tmp_path / "env")
    monkeypatch.setattr(kit, "PYTHON", tmp_path / "env" / "bin" / "python")
    monkeypatch.setattr(kit, "STAMP", tmp_path / "env" / ".kit-installed")
    monkeypatch.setattr(kit.venv.EnvBuilder, "create", lambda self, where: (created.append(Path(where)),
                                                                            Path(where).mkdir()))
    def run(command, check, **options):
        commands.append(command)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(kit.subprocess, "run", run)
    kit.setup()
    python = str(tmp_path / "env" / "bin" / "python")
    assert created == [tmp_path / "env"]
    assert commands and all(c[0] == python for c in commands), "setup runs only the new environment's Python"
    pips = [c for c in commands if c[1:3] == ["-m", "pip"]]
    assert pips[-1][-2:] == ["-e", f"{kit.ROOT}[test]"], "ipykernel comes with the test extra"
    others = [c for c in commands if c not in pips]  # the lesson's image environments, built by the new Python
    assert all(c[1] == "-c" and "imageenvs" in c[2] for c in others), others
    assert kit.STAMP.read_text() == kit._pyproject_hash()


def test_setup_of_the_v3_track_runs_only_its_new_environments_pip(tmp_path, monkeypatch):
    kit = _kit()
    created, commands = [], []

    def create(self, where):
        created.append(Path(where))
        (Path(where) / "bin").mkdir(parents=True)
        (Path(where) / "bin" / "python").touch()

    monkeypatch.setattr(kit.venv.EnvBuilder, "create", create)
    site = tmp_path / "site-packages"
    site.mkdir()

    def run(command, check, **options):
        commands.append(command)
        return subprocess.CompletedProcess(command, 0, stdout=f"{site}\n" if command[1] == "-c" else "")

    monkeypatch.setattr(kit.subprocess, "run", run)
    python = kit.setup_sdk3(tmp_path / "env3")
    assert python == tmp_path / "env3" / "bin" / "python" and created == [tmp_path / "env3"]
    assert commands and all(c[0] == str(python) for c in commands), "setup --sdk 3 runs only the new environment"
    installs = [c for c in commands if c[1:4] == ["-m", "pip", "install"] and "--upgrade" not in c]
    assert len(installs) == 1 and "sagemaker==3.12.0" in installs[0] and "sagemaker-mlops==1.12.0" in installs[0]
    assert not any(arg.startswith("sagemaker>=2") or arg == "-e" for arg in installs[0]), "never the v2 pin"
    assert "ipykernel>=6.29" in installs[0]
    assert (site / "lesson-7-1-kit.pth").read_text(encoding="utf-8").strip() == str(kit.ROOT)
    commands.clear()
    assert kit.setup_sdk3(tmp_path / "env3") == python and commands == [], "set up once per requirements"


def test_setup_refuses_a_python_the_kits_packages_do_not_install_on(monkeypatch):
    kit = _kit()
    monkeypatch.setattr(kit.sys, "version_info", (3, 13, 0, "final", 0))
    with pytest.raises(SystemExit, match=r"need Python 3\.10-3\.12 .*`python3\.11 kit\.py setup`"):
        kit.setup()


def test_kit_venv_moves_the_environment(tmp_path):
    code = "import runpy; k = runpy.run_path('kit.py'); print(k['VENV'], k['PYTHON'], sep='\\n')"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env=_clean_env(KIT_VENV=str(tmp_path / "env"))).stdout.split()
    assert out[0] == str(tmp_path / "env") and out[1].startswith(str(tmp_path / "env"))


def test_no_instruction_installs_the_sdk_into_the_running_environment():
    tracked = subprocess.run(["git", "ls-files", "README.md", "docs", "lessons", "lab_helpers", "notebooks",
                              "solutions", "kit.py"], cwd=ROOT, capture_output=True, text=True, check=True)
    offenders = []
    for name in tracked.stdout.split():
        path = ROOT / name
        if path.suffix in (".md", ".py", ".ipynb") and path.is_file():
            text = path.read_text(encoding="utf-8").replace('\\"', '"')
            if 'pip install "sagemaker' in text or "pip install sagemaker" in text or "pip install 'sagemaker" in text:
                offenders.append(name)
    assert offenders == []


# --------------------------------------------------------------------------- the Studio stand-in (minutes)


def _standin():
    """The cached stand-in for a Studio image: a virtual environment with SDK v3 and ipykernel; its python."""
    key = hashlib.sha256(" ".join((*STANDIN_REQUIREMENTS, sys.version)).encode()).hexdigest()[:12]
    folder = STANDIN_CACHE / f"studio-standin-{key}"
    python = folder / "bin" / "python"
    if not (folder / ".complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        venv.EnvBuilder(with_pip=True).create(folder)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
                        *STANDIN_REQUIREMENTS], check=True, env=_clean_env(), timeout=1200)
        (folder / ".complete").write_text(" ".join(STANDIN_REQUIREMENTS) + "\n")
    return python


def _snapshot(python):
    """The environment's ``pip freeze --all`` and a hash of its site-packages (files and sizes; no bytecode)."""
    freeze = subprocess.run([str(python), "-m", "pip", "freeze", "--all", "--disable-pip-version-check"],
                            capture_output=True, check=True, env=_clean_env()).stdout
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True, env=_clean_env()).stdout.strip())
    digest = hashlib.sha256()
    for path in sorted(site.rglob("*")):
        if "__pycache__" not in path.parts and path.is_file():
            digest.update(f"{path.relative_to(site)}\0{path.stat().st_size}\n".encode())
    return freeze, digest.hexdigest()


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """The stand-in set up from: ``<stand-in python> kit.py setup`` into a fresh temporary kit environment."""
    if os.name != "posix":
        pytest.skip("the stand-in is built with POSIX paths")
    started = time.perf_counter()
    python = _standin()
    built = time.perf_counter() - started
    before = _snapshot(python)
    base = tmp_path_factory.mktemp("studio")
    kit_env, data_dir = base / "kit-env", base / "jupyter"
    env = _clean_env(KIT_VENV=str(kit_env), JUPYTER_DATA_DIR=str(data_dir))
    result = subprocess.run([str(python), str(ROOT / "kit.py"), "setup"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=1800)
    took = time.perf_counter() - started - built
    print(f"\nStudio stand-in: ready in {built:.0f} s; kit.py setup from it in {took:.0f} s")
    # the v3 track's set-up from the stand-in, into the v3 environment the tests share (built once, then reused)
    v3_python = sdk_envs.v3_python()
    env3 = dict(env, KIT_VENV_SDK3=str(v3_python.parent.parent))
    result3 = subprocess.run([str(python), str(ROOT / "kit.py"), "setup", "--sdk", "3"], cwd=ROOT, env=env3,
                             capture_output=True, text=True, timeout=1800)
    return {"python": python, "before": before, "after": _snapshot(python), "setup": result, "setup3": result3,
            "kit_python": kit_env / "bin" / "python", "v3_python": v3_python, "data_dir": data_dir, "base": base}


@pytest.mark.slow
def test_setup_from_the_studio_image_leaves_it_unchanged(studio):
    setup = studio["setup"]
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    assert f"The Python that ran this set-up ({studio['python']}) was not changed." in setup.stdout
    assert studio["after"][0] == studio["before"][0], "the stand-in's pip freeze changed"
    assert studio["after"][1] == studio["before"][1], "files in the stand-in's site-packages changed"
    assert b"sagemaker==3.12.0" in studio["after"][0]
    assert studio["setup3"].returncode == 0, studio["setup3"].stdout[-3000:] + studio["setup3"].stderr[-3000:]
    assert f"The Python that ran this set-up ({studio['python']}) was not changed." in studio["setup3"].stdout
    probe = subprocess.run([str(studio["python"]), "-c", "import sagemaker.core, sagemaker.train, sagemaker.serve, "
                            "sagemaker.mlops"], capture_output=True, text=True,
                           env=_clean_env(AWS_DEFAULT_REGION="us-east-1"))
    assert probe.returncode == 0, probe.stderr[-2000:]


@pytest.mark.slow
def test_setup_registers_the_kit_kernel_where_jupyter_finds_it(studio, monkeypatch):
    from jupyter_client.kernelspec import KernelSpecManager

    spec_file = studio["data_dir"] / "kernels" / KERNEL_NAME / "kernel.json"
    spec = json.loads(spec_file.read_text(encoding="utf-8"))
    assert spec["display_name"] == KERNEL_DISPLAY_NAME
    assert spec["argv"] == [str(studio["kit_python"]), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(studio["data_dir"]))
    found = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    assert found.display_name == KERNEL_DISPLAY_NAME and found.argv[0] == str(studio["kit_python"])
    probe = "import importlib.metadata as m; print(m.version('sagemaker'))"
    version = subprocess.run([str(studio["kit_python"]), "-c", probe],
                             capture_output=True, text=True, env=_clean_env()).stdout
    assert version.startswith("2."), version
    # the v3 track's kernel, beside it
    found = KernelSpecManager().get_kernel_spec("lesson-7-1-sdk3")
    assert found.display_name == "Lesson 7.1 – SageMaker SDK 3.x" and found.argv[0] == str(studio["v3_python"])
    version = subprocess.run([str(studio["v3_python"]), "-c", probe],
                             capture_output=True, text=True, env=_clean_env()).stdout
    assert version.startswith("3."), version


def _papermill(notebook, out, kernel, studio, lab_home):
    env = _clean_env(JUPYTER_DATA_DIR=str(studio["data_dir"]), LAB_HOME=str(lab_home), LAB_MODE="local")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    return subprocess.run([sys.executable, "-m", "papermill", str(notebook), str(out), "-k", kernel, "-p", "MODE",
                           "local", "--cwd", str(notebook.parent), "--execution-timeout", "300",
                           "--start-timeout", "120", "--no-progress-bar"], env=env, capture_output=True, text=True,
                          timeout=900)


@pytest.mark.slow
def test_notebooks_run_offline_in_the_registered_kernel(studio):
    out = studio["base"] / "executed"
    for name in ("00_setup.ipynb", "02_parameters.ipynb", "03_training_step.ipynb"):  # 03 runs a pipeline
        result = _papermill(ROOT / "solutions" / name, out / name, KERNEL_NAME, studio, studio["base"] / "lab")
        assert result.returncode == 0, f"{name}:\n{result.stderr[-4000:]}"
        assert f"Executing notebook with kernel: {KERNEL_NAME}" in result.stderr


@pytest.mark.slow
def test_notebook_00_on_the_images_own_kernel_stops_at_once_with_the_fix(studio):
    import nbformat

    image_kernel = studio["data_dir"] / "kernels" / "studio-image"  # Studio's own kernel: the image's Python
    image_kernel.mkdir(parents=True)
    (image_kernel / "kernel.json").write_text(json.dumps({
        "argv": [str(studio["python"]), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)", "language": "python"}))
    executed = studio["base"] / "wrong-kernel" / "00_setup.ipynb"
    result = _papermill(ROOT / "notebooks" / "00_setup.ipynb", executed, "studio-image", studio, studio["base"])
    assert result.returncode != 0
    nb = nbformat.read(str(executed), as_version=4)
    ran = [cell for cell in nb.cells if cell.cell_type == "code" and cell.get("outputs")]
    errors = [o for o in ran[0].outputs if o.output_type == "error"]
    assert len(ran) == 1 and errors and errors[0].ename == "SystemExit", "the first code cell must stop the notebook"
    assert errors[0].evalue == (
        f"This notebook is running on {studio['python']}, which has SageMaker SDK 3.12.0 and no lab_helpers. "
        f"Switch the kernel to '{KERNEL_DISPLAY_NAME}' (Kernel → Change Kernel…); if it isn't listed, run "
        "`python3 kit.py setup` in a terminal in the kit's folder.")


@pytest.mark.slow
def test_check_run_by_the_images_python_prints_the_kernel_fix(studio):
    env = _clean_env(PYTHONPATH=str(ROOT), LAB_HOME=str(studio["base"] / "check-home"), LAB_MODE="local")
    result = subprocess.run([str(studio["python"]), "-m", "lab_helpers", "check", "--mode", "local"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "! SageMaker Python SDK: 3.12.0 (v3)" in result.stdout  # v3 is noted (the v2 track needs 2.x)
    assert f"use the kernel '{KERNEL_DISPLAY_NAME}'" in result.stdout  # the fix of the ✗ lines: the kit's kernel
    assert "`python3 kit.py setup`" in result.stdout
    assert 'pip install "' not in result.stdout, "no fix installs anything into the image's environment"
