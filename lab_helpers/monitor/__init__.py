"""Watching pipeline executions: the offline counterpart of SageMaker Studio's pipeline views.

Everything here reads through ``sess.sagemaker_client`` and the session's S3 and CloudWatch
Logs clients, so it shows the same thing for a run in your AWS account (remote mode) and for
an offline run (local mode)::

    from lab_helpers import monitor
    monitor.executions_table(sess, "AbalonePipeline")   # Studio: the pipeline's Executions tab
    monitor.draw_pipeline(sess, execution.arn)          # Studio: the execution's graph
    monitor.steps_table(sess, execution.arn)            # Studio: a step's Overview / status
    monitor.plot_timeline(sess, execution.arn)          # when each step ran, and for how long
    monitor.show_logs(sess, execution.arn, "AbaloneTrain")  # Studio: a step's Logs tab (last lines; full=True: all)
    monitor.explain(execution)                          # each failed step: its exact reason and log tail
    monitor.artifacts(sess, execution.arn)              # where each step's outputs went
    monitor.evaluation_report(sess, execution.arn)      # the evaluation step's evaluation.json
    monitor.plot_predictions(sess, execution.arn)       # predicted vs actual on the test set
    monitor.registry_table(sess, "AbaloneModelPackageGroup")  # Studio: Models > Registered models
    monitor.approve(sess, model_package_arn)            # Studio: Update status > Approve

Every function that takes ``execution_arn`` also accepts the execution object that
``pipeline.start()`` returns.  Times are timezone-aware (UTC); convert a table's column
with ``table["start"].dt.tz_convert("Europe/Berlin")`` if you prefer local time.

The modules, lowest first: :mod:`.common` (colours, times, names), :mod:`.queries` (steps,
jobs, S3 reports), :mod:`.tables`, :mod:`.logs`, :mod:`.registry`, :mod:`.progress`
(waiting), :mod:`.explain` (why an execution failed), :mod:`.graph` (the graph as data: layout and edge
routes), :mod:`.plots`
(timeline, predictions) and :mod:`.draw` (the graph drawn).  This package re-exports
their public names, so ``monitor.<name>`` is all a notebook needs.
"""

from ..shapes import JOB_KINDS, TERMINAL_EXECUTION
from .common import STATUS_COLORS, PrintedText
from .draw import EDGE_STYLES, draw_pipeline, render_graph
from .explain import explain, failure_reason
from .graph import pipeline_graph
from .logs import show_logs
from .plots import plot_predictions, plot_timeline
from .progress import follow, wait_with_progress
from .queries import (evaluation_report, evaluation_uri, execution_summary, list_steps, metrics, predictions,
                      read_s3_json, step_rows)
from .registry import approve, registry_table, reject
from .tables import artifacts, executions_table, format_summary, format_table, steps_table

#: Where SageMaker writes each kind of job's logs in CloudWatch Logs (from :data:`lab_helpers.shapes.JOB_KINDS`).
LOG_GROUPS = {key: kind.log_group for key, kind in JOB_KINDS.items()}
#: Execution statuses after which nothing changes any more.
TERMINAL = TERMINAL_EXECUTION

__all__ = [
    "EDGE_STYLES", "LOG_GROUPS", "STATUS_COLORS", "TERMINAL", "PrintedText",
    "approve", "artifacts", "draw_pipeline", "evaluation_report", "evaluation_uri", "execution_summary", "explain",
    "failure_reason",
    "executions_table", "format_summary", "format_table", "list_steps", "metrics", "pipeline_graph",
    "plot_predictions", "plot_timeline", "predictions", "read_s3_json", "registry_table", "reject",
    "render_graph", "show_logs", "step_rows", "steps_table", "wait_with_progress", "follow",
]
