"""``@step`` function steps (``sagemaker.workflow.function_step``) offline, written as a learner writes them.

The functions are defined inside the tests, as in a notebook cell (cloudpickle sends such functions by
value; a function of an importable module would be sent by reference).  No ``image_uri`` and no ``role``:
the local session's SDK defaults supply SageMaker's base Python image and the local role's ARN.  Each
step is a training job that runs the SDK's own remote-function runner (bootstrap, then invoke), so its
log shows the function's output, its return value is what ``execution.result(step)`` gives back, and a
later step's argument or a condition reads it (``DelayedReturn`` → ``Std:JsonGet`` of ``results.json``).
"""

import json
import socket

import pytest

import lab_helpers
from lab_helpers.local.images import remote_function
from lab_helpers.local.jobs import sandbox

TRAINING_LOGS = "/aws/sagemaker/TrainingJobs"
INSTANCE = "ml.m5.large"
BASE_PYTHON = "081325390199.dkr.ecr.us-east-1.amazonaws.com/sagemaker-base-python-310:1.0"


@pytest.fixture()
def sess(lab_home, monkeypatch):
    monkeypatch.setenv("LAB_REGION", "us-east-1")
    return lab_helpers.session("local")


def job_of(execution, step_name):
    """The training job name a step ran, from ListPipelineExecutionSteps' metadata."""
    entry = next(s for s in execution.list_steps() if s["StepName"] == step_name)
    return entry["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[-1]


def log_text(sess, job):
    """Every CloudWatch Logs message of training job ``job``, one per line."""
    logs = sess.boto_session.client("logs")
    streams = logs.describe_log_streams(logGroupName=TRAINING_LOGS, logStreamNamePrefix=job + "/")["logStreams"]
    lines = []
    for stream in streams:
        events = logs.get_log_events(logGroupName=TRAINING_LOGS, logStreamName=stream["logStreamName"],
                                     startFromHead=True)
        lines += [e["message"] for e in events["events"]]
    return "\n".join(lines)


def wait_quietly(execution):
    """Wait for the end (a failed execution makes the SDK's waiter raise); returns the execution's status."""
    from botocore.exceptions import WaiterError

    try:
        execution.wait()
    except WaiterError:
        pass
    return execution.describe()["PipelineExecutionStatus"]


def test_session_supplies_image_and_role_as_sdk_defaults(sess):
    modules = sess.sagemaker_config["SageMaker"]["PythonSDK"]["Modules"]
    assert modules["RemoteFunction"] == {"ImageUri": BASE_PYTHON, "RoleArn": lab_helpers.execution_role(sess)}
    assert modules["TelemetryOptOut"] is True
    assert remote_function.image_uri("eu-west-2").endswith("/sagemaker-base-python-310:1.0")


def test_three_function_steps_with_a_condition(sess, tmp_path, monkeypatch):
    """Shaped like AWS's @step quick start: InstanceType in a config.yaml, a Pipeline given no session."""
    from sagemaker.remote_function.core.serialization import deserialize_obj_from_s3
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionGreaterThan
    from sagemaker.workflow.function_step import step
    from sagemaker.workflow.parameters import ParameterInteger
    from sagemaker.workflow.pipeline import Pipeline

    (tmp_path / "config.yaml").write_text(
        "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      RemoteFunction:\n"
        f"        InstanceType: {INSTANCE}\n")
    monkeypatch.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", str(tmp_path))
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy>=1.0\n")

    @step(name="make", dependencies=str(requirements), pre_execution_commands=["echo pre-execution command ran"])
    def make(n: int) -> dict:
        print(f"making {n} rows")
        return {"rows": list(range(n)), "n": n}

    @step(name="total")
    def total(data):
        import numpy as np  # the kit's numpy: satisfied, not installed again

        value = int(np.sum(data["rows"]))
        print(f"the total is {value}")
        return value

    @step(name="report")
    def report(value, n):
        return {"message": f"total {value} over {n} rows", "mean": value / n}

    @step(name="too_small")
    def too_small(value):
        return f"only {value}"

    rows = ParameterInteger(name="Rows", default_value=5)
    made = make(rows)
    summed = total(made)
    big = ConditionStep(name="IsBig", conditions=[ConditionGreaterThan(left=summed, right=5)],
                        if_steps=[report(summed, made["n"])], else_steps=[too_small(summed)])
    pipeline = Pipeline(name="function-steps", parameters=[rows], steps=[big])

    definition = json.loads(pipeline.definition())
    steps = {s["Name"]: s for s in definition["Steps"]}
    assert steps["make"]["Type"] == steps["total"]["Type"] == "Training"
    condition = steps["IsBig"]["Arguments"]["Conditions"][0]["LeftValue"]
    assert condition["Std:JsonGet"]["Path"] == "Result"
    pipeline.upsert(role_arn=lab_helpers.execution_role(sess))

    execution = pipeline.start()
    assert wait_quietly(execution) == "Succeeded"
    statuses = {s["StepName"]: s["StepStatus"] for s in execution.list_steps()}
    assert statuses == {"make": "Succeeded", "total": "Succeeded", "IsBig": "Succeeded", "report": "Succeeded"}
    assert execution.result("make") == {"rows": [0, 1, 2, 3, 4], "n": 5}
    assert execution.result("total") == 10
    assert execution.result("report") == {"message": "total 10 over 5 rows", "mean": 2.0}
    with pytest.raises(ValueError, match="Invalid step name too_small"):
        execution.result("too_small")

    client = sess.sagemaker_client
    job = client.describe_training_job(TrainingJobName=job_of(execution, "total"))
    assert job["ResourceConfig"]["InstanceType"] == INSTANCE  # from config.yaml
    assert job["AlgorithmSpecification"]["TrainingImage"] == BASE_PYTHON
    assert job["AlgorithmSpecification"]["ContainerEntrypoint"] == remote_function.ENTRYPOINT
    assert job["RoleArn"] == lab_helpers.execution_role(sess)
    assert job["OutputDataConfig"]["S3OutputPath"].endswith(f"/{execution.arn.rsplit('/', 1)[-1]}/total/results")
    stored = deserialize_obj_from_s3(sess, job["OutputDataConfig"]["S3OutputPath"])
    assert stored == 10
    total_log = log_text(sess, job_of(execution, "total"))
    assert "the total is 10" in total_log
    make_log = log_text(sess, job_of(execution, "make"))
    assert "making 5 rows" in make_log
    assert "pre-execution command ran" in make_log
    assert "Requirement already satisfied (in the image's environment): numpy==" in make_log

    small = pipeline.start(parameters={"Rows": 2})
    assert wait_quietly(small) == "Succeeded"
    statuses = {s["StepName"]: s["StepStatus"] for s in small.list_steps()}
    assert statuses == {"make": "Succeeded", "total": "Succeeded", "IsBig": "Succeeded", "too_small": "Succeeded"}
    assert small.result("too_small") == "only 1"


def test_a_function_that_raises_fails_its_step_with_the_message(sess):
    from sagemaker.remote_function.core.serialization import deserialize_exception_from_s3
    from sagemaker.remote_function.errors import RemoteFunctionError
    from sagemaker.workflow.function_step import step
    from sagemaker.workflow.pipeline import Pipeline

    @step(name="load", instance_type=INSTANCE)
    def load():
        raise ValueError("the data set has no rows")

    @step(name="train", instance_type=INSTANCE)
    def train(data):
        return len(data)

    pipeline = Pipeline(name="function-fails", steps=[train(load())], sagemaker_session=sess)
    pipeline.upsert(role_arn=lab_helpers.execution_role(sess))
    execution = pipeline.start()
    assert wait_quietly(execution) == "Failed"
    steps = {s["StepName"]: s for s in execution.list_steps()}
    assert set(steps) == {"load"}  # the step that needs its result never started
    reason = steps["load"]["FailureReason"]
    assert "ValueError" in reason and "the data set has no rows" in reason
    job = sess.sagemaker_client.describe_training_job(TrainingJobName=job_of(execution, "load"))
    assert job["TrainingJobStatus"] == "Failed" and "the data set has no rows" in job["FailureReason"]
    assert "ValueError: the data set has no rows" in log_text(sess, job_of(execution, "load"))
    with pytest.raises(RemoteFunctionError, match="step load is not in Completed status"):
        execution.result("load")
    # the SDK's runner stored the exception beside the results, as in AWS
    base = job["OutputDataConfig"]["S3OutputPath"].rsplit("/", 1)[0]
    error = deserialize_exception_from_s3(sess, base + "/exception")
    assert isinstance(error, ValueError) and str(error) == "the data set has no rows"


@pytest.mark.skipif(not (sandbox.enabled() and sandbox.available()[0]),
                    reason="without the job sandbox a job has the machine's network")
def test_a_function_cannot_reach_the_network(sess, monkeypatch):
    from sagemaker.workflow.function_step import step
    from sagemaker.workflow.pipeline import Pipeline

    @step(name="fetch", instance_type=INSTANCE)
    def fetch():
        with socket.create_connection(("1.1.1.1", 443), timeout=5):
            return "reached the internet"

    pipeline = Pipeline(name="function-network", steps=[fetch()], sagemaker_session=sess)
    pipeline.upsert(role_arn=lab_helpers.execution_role(sess))
    execution = pipeline.start()
    assert wait_quietly(execution) == "Failed"
    reason = next(s for s in execution.list_steps() if s["StepName"] == "fetch")["FailureReason"]
    assert "OSError" in reason or "unreachable" in reason.lower(), reason


def test_the_base_python_image_runs_only_the_remote_function_runner(sess):
    client = sess.sagemaker_client
    bucket = sess.default_bucket()
    client.create_training_job(
        TrainingJobName="not-a-remote-function",
        AlgorithmSpecification={"TrainingImage": BASE_PYTHON, "TrainingInputMode": "File",
                                "ContainerEntrypoint": ["python3", "train.py"]},
        RoleArn=lab_helpers.execution_role(sess),
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/out"},
        ResourceConfig={"InstanceType": INSTANCE, "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 60})
    job = client.describe_training_job(TrainingJobName="not-a-remote-function")
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("ClientError: ")
    assert "remote-function runner" in job["FailureReason"] and "['python3', 'train.py']" in job["FailureReason"]


def test_job_preload_finds_function_steps():
    function_step = {"Name": "f", "Type": "Training", "Arguments": {
        "AlgorithmSpecification": {"ContainerEntrypoint": remote_function.ENTRYPOINT}}}
    nested = {"Steps": [{"Name": "c", "Type": "Condition", "Arguments": {"IfSteps": [function_step]}}]}
    assert remote_function.job_preload(nested) == remote_function.PRELOAD
    assert remote_function.job_preload({"Steps": [{"Name": "t", "Type": "Training", "Arguments": {}}]}) == ()


def test_dependencies_never_change_the_kits_environment(tmp_path, capsys):
    """The bootstrap's dependency step: satisfied requirements are reported; conda is refused with the fix."""
    import types

    class RuntimeEnvironmentError(Exception):
        pass

    manager = types.SimpleNamespace(RuntimeEnvironmentError=RuntimeEnvironmentError)
    install = remote_function._install_dependencies(manager, str(tmp_path / "packages"))
    requirements = tmp_path / "reqs.txt"
    requirements.write_text("numpy>=1.0\nsagemaker>=2.256.0,<3.0.0\n")
    install(None, str(requirements), "3.11")
    out = capsys.readouterr().out
    assert "Requirement already satisfied (in the image's environment): numpy==" in out
    assert "Requirement already satisfied (in the image's environment): sagemaker==" in out
    assert not (tmp_path / "packages").exists()  # pip never ran
    with pytest.raises(RuntimeEnvironmentError, match="does not create or update conda environments"):
        install(None, str(tmp_path / "environment.yml"), "3.11")
    with pytest.raises(RuntimeEnvironmentError, match="my-env"):
        install(None, str(requirements), "3.11", conda_env="my-env")
