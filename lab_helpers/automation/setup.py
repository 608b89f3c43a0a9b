"""Set up (and tear down) the trigger that starts the pipeline when new data lands in S3.

What :func:`setup` builds, from a ``boto3.Session`` (your account in remote mode; an emulator
offline - see :mod:`lab_helpers.automation.offline`)::

    s3://<bucket>/<prefix>...<suffix>  --notification-->  SQS queue  (+ dead-letter queue)
    SQS queue  --event source mapping (ReportBatchItemFailures)-->  Lambda function
    Lambda function  --StartPipelineExecution-->  the pipeline;  --Publish-->  SNS topic (--> e-mail)

Nothing account-specific is typed in: the account and the partition come from STS, the region
from the session, and every ARN in every policy is built from those and the resource names in
:class:`TriggerSpec`.  Every function here is idempotent: run :func:`setup` again after a change
and it updates what exists; :func:`teardown` removes everything it made and is safe to repeat.

The policy documents are plain functions (:func:`queue_policy`, :func:`lambda_trust_policy`,
:func:`lambda_permissions_policy`) so a notebook can show exactly what is attached.

One module although it is over 600 lines, because it is one cohesive thing: the trigger's
resource names, ARNs and policies, and the set-up, describe and teardown that must agree on
every one of them (as does the EventBridge alternative at the end, built from the same spec).
"""

import base64
import hashlib
import io
import json
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import List, Optional

from ..config import LAB_PREFIX

HANDLER_FILE = Path(__file__).resolve().parent / "lambda_function.py"
LAMBDA_RUNTIME = "python3.12"
LAMBDA_TIMEOUT = 30             # seconds; StartPipelineExecution answers in well under a second
QUEUE_VISIBILITY_TIMEOUT = 180  # AWS's advice: at least 6 x the function timeout
DEFAULT_NAME = "pipeline-dataset"
DEFAULT_PREFIX = f"{LAB_PREFIX}/incoming/"


@dataclass(frozen=True)
class TriggerSpec:
    """What to watch and what to start; all resource names derive from ``name``."""

    bucket: str
    pipeline_name: str
    prefix: str = DEFAULT_PREFIX
    suffix: str = ".csv"
    input_parameter: str = "InputData"
    name: str = DEFAULT_NAME
    email: Optional[str] = None
    batch_size: int = 10
    max_receive_count: int = 5      # attempts before a message moves to the dead-letter queue

    @property
    def queue_name(self):
        """The SQS queue S3 sends new-object events to."""
        return f"{self.name}-queue"

    @property
    def dlq_name(self):
        """The dead-letter queue for messages the function failed on too often."""
        return f"{self.name}-dlq"

    @property
    def topic_name(self):
        """The SNS topic the function reports to."""
        return f"{self.name}-notifications"

    @property
    def function_name(self):
        """The Lambda function that starts the pipeline."""
        return f"{self.name}-start-pipeline"

    @property
    def role_name(self):
        """The IAM role the function runs as."""
        return f"{self.name}-start-pipeline-role"

    @property
    def policy_name(self):
        """The role's inline policy (the function's permissions)."""
        return "start-pipeline-least-privilege"

    @property
    def notification_id(self):
        """The Id of the bucket's queue notification."""
        return f"{self.name}-new-data-to-queue"

    @property
    def log_group(self):
        """The function's CloudWatch Logs group."""
        return f"/aws/lambda/{self.function_name}"

    def environment(self, topic_arn):
        """The Lambda function's environment variables (its whole configuration)."""
        return {
            "PIPELINE_NAME": self.pipeline_name,
            "INPUT_PARAMETER": self.input_parameter,
            "KEY_PREFIX": self.prefix,
            "KEY_SUFFIX": self.suffix,
            "SNS_TOPIC_ARN": topic_arn,
        }


@dataclass(frozen=True)
class Place:
    """Where the resources live: discovered, never typed in."""

    account: str
    region: str
    partition: str = "aws"


