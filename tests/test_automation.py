"""Automation (outline Step 6): the Lambda handler, the set-up/teardown, the policies, the offline chain.

Handler tests use small stand-in clients (counting calls); the set-up tests use moto; the
end-to-end test runs the real local engine behind the same handler.
"""

import ast
import io
import json
import re
import sys
import urllib.parse
import zipfile

import boto3
import pytest
from botocore.exceptions import ClientError

from lab_helpers.automation import lambda_function as lf
from lab_helpers.automation import setup as auto
from conftest import wait_for_arn  # noqa: E402

BUCKET = "lab-test-bucket"
PREFIX = "incoming/"
TOPIC = "arn:aws:sns:us-east-1:000000000000:reports"
PIPELINE_ARN = "arn:aws:sagemaker:us-east-1:000000000000:pipeline/abalonepipeline"
DISPLAY_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}$")


# -- stand-in clients for the handler's unit tests -----------------------------------------

class FakeSageMaker:
    """Counts starts; idempotent on ClientRequestToken like the real API; can fail for chosen URIs."""

    def __init__(self, fail_for=()):
        self.calls, self.executions, self.fail_for = [], {}, set(fail_for)

    def start_pipeline_execution(self, **kwargs):
        self.calls.append(kwargs)
        uri = kwargs["PipelineParameters"][0]["Value"]
        if uri in self.fail_for:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
                              "StartPipelineExecution")
        token = kwargs["ClientRequestToken"]
        arn = self.executions.setdefault(token, f"{PIPELINE_ARN}/execution/{len(self.executions)}")
        return {"PipelineExecutionArn": arn}


class FakeSNS:
    def __init__(self):
        self.published = []

    def publish(self, **kwargs):
        self.published.append(kwargs)
        return {"MessageId": str(len(self.published))}


@pytest.fixture()
def fakes(monkeypatch):
    sm, sns = FakeSageMaker(), FakeSNS()
    monkeypatch.setattr(lf, "clients", {"sagemaker": sm, "sns": sns})
    for name, value in {"PIPELINE_NAME": "AbalonePipeline", "KEY_PREFIX": PREFIX, "SNS_TOPIC_ARN": TOPIC}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("KEY_SUFFIX", raising=False)
    monkeypatch.delenv("INPUT_PARAMETER", raising=False)
    return sm, sns


def s3_body(key, bucket=BUCKET, etag="0123456789abcdef", sequencer="0055AED6DCD90281E5"):
    """An S3 event notification as S3 puts it in SQS (the key URL-encoded, '+' for a space)."""
    return json.dumps({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
               "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": urllib.parse.quote_plus(key, safe="/"), "size": 1024, "eTag": etag,
                          "sequencer": sequencer}}}]})


def record(body, message_id="m1", receive_count="1"):
    return {"messageId": message_id, "receiptHandle": f"rh-{message_id}", "body": body,
            "attributes": {"ApproximateReceiveCount": receive_count}, "messageAttributes": {},
            "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:q",
            "awsRegion": "us-east-1"}


def invoke(*records):
    return lf.lambda_handler({"Records": list(records)}, None)


# -- the handler -------------------------------------------------------------------------------

def test_normal_upload_starts_the_pipeline_and_reports_it(fakes):
    sm, sns = fakes
    assert invoke(record(s3_body("incoming/abalone.csv"))) == {"batchItemFailures": []}
    (call,) = sm.calls
    uri = f"s3://{BUCKET}/incoming/abalone.csv"
    assert call["PipelineName"] == "AbalonePipeline"
    assert call["PipelineParameters"] == [{"Name": "InputData", "Value": uri}]
    assert re.fullmatch(r"[0-9a-f]{64}", call["ClientRequestToken"])
    name = call["PipelineExecutionDisplayName"]
    assert DISPLAY_NAME.match(name) and "abalone" in name
    (report,) = sns.published
    assert report["TopicArn"] == TOPIC and uri in report["Message"]
    assert sm.executions[call["ClientRequestToken"]] in report["Message"]


