"""What every part of the monitor shares: step-status colours, times and durations, names from ARNs.

Nothing here calls AWS; :func:`client` only builds a client from a session.  The package's
other modules import this one and :mod:`lab_helpers.shapes`, never each other's internals.
"""

from datetime import datetime, timezone

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


class PrintedText(str):
    """Text a function has just printed: a notebook does not show it a second time as ``Out[...]``."""

    printed = True

    def _ipython_display_(self):
        if self.printed:
            self.printed = False  # shown once already; displaying it later shows it again
            return
        print(self)


def arn_of(execution):
    """An execution ARN from an ARN or from the object ``pipeline.start()`` returns."""
    return getattr(execution, "arn", execution)


def last_part(arn):
    """The resource name at the end of an ARN (``.../execution/abc`` -> ``abc``)."""
    return arn.rsplit("/", 1)[-1]


def client(sess, service="s3"):
    """A boto3 client for ``service`` from the session's boto session, in the session's region."""
    return sess.boto_session.client(service, region_name=sess.boto_region_name)


def as_datetime(value):
    """A datetime from what an API returned (a datetime, or epoch seconds as a number or text); None stays None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromtimestamp(float(value), tz=timezone.utc)


def as_utc(value):
    """Like :func:`as_datetime`, as a pandas Timestamp in UTC (naive times are taken to be UTC)."""
    import pandas as pd

    value = as_datetime(value)
    if value is None:
        return None
    value = pd.Timestamp(value)
    return value.tz_localize("UTC") if value.tzinfo is None else value.tz_convert("UTC")


def seconds_between(start, end):
    """Seconds from ``start`` to ``end``, or None when either is missing."""
    return (end - start).total_seconds() if start is not None and end is not None else None


def shown(start, end):
    """(start, end, duration in s) for a table: times to the second, duration to 0.1 s."""
    seconds = seconds_between(start, end)
    return (start.floor("s") if start is not None else None, end.floor("s") if end is not None else None,
            round(seconds, 1) if seconds is not None else None)


def fmt_duration(seconds):
    """A duration as people read it: ``"<0.1 s"``, ``"12.3 s"``, ``"4 min 05 s"``, ``"1 h 02 min"``."""
    if seconds is None:
        return "-"
    if seconds < 0.1:
        return "<0.1 s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"
