"""Watching pipeline executions: the offline counterpart of SageMaker Studio's pipeline views.

Everything here reads through ``sess.sagemaker_client`` and the session's S3 and CloudWatch
Logs clients, so it shows the same thing for a run in your AWS account (remote mode) and for
an offline run (local mode)::

    from lab_helpers import monitor
    monitor.executions_table(sess, "AbalonePipeline")   # Studio: the pipeline's Executions tab
    monitor.draw_pipeline(sess, execution.arn)          # Studio: the execution's graph
    monitor.steps_table(sess, execution.arn)            # Studio: a step's Overview / status
    monitor.plot_timeline(sess, execution.arn)          # when each step ran, and for how long
    monitor.show_logs(sess, execution.arn, "AbaloneTrain")  # Studio: a step's Logs tab
    monitor.artifacts(sess, execution.arn)              # where each step's outputs went
    monitor.evaluation_report(sess, execution.arn)      # the evaluation step's evaluation.json
    monitor.plot_predictions(sess, execution.arn)       # predicted vs actual on the test set
    monitor.registry_table(sess, "AbaloneModelPackageGroup")  # Studio: Models > Registered models
    monitor.approve(sess, model_package_arn)            # Studio: Update status > Approve

Every function that takes ``execution_arn`` also accepts the execution object that
``pipeline.start()`` returns.  Times are timezone-aware (UTC); convert a table's column
with ``table["start"].dt.tz_convert("Europe/Berlin")`` if you prefer local time.
"""

import io
import json
import sys
import time
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
    """The JSON document at ``s3://bucket/key``, read with the session's S3 client."""
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


def format_table(rows):
    """The rows of :func:`step_rows` as a fixed-width text table (for terminals and logs)."""
    headers = ["step", "status", "duration", "details"]
    lines = [[r["name"], r["status"], f"{r['duration']:.1f}s" if r["duration"] is not None else "-",
              (r["failure_reason"] or r["ran"] or "")[:90]] for r in rows]
    widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)), "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(l, widths)) for l in lines]
    return "\n".join(out)


def format_summary(summary):
    """An :func:`execution_summary` as text: status, step table, metrics, and why it failed."""
    lines = [f"Execution {summary['arn'].rsplit('/', 1)[-1]}: {summary['status']}", "", format_table(summary["steps"])]
    if summary["metrics"]:
        lines += ["", "Metrics (test set): " + ", ".join(f"{k} = {v:.4f}" for k, v in summary["metrics"].items()
                                                         if isinstance(v, (int, float)))]
    if summary["fail_message"]:
        lines += ["", f"Fail step: {summary['fail_message']}"]
    elif summary["failure_reason"]:
        lines += ["", f"Failure reason: {summary['failure_reason']}"]
    return "\n".join(lines)


# -- small shared helpers ------------------------------------------------------------------
#: Fill colour of each step status in the pictures (the legend says the same).
STATUS_COLORS = {
    "Succeeded": "#81c784",
    "Failed": "#e57373",
    "Executing": "#64b5f6",
    "Starting": "#64b5f6",
    "Stopping": "#ffb74d",
    "Stopped": "#ffb74d",
    None: "#e0e0e0",  # not run (yet)
}
#: Where SageMaker writes each kind of job's logs in CloudWatch Logs.
LOG_GROUPS = {
    "TrainingJob": "/aws/sagemaker/TrainingJobs",
    "ProcessingJob": "/aws/sagemaker/ProcessingJobs",
    "TransformJob": "/aws/sagemaker/TransformJobs",
}
_DESCRIBE = {  # step metadata key -> (describe call, its name parameter)
    "TrainingJob": ("describe_training_job", "TrainingJobName"),
    "ProcessingJob": ("describe_processing_job", "ProcessingJobName"),
    "TransformJob": ("describe_transform_job", "TransformJobName"),
}
TERMINAL = ("Succeeded", "Failed", "Stopped")


class PrintedText(str):
    """Text a function has just printed: a notebook does not show it a second time as ``Out[...]``."""

    printed = True

    def _ipython_display_(self):
        if self.printed:
            self.printed = False  # shown once already; displaying it later shows it again
            return
        print(self)


def _arn(execution):
    """An execution ARN from an ARN or from the object ``pipeline.start()`` returns."""
    return getattr(execution, "arn", execution)


def _name(arn):
    return arn.rsplit("/", 1)[-1]


def _utc(value):
    import pandas as pd

    value = _ts(value)
    if value is None:
        return None
    value = pd.Timestamp(value)
    return value.tz_localize("UTC") if value.tzinfo is None else value.tz_convert("UTC")


def _seconds(start, end):
    return (end - start).total_seconds() if start is not None and end is not None else None


def _shown(start, end):
    """(start, end, duration in s) for a table: times to the second, duration to 0.1 s."""
    seconds = _seconds(start, end)
    return (start.floor("s") if start is not None else None, end.floor("s") if end is not None else None,
            round(seconds, 1) if seconds is not None else None)


def _fmt_duration(seconds):
    if seconds is None:
        return "-"
    if seconds < 0.1:
        return "<0.1 s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _s3(sess, service="s3"):
    return sess.boto_session.client(service, region_name=sess.boto_region_name)


def _read_s3_bytes(sess, uri):
    bucket, _, key = uri[5:].partition("/")
    return _s3(sess).get_object(Bucket=bucket, Key=key)["Body"].read()


