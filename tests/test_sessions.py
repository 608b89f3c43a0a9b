"""Sessions: choosing the mode, the offline session, and remote mode's set-up errors."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import refuse_network

import lab_helpers
from lab_helpers import config, sessions

V2_BANNER = "You are using the SageMaker Python SDK v2"
REGION_VARS = ("LAB_REGION", "AWS_REGION", "AWS_DEFAULT_REGION")
CREDENTIAL_VARS = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                   "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                   "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN")


@pytest.fixture(autouse=True)
def _no_fork_server(monkeypatch):
    """These tests run no job: don't start a fork server (it imports numpy, pandas, xgboost) per session."""
    monkeypatch.setenv("LAB_FORK_SERVER", "0")


@pytest.fixture()
def no_network(monkeypatch):
    """Refuse (and record) every attempt to open a connection or resolve a host name.

    The SDK is imported first: what its import does without credentials is checked on its
    own, in a fresh interpreter (test_importing_the_sdk_through_a_local_session_...).
    """
    import sagemaker  # noqa: F401

    return refuse_network(monkeypatch)


@pytest.fixture()
def bare_aws_env(monkeypatch):
    """No AWS credentials, profile, region or config file anywhere in reach."""
    for var in CREDENTIAL_VARS + REGION_VARS + ("LAB_ROLE_ARN", "LAB_BUCKET"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setattr(config, "in_studio", lambda: False)


@pytest.fixture()
def moto_account(bare_aws_env, monkeypatch):
    """Fake credentials and a region, with every AWS call answered by moto."""
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    with mock_aws():
        yield


# --------------------------------------------------------------------------------------
# resolve_mode: argument > LAB_MODE > Studio detection
# --------------------------------------------------------------------------------------


def test_mode_argument_wins_over_lab_mode(monkeypatch):
    monkeypatch.setenv("LAB_MODE", "local")
    assert lab_helpers.resolve_mode("remote") == "remote"
    monkeypatch.setenv("LAB_MODE", "remote")
    assert lab_helpers.resolve_mode("local") == "local"
    monkeypatch.setenv("LAB_MODE", "not-a-mode")  # ignored when the argument decides
    assert lab_helpers.resolve_mode("local") == "local"


def test_lab_mode_wins_over_studio_detection(monkeypatch):
    monkeypatch.setattr(config, "in_studio", lambda: True)
    monkeypatch.setenv("LAB_MODE", "local")
    assert config.resolve_mode() == "local"
    monkeypatch.setenv("LAB_MODE", " Remote ")
    assert config.resolve_mode() == "remote"


def test_without_argument_or_lab_mode_studio_decides(monkeypatch):
    monkeypatch.delenv("LAB_MODE", raising=False)
    monkeypatch.setattr(config, "in_studio", lambda: True)
    assert config.resolve_mode() == "remote"
    monkeypatch.setattr(config, "in_studio", lambda: False)
    assert config.resolve_mode() == "local"


def test_studio_is_detected_by_its_metadata_file(monkeypatch):
    real_exists = os.path.exists
    metadata = "/opt/ml/metadata/resource-metadata.json"
    monkeypatch.setattr(os.path, "exists", lambda p: p == metadata or (p != metadata and real_exists(p)))
    assert config.in_studio() is True
    monkeypatch.setattr(os.path, "exists", lambda p: False if p == metadata else real_exists(p))
    assert config.in_studio() is False


def test_bad_lab_mode_names_the_variable_and_the_fix(monkeypatch):
    monkeypatch.setenv("LAB_MODE", "docker")
    with pytest.raises(ValueError) as caught:
        config.resolve_mode()
    message = str(caught.value)
    assert "LAB_MODE" in message and "'docker'" in message
    assert "'local'" in message and "'remote'" in message
    assert "export LAB_MODE=local" in message


def test_bad_mode_argument_is_named_as_the_argument(monkeypatch):
    monkeypatch.setenv("LAB_MODE", "local")
    with pytest.raises(ValueError) as caught:
        lab_helpers.session("cloud")
    assert "mode argument" in str(caught.value) and "'cloud'" in str(caught.value)


# --------------------------------------------------------------------------------------
# local mode: no credentials, no network
# --------------------------------------------------------------------------------------


def test_local_session_needs_no_credentials_and_makes_no_network_call(lab_home, bare_aws_env, no_network,
                                                                        tmp_path):
    from sagemaker.workflow.pipeline_context import PipelineSession

    sess = lab_helpers.session("local")
    assert isinstance(sess, PipelineSession)
    assert lab_helpers.mode_of(sess) == "local"
    assert sess.boto_region_name == "us-east-1"
    assert sess.default_bucket() == "sagemaker-us-east-1-000000000000"
    assert sess.account_id() == "000000000000"
    assert lab_helpers.execution_role(sess).startswith("arn:aws:iam::000000000000:role/")
    source = tmp_path / "hello.csv"
    source.write_text("1,2,3\n")
    uri = sess.upload_data(str(source), key_prefix="sessions-test")
    assert uri == "s3://sagemaker-us-east-1-000000000000/sessions-test/hello.csv"
    assert (lab_home / "s3" / "sagemaker-us-east-1-000000000000" / "sessions-test" / "hello.csv").read_text() \
        == "1,2,3\n"
    assert sess.sagemaker_client.list_pipelines()["PipelineSummaries"] == []
    assert no_network == [], no_network


FRESH_LOCAL_SESSION = """
import json, socket, sys
attempts = []
def refuse(name):
    def stand_in(*args, **kwargs):
        attempts.append([name, repr(args[:2])])
        raise OSError("network access refused by the test")
    return stand_in
socket.socket.connect = refuse("socket.connect")
socket.socket.connect_ex = refuse("socket.connect_ex")
socket.create_connection = refuse("socket.create_connection")
socket.getaddrinfo = refuse("socket.getaddrinfo")
import lab_helpers
sess = lab_helpers.session("local")
bucket = sess.default_bucket()
sess.sagemaker_client.list_pipelines()
print(json.dumps({"bucket": bucket, "attempts": attempts}))
"""


def test_importing_the_sdk_through_a_local_session_makes_no_network_call(python_env):
    env = {k: v for k, v in python_env.items()
           if k not in CREDENTIAL_VARS + REGION_VARS + ("AWS_EC2_METADATA_DISABLED",)}
    env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    run = subprocess.run([sys.executable, "-c", FRESH_LOCAL_SESSION], env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["bucket"] == "sagemaker-us-east-1-000000000000"
    assert result["attempts"] == []


def test_local_session_respects_lab_region(lab_home, bare_aws_env, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    monkeypatch.setenv("LAB_REGION", "eu-west-2")  # LAB_REGION wins over AWS_REGION
    sess = lab_helpers.session("local")
    assert sess.boto_region_name == "eu-west-2"
    assert sess.sagemaker_client.meta.region_name == "eu-west-2"
    assert sess.default_bucket() == "sagemaker-eu-west-2-000000000000"
    monkeypatch.delenv("LAB_REGION")
    assert lab_helpers.session("local").default_bucket() == "sagemaker-us-west-2-000000000000"


def test_v2_deprecation_banner_is_not_printed_in_local_mode(python_env):
    env = dict(python_env)
    env.pop("SAGEMAKER_SUPPRESS_V2_WARNING", None)
    # Control: this is the banner the installed SDK prints, so its absence below means something.
    import importlib.util

    sdk_dir = Path(importlib.util.find_spec("sagemaker").origin).parent
    assert V2_BANNER in (sdk_dir / "deprecations.py").read_text(), "the SDK no longer prints this banner"
    run = subprocess.run([sys.executable, "-c", "import lab_helpers; lab_helpers.session('local')"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert V2_BANNER not in run.stderr + run.stdout, run.stderr


# --------------------------------------------------------------------------------------
# remote mode: every missing piece is a LabSetupError that says how to fix it
# --------------------------------------------------------------------------------------


def test_remote_without_region_says_how_to_set_one(bare_aws_env, no_network):
    with pytest.raises(lab_helpers.LabSetupError) as caught:
        lab_helpers.session("remote")
    assert "region" in str(caught.value).lower()
    assert "export AWS_DEFAULT_REGION=" in str(caught.value)
    assert no_network == []


def test_remote_region_advice_is_what_boto3_reads(bare_aws_env, monkeypatch):
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(lab_helpers.LabSetupError) as caught:
        lab_helpers.session("remote")
    advice = re.search(r"export (\w+)=([\w-]+)", str(caught.value))
    assert advice, str(caught.value)
    monkeypatch.setenv(advice.group(1), advice.group(2))  # do what the message says
    with pytest.raises(lab_helpers.LabSetupError) as caught:
        lab_helpers.session("remote")
    assert "No AWS region" not in str(caught.value)
    assert "credentials" in str(caught.value)  # on to the next missing piece


def test_remote_without_credentials_says_how_to_get_them(bare_aws_env, no_network, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # else botocore asks the instance metadata service
    with pytest.raises(lab_helpers.LabSetupError) as caught:
        lab_helpers.session("remote")
    message = str(caught.value)
    assert "credentials" in message and "aws configure" in message
    assert "LAB_MODE=local" in message
    assert no_network == []


def test_remote_without_role_outside_studio_asks_for_lab_role_arn(moto_account, no_network):
    with pytest.raises(lab_helpers.LabSetupError) as caught:
        lab_helpers.session("remote")
    message = str(caught.value)
    assert "LAB_ROLE_ARN" in message
    assert "export LAB_ROLE_ARN=arn:aws:iam::" in message
    assert no_network == []


def test_remote_in_studio_with_a_non_role_identity_explains(moto_account, monkeypatch):
    monkeypatch.setattr(config, "in_studio", lambda: True)
    with pytest.raises(lab_helpers.LabSetupError) as caught:
        lab_helpers.session("remote")
    message = str(caught.value)
    assert "LAB_ROLE_ARN" in message and "not a role" in message


@pytest.mark.parametrize("value", ["arn:aws:iam::123456789012:user/alice", "AmazonSageMaker-ExecutionRole"])
def test_lab_role_arn_that_is_not_a_role_arn_is_rejected(moto_account, monkeypatch, value):
    monkeypatch.setenv("LAB_ROLE_ARN", value)
    with pytest.raises(lab_helpers.LabSetupError) as caught:
        lab_helpers.session("remote")
    assert repr(value) in str(caught.value) and "not an IAM role ARN" in str(caught.value)


def test_lab_role_arn_and_lab_bucket_are_used_in_remote_mode(moto_account, monkeypatch, no_network):
    role = "arn:aws:iam::123456789012:role/LabSageMakerRole"
    monkeypatch.setenv("LAB_ROLE_ARN", role)
    monkeypatch.setenv("LAB_BUCKET", "my-lab-bucket")
    sess = lab_helpers.session("remote")
    assert lab_helpers.mode_of(sess) == "remote"
    assert sess.boto_region_name == "eu-west-2"
    assert lab_helpers.execution_role(sess) == role
    assert sess.default_bucket() == "my-lab-bucket"
    assert not hasattr(sess, "cloud")  # a real PipelineSession, not the local one
    assert no_network == []
    assert sessions.mode_of(sess) == "remote"


def test_notebook_tables_show_whole_cells(monkeypatch):
    """In a notebook, pandas shows whole S3 URIs and failure reasons; outside one, the option is left alone."""
    import IPython
    import pandas as pd

    from lab_helpers import sessions

    with pd.option_context("display.max_colwidth", 50):
        monkeypatch.setattr(IPython, "get_ipython", lambda: None)
        sessions._show_whole_cells()
        assert pd.get_option("display.max_colwidth") == 50
        monkeypatch.setattr(IPython, "get_ipython", lambda: object())
        sessions._show_whole_cells()
        assert pd.get_option("display.max_colwidth") is None