def test_s3_test_event_is_skipped(fakes):
    sm, sns = fakes
    body = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2024-01-01T00:00:00.000Z",
                       "Bucket": BUCKET, "RequestId": "r", "HostId": "h"})
    assert invoke(record(body)) == {"batchItemFailures": []}
    assert sm.calls == [] and sns.published == []


def test_url_encoded_key_with_spaces_and_plus_is_decoded(fakes):
    sm, _ = fakes
    key = "incoming/my data+v2 (final).csv"
    assert "my+data%2Bv2" in s3_body(key)
    invoke(record(s3_body(key)))
    (call,) = sm.calls
    assert call["PipelineParameters"][0]["Value"] == f"s3://{BUCKET}/{key}"
    assert DISPLAY_NAME.match(call["PipelineExecutionDisplayName"])


@pytest.mark.parametrize("key", ["other/abalone.csv", "incoming/abalone.json", "incoming/folder/"])
def test_keys_outside_prefix_or_suffix_are_ignored(fakes, key):
    sm, _ = fakes
    assert invoke(record(s3_body(key))) == {"batchItemFailures": []}
    assert sm.calls == []


@pytest.mark.parametrize("body", ["not json at all", "[1, 2]", json.dumps({"Records": [{"s3": {}}]}),
                                  json.dumps({"hello": "world"}), None])
def test_malformed_body_is_dropped_without_failing_the_others(fakes, body):
    sm, sns = fakes
    result = invoke(record(body, "bad"), record(s3_body("incoming/abalone.csv"), "good"))
    assert result == {"batchItemFailures": []}
    assert len(sm.calls) == 1
    assert any("malformed" in p["Subject"].lower() for p in sns.published)


def test_same_message_twice_starts_one_execution(fakes):
    sm, _ = fakes
    body = s3_body("incoming/abalone.csv")
    invoke(record(body, "m1"))
    invoke(record(body, "m1", receive_count="2"))      # SQS delivered it again
    invoke(record(body, "m2"))                         # S3 sent the event twice
    assert len(sm.calls) == 3
    assert len({c["ClientRequestToken"] for c in sm.calls}) == 1
    assert len(sm.executions) == 1
    # a new upload of the same key (new ETag/sequencer) is new data: a new run
    invoke(record(s3_body("incoming/abalone.csv", etag="ffff", sequencer="0055AED6DCD90281FF"), "m3"))
    assert len(sm.executions) == 2


def test_a_failed_start_fails_only_its_record(fakes):
    sm, sns = fakes
    sm.fail_for = {f"s3://{BUCKET}/incoming/b.csv"}
    result = invoke(record(s3_body("incoming/a.csv"), "a"), record(s3_body("incoming/b.csv"), "b"),
                    record("garbage", "c"), record(s3_body("incoming/d.csv"), "d"))
    assert result == {"batchItemFailures": [{"itemIdentifier": "b"}]}
    assert len(sm.executions) == 2
    assert any(p["Subject"].startswith("Could not start") and "ThrottlingException" in p["Message"]
               for p in sns.published)


def test_a_failed_report_does_not_fail_the_record(fakes, monkeypatch):
    sm, _ = fakes

    class BrokenSNS:
        def publish(self, **kwargs):
            raise ClientError({"Error": {"Code": "AuthorizationError", "Message": "no"}}, "Publish")

    lf.clients["sns"] = BrokenSNS()
    assert invoke(record(s3_body("incoming/abalone.csv"))) == {"batchItemFailures": []}
    assert len(sm.executions) == 1


