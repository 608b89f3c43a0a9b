"""The persistent local control plane and offline model registration (fast pipelines, no training).

Every pipeline here is built with the SDK and run by the local engine, but registers a model
whose artifact is a literal S3 URI, so a run takes a fraction of a second.  The lesson's own
pipelines (outline Step 4, abalone) are run end to end in ``test_control_plane_pipelines.py``.

What is checked: both registration forms (``RegisterModel`` step collection and
``ModelStep(step_args=model.register(...))``), model package groups created on first use, versions
counting up, approval status from a literal or a pipeline parameter and later from
``UpdateModelPackage``; what the control plane keeps (pipelines, executions, steps, parameters,
packages) and how it answers (AWS shapes, pagination, error codes) - also to other processes;
two executions started at once from two processes; a run whose process is killed.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest
from conftest import child_env as make_child_env, offline_module
from conftest import finished, module_fixtures, module_home, plain, run_child, runner_pid, wait_for_arn
from botocore.exceptions import ClientError, WaiterError

PY = sys.executable

MODEL_STEP_PIPELINE, MODEL_STEP_GROUP = "CpModelStep", "CpModelStepGroup"
COLLECTION_PIPELINE, COLLECTION_GROUP = "CpCollection", "CpCollectionGroup"
GATE_PIPELINE, GATE_GROUP = "CpGate", "CpGateGroup"

WAIT_SCRIPT = textwrap.dedent("""
    # A processing job that only waits: SLEEP seconds, or until the file STOP_FILE exists.
    import os
    import time

    limit = float(os.environ.get("SLEEP", "1"))
    stop_file = os.environ.get("STOP_FILE", "")
    started = time.time()
    while time.time() - started < limit:
        if stop_file and os.path.exists(stop_file):
            break
        time.sleep(0.05)
    print(f"waited {time.time() - started:.1f}s", flush=True)
""")


# ----------------------------------------------------------------------------- set-up


#: nothing in this module may resolve a host name or open a connection (local mode is offline)
no_network = pytest.fixture(scope="module", autouse=True, name="no_network")(offline_module)


#: One LAB_HOME for this module's shared runs (LAB_HOME is set for the module's duration)
home = module_home("control-plane-home")


@pytest.fixture(scope="module")
def child_env(home):
    # the only jobs children run are trivial wait scripts: start them cold rather than warm a fork
    # server (which imports numpy, pandas, scikit-learn and xgboost first)
    return make_child_env(home, LAB_FORK_SERVER="0")


sess, sm = module_fixtures("sess", "sm")


@pytest.fixture(scope="module")
def wait_script(tmp_path_factory):
    path = tmp_path_factory.mktemp("scripts") / "wait.py"
    path.write_text(WAIT_SCRIPT)
    return str(path)


def _model_data(sess):
    return f"s3://{sess.default_bucket()}/cp-tests/model/model.tar.gz"


def _metrics_uri(sess):
    return f"s3://{sess.default_bucket()}/cp-tests/evaluation/evaluation.json"


def register_step(sess, group, form, approval, depends_on=None):
    """A registration step: ``form`` is "model_step" (ModelStep + model.register) or "collection" (RegisterModel)."""
    from sagemaker import image_uris
    from sagemaker.estimator import Estimator
    from sagemaker.model import Model
    from sagemaker.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.step_collections import RegisterModel

    import lab_helpers

    role = lab_helpers.execution_role(sess)
    image = image_uris.retrieve(framework="xgboost", region=sess.boto_region_name, version="1.7-1")
    metrics = ModelMetrics(model_statistics=MetricsSource(s3_uri=_metrics_uri(sess), content_type="application/json"))
    common = dict(
        content_types=["text/csv"],
        response_types=["text/csv"],
        inference_instances=["ml.t2.medium", "ml.m5.large"],
        transform_instances=["ml.m5.xlarge"],
        model_package_group_name=group,
        approval_status=approval,
        model_metrics=metrics,
    )
    if form == "model_step":
        model = Model(image_uri=image, model_data=_model_data(sess), role=role, sagemaker_session=sess)
        return ModelStep(name="Register", step_args=model.register(**common), depends_on=depends_on)
    estimator = Estimator(image_uri=image, instance_type="ml.m5.xlarge", instance_count=1, role=role,
                          sagemaker_session=sess)
    return RegisterModel(name="Register", estimator=estimator, model_data=_model_data(sess),
                         depends_on=depends_on, **common)


def wait_step(sess, script, seconds, stop_file=""):
    from sagemaker.sklearn.processing import SKLearnProcessor
    from sagemaker.workflow.steps import ProcessingStep

    import lab_helpers

    processor = SKLearnProcessor(framework_version="1.2-1", instance_type="ml.m5.xlarge", instance_count=1,
                                 role=lab_helpers.execution_role(sess), sagemaker_session=sess,
                                 env={"SLEEP": str(seconds), "STOP_FILE": stop_file})
    return ProcessingStep(name="Wait", step_args=processor.run(code=script))


def registry_pipeline(sess, name, group, form="model_step", wait=None):
    """Register a model (approval status: the ModelApprovalStatus parameter); optionally wait first.

    ``wait`` is ``(script, seconds, stop_file)``: a processing step that runs before the registration.
    """
    from sagemaker.workflow.parameters import ParameterString
    from sagemaker.workflow.pipeline import Pipeline

    approval = ParameterString(name="ModelApprovalStatus", default_value="PendingManualApproval")
    steps = []
    if wait:
        steps.append(wait_step(sess, *wait))
    steps.append(register_step(sess, group, form, approval, depends_on=[steps[0]] if steps else None))
    return Pipeline(name=name, parameters=[approval], steps=steps, sagemaker_session=sess)


def collection_pipeline(sess, name=COLLECTION_PIPELINE, group=COLLECTION_GROUP):
    """The outline's registration form: the RegisterModel step collection, approval status a literal."""
    from sagemaker.workflow.pipeline import Pipeline

    return Pipeline(name=name, steps=[register_step(sess, group, "collection", "Approved")], sagemaker_session=sess)


