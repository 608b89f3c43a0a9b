"""Jobs confined as containers are: private namespaces on Linux, driven through the SDK.

Each test runs a processing job the way a learner does - ``ScriptProcessor(command=["python3"])``
on a local session - and reads what the job wrote back from S3.  The job scripts try what a
container forbids (writing the kit's folders or the user's home, reading the control plane,
reaching the network, undoing their mounts) and record what happened; the tests assert on the
errors.  Where the system cannot confine jobs, these tests are skipped, except the ones that check
the kit says so (``check``) and that ``LAB_SANDBOX=0`` jobs still run with the path overlay.
"""

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from conftest import make_wheel
from test_runtime import get_bytes, keys_under, put, sklearn_image, unique

import lab_helpers
from lab_helpers import preflight
from lab_helpers.local.jobs import sandbox

CONFINED = sandbox.enabled() and sandbox.available()[0]
WHY_NOT = ("switched off by LAB_SANDBOX=0" if os.environ.get("LAB_SANDBOX") == "0"
           else f"jobs cannot be confined here: {sandbox.available()[1]}")
needs_sandbox = pytest.mark.skipif(not CONFINED, reason=WHY_NOT)


@pytest.fixture(scope="module")
def sess():
    """A session whose LAB_HOME is outside /tmp, as the default ~/.sagemaker-lab is (a job's /tmp is its own)."""
    import shutil
    import tempfile

    base = "/var/tmp" if os.access("/var/tmp", os.W_OK) else None
    home = tempfile.mkdtemp(prefix="lab-sandbox-tests-", dir=base)
    yield lab_helpers.local_session(home=home)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def tmp_sess(tmp_path_factory):
    """A session whose LAB_HOME is under /tmp (as in the other tests)."""
    return lab_helpers.local_session(home=tmp_path_factory.mktemp("sandbox-lab-home"))


@pytest.fixture(params=["home outside /tmp", "home under /tmp"])
def any_sess(request):
    """Both kinds of LAB_HOME: hidden under an empty tmpfs, or out of sight behind the job's own /tmp."""
    return request.getfixturevalue("sess" if request.param == "home outside /tmp" else "tmp_sess")


def sdk_session(sess, monkeypatch):
    """A plain SDK Session on the local boto3 session (``run()`` really runs); no 5 s wait before Describe."""
    import sagemaker.session

    from lab_helpers.config import LOCAL_SDK_CONFIG

    monkeypatch.setattr(sagemaker.session, "_wait_until", lambda fn, poll=5: fn())
    monkeypatch.setattr(sess.cloud, "log_sink", lambda line: None)
    return sagemaker.session.Session(boto_session=sess.boto_session, sagemaker_config=LOCAL_SDK_CONFIG)


@pytest.fixture()
def plain(sess, monkeypatch):
    return sdk_session(sess, monkeypatch)


def run_job(sess, plain, tmp_path, source, inputs=(), arguments=None):
    """Run ``source`` as a processing job through the SDK; returns (description, output S3 URI)."""
    from sagemaker.exceptions import UnexpectedStatusException
    from sagemaker.processing import ProcessingOutput, ScriptProcessor

    script = tmp_path / f"{unique('job')}.py"
    script.write_text(textwrap.dedent(source))
    out = f"s3://{sess.default_bucket()}/sandbox-tests/{unique('out')}"
    processor = ScriptProcessor(image_uri=sklearn_image(sess), command=["python3"],
                                role=lab_helpers.execution_role(sess), instance_count=1,
                                instance_type="ml.m5.xlarge", sagemaker_session=plain)
    try:
        processor.run(code=str(script), inputs=list(inputs), arguments=arguments, logs=False,
                      outputs=[ProcessingOutput(source="/opt/ml/processing/output", destination=out)])
    except UnexpectedStatusException:
        pass  # a failed job: the tests read its description
    return processor.latest_job.describe(), out


def report(sess, out, name="report.json"):
    return json.loads(get_bytes(sess, f"{out}/{name}"))


def channel(sess, tag, files, destination):
    """Upload ``files`` ({name: bytes}) and return a ProcessingInput that puts them at ``destination``."""
    from sagemaker.processing import ProcessingInput

    for name, body in files.items():
        put(sess, f"sandbox-tests/{tag}/{name}", body)
    return ProcessingInput(source=f"s3://{sess.default_bucket()}/sandbox-tests/{tag}", destination=destination)


