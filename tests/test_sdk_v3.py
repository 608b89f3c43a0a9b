"""The lesson's pipelines built with SageMaker Python SDK v3 and run offline on the kit's local cloud; the kit's
helpers (monitor, clean-up, check, exercise checkpoints, quiet logs) used under v3 as the lessons use them.

The v3 side runs in a child process with the pinned v3 environment's python (:mod:`sdk_envs`, built once into
``.kit-cache/``; about 8 minutes the first time on two cores without pip's cache).  If it cannot be built
here the tests skip, saying why - except under CI=true, where they fail.  The v2 side runs in this process.
"""

import json
import os
import subprocess
import textwrap

import pytest
from conftest import child_env

from lab_helpers import sdk

#: In the v3 environment: build one of the lesson's pipelines (argv[1]: abalone or outline); with argv[2] "run",
#: upsert and start it and wait; with "lesson", also what the lessons do after a run: the monitor's tables and
#: pictures, then the clean-up.  Prints a JSON report on its last line, after "RESULT:".
V3_RUN = """
import json, sys
import lab_helpers
from lab_helpers import pipeline_spec, pipelines, sdk
assert sdk.is_v3(), "the child must run SDK v3"
builder, mode = sys.argv[1], sys.argv[2]
sess = lab_helpers.session("local")
assert type(sess).__module__ == "lab_helpers.local.session_v3", type(sess)
pipeline = getattr(pipelines, builder + "_pipeline")(sess)
definition = json.loads(pipeline.definition())
result = {"session": repr(sess), "definition": definition}
group = {"abalone": pipeline_spec.ABALONE_GROUP, "outline": pipeline_spec.OUTLINE_GROUP}[builder]
if mode in ("run", "lesson"):
    pipeline.upsert(role_arn=lab_helpers.execution_role(sess))
    execution = pipeline.start()
    execution.wait(delay=1, max_attempts=900)
    result["status"] = execution.describe()["PipelineExecutionStatus"]
    client = sess.sagemaker_client
    steps = [s for page in client.get_paginator("list_pipeline_execution_steps").paginate(
        PipelineExecutionArn=execution.arn) for s in page["PipelineExecutionSteps"]]
    result["steps"] = {s["StepName"]: s["StepStatus"] for s in steps}
    result["failures"] = {s["StepName"]: s.get("FailureReason") for s in steps if s.get("FailureReason")}
    packages = client.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
    result["packages"] = [p["ModelApprovalStatus"] for p in packages]
if mode == "lesson":
    import io, os
    import matplotlib
    matplotlib.use("Agg")
    from lab_helpers import cleanup, monitor
    arn = execution.arn
    result["steps_table"] = monitor.steps_table(sess, arn)["step"].tolist()
    result["artifacts"] = monitor.artifacts(sess, arn)["step"].tolist()
    result["local_paths_exist"] = all(os.path.exists(p)
                                      for p in monitor.artifacts(sess, arn)["local_path"].dropna())
    result["executions"] = monitor.executions_table(sess, pipeline.name)["status"].tolist()
    result["registry"] = monitor.registry_table(sess, group)["version"].tolist()
    result["report"] = monitor.evaluation_report(sess, arn)
    result["summary_status"] = monitor.execution_summary(sess, arn)["status"]
    result["explain"] = str(monitor.explain(execution))
    result["logs"] = str(monitor.show_logs(sess, arn, "AbaloneTrain"))
    result["wait"] = str(monitor.wait_with_progress(execution, out=io.StringIO()))
    pictures = {}
    for name, figure in (("graph", monitor.draw_pipeline(sess, arn)), ("timeline", monitor.plot_timeline(sess, arn)),
                         ("predictions", monitor.plot_predictions(sess, arn))):
        png = io.BytesIO()
        figure.savefig(png, format="png")
        pictures[name] = {"axes": len(figure.axes), "png_bytes": len(png.getvalue())}
    result["pictures"] = pictures
    before = cleanup.inventory(sess)
    result["inventory_before"] = {k: len(v) for k, v in before.items() if isinstance(v, list)}
    result["cleanup_errors"] = cleanup.cleanup(sess, dry_run=False)["errors"]
    after = cleanup.inventory(sess)
    result["inventory_after"] = {k: len(v) for k, v in after.items() if isinstance(v, list)}
print("RESULT:" + json.dumps(result, default=str))
"""

#: Lines SDK v3 logs while building and running a pipeline that the kit quiets in local mode, as it quiets v2's.
V3_ROUTINE_LINES = ("will collect telemetry", "Popping out", "Ignoring unnecessary instance type",
                    "Training image URI", "StoppingCondition not provided", "Model has been created")


