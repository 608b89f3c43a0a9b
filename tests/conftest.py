"""Shared test set-up: every test runs offline, in local mode, with its own LAB_HOME."""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Before anything imports the SDK: local mode, quiet SDK, and no real AWS credentials in reach.
os.environ["LAB_MODE"] = "local"
os.environ["SAGEMAKER_SUPPRESS_V2_WARNING"] = "1"
for _var in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
    os.environ.pop(_var, None)
os.environ.setdefault("AWS_CONFIG_FILE", os.devnull)
os.environ.setdefault("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@pytest.fixture()
def lab_home(tmp_path, monkeypatch):
    """A fresh, empty LAB_HOME for one test."""
    home = tmp_path / "lab-home"
    monkeypatch.setenv("LAB_HOME", str(home))
    return home


def child_env(lab_home, **extra):
    """Environment for child processes that must see ``lab_home`` and the kit (``extra``: more variables)."""
    env = dict(os.environ, LAB_HOME=str(lab_home), **extra)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


@pytest.fixture()
def python_env(lab_home):
    """Environment for child processes that must see the same LAB_HOME and the kit."""
    return child_env(lab_home)


@pytest.fixture()
def local_sess(lab_home):
    import lab_helpers

    return lab_helpers.session("local")


def module_home(folder, unset=()):
    """A module-scoped ``home`` fixture: a fresh LAB_HOME (a temporary folder named ``folder``), set while the
    module runs, with the variables ``unset`` unset; for modules whose tests share one local cloud."""

    @pytest.fixture(scope="module", name="home")
    def home(tmp_path_factory):
        path = tmp_path_factory.mktemp(folder)
        patch = pytest.MonkeyPatch()
        patch.setenv("LAB_HOME", str(path))
        for name in unset:
            patch.delenv(name, raising=False)
        yield path
        patch.undo()

    return home


def _module_sess(home):
    import lab_helpers

    return lab_helpers.session("local")


def _module_sm(sess):
    return sess.sagemaker_client


def _module_role(sess):
    import lab_helpers

    return lab_helpers.execution_role(sess)


_MODULE_FIXTURES = {"sess": _module_sess, "sm": _module_sm, "role": _module_role}


def module_fixtures(*names):
    """Module-scoped fixtures on the module's ``home`` (:func:`module_home`), one per name, in that order:
    ``sess`` (a local session), ``sm`` (its SageMaker client), ``role`` (its execution role's ARN)."""
    return tuple(pytest.fixture(scope="module", name=name)(_MODULE_FIXTURES[name]) for name in names)


PY = sys.executable


@pytest.fixture(scope="module")
def v3_python():
    """The SDK v3 environment's python (tests/sdk_envs.py; skips, or fails under CI=true, if it cannot be built)."""
    import sdk_envs

    try:
        return sdk_envs.v3_python()
    except sdk_envs.EnvUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"The SDK v3 environment is required under CI: {exc}")
        pytest.skip(f"The SDK v3 environment cannot be built here: {exc}")


def run_child(code, env, *args, timeout=300):
    """Run Python code in a fresh process; returns the JSON its last stdout line holds."""
    import json
    import subprocess
    import textwrap

    proc = subprocess.run([PY, "-c", textwrap.dedent(code), *args], env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"child failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def plain(value):
    """A response as JSON-able data (datetimes as text, no ResponseMetadata), to compare across processes."""
    import json

    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if k != "ResponseMetadata"}
    return json.loads(json.dumps(value, default=str))


def refuse_network(patch):
    """Make every host lookup and connection in this process fail (and be recorded).

    Returns the list the attempts are appended to; ``patch`` is a ``pytest.MonkeyPatch``.
    """
    import socket

    attempts = []

    def refuse(what, original=None):
        def _refuse(*args, **kwargs):
            if original is not None and getattr(args[0], "family", None) == socket.AF_UNIX:
                return original(*args, **kwargs)  # a Unix socket (a local fork server) is not the network
            attempts.append((what, args[1:] if what.startswith("socket.") else args))
            raise OSError(f"network disabled in tests ({what})")

        return _refuse

    patch.setattr(socket.socket, "connect", refuse("socket.connect", socket.socket.connect))
    patch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex", socket.socket.connect_ex))
    patch.setattr(socket, "create_connection", refuse("create_connection"))
    patch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    return attempts


def unique(prefix):
    """``prefix`` with a random suffix: a name no other test run uses."""
    import uuid

    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def write(folder, name, text):
    """Write a dedented file below ``folder`` (made if missing); returns its path."""
    import textwrap

    path = os.path.join(str(folder), name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(textwrap.dedent(text).lstrip("\n"))
    return path


def s3_get(sess, uri):
    """The bytes of the object at ``s3://bucket/key``, read through ``sess``'s boto session."""
    bucket, _, key = uri[5:].partition("/")
    return sess.boto_session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def tar_members(data):
    """{name: bytes} of the files in a .tar.gz."""
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def make_wheel(folder, name, version, body):
    """A minimal pure-Python wheel of ``name`` ``version`` whose ``__init__.py`` is ``body`` (no build tools
    needed), written in ``folder``; returns its path."""
    import base64
    import hashlib
    import zipfile

    dist = f"{name}-{version}.dist-info"
    files = {f"{name}/__init__.py": body.encode(),
             f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
             f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: lab-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = [f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},"
              f"{len(data)}" for path, data in files.items()] + [f"{dist}/RECORD,,"]
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = Path(folder) / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    return path


def finished(execution):
    """Wait for an execution the SDK started (``pipeline.start()``) to end, whatever its status; returns it.

    Executions run in the background, as in AWS: ``execution.wait()`` raises ``WaiterError`` when one ends
    Failed or Stopped, which tests that expect a failure do not want.
    """
    from botocore.exceptions import WaiterError

    try:
        execution.wait()
    except WaiterError:
        pass
    return execution


def wait_for_arn(sess, arn, timeout=300):
    """Wait for execution ``arn`` to end; returns its DescribePipelineExecution response."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        described = sess.sagemaker_client.describe_pipeline_execution(PipelineExecutionArn=arn)
        if described["PipelineExecutionStatus"] in ("Succeeded", "Failed", "Stopped"):
            return described
        assert time.monotonic() < deadline, f"execution {arn} did not end within {timeout} s"
        time.sleep(0.1)


def runner_pid(home, arn):
    """The pid of the background process running execution ``arn`` (read from the control-plane store)."""
    import json
    import sqlite3
    import time

    deadline = time.monotonic() + 60
    while True:
        with sqlite3.connect(Path(home) / "control-plane.sqlite3") as db:
            row = db.execute("SELECT doc FROM resources WHERE kind='execution' AND name=?", (arn,)).fetchone()
        pid = json.loads(row[0]).get("Runner", {}).get("Pid") if row else None
        if pid:
            return pid
        assert time.monotonic() < deadline, f"no runner recorded for {arn}"
        time.sleep(0.05)


def offline_module():
    """A module-scoped fixture's body: no host lookup or connection while the module runs (yields the attempts)."""
    patch = pytest.MonkeyPatch()
    attempts = refuse_network(patch)
    yield attempts
    patch.undo()
    assert attempts == [], f"a network connection was attempted: {attempts}"
