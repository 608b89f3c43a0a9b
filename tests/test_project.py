"""The project's own promises: dependency lists agree, the data is the UCI file, the CI script runs the README's command."""

import hashlib
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _norm(req):
    return re.sub(r"\s+", "", req.split("#")[0]).lower()


def test_environment_yml_agrees_with_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert set(extras) == {"test", "lab"}, f"environment.yml lists every extra; new extras: {set(extras)}"
    wanted = {_norm(r) for r in project["dependencies"] + extras["test"] + extras["lab"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    listed = {_norm(r) for r in pip_section}
    assert listed == wanted, f"only in environment.yml: {listed - wanted}; only in pyproject.toml: {wanted - listed}"
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert python.replace(" ", "") == "python=3.11"


def test_sdk_is_pinned_to_v2():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    sdk = next(_norm(r) for r in project["dependencies"] if r.startswith("sagemaker"))
    assert sdk == "sagemaker>=2.257,<3"
    import sagemaker

    assert sagemaker.__version__.startswith("2."), "SDK v3 removed sagemaker.workflow; the kit needs v2"


def test_data_is_the_uci_file():
    data = (ROOT / "data" / "abalone.csv").read_bytes()
    assert hashlib.sha256(data).hexdigest() == "de37cdcdcaaa50c309d514f248f7c2302a5f1f88c168905eba23fe2fbc78449f"
    rows = data.decode().strip().splitlines()
    assert len(rows) == 4177
    assert {r.split(",")[0] for r in rows} == {"M", "F", "I"}


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 kit.py test" in readme
    assert "python3 kit.py run" in readme
    assert re.search(r"^exec python3 kit\.py test$", ci, re.M)


# built in pieces so this file does not match itself
MACHINE_PATHS = "|".join(["/" + "work/", "/" + "root/", "/" + "home/[a-z]+/", "/" + "tmp/pytest-"])


def test_no_machine_paths_in_tracked_text():
    import subprocess

    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    offenders = []
    for name in files:
        path = ROOT / name
        if path.suffix in (".csv",) or not path.is_file():
            continue
        text = path.read_text(errors="ignore")
        if re.search(MACHINE_PATHS, text):
            offenders.append(name)
    assert not offenders, f"machine-specific paths in {offenders}"
