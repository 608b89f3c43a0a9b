# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 08 · Automating the pipeline: run it when new data arrives
#
# Nobody should have to press "start" when a new data file lands in S3. Here you wire S3 to the pipeline
# (outline Step 6): the upload sends a message to a queue, a Lambda function starts the pipeline on that file
# and e-mails what it did.
#
# **What you will learn**
#
# - the chain S3 → SQS → Lambda → SageMaker Pipelines → SNS, and what each link adds;
# - the three IAM documents it needs, and why each condition and each resource is there;
# - what real message traffic looks like and how the function copes: the `s3:TestEvent`, URL-encoded keys,
#   messages delivered twice (`ClientRequestToken`), malformed messages, and partial batch failures
#   (`ReportBatchItemFailures` and a dead-letter queue);
# - the simpler alternative, an EventBridge rule that targets the pipeline, and when to prefer each;
# - how to set all of it up and tear it down with code, repeatably.
#
# **Prerequisites:** notebook 06 (this notebook creates the abalone pipeline itself if it is missing).
# **Time:** about 25 minutes. **Cost:** local mode is free. Remote mode: the queue, topic and function cost
# fractions of a cent (all within the AWS free tier); the upload starts one abalone pipeline run (about
# $0.06, 15–20 minutes). Remote set-up creates an IAM role, so it needs permissions a Studio execution role
# usually lacks (`iam:CreateRole`, `iam:PutRolePolicy`, `lambda:*`, `sqs:*`, `sns:*`,
# `s3:PutBucketNotification`): run it with an administrator's credentials or ask yours.

# %% [markdown]
# ## Setup
#
# You import the kit, its automation helpers (`setup` builds and removes the AWS resources, `lambda_function`
# is the code that runs in Lambda) and the standard modules the cells use.

# %%
# KERNEL CHECK

import inspect
import json
import time
import urllib.parse

import lab_helpers
from lab_helpers import data, pipelines
from lab_helpers.automation import lambda_function
from lab_helpers.automation.setup import (TriggerSpec, arns, describe, eventbridge_trigger,
                                          lambda_permissions_policy, lambda_trust_policy, queue_policy,
                                          setup, teardown, where)

# %% [markdown]
# The notebook's parameters: the mode, and (remote mode) an e-mail address for the reports. AWS sends it a
# confirmation link first; reports arrive once you have clicked it.

# %% tags=["parameters"]
MODE: str = ""  # "local" | "remote" | "" for automatic (LAB_MODE, else remote in Studio, local elsewhere)
EMAIL: str = ""  # remote mode: the address that receives the function's reports; empty: no e-mail

# %% [markdown]
# Open the session, as in every notebook.

# %%
sess = lab_helpers.session(MODE or None)
role = lab_helpers.execution_role(sess)
bucket = sess.default_bucket()
mode = lab_helpers.mode_of(sess)
print(f"Mode: {mode} · region {sess.boto_region_name} · bucket {bucket}")

# %% [markdown]
# ## 1. The chain, link by link
#
# ```
#  upload s3://<bucket>/pipelines-lab/incoming/new.csv
#     │  bucket notification: object created, prefix "pipelines-lab/incoming/", suffix ".csv"
#     ▼
#  SQS queue  ── after 5 failed attempts ──▶  dead-letter queue
#     │  event source mapping: Lambda polls, batches of up to 10, ReportBatchItemFailures
#     ▼
#  Lambda function ── StartPipelineExecution(InputData = s3://…/new.csv) ──▶  AbalonePipeline
#     └── Publish ──▶ SNS topic ──▶ your e-mail
# ```
#
# - **The bucket notification** filters: only new `.csv` files under the prefix send a message.
# - **The queue** holds messages until they are processed: if the function or SageMaker has a bad minute, the
#   message waits and is retried, and after five failures it moves to the **dead-letter queue** for a human.
# - **The function** is where your logic goes: which files count, what the run is called, what the pipeline
#   receives, who is told.
# - **The topic** tells people (e-mail) or other systems what happened.

# %% [markdown]
# ## 2. The pipeline to start
#
# The function starts the abalone pipeline from notebook 06 and passes the new file's URI as its `InputData`
# parameter. `upsert` creates the pipeline, or changes nothing if it exists.

# %%
pipeline = pipelines.abalone_pipeline(sess)
pipeline.upsert(role_arn=role)
input_data = next(p for p in pipeline.parameters if p.name == "InputData")
print(pipeline.name, "· InputData default:", input_data.default_value)

