"""The lesson's own pipelines register models offline, and other processes find what they left.

* The lesson outline's Step 4 code, as the lesson shows it (only the session line changed and
  ``accelerator_type`` dropped): Train -> CreateModel -> RegisterModel (step collection).
* :func:`lab_helpers.pipelines.outline_pipeline`, the kit's corrected builder of the same pipeline.
* The abalone pipeline through the CLI (``python -m lab_helpers run --json``), twice, then once
  in-process with ``ModelApprovalStatus`` overridden at ``pipeline.start``: registration with
  ``ModelStep(step_args=model.register(...))``, and the jobs, models and packages its runs left.
"""

import json
import subprocess
import sys

import pytest
from conftest import child_env, finished, offline_module, plain, run_child
from botocore.exceptions import ClientError

PY = sys.executable

pytestmark = pytest.mark.slow


#: nothing in this module may resolve a host name or open a connection (local mode is offline)
no_network = pytest.fixture(scope="module", autouse=True, name="no_network")(offline_module)


def versions(sm, group):
    pages = sm.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group, SortBy="CreationTime",
                                                            SortOrder="Ascending")
    return [(p["ModelPackageVersion"], p["ModelApprovalStatus"])
            for p in pages.build_full_result()["ModelPackageSummaryList"]]


def steps_of(sm, arn):
    listed = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    return {s["StepName"]: s for s in listed}


# ----------------------------------------------------------------------------- the outline's Step 4


