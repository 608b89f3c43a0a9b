"""Remote mode against moto: the pipeline definitions the SDK builds for SageMaker, and the pipeline API calls.

Every AWS call is answered in-process by moto (fake credentials, region eu-west-2): no account, no network.
The checks are plain functions returning a list of problems, so that a definition that gains a local path,
a dangling ``Get``, a script that was not uploaded or an image from another region fails - the tests at the
end corrupt a definition on purpose to show they do.

The SDK v3 leg (``test_remote_definitions_v3.py``) reuses this module: its checks and its definition tests run
on v3's definitions, and the pipeline API and the registry are exercised by the same ``record_*`` functions
(run by the installed SDK, in the v3 process there) and judged by the same ``assert_*`` functions.
"""

import copy
import json
from pathlib import Path

import pytest

import aws_emulator
from lab_helpers import config, data, pipelines, sdk

ROOT = Path(__file__).resolve().parents[1]
REGION, ACCOUNT, ROLE_ARN = aws_emulator.REGION, aws_emulator.ACCOUNT, aws_emulator.ROLE_ARN
BUCKET = f"sagemaker-{REGION}-{ACCOUNT}"
#: Execution variables a definition may read (sagemaker.workflow.execution_variables).
EXECUTION_VARIABLES = {"StartDateTime", "CurrentDateTime", "PipelineName", "PipelineArn",
                       "PipelineExecutionId", "PipelineExecutionArn", "PipelineRunId"}
BUILDERS = {"outline": pipelines.outline_pipeline, "abalone": pipelines.abalone_pipeline}


# --------------------------------------------------------------------------------------
# reusable checks: each returns a list of problems (empty = fine)
# --------------------------------------------------------------------------------------


def iter_strings(node, path="$"):
    """(json path, string) for every string in a JSON document, keys excluded."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from iter_strings(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from iter_strings(value, f"{path}[{i}]")
    elif isinstance(node, str):
        yield path, node


def iter_gets(node, path="$"):
    """(json path, reference) for every ``{"Get": reference}`` in a definition."""
    if isinstance(node, dict):
        if set(node) == {"Get"}:
            yield path, node["Get"]
            return
        for key, value in node.items():
            yield from iter_gets(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from iter_gets(value, f"{path}[{i}]")


def all_steps(definition):
    """Every step, the ones nested in condition steps' IfSteps/ElseSteps included."""
    pending = list(definition.get("Steps", []))
    while pending:
        step = pending.pop(0)
        yield step
        arguments = step.get("Arguments", {}) if step.get("Type") == "Condition" else {}
        pending.extend(arguments.get("IfSteps", []) + arguments.get("ElseSteps", []))


def local_path_problems(definition, forbidden=()):
    """Strings that point at this machine: file:// URIs, absolute paths outside /opt/ml, the repo, LAB_HOME."""
    problems = []
    forbidden = [str(f) for f in forbidden if str(f) not in ("", "/")]
    for path, text in iter_strings(definition):
        if "file://" in text:
            problems.append(f"{path}: file:// URI {text!r}")
        elif text.startswith("/") and text != "/" and not (text == "/opt/ml" or text.startswith("/opt/ml/")):
            problems.append(f"{path}: local path {text!r}")
        elif any(f in text for f in forbidden):
            problems.append(f"{path}: names a folder of this machine {text!r}")
    return problems


def unresolved_get_problems(definition):
    """``Get`` references that name no parameter, execution variable, step or property file of that step."""
    parameters = {p["Name"] for p in definition.get("Parameters", [])}
    steps = {s["Name"]: s for s in all_steps(definition)}
    problems = []
    for path, ref in iter_gets(definition):
        kind, _, rest = str(ref).partition(".")
        if kind == "Parameters" and rest in parameters:
            continue
        if kind == "Execution" and rest in EXECUTION_VARIABLES:
            continue
        if kind == "Steps":
            step_name, _, attribute = rest.partition(".")
            step = steps.get(step_name)
            if step is not None and attribute:
                if not attribute.startswith("PropertyFiles."):
                    continue
                files = {f["PropertyFileName"] for f in step.get("PropertyFiles", [])}
                if attribute.split(".", 1)[1] in files:
                    continue
        problems.append(f"{path}: Get {ref!r} resolves to nothing in the definition")
    return problems


