"""Evaluation step for the abalone pipeline (runs inside a SageMaker processing job).

Runs in the SageMaker XGBoost 1.7-1 image (Python 3.8/3.9, xgboost 1.7,
pandas 1.1); it uses only numpy/pandas/xgboost -- scikit-learn may be absent
there -- and is uploaded alone as the job's code.

What this script does
---------------------
1. Opens ``<base_dir>/model/model.tar.gz`` (the training job's model
   artifact), takes the ``xgboost-model`` file out of it into a temporary
   folder and loads it with ``xgboost.Booster().load_model(...)``.
2. Reads ``<base_dir>/test/test.csv`` (label first, no header -- the file the
   preprocessing step wrote) and predicts every row.
3. Writes ``<base_dir>/evaluation/evaluation.json`` in the shape SageMaker
   Pipelines / Model Registry expect::

       {"regression_metrics": {
           "mse":  {"value": ..., "standard_deviation": ...},
           "rmse": {"value": ...}, "mae": {"value": ...}, "r2": {"value": ...}}}

   (``mse`` and its ``standard_deviation`` -- the standard deviation of the
   errors ``actual - predicted`` -- are what AWS's abalone example reports and
   what a ConditionStep reads with JsonGet ``regression_metrics.mse.value``),
   and ``<base_dir>/evaluation/predictions.csv`` with header
   ``actual,predicted`` (one row per test record) for plotting later.

Run in a job:  python3 evaluate.py
"""

import argparse
import json
import math
import os
import pickle
import tarfile
import tempfile
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
import xgboost

DEFAULT_BASE_DIR = "/opt/ml/processing"
MODEL_FILE_NAME = "xgboost-model"


def log(message):
    # type: (str) -> None
    """Print a line to the job log (CloudWatch) immediately."""
    print("[evaluate] " + message, flush=True)


def _find_model_member(tar):
    # type: (tarfile.TarFile) -> tarfile.TarInfo
    members = tar.getmembers()
    for member in members:
        if member.isfile() and os.path.basename(member.name) == MODEL_FILE_NAME:
            return member
    names = ", ".join(m.name for m in members) or "(the archive is empty)"
    raise ValueError(
        "The model archive has no file named {!r}; it contains: {}. It should be "
        "the model.tar.gz written by SageMaker's built-in XGBoost algorithm "
        "(ModelArtifacts.S3ModelArtifacts of the training step).".format(
            MODEL_FILE_NAME, names
        )
    )


def load_booster(tar_path):
    # type: (str) -> xgboost.Booster
    """Extract ``xgboost-model`` from ``tar_path`` and load it as a Booster.

    Only that one file is extracted (to a temporary folder that is removed
    afterwards), so odd paths inside the archive cannot write elsewhere.
    """
    if not os.path.isfile(tar_path):
        raise FileNotFoundError(
            "Model archive {!r} not found. Give the evaluation job a ProcessingInput "
            "with source=<training step>.properties.ModelArtifacts.S3ModelArtifacts "
            "and destination={!r}.".format(tar_path, os.path.dirname(tar_path))
        )
    try:
        tar = tarfile.open(tar_path, "r:*")
    except tarfile.TarError as error:
        raise ValueError(
            "{!r} is not a readable tar(.gz) archive ({}).".format(tar_path, error)
        )
    with tempfile.TemporaryDirectory() as tmp_dir:
        with tar:
            member = _find_model_member(tar)
            source = tar.extractfile(member)
            model_path = os.path.join(tmp_dir, MODEL_FILE_NAME)
            with open(model_path, "wb") as target:
                target.write(source.read())
        booster = xgboost.Booster()
        try:
            booster.load_model(model_path)
        except xgboost.core.XGBoostError:
            # Built-in XGBoost algorithm versions before 1.3 pickled the
            # Booster instead of calling save_model; accept those too.
            with open(model_path, "rb") as handle:
                head = handle.read(1)
            if head != b"\x80":  # not a pickle either
                raise
            with open(model_path, "rb") as handle:
                booster = pickle.load(handle)
    return booster


