"""Python environments with another SageMaker SDK than the kit's own, for tests that compare SDKs.

:func:`v3_python` builds (once per machine, into the git-ignored ``.kit-cache/``) a virtual environment with
SageMaker Python SDK v3 as ``requirements-v3.txt`` pins it, plus the kit's own dependencies from
``pyproject.toml`` except its ``sagemaker<3`` pin.  The kit itself is not installed into it: tests put the
repository on ``PYTHONPATH``.  pip's cache makes a rebuild quick.
"""

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".kit-cache"
V3_REQUIREMENTS = ROOT / "requirements-v3.txt"
#: The v3 environment's Python: Studio's images with SDK v3 run Python 3.11 or 3.12.
V3_PYTHON_VERSION = "3.11"
TEST_TOOLS = ("pytest>=8",)


class EnvUnavailable(RuntimeError):
    """The environment could not be built here (no suitable Python, or no package index)."""


def kit_dependencies():
    """The kit's runtime dependencies from pyproject.toml, without the SageMaker SDK."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [dep for dep in project["dependencies"] if not dep.replace("-", "_").lower().startswith("sagemaker")]


def v3_requirements():
    """Everything the v3 environment installs: the SDK v3 pins, the kit's other dependencies, pytest."""
    pins = [line.strip() for line in V3_REQUIREMENTS.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#")]
    return pins + kit_dependencies() + list(TEST_TOOLS)


def _base_python():
    """A Python of :data:`V3_PYTHON_VERSION` to make the environment with."""
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == V3_PYTHON_VERSION:
        return sys.executable
    found = shutil.which(f"python{V3_PYTHON_VERSION}")
    if not found:
        raise EnvUnavailable(f"no python{V3_PYTHON_VERSION} on PATH to build the SDK v3 environment with")
    return found


def v3_env_dir():
    """Where the v3 environment lives: ``.kit-cache/sdk-v3-<hash of its requirements>``."""
    key = hashlib.sha256("\n".join([V3_PYTHON_VERSION, *v3_requirements()]).encode()).hexdigest()[:12]
    return CACHE / f"sdk-v3-{key}"


def v3_python():
    """The v3 environment's python, building the environment first if needed (minutes the first time)."""
    target = v3_env_dir()
    python = target / "bin" / "python"
    if (target / ".complete").is_file():
        return python
    CACHE.mkdir(exist_ok=True)
    (CACHE / ".gitignore").write_text("*\n", encoding="utf-8")
    with open(CACHE / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time, kit-wide
        if not (target / ".complete").is_file():
            _build(target)
    return python


def _build(target):
    """Make the environment in ``target`` (python -m venv, then one pip install), marking it complete last."""
    shutil.rmtree(target, ignore_errors=True)
    base = _base_python()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    subprocess.run([base, "-m", "venv", str(target)], check=True, env=env)
    proc = subprocess.run([str(target / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
                           "--quiet", *v3_requirements()], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        raise EnvUnavailable(f"pip could not install the SDK v3 environment:\n{proc.stderr[-3000:]}")
    (target / ".complete").write_text("\n".join(v3_requirements()) + "\n", encoding="utf-8")


if __name__ == "__main__":
    print(v3_python())