def test_display_name_and_token_limits():
    token = "a" * 64
    for key in ["x" * 300 + ".csv", "incoming/--weird__name!!.csv", "incoming/.csv", "ü.csv"]:
        name = lf.display_name(key, token)
        assert DISPLAY_NAME.match(name) and len(name) <= 82, name
    obj = {"bucket": "b", "key": "k" * 1024, "version_id": None, "etag": "e", "sequencer": None}
    assert 32 <= len(lf.request_token(obj)) <= 128
    assert lf.request_token(obj) != lf.request_token(dict(obj, version_id="v2"))


def test_missing_pipeline_name_is_a_configuration_error(fakes, monkeypatch):
    monkeypatch.delenv("PIPELINE_NAME")
    with pytest.raises(RuntimeError, match="PIPELINE_NAME"):
        invoke(record(s3_body("incoming/abalone.csv")))


def test_handler_runs_in_the_lambda_runtime_standard_library_and_boto3_only():
    tree = ast.parse(auto.HANDLER_FILE.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "the handler is deployed alone: no relative imports"
            imported.add(node.module.split(".")[0])
    extra = imported - set(sys.stdlib_module_names) - {"boto3", "botocore"}
    assert not extra, f"the Lambda runtime does not have {extra}"
    package = zipfile.ZipFile(io.BytesIO(auto.function_zip()))
    assert package.namelist() == ["lambda_function.py"]
    assert auto.function_zip() == auto.function_zip(), "the package must be reproducible"


# -- the policies ---------------------------------------------------------------------------

PLACE = auto.Place(account="111122223333", region="eu-west-1")


def _statements(doc):
    return doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]


def _resources(doc):
    for st in _statements(doc):
        res = st.get("Resource", [])
        yield from ([res] if isinstance(res, str) else res)


def test_policies_name_specific_resources():
    spec = auto.TriggerSpec(bucket=BUCKET, pipeline_name="AbalonePipeline")
    docs = auto.policies(spec, PLACE)
    a = auto.arns(spec, PLACE)

    (qs,) = _statements(docs["queue_policy"])
    assert qs["Principal"] == {"Service": "s3.amazonaws.com"} and qs["Action"] == "sqs:SendMessage"
    assert qs["Resource"] == a["queue"] == "arn:aws:sqs:eu-west-1:111122223333:pipeline-dataset-queue"
    assert qs["Condition"] == {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{BUCKET}"},
                               "StringEquals": {"aws:SourceAccount": "111122223333"}}

    (trust,) = _statements(docs["lambda_trust_policy"])
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"

    perms = docs["lambda_permissions_policy"]
    by_action = {}
    for st in _statements(perms):
        for action in [st["Action"]] if isinstance(st["Action"], str) else st["Action"]:
            by_action[action] = st["Resource"]
    pipeline_arn = "arn:aws:sagemaker:eu-west-1:111122223333:pipeline/abalonepipeline"
    assert by_action["sagemaker:StartPipelineExecution"] == pipeline_arn
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
        assert by_action[action] == a["queue"]
    assert by_action["sns:Publish"] == a["topic"]
    assert by_action["logs:CreateLogGroup"] == a["log_group"]
    assert set(by_action) == {"sagemaker:StartPipelineExecution", "sqs:ReceiveMessage", "sqs:DeleteMessage",
                              "sqs:GetQueueAttributes", "sns:Publish", "logs:CreateLogGroup",
                              "logs:CreateLogStream", "logs:PutLogEvents"}
    for doc in (docs["queue_policy"], perms):
        for res in _resources(doc):
            assert res != "*" and "111122223333" in res and "eu-west-1" in res, res
            if "*" in res:  # only log stream names, chosen by Lambda at run time, inside this function's group
                assert res == f"{a['log_group']}:log-stream:*", res
    for st in _statements(perms):
        assert "*" not in json.dumps(st["Action"])


