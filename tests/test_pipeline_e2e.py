"""The abalone pipeline end to end, offline: the CLI, the fail branch, and no network at all.

AWS's recorded run of the example reports a test MSE of 4.91; the kit's seeded split gives
about 4.17.  Anything in [3.5, 6.0] is a healthy model.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import refuse_network

import lab_helpers

ROOT = Path(__file__).resolve().parents[1]
SUCCESS_STEPS = ["AbaloneProcess", "AbaloneTrain", "AbaloneEval", "AbaloneMSECond",
                 "AbaloneCreateModel-CreateModel", "AbaloneRegisterModel-RegisterModel", "AbaloneTransform"]
IF_BRANCH = {"AbaloneCreateModel-CreateModel", "AbaloneRegisterModel-RegisterModel", "AbaloneTransform"}
MSE_RANGE = (3.5, 6.0)
TIMEOUT = 900


def run_cli(args, env, cwd):
    return subprocess.run([sys.executable, "-m", "lab_helpers", *args], env=env, cwd=str(cwd),
                          capture_output=True, text=True, timeout=TIMEOUT)


def executions(sess):
    return sess.sagemaker_client.list_pipeline_executions(PipelineName="AbalonePipeline")[
        "PipelineExecutionSummaries"]


def steps_of(sess, execution_arn):
    from lab_helpers import monitor

    return {s["StepName"]: s for s in monitor.list_steps(sess, execution_arn)}


def s3_text(sess, uri):
    bucket, _, key = uri[5:].partition("/")
    s3 = sess.boto_session.client("s3", region_name=sess.boto_region_name)
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()


# --------------------------------------------------------------------------------------
# one successful CLI run, shared by the tests that read what it produced
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_success(tmp_path_factory):
    """``python -m lab_helpers run --json`` in a fresh LAB_HOME (env built like conftest's python_env)."""
    home = tmp_path_factory.mktemp("e2e-lab-home")
    env = dict(os.environ)
    env["LAB_HOME"] = str(home)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    run = run_cli(["run", "--json"], env, tmp_path_factory.mktemp("e2e-cwd"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAB_FORK_SERVER", "0")  # reading back runs no job
        sess = lab_helpers.local_session(home=home)
    return {"home": home, "run": run, "sess": sess}


def succeeded(cli_success):
    run = cli_success["run"]
    assert run.returncode == 0, run.stderr[-4000:]
    return cli_success["sess"]


@pytest.mark.slow
def test_cli_run_json_succeeds_with_every_step_and_a_sane_mse(cli_success):
    run = cli_success["run"]
    assert run.returncode == 0, run.stderr[-4000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["status"] == "Succeeded"
    assert result["steps"] == {name: "Succeeded" for name in SUCCESS_STEPS}
    assert MSE_RANGE[0] <= result["metrics"]["mse"] <= MSE_RANGE[1], result["metrics"]
    # The job logs went to stderr, so stdout is the JSON line only.
    assert run.stdout.strip().count("\n") == 0, run.stdout[:2000]
    assert "#011train-rmse:" in run.stderr


@pytest.mark.slow
def test_batch_transform_writes_one_line_per_batch_record(cli_success):
    sess = succeeded(cli_success)
    (execution,) = executions(sess)
    transform_arn = steps_of(sess, execution["PipelineExecutionArn"])["AbaloneTransform"]["Metadata"][
        "TransformJob"]["Arn"]
    job = sess.sagemaker_client.describe_transform_job(TransformJobName=transform_arn.rsplit("/", 1)[-1])
    assert job["TransformJobStatus"] == "Completed"
    source = job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    records = [line for line in s3_text(sess, source).splitlines() if line.strip()]
    output = s3_text(sess, job["TransformOutput"]["S3OutputPath"].rstrip("/") + "/"
                     + source.rsplit("/", 1)[-1] + ".out").splitlines()
    assert len(records) > 100
    assert len(output) == len(records)
    rings = [float(v) for v in output]
    assert all(0 < r < 30 for r in rings), rings[:10]  # abalone ring counts, not labels or garbage


@pytest.mark.slow
def test_successful_run_registers_the_model_for_approval(cli_success):
    sess = succeeded(cli_success)
    packages = sess.sagemaker_client.list_model_packages(ModelPackageGroupName="AbaloneModelPackageGroup")[
        "ModelPackageSummaryList"]
    assert [p["ModelApprovalStatus"] for p in packages] == ["PendingManualApproval"]
    package = sess.sagemaker_client.describe_model_package(ModelPackageName=packages[0]["ModelPackageArn"])
    report_uri = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    report = json.loads(s3_text(sess, report_uri))
    assert MSE_RANGE[0] <= report["regression_metrics"]["mse"]["value"] <= MSE_RANGE[1]


# --------------------------------------------------------------------------------------
# the fail branch and bad parameters
# --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_low_mse_threshold_takes_the_fail_branch(python_env, lab_home, tmp_path, monkeypatch):
    run = run_cli(["run", "--param", "MseThreshold=0.5"], python_env, tmp_path)
    assert run.returncode != 0, run.stdout[-3000:]
    printed = run.stdout + run.stderr
    message = re.search(r"Execution failed: the test MSE (\d+(?:\.\d+)?) is above the threshold "
                        r"MseThreshold = 0\.5\b", printed)
    assert message, printed[-3000:]
    assert MSE_RANGE[0] <= float(message.group(1)) <= MSE_RANGE[1]
    assert re.search(r"^AbaloneMSEFail\s+Failed\b", run.stdout, re.M), run.stdout[-3000:]

    monkeypatch.setenv("LAB_FORK_SERVER", "0")  # reading back runs no job
    sess = lab_helpers.session("local")  # the same LAB_HOME, read through the API
    (execution,) = executions(sess)
    assert execution["PipelineExecutionStatus"] == "Failed"
    steps = steps_of(sess, execution["PipelineExecutionArn"])
    assert steps["AbaloneMSEFail"]["StepStatus"] == "Failed"
    assert steps["AbaloneMSECond"]["StepStatus"] == "Succeeded"
    assert steps["AbaloneMSECond"]["Metadata"]["Condition"]["Outcome"] == "False"
    assert not IF_BRANCH & set(steps), sorted(steps)
    assert sess.sagemaker_client.list_transform_jobs()["TransformJobSummaries"] == []
    assert sess.sagemaker_client.list_model_packages()["ModelPackageSummaryList"] == []


def test_unknown_parameter_exits_2_naming_it(python_env, lab_home, tmp_path, monkeypatch):
    run = run_cli(["run", "--param", "Unknown=1"], python_env, tmp_path)
    assert run.returncode == 2, (run.returncode, run.stderr[-3000:])
    assert "Unknown pipeline parameter(s): Unknown." in run.stderr
    assert "MseThreshold" in run.stderr  # and it lists the parameters there are
    monkeypatch.setenv("LAB_FORK_SERVER", "0")
    sess = lab_helpers.session("local")
    assert sess.sagemaker_client.list_pipelines()["PipelineSummaries"] == []  # nothing was started


# --------------------------------------------------------------------------------------
# no network, no telemetry
# --------------------------------------------------------------------------------------

#: Loaded by every job process (through PYTHONPATH): refuse and record network use there too.
CHILD_GUARD = '''
import os
import socket

_log = os.environ.get("LAB_TEST_NETWORK_LOG")
if _log:
    def _note(line):
        with open(_log, "a") as handle:
            handle.write(line + "\\n")

    def _refuse(name, original=None):
        def stand_in(*args, **kwargs):
            if original is not None and getattr(args[0], "family", None) == socket.AF_UNIX:
                return original(*args, **kwargs)  # a Unix socket (a local fork server) is not the network
            _note("attempt %s %r" % (name, args[:3]))
            raise OSError("network access refused by the test (%s)" % name)
        return stand_in

    socket.socket.connect = _refuse("socket.connect", socket.socket.connect)
    socket.socket.connect_ex = _refuse("socket.connect_ex", socket.socket.connect_ex)
    socket.create_connection = _refuse("socket.create_connection")
    socket.getaddrinfo = _refuse("socket.getaddrinfo")
    _note("loaded %d" % os.getpid())
'''


@pytest.mark.slow
def test_full_run_makes_no_network_connection_and_sends_no_telemetry(lab_home, monkeypatch, tmp_path, capsys):
    # Imported before the guard goes up: the SDK's own import-time behaviour is checked in
    # test_sessions.py, in a fresh interpreter.
    import sagemaker.telemetry.telemetry_logging as telemetry
    from sagemaker.config.config_schema import TELEMETRY_OPT_OUT_PATH

    from lab_helpers.__main__ import main

    guard_dir = tmp_path / "guard"
    guard_dir.mkdir()
    (guard_dir / "sitecustomize.py").write_text(CHILD_GUARD)
    child_log = tmp_path / "child-network.log"
    monkeypatch.setenv("LAB_TEST_NETWORK_LOG", str(child_log))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(guard_dir), os.environ.get("PYTHONPATH")])))
    # Control: the guard works in a child process.
    probe = subprocess.run([sys.executable, "-c", "import socket; socket.getaddrinfo('example.com', 443)"],
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode != 0 and "attempt socket.getaddrinfo" in child_log.read_text()
    child_log.unlink()
    # Job processes must start under the guard: a fork server an earlier test started would not have it.
    from lab_helpers.local.jobs import forkclient

    monkeypatch.setattr(forkclient, "_SHARED", None)

    attempts = refuse_network(monkeypatch)

    sent = []
    monkeypatch.setattr(telemetry, "_send_telemetry_request", lambda *args, **kwargs: sent.append(args))
    opt_out = []
    resolve = telemetry.resolve_value_from_config

    def spy(*args, **kwargs):
        value = resolve(*args, **kwargs)
        if kwargs.get("config_path") == TELEMETRY_OPT_OUT_PATH:
            opt_out.append(value)
        return value

    monkeypatch.setattr(telemetry, "resolve_value_from_config", spy)

    code = main(["run", "--json"])  # build, upsert, start, wait, read back
    out = capsys.readouterr().out
    assert code == 0, out[-3000:]
    result = json.loads(out.strip().splitlines()[-1])
    assert result["status"] == "Succeeded"
    assert result["steps"] == {name: "Succeeded" for name in SUCCESS_STEPS}

    assert attempts == [], attempts
    child_lines = child_log.read_text().splitlines() if child_log.exists() else []
    assert any(line.startswith("loaded ") for line in child_lines), "the job processes did not load the guard"
    assert [line for line in child_lines if line.startswith("attempt ")] == []
    # Telemetry: the SDK's emitter ran (Pipeline.create/start are instrumented), found the
    # opt-out set by the session's config, and sent nothing.
    assert opt_out and all(value is True for value in opt_out), opt_out
    assert sent == []