def _run_v3(python, lab_home, builder, mode, **env_extra):
    """Run :data:`V3_RUN` in the v3 environment; ``(its JSON report, everything else it printed)``."""
    # v3 logs through rich, which wraps lines at the terminal's width: wide enough, each log line is one line
    env = child_env(lab_home, **{"COLUMNS": "1000", **env_extra})
    env.pop("VIRTUAL_ENV", None)
    if "LAB_SDK_LOGS" not in env_extra:
        env.pop("LAB_SDK_LOGS", None)
    proc = subprocess.run([str(python), "-c", textwrap.dedent(V3_RUN), builder, mode], env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"SDK v3 child failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-4000:]}"
    before, _, report = proc.stdout.rpartition("RESULT:")
    return json.loads(report), before + proc.stderr


def _steps(definition):
    """``{name: type}`` of every step, condition branches included."""
    found = {}
    for step in definition["Steps"]:
        found[step["Name"]] = step["Type"]
        if step["Type"] == "Condition":
            found.update(_steps({"Steps": step["Arguments"]["IfSteps"] + step["Arguments"]["ElseSteps"]}))
    return found


@pytest.fixture(scope="module")
def v2_definitions(tmp_path_factory):
    """The lesson's pipelines' definitions as the kit's own SDK v2 builds them: ``{builder: definition}``."""
    import lab_helpers
    from lab_helpers import pipelines

    os.environ["LAB_HOME"] = str(tmp_path_factory.mktemp("v2-home"))
    try:
        sess = lab_helpers.session("local")
        return {name: json.loads(getattr(pipelines, f"{name}_pipeline")(sess).definition())
                for name in ("abalone", "outline")}
    finally:
        os.environ.pop("LAB_HOME", None)


@pytest.fixture(scope="module")
def v2_definition(v2_definitions):
    """The abalone pipeline's definition as SDK v2 builds it."""
    return v2_definitions["abalone"]


@pytest.fixture(scope="module")
def v3_lesson(v3_python, tmp_path_factory):
    """The abalone pipeline run offline under v3, then monitored and cleaned up as the lessons do: (report, output)."""
    return _run_v3(v3_python, tmp_path_factory.mktemp("v3-lesson"), "abalone", "lesson")


@pytest.mark.slow
def test_v3_abalone_pipeline_runs_offline_like_v2s(v3_lesson, v2_definition):
    result, _ = v3_lesson
    assert "sdk=v3" in result["session"]
    assert result["status"] == "Succeeded", result["failures"]
    v2_steps = {sdk.v3_step_name(name): kind for name, kind in _steps(v2_definition).items()}
    assert _steps(result["definition"]) == v2_steps
    # every step but the failure branch ran, and the model was registered
    assert result["steps"] == {name: "Succeeded" for name in v2_steps if name != "AbaloneMSEFail"}
    assert result["packages"] == ["PendingManualApproval"]


@pytest.mark.slow
def test_v3_outline_pipeline_runs_offline_like_v2s(v3_python, lab_home, v2_definitions):
    result, _ = _run_v3(v3_python, lab_home, "outline", "run")
    assert result["status"] == "Succeeded", result["failures"]
    v2_steps = {sdk.v3_step_name(name): kind for name, kind in _steps(v2_definitions["outline"]).items()}
    assert v2_steps == {"Train": "Training", "AbaloneCreateModel": "Model", "RegisterModel": "RegisterModel"}
    assert _steps(result["definition"]) == v2_steps
    assert result["steps"] == {name: "Succeeded" for name in v2_steps}
    assert result["packages"] == ["Approved"]  # the outline registers its model approved


@pytest.mark.slow
def test_v3_monitor_shows_the_run_as_the_lessons_do(v3_lesson):
    result, _ = v3_lesson
    ran = ["AbaloneProcess", "AbaloneTrain", "AbaloneEval", "AbaloneMSECond", "AbaloneRegisterModel",
           "AbaloneCreateModel", "AbaloneTransform"]
    assert sorted(result["steps_table"]) == sorted(ran)
    assert {"AbaloneProcess", "AbaloneTrain", "AbaloneEval", "AbaloneTransform"} <= set(result["artifacts"])
    assert result["local_paths_exist"]
    assert result["executions"] == ["Succeeded"] and result["registry"] == [1]
    assert result["summary_status"] == "Succeeded"
    assert 0 < result["report"]["regression_metrics"]["mse"]["value"] < 6.0
    assert "No step failed" in result["explain"]
    assert "validation-rmse" in result["logs"]  # the training job's log, from CloudWatch Logs
    assert "Succeeded" in result["wait"]
    for name, picture in result["pictures"].items():
        assert picture["axes"] >= 1 and picture["png_bytes"] > 10_000, (name, picture)


@pytest.mark.slow
def test_v3_cleanup_removes_what_the_run_created(v3_lesson):
    result, _ = v3_lesson
    before, after = result["inventory_before"], result["inventory_after"]
    for kind in ("pipelines", "model_package_groups", "model_packages", "models", "s3_objects"):
        assert before[kind] >= 1, (kind, before)
    assert result["cleanup_errors"] == []
    assert {kind: count for kind, count in after.items() if count} == {}


@pytest.mark.slow
def test_v3_local_runs_print_none_of_the_sdks_routine_lines(v3_lesson, v3_python, lab_home):
    _, output = v3_lesson
    assert [line for line in V3_ROUTINE_LINES if line in output] == []
    assert "Succeeded" in output  # the learner still sees the progress lines
    # LAB_SDK_LOGS=1 keeps them: building the same pipeline then prints every one of v3's routine lines
    _, loud = _run_v3(v3_python, lab_home, "abalone", "build", LAB_SDK_LOGS="1")
    assert [line for line in V3_ROUTINE_LINES if line not in loud] == []


#: In the v3 environment: the exercise checkpoints judge the steps the v3 builder made (as a learner's would be),
#: and still catch a mistake (an output uploading the wrong folder).  Prints the ✓ lines, then the caught mistake.
V3_CHECKPOINTS = """
import lab_helpers
from lab_helpers import checkpoints, pipelines
sess = lab_helpers.session("local")
process, train, ev, cond = pipelines.abalone_pipeline(sess).steps
register, create, transform = cond.if_steps
ns = {"step_process": process, "step_eval": ev, "evaluation_report": ev.property_files[0], "sess": sess,
      "step_transform": transform, "step_fail": cond.else_steps[0], "step_cond": cond, "step_register": register,
      "step_create_model": create}
for check in (checkpoints.processing_step, checkpoints.property_file, checkpoints.transform_step,
              checkpoints.fail_step, checkpoints.condition_step):
    check(ns)
process.step_args.func_kwargs["outputs"][0].s3_output.local_path = "/opt/ml/processing/elsewhere"
try:
    checkpoints.processing_step(ns)
except checkpoints.CheckpointFailed as caught:
    print("CAUGHT:", str(caught).splitlines()[0])
"""


def test_v3_exercise_checkpoints_judge_v3_steps(v3_python, lab_home):
    env = child_env(lab_home, COLUMNS="1000")
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run([str(v3_python), "-c", textwrap.dedent(V3_CHECKPOINTS)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    passed = [line for line in proc.stdout.splitlines() if line.startswith("✓")]
    assert len(passed) == 5, proc.stdout
    caught = [line for line in proc.stdout.splitlines() if line.startswith("CAUGHT:")]
    assert caught == ["CAUGHT: ✗ the output 'train' uploads the folder '/opt/ml/processing/elsewhere', but "
                      "preprocess.py writes the train split to /opt/ml/processing/train."], proc.stdout


#: In the v3 environment: wait() with the SDK's defaults (a poll every 30 s) on a local execution of a few seconds;
#: prints how long it waited and how the execution ended.
V3_WAIT = """
import time
import lab_helpers
from lab_helpers import pipelines
sess = lab_helpers.session("local")
pipeline = pipelines.outline_pipeline(sess)
pipeline.upsert(role_arn=lab_helpers.execution_role(sess))
execution = pipeline.start()
started = time.monotonic()
execution.wait()
print("WAITED:", time.monotonic() - started, execution.describe()["PipelineExecutionStatus"])
"""


def test_v3_local_wait_returns_when_the_execution_ends(v3_python, lab_home):
    """As under v2, a local execution is polled often: the lessons' wait() calls do not sit out AWS's 30 s."""
    env = child_env(lab_home)
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run([str(v3_python), "-c", textwrap.dedent(V3_WAIT)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    seconds, status = proc.stdout.rpartition("WAITED:")[2].split()
    assert status == "Succeeded" and float(seconds) < 20, proc.stdout[-2000:]


def test_v3_check_passes_in_local_mode(v3_python, lab_home):
    env = child_env(lab_home)
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run([str(v3_python), "-m", "lab_helpers", "check", "--mode", "local"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "! SageMaker Python SDK: 3.12.0 (v3)" in proc.stdout and "✗" not in proc.stdout


@pytest.mark.parametrize("builder", ["abalone", "outline"])
def test_v3_definition_differs_from_v2s_only_as_documented(v3_python, lab_home, v2_definitions, builder):
    v2_definition = v2_definitions[builder]
    v3_definition = _run_v3(v3_python, lab_home, builder, "build")[0]["definition"]
    assert sdk.undocumented_differences(v2_definition, v3_definition) == []
    # each documented difference is really there (the list does not hide more than it must)
    left, right = sdk._flatten(sdk._renamed_v2(v2_definition), "", {}), sdk._flatten(v3_definition, "", {})
    changed = [p for p in set(left) | set(right) if left.get(p, "<absent>") != right.get(p, "<absent>")]
    unused = [pattern for pattern, _ in sdk.V3_DEFINITION_DIFFERENCES
              if not any(sdk._documented_by(pattern, path) for path in changed)]
    if builder == "outline":  # no processing step, and its model steps are not in a condition
        unused = [p for p in unused if "ProcessingInputs" not in p]
    assert unused == []


def test_the_comparison_catches_an_undocumented_difference(v2_definition):
    changed = sdk._renamed_v2(v2_definition)  # v2's definition with v3's step names: no difference yet
    assert sdk.undocumented_differences(v2_definition, changed) == []
    changed["Steps"][1]["Arguments"]["RoleArn"] = "arn:aws:iam::111111111111:role/Other"
    changed["Steps"][3]["Arguments"]["IfSteps"][2]["Arguments"]["TransformResources"]["InstanceCount"] = 2
    assert [path for path, _, _ in sdk.undocumented_differences(v2_definition, changed)] == [
        "Steps.AbaloneTrain.Arguments.RoleArn", "Steps.AbaloneTransform.Arguments.TransformResources.InstanceCount"]
    renamed = json.loads(json.dumps(v2_definition).replace("AbaloneTrain", "AbaloneFit"))
    assert sdk.undocumented_differences(v2_definition, renamed), "a renamed step is a difference"


def test_the_sdk_is_detected_from_the_installed_package():
    assert sdk.major() == 2 and not sdk.is_v3()
    assert sdk.v3_step_name("AbaloneRegisterModel-RegisterModel") == "AbaloneRegisterModel"
    assert sdk.v3_step_name("AbaloneTrain") == "AbaloneTrain"


def test_quieting_picks_the_installed_sdks_loggers_and_survives_a_level_reset(monkeypatch):
    import logging

    from lab_helpers.sessions import quiet_sdk

    monkeypatch.delenv("LAB_SDK_LOGS", raising=False)
    assert sdk.routine_loggers() is sdk.ROUTINE_LOGGERS[2]
    assert set(sdk.ROUTINE_LOGGERS[2]) != set(sdk.ROUTINE_LOGGERS[3])
    quiet_sdk()
    quiet_sdk()  # twice: one filter per logger, not two
    logger = logging.getLogger("sagemaker.estimator")
    assert logger.level == logging.ERROR and len(logger.filters) == 1
    logger.setLevel(logging.DEBUG)  # as v3's ModelBuilder does to its logger
    try:
        record = logger.makeRecord(logger.name, logging.WARNING, __file__, 1, "routine", (), None)
        assert not logger.filter(record)
        assert logger.filter(logger.makeRecord(logger.name, logging.ERROR, __file__, 1, "real", (), None))
    finally:
        logger.setLevel(logging.ERROR)


# --------------------------------------------------------------------------- the two tracks side by side (notebook 10)


def test_tracks_compare_explains_each_difference_with_its_values(v3_python, lab_home, monkeypatch):
    from lab_helpers import tracks

    monkeypatch.setenv("LAB_HOME", str(lab_home))
    monkeypatch.setenv("KIT_VENV_SDK3", str(v3_python.parent.parent))
    table = tracks.compare("outline")
    assert (table["why"] == "UNDOCUMENTED").sum() == 0, table.to_string()
    timeout = table.set_index("path").loc["Steps.Train.Arguments.StoppingCondition.MaxRuntimeInSeconds"]
    assert (timeout["v2"], timeout["v3"]) == ("86400", "3600")
    assert "3600 s" in timeout["why"]
    assert "MlflowConfig" in set(table["path"])


def test_tracks_flag_an_undocumented_difference(v2_definition):
    changed = json.loads(json.dumps(v2_definition))
    changed["Steps"][1]["Arguments"]["HyperParameters"]["max_depth"] = "9"
    rows = {path: why for path, _, _, why in sdk.definition_differences(v2_definition, changed)}
    assert rows["Steps.AbaloneTrain.Arguments.HyperParameters.max_depth"] is None  # shown as UNDOCUMENTED


def test_a_track_not_set_up_says_which_command_sets_it_up(tmp_path, monkeypatch):
    from lab_helpers import tracks

    monkeypatch.setenv("KIT_VENV_SDK3", str(tmp_path / "no-such-venv"))
    with pytest.raises(tracks.TrackUnavailable, match=r"python3 kit.py setup --sdk 3"):
        tracks.definition("outline", 3)
    with pytest.raises(ValueError, match="No lesson pipeline 'tuning': use one of abalone, outline"):
        tracks.definition("tuning", 2)
