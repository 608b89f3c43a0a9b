"""A training job as the container runs it in algorithm mode: config in, log lines out, model saved.

:func:`run_training` reads the usual ``/opt/ml`` layout under ``ml_root``::

    input/config/hyperparameters.json   every value a STRING, as SageMaker sends them
    input/config/inputdataconfig.json   channel -> {"ContentType", "TrainingInputMode", ...}
    input/data/<channel>/...            the channel's files (all of them, recursively)
    model/xgboost-model                 written on success, in the image version's format (below)
    output/failure                      written on failure: one paragraph, "ClientError: ..."

* Hyperparameters are validated and coerced by :mod:`.hyperparameters`, channels read by
  :mod:`.data`.
* Training calls ``xgboost.train`` with evals ``train`` (and ``validation``) and prints one
  line per round in the container's CloudWatch form, where a tab shows up as ``#011``:
  ``[0]#011train-rmse:1.23000#011validation-rmse:2.34000``.  Without ``eval_metric`` the
  objective's default metric is reported (rmse for reg:squarederror, logloss for
  binary:logistic, ...).  The container's extra metrics (accuracy, f1, r2, mse, ...; which
  ones depends on the version) are computed on the raw margin, as the container does
  (:mod:`.metrics`).
* ``early_stopping_rounds``: in 1.3-1 and later the job stops when the validation metric has
  not improved for that many rounds and the saved model is cut back to its best round
  ("SageMaker hosting uses the best model for inference").  In 1.0-1 .. 1.2-2 it works as
  ``xgboost.train(early_stopping_rounds=...)`` did: last metric of the last eval set, all
  trees kept, and serving predicts with the best round only.
* ``xgboost-model`` is written the way the image version writes it: 1.0-1, 1.2-1 and 1.2-2
  ``pickle.dump`` the Booster; 1.3-1 and later call ``Booster.save_model`` (xgboost 1.x's
  binary format, as the file name has no ``.json``).  So a script that does
  ``pickle.load(open("xgboost-model", "rb"))`` -- AWS's abalone evaluation example, written
  for 1.0-1 -- works with a 1.0-1 .. 1.2-2 model, and fails on a 1.3-1 or later one with
  ``_pickle.UnpicklingError: unpickling stack underflow``, locally as on AWS: such a model loads
  with ``xgboost.Booster(model_file="xgboost-model")`` (or ``Booster().load_model(path)``,
  which the kit's own evaluation step does, falling back to pickle).  Serving
  (:func:`.serve.load_model`) reads both formats, whatever the version, as the container does.

Where this differs from the real container, and why:

* Failure messages are short, specific paragraphs ("ClientError: Hyperparameter 'max_depth':
  value 'five' is not an integer ...").  The real 1.x containers put a Python traceback in
  the failure reason ("AlgorithmError: framework error: ... Extraneous hyperparameter
  found: foo"), which is much harder for learners to read.  The exit code is 1, like theirs.
* ``_tuning_objective_metric`` is validated and used (added to the reported metrics and
  used for early stopping) the way the container does.
* In 1.3-1 and later the container only stops early when ``eval_metric`` (or a tuning
  metric) is given; here early stopping also works without one, using the objective's
  default metric, as the AWS docs for ``early_stopping_rounds`` describe.  The
  ``ndcg@n``/``map@n`` metrics are maximised when stopping early; the container's
  exact-name check treats them as minimised.  The log line of the round that triggers
  early stopping is always printed (with xgboost 1.7 the container's two callbacks run in
  an unpredictable order, so it sometimes is not).  Metric order in the log follows
  ``eval_metric`` (when container-computed metrics such as accuracy are also asked for,
  the container passes the others through a set, so their order there varies).
* Not emulated; each of these fails with a clear message or is ignored: cross-validation
  (the Autopilot-only ``_kfold``/``_nfold``); checkpoints; distributed training;
  ``save_model_on_termination`` (accepted, no effect); SageMaker Debugger hooks.
"""

import json
import os
import pickle
import warnings

from .common import MODEL_FILENAME, AlgorithmError, at_least, clean_xgb_error, log, normalize_version, one_paragraph
from .data import LIBSVM, load_channel, to_dmatrix, validate_channels
from .hyperparameters import validate_hyperparameters
from .metrics import eval_metrics_and_feval, metric_maximize

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

#: Image versions whose container pickles the Booster into xgboost-model, and the pickle protocol it
#: gets; every other version writes it with Booster.save_model.  Found in aws/sagemaker-xgboost-container,
#: src/sagemaker_xgboost_container/algorithm_mode/train.py, end of train_job(), on each release branch
#: (1.0-1 at 0c7a3b8, 1.2-1 at 0d8f55d, 1.2-2 at dd637a0, 1.3-1 at 07ece4c, 1.5-1 at 4eef773, 1.7-1 at
#: f7a93a2; the v1.x-1 tags agree):
#:   0.90-1, 0.90-2, 1.0-1  ``pkl.dump(bst, open(model_location, 'wb'))``: the default protocol of the
#:                          image's Python (3.6 / 3.7), which is 3 (0.90-x is not emulated here)
#:   1.2-1, 1.2-2           ``pkl.dump(bst, f, protocol=4)``
#:   1.3-1, 1.5-1, 1.7-1    ``bst.save_model(model_location)``
#: Serving, algorithm_mode/serve_utils.py get_loaded_booster(), tries ``pkl.load`` and then
#: ``Booster.load_model`` in every version.
_PICKLE_PROTOCOL = {"1.0-1": 3, "1.2-1": 4, "1.2-2": 4}