def test_outline_step4_code_runs_offline_and_a_fresh_process_finds_the_approved_package(python_env, no_network):
    import lab_helpers

    # ---- the lesson outline's Step 4; changed: the session line (and role, bucket, data from it) ----
    pipeline_session = lab_helpers.session("local")  # first: it turns off the SDK's EC2-metadata probe

    from sagemaker import image_uris
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.model import Model
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.step_collections import RegisterModel
    from sagemaker.workflow.steps import TrainingStep

    role = lab_helpers.execution_role(pipeline_session)
    s3_bucket = pipeline_session.default_bucket()

    # Define Parameters
    xgb_image_uri = image_uris.retrieve(framework='xgboost', region='us-east-1', version='1.7-1')
    data = lab_helpers.pipelines.prepare_outline_data(pipeline_session)
    input_train_path = data["train"]
    input_validate_path = data["validation"]
    model_path = f"s3://{s3_bucket}/pipeline-model/"

    xgb_train = Estimator(
        image_uri=xgb_image_uri,
        instance_type="ml.m5.xlarge",
        instance_count=1,
        output_path=model_path,
        role=role,
        sagemaker_session=pipeline_session,
    )
    xgb_train.set_hyperparameters(
        objective="reg:squarederror",
        num_round=50,
        max_depth=5,
        eta=0.2,
        subsample=0.7
    )

    # Use estimator directly in the TrainingStep instead of calling fit()
    step_train = TrainingStep(
        name="Train",
        estimator=xgb_train,
        inputs={
            "train": TrainingInput(
                s3_data=input_train_path,
                content_type="text/csv",
            ),
            "validation": TrainingInput(
                s3_data=input_validate_path,
                content_type="text/csv",
            ),
        }
    )

    model = Model(
        image_uri=xgb_image_uri,
        sagemaker_session=pipeline_session,
        model_data=step_train.properties.ModelArtifacts.S3ModelArtifacts,
        role=role,
    )
    step_create_model = ModelStep(
        name="AbaloneCreateModel",
        step_args=model.create(instance_type="ml.m5.large"),  # accelerator_type dropped: Elastic Inference is gone
    )

    step_register = RegisterModel(
        name="RegisterModel",
        estimator=xgb_train,
        model_data=step_train.properties.ModelArtifacts.S3ModelArtifacts,
        content_types=["text/csv"],
        response_types=["application/json"],
        inference_instances=["ml.m5.xlarge"],
        transform_instances=["ml.m5.xlarge"],
        model_package_group_name="PipelineModelPackageGroup",
        approval_status="Approved"
    )

    pipeline_name = "ADGUPipeline"
    pipeline = Pipeline(
        name=pipeline_name,
        steps=[step_train, step_create_model, step_register],
    )

    pipeline.upsert(role_arn=role)
    execution = pipeline.start()
    execution.describe()
    # ---- end of the outline's code ----
    finished(execution)  # as in SageMaker, the execution runs on after start() returned

    assert no_network == [], f"the outline's code reached for the network: {no_network}"
    sm = pipeline_session.sagemaker_client
    assert execution.describe()["PipelineExecutionStatus"] == "Succeeded"
    steps = {s["StepName"]: s for s in execution.list_steps()}
    assert set(steps) == {"Train", "AbaloneCreateModel-CreateModel", "RegisterModel-RegisterModel"}
    assert {s["StepStatus"] for s in steps.values()} == {"Succeeded"}
    training_arn = steps["Train"]["Metadata"]["TrainingJob"]["Arn"]
    training = sm.describe_training_job(TrainingJobName=training_arn.rsplit("/", 1)[-1])
    artifact = training["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact.startswith(f"s3://{s3_bucket}/pipeline-model/")
    assert pipeline_session.local_path(artifact).is_file()
    model_name = steps["AbaloneCreateModel-CreateModel"]["Metadata"]["Model"]["Arn"].rsplit("/", 1)[-1]
    assert sm.describe_model(ModelName=model_name)["PrimaryContainer"]["ModelDataUrl"] == artifact

    # A fresh Python process, same LAB_HOME: the approved package, and the execution by its ARN.
    child = run_child("""
        import json, sys
        import lab_helpers
        from sagemaker.workflow.pipeline import _PipelineExecution

        session = lab_helpers.session("local")
        approved = session.sagemaker_client.list_model_packages(
            ModelPackageGroupName="PipelineModelPackageGroup", ModelApprovalStatus="Approved")
        arn = approved["ModelPackageSummaryList"][0]["ModelPackageArn"]
        described = session.sagemaker_client.describe_model_package(ModelPackageName=arn)
        execution = _PipelineExecution(arn=sys.argv[1], sagemaker_session=session)
        execution.wait()
        print(json.dumps({
            "approved": approved["ModelPackageSummaryList"],
            "package": {k: v for k, v in described.items() if k != "ResponseMetadata"},
            "describe": {k: v for k, v in execution.describe().items() if k != "ResponseMetadata"},
            "steps": execution.list_steps(),
        }, default=str))
    """, python_env, execution.arn)
    (package,) = child["approved"]
    assert package["ModelPackageGroupName"] == "PipelineModelPackageGroup"
    assert package["ModelPackageVersion"] == 1
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["ModelPackageArn"] == steps["RegisterModel-RegisterModel"]["Metadata"]["RegisterModel"]["Arn"]
    spec = child["package"]["InferenceSpecification"]
    assert spec["Containers"][0]["Image"] == xgb_image_uri
    assert spec["Containers"][0]["ModelDataUrl"] == artifact
    assert spec["SupportedContentTypes"] == ["text/csv"]
    assert spec["SupportedResponseMIMETypes"] == ["application/json"]
    assert spec["SupportedRealtimeInferenceInstanceTypes"] == ["ml.m5.xlarge"]
    assert spec["SupportedTransformInstanceTypes"] == ["ml.m5.xlarge"]
    assert child["describe"] == plain(execution.describe())
    assert child["steps"] == plain(execution.list_steps())


def test_outline_pipeline_builder_registers_with_the_step_collection(local_sess):
    import lab_helpers
    from lab_helpers.pipelines import OUTLINE_GROUP, outline_pipeline

    sm = local_sess.sagemaker_client
    pipeline = outline_pipeline(local_sess)
    pipeline.upsert(role_arn=lab_helpers.execution_role(local_sess))
    with pytest.raises(ClientError) as excinfo:
        sm.describe_model_package_group(ModelPackageGroupName=OUTLINE_GROUP)  # made on first use
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"
    execution = finished(pipeline.start())
    assert execution.describe()["PipelineExecutionStatus"] == "Succeeded"
    assert {s["StepStatus"] for s in execution.list_steps()} == {"Succeeded"}
    group = sm.describe_model_package_group(ModelPackageGroupName=OUTLINE_GROUP)
    assert group["ModelPackageGroupStatus"] == "Completed"
    assert versions(sm, OUTLINE_GROUP) == [(1, "Approved")]
    registered = steps_of(sm, execution.arn)["RegisterModel-RegisterModel"]["Metadata"]["RegisterModel"]["Arn"]
    assert registered.endswith(f"/{OUTLINE_GROUP.lower()}/1")


# ----------------------------------------------------------------------------- the abalone pipeline


@pytest.fixture(scope="module")
def abalone(tmp_path_factory):
    """Two CLI runs (other processes), then one in-process run with ModelApprovalStatus=Approved."""
    import lab_helpers
    from lab_helpers.pipelines import ABALONE_GROUP, abalone_pipeline

    home = tmp_path_factory.mktemp("abalone-home")
    sess = lab_helpers.local_session(home=home)
    sm = sess.sagemaker_client
    out = {"home": home, "sess": sess, "cli": [], "versions_after_cli": []}
    for _ in range(2):
        proc = subprocess.run([PY, "-m", "lab_helpers", "run", "--json"], env=child_env(home), capture_output=True,
                              text=True, timeout=600)
        out["cli"].append({"code": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr,
                           "json": json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else None})
        out["versions_after_cli"].append(versions(sm, ABALONE_GROUP))
    pipeline = abalone_pipeline(sess)
    pipeline.upsert(role_arn=lab_helpers.execution_role(sess))
    out["approved_run"] = finished(pipeline.start(parameters={"ModelApprovalStatus": "Approved"}))
    out["executions"] = sm.list_pipeline_executions(PipelineName=pipeline.name, SortOrder="Ascending")[
        "PipelineExecutionSummaries"]
    return out


def test_cli_run_shows_registration_succeeded_and_a_second_run_adds_version_2(abalone):
    from lab_helpers.pipelines import ABALONE_GROUP

    for run in abalone["cli"]:
        assert run["code"] == 0, run["stderr"][-3000:]
        result = run["json"]
        assert result["status"] == "Succeeded"
        assert result["steps"]["AbaloneRegisterModel-RegisterModel"] == "Succeeded"
        assert set(result["steps"].values()) == {"Succeeded"}
        assert result["metrics"]["mse"] > 0
    assert abalone["versions_after_cli"] == [[(1, "PendingManualApproval")],
                                             [(1, "PendingManualApproval"), (2, "PendingManualApproval")]]
    sm = abalone["sess"].sagemaker_client
    group = sm.describe_model_package_group(ModelPackageGroupName=ABALONE_GROUP)
    assert group["ModelPackageGroupName"] == ABALONE_GROUP


def test_approval_status_overridden_at_start(abalone):
    from lab_helpers.pipelines import ABALONE_GROUP

    sm = abalone["sess"].sagemaker_client
    execution = abalone["approved_run"]
    assert execution.describe()["PipelineExecutionStatus"] == "Succeeded"
    assert versions(sm, ABALONE_GROUP)[-1] == (3, "Approved")
    params = {p["Name"]: p["Value"] for p in
              sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=execution.arn)["PipelineParameters"]}
    assert params["ModelApprovalStatus"] == "Approved"
    assert params["MseThreshold"] == "6.0"
    first_cli = abalone["executions"][0]["PipelineExecutionArn"]
    params = {p["Name"]: p["Value"] for p in
              sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=first_cli)["PipelineParameters"]}
    assert params["ModelApprovalStatus"] == "PendingManualApproval"


