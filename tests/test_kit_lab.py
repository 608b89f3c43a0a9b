"""``python3 kit.py lab``: the working copy is made once and never overwritten, the kernel goes into the kit's
environment, and the command opens JupyterLab on the working copy - all without starting a server."""

import json
import os
from pathlib import Path

from sdk_envs import kit as _kit

ROOT = Path(__file__).resolve().parents[1]


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
    assert folder == venv / "share" / "jupyter" / "kernels" / "lesson-7-1-sdk2"
    spec = json.loads((folder / "kernel.json").read_text(encoding="utf-8"))
    assert spec["argv"][:3] == [str(venv / "bin" / "python"), "-m", "ipykernel_launcher"]
    assert spec["display_name"] == "Lesson 7.1 – SageMaker SDK 2.x"
    assert not home.exists(), "nothing is written into the user's own Jupyter folders"


def test_lab_command_opens_the_work_copy_with_the_kits_kernel_first(tmp_path, monkeypatch):
    kit = _kit()
    monkeypatch.setenv("JUPYTER_PATH", "elsewhere")
    monkeypatch.setattr(kit.os, "geteuid", lambda: 1000, raising=False)
    command, env = kit.lab_command(["--no-browser"], tmp_path / "venv", tmp_path / "venv/bin/python", tmp_path / "w")
    assert command == [str(tmp_path / "venv/bin/python"), "-m", "jupyterlab",
                       f"--ServerApp.root_dir={tmp_path / 'w'}", "--no-browser"]
    assert env["JUPYTER_PATH"].split(os.pathsep) == [str(tmp_path / "venv" / "share" / "jupyter"), "elsewhere"]
    monkeypatch.setattr(kit.os, "geteuid", lambda: 0, raising=False)
    assert kit.lab_command([], tmp_path / "venv", tmp_path / "venv/bin/python", tmp_path / "w")[0][-1] == "--allow-root"


def test_lab_dry_run_prepares_everything_and_starts_nothing(tmp_path, capsys, monkeypatch):
    kit = _kit()
    monkeypatch.setattr(kit.subprocess, "call", lambda *a, **k: (_ for _ in ()).throw(AssertionError("started")))
    venv, work = tmp_path / "venv", tmp_path / "work"
    assert kit.lab(["--dry-run", "--no-browser"], venv, venv / "bin/python", work) == 0
    out = capsys.readouterr().out
    assert "-m jupyterlab" in out and "--no-browser" in out and "--dry-run" not in out.splitlines()[-1]
    assert (venv / "share/jupyter/kernels/lesson-7-1-sdk2/kernel.json").is_file() and any(work.glob("00_*.ipynb"))


def test_lab_for_the_v3_track_opens_its_own_working_copy_with_both_kernels(tmp_path, capsys, monkeypatch):
    kit = _kit()
    monkeypatch.setattr(kit.subprocess, "call", lambda *a, **k: (_ for _ in ()).throw(AssertionError("started")))
    venv, work = tmp_path / "venv", tmp_path / "work"
    sdk3_python = tmp_path / "venv-sdk3" / "bin" / "python"
    assert kit.lab(["--dry-run"], venv, venv / "bin/python", work, sdk3_python=sdk3_python) == 0
    assert f"--ServerApp.root_dir={work / 'v3'}" in capsys.readouterr().out.splitlines()[-1]
    copied = sorted(p.name for p in (work / "v3").glob("*.ipynb"))
    assert copied == sorted(p.name for p in (ROOT / "notebooks" / "v3").glob("[0-9][0-9]_*.ipynb")) and copied
    assert (work / "v3" / "00_setup.ipynb").read_bytes() == (ROOT / "notebooks" / "v3" / "00_setup.ipynb").read_bytes()
    spec = json.loads((venv / "share/jupyter/kernels/lesson-7-1-sdk3/kernel.json").read_text(encoding="utf-8"))
    assert spec["argv"][0] == str(sdk3_python) and spec["display_name"] == "Lesson 7.1 – SageMaker SDK 3.x"
    assert (venv / "share/jupyter/kernels/lesson-7-1-sdk2/kernel.json").is_file()
    assert not any(work.glob("*.ipynb")), "the v2 track's working copy is not touched"