def gate_pipeline(sess):
    """Condition on a parameter: register if Score <= 2, else a Fail step whose message names the score."""
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionLessThanOrEqualTo
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.parameters import ParameterFloat
    from sagemaker.workflow.pipeline import Pipeline

    score = ParameterFloat(name="Score", default_value=1.0)
    fail = FailStep(name="TooHigh", error_message=Join(on=" ", values=["score", score, "is above 2"]))
    gate = ConditionStep(
        name="Gate",
        conditions=[ConditionLessThanOrEqualTo(left=score, right=2.0)],
        if_steps=[register_step(sess, GATE_GROUP, "model_step", "Approved")],
        else_steps=[fail],
    )
    return Pipeline(name=GATE_PIPELINE, parameters=[score], steps=[gate], sagemaker_session=sess)


def packages(sm, group, **kwargs):
    items = []
    for page in sm.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group, **kwargs):
        items.extend(page["ModelPackageSummaryList"])
    return items


def steps_of(sm, arn):
    listed = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    return {s["StepName"]: s for s in listed}


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def reg(sess, sm):
    """The module's shared runs: both registration forms, approval by parameter, a condition and a fail."""
    import lab_helpers

    role = lab_helpers.execution_role(sess)
    runs = {}
    model_step = registry_pipeline(sess, MODEL_STEP_PIPELINE, MODEL_STEP_GROUP, "model_step")
    model_step.upsert(role_arn=role)
    runs["pending"] = finished(model_step.start())
    runs["approved"] = finished(model_step.start(parameters={"ModelApprovalStatus": "Approved"}))
    runs["rejected"] = finished(model_step.start(parameters={"ModelApprovalStatus": "Rejected"}))
    collection = collection_pipeline(sess)
    collection.upsert(role_arn=role)
    runs["collection"] = finished(collection.start())
    gate = gate_pipeline(sess)
    gate.upsert(role_arn=role)
    runs["gate_pass"] = finished(gate.start())
    runs["gate_fail"] = finished(gate.start(parameters={"Score": 5}))
    return {"pipelines": {"model_step": model_step, "collection": collection, "gate": gate}, "runs": runs}


# ----------------------------------------------------------------------------- registration


def test_model_step_registration_creates_the_group_and_counts_versions_up(reg, sm):
    runs = reg["runs"]
    for key in ("pending", "approved", "rejected"):
        assert runs[key].describe()["PipelineExecutionStatus"] == "Succeeded"
    group = sm.describe_model_package_group(ModelPackageGroupName=MODEL_STEP_GROUP)
    assert group["ModelPackageGroupStatus"] == "Completed"
    assert group["ModelPackageGroupArn"].endswith(f":model-package-group/{MODEL_STEP_GROUP.lower()}")
    listed = packages(sm, MODEL_STEP_GROUP, SortBy="CreationTime", SortOrder="Ascending")
    assert [p["ModelPackageVersion"] for p in listed] == [1, 2, 3]
    # each execution's registration step names the package it created
    for version, key in enumerate(("pending", "approved", "rejected"), start=1):
        step = steps_of(sm, runs[key].arn)["Register-RegisterModel"]
        assert step["StepStatus"] == "Succeeded"
        assert step["Metadata"]["RegisterModel"]["Arn"] == listed[version - 1]["ModelPackageArn"]
        assert step["Metadata"]["RegisterModel"]["Arn"].endswith(f"/{MODEL_STEP_GROUP.lower()}/{version}")


def test_approval_status_comes_from_the_pipeline_parameter(reg, sm):
    listed = packages(sm, MODEL_STEP_GROUP, SortBy="CreationTime", SortOrder="Ascending")
    assert [p["ModelApprovalStatus"] for p in listed] == ["PendingManualApproval", "Approved", "Rejected"]
    params = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=reg["runs"]["approved"].arn)
    assert params["PipelineParameters"] == [{"Name": "ModelApprovalStatus", "Value": "Approved"}]
    params = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=reg["runs"]["pending"].arn)
    assert params["PipelineParameters"] == [{"Name": "ModelApprovalStatus", "Value": "PendingManualApproval"}]


