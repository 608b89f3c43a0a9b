"""Waiting for an execution: one printed line per step status change, and (``follow``) its jobs' logs."""

import sys
import time
from datetime import datetime, timezone

from ..shapes import TERMINAL_EXECUTION, log_stream_prefix
from .common import arn_of, as_datetime, client, fmt_duration, last_part, seconds_between
from .queries import describe_job, job_of, list_steps

#: How often to look at an execution: local executions change within seconds.
LOCAL_POLL_SECONDS, REMOTE_POLL_SECONDS = 0.1, 10


def wait_with_progress(execution, poll_seconds=None, out=None, sess=None):
    """Wait for an execution to finish, printing one line each time a step changes status.

    Returns the final status ("Succeeded", "Failed" or "Stopped") - it never raises because
    a run failed (unlike ``execution.wait()``); look at :func:`~lab_helpers.monitor.explain` or
    :func:`~lab_helpers.monitor.steps_table` to see why.  For an execution that has already
    finished it prints what happened and returns at once.  ``execution`` may also be an
    execution ARN, with ``sess`` given.  Ctrl-C stops the waiting, not the execution.
    """
    return follow(execution, sess=sess, out=out, logs=False, poll_seconds=poll_seconds)


def follow(execution, sess=None, out=None, logs=True, poll_seconds=None):
    """Wait for an execution, printing each step's status changes and (``logs``) its jobs' log lines as they come.

    What ``python -m lab_helpers run`` shows while a pipeline runs.  Returns the final status.
    """
    out = out or sys.stdout
    sess, arn = sess or execution.sagemaker_session, arn_of(execution)
    if poll_seconds is None:
        poll_seconds = LOCAL_POLL_SECONDS if getattr(sess, "lab_mode", None) == "local" else REMOTE_POLL_SECONDS
    seen, tails = {}, (_LogTails(sess) if logs else None)
    while True:
        status = sess.sagemaker_client.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"]
        steps = list_steps(sess, arn)
        starts = {s["StepName"]: as_datetime(s.get("StartTime")) for s in steps}
        for step in sorted(steps, key=lambda s: (starts[s["StepName"]] is None, starts[s["StepName"]] or 0)):
            if tails is not None:
                for line in tails.new_lines(step):
                    print(line, file=out, flush=True)
            if seen.get(step["StepName"]) != step["StepStatus"]:
                seen[step["StepName"]] = step["StepStatus"]
                print(_progress_line(step), file=out, flush=True)
        if status in TERMINAL_EXECUTION:
            print(f"Execution {last_part(arn)}: {status}", file=out, flush=True)
            return status
        time.sleep(poll_seconds)


class _LogTails:
    """The log lines of each step's job not printed yet, read from CloudWatch Logs with forward tokens."""

    def __init__(self, sess):
        self.sess = sess
        self.logs = client(sess, "logs")
        self.tokens = {}  # (group, stream) -> next forward token
        self.names = {}   # job name from the ARN -> the exact-case name its streams use

    def new_lines(self, step):
        """Lines the step's job wrote since the last call (none for steps that run no job)."""
        job = job_of(step)
        if job is None:
            return []
        kind, name = job
        if name not in self.names:
            try:
                self.names[name] = describe_job(self.sess, kind, name)[kind.name_field]
            except Exception:  # noqa: BLE001 - the job is not created yet: nothing to show
                return []
        lines = []
        try:
            streams = self.logs.describe_log_streams(
                logGroupName=kind.log_group, logStreamNamePrefix=log_stream_prefix(kind, self.names[name]))["logStreams"]
        except self.logs.exceptions.ResourceNotFoundException:
            return []
        for stream in streams:
            key = (kind.log_group, stream["logStreamName"])
            kwargs = {"logGroupName": kind.log_group, "logStreamName": stream["logStreamName"], "startFromHead": True}
            if key in self.tokens:
                kwargs["nextToken"] = self.tokens[key]
            page = self.logs.get_log_events(**kwargs)
            lines += [event["message"] for event in page["events"]]
            self.tokens[key] = page.get("nextForwardToken", self.tokens.get(key))
        return lines


def _progress_line(step):
    start, end = as_datetime(step.get("StartTime")), as_datetime(step.get("EndTime"))
    when = (end or start or datetime.now(timezone.utc)).astimezone().strftime("%H:%M:%S")
    took = f" ({fmt_duration(seconds_between(start, end))})" if end else ""
    return f"{when}  {step['StepName']} -> {step['StepStatus']}{took}"