def load_test_data(path):
    # type: (str) -> Tuple[np.ndarray, np.ndarray]
    """Read a header-less CSV with the label in column 0; return (y, X)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(
            "Test data {!r} not found. Give the evaluation job a ProcessingInput with "
            "source=<preprocessing step>.properties.ProcessingOutputConfig"
            ".Outputs['test'].S3Output.S3Uri and destination={!r}.".format(
                path, os.path.dirname(path)
            )
        )
    try:
        frame = pd.read_csv(path, header=None)
    except pd.errors.EmptyDataError:
        raise ValueError("Test data {!r} is empty.".format(path))
    if frame.shape[1] < 2:
        raise ValueError(
            "Test data {!r} has {} column(s); expected the label first followed by "
            "the features (no header).".format(path, frame.shape[1])
        )
    try:
        values = frame.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            "Test data {!r} contains non-numeric values; expected the numeric CSV "
            "written by the preprocessing step (label first, no header).".format(path)
        )
    return values[:, 0], values[:, 1:]


def regression_report(y_true, y_pred):
    # type: (Sequence[float], Sequence[float]) -> Dict[str, Dict[str, Optional[float]]]
    """Regression metrics in SageMaker's evaluation-report shape.

    ``mse.standard_deviation`` is the (population) standard deviation of the
    errors ``y_true - y_pred``, as in AWS's example. ``r2`` is None when the
    actual values are all equal (R^2 is undefined then).
    """
    actual = np.asarray(y_true, dtype=np.float64).ravel()
    predicted = np.asarray(y_pred, dtype=np.float64).ravel()
    if actual.shape != predicted.shape:
        raise ValueError(
            "y_true has {} values but y_pred has {}.".format(actual.size, predicted.size)
        )
    if actual.size == 0:
        raise ValueError("Cannot evaluate on zero records.")
    errors = actual - predicted
    mse = float(np.mean(errors ** 2))
    total = float(np.sum((actual - actual.mean()) ** 2))
    r2 = None if total == 0.0 else 1.0 - float(np.sum(errors ** 2)) / total
    return {
        "regression_metrics": {
            "mse": {"value": mse, "standard_deviation": float(np.std(errors))},
            "rmse": {"value": math.sqrt(mse)},
            "mae": {"value": float(np.mean(np.abs(errors)))},
            "r2": {"value": r2},
        }
    }


def parse_args(argv=None):
    # type: (Optional[Sequence[str]]) -> argparse.Namespace
    parser = argparse.ArgumentParser(
        description="Abalone evaluation step: score model.tar.gz on test.csv."
    )
    return parser.parse_args(argv)


def main(argv=None, base_dir=DEFAULT_BASE_DIR):
    # type: (Optional[Sequence[str]], str) -> dict
    """Run the step. Returns the report written to evaluation.json."""
    parse_args(argv)
    model_path = os.path.join(base_dir, "model", "model.tar.gz")
    test_path = os.path.join(base_dir, "test", "test.csv")
    output_dir = os.path.join(base_dir, "evaluation")

    log("loading model from {}".format(model_path))
    booster = load_booster(model_path)
    log("reading test data from {}".format(test_path))
    y_test, x_test = load_test_data(test_path)
    expected = booster.num_features()
    if expected and x_test.shape[1] != expected:
        raise ValueError(
            "The model expects {} features but {!r} has {} feature columns (after the "
            "label). Were the model and the test data produced by the same "
            "preprocessing run?".format(expected, test_path, x_test.shape[1])
        )
    predictions = booster.predict(xgboost.DMatrix(x_test))
    report = regression_report(y_test, predictions)

    if not os.path.isdir(output_dir):
        os.makedirs(output_dir)
    with open(os.path.join(output_dir, "evaluation.json"), "w") as handle:
        json.dump(report, handle, indent=2)
    pd.DataFrame({"actual": y_test, "predicted": predictions}).to_csv(
        os.path.join(output_dir, "predictions.csv"), index=False
    )

    metrics = report["regression_metrics"]
    log("test records: {}".format(len(y_test)))
    for name in ("mse", "rmse", "mae", "r2"):
        value = metrics[name]["value"]
        log("{:>4} = {}".format(name, "n/a" if value is None else "{:.4f}".format(value)))
    log("std of errors = {:.4f}".format(metrics["mse"]["standard_deviation"]))
    log("wrote evaluation.json and predictions.csv to {}".format(output_dir))
    return report


if __name__ == "__main__":
    main()