def _find_step(steps, step_name):
    """The step called ``step_name`` (``"AbaloneRegisterModel"`` also finds ``AbaloneRegisterModel-RegisterModel``)."""
    for step in steps:
        if step["StepName"] == step_name:
            return step
    matches = [s for s in steps if s["StepName"].startswith(step_name + "-")]
    if len(matches) == 1:
        return matches[0]
    names = ", ".join(s["StepName"] for s in steps) or "(none yet)"
    raise ValueError(f"This execution has no step named {step_name!r}. Its steps are: {names}.")


def _job_of(step):
    """(metadata key, job name from the ARN) of a step that ran a job, else None."""
    meta = step.get("Metadata", {})
    for key in _DESCRIBE:
        if key in meta and meta[key].get("Arn"):
            return key, _name(meta[key]["Arn"])
    return None


def _describe_job(sess, key, name):
    method, param = _DESCRIBE[key]
    return getattr(sess.sagemaker_client, method)(**{param: name})


def _what_ran(meta):
    """What a step ran, from its ``Metadata``: job name, model package version, condition outcome..."""
    labels = {"TrainingJob": "training job", "ProcessingJob": "processing job", "TransformJob": "transform job"}
    for key, label in labels.items():
        if key in meta:
            return f"{label} {_name(meta[key].get('Arn', ''))}"
    if "RegisterModel" in meta:
        group, _, version = meta["RegisterModel"].get("Arn", "").partition("model-package/")[2].partition("/")
        return f"model package {group} version {version}"
    if "Model" in meta:
        return f"model {_name(meta['Model'].get('Arn', ''))}"
    if "Condition" in meta:
        return f"condition outcome: {meta['Condition'].get('Outcome')}"
    if "Fail" in meta:
        return f"fail: {meta['Fail'].get('ErrorMessage', '')}"
    for key, value in meta.items():
        return f"{key}: {_name(value['Arn']) if isinstance(value, dict) and 'Arn' in value else value}"
    return ""


# -- tables ---------------------------------------------------------------------------------
def executions_table(sess, pipeline_name, max_results=20):
    """The pipeline's executions, newest first - Studio's Executions tab as a DataFrame.

    Columns: ``execution_id`` (the last part of the ARN), ``display_name``, ``status``,
    ``start``, ``end`` (when it finished; empty while it runs), ``duration_s``,
    ``failure_reason`` (for a failed run: which step failed and why) and ``arn`` (pass it to
    the other functions here).  Shows at most ``max_results`` executions.
    """
    import pandas as pd

    columns = ["execution_id", "display_name", "status", "start", "end", "duration_s", "failure_reason", "arn"]
    client, rows, token = sess.sagemaker_client, [], None
    while len(rows) < max_results:
        kwargs = {"PipelineName": pipeline_name, "SortBy": "CreationTime", "SortOrder": "Descending",
                  "MaxResults": min(100, max_results)}
        if token:
            kwargs["NextToken"] = token
        try:
            page = client.list_pipeline_executions(**kwargs)
        except client.exceptions.ResourceNotFound:  # no such pipeline (yet): no executions
            return pd.DataFrame(rows, columns=columns)
        rows += [_execution_row(sess, s) for s in page["PipelineExecutionSummaries"][:max_results - len(rows)]]
        token = page.get("NextToken")
        if not token:
            break
    return pd.DataFrame(rows, columns=columns)


def _execution_row(sess, summary):
    arn, status = summary["PipelineExecutionArn"], summary["PipelineExecutionStatus"]
    start, end = _utc(summary.get("StartTime")), None
    if status in TERMINAL:
        described = sess.sagemaker_client.describe_pipeline_execution(PipelineExecutionArn=arn)
        end = _utc(described.get("LastModifiedTime"))
    reason = summary.get("PipelineExecutionFailureReason")
    if status == "Failed":
        failed = [f"{s['StepName']}: {s.get('FailureReason', '')}" for s in list_steps(sess, arn)
                  if s["StepStatus"] == "Failed"]
        reason = "; ".join(failed) or reason
    start, end, seconds = _shown(start, end)
    return {"execution_id": _name(arn), "display_name": summary.get("PipelineExecutionDisplayName"),
            "status": status, "start": start, "end": end, "duration_s": seconds,
            "failure_reason": reason, "arn": arn}


def steps_table(sess, execution_arn):
    """One row per step of an execution, in the order they started.

    Columns: ``step``, ``status``, ``start``, ``end``, ``duration_s``, ``ran`` (the job it
    ran, the model package version it registered, the condition's outcome or the Fail step's
    message) and ``failure_reason`` (why a step failed; empty otherwise).
    """
    import pandas as pd

    rows = []
    for step in list_steps(sess, _arn(execution_arn)):
        start, end, seconds = _shown(_utc(step.get("StartTime")), _utc(step.get("EndTime")))
        rows.append({"step": step["StepName"], "status": step["StepStatus"], "start": start, "end": end,
                     "duration_s": seconds,
                     "ran": _what_ran(step.get("Metadata", {})), "failure_reason": step.get("FailureReason")})
    columns = ["step", "status", "start", "end", "duration_s", "ran", "failure_reason"]
    return pd.DataFrame(rows, columns=columns)