def test_every_run_is_recorded_in_the_shared_control_plane(abalone):
    sm = abalone["sess"].sagemaker_client
    executions = abalone["executions"]
    assert len(executions) == 3
    assert len({e["PipelineExecutionArn"] for e in executions}) == 3
    assert {e["PipelineExecutionStatus"] for e in executions} == {"Succeeded"}
    assert executions[-1]["PipelineExecutionArn"] == abalone["approved_run"].arn
    pages = sm.get_paginator("list_pipeline_execution_steps").paginate(
        PipelineExecutionArn=executions[0]["PipelineExecutionArn"], SortOrder="Ascending",
        PaginationConfig={"PageSize": 3})
    assert [[s["StepName"] for s in page["PipelineExecutionSteps"]] for page in pages] == [
        ["AbaloneProcess", "AbaloneTrain", "AbaloneEval"],
        ["AbaloneMSECond", "AbaloneRegisterModel-RegisterModel", "AbaloneCreateModel-CreateModel"],
        ["AbaloneTransform"]]
    described = sm.describe_pipeline(PipelineName="AbalonePipeline")
    assert {s["Name"] for s in json.loads(described["PipelineDefinition"])["Steps"]} == {
        "AbaloneProcess", "AbaloneTrain", "AbaloneEval", "AbaloneMSECond"}


