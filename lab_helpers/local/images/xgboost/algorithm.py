"""The SageMaker built-in XGBoost algorithm, run as a plain Python function.

Local mode runs training jobs and batch transforms whose image is
``sagemaker-xgboost:<version>`` (1.0-1, 1.2-1, 1.2-2, 1.3-1, 1.5-1, 1.7-1) without Docker.
This module honours the same contract as that container in "algorithm mode" (no entry
point script), as documented by AWS ("XGBoost hyperparameters", "Common data formats for
training / inference") and as the open-source ``aws/sagemaker-xgboost-container`` behaves.

Training -- :func:`run_training` reads the usual ``/opt/ml`` layout under ``ml_root``::

    input/config/hyperparameters.json   every value a STRING, as SageMaker sends them
    input/config/inputdataconfig.json   channel -> {"ContentType", "TrainingInputMode", ...}
    input/data/<channel>/...            the channel's files (all of them, recursively)
    model/xgboost-model                 written on success (Booster.save_model)
    output/failure                      written on failure: one paragraph, "ClientError: ..."

* Hyperparameters are checked against the container's own validation table for the chosen
  version (names, types, ranges, allowed values, and the cross-checks such as "multi:softmax
  needs num_class"), then coerced: ``"50"`` -> 50, ``"0.2"`` -> 0.2, ``"rmse,auc"`` -> a list.
  The aliases learning_rate, min_split_loss, reg_lambda and reg_alpha are accepted.
* Channels: ``train`` (required) and ``validation`` (optional); ``code`` is allowed and
  ignored; any other channel fails the job, as in the container.  ContentType ``text/csv``
  (label in the FIRST column, no header; ``text/csv; label_size=1`` accepted) or
  ``text/libsvm`` / ``text/x-libsvm`` (the default when ContentType is missing).  The
  container reads every channel with the ``train`` channel's content type; here a
  ``validation`` channel with a different format fails with a clear message instead.
* ``csv_weights=1``: the second CSV column holds instance weights.  LIBSVM accepts
  ``<label>[:<weight>] [qid:<id>] <index>:<value> ...`` with zero-based feature indices.
* Training calls ``xgboost.train`` with evals ``train`` (and ``validation``) and prints one
  line per round in the container's CloudWatch form, where a tab shows up as ``#011``:
  ``[0]#011train-rmse:1.23000#011validation-rmse:2.34000``.  Without ``eval_metric`` the
  objective's default metric is reported (rmse for reg:squarederror, logloss for
  binary:logistic, ...).  The container's extra metrics (accuracy, f1, r2, mse, ...; which
  ones depends on the version) are computed on the raw margin, as the container does.
* ``early_stopping_rounds``: in 1.3-1 and later the job stops when the validation metric has
  not improved for that many rounds and the saved model is cut back to its best round
  ("SageMaker hosting uses the best model for inference").  In 1.0-1 .. 1.2-2 it works as
  ``xgboost.train(early_stopping_rounds=...)`` did: last metric of the last eval set, all
  trees kept, and serving predicts with the best round only.

Serving -- :func:`load_model`, :func:`predict` (one InvokeEndpoint request) and
:func:`transform_file` (batch transform of one file, SplitType Line):

* Input ``text/csv`` (no header, no label column, one record per line) or ``text/libsvm``.
* ``predict``, Accept ``text/csv``: one prediction per line (multi:softprob: the class
  probabilities of a record, comma-separated, per line).  Accept ``application/json``:
  ``{"predictions": [{"score": 0.73}, ...]}``.
* ``transform_file`` writes what the container answers in batch mode (``SAGEMAKER_BATCH``):
  ``str(prediction)`` per line whatever the Accept type, so multi:softprob gives lines like
  ``[0.1, 0.2, 0.7]``, exactly like a real batch transform.

Where this differs from the real container, and why:

* It is one process using the host's xgboost (1.7.x) for every image version, so numbers
  may differ slightly from the 1.0/1.2/1.3/1.5 images (which ship those xgboost versions).
  The version only changes the hyperparameter table, the metric lists and the
  early-stopping style.  GPU settings (tree_method gpu_hist, predictor gpu_predictor) are
  rejected with a clear message: local mode has no GPU.
* Failure messages are short, specific paragraphs ("ClientError: Hyperparameter 'max_depth':
  value 'five' is not an integer ...").  The real 1.x containers put a Python traceback in
  the failure reason ("AlgorithmError: framework error: ... Extraneous hyperparameter
  found: foo"), which is much harder for learners to read.  The exit code is 1, like theirs.
* Stricter data checks, reported with file and line: a CSV header row, non-numeric values,
  rows with different numbers of columns, a missing label.  The real container hands files
  to xgboost's C++ parser, which may read a header row as a row of data instead of failing.
  Blank lines are skipped, and files whose names start with ``_`` (such as Spark's
  ``_SUCCESS``) are ignored.  A file or folder whose name starts with ``.`` fails the job,
  as in the container ("Hidden file found in the data path").
* Hyperparameter keys starting with ``sagemaker_`` are ignored.  The container checks the
  raw hyperparameters.json and would report them as extraneous, but the SDK only adds them
  in script mode.  ``_tuning_objective_metric`` is validated and used (added to the
  reported metrics and used for early stopping) the way the container does.
* In 1.3-1 and later the container only stops early when ``eval_metric`` (or a tuning
  metric) is given; here early stopping also works without one, using the objective's
  default metric, as the AWS docs for ``early_stopping_rounds`` describe.  ``eval_metric``
  without ``objective`` is allowed (the default objective, reg:squarederror, is assumed);
  the container crashes on that.  The ``ndcg@n``/``map@n`` metrics are maximised when
  stopping early; the container's exact-name check treats them as minimised.  The log line
  of the round that triggers early stopping is always printed (with xgboost 1.7 the
  container's two callbacks run in an unpredictable order, so it sometimes is not).
  Metric order in the log follows ``eval_metric`` (when container-computed metrics such
  as accuracy are also asked for, the container passes the others through a set, so their
  order there varies).
* Input modes: Pipe and FastFile channels are read from their folder like File mode (the
  container's rule that LIBSVM cannot use Pipe mode is kept); a missing
  S3DistributionType is fine here, the container needs it.
* Not emulated; each of these fails with a clear message or is ignored: the
  ``application/x-recordio-protobuf`` format; Parquet when ``pyarrow`` is not installed;
  cross-validation (the Autopilot-only ``_kfold``/``_nfold``); checkpoints; distributed
  training; ``save_model_on_termination`` (accepted, no effect); SageMaker Debugger hooks;
  selectable inference output (``SAGEMAKER_INFERENCE_OUTPUT``); ensembles of several model
  files.  Non-finite float hyperparameters ("nan", "inf") are rejected.
* Blank lines in a request or batch file are skipped (the container fails on them), so
  the number of output lines is the number of non-blank input lines.
"""

import ast
import difflib
import io
import json
import math
import os
import pickle
import re
import tarfile
import time
import warnings

import numpy as np

MODEL_FILENAME = "xgboost-model"
SUPPORTED_VERSIONS = ("1.0-1", "1.2-1", "1.2-2", "1.3-1", "1.5-1", "1.7-1")
DEFAULT_VERSION = "1.7-1"
#: Records per xgboost call in transform_file; keeps memory bounded for big files.
TRANSFORM_CHUNK_RECORDS = 50000


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
# small helpers
# --------------------------------------------------------------------------------------


def _log(message, level="INFO"):
    """Print a log line the way the container's Python logger formats it."""
    stamp = time.strftime("%Y-%m-%d:%H:%M:%S")
    print("[{}:{}] {}".format(stamp, level, message), flush=True)


def _one_paragraph(text):
    return re.sub(r"\s+", " ", str(text)).strip()


def _clean_xgb_error(exc):
    """xgboost's C++ message without the timestamp/source prefix and the stack trace."""
    text = str(exc).split("Stack trace:")[0]
    text = re.sub(r"\[\d\d:\d\d:\d\d\]\s*\S+:\d+:\s*", "", text)
    return _one_paragraph(text)


def _quote_list(values):
    return ", ".join("'{}'".format(v) for v in values)


def _did_you_mean(word, candidates):
    close = difflib.get_close_matches(str(word), list(candidates), n=1, cutoff=0.6)
    return " Did you mean '{}'?".format(close[0]) if close else ""


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
            version, _quote_list(SUPPORTED_VERSIONS)
        )
    )


