#!/usr/bin/env python3
"""Set up and run the kit with nothing but Python 3.11 and pip.

    python3 kit.py run     # set up .venv, then run the full abalone pipeline offline
    python3 kit.py test    # set up .venv, then run the whole test suite (what CI runs)

Set-up is a virtual environment in ``.venv`` with the kit installed (editable) and its test
tools; it is redone only when ``pyproject.toml`` changes.  Extra arguments pass through:
``python3 kit.py run --param MseThreshold=0.5``, ``python3 kit.py test -k overlay``.
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".kit-installed"


def setup():
    if sys.version_info[:2] != (3, 11):
        print(f"note: the kit is made for Python 3.11; this is {sys.version.split()[0]}.", file=sys.stderr)
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if PYTHON.exists() and STAMP.exists() and STAMP.read_text().strip() == want:
        return
    if not PYTHON.exists():
        print("Creating .venv …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("Installing the kit and its tools into .venv (first time: a few minutes) …", flush=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    subprocess.run(pip + ["--upgrade", "pip"], check=True)
    subprocess.run(pip + ["-e", f"{ROOT}[test]"], check=True)
    STAMP.write_text(want)


def main(argv):
    if not argv or argv[0] not in ("run", "test", "setup"):
        print(__doc__)
        return 2
    setup()
    command, rest = argv[0], argv[1:]
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
