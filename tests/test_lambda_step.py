"""LambdaStep and the local Lambda service, written as a learner writes them with the SDK v2 in local mode.

A role made through IAM, a function made by ``sagemaker.lambda_helper.Lambda`` (the SDK zips the script
and calls ``create_function``), a ``LambdaStep`` whose output a ``ConditionStep`` reads (both branches);
a handler that raises fails the execution with its message, a missing output fails it with a reason
naming the output; a handler cannot reach the network or write outside its folder; ``Invoke``'s
payload, ``FunctionError``, ``LogResult`` and the function's CloudWatch log are AWS's shapes.
"""

import base64
import io
import json
import socket
import textwrap
import threading
import time
import zipfile

import pytest
from botocore.exceptions import ClientError
from conftest import module_fixtures, module_home, offline_module

no_network = pytest.fixture(scope="module", autouse=True, name="no_network")(offline_module)

HANDLERS = textwrap.dedent("""
    import json, os, socket

    import boto3


    def check(event, context):
        # the step's inputs arrive as the event; the result's keys are the step's outputs
        score = float(event["score"])
        print(f"checking {event['model']} for {context.function_name}")
        return {"approved": score >= float(os.environ["THRESHOLD"]), "score": score,
                "label": event["model"] + "-checked", "count": "3"}


    def announce(event, context):
        # boto3 in a handler reaches the local services (here: S3)
        boto3.client("s3").put_object(Bucket=event["bucket"], Key="announce/" + event["label"], Body=b"ok")
        return {"done": True}


    def broken(event, context):
        raise ValueError("the model registry is unreachable: " + event.get("why", "?"))


    def forgetful(event, context):
        return {"something": "else"}


    def escape(event, context):
        out = {}
        try:
            socket.create_connection(("127.0.0.1", event["port"]), timeout=2).close()
            out["network"] = "connected"
        except OSError as exc:
            out["network"] = type(exc).__name__
        for key, path in (("host_file", event["host_file"]), ("lab_home", event["lab_home_file"])):
            try:
                with open(path, "w") as handle:
                    handle.write("escaped")
                out[key] = "written"
            except OSError as exc:
                out[key] = type(exc).__name__
        with open("/tmp/scratch.txt", "w") as handle:  # its own /tmp is writable
            handle.write("fine")
        out["tmp"] = "written"
        return out


    def slow(event, context):
        import time
        time.sleep(30)
""")


home = module_home("lambda-home")
(sess,) = module_fixtures("sess")


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    path = tmp_path_factory.mktemp("lambda-code") / "checks.py"
    path.write_text(HANDLERS)
    return str(path)