def where(boto_session):
    """Account (from STS), region (from the session) and partition of ``boto_session``."""
    region = boto_session.region_name
    if not region:
        raise RuntimeError("The boto3 session has no region: set AWS_REGION (or pass region_name=...).")
    identity = boto_session.client("sts", region_name=region).get_caller_identity()
    return Place(account=identity["Account"], region=region, partition=identity["Arn"].split(":")[1])


def arns(spec, place):
    """The ARN of everything the trigger involves, computed from the names (no call to AWS)."""
    p, r, a = place.partition, place.region, place.account
    return {
        "bucket": f"arn:{p}:s3:::{spec.bucket}",
        "queue": f"arn:{p}:sqs:{r}:{a}:{spec.queue_name}",
        "dlq": f"arn:{p}:sqs:{r}:{a}:{spec.dlq_name}",
        "topic": f"arn:{p}:sns:{r}:{a}:{spec.topic_name}",
        "role": f"arn:{p}:iam::{a}:role/{spec.role_name}",
        "function": f"arn:{p}:lambda:{r}:{a}:function:{spec.function_name}",
        # SageMaker writes pipeline names in lower case in ARNs
        "pipeline": f"arn:{p}:sagemaker:{r}:{a}:pipeline/{spec.pipeline_name.lower()}",
        "log_group": f"arn:{p}:logs:{r}:{a}:log-group:{spec.log_group}",
    }


# -- the policy documents ------------------------------------------------------------------

def queue_policy(queue_arn, bucket_arn, account):
    """The queue's resource policy: only S3, only for this bucket, only in this account, may send.

    ``aws:SourceArn`` stops any *other* bucket (yours or anyone's) from filling the queue;
    ``aws:SourceAccount`` makes sure that bucket is owned by this account (bucket names are
    global, so a deleted bucket's name can be taken by someone else).
    """
    return {
        "Version": "2012-10-17",
        "Id": "s3-new-data-to-queue",
        "Statement": [{
            "Sid": "AllowS3BucketNotifications",
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {
                "ArnLike": {"aws:SourceArn": bucket_arn},
                "StringEquals": {"aws:SourceAccount": account},
            },
        }],
    }


def lambda_trust_policy():
    """Who may assume the function's role: the Lambda service, nobody else."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }],
    }


def lambda_permissions_policy(pipeline_arn, queue_arn, topic_arn, log_group_arn):
    """What the function may do - exactly its job, each on one named resource.

    Log *stream* names are chosen by Lambda at run time, so they are the one place with a
    wildcard - and it is confined to this function's own log group.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "StartThisPipeline", "Effect": "Allow",
             "Action": "sagemaker:StartPipelineExecution", "Resource": pipeline_arn},
            {"Sid": "ReadThisQueue", "Effect": "Allow",
             "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
             "Resource": queue_arn},
            {"Sid": "ReportToThisTopic", "Effect": "Allow", "Action": "sns:Publish", "Resource": topic_arn},
            {"Sid": "CreateOwnLogGroup", "Effect": "Allow", "Action": "logs:CreateLogGroup",
             "Resource": log_group_arn},
            {"Sid": "WriteOwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": f"{log_group_arn}:log-stream:*"},
        ],
    }


def policies(spec, place):
    """All three documents for ``spec`` in ``place`` (what :func:`setup` attaches)."""
    a = arns(spec, place)
    return {
        "queue_policy": queue_policy(a["queue"], a["bucket"], place.account),
        "lambda_trust_policy": lambda_trust_policy(),
        "lambda_permissions_policy": lambda_permissions_policy(a["pipeline"], a["queue"], a["topic"], a["log_group"]),
    }


