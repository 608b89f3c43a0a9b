"""Offline: the whole automation chain on a laptop - S3 -> SQS -> Lambda -> SageMaker -> SNS.

"Can I see the trigger work without an AWS account?"  Yes.  :class:`OfflineAutomation` runs
the *same* set-up code (:func:`lab_helpers.automation.setup.setup`) and the *same* handler
(``lambda_function.lambda_handler``) as remote mode, against an in-process AWS emulator and
the kit's local SageMaker::

    with OfflineAutomation(sess) as auto:          # emulator on, queue/topic/role/function/... created
        uri = auto.upload(data.abalone_csv())      # S3 -> notification -> message in the queue
        auto.deliver()                             # queue -> handler -> local pipeline run -> SNS
        auto.notifications()                       # what the handler published

Who plays which part
--------------------
* **S3 (where the upload lands), SQS, SNS, IAM, Lambda's control plane**: `moto`, an AWS
  emulator (``moto.mock_aws``).  moto delivers the bucket notification to the queue itself,
  including the ``s3:TestEvent`` S3 sends when the notification is configured.
* **Lambda's poller** (the event source mapping): the kit, in :meth:`OfflineAutomation.deliver`.
  It receives up to ``BatchSize`` messages, builds the event Lambda sends (``Records`` with
  ``messageId``, ``receiptHandle``, ``body``, ``attributes``, ``eventSourceARN``, ...), calls
  the handler with the function's deployed environment variables, then deletes the messages
  that did not fail and leaves the failed ones in the queue, as Lambda does with
  ``ReportBatchItemFailures``.  (moto would run the function in a Docker container, so the
  mapping is created disabled in moto and the kit does the polling.)
* **SageMaker**: the kit's local engine.  The handler's ``sagemaker`` client is the local
  session's (injected through ``lambda_function.clients``), so StartPipelineExecution runs the
  pipeline - synchronously, inside the call - and the execution is listed in the local
  control plane like any other.
* **The data**: the upload lands in moto's S3 (that is what fires the notification); the local
  pipeline reads the kit's S3 folder.  Before each batch, :meth:`deliver` copies every object a
  message names from moto's S3 to the same bucket and key in the kit's S3 - the one step that
  has no counterpart in AWS, where there is only one S3.

Differences from AWS: delivery happens when you call :meth:`deliver` (AWS polls continuously);
the pipeline run finishes before the handler returns (in AWS, StartPipelineExecution returns at
once); IAM policies are stored but not enforced; the e-mail subscription stays "pending"; the
emulator's notifications carry no ``sequencer`` (so re-uploading identical bytes to the same key
gives the same ``ClientRequestToken`` offline, where AWS would start a new run) and encode ``/``
in keys as ``%2F``.  While the emulator runs, use the session you passed in (it is isolated from
the emulator, see :func:`isolate_local_session`) rather than a new ``lab_helpers.session()``.
"""

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from ..local.images.lambda_python import LambdaContext, call_handler
from . import lambda_function as handler_module
from .setup import TriggerSpec, code_sha256, function_zip, setup, teardown


def isolate_local_session(sess):
    """Keep a local session's AWS calls away from the emulator.

    The emulator hooks into *every* boto3 session created after it is imported: it adds a
    ``before-send`` handler to botocore's built-in handlers.  botocore calls every
    ``before-send`` handler and uses the first answer - so even when the kit answers a local
    session's request, the emulator would act on it too (a local S3 upload would also land in
    the emulator's bucket and fire its notification).  This removes those foreign handlers
    from the session and from the clients it already made; the kit's own handler stays and
    answers everything, as in local mode without the emulator.
    """
    from botocore.handlers import BUILTIN_HANDLERS

    foreign = [spec[1] for spec in BUILTIN_HANDLERS if spec[0] == "before-send"]
    emitters = [sess.boto_session.events]
    for value in list(vars(sess).values()):
        for candidate in (value, getattr(getattr(value, "meta", None), "client", None)):
            events = getattr(getattr(candidate, "meta", None), "events", None)
            if events is not None and hasattr(events, "unregister"):
                emitters.append(events)
    for events in emitters:
        for handler in foreign:
            events.unregister("before-send", handler)