def test_register_model_step_collection_with_a_literal_approval_status(reg, sm):
    execution = reg["runs"]["collection"]
    assert execution.describe()["PipelineExecutionStatus"] == "Succeeded"
    step = steps_of(sm, execution.arn)["Register-RegisterModel"]
    assert step["StepStatus"] == "Succeeded"
    (package,) = packages(sm, COLLECTION_GROUP)
    assert package["ModelPackageVersion"] == 1
    assert package["ModelApprovalStatus"] == "Approved"
    assert step["Metadata"]["RegisterModel"]["Arn"] == package["ModelPackageArn"]


@pytest.mark.parametrize("group", [MODEL_STEP_GROUP, COLLECTION_GROUP])
def test_registered_package_keeps_the_inference_specification_and_metrics(reg, sess, sm, group):
    arn = packages(sm, group)[0]["ModelPackageArn"]
    described = sm.describe_model_package(ModelPackageName=arn)
    assert described["ModelPackageArn"] == arn
    assert described["ModelPackageGroupName"] == group
    assert described["ModelPackageStatus"] == "Completed"
    spec = described["InferenceSpecification"]
    (container,) = spec["Containers"]
    assert container["Image"].endswith(".amazonaws.com/sagemaker-xgboost:1.7-1")
    assert container["ModelDataUrl"] == _model_data(sess)
    assert spec["SupportedContentTypes"] == ["text/csv"]
    assert spec["SupportedResponseMIMETypes"] == ["text/csv"]
    assert spec["SupportedRealtimeInferenceInstanceTypes"] == ["ml.t2.medium", "ml.m5.large"]
    assert spec["SupportedTransformInstanceTypes"] == ["ml.m5.xlarge"]
    statistics = described["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics == {"ContentType": "application/json", "S3Uri": _metrics_uri(sess)}


def test_update_model_package_approves_and_rejects_later(sess, sm):
    import lab_helpers

    pipeline = registry_pipeline(sess, "CpUpdate", "CpUpdateGroup")
    pipeline.upsert(role_arn=lab_helpers.execution_role(sess))
    finished(pipeline.start())
    (package,) = packages(sm, "CpUpdateGroup")
    arn = package["ModelPackageArn"]
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert packages(sm, "CpUpdateGroup", ModelApprovalStatus="Approved") == []

    before = sm.describe_model_package(ModelPackageName=arn)["LastModifiedTime"]
    time.sleep(0.01)
    answer = sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved",
                                     ApprovalDescription="MSE below threshold")
    assert answer["ModelPackageArn"] == arn
    described = sm.describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["ApprovalDescription"] == "MSE below threshold"
    assert described["LastModifiedTime"] > before
    assert [p["ModelPackageArn"] for p in packages(sm, "CpUpdateGroup", ModelApprovalStatus="Approved")] == [arn]

    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    assert sm.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == "Rejected"
    assert packages(sm, "CpUpdateGroup", ModelApprovalStatus="Approved") == []
    assert len(packages(sm, "CpUpdateGroup", ModelApprovalStatus="Rejected")) == 1

    with pytest.raises(ClientError) as excinfo:
        sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Maybe")
    assert error_code(excinfo) == "ValidationException"


# ----------------------------------------------------------------------------- what is kept


def test_pipeline_is_kept_with_its_definition(reg, sm):
    pipeline = reg["pipelines"]["model_step"]
    described = sm.describe_pipeline(PipelineName=MODEL_STEP_PIPELINE)
    assert described["PipelineName"] == MODEL_STEP_PIPELINE
    assert described["PipelineArn"].endswith(f":pipeline/{MODEL_STEP_PIPELINE.lower()}")
    assert described["PipelineStatus"] == "Active"
    assert json.loads(described["PipelineDefinition"]) == json.loads(pipeline.definition())
    summary = next(p for p in sm.list_pipelines(PipelineNamePrefix="CpModel")["PipelineSummaries"])
    assert summary["PipelineName"] == MODEL_STEP_PIPELINE
    assert summary["LastExecutionTime"] >= summary["CreationTime"]


def test_executions_are_kept_with_status_times_and_parameters(reg, sm):
    runs = reg["runs"]
    summaries = sm.list_pipeline_executions(PipelineName=MODEL_STEP_PIPELINE)["PipelineExecutionSummaries"]
    assert {s["PipelineExecutionArn"] for s in summaries} == {runs[k].arn for k in ("pending", "approved", "rejected")}
    assert {s["PipelineExecutionStatus"] for s in summaries} == {"Succeeded"}
    described = sm.describe_pipeline_execution(PipelineExecutionArn=runs["approved"].arn)
    assert described["PipelineExecutionStatus"] == "Succeeded"
    assert described["PipelineArn"] == sm.describe_pipeline(PipelineName=MODEL_STEP_PIPELINE)["PipelineArn"]
    assert described["LastModifiedTime"] >= described["CreationTime"]
    assert "FailureReason" not in described
    for step in steps_of(sm, runs["approved"].arn).values():
        assert described["CreationTime"] <= step["StartTime"] <= step["EndTime"] <= described["LastModifiedTime"]