def notification_configuration(spec, queue_arn):
    """The bucket's QueueConfiguration for the trigger: object-created events, prefix and suffix filters."""
    rules = [{"Name": "prefix", "Value": spec.prefix}] if spec.prefix else []
    if spec.suffix:
        rules.append({"Name": "suffix", "Value": spec.suffix})
    config = {"Id": spec.notification_id, "QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}
    if rules:
        config["Filter"] = {"Key": {"FilterRules": rules}}
    return config


def function_zip():
    """The deployment package: ``lambda_function.py`` alone, byte-for-byte reproducible."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("lambda_function.py", date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        archive.writestr(info, HANDLER_FILE.read_bytes())
    return buffer.getvalue()


def code_sha256(package):
    """How Lambda names a package (``CodeSha256``): base64 of its SHA-256."""
    return base64.b64encode(hashlib.sha256(package).digest()).decode()


# -- what exists ---------------------------------------------------------------------------

@dataclass
class Resources:
    """What the trigger consists of (``None`` / empty where something does not exist)."""

    account: str
    region: str
    bucket: str
    pipeline_arn: str
    queue_url: Optional[str] = None
    queue_arn: Optional[str] = None
    dlq_url: Optional[str] = None
    dlq_arn: Optional[str] = None
    topic_arn: Optional[str] = None
    subscriptions: List[str] = field(default_factory=list)
    role_arn: Optional[str] = None
    function_arn: Optional[str] = None
    mapping_uuid: Optional[str] = None
    mapping_state: Optional[str] = None
    notification_id: Optional[str] = None

    def summary(self):
        """The parts that exist, as a dict (missing ones left out)."""
        return {k: v for k, v in asdict(self).items() if v not in (None, [])}


def _code(exc):
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


def _retry(call, retry_if, timeout=90.0, delay=2.0):
    """Call ``call()``, retrying while ``retry_if(exc)``: IAM changes take seconds to reach other services."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except Exception as exc:
            if not retry_if(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)


def _role_not_ready(exc):
    """Lambda's answer while a new role or policy is still propagating through IAM (it takes seconds)."""
    return _code(exc) == "InvalidParameterValueException" and "role" in str(exc).lower()


def _queue_url(sqs, name):
    try:
        return sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except Exception as exc:
        if "NonExistentQueue" in _code(exc) or "DoesNotExist" in _code(exc):
            return None
        raise


def _mappings(lam, queue_arn, function_arn):
    """The event source mappings from the queue to the function (any version or alias of it)."""
    function = function_arn.split(":function:")[-1]
    pages = lam.get_paginator("list_event_source_mappings").paginate(EventSourceArn=queue_arn)
    return [m for page in pages for m in page["EventSourceMappings"]
            if m["FunctionArn"].split(":function:")[-1].split(":")[0] == function]


#: How Lambda's waiters poll here: every second, for up to two minutes.
_FUNCTION_WAIT = {"Delay": 1, "MaxAttempts": 120}


def _wait_function_ready(lam, name):
    """The function's configuration once it is neither being created nor being updated (Lambda's waiters wait).

    A function being created is ``Pending`` (``function_active_v2`` waits for ``Active``); one
    being updated has ``LastUpdateStatus`` ``InProgress`` (``function_updated_v2`` waits for
    ``Successful``).  Either waiter raises ``WaiterError`` if the function ends up ``Failed``.
    """
    conf = lam.get_function_configuration(FunctionName=name)
    if conf.get("State") == "Pending":  # being created (or woken up from Inactive)
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=_FUNCTION_WAIT)
        conf = lam.get_function_configuration(FunctionName=name)
    if conf.get("LastUpdateStatus") == "InProgress":  # its code or configuration is being updated
        lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=_FUNCTION_WAIT)
        conf = lam.get_function_configuration(FunctionName=name)
    return conf


def _topic_exists(sns, topic_arn):
    try:
        sns.get_topic_attributes(TopicArn=topic_arn)
        return True
    except Exception as exc:
        if "NotFound" in _code(exc):
            return False
        raise


def _get_notifications(s3, bucket):
    config = s3.get_bucket_notification_configuration(Bucket=bucket)
    config.pop("ResponseMetadata", None)
    return config


# -- set-up --------------------------------------------------------------------------------

