"""Remote mode under SDK v3 against the AWS emulator: the v2 leg's checks (:mod:`test_remote_definitions`), on the
definitions and the pipeline API calls SDK v3 makes.

The SDK v3 environment has no moto, so the emulator runs here as a server on this machine
(:func:`aws_emulator.serve`) and the v3 process is pointed at it: every AWS client it makes goes there,
whatever endpoint the SDK asked for, and any other connection off the machine is refused and logged.  The
v3 process builds both lesson pipelines with ``lab_helpers.session("remote")``, and records SageMaker's
answers with the v2 leg's own functions (:func:`~test_remote_definitions.record_pipeline_api`,
:func:`~test_remote_definitions.record_registry`); this process checks them with the v2 leg's assertions, and
runs the v2 leg's definition checks - the ones that corrupt a definition on purpose included - on v3's
definitions (imported below, they run here with this module's ``world``).

The v3 process opts out of the SDK's usage telemetry (``TelemetryOptOut``, through the SDK's own
configuration file): it is an HTTPS request outside the AWS API that no emulator answers, and with it off
any connection the guard refuses is a failure.
"""

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

import aws_emulator
from conftest import child_env
from test_remote_definitions import (  # noqa: F401  (tests and fixtures of the v2 leg, run here on v3's world)
    ACCOUNT, BUCKET, REGION, ROLE_ARN, abalone_definition, assert_pipeline_api, assert_registry,
    s3, test_a_file_uri_or_local_path_is_caught, test_a_removed_script_upload_is_caught,
    test_a_script_run_without_a_code_input_is_caught, test_an_image_from_another_region_is_caught,
    test_dangling_gets_are_caught, test_definition_is_fit_for_sagemaker,
    test_outline_data_is_where_the_definition_reads_it)

from lab_helpers import config, data

TESTS = Path(__file__).resolve().parent

#: In the v3 environment, remote mode: build both lesson pipelines, then upsert and start them, and register, read
#: back, approve, reject and clean up model versions, as the v2 leg does.  Marks each phase in the call log.
#: Prints a JSON report on its last line, after "RESULT:".
V3_REMOTE = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
import lab_helpers
from lab_helpers import sdk
import test_remote_definitions as leg

def phase(name):
    with open(os.environ["LAB_EMULATOR_CALLS"], "a") as out:
        out.write(json.dumps({"phase": name}) + "\\n")

assert sdk.is_v3(), "the child must run SDK v3"
phase("session")
sess = lab_helpers.session("remote")
result = {"session": type(sess).__module__ + "." + type(sess).__qualname__, "mode": lab_helpers.mode_of(sess),
          "local": hasattr(sess, "cloud"), "role": lab_helpers.execution_role(sess), "region": sess.boto_region_name,
          "bucket": sess.default_bucket(), "account": sess.account_id()}
phase("build")
built = {which: builder(sess) for which, builder in leg.BUILDERS.items()}
result["definitions"] = {which: json.loads(p.definition()) for which, p in built.items()}
phase("pipeline api")
result["pipeline_api"] = {which: leg.record_pipeline_api(sess.sagemaker_client, p, which) for which, p in built.items()}
phase("registry")
result["registry"] = leg.record_registry(sess, sess.boto_session.client("s3", region_name=sess.boto_region_name))
print("RESULT:" + json.dumps(result, default=str))
"""

#: In the v3 environment, remote mode as in SageMaker Studio (no LAB_ROLE_ARN): the role is the caller's, found by
#: v3's get_execution_role; then with a user's keys instead of a role's, the kit's error.
V3_STUDIO_ROLE = """
import json, os
import lab_helpers
from lab_helpers import config
from lab_helpers.sessions import LabSetupError
config.in_studio = lambda: True  # Studio, whose metadata file this machine does not have
result = {"role": lab_helpers.execution_role(lab_helpers.session("remote"))}
os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
del os.environ["AWS_SESSION_TOKEN"]
try:
    lab_helpers.session("remote")
except LabSetupError as exc:
    result["user"] = str(exc)
