"""Reading an execution back: its steps, the jobs they ran, its outputs in S3 and its evaluation report.

The data behind every table, picture and log view of the monitor, read through the session's
SageMaker and S3 clients (so the same in remote and local mode).  The job-kind facts - which
metadata key names which job, how each kind is described and labelled - come from
:data:`lab_helpers.shapes.JOB_KINDS`.
"""

import io
import json

from ..shapes import JOB_KINDS, job_of_metadata, split_s3_uri
from .common import arn_of, as_datetime, client, last_part, seconds_between


# -- executions and steps ---------------------------------------------------------------------
def list_steps(sess, execution_arn):
    """All steps of an execution, oldest first (every page of ListPipelineExecutionSteps)."""
    pages = sess.sagemaker_client.get_paginator("list_pipeline_execution_steps").paginate(
        PipelineExecutionArn=execution_arn, SortOrder="Ascending")
    return [step for page in pages for step in page["PipelineExecutionSteps"]]


def list_executions(sess, pipeline_name, max_results=20):
    """Summaries of the pipeline's newest ``max_results`` executions, newest first (none if no such pipeline)."""
    sm, found = sess.sagemaker_client, []
    if max_results < 1:
        return found
    pages = sm.get_paginator("list_pipeline_executions").paginate(
        PipelineName=pipeline_name, SortBy="CreationTime", SortOrder="Descending",
        PaginationConfig={"MaxItems": max_results, "PageSize": min(100, max_results)})
    try:
        for page in pages:
            found += page["PipelineExecutionSummaries"]
    except sm.exceptions.ResourceNotFound:  # no such pipeline (yet): no executions
        pass
    return found


def step_rows(sess, execution_arn):
    """One dict per step: name, status, start, end, duration (s), failure reason, what it ran."""
    rows = []
    for step in list_steps(sess, execution_arn):
        start, end = as_datetime(step.get("StartTime")), as_datetime(step.get("EndTime"))
        meta = step.get("Metadata", {})
        ran = next((f"{k}: {last_part(v.get('Arn', ''))}" if "Arn" in v else f"{k}: {v}"
                    for k, v in meta.items()), "")
        rows.append({
            "name": step["StepName"],
            "status": step["StepStatus"],
            "start": start,
            "end": end,
            "duration": seconds_between(start, end),
            "failure_reason": step.get("FailureReason"),
            "metadata": meta,
            "ran": ran,
        })
    return rows


def find_step(steps, step_name):
    """The step called ``step_name`` (``"AbaloneRegisterModel"`` also finds ``AbaloneRegisterModel-RegisterModel``)."""
    for step in steps:
        if step["StepName"] == step_name:
            return step
    matches = [s for s in steps if s["StepName"].startswith(step_name + "-")]
    if len(matches) == 1:
        return matches[0]
    names = ", ".join(s["StepName"] for s in steps) or "(none yet)"
    raise ValueError(f"This execution has no step named {step_name!r}. Its steps are: {names}.")


def pipeline_name_of(sess, pipeline_arn):
    """The pipeline's name as it was created (its ARN's lower-case name if the pipeline is gone)."""
    from botocore.exceptions import ClientError

    try:
        return sess.sagemaker_client.describe_pipeline(PipelineName=pipeline_arn)["PipelineName"]
    except ClientError:
        return last_part(pipeline_arn)  # deleted since: the ARN's (lower-case) name


# -- the jobs steps ran -----------------------------------------------------------------------
def job_of(step):
    """(:class:`~lab_helpers.shapes.JobKind`, job name) of a step that ran a job, else None."""
    return job_of_metadata(step.get("Metadata", {}))


def describe_job(sess, kind, name):
    """The Describe* answer for the job ``name`` of ``kind`` (a JobKind)."""
    return getattr(sess.sagemaker_client, kind.describe)(**{kind.name_field: name})


def what_ran(meta):
    """What a step ran, from its ``Metadata``: job name, model package version, condition outcome..."""
    for key, kind in JOB_KINDS.items():
        if key in meta:
            return f"{kind.label.lower()} {last_part(meta[key].get('Arn', ''))}"
    if "RegisterModel" in meta:
        group, _, version = meta["RegisterModel"].get("Arn", "").partition("model-package/")[2].partition("/")
        return f"model package {group} version {version}"
    if "Model" in meta:
        return f"model {last_part(meta['Model'].get('Arn', ''))}"
    if "Condition" in meta:
        return f"condition outcome: {meta['Condition'].get('Outcome')}"
    if "Fail" in meta:
        return f"fail: {meta['Fail'].get('ErrorMessage', '')}"
    for key, value in meta.items():
        return f"{key}: {last_part(value['Arn']) if isinstance(value, dict) and 'Arn' in value else value}"
    return ""


