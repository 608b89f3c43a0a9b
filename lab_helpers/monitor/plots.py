"""Figures of an execution with matplotlib: its timeline (a Gantt chart) and the test set's predictions.

Also the small figure helpers the pipeline graph (:mod:`.draw`) shares.  Every function returns
a Figure detached from pyplot, so a notebook shows it once.
"""

from datetime import datetime, timezone

from ..shapes import TERMINAL_EXECUTION
from .common import STATUS_COLORS, arn_of, as_datetime, fmt_duration, last_part, seconds_between
from .queries import list_steps, pipeline_name_of, predictions


# -- figure helpers -------------------------------------------------------------------------------
def new_figure(size):
    """A new pyplot figure of ``size`` inches and its one axes."""
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=size)


def finish(fig):
    """Detach the figure from pyplot, so a notebook shows the returned figure once (not twice)."""
    import matplotlib.pyplot as plt

    plt.close(fig)
    return fig


def darker(color, factor=0.6):
    """``color`` as an RGB tuple, darkened (box and bar outlines)."""
    from matplotlib.colors import to_rgb

    return tuple(c * factor for c in to_rgb(color))


# -- the timeline ---------------------------------------------------------------------------------
def plot_timeline(sess, execution_arn):
    """A Gantt chart of an execution: one bar per step from its start to its end, coloured by status.

    Bars that overlap ran at the same time (independent steps run in parallel, in AWS and in
    local mode).  Each bar is labelled with the step's duration; a step still
    running is drawn up to now.  Returns the matplotlib Figure.
    """
    arn = arn_of(execution_arn)
    described = sess.sagemaker_client.describe_pipeline_execution(PipelineExecutionArn=arn)
    steps = list_steps(sess, arn)
    t0, now = as_datetime(described["CreationTime"]), datetime.now(timezone.utc)
    status = described["PipelineExecutionStatus"]
    end_of_run = as_datetime(described.get("LastModifiedTime")) if status in TERMINAL_EXECUTION else now
    total = max(seconds_between(t0, end_of_run) or 0.0, 1e-3)
    fig, ax = new_figure((11, 1.6 + 0.55 * max(1, len(steps))))
    for i, step in enumerate(steps):
        start, end = as_datetime(step.get("StartTime")) or t0, as_datetime(step.get("EndTime"))
        left, right = seconds_between(t0, start), seconds_between(t0, end or now)
        color = STATUS_COLORS.get(step["StepStatus"], STATUS_COLORS[None])
        ax.barh(i, max(right - left, total * 0.005), left=left, height=0.62, color=color, edgecolor=darker(color),
                linewidth=1.5, gid=f"step:{step['StepName']}")
        label = fmt_duration(right - left) if end else f"running {fmt_duration(right - left)}"
        ax.text(max(right, left + total * 0.005) + total * 0.01, i, label, va="center", fontsize=11)
    ax.set_yticks(range(len(steps)), [s["StepName"] for s in steps], fontsize=12)
    ax.tick_params(axis="x", labelsize=11)
    ax.invert_yaxis()
    ax.set_xlim(0, total * 1.16)
    ax.set_xlabel("seconds since the execution started", fontsize=12)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(f"{pipeline_name_of(sess, described['PipelineArn'])} · execution {last_part(arn)} · {status}"
                 f" in {fmt_duration(total)}", fontsize=14)
    _status_legend(ax, {s["StepStatus"] for s in steps})
    fig.tight_layout()
    return finish(fig)


def _status_legend(ax, statuses):
    from matplotlib.patches import Patch

    order = [s for s in STATUS_COLORS if s] + sorted(s for s in statuses if s not in STATUS_COLORS)
    handles = [Patch(fc=STATUS_COLORS.get(s, STATUS_COLORS[None]), ec=darker(STATUS_COLORS.get(s, "#e0e0e0")),
                     label=s) for s in order if s in statuses]
    ax.legend(handles=handles, loc="upper right", fontsize=11)


# -- predictions ----------------------------------------------------------------------------------
def plot_predictions(sess, execution_arn):
    """Predicted vs actual number of rings on the test set, with the ideal line y = x and the MSE.

    Points on the dashed line are perfect predictions; the vertical spread at each actual
    value is the model's error.  Returns the matplotlib Figure (``fig.savefig("p.png")``).
    """
    frame = predictions(sess, execution_arn)
    if frame is None:
        raise ValueError("This execution has no successful evaluation step, so there are no predictions to plot.")
    mse = float(((frame["actual"] - frame["predicted"]) ** 2).mean())
    fig, ax = new_figure((7.5, 6.5))
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
    return finish(fig)