#: Job-side helper: try(label, function) records "ok" or the errno name of the OSError.
TRY = """
import errno, json, os
results = {}
def attempt(label, function):
    try:
        function()
        results[label] = "ok"
    except OSError as exc:
        results[label] = errno.errorcode.get(exc.errno, str(exc))
    except Exception as exc:
        results[label] = type(exc).__name__
def save():
    with open("/opt/ml/processing/output/report.json", "w") as handle:
        json.dump(results, handle)
"""


def recorded(sess, plain, tmp_path, source, **kwargs):
    """run_job with :data:`TRY` before ``source``."""
    return run_job(sess, plain, tmp_path, TRY + textwrap.dedent(source), **kwargs)


# --------------------------------------------------------------------------------------------
# does the kit know, and say, whether jobs are isolated?
# --------------------------------------------------------------------------------------------
def _user_namespaces_work():
    """Independently of the kit: can a child process create a user namespace here?"""
    code = ("import ctypes, os, sys\n"
            "sys.exit(0 if ctypes.CDLL(None, use_errno=True).unshare(0x10000000 | 0x00020000) == 0 else 1)\n")
    return subprocess.run([sys.executable, "-c", code], check=False, timeout=60).returncode == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux namespaces only")
def test_the_probe_agrees_with_the_kernel(monkeypatch):
    monkeypatch.delenv("LAB_SANDBOX", raising=False)
    ok, how = sandbox.available()
    if _user_namespaces_work():
        assert ok, f"user namespaces work here, yet the kit says jobs cannot be confined: {how}"
    else:
        assert not ok and how


def test_check_says_whether_jobs_are_isolated(monkeypatch):
    monkeypatch.delenv("LAB_SANDBOX", raising=False)
    line = preflight.check_job_isolation()
    if sys.platform.startswith("linux") and sandbox.available()[0]:
        assert line.status == preflight.OK and "jobs run in a private namespace" in line.detail, line.line()
        assert "no network" in line.detail
    else:
        assert line.status == preflight.NOTE and "not isolated from each other or from your files" in line.detail
    monkeypatch.setenv("LAB_SANDBOX", "0")
    off = preflight.check_job_isolation()
    assert off.status == preflight.NOTE and off.ok, off.line()
    assert off.line().startswith("! job isolation:") and "not isolated" in off.detail and "network" in off.detail
    monkeypatch.setattr(sys, "platform", "darwin")
    mac = preflight.check_job_isolation()
    assert mac.status == preflight.NOTE and "none on darwin" in mac.detail and "not isolated" in mac.detail