def test_eventbridge_alternative_documents():
    spec = auto.TriggerSpec(bucket=BUCKET, pipeline_name="AbalonePipeline", prefix="in/", suffix=".csv")
    doc = auto.eventbridge_trigger(spec, PLACE, input_uri=f"s3://{BUCKET}/in/latest.csv")
    assert doc["pattern"]["source"] == ["aws.s3"] and doc["pattern"]["detail-type"] == ["Object Created"]
    assert doc["pattern"]["detail"]["object"]["key"] == [{"wildcard": "in/*.csv"}]
    assert doc["target"]["Arn"] == auto.arns(spec, PLACE)["pipeline"]
    assert doc["target"]["SageMakerPipelineParameters"]["PipelineParameterList"] == [
        {"Name": "InputData", "Value": f"s3://{BUCKET}/in/latest.csv"}]
    assert list(_resources(doc["role_permissions_policy"])) == [auto.arns(spec, PLACE)["pipeline"]]
    (trust,) = _statements(doc["role_trust_policy"])
    assert trust["Condition"]["ArnEquals"]["aws:SourceArn"] == doc["rule_arn"]


# -- set-up and teardown, against moto ------------------------------------------------------

@pytest.fixture()
def aws(monkeypatch):
    from moto import mock_aws

    monkeypatch.setenv("MOTO_ACCOUNT_ID", "111122223333")
    with mock_aws():
        session = boto3.Session(region_name="eu-west-1")
        s3, sqs = session.client("s3"), session.client("sqs")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        other = sqs.create_queue(QueueName="someone-elses-queue")["QueueUrl"]
        other_arn = sqs.get_queue_attributes(QueueUrl=other, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={"QueueConfigurations": [
            {"Id": "existing", "QueueArn": other_arn, "Events": ["s3:ObjectRemoved:*"]}]})
        yield session


def _everything(session, spec):
    """Every kind of resource the trigger uses, as the emulator lists them."""
    sqs, sns, lam, iam, s3 = (session.client(n) for n in ("sqs", "sns", "lambda", "iam", "s3"))
    try:
        role_policies = iam.list_role_policies(RoleName=spec.role_name)["PolicyNames"]
    except ClientError:
        role_policies = []
    notifications = s3.get_bucket_notification_configuration(Bucket=BUCKET)
    return {
        "queues": sorted(u.rsplit("/", 1)[-1] for u in sqs.list_queues().get("QueueUrls", [])),
        "topics": [t["TopicArn"] for t in sns.list_topics()["Topics"]],
        "subscriptions": [s["SubscriptionArn"] for s in sns.list_subscriptions()["Subscriptions"]],
        "functions": [f["FunctionName"] for f in lam.list_functions()["Functions"]],
        "mappings": [m["UUID"] for m in lam.list_event_source_mappings()["EventSourceMappings"]],
        "roles": [r["RoleName"] for r in iam.list_roles()["Roles"]],
        "role_policies": role_policies,
        "notifications": sorted(c["Id"] for c in notifications.get("QueueConfigurations", [])),
    }


