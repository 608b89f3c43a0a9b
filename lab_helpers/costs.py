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
}

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
    lines += [
        "",
        "No step starts an endpoint; an endpoint left running would bill every hour until deleted.",
        "Exact figures: BillableTimeInSeconds (describe_training_job), and Cost Explorer a day later.",
    ]
    return "\n".join(lines)
