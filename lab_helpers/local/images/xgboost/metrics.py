"""Evaluation metrics as the container handles them: which ones are maximised, and its own.

xgboost computes most metrics itself (``eval_metric`` in its params).  A few -- accuracy,
f1, mse, r2 and, from 1.3-1 on, more -- are computed by the container through xgboost's
``feval``, on the raw margin, as the container's ``custom_metrics`` do; which ones depends on
the image version.  The maximize/minimize tables say which metrics the container accepts
in ``eval_metric`` and ``_tuning_objective_metric`` for a version and which way early
stopping counts an improvement.
"""

import numpy as np

from .common import DEFAULT_VERSION, by_version, normalize_version

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


def maximize_metrics(version=DEFAULT_VERSION):
    """Metrics the container maximises for ``version`` (a bigger value is better)."""
    return list(by_version(_MAXIMIZE_METRICS, normalize_version(version)))


def supported_metrics(version):
    """Every metric name ``eval_metric`` accepts for normalized ``version``: maximised, then minimised."""
    return by_version(_MAXIMIZE_METRICS, version) + by_version(_MINIMIZE_METRICS, version)


def metric_maximize(metric, version):
    """Whether early stopping treats a bigger ``metric`` as better."""
    base = metric.split("@", 1)[0]
    return metric in maximize_metrics(version) or base in ("ndcg", "map", "auc", "aucpr")


def eval_metrics_and_feval(metrics, version):
    """``(names xgboost computes, feval computing the container's own names or None)`` for ``metrics``."""
    custom_available = by_version(_CUSTOM_METRICS, version)
    custom = [m for m in (metrics or []) if m in custom_available]
    builtin = [m for m in (metrics or []) if m not in custom_available]
    return builtin, (make_feval(custom) if custom else None)


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


def make_feval(metric_names):
    """An xgboost ``feval`` returning ``[(name, value), ...]`` for the container-computed ``metric_names``."""

    def feval(margin, dmatrix):
        """``[(name, value), ...]`` for ``margin`` against the labels of ``dmatrix``."""
        labels = dmatrix.get_label().astype(np.float64)
        return [(name, _container_metric(name, margin, labels)) for name in metric_names]

    return feval