def setup(boto_session, spec, enable_mapping=True):
    """Create or update every piece of the trigger; returns :class:`Resources`.

    Order matters in AWS: the queue policy must exist before the bucket notification (S3
    checks it may send, and sends an ``s3:TestEvent``), and the role before the function.
    ``enable_mapping=False`` creates the event source mapping disabled: the kit's offline
    runner uses it, because there the kit itself plays Lambda's poller (an emulator would run
    the function in a Docker container).
    """
    place = where(boto_session)
    a = arns(spec, place)
    docs = policies(spec, place)
    region = place.region
    sqs, sns, iam, lam, s3 = _clients(boto_session, region)
    out = Resources(account=place.account, region=region, bucket=spec.bucket, pipeline_arn=a["pipeline"])

    # 1. Queues: the dead-letter queue, then the queue S3 writes to (with its policy).
    out.dlq_url = sqs.create_queue(QueueName=spec.dlq_name)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=out.dlq_url, Attributes={"MessageRetentionPeriod": "1209600"})
    out.dlq_arn = a["dlq"]
    out.queue_url = sqs.create_queue(QueueName=spec.queue_name)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=out.queue_url, Attributes={
        "VisibilityTimeout": str(QUEUE_VISIBILITY_TIMEOUT),
        "Policy": json.dumps(docs["queue_policy"]),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": a["dlq"], "maxReceiveCount": str(spec.max_receive_count)}),
    })
    out.queue_arn = a["queue"]

    # 2. The topic, and an e-mail subscription (AWS e-mails a link that must be clicked once).
    out.topic_arn = sns.create_topic(Name=spec.topic_name)["TopicArn"]
    if spec.email:
        subscribed = {s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=out.topic_arn)["Subscriptions"]}
        if spec.email not in subscribed:
            sns.subscribe(TopicArn=out.topic_arn, Protocol="email", Endpoint=spec.email)
    out.subscriptions = [s["SubscriptionArn"] for s in
                         sns.list_subscriptions_by_topic(TopicArn=out.topic_arn)["Subscriptions"]]

    # 3. The function's role: trusted by Lambda, allowed exactly its job.
    try:
        out.role_arn = iam.create_role(
            RoleName=spec.role_name, AssumeRolePolicyDocument=json.dumps(docs["lambda_trust_policy"]),
            Description=f"Lets {spec.function_name} start {spec.pipeline_name} for new data in s3://{spec.bucket}",
        )["Role"]["Arn"]
    except Exception as exc:
        if _code(exc) != "EntityAlreadyExists":
            raise
        iam.update_assume_role_policy(RoleName=spec.role_name,
                                      PolicyDocument=json.dumps(docs["lambda_trust_policy"]))
        out.role_arn = iam.get_role(RoleName=spec.role_name)["Role"]["Arn"]
    iam.put_role_policy(RoleName=spec.role_name, PolicyName=spec.policy_name,
                        PolicyDocument=json.dumps(docs["lambda_permissions_policy"]))

    # 4. The function (a new role takes a few seconds before Lambda can assume it: retry).
    package = function_zip()
    settings = dict(Role=out.role_arn, Handler="lambda_function.lambda_handler", Runtime=LAMBDA_RUNTIME,
                    Timeout=LAMBDA_TIMEOUT, Environment={"Variables": spec.environment(out.topic_arn)},
                    Description=f"Starts SageMaker pipeline {spec.pipeline_name} for new data in s3://{spec.bucket}"[:256])
    try:
        lam.get_function_configuration(FunctionName=spec.function_name)
        exists = True
    except Exception as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise
        exists = False
    if exists:
        _wait_function_ready(lam, spec.function_name)
        lam.update_function_code(FunctionName=spec.function_name, ZipFile=package)
        _wait_function_ready(lam, spec.function_name)
        _retry(lambda: lam.update_function_configuration(FunctionName=spec.function_name, **settings),
               lambda e: _role_not_ready(e) or _code(e) == "ResourceConflictException")
    else:
        _retry(lambda: lam.create_function(FunctionName=spec.function_name, Code={"ZipFile": package}, **settings),
               _role_not_ready)
    out.function_arn = _wait_function_ready(lam, spec.function_name)["FunctionArn"]

    # 5. The trigger: Lambda polls the queue and reports per-message failures.
    existing = _mappings(lam, a["queue"], out.function_arn)
    mapping_settings = dict(BatchSize=spec.batch_size, Enabled=enable_mapping,
                            FunctionResponseTypes=["ReportBatchItemFailures"])
    if existing:
        mapping = _retry(lambda: lam.update_event_source_mapping(UUID=existing[0]["UUID"], **mapping_settings),
                         lambda e: _code(e) == "ResourceInUseException")
    else:
        mapping = _retry(lambda: lam.create_event_source_mapping(EventSourceArn=a["queue"],
                                                                 FunctionName=spec.function_name,
                                                                 **mapping_settings),
                         _role_not_ready)
    out.mapping_uuid, out.mapping_state = mapping["UUID"], mapping.get("State")

    # 6. Last, the bucket notification (merged with what the bucket already has).
    current = _get_notifications(s3, spec.bucket)
    queues = [c for c in current.get("QueueConfigurations", []) if c.get("Id") != spec.notification_id]
    current["QueueConfigurations"] = queues + [notification_configuration(spec, a["queue"])]
    _retry(lambda: s3.put_bucket_notification_configuration(Bucket=spec.bucket, NotificationConfiguration=current),
           lambda e: "Unable to validate" in str(e), timeout=60)
    out.notification_id = spec.notification_id
    return out


