"""The exercises in which learners write the pipeline: each checkpoint passes the solution and other correct
forms, and stops the plausible wrong answers with a message that names the mistake.

One fresh local-mode Python process per notebook runs the solution's code cells in order (06 skips section
2, which runs the outline's pipeline, and stops before its own executions start). Before the first cell a
case changes, the case runs on a copy of the namespace: its answer swapped in, up to and including its
checkpoint cell; the first error (type and message) is its outcome.
"""

import json
import os
import subprocess
import sys
import textwrap

import nbformat
import pytest

from notebook_helpers import ROOT, SOLUTIONS

RUNNER = textwrap.dedent('''
    import json, sys
    from types import SimpleNamespace
    spec = json.loads(sys.stdin.read())
    cells, skipping = [], False
    for cell in (SimpleNamespace(**c) for c in spec["cells"]):
        if cell.cell_type == "markdown" and cell.source.startswith("## "):
            skipping = any(cell.source.startswith(h) for h in spec["skip"])
        if cell.cell_type == "code" and not skipping:
            cells.append(cell)
        if cell.cell_type == "markdown" and cell.source.startswith(spec["stop"]):
            break

    def index(text):
        return next(i for i, cell in enumerate(cells) if text in cell.source)

    def run(namespace, sources):
        for source in sources:
            try:
                exec(compile(source, "<cell>", "exec"), namespace)
            except BaseException as error:
                return {"error": type(error).__name__, "message": str(error)}
        return None

    def variant(case, namespace):
        start, end = min(index(old) for old in case["replace"]), index(case["until"])
        sources = []
        for cell in cells[start:end + 1]:
            source = cell.source
            for old, new in case["replace"].items():
                source = source.replace(old, new)
            sources.append(source)
        return run(dict(namespace), sources)

    namespace, outcomes = {"__name__": "__main__"}, {}
    starts = {}
    for name, case in spec["cases"].items():
        starts.setdefault(min(index(old) for old in case["replace"]), []).append(name)
    for i, cell in enumerate(cells):
        for name in starts.get(i, []):
            outcomes[name] = variant(spec["cases"][name], namespace)
        source = cell.source + ("\\nMODE = 'local'" if "parameters" in cell.tags else "")
        error = run(namespace, [source])
        if error:
            outcomes["solution"] = dict(error, cell=cell.source[:300])
            break
    print(json.dumps(outcomes))
''')


