"""What the lesson costs in remote mode: a small, dated, APPROXIMATE price table and per-step estimates.

The prices are us-east-1 on-demand list prices per instance-hour, as noted on :data:`PRICES_NOTED`.
They change and differ by region: check https://aws.amazon.com/sagemaker/pricing/ before you quote them.
Local mode costs nothing.

SageMaker bills processing, training and batch-transform jobs per second of instance time, with a
one-minute minimum.  A small job like the abalone steps takes about 3-5 minutes of wall time, most
of it starting the instance; :data:`REMOTE_STEPS` holds a rough *billed* duration per step.

    >>> from lab_helpers import costs
    >>> print(costs.lesson_cost_text())
"""

#: When the prices below were noted (from the public SageMaker pricing page).  Approximate.
PRICES_NOTED = "2025"
PRICING_URL = "https://aws.amazon.com/sagemaker/pricing/"
PRICE_REGION = "us-east-1"

#: Approximate us-east-1 on-demand list prices, USD per instance-hour (noted PRICES_NOTED; check PRICING_URL).
PRICES_PER_HOUR = {
    "ml.m5.large": 0.115,   # training / processing / inference
    "ml.m5.xlarge": 0.23,   # training / processing / batch transform
    "ml.t2.medium": 0.056,  # real-time inference (named in the registry; the lesson starts no endpoint)
    "ml.t3.medium": 0.05,   # a typical Studio JupyterLab space (bills while the space runs)
}

#: Approximate S3 Standard storage price in PRICE_REGION, USD per GB-month.
S3_PRICE_PER_GB_MONTH = 0.023

#: The instance a Studio JupyterLab space typically runs on, and the hours a learner keeps it open.
STUDIO_INSTANCE, STUDIO_HOURS = "ml.t3.medium", 3.0

#: SageMaker's minimum billed duration for a job, in minutes.
MINIMUM_BILLED_MINUTES = 1.0

#: The abalone pipeline's steps in remote mode: (step, kind, instance type or None, rough billed minutes).
#: Steps with no instance (condition, model, registry, fail) bill nothing.
REMOTE_STEPS = (
    ("AbaloneProcess", "processing", "ml.m5.xlarge", 4.0),
    ("AbaloneTrain", "training", "ml.m5.xlarge", 3.0),
    ("AbaloneEval", "processing", "ml.m5.xlarge", 4.0),
    ("AbaloneMSECond", "condition", None, 0.0),
    ("AbaloneRegisterModel", "model registry", None, 0.0),
    ("AbaloneCreateModel", "create model", None, 0.0),
    ("AbaloneTransform", "batch transform", "ml.m5.xlarge", 5.0),
)


#: Rough billed minutes of the outline's training job (Train in notebooks 03-06).
OUTLINE_TRAIN_MINUTES = 3.0

#: What each notebook runs in remote mode, as (what, runs of the outline's training job, full abalone
#: runs, failing abalone runs - processing, training and evaluation, then the FailStep).
NOTEBOOK_RUNS = (
    ("00_setup", "nothing", 0, 0, 0),
    ("01_data", "uploads a few hundred kB to S3", 0, 0, 0),
    ("02_parameters", "nothing (builds definitions only)", 0, 0, 0),
    ("03_training_step", "one training job", 1, 0, 0),
    ("04_model_step", "one training job (creating a model starts no instance)", 1, 0, 0),
    ("05_registration", "the outline's pipeline: one training job", 1, 0, 0),
    ("06_pipeline", "the outline's pipeline, the abalone pipeline, and a failing abalone run", 1, 1, 1),
    ("07_monitoring", "nothing (one abalone run if none succeeded before)", 0, 0, 0),
    ("08_automation", "the abalone run your upload starts (Lambda, SQS, SNS: far below a cent)", 0, 1, 0),
    ("09_cleanup", "nothing", 0, 0, 0),
    ("10_v2_to_v3", "nothing (builds definitions offline)", 0, 0, 0),
)


def job_cost(instance_type, minutes, instance_count=1):
    """Approximate USD for one job: per-second billing, at least MINIMUM_BILLED_MINUTES when it ran at all."""
    if instance_type is None or minutes <= 0:
        return 0.0
    try:
        price = PRICES_PER_HOUR[instance_type]
    except KeyError:
        raise KeyError(f"No price noted for {instance_type}; see {PRICING_URL}.") from None
    billed = max(float(minutes), MINIMUM_BILLED_MINUTES)
    return price * billed / 60.0 * instance_count


def step_costs(steps=REMOTE_STEPS):
    """Rows ``(step, instance type or "-", billed minutes, approx USD)`` for the abalone pipeline's steps."""
    rows = []
    for step, _kind, instance_type, minutes in steps:
        rows.append((step, instance_type or "-", float(minutes), job_cost(instance_type, minutes)))
    return rows