def _at_least(version, other):
    return SUPPORTED_VERSIONS.index(version) >= SUPPORTED_VERSIONS.index(other)


# --------------------------------------------------------------------------------------
# hyperparameter table (mirrors the container's hyperparameter_validation.py per version)
# --------------------------------------------------------------------------------------


class _Interval(object):
    def __init__(self, min_closed=None, min_open=None, max_closed=None, max_open=None):
        self.min_closed, self.min_open = min_closed, min_open
        self.max_closed, self.max_open = max_closed, max_open

    def __contains__(self, value):
        return not (
            (self.min_open is not None and value <= self.min_open)
            or (self.min_closed is not None and value < self.min_closed)
            or (self.max_open is not None and value >= self.max_open)
            or (self.max_closed is not None and value > self.max_closed)
        )

    def __str__(self):
        if self.min_open is not None:
            low = "({}".format(self.min_open)
        elif self.min_closed is not None:
            low = "[{}".format(self.min_closed)
        else:
            low = "(-inf"
        if self.max_open is not None:
            high = "{})".format(self.max_open)
        elif self.max_closed is not None:
            high = "{}]".format(self.max_closed)
        else:
            high = "+inf)"
        return "{}, {}".format(low, high)


_MAXIMIZE_METRICS = {
    "1.0-1": ["accuracy", "auc", "aucpr", "f1", "map", "ndcg"],
    "1.2-1": ["accuracy", "auc", "aucpr", "f1", "map", "ndcg", "r2"],
    "1.2-2": ["accuracy", "auc", "aucpr", "f1", "f1_binary", "f1_macro", "map", "ndcg", "r2"],
    "1.3-1": [
        "accuracy", "auc", "aucpr", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "map", "ndcg",
        "precision", "r2", "recall", "precision_macro", "precision_micro", "recall_macro", "recall_micro",
    ],
}
_MINIMIZE_METRICS = {
    "1.0-1": [
        "cox-nloglik", "error", "gamma-deviance", "gamma-nloglik", "logloss", "mae", "merror", "mlogloss",
        "mse", "poisson-nloglik", "rmse", "rmsle", "tweedie-nloglik",
    ],
    "1.2-1": [
        "aft-nloglik", "cox-nloglik", "error", "gamma-deviance", "gamma-nloglik", "interval-regression-accuracy",
        "logloss", "mae", "merror", "mlogloss", "mphe", "mse", "poisson-nloglik", "rmse", "rmsle",
        "tweedie-nloglik",
    ],
    "1.3-1": [
        "aft-nloglik", "cox-nloglik", "error", "gamma-deviance", "gamma-nloglik", "interval-regression-accuracy",
        "logloss", "mae", "mape", "merror", "mlogloss", "mphe", "mse", "poisson-nloglik", "rmse", "rmsle",
        "tweedie-nloglik",
    ],
}
#: metrics the container computes itself (through xgboost's feval), by first version
_CUSTOM_METRICS = {
    "1.0-1": ["accuracy", "f1", "mse"],
    "1.2-1": ["accuracy", "f1", "mse", "r2"],
    "1.2-2": ["accuracy", "f1", "f1_binary", "f1_macro", "mse", "r2"],
    "1.3-1": [
        "accuracy", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "mse", "rmse", "mae", "precision",
        "precision_macro", "precision_micro", "r2", "recall", "recall_macro", "recall_micro",
    ],
}


def _by_version(table, version):
    best = None
    for key in SUPPORTED_VERSIONS:
        if key in table and _at_least(version, key):
            best = key
    return table[best]


def maximize_metrics(version=DEFAULT_VERSION):
    return list(_by_version(_MAXIMIZE_METRICS, normalize_version(version)))


def minimize_metrics(version=DEFAULT_VERSION):
    return list(_by_version(_MINIMIZE_METRICS, normalize_version(version)))


def _objectives(version):
    objectives = [
        "binary:logistic", "binary:logitraw", "binary:hinge", "count:poisson", "multi:softmax", "multi:softprob",
        "rank:pairwise", "rank:ndcg", "rank:map", "reg:linear", "reg:squarederror", "reg:logistic", "reg:gamma",
        "reg:squaredlogerror", "reg:tweedie", "survival:cox",
    ]
    if _at_least(version, "1.2-1"):
        # "aft_loss_distribution" is in the container's objective list too (a slip there);
        # xgboost rejects it as an objective when training starts.
        objectives = ["aft_loss_distribution"] + objectives + ["reg:pseudohubererror", "survival:aft"]
    return objectives


_UPDATERS_OLD = ["grow_colmaker", "distcol", "grow_histmaker", "grow_local_histmaker", "grow_skmaker", "sync",
                 "refresh", "prune", "grow_quantile_histmaker"]
_UPDATERS_NEW = ["grow_colmaker", "distcol", "grow_histmaker", "grow_skmaker", "sync", "refresh", "prune",
                 "grow_quantile_histmaker"]
_LINEAR_UPDATERS = ["shotgun", "coord_descent"]


class _HP(object):
    """One row of the validation table."""

    def __init__(self, name, kind, allowed=None, required=False, hint=""):
        self.name = name
        self.kind = kind  # int, float, cat, list, tuple, nested
        self.allowed = allowed  # _Interval, list of values, or None (custom check)
        self.required = required
        self.hint = hint

    def describe(self):
        if self.kind == "int":
            return "an integer in {}".format(self.allowed)
        if self.kind == "float":
            return "a number in {}".format(self.allowed)
        if self.kind == "cat":
            return "one of {}".format(_quote_list(self.allowed))
        return self.hint


def _hyperparameter_table(version):
    iv = _Interval
    unit = iv(min_closed=0, max_closed=1)
    nonneg = iv(min_closed=0)
    frac = iv(min_open=0, max_closed=1)
    flag = iv(min_closed=0, max_closed=1)
    hps = [
        _HP("num_round", "int", iv(min_closed=1), required=True),
        _HP("csv_weights", "int", flag),
        _HP("early_stopping_rounds", "int", iv(min_closed=1)),
        _HP("booster", "cat", ["gbtree", "gblinear", "dart"]),
        _HP("verbosity", "int", iv(min_closed=0, max_closed=3)),
        _HP("nthread", "int", iv(min_closed=1)),
        _HP("eta", "float", unit),
        _HP("gamma", "float", nonneg),
        _HP("max_depth", "int", nonneg),
        _HP("min_child_weight", "float", nonneg),
        _HP("max_delta_step", "float", nonneg),
        _HP("subsample", "float", frac),
        _HP("colsample_bytree", "float", frac),
        _HP("colsample_bylevel", "float", frac),
        _HP("colsample_bynode", "float", frac),
        _HP("lambda", "float", nonneg),
        _HP("alpha", "float", nonneg),
        _HP("tree_method", "cat", ["auto", "exact", "approx", "hist"]
            + (["gpu_hist"] if _at_least(version, "1.2-1") else [])),
        _HP("sketch_eps", "float", iv(min_open=0, max_open=1)),
        _HP("scale_pos_weight", "float", iv(min_open=0)),
        _HP("updater", "list", None,
            hint="a comma-separated list of updaters from {}".format(
                _quote_list((_UPDATERS_NEW if version == "1.7-1" else _UPDATERS_OLD) + _LINEAR_UPDATERS))),
        _HP("dsplit", "cat", ["row", "col"]),
        _HP("refresh_leaf", "int", flag),
        _HP("process_type", "cat", ["default", "update"]),
        _HP("grow_policy", "cat", ["depthwise", "lossguide"]),
        _HP("max_leaves", "int", nonneg),
        _HP("max_bin", "int", nonneg),
        _HP("predictor", "cat",
            ["auto", "cpu_predictor", "gpu_predictor"] if _at_least(version, "1.2-1") else ["cpu_predictor"]),
        _HP("monotone_constraints", "tuple", [-1, 0, 1],
            hint="a tuple of -1, 0 and 1, one per feature, such as '(1,0,-1)'"),
        _HP("interaction_constraints", "nested", iv(min_closed=1),
            hint="a nested list of feature indices (each >= 1, as the container checks), such as '[[1,2],[3,4]]'"),
        _HP("sample_type", "cat", ["uniform", "weighted"]),
        _HP("normalize_type", "cat", ["tree", "forest"]),
        _HP("rate_drop", "float", unit),
        _HP("one_drop", "int", flag),
        _HP("skip_drop", "float", unit),
        _HP("lambda_bias", "float", unit),
        _HP("tweedie_variance_power", "float", iv(min_open=1, max_open=2)),
        _HP("objective", "cat", _objectives(version)),
        _HP("num_class", "int", iv(min_closed=2)),
        _HP("base_score", "float", nonneg),
        _HP("_tuning_objective_metric", "cat", None),  # allowed list filled below
        _HP("eval_metric", "list", None,
            hint="a comma-separated list (no spaces) of {}, or error@t / ndcg@n / map@n".format(
                _quote_list(_by_version(_MAXIMIZE_METRICS, version) + _by_version(_MINIMIZE_METRICS, version)))),
        _HP("seed", "int", iv(min_open=-(2 ** 31), max_open=2 ** 31 - 1)),
        _HP("num_parallel_tree", "int", iv(min_closed=1)),
        _HP("save_model_on_termination", "cat", ["true", "false"]),
    ]
    if version == "1.0-1":
        hps.append(_HP("silent", "int", flag))
    if _at_least(version, "1.2-1"):
        hps += [
            _HP("aft_loss_distribution", "cat", ["normal", "logistic", "extreme"]),
            _HP("aft_loss_distribution_scale", "float", nonneg),
            _HP("deterministic_histogram", "cat", ["true", "false"]),
        ]
    if version == "1.2-1":
        hps.append(_HP("_nfold", "int", iv(min_closed=2)))
    if _at_least(version, "1.2-2"):
        hps += [_HP("_kfold", "int", iv(min_closed=2)), _HP("_num_cv_round", "int", iv(min_closed=1))]
    if _at_least(version, "1.2-1") and not _at_least(version, "1.7-1"):
        hps.append(_HP("single_precision_histogram", "cat", ["true", "false"]))
    if _at_least(version, "1.3-1"):
        hps += [
            _HP("sampling_method", "cat", ["uniform", "gradient_based"]),
            _HP("prob_buffer_row", "int", iv(min_open=1)),
        ]
    if version == "1.7-1":
        hps.append(_HP("use_dask_gpu_training", "cat", ["true", "false"]))
    table = {hp.name: hp for hp in hps}
    metrics = _by_version(_MAXIMIZE_METRICS, version) + _by_version(_MINIMIZE_METRICS, version)
    table["_tuning_objective_metric"].allowed = ["validation:{}".format(m) for m in metrics]
    return table