def test_with_the_sandbox_off_jobs_use_the_overlay_and_are_not_isolated(sess, plain, tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_SANDBOX", "0")
    described, out = recorded(sess, plain, tmp_path, f"""
        results["overlay"] = os.environ.get("LAB_HELPERS_OVERLAY", "")
        results["sees control plane"] = os.path.exists({str(sess.cloud.home / "control-plane.sqlite3")!r})
        attempt("write /opt/ml", lambda: open("/opt/ml/processing/output/mine.txt", "w").write("x"))
        save()
    """)
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    found = report(sess, out)
    assert "/opt/ml" in json.loads(found["overlay"]), found  # the in-process overlay maps /opt/ml
    assert found["sees control plane"] is True  # nothing hides LAB_HOME from such a job: not isolated
    assert found["write /opt/ml"] == "ok"


# --------------------------------------------------------------------------------------------
# a confined job: its /opt/ml for every process, and nothing else writable
# --------------------------------------------------------------------------------------------
OTHER = """
import sys
rows = open("/opt/ml/processing/input/data/rows.csv").read().split()
with open("/opt/ml/processing/output/from-other.txt", "w") as handle:
    handle.write("%s rows, args %s" % (len(rows), " ".join(sys.argv[1:])))
"""


@needs_sandbox
def test_processes_a_job_starts_see_its_opt_ml(sess, plain, tmp_path):
    data = channel(sess, unique("rows"), {"rows.csv": "1,2\n3,4\n5,6\n"}, "/opt/ml/processing/input/data")
    helpers = channel(sess, unique("helpers"), {"other.py": OTHER}, "/opt/ml/processing/input/helpers")
    outside = channel(sess, unique("outside"), {"values.csv": "5\n7\n"}, "/data/in")
    described, out = run_job(sess, plain, tmp_path, """
        import subprocess
        subprocess.run(["python3", "/opt/ml/processing/input/helpers/other.py", "--n", "3"], check=True)
        subprocess.run("wc -l < /opt/ml/processing/input/data/rows.csv > /opt/ml/processing/output/from-shell.txt"
                       " && ls /opt/ml/processing/input > /opt/ml/processing/output/listing.txt"
                       " && cat /data/in/values.csv > /opt/ml/processing/output/outside.txt", shell=True, check=True)
    """, inputs=[data, helpers, outside])
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert get_bytes(sess, f"{out}/from-other.txt") == b"3 rows, args --n 3"
    assert get_bytes(sess, f"{out}/from-shell.txt").strip() == b"3"
    assert get_bytes(sess, f"{out}/listing.txt").split() == sorted([b"code", b"data", b"helpers"])
    assert get_bytes(sess, f"{out}/outside.txt") == b"5\n7\n"


@needs_sandbox
def test_a_job_pip_installs_a_wheel_from_its_input_channel_and_changes_nothing_outside(sess, plain, tmp_path):
    import importlib.util

    wheel = make_wheel(tmp_path, "labsandboxwheel", "1.0", "VALUE = 42\n")
    wheels = channel(sess, unique("wheels"), {wheel.name: wheel.read_bytes()}, "/opt/ml/processing/input/wheels")
    described, out = run_job(sess, plain, tmp_path, f"""
        import subprocess
        subprocess.run(["pip", "install", "--disable-pip-version-check",
                        "/opt/ml/processing/input/wheels/{wheel.name}"], check=True)
        value = subprocess.run(["python3", "-c", "import labsandboxwheel; print(labsandboxwheel.VALUE)"],
                               check=True, capture_output=True, text=True).stdout
        open("/opt/ml/processing/output/value.txt", "w").write(value.strip())
    """, inputs=[wheels])
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert get_bytes(sess, f"{out}/value.txt") == b"42"
    # The install went to the job's own copy of the environment: not to the kit's, not to the next job.
    assert importlib.util.find_spec("labsandboxwheel") is None
    assert not list(Path(sys.prefix).glob("lib/python*/site-packages/labsandboxwheel*"))
    again, out2 = recorded(sess, plain, tmp_path, """
        import importlib.util
        results["found"] = importlib.util.find_spec("labsandboxwheel") is not None
        save()
    """)
    assert again["ProcessingJobStatus"] == "Completed", again.get("FailureReason")
    assert report(sess, out2)["found"] is False


@needs_sandbox
def test_a_job_cannot_write_outside_its_folders_and_its_outputs_still_upload(any_sess, tmp_path, monkeypatch):
    sess, plain = any_sess, sdk_session(any_sess, monkeypatch)
    first, _ = run_job(sess, plain, tmp_path, "open('/opt/ml/processing/output/first.txt', 'w').write('1')\n")
    assert first["ProcessingJobStatus"] == "Completed", first.get("FailureReason")
    home = sess.cloud.home
    other_job = home / "jobs" / first["ProcessingJobName"] / "container" / "opt" / "ml" / "processing" / "output"
    assert other_job.is_dir()  # the target exists on the host: only the sandbox keeps the job from it
    user_home = Path.home()
    kit = Path(lab_helpers.__file__).resolve().parents[1]
    targets = {"LAB_HOME": home / "planted.txt", "S3 folder": home / "s3" / "planted.txt",
               "other job": other_job / "planted.txt", "user home": user_home / f"{unique('planted')}.txt",
               "the kit": kit / "planted.txt", "/etc": Path("/etc/planted.txt")}
    described, out = recorded(sess, plain, tmp_path, f"""
        for label, path in {json.dumps({k: str(v) for k, v in targets.items()})}.items():
            attempt(label, lambda: open(path, "w").write("planted"))
        attempt("/tmp", lambda: open("/tmp/scratch.txt", "w").write("mine"))
        attempt("root", lambda: open("/planted-in-root.txt", "w").write("mine"))
        attempt("/opt/ml", lambda: open("/opt/ml/processing/output/mine.txt", "w").write("mine"))
        save()
    """)
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    found = report(sess, out)
    for label, path in targets.items():
        assert found[label] in ("EROFS", "EACCES", "EPERM", "ENOENT"), (label, found[label])
        assert not path.exists(), f"the job wrote {path}"
    assert found["/tmp"] == "ok" and found["/opt/ml"] == "ok"
    # "/" is the job's own scratch layer, as a container's root is: writable inside, nothing reaches the host
    assert found["root"] == "ok" and not Path("/planted-in-root.txt").exists()
    assert get_bytes(sess, f"{out}/mine.txt") == b"mine"


@needs_sandbox
def test_a_job_that_writes_into_the_users_home_fails_with_a_read_only_error(sess, plain, tmp_path):
    target = Path.home() / f"{unique('planted')}.txt"
    described, out = run_job(sess, plain, tmp_path, f"""
        open("/opt/ml/processing/output/before.txt", "w").write("x")
        open({str(target)!r}, "w").write("planted")
    """)
    assert described["ProcessingJobStatus"] == "Failed"
    assert "Read-only file system" in described["FailureReason"], described["FailureReason"]
    assert str(target) in described["FailureReason"]
    assert not target.exists()
    assert keys_under(sess, out + "/") == []  # a failed job uploads nothing, as in AWS


@needs_sandbox
def test_a_job_cannot_see_the_control_plane_other_jobs_or_the_kits_processes(any_sess, tmp_path, monkeypatch):
    sess, plain = any_sess, sdk_session(any_sess, monkeypatch)
    home = sess.cloud.home
    assert (home / "control-plane.sqlite3").is_file()
    described, out = recorded(sess, plain, tmp_path, f"""
        import sqlite3
        home = {str(home)!r}
        results["db exists"] = os.path.exists(home + "/control-plane.sqlite3")
        results["LAB_HOME lists"] = os.listdir(home) if os.path.isdir(home) else None
        results["jobs exist"] = os.path.exists(home + "/jobs")
        attempt("sqlite", lambda: sqlite3.connect("file:" + home + "/control-plane.sqlite3?mode=ro", uri=True)
                .execute("select count(*) from resources").fetchall())
        results["processes"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        results["kit pid visible"] = os.path.exists("/proc/{os.getpid()}")
        save()
    """)
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    found = report(sess, out)
    assert found["db exists"] is False and found["jobs exist"] is False
    assert found["LAB_HOME lists"] in (None, [])
    assert found["sqlite"] != "ok"
    assert found["kit pid visible"] is False
    assert found["processes"] == [1, 2], found["processes"]  # its init and itself: nothing of the host


@needs_sandbox
def test_a_job_started_cold_is_confined_too(tmp_path, monkeypatch):
    """LAB_FORK_SERVER=0: the job is a fresh interpreter, which confines itself the same way."""
    monkeypatch.setenv("LAB_FORK_SERVER", "0")
    cold = lab_helpers.local_session(home=tmp_path / "cold-home")
    plain = sdk_session(cold, monkeypatch)
    described, out = recorded(cold, plain, tmp_path, f"""
        import subprocess
        results["pid"] = os.getpid()
        results["db exists"] = os.path.exists({str(cold.cloud.home / "control-plane.sqlite3")!r})
        attempt("home", lambda: open({str(Path.home() / "planted-cold.txt")!r}, "w"))
        results["shell"] = subprocess.run("ls /opt/ml/processing", shell=True, capture_output=True,
                                          text=True).stdout.split()
        save()
    """)
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    found = report(cold, out)
    assert found["pid"] == 2 and found["db exists"] is False, found
    assert found["home"] == "EROFS"
    assert found["shell"] == ["input", "output"]


@needs_sandbox
def test_a_job_cannot_undo_its_mounts(sess, plain, tmp_path):
    home = str(sess.cloud.home)
    described, out = recorded(sess, plain, tmp_path, f"""
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        def call(result):
            if result != 0:
                code = ctypes.get_errno()
                raise OSError(code, os.strerror(code))
        attempt("umount LAB_HOME", lambda: call(libc.umount2({home!r}.encode(), 2)))
        attempt("remount /usr rw", lambda: call(libc.mount(None, b"/usr", None, ctypes.c_ulong(32 | 4096), None)))
        attempt("umount /opt", lambda: call(libc.umount2(b"/opt", 2)))
        results["db exists"] = os.path.exists({home!r} + "/control-plane.sqlite3")
        save()
    """)
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    found = report(sess, out)
    assert found["umount LAB_HOME"] in ("EINVAL", "EPERM") and found["umount /opt"] in ("EINVAL", "EPERM"), found
    assert found["remount /usr rw"] in ("EPERM", "EACCES"), found
    assert found["db exists"] is False


@needs_sandbox
def test_a_job_has_no_network(sess, plain, tmp_path):
    described, out = recorded(sess, plain, tmp_path, """
        import socket, subprocess
        attempt("tcp", lambda: socket.create_connection(("1.1.1.1", 443), timeout=10).close())
        attempt("dns", lambda: socket.getaddrinfo("example.com", 443))
        connect = "import socket; socket.create_connection(('8.8.8.8', 53), timeout=10)"
        child = subprocess.run(["python3", "-c", connect], capture_output=True, text=True)
        results["child"] = child.stderr.strip().splitlines()[-1] if child.returncode else "connected"
        save()
    """)
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    found = report(sess, out)
    assert found["tcp"] == "ENETUNREACH", found
    assert found["dns"] != "ok"
    assert "Network is unreachable" in found["child"], found["child"]


@needs_sandbox
def test_a_confined_job_reports_its_exit_like_a_plain_one(sess, plain, tmp_path):
    exited, _ = run_job(sess, plain, tmp_path, "import sys\nsys.exit(3)\n")
    assert exited["ProcessingJobStatus"] == "Failed"
    assert "exited with status 3" in exited["FailureReason"], exited["FailureReason"]
    killed, _ = run_job(sess, plain, tmp_path, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    assert killed["ProcessingJobStatus"] == "Failed"
    assert "exited with code -9" in killed["FailureReason"], killed["FailureReason"]


@needs_sandbox
def test_a_job_whose_sandbox_cannot_be_built_fails_saying_so(sess, plain, tmp_path, monkeypatch):
    """Half-way into its namespaces a job cannot run unconfined: it fails, naming the problem and the switch."""
    from lab_helpers.local.jobs import runtime

    made = sandbox.plan

    def broken(job_dir, lab_home, socket=None):
        spec = made(job_dir, lab_home, socket)
        os.rmdir(os.path.join(spec["job_dir"], "sandbox-root"))  # nothing to mount the new root on
        return spec

    monkeypatch.setattr(runtime.sandbox, "plan", broken)
    described, out = run_job(sess, plain, tmp_path, "open('/opt/ml/processing/output/ran.txt', 'w').write('ran')\n")
    assert described["ProcessingJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith("ClientError: the kit could not confine the job") and "sandbox-root" in reason, reason
    assert "LAB_SANDBOX=0" in reason
    assert keys_under(sess, out + "/") == []


@needs_sandbox
def test_a_path_that_cannot_be_bound_in_place_still_reaches_the_jobs_python(sess, plain, tmp_path):
    inside = f"/usr/share/{unique('lab-in')}"  # /usr is read-only in the job: no mount point can be made
    values = channel(sess, unique("values"), {"values.csv": "5\n7\n"}, inside)
    described, out = run_job(sess, plain, tmp_path, f"""
        values = [int(v) for v in open("{inside}/values.csv").read().split()]
        open("/opt/ml/processing/output/sum.txt", "w").write(str(sum(values)))
    """, inputs=[values])
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert get_bytes(sess, f"{out}/sum.txt") == b"12"
    assert not os.path.exists(inside)


@needs_sandbox
def test_stopping_a_confined_job_ends_everything_it_started(sess, tmp_path):
    """A stop ends the job's whole namespace - a process it started in a new session too."""
    from test_runtime import s3_input

    tag = unique("stop")
    child = ("import time\nwhile True:\n    open('/opt/ml/processing/ticks', 'a').write('.')\n    time.sleep(0.05)\n")
    code_uri = put(sess, f"sandbox-tests/{tag}/code/script.py", textwrap.dedent(f"""
        import subprocess, time
        subprocess.Popen(["python3", "-c", {child!r}], start_new_session=True)
        time.sleep(600)
    """))
    name = unique("stopped")
    ticks = sess.cloud.home / "jobs" / name / "container" / "opt" / "ml" / "processing" / "ticks"
    request = {
        "ProcessingJobName": name, "RoleArn": lab_helpers.execution_role(sess),
        "AppSpecification": {"ImageUri": sklearn_image(sess),
                             "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/script.py"]},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge",
                                                  "VolumeSizeInGB": 5}},
        "ProcessingInputs": [s3_input("code", code_uri.rsplit("/", 1)[0], "/opt/ml/processing/input/code")],
    }
    stop = threading.Event()
    from lab_helpers.local.jobs.runtime import JobStopped

    def should_stop():
        if ticks.exists() and ticks.stat().st_size > 5:
            stop.set()
        return stop.is_set()

    with pytest.raises(JobStopped):
        sess.cloud.runtime.create("ProcessingJob", request, should_stop=should_stop)
    described = sess.sagemaker_client.describe_processing_job(ProcessingJobName=name)
    assert described["ProcessingJobStatus"] == "Stopped"
    size = ticks.stat().st_size
    time.sleep(0.5)
    assert ticks.stat().st_size == size, "a process the stopped job started is still running"


def test_the_sandbox_module_is_standard_library_only():
    """It runs inside job processes (and as the probe, with -I -S): nothing of the kit, nothing installed."""
    import ast

    tree = ast.parse(Path(sandbox.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module and not node.level}
    assert not any(isinstance(node, ast.ImportFrom) and node.level for node in ast.walk(tree))
    assert "ctypes" in imported and "lab_helpers" not in imported
    assert imported <= set(sys.stdlib_module_names), imported - set(sys.stdlib_module_names)