def test_condition_outcome_and_fail_message_are_recorded(reg, sm):
    runs = reg["runs"]
    passed = steps_of(sm, runs["gate_pass"].arn)
    assert passed["Gate"]["Metadata"] == {"Condition": {"Outcome": "True"}}
    assert passed["Register-RegisterModel"]["StepStatus"] == "Succeeded"
    assert "TooHigh" not in passed
    assert [p["ModelPackageVersion"] for p in packages(sm, GATE_GROUP)] == [1]

    failed = sm.describe_pipeline_execution(PipelineExecutionArn=runs["gate_fail"].arn)
    assert failed["PipelineExecutionStatus"] == "Failed"
    assert failed["FailureReason"]
    steps = steps_of(sm, runs["gate_fail"].arn)
    assert set(steps) == {"Gate", "TooHigh"}
    assert steps["Gate"]["StepStatus"] == "Succeeded"
    assert steps["Gate"]["Metadata"] == {"Condition": {"Outcome": "False"}}
    assert steps["TooHigh"]["StepStatus"] == "Failed"
    assert steps["TooHigh"]["Metadata"]["Fail"]["ErrorMessage"] == "score 5.0 is above 2"
    assert steps["TooHigh"]["FailureReason"] == "score 5.0 is above 2"
    summary = next(s for s in sm.list_pipeline_executions(PipelineName=GATE_PIPELINE)["PipelineExecutionSummaries"]
                   if s["PipelineExecutionArn"] == runs["gate_fail"].arn)
    assert summary["PipelineExecutionStatus"] == "Failed"
    assert summary["PipelineExecutionFailureReason"] == failed["FailureReason"]


# ----------------------------------------------------------------------------- the execution object


def test_execution_object_describes_lists_steps_and_waits_at_once(reg):
    execution = reg["runs"]["approved"]
    assert execution.describe()["PipelineExecutionArn"] == execution.arn
    assert [s["StepName"] for s in execution.list_steps()] == ["Register-RegisterModel"]
    started = time.monotonic()
    execution.wait()  # default: poll every 30 s; the run is over, so the first poll ends it
    assert time.monotonic() - started < 5

    failed = reg["runs"]["gate_fail"]
    started = time.monotonic()
    with pytest.raises(WaiterError, match="Failed"):
        failed.wait()
    assert time.monotonic() - started < 5


SECOND_PROCESS = """
    import json, sys, time
    import lab_helpers
    from botocore.exceptions import WaiterError
    from sagemaker.workflow.pipeline import _PipelineExecution

    group, pipeline, execution_arn = sys.argv[1:4]
    session = lab_helpers.session("local")
    sm = session.sagemaker_client
    out = {}

    # the execution, looked up by its ARN
    execution = _PipelineExecution(arn=execution_arn, sagemaker_session=session)
    started = time.monotonic()
    try:
        execution.wait()
        out["waited"] = "returned"
    except WaiterError as exc:
        out["waited"] = "WaiterError: " + str(exc)
    out["wait_seconds"] = time.monotonic() - started
    out["describe"] = {k: v for k, v in execution.describe().items() if k != "ResponseMetadata"}
    out["steps"] = execution.list_steps()

    # listing, filtering, paginating
    pages, token = [], None
    while True:
        kwargs = {"ModelPackageGroupName": group, "MaxResults": 2, "SortBy": "CreationTime", "SortOrder": "Ascending"}
        if token:
            kwargs["NextToken"] = token
        page = sm.list_model_packages(**kwargs)
        pages.append([p["ModelPackageVersion"] for p in page["ModelPackageSummaryList"]])
        token = page.get("NextToken")
        if not token:
            break
    out["manual_pages"] = pages
    paginator = sm.get_paginator("list_model_packages")
    out["paginator_pages"] = [
        [p["ModelPackageVersion"] for p in page["ModelPackageSummaryList"]]
        for page in paginator.paginate(ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Descending",
                                       PaginationConfig={"PageSize": 2})]
    for status in ("Approved", "Rejected"):
        found = paginator.paginate(ModelPackageGroupName=group, ModelApprovalStatus=status).build_full_result()
        out[status] = [p["ModelPackageVersion"] for p in found["ModelPackageSummaryList"]]
    out["summary_keys"] = sorted(sm.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"][0])
    groups = sm.get_paginator("list_model_package_groups").paginate(
        NameContains="Cp", SortBy="Name", SortOrder="Ascending", PaginationConfig={"PageSize": 1})
    out["groups_by_name"] = [g["ModelPackageGroupName"]
                             for g in groups.build_full_result()["ModelPackageGroupSummaryList"]]
    pipelines = sm.get_paginator("list_pipelines").paginate(
        PipelineNamePrefix="Cp", SortBy="Name", SortOrder="Ascending", PaginationConfig={"PageSize": 1})
    out["pipelines"] = [p["PipelineName"] for p in pipelines.build_full_result()["PipelineSummaries"]]
    first = sm.list_pipeline_executions(PipelineName=pipeline, MaxResults=2, SortOrder="Ascending")
    rest = sm.list_pipeline_executions(PipelineName=pipeline, MaxResults=2, SortOrder="Ascending",
                                       NextToken=first["NextToken"])
    out["execution_pages"] = [[e["PipelineExecutionArn"] for e in first["PipelineExecutionSummaries"]],
                              [e["PipelineExecutionArn"] for e in rest["PipelineExecutionSummaries"]],
                              "NextToken" in rest]
    print(json.dumps(out, default=str))
"""