_ALIASES = {"learning_rate": "eta", "min_split_loss": "gamma", "reg_lambda": "lambda", "reg_alpha": "alpha"}


def supported_hyperparameters(version=DEFAULT_VERSION):
    """Names the container accepts for ``version`` (aliases included), sorted."""
    return sorted(list(_hyperparameter_table(normalize_version(version))) + list(_ALIASES))


def _parse_value(hp, label, raw):
    """Coerce one string value to the hyperparameter's type (no range checks yet)."""
    text = raw.strip() if isinstance(raw, str) else raw
    if hp.kind == "int":
        try:
            return int(text)
        except (TypeError, ValueError):
            raise AlgorithmError(
                "Hyperparameter {}: value '{}' is not an integer; expected {}.".format(label, raw, hp.describe())
            )
    if hp.kind == "float":
        try:
            value = float(text)
        except (TypeError, ValueError):
            raise AlgorithmError(
                "Hyperparameter {}: value '{}' is not a number; expected {}.".format(label, raw, hp.describe())
            )
        if not math.isfinite(value):
            raise AlgorithmError(
                "Hyperparameter {}: value '{}' is not a finite number; expected {}.".format(label, raw, hp.describe())
            )
        return value
    if hp.kind == "cat":
        return raw
    if hp.kind == "list":
        return raw.split(",")
    # tuple / nested: Python literals, e.g. "(1,0,-1)" or "[[1,2],[3]]"
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError, TypeError):
        raise AlgorithmError(
            "Hyperparameter {}: value '{}' could not be parsed; expected {}.".format(label, raw, hp.hint)
        )
    return value


def _check_range(hp, label, raw, value, version):
    if hp.kind in ("int", "float"):
        if value not in hp.allowed:
            raise AlgorithmError(
                "Hyperparameter {}: value '{}' is out of range; expected {}.".format(label, raw, hp.describe())
            )
    elif hp.kind == "cat":
        if hp.name == "tree_method" and version == "1.0-1" and "gpu" in value:
            raise AlgorithmError(
                "Hyperparameter 'tree_method': value '{}' is not supported: GPU training is not supported "
                "by SageMaker XGBoost 1.0-1. Use one of {}.".format(raw, _quote_list(hp.allowed))
            )
        if value not in hp.allowed:
            raise AlgorithmError(
                "Hyperparameter {}: value '{}' is not allowed; expected {}.{}".format(
                    label, raw, hp.describe(), _did_you_mean(value, hp.allowed)
                )
            )
    elif hp.kind == "list" and hp.name == "eval_metric":
        supported = _by_version(_MAXIMIZE_METRICS, version) + _by_version(_MINIMIZE_METRICS, version)
        for metric in value:
            _check_metric(label, raw, metric, supported)
    elif hp.kind == "list" and hp.name == "updater":
        allowed = (_UPDATERS_NEW if version == "1.7-1" else _UPDATERS_OLD) + _LINEAR_UPDATERS
        for item in value:
            if item not in allowed:
                raise AlgorithmError(
                    "Hyperparameter 'updater': value '{}' contains '{}', which is not an updater; expected {}.".format(
                        raw, item, hp.hint
                    )
                )
    elif hp.kind == "tuple":
        items = value if isinstance(value, (tuple, list)) else None
        if items is None or any(isinstance(x, bool) or x not in hp.allowed for x in items):
            raise AlgorithmError(
                "Hyperparameter {}: value '{}' is not allowed; expected {}.".format(label, raw, hp.hint)
            )
    elif hp.kind == "nested":
        ok = isinstance(value, (list, tuple)) and all(
            isinstance(inner, (list, tuple))
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) and x in hp.allowed for x in inner)
            for inner in value
        )
        if not ok:
            raise AlgorithmError(
                "Hyperparameter {}: value '{}' is not allowed; expected {}.".format(label, raw, hp.hint)
            )


def _check_metric(label, raw, metric, supported):
    if metric != metric.strip():
        raise AlgorithmError(
            "Hyperparameter {}: value '{}' contains '{}' with spaces; SageMaker XGBoost splits the list on "
            "commas only, so write it without spaces (e.g. 'rmse,mae').".format(label, raw, metric)
        )
    if "@" in metric:
        name, threshold = metric.split("@", 1)
        if name.strip() not in ("error", "ndcg", "map"):
            raise AlgorithmError(
                "Hyperparameter {}: metric '{}' is not supported; only 'error', 'ndcg' and 'map' take a "
                "'@t' threshold.".format(label, metric)
            )
        try:
            float(threshold.strip())
        except ValueError:
            raise AlgorithmError(
                "Hyperparameter {}: the threshold in '{}' must be a number (as in '{}@0.5').".format(
                    label, metric, name.strip()
                )
            )
        return
    if metric not in supported:
        raise AlgorithmError(
            "Hyperparameter {}: value '{}' contains the unknown metric '{}'.{} Allowed metrics: {}.".format(
                label, raw, metric, _did_you_mean(metric, supported), _quote_list(supported)
            )
        )


