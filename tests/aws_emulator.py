"""Remote mode with no AWS: an in-process AWS API emulator (moto) inside another Python process.

``tests/test_notebooks_remote.py`` runs the solution notebooks with ``MODE=remote`` in a kernel that
starts here, and ``tests/test_preflight.py`` runs ``python -m lab_helpers check`` the same way.  The
emulator is moto's ``mock_aws``, started in that process itself before any of its code runs: it answers
every botocore call in the process whatever endpoint the call names, so the SDK's look-ups that bypass
``AWS_ENDPOINT_URL`` (its regional STS calls, for one) land in it too - there is no endpoint to
configure and nothing to leak.  As a second guard, Python sockets in the process may only connect to
this machine: any other connection fails, is written to the file in ``LAB_EMULATOR_LOG``, and the
tests fail on it.

The process gets a fake account: fake credentials, a region other than us-east-1, and (unless the test
wants it missing) ``LAB_ROLE_ARN`` naming a SageMaker execution role that exists in the emulator's IAM.

How it gets in: :func:`emulator_env` returns an environment whose ``PYTHONPATH`` starts with a folder
holding a ``sitecustomize.py`` that imports this module and calls :func:`start`; Python imports
``sitecustomize`` at start-up, before the kernel or the CLI runs.  Nothing happens without
``LAB_EMULATE_AWS=1``.

A process whose environment has no moto (the SDK v3 environment) uses the emulator as a server instead:
the test process runs moto's server on this machine (:func:`serve`) and ``emulator_env(..., endpoint=)``
points the other process at it.  There :func:`start` sends every botocore client to that endpoint, whatever
endpoint the client was made for (as in-process moto answers whatever endpoint a call names), keeps the
guard, and writes each call (service, operation, HTTP status, the endpoint the caller asked for) as a JSON
line to ``LAB_EMULATOR_CALLS``, so that a test can see which calls the SDK made and that the emulator
answered each.

Where moto lacks an answer the notebooks need in every run, :func:`fill_gaps` gives the one SageMaker
gives for what moto models (an execution that ran no step); everything else is moto's own.
"""

import json
import logging
import os
import socket
from pathlib import Path

REGION = "eu-west-2"
ACCOUNT = "123456789012"  # moto's default account
ROLE_NAME = "LabSageMakerExecutionRole"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"

#: Anything that could point a process at a real account (or a role, a bucket, a region of its own).
REAL_AWS_VARS = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
                 "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "LAB_REGION", "LAB_BUCKET",
                 "LAB_ROLE_ARN", "SAGEMAKER_INTERNAL_IMAGE_URI")


def fake_account_env(role=True):
    """The fake account's variables: credentials, region, no config files, no instance metadata, and
    ``LAB_ROLE_ARN`` naming the emulator's execution role (``role=False``: a learner who has not set it)."""
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
           "AWS_EC2_METADATA_DISABLED": "true"}
    if role:
        env["LAB_ROLE_ARN"] = ROLE_ARN
    return env


def use_fake_account(patch, role=True):
    """Put this process in the fake account (``patch``: a ``pytest.MonkeyPatch``); start moto yourself."""
    for var in REAL_AWS_VARS:
        patch.delenv(var, raising=False)
    for var, value in fake_account_env(role).items():
        patch.setenv(var, value)


def create_execution_role(endpoint_url=None):
    """The SageMaker execution role ``LAB_ROLE_ARN`` names, in the emulator's IAM (moto must be running, in this
    process or as the server at ``endpoint_url``)."""
    import boto3

    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                      "Principal": {"Service": "sagemaker.amazonaws.com"}}]}
    iam = boto3.client("iam", region_name=REGION, endpoint_url=endpoint_url)
    iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))


_SITECUSTOMIZE = """\
# Written by tests/aws_emulator.py: start the AWS emulator in this Python process (LAB_EMULATE_AWS=1).
import sys
sys.path.insert(0, {tests!r})
import aws_emulator
aws_emulator.start()
"""

_started = None


