"""``python3 kit.py lab``: the working copy is made once and never overwritten, the kernel goes into the kit's
environment, and the command opens JupyterLab on the working copy - all without starting a server."""

import importlib.util
import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _kit():
    spec = importlib.util.spec_from_file_location("kit", ROOT / "kit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_work_copy_is_made_once_and_never_overwritten(tmp_path):
    kit = _kit()
    work = tmp_path / "work"
    copied = kit.make_work_copy(target=work)
    exercises = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert copied == exercises and sorted(p.name for p in work.iterdir()) == exercises
    mine = work / exercises[0]
    mine.write_text("my answers")
    (work / exercises[1]).unlink()
    assert kit.make_work_copy(target=work) == [exercises[1]]  # only the missing one comes back
    assert mine.read_text() == "my answers"


def test_work_copy_is_git_ignored_and_tracked_notebooks_stay_pristine(tmp_path):
    kit = _kit()
    assert kit.WORK == ROOT / "work" and kit.EXERCISES == ROOT / "notebooks"
    ignored = (ROOT / ".gitignore").read_text().split()
    assert "work/" in ignored


def test_kernel_spec_goes_into_the_kits_environment(tmp_path, monkeypatch):
    kit = _kit()
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    venv = tmp_path / "venv"
    folder = kit.write_kernel_spec(venv, venv / "bin" / "python")
    assert folder == venv / "share" / "jupyter" / "kernels" / "python3"
    spec = json.loads((folder / "kernel.json").read_text())
    assert spec["argv"][:3] == [str(venv / "bin" / "python"), "-m", "ipykernel_launcher"]
    assert not home.exists(), "nothing is written into the user's own Jupyter folders"


def test_lab_command_opens_the_work_copy_with_the_kits_kernel_first(tmp_path, monkeypatch):
    kit = _kit()
    monkeypatch.setenv("JUPYTER_PATH", "elsewhere")
    command, env = kit.lab_command(["--no-browser"], tmp_path / "venv", tmp_path / "venv/bin/python", tmp_path / "w")
    assert command == [str(tmp_path / "venv/bin/python"), "-m", "jupyterlab",
                       f"--ServerApp.root_dir={tmp_path / 'w'}", "--no-browser"]
    assert env["JUPYTER_PATH"].split(os.pathsep) == [str(tmp_path / "venv" / "share" / "jupyter"), "elsewhere"]


def test_lab_dry_run_prepares_everything_and_starts_nothing(tmp_path, capsys, monkeypatch):
    kit = _kit()
    monkeypatch.setattr(kit.subprocess, "call", lambda *a, **k: (_ for _ in ()).throw(AssertionError("started")))
    venv, work = tmp_path / "venv", tmp_path / "work"
    assert kit.lab(["--dry-run", "--no-browser"], venv, venv / "bin/python", work) == 0
    out = capsys.readouterr().out
    assert "-m jupyterlab" in out and "--no-browser" in out and "--dry-run" not in out.splitlines()[-1]
    assert (venv / "share/jupyter/kernels/python3/kernel.json").is_file() and any(work.glob("00_*.ipynb"))


def test_jupyterlab_is_the_lab_extra_and_the_readme_starts_with_it():
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(r.startswith("jupyterlab") for r in extras["lab"])
    assert not any(r.startswith("jupyterlab") for r in extras["test"]), "CI does not need JupyterLab"
    quick_start = (ROOT / "README.md").read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "python3 kit.py lab" in quick_start
