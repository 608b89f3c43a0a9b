"""AWS Lambda handler: start the SageMaker pipeline when a new data file lands in S3.

The chain (lesson outline, Step 6)::

    S3 upload --(event notification)--> SQS queue --(event source mapping)--> this function
        --> sagemaker:StartPipelineExecution (InputData = the new object's s3:// URI)
        --> sns:Publish (what was started, or why it could not be)

This file is deployed as it is: ``lab_helpers.automation.setup`` zips it as
``lambda_function.py`` (handler ``lambda_function.lambda_handler``, runtime python3.12).  It
uses the standard library and boto3 only, and imports nothing from the kit.

Configuration (the function's environment variables)
----------------------------------------------------
``PIPELINE_NAME``    the pipeline to start (name or ARN) - required
``INPUT_PARAMETER``  the pipeline parameter that receives the object's URI (default ``InputData``)
``KEY_PREFIX``       only keys starting with this start a run (default: any)
``KEY_SUFFIX``       only keys ending with this start a run (default ``.csv``; set it empty for any)
``SNS_TOPIC_ARN``    where to report what happened (optional: no report when empty)

What it does with each SQS record
---------------------------------
* body not JSON, or no bucket/key in it: logged, reported, and dropped (a retry cannot fix it);
* ``s3:TestEvent`` (S3 sends one when the bucket notification is configured): skipped;
* a key outside ``KEY_PREFIX``/``KEY_SUFFIX``, a folder marker, an empty object: skipped;
* otherwise the key is URL-decoded (S3 writes ``my data+v2.csv`` as ``my+data%2Bv2.csv``) and
  the pipeline is started with ``ClientRequestToken`` = a hash of (bucket, key, version id or
  ETag + sequencer).  SQS delivers *at least once*; when the same message comes back,
  StartPipelineExecution sees the same token and returns the execution it already started
  instead of starting a second one.

The return value is the partial batch response, ``{"batchItemFailures": [{"itemIdentifier":
<messageId>}, ...]}``: only the records whose pipeline could not be started.  With
``FunctionResponseTypes=["ReportBatchItemFailures"]`` on the event source mapping, Lambda
deletes the other messages from the queue and lets only these come back (after the queue's
visibility timeout; after ``maxReceiveCount`` attempts they move to the dead-letter queue).

The client seam
---------------
Every AWS client comes from :func:`_client`, which creates it with boto3 on first use and keeps
it in the module-level dict :data:`clients` (a warm Lambda container reuses it).  To run the
handler against something else - a test double, or the kit's offline SageMaker - put a client
in the dict first::

    import lambda_function
    lambda_function.clients["sagemaker"] = my_sagemaker_client
    lambda_function.clients["sns"] = my_sns_client
"""

import hashlib
import json
import logging
import os
import re
import urllib.parse

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

#: AWS clients by service name ("sagemaker", "sns"); filled on first use.  Tests and the kit's
#: offline runner put their own clients here before calling :func:`lambda_handler`.
clients = {}


def _client(name):
    """The boto3 client for ``name``, created once (see "The client seam" above)."""
    client = clients.get(name)
    if client is None:
        import boto3

        client = clients[name] = boto3.client(name)
    return client


class MalformedMessage(ValueError):
    """An SQS message that is not an S3 event notification; retrying it cannot help."""


# -- configuration -------------------------------------------------------------------------

def load_config(environ=None):
    """The handler's settings, from the function's environment variables."""
    env = os.environ if environ is None else environ
    pipeline = (env.get("PIPELINE_NAME") or "").strip()
    if not pipeline:
        raise RuntimeError(
            "PIPELINE_NAME is not set. Set it in the function's configuration "
            "(Configuration > Environment variables) to the name of the pipeline to start."
        )
    return {
        "pipeline_name": pipeline,
        "input_parameter": (env.get("INPUT_PARAMETER") or "InputData").strip(),
        "prefix": env.get("KEY_PREFIX", ""),
        "suffix": env.get("KEY_SUFFIX", ".csv"),
        "topic_arn": (env.get("SNS_TOPIC_ARN") or "").strip() or None,
    }


# -- reading a record ----------------------------------------------------------------------