# -- logs -------------------------------------------------------------------------------------
def show_logs(sess, execution_arn, step_name, tail=50):
    """Print (and return) the last ``tail`` lines a step's job wrote to CloudWatch Logs.

    Studio's step "Logs" tab.  SageMaker writes a job's output to the log group
    ``/aws/sagemaker/TrainingJobs`` (or ``ProcessingJobs`` / ``TransformJobs``), in log streams
    named ``<job name>/...``; this finds the job from the step's metadata and reads them.
    ``tail=None`` returns every line.  Condition, Fail, Model and RegisterModel steps run no
    job and so have no logs: you get a sentence saying what the step did instead.
    """
    step = _find_step(list_steps(sess, _arn(execution_arn)), step_name)
    job = _job_of(step)
    if job is None:
        text = (f"{step['StepName']} ran no job, so it wrote no logs. What it did: "
                f"{_what_ran(step.get('Metadata', {})) or step['StepStatus']}.")
    else:
        key, name = job
        name = _describe_job(sess, key, name)[_DESCRIBE[key][1]]  # the exact-case name streams use
        lines = _log_lines(sess, LOG_GROUPS[key], name)
        shown = lines[-tail:] if tail else lines
        text = "\n".join(shown) if lines else f"No log lines yet for {name} in {LOG_GROUPS[key]}."
    print(text)
    return PrintedText(text)


def _log_lines(sess, group, job_name):
    logs = _s3(sess, "logs")
    streams, token = [], None
    try:
        while True:
            kwargs = {"logGroupName": group, "logStreamNamePrefix": job_name + "/"}
            if token:
                kwargs["nextToken"] = token
            page = logs.describe_log_streams(**kwargs)
            streams += [s["logStreamName"] for s in page.get("logStreams", [])]
            token = page.get("nextToken")
            if not token:
                break
    except logs.exceptions.ResourceNotFoundException:
        return []  # the log group appears with the first job of its kind
    lines = []
    for stream in streams:
        if len(streams) > 1:
            lines.append(f"--- {stream} ---")
        lines += [event["message"] for event in _stream_events(logs, group, stream)]
    return lines


def _stream_events(logs, group, stream):
    """Every event of one log stream, oldest first (GetLogEvents pages until the token repeats)."""
    token = None
    while True:
        kwargs = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        if token:
            kwargs["nextToken"] = token
        page = logs.get_log_events(**kwargs)
        yield from page["events"]
        if page.get("nextForwardToken") in (None, token):
            return
        token = page["nextForwardToken"]


# -- evaluation -------------------------------------------------------------------------------
def evaluation_report(sess, execution_arn):
    """The ``evaluation.json`` the execution's evaluation step wrote, as a dict (None if it has none).

    Its shape is what the Model Registry expects:
    ``{"regression_metrics": {"mse": {"value": ..., "standard_deviation": ...}, ...}}``;
    the pipeline's ConditionStep reads ``regression_metrics.mse.value`` from it.
    """
    uri = evaluation_uri(sess, step_rows(sess, _arn(execution_arn)))
    return read_s3_json(sess, uri) if uri else None


def predictions(sess, execution_arn):
    """The test-set predictions (columns ``actual``, ``predicted``) the evaluation step wrote.

    ``lab_helpers/steps/evaluate.py`` writes ``predictions.csv`` next to ``evaluation.json``;
    None if the execution has no (successful) evaluation step.
    """
    import pandas as pd

    uri = evaluation_uri(sess, step_rows(sess, _arn(execution_arn)), file_name="predictions.csv")
    return pd.read_csv(io.BytesIO(_read_s3_bytes(sess, uri))) if uri else None


def plot_predictions(sess, execution_arn):
    """Predicted vs actual number of rings on the test set, with the ideal line y = x and the MSE.

    Points on the dashed line are perfect predictions; the vertical spread at each actual
    value is the model's error.  Returns the matplotlib Figure (``fig.savefig("p.png")``).
    """
    frame = predictions(sess, execution_arn)
    if frame is None:
        raise ValueError("This execution has no successful evaluation step, so there are no predictions to plot.")
    mse = float(((frame["actual"] - frame["predicted"]) ** 2).mean())
    fig, ax = _new_figure((7.5, 6.5))
    ax.scatter(frame["actual"], frame["predicted"], s=22, alpha=0.45, color="#1976d2", edgecolors="none",
               label=f"test records (n = {len(frame)})")
    low = min(frame["actual"].min(), frame["predicted"].min())
    high = max(frame["actual"].max(), frame["predicted"].max())
    ax.plot([low, high], [low, high], "--", color="#424242", lw=1.6, label="perfect prediction (y = x)")
    ax.set_aspect("equal")
    ax.set_xlabel("actual rings", fontsize=12)
    ax.set_ylabel("predicted rings", fontsize=12)
    ax.tick_params(labelsize=11)
    ax.set_title(f"Predicted vs actual · test MSE = {mse:.3f}", fontsize=14)
    ax.legend(loc="upper left", fontsize=11)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _finish(fig)


# -- artifacts ----------------------------------------------------------------------------------
def artifacts(sess, execution_arn):
    """Where each successful step's outputs are: one row per artifact.

    Columns: ``step``, ``artifact`` (model.tar.gz, a processing output's name, transform
    output, model package, model) and ``location`` (an S3 URI, or an ARN for registry
    entries and models).  In local mode there is also ``local_path``: the file or folder on
    this computer that is the twin of the S3 URI, which you can open directly.
    """
    import pandas as pd

    from .sessions import mode_of

    rows = []
    for step in list_steps(sess, _arn(execution_arn)):
        if step["StepStatus"] == "Succeeded":
            rows += [{"step": step["StepName"], "artifact": what, "location": where}
                     for what, where in _step_artifacts(sess, step)]
    frame = pd.DataFrame(rows, columns=["step", "artifact", "location"])
    if mode_of(sess) == "local":
        local = [str(sess.local_path(u)) if u.startswith("s3://") else None for u in frame["location"]]
        frame["local_path"] = pd.Series(local, index=frame.index, dtype=object)
    return frame