# %% [markdown]
# ## 3. What to watch, and where it all lives
#
# A `TriggerSpec` names the bucket, the prefix and suffix to watch, and the pipeline; every resource name
# derives from it. The prefix ends in `/`: it names a folder, so `incoming-old/` is not under it.
# `where` asks STS for the account and takes the region from the session: nothing
# account-specific is typed in (the outline's policy had an account id and a bucket typed by hand).

# %%
spec = TriggerSpec(bucket=bucket, pipeline_name=pipeline.name, email=EMAIL or None)
place = where(sess.boto_session)
names = arns(spec, place)
print(f"Watching s3://{spec.bucket}/{spec.prefix}*{spec.suffix} in account {place.account}, {place.region}")
print(json.dumps(names, indent=2))

# %% [markdown]
# ## 4. The queue policy: who may send messages
#
# A queue accepts messages only from those its policy allows. S3 sends as the service principal
# `s3.amazonaws.com`, so the policy allows that principal to `sqs:SendMessage` to *this* queue — but a
# principal is every bucket of every AWS customer. Two conditions narrow it to yours:
#
# - `aws:SourceArn` must be your bucket's ARN: no other bucket can fill the queue;
# - `aws:SourceAccount` must be your account: bucket names are global, so if you deleted the bucket and
#   someone else created one with its name, their events would still not get in (the "confused deputy").
#
# **Exercise:** write the `Condition` block.

# %%
# EXERCISE: Build the Condition: ArnLike aws:SourceArn = names["bucket"], StringEquals aws:SourceAccount = place.account.
condition = {
    "ArnLike": {"aws:SourceArn": names["bucket"]},
    "StringEquals": {"aws:SourceAccount": place.account},
}
# END EXERCISE
policy = queue_policy(names["queue"], names["bucket"], place.account)
assert condition == policy["Statement"][0]["Condition"], (
    f"Not the same as the kit's condition: {policy['Statement'][0]['Condition']}. Check both keys and values.")
print(json.dumps(policy, indent=2))

# %% [markdown]
# ## 5. The function's role: exactly its job, nothing more
#
# The function runs as an IAM role. The **trust policy** says who may take the role: only the Lambda service.

# %%
print(json.dumps(lambda_trust_policy(), indent=2))

# %% [markdown]
# The **permissions policy** is least privilege: each action on one named resource. If the function's code
# had a bug — or someone changed it — it could start *this* pipeline, read *this* queue and publish to *this*
# topic, and nothing else: not another pipeline, not your data, not other queues. The one `*` is the name of a
# log stream, which Lambda picks at run time, and it is confined to the function's own log group.
#
# (The outline asked for "permits the execution of SageMaker pipelines, receiveMessage from SQS and
# publishMessage to SNS". The AWS managed policies that grant that — `AmazonSageMakerFullAccess`,
# `AmazonSQSFullAccess`, `AmazonSNSFullAccess` — would allow the function to delete every model and queue in
# the account.)

# %%
permissions = lambda_permissions_policy(names["pipeline"], names["queue"], names["topic"], names["log_group"])
print(json.dumps(permissions, indent=2))
wildcards = [s["Resource"] for s in permissions["Statement"] if "*" in json.dumps(s["Resource"])]
assert wildcards == [names["log_group"] + ":log-stream:*"], f"Unexpected wildcard resources: {wildcards}"

# %% [markdown]
# ## 6. The function's code
#
# The handler is a real file in the kit, `lab_helpers/automation/lambda_function.py`, deployed as it is
# (standard library and boto3 only, as in Lambda's Python runtime). Its entry point takes one batch of SQS
# messages and returns the ones that failed:

# %%
print(inspect.getsource(lambda_function.lambda_handler))

# %% [markdown]
# Real traffic has surprises, and each one has a line of code:
#
# - **`s3:TestEvent`.** When you configure the bucket notification, S3 sends one test message. It names no
#   object; the function skips it.
# - **URL-encoded keys.** S3 writes the key in the message URL-encoded with `+` for a space. The file
#   `abalone 2024+new.csv` arrives as `abalone+2024%2Bnew.csv`; `unquote_plus` turns it back. Without that,
#   the pipeline would be given a URI that does not exist.
# - **Duplicates.** SQS delivers *at least once*, and S3 may send an event twice. The function passes a
#   `ClientRequestToken` derived from the object (bucket, key, version id or ETag and sequencer), and
#   StartPipelineExecution is idempotent on it: the same token returns the execution already started.
# - **Malformed messages** (not JSON, no bucket or key) are reported and dropped: no retry can fix them, and
#   they must not block the good messages in the same batch.

# %%
raw = urllib.parse.quote_plus(f"{spec.prefix}abalone 2024+new.csv", safe="/")
print("in the message:", raw)
print("decoded:       ", urllib.parse.unquote_plus(raw))
print(inspect.getsource(lambda_function.request_token))

