"""Bad pipeline definitions and requests are refused as SageMaker refuses them, before anything runs.

Written as a learner writes pipelines (the SDK's steps and the kit's local session), and through the
raw API for definitions the SDK would not build.  Every refusal is a ``ValidationException`` whose
message names the problem; nothing is half-created.
"""

import json

import pytest
from conftest import wait_for_arn
from botocore.exceptions import ClientError
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionGreaterThan
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.parameters import ParameterFloat
from sagemaker.workflow.pipeline import Pipeline

ROLE = "arn:aws:iam::000000000000:role/LabLocalExecutionRole"


def _fail(name, **kwargs):
    return FailStep(name=name, error_message=f"{name} ran", **kwargs)


def _create(sess, name, definition):
    return sess.sagemaker_client.create_pipeline(
        PipelineName=name, RoleArn=ROLE,
        PipelineDefinition=definition if isinstance(definition, str) else json.dumps(definition))


def _refused(call, *words):
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException", error
    for word in words:
        assert word in error["Message"], error["Message"]
    return error["Message"]


def test_a_dependency_cycle_built_with_the_sdk_is_refused_at_upsert(local_sess):
    first, second = _fail("First"), _fail("Second")
    first.add_depends_on([second])
    second.add_depends_on([first])
    pipeline = Pipeline(name="CycleSdk", steps=[first, second], sagemaker_session=local_sess)
    message = _refused(lambda: pipeline.upsert(role_arn=ROLE), "cycle", "First", "Second")
    assert "First -> Second -> First" in message or "Second -> First -> Second" in message
    assert local_sess.sagemaker_client.list_pipelines()["PipelineSummaries"] == []


def test_a_cycle_through_property_references_is_refused_through_the_raw_api(local_sess):
    definition = {"Version": "2020-12-01", "Steps": [
        {"Name": "A", "Type": "Fail", "Arguments": {"ErrorMessage": {"Get": "Steps.B.ErrorMessage"}}},
        {"Name": "B", "Type": "Fail", "Arguments": {"ErrorMessage": {"Get": "Steps.A.ErrorMessage"}}},
    ]}
    _refused(lambda: _create(local_sess, "CycleRaw", definition), "cycle")


@pytest.mark.parametrize("steps, words", [
    ([{"Name": "A", "Type": "Fail", "Arguments": {}, "DependsOn": ["Nowhere"]}], ["'A'", "'Nowhere'", "not a step"]),
    ([{"Name": "A", "Type": "Fail", "Arguments": {}}, {"Name": "A", "Type": "Fail", "Arguments": {}}],
     ["unique", "A"]),
    ("abc", ["'Steps' must be a list"]),
    ([{"Type": "Fail", "Arguments": {}}], ["no Name"]),
    ([{"Name": "has space", "Type": "Fail", "Arguments": {}}], ["has space", "^[A-Za-z0-9"]),
    ([{"Name": "A", "Type": "Teleport", "Arguments": {}}], ["Teleport", "not a SageMaker Pipelines step type"]),
    ([{"Name": "Cond", "Type": "Condition", "Arguments": {"Conditions": [], "IfSteps": [
        {"Name": "Cond", "Type": "Fail", "Arguments": {}}]}}], ["unique", "Cond"]),
])
def test_malformed_definitions_are_refused_with_the_problem_named(local_sess, steps, words):
    _refused(lambda: _create(local_sess, "Malformed", {"Version": "2020-12-01", "Steps": steps}), *words)
    assert local_sess.sagemaker_client.list_pipelines()["PipelineSummaries"] == []


@pytest.mark.parametrize("parameters, words", [
    ([{"Name": "X", "Type": "Integer", "DefaultValue": "three"}], ["'X'", "Integer", '"three"']),
    ([{"Name": "X", "Type": "Decimal"}], ["Decimal"]),
    ([{"Name": "X"}, {"Name": "X"}], ["more than once"]),
])
def test_parameters_must_agree_with_their_types(local_sess, parameters, words):
    definition = {"Version": "2020-12-01", "Parameters": parameters,
                  "Steps": [{"Name": "A", "Type": "Fail", "Arguments": {}}]}
    _refused(lambda: _create(local_sess, "Params", definition), *words)


@pytest.mark.parametrize("name", ["with space", "slash/name", "dots..name", "x" * 257])
def test_pipeline_names_outside_aws_pattern_are_refused_in_aws_wording(local_sess, name):
    definition = {"Version": "2020-12-01", "Steps": [{"Name": "A", "Type": "Fail", "Arguments": {}}]}
    message = _refused(lambda: _create(local_sess, name, definition), "validation error", "pipelineName")
    assert "regular expression pattern" in message or "length less than or equal to 256" in message