def _step_artifacts(sess, step):
    meta, job = step.get("Metadata", {}), _job_of(step)
    if job:
        described = _describe_job(sess, *job)
        if job[0] == "TrainingJob":
            return [("model.tar.gz", described["ModelArtifacts"]["S3ModelArtifacts"])]
        if job[0] == "ProcessingJob":
            outputs = described.get("ProcessingOutputConfig", {}).get("Outputs", [])
            return [(f"output '{o['OutputName']}'", o["S3Output"]["S3Uri"]) for o in outputs if "S3Output" in o]
        return [("transform output", described["TransformOutput"]["S3OutputPath"])]
    if "RegisterModel" in meta:
        return [("model package", meta["RegisterModel"]["Arn"])]
    if "Model" in meta:
        return [("model", meta["Model"]["Arn"])]
    return []


# -- model registry -------------------------------------------------------------------------
def registry_table(sess, group_name):
    """The model package group's versions, newest first - Studio's Registered models view.

    Columns: ``version``, ``status`` (of the package itself), ``approval``
    (PendingManualApproval / Approved / Rejected), ``created``, ``mse`` (from the package's
    ModelMetrics report, if it has one and it is readable), ``description`` (the approval
    note) and ``arn`` (pass it to :func:`approve` / :func:`reject`).  Empty if the group does
    not exist yet.
    """
    import pandas as pd

    client, rows, token = sess.sagemaker_client, [], None
    while True:
        kwargs = {"ModelPackageGroupName": group_name, "SortBy": "CreationTime", "SortOrder": "Descending"}
        if token:
            kwargs["NextToken"] = token
        page = client.list_model_packages(**kwargs)
        for summary in page["ModelPackageSummaryList"]:
            described = client.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
            rows.append({"version": described.get("ModelPackageVersion"),
                         "status": described.get("ModelPackageStatus"),
                         "approval": described.get("ModelApprovalStatus"),
                         "created": _shown(_utc(described.get("CreationTime")), None)[0],
                         "mse": _package_mse(sess, described),
                         "description": described.get("ApprovalDescription"),
                         "arn": described["ModelPackageArn"]})
        token = page.get("NextToken")
        if not token:
            break
    return pd.DataFrame(rows, columns=["version", "status", "approval", "created", "mse", "description", "arn"])


def _package_mse(sess, described):
    from botocore.exceptions import ClientError

    uri = described.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {}).get("S3Uri")
    if not uri:
        return None
    try:
        return read_s3_json(sess, uri)["regression_metrics"]["mse"]["value"]
    except (ClientError, KeyError, TypeError, ValueError):
        return None  # the report was deleted, or is not a regression report


def approve(sess, model_package_arn, description="Approved after reviewing its test metrics."):
    """Approve a model package version (what Studio's "Update status > Approved" does).

    Approval is the registry's gate: a deployment pipeline (or an EventBridge rule) typically
    deploys only Approved versions.  Returns the package's new approval status.
    """
    return _set_approval(sess, model_package_arn, "Approved", description)


def reject(sess, model_package_arn, description="Rejected after reviewing its test metrics."):
    """Reject a model package version; returns its new approval status ("Rejected")."""
    return _set_approval(sess, model_package_arn, "Rejected", description)


def _set_approval(sess, arn, status, description):
    client = sess.sagemaker_client
    client.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status, ApprovalDescription=description)
    return client.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]


# -- waiting --------------------------------------------------------------------------------
def wait_with_progress(execution, poll_seconds=10, out=None, sess=None):
    """Wait for an execution to finish, printing one line each time a step changes status.

    Returns the final status ("Succeeded", "Failed" or "Stopped") - it never raises because
    a run failed (unlike ``execution.wait()``); look at :func:`steps_table` to see why.  For
    an execution that has already finished (every local-mode run: ``pipeline.start()``
    returns when it is over) it prints what happened and returns at once.  ``execution`` may
    also be an execution ARN, with ``sess`` given.
    """
    out = out or sys.stdout
    sess, arn = sess or execution.sagemaker_session, _arn(execution)
    seen = {}
    while True:
        status = sess.sagemaker_client.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"]
        for step in list_steps(sess, arn):
            if seen.get(step["StepName"]) != step["StepStatus"]:
                seen[step["StepName"]] = step["StepStatus"]
                print(_progress_line(step), file=out, flush=True)
        if status in TERMINAL:
            print(f"Execution {_name(arn)}: {status}", file=out, flush=True)
            return status
        time.sleep(poll_seconds)


def _progress_line(step):
    start, end = _ts(step.get("StartTime")), _ts(step.get("EndTime"))
    when = (end or start or datetime.now(timezone.utc)).astimezone().strftime("%H:%M:%S")
    took = f" ({_fmt_duration(_seconds(start, end))})" if end else ""
    return f"{when}  {step['StepName']} -> {step['StepStatus']}{took}"


# -- the pipeline graph -----------------------------------------------------------------------
#: Colour of each kind of edge in the graph.
EDGE_STYLES = {
    "data": {"color": "#455a64", "linestyle": "-", "legend": "data dependency"},
    "depends_on": {"color": "#455a64", "linestyle": (0, (4, 3)), "legend": "DependsOn"},
    "True": {"color": "#2e7d32", "linestyle": "-", "legend": "condition True branch"},
    "False": {"color": "#c62828", "linestyle": "-", "legend": "condition False branch"},
}


