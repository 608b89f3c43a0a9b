"""Tests for the local stand-in of the SageMaker built-in XGBoost container."""

import json
import os
import pickle
import re
import tarfile

import numpy as np
import pytest
import xgboost as xgb

from lab_helpers.local.images.xgboost.common import (MODEL_FILENAME, SUPPORTED_VERSIONS, AlgorithmError,
                                                     normalize_version)
from lab_helpers.local.images.xgboost.hyperparameters import validate_hyperparameters
from lab_helpers.local.images.xgboost.serve import load_model, predict, transform_file
from lab_helpers.local.images.xgboost.train import run_training

CSV = "text/csv"


def _csv_text(matrix):
    return "\n".join(",".join(repr(float(v)) for v in row) for row in matrix) + "\n"


def _regression_data(n=200, seed=0):
    """label = 10*x0 + 2*x1 (easy for trees); returns (label+features matrix, features)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 3))
    y = 10 * x[:, 0] + 2 * x[:, 1]
    return np.column_stack([y, x]), x


def make_job(tmp_path, hyperparameters, channels):
    """An /opt/ml-style folder.  channels: name -> (content_type or None, {relative file: text}) or None.

    A channel whose value is None is declared in inputdataconfig.json but gets no folder.
    """
    root = tmp_path / "opt_ml"
    (root / "input" / "config").mkdir(parents=True)
    data_config = {}
    for name, spec in channels.items():
        settings = {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated"}
        if spec is None:
            data_config[name] = dict(settings, ContentType=CSV)
            continue
        content_type, files = spec
        if content_type is not None:
            settings["ContentType"] = content_type
        data_config[name] = settings
        channel_dir = root / "input" / "data" / name
        channel_dir.mkdir(parents=True)
        for rel, text in files.items():
            target = channel_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (root / "input" / "config" / "inputdataconfig.json").write_text(json.dumps(data_config))
    return str(root)


def failure_of(root):
    path = os.path.join(root, "output", "failure")
    assert os.path.exists(path), "expected a failure file"
    with open(path) as handle:
        return handle.read()


def model_path(root):
    return os.path.join(root, "model", MODEL_FILENAME)


@pytest.fixture
def reg_job(tmp_path):
    """A small regression job with train and validation channels; returns a factory."""

    def _make(hps=None, with_validation=True):
        data, _ = _regression_data(240)
        channels = {"train": (CSV, {"train.csv": _csv_text(data[:200])})}
        if with_validation:
            channels["validation"] = (CSV, {"validation.csv": _csv_text(data[200:])})
        params = {"num_round": "5", "objective": "reg:squarederror"}
        params.update(hps or {})
        return make_job(tmp_path, params, channels)

    return _make


# ----------------------------------------------------------------------------- hyperparameters


def test_string_hyperparameters_are_coerced_to_their_types():
    values = validate_hyperparameters(
        {"num_round": "50", "eta": "0.2", "max_depth": "5", "subsample": "0.8", "eval_metric": "rmse,mae",
         "objective": "reg:squarederror", "learning_rate": "0.1", "seed": "-7"}
    )
    assert values["num_round"] == 50 and isinstance(values["num_round"], int)
    assert values["max_depth"] == 5 and isinstance(values["max_depth"], int)
    assert values["subsample"] == pytest.approx(0.8) and isinstance(values["subsample"], float)
    assert values["eval_metric"] == ["rmse", "mae"]
    assert values["seed"] == -7
    # learning_rate is the container's alias of eta; the later key wins, as there
    assert values["eta"] == pytest.approx(0.1)
    assert "learning_rate" not in values


def test_training_with_string_hyperparameters_succeeds(reg_job):
    strings = {"num_round": "7", "eta": "0.2", "max_depth": "3", "min_child_weight": "1", "gamma": "0",
               "subsample": "1", "colsample_bytree": "1", "lambda": "1", "alpha": "0", "seed": "3"}
    root = reg_job(strings)
    assert run_training(root) == 0
    assert not os.path.exists(os.path.join(root, "output", "failure"))
    booster = xgb.Booster()
    booster.load_model(model_path(root))
    assert booster.num_boosted_rounds() == 7
    # same model as xgboost trained directly with the typed values (and not with eta's default 0.3)
    data, x = _regression_data(240)
    dtrain = xgb.DMatrix(data[:200, 1:], label=data[:200, 0])
    typed = {"objective": "reg:squarederror", "eta": 0.2, "max_depth": 3, "min_child_weight": 1.0, "gamma": 0.0,
             "subsample": 1.0, "colsample_bytree": 1.0, "lambda": 1.0, "alpha": 0.0, "seed": 3}
    direct = xgb.train(typed, dtrain, num_boost_round=7)
    ours = booster.predict(xgb.DMatrix(x))
    assert ours == pytest.approx(direct.predict(xgb.DMatrix(x)), rel=1e-6)
    default_eta = xgb.train(dict(typed, eta=0.3), dtrain, num_boost_round=7)
    assert not np.allclose(ours, default_eta.predict(xgb.DMatrix(x)))


@pytest.mark.parametrize(
    "hps, expected",
    [
        ({"max_depth": "five"}, ["'max_depth'", "'five'", "not an integer", "[0, +inf)"]),
        ({"eta": "1.5"}, ["'eta'", "'1.5'", "out of range", "[0, 1]"]),
        ({"subsample": "0"}, ["'subsample'", "'0'", "(0, 1]"]),
        ({"num_round": "2.5"}, ["'num_round'", "'2.5'", "not an integer"]),
        ({"gamma": "abc"}, ["'gamma'", "'abc'", "not a number"]),
        ({"objective": "reg:squarederor"}, ["'objective'", "reg:squarederor", "Did you mean 'reg:squarederror'"]),
        ({"objective": "multi:softmax"}, ["'num_class'", "multi:softmax"]),
        ({"eval_metric": "rmse, mae"}, ["'eval_metric'", "without spaces"]),
        ({"eval_metric": "rmsee"}, ["'eval_metric'", "rmsee", "Did you mean 'rmse'"]),
        ({"eval_metric": "auc"}, ["'auc'", "classification"]),
        ({"tree_method": "gpu_hist"}, ["gpu_hist", "GPU"]),
        ({"monotone_constraints": "(1,0,-1)"}, ["monotone_constraints", "tree_method"]),
    ],
)
def test_malformed_or_out_of_range_value_fails_the_job(reg_job, hps, expected):
    root = reg_job(hps)
    assert run_training(root) == 1
    reason = failure_of(root)
    assert reason.startswith("ClientError: ")
    assert "\n" not in reason.strip()
    for fragment in expected:
        assert fragment in reason
    assert not os.path.exists(model_path(root))


def test_unknown_hyperparameter_fails_with_message_in_failure_file(reg_job):
    root = reg_job({"max_dept": "5"})
    assert run_training(root) == 1
    reason = failure_of(root)
    assert reason.startswith("ClientError: Hyperparameter 'max_dept': unknown hyperparameter")
    assert "Did you mean 'max_depth'?" in reason
    assert "Extraneous hyperparameter found: max_dept" in reason
    assert not os.path.exists(model_path(root))


def test_missing_num_round_is_reported(tmp_path):
    data, _ = _regression_data(50)
    root = make_job(tmp_path, {"eta": "0.1"}, {"train": (CSV, {"t.csv": _csv_text(data)})})
    assert run_training(root) == 1
    assert "Missing required hyperparameter: 'num_round'" in failure_of(root)


def test_sagemaker_reserved_keys_are_ignored_and_tuning_metric_is_used(reg_job, capsys):
    root = reg_job({"sagemaker_program": "train.py", "sagemaker_submit_directory": "s3://b/k",
                    "_tuning_objective_metric": "validation:mae"})
    assert run_training(root) == 0
    out = capsys.readouterr().out
    assert "#011validation-mae:" in out  # the tuning metric is reported, as the container does


def test_bad_tuning_objective_metric_is_rejected(reg_job):
    root = reg_job({"_tuning_objective_metric": "validation:nope"})
    assert run_training(root) == 1
    assert "_tuning_objective_metric" in failure_of(root)


def test_hyperparameter_tables_follow_the_image_version():
    assert validate_hyperparameters({"num_round": "1", "silent": "1"}, version="1.0-1")["silent"] == 1
    with pytest.raises(AlgorithmError) as err:
        validate_hyperparameters({"num_round": "1", "silent": "1"}, version="1.7-1")
    assert "only image version(s) 1.0-1" in str(err.value)
    # an image URI works as the version too; 1.0-1 had no survival:aft objective
    with pytest.raises(AlgorithmError):
        validate_hyperparameters(
            {"num_round": "1", "objective": "survival:aft"},
            version="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.0-1-cpu-py3",
        )
    assert validate_hyperparameters({"num_round": "1", "objective": "survival:aft"}, version="1.5-1")
    with pytest.raises(AlgorithmError):
        normalize_version("0.90-1")


# ----------------------------------------------------------------------------- channels and data


def test_missing_train_channel_fails_clearly(tmp_path):
    data, _ = _regression_data(50)
    root = make_job(tmp_path, {"num_round": "3"}, {"validation": (CSV, {"v.csv": _csv_text(data)})})
    assert run_training(root) == 1
    reason = failure_of(root)
    assert reason.startswith("ClientError: ")
    assert "'train' channel is required" in reason


def test_validation_channel_is_optional(reg_job, capsys):
    root = reg_job({"num_round": "4"}, with_validation=False)
    assert run_training(root) == 0
    out = capsys.readouterr().out
    round_lines = [line for line in out.splitlines() if re.match(r"^\[\d+\]", line)]
    assert len(round_lines) == 4
    assert all("validation-" not in line for line in round_lines)
    assert os.path.exists(model_path(root))


def test_log_lines_use_literal_011_between_metrics(reg_job, capsys):
    root = reg_job({"num_round": "3"})
    assert run_training(root) == 0
    out = capsys.readouterr().out
    pattern = re.compile(r"^\[(\d+)\]#011train-rmse:\d+\.\d{5}#011validation-rmse:\d+\.\d{5}$")
    rounds = [pattern.match(line) for line in out.splitlines() if line.startswith("[") and "#011" in line]
    assert [int(m.group(1)) for m in rounds if m] == [0, 1, 2]
    assert len(rounds) == 3 and all(rounds)
    assert "\t" not in out


def test_model_is_loadable_and_predicts_an_easy_problem(tmp_path):
    data, x = _regression_data(300, seed=1)
    root = make_job(
        tmp_path,
        {"num_round": "60", "max_depth": "4", "eta": "0.3", "objective": "reg:squarederror"},
        {"train": ("text/csv; label_size=1", {"part-0.csv": _csv_text(data[:150]),
                                              "sub/part-1.csv": _csv_text(data[150:])})},
    )
    assert run_training(root) == 0
    booster = xgb.Booster()
    booster.load_model(model_path(root))
    assert booster.num_features() == 3
    pred = booster.predict(xgb.DMatrix(x))
    assert pred.shape == (300,)
    assert float(np.mean(np.abs(pred - data[:, 0]))) < 0.3  # labels span 0..12
    # the serving path gives the same numbers
    served = predict(load_model(os.path.join(root, "model")), _csv_text(x[:5]).encode())
    assert [float(v) for v in served.decode().splitlines()] == pytest.approx(pred[:5].tolist(), rel=1e-6)


def test_libsvm_is_the_default_content_type(tmp_path):
    rng = np.random.default_rng(2)
    lines = []
    for _ in range(200):
        a, b = rng.random(2)
        label = 1 if a > 0.5 else 0
        # sparse: feature 1 only sometimes present
        feats = "0:{:.4f}".format(a) + (" 1:{:.4f}".format(b) if b > 0.3 else "") + " 3:1"
        lines.append("{} {}".format(label, feats))
    root = make_job(
        tmp_path,
        {"num_round": "20", "objective": "binary:logistic", "max_depth": "2"},
        {"train": (None, {"train.libsvm": "\n".join(lines) + "\n"})},
    )
    assert run_training(root) == 0
    booster = load_model(os.path.join(root, "model"))
    assert booster.num_features() == 4
    answer = predict(booster, b"0:0.9 3:1\n0:0.1 3:1\n", content_type="text/libsvm")
    high, low = [float(v) for v in answer.decode().split()]
    assert high > 0.8 and low < 0.2


def test_csv_data_sent_as_default_libsvm_is_explained(tmp_path):
    data, _ = _regression_data(20)
    root = make_job(tmp_path, {"num_round": "2"}, {"train": (None, {"train.csv": _csv_text(data)})})
    assert run_training(root) == 1
    reason = failure_of(root)
    assert "not LIBSVM" in reason and "train.csv" in reason and "text/csv" in reason


def test_csv_with_header_row_is_rejected_clearly(tmp_path):
    data, _ = _regression_data(20)
    text = "label,f0,f1,f2\n" + _csv_text(data)
    root = make_job(tmp_path, {"num_round": "2"}, {"train": (CSV, {"train.csv": text})})
    assert run_training(root) == 1
    reason = failure_of(root)
    assert reason.startswith("ClientError: Line 1 of file 'train.csv' in the 'train' channel looks like a header")
    assert "label,f0,f1,f2" in reason


def test_non_numeric_csv_value_names_file_and_line(tmp_path):
    data, _ = _regression_data(5)
    rows = _csv_text(data).splitlines()
    rows[2] = rows[2].split(",", 1)[0] + ",abc," + ",".join(rows[2].split(",")[2:])
    root = make_job(tmp_path, {"num_round": "2"}, {"train": (CSV, {"d/train.csv": "\n".join(rows) + "\n"})})
    assert run_training(root) == 1
    reason = failure_of(root)
    assert "Line 3 of file 'd/train.csv'" in reason and "column 2" in reason and "'abc'" in reason


def test_empty_and_missing_channels_fail_clearly(tmp_path):
    root = make_job(tmp_path, {"num_round": "2"}, {"train": (CSV, {"empty.csv": ""})})
    assert run_training(root) == 1
    assert "No data in training channel" in failure_of(root)

    data, _ = _regression_data(20)
    other = tmp_path / "second"
    other.mkdir()
    root2 = make_job(other, {"num_round": "2"}, {"train": (CSV, {"t.csv": _csv_text(data)}), "validation": None})
    assert run_training(root2) == 1
    assert "No data in validation channel" in failure_of(root2)


@pytest.mark.parametrize(
    "channels, expected",
    [
        ({"train": ("application/json", {"t.json": "{}"})}, "ContentType 'application/json' is not supported"),
        ({"train": (CSV, {"t.csv": "1,2\n"}), "test": (CSV, {"x.csv": "1,2\n"})}, "Extraneous channel found: 'test'"),
        ({"train": (CSV, {"t.csv": "1,2\n", ".DS_Store": "x"})}, "Hidden file found"),
        ({"train": ("text/csv; label_size=2", {"t.csv": "1,2\n"})}, "label_size must be 1"),
    ],
)
def test_channel_configuration_errors(tmp_path, channels, expected):
    root = make_job(tmp_path, {"num_round": "2"}, channels)
    assert run_training(root) == 1
    assert expected in failure_of(root)


def test_broken_config_never_raises(tmp_path):
    root = make_job(tmp_path, {"num_round": "2"}, {"train": (CSV, {"t.csv": "1,2\n"})})
    with open(os.path.join(root, "input", "config", "inputdataconfig.json"), "w") as handle:
        handle.write("{not json")
    assert run_training(root) == 1
    assert "inputdataconfig.json is not valid JSON" in failure_of(root)


def test_csv_weights_column_is_not_a_feature(tmp_path):
    data, _ = _regression_data(100)
    weighted = np.column_stack([data[:, 0], np.ones(100), data[:, 1:]])
    root = make_job(tmp_path, {"num_round": "3", "csv_weights": "1"},
                    {"train": (CSV, {"t.csv": _csv_text(weighted)})})
    assert run_training(root) == 0
    assert load_model(os.path.join(root, "model")).num_features() == 3


def test_bad_labels_for_the_objective_are_a_client_error(tmp_path):
    data, _ = _regression_data(50)  # labels up to 12, not 0/1
    root = make_job(tmp_path, {"num_round": "2", "objective": "binary:logistic"},
                    {"train": (CSV, {"t.csv": _csv_text(data)})})
    assert run_training(root) == 1
    reason = failure_of(root)
    assert reason.startswith("ClientError: ") and "label must be in [0,1]" in reason
    assert "Stack trace" not in reason


# ----------------------------------------------------------------------------- training behaviour


def test_early_stopping_keeps_the_best_round(tmp_path, capsys):
    rng = np.random.default_rng(3)
    x = rng.random((200, 2))
    train = np.column_stack([10 * x[:, 0], x])
    # validation labels run against the pattern, so the validation error gets worse after round 0
    val = np.column_stack([-10 * x[:100, 0], x[:100]])
    root = make_job(
        tmp_path,
        {"num_round": "100", "early_stopping_rounds": "3", "eval_metric": "rmse", "eta": "0.5"},
        {"train": (CSV, {"t.csv": _csv_text(train)}), "validation": (CSV, {"v.csv": _csv_text(val)})},
    )
    assert run_training(root) == 0
    rounds = [line for line in capsys.readouterr().out.splitlines() if re.match(r"^\[\d+\]#011", line)]
    booster = xgb.Booster()
    booster.load_model(model_path(root))
    best = booster.num_boosted_rounds()
    assert len(rounds) < 100
    assert len(rounds) == best + 3  # stopped 3 rounds after the best one, model cut back to the best


def test_container_metrics_are_reported(tmp_path, capsys):
    rng = np.random.default_rng(4)
    x = rng.random((200, 2))
    y = (x[:, 0] > 0.5).astype(float)
    data = np.column_stack([y, x])
    root = make_job(
        tmp_path,
        {"num_round": "3", "objective": "binary:logistic", "eval_metric": "accuracy,f1"},
        {"train": (CSV, {"t.csv": _csv_text(data[:150])}), "validation": (CSV, {"v.csv": _csv_text(data[150:])})},
    )
    assert run_training(root) == 0
    last = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[2]#011")][0]
    accuracy = float(re.search(r"#011validation-accuracy:([0-9.]+)", last).group(1))
    assert 0.9 <= accuracy <= 1.0
    assert "#011train-f1:" in last and "#011train-logloss:" in last  # default metric stays, as in the container


# ----------------------------------------------------------------------------- serving


@pytest.fixture(scope="module")
def trained_model_dir(tmp_path_factory):
    data, _ = _regression_data(200)
    root = make_job(tmp_path_factory.mktemp("served"), {"num_round": "30", "max_depth": "3"},
                    {"train": (CSV, {"t.csv": _csv_text(data)})})
    assert run_training(root) == 0
    return os.path.join(root, "model")


def test_predict_csv_gives_one_line_per_record(trained_model_dir):
    booster = load_model(trained_model_dir)
    payload = b"0.9,0.1,0.5\n0.1,0.1,0.5\n0.5,0.5,0.5\n"
    lines = predict(booster, payload).decode().splitlines()
    assert len(lines) == 3
    values = [float(v) for v in lines]
    assert values[0] > values[2] > values[1]
    assert predict(booster, b"") == b""


def test_predict_json_accept_shape(trained_model_dir):
    booster = load_model(trained_model_dir)
    body = json.loads(predict(booster, b"0.9,0.1,0.5\n0.1,0.1,0.5\n", CSV, "application/json"))
    assert list(body) == ["predictions"]
    assert len(body["predictions"]) == 2
    assert all(list(p) == ["score"] and isinstance(p["score"], float) for p in body["predictions"])
    csv_values = [float(v) for v in predict(booster, b"0.9,0.1,0.5\n0.1,0.1,0.5\n").split()]
    assert [p["score"] for p in body["predictions"]] == pytest.approx(csv_values)


@pytest.mark.parametrize(
    "payload, content_type, accept, expected",
    [
        (b"f0,f1,f2\n0.1,0.2,0.3\n", CSV, CSV, "header"),
        (b"5.0,0.1,0.2,0.3\n", CSV, CSV, "label column"),
        (b"0.1,oops,0.3\n", CSV, CSV, "'oops' is not a number"),
        (b"0.1,0.2,0.3\n", "application/json", CSV, "not supported"),
        (b"0.1,0.2,0.3\n", CSV, "text/html", "Accept type 'text/html' is not supported"),
        (b"0:0.1 7:1\n", "text/libsvm", CSV, "feature index 7"),
    ],
)
def test_predict_rejects_bad_input(trained_model_dir, payload, content_type, accept, expected):
    booster = load_model(trained_model_dir)
    with pytest.raises(AlgorithmError) as err:
        predict(booster, payload, content_type, accept)
    assert expected in str(err.value)


def test_transform_file_writes_one_line_per_record(trained_model_dir, tmp_path):
    _, x = _regression_data(25, seed=9)
    text = _csv_text(x[:10]) + "\n" + _csv_text(x[10:])  # a blank line in between is not a record
    source = tmp_path / "batch" / "input.csv"
    source.parent.mkdir()
    source.write_text(text)
    target = tmp_path / "out" / "input.csv.out"
    assert transform_file(trained_model_dir, str(source), str(target)) == 25
    lines = target.read_text().splitlines()
    assert len(lines) == 25
    expected = load_model(trained_model_dir).predict(xgb.DMatrix(x))
    assert [float(v) for v in lines] == pytest.approx(expected.tolist(), rel=1e-6)
    # batch mode answers the same plain lines for application/json, as the container does
    target_json = tmp_path / "out" / "json.out"
    assert transform_file(trained_model_dir, str(source), str(target_json), CSV, "application/json") == 25
    assert target_json.read_text() == target.read_text()


def test_transform_file_reports_bad_line(trained_model_dir, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("0.1,0.2,0.3\n0.1,bad,0.3\n")
    with pytest.raises(AlgorithmError) as err:
        transform_file(trained_model_dir, str(source), str(tmp_path / "o.out"))
    assert "Line 2 of input file 'in.csv'" in str(err.value)


def test_multiclass_probabilities(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.random((300, 2))
    y = np.floor(x[:, 0] * 3).clip(0, 2)
    root = make_job(
        tmp_path,
        {"num_round": "10", "objective": "multi:softprob", "num_class": "3"},
        {"train": (CSV, {"t.csv": _csv_text(np.column_stack([y, x]))})},
    )
    assert run_training(root) == 0
    model_dir = os.path.join(root, "model")
    answer = predict(load_model(model_dir), b"0.1,0.5\n0.9,0.5\n").decode().splitlines()
    probs = [[float(v) for v in line.split(",")] for line in answer]
    assert len(probs) == 2 and all(len(p) == 3 for p in probs)
    assert int(np.argmax(probs[0])) == 0 and int(np.argmax(probs[1])) == 2
    source = tmp_path / "in.csv"
    source.write_text("0.1,0.5\n0.9,0.5\n")
    assert transform_file(model_dir, str(source), str(tmp_path / "o.out")) == 2
    batch_lines = (tmp_path / "o.out").read_text().splitlines()
    assert batch_lines[0].startswith("[") and batch_lines[0].endswith("]")  # str(list), as in batch mode
    assert np.allclose([json.loads(line) for line in batch_lines], probs)


def test_load_model_reads_an_unextracted_model_tar(trained_model_dir, tmp_path):
    archive_dir = tmp_path / "packed"
    archive_dir.mkdir()
    with tarfile.open(archive_dir / "model.tar.gz", "w:gz") as archive:
        archive.add(os.path.join(trained_model_dir, MODEL_FILENAME), arcname=MODEL_FILENAME)
    packed = load_model(str(archive_dir))
    plain = load_model(trained_model_dir)
    assert predict(packed, b"0.3,0.3,0.3\n") == predict(plain, b"0.3,0.3,0.3\n")
    with pytest.raises(AlgorithmError):
        load_model(str(tmp_path / "nowhere"))


# ----------------------------------------------------------------------------- model file per image version

#: The images whose container pickles the Booster into xgboost-model -> the pickle protocol; the
#: others call Booster.save_model (aws/sagemaker-xgboost-container, algorithm_mode/train.py).
PICKLING_VERSIONS = {"1.0-1": 3, "1.2-1": 4, "1.2-2": 4}


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_model_file_has_the_format_its_image_version_writes_and_serves(tmp_path, version):
    data, x = _regression_data(120)
    channels = {"train": (CSV, {"t.csv": _csv_text(data[:100])}), "validation": (CSV, {"v.csv": _csv_text(data[100:])})}
    root = make_job(tmp_path, {"num_round": "4", "max_depth": "2"}, channels)
    assert run_training(root, version) == 0
    path = model_path(root)
    with open(path, "rb") as handle:
        raw = handle.read()
    if version in PICKLING_VERSIONS:
        assert raw[:2] == bytes([0x80, PICKLING_VERSIONS[version]])  # the protocol that image's pickle.dump used
        with open(path, "rb") as handle:
            booster = pickle.load(handle)  # what AWS's abalone evaluation script does on the 1.0-1 image
        assert isinstance(booster, xgb.Booster)
        with pytest.raises(xgb.core.XGBoostError):
            xgb.Booster(model_file=path)
    else:
        booster = xgb.Booster(model_file=path)
        with pytest.raises(pickle.UnpicklingError), open(path, "rb") as handle:
            pickle.load(handle)  # documented: such a script fails on 1.3-1 and later models
    assert booster.num_boosted_rounds() == 4
    expected = booster.predict(xgb.DMatrix(x[:7]))

    # batch transform serves the model whichever format it is in
    source = tmp_path / "batch" / "in.csv"
    source.parent.mkdir()
    source.write_text(_csv_text(x[:7]))
    target = tmp_path / "out" / "in.csv.out"
    assert transform_file(os.path.join(root, "model"), str(source), str(target)) == 7
    assert [float(v) for v in target.read_text().splitlines()] == pytest.approx(expected.tolist(), rel=1e-6)

    # and so does a model.tar.gz left unextracted
    packed = tmp_path / "packed"
    packed.mkdir()
    with tarfile.open(packed / "model.tar.gz", "w:gz") as archive:
        archive.add(path, arcname=MODEL_FILENAME)
    answer = predict(load_model(str(packed)), _csv_text(x[:7]).encode())
    assert [float(v) for v in answer.decode().splitlines()] == pytest.approx(expected.tolist(), rel=1e-6)


def test_pickled_model_serves_its_best_round_after_early_stopping(tmp_path):
    # 1.2-2 keeps every tree when it stops early and serving predicts with the best round only;
    # the best round has to survive the pickle.
    rng = np.random.default_rng(3)
    x = rng.random((200, 2))
    train = np.column_stack([10 * x[:, 0], x])
    val = np.column_stack([-10 * x[:100, 0], x[:100]])  # gets worse after round 0
    root = make_job(
        tmp_path,
        {"num_round": "50", "early_stopping_rounds": "3", "eval_metric": "rmse", "eta": "0.5"},
        {"train": (CSV, {"t.csv": _csv_text(train)}), "validation": (CSV, {"v.csv": _csv_text(val)})},
    )
    assert run_training(root, "1.2-2") == 0
    with open(model_path(root), "rb") as handle:
        pickled = pickle.load(handle)
    best = int(pickled.attr("best_iteration"))
    assert pickled.num_boosted_rounds() == best + 4  # all trees kept, as 1.2-2 does
    served = predict(load_model(os.path.join(root, "model")), _csv_text(x[:5]).encode())
    expected = pickled.predict(xgb.DMatrix(x[:5]), iteration_range=(0, best + 1))
    assert not np.allclose(pickled.predict(xgb.DMatrix(x[:5])), expected)  # the extra trees do change it
    assert [float(v) for v in served.decode().splitlines()] == pytest.approx(expected.tolist(), rel=1e-6)


@pytest.mark.parametrize("content, expected", [
    (b"not a model at all", ["neither an xgboost model file", "nor a pickled Booster"]),
    (pickle.dumps({"weights": [1, 2]}), ["starts like a pickle", "not an xgboost Booster", "dict"]),
])
def test_unreadable_model_file_is_explained(tmp_path, content, expected):
    (tmp_path / MODEL_FILENAME).write_bytes(content)
    with pytest.raises(AlgorithmError) as err:
        load_model(str(tmp_path))
    for fragment in expected:
        assert fragment in str(err.value)
