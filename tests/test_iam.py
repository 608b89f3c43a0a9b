"""The local IAM, through real boto3 clients: roles and role policies recorded (not enforced), AWS's errors.

Also the style of AWS's Lambda-step example, whose ``iam_helper`` calls a plain ``boto3.client("iam")``:
once ``lab_helpers.session("local")`` has made the local session boto3's default, that client is local too.
"""

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from conftest import offline_module

no_network = pytest.fixture(scope="module", autouse=True, name="no_network")(offline_module)

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sagemaker:*", "Resource": "*"}]})


@pytest.fixture()
def iam(local_sess):
    return local_sess.boto_session.client("iam")


def error_of(call, **kwargs):
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["ResponseMetadata"]["HTTPStatusCode"], \
        caught.value.response["Error"]["Message"]


def create_lambda_role(role_name):
    """AWS's example style: a helper that makes the role with a plain boto3 client."""
    client = boto3.client("iam")
    try:
        role = client.create_role(RoleName=role_name, AssumeRolePolicyDocument=TRUST,
                                  Description="Role for Lambda to call SageMaker functions")
        client.attach_role_policy(RoleName=role_name,
                                  PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
        return role["Role"]["Arn"]
    except client.exceptions.EntityAlreadyExistsException:
        return client.get_role(RoleName=role_name)["Role"]["Arn"]


def test_plain_boto3_client_is_local_after_a_local_session(local_sess):
    arn = create_lambda_role("lambda-deployment-role")
    assert arn == "arn:aws:iam::000000000000:role/lambda-deployment-role"
    assert create_lambda_role("lambda-deployment-role") == arn  # second run: EntityAlreadyExists, then GetRole
    role = local_sess.boto_session.client("iam").get_role(RoleName="lambda-deployment-role")["Role"]
    assert role["AssumeRolePolicyDocument"] == json.loads(TRUST)  # botocore decodes the URL-encoded document
    assert role["RoleId"].startswith("AROA") and role["MaxSessionDuration"] == 3600


def test_role_life_cycle_and_policies(iam):
    created = iam.create_role(RoleName="Pipelines", Path="/service/", AssumeRolePolicyDocument=TRUST,
                              Tags=[{"Key": "course", "Value": "pipelines"}])["Role"]
    assert created["Arn"].endswith(":role/service/Pipelines") and created["Tags"] == [
        {"Key": "course", "Value": "pipelines"}]
    managed = "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"
    iam.attach_role_policy(RoleName="Pipelines", PolicyArn=managed)
    iam.attach_role_policy(RoleName="Pipelines", PolicyArn=managed)  # attaching twice is no error, one entry
    assert iam.list_attached_role_policies(RoleName="Pipelines")["AttachedPolicies"] == [
        {"PolicyName": "AmazonSageMakerFullAccess", "PolicyArn": managed}]
    iam.put_role_policy(RoleName="Pipelines", PolicyName="run", PolicyDocument=POLICY)
    got = iam.get_role_policy(RoleName="Pipelines", PolicyName="run")
    assert got["PolicyDocument"] == json.loads(POLICY) and got["RoleName"] == "Pipelines"
    assert iam.list_role_policies(RoleName="Pipelines")["PolicyNames"] == ["run"]

    assert error_of(iam.delete_role, RoleName="Pipelines")[:2] == ("DeleteConflict", 409)
    iam.detach_role_policy(RoleName="Pipelines", PolicyArn=managed)
    code, status, message = error_of(iam.delete_role, RoleName="Pipelines")
    assert (code, status) == ("DeleteConflict", 409) and "delete policies" in message
    iam.delete_role_policy(RoleName="Pipelines", PolicyName="run")
    iam.delete_role(RoleName="Pipelines")
    assert error_of(iam.get_role, RoleName="Pipelines")[:2] == ("NoSuchEntity", 404)


def test_errors_as_aws_gives_them(iam):
    iam.create_role(RoleName="Twice", AssumeRolePolicyDocument=TRUST)
    code, status, message = error_of(iam.create_role, RoleName="twice", AssumeRolePolicyDocument=TRUST)
    assert (code, status) == ("EntityAlreadyExists", 409) and message == "Role with name twice already exists."
    assert error_of(iam.create_role, RoleName="Bad", AssumeRolePolicyDocument="{not json")[:2] == (
        "MalformedPolicyDocument", 400)
    assert error_of(iam.put_role_policy, RoleName="Twice", PolicyName="p", PolicyDocument='["no statement"]')[:2] == (
        "MalformedPolicyDocument", 400)
    assert error_of(iam.get_role_policy, RoleName="Twice", PolicyName="none")[:2] == ("NoSuchEntity", 404)
    assert error_of(iam.detach_role_policy, RoleName="Twice",
                    PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")[:2] == ("NoSuchEntity", 404)
    assert error_of(iam.attach_role_policy, RoleName="Nobody",
                    PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")[:2] == ("NoSuchEntity", 404)
    assert error_of(iam.create_role, RoleName="has space", AssumeRolePolicyDocument=TRUST)[0] == "ValidationError"
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName="Nobody")
    with pytest.raises(Exception, match="IAM CreateUser is not emulated"):
        iam.create_user(UserName="someone")


def test_default_role_listing_and_simulation(local_sess, iam):
    import lab_helpers

    default = iam.get_role(RoleName="LabLocalExecutionRole")["Role"]
    assert default["Arn"] == lab_helpers.execution_role(local_sess)
    assert error_of(iam.delete_role, RoleName="LabLocalExecutionRole")[0] == "UnmodifiableEntity"
    for n in range(3):
        iam.create_role(RoleName=f"paged-{n}", AssumeRolePolicyDocument=TRUST)
    pages = list(iam.get_paginator("list_roles").paginate(PaginationConfig={"PageSize": 2}))
    names = [r["RoleName"] for page in pages for r in page["Roles"]]
    assert names == ["LabLocalExecutionRole", "paged-0", "paged-1", "paged-2"] and len(pages) == 2
    results = iam.simulate_principal_policy(PolicySourceArn=default["Arn"],
                                            ActionNames=["lambda:InvokeFunction", "s3:GetObject"])["EvaluationResults"]
    assert [(r["EvalActionName"], r["EvalDecision"]) for r in results] == [
        ("lambda:InvokeFunction", "allowed"), ("s3:GetObject", "allowed")]
    assert error_of(iam.simulate_principal_policy, PolicySourceArn="arn:aws:iam::000000000000:role/Nobody",
                    ActionNames=["s3:GetObject"])[0] == "NoSuchEntity"


def test_get_execution_role_finds_the_kits_role(local_sess, caplog):
    """AWS's examples start with ``sagemaker.get_execution_role()``: offline it is the kit's role, found in IAM."""
    import sagemaker

    from lab_helpers import config

    with caplog.at_level("WARNING"):
        arn = sagemaker.get_execution_role(local_sess)
    assert arn == f"arn:aws:iam::{config.LOCAL_ACCOUNT_ID}:role/{config.LOCAL_ROLE_NAME}"
    assert "get_role" not in caplog.text  # the SDK's look-up of the role's path succeeded
