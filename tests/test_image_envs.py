"""Each emulated image runs its jobs on a Python environment of its own.

A job for ``sagemaker-scikit-learn:0.23-1`` sees that image's libraries (the nearest versions that
install on this Python, said in the job's log), not the kit's; without a package index the job
falls back to the kit's libraries with one line saying so; a job's ``pip install`` changes that job
only - never the kit's environment nor the image's shared one; each environment has one warm fork
server; and a pipeline whose steps name images local mode cannot run says so at upsert and start.
"""

import hashlib
import json
import os
import socket
import sys
from pathlib import Path

import pandas
import pytest
from conftest import make_wheel
from test_runtime import get_bytes, log_messages, put, run_processing, s3_input, s3_output, unique

import lab_helpers
from lab_helpers.local.images import requirements
from lab_helpers.local.jobs import forkclient, imageenvs, sandbox

PROCESSING_LOGS = "/aws/sagemaker/ProcessingJobs"


@pytest.fixture(scope="module")
def sess(tmp_path_factory):
    return lab_helpers.local_session(home=tmp_path_factory.mktemp("image-envs-lab-home"))


def image(sess, framework, version):
    from sagemaker import image_uris

    return image_uris.retrieve(framework, sess.boto_region_name, version)


def run_versions(sess, framework, version):
    """A processing job on ``framework:version`` that reports its libraries; returns (report, job log)."""
    name = unique("versions")
    out = f"s3://{sess.default_bucket()}/image-envs/{name}"
    described = run_processing(sess, name, """
        import importlib, json, sys
        found = {"prefix": sys.prefix}
        for module in ("numpy", "pandas", "sklearn", "xgboost"):
            try:
                found[module] = importlib.import_module(module).__version__
            except ImportError:
                found[module] = None
        json.dump(found, open("/opt/ml/processing/output/versions.json", "w"))
    """, outputs=[s3_output("out", out, "/opt/ml/processing/output")], image=image(sess, framework, version))
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    return json.loads(get_bytes(sess, f"{out}/versions.json")), log_messages(sess, PROCESSING_LOGS, name)[1]


def built(repo, version):
    env = imageenvs.for_image(repo, version)
    assert env.python, env.notes
    return json.loads((Path(env.python).parents[1] / ".lab-built.json").read_text())["libraries"]


def test_a_scikit_learn_0_23_job_runs_on_that_images_libraries_not_the_kits(sess):
    found, log = run_versions(sess, "sklearn", "0.23-1")
    libraries = built("sagemaker-scikit-learn", "0.23-1")
    assert found["pandas"] == libraries["pandas"] != pandas.__version__
    assert found["sklearn"] == libraries["scikit-learn"]
    assert found["numpy"] == libraries["numpy"]
    assert found["pandas"].startswith("1.")  # the 0.23-1 image ships pandas 1.1.3; 1.x is the nearest here
    assert os.path.realpath(found["prefix"]) != os.path.realpath(sys.prefix)
    # the image's own versions have no wheel for this Python: the log names what runs instead
    table = requirements.libraries("sagemaker-scikit-learn", "0.23-1")
    # (the first job on a machine also says it built the environment: one line, before the note)
    notes = [line for line in log if line.startswith("[image]") and not line.startswith("[image] built ")]
    assert len(notes) == 1, log
    assert f"pandas {libraries['pandas']} (image: {table['pandas']})" in notes[0]


def test_each_image_version_gets_its_own_libraries(sess):
    old, _ = run_versions(sess, "xgboost", "1.0-1")
    new, _ = run_versions(sess, "xgboost", "1.7-1")
    assert old["xgboost"] == "1.0.0" and new["xgboost"] == "1.7.4"
    lesson, _ = run_versions(sess, "sklearn", "1.2-1")
    assert lesson["sklearn"] == "1.2.1" and lesson["numpy"] == "1.24.1"  # exact: these have wheels for 3.11