def run_cases(notebook, cases, tmp_path, skip=(), stop="## Clean up", python=sys.executable, solutions=SOLUTIONS):
    """{case: None or {"error", "message"}} for each case, and "solution" if the solution itself failed.

    ``python`` runs the notebook's cells (the v3 track: the v3 environment's python, ``solutions / "v3"``).
    """
    cells = [{"cell_type": cell.cell_type, "source": cell.source, "tags": cell.metadata.get("tags", [])}
             for cell in nbformat.read(solutions / notebook, as_version=4).cells]
    text = "\n".join(cell["source"] for cell in cells)
    for name, case in cases.items():
        for old in [*case["replace"], case["until"]]:
            assert old in text, f"{name}: {old!r} is not in {notebook}: the test no longer swaps an answer in"
    # the cells go to the child on stdin: the v3 environment has no nbformat
    spec = json.dumps({"cells": cells, "skip": list(skip), "stop": stop, "cases": cases})
    env = dict(os.environ, LAB_HOME=str(tmp_path / "lab"), LAB_MODE="local", MPLBACKEND="Agg",
               SAGEMAKER_SUPPRESS_V2_WARNING="1", COLUMNS="1000")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))  # this kit, not another
    env.pop("VIRTUAL_ENV", None)
    result = subprocess.run([str(python), "-c", RUNNER], input=spec, cwd=solutions, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- 01: the S3 upload

UPLOAD = 'input_uri = sess.upload_data(local_csv, bucket=bucket, key_prefix=f"{lab_helpers.LAB_PREFIX}/data")'
UPLOAD_CHECK = "lab_helpers.checkpoints.s3_upload(globals())"
UPLOAD_CASES = {
    # correct forms
    "no bucket argument": [(UPLOAD, 'input_uri = sess.upload_data(local_csv, key_prefix="pipelines-lab/data")')],
    "S3Uploader": [(UPLOAD, "from sagemaker.s3 import S3Uploader\n"
                            'input_uri = S3Uploader.upload(local_csv, f"s3://{bucket}/pipelines-lab/data", '
                            "sagemaker_session=sess)")],
    # wrong answers
    "no prefix": [(UPLOAD, 'input_uri = sess.upload_data(local_csv, bucket=bucket, key_prefix="data")')],
    "prefix without /data": [(UPLOAD, "input_uri = sess.upload_data(local_csv, bucket=bucket, "
                                      "key_prefix=lab_helpers.LAB_PREFIX)")],
    "another bucket": [(UPLOAD, 'sess.boto_session.client("s3").create_bucket(Bucket="my-lab-data")\n'
                                'input_uri = sess.upload_data(local_csv, bucket="my-lab-data", '
                                'key_prefix="pipelines-lab/data")')],
    "outline's bucket": [(UPLOAD, 'input_uri = sess.upload_data(local_csv, bucket="adgu-datasets", '
                                  'key_prefix="pipeline-dataset")')],
    "URI not kept": [(UPLOAD, UPLOAD.replace("input_uri = ", ""))],
    "local path kept": [(UPLOAD, UPLOAD + "\ninput_uri = local_csv")],
}


@pytest.fixture(scope="module")
def upload_outcomes(tmp_path_factory):
    cases = {name: {"until": UPLOAD_CHECK, "replace": dict(pairs)} for name, pairs in UPLOAD_CASES.items()}
    return run_cases("01_data.ipynb", cases, tmp_path_factory.mktemp("ex01"))


def _fails(outcome, *named, error="CheckpointFailed"):
    assert outcome and outcome["error"] == error, outcome
    for text in named:
        assert text in outcome["message"], (text, outcome["message"])


def test_01_solution_passes(upload_outcomes):
    assert "solution" not in upload_outcomes, upload_outcomes["solution"]


@pytest.mark.parametrize("name", ["no bucket argument", "S3Uploader"])
def test_01_upload_accepts_other_correct_forms(upload_outcomes, name):
    assert upload_outcomes[name] is None, upload_outcomes[name]


@pytest.mark.parametrize("name, named", [
    ("no prefix", ["not under the kit's prefix", "key_prefix"]),
    ("prefix without /data", ["pipelines-lab/abalone.csv", "pipelines-lab/data/abalone.csv"]),
    ("another bucket", ["'my-lab-data'", "default bucket", "sess.default_bucket()"]),
    ("URI not kept", ["no variable `input_uri`"]),
    ("local path kept", ["not an S3 URI"]),
])
def test_01_upload_rejects_plausible_mistakes(upload_outcomes, name, named):
    _fails(upload_outcomes[name], *named)


def test_01_a_bucket_that_does_not_exist_fails_in_the_upload_itself(upload_outcomes):
    _fails(upload_outcomes["outline's bucket"], "NoSuchBucket", error="S3UploadFailedError")


# --------------------------------------------------------------------------- 06: the learner's pipeline

OUT_TRAIN = 'ProcessingOutput(output_name="train", source="/opt/ml/processing/train",'
PROPERTY_FILE = 'PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")'
EVAL_STEP = 'step_eval = ProcessingStep(name="AbaloneEval", step_args=eval_args, property_files=[evaluation_report])'
MODEL_NAME = "Transformer(model_name=step_create_model.properties.ModelName,"
TRANSFORM_DATA = 'transformer.transform(data=batch_data, content_type="text/csv", split_type="Line")'
MSE = ('mse = JsonGet(step_name=step_eval.name, property_file=evaluation_report, '
       'json_path="regression_metrics.mse.value")')
FAIL_MESSAGE = '''error_message=Join(on=" ", values=["Execution failed: the test MSE", mse,
                                       "is above the threshold MseThreshold =", mse_threshold]),'''
CONDITION = "conditions=[ConditionLessThanOrEqualTo(left=mse, right=mse_threshold)],"
BRANCHES = '''    if_steps=[step_register, step_create_model, step_transform],
    else_steps=[step_fail],'''
SWAPPED = '''    if_steps=[step_fail],
    else_steps=[step_register, step_create_model, step_transform],'''
CHECK = "lab_helpers.checkpoints.{}(globals())".format

PIPELINE_CASES = {
    # processing
    "process: output named training": (CHECK("processing_step"), [
        (OUT_TRAIN, OUT_TRAIN.replace('"train"', '"training"', 1))]),
    "process: output folder": (CHECK("processing_step"), [(OUT_TRAIN, OUT_TRAIN.replace(
        '"/opt/ml/processing/train"', '"/opt/ml/processing/output/train"'))]),
    "process: sides swapped": (CHECK("processing_step"), [(
        OUT_TRAIN + '\n                             destination=run_output("AbaloneProcess", "train")),',
        'ProcessingOutput(output_name="train", source=run_output("AbaloneProcess", "train"),\n'
        '                             destination="/opt/ml/processing/train"),')]),
    "process: input to a file path": (CHECK("processing_step"), [(
        'destination="/opt/ml/processing/input")', 'destination="/opt/ml/processing/input/abalone.csv")')]),
    "process: run() not wrapped": (CHECK("processing_step"), [
        ('step_process = ProcessingStep(\n    name="AbaloneProcess",\n    step_args=sklearn_processor.run(',
         "step_process = sklearn_processor.run("),
        ('        arguments=["--random-state", "42"],\n    ),\n)', '        arguments=["--random-state", "42"],\n)')]),
    # property file
    "report: no property_files": (CHECK("property_file"), [(EVAL_STEP, EVAL_STEP.replace(
        ", property_files=[evaluation_report]", ""))]),
    "report: output_name is the file": (CHECK("property_file"), [(PROPERTY_FILE, PROPERTY_FILE.replace(
        'output_name="evaluation"', 'output_name="evaluation.json"'))]),
    "report: absolute path": (CHECK("property_file"), [(PROPERTY_FILE, PROPERTY_FILE.replace(
        'path="evaluation.json"', 'path="/opt/ml/processing/evaluation/evaluation.json"'))]),
    # transform
    "transform: training artifact": (CHECK("transform_step"), [(MODEL_NAME, MODEL_NAME.replace(
        "step_create_model.properties.ModelName", "abalone_train.properties.ModelArtifacts.S3ModelArtifacts"))]),
    "transform: test split": (CHECK("transform_step"), [(TRANSFORM_DATA, TRANSFORM_DATA.replace(
        "data=batch_data", 'data=splits["test"].S3Output.S3Uri'))]),
    "transform: legacy form": (CHECK("transform_step"), [(
        'step_args=transformer.transform(data=batch_data, content_type="text/csv", split_type="Line"),',
        "transformer=transformer, inputs=__import__('sagemaker').inputs.TransformInput("
        'data=batch_data, content_type="text/csv", split_type="Line"),')]),
    # JsonGet and FailStep
    "fail: JsonGet by name, step=": (CHECK("fail_step"), [
        (MSE, 'mse = JsonGet(step=step_eval, property_file="EvaluationReport", '
              'json_path="regression_metrics.mse.value")')]),
    "fail: f-string": (CHECK("fail_step"), [
        (FAIL_MESSAGE, 'error_message=f"Execution failed: the test MSE {mse} is above {mse_threshold}",')]),
    "fail: f-string of values": (CHECK("fail_step"), [(FAIL_MESSAGE, 'error_message=f"The MSE is above the threshold '
                                                                   '{mse_threshold.default_value}",')]),
    "fail: f-string of expr": (CHECK("fail_step"), [
        (FAIL_MESSAGE, 'error_message=f"The MSE {mse.expr} is too high",')]),
    "fail: path without .value": (CHECK("fail_step"), [(MSE, MSE.replace("mse.value", "mse"))]),
    "fail: path of rmse": (CHECK("fail_step"), [(MSE, MSE.replace("mse.value", "rmse.value"))]),
    "fail: Join without the MSE": (CHECK("fail_step"), [(FAIL_MESSAGE, 'error_message=Join(on=" ", values=['
                                                                     '"The MSE is above", mse_threshold]),')]),
    # condition
    "cond: greater-than, branches swapped": (CHECK("condition_step"), [
        (CONDITION, "conditions=[__import__('sagemaker').workflow.conditions.ConditionGreaterThan("
                    "left=mse, right=mse_threshold)],"), (BRANCHES, SWAPPED)]),
    "cond: mirrored operands": (CHECK("condition_step"), [
        (CONDITION, "conditions=[__import__('sagemaker').workflow.conditions.ConditionGreaterThanOrEqualTo("
                    "left=mse_threshold, right=mse)],")]),
    "cond: strictly less": (CHECK("condition_step"), [
        (CONDITION, "conditions=[__import__('sagemaker').workflow.conditions.ConditionLessThan("
                    "left=mse, right=mse_threshold)],")]),
    "cond: branches swapped": (CHECK("condition_step"), [(BRANCHES, SWAPPED)]),
    "cond: number threshold": (CHECK("condition_step"), [
        (CONDITION, CONDITION.replace("right=mse_threshold", "right=6.0"))]),
    "cond: transform missing": (CHECK("condition_step"), [(BRANCHES, BRANCHES.replace(", step_transform", ""))]),
}


@pytest.fixture(scope="module")
def pipeline_outcomes(tmp_path_factory):
    cases = {name: {"until": until, "replace": dict(pairs)} for name, (until, pairs) in PIPELINE_CASES.items()}
    return run_cases("06_pipeline.ipynb", cases, tmp_path_factory.mktemp("ex06"),
                     skip=("## 2.",), stop="## 4.")


def test_06_solution_passes_every_checkpoint(pipeline_outcomes):
    assert "solution" not in pipeline_outcomes, pipeline_outcomes["solution"]


@pytest.mark.parametrize("name", ["transform: legacy form", "fail: JsonGet by name, step=",
                                  "cond: greater-than, branches swapped", "cond: mirrored operands"])
def test_06_accepts_other_correct_forms(pipeline_outcomes, name):
    assert pipeline_outcomes[name] is None, pipeline_outcomes[name]


@pytest.mark.parametrize("name, named", [
    ("process: output named training", ["train is missing", "named train, validation and test"]),
    ("process: output folder", ["'/opt/ml/processing/output/train'",
                                "writes the train split to /opt/ml/processing/train"]),
    ("process: sides swapped", ["an S3 location (Join) on the container's side", "swap the two sides"]),
    ("process: input to a file path", ["no input is copied to /opt/ml/processing/input"]),
    ("process: run() not wrapped", ["the job's arguments", "as step_args="]),
    ("report: no property_files", ["declares no property files", "property_files=[evaluation_report]"]),
    ("report: output_name is the file", ["'evaluation.json', which is not an output of step_eval", "['evaluation']"]),
    ("report: absolute path", ["relative to the output's folder", 'path="evaluation.json"']),
    ("transform: training artifact", ["model artifact", "step_create_model.properties.ModelName"]),
    ("transform: test split", ["rings", "data=batch_data"]),
    ("fail: f-string of values", ["fixed text", "Join("]),
    ("fail: f-string of expr", ["f-string", "Join("]),
    ("fail: path without .value", ["ends at an object", 'json_path="regression_metrics.mse.value"']),
    ("fail: path of rmse", ["another metric", "regression_metrics.mse.value"]),
    ("fail: Join without the MSE", ["no JsonGet", "mse"]),
    ("cond: strictly less", ["equal to the threshold", "fails a good model", "ConditionLessThanOrEqualTo"]),
    ("cond: branches swapped", ["below the threshold", "runs if_steps (AbaloneMSEFail)", "fails a good model"]),
    ("cond: number threshold", ["the number 6.0", "mse_threshold"]),
    ("cond: transform missing", ["if_steps=", "AbaloneTransform"]),
])
def test_06_rejects_plausible_mistakes(pipeline_outcomes, name, named):
    _fails(pipeline_outcomes[name], *named)


def test_06_processing_fixes_are_written_in_sdk_v2(pipeline_outcomes):
    assert 'ProcessingInput(source=input_data, destination="/opt/ml/processing/input")' in (
        pipeline_outcomes["process: input to a file path"]["message"])
    assert 'ProcessingOutput(output_name="train", source="/opt/ml/processing/train")' in (
        pipeline_outcomes["process: output folder"]["message"])


def test_06_an_f_string_of_a_pipeline_variable_is_refused_by_the_sdk_at_once(pipeline_outcomes):
    """Python cannot format a JsonGet: the SDK raises at definition time, in the learner's own cell."""
    _fails(pipeline_outcomes["fail: f-string"], "do not support __str__", error="TypeError")


# --------------------------------------------------------------------------- 06 in the SDK v3 track
# The same exercises in v3's API (solutions/v3): the checkpoints pass the v3 solution and the other correct forms,
# and stop each plausible mistake with the message they give in v2; only a fix's code is written in v3's API.

V3_CONDITIONS = "__import__('sagemaker.core.workflow.conditions', fromlist=['conditions'])."
V3_OUT_TRAIN = 'ProcessingOutput(output_name="train", s3_output=ProcessingS3Output('
V3_TRAIN_SIDES = 's3_uri=run_output("AbaloneProcess", "train"), local_path="/opt/ml/processing/train",'
V3_INPUT = 'local_path="/opt/ml/processing/input"'
#: v2's cases whose answer has another form in v3 (v3's own follow), or none (the legacy TransformStep arguments)
V2_FORMS = ("process: output named training", "process: output folder", "process: input to a file path",
            "process: sides swapped", "transform: legacy form")
PIPELINE_CASES_V3 = {
    **{name: (until, [(old, new.replace("__import__('sagemaker').workflow.conditions.", V3_CONDITIONS))
                      for old, new in pairs])
       for name, (until, pairs) in PIPELINE_CASES.items() if name not in V2_FORMS},
    "process: output named training": (CHECK("processing_step"), [
        (V3_OUT_TRAIN, V3_OUT_TRAIN.replace('"train"', '"training"'))]),
    "process: output folder": (CHECK("processing_step"), [(V3_TRAIN_SIDES, V3_TRAIN_SIDES.replace(
        '"/opt/ml/processing/train"', '"/opt/ml/processing/output/train"'))]),
    "process: input to a file path": (CHECK("processing_step"), [(V3_INPUT, V3_INPUT[:-1] + '/abalone.csv"')]),
    "process: sides swapped": (CHECK("processing_step"), [(
        V3_TRAIN_SIDES, 's3_uri="/opt/ml/processing/train", local_path=run_output("AbaloneProcess", "train"),')]),
}


@pytest.fixture(scope="module")
def v3_pipeline_outcomes(tmp_path_factory):
    """The 06 cases run in the v3 track (skips, or fails under CI=true, without the v3 environment)."""
    import sdk_envs

    try:
        python = sdk_envs.v3_python()
    except sdk_envs.EnvUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"The SDK v3 environment is required under CI: {exc}")
        pytest.skip(f"The SDK v3 environment cannot be built here: {exc}")
    cases = {name: {"until": until, "replace": dict(pairs)} for name, (until, pairs) in PIPELINE_CASES_V3.items()}
    return run_cases("06_pipeline.ipynb", cases, tmp_path_factory.mktemp("ex06-v3"), skip=("## 2.",), stop="## 4.",
                     python=python, solutions=SOLUTIONS / "v3")