def pipeline_cost(steps=REMOTE_STEPS):
    """Approximate USD for one successful abalone execution (sum of :func:`step_costs`)."""
    return sum(row[3] for row in step_costs(steps))


def failing_run_cost(steps=REMOTE_STEPS):
    """Approximate USD for an abalone execution that fails its condition (no transform job)."""
    return sum(row[3] for row in step_costs(steps) if row[0] in ("AbaloneProcess", "AbaloneTrain", "AbaloneEval"))


def notebook_costs():
    """Rows ``(notebook, what it runs, approx USD)`` for remote mode; local mode costs nothing."""
    train = job_cost("ml.m5.xlarge", OUTLINE_TRAIN_MINUTES)
    return [(name, what, train * outline + pipeline_cost() * full + failing_run_cost() * failing)
            for name, what, outline, full, failing in NOTEBOOK_RUNS]


def studio_cost(hours=STUDIO_HOURS):
    """Approximate USD for a Studio JupyterLab space kept open ``hours``."""
    return PRICES_PER_HOUR[STUDIO_INSTANCE] * hours


def lesson_total():
    """Approximate USD for the whole lesson in remote mode: every notebook's jobs plus the Studio space."""
    return sum(row[2] for row in notebook_costs()) + studio_cost()


def guide_markdown():
    """The cost section's tables for docs/instructor-guide.md (``python tools/update_guide_costs.py`` writes them)."""
    lines = [f"Approximate {PRICE_REGION} on-demand list prices, noted {PRICES_NOTED} (check <{PRICING_URL}> for "
             "your region and today's prices):", "", "| Instance | Price per hour (approx.) |", "|---|---|"]
    lines += [f"| {instance_type} | about ${price:.3f} |" for instance_type, price in PRICES_PER_HOUR.items()]
    lines += [f"| S3 Standard storage | about ${S3_PRICE_PER_GB_MONTH:.3f} per GB-month |", "",
              "One abalone pipeline run (billed per second, one-minute minimum; wall time adds the instance's "
              "start-up, 2-3 minutes per job):", "", "| Step | Instance | Billed minutes (approx.) | USD (approx.) |",
              "|---|---|---|---|"]
    lines += [f"| {step} | {instance_type} | {minutes:.0f} | {usd:.3f} |"
              for step, instance_type, minutes, usd in step_costs()]
    lines += [f"| **total** | | {sum(r[2] for r in step_costs()):.0f} | {pipeline_cost():.3f} |", "",
              "| Notebook | Runs in remote mode | USD (approx.) |", "|---|---|---|"]
    lines += [f"| {name} | {what} | {usd:.3f} |" for name, what, usd in notebook_costs()]
    lines += ["", f"With a Studio space on {STUDIO_INSTANCE} open for {STUDIO_HOURS:.0f} hours (about "
              f"${studio_cost():.2f}), the whole lesson costs about ${lesson_total():.2f} per learner."]
    return "\n".join(lines)


def lesson_cost_text():
    """A short text for notebook 00 and the instructor guide: prices, per-step estimate, total."""
    lines = [
        f"Approximate {PRICE_REGION} on-demand list prices, noted {PRICES_NOTED} - check {PRICING_URL}",
        "for your region and today's prices. Local mode costs nothing.",
        "",
    ]
    for instance_type, price in PRICES_PER_HOUR.items():
        lines.append(f"  {instance_type:<13} about ${price:.3f} per hour")
    lines += ["", "One abalone pipeline run (billed per second, 1-minute minimum; wall time adds start-up):"]
    lines.append(f"  {'step':<22} {'instance':<13} {'~billed min':>11} {'~USD':>7}")
    for step, instance_type, minutes, usd in step_costs():
        lines.append(f"  {step:<22} {instance_type:<13} {minutes:>11.0f} {usd:>7.3f}")
    total_minutes = sum(row[2] for row in step_costs())
    lines.append(f"  {'total':<22} {'':<13} {total_minutes:>11.0f} {pipeline_cost():>7.3f}")
    lines += ["", "Per notebook (remote mode):"]
    lines += [f"  {name:<17} {usd:>6.3f}  {what}" for name, what, usd in notebook_costs()]
    lines += [
        f"  {'Studio space':<17} {studio_cost():>6.3f}  {STUDIO_INSTANCE} open for {STUDIO_HOURS:.0f} hours",
        f"  {'whole lesson':<17} {lesson_total():>6.3f}",
        "",
        "No step starts an endpoint; an endpoint left running would bill every hour until deleted.",
        "Exact figures: BillableTimeInSeconds (describe_training_job), and Cost Explorer a day later.",
    ]
    return "\n".join(lines)