@pytest.fixture(scope="module")
def second_process(reg, child_env):
    """What a fresh Python process (same LAB_HOME) sees of the shared runs (one process, for speed)."""
    return run_child(SECOND_PROCESS, child_env, MODEL_STEP_GROUP, MODEL_STEP_PIPELINE, reg["runs"]["gate_fail"].arn)


def test_execution_looked_up_by_arn_from_another_process_gives_the_same_answers(reg, second_process):
    execution = reg["runs"]["gate_fail"]
    assert second_process["describe"] == plain(execution.describe())
    assert second_process["steps"] == plain(execution.list_steps())
    assert second_process["describe"]["PipelineExecutionStatus"] == "Failed"
    assert second_process["waited"].startswith("WaiterError") and second_process["wait_seconds"] < 5


# ----------------------------------------------------------------------------- listing, paginating


def test_listing_filtering_and_paginating_from_a_second_process(reg, second_process):
    child = second_process
    assert child["manual_pages"] == [[1, 2], [3]]
    assert child["paginator_pages"] == [[3, 2], [1]]
    assert child["Approved"] == [2]
    assert child["Rejected"] == [3]
    assert child["summary_keys"] == sorted([
        "ModelPackageName", "ModelPackageGroupName", "ModelPackageVersion", "ModelPackageArn", "CreationTime",
        "ModelPackageStatus", "ModelApprovalStatus"])
    assert {COLLECTION_GROUP, GATE_GROUP, MODEL_STEP_GROUP} <= set(child["groups_by_name"])
    assert child["groups_by_name"] == sorted(child["groups_by_name"])
    assert {COLLECTION_PIPELINE, GATE_PIPELINE, MODEL_STEP_PIPELINE} <= set(child["pipelines"])
    assert child["pipelines"] == sorted(child["pipelines"])
    runs = reg["runs"]
    assert child["execution_pages"] == [[runs["pending"].arn, runs["approved"].arn], [runs["rejected"].arn], False]


def test_sort_orders_and_a_bad_pagination_token(reg, sm):
    ascending = [p["ModelPackageVersion"] for p in packages(sm, MODEL_STEP_GROUP, SortBy="CreationTime",
                                                             SortOrder="Ascending")]
    descending = [p["ModelPackageVersion"] for p in packages(sm, MODEL_STEP_GROUP, SortBy="CreationTime",
                                                              SortOrder="Descending")]
    assert ascending == [1, 2, 3] and descending == [3, 2, 1]
    steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=reg["runs"]["gate_pass"].arn,
                                             SortOrder="Ascending")["PipelineExecutionSteps"]
    assert [s["StepName"] for s in steps] == ["Gate", "Register-RegisterModel"]
    with pytest.raises(ClientError) as excinfo:
        sm.list_model_packages(ModelPackageGroupName=MODEL_STEP_GROUP, NextToken="not-a-token")
    assert error_code(excinfo) == "ValidationException"


# ----------------------------------------------------------------------------- errors, idempotency


def _missing(sess, what):
    arn = f"arn:aws:sagemaker:{sess.boto_region_name}:000000000000"
    return {
        "pipeline": ("describe_pipeline", {"PipelineName": "NoSuchPipeline"}, "ResourceNotFound"),
        "execution": ("describe_pipeline_execution",
                      {"PipelineExecutionArn": f"{arn}:pipeline/{MODEL_STEP_PIPELINE.lower()}/execution/nosuchexec"},
                      "ResourceNotFound"),
        "execution steps": ("list_pipeline_execution_steps",
                            {"PipelineExecutionArn": f"{arn}:pipeline/nosuchpipeline/execution/nosuchexec"},
                            "ResourceNotFound"),
        "delete pipeline": ("delete_pipeline", {"PipelineName": "NoSuchPipeline",
                                                "ClientRequestToken": "t" * 32}, "ResourceNotFound"),
        "start pipeline": ("start_pipeline_execution", {"PipelineName": "NoSuchPipeline"}, "ResourceNotFound"),
        "executions": ("list_pipeline_executions", {"PipelineName": "NoSuchPipeline"}, "ResourceNotFound"),
        "parameters": ("list_pipeline_parameters_for_execution",
                       {"PipelineExecutionArn": f"{arn}:pipeline/nosuchpipeline/execution/nosuchexec"},
                       "ResourceNotFound"),
        "model package": ("describe_model_package",
                          {"ModelPackageName": f"{arn}:model-package/{MODEL_STEP_GROUP.lower()}/99"},
                          "ValidationException"),
        "model package group": ("describe_model_package_group", {"ModelPackageGroupName": "NoSuchGroup"},
                                "ValidationException"),
        "model": ("describe_model", {"ModelName": "no-such-model"}, "ValidationException"),
        # AWS answers ValidationException "Requested resource not found." for unknown jobs
        "training job": ("describe_training_job", {"TrainingJobName": "no-such-job"}, "ValidationException"),
        "processing job": ("describe_processing_job", {"ProcessingJobName": "no-such-job"}, "ValidationException"),
        "transform job": ("describe_transform_job", {"TransformJobName": "no-such-job"}, "ValidationException"),
    }[what]