#: hyperparameters the container uses itself; they never reach xgboost.train's params
_CONTAINER_ONLY = (
    "num_round", "early_stopping_rounds", "csv_weights", "save_model_on_termination", "_tuning_objective_metric",
    "_kfold", "_nfold", "_num_cv_round", "use_dask_gpu_training", "silent",
)


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
        reason = "{}: {}".format(exc.error_type, one_paragraph(exc.message))
    except MemoryError:
        reason = "AlgorithmError: out of memory while training; use a smaller data set locally."
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - never raise out of a job
        reason = "AlgorithmError: unexpected error in the local XGBoost container ({}: {})".format(
            type(exc).__name__, one_paragraph(exc)
        )
    try:
        log("Reporting training FAILURE", "ERROR")
        log(reason, "ERROR")
        os.makedirs(os.path.dirname(failure_path), exist_ok=True)
        with open(failure_path, "w", encoding="utf-8") as handle:
            handle.write(reason)
    except OSError:
        pass
    return 1


def _train(ml_root, version):
    """The job: validate, read the channels, train, save the model.  Raises AlgorithmError."""
    version = normalize_version(version)
    log("Running XGBoost Sagemaker in algorithm mode (local emulation of sagemaker-xgboost:{})".format(version))
    config_dir = os.path.join(ml_root, "input", "config")
    raw_hps = _read_json(os.path.join(config_dir, "hyperparameters.json"), "hyperparameters.json", default={})
    data_config = _read_json(os.path.join(config_dir, "inputdataconfig.json"), "inputdataconfig.json")

    params = validate_hyperparameters(raw_hps, version)
    channels = validate_channels(data_config)

    if params.get("_kfold") is not None or params.get("_nfold") is not None:
        raise AlgorithmError(
            "Hyperparameter '{}' turns on the container's cross-validation mode (used by SageMaker Autopilot), "
            "which local mode does not emulate. Remove it.".format("_kfold" if "_kfold" in params else "_nfold"),
        )
    if "silent" in params:
        log("Hyperparameter 'silent' is accepted by the 1.0-1 image but has no effect locally.", "WARNING")

    dtrain, dval = _load_data(ml_root, channels, params.get("csv_weights", 0))

    # -- evaluation metrics, as train_utils.get_eval_metrics_and_feval does
    tuning_param = params.get("_tuning_objective_metric")
    eval_metric = params.get("eval_metric")
    tuning_metrics = tuning_param.split(":", 1)[1].split(",") if tuning_param else None
    if tuning_metrics and eval_metric:
        union = sorted(set(tuning_metrics) | set(eval_metric))
    else:
        union = tuning_metrics or eval_metric
    builtin, feval = eval_metrics_and_feval(union, version)

    watchlist = [(dtrain, "train")]
    if dval is not None:
        watchlist.append((dval, "validation"))
    early_stop = _early_stopping(params, version, watchlist, tuning_metrics)

    booster = _fit(_xgb_params(params, builtin), dtrain, params["num_round"], watchlist, feval, early_stop)

    model_dir = os.path.join(ml_root, "model")
    os.makedirs(model_dir, exist_ok=True)
    _save_model(booster, os.path.join(model_dir, MODEL_FILENAME), version)
    return booster


def _save_model(booster, path, version):
    """Write ``booster`` to ``path`` as ``version``'s container does: pickled (1.0-1 .. 1.2-2) or save_model."""
    protocol = _PICKLE_PROTOCOL.get(version)
    if protocol is None:
        booster.save_model(path)
        return
    with open(path, "wb") as handle:
        pickle.dump(booster, handle, protocol=protocol)


def _read_json(path, what, default=None):
    """A config file's JSON; ``default`` when it is missing (if given)."""
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


def _load_data(ml_root, channels, csv_weights):
    """(train DMatrix, validation DMatrix or None), both read with the train channel's format."""
    kind = channels["train"]["kind"]
    train_data = load_channel(ml_root, "train", kind, csv_weights)
    if train_data is None:
        raise AlgorithmError(
            "No data in training channel path input/data/train: the 'train' channel is empty (no non-empty "
            "files). Check the S3 prefix given for 'train'."
        )
    val_data = None
    if "validation" in channels:
        val_data = load_channel(ml_root, "validation", kind, csv_weights)
        if val_data is None:
            raise AlgorithmError(
                "No data in validation channel path input/data/validation: the 'validation' channel is empty. "
                "Check its S3 prefix, or leave the channel out."
            )
        if kind != LIBSVM and val_data.width != train_data.width:
            raise AlgorithmError(
                "The 'validation' data has {} feature columns but 'train' has {}; both need the label first and "
                "then the same features in the same order.".format(val_data.width, train_data.width)
            )

    width = max(train_data.width, val_data.width if val_data is not None else 0)
    dtrain = to_dmatrix(train_data, width)
    dval = to_dmatrix(val_data, width) if val_data is not None else None
    log("Single node training.")
    log("Train matrix has {} rows and {} columns".format(dtrain.num_row(), dtrain.num_col()))
    if dval is not None:
        log("Validation matrix has {} rows".format(dval.num_row()))
    return dtrain, dval