def test_abalone_registration_keeps_the_spec_and_the_evaluation_report(abalone):
    """ModelStep(step_args=model.register(...)): the package points at this run's model and evaluation report."""
    sess = abalone["sess"]
    sm = sess.sagemaker_client
    first_cli = abalone["executions"][0]["PipelineExecutionArn"]  # written by another process
    steps = steps_of(sm, first_cli)
    package_arn = steps["AbaloneRegisterModel-RegisterModel"]["Metadata"]["RegisterModel"]["Arn"]
    assert package_arn.endswith("/abalonemodelpackagegroup/1")
    package = sm.describe_model_package(ModelPackageName=package_arn)
    training = sm.describe_training_job(
        TrainingJobName=steps["AbaloneTrain"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[-1])
    evaluation = sm.describe_processing_job(
        ProcessingJobName=steps["AbaloneEval"]["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[-1])
    (container,) = package["InferenceSpecification"]["Containers"]
    assert container["ModelDataUrl"] == training["ModelArtifacts"]["S3ModelArtifacts"]
    assert container["Image"] == training["AlgorithmSpecification"]["TrainingImage"]
    spec = package["InferenceSpecification"]
    assert spec["SupportedContentTypes"] == ["text/csv"]
    assert spec["SupportedResponseMIMETypes"] == ["text/csv"]
    assert spec["SupportedRealtimeInferenceInstanceTypes"] == ["ml.t2.medium", "ml.m5.large"]
    assert spec["SupportedTransformInstanceTypes"] == ["ml.m5.large"]
    (output,) = evaluation["ProcessingOutputConfig"]["Outputs"]
    report = output["S3Output"]["S3Uri"].rstrip("/") + "/evaluation.json"
    statistics = package["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics == {"ContentType": "application/json", "S3Uri": report}
    assert "regression_metrics" in json.loads(sess.local_path(report).read_text())
    assert package["ModelApprovalStatus"] == "PendingManualApproval"


def test_jobs_and_models_an_earlier_process_ran_can_be_described(abalone):
    sess = abalone["sess"]
    sm = sess.sagemaker_client
    steps = steps_of(sm, abalone["executions"][1]["PipelineExecutionArn"])
    assert {s["StepStatus"] for s in steps.values()} == {"Succeeded"}
    assert steps["AbaloneMSECond"]["Metadata"] == {"Condition": {"Outcome": "True"}}

    def name(step, kind):
        return steps[step]["Metadata"][kind]["Arn"].rsplit("/", 1)[-1]

    training = sm.describe_training_job(TrainingJobName=name("AbaloneTrain", "TrainingJob"))
    assert training["TrainingJobStatus"] == "Completed"
    assert training["TrainingJobArn"] == steps["AbaloneTrain"]["Metadata"]["TrainingJob"]["Arn"]
    assert training["TrainingEndTime"] >= training["TrainingStartTime"]
    assert {m["MetricName"] for m in training["FinalMetricDataList"]} >= {"validation:rmse"}
    assert sess.local_path(training["ModelArtifacts"]["S3ModelArtifacts"]).is_file()
    for step in ("AbaloneProcess", "AbaloneEval"):
        processing = sm.describe_processing_job(ProcessingJobName=name(step, "ProcessingJob"))
        assert processing["ProcessingJobStatus"] == "Completed"
        assert processing["ProcessingJobArn"] == steps[step]["Metadata"]["ProcessingJob"]["Arn"]
    transform = sm.describe_transform_job(TransformJobName=name("AbaloneTransform", "TransformJob"))
    assert transform["TransformJobStatus"] == "Completed"
    model = sm.describe_model(ModelName=name("AbaloneCreateModel-CreateModel", "Model"))
    assert transform["ModelName"] == model["ModelName"]
    assert model["PrimaryContainer"]["ModelDataUrl"] == training["ModelArtifacts"]["S3ModelArtifacts"]
    outputs = [p for p in sess.local_path(transform["TransformOutput"]["S3OutputPath"]).rglob("*.out")]
    assert outputs and outputs[0].read_text().strip()
