"""What SageMaker's documents look like, shared by the offline engine and the monitor.

One place for the facts both sides of the kit read: how an ``s3://`` URI splits, what each kind
of job is called in every API (its metadata key in a pipeline step, its name/ARN/status fields,
its log group, its describe call), and how a pipeline definition's steps, condition branches and
references are walked.  This module imports nothing of the kit, so every layer may import it.
"""

import re
from collections import namedtuple

#: Execution statuses after which nothing changes any more.
TERMINAL_EXECUTION = ("Succeeded", "Failed", "Stopped")


def split_s3_uri(uri):
    """``"s3://bucket/some/key"`` -> ``("bucket", "some/key")``; ValueError naming the value otherwise."""
    if not isinstance(uri, str) or not uri.startswith("s3://") or len(uri) == 5 or uri[5] == "/":
        raise ValueError(f"{uri!r} is not an s3:// URI (expected s3://<bucket>/<key>).")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


# -- job kinds ----------------------------------------------------------------------------------
#: Everything the kit needs to know about one kind of SageMaker job, by the names AWS uses.
JobKind = namedtuple("JobKind", (
    "key",           # the step metadata key and the resource name: "TrainingJob"
    "label",         # in messages: "Training job"
    "store_kind",    # the control plane's record kind: "training_job"
    "arn_prefix",    # ARN resource type: "training-job"
    "name_field",    # "TrainingJobName"
    "arn_field",     # "TrainingJobArn"
    "status_field",  # "TrainingJobStatus"
    "start_field",   # "TrainingStartTime"
    "end_field",     # "TrainingEndTime"
    "log_group",     # CloudWatch Logs group of its logs
    "stream_host",   # the host part of its log stream name
    "describe",      # boto3 client method that describes one
    "summaries",     # List* response key
    "image_purpose",  # what the image must be able to do: training, processing, inference
))

JOB_KINDS = {
    "TrainingJob": JobKind("TrainingJob", "Training job", "training_job", "training-job", "TrainingJobName",
                           "TrainingJobArn", "TrainingJobStatus", "TrainingStartTime", "TrainingEndTime",
                           "/aws/sagemaker/TrainingJobs", "algo-1", "describe_training_job",
                           "TrainingJobSummaries", "training"),
    "ProcessingJob": JobKind("ProcessingJob", "Processing job", "processing_job", "processing-job",
                             "ProcessingJobName", "ProcessingJobArn", "ProcessingJobStatus", "ProcessingStartTime",
                             "ProcessingEndTime", "/aws/sagemaker/ProcessingJobs", "algo-1",
                             "describe_processing_job", "ProcessingJobSummaries", "processing"),
    "TransformJob": JobKind("TransformJob", "Transform job", "transform_job", "transform-job", "TransformJobName",
                            "TransformJobArn", "TransformJobStatus", "TransformStartTime", "TransformEndTime",
                            "/aws/sagemaker/TransformJobs", "i-local", "describe_transform_job",
                            "TransformJobSummaries", "inference"),
    # a TuningStep's job: its log is its training jobs' (named <tuning job name>-<index>-<id>)
    "TuningJob": JobKind("TuningJob", "Tuning job", "tuning_job", "hyper-parameter-tuning-job",
                         "HyperParameterTuningJobName", "HyperParameterTuningJobArn", "HyperParameterTuningJobStatus",
                         "CreationTime", "HyperParameterTuningEndTime", "/aws/sagemaker/TrainingJobs", "algo-1",
                         "describe_hyper_parameter_tuning_job", "HyperParameterTuningJobSummaries", "training"),
}

#: The pipeline step type that runs each kind of job.
STEP_JOB_KIND = {"Training": "TrainingJob", "Processing": "ProcessingJob", "Transform": "TransformJob"}


def log_stream_prefix(kind, name):
    """The prefix of job ``name``'s log streams: ``<name>/``; a tuning job's are its training jobs' (``<name>-``)."""
    return name + ("-" if kind.key == "TuningJob" else "/")


def job_of_metadata(metadata):
    """(JobKind, job name) of the job a step's ``Metadata`` names, or None."""
    for key, kind in JOB_KINDS.items():
        arn = (metadata.get(key) or {}).get("Arn")
        if arn:
            return kind, arn.rsplit("/", 1)[-1]
    return None


# -- pipeline definitions -----------------------------------------------------------------------
def walk_steps(steps):
    """Every step of a definition, nested condition branches included, in definition order."""
    for step in steps:
        yield step
        if step.get("Type") == "Condition":
            args = step.get("Arguments") or {}
            yield from walk_steps(args.get("IfSteps", []))
            yield from walk_steps(args.get("ElseSteps", []))


def step_references(value):
    """Names of the steps a JSON expression reads properties from (``{"Get": "Steps.<name>..."}``), in order."""
    found = []
    if isinstance(value, dict):
        get = value.get("Get")
        if isinstance(get, str) and get.startswith("Steps."):
            name = re.split(r"[.\[]", get[len("Steps."):], 1)[0]
            if name not in found:
                found.append(name)
        for item in value.values():
            found += [r for r in step_references(item) if r not in found]
    elif isinstance(value, list):
        for item in value:
            found += [r for r in step_references(item) if r not in found]
    return found


def data_references(step):
    """The steps whose properties ``step`` reads: a condition's through its conditions, others through arguments."""
    args = step.get("Arguments") or {}
    return step_references(args.get("Conditions", []) if step.get("Type") == "Condition" else args)


def branches(step):
    """``[("True", IfSteps), ("False", ElseSteps)]`` of a condition step; ``[]`` for any other step."""
    if step.get("Type") != "Condition":
        return []
    args = step.get("Arguments") or {}
    return [("True", args.get("IfSteps", [])), ("False", args.get("ElseSteps", []))]