def _check_dependencies(values, labels, version):
    objective = values.get("objective")
    num_class = values.get("num_class")
    if objective in ("multi:softmax", "multi:softprob") and num_class is None:
        raise AlgorithmError(
            "Hyperparameter 'num_class' is required when objective is '{}' (the number of classes, an integer "
            ">= 2).".format(objective)
        )
    if "eval_metric" in values:
        metrics = values["eval_metric"]
        effective_objective = objective or "reg:squarederror"
        if "auc" in metrics and not effective_objective.startswith(("binary:", "rank:")):
            raise AlgorithmError(
                "Hyperparameter 'eval_metric': metric 'auc' can only be applied for classification and ranking "
                "problems (objective binary:* or rank:*), but objective is '{}'.".format(effective_objective)
            )
        if "aft-nloglik" in metrics and effective_objective != "survival:aft":
            raise AlgorithmError(
                "Hyperparameter 'eval_metric': metric 'aft-nloglik' can only be applied for the 'survival:aft' "
                "objective."
            )
    tree_method = values.get("tree_method")
    if "monotone_constraints" in values and tree_method not in ("exact", "hist"):
        raise AlgorithmError(
            "Hyperparameter 'monotone_constraints' can be used only when the tree_method parameter is set to "
            "either 'exact' or 'hist' (tree_method is {}).".format(
                "'{}'".format(tree_method) if tree_method else "not set"
            )
        )
    if "interaction_constraints" in values and tree_method not in ("exact", "hist", "approx"):
        raise AlgorithmError(
            "Hyperparameter 'interaction_constraints' can be used only when the tree_method parameter is set to "
            "either 'exact', 'hist' or 'approx' (tree_method is {}).".format(
                "'{}'".format(tree_method) if tree_method else "not set"
            )
        )
    if "updater" in values:
        updaters = values["updater"]
        tree_plugins = _UPDATERS_NEW if version == "1.7-1" else _UPDATERS_OLD
        grow_plugins = [u for u in tree_plugins if u.startswith("grow_") or u == "distcol"]
        grow_plugins = [u for u in grow_plugins if u != "grow_skmaker"]
        if values.get("booster") == "gblinear":
            if not (len(updaters) == 1 and updaters[0] in _LINEAR_UPDATERS):
                raise AlgorithmError(
                    "Hyperparameter 'updater': with booster 'gblinear' the updater must be exactly one of "
                    "{}.".format(_quote_list(_LINEAR_UPDATERS))
                )
        elif values.get("process_type") == "update":
            if not all(u in ("refresh", "prune") for u in updaters):
                raise AlgorithmError(
                    "Hyperparameter 'updater': process_type 'update' can only be used with updater 'refresh' "
                    "and 'prune'."
                )
        else:
            if not all(u in tree_plugins for u in updaters):
                raise AlgorithmError(
                    "Hyperparameter 'updater': tree updaters must be chosen from {}.".format(_quote_list(tree_plugins))
                )
            if sum(1 for u in updaters if u in grow_plugins) > 1:
                raise AlgorithmError(
                    "Hyperparameter 'updater': only one tree grow plugin can be selected; choose one of {}.".format(
                        _quote_list(grow_plugins)
                    )
                )
    # local mode has no GPU
    if values.get("tree_method") == "gpu_hist" or values.get("predictor") == "gpu_predictor":
        which = "tree_method 'gpu_hist'" if values.get("tree_method") == "gpu_hist" else "predictor 'gpu_predictor'"
        raise AlgorithmError(
            "Hyperparameter {} needs a GPU instance, and local mode runs on the CPU. Use tree_method 'hist' "
            "(and predictor 'auto') locally, or run this step in remote mode on a GPU instance.".format(which)
        )


def validate_hyperparameters(raw_hyperparameters, version=DEFAULT_VERSION):
    """Check and coerce hyperparameters (string values) as the container does.

    Returns a dict of typed values keyed by the canonical names (aliases resolved).  Keys
    starting with ``sagemaker_`` are dropped.  Raises :class:`AlgorithmError` naming the
    hyperparameter, the value and what is allowed.
    """
    version = normalize_version(version)
    table = _hyperparameter_table(version)
    if not isinstance(raw_hyperparameters, dict):
        raise AlgorithmError("hyperparameters.json must hold a JSON object of name -> string value.")

    user = {}
    labels = {}
    for key, raw in raw_hyperparameters.items():
        key = str(key)
        if key.startswith("sagemaker_"):
            continue
        if raw is None:
            raw = ""
        elif not isinstance(raw, str):
            raw = str(raw)  # what the SDK does before CreateTrainingJob
        canonical = _ALIASES.get(key, key)
        user[canonical] = raw
        if key == canonical:
            labels[canonical] = "'{}'".format(key)
        else:
            labels[canonical] = "'{}' (alias of '{}')".format(key, canonical)

    for name, hp in table.items():
        if hp.required and name not in user:
            raise AlgorithmError(
                "Missing required hyperparameter: '{}' (the number of boosting rounds, an integer >= 1).".format(name)
                if name == "num_round"
                else "Missing required hyperparameter: '{}'.".format(name)
            )

    parsed = {}
    for name, raw in user.items():
        hp = table.get(name)
        if hp is None:
            known = sorted(list(table) + list(_ALIASES))
            elsewhere = [v for v in SUPPORTED_VERSIONS if name in _hyperparameter_table(v)]
            other = " (only image version(s) {} accept it)".format(", ".join(elsewhere)) if elsewhere else ""
            raise AlgorithmError(
                "Hyperparameter {}: unknown hyperparameter (value '{}'); SageMaker XGBoost {} does not accept "
                "it{} (the container reports 'Extraneous hyperparameter found: {}').{} Allowed hyperparameters: "
                "{}.".format(
                    labels[name], raw, version, other, name, _did_you_mean(name, known), ", ".join(known)
                )
            )
        parsed[name] = _parse_value(hp, labels[name], raw)

    for name, value in parsed.items():
        _check_range(table[name], labels[name], user[name], value, version)

    _check_dependencies(parsed, labels, version)
    return parsed


# --------------------------------------------------------------------------------------
# channels and content types
# --------------------------------------------------------------------------------------

_CSV, _LIBSVM, _PARQUET, _RECORDIO = "csv", "libsvm", "parquet", "recordio-protobuf"
_CONTENT_TYPES = {
    "csv": _CSV,
    "text/csv": _CSV,
    "libsvm": _LIBSVM,
    "text/libsvm": _LIBSVM,
    "text/x-libsvm": _LIBSVM,
    "parquet": _PARQUET,
    "application/x-parquet": _PARQUET,
    "recordio-protobuf": _RECORDIO,
    "application/x-recordio-protobuf": _RECORDIO,
}


def _split_media_type(value):
    parts = [p.strip() for p in str(value).split(";")]
    params = {}
    for part in parts[1:]:
        if "=" in part:
            key, val = part.split("=", 1)
            params[key.strip().lower()] = val.strip().strip('"')
    return parts[0].lower(), params


def parse_content_type(content_type, purpose="training"):
    """'csv' or 'libsvm' (or 'parquet'/'recordio-protobuf' for training) from a ContentType."""
    if content_type is None:
        return _LIBSVM
    media, params = _split_media_type(content_type)
    kind = _CONTENT_TYPES.get(media)
    if kind is None:
        accepted = "text/csv, text/libsvm" if purpose != "training" else ", ".join(_CONTENT_TYPES)
        raise AlgorithmError(
            "ContentType '{}' is not supported by SageMaker XGBoost {}; use one of: {}.".format(
                content_type, purpose, accepted
            )
        )
    if kind == _CSV and params.get("label_size", "1") != "1":
        raise AlgorithmError(
            "ContentType '{}' is not an accepted csv ContentType: the optional parameter label_size must be "
            "1 for XGBoost.".format(content_type)
        )
    if purpose != "training" and kind not in (_CSV, _LIBSVM):
        raise AlgorithmError(
            "ContentType '{}' is not supported by local-mode XGBoost inference; use text/csv or text/libsvm.".format(
                content_type
            )
        )
    return kind


_KNOWN_CHANNELS = ("train", "validation", "code")


def _validate_channels(data_config):
    if not isinstance(data_config, dict):
        raise AlgorithmError("inputdataconfig.json must hold a JSON object of channel name -> channel settings.")
    if "train" not in data_config:
        present = ", ".join("'{}'".format(c) for c in data_config) or "none"
        raise AlgorithmError(
            "Missing required channel: the 'train' channel is required by SageMaker XGBoost (channels given: {}). "
            "Pass inputs={{'train': TrainingInput(s3_uri, content_type='text/csv')}} (and optionally "
            "'validation').".format(present)
        )
    channels = {}
    for name, settings in data_config.items():
        if name not in _KNOWN_CHANNELS:
            raise AlgorithmError(
                "Extraneous channel found: '{}'. SageMaker XGBoost accepts only the channels 'train' (required) "
                "and 'validation' (optional).".format(name)
            )
        settings = dict(settings or {})
        if name == "code":
            continue
        mode = settings.get("TrainingInputMode", "File")
        if mode not in ("File", "FastFile", "Pipe"):
            raise AlgorithmError(
                "Channel '{}': TrainingInputMode '{}' is not supported; use 'File' (or 'Pipe').".format(name, mode)
            )
        kind = parse_content_type(settings.get("ContentType"), "training")
        if mode == "Pipe" and kind == _LIBSVM:
            raise AlgorithmError(
                "Channel '{}': Pipe mode is not supported for LibSVM data; use File mode or CSV.".format(name)
            )
        channels[name] = {"kind": kind, "content_type": settings.get("ContentType") or "text/libsvm", "mode": mode}
    if "validation" in channels and channels["validation"]["kind"] != channels["train"]["kind"]:
        raise AlgorithmError(
            "The 'validation' channel has ContentType '{}' but 'train' has '{}'. SageMaker XGBoost reads every "
            "channel with the 'train' channel's content type, so use the same format for both.".format(
                channels["validation"]["content_type"], channels["train"]["content_type"]
            )
        )
    return channels