def _clients(boto_session, region):
    """The SQS, SNS, IAM, Lambda and S3 clients the trigger is made of, in that order."""
    return tuple(boto_session.client(name, region_name=region) for name in ("sqs", "sns", "iam", "lambda", "s3"))


def describe(boto_session, spec):
    """What of the trigger exists now (a :class:`Resources` with ``None`` for what is missing)."""
    place = where(boto_session)
    a = arns(spec, place)
    region = place.region
    sqs, sns, iam, lam, s3 = _clients(boto_session, region)
    out = Resources(account=place.account, region=region, bucket=spec.bucket, pipeline_arn=a["pipeline"])
    out.queue_url = _queue_url(sqs, spec.queue_name)
    out.queue_arn = a["queue"] if out.queue_url else None
    out.dlq_url = _queue_url(sqs, spec.dlq_name)
    out.dlq_arn = a["dlq"] if out.dlq_url else None
    if _topic_exists(sns, a["topic"]):
        out.topic_arn = a["topic"]
        out.subscriptions = [s["SubscriptionArn"] for s in
                             sns.list_subscriptions_by_topic(TopicArn=a["topic"])["Subscriptions"]]
    try:
        out.role_arn = iam.get_role(RoleName=spec.role_name)["Role"]["Arn"]
    except Exception as exc:
        if _code(exc) != "NoSuchEntity":
            raise
    try:
        out.function_arn = lam.get_function_configuration(FunctionName=spec.function_name)["FunctionArn"]
    except Exception as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise
    if out.queue_url:
        found = _mappings(lam, a["queue"], a["function"])
        if found:
            out.mapping_uuid, out.mapping_state = found[0]["UUID"], found[0].get("State")
    try:
        ids = {c.get("Id") for c in _get_notifications(s3, spec.bucket).get("QueueConfigurations", [])}
        out.notification_id = spec.notification_id if spec.notification_id in ids else None
    except Exception as exc:
        if _code(exc) != "NoSuchBucket":
            raise
    return out


# -- teardown ------------------------------------------------------------------------------

def _ignore_missing(call, *codes):
    try:
        call()
        return True
    except Exception as exc:
        if _code(exc) in codes or any(c in _code(exc) for c in ("NotFound", "NoSuch", "NonExistent", "DoesNotExist")):
            return False
        raise