print("RESULT:" + json.dumps(result))
"""


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    """The emulator as a server on this machine, once per module; this process in the same fake account, its own
    AWS clients (the checks') sent to the server too.  Yields ``make_env(name, role=True)``: a v3 process's
    environment (``role=False``: without ``LAB_ROLE_ARN``)."""
    folder = tmp_path_factory.mktemp("v3-remote")
    lab_home = folder / "lab-home"
    # the SDK's user configuration in the v3 process: no usage telemetry (see above); JSON is YAML
    (folder / "sdk-config.yaml").write_text(json.dumps(config.LOCAL_SDK_CONFIG))
    with pytest.MonkeyPatch.context() as mp:
        import boto3

        # an earlier test's local session made its boto session boto3's default: this module's clients are AWS's
        mp.setattr(boto3, "DEFAULT_SESSION", None)
        aws_emulator.use_fake_account(mp)
        server, endpoint = aws_emulator.serve(mp)
        try:
            mp.setenv("AWS_ENDPOINT_URL", endpoint)
            mp.setenv("LAB_HOME", str(lab_home))

            def make_env(name, role=True):
                env = aws_emulator.emulator_env(child_env(lab_home, COLUMNS="1000"), folder / name / "site",
                                                folder / name / "refused.log", role=role, endpoint=endpoint,
                                                calls_file=folder / name / "calls.jsonl")
                env.pop("VIRTUAL_ENV", None)
                env["SAGEMAKER_USER_CONFIG_OVERRIDE"] = str(folder / "sdk-config.yaml")
                return env

            yield {"endpoint": endpoint, "lab_home": lab_home, "make_env": make_env}
        finally:
            server.stop()


def run_v3(python, env, *args):
    """Run ``python *args`` in the v3 environment with ``env``; the completed process (it must succeed)."""
    proc = subprocess.run([str(python), *args], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"SDK v3 child failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-4000:]}"
    return proc


def refused(env):
    """The connections off this machine the v3 process tried (the guard refused them)."""
    log = Path(env["LAB_EMULATOR_LOG"])
    return log.read_text().splitlines() if log.exists() else []


def by_phase(calls):
    """``{phase: [(service, operation), ...]}`` from a call log with the child's phase marks."""
    phases, current = {}, None
    for call in calls:
        if "phase" in call:
            current = phases.setdefault(call["phase"], [])
        else:
            current.append((call["service"], call["operation"]))
    return phases


@pytest.fixture(scope="module")
def world(v3_python, emulator):
    """Remote mode under SDK v3, once per module: the v3 process's report, its AWS calls and what it tried to reach
    off the machine; and, for the v2 leg's checks, v3's definitions and an S3 client of the same emulator."""
    import boto3

    env = emulator["make_env"]("world")
    proc = run_v3(v3_python, env, "-c", textwrap.dedent(V3_REMOTE), str(TESTS))
    report = json.loads(proc.stdout.rpartition("RESULT:")[2])
    return {
        "sdk": 3,
        "report": report,
        "definitions": report["definitions"],
        "calls": aws_emulator.calls(env["LAB_EMULATOR_CALLS"]),
        "refused": refused(env),
        "lab_home": emulator["lab_home"],
        "endpoint": emulator["endpoint"],
        "s3": boto3.client("s3", region_name=REGION),
    }


def test_remote_session_under_v3_is_v3s_pipeline_session(world):
    report = world["report"]
    assert report["session"] == "sagemaker.core.workflow.pipeline_context.PipelineSession"
    assert report["mode"] == "remote" and not report["local"]
    assert (report["role"], report["region"], report["account"]) == (ROLE_ARN, REGION, ACCOUNT)
    assert report["bucket"] == BUCKET


def test_v3_definitions_are_v3s_and_read_the_uploaded_data(world):
    definitions = world["definitions"]
    names = {s["Name"] for s in definitions["outline"]["Steps"]}
    assert names == {"Train", "AbaloneCreateModel", "RegisterModel"}  # v3's names (v2: ...-CreateModel)
    if_steps = definitions["abalone"]["Steps"][3]["Arguments"]["IfSteps"]  # what the corruption tests change
    assert [s["Name"] for s in if_steps] == ["AbaloneRegisterModel", "AbaloneCreateModel", "AbaloneTransform"]
    assert "MlflowConfig" in definitions["abalone"]  # written by v3's Pipeline only
    defaults = {p["Name"]: p.get("DefaultValue") for p in definitions["abalone"]["Parameters"]}
    assert {"input": defaults["InputData"], "batch": defaults["BatchData"]} == {
        "input": f"s3://{BUCKET}/pipelines-lab/data/abalone.csv",
        "batch": f"s3://{BUCKET}/pipelines-lab/data/batch/abalone-batch.csv"}
    s3 = world["s3"]
    body = s3.get_object(Bucket=BUCKET, Key="pipelines-lab/data/abalone.csv")["Body"].read()
    assert body == data.abalone_csv().read_bytes()
    batch = s3.get_object(Bucket=BUCKET, Key="pipelines-lab/data/batch/abalone-batch.csv")["Body"].read()
    assert batch == data.batch_features()


@pytest.mark.parametrize("which", ["abalone", "outline"])
def test_upsert_describe_start_and_list_executions(world, which):
    assert_pipeline_api(world["report"]["pipeline_api"][which], world["definitions"][which])


def test_the_pipelines_are_in_the_emulator_as_upserted(world):
    """This process reads back, from the emulator, what the v3 process created there."""
    import boto3

    sm = boto3.client("sagemaker", region_name=REGION)
    for which, definition in world["definitions"].items():
        name = world["report"]["pipeline_api"][which]["name"]
        described = sm.describe_pipeline(PipelineName=name)
        assert json.loads(described["PipelineDefinition"]) == definition
        assert described["PipelineDescription"] == "second" and described["RoleArn"] == ROLE_ARN
        assert len(sm.list_pipeline_executions(PipelineName=name)["PipelineExecutionSummaries"]) == 2


def test_registry_read_back_approval_and_cleanup(world):
    assert_registry(world["report"]["registry"])


def test_every_aws_call_of_v3_is_answered_by_the_emulator(world):
    calls = [c for c in world["calls"] if "phase" not in c]
    assert world["refused"] == [], "the v3 process tried to leave the machine"
    assert calls and all(c["url"] == world["endpoint"] for c in calls)
    assert [c for c in calls if c["status"] is None or c["status"] >= 500] == []
    phases = by_phase(world["calls"])
    # v3's own look-ups: the account from STS through the regional endpoint it builds itself (not
    # AWS_ENDPOINT_URL), the buckets while making the session, the default bucket made once
    assert any(c["service"] == "sts" and c["asked"] == f"https://sts.{REGION}.amazonaws.com" for c in calls)
    assert {("s3", "ListBuckets"), ("s3", "HeadBucket"), ("s3", "CreateBucket")} <= set(phases["session"])
    # building uploads the data and the step scripts; nothing is created in SageMaker yet
    assert ("s3", "PutObject") in phases["build"] and not [op for svc, op in phases["build"] if svc == "sagemaker"]
    assert {("sagemaker", op) for op in ("CreatePipeline", "UpdatePipeline", "DescribePipeline",
                                         "StartPipelineExecution")} <= set(phases["pipeline api"])
    # ModelBuilder.register() with a plain session looks at the buckets and makes the group; the clean-up deletes it
    assert {("s3", "ListBuckets"), ("sagemaker", "CreateModelPackageGroup"), ("sagemaker", "CreateModelPackage"),
            ("sagemaker", "DeleteModelPackageGroup")} <= set(phases["registry"])


def test_check_in_remote_mode_under_v3(v3_python, emulator):
    """``python -m lab_helpers check`` under v3 in remote mode: every line ✓, except the permissions, which moto
    cannot simulate (``?``, as in the v2 leg's check test): its SimulatePrincipalPolicy calls reach the emulator,
    whose server answers that it does not implement them."""
    env = emulator["make_env"]("check")
    out = run_v3(v3_python, env, "-m", "lab_helpers", "check").stdout
    assert "✓ mode: remote" in out and f"✓ region: {REGION}" in out, out
    assert "! SageMaker Python SDK: 3.12.0 (v3)" in out
    assert f"✓ credentials: arn:aws:sts::{ACCOUNT}:" in out and f"✓ execution role: {ROLE_ARN}" in out
    assert f"✓ default bucket: s3://{BUCKET}" in out
    assert "✗" not in out and "? permission sagemaker:CreatePipeline: could not be checked" in out
    calls = aws_emulator.calls(env["LAB_EMULATOR_CALLS"])
    simulated = [c for c in calls if c["operation"] == "SimulatePrincipalPolicy"]
    assert simulated and all(c["service"] == "iam" and c["url"] == emulator["endpoint"] for c in simulated)
    assert all("500 Internal Server Error" in c["error"] for c in simulated)  # moto's answer: not implemented
    assert refused(env) == []


def test_the_studio_role_under_v3_is_the_callers_from_iam(v3_python, emulator):
    """In Studio the kit asks v3's get_execution_role for the role: STS says who is calling (an assumed role),
    IAM GetRole gives the role's ARN - both answered by the emulator; a user's keys give the kit's error."""
    import boto3

    credentials = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=ROLE_ARN, RoleSessionName="SageMaker")["Credentials"]  # what a Studio kernel runs with
    env = emulator["make_env"]("studio", role=False)
    env.update(AWS_ACCESS_KEY_ID=credentials["AccessKeyId"], AWS_SECRET_ACCESS_KEY=credentials["SecretAccessKey"],
               AWS_SESSION_TOKEN=credentials["SessionToken"])
    report = json.loads(run_v3(v3_python, env, "-c", textwrap.dedent(V3_STUDIO_ROLE)).stdout.rpartition("RESULT:")[2])
    assert report["role"] == ROLE_ARN
    assert report["user"].startswith("No SageMaker execution role found")
    assert f"The current AWS identity is not a role: arn:aws:sts::{ACCOUNT}:user/" in report["user"]
    calls = [c for c in aws_emulator.calls(env["LAB_EMULATOR_CALLS"]) if c["service"] in ("sts", "iam")]
    assert [(c["service"], c["operation"], c["status"]) for c in calls] == [
        ("sts", "GetCallerIdentity", 200), ("iam", "GetRole", 200),  # the role's ARN, with its path
        ("sts", "GetCallerIdentity", 200), ("iam", "GetRole", 404)]  # a user: no such role
    assert all(c["url"] == emulator["endpoint"] for c in calls) and refused(env) == []
