"""A step's logs: what its job wrote to CloudWatch Logs - Studio's step "Logs" tab.

SageMaker writes a job's output to its kind's log group (``/aws/sagemaker/TrainingJobs``,
``ProcessingJobs``, ``TransformJobs``: :data:`lab_helpers.shapes.JOB_KINDS`), in log streams
named ``<job name>/...``.
"""

from ..shapes import log_stream_prefix
from .common import PrintedText, arn_of, client
from .queries import describe_job, find_step, job_of, list_steps, what_ran


#: How many log lines :func:`show_logs` prints unless asked for the full log (``full=True``).
SHOW_TAIL = 15


def show_logs(sess, execution_arn, step_name, tail=SHOW_TAIL, full=False):
    """Print (and return) the last ``tail`` lines a step's job wrote to CloudWatch Logs.

    Studio's step "Logs" tab.  SageMaker writes a job's output to the log group
    ``/aws/sagemaker/TrainingJobs`` (or ``ProcessingJobs`` / ``TransformJobs``), in log streams
    named ``<job name>/...``; this finds the job from the step's metadata and reads them.
    ``full=True`` (or ``tail=None``) prints every line.  Condition, Fail, Model and RegisterModel steps run no
    job and so have no logs: you get a sentence saying what the step did instead.
    """
    step = find_step(list_steps(sess, arn_of(execution_arn)), step_name)
    text = job_log_text(sess, step, None if full else tail)
    if text is None:
        text = (f"{step['StepName']} ran no job, so it wrote no logs. What it did: "
                f"{what_ran(step.get('Metadata', {})) or step['StepStatus']}.")
    print(text)
    return PrintedText(text)


def job_log_text(sess, step, tail=SHOW_TAIL):
    """The last ``tail`` lines (all if None) of a step's job log, after a line saying how many are hidden."""
    job = job_of(step)
    if job is None:
        return None
    kind, name = job
    try:
        name = describe_job(sess, kind, name)[kind.name_field]  # the exact-case name streams use
    except Exception:  # noqa: BLE001 - the job was never created (its request was refused): no log
        return f"(no {kind.key} job was created, so there is no log)"
    lines = log_lines(sess, kind.log_group, name, log_stream_prefix(kind, name))
    if not lines:
        return f"No log lines yet for {name} in {kind.log_group}."
    if tail and len(lines) > tail:
        hidden = len(lines) - tail
        return "\n".join([f"… {hidden} earlier lines hidden: pass full=True for the whole log"] + lines[-tail:])
    return "\n".join(lines)


def log_lines(sess, group, job_name, prefix=None):
    """Every line a job wrote to the log group ``group``, stream by stream (a header per stream if several)."""
    logs = client(sess, "logs")
    pages = logs.get_paginator("describe_log_streams").paginate(logGroupName=group,
                                                                logStreamNamePrefix=prefix or job_name + "/")
    try:
        streams = [s["logStreamName"] for page in pages for s in page.get("logStreams", [])]
    except logs.exceptions.ResourceNotFoundException:
        return []  # the log group appears with the first job of its kind
    lines = []
    for stream in streams:
        if len(streams) > 1:
            lines.append(f"--- {stream} ---")
        lines += [event["message"] for event in _stream_events(logs, group, stream)]
    return lines


def _stream_events(logs, group, stream):
    """Every event of one log stream, oldest first.

    GetLogEvents has no boto3 paginator: at the end of a stream it answers with the token it
    was given (a paginator would stop with "the same next token was received twice"), so the
    pages are followed here until the token repeats.
    """
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