def test_kit_rejects_a_wrong_sdk_option(capsys):
    kit = _kit()
    assert kit.main(["setup", "--sdk", "4"]) == 2
    assert "--sdk comes right after `setup` or `lab`, and is 2 (the default) or 3" in capsys.readouterr().out


def test_setup_lab_installs_the_lab_extra_once_per_pyproject(tmp_path, monkeypatch):
    kit = _kit()
    calls = []
    monkeypatch.setattr(kit, "setup", lambda: calls.append("setup"))
    monkeypatch.setattr(kit, "LAB_STAMP", tmp_path / ".kit-lab-installed")
    monkeypatch.setattr(kit.subprocess, "run", lambda command, check: calls.append(command))
    kit.setup_lab()
    assert calls[0] == "setup" and calls[1][-2:] == ["-e", f"{kit.ROOT}[test,lab]"]
    kit.setup_lab()
    assert calls[2:] == ["setup"], "the second time nothing is installed"
    kit.LAB_STAMP.write_text("an older pyproject.toml")
    kit.setup_lab()
    assert calls[-1][-1] == f"{kit.ROOT}[test,lab]"


def test_kit_test_sets_up_jupyterlab_and_run_does_not(monkeypatch):
    """``kit.py test`` installs the lab extra too (the suite starts JupyterLab); ``kit.py run`` does not need it."""
    kit = _kit()
    calls = []
    monkeypatch.setattr(kit, "setup", lambda: calls.append("setup"))
    monkeypatch.setattr(kit, "setup_lab", lambda: calls.append("setup_lab"))
    monkeypatch.setattr(kit.subprocess, "call", lambda command, **kwargs: calls.append(command[1:3]) or 0)
    assert kit.main(["test", "-m", "browser"]) == 0
    assert calls == ["setup_lab", ["-m", "pytest"]]
    calls.clear()
    assert kit.main(["run"]) == 0
    assert calls == ["setup", ["-m", "lab_helpers"]]


def test_jupyterlab_is_the_lab_extra_and_the_readme_starts_with_it():
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(r.startswith("jupyterlab") for r in extras["lab"])
    assert not any(r.startswith("jupyterlab") for r in extras["test"]), (
        "JupyterLab stays in the lab extra: kit.py test installs both extras")
    quick_start = (ROOT / "README.md").read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "python3 kit.py lab" in quick_start


def test_jupyterlab_starts_on_the_work_copy_and_stops(tmp_path):
    """With the lab extra installed: the real command serves the working copy and the kit's kernel on loopback."""
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    import pytest

    pytest.importorskip("jupyterlab", reason="the lab extra is not installed (python3 kit.py lab installs it)")
    kit = _kit()
    venv, work = tmp_path / "venv", tmp_path / "work"
    kit.make_work_copy(target=work)
    kit.write_kernel_spec(venv, sys.executable)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command, env = kit.lab_command(["--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
                                    "--IdentityProvider.token=kit-test"], venv, sys.executable, work)
    env["HOME"] = str(tmp_path / "home")
    server = subprocess.Popen(command, env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}/api"
    try:
        for _ in range(120):
            try:
                contents = json.load(urllib.request.urlopen(f"{base}/contents?token=kit-test", timeout=2))
                break
            except OSError:
                time.sleep(0.25)
        else:
            pytest.fail("JupyterLab did not answer within 30 s")
        assert any(item["name"].startswith("00_") for item in contents["content"])
        specs = json.load(urllib.request.urlopen(f"{base}/kernelspecs?token=kit-test", timeout=5))
        assert specs["kernelspecs"]["lesson-7-1-sdk2"]["spec"]["display_name"] == "Lesson 7.1 – SageMaker SDK 2.x"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