def parse_body(body):
    """The S3 objects an SQS message body announces.

    Returns ``None`` for S3's ``s3:TestEvent``, else a list of dicts with ``bucket``, ``key``
    (URL-decoded), ``event``, ``size``, ``version_id``, ``etag``, ``sequencer``.  Raises
    :class:`MalformedMessage` when the body is not an S3 event notification.
    """
    try:
        message = json.loads(body)
    except (TypeError, ValueError):
        raise MalformedMessage("the message body is not JSON") from None
    if not isinstance(message, dict):
        raise MalformedMessage("the message body is JSON but not an object")
    if message.get("Event") == "s3:TestEvent":
        return None
    records = message.get("Records")
    if not isinstance(records, list) or not records:
        raise MalformedMessage("the message has no 'Records' list: it is not an S3 event notification")
    objects = []
    for number, record in enumerate(records):
        try:
            s3 = record["s3"]
            bucket = s3["bucket"]["name"]
            raw_key = s3["object"]["key"]
        except (KeyError, TypeError):
            raise MalformedMessage(f"Records[{number}] has no s3.bucket.name / s3.object.key") from None
        if not isinstance(bucket, str) or not isinstance(raw_key, str) or not bucket or not raw_key:
            raise MalformedMessage(f"Records[{number}] has an empty or non-text bucket name or key")
        obj = s3["object"]
        try:
            key = urllib.parse.unquote_plus(raw_key, errors="strict")
        except UnicodeDecodeError:
            raise MalformedMessage(f"Records[{number}]'s key is not URL-encoded UTF-8, as S3 writes keys") from None
        objects.append({
            "bucket": bucket,
            # S3 URL-encodes keys in notifications, with '+' for a space: unquote_plus undoes both.
            "key": key,
            "event": record.get("eventName", ""),
            "size": obj.get("size"),
            "version_id": obj.get("versionId"),
            "etag": obj.get("eTag"),
            "sequencer": obj.get("sequencer"),
        })
    return objects


#: S3's limit on an object key: 1,024 bytes of UTF-8
MAX_KEY_BYTES = 1024


def skip_reason(obj, config):
    """Why this object must not start a run, or ``None`` when it should."""
    key = obj["key"]
    if obj["event"] and not obj["event"].startswith("ObjectCreated"):
        return f"event {obj['event']} is not an object creation"
    size = len(key.encode("utf-8", "surrogatepass"))
    if size > MAX_KEY_BYTES:
        return f"key is {size} bytes long, over S3's limit of {MAX_KEY_BYTES} bytes (UTF-8): no such object can exist"

    if not key.startswith(config["prefix"]):
        return f"key is outside the prefix {config['prefix']!r}"
    if not key.endswith(config["suffix"]):
        return f"key does not end with {config['suffix']!r}"
    if key.endswith("/"):
        return "key is a folder marker"
    if obj["size"] == 0:
        return "object is empty"
    return None


def request_token(obj, fallback=""):
    """``ClientRequestToken`` for one S3 object version: the same object always gives the same token.

    It names the object version: bucket, key, and the version id (versioned buckets) or the
    ETag and the sequencer (which S3 increases with every PUT of that key).  A re-delivered
    message gives the same token; a new upload of the same key gives a new one.  SageMaker
    accepts 32-128 characters: a SHA-256 hex digest is 64.
    """
    parts = [obj["bucket"], obj["key"], obj.get("version_id") or "", obj.get("etag") or "",
             obj.get("sequencer") or ""]
    if not any(parts[2:]):
        parts.append(fallback)  # nothing names the version: fall back to the SQS message id
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def display_name(key, token):
    """A readable ``PipelineExecutionDisplayName``: letters, digits and hyphens, at most 82 characters."""
    stem = key.rsplit("/", 1)[-1]
    stem = stem.rsplit(".", 1)[0] if "." in stem[1:] else stem  # "abalone v2.csv" -> "abalone v2"
    slug = re.sub(r"[^A-Za-z0-9]+", "-", stem).strip("-") or "object"
    head = ("new-data-" + slug)[:82 - 9].rstrip("-")
    return f"{head}-{token[:8]}"


# -- acting on it --------------------------------------------------------------------------

def start_pipeline(obj, config, token):
    """Start the pipeline on one object; returns the execution ARN."""
    uri = f"s3://{obj['bucket']}/{obj['key']}"
    response = _client("sagemaker").start_pipeline_execution(
        PipelineName=config["pipeline_name"],
        PipelineExecutionDisplayName=display_name(obj["key"], token),
        PipelineExecutionDescription=f"Started by an S3 upload: {uri}"[:3072],
        PipelineParameters=[{"Name": config["input_parameter"], "Value": uri}],
        ClientRequestToken=token,
    )
    return response["PipelineExecutionArn"]