def referenced_scripts(definition):
    """(step, S3 URI, entrypoint script) for every processing step's "code" input."""
    scripts = []
    for step in all_steps(definition):
        arguments = step.get("Arguments", {})
        for item in arguments.get("ProcessingInputs", []):
            if item.get("InputName") == "code":
                entry = arguments.get("AppSpecification", {}).get("ContainerEntrypoint", [])
                scripts.append((step["Name"], item["S3Input"]["S3Uri"], entry[-1] if entry else None))
    return scripts


def script_upload_problems(definition, s3):
    """Scripts the definition runs that are not at the S3 URI it names (or that the entrypoint does not run)."""
    from botocore.exceptions import ClientError

    problems = []
    for step, uri, entry in referenced_scripts(definition):
        if not isinstance(uri, str) or not uri.startswith("s3://"):
            problems.append(f"{step}: code input is not an S3 URI: {uri!r}")
            continue
        bucket, _, key = uri[5:].partition("/")
        try:
            s3.head_object(Bucket=bucket, Key=key)
        except ClientError:
            problems.append(f"{step}: script {uri} was not uploaded")
        script = key.rsplit("/", 1)[-1]
        if entry != f"/opt/ml/processing/input/code/{script}":
            problems.append(f"{step}: the entrypoint {entry!r} does not run the uploaded {script}")
    for step in all_steps(definition):
        entry = step.get("Arguments", {}).get("AppSpecification", {}).get("ContainerEntrypoint", [])
        if entry and entry[-1].endswith(".py") and step["Name"] not in {s for s, _, _ in referenced_scripts(definition)}:
            problems.append(f"{step['Name']}: runs {entry[-1]} but has no code input")
    return problems


def image_region_problems(definition, region):
    """ECR image URIs that are not in ``region``."""
    return [f"{path}: image {text!r} is not in {region}" for path, text in iter_strings(definition)
            if ".dkr.ecr." in text and f".dkr.ecr.{region}." not in text]


def step_name(world, v2_name):
    """The name the world's SDK gives the step SDK v2 names ``v2_name`` (they differ for model steps)."""
    return sdk.v3_step_name(v2_name) if world["sdk"] == 3 else v2_name


def all_problems(definition, s3, region=REGION, forbidden=()):
    return (local_path_problems(definition, forbidden) + unresolved_get_problems(definition)
            + script_upload_problems(definition, s3) + image_region_problems(definition, region))