@pytest.mark.parametrize("what", ["pipeline", "execution", "execution steps", "delete pipeline", "start pipeline",
                                  "executions", "parameters", "model package", "model package group", "model",
                                  "training job", "processing job", "transform job"])
def test_looking_up_what_does_not_exist_raises_the_aws_error(reg, sess, sm, what):
    operation, params, code = _missing(sess, what)
    with pytest.raises(ClientError) as excinfo:
        getattr(sm, operation)(**params)
    assert error_code(excinfo) == code
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_stopping_a_finished_execution_is_a_validation_error(reg, sm):
    arn = reg["runs"]["pending"].arn
    with pytest.raises(ClientError) as excinfo:
        sm.stop_pipeline_execution(PipelineExecutionArn=arn)
    assert error_code(excinfo) == "ValidationException"
    assert sm.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"] == "Succeeded"


def test_an_unknown_parameter_at_start_is_a_validation_error_naming_it(reg, sm):
    pipeline = reg["pipelines"]["model_step"]
    before = len(sm.list_pipeline_executions(PipelineName=MODEL_STEP_PIPELINE)["PipelineExecutionSummaries"])
    with pytest.raises(ClientError) as excinfo:
        pipeline.start(parameters={"ModelAprovalStatus": "Approved"})
    assert error_code(excinfo) == "ValidationException"
    assert "ModelAprovalStatus" in excinfo.value.response["Error"]["Message"]
    after = len(sm.list_pipeline_executions(PipelineName=MODEL_STEP_PIPELINE)["PipelineExecutionSummaries"])
    assert after == before


def test_start_with_the_same_client_request_token_returns_the_same_execution(sess, sm):
    import lab_helpers

    pipeline = gate_pipeline(sess)
    pipeline.name = "CpIdempotent"
    pipeline.upsert(role_arn=lab_helpers.execution_role(sess))
    token = "cp-idempotent-token-0123456789abcdef"
    first = sm.start_pipeline_execution(PipelineName="CpIdempotent", ClientRequestToken=token)
    again = sm.start_pipeline_execution(PipelineName="CpIdempotent", ClientRequestToken=token)
    other = sm.start_pipeline_execution(PipelineName="CpIdempotent", ClientRequestToken=token[::-1])
    for started in (first, other):
        wait_for_arn(sess, started["PipelineExecutionArn"])
    assert again["PipelineExecutionArn"] == first["PipelineExecutionArn"]
    assert other["PipelineExecutionArn"] != first["PipelineExecutionArn"]
    listed = sm.list_pipeline_executions(PipelineName="CpIdempotent")["PipelineExecutionSummaries"]
    assert len(listed) == 2


def test_the_same_client_request_token_with_other_parameters_is_refused(sess, sm):
    import lab_helpers

    pipeline = gate_pipeline(sess)
    pipeline.name = "CpTokenMismatch"
    pipeline.upsert(role_arn=lab_helpers.execution_role(sess))
    token = "cp-token-mismatch-0123456789abcdef"
    first = sm.start_pipeline_execution(PipelineName="CpTokenMismatch", ClientRequestToken=token,
                                        PipelineParameters=[{"Name": "Score", "Value": "1"}])
    wait_for_arn(sess, first["PipelineExecutionArn"])
    same = sm.start_pipeline_execution(PipelineName="CpTokenMismatch", ClientRequestToken=token,
                                       PipelineParameters=[{"Name": "Score", "Value": "1"}])
    assert same["PipelineExecutionArn"] == first["PipelineExecutionArn"]
    for change in ({"PipelineParameters": [{"Name": "Score", "Value": "3"}]},
                   {"PipelineParameters": [{"Name": "Score", "Value": "1"}], "PipelineExecutionDescription": "x"}):
        with pytest.raises(ClientError) as excinfo:
            sm.start_pipeline_execution(PipelineName="CpTokenMismatch", ClientRequestToken=token, **change)
        assert error_code(excinfo) == "ValidationException"
        message = excinfo.value.response["Error"]["Message"]
        assert token in message and "different parameters" in message and first["PipelineExecutionArn"] in message
    listed = sm.list_pipeline_executions(PipelineName="CpTokenMismatch")["PipelineExecutionSummaries"]
    assert len(listed) == 1
    described = sm.describe_pipeline_execution(PipelineExecutionArn=first["PipelineExecutionArn"])
    assert "RequestFingerprint" not in described