def test_without_a_package_index_the_job_runs_on_the_kits_libraries_with_one_note(sess, tmp_path, monkeypatch):
    monkeypatch.setenv(imageenvs.ENV_VAR, str(tmp_path / "no-envs-yet"))
    monkeypatch.setenv("UV_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens there
    monkeypatch.setenv("UV_OFFLINE", "1")
    monkeypatch.setattr(imageenvs, "_failed", {})
    found, log = run_versions(sess, "sklearn", "0.23-1")
    assert found["pandas"] == pandas.__version__  # the kit's
    assert os.path.realpath(found["prefix"]) == os.path.realpath(sys.prefix)
    notes = [line for line in log if line.startswith("[image]")]
    assert len(notes) == 1 and "could not be built" in notes[0] and "kit's own libraries" in notes[0], log
    assert not list((tmp_path / "no-envs-yet").glob("sagemaker-scikit-learn-0.23-1-*/bin/python"))


def test_the_off_switch_runs_jobs_on_the_kits_libraries(sess, monkeypatch):
    monkeypatch.setenv(imageenvs.ENV_VAR, "off")
    found, log = run_versions(sess, "sklearn", "0.23-1")
    assert found["pandas"] == pandas.__version__
    assert any("LAB_IMAGE_ENVS=off" in line for line in log)


# --------------------------------------------------------------------------------------------
# a job's pip install is the job's own
# --------------------------------------------------------------------------------------------
def fingerprint(prefix):
    """Every file of an environment's site-packages (path, size, mtime) and every dist-info's RECORD and METADATA."""
    digest = hashlib.sha256()
    for site in sorted(Path(prefix).glob("lib/python*/site-packages")):
        for folder, dirs, files in os.walk(site):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(folder, name)
                stat = os.lstat(path)
                digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
                if folder.endswith(".dist-info") and name in ("RECORD", "METADATA"):
                    digest.update(Path(path).read_bytes())
    return digest.hexdigest()


@pytest.mark.parametrize("confined", [True, False], ids=["in private namespaces", "LAB_SANDBOX=0"])
def test_a_jobs_pip_install_and_upgrade_change_neither_the_kit_nor_the_image_environment(
        sess, tmp_path, monkeypatch, confined):
    if confined and not (sandbox.enabled() and sandbox.available()[0]):
        pytest.skip(f"jobs cannot be confined here: {sandbox.available()[1]}")
    if not confined:
        monkeypatch.setenv("LAB_SANDBOX", "0")
    env = imageenvs.for_image("sagemaker-scikit-learn", "1.2-1")
    assert env.python, env.notes
    image_prefix = Path(env.python).parents[1]
    tag = unique("wheels")
    wheels = [make_wheel(tmp_path, "labtinywheel", "1.0", "VALUE = 1\n"), make_wheel(tmp_path, "labtinywheel", "2.0",
              "VALUE = 2\n"), make_wheel(tmp_path, "six", "99.0", "__version__ = '99.0'\n")]  # six: in the image's env
    for wheel in wheels:
        put(sess, f"image-envs/{tag}/{wheel.name}", wheel.read_bytes())
    kit_before, image_before = fingerprint(sys.prefix), fingerprint(image_prefix)
    name = unique("pip")
    out = f"s3://{sess.default_bucket()}/image-envs/{name}"
    pip = "[sys.executable, '-m', 'pip', 'install', '--disable-pip-version-check', '--no-index', " \
          "'--find-links', wheels]"
    described = run_processing(sess, name, f"""
        import json, os, shutil, subprocess, sys, tempfile
        wheels = tempfile.mkdtemp()  # a folder pip sees with or without the sandbox (the overlay is this process's)
        for wheel in os.listdir("/opt/ml/processing/input/wheels"):
            shutil.copy(os.path.join("/opt/ml/processing/input/wheels", wheel), wheels)
        subprocess.run({pip} + ["labtinywheel==1.0"], check=True)
        subprocess.run({pip} + ["-U", "labtinywheel"], check=True)
        subprocess.run({pip} + ["-U", "six"], check=True)
        ask = "import labtinywheel, six; print(labtinywheel.VALUE, six.__version__)"
        seen = subprocess.run(["python3", "-c", ask], check=True, capture_output=True, text=True).stdout.split()
        json.dump(seen, open("/opt/ml/processing/output/seen.json", "w"))
    """, inputs=[s3_input("wheels", f"s3://{sess.default_bucket()}/image-envs/{tag}",
                          "/opt/ml/processing/input/wheels")],
        outputs=[s3_output("out", out, "/opt/ml/processing/output")])
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert json.loads(get_bytes(sess, f"{out}/seen.json")) == ["2", "99.0"]  # the job saw its installs
    assert fingerprint(sys.prefix) == kit_before  # the kit's environment: byte for byte
    assert fingerprint(image_prefix) == image_before  # the image's environment, shared by every job
    # and the next job on the image starts from the image's own packages again
    found, _ = run_versions(sess, "sklearn", "1.2-1")
    assert found["sklearn"] == "1.2.1"


# --------------------------------------------------------------------------------------------
# one warm server per environment
# --------------------------------------------------------------------------------------------
def _server_pid(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        return json.loads(sock.makefile("rb").readline())["pid"]


def _listening_servers(python):
    """The pids of the machine-wide fork servers run by ``python`` (from /proc: which process runs what)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # the process ended meanwhile
            continue
        if command[0].decode(errors="replace") == python and b"--listen" in command:
            pids.add(int(entry.name))
    return pids


@pytest.mark.skipif(not forkclient.enabled(), reason="the fork server is switched off (LAB_FORK_SERVER=0)")
@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads which process runs what from /proc")
def test_each_image_environment_has_one_warm_fork_server_running_its_python(sess):
    run_versions(sess, "sklearn", "1.2-1")
    sklearn_env = imageenvs.for_image("sagemaker-scikit-learn", "1.2-1").python
    first = _listening_servers(sklearn_env)
    assert first, "no fork server runs the scikit-learn image's Python"
    run_versions(sess, "sklearn", "1.2-1")
    assert _listening_servers(sklearn_env) == first  # the second job forked from the same warm server
    run_versions(sess, "xgboost", "1.7-1")
    xgboost_env = imageenvs.for_image("sagemaker-xgboost", "1.7-1").python
    assert xgboost_env != sklearn_env
    assert _listening_servers(xgboost_env), "no fork server runs the XGBoost image's Python"
    assert not _listening_servers(xgboost_env) & first


def test_a_servers_socket_lives_beside_the_image_environments_unless_its_path_would_be_too_long(monkeypatch):
    import shutil
    import tempfile

    short = Path(tempfile.mkdtemp(prefix="lab-envs-", dir="/tmp"))
    try:
        monkeypatch.setenv(imageenvs.ENV_VAR, str(short))
        beside = forkclient._socket_path(sys.executable)
        assert Path(beside).parent == short / "forks" and beside.endswith(".sock")
        monkeypatch.setenv(imageenvs.ENV_VAR, str(short / ("deep" * 20)))  # no socket path can be that long
        fallback = forkclient._socket_path(sys.executable)
        assert Path(fallback).parent.name == f"lab-forks-{os.getuid()}", fallback
        assert Path(fallback).name == Path(beside).name and len(os.fsencode(fallback)) <= 107
        assert not (short / ("deep" * 20)).exists()
    finally:
        shutil.rmtree(short)


# --------------------------------------------------------------------------------------------
# images local mode cannot run are named at upsert and start
# --------------------------------------------------------------------------------------------
CUSTOM_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-team/custom-trainer:latest"


def test_upsert_and_start_name_each_step_whose_image_cannot_run_offline_and_the_step_fails_as_before(
        sess, tmp_path, monkeypatch):
    from sagemaker import image_uris
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.processing import ProcessingOutput, ScriptProcessor
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import ProcessingStep, TrainingStep

    lines = []
    monkeypatch.setattr(sess.cloud, "log_sink", lines.append)
    role = lab_helpers.execution_role(sess)
    script = tmp_path / "prep.py"
    script.write_text("open('/opt/ml/processing/output/done.txt', 'w').write('done')\n")
    torch = image_uris.retrieve("pytorch", sess.boto_region_name, "1.13", py_version="py39",
                                instance_type="ml.m5.xlarge", image_scope="training")
    steps = []
    for name, uri in (("Prep", image(sess, "sklearn", "1.2-1")), ("TorchPrep", torch)):
        processor = ScriptProcessor(image_uri=uri, command=["python3"], role=role, instance_count=1,
                                    instance_type="ml.m5.xlarge", sagemaker_session=sess)
        steps.append(ProcessingStep(name=name, step_args=processor.run(code=str(script), outputs=[
            ProcessingOutput(output_name="out", source="/opt/ml/processing/output")])))
    trainer = Estimator(image_uri=CUSTOM_IMAGE, role=role, instance_count=1, instance_type="ml.m5.xlarge",
                        sagemaker_session=sess)
    steps.append(TrainingStep(name="CustomTrain", step_args=trainer.fit({"train": TrainingInput(
        steps[0].properties.ProcessingOutputConfig.Outputs["out"].S3Output.S3Uri)})))
    pipeline = Pipeline(name=unique("UnsupportedImages"), steps=steps, sagemaker_session=sess)

    pipeline.upsert(role_arn=role)
    warned = [line for line in lines if line.startswith("Warning: step ")]
    assert len(warned) == 2, lines
    assert "'TorchPrep' (Processing)" in warned[0] and torch in warned[0] and "will fail" in warned[0]
    assert "'CustomTrain' (Training)" in warned[1] and CUSTOM_IMAGE in warned[1]
    assert not any("'Prep'" in line for line in warned)

    lines.clear()
    execution = pipeline.start()
    assert len([line for line in lines if line.startswith("Warning: step ")]) == 2, lines
    from conftest import finished

    finished(execution)
    ran = {s["StepName"]: s for s in execution.list_steps()}
    assert ran["Prep"]["StepStatus"] == "Succeeded"
    assert ran["TorchPrep"]["StepStatus"] == "Failed"
    assert "cannot run image" in ran["TorchPrep"]["FailureReason"] and torch in ran["TorchPrep"]["FailureReason"]


def test_offline_warnings_read_parameters_nested_steps_and_the_clarify_and_monitor_step_types():
    from lab_helpers.local import images

    sklearn = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    definition = {
        "Parameters": [{"Name": "TrainImage", "Type": "String", "DefaultValue": sklearn}],
        "Steps": [
            {"Name": "Train", "Type": "Training", "Arguments": {
                "AlgorithmSpecification": {"TrainingImage": {"Get": "Parameters.TrainImage"}}}},
            {"Name": "Check", "Type": "Condition", "Arguments": {"IfSteps": [
                {"Name": "Bias", "Type": "ClarifyCheck", "Arguments": {}},
                {"Name": "Quality", "Type": "QualityCheck", "Arguments": {}},
                {"Name": "Register", "Type": "RegisterModel", "Arguments": {"InferenceSpecification": {
                    "Containers": [{"Image": CUSTOM_IMAGE}]}}}], "ElseSteps": []}},
        ],
    }
    lines = images.offline_warnings(definition)
    assert [line.split("'")[1] for line in lines] == ["Bias", "Quality", "Register"]
    assert "Clarify" in lines[0] and "Model Monitor" in lines[1] and CUSTOM_IMAGE in lines[2]
    # a start's parameter value is judged, not the default
    started = images.offline_warnings(definition, {"TrainImage": CUSTOM_IMAGE})
    assert [line.split("'")[1] for line in started] == ["Train", "Bias", "Quality", "Register"]
    assert images.offline_warnings({"Steps": []}) == []