# %% [markdown]
# The bucket notification already filters by prefix and suffix, and the function checks again (the queue
# could receive other messages, and a folder marker such as `incoming/` is an object too).
#
# **Exercise:** write the key filter: `True` only for keys under the prefix that end with the suffix and are
# not folder markers (keys ending in `/`).

# %%
def should_start(key, prefix, suffix):
    # EXERCISE: Return True only if key starts with prefix, ends with suffix, and does not end with "/".
    return key.startswith(prefix) and key.endswith(suffix) and not key.endswith("/")
    # END EXERCISE


config = {"prefix": spec.prefix, "suffix": spec.suffix}
for key in [f"{spec.prefix}abalone 2024+new.csv", f"{spec.prefix}notes.txt", "pipelines-lab/data/abalone.csv",
            f"{spec.prefix}archive/", f"{spec.prefix}archive/old.csv"]:
    handler_says = lambda_function.skip_reason({"key": key, "event": "ObjectCreated:Put", "size": 1}, config) is None
    assert should_start(key, spec.prefix, spec.suffix) == handler_says, f"should_start({key!r}) is wrong."
    print(f"{key:45} {'start' if handler_says else 'skip'}")
# A folder marker must be skipped even when any suffix is accepted, and a prefix matches whole folders only.
assert not should_start(f"{spec.prefix}archive/", spec.prefix, ""), (
    f"should_start({spec.prefix + 'archive/'!r}, suffix='') is True: a key ending in '/' is a folder marker; "
    "return False for it (and not key.endswith('/'))."
)
sibling = spec.prefix.rstrip("/") + "-old/abalone.csv"
assert not should_start(sibling, spec.prefix, spec.suffix), (
    f"should_start({sibling!r}) is True: compare with the whole prefix, trailing '/' included "
    f"(key.startswith({spec.prefix!r})), so a sibling folder does not match."
)

# %% [markdown]
# ## 7. Set it up
#
# `setup` creates (or updates) everything, in the order AWS needs: the queues with the policy, the topic, the
# role, the function (zipped from `lambda_function.py`), the event source mapping with
# `FunctionResponseTypes=["ReportBatchItemFailures"]`, and last the bucket notification (merged with any the
# bucket already has). Run it twice and nothing is duplicated.
#
# In **remote mode** it runs against your account:

# %% tags=["remote-only"]
if lab_helpers.mode_of(sess) == "remote":
    aws = sess.boto_session
    auto = None
    resources = setup(aws, spec)

# %% [markdown]
# In **local mode** the same `setup` runs against *moto*, an AWS emulator, inside `OfflineAutomation`. The
# emulator plays S3 (where your upload lands), SQS, SNS, IAM and Lambda's control plane; the kit plays Lambda's
# poller, and the handler's SageMaker client is the local session's, so the pipeline really runs. (An SQS
# queue subscribed to the topic stands in for your e-mail.)

# %%
if lab_helpers.mode_of(sess) == "local":
    from lab_helpers.automation.offline import OfflineAutomation

    auto = OfflineAutomation(sess, spec).start()
    aws = auto.aws
    resources = auto.resources

# %% [markdown]
# What exists now — in your account or in the emulator. In local mode the event source mapping is `Disabled`
# in the emulator: the kit's `deliver()` does its polling (the emulator would run the function in Docker).

# %%
for name, value in resources.summary().items():
    print(f"{name:16} {value}")
notification = aws.client("s3").get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
print(json.dumps([c for c in notification if c["Id"] == spec.notification_id], indent=2))

# %% [markdown]
# Checkpoint: the queue carries the policy from section 4, and the mapping reports partial batch failures.

# %%
attributes = aws.client("sqs").get_queue_attributes(QueueUrl=resources.queue_url, AttributeNames=["Policy"])
stored = json.loads(attributes["Attributes"]["Policy"])["Statement"][0]
assert stored["Resource"] == names["queue"] and stored["Condition"] == condition, "Run setup(...) again."
mapping = aws.client("lambda").get_event_source_mapping(UUID=resources.mapping_uuid)
assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"], "Run setup(...) again."
print("queue policy and event source mapping: OK")

# %% [markdown]
# ## 8. New data arrives
#
# You upload a copy of the abalone data under the watched prefix, with a space and a `+` in its name.

# %%
key = f"{spec.prefix}abalone 2024+new.csv"
uri = f"s3://{bucket}/{key}"
if auto is not None:
    auto.upload(data.abalone_csv(), key)
else:
    aws.client("s3").upload_file(str(data.abalone_csv()), bucket, key)
