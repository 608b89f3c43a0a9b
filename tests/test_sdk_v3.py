"""The lesson's abalone pipeline built with SageMaker Python SDK v3 and run offline on the kit's local cloud.

The v3 side runs in a child process with the pinned v3 environment's python (:mod:`sdk_envs`, built once into
``.kit-cache/``; about 8 minutes the first time on two cores without pip's cache).  If it cannot be built
here the tests skip, saying why - except under CI=true, where they fail.  The v2 side runs in this process.
"""

import json
import os
import subprocess
import textwrap

import pytest
import sdk_envs
from conftest import child_env

from lab_helpers import sdk

#: In the v3 environment: build the abalone pipeline, upsert and start it, wait, report.
V3_RUN = """
import json, sys
import lab_helpers
from lab_helpers import pipelines, sdk
assert sdk.is_v3(), "the child must run SDK v3"
sess = lab_helpers.session("local")
assert type(sess).__module__ == "lab_helpers.local.session_v3", type(sess)
pipeline = pipelines.abalone_pipeline(sess)
definition = json.loads(pipeline.definition())
result = {"session": repr(sess), "definition": definition}
if sys.argv[1] == "run":
    pipeline.upsert(role_arn=lab_helpers.execution_role(sess))
    execution = pipeline.start()
    execution.wait(delay=1, max_attempts=900)
    result["status"] = execution.describe()["PipelineExecutionStatus"]
    client = sess.sagemaker_client
    steps = [s for page in client.get_paginator("list_pipeline_execution_steps").paginate(
        PipelineExecutionArn=execution.arn) for s in page["PipelineExecutionSteps"]]
    result["steps"] = {s["StepName"]: s["StepStatus"] for s in steps}
    result["failures"] = {s["StepName"]: s.get("FailureReason") for s in steps if s.get("FailureReason")}
    groups = client.list_model_packages(ModelPackageGroupName="AbaloneModelPackageGroup")["ModelPackageSummaryList"]
    result["packages"] = len(groups)
print(json.dumps(result, default=str))
"""


@pytest.fixture(scope="module")
def v3_python():
    """The v3 environment's python (skips, or fails under CI=true, if it cannot be built)."""
    try:
        return sdk_envs.v3_python()
    except sdk_envs.EnvUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"The SDK v3 environment is required under CI: {exc}")
        pytest.skip(f"The SDK v3 environment cannot be built here: {exc}")


def _run_v3(python, lab_home, mode):
    env = child_env(lab_home)
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run([str(python), "-c", textwrap.dedent(V3_RUN), mode], env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, f"SDK v3 child failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _steps(definition):
    """``{name: type}`` of every step, condition branches included."""
    found = {}
    for step in definition["Steps"]:
        found[step["Name"]] = step["Type"]
        if step["Type"] == "Condition":
            found.update(_steps({"Steps": step["Arguments"]["IfSteps"] + step["Arguments"]["ElseSteps"]}))
    return found


@pytest.fixture(scope="module")
def v2_definition(tmp_path_factory):
    """The abalone pipeline's definition as the kit's own SDK v2 builds it."""
    import lab_helpers
    from lab_helpers import pipelines

    os.environ["LAB_HOME"] = str(tmp_path_factory.mktemp("v2-home"))
    try:
        return json.loads(pipelines.abalone_pipeline(lab_helpers.session("local")).definition())
    finally:
        os.environ.pop("LAB_HOME", None)


@pytest.mark.slow
def test_v3_abalone_pipeline_runs_offline_like_v2s(v3_python, lab_home, v2_definition):
    result = _run_v3(v3_python, lab_home, "run")
    assert "sdk=v3" in result["session"]
    assert result["status"] == "Succeeded", result["failures"]
    v2_steps = {sdk.v3_step_name(name): kind for name, kind in _steps(v2_definition).items()}
    assert _steps(result["definition"]) == v2_steps
    # every step but the failure branch ran, and the model was registered
    assert result["steps"] == {name: "Succeeded" for name in v2_steps if name != "AbaloneMSEFail"}
    assert result["packages"] == 1


def test_v3_definition_differs_from_v2s_only_as_documented(v3_python, lab_home, v2_definition):
    v3_definition = _run_v3(v3_python, lab_home, "build")["definition"]
    assert sdk.undocumented_differences(v2_definition, v3_definition) == []
    # each documented difference is really there (the list does not hide more than it must)
    left, right = sdk._flatten(sdk._renamed_v2(v2_definition), "", {}), sdk._flatten(v3_definition, "", {})
    changed = [p for p in set(left) | set(right) if left.get(p, "<absent>") != right.get(p, "<absent>")]
    unused = [pattern for pattern, _ in sdk.V3_DEFINITION_DIFFERENCES
              if not any(sdk._documented_by(pattern, path) for path in changed)]
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