def test_delete_operations(sess, sm):
    import lab_helpers

    role = lab_helpers.execution_role(sess)
    pipeline = registry_pipeline(sess, "CpDelete", "CpDeleteGroup")
    pipeline.upsert(role_arn=role)
    execution = finished(pipeline.start())
    finished(pipeline.start())
    first, _ = packages(sm, "CpDeleteGroup", SortBy="CreationTime", SortOrder="Ascending")

    # a group that still holds packages cannot go
    with pytest.raises(ClientError):
        sm.delete_model_package_group(ModelPackageGroupName="CpDeleteGroup")
    sm.delete_model_package(ModelPackageName=first["ModelPackageArn"])
    with pytest.raises(ClientError) as excinfo:
        sm.describe_model_package(ModelPackageName=first["ModelPackageArn"])
    assert error_code(excinfo) == "ValidationException"
    assert [p["ModelPackageVersion"] for p in packages(sm, "CpDeleteGroup")] == [2]
    # versions are not reused after a delete
    finished(pipeline.start())
    assert sorted(p["ModelPackageVersion"] for p in packages(sm, "CpDeleteGroup")) == [2, 3]
    for package in packages(sm, "CpDeleteGroup"):
        sm.delete_model_package(ModelPackageName=package["ModelPackageArn"])
    sm.delete_model_package_group(ModelPackageGroupName="CpDeleteGroup")
    with pytest.raises(ClientError) as excinfo:
        sm.describe_model_package_group(ModelPackageGroupName="CpDeleteGroup")
    assert error_code(excinfo) == "ValidationException"
    assert "CpDeleteGroup" not in [g["ModelPackageGroupName"] for g in sm.list_model_package_groups(
        NameContains="CpDelete")["ModelPackageGroupSummaryList"]]

    # models
    from sagemaker import image_uris

    xgb = image_uris.retrieve(framework="xgboost", region=sess.boto_region_name, version="1.7-1")
    sm.create_model(ModelName="cp-delete-model", ExecutionRoleArn=role,
                    PrimaryContainer={"Image": xgb, "ModelDataUrl": _model_data(sess)})
    assert sm.describe_model(ModelName="cp-delete-model")["PrimaryContainer"]["Image"] == xgb
    sm.delete_model(ModelName="cp-delete-model")
    with pytest.raises(ClientError) as excinfo:
        sm.describe_model(ModelName="cp-delete-model")
    assert error_code(excinfo) == "ValidationException"

    # pipelines: deleting one deletes its executions too
    sm.delete_pipeline(PipelineName="CpDelete", ClientRequestToken="d" * 32)
    with pytest.raises(ClientError) as excinfo:
        sm.describe_pipeline(PipelineName="CpDelete")
    assert error_code(excinfo) == "ResourceNotFound"
    with pytest.raises(ClientError) as excinfo:
        sm.describe_pipeline_execution(PipelineExecutionArn=execution.arn)
    assert error_code(excinfo) == "ResourceNotFound"
    pipeline.upsert(role_arn=role)  # a new pipeline of the same name starts with no executions
    assert sm.list_pipeline_executions(PipelineName="CpDelete")["PipelineExecutionSummaries"] == []


# ----------------------------------------------------------------------------- several processes


CHILD_START = """
    import json, os, sys, time
    from pathlib import Path
    import lab_helpers
    from sagemaker.workflow.pipeline import Pipeline

    sess = lab_helpers.session("local")
    name, ready, go = sys.argv[1:4]
    Path(ready).touch()
    while not os.path.exists(go):
        time.sleep(0.005)
    execution = Pipeline(name=name, sagemaker_session=sess).start()
    execution.wait()
    print(json.dumps({"arn": execution.arn, "status": execution.describe()["PipelineExecutionStatus"]}))
"""