@pytest.fixture(scope="module")
def role_arn(sess):
    """A role for the functions, created through IAM as AWS's Lambda-step example does."""
    iam = sess.boto_session.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
        "Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="lambda-deployment-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.attach_role_policy(RoleName="lambda-deployment-role",
                           PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    return role["Arn"]


def make_function(sess, role_arn, script, name, handler, **kwargs):
    from sagemaker.lambda_helper import Lambda

    return Lambda(function_name=name, execution_role_arn=role_arn, script=script, handler=f"checks.{handler}",
                  session=sess, runtime="python3.12", **kwargs)


def run(pipeline, **parameters):
    execution = pipeline.start(parameters=parameters or None)
    try:
        execution.wait(delay=1, max_attempts=240)
    except Exception:  # noqa: BLE001 - a failed execution is an outcome the tests look at
        pass
    described = execution.describe()
    steps = {s["StepName"]: s for s in execution.list_steps()}
    return described, steps


# ----------------------------------------------------------------------------- the pipeline


def test_lambda_step_output_drives_a_condition_both_ways(sess, role_arn, script):
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionEquals
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
    from sagemaker.workflow.parameters import ParameterFloat, ParameterString
    from sagemaker.workflow.pipeline import Pipeline

    score = ParameterFloat(name="Score", default_value=0.9)
    model = ParameterString(name="Model", default_value="abalone")
    check = LambdaStep(
        name="CheckModel",
        lambda_func=make_function(sess, role_arn, script, "check-model", "check", environment={
            "Variables": {"THRESHOLD": "0.8"}}),
        inputs={"score": score, "model": Join(on="/", values=["models", model])},
        outputs=[LambdaOutput("approved", LambdaOutputTypeEnum.Boolean),
                 LambdaOutput("score", LambdaOutputTypeEnum.Float),
                 LambdaOutput("label", LambdaOutputTypeEnum.String),
                 LambdaOutput("count", LambdaOutputTypeEnum.Integer)],
    )
    announce = LambdaStep(
        name="Announce",
        lambda_func=make_function(sess, role_arn, script, "announce-model", "announce"),
        inputs={"bucket": sess.default_bucket(), "label": check.properties.Outputs["label"]},
        outputs=[LambdaOutput("done", LambdaOutputTypeEnum.Boolean)],
    )
    rejected = FailStep(name="Rejected", error_message=Join(on=" ", values=[
        "score", check.properties.Outputs["score"], "is too low"]))
    gate = ConditionStep(name="Approved", conditions=[
        ConditionEquals(left=check.properties.Outputs["approved"], right=True)],
        if_steps=[announce], else_steps=[rejected])
    pipeline = Pipeline(name="lambda-gate", parameters=[score, model], steps=[check, gate], sagemaker_session=sess)
    pipeline.upsert(role_arn=role_arn)

    described, steps = run(pipeline)
    assert described["PipelineExecutionStatus"] == "Succeeded", steps
    meta = steps["CheckModel"]["Metadata"]["Lambda"]
    assert meta["Arn"].endswith(":function:check-model")
    assert {p["Name"]: p["Value"] for p in meta["OutputParameters"]} == {
        "approved": "true", "score": "0.9", "label": "models/abalone-checked", "count": "3"}
    assert steps["Approved"]["Metadata"]["Condition"]["Outcome"] == "True"
    assert "Rejected" not in steps
    body = sess.boto_session.client("s3").get_object(Bucket=sess.default_bucket(),
                                                     Key="announce/models/abalone-checked")["Body"].read()
    assert body == b"ok"  # the handler's boto3 reached the local S3

    described, steps = run(pipeline, Score=0.5)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert steps["Approved"]["Metadata"]["Condition"]["Outcome"] == "False"
    assert steps["Rejected"]["FailureReason"] == "score 0.5 is too low"
    assert "Announce" not in steps

    logs = sess.boto_session.client("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/lambda/check-model")["logStreams"]
    assert len(streams) == 2
    events = logs.get_log_events(logGroupName="/aws/lambda/check-model",
                                 logStreamName=streams[0]["logStreamName"])["events"]
    messages = [e["message"] for e in events]
    assert messages[0].startswith("START RequestId: ") and messages[-1].startswith("REPORT RequestId: ")
    assert "checking models/abalone for check-model" in messages


def test_handler_error_and_missing_output_fail_the_step_with_a_clear_reason(sess, role_arn, script):
    from sagemaker.workflow.lambda_step import LambdaOutput, LambdaStep
    from sagemaker.workflow.pipeline import Pipeline

    broken = LambdaStep(name="Broken", lambda_func=make_function(sess, role_arn, script, "broken-fn", "broken"),
                        inputs={"why": "offline"})
    pipeline = Pipeline(name="lambda-broken", steps=[broken], sagemaker_session=sess)
    pipeline.upsert(role_arn=role_arn)
    described, steps = run(pipeline)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert steps["Broken"]["StepStatus"] == "Failed"
    assert steps["Broken"]["FailureReason"] == "the model registry is unreachable: offline"
    assert steps["Broken"]["Metadata"]["Lambda"]["Arn"].endswith(":function:broken-fn")

    forgetful = LambdaStep(name="Forgetful",
                           lambda_func=make_function(sess, role_arn, script, "forgetful-fn", "forgetful"),
                           outputs=[LambdaOutput("accuracy")])
    pipeline = Pipeline(name="lambda-forgetful", steps=[forgetful], sagemaker_session=sess)
    pipeline.upsert(role_arn=role_arn)
    described, steps = run(pipeline)
    assert described["PipelineExecutionStatus"] == "Failed"
    reason = steps["Forgetful"]["FailureReason"]
    assert "no output 'accuracy'" in reason and "something" in reason


def test_sdk_upsert_updates_an_existing_function(sess, role_arn, script, tmp_path):
    lam = sess.boto_session.client("lambda")
    first = make_function(sess, role_arn, script, "upserted", "forgetful").upsert()
    assert first["State"] == "Active"
    other = tmp_path / "checks.py"
    other.write_text(HANDLERS.replace('"something": "else"', '"something": "new"'))
    second = make_function(sess, role_arn, str(other), "upserted", "forgetful").upsert()
    assert second["FunctionArn"] == first["FunctionArn"] and second["CodeSha256"] != first["CodeSha256"]
    lam.get_waiter("function_updated_v2").wait(FunctionName="upserted")
    payload = json.loads(lam.invoke(FunctionName="upserted")["Payload"].read())
    assert payload == {"something": "new"}


# ----------------------------------------------------------------------------- confinement


def test_handler_cannot_reach_the_network_or_write_outside_its_folder(sess, role_arn, script, home, tmp_path):
    from lab_helpers.local.jobs import sandbox

    if not (sandbox.enabled() and sandbox.available()[0]):
        pytest.skip(f"no sandbox here: {sandbox.available()[1]}")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.2)
    connections = []

    def accept():
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                connections.append(server.accept()[0])
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    make_function(sess, role_arn, script, "escape-fn", "escape").create()
    host_file, lab_file = tmp_path / "escaped.txt", home / "escaped.txt"
    event = {"port": server.getsockname()[1], "host_file": str(host_file), "lab_home_file": str(lab_file)}
    response = sess.boto_session.client("lambda").invoke(FunctionName="escape-fn", Payload=json.dumps(event))
    result = json.loads(response["Payload"].read())
    server.close()
    assert "FunctionError" not in response, result
    assert result["network"] in ("ConnectionRefusedError", "OSError", "TimeoutError")
    assert connections == []
    assert result["lab_home"] != "written" or not lab_file.exists()
    assert not host_file.exists() and not lab_file.exists()
    assert result["tmp"] == "written"