def test_a_good_definition_built_with_the_sdk_is_accepted(local_sess):
    threshold = ParameterFloat(name="Threshold", default_value=1.0)
    cond = ConditionStep(name="Check", conditions=[ConditionGreaterThan(left=threshold, right=0.5)],
                         if_steps=[_fail("TooHigh")], else_steps=[_fail("TooLow")])
    Pipeline(name="GoodOne", parameters=[threshold], steps=[cond], sagemaker_session=local_sess).upsert(role_arn=ROLE)
    assert [p["PipelineName"] for p in local_sess.sagemaker_client.list_pipelines()["PipelineSummaries"]] == ["GoodOne"]


def test_a_step_that_is_never_reached_fails_the_execution(local_sess):
    # "After" waits for a step of the branch not taken: nothing fails, yet it can never run
    definition = {"Version": "2020-12-01", "Steps": [
        {"Name": "Check", "Type": "Condition", "Arguments": {
            "Conditions": [{"Type": "GreaterThan", "LeftValue": 1, "RightValue": 2}],
            "IfSteps": [{"Name": "Taken", "Type": "Fail", "Arguments": {"ErrorMessage": "no"}}],
            "ElseSteps": []}},
        {"Name": "After", "Type": "Fail", "Arguments": {"ErrorMessage": "no"}, "DependsOn": ["Taken"]},
    ]}
    _create(local_sess, "Unreached", definition)
    client = local_sess.sagemaker_client
    arn = client.start_pipeline_execution(PipelineName="Unreached")["PipelineExecutionArn"]
    described = wait_for_arn(local_sess, arn)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert "After" in described["FailureReason"] and "never reached" in described["FailureReason"]


def test_a_step_request_that_breaks_aws_constraints_fails_its_step_with_aws_wording(local_sess):
    definition = {"Version": "2020-12-01", "Steps": [{"Name": "Prep", "Type": "Processing", "Arguments": {
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 0, "InstanceType": "ml.m5.xlarge",
                                                  "VolumeSizeInGB": 30}},
        "AppSpecification": {"ImageUri": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
                             "ContainerEntrypoint": ["python3", "/opt/ml/processing/code/x.py"]},
        "RoleArn": ROLE, "StoppingCondition": {"MaxRuntimeInSeconds": 60}}}]}
    _create(local_sess, "BadCount", definition)
    client = local_sess.sagemaker_client
    arn = client.start_pipeline_execution(PipelineName="BadCount")["PipelineExecutionArn"]
    wait_for_arn(local_sess, arn)
    (step,) = client.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    assert step["StepStatus"] == "Failed"
    assert ("Value '0' at 'processingResources.clusterConfig.instanceCount' failed to satisfy constraint: "
            "Member must have value greater than or equal to 1") in step["FailureReason"]
    assert client.list_processing_jobs()["ProcessingJobSummaries"] == []  # refused before any job existed


def _processing(uri):
    return {"Version": "2020-12-01", "Steps": [{"Name": "Prep", "Type": "Processing", "Arguments": {
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge",
                                                  "VolumeSizeInGB": 30}},
        "AppSpecification": {"ImageUri": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
                             "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/x.py"]},
        "ProcessingInputs": [{"InputName": "data", "S3Input": {
            "S3Uri": uri, "LocalPath": "/opt/ml/processing/input", "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
        "RoleArn": ROLE, "StoppingCondition": {"MaxRuntimeInSeconds": 60}}}]}


def _only_step(sess, pipeline_name):
    client = sess.sagemaker_client
    arn = client.start_pipeline_execution(PipelineName=pipeline_name)["PipelineExecutionArn"]
    wait_for_arn(sess, arn)
    (step,) = client.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    return step


def test_a_local_path_as_input_is_refused_as_aws_refuses_it_and_no_job_is_left_running(local_sess):
    _create(local_sess, "LocalPath", _processing("/srv/course-data/abalone.csv"))
    step = _only_step(local_sess, "LocalPath")
    assert step["StepStatus"] == "Failed"
    assert "Value '/srv/course-data/abalone.csv' at 'processingInputs.1.member.s3Input.s3Uri'" in step["FailureReason"]
    assert local_sess.sagemaker_client.list_processing_jobs()["ProcessingJobSummaries"] == []


def test_a_job_that_fails_ends_failed_and_its_step_keeps_the_job(local_sess):
    _create(local_sess, "Missing", _processing(f"s3://{local_sess.default_bucket()}/nothing-here/"))
    step = _only_step(local_sess, "Missing")
    assert step["StepStatus"] == "Failed" and "No S3 objects found" in step["FailureReason"]
    job_name = step["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[-1]
    job = local_sess.sagemaker_client.describe_processing_job(ProcessingJobName=job_name)
    assert job["ProcessingJobStatus"] == "Failed" and job["FailureReason"] == step["FailureReason"]
