"""The SDK v3 environment for tests that run the kit under SageMaker Python SDK v3 (the v3 track).

:func:`v3_python` is the v3 track's own environment, as ``python3 kit.py setup --sdk 3`` makes it
(``kit.setup_sdk3``: ``.venv-sdk3``, or ``KIT_VENV_SDK3``): SDK v3 as ``requirements-v3.txt`` pins it, the kit's
other dependencies and its test extra, with the kit's folder on its path.  Built once per machine (about
5-8 minutes on two cores the first time), under a lock so that parallel test processes build it once.
"""

import fcntl
import importlib.util
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class EnvUnavailable(RuntimeError):
    """The environment could not be built here (no suitable Python, or no package index)."""


def kit():
    """The kit's ``kit.py`` as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("kit", ROOT / "kit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def v3_python():
    """The v3 track environment's python, building the environment first if needed (minutes the first time)."""
    module = kit()
    venv_dir = module.VENV_SDK3
    venv_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(venv_dir.parent / f"{venv_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time, kit-wide
        try:
            return module.setup_sdk3(venv_dir)
        except (subprocess.CalledProcessError, SystemExit, OSError) as exc:
            raise EnvUnavailable(f"the SDK v3 environment could not be set up in {venv_dir}: {exc}") from exc


def v3_kernel(python, folder):
    """Register the v3 track's kernel (running ``python``) under ``folder`` for one test run; returns its name and
    the environment variables that let Jupyter find it."""
    module = kit()
    data_dir = Path(folder) / "jupyter"
    module.write_kernel_spec(Path(folder) / "unused", python, data_dir=data_dir, sdk=3)
    return module.KERNELS[3][0], {"JUPYTER_PATH": str(data_dir)}


if __name__ == "__main__":
    print(v3_python())