# --------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Remote mode in moto, once per module: fake credentials, eu-west-2, LAB_ROLE_ARN naming a role that
    exists in moto IAM, a remote session, and both pipelines with their definitions (built once: building
    them uploads the data and the scripts)."""
    from moto import mock_aws

    lab_home = tmp_path_factory.mktemp("lab-home")
    with pytest.MonkeyPatch.context() as mp:
        aws_emulator.use_fake_account(mp)
        mp.setenv("LAB_HOME", str(lab_home))
        mp.setenv("LAB_FORK_SERVER", "0")
        mp.setattr(config, "in_studio", lambda: False)
        aws_emulator.fill_gaps(mp)  # the answers moto lacks (delete a model package, list steps, ...)
        with mock_aws():
            import lab_helpers

            aws_emulator.create_execution_role()
            sess = lab_helpers.session("remote")
            assert lab_helpers.mode_of(sess) == "remote" and not hasattr(sess, "cloud")
            built = {which: builder(sess) for which, builder in BUILDERS.items()}
            yield {
                "sdk": 2,
                "sess": sess,
                "s3": sess.boto_session.client("s3", region_name=REGION),
                "lab_home": lab_home,
                "pipelines": built,
                "definitions": {which: json.loads(p.definition()) for which, p in built.items()},
            }


@pytest.fixture()
def remote_sess(world):
    return world["sess"]


@pytest.fixture()
def s3(world):
    return world["s3"]


# --------------------------------------------------------------------------------------
# the definitions
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", sorted(BUILDERS))
def test_definition_is_fit_for_sagemaker(world, s3, which):
    definition = world["definitions"][which]
    lab_home = world["lab_home"]
    assert local_path_problems(definition, forbidden=[ROOT, lab_home, config.lab_home()]) == []
    assert unresolved_get_problems(definition) == []
    assert script_upload_problems(definition, s3) == []
    assert image_region_problems(definition, REGION) == []
    # the checks looked at something: Gets, images, and (abalone) scripts
    assert len(list(iter_gets(definition))) >= 3
    assert any(f".dkr.ecr.{REGION}." in text for _, text in iter_strings(definition))
    if which == "abalone":
        scripts = {uri.rsplit("/", 1)[-1] for _, uri, _ in referenced_scripts(definition)}
        assert scripts == {"preprocess.py", "evaluate.py"}
        names = {s["Name"] for s in all_steps(definition)}
        assert {"AbaloneMSEFail", "AbaloneTransform", step_name(world, "AbaloneCreateModel-CreateModel")} <= names
        assert any(ref == "Steps.AbaloneEval.PropertyFiles.EvaluationReport" for _, ref in iter_gets(definition))
    # the role is the one from LAB_ROLE_ARN, and every S3 URI is in this account's bucket
    assert ROLE_ARN in json.dumps(definition)
    for _, text in iter_strings(definition):
        if text.startswith("s3://"):
            assert text.startswith(f"s3://{BUCKET}/"), text


def test_outline_data_is_where_the_definition_reads_it(world, s3):
    definition = world["definitions"]["outline"]
    channels = definition["Steps"][0]["Arguments"]["InputDataConfig"]
    for channel in channels:
        uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
        bucket, _, key = uri[5:].partition("/")
        assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] > 1000, uri


def test_data_upload_lands_at_the_returned_uris(remote_sess, s3):
    uris = data.upload_abalone(remote_sess)
    assert uris == data.data_uris(remote_sess)
    assert uris["input"] == f"s3://{BUCKET}/pipelines-lab/data/abalone.csv"
    bucket, _, key = uris["input"][5:].partition("/")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data.abalone_csv().read_bytes()
    bucket, _, key = uris["batch"][5:].partition("/")
    batch = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert batch == data.batch_features() and batch.count(b"\n") > 100
    # the abalone pipeline's parameters default to exactly these URIs
    definition = json.loads(pipelines.abalone_pipeline(remote_sess).definition())  # a fresh build
    defaults = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    assert defaults["InputData"] == uris["input"] and defaults["BatchData"] == uris["batch"]
    # idempotent: a second upload leaves the objects alone
    before = s3.head_object(Bucket=bucket, Key=key)["LastModified"]
    assert data.upload_abalone(remote_sess) == uris
    assert s3.head_object(Bucket=bucket, Key=key)["LastModified"] == before


# --------------------------------------------------------------------------------------
# the pipeline API in moto
# --------------------------------------------------------------------------------------


def record_pipeline_api(sm, pipeline, which):
    """Upsert ``pipeline`` twice and start it twice with the installed SDK, recording what SageMaker (``sm``, a
    boto3 client) answers at each point: a JSON-able record for :func:`assert_pipeline_api` (either SDK)."""

    def names():
        return [p["PipelineName"] for p in sm.list_pipelines()["PipelineSummaries"]]

    def described():
        found = sm.describe_pipeline(PipelineName=pipeline.name)
        return {"role": found["RoleArn"], "status": found["PipelineStatus"],
                "definition": json.loads(found["PipelineDefinition"]), "description": found.get("PipelineDescription")}

    def executions():
        return [e["PipelineExecutionArn"] for e in
                sm.list_pipeline_executions(PipelineName=pipeline.name)["PipelineExecutionSummaries"]]

    seen = {"name": pipeline.name, "before": names()}
    seen["created"] = pipeline.upsert(role_arn=ROLE_ARN, description="first")["PipelineArn"]
    seen["first"] = described()
    seen["updated"] = pipeline.upsert(role_arn=ROLE_ARN, description="second")["PipelineArn"]  # exists: updated
    seen["after"], seen["second"] = names(), described()
    seen["overrides"] = {"MseThreshold": 5.0} if which == "abalone" else {}
    execution = pipeline.start(parameters=seen["overrides"] or None)
    seen["execution"] = execution.arn
    seen["recorded"] = {p["Name"]: p["Value"] for p in sm.list_pipeline_parameters_for_execution(
        PipelineExecutionArn=execution.arn)["PipelineParameters"]}
    seen["executions"] = executions()
    seen["execution_pipeline"] = sm.describe_pipeline_execution(PipelineExecutionArn=execution.arn)["PipelineArn"]
    seen["second_run"] = pipeline.start().arn
    seen["all_executions"] = executions()
    return seen


def assert_pipeline_api(seen, definition):
    """What :func:`record_pipeline_api` recorded is what SageMaker answers for a pipeline with ``definition``."""
    name, overrides = seen["name"], seen["overrides"]
    assert name not in seen["before"]
    created = seen["created"]
    assert created == f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/{name}"
    assert seen["first"] == {"role": ROLE_ARN, "status": "Active", "definition": definition, "description": "first"}
    assert seen["updated"] == created
    assert seen["after"].count(name) == 1
    assert seen["second"] == dict(seen["first"], description="second")
    assert seen["execution"].startswith(created + "/execution/")
    # every parameter with the value this execution used: the override, else the default
    expected = {p["Name"]: str(overrides.get(p["Name"], p.get("DefaultValue"))) for p in definition["Parameters"]}
    assert seen["recorded"] == expected
    if overrides:
        assert expected["MseThreshold"] == "5.0"
    assert seen["executions"] == [seen["execution"]]
    assert seen["execution_pipeline"] == created
    assert set(seen["all_executions"]) == {seen["execution"], seen["second_run"]}


@pytest.mark.parametrize("which", sorted(BUILDERS))
def test_upsert_describe_start_and_list_executions(world, which):
    seen = record_pipeline_api(world["sess"].sagemaker_client, world["pipelines"][which], which)
    assert_pipeline_api(seen, world["definitions"][which])


# --------------------------------------------------------------------------------------
# the checks fail when they should
# --------------------------------------------------------------------------------------


@pytest.fixture()
def abalone_definition(world, s3):
    definition = copy.deepcopy(world["definitions"]["abalone"])
    assert all_problems(definition, s3, forbidden=[ROOT]) == []  # the control: clean before corruption
    return definition


def test_a_file_uri_or_local_path_is_caught(abalone_definition, s3, world):
    lab_home = world["lab_home"]
    corrupt = copy.deepcopy(abalone_definition)
    code = [i for i in corrupt["Steps"][0]["Arguments"]["ProcessingInputs"] if i["InputName"] == "code"][0]
    code["S3Input"]["S3Uri"] = (ROOT / "lab_helpers" / "steps" / "preprocess.py").as_uri()
    assert any("file://" in p for p in local_path_problems(corrupt))
    assert script_upload_problems(corrupt, s3)  # not an S3 URI either

    corrupt = copy.deepcopy(abalone_definition)
    corrupt["Parameters"][3]["DefaultValue"] = str(ROOT / "data" / "abalone.csv")
    assert any("local path" in p for p in local_path_problems(corrupt, forbidden=[ROOT]))

    corrupt = copy.deepcopy(abalone_definition)
    corrupt["Parameters"][3]["DefaultValue"] = f"s3://{BUCKET}/x/{lab_home}/abalone.csv"
    assert any("names a folder" in p for p in local_path_problems(corrupt, forbidden=[lab_home]))
    # container paths are fine
    assert local_path_problems({"a": "/opt/ml/processing/input"}) == []


def test_a_removed_script_upload_is_caught(abalone_definition, s3):
    _, uri, _ = referenced_scripts(abalone_definition)[0]
    bucket, _, key = uri[5:].partition("/")
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.delete_object(Bucket=bucket, Key=key)
    try:
        problems = script_upload_problems(abalone_definition, s3)
    finally:
        s3.put_object(Bucket=bucket, Key=key, Body=body)  # the module's other tests share this S3
    assert problems == [f"AbaloneProcess: script {uri} was not uploaded"]
    assert script_upload_problems(abalone_definition, s3) == []


def test_a_script_run_without_a_code_input_is_caught(abalone_definition, s3):
    corrupt = copy.deepcopy(abalone_definition)
    arguments = corrupt["Steps"][2]["Arguments"]
    arguments["ProcessingInputs"] = [i for i in arguments["ProcessingInputs"] if i["InputName"] != "code"]
    assert script_upload_problems(corrupt, s3) == ["AbaloneEval: runs /opt/ml/processing/input/code/evaluate.py "
                                                   "but has no code input"]


def test_dangling_gets_are_caught(abalone_definition, world):
    corrupt = copy.deepcopy(abalone_definition)
    corrupt["Parameters"] = [p for p in corrupt["Parameters"] if p["Name"] != "MseThreshold"]
    assert any("Parameters.MseThreshold" in p for p in unresolved_get_problems(corrupt))

    corrupt = copy.deepcopy(abalone_definition)
    corrupt["Steps"][2]["PropertyFiles"] = []
    assert any("PropertyFiles.EvaluationReport" in p for p in unresolved_get_problems(corrupt))

    corrupt = copy.deepcopy(abalone_definition)
    cond = corrupt["Steps"][3]["Arguments"]
    create_model = step_name(world, "AbaloneCreateModel-CreateModel")  # nested in the condition
    cond["IfSteps"] = [s for s in cond["IfSteps"] if s["Name"] != create_model]
    assert any(f"Steps.{create_model}." in p for p in unresolved_get_problems(corrupt))

    assert unresolved_get_problems({"Steps": [], "X": {"Get": "Execution.NoSuchVariable"}})


def test_an_image_from_another_region_is_caught(abalone_definition):
    corrupt = copy.deepcopy(abalone_definition)
    spec = corrupt["Steps"][1]["Arguments"]["AlgorithmSpecification"]
    spec["TrainingImage"] = spec["TrainingImage"].replace(f".{REGION}.", ".us-east-1.")
    assert image_region_problems(corrupt, REGION) == [
        f"$.Steps[1].Arguments.AlgorithmSpecification.TrainingImage: image {spec['TrainingImage']!r} "
        f"is not in {REGION}"]


# --------------------------------------------------------------------------------------
# the model registry, as notebooks 05 and 07 read it back
# --------------------------------------------------------------------------------------


#: The registration the lesson makes (notebook 05), as both SDKs' register() take it.
REGISTRATION = dict(content_types=["text/csv"], response_types=["text/csv"], inference_instances=["ml.t2.medium"],
                    transform_instances=["ml.m5.large"], approval_status="PendingManualApproval")


def register_v2(sess, group, model_data, report_uri):
    """One model version registered with SDK v2's ``Model.register()`` (a plain session: it calls the API)."""
    import sagemaker
    from sagemaker.model import Model
    from sagemaker.model_metrics import MetricsSource, ModelMetrics

    plain = sagemaker.Session(boto_session=sess.boto_session, default_bucket=BUCKET)
    image = sagemaker.image_uris.retrieve("xgboost", REGION, version="1.7-1")
    model = Model(image_uri=image, model_data=model_data, role=ROLE_ARN, sagemaker_session=plain)
    metrics = ModelMetrics(model_statistics=MetricsSource(s3_uri=report_uri, content_type="application/json"))
    model.register(model_package_group_name=group, model_metrics=metrics, **REGISTRATION)