def emulator_env(base_env, folder, log_file, role=True, endpoint=None, calls_file=None):
    """Environment for a Python process (a notebook kernel, the CLI) that runs against the emulator.

    ``folder`` receives the ``sitecustomize.py``; ``log_file`` the connections the guard refused;
    ``role=False`` leaves ``LAB_ROLE_ARN`` unset (a learner who has not set it).  ``endpoint``: the URL of
    the emulator's server (:func:`serve`) for a process that has no moto of its own; ``calls_file`` then
    receives the AWS calls the process made.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(_SITECUSTOMIZE.format(tests=str(Path(__file__).resolve().parent)))
    env = {k: v for k, v in base_env.items() if k not in REAL_AWS_VARS}
    env.update(fake_account_env(role))
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(folder), base_env.get("PYTHONPATH")])),
        LAB_EMULATE_AWS="1",
        LAB_EMULATOR_LOG=str(log_file),
        LAB_MODE="remote",
        SAGEMAKER_SUPPRESS_V2_WARNING="1",
    )
    if endpoint:
        env.update(LAB_EMULATOR_ENDPOINT=endpoint, AWS_ENDPOINT_URL=endpoint)
        if calls_file:
            env["LAB_EMULATOR_CALLS"] = str(calls_file)
    return env


def start():
    """Start moto in this process, create the execution role, and refuse connections off this machine.

    With ``LAB_EMULATOR_ENDPOINT`` set, moto runs as a server elsewhere (:func:`serve`, which made the role):
    this process's AWS clients are sent there instead.
    """
    global _started
    if _started is not None or os.environ.get("LAB_EMULATE_AWS") != "1":
        return _started
    if os.environ.get("LAB_EMULATOR_ENDPOINT"):
        _started = _use_server(os.environ["LAB_EMULATOR_ENDPOINT"], os.environ.get("LAB_EMULATOR_CALLS"))
        _refuse_off_machine(os.environ.get("LAB_EMULATOR_LOG"))
        return _started
    from moto import mock_aws

    fill_gaps()
    _started = mock_aws()
    _started.start()
    create_execution_role()
    _refuse_off_machine(os.environ.get("LAB_EMULATOR_LOG"))
    # moto runs a Lambda function (when a message reaches its queue) in Docker, which is not here: it logs
    # an error and the function does not run - the one link of notebook 08 that needs real AWS.
    logging.getLogger("moto.awslambda.models").setLevel(logging.CRITICAL)
    return _started


def serve(patch=None):
    """Run the emulator as a server on this machine, in a thread of this process: ``(server, endpoint URL)``.

    For processes that cannot import moto (see :func:`emulator_env`'s ``endpoint``).  The server starts from an
    empty account and answers as :func:`fill_gaps` makes moto answer (``patch``: as there); the execution role
    is created.  Stop it with ``server.stop()``.
    """
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        raise RuntimeError(f"moto's server needs flask and flask-cors (the kit's test extra: "
                           f"pip install -e '.[test]'): {exc}") from exc

    fill_gaps(patch)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # not a line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    _reset(endpoint)
    create_execution_role(endpoint)
    return server, endpoint


def _reset(endpoint):
    """Empty the emulator's account (moto's own reset call)."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=30).read()