def pipeline_graph(definition):
    """The DAG of a pipeline definition: ``(nodes, edges)``, laid out left to right.

    A learner asks "what decides the order of my steps?" - the edges:

    * ``data``: a step's arguments use another step's output (``{"Get": "Steps.AbaloneTrain..."}``
      in the definition, e.g. the model artifact the evaluation reads);
    * ``depends_on``: the step lists the other in ``DependsOn``;
    * ``condition``: a ConditionStep runs its ``IfSteps`` (label ``"True"``) or ``ElseSteps``
      (``"False"``); steps inside branches (also nested conditions) are nodes too.

    ``definition`` is the JSON (string or dict) from ``pipeline.definition()`` or
    ``describe_pipeline``.  Each node is ``{"name", "type", "layer", "row", "y"}``: ``layer``
    is the topological depth (0 = needs nothing; a step's layer is one more than its deepest
    predecessor's), ``row`` its place from the top within the layer, ``y`` its vertical
    position (rows centred on 0, up is positive).  Each edge is ``{"source", "target",
    "kind", "label"}`` with ``label`` "True"/"False" for condition edges, else None.
    """
    if isinstance(definition, (str, bytes)):
        definition = json.loads(definition)
    nodes, found = [], {}
    _visit(definition.get("Steps", []), nodes, found)
    edges = _resolve_edges(nodes, found)
    _layout(nodes, edges)
    return nodes, edges


def _visit(steps, nodes, found):
    for step in steps:
        name, args = step["Name"], step.get("Arguments") or {}
        nodes.append({"name": name, "type": step.get("Type", "?")})
        is_condition = step.get("Type") == "Condition"
        for ref in _step_refs(args.get("Conditions", []) if is_condition else args):
            found.setdefault((ref, name), ("data", None))
        for dep in step.get("DependsOn") or []:
            found.setdefault((dep, name), ("depends_on", None))
        if is_condition:
            for label, key in (("True", "IfSteps"), ("False", "ElseSteps")):
                for child in args.get(key, []):
                    found[(name, child["Name"])] = ("condition", label)
                _visit(args.get(key, []), nodes, found)


def _step_refs(obj):
    """Names of the steps whose properties ``obj`` reads (``{"Get": "Steps.<name>...."}``), in order."""
    refs = []
    if isinstance(obj, dict):
        get = obj.get("Get")
        if isinstance(get, str) and get.startswith("Steps."):
            refs.append(get.split(".")[1].split("[")[0])
        for value in obj.values():
            refs += [r for r in _step_refs(value) if r not in refs]
    elif isinstance(obj, list):
        for value in obj:
            refs += [r for r in _step_refs(value) if r not in refs]
    return refs


def _resolve_edges(nodes, found):
    """Edges between real nodes; a name like "AbaloneRegisterModel" (a step collection) means its steps."""
    names = [n["name"] for n in nodes]
    edges = []
    for (source, target), (kind, label) in found.items():
        sources = [source] if source in names else [n for n in names if n.startswith(source + "-")]
        edges += [{"source": s, "target": target, "kind": kind, "label": label} for s in sources if s != target]
    return edges


def _layout(nodes, edges):
    """Give each node its layer (longest path from a start) and its row within the layer."""
    preds = {n["name"]: [] for n in nodes}
    for e in edges:
        preds[e["target"]].append(e["source"])
    layer, pending = {}, [n["name"] for n in nodes]
    while pending:
        ready = [n for n in pending if all(p in layer for p in preds[n])]
        if not ready:
            raise ValueError(f"The pipeline's steps depend on each other in a cycle: {', '.join(pending)}.")
        for name in ready:
            layer[name] = 1 + max((layer[p] for p in preds[name]), default=-1)
        pending = [n for n in pending if n not in layer]
    y = {}
    for depth in range(max(layer.values(), default=-1) + 1):
        members = [n for n in nodes if layer[n["name"]] == depth]
        members.sort(key=lambda n: -sum(y[p] for p in preds[n["name"]]) / max(1, len(preds[n["name"]])))
        for row, node in enumerate(members):
            node.update(layer=depth, row=row, y=(len(members) - 1) / 2 - row)
            y[node["name"]] = node["y"]


def _display_name(name, width=14):
    """A node's caption: the SDK's "-RegisterModel"/"-CreateModel" suffix dropped, long names on two lines."""
    for suffix in ("-RegisterModel", "-CreateModel"):
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    if len(name) <= width:
        return name
    cuts = [i for i in range(1, len(name)) if name[i].isupper() and name[i - 1].islower() or name[i - 1] in "-_"]
    if not cuts:
        return name
    cut = min(cuts, key=lambda i: abs(i - len(name) / 2))
    return name[:cut] + "\n" + name[cut:]


def _graph_source(sess, execution_arn, pipeline_name):
    """(definition, title, {step name: step}) for an execution, or for a pipeline's latest definition."""
    client = sess.sagemaker_client
    if execution_arn is not None:
        arn = _arn(execution_arn)
        definition = client.describe_pipeline_definition_for_execution(PipelineExecutionArn=arn)["PipelineDefinition"]
        described = client.describe_pipeline_execution(PipelineExecutionArn=arn)
        name = pipeline_name or _pipeline_name(sess, described["PipelineArn"])
        steps = {s["StepName"]: s for s in list_steps(sess, arn)}
        return definition, f"{name} · execution {_name(arn)} · {described['PipelineExecutionStatus']}", steps
    if pipeline_name is None:
        raise ValueError("Give execution_arn (e.g. execution.arn) to colour the steps of a run, or pipeline_name.")
    definition = client.describe_pipeline(PipelineName=pipeline_name)["PipelineDefinition"]
    return definition, f"{pipeline_name} · definition (no execution chosen)", None


def _pipeline_name(sess, pipeline_arn):
    from botocore.exceptions import ClientError

    try:
        return sess.sagemaker_client.describe_pipeline(PipelineName=pipeline_arn)["PipelineName"]
    except ClientError:
        return _name(pipeline_arn)  # deleted since: the ARN's (lower-case) name