@pytest.mark.slow
def test_two_executions_started_at_once_from_two_processes(home, sess, sm, child_env, wait_script, tmp_path):
    import lab_helpers

    pipeline = registry_pipeline(sess, "CpPair", "CpPairGroup", wait=(wait_script, 1.5, ""))
    pipeline.upsert(role_arn=lab_helpers.execution_role(sess))
    go = tmp_path / "go"
    children = []
    for i in range(2):
        out = open(tmp_path / f"child{i}.out", "w")
        proc = subprocess.Popen([PY, "-c", textwrap.dedent(CHILD_START), "CpPair", str(tmp_path / f"ready{i}"),
                                 str(go)], env=child_env, stdout=out, stderr=subprocess.STDOUT, text=True)
        children.append((proc, out))
    try:
        deadline = time.monotonic() + 120
        while not all((tmp_path / f"ready{i}").exists() for i in range(2)):
            assert time.monotonic() < deadline, "the child processes did not get ready"
            assert all(p.poll() is None for p, _ in children), "a child process ended early"
            time.sleep(0.05)
        go.touch()
        for proc, _ in children:
            proc.wait(timeout=180)
    finally:
        for proc, out in children:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            out.close()
    results = []
    for i, (proc, _) in enumerate(children):
        text = (tmp_path / f"child{i}.out").read_text()
        assert proc.returncode == 0, text[-3000:]
        results.append(json.loads(text.strip().splitlines()[-1]))

    arns = [r["arn"] for r in results]
    assert [r["status"] for r in results] == ["Succeeded", "Succeeded"]
    assert len(set(arns)) == 2
    listed = sm.list_pipeline_executions(PipelineName="CpPair")["PipelineExecutionSummaries"]
    assert sorted(e["PipelineExecutionArn"] for e in listed) == sorted(arns)
    assert {e["PipelineExecutionStatus"] for e in listed} == {"Succeeded"}
    # they really ran at the same time: each started before the other ended
    spans = []
    for arn in arns:
        described = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        spans.append((described["CreationTime"], described["LastModifiedTime"]))
    assert max(s for s, _ in spans) < min(e for _, e in spans)
    # one package each, versions distinct and consecutive
    versions = sorted(p["ModelPackageVersion"] for p in packages(sm, "CpPairGroup"))
    assert versions == [1, 2]
    registered = sorted(steps_of(sm, arn)["Register-RegisterModel"]["Metadata"]["RegisterModel"]["Arn"]
                        for arn in arns)
    assert registered == sorted(p["ModelPackageArn"] for p in packages(sm, "CpPairGroup"))
    for arn in arns:
        assert {s["StepStatus"] for s in steps_of(sm, arn).values()} == {"Succeeded"}
    # the store itself is sound
    with sqlite3.connect(home / "control-plane.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


CHILD_RUN = """
    import sys
    import lab_helpers
    from sagemaker.workflow.pipeline import Pipeline

    print(Pipeline(name=sys.argv[1], sagemaker_session=lab_helpers.session("local")).start().arn)
"""


@pytest.mark.slow
def test_an_execution_runs_on_after_the_process_that_started_it_ends(sess, sm, child_env, wait_script, tmp_path):
    """As in SageMaker, start() returns at once and the execution is not tied to the notebook's process."""
    import lab_helpers

    stop_file = tmp_path / "stop-waiting"
    pipeline = registry_pipeline(sess, "CpDetached", "CpDetachedGroup", wait=(wait_script, 120, str(stop_file)))
    pipeline.upsert(role_arn=lab_helpers.execution_role(sess))
    try:
        out = subprocess.run([PY, "-c", textwrap.dedent(CHILD_RUN), "CpDetached"], env=child_env,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-3000:]
        arn = out.stdout.strip().splitlines()[-1]
        described = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        assert described["PipelineExecutionStatus"] == "Executing"  # its starter is gone; it runs on
    finally:
        stop_file.touch()  # the job that waits for this file ends, and with it the execution
    final = wait_for_arn(sess, arn)
    assert final["PipelineExecutionStatus"] == "Succeeded", final.get("FailureReason")
    assert [p["ModelPackageVersion"] for p in packages(sm, "CpDetachedGroup")] == [1]


@pytest.mark.slow
def test_a_run_whose_runner_is_killed_is_recorded_as_failed(home, sess, sm, child_env, wait_script, tmp_path):
    import lab_helpers

    stop_file = tmp_path / "stop-waiting"
    pipeline = registry_pipeline(sess, "CpKilled", "CpKilledGroup", wait=(wait_script, 120, str(stop_file)))
    pipeline.upsert(role_arn=lab_helpers.execution_role(sess))
    try:
        arn = pipeline.start().arn
        deadline = time.monotonic() + 120
        while True:  # until the execution shows a step Executing
            assert time.monotonic() < deadline, "the execution never showed a step Executing"
            steps = steps_of(sm, arn)
            if steps.get("Wait", {}).get("StepStatus") == "Executing" and "ProcessingJob" in steps["Wait"]["Metadata"]:
                break
            time.sleep(0.1)
        # while its runner lives, another process sees it running, with the job the step runs
        assert sm.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"] == "Executing"
        job_arn = steps["Wait"]["Metadata"]["ProcessingJob"]["Arn"]
        job = sm.describe_processing_job(ProcessingJobName=job_arn.rsplit("/", 1)[-1])
        assert job["ProcessingJobStatus"] == "InProgress"
        # and a pipeline with a running execution cannot be deleted
        with pytest.raises(ClientError) as excinfo:
            sm.delete_pipeline(PipelineName="CpKilled", ClientRequestToken="k" * 32)
        assert error_code(excinfo) == "ConflictException"
        pid = runner_pid(home, arn)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:  # the killed runner is reaped by its parent; its lock is released with it
            described = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
            if described["PipelineExecutionStatus"] != "Executing":
                break
            assert time.monotonic() < deadline, "the execution of a killed runner was never reaped"
            time.sleep(0.1)
    finally:
        stop_file.touch()  # the job process (not a child of the killed runner) stops waiting

    assert described["PipelineExecutionStatus"] == "Failed"  # the runner died: Failed, not Stopped
    reason = described["FailureReason"]
    assert f"pid {pid}" in reason and "ended before the execution finished" in reason
    steps = steps_of(sm, arn)
    assert "Executing" not in {s["StepStatus"] for s in steps.values()}
    assert steps["Wait"]["StepStatus"] == "Failed"
    assert steps["Wait"]["EndTime"] >= steps["Wait"]["StartTime"]
    assert "Register-RegisterModel" not in steps
    summary, = sm.list_pipeline_executions(PipelineName="CpKilled")["PipelineExecutionSummaries"]
    assert summary["PipelineExecutionStatus"] == "Failed"
    assert summary["PipelineExecutionFailureReason"] == reason
    # the job the step ran is not left InProgress either
    assert steps["Wait"]["Metadata"]["ProcessingJob"]["Arn"] == job_arn
    job = sm.describe_processing_job(ProcessingJobName=job_arn.rsplit("/", 1)[-1])
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"] == reason
    assert packages(sm, "CpKilledGroup") == []
    with pytest.raises(ClientError) as excinfo:
        sm.stop_pipeline_execution(PipelineExecutionArn=arn)
    assert error_code(excinfo) == "ValidationException"