def step_artifacts(sess, step):
    """``[(what, where)]`` a step produced: S3 URIs of a job's outputs, ARNs of a model or model package."""
    meta, job = step.get("Metadata", {}), job_of(step)
    if job:
        kind, name = job
        described = describe_job(sess, kind, name)
        if kind.key == "TrainingJob":
            return [("model.tar.gz", described["ModelArtifacts"]["S3ModelArtifacts"])]
        if kind.key == "TuningJob":
            best = described.get("BestTrainingJob")
            if not best:
                return []
            job = describe_job(sess, JOB_KINDS["TrainingJob"], best["TrainingJobName"])
            return [(f"best model.tar.gz ({best['TrainingJobName']})", job["ModelArtifacts"]["S3ModelArtifacts"])]
        if kind.key == "ProcessingJob":
            outputs = described.get("ProcessingOutputConfig", {}).get("Outputs", [])
            return [(f"output '{o['OutputName']}'", o["S3Output"]["S3Uri"]) for o in outputs if "S3Output" in o]
        return [("transform output", described["TransformOutput"]["S3OutputPath"])]
    if "RegisterModel" in meta:
        return [("model package", meta["RegisterModel"]["Arn"])]
    if "Model" in meta:
        return [("model", meta["Model"]["Arn"])]
    return []


# -- S3 and the evaluation report -------------------------------------------------------------
def read_s3_bytes(sess, uri):
    """The bytes of the object at ``s3://bucket/key``, read with the session's S3 client."""
    bucket, key = split_s3_uri(uri)
    return client(sess).get_object(Bucket=bucket, Key=key)["Body"].read()


def read_s3_json(sess, uri):
    """The JSON document at ``s3://bucket/key``, read with the session's S3 client."""
    return json.loads(read_s3_bytes(sess, uri))


def evaluation_uri(sess, rows, file_name="evaluation.json"):
    """S3 URI of the evaluation report an execution's evaluation step wrote (or None)."""
    processing = JOB_KINDS["ProcessingJob"]
    for row in rows:
        job = row["metadata"].get(processing.key)
        if not job or row["status"] != "Succeeded":
            continue
        described = describe_job(sess, processing, last_part(job["Arn"]))
        for output in described.get("ProcessingOutputConfig", {}).get("Outputs", []):
            if output["OutputName"] == "evaluation":
                return output["S3Output"]["S3Uri"].rstrip("/") + "/" + file_name
    return None


def metrics(sess, rows):
    """The evaluation metrics of an execution as ``{"mse": ..., "rmse": ..., ...}`` (empty if none)."""
    uri = evaluation_uri(sess, rows)
    if not uri:
        return {}
    report = read_s3_json(sess, uri).get("regression_metrics", {})
    out = {}
    for name, value in report.items():
        if isinstance(value, dict) and "value" in value:
            out[name] = value["value"]
            if "standard_deviation" in value:
                out[f"{name}_std"] = value["standard_deviation"]
    return out


def execution_summary(sess, execution_arn):
    """Status, failure reason, Fail-step message, step rows and metrics of one execution (used by the CLI)."""
    described = sess.sagemaker_client.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
    rows = step_rows(sess, execution_arn)
    fail_messages = [r["metadata"]["Fail"]["ErrorMessage"] for r in rows if "Fail" in r["metadata"]]
    return {
        "arn": execution_arn,
        "status": described["PipelineExecutionStatus"],
        "failure_reason": described.get("FailureReason"),
        "fail_message": fail_messages[0] if fail_messages else None,
        "steps": rows,
        "metrics": metrics(sess, rows),
    }


def evaluation_report(sess, execution_arn):
    """The ``evaluation.json`` the execution's evaluation step wrote, as a dict (None if it has none).

    Its shape is what the Model Registry expects:
    ``{"regression_metrics": {"mse": {"value": ..., "standard_deviation": ...}, ...}}``;
    the pipeline's ConditionStep reads ``regression_metrics.mse.value`` from it.
    """
    uri = evaluation_uri(sess, step_rows(sess, arn_of(execution_arn)))
    return read_s3_json(sess, uri) if uri else None


def predictions(sess, execution_arn):
    """The test-set predictions (columns ``actual``, ``predicted``) the evaluation step wrote.

    ``lab_helpers/steps/evaluate.py`` writes ``predictions.csv`` next to ``evaluation.json``;
    None if the execution has no (successful) evaluation step.
    """
    import pandas as pd

    uri = evaluation_uri(sess, step_rows(sess, arn_of(execution_arn)), file_name="predictions.csv")
    return pd.read_csv(io.BytesIO(read_s3_bytes(sess, uri))) if uri else None