def register_v3(sess, group, model_data, report_uri):
    """One model version registered with SDK v3's ``ModelBuilder.register()`` (a plain session: it calls the API)."""
    from sagemaker.core import image_uris
    from sagemaker.core.helper.session_helper import Session
    from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.serve.model_builder import ModelBuilder

    plain = Session(boto_session=sess.boto_session, default_bucket=BUCKET)
    image = image_uris.retrieve(framework="xgboost", region=REGION, version="1.7-1")
    builder = ModelBuilder(image_uri=image, s3_model_data_url=model_data, role_arn=ROLE_ARN, sagemaker_session=plain)
    metrics = ModelMetrics(model_statistics=MetricsSource(s3_uri=report_uri, content_type="application/json"))
    builder.register(model_package_group_name=group, model_metrics=metrics, **REGISTRATION)


def record_registry(sess, s3):
    """Two versions registered with the installed SDK's register() (no pipeline: moto runs no steps), then read,
    filtered, approved and rejected with the calls the notebooks make, and removed by the kit's clean-up: a
    JSON-able record for :func:`assert_registry`."""
    from lab_helpers import cleanup, monitor, sdk

    group, prefix = "AbaloneModelPackageGroup", "pipelines-lab/registry-test/"
    report_key = prefix + "evaluation.json"
    s3.put_object(Bucket=BUCKET, Key=report_key,
                  Body=json.dumps({"regression_metrics": {"mse": {"value": 4.17, "standard_deviation": 2.0}}}))
    register = register_v3 if sdk.is_v3() else register_v2
    for _ in range(2):
        register(sess, group, f"s3://{BUCKET}/{prefix}model.tar.gz", f"s3://{BUCKET}/{report_key}")

    registry = monitor.registry_table(sess, group)
    seen = {"versions": [int(v) for v in registry["version"]], "approvals": sorted(set(registry["approval"])),
            "mse": [float(m) for m in registry["mse"]], "arns": list(registry["arn"])}
    newest, oldest = seen["arns"]
    seen["approved"] = monitor.approve(sess, newest, description="reviewed")
    seen["rejected"] = monitor.reject(sess, oldest)
    seen["description"] = monitor.registry_table(sess, group).set_index("version").loc[2, "description"]
    seen["listed_rejected"] = [p["ModelPackageArn"] for p in sess.sagemaker_client.list_model_packages(  # notebook 05
        ModelPackageGroupName=group, ModelApprovalStatus="Rejected")["ModelPackageSummaryList"]]
    found = cleanup.inventory(sess, pipelines=[], groups=[group], s3_prefix=prefix)
    seen["found_groups"] = [g["name"] for g in found["model_package_groups"]]
    seen["found_packages"] = len(found["model_packages"])
    seen["cleanup_errors"] = cleanup.cleanup(sess, dry_run=False, pipelines=[], groups=[group], s3_prefix=prefix)["errors"]
    seen["registry_after"] = len(monitor.registry_table(sess, group))
    seen["objects_after"] = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["KeyCount"]
    return seen