def _node_caption(node, steps):
    if steps is None:
        return node["type"]
    step = steps.get(node["name"])
    if step is None:
        return f"{node['type']} · not run"
    seconds = _seconds(_ts(step.get("StartTime")), _ts(step.get("EndTime")))
    return f"{node['type']} · {_fmt_duration(seconds) if seconds is not None else step['StepStatus'].lower()}"


def _text_inches(text, size, weight="normal"):
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    widths = [TextPath((0, 0), line or " ", size=size, prop=FontProperties(weight=weight)).get_extents().width
              for line in text.split("\n")]
    return max(widths) / 72


def _darker(color, factor=0.6):
    from matplotlib.colors import to_rgb

    return tuple(c * factor for c in to_rgb(color))


class _Geometry:
    """Sizes in inches (the drawing's data units are inches, so text and boxes scale together)."""

    name_size, caption_size, label_size = 12.5, 10.5, 10
    height, gap, row_gap, margin, clearance = 0.95, 1.1, 0.7, 0.35, 0.22

    def __init__(self, nodes, captions):
        widest = max([_text_inches(_display_name(n["name"]), self.name_size) for n in nodes]
                     + [_text_inches(c, self.caption_size) for c in captions.values()], default=1.0)
        self.width = widest + 0.4
        self.pitch_x, self.pitch_y = self.width + self.gap, self.height + self.row_gap

    def center(self, node):
        return self.margin + self.width / 2 + node["layer"] * self.pitch_x, node["y"] * self.pitch_y


def _routes(nodes, edges, geo):
    """For each edge, the lane (a y clear of the nodes it passes) it follows, or None if adjacent."""
    by_name = {n["name"]: n for n in nodes}
    lanes, taken = [], []  # taken: (y, first layer, last layer, source)
    for e in edges:
        s, t = by_name[e["source"]], by_name[e["target"]]
        if t["layer"] - s["layer"] <= 1:
            lanes.append(None)
            continue
        span = (s["layer"] + 1, t["layer"] - 1)
        half = geo.height / 2 + geo.clearance
        blocked = [(geo.center(n)[1] - half, geo.center(n)[1] + half)
                   for n in nodes if span[0] <= n["layer"] <= span[1]]
        shared = [y for y, a, b, src in taken if src == s["name"] and a <= span[1] and span[0] <= b]
        blocked += [(y - 0.16, y + 0.16) for y, a, b, src in taken
                    if src != s["name"] and a <= span[1] and span[0] <= b]
        lane = _lane(geo.center(s)[1], geo.center(t)[1], blocked, shared, _traffic(nodes, edges, span, e))
        taken.append((lane, span[0], span[1], s["name"]))
        lanes.append(lane)
    return lanes


def _traffic(nodes, edges, span, edge):
    """How many other edges leave or enter the nodes an edge passes, upwards (+1) and downwards (-1)."""
    y = {n["name"]: n["y"] for n in nodes}
    passed = {n["name"] for n in nodes if span[0] <= n["layer"] <= span[1]}
    count = {1: 0, -1: 0}
    for other in edges:
        if other is not edge:
            for here, there in ((other["source"], other["target"]), (other["target"], other["source"])):
                if here in passed and y[there] != y[here]:
                    count[1 if y[there] > y[here] else -1] += 1
    return count


def _lane(y_source, y_target, blocked, shared, traffic=None):
    """The height at which an edge passes the layers between its ends, clear of their nodes.

    The target's height if free (the edge then runs straight in), else the source's, else
    the free height nearest the middle (the centre of a narrow gap between two nodes); of
    two equally near, the side with less ``traffic`` (fewer crossings).  A lane another edge
    from the same source already uses is preferred: the edges run together.
    """
    traffic = traffic or {1: 0, -1: 0}
    merged = []
    for lo, hi in sorted(blocked):
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])

    def free(y):
        return all(not lo < y < hi for lo, hi in merged)

    for y in (y_target, y_source):
        if free(y):
            return y
    want = (y_source + y_target) / 2
    bounds = [-float("inf")] + [v for pair in merged for v in pair] + [float("inf")]
    candidates = []
    for a, b in zip(bounds[::2], bounds[1::2]):
        point = (a + b) / 2 if b - a < 1.0 else min(max(want, a), b)
        candidates.append((round(abs(point - want), 6), traffic[1 if point >= want else -1], -point, point))
    candidates += [(abs(y - want) - 0.5, 0, -y, y) for y in shared if free(y)]
    return min(candidates)[-1]


def _ports(nodes, edges, lanes, geo):
    """Where each edge leaves its source and enters its target: spread over the box's side, top to bottom."""
    by_name = {n["name"]: n for n in nodes}
    out_aim, in_aim = {}, {}
    for i, (e, lane) in enumerate(zip(edges, lanes)):
        out_aim[i] = round(lane if lane is not None else geo.center(by_name[e["target"]])[1], 2)
        in_aim[i] = round(lane if lane is not None else geo.center(by_name[e["source"]])[1], 2)
    ports = {}
    for side, aim, key in (("out", out_aim, "source"), ("in", in_aim, "target")):
        for name in by_name:
            mine = [i for i, e in enumerate(edges) if e[key] == name]
            levels = sorted({aim[i] for i in mine}, reverse=True)
            step = min(0.16, geo.height * 0.6 / max(1, len(levels) - 1))
            for i in mine:
                ports[(side, i)] = ((len(levels) - 1) / 2 - levels.index(aim[i])) * step
    return ports