def _channel_files(channel_dir, channel):
    """Data files of a channel, recursively, in a stable order."""
    files = []
    if not os.path.isdir(channel_dir):
        return files
    for root, dirs, names in os.walk(channel_dir):
        dirs.sort()
        rel_root = os.path.relpath(root, channel_dir)
        parts = [] if rel_root == "." else rel_root.split(os.sep)
        for name in sorted(names):
            rel = "/".join(parts + [name])
            if name.startswith(".") or any(p.startswith(".") for p in parts):
                raise AlgorithmError(
                    "Hidden file found in the data path of the '{}' channel: '{}'. Remove it before training "
                    "(SageMaker XGBoost refuses hidden files).".format(channel, rel)
                )
            if name.startswith("_"):
                continue  # e.g. Spark's _SUCCESS marker
            path = os.path.join(root, name)
            if os.path.isfile(path) and os.path.getsize(path) > 0:
                files.append((rel, path))
    return files


# --------------------------------------------------------------------------------------
# parsing CSV / LIBSVM text
# --------------------------------------------------------------------------------------

_DELIMITERS = (",", "\t", ";", "|", " ")


def _detect_delimiter(line):
    stripped = line.strip()
    for delimiter in _DELIMITERS:
        if delimiter in stripped:
            return delimiter
    return ","


def _records(text):
    """(line number, line) for every non-blank line."""
    if text.startswith("\ufeff"):
        text = text[1:]
    return [(i + 1, line) for i, line in enumerate(text.splitlines()) if line.strip()]


def _split_fields(line, delimiter):
    return line.split() if delimiter == " " else line.split(delimiter)


def _looks_numeric(field):
    text = field.strip().strip('"')
    if text == "":
        return True
    try:
        float(text)
        return True
    except ValueError:
        return False


def _parse_csv_records(records, where, role, delimiter=None):
    """A float64 matrix from CSV lines; empty fields become NaN.  Errors name file and line.

    ``role`` is "training" (label in the first column) or "inference" (no label column).
    """
    if not records:
        return np.empty((0, 0), dtype=np.float64)
    delimiter = delimiter or _detect_delimiter(records[0][1])
    first_no, first_line = records[0]
    first_fields = _split_fields(first_line, delimiter)
    non_numeric = [f for f in first_fields if not _looks_numeric(f)]
    if first_no == 1 and non_numeric and 2 * len(non_numeric) >= len(first_fields):
        if role == "training":
            expect = "SageMaker XGBoost expects CSV without a header row, with the label in the first column"
        else:
            expect = "for inference send only the feature values: no header row and no label column"
        raise AlgorithmError(
            "Line 1 of {} looks like a header row ('{}'): {}. Remove the header (e.g. "
            "df.to_csv(path, header=False, index=False)).".format(where, first_line.strip()[:80], expect)
        )
    # fast path: numpy's C parser on the non-blank lines
    if delimiter != " ":
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                matrix = np.loadtxt(
                    io.StringIO("\n".join(line for _, line in records)),
                    delimiter=delimiter, dtype=np.float64, ndmin=2, comments=None,
                )
            if matrix.shape[0] == len(records):
                return matrix
        except (ValueError, IndexError):
            pass
    # slow path: exact errors, NaN for empty fields
    width = len(first_fields)
    rows = []
    for line_no, line in records:
        fields = _split_fields(line, delimiter)
        if len(fields) != width:
            raise AlgorithmError(
                "Line {} of {} has {} columns but line {} has {} (delimiter '{}'). Every row needs the same "
                "number of columns.".format(line_no, where, len(fields), first_no, width, delimiter)
            )
        row = []
        for col, field in enumerate(fields):
            text = field.strip().strip('"')
            if text == "":
                row.append(np.nan)
                continue
            try:
                row.append(float(text))
            except ValueError:
                raise AlgorithmError(
                    "Line {} of {}, column {}: value '{}' is not a number. SageMaker XGBoost needs numeric CSV "
                    "(encode categories as numbers first).".format(line_no, where, col + 1, text[:40])
                )
        rows.append(row)
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), width)


class _Sparse(object):
    """Rows of a LIBSVM file: CSR pieces plus labels, weights and query ids."""

    def __init__(self):
        self.data, self.indices, self.indptr = [], [], [0]
        self.labels, self.weights, self.qids = [], [], []
        self.has_weight = False
        self.has_qid = False
        self.width = 0

    def extend(self, other):
        offset = len(self.data)
        self.data += other.data
        self.indices += other.indices
        self.indptr += [p + offset for p in other.indptr[1:]]
        self.labels += other.labels
        self.weights += other.weights
        self.qids += other.qids
        self.has_weight = self.has_weight or other.has_weight
        self.has_qid = self.has_qid or other.has_qid
        self.width = max(self.width, other.width)

    @property
    def rows(self):
        return len(self.labels)


def _libsvm_error(where, line_no, line, why):
    return AlgorithmError(
        "Line {} of {} is not LIBSVM ('<label>[:<weight>] <index>:<value> ...'): {} (line starts '{}'). If the "
        "data is CSV, set the channel's ContentType to 'text/csv' (LIBSVM is the default).".format(
            line_no, where, why, line.strip()[:50]
        )
    )


def _parse_libsvm_records(records, where, with_label):
    sparse = _Sparse()
    for line_no, line in records:
        body = line.split("#", 1)[0].strip()
        if not body:
            continue
        tokens = body.split()
        if with_label:
            head = tokens[0].split(":")
            if len(head) > 2:
                raise _libsvm_error(where, line_no, line, "the label '{}' is malformed".format(tokens[0]))
            try:
                label = float(head[0])
                weight = float(head[1]) if len(head) == 2 else 1.0
            except ValueError:
                raise _libsvm_error(where, line_no, line, "the label '{}' is not a number".format(tokens[0]))
            if math.isnan(label):
                raise _libsvm_error(where, line_no, line, "the label is NaN")
            sparse.has_weight = sparse.has_weight or len(head) == 2
            tokens = tokens[1:]
        else:
            label, weight = 0.0, 1.0
            if tokens and ":" not in tokens[0]:
                tokens = tokens[1:]  # an optional leading label, as the serving container ignores
        qid = None
        for token in tokens:
            if token.startswith("qid:"):
                try:
                    qid = int(token[4:])
                except ValueError:
                    raise _libsvm_error(where, line_no, line, "'{}' is not a valid query id".format(token))
                continue
            pieces = token.split(":")
            if len(pieces) != 2:
                raise _libsvm_error(where, line_no, line, "'{}' is not an <index>:<value> pair".format(token))
            try:
                index = int(pieces[0])
                value = float(pieces[1])
            except ValueError:
                raise _libsvm_error(where, line_no, line, "'{}' is not an <index>:<value> pair".format(token))
            if index < 0:
                raise _libsvm_error(where, line_no, line, "feature index {} is negative".format(index))
            sparse.indices.append(index)
            sparse.data.append(value)
            sparse.width = max(sparse.width, index + 1)
        sparse.indptr.append(len(sparse.data))
        sparse.labels.append(label)
        sparse.weights.append(weight)
        sparse.qids.append(qid)
        sparse.has_qid = sparse.has_qid or qid is not None
    return sparse


def _read_text(path, where):
    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AlgorithmError(
            "{} is not UTF-8 text (is it compressed or binary?). SageMaker XGBoost reads plain CSV or LIBSVM "
            "files.".format(where[0].upper() + where[1:])
        )


# --------------------------------------------------------------------------------------
# loading a channel
# --------------------------------------------------------------------------------------


class _ChannelData(object):
    """A channel's parsed contents before it becomes a DMatrix."""

    def __init__(self, kind, dense=None, sparse=None, label=None, weight=None, group=None):
        self.kind = kind
        self.dense = dense  # features (n, f) for csv / parquet
        self.sparse = sparse
        self.label = label
        self.weight = weight
        self.group = group

    @property
    def rows(self):
        return self.sparse.rows if self.sparse is not None else int(self.dense.shape[0])

    @property
    def width(self):
        return self.sparse.width if self.sparse is not None else int(self.dense.shape[1])


