"""Watching pipeline executions: step tables, timings, metrics - the same calls in both modes.

Everything here reads through ``sess.sagemaker_client`` and S3, so it shows the same thing
for a run in your AWS account (remote mode) and for an offline run (local mode).
"""

import json
from datetime import datetime, timezone


def _ts(value):
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromtimestamp(float(value), tz=timezone.utc)


def list_steps(sess, execution_arn):
    """All steps of an execution, oldest first (follows NextToken)."""
    client = sess.sagemaker_client
    steps, token = [], None
    while True:
        kwargs = {"PipelineExecutionArn": execution_arn, "SortOrder": "Ascending"}
        if token:
            kwargs["NextToken"] = token
        page = client.list_pipeline_execution_steps(**kwargs)
        steps.extend(page["PipelineExecutionSteps"])
        token = page.get("NextToken")
        if not token:
            return steps


def step_rows(sess, execution_arn):
    """One dict per step: name, status, start, end, duration (s), failure reason, what it ran."""
    rows = []
    for step in list_steps(sess, execution_arn):
        start, end = _ts(step.get("StartTime")), _ts(step.get("EndTime"))
        meta = step.get("Metadata", {})
        ran = next((f"{k}: {v.get('Arn', '').rsplit('/', 1)[-1]}" if "Arn" in v else f"{k}: {v}"
                    for k, v in meta.items()), "")
        rows.append({
            "name": step["StepName"],
            "status": step["StepStatus"],
            "start": start,
            "end": end,
            "duration": (end - start).total_seconds() if start and end else None,
            "failure_reason": step.get("FailureReason"),
            "metadata": meta,
            "ran": ran,
        })
    return rows


def read_s3_json(sess, uri):
    bucket, _, key = uri[5:].partition("/")
    s3 = sess.boto_session.client("s3", region_name=sess.boto_region_name)
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def evaluation_uri(sess, rows, file_name="evaluation.json"):
    """S3 URI of the evaluation report an execution's evaluation step wrote (or None)."""
    for row in rows:
        job = row["metadata"].get("ProcessingJob")
        if not job or row["status"] != "Succeeded":
            continue
        described = sess.sagemaker_client.describe_processing_job(ProcessingJobName=job["Arn"].rsplit("/", 1)[-1])
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


def format_table(rows):
    headers = ["step", "status", "duration", "details"]
    lines = [[r["name"], r["status"], f"{r['duration']:.1f}s" if r["duration"] is not None else "-",
              (r["failure_reason"] or r["ran"] or "")[:90]] for r in rows]
    widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)), "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(l, widths)) for l in lines]
    return "\n".join(out)


def format_summary(summary):
    lines = [f"Execution {summary['arn'].rsplit('/', 1)[-1]}: {summary['status']}", "", format_table(summary["steps"])]
    if summary["metrics"]:
        lines += ["", "Metrics (test set): " + ", ".join(f"{k} = {v:.4f}" for k, v in summary["metrics"].items()
                                                         if isinstance(v, (int, float)))]
    if summary["fail_message"]:
        lines += ["", f"Fail step: {summary['fail_message']}"]
    elif summary["failure_reason"]:
        lines += ["", f"Failure reason: {summary['failure_reason']}"]
    return "\n".join(lines)
