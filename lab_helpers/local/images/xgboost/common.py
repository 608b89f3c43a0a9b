"""What every part of the emulated algorithm shares: the error type, the image versions, log lines.

Nothing here imports xgboost, and nothing here imports another module of this package.
"""

import difflib
import re
import time

MODEL_FILENAME = "xgboost-model"
SUPPORTED_VERSIONS = ("1.0-1", "1.2-1", "1.2-2", "1.3-1", "1.5-1", "1.7-1")
DEFAULT_VERSION = "1.7-1"


class AlgorithmError(Exception):
    """A job or request failure with a message meant for the learner.

    ``error_type`` is ``"ClientError"`` for mistakes the user can fix (bad hyperparameter,
    missing channel, malformed data), and ``"AlgorithmError"`` for unexpected failures inside
    training, matching the prefixes SageMaker puts in a job's FailureReason.
    """

    def __init__(self, message, error_type="ClientError"):
        super().__init__(message)
        self.message = message
        self.error_type = error_type


# --------------------------------------------------------------------------------------
# log lines and messages
# --------------------------------------------------------------------------------------


def log(message, level="INFO"):
    """Print a log line the way the container's Python logger formats it."""
    stamp = time.strftime("%Y-%m-%d:%H:%M:%S")
    print("[{}:{}] {}".format(stamp, level, message), flush=True)


def one_paragraph(text):
    """``text`` on one line, runs of whitespace (newlines included) made single spaces."""
    return re.sub(r"\s+", " ", str(text)).strip()


def clean_xgb_error(exc):
    """xgboost's C++ message without the timestamp/source prefix and the stack trace."""
    text = str(exc).split("Stack trace:")[0]
    text = re.sub(r"\[\d\d:\d\d:\d\d\]\s*\S+:\d+:\s*", "", text)
    return one_paragraph(text)


def quote_list(values):
    """``'a', 'b', 'c'``: values quoted and comma-separated, for messages."""
    return ", ".join("'{}'".format(v) for v in values)


def did_you_mean(word, candidates):
    """`` Did you mean 'x'?`` for the closest candidate, or an empty string."""
    close = difflib.get_close_matches(str(word), list(candidates), n=1, cutoff=0.6)
    return " Did you mean '{}'?".format(close[0]) if close else ""


# --------------------------------------------------------------------------------------
# image versions
# --------------------------------------------------------------------------------------


def normalize_version(version=None):
    """``"1.7-1"`` from ``None`` (the default), ``"1.7-1"``, ``"1.7-1-cpu-py3"`` or an image URI."""
    if version is None or str(version).strip() == "":
        return DEFAULT_VERSION
    tag = str(version).strip()
    if "/" in tag or ":" in tag:
        tag = tag.rsplit("/", 1)[-1]
        tag = tag.split("@", 1)[0]
        tag = tag.rsplit(":", 1)[-1]
    for known in SUPPORTED_VERSIONS:
        if tag == known or tag.startswith(known + "-"):
            return known
    raise AlgorithmError(
        "SageMaker XGBoost version '{}' is not emulated by local mode; supported versions: {}.".format(
            version, quote_list(SUPPORTED_VERSIONS)
        )
    )


def at_least(version, other):
    """Whether normalized image ``version`` is ``other`` or a later one."""
    return SUPPORTED_VERSIONS.index(version) >= SUPPORTED_VERSIONS.index(other)


def by_version(table, version):
    """The entry of ``table`` (first version -> value) that applies to ``version``."""
    best = None
    for key in SUPPORTED_VERSIONS:
        if key in table and at_least(version, key):
            best = key
    return table[best]