def _load_csv_channel(files, channel, csv_weights):
    blocks = []
    width = None
    first_file = None
    for rel, path in files:
        where = "file '{}' in the '{}' channel".format(rel, channel)
        records = _records(_read_text(path, where))
        matrix = _parse_csv_records(records, where, "training")
        if matrix.size == 0:
            continue
        if width is None:
            width, first_file = matrix.shape[1], rel
        elif matrix.shape[1] != width:
            raise AlgorithmError(
                "File '{}' in the '{}' channel has {} columns but '{}' has {}; all files of a channel need the "
                "same columns.".format(rel, channel, matrix.shape[1], first_file, width)
            )
        labels = matrix[:, 0]
        bad = np.flatnonzero(~np.isfinite(labels))
        if bad.size:
            line_no = records[int(bad[0])][0]
            raise AlgorithmError(
                "Line {} of {} has no valid label: the first column must hold the label, a finite number, but it "
                "is empty or '{}'.".format(line_no, where, labels[bad[0]])
            )
        blocks.append(matrix)
    if not blocks:
        return None
    data = np.vstack(blocks) if len(blocks) > 1 else blocks[0]
    first_feature = 2 if csv_weights == 1 else 1
    if data.shape[1] <= first_feature:
        raise AlgorithmError(
            "The '{}' channel's CSV has {} column(s), so there are no feature columns: SageMaker XGBoost expects "
            "the label in the first column{} followed by the features.".format(
                channel, data.shape[1], " and the instance weight in the second (csv_weights=1)" if csv_weights else ""
            )
        )
    weight = data[:, 1].copy() if csv_weights == 1 else None
    return _ChannelData(_CSV, dense=data[:, first_feature:], label=data[:, 0].copy(), weight=weight)


def _load_libsvm_channel(files, channel):
    total = _Sparse()
    for rel, path in files:
        where = "file '{}' in the '{}' channel".format(rel, channel)
        total.extend(_parse_libsvm_records(_records(_read_text(path, where)), where, with_label=True))
    if total.rows == 0:
        return None
    group = None
    if total.has_qid:
        if any(q is None for q in total.qids):
            raise AlgorithmError(
                "The '{}' channel mixes LIBSVM rows with and without 'qid:'; give every row a query id or "
                "none.".format(channel)
            )
        group = []
        previous = object()
        for q in total.qids:
            if q != previous:
                group.append(0)
                previous = q
            group[-1] += 1
    return _ChannelData(
        _LIBSVM,
        sparse=total,
        label=np.asarray(total.labels, dtype=np.float64),
        weight=np.asarray(total.weights, dtype=np.float64) if total.has_weight else None,
        group=group,
    )


def _load_parquet_channel(files, channel):
    try:
        import pyarrow.parquet as pq  # optional dependency
    except ImportError:
        raise AlgorithmError(
            "The '{}' channel is Parquet, which local mode can only read with the 'pyarrow' package (not "
            "installed). Install pyarrow or write the data as CSV.".format(channel)
        )
    blocks = []
    for rel, path in files:
        try:
            table = pq.read_table(path)
            blocks.append(np.column_stack([np.asarray(c.to_numpy(), dtype=np.float64) for c in table.columns]))
        except Exception as exc:  # noqa: BLE001 - any reader failure is a data problem
            raise AlgorithmError(
                "Failed to load parquet file '{}' in the '{}' channel: {}".format(rel, channel, _one_paragraph(exc))
            )
    if not blocks:
        return None
    data = np.vstack(blocks)
    return _ChannelData(_PARQUET, dense=data[:, 1:], label=data[:, 0].copy())


def _load_channel(ml_root, channel, kind, csv_weights):
    channel_dir = os.path.join(ml_root, "input", "data", channel)
    files = _channel_files(channel_dir, channel)
    _log("files path: {}".format(channel_dir))
    if kind == _RECORDIO:
        raise AlgorithmError(
            "The '{}' channel is application/x-recordio-protobuf, which local mode does not read; write the data "
            "as text/csv or text/libsvm.".format(channel)
        )
    if not files:
        return None
    if kind == _CSV:
        return _load_csv_channel(files, channel, csv_weights)
    if kind == _LIBSVM:
        return _load_libsvm_channel(files, channel)
    return _load_parquet_channel(files, channel)


def _to_dmatrix(channel_data, width):
    import xgboost as xgb

    if channel_data.sparse is not None:
        from scipy.sparse import csr_matrix

        s = channel_data.sparse
        features = csr_matrix(
            (np.asarray(s.data, dtype=np.float32), np.asarray(s.indices, dtype=np.int64),
             np.asarray(s.indptr, dtype=np.int64)),
            shape=(s.rows, width),
        )
    else:
        features = channel_data.dense
    dmatrix = xgb.DMatrix(features, label=channel_data.label, weight=channel_data.weight)
    if channel_data.group is not None:
        dmatrix.set_group(channel_data.group)
    return dmatrix


# --------------------------------------------------------------------------------------
# container-computed metrics (computed on the raw margin, as the container's feval is)
# --------------------------------------------------------------------------------------


def _class_labels(margin):
    margin = np.asarray(margin)
    if margin.ndim == 2:
        return np.argmax(margin, axis=1).astype(np.float64)
    return (margin > 0.0).astype(np.float64)


def _per_class_counts(y_true, y_pred):
    classes = np.unique(np.concatenate([y_true, y_pred]))
    tp = np.array([np.sum((y_pred == c) & (y_true == c)) for c in classes], dtype=np.float64)
    fp = np.array([np.sum((y_pred == c) & (y_true != c)) for c in classes], dtype=np.float64)
    fn = np.array([np.sum((y_pred != c) & (y_true == c)) for c in classes], dtype=np.float64)
    return classes, tp, fp, fn


def _safe_div(num, den):
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def _classification_metric(name, y_true, y_pred):
    classes, tp, fp, fn = _per_class_counts(y_true, y_pred)
    precision = _safe_div(tp, tp + fp)
    recall = _safe_div(tp, tp + fn)
    f1 = _safe_div(2 * tp, 2 * tp + fp + fn)
    if name == "accuracy":
        return float(np.mean(y_true == y_pred))
    if name == "balanced_accuracy":
        present = np.isin(classes, np.unique(y_true))
        return float(np.mean(recall[present]))
    if name in ("f1", "f1_macro"):
        return float(np.mean(f1))
    if name in ("precision_macro", "recall_macro"):
        return float(np.mean(precision if name == "precision_macro" else recall))
    if name in ("precision_micro", "recall_micro"):
        total_tp = tp.sum()
        den = total_tp + (fp.sum() if name == "precision_micro" else fn.sum())
        return float(total_tp / den) if den else 0.0
    # binary metrics, positive class 1
    positive = np.flatnonzero(classes == 1.0)
    if positive.size == 0:
        return 0.0
    i = int(positive[0])
    return float({"f1_binary": f1, "precision": precision, "recall": recall}[name][i])


def _container_metric(name, margin, labels):
    margin = np.asarray(margin, dtype=np.float64)
    if margin.size == 0:
        return 0.0
    if name in ("mse", "rmse", "mae", "r2"):
        pred = margin.reshape(labels.shape[0], -1)[:, 0] if margin.ndim == 2 else margin
        err = labels - pred
        if name == "mse":
            return float(np.mean(err ** 2))
        if name == "rmse":
            return float(np.sqrt(np.mean(err ** 2)))
        if name == "mae":
            return float(np.mean(np.abs(err)))
        ss_res = float(np.sum(err ** 2))
        ss_tot = float(np.sum((labels - labels.mean()) ** 2))
        if ss_tot == 0.0:
            return 1.0 if ss_res == 0.0 else 0.0
        return 1.0 - ss_res / ss_tot
    return _classification_metric(name, labels, _class_labels(margin))


def _make_feval(metric_names):
    def feval(margin, dmatrix):
        labels = dmatrix.get_label().astype(np.float64)
        return [(name, _container_metric(name, margin, labels)) for name in metric_names]

    return feval


# --------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------