def assert_registry(seen):
    """What :func:`record_registry` recorded is what the notebooks should see."""
    assert seen["versions"] == [2, 1]  # newest first
    assert seen["approvals"] == ["PendingManualApproval"]
    assert seen["mse"] == [pytest.approx(4.17)] * 2  # read from the report the version points to
    newest, oldest = seen["arns"]
    assert seen["approved"] == "Approved" and seen["rejected"] == "Rejected"
    assert seen["description"] == "reviewed"
    assert seen["listed_rejected"] == [oldest]
    assert seen["found_groups"] == ["AbaloneModelPackageGroup"] and seen["found_packages"] == 2
    assert not seen["cleanup_errors"]
    assert seen["registry_after"] == 0 and seen["objects_after"] == 0


def test_registry_read_back_approval_and_cleanup(world, s3):
    assert_registry(record_registry(world["sess"], s3))


def test_sdk_lookups_with_their_own_endpoints_land_in_the_emulator(world, monkeypatch):
    """The SDK asks STS through an endpoint it builds itself (not AWS_ENDPOINT_URL); in-process moto answers
    whatever the endpoint, and nothing leaves the machine."""
    from sagemaker.session import sts_regional_endpoint

    from conftest import refuse_network

    sess = world["sess"]
    attempts = refuse_network(monkeypatch)
    sts = sess.boto_session.client("sts", region_name=REGION, endpoint_url=sts_regional_endpoint(REGION))
    assert sts.meta.endpoint_url == f"https://sts.{REGION}.amazonaws.com"
    assert sts.get_caller_identity()["Account"] == ACCOUNT
    assert sess.account_id() == ACCOUNT
    assert sess.default_bucket() == BUCKET
    assert attempts == []