def test_setup_twice_then_teardown_leaves_nothing(aws):
    spec = auto.TriggerSpec(bucket=BUCKET, pipeline_name="AbalonePipeline", email="learner@example.com")
    first = auto.setup(aws, spec)
    second = auto.setup(aws, spec)
    assert first.mapping_uuid == second.mapping_uuid and first.function_arn == second.function_arn
    assert second.account == "111122223333" and second.region == "eu-west-1"

    made = _everything(aws, spec)
    assert made["queues"] == sorted([spec.queue_name, spec.dlq_name, "someone-elses-queue"])
    assert made["topics"] == [second.topic_arn]
    assert len(made["subscriptions"]) == 1          # the e-mail, subscribed once
    assert made["functions"] == [spec.function_name]
    assert made["mappings"] == [second.mapping_uuid]
    assert made["roles"] == [spec.role_name]
    assert made["role_policies"] == [spec.policy_name]
    assert made["notifications"] == ["existing", spec.notification_id]   # merged, not clobbered

    lam, sqs, iam, s3 = (aws.client(n) for n in ("lambda", "sqs", "iam", "s3"))
    mapping = lam.get_event_source_mapping(UUID=second.mapping_uuid)
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    conf = lam.get_function_configuration(FunctionName=spec.function_name)
    assert conf["Runtime"] == "python3.12" and conf["Handler"] == "lambda_function.lambda_handler"
    assert conf["Environment"]["Variables"] == spec.environment(second.topic_arn)
    attrs = sqs.get_queue_attributes(QueueUrl=second.queue_url, AttributeNames=["All"])["Attributes"]
    place = auto.Place("111122223333", "eu-west-1")
    assert json.loads(attrs["Policy"]) == auto.policies(spec, place)["queue_policy"]
    assert json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"] == second.dlq_arn
    stored = iam.get_role_policy(RoleName=spec.role_name, PolicyName=spec.policy_name)["PolicyDocument"]
    stored = json.loads(stored) if isinstance(stored, str) else stored
    assert stored == auto.policies(spec, place)["lambda_permissions_policy"]
    ours = next(c for c in s3.get_bucket_notification_configuration(Bucket=BUCKET)["QueueConfigurations"]
                if c["Id"] == spec.notification_id)
    assert ours["QueueArn"] == second.queue_arn
    assert {r["Name"].lower(): r["Value"] for r in ours["Filter"]["Key"]["FilterRules"]} == {
        "prefix": spec.prefix, "suffix": ".csv"}
    assert auto.describe(aws, spec).summary() == second.summary()

    removed = auto.teardown(aws, spec)
    assert removed
    left = _everything(aws, spec)
    assert left == {"queues": ["someone-elses-queue"], "topics": [], "subscriptions": [], "functions": [],
                    "mappings": [], "roles": [], "role_policies": [], "notifications": ["existing"]}
    assert auto.teardown(aws, spec) == []          # idempotent
    gone = auto.describe(aws, spec)
    assert gone.queue_url is None and gone.function_arn is None and gone.notification_id is None


def test_s3_delivers_the_notification_and_test_event_to_the_queue(aws):
    spec = auto.TriggerSpec(bucket=BUCKET, pipeline_name="AbalonePipeline", prefix=PREFIX)
    res = auto.setup(aws, spec, enable_mapping=False)
    s3, sqs = aws.client("s3"), aws.client("sqs")
    s3.put_object(Bucket=BUCKET, Key="incoming/new data.csv", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="elsewhere/new.csv", Body=b"x")     # filtered out by S3
    bodies = [json.loads(m["Body"]) for m in
              sqs.receive_message(QueueUrl=res.queue_url, MaxNumberOfMessages=10)["Messages"]]
    assert bodies[0]["Event"] == "s3:TestEvent"
    assert len(bodies) == 2
    (obj,) = lf.parse_body(json.dumps(bodies[1]))
    assert obj["key"] == "incoming/new data.csv"


def test_eventbridge_trigger_create_and_delete(aws):
    spec = auto.TriggerSpec(bucket=BUCKET, pipeline_name="AbalonePipeline")
    for _ in range(2):
        doc = auto.create_eventbridge_trigger(aws, spec, input_uri=f"s3://{BUCKET}/{spec.prefix}latest.csv")
    events, iam = aws.client("events"), aws.client("iam")
    (target,) = events.list_targets_by_rule(Rule=doc["rule_name"])["Targets"]
    assert target["SageMakerPipelineParameters"] == doc["target"]["SageMakerPipelineParameters"]
    assert json.loads(events.describe_rule(Name=doc["rule_name"])["EventPattern"]) == doc["pattern"]
    assert auto.delete_eventbridge_trigger(aws, spec)
    assert events.list_rules()["Rules"] == []
    assert doc["role_name"] not in [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert auto.delete_eventbridge_trigger(aws, spec) == []


# -- offline: the whole chain ---------------------------------------------------------------

def _executions(sess, name):
    return sess.sagemaker_client.list_pipeline_executions(PipelineName=name)["PipelineExecutionSummaries"]


def _input_data(sess, arn):
    params = sess.sagemaker_client.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)
    return {p["Name"]: p["Value"] for p in params["PipelineParameters"]}["InputData"]