def notify(config, subject, message):
    """Publish a report to the SNS topic (if one is configured).  A failed report is logged, not raised."""
    if not config["topic_arn"]:
        return
    subject = re.sub(r"[^\x20-\x7e]", "?", subject)[:100]  # SNS subjects: printable ASCII, <= 100
    try:
        _client("sns").publish(TopicArn=config["topic_arn"], Subject=subject, Message=message)
    except Exception as exc:  # the run was started (or not) already; a lost e-mail must not undo that
        logger.warning(json.dumps({"report_not_sent": f"{type(exc).__name__}: {exc}", "subject": subject}))


def _log(outcome):
    logger.info(json.dumps(outcome, default=str))
    return outcome


def handle_record(record, config):
    """Process one SQS record; returns a list of outcome dicts (one per S3 object it names).

    Raises only when a pipeline could not be started (the record must come back).
    """
    message_id = record.get("messageId", "?")
    attempt = (record.get("attributes") or {}).get("ApproximateReceiveCount", "1")
    try:
        objects = parse_body(record.get("body"))
    except MalformedMessage as exc:
        notify(config, f"Ignored a malformed message ({config['pipeline_name']})",
               f"SQS message {message_id} was dropped: {exc}.\n\nBody (first 500 characters):\n"
               f"{str(record.get('body'))[:500]}")
        return [_log({"message": message_id, "outcome": "malformed", "reason": str(exc)})]
    if objects is None:
        return [_log({"message": message_id, "outcome": "skipped", "reason": "s3:TestEvent"})]
    outcomes, errors = [], []
    for obj in objects:
        uri = f"s3://{obj['bucket']}/{obj['key']}"
        reason = skip_reason(obj, config)
        if reason:
            outcomes.append(_log({"message": message_id, "outcome": "skipped", "uri": uri, "reason": reason}))
            continue
        token = request_token(obj, fallback=message_id)
        try:
            arn = start_pipeline(obj, config, token)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            errors.append(error)
            notify(config, f"Could not start {config['pipeline_name']}",
                   f"New data: {uri}\nPipeline: {config['pipeline_name']}\nError: {error}\n"
                   f"Attempt {attempt}; the message will be retried, then moved to the dead-letter queue.")
            outcomes.append(_log({"message": message_id, "outcome": "failed", "uri": uri, "error": error}))
            continue
        again = "" if attempt == "1" else f" (delivery {attempt})"
        notify(config, f"Started {config['pipeline_name']} for {obj['key'].rsplit('/', 1)[-1]}{again}",
               f"New data: {uri}\nPipeline: {config['pipeline_name']}\nExecution: {arn}\n"
               f"{config['input_parameter']} = {uri}\nClientRequestToken: {token}\n"
               "(A re-delivered message returns this same execution: the token makes the start idempotent.)")
        outcomes.append(_log({"message": message_id, "outcome": "started", "uri": uri, "execution": arn,
                              "token": token}))
    if errors:
        raise RecordFailed(outcomes, errors)
    return outcomes


class RecordFailed(RuntimeError):
    """At least one pipeline named by a record could not be started."""

    def __init__(self, outcomes, errors):
        super().__init__("; ".join(errors))
        self.outcomes = outcomes


def lambda_handler(event, context):
    """Entry point: one SQS batch in, the partial batch response out."""
    config = load_config()
    failures = []
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        _log({"outcome": "skipped", "reason": f"the event is not an SQS batch (no 'Records' list): {str(event)[:200]}"})
        return {"batchItemFailures": failures}
    for number, record in enumerate(records):
        message_id = record.get("messageId") if isinstance(record, dict) else None
        if not isinstance(message_id, str) or not message_id:
            # SQS always sends a dict with a messageId; without one the record cannot be retried (a
            # batchItemFailures entry without a valid id would make Lambda retry the whole batch)
            _log({"record": number, "outcome": "skipped",
                  "reason": f"Records[{number}] is not an SQS record with a messageId: {str(record)[:200]}"})
            continue
        try:
            handle_record(record, config)
        except RecordFailed:
            failures.append({"itemIdentifier": message_id})
        except Exception as exc:  # a bug or surprise in one record must not fail the others
            logger.exception(json.dumps({"message": message_id, "outcome": "failed",
                                         "error": f"{type(exc).__name__}: {exc}"}))
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}