def test_timeout_is_enforced(sess, role_arn, script):
    make_function(sess, role_arn, script, "slow-fn", "slow", timeout=1).create()
    started = time.monotonic()
    response = sess.boto_session.client("lambda").invoke(FunctionName="slow-fn")
    assert time.monotonic() - started < 15
    assert response["FunctionError"] == "Unhandled"
    payload = json.loads(response["Payload"].read())
    assert payload["errorType"] == "Sandbox.Timedout"
    assert payload["errorMessage"].endswith("Task timed out after 1.00 seconds")


# ----------------------------------------------------------------------------- the Lambda API


def zipped(text, name="app.py"):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, text)
    return buffer.getvalue()


def test_invoke_shapes_and_errors(sess, role_arn):
    lam = sess.boto_session.client("lambda")
    code = zipped("def handler(event, context):\n    if event.get('x'):\n        raise KeyError('x')\n"
                  "    print('tail me')\n    return [context.function_name, context.memory_limit_in_mb]\n")
    created = lam.create_function(FunctionName="shapes", Runtime="python3.12", Role=role_arn, Handler="app.handler",
                                  Code={"ZipFile": code}, MemorySize=256)
    assert created["State"] == "Active" and created["LastUpdateStatus"] == "Successful"
    lam.get_waiter("function_active_v2").wait(FunctionName="shapes")

    ok = lam.invoke(FunctionName="shapes", Payload=b"{}", LogType="Tail")
    assert ok["StatusCode"] == 200 and "FunctionError" not in ok and ok["ExecutedVersion"] == "$LATEST"
    assert json.loads(ok["Payload"].read()) == ["shapes", 256]
    assert "tail me" in base64.b64decode(ok["LogResult"]).decode()

    failed = lam.invoke(FunctionName=created["FunctionArn"], Payload=json.dumps({"x": 1}))
    assert failed["StatusCode"] == 200 and failed["FunctionError"] == "Unhandled"
    payload = json.loads(failed["Payload"].read())
    assert payload["errorType"] == "KeyError" and payload["errorMessage"] == "'x'"
    assert payload["stackTrace"] and '/var/task/app.py", line 3, in handler' in payload["stackTrace"][0]

    assert lam.invoke(FunctionName="shapes", InvocationType="Event")["StatusCode"] == 202
    assert lam.invoke(FunctionName="shapes", InvocationType="DryRun")["StatusCode"] == 204
    with pytest.raises(ClientError) as bad_json:
        lam.invoke(FunctionName="shapes", Payload=b"{not json")
    assert bad_json.value.response["Error"]["Code"] == "InvalidRequestContentException"

    with pytest.raises(ClientError) as missing:
        lam.invoke(FunctionName="nowhere")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    updated = lam.update_function_configuration(FunctionName="shapes", Timeout=7,
                                                Environment={"Variables": {"STAGE": "test"}})
    assert updated["Timeout"] == 7 and updated["Environment"]["Variables"] == {"STAGE": "test"}
    lam.get_waiter("function_updated_v2").wait(FunctionName="shapes")