#: xgboost messages the container reports as the user's fault (ClientError)
_CUSTOMER_ERROR_SNIPPETS = (
    "label must be in [0,1]",
    "label must be in [0, num_class)",
    "label must be nonnegative",
    "label must be positive",
    "Target is multiclass but average='binary'",
    "feature_names mismatch",
    "preds.size() == info.labels_.size()",
    "the dataset only contains pos or neg samples",
    "base_score must be in",
    "should be greater equal to",
    "Label contains NaN",
)

#: hyperparameters the container uses itself; they never reach xgboost.train's params
_CONTAINER_ONLY = (
    "num_round", "early_stopping_rounds", "csv_weights", "save_model_on_termination", "_tuning_objective_metric",
    "_kfold", "_nfold", "_num_cv_round", "use_dask_gpu_training", "silent",
)


def _container_log_monitor(early_stopping=None):
    """A callback printing ``[i]#011train-rmse:...`` lines, then (optionally) stopping early.

    Early stopping is wrapped inside so the order is fixed: xgboost 1.7 keeps callbacks in a
    set, so with two separate callbacks the last round's line would sometimes be skipped.
    """
    import xgboost as xgb

    class ContainerLogMonitor(xgb.callback.TrainingCallback):
        """EvaluationMonitor's line as CloudWatch shows it (a tab appears as ``#011``)."""

        def before_training(self, model):
            return early_stopping.before_training(model) if early_stopping is not None else model

        def after_training(self, model):
            return early_stopping.after_training(model) if early_stopping is not None else model

        def after_iteration(self, model, epoch, evals_log):
            if evals_log:
                line = "[{}]".format(epoch)
                for data_name, metrics in evals_log.items():
                    for metric_name, history in metrics.items():
                        score = history[-1]
                        if isinstance(score, tuple):
                            score = score[0]
                        line += "#011{}-{}:{:.5f}".format(data_name, metric_name, score)
                print(line, flush=True)
            if early_stopping is not None:
                return early_stopping.after_iteration(model, epoch, evals_log)
            return False

    return ContainerLogMonitor()


def _metric_maximize(metric, version):
    base = metric.split("@", 1)[0]
    return metric in maximize_metrics(version) or base in ("ndcg", "map", "auc", "aucpr")


def _read_json(path, what, default=None):
    if not os.path.exists(path):
        if default is not None:
            return default
        raise AlgorithmError("{} not found at input/config/{} under the job's /opt/ml folder.".format(
            what, os.path.basename(path)))
    try:
        with open(path, "r", encoding="utf-8") as handle:
            return json.load(handle)
    except ValueError as exc:
        raise AlgorithmError("{} is not valid JSON: {}".format(what, exc))


def _train(ml_root, version):
    import xgboost as xgb

    version = normalize_version(version)
    _log("Running XGBoost Sagemaker in algorithm mode (local emulation of sagemaker-xgboost:{})".format(version))
    config_dir = os.path.join(ml_root, "input", "config")
    raw_hps = _read_json(os.path.join(config_dir, "hyperparameters.json"), "hyperparameters.json", default={})
    data_config = _read_json(os.path.join(config_dir, "inputdataconfig.json"), "inputdataconfig.json")

    params = validate_hyperparameters(raw_hps, version)
    channels = _validate_channels(data_config)

    if params.get("_kfold") is not None or params.get("_nfold") is not None:
        raise AlgorithmError(
            "Hyperparameter '{}' turns on the container's cross-validation mode (used by SageMaker Autopilot), "
            "which local mode does not emulate. Remove it.".format("_kfold" if "_kfold" in params else "_nfold"),
        )
    if "silent" in params:
        _log("Hyperparameter 'silent' is accepted by the 1.0-1 image but has no effect locally.", "WARNING")

    csv_weights = params.get("csv_weights", 0)
    kind = channels["train"]["kind"]
    train_data = _load_channel(ml_root, "train", kind, csv_weights)
    if train_data is None:
        raise AlgorithmError(
            "No data in training channel path input/data/train: the 'train' channel is empty (no non-empty "
            "files). Check the S3 prefix given for 'train'."
        )
    val_data = None
    if "validation" in channels:
        val_data = _load_channel(ml_root, "validation", kind, csv_weights)
        if val_data is None:
            raise AlgorithmError(
                "No data in validation channel path input/data/validation: the 'validation' channel is empty. "
                "Check its S3 prefix, or leave the channel out."
            )
        if kind != _LIBSVM and val_data.width != train_data.width:
            raise AlgorithmError(
                "The 'validation' data has {} feature columns but 'train' has {}; both need the label first and "
                "then the same features in the same order.".format(val_data.width, train_data.width)
            )

    width = max(train_data.width, val_data.width if val_data is not None else 0)
    dtrain = _to_dmatrix(train_data, width)
    dval = _to_dmatrix(val_data, width) if val_data is not None else None
    _log("Single node training.")
    _log("Train matrix has {} rows and {} columns".format(dtrain.num_row(), dtrain.num_col()))
    if dval is not None:
        _log("Validation matrix has {} rows".format(dval.num_row()))

    # -- evaluation metrics, as train_utils.get_eval_metrics_and_feval does
    num_round = params["num_round"]
    tuning_param = params.get("_tuning_objective_metric")
    eval_metric = params.get("eval_metric")
    tuning_metrics = tuning_param.split(":", 1)[1].split(",") if tuning_param else None
    if tuning_metrics and eval_metric:
        union = sorted(set(tuning_metrics) | set(eval_metric))
    else:
        union = tuning_metrics or eval_metric
    custom_available = _by_version(_CUSTOM_METRICS, version)
    custom = [m for m in (union or []) if m in custom_available]
    builtin = [m for m in (union or []) if m not in custom_available]
    feval = _make_feval(custom) if custom else None

    xgb_params = {k: v for k, v in params.items() if k not in _CONTAINER_ONLY}
    xgb_params.pop("eval_metric", None)
    if builtin:
        xgb_params["eval_metric"] = builtin
    if "updater" in xgb_params:
        xgb_params["updater"] = ",".join(xgb_params["updater"])
    if "monotone_constraints" in xgb_params:
        constraints = xgb_params["monotone_constraints"]
        xgb_params["monotone_constraints"] = "({})".format(",".join(str(int(x)) for x in constraints))
    if "interaction_constraints" in xgb_params:
        xgb_params["interaction_constraints"] = json.dumps([list(x) for x in xgb_params["interaction_constraints"]])

    watchlist = [(dtrain, "train")]
    if dval is not None:
        watchlist.append((dval, "validation"))

    early_stop = None
    early_stopping_rounds = params.get("early_stopping_rounds")
    if early_stopping_rounds:
        if _at_least(version, "1.3-1"):
            if dval is None:
                _log("early_stopping_rounds is ignored: it needs a 'validation' channel.", "WARNING")
            else:
                metric = tuning_metrics[-1] if tuning_metrics else (eval_metric[-1] if eval_metric else None)
                early_stop = xgb.callback.EarlyStopping(
                    rounds=early_stopping_rounds,
                    data_name="validation",
                    metric_name=metric,
                    maximize=_metric_maximize(metric, version) if metric else None,
                    save_best=params.get("booster") != "gblinear",
                )
        else:
            early_stop = xgb.callback.EarlyStopping(
                rounds=early_stopping_rounds, data_name=watchlist[-1][1], save_best=False,
            )
    callbacks = [_container_log_monitor(early_stop)]

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*feval.*")
            booster = xgb.train(
                xgb_params, dtrain, num_boost_round=num_round, evals=watchlist, feval=feval,
                callbacks=callbacks, verbose_eval=False,
            )
    except Exception as exc:  # noqa: BLE001 - xgboost raises XGBoostError / ValueError
        text = str(exc)
        message = _clean_xgb_error(exc)
        if any(snippet in text for snippet in _CUSTOMER_ERROR_SNIPPETS):
            raise AlgorithmError(message)
        raise AlgorithmError("XGB train call failed with exception: {}".format(message), "AlgorithmError")

    model_dir = os.path.join(ml_root, "model")
    os.makedirs(model_dir, exist_ok=True)
    booster.save_model(os.path.join(model_dir, MODEL_FILENAME))
    return booster