def test_06_v3_solution_passes_every_checkpoint(v3_pipeline_outcomes):
    assert "solution" not in v3_pipeline_outcomes, v3_pipeline_outcomes["solution"]


@pytest.mark.parametrize("name", ["fail: JsonGet by name, step=", "cond: greater-than, branches swapped",
                                  "cond: mirrored operands"])
def test_06_v3_accepts_other_correct_forms(v3_pipeline_outcomes, name):
    assert v3_pipeline_outcomes[name] is None, v3_pipeline_outcomes[name]


@pytest.mark.parametrize("name", sorted(set(PIPELINE_CASES_V3) - {
    "fail: JsonGet by name, step=", "cond: greater-than, branches swapped", "cond: mirrored operands"}))
def test_06_v3_rejects_each_mistake_as_v2_does(pipeline_outcomes, v3_pipeline_outcomes, name):
    """Same error, same ✗ line (what is wrong) in both tracks."""
    v2, v3 = pipeline_outcomes[name], v3_pipeline_outcomes[name]
    assert v2 and v3 and v3["error"] == v2["error"], (v2, v3)
    assert v3["message"].splitlines()[0] == v2["message"].splitlines()[0], (v2["message"], v3["message"])


def test_06_v3_processing_fixes_are_written_in_sdk_v3(v3_pipeline_outcomes):
    assert ('ProcessingInput(input_name="input", s3_input=ProcessingS3Input(s3_uri=input_data, '
            'local_path="/opt/ml/processing/input", s3_data_type="S3Prefix"))') in (
        v3_pipeline_outcomes["process: input to a file path"]["message"])
    assert ('ProcessingOutput(output_name="train", s3_output=ProcessingS3Output('
            'local_path="/opt/ml/processing/train"') in v3_pipeline_outcomes["process: output folder"]["message"]


# --------------------------------------------------------------------------- checkpoints on odd objects


@pytest.mark.parametrize("check, namespace, named", [
    ("processing_step", {}, "no variable `step_process`"),
    ("processing_step", {"step_process": None}, "`step_process` is None"),
    ("property_file", {"evaluation_report": "EvaluationReport"}, "is a str, not a PropertyFile"),
    ("transform_step", {"step_transform": 42}, "is a int, not a TransformStep"),
    ("fail_step", {"step_fail": object()}, "not a FailStep"),
    ("condition_step", {"step_cond": []}, "is a list, not a ConditionStep"),
    ("s3_upload", {"input_uri": "s3://b/k"}, "no variable `sess`"),
])
def test_checkpoints_name_a_missing_or_wrong_variable(check, namespace, named):
    from lab_helpers import checkpoints

    with pytest.raises(checkpoints.CheckpointFailed, match="✗") as failed:
        getattr(checkpoints, check)(namespace)
    assert named in str(failed.value) and "→ Fix:" in str(failed.value)


def test_checkpoint_without_globals_says_how_to_call_it():
    from lab_helpers import checkpoints

    with pytest.raises(checkpoints.CheckpointFailed, match=r"fail_step\(globals\(\)\)"):
        checkpoints.fail_step()