@dataclass
class Delivery:
    """One batch handed to the handler, and what became of it."""

    messages: List[str]
    event: dict
    response: Optional[dict]
    error: Optional[str]
    deleted: List[str] = field(default_factory=list)
    failed: List[str] = field(default_factory=list)
    log: List[str] = field(default_factory=list)   # the function's log lines (CloudWatch Logs in AWS)

    def __repr__(self):
        return (f"<Delivery {len(self.messages)} message(s): {len(self.deleted)} done, "
                f"{len(self.failed)} failed{', error: ' + self.error if self.error else ''}>")


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def _lambda_record(message, queue_arn, region):
    """An SQS message as Lambda's event source mapping presents it to the function."""
    attributes = {}
    for name, value in (message.get("MessageAttributes") or {}).items():
        attributes[name] = {
            "stringValue": value.get("StringValue"), "binaryValue": value.get("BinaryValue"),
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": value.get("BinaryListValues", []), "dataType": value.get("DataType"),
        }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": attributes,
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class OfflineAutomation:
    """The automation chain, offline (see the module docstring).  Use ``with``, or ``start()``/``stop()``.

    ``sess`` is a local session (``lab_helpers.session("local")``) in which the pipeline has
    been upserted; ``spec`` a :class:`TriggerSpec` (default: the kit's bucket, the abalone
    pipeline, prefix ``pipelines-lab/incoming/``, suffix ``.csv``).
    """

    def __init__(self, sess, spec=None, **spec_fields):
        from ..sessions import mode_of

        if mode_of(sess) != "local":
            raise ValueError("OfflineAutomation needs a local session (lab_helpers.session('local')); in remote "
                             "mode use lab_helpers.automation.setup(...) with your AWS account.")
        if spec is None:
            from ..pipelines import ABALONE_PIPELINE

            spec_fields.setdefault("pipeline_name", ABALONE_PIPELINE)
            spec = TriggerSpec(bucket=sess.default_bucket(), **spec_fields)
        self.sess = sess
        self.spec = spec
        self.region = sess.boto_region_name
        self.aws = None          # the emulator's boto3 session (set by start)
        self.resources = None    # what setup() made
        self._mock = None
        self._notes = []

    # -- life cycle ----------------------------------------------------------------------
    def start(self):
        """Start the emulator and run the set-up (the same :func:`setup` as remote mode)."""
        import boto3
        from moto import mock_aws

        if self._mock is not None:
            return self
        isolate_local_session(self.sess)
        logging.getLogger("botocore.credentials").setLevel(logging.WARNING)  # "found credentials" = the emulator's
        self._saved_account = os.environ.get("MOTO_ACCOUNT_ID")
        os.environ["MOTO_ACCOUNT_ID"] = self.sess.cloud.account  # the emulator's account = local mode's
        self._mock = mock_aws()
        self._mock.start()
        try:
            self.aws = boto3.Session(region_name=self.region)
            s3 = self.aws.client("s3")
            location = {} if self.region == "us-east-1" else {
                "CreateBucketConfiguration": {"LocationConstraint": self.region}}
            s3.create_bucket(Bucket=self.spec.bucket, **location)
            self.resources = setup(self.aws, self.spec, enable_mapping=False)
            self._subscribe_inbox()
            self._local_sagemaker = self.sess.boto_session.client("sagemaker", region_name=self.region)
            self._local_s3 = self.sess.boto_session.client("s3", region_name=self.region)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        """Tear everything down (the same :func:`teardown` as remote mode) and stop the emulator.

        The pipeline executions stay: they live in the kit's local control plane.
        """
        if self._mock is None:
            return []
        removed = []
        try:
            if self.resources is not None:
                removed = teardown(self.aws, self.spec)
                inbox = self._inbox_url()
                if inbox:
                    self.aws.client("sqs").delete_queue(QueueUrl=inbox)
                    removed.append(f"queue {self.inbox_name} (the offline inbox)")
        finally:
            self._mock.stop()
            self._mock = None
            if self._saved_account is None:
                os.environ.pop("MOTO_ACCOUNT_ID", None)
            else:
                os.environ["MOTO_ACCOUNT_ID"] = self._saved_account
        return removed

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- the inbox: reading what the handler published ------------------------------------
    @property
    def inbox_name(self):
        """The SQS queue subscribed to the topic in place of an e-mail address."""
        return f"{self.spec.name}-inbox"

    def _inbox_url(self):
        try:
            return self.aws.client("sqs").get_queue_url(QueueName=self.inbox_name)["QueueUrl"]
        except Exception:
            return None

    def _subscribe_inbox(self):
        """Offline there is no e-mail: an SQS queue subscribed to the topic receives the reports instead."""
        sqs, sns = self.aws.client("sqs"), self.aws.client("sns")
        url = sqs.create_queue(QueueName=self.inbox_name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
                "Resource": arn, "Condition": {"ArnEquals": {"aws:SourceArn": self.resources.topic_arn}}}]})})
        sns.subscribe(TopicArn=self.resources.topic_arn, Protocol="sqs", Endpoint=arn)

    def notifications(self):
        """Every report the handler published to the SNS topic so far: dicts with subject, message, timestamp."""
        self._require_started()
        sqs = self.aws.client("sqs")
        url = self._inbox_url()
        while url:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
            if not batch:
                break
            for message in batch:
                envelope = json.loads(message["Body"])
                self._notes.append({"subject": envelope.get("Subject"), "message": envelope.get("Message"),
                                    "timestamp": envelope.get("Timestamp")})
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return list(self._notes)

    # -- the data ------------------------------------------------------------------------
    def upload(self, source, key=None, content_type="text/csv"):
        """Upload a file (path) or bytes to the watched bucket - the emulator's S3; returns its ``s3://`` URI.

        ``key`` defaults to the watched prefix plus the file's name.  The bucket notification
        fires during this call: the message is in the queue when it returns.
        """
        self._require_started()
        if isinstance(source, (bytes, bytearray)):
            body = bytes(source)
            if key is None:
                raise ValueError("Give a key when uploading bytes.")
        else:
            body = Path(source).read_bytes()
            key = key or self.spec.prefix + Path(source).name
        self.aws.client("s3").put_object(Bucket=self.spec.bucket, Key=key, Body=body, ContentType=content_type)
        return f"s3://{self.spec.bucket}/{key}"

    def _mirror(self, bucket, key):
        """Copy s3://bucket/key from the emulator's S3 to the kit's local S3 (the local pipeline reads there)."""
        try:
            obj = self.aws.client("s3").get_object(Bucket=bucket, Key=key)
        except Exception:
            return False  # gone already: the pipeline will fail to read it, as it would in AWS
        body = obj["Body"].read()
        try:
            self._local_s3.head_bucket(Bucket=bucket)
        except Exception:
            self._local_s3.create_bucket(Bucket=bucket)
        self._local_s3.put_object(Bucket=bucket, Key=key, Body=body,
                                  ContentType=obj.get("ContentType") or "binary/octet-stream")
        return True

    # -- Lambda's poller -----------------------------------------------------------------
    def queue_depth(self):
        """Messages in the queue: ``{"visible": n, "in_flight": n}`` (in flight = received, not yet deleted)."""
        self._require_started()
        attrs = self.aws.client("sqs").get_queue_attributes(
            QueueUrl=self.resources.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return {"visible": int(attrs["ApproximateNumberOfMessages"]),
                "in_flight": int(attrs["ApproximateNumberOfMessagesNotVisible"])}

    def deliver(self, max_batches=10, release_failed=False):
        """Hand the queued messages to the handler as Lambda's event source mapping does; returns the batches.

        Per batch: receive up to the mapping's ``BatchSize`` messages, copy the objects they
        name into the kit's S3, call ``lambda_handler(event, context)`` with the function's
        deployed environment, then delete the messages that succeeded.  Failed messages stay in
        the queue, invisible until the queue's visibility timeout passes (then they come back;
        after ``maxReceiveCount`` receives they move to the dead-letter queue).
        ``release_failed=True`` makes them visible again when this call ends, as if that time had
        passed, so the next ``deliver()`` retries them.
        """
        self._require_started()
        lam, sqs = self.aws.client("lambda"), self.aws.client("sqs")
        mapping = lam.get_event_source_mapping(UUID=self.resources.mapping_uuid)
        configuration = lam.get_function_configuration(FunctionName=self.spec.function_name)
        if configuration["CodeSha256"] != code_sha256(function_zip()):
            raise RuntimeError(f"The deployed code of {self.spec.function_name} is not the kit's lambda_function.py: "
                               "run set-up again (stop() and start()).")
        environment = (configuration.get("Environment") or {}).get("Variables") or {}
        batch_size = int(mapping.get("BatchSize") or 10)
        partial = "ReportBatchItemFailures" in (mapping.get("FunctionResponseTypes") or [])
        deliveries, held = [], []
        for _ in range(max_batches):
            messages = []
            while len(messages) < batch_size:
                got = sqs.receive_message(QueueUrl=self.resources.queue_url,
                                          MaxNumberOfMessages=min(10, batch_size - len(messages)),
                                          AttributeNames=["All"], MessageAttributeNames=["All"],
                                          WaitTimeSeconds=0).get("Messages", [])
                if not got:
                    break
                messages += got
            if not messages:
                break
            event = {"Records": [_lambda_record(m, mapping["EventSourceArn"], self.region) for m in messages]}
            self._bridge(event)
            delivery = self._invoke(event, configuration, environment)
            ids = [r["messageId"] for r in event["Records"]]
            delivery.failed = self._failed_ids(delivery, ids, partial)
            done = [r for r in event["Records"] if r["messageId"] not in delivery.failed]
            for start in range(0, len(done), 10):
                chunk = done[start:start + 10]
                sqs.delete_message_batch(QueueUrl=self.resources.queue_url, Entries=[
                    {"Id": str(n), "ReceiptHandle": r["receiptHandle"]} for n, r in enumerate(chunk)])
            delivery.deleted = [r["messageId"] for r in done]
            held += [r["receiptHandle"] for r in event["Records"] if r["messageId"] in delivery.failed]
            deliveries.append(delivery)
        if release_failed:  # after the loop, so this call does not receive them again
            for handle in held:
                sqs.change_message_visibility(QueueUrl=self.resources.queue_url, ReceiptHandle=handle,
                                              VisibilityTimeout=0)
        return deliveries

    @staticmethod
    def _failed_ids(delivery, ids, partial):
        """Which messages Lambda would leave in the queue, from the handler's outcome."""
        if delivery.error is not None:
            return list(ids)            # the function failed: the whole batch comes back
        if not partial:
            return []                   # without ReportBatchItemFailures the response is ignored
        items = (delivery.response or {}).get("batchItemFailures") or []
        failed = [item.get("itemIdentifier") if isinstance(item, dict) else None for item in items]
        if any(f not in ids for f in failed):
            return list(ids)            # an invalid identifier: Lambda treats the batch as failed
        return failed

    def _bridge(self, event):
        for record in event["Records"]:
            try:
                objects = handler_module.parse_body(record["body"])
            except handler_module.MalformedMessage:
                continue
            for obj in objects or []:
                self._mirror(obj["bucket"], obj["key"])

    def _invoke(self, event, configuration, environment):
        """Call the handler as the Lambda runtime would (the kit's one way: ``call_handler``), with the kit's clients."""
        saved_clients = dict(handler_module.clients)
        capture = _Capture()  # the function's log (CloudWatch Logs in AWS) goes to Delivery.log only
        handler_module.logger.addHandler(capture)
        propagate, handler_module.logger.propagate = handler_module.logger.propagate, False
        handler_module.clients.clear()
        handler_module.clients.update({"sagemaker": self._local_sagemaker, "sns": self.aws.client("sns")})
        try:
            response, error = call_handler(handler_module.lambda_handler, event, LambdaContext(configuration),
                                           environment)
        finally:
            handler_module.logger.removeHandler(capture)
            handler_module.logger.propagate = propagate
            handler_module.clients.clear()
            handler_module.clients.update(saved_clients)
        return Delivery(messages=[r["messageId"] for r in event["Records"]], event=event, response=response,
                        error=None if error is None else f"{error['errorType']}: {error['errorMessage']}",
                        log=capture.lines)

    def _require_started(self):
        if self._mock is None:
            raise RuntimeError("The offline automation is not running: call start() "
                               "(or use `with OfflineAutomation(...) as auto:`).")
