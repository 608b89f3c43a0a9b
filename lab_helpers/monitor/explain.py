"""Why an execution failed: each failed step with its ``FailureReason`` and the last lines of its job's log.

What a learner needs after ``execution.wait()`` raised ``WaiterError``: the engine's exact message
for each step that failed (a FailStep's own message, a job's error, a refused API call), in one place.
"""

from .common import PrintedText, arn_of, last_part
from .logs import job_log_text
from .queries import list_steps

#: How many lines of a failed job's log :func:`explain` shows unless asked for more.
EXPLAIN_TAIL = 8


def explain(execution, sess=None, tail=EXPLAIN_TAIL, full=False):
    """Print (and return) each failed step of an execution with its failure reason and the tail of its job log."""
    sess, arn = sess or execution.sagemaker_session, arn_of(execution)
    described = sess.sagemaker_client.describe_pipeline_execution(PipelineExecutionArn=arn)
    status = described["PipelineExecutionStatus"]
    lines = [f"Execution {last_part(arn)}: {status}"]
    failed = [s for s in list_steps(sess, arn) if s["StepStatus"] in ("Failed", "Stopped")]
    if not failed:
        reason = described.get("FailureReason")
        lines.append(f"  {reason}" if reason else "  No step failed.")
    for step in failed:
        lines.append(f"✗ {step['StepName']} ({step['StepStatus']}): {failure_reason(step)}")
        log = job_log_text(sess, step, None if full else tail)
        if log:
            lines += ["    " + line for line in log.splitlines()]
    text = "\n".join(lines)
    print(text)
    return PrintedText(text)


def failure_reason(step):
    """A step's failure reason: a FailStep's own message, else the step's ``FailureReason``."""
    fail = step.get("Metadata", {}).get("Fail", {})
    return fail.get("ErrorMessage") or step.get("FailureReason") or "(no reason recorded)"