print("uploaded", uri)

# %% [markdown]
# Offline you can look into the queue before the function does (in AWS, Lambda takes the messages within
# seconds). There are two: the `s3:TestEvent` from the set-up, and your upload with its URL-encoded key.
# (`VisibilityTimeout=0` puts them back at once. The emulator also encodes `/` as `%2F`, which S3 does not;
# `unquote_plus` decodes both.)

# %%
if auto is not None:
    peek = aws.client("sqs").receive_message(QueueUrl=resources.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    for message in peek["Messages"]:
        body = json.loads(message["Body"])
        print(body.get("Event") or body["Records"][0]["s3"]["object"]["key"])

# %% [markdown]
# Now the messages reach the function. Offline, `deliver()` does what Lambda's event source mapping does:
# receive a batch, copy the objects it names from the emulator's S3 into the kit's S3 (the local pipeline reads
# there — the one step AWS does not need), call `lambda_handler`, and delete the messages that did not fail.
# The function starts the pipeline and returns; the execution runs in the background, in both modes. In remote
# mode you also wait until the execution appears (Lambda polls the queue on its own).

# %% tags=["needs-aws"]
if auto is not None:
    deliveries = auto.deliver()
    for delivery in deliveries:
        print(delivery, *delivery.log, sep="\n  ")
else:
    for _ in range(30):  # Lambda polls continuously: the run should appear within a minute
        started = [e for e in sess.sagemaker_client.list_pipeline_executions(PipelineName=pipeline.name)[
            "PipelineExecutionSummaries"] if uri in e.get("PipelineExecutionDescription", "")]
        if started:
            break
        time.sleep(10)

# %% [markdown]
# ## 9. The execution it started
#
# You list the pipeline's executions and keep those whose `InputData` parameter is the uploaded file. In remote
# mode the execution is `Executing` for the next 15–20 minutes (watch it in Studio, or with notebook 07).

# %%
def executions_for(input_uri):
    found = []
    summaries = sess.sagemaker_client.list_pipeline_executions(PipelineName=pipeline.name)["PipelineExecutionSummaries"]
    for summary in summaries:
        params = sess.sagemaker_client.list_pipeline_parameters_for_execution(
            PipelineExecutionArn=summary["PipelineExecutionArn"])["PipelineParameters"]
        if {p["Name"]: p["Value"] for p in params}.get("InputData") == input_uri:
            found.append(summary)
    return found


runs = executions_for(uri)
if auto is not None:  # offline it takes seconds: wait for it, step by step, and list it again
    for run in runs:
        lab_helpers.monitor.wait_with_progress(run["PipelineExecutionArn"], sess=sess)
    runs = executions_for(uri)
for run in runs:
    print(run["PipelineExecutionDisplayName"], run["PipelineExecutionStatus"], run["PipelineExecutionArn"])

# %% [markdown]
# Checkpoint: exactly one execution ran on the uploaded file.

# %% tags=["needs-aws"]
assert len(runs) == 1, f"Expected one execution with InputData = {uri}, found {len(runs)}."
if auto is not None:
    assert runs[0]["PipelineExecutionStatus"] == "Succeeded", runs[0]

# %% [markdown]
# ## 10. The report
#
# The function published what it started. In remote mode it is in your inbox (if you gave `EMAIL` and
# confirmed the subscription); offline you read it from the queue that stands in for the e-mail.

# %%
if auto is not None:
    for note in auto.notifications():
        print(note["subject"], note["message"], sep="\n", end="\n\n")
else:
    print("Look in the inbox of", EMAIL or "... nobody: you gave no EMAIL (the function's CloudWatch log has it too).")

# %% [markdown]
# ## 11. Duplicates, malformed messages and a failed start (offline)
#
# Three things that happen in production, played offline in one batch — without a second pipeline run:
#
# 1. the upload's message arrives **again** (at-least-once delivery);
# 2. a **malformed** message (`hello`) arrives;
# 3. and SageMaker refuses to start: you point the function at a pipeline that does not exist.
#
# With `ReportBatchItemFailures`, the function returns only the failed message's id: the malformed message is
# dropped (and reported), and the failed one stays in the queue for a retry. Without it, Lambda would treat a
# batch as all-or-nothing and retry the good messages too.

# %%
if auto is not None:
    lam, sqs = aws.client("lambda"), aws.client("sqs")
    deployed = lam.get_function_configuration(FunctionName=spec.function_name)["Environment"]["Variables"]
    lam.update_function_configuration(FunctionName=spec.function_name,
                                      Environment={"Variables": {**deployed, "PIPELINE_NAME": "NoSuchPipeline"}})
    upload_body = next(r["body"] for d in deliveries for r in d.event["Records"] if key.split("/")[-1][:7] in r["body"])
    sqs.send_message(QueueUrl=resources.queue_url, MessageBody=upload_body)
    sqs.send_message(QueueUrl=resources.queue_url, MessageBody="hello")
    (broken,) = auto.deliver(release_failed=True)
    print(broken, f"response: {broken.response}", *broken.log, sep="\n  ")

# %% [markdown]
# You repair the configuration, and the retried message goes through. Its token is the one from section 8,
# so StartPipelineExecution returns the execution that already ran: still one execution for the file. (The
# report says "Started" again, marked "delivery 2": the function cannot tell a new execution from a returned
# one without a permission to read executions, which it does not need otherwise.)

# %%
if auto is not None:
    lam.update_function_configuration(FunctionName=spec.function_name, Environment={"Variables": deployed})
    (retry,) = auto.deliver()
    print(retry, *retry.log, sep="\n  ")
    assert len(executions_for(uri)) == 1, "The duplicate started a second execution: check the ClientRequestToken."
    print("executions for the file:", len(executions_for(uri)))
    print("reports:", *[note["subject"] for note in auto.notifications()], sep="\n  ")

# %% [markdown]
# ## 12. The simpler alternative: an EventBridge rule
#
# S3 can also send its events to Amazon EventBridge (turn on **Amazon EventBridge** in the bucket's
# **Properties → Event notifications**). A rule matches "Object Created" events for your bucket and keys and
# starts the pipeline directly — SageMaker Pipelines is a native EventBridge target, with a role EventBridge
# assumes. No queue, no function, no code:

# %%
rule = eventbridge_trigger(spec, place, input_uri=f"s3://{bucket}/{spec.prefix}latest.csv")
print(json.dumps({"EventPattern": rule["pattern"], "Target": rule["target"]}, indent=2))

# %% [markdown]
# The catch is in the target: its pipeline parameters are **fixed values**. The rule cannot pass the new
# object's URI, so the pipeline must read a fixed location (here each upload overwrites `latest.csv`).
#
# | | EventBridge rule | S3 → SQS → Lambda |
# |---|---|---|
# | code to maintain | none | a small function |
# | pipeline receives the new file's URI | no (fixed parameters) | yes |
# | custom filtering beyond prefix/suffix patterns | no | any logic |
# | report to people (SNS/e-mail) | add another target | in the function |
# | duplicates | may start two runs | `ClientRequestToken` dedupes |
# | batching, retries, dead-letter queue | retry policy and DLQ per target | SQS batches, partial failures, DLQ |
#
# Prefer **EventBridge** when "something arrived, run the pipeline on its folder" is enough. Prefer
# **SQS + Lambda** when the run must know which file arrived, when you need your own rules or notifications,
# or when bursts of uploads must be batched, retried and deduplicated. (`create_eventbridge_trigger` and
# `delete_eventbridge_trigger` in the kit set it up; do not run both triggers on the same prefix, or each
# upload starts two runs.)

# %% [markdown]
# ## Clean up
#
# `teardown` removes everything `setup` made — the bucket notification (others stay), the mapping, the
# function and its log group, the role, the topic and its subscriptions, both queues — and is safe to run
# twice. The executions stay (notebook 09 removes them, and the uploaded file under `pipelines-lab/`).

# %% tags=["remote-only"]
if lab_helpers.mode_of(sess) == "remote":
    print("\n".join(teardown(sess.boto_session, spec)))
    print("left:", describe(sess.boto_session, spec).summary())

# %% [markdown]
# Offline, `stop()` runs the same `teardown` in the emulator, then stops it.

# %%
if auto is not None:
    print("\n".join(auto.stop()))
    print("executions kept in the local control plane:", len(executions_for(uri)))

# %% [markdown]
# ## Summary
#
# - An S3 bucket notification sends new-object events to an SQS queue; the queue policy allows only S3, only
#   for your bucket (`aws:SourceArn`) and account (`aws:SourceAccount`).
# - A Lambda function reads the queue through an event source mapping and starts the pipeline with the file's
#   URI as a parameter; its role may do exactly that and nothing else.
# - The function skips the `s3:TestEvent`, decodes keys with `unquote_plus`, drops malformed messages,
#   dedupes with `ClientRequestToken`, and returns `batchItemFailures` so only failed messages are retried
#   (and end in the dead-letter queue if they keep failing).
# - An EventBridge rule is simpler when the pipeline does not need to know which file arrived.
#
# **Next:** [09 · Cleaning up](09_cleanup.ipynb) deletes what the lesson created.
