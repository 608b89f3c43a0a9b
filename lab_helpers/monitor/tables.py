"""Tables of executions, steps and artifacts: pandas DataFrames for notebooks, fixed-width text for terminals.

Studio's Executions tab and a step's Overview, as tables.  Times are timezone-aware (UTC);
durations are in seconds, rounded to 0.1 s.
"""

from ..sessions import mode_of
from ..shapes import TERMINAL_EXECUTION
from .common import arn_of, as_utc, last_part, shown
from .queries import list_executions, list_steps, step_artifacts, what_ran


# -- text ---------------------------------------------------------------------------------------
def format_table(rows):
    """The rows of :func:`~lab_helpers.monitor.step_rows` as a fixed-width text table (for terminals and logs)."""
    headers = ["step", "status", "duration", "details"]
    lines = [[r["name"], r["status"], f"{r['duration']:.1f}s" if r["duration"] is not None else "-",
              (r["failure_reason"] or r["ran"] or "")[:90]] for r in rows]
    widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)), "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(l, widths)) for l in lines]
    return "\n".join(out)


def format_summary(summary):
    """An :func:`~lab_helpers.monitor.execution_summary` as text: status, step table, metrics, why it failed."""
    lines = [f"Execution {last_part(summary['arn'])}: {summary['status']}", "", format_table(summary["steps"])]
    if summary["metrics"]:
        lines += ["", "Metrics (test set): " + ", ".join(f"{k} = {v:.4f}" for k, v in summary["metrics"].items()
                                                         if isinstance(v, (int, float)))]
    if summary["fail_message"]:
        lines += ["", f"Fail step: {summary['fail_message']}"]
    elif summary["failure_reason"]:
        lines += ["", f"Failure reason: {summary['failure_reason']}"]
    return "\n".join(lines)


# -- DataFrames ---------------------------------------------------------------------------------
def executions_table(sess, pipeline_name, max_results=20):
    """The pipeline's executions, newest first - Studio's Executions tab as a DataFrame.

    Columns: ``execution_id`` (the last part of the ARN), ``display_name``, ``status``,
    ``start``, ``end`` (when it finished; empty while it runs), ``duration_s``,
    ``failure_reason`` (for a failed run: which step failed and why) and ``arn`` (pass it to
    the other functions here).  Shows at most ``max_results`` executions.
    """
    import pandas as pd

    columns = ["execution_id", "display_name", "status", "start", "end", "duration_s", "failure_reason", "arn"]
    rows = [_execution_row(sess, s) for s in list_executions(sess, pipeline_name, max_results)]
    return pd.DataFrame(rows, columns=columns)


def _execution_row(sess, summary):
    arn, status = summary["PipelineExecutionArn"], summary["PipelineExecutionStatus"]
    start, end = as_utc(summary.get("StartTime")), None
    if status in TERMINAL_EXECUTION:
        described = sess.sagemaker_client.describe_pipeline_execution(PipelineExecutionArn=arn)
        end = as_utc(described.get("LastModifiedTime"))
    reason = summary.get("PipelineExecutionFailureReason")
    if status == "Failed":
        failed = [f"{s['StepName']}: {s.get('FailureReason', '')}" for s in list_steps(sess, arn)
                  if s["StepStatus"] == "Failed"]
        reason = "; ".join(failed) or reason
    start, end, seconds = shown(start, end)
    return {"execution_id": last_part(arn), "display_name": summary.get("PipelineExecutionDisplayName"),
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
    for step in list_steps(sess, arn_of(execution_arn)):
        start, end, seconds = shown(as_utc(step.get("StartTime")), as_utc(step.get("EndTime")))
        rows.append({"step": step["StepName"], "status": step["StepStatus"], "start": start, "end": end,
                     "duration_s": seconds,
                     "ran": what_ran(step.get("Metadata", {})), "failure_reason": step.get("FailureReason")})
    columns = ["step", "status", "start", "end", "duration_s", "ran", "failure_reason"]
    return pd.DataFrame(rows, columns=columns)


def artifacts(sess, execution_arn):
    """Where each successful step's outputs are: one row per artifact.

    Columns: ``step``, ``artifact`` (model.tar.gz, a processing output's name, transform
    output, model package, model) and ``location`` (an S3 URI, or an ARN for registry
    entries and models).  In local mode there is also ``local_path``: the file or folder on
    this computer that is the twin of the S3 URI, which you can open directly.
    """
    import pandas as pd

    rows = []
    for step in list_steps(sess, arn_of(execution_arn)):
        if step["StepStatus"] == "Succeeded":
            rows += [{"step": step["StepName"], "artifact": what, "location": where}
                     for what, where in step_artifacts(sess, step)]
    frame = pd.DataFrame(rows, columns=["step", "artifact", "location"])
    if mode_of(sess) == "local":
        local = [str(sess.local_path(u)) if u.startswith("s3://") else None for u in frame["location"]]
        frame["local_path"] = pd.Series(local, index=frame.index, dtype=object)
    return frame