def teardown(boto_session, spec):
    """Remove everything :func:`setup` made; returns what was removed.  Safe to run twice.

    The bucket keeps its other notification configurations.  (In AWS, a queue name can be
    used again 60 seconds after the queue is deleted.)
    """
    place = where(boto_session)
    a = arns(spec, place)
    region = place.region
    sqs, sns, iam, lam, s3 = _clients(boto_session, region)
    removed = []

    try:
        current = _get_notifications(s3, spec.bucket)
    except Exception as exc:
        if _code(exc) != "NoSuchBucket":
            raise
        current = None
    if current is not None:
        queues = current.get("QueueConfigurations", [])
        kept = [c for c in queues if c.get("Id") != spec.notification_id]
        if len(kept) != len(queues):
            current["QueueConfigurations"] = kept
            s3.put_bucket_notification_configuration(Bucket=spec.bucket, NotificationConfiguration=current)
            removed.append(f"bucket notification {spec.notification_id}")

    queue_url = _queue_url(sqs, spec.queue_name)
    if queue_url:
        for mapping in _mappings(lam, a["queue"], a["function"]):
            uuid = mapping["UUID"]
            if _ignore_missing(lambda: lam.delete_event_source_mapping(UUID=uuid), "ResourceNotFoundException"):
                removed.append(f"event source mapping {uuid}")
    if _ignore_missing(lambda: lam.delete_function(FunctionName=spec.function_name), "ResourceNotFoundException"):
        removed.append(f"function {spec.function_name}")
    try:
        logs = boto_session.client("logs", region_name=region)
        if _ignore_missing(lambda: logs.delete_log_group(logGroupName=spec.log_group), "ResourceNotFoundException"):
            removed.append(f"log group {spec.log_group}")
    except Exception as exc:  # no permission to delete logs: they expire by themselves; say so, carry on
        removed.append(f"(log group {spec.log_group} left: {exc})")

    if _ignore_missing(lambda: iam.delete_role_policy(RoleName=spec.role_name, PolicyName=spec.policy_name),
                       "NoSuchEntity"):
        removed.append(f"role policy {spec.policy_name}")
    if _ignore_missing(lambda: iam.delete_role(RoleName=spec.role_name), "NoSuchEntity"):
        removed.append(f"role {spec.role_name}")

    if _topic_exists(sns, a["topic"]):
        for sub in sns.list_subscriptions_by_topic(TopicArn=a["topic"])["Subscriptions"]:
            if sub["SubscriptionArn"].startswith("arn:"):  # "PendingConfirmation" ones go with the topic
                _ignore_missing(lambda: sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"]))
                removed.append(f"subscription {sub['Protocol']}:{sub['Endpoint']}")
        sns.delete_topic(TopicArn=a["topic"])
        removed.append(f"topic {spec.topic_name}")

    for name in (spec.queue_name, spec.dlq_name):
        url = _queue_url(sqs, name)
        if url and _ignore_missing(lambda: sqs.delete_queue(QueueUrl=url)):
            removed.append(f"queue {name}")
    return removed


# -- the simpler alternative: an EventBridge rule -----------------------------------------

def eventbridge_trigger(spec, place, input_uri=None, rule_name=None):
    """The EventBridge alternative, as documents: the rule's pattern, its target, the target's role.

    S3 sends "Object Created" events to EventBridge once the bucket has EventBridge
    notifications turned on; a rule matching this bucket, prefix and suffix targets the
    pipeline directly - no queue, no code.  But a rule target's pipeline parameters are fixed
    values: the rule cannot pass the new object's URI.  ``input_uri`` (e.g. a fixed key that
    each upload overwrites) becomes ``InputData``; without it the pipeline's default is used.
    """
    a = arns(spec, place)
    rule_name = rule_name or f"{spec.name}-new-data"
    rule_arn = f"arn:{place.partition}:events:{place.region}:{place.account}:rule/{rule_name}"
    role_name = f"{spec.name}-eventbridge-start-pipeline"

    def escape(text):  # '*' and '\' are special in EventBridge wildcard patterns
        return text.replace("\\", "\\\\").replace("*", "\\*")

    key_match = ({"wildcard": f"{escape(spec.prefix)}*{escape(spec.suffix)}"} if spec.suffix
                 else {"prefix": spec.prefix})
    pattern = {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [spec.bucket]}, "object": {"key": [key_match]}},
    }
    target = {"Id": "start-pipeline", "Arn": a["pipeline"],
              "RoleArn": f"arn:{place.partition}:iam::{place.account}:role/{role_name}",
              "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600}}
    if input_uri:
        target["SageMakerPipelineParameters"] = {
            "PipelineParameterList": [{"Name": spec.input_parameter, "Value": input_uri}]}
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": place.account},
                      "ArnEquals": {"aws:SourceArn": rule_arn}}}]}
    permissions = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sagemaker:StartPipelineExecution", "Resource": a["pipeline"]}]}
    return {"rule_name": rule_name, "rule_arn": rule_arn, "pattern": pattern, "target": target,
            "role_name": role_name, "role_trust_policy": trust, "role_permissions_policy": permissions}