def _edge_path(p0, p3, lane, gap):
    """A smooth path from p0 to p3 (through the lane at height ``lane`` if given)."""
    from matplotlib.path import Path

    (x0, y0), (x3, y3) = p0, p3
    if lane is None:
        h = (x3 - x0) / 2
        verts = [p0, (x0 + h, y0), (x3 - h, y3), p3]
        return Path(verts, [Path.MOVETO] + [Path.CURVE4] * 3), verts
    a, b = (x0 + gap, lane), (x3 - gap, lane)
    verts = [p0, (x0 + gap / 2, y0), (a[0] - gap / 2, lane), a, b, (b[0] + gap / 2, lane), (x3 - gap / 2, y3), p3]
    codes = [Path.MOVETO] + [Path.CURVE4] * 3 + [Path.LINETO] + [Path.CURVE4] * 3
    return Path(verts, codes), verts[-4:]


def _bezier(verts, t):
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = verts
    u = 1 - t
    return (u**3 * x0 + 3 * u * u * t * x1 + 3 * u * t * t * x2 + t**3 * x3,
            u**3 * y0 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t**3 * y3)


def draw_pipeline(sess, execution_arn=None, pipeline_name=None, ax=None):
    """Draw the pipeline's graph - Studio's execution graph - and return the matplotlib Figure.

    With ``execution_arn`` (or the execution object) you see the definition *that run used*,
    each step coloured by how it went (green Succeeded, red Failed, blue Executing, grey not
    run) with its type and duration; with only ``pipeline_name`` you see the pipeline's
    current definition, uncoloured.  Steps flow left to right: a step sits one column right of
    the last step it needs.  Edges show why (see :func:`pipeline_graph`): grey for data
    ("uses that step's output"), dashed for ``DependsOn``, green/red for a condition's
    True/False branch.  A ModelStep's step appears in the definition as
    ``<name>-RegisterModel`` / ``<name>-CreateModel``; the drawing shows the name you gave it.
    Pass ``ax`` to draw into your own axes; save with ``fig.savefig("graph.png")``.
    """
    definition, title, steps = _graph_source(sess, execution_arn, pipeline_name)
    nodes, edges = pipeline_graph(definition)
    return render_graph(nodes, edges, steps, title=title, ax=ax)