def run_training(ml_root="/opt/ml", version=None):
    """Run a training job as the ``sagemaker-xgboost`` container does; returns the exit code.

    ``version`` is the image version ("1.7-1", the default; an image URI also works).  On
    success the model is at ``{ml_root}/model/xgboost-model`` and 0 is returned.  On any
    error a one-paragraph reason ("ClientError: ..." or "AlgorithmError: ...") is written to
    ``{ml_root}/output/failure`` and 1 is returned; nothing is raised.
    """
    failure_path = os.path.join(ml_root, "output", "failure")
    try:
        if os.path.exists(failure_path):
            os.remove(failure_path)
        _train(ml_root, version)
        return 0
    except AlgorithmError as exc:
        reason = "{}: {}".format(exc.error_type, _one_paragraph(exc.message))
    except MemoryError:
        reason = "AlgorithmError: out of memory while training; use a smaller data set locally."
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - never raise out of a job
        reason = "AlgorithmError: unexpected error in the local XGBoost container ({}: {})".format(
            type(exc).__name__, _one_paragraph(exc)
        )
    try:
        _log("Reporting training FAILURE", "ERROR")
        _log(reason, "ERROR")
        os.makedirs(os.path.dirname(failure_path), exist_ok=True)
        with open(failure_path, "w", encoding="utf-8") as handle:
            handle.write(reason)
    except OSError:
        pass
    return 1


# --------------------------------------------------------------------------------------
# serving
# --------------------------------------------------------------------------------------


def load_model(model_dir):
    """The Booster in ``model_dir`` (``xgboost-model``, as the runtime untars model.tar.gz there).

    Like the container, another single non-hidden file is also tried (xgboost format, then
    pickle); a ``model.tar.gz`` left unextracted is read directly.
    """
    import xgboost as xgb

    if not os.path.isdir(model_dir):
        raise AlgorithmError("Unable to load model: model directory '{}' does not exist.".format(model_dir))
    path = os.path.join(model_dir, MODEL_FILENAME)
    raw = None
    if not os.path.isfile(path):
        candidates = sorted(
            name for name in os.listdir(model_dir)
            if not name.startswith(".") and os.path.isfile(os.path.join(model_dir, name))
        )
        if "model.tar.gz" in candidates:
            raw = _model_bytes_from_tar(os.path.join(model_dir, "model.tar.gz"))
        elif candidates:
            path = os.path.join(model_dir, candidates[0])
        else:
            raise AlgorithmError(
                "Unable to load model: no '{}' file in the model directory (is model.tar.gz extracted "
                "there?).".format(MODEL_FILENAME)
            )
    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(raw) if raw is not None else path)
    except Exception as xgb_error:  # noqa: BLE001
        booster = _try_pickle(raw if raw is not None else path, xgb_error)
    booster.set_param("nthread", 1)
    return booster


def _model_bytes_from_tar(tar_path):
    with tarfile.open(tar_path, "r:*") as archive:
        members = [m for m in archive.getmembers() if m.isfile() and not os.path.basename(m.name).startswith(".")]
        chosen = [m for m in members if os.path.basename(m.name) == MODEL_FILENAME] or members[:1]
        if not chosen:
            raise AlgorithmError("Unable to load model: model.tar.gz holds no model file.")
        return archive.extractfile(chosen[0]).read()


def _try_pickle(source, xgb_error):
    import xgboost as xgb

    data = source if isinstance(source, (bytes, bytearray)) else open(source, "rb").read()
    if data[:1] == b"\x80":
        try:
            model = pickle.loads(data)  # script-mode models are often pickled Boosters
            if isinstance(model, xgb.Booster):
                return model
            if hasattr(model, "get_booster"):
                return model.get_booster()
        except Exception:  # noqa: BLE001
            pass
    raise AlgorithmError("Unable to load model: {}".format(_clean_xgb_error(xgb_error)))


_REALTIME_ACCEPTS = ("text/csv", "application/json")
_BATCH_ACCEPTS = ("text/csv", "application/json", "application/jsonlines", "application/x-recordio-protobuf")


def _parse_accept(accept, allowed):
    media, _ = _split_media_type(accept or "")
    if not media or media == "*/*":
        return os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "text/csv")
    if media not in allowed:
        raise AlgorithmError(
            "Accept type '{}' is not supported. Please use supported accept types: {}.".format(
                accept, _quote_list(allowed)
            )
        )
    return media


def _records_to_dmatrix(booster, records, kind, where):
    import xgboost as xgb

    n_features = booster.num_features()
    if kind == _CSV:
        matrix = _parse_csv_records(records, where, "inference")
        if matrix.shape[1] > n_features:
            hint = (
                " It looks like the label column is still in the data: for inference, drop the first (label) column."
                if matrix.shape[1] == n_features + 1 else ""
            )
            raise AlgorithmError(
                "Unable to evaluate payload provided: {} has {} columns but the model was trained on {} "
                "features.{}".format(where, matrix.shape[1], n_features, hint)
            )
        return xgb.DMatrix(matrix)
    from scipy.sparse import csr_matrix

    sparse = _parse_libsvm_records(records, where, with_label=False)
    if sparse.width > n_features:
        raise AlgorithmError(
            "Unable to evaluate payload provided: {} uses feature index {} but the model was trained on {} "
            "features (indices 0..{}).".format(where, sparse.width - 1, n_features, n_features - 1)
        )
    features = csr_matrix(
        (np.asarray(sparse.data, dtype=np.float32), np.asarray(sparse.indices, dtype=np.int64),
         np.asarray(sparse.indptr, dtype=np.int64)),
        shape=(sparse.rows, n_features),
    )
    return xgb.DMatrix(features)


def _predict_array(booster, dmatrix):
    """booster.predict, limited to the best round when the model kept extra rounds (1.0-1..1.2-2)."""
    kwargs = {}
    best = booster.attr("best_iteration")
    if best is not None:
        try:
            booster_name = json.loads(booster.save_config())["learner"]["gradient_booster"]["name"]
        except (ValueError, KeyError):
            booster_name = "gbtree"
        if booster_name != "gblinear" and booster.num_boosted_rounds() > int(best) + 1:
            kwargs["iteration_range"] = (0, int(best) + 1)
    try:
        return booster.predict(dmatrix, validate_features=False, **kwargs)
    except Exception as exc:  # noqa: BLE001
        raise AlgorithmError("Unable to evaluate payload provided: {}".format(_clean_xgb_error(exc)))


def _encode_realtime(predictions, accept):
    values = predictions.tolist()
    if accept == "application/json":
        return json.dumps({"predictions": [{"score": v} for v in values]}).encode("utf-8")
    lines = [",".join(str(x) for x in v) if isinstance(v, list) else str(v) for v in values]
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""


def _encode_batch(predictions):
    values = predictions.tolist()
    return ("\n".join(str(v) for v in values) + "\n").encode("utf-8") if values else b""


def _payload_records(payload):
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    try:
        text = bytes(payload).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AlgorithmError("The request payload is not UTF-8 text; send text/csv or text/libsvm.")
    return _records(text)


def predict(booster, payload, content_type="text/csv", accept="text/csv"):
    """What the serving container answers for one InvokeEndpoint request (as bytes).

    ``text/csv`` accept: one prediction per line.  ``application/json``:
    ``{"predictions": [{"score": ...}, ...]}``.  An empty payload gives an empty answer (the
    container's 204 No Content).  Bad input raises :class:`AlgorithmError`.
    """
    kind = parse_content_type(content_type, "inference")
    accept_type = _parse_accept(accept, _REALTIME_ACCEPTS)
    records = _payload_records(payload)
    if not records:
        return b""
    dmatrix = _records_to_dmatrix(booster, records, kind, "the request payload")
    return _encode_realtime(_predict_array(booster, dmatrix), accept_type)


def transform_file(model_dir, input_path, output_path, content_type="text/csv", accept="text/csv"):
    """Batch transform of one file (SplitType Line), written as the container answers in batch mode.

    One output line per non-blank input record (``str(prediction)``, whatever the Accept
    type, as with ``SAGEMAKER_BATCH``).  Returns the number of records.
    """
    kind = parse_content_type(content_type, "inference")
    _parse_accept(accept, _BATCH_ACCEPTS)
    booster = load_model(model_dir)
    name = os.path.basename(input_path)
    with open(input_path, "rb") as handle:
        records = _payload_records(handle.read())
    out_dir = os.path.dirname(os.path.abspath(output_path))
    os.makedirs(out_dir, exist_ok=True)
    with open(output_path, "wb") as out:
        for start in range(0, len(records), TRANSFORM_CHUNK_RECORDS):
            chunk = records[start:start + TRANSFORM_CHUNK_RECORDS]
            dmatrix = _records_to_dmatrix(booster, chunk, kind, "input file '{}'".format(name))
            out.write(_encode_batch(_predict_array(booster, dmatrix)))
    return len(records)