def create_eventbridge_trigger(boto_session, spec, input_uri=None, rule_name=None):
    """Create (or update) the EventBridge rule, its target and role; turns on the bucket's EventBridge events."""
    place = where(boto_session)
    doc = eventbridge_trigger(spec, place, input_uri, rule_name)
    region = place.region
    iam, events = boto_session.client("iam", region_name=region), boto_session.client("events", region_name=region)
    s3 = boto_session.client("s3", region_name=region)
    try:
        iam.create_role(RoleName=doc["role_name"], AssumeRolePolicyDocument=json.dumps(doc["role_trust_policy"]))
    except Exception as exc:
        if _code(exc) != "EntityAlreadyExists":
            raise
        iam.update_assume_role_policy(RoleName=doc["role_name"], PolicyDocument=json.dumps(doc["role_trust_policy"]))
    iam.put_role_policy(RoleName=doc["role_name"], PolicyName="start-pipeline",
                        PolicyDocument=json.dumps(doc["role_permissions_policy"]))
    current = _get_notifications(s3, spec.bucket)
    current["EventBridgeConfiguration"] = {}
    s3.put_bucket_notification_configuration(Bucket=spec.bucket, NotificationConfiguration=current)
    events.put_rule(Name=doc["rule_name"], EventPattern=json.dumps(doc["pattern"]), State="ENABLED",
                    Description=f"Start {spec.pipeline_name} for new data in s3://{spec.bucket}/{spec.prefix}")
    _retry(lambda: events.put_targets(Rule=doc["rule_name"], Targets=[doc["target"]]),
           lambda e: _code(e) in ("ValidationException", "AccessDeniedException"), timeout=60)
    return doc


def delete_eventbridge_trigger(boto_session, spec, rule_name=None):
    """Remove the rule, its target and role (the bucket's EventBridge setting stays: other rules may use it)."""
    place = where(boto_session)
    doc = eventbridge_trigger(spec, place, rule_name=rule_name)
    region = place.region
    iam, events = boto_session.client("iam", region_name=region), boto_session.client("events", region_name=region)
    removed = []
    if _ignore_missing(lambda: events.describe_rule(Name=doc["rule_name"]), "ResourceNotFoundException"):
        events.remove_targets(Rule=doc["rule_name"], Ids=[doc["target"]["Id"]])
        events.delete_rule(Name=doc["rule_name"])  # (DeleteRule succeeds for a missing rule: hence describe first)
        removed.append(f"rule {doc['rule_name']} and its target")
    _ignore_missing(lambda: iam.delete_role_policy(RoleName=doc["role_name"], PolicyName="start-pipeline"),
                    "NoSuchEntity")
    if _ignore_missing(lambda: iam.delete_role(RoleName=doc["role_name"]), "NoSuchEntity"):
        removed.append(f"role {doc['role_name']}")
    return removed