def render_graph(nodes, edges, steps=None, title="", ax=None):
    """Draw ``pipeline_graph``'s nodes and edges; ``steps`` maps step names to their execution steps."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    captions = {n["name"]: _node_caption(n, steps) for n in nodes}
    geo = _Geometry(nodes, captions)
    lanes = _routes(nodes, edges, geo)
    ports = _ports(nodes, edges, lanes, geo)
    fig, ax, scale = _graph_axes(ax, nodes, lanes, geo, title)
    by_name = {n["name"]: n for n in nodes}
    for i, (edge, lane) in enumerate(zip(edges, lanes)):
        (xs, ys), (xt, yt) = geo.center(by_name[edge["source"]]), geo.center(by_name[edge["target"]])
        p0, p3 = (xs + geo.width / 2, ys + ports[("out", i)]), (xt - geo.width / 2, yt + ports[("in", i)])
        path, last = _edge_path(p0, p3, lane, geo.gap)
        style = EDGE_STYLES[edge["label"] or edge["kind"]]
        alpha = 0.35 if _branch_not_taken(edge, steps) else 1.0
        ax.add_patch(FancyArrowPatch(path=path, arrowstyle="-|>", mutation_scale=17 * scale, lw=1.8 * scale,
                                     color=style["color"], linestyle=style["linestyle"], zorder=1, alpha=alpha,
                                     gid=f"edge:{edge['source']}->{edge['target']}"))
        if edge["label"]:
            lx, ly = _bezier(last, 0.7)
            ax.text(lx, ly, edge["label"], fontsize=geo.label_size * scale, color=style["color"], ha="center",
                    va="center", zorder=3, alpha=alpha,
                    bbox={"boxstyle": "round,pad=0.18", "fc": "white", "ec": style["color"], "alpha": alpha})
    for node in nodes:
        status = (steps or {}).get(node["name"], {}).get("StepStatus")
        color = STATUS_COLORS.get(status, STATUS_COLORS[None])
        x, y = geo.center(node)
        ax.add_patch(FancyBboxPatch((x - geo.width / 2, y - geo.height / 2), geo.width, geo.height,
                                    boxstyle="round,pad=0,rounding_size=0.12", fc=color, ec=_darker(color),
                                    lw=2 * scale, zorder=2, gid=f"step:{node['name']}"))
        name = _display_name(node["name"])
        block = name.count("\n") * 0.21 + 0.44
        ax.text(x, y + block / 2 - (name.count("\n") + 1) * 0.105, name, fontsize=geo.name_size * scale,
                ha="center", va="center", color="#212121", zorder=3)
        ax.text(x, y - block / 2 + 0.09, captions[node["name"]], fontsize=geo.caption_size * scale,
                ha="center", va="center", color="#37474f", zorder=3)
    _graph_legend(fig, ax, edges, steps, title, scale)
    return _finish(fig) if ax.get_label() == "lab-graph" else fig


def _branch_not_taken(edge, steps):
    """True for a condition edge whose branch the run did not take (drawn faded)."""
    outcome = (steps or {}).get(edge["source"], {}).get("Metadata", {}).get("Condition", {}).get("Outcome")
    return edge["kind"] == "condition" and outcome is not None and str(outcome) != edge["label"]


def _graph_axes(ax, nodes, lanes, geo, title=""):
    """The axes to draw in (a new figure sized to the graph unless ``ax`` is given) and the font scale."""
    ys = [geo.center(n)[1] for n in nodes] or [0.0]
    low = min(ys + [y for y in lanes if y is not None]) - geo.height / 2 - geo.margin
    high = max(ys + [y for y in lanes if y is not None]) + geo.height / 2 + geo.margin
    width = 2 * geo.margin + geo.width + max((n["layer"] for n in nodes), default=0) * geo.pitch_x
    pad = 0.0
    if ax is None:  # wide enough for the title and the legend too; the graph is centred
        pad = max(0.0, (max(_text_inches(title, 15) + 0.8, 8.0) - width) / 2)
    scale = 1.0
    if ax is None:
        import matplotlib.pyplot as plt

        top, bottom = 0.6, 0.75  # inches for the title and the legend
        fig = plt.figure(figsize=(width + 2 * pad, high - low + top + bottom))
        total = high - low + top + bottom
        ax = fig.add_axes((0, bottom / total, 1, (high - low) / total), label="lab-graph")
    else:
        fig = ax.figure
        box = ax.get_position()
        scale = min(box.width * fig.get_figwidth() / width, box.height * fig.get_figheight() / (high - low))
    ax.set_xlim(-pad, width + pad)
    ax.set_ylim(low, high)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return fig, ax, scale


def _graph_legend(fig, ax, edges, steps, title, scale):
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = []
    if steps is not None:
        shown = ["Succeeded", "Failed", "Executing"] + sorted(
            {s["StepStatus"] for s in steps.values()} - {"Succeeded", "Failed", "Executing", "Starting"})
        handles += [Patch(fc=STATUS_COLORS.get(s, STATUS_COLORS[None]), ec=_darker(STATUS_COLORS.get(s, "#e0e0e0")),
                          label=s) for s in shown]
        handles.append(Patch(fc=STATUS_COLORS[None], ec=_darker(STATUS_COLORS[None]), label="not run"))
    for key, style in EDGE_STYLES.items():
        if any((e["label"] or e["kind"]) == key for e in edges):
            handles.append(Line2D([], [], color=style["color"], linestyle=style["linestyle"], lw=2,
                                  label=style["legend"]))
    own = ax.get_label() == "lab-graph"
    ncol = len(handles) if fig.get_figwidth() * (1 if own else 0.8) > 2.0 * len(handles) else (len(handles) + 1) // 2
    if own:
        fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize=11, frameon=False,
                   bbox_to_anchor=(0.5, 0.01), handlelength=2.2)
        fig.text(0.5, 1 - 0.3 / fig.get_figheight(), title, ha="center", va="center", fontsize=15)
    else:
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=ncol,
                  fontsize=11 * scale, frameon=False)
        ax.set_title(title, fontsize=14 * scale)


def _new_figure(size):
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=size)


def _finish(fig):
    """Detach the figure from pyplot, so a notebook shows the returned figure once (not twice)."""
    import matplotlib.pyplot as plt

    plt.close(fig)
    return fig


def plot_timeline(sess, execution_arn):
    """A Gantt chart of an execution: one bar per step from its start to its end, coloured by status.

    Bars that overlap ran at the same time (AWS runs independent steps in parallel; local
    mode runs one at a time).  Each bar is labelled with the step's duration; a step still
    running is drawn up to now.  Returns the matplotlib Figure.
    """
    arn = _arn(execution_arn)
    described = sess.sagemaker_client.describe_pipeline_execution(PipelineExecutionArn=arn)
    steps = list_steps(sess, arn)
    t0, now = _ts(described["CreationTime"]), datetime.now(timezone.utc)
    status = described["PipelineExecutionStatus"]
    finish = _ts(described.get("LastModifiedTime")) if status in TERMINAL else now
    total = max(_seconds(t0, finish) or 0.0, 1e-3)
    fig, ax = _new_figure((11, 1.6 + 0.55 * max(1, len(steps))))
    for i, step in enumerate(steps):
        start, end = _ts(step.get("StartTime")) or t0, _ts(step.get("EndTime"))
        left, right = _seconds(t0, start), _seconds(t0, end or now)
        color = STATUS_COLORS.get(step["StepStatus"], STATUS_COLORS[None])
        ax.barh(i, max(right - left, total * 0.005), left=left, height=0.62, color=color, edgecolor=_darker(color),
                linewidth=1.5, gid=f"step:{step['StepName']}")
        label = _fmt_duration(right - left) if end else f"running {_fmt_duration(right - left)}"
        ax.text(max(right, left + total * 0.005) + total * 0.01, i, label, va="center", fontsize=11)
    ax.set_yticks(range(len(steps)), [s["StepName"] for s in steps], fontsize=12)
    ax.tick_params(axis="x", labelsize=11)
    ax.invert_yaxis()
    ax.set_xlim(0, total * 1.16)
    ax.set_xlabel("seconds since the execution started", fontsize=12)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(f"{_pipeline_name(sess, described['PipelineArn'])} · execution {_name(arn)} · {status}"
                 f" in {_fmt_duration(total)}", fontsize=14)
    _status_legend(ax, {s["StepStatus"] for s in steps})
    fig.tight_layout()
    return _finish(fig)


def _status_legend(ax, statuses):
    from matplotlib.patches import Patch

    order = [s for s in STATUS_COLORS if s] + sorted(s for s in statuses if s not in STATUS_COLORS)
    handles = [Patch(fc=STATUS_COLORS.get(s, STATUS_COLORS[None]), ec=_darker(STATUS_COLORS.get(s, "#e0e0e0")),
                     label=s) for s in order if s in statuses]
    ax.legend(handles=handles, loc="upper right", fontsize=11)