def test_create_function_refusals(sess, role_arn, script):
    lam = sess.boto_session.client("lambda")
    code = {"ZipFile": zipped("def handler(e, c):\n    return 1\n")}
    cases = [
        (dict(FunctionName="node", Runtime="nodejs20.x", Role=role_arn, Handler="index.handler", Code=code),
         "InvalidParameterValueException", "Python"),
        (dict(FunctionName="norole", Runtime="python3.12", Handler="app.handler", Code=code,
              Role="arn:aws:iam::000000000000:role/NoSuchRole"),
         "InvalidParameterValueException", "cannot be assumed"),
        (dict(FunctionName="notzip", Runtime="python3.12", Role=role_arn, Handler="app.handler",
              Code={"ZipFile": b"not a zip"}), "InvalidParameterValueException", "Could not unzip"),
        (dict(FunctionName="nos3", Runtime="python3.12", Role=role_arn, Handler="app.handler",
              Code={"S3Bucket": sess.default_bucket(), "S3Key": "missing/code.zip"}),
         "InvalidParameterValueException", "NoSuchKey"),
        (dict(FunctionName="reserved", Runtime="python3.12", Role=role_arn, Handler="app.handler", Code=code,
              Environment={"Variables": {"AWS_REGION": "x"}}), "InvalidParameterValueException", "AWS_REGION"),
    ]
    for request, code_name, words in cases:
        with pytest.raises(ClientError) as caught:
            lam.create_function(**request)
        assert caught.value.response["Error"]["Code"] == code_name, request["FunctionName"]
        assert words in caught.value.response["Error"]["Message"]
    lam.create_function(FunctionName="twice", Runtime="python3.12", Role=role_arn, Handler="app.handler", Code=code)
    with pytest.raises(ClientError) as twice:
        lam.create_function(FunctionName="twice", Runtime="python3.12", Role=role_arn, Handler="app.handler",
                            Code=code)
    assert twice.value.response["Error"]["Code"] == "ResourceConflictException"


def test_code_from_s3_list_and_delete(sess, role_arn):
    lam, s3 = sess.boto_session.client("lambda"), sess.boto_session.client("s3")
    s3.put_object(Bucket=sess.default_bucket(), Key="code/s3fn.zip", Body=zipped("def h(e, c):\n    return e\n"))
    for n in range(3):
        lam.create_function(FunctionName=f"paged-{n}", Runtime="python3.11", Role=role_arn, Handler="app.h",
                            Code={"S3Bucket": sess.default_bucket(), "S3Key": "code/s3fn.zip"})
    names = [f["FunctionName"] for page in lam.get_paginator("list_functions").paginate(
        PaginationConfig={"PageSize": 2}) for f in page["Functions"]]
    assert {"paged-0", "paged-1", "paged-2"} <= set(names) and len(names) == len(set(names))
    assert json.loads(lam.invoke(FunctionName="paged-1", Payload=b'{"a": 1}')["Payload"].read()) == {"a": 1}
    assert lam.delete_function(FunctionName="paged-1")["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as gone:
        lam.get_function(FunctionName="paged-1")
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"
