"""Waiting for an execution, one printed line per step status change."""

import sys
import time
from datetime import datetime, timezone

from ..shapes import TERMINAL_EXECUTION
from .common import arn_of, as_datetime, fmt_duration, last_part, seconds_between
from .queries import list_steps


def wait_with_progress(execution, poll_seconds=10, out=None, sess=None):
    """Wait for an execution to finish, printing one line each time a step changes status.

    Returns the final status ("Succeeded", "Failed" or "Stopped") - it never raises because
    a run failed (unlike ``execution.wait()``); look at :func:`~lab_helpers.monitor.steps_table`
    to see why.  For an execution that has already finished (every local-mode run:
    ``pipeline.start()`` returns when it is over) it prints what happened and returns at once.
    ``execution`` may also be an execution ARN, with ``sess`` given.
    """
    out = out or sys.stdout
    sess, arn = sess or execution.sagemaker_session, arn_of(execution)
    seen = {}
    while True:
        status = sess.sagemaker_client.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"]
        for step in list_steps(sess, arn):
            if seen.get(step["StepName"]) != step["StepStatus"]:
                seen[step["StepName"]] = step["StepStatus"]
                print(_progress_line(step), file=out, flush=True)
        if status in TERMINAL_EXECUTION:
            print(f"Execution {last_part(arn)}: {status}", file=out, flush=True)
            return status
        time.sleep(poll_seconds)


def _progress_line(step):
    start, end = as_datetime(step.get("StartTime")), as_datetime(step.get("EndTime"))
    when = (end or start or datetime.now(timezone.utc)).astimezone().strftime("%H:%M:%S")
    took = f" ({fmt_duration(seconds_between(start, end))})" if end else ""
    return f"{when}  {step['StepName']} -> {step['StepStatus']}{took}"