def _use_server(endpoint, calls_file=None):
    """Send every botocore client of this process to the emulator's server at ``endpoint`` (recording each call)."""
    import inspect

    import botocore.session

    create = botocore.session.Session.create_client
    signature = inspect.signature(create)

    def create_client(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        asked = bound.arguments.get("endpoint_url")
        bound.arguments["endpoint_url"] = endpoint
        client = create(*bound.args, **bound.kwargs)
        if calls_file:
            service = client.meta.service_model.service_name

            def record(event_name, http_response=None, exception=None, **_):
                call = {"service": service, "operation": event_name.rsplit(".", 1)[-1], "asked": asked,
                        "url": client.meta.endpoint_url, "status": getattr(http_response, "status_code", None)}
                if exception is not None:
                    call["error"] = repr(exception)
                with open(calls_file, "a") as out:
                    out.write(json.dumps(call) + "\n")

            client.meta.events.register("after-call", record)
            client.meta.events.register("after-call-error", record)
        return client

    botocore.session.Session.create_client = create_client
    return endpoint


def calls(calls_file):
    """The AWS calls a process made through the emulator's server (see :func:`emulator_env`), as dicts."""
    path = Path(calls_file)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def fill_gaps(patch=None):
    """Answers moto (5.2) lacks or gives differently, in the shape SageMaker gives them.

    * An execution in moto is ``Succeeded`` at once and runs no step, so ``ListPipelineExecutionSteps``
      answers with an empty step list (for an execution that exists; else moto's ValidationException).
    * The emulated account has no Studio domain, so ``ListApps`` answers with no apps.
    * SageMaker names an execution started without ``PipelineExecutionDisplayName``
      ``execution-<milliseconds since the epoch>``; moto leaves the name out.
    * ``ListPipelineParametersForExecution`` lists every parameter of the pipeline with the value the
      execution used (its default unless the start overrode it); moto lists only the overrides.
    * ``DeleteModelPackage`` and ``DeleteModelPackageGroup`` (a group that still holds versions is
      refused), which moto does not implement; a name that does not exist is a ValidationException
      saying it "does not exist", as in SageMaker.

    ``patch``: a ``pytest.MonkeyPatch`` to set them with (undone with it); without one they stay for the
    life of the process (the notebook kernel).
    """
    import time

    import moto

    if not moto.__version__.startswith("5.2."):
        raise RuntimeError(f"tests/aws_emulator.py fills the gaps of moto 5.2 and patches its internals; moto "
                           f"{moto.__version__} is installed: pip install 'moto>=5.2,<5.3' (or update fill_gaps)")
    from moto.core.responses import ActionResult, EmptyResult
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker import models, responses
    from moto.sagemaker.utils import get_pipeline_execution_from_arn

    def list_pipeline_execution_steps(self):
        get_pipeline_execution_from_arn(self.sagemaker_backend.pipelines, self._get_param("PipelineExecutionArn"))
        return ActionResult({"PipelineExecutionSteps": []})

    def list_apps(self):
        return ActionResult({"Apps": []})

    init = models.FakePipelineExecution.__init__

    def sagemaker_init(self, pipeline_execution_arn, pipeline_execution_display_name, pipeline_parameters,
                       *args, **kwargs):
        name = pipeline_execution_display_name or f"execution-{int(time.time() * 1000)}"
        init(self, pipeline_execution_arn, name, pipeline_parameters, *args, **kwargs)
        # every parameter of the definition, with its default unless the start overrode it
        declared = json.loads(self.pipeline_definition_for_execution or "{}").get("Parameters", [])
        overrides = {p["Name"]: p["Value"] for p in pipeline_parameters or []}
        self.pipeline_parameters = [{"Name": p["Name"], "Value": str(overrides.get(p["Name"], p.get("DefaultValue")))}
                                    for p in declared if p["Name"] in overrides or "DefaultValue" in p]

    def delete_model_package(self):
        backend, name = self.sagemaker_backend, self._get_param("ModelPackageName")
        arn = backend.model_package_name_mapping.get(name, name)
        package = backend.model_packages.pop(arn, None)
        if package is None:
            raise ValidationError(f"ModelPackage {name} does not exist.")
        for key in [k for k, v in backend.model_package_name_mapping.items() if v == arn]:
            del backend.model_package_name_mapping[key]
        return EmptyResult()

    def delete_model_package_group(self):
        backend, name = self.sagemaker_backend, self._get_param("ModelPackageGroupName")
        if name not in backend.model_package_groups:
            raise ValidationError(f"ModelPackageGroup {name} does not exist.")
        if any(p.model_package_group_name == name for p in backend.model_packages.values()):
            raise ValidationError(f"ModelPackageGroup {name} still has model packages; delete them first.")
        del backend.model_package_groups[name]
        return EmptyResult()

    def setattr_(owner, name, value):
        if patch is not None:
            patch.setattr(owner, name, value, raising=False)
        else:
            setattr(owner, name, value)
    for name, method in [("delete_model_package", delete_model_package),
                         ("delete_model_package_group", delete_model_package_group),
                         ("list_pipeline_execution_steps", list_pipeline_execution_steps),
                         ("list_apps", list_apps)]:
        setattr_(responses.SageMakerResponse, name, method)
    if not getattr(init, "fills_gaps", False):
        sagemaker_init.fills_gaps = True
        setattr_(models.FakePipelineExecution, "__init__", sagemaker_init)


_LOOPBACK = {"localhost", "127.0.0.1", "::1", "", None}


def _is_loopback(host):
    return host in _LOOPBACK or (isinstance(host, str) and host.startswith("127."))


def _refuse_off_machine(log_file):
    """Python sockets may connect to this machine only; anything else raises and is logged."""

    def record(what, target):
        if log_file:
            with open(log_file, "a") as out:
                out.write(f"{what} {target!r}\n")
        raise OSError(f"the AWS emulator test allows no network: {what} {target!r}")

    connect, connect_ex, getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    def guarded_connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            record("connect", address)
        return connect(self, address)

    def guarded_connect_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            record("connect", address)
        return connect_ex(self, address)

    def guarded_getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if not _is_loopback(name):
            record("getaddrinfo", name)
        return getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = guarded_connect
    socket.socket.connect_ex = guarded_connect_ex
    socket.getaddrinfo = guarded_getaddrinfo



def inventory():
    """What exists in the emulated account now, by kind (names and S3 URIs), for the tests to check."""
    import boto3

    def each(client, method, key, field=None, **kwargs):
        items = []
        for page in client.get_paginator(method).paginate(**kwargs):
            items.extend(item[field] if field else item for item in page.get(key, []))
        return items

    sm = boto3.client("sagemaker", region_name=REGION)
    s3 = boto3.client("s3", region_name=REGION)
    objects = []
    for bucket in s3.list_buckets()["Buckets"]:
        objects.extend(f"s3://{bucket['Name']}/{key}" for key in
                       each(s3, "list_objects_v2", "Contents", "Key", Bucket=bucket["Name"]))
    return {
        "pipelines": each(sm, "list_pipelines", "PipelineSummaries", "PipelineName"),
        "models": each(sm, "list_models", "Models", "ModelName"),
        "model_package_groups": each(sm, "list_model_package_groups", "ModelPackageGroupSummaryList",
                                     "ModelPackageGroupName"),
        "s3_objects": objects,
        "lambda_functions": each(boto3.client("lambda", region_name=REGION), "list_functions", "Functions",
                                 "FunctionName"),
        "sqs_queues": boto3.client("sqs", region_name=REGION).list_queues().get("QueueUrls", []),
        "sns_topics": each(boto3.client("sns", region_name=REGION), "list_topics", "Topics", "TopicArn"),
        "event_rules": each(boto3.client("events", region_name=REGION), "list_rules", "Rules", "Name"),
        "iam_roles": [name for name in each(boto3.client("iam"), "list_roles", "Roles", "RoleName")
                      if name != ROLE_NAME],
    }


def inventory_json():
    return json.dumps(inventory(), sort_keys=True)
