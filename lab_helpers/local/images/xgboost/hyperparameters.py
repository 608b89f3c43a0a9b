"""Hyperparameters as the container checks them: a validation table per image version.

SageMaker sends every hyperparameter as a STRING.  :func:`validate_hyperparameters` checks
them against the container's own table for the chosen version (its
``hyperparameter_validation.py``: names, types, ranges, allowed values, and the
cross-checks such as "multi:softmax needs num_class"), then coerces them: ``"50"`` -> 50,
``"0.2"`` -> 0.2, ``"rmse,auc"`` -> a list.  The aliases learning_rate, min_split_loss,
reg_lambda and reg_alpha are accepted.

Where this differs from the container: failure messages are short, specific paragraphs
("Hyperparameter 'max_depth': value 'five' is not an integer ...") instead of a traceback;
keys starting with ``sagemaker_`` are ignored (the container would report them as
extraneous, but the SDK only adds them in script mode); non-finite floats ("nan", "inf")
are rejected; ``eval_metric`` without ``objective`` is allowed (reg:squarederror is
assumed; the container crashes on that); GPU settings (tree_method gpu_hist, predictor
gpu_predictor) are rejected with a clear message, since local mode has no GPU.
"""

import ast
import math

from .common import (DEFAULT_VERSION, SUPPORTED_VERSIONS, AlgorithmError, at_least, did_you_mean,
                     normalize_version, quote_list)
from .metrics import supported_metrics


class _Interval(object):
    """A numeric range, printed the way the messages show it: ``[0, 1]``, ``(0, +inf)``."""

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


def _objectives(version):
    objectives = [
        "binary:logistic", "binary:logitraw", "binary:hinge", "count:poisson", "multi:softmax", "multi:softprob",
        "rank:pairwise", "rank:ndcg", "rank:map", "reg:linear", "reg:squarederror", "reg:logistic", "reg:gamma",
        "reg:squaredlogerror", "reg:tweedie", "survival:cox",
    ]
    if at_least(version, "1.2-1"):
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
        """What the messages say is expected: ``an integer in [0, +inf)``, ``one of 'a', 'b'``, ..."""
        if self.kind == "int":
            return "an integer in {}".format(self.allowed)
        if self.kind == "float":
            return "a number in {}".format(self.allowed)
        if self.kind == "cat":
            return "one of {}".format(quote_list(self.allowed))
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
            + (["gpu_hist"] if at_least(version, "1.2-1") else [])),
        _HP("sketch_eps", "float", iv(min_open=0, max_open=1)),
        _HP("scale_pos_weight", "float", iv(min_open=0)),
        _HP("updater", "list", None,
            hint="a comma-separated list of updaters from {}".format(
                quote_list((_UPDATERS_NEW if version == "1.7-1" else _UPDATERS_OLD) + _LINEAR_UPDATERS))),
        _HP("dsplit", "cat", ["row", "col"]),
        _HP("refresh_leaf", "int", flag),
        _HP("process_type", "cat", ["default", "update"]),
        _HP("grow_policy", "cat", ["depthwise", "lossguide"]),
        _HP("max_leaves", "int", nonneg),
        _HP("max_bin", "int", nonneg),
        _HP("predictor", "cat",
            ["auto", "cpu_predictor", "gpu_predictor"] if at_least(version, "1.2-1") else ["cpu_predictor"]),
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
                quote_list(supported_metrics(version)))),
        _HP("seed", "int", iv(min_open=-(2 ** 31), max_open=2 ** 31 - 1)),
        _HP("num_parallel_tree", "int", iv(min_closed=1)),
        _HP("save_model_on_termination", "cat", ["true", "false"]),
    ]
    if version == "1.0-1":
        hps.append(_HP("silent", "int", flag))
    if at_least(version, "1.2-1"):
        hps += [
            _HP("aft_loss_distribution", "cat", ["normal", "logistic", "extreme"]),
            _HP("aft_loss_distribution_scale", "float", nonneg),
            _HP("deterministic_histogram", "cat", ["true", "false"]),
        ]
    if version == "1.2-1":
        hps.append(_HP("_nfold", "int", iv(min_closed=2)))
    if at_least(version, "1.2-2"):
        hps += [_HP("_kfold", "int", iv(min_closed=2)), _HP("_num_cv_round", "int", iv(min_closed=1))]
    if at_least(version, "1.2-1") and not at_least(version, "1.7-1"):
        hps.append(_HP("single_precision_histogram", "cat", ["true", "false"]))
    if at_least(version, "1.3-1"):
        hps += [
            _HP("sampling_method", "cat", ["uniform", "gradient_based"]),
            _HP("prob_buffer_row", "int", iv(min_open=1)),
        ]
    if version == "1.7-1":
        hps.append(_HP("use_dask_gpu_training", "cat", ["true", "false"]))
    table = {hp.name: hp for hp in hps}
    metrics = supported_metrics(version)
    table["_tuning_objective_metric"].allowed = ["validation:{}".format(m) for m in metrics]
    return table


_ALIASES = {"learning_rate": "eta", "min_split_loss": "gamma", "reg_lambda": "lambda", "reg_alpha": "alpha"}


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
                "by SageMaker XGBoost 1.0-1. Use one of {}.".format(raw, quote_list(hp.allowed))
            )
        if value not in hp.allowed:
            raise AlgorithmError(
                "Hyperparameter {}: value '{}' is not allowed; expected {}.{}".format(
                    label, raw, hp.describe(), did_you_mean(value, hp.allowed)
                )
            )
    elif hp.kind == "list" and hp.name == "eval_metric":
        supported = supported_metrics(version)
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
                label, raw, metric, did_you_mean(metric, supported), quote_list(supported)
            )
        )


def _check_dependencies(values, version):
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
                    "{}.".format(quote_list(_LINEAR_UPDATERS))
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
                    "Hyperparameter 'updater': tree updaters must be chosen from {}.".format(quote_list(tree_plugins))
                )
            if sum(1 for u in updaters if u in grow_plugins) > 1:
                raise AlgorithmError(
                    "Hyperparameter 'updater': only one tree grow plugin can be selected; choose one of {}.".format(
                        quote_list(grow_plugins)
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
                    labels[name], raw, version, other, name, did_you_mean(name, known), ", ".join(known)
                )
            )
        parsed[name] = _parse_value(hp, labels[name], raw)

    for name, value in parsed.items():
        _check_range(table[name], labels[name], user[name], value, version)

    _check_dependencies(parsed, version)
    return parsed