@pytest.mark.slow
def test_offline_chain_end_to_end(local_sess):
    from lab_helpers import data, pipelines
    from lab_helpers.automation.offline import OfflineAutomation

    pipeline = pipelines.abalone_pipeline(local_sess)
    pipeline.upsert(role_arn=local_sess.lab_role_arn)
    with OfflineAutomation(local_sess) as auto_:
        assert auto_.resources.mapping_uuid and auto_.queue_depth() == {"visible": 1, "in_flight": 0}  # s3:TestEvent
        key = auto_.spec.prefix + "abalone copy+v2 (new).csv"
        uri = auto_.upload(data.abalone_csv(), key)
        assert uri == f"s3://{local_sess.default_bucket()}/{key}"
        deliveries = auto_.deliver()
        assert [d.failed for d in deliveries] == [[]] and sum(len(d.deleted) for d in deliveries) == 2
        assert auto_.queue_depth() == {"visible": 0, "in_flight": 0}

        (started,) = _executions(local_sess, pipeline.name)
        wait_for_arn(local_sess, started["PipelineExecutionArn"])  # it runs in the background, as in AWS
        (execution,) = _executions(local_sess, pipeline.name)
        assert execution["PipelineExecutionStatus"] == "Succeeded", execution
        assert _input_data(local_sess, execution["PipelineExecutionArn"]) == uri
        assert DISPLAY_NAME.match(execution["PipelineExecutionDisplayName"])
        assert local_sess.local_path(uri).read_bytes() == data.abalone_csv().read_bytes()

        (note,) = auto_.notifications()
        assert note["subject"].startswith("Started AbalonePipeline")
        assert execution["PipelineExecutionArn"] in note["message"] and uri in note["message"]

        # S3 delivers at least once: the same event again must not start a second run
        sqs = auto_.aws.client("sqs")
        sqs.send_message(QueueUrl=auto_.resources.queue_url, MessageBody=deliveries[0].event["Records"][-1]["body"])
        assert auto_.deliver()[0].failed == []
        assert len(_executions(local_sess, pipeline.name)) == 1
    assert auto_.aws is not None and auto_._mock is None
    assert len(_executions(local_sess, pipeline.name)) == 1   # executions live in the local control plane


def test_offline_failed_start_stays_in_the_queue(local_sess):
    from lab_helpers.automation.offline import OfflineAutomation

    with OfflineAutomation(local_sess, pipeline_name="NoSuchPipeline") as auto_:
        uri = auto_.upload(b"1,2,3\n", auto_.spec.prefix + "x.csv")
        (delivery,) = auto_.deliver()
        test_event, upload = delivery.messages
        assert delivery.failed == [upload] and delivery.deleted == [test_event]
        assert delivery.response == {"batchItemFailures": [{"itemIdentifier": upload}]}
        assert auto_.queue_depth() == {"visible": 0, "in_flight": 1}
        assert any(uri in line and "failed" in line for line in delivery.log)
        (note,) = auto_.notifications()
        assert note["subject"] == "Could not start NoSuchPipeline"
        assert auto_.deliver() == []                               # invisible until the timeout passes
        sqs = auto_.aws.client("sqs")                              # let it pass
        sqs.change_message_visibility(QueueUrl=auto_.resources.queue_url, VisibilityTimeout=0,
                                      ReceiptHandle=delivery.event["Records"][1]["receiptHandle"])
        (retry,) = auto_.deliver(release_failed=True)
        assert retry.failed == [upload]
        assert retry.event["Records"][0]["attributes"]["ApproximateReceiveCount"] == "2"
        assert auto_.queue_depth() == {"visible": 1, "in_flight": 0}  # released at once for the next try