def _xgb_params(params, builtin_metrics):
    """The params ``xgboost.train`` gets: the container's own keys dropped, lists in xgboost's syntax."""
    xgb_params = {k: v for k, v in params.items() if k not in _CONTAINER_ONLY}
    xgb_params.pop("eval_metric", None)
    if builtin_metrics:
        xgb_params["eval_metric"] = builtin_metrics
    if "updater" in xgb_params:
        xgb_params["updater"] = ",".join(xgb_params["updater"])
    if "monotone_constraints" in xgb_params:
        constraints = xgb_params["monotone_constraints"]
        xgb_params["monotone_constraints"] = "({})".format(",".join(str(int(x)) for x in constraints))
    if "interaction_constraints" in xgb_params:
        xgb_params["interaction_constraints"] = json.dumps([list(x) for x in xgb_params["interaction_constraints"]])
    return xgb_params


def _early_stopping(params, version, watchlist, tuning_metrics):
    """xgboost's EarlyStopping callback set up as ``version``'s container does, or None."""
    import xgboost as xgb

    early_stopping_rounds = params.get("early_stopping_rounds")
    if not early_stopping_rounds:
        return None
    if _legacy_callbacks():  # xgboost before 1.3 (the 1.0-1 .. 1.2-2 images): xgboost.train's own argument
        return int(early_stopping_rounds)
    if not at_least(version, "1.3-1"):
        return xgb.callback.EarlyStopping(
            rounds=early_stopping_rounds, data_name=watchlist[-1][1], save_best=False,
        )
    if len(watchlist) < 2:
        log("early_stopping_rounds is ignored: it needs a 'validation' channel.", "WARNING")
        return None
    eval_metric = params.get("eval_metric")
    metric = tuning_metrics[-1] if tuning_metrics else (eval_metric[-1] if eval_metric else None)
    return xgb.callback.EarlyStopping(
        rounds=early_stopping_rounds,
        data_name="validation",
        metric_name=metric,
        maximize=metric_maximize(metric, version) if metric else None,
        save_best=params.get("booster") != "gblinear",
    )


def _fit(xgb_params, dtrain, num_round, watchlist, feval, early_stop):
    """``xgboost.train`` with the container's log lines; its errors become AlgorithmError."""
    import xgboost as xgb

    if _legacy_callbacks():
        callbacks, extra = [_legacy_log_line], ({"early_stopping_rounds": early_stop} if early_stop else {})
    else:
        callbacks, extra = [_container_log_monitor(early_stop)], {}
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*feval.*")
            return xgb.train(
                xgb_params, dtrain, num_boost_round=num_round, evals=watchlist, feval=feval,
                callbacks=callbacks, verbose_eval=False, **extra
            )
    except Exception as exc:  # noqa: BLE001 - xgboost raises XGBoostError / ValueError
        text = str(exc)
        message = clean_xgb_error(exc)
        if any(snippet in text for snippet in _CUSTOMER_ERROR_SNIPPETS):
            raise AlgorithmError(message)
        raise AlgorithmError("XGB train call failed with exception: {}".format(message), "AlgorithmError")


def _container_log_monitor(early_stopping=None):
    """A callback printing ``[i]#011train-rmse:...`` lines, then (optionally) stopping early.

    Early stopping is wrapped inside so the order is fixed: xgboost 1.7 keeps callbacks in a
    set, so with two separate callbacks the last round's line would sometimes be skipped.
    """
    import xgboost as xgb

    class ContainerLogMonitor(xgb.callback.TrainingCallback):
        """EvaluationMonitor's line as CloudWatch shows it (a tab appears as ``#011``)."""

        def before_training(self, model):
            """Let early stopping set itself up."""
            return early_stopping.before_training(model) if early_stopping is not None else model

        def after_training(self, model):
            """Let early stopping cut the model back to its best round."""
            return early_stopping.after_training(model) if early_stopping is not None else model

        def after_iteration(self, model, epoch, evals_log):
            """Print this round's line; True stops training."""
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


def _legacy_callbacks():
    """True with xgboost before 1.3 (the 1.0-1 .. 1.2-2 images' own), whose callbacks are plain functions."""
    import xgboost as xgb

    return not hasattr(xgb.callback, "TrainingCallback")


def _legacy_log_line(env):
    """The ``[i]#011train-rmse:...`` line, as a callback of xgboost before 1.3 (``env`` is its CallbackEnv)."""
    if env.evaluation_result_list:
        line = "[{}]".format(env.iteration)
        for item in env.evaluation_result_list:
            line += "#011{}:{:.5f}".format(item[0], item[1])
        print(line, flush=True)
