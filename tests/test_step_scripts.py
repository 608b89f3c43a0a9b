"""Tests for the processing-job scripts in lab_helpers/steps/ (preprocess, evaluate).

Everything runs against a fake ``/opt/ml/processing`` tree under tmp_path.
"""

import ast
import json
import pickle
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost

from lab_helpers.steps import evaluate, preprocess

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "abalone.csv"
STEPS = ROOT / "lab_helpers" / "steps"
N_ROWS = 4177
N_COLUMNS = 11  # rings + 7 scaled numeric + 3 one-hot sex


# --------------------------------------------------------------------------
# helpers / fixtures
# --------------------------------------------------------------------------
def make_base_dir(tmp_path, name="processing", csv_name="abalone-dataset.csv", source=DATA):
    base = tmp_path / name
    (base / "input").mkdir(parents=True)
    shutil.copy(str(source), str(base / "input" / csv_name))
    return base


def read_split(base, name):
    return pd.read_csv(base / name / (name + ".csv"), header=None)


@pytest.fixture(scope="module")
def raw_df():
    return preprocess.load_abalone(str(DATA))


@pytest.fixture(scope="module")
def splits(raw_df):
    return preprocess.preprocess(raw_df, random_state=42)


@pytest.fixture(scope="module")
def processed_dir(tmp_path_factory):
    base = make_base_dir(tmp_path_factory.mktemp("pre"))
    preprocess.main([], base_dir=str(base))
    return base


def write_rows(path, rows):
    path.write_text("\n".join(rows) + "\n")
    return path


GOOD_ROW = "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15,15"


# --------------------------------------------------------------------------
# preprocess: loading and validation
# --------------------------------------------------------------------------
def test_load_abalone_real_data(raw_df):
    assert list(raw_df.columns) == preprocess.INPUT_COLUMNS
    assert len(raw_df) == N_ROWS
    assert set(raw_df["sex"]) == {"F", "I", "M"}
    assert raw_df[preprocess.NUMERIC_FEATURES + ["rings"]].dtypes.eq(np.float64).all()
    assert raw_df.iloc[0].tolist() == ["M", 0.455, 0.365, 0.095, 0.514, 0.2245, 0.101, 0.15, 15.0]


def test_wrong_column_count_names_line_and_fix(tmp_path):
    bad = write_rows(tmp_path / "a.csv", [GOOD_ROW, GOOD_ROW, "M,0.455,0.365,0.095,0.514,0.2245,0.101,15"])
    with pytest.raises(ValueError) as info:
        preprocess.load_abalone(str(bad))
    message = str(info.value)
    assert "a.csv" in message and "line 3" in message
    assert "expected 9" in message and "found 8" in message
    assert "no header" in message


def test_index_column_is_rejected(tmp_path):
    bad = write_rows(tmp_path / "a.csv", ["0," + GOOD_ROW])
    with pytest.raises(ValueError, match=r"line 1: expected 9 .* found 10"):
        preprocess.load_abalone(str(bad))


def test_bad_sex_value_names_line_and_column(tmp_path):
    bad = write_rows(tmp_path / "a.csv", [GOOD_ROW, "X" + GOOD_ROW[1:]])
    with pytest.raises(ValueError) as info:
        preprocess.load_abalone(str(bad))
    message = str(info.value)
    assert "line 2" in message and "'sex'" in message and "'X'" in message
    assert "F/I/M" in message


def test_non_numeric_value_names_line_and_column(tmp_path):
    bad = write_rows(tmp_path / "a.csv", [GOOD_ROW, GOOD_ROW.replace("0.514", "heavy")])
    with pytest.raises(ValueError) as info:
        preprocess.load_abalone(str(bad))
    message = str(info.value)
    assert "line 2" in message and "'whole_weight'" in message and "'heavy'" in message


def test_header_row_gets_a_hint(tmp_path):
    header = ",".join(preprocess.INPUT_COLUMNS)
    bad = write_rows(tmp_path / "a.csv", [header, GOOD_ROW])
    with pytest.raises(ValueError, match="header"):
        preprocess.load_abalone(str(bad))


def test_missing_label_is_an_error(tmp_path):
    bad = write_rows(tmp_path / "a.csv", [GOOD_ROW, GOOD_ROW[: GOOD_ROW.rindex(",") + 1]])
    with pytest.raises(ValueError, match=r"line 2: column 'rings' is empty"):
        preprocess.load_abalone(str(bad))


def test_empty_file_is_an_error(tmp_path):
    empty = tmp_path / "a.csv"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="no data rows"):
        preprocess.load_abalone(str(empty))


def test_missing_numeric_values_are_median_imputed(tmp_path):
    rows = [GOOD_ROW] * 30 + ["F,,0.3,0.1,0.4,0.2,0.1,0.1,9"]
    df = preprocess.load_abalone(str(write_rows(tmp_path / "a.csv", rows)))
    assert df["length"].isna().sum() == 1
    parts = preprocess.preprocess(df, random_state=0)
    assert not any(p.isna().any().any() for p in parts)


# --------------------------------------------------------------------------
# preprocess: transformation and split
# --------------------------------------------------------------------------
def test_split_shapes_and_sizes(splits):
    train, validation, test = splits
    sizes = [len(train), len(validation), len(test)]
    assert sum(sizes) == N_ROWS
    assert sizes == [2923, 627, 627]  # floor(0.70 n), floor(0.85 n) - floor(0.70 n), rest
    for frame in splits:
        assert frame.shape[1] == N_COLUMNS
        assert list(frame.columns) == preprocess.OUTPUT_COLUMNS
        assert not frame.isna().any().any()


def test_label_first_and_unchanged(raw_df, splits):
    labels = pd.concat([s["rings"] for s in splits])
    assert labels.dtype.kind == "i"
    assert sorted(labels.tolist()) == sorted(raw_df["rings"].astype(int).tolist())


def test_every_row_used_exactly_once(raw_df, splits):
    # The one-hot sex counts over the three splits equal the input's counts.
    counts = sum(s[preprocess.SEX_DUMMY_COLUMNS].sum() for s in splits)
    assert counts.tolist() == [
        int((raw_df["sex"] == c).sum()) for c in preprocess.SEX_CATEGORIES
    ]


def test_scaled_on_train_rows(splits):
    train, validation, test = splits
    numeric = train[preprocess.NUMERIC_FEATURES]
    assert np.allclose(numeric.mean(), 0.0, atol=1e-9)
    assert np.allclose(numeric.std(ddof=0), 1.0, atol=1e-9)
    # Validation/test reuse the train statistics: roughly, not exactly, standardised.
    for frame in (validation, test):
        means = frame[preprocess.NUMERIC_FEATURES].mean()
        assert (means.abs() < 0.25).all()
        assert not np.allclose(means, 0.0, atol=1e-9)


def test_one_hot_is_valid(splits):
    for frame in splits:
        dummies = frame[preprocess.SEX_DUMMY_COLUMNS]
        assert set(np.unique(dummies.to_numpy())) <= {0, 1}
        assert (dummies.sum(axis=1) == 1).all()


def test_one_hot_columns_fixed_when_category_absent():
    rng = np.random.RandomState(0)
    n = 20
    df = pd.DataFrame(
        {
            "sex": ["M", "I"] * (n // 2),
            **{c: rng.uniform(0.1, 1.0, n) for c in preprocess.NUMERIC_FEATURES},
            "rings": rng.randint(1, 20, n).astype(float),
        }
    )[preprocess.INPUT_COLUMNS]
    train, validation, test = preprocess.preprocess(df, random_state=1)
    for frame in (train, validation, test):
        assert list(frame.columns) == preprocess.OUTPUT_COLUMNS
        assert (frame["sex_F"] == 0).all()
    assert len(train) + len(validation) + len(test) == n


def test_unknown_sex_in_dataframe_is_rejected(raw_df):
    df = raw_df.head(20).copy()
    df.loc[3, "sex"] = "U"
    with pytest.raises(ValueError, match=r"'sex'.*'U'"):
        preprocess.preprocess(df)


def test_custom_ratios(raw_df):
    train, validation, test = preprocess.preprocess(
        raw_df, random_state=7, train_ratio=0.8, validation_ratio=0.1
    )
    assert (len(train), len(validation), len(test)) == (3341, 418, 418)


@pytest.mark.parametrize("train_ratio,validation_ratio", [(0.9, 0.1), (0.0, 0.2), (0.7, 1.2)])
def test_bad_ratios_are_rejected(raw_df, train_ratio, validation_ratio):
    with pytest.raises(ValueError, match="ratio"):
        preprocess.preprocess(raw_df, train_ratio=train_ratio, validation_ratio=validation_ratio)


def test_same_seed_same_split_different_seed_different(raw_df, splits):
    again = preprocess.preprocess(raw_df, random_state=42)
    for a, b in zip(splits, again):
        pd.testing.assert_frame_equal(a, b)
    other = preprocess.preprocess(raw_df, random_state=43)
    assert not splits[0].equals(other[0])


# --------------------------------------------------------------------------
# preprocess: main() against a fake /opt/ml/processing
# --------------------------------------------------------------------------
def test_main_writes_three_headerless_files(processed_dir):
    sizes = {}
    for name in ("train", "validation", "test"):
        path = processed_dir / name / (name + ".csv")
        assert path.is_file()
        first = path.read_text().splitlines()[0].split(",")
        assert len(first) == N_COLUMNS
        [float(v) for v in first]  # no header: every cell is numeric
        frame = read_split(processed_dir, name)
        assert not frame.isna().any().any()
        sizes[name] = len(frame)
    assert sizes == {"train": 2923, "validation": 627, "test": 627}


def test_main_prints_row_counts(tmp_path, capsys):
    preprocess.main([], base_dir=str(make_base_dir(tmp_path)))
    out = capsys.readouterr().out
    assert "rows in: 4177" in out
    for name, rows in (("train", 2923), ("validation", 627), ("test", 627)):
        assert name in out and str(rows) in out


def test_main_files_are_deterministic(tmp_path, processed_dir):
    same = make_base_dir(tmp_path, "same", csv_name="other-name.csv")
    preprocess.main(["--random-state", "42"], base_dir=str(same))
    different = make_base_dir(tmp_path, "different")
    preprocess.main(["--random-state", "7"], base_dir=str(different))
    for name in ("train", "validation", "test"):
        rel = Path(name) / (name + ".csv")
        assert (same / rel).read_bytes() == (processed_dir / rel).read_bytes()
        assert (different / rel).read_bytes() != (processed_dir / rel).read_bytes()


def test_main_ratio_arguments(tmp_path):
    base = make_base_dir(tmp_path)
    preprocess.main(["--train-ratio", "0.6", "--validation-ratio", "0.2"], base_dir=str(base))
    sizes = [len(read_split(base, n)) for n in ("train", "validation", "test")]
    assert sizes == [2506, 835, 836]


def test_main_no_csv_in_input(tmp_path):
    base = tmp_path / "processing"
    (base / "input").mkdir(parents=True)
    (base / "input" / "abalone-dataset-batch").write_text(GOOD_ROW + "\n")
    with pytest.raises(ValueError) as info:
        preprocess.main([], base_dir=str(base))
    message = str(info.value)
    assert "No CSV file" in message and "abalone-dataset-batch" in message


def test_main_empty_input_folder(tmp_path):
    base = tmp_path / "processing"
    (base / "input").mkdir(parents=True)
    with pytest.raises(ValueError, match="No CSV file.*empty"):
        preprocess.main([], base_dir=str(base))


def test_main_two_csvs_in_input(tmp_path):
    base = make_base_dir(tmp_path)
    shutil.copy(str(DATA), str(base / "input" / "copy.csv"))
    with pytest.raises(ValueError) as info:
        preprocess.main([], base_dir=str(base))
    message = str(info.value)
    assert "2 CSV files" in message
    assert "abalone-dataset.csv" in message and "copy.csv" in message


def test_main_missing_input_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="input"):
        preprocess.main([], base_dir=str(tmp_path / "nothing"))


# --------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------
def train_small_booster(processed_dir, rounds=5):
    train = read_split(processed_dir, "train").to_numpy(dtype=float)
    dtrain = xgboost.DMatrix(train[:, 1:], label=train[:, 0])
    params = {"objective": "reg:squarederror", "max_depth": 3, "eta": 0.3, "seed": 0}
    return xgboost.train(params, dtrain, num_boost_round=rounds)


def make_model_archive(booster, directory, arcname=evaluate.MODEL_FILE_NAME):
    directory.mkdir(parents=True, exist_ok=True)
    model_file = directory / "xgboost-model-tmp"
    booster.save_model(str(model_file))  # as the built-in algorithm does
    archive = directory / "model.tar.gz"
    with tarfile.open(str(archive), "w:gz") as tar:
        tar.add(str(model_file), arcname=arcname)
    model_file.unlink()
    return archive


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, processed_dir):
    base = tmp_path_factory.mktemp("eval")
    booster = train_small_booster(processed_dir)
    make_model_archive(booster, base / "model")
    (base / "test").mkdir()
    shutil.copy(str(processed_dir / "test" / "test.csv"), str(base / "test" / "test.csv"))
    report = evaluate.main([], base_dir=str(base))
    return base, booster, report


def test_evaluate_writes_aws_shaped_report(evaluated):
    base, _, report = evaluated
    written = json.loads((base / "evaluation" / "evaluation.json").read_text())
    assert written == report
    mse = written["regression_metrics"]["mse"]
    assert set(mse) == {"value", "standard_deviation"}
    assert isinstance(mse["value"], float) and isinstance(mse["standard_deviation"], float)
    for name in ("rmse", "mae", "r2"):
        assert isinstance(written["regression_metrics"][name]["value"], float)


def test_evaluate_mse_matches_independent_computation(evaluated, processed_dir):
    base, booster, report = evaluated
    test = read_split(processed_dir, "test").to_numpy(dtype=float)
    predicted = booster.predict(xgboost.DMatrix(test[:, 1:]))
    errors = test[:, 0] - predicted
    metrics = report["regression_metrics"]
    assert metrics["mse"]["value"] == pytest.approx(np.mean(errors ** 2), rel=1e-6)
    assert metrics["mse"]["standard_deviation"] == pytest.approx(np.std(errors), rel=1e-6)
    assert metrics["rmse"]["value"] == pytest.approx(np.sqrt(np.mean(errors ** 2)), rel=1e-6)
    # Plausible for 5 rounds on abalone (variance of rings is about 10).
    assert 3.0 < metrics["mse"]["value"] < 12.0
    # ... and the predictions file gives the same number.
    pred = pd.read_csv(base / "evaluation" / "predictions.csv")
    assert metrics["mse"]["value"] == pytest.approx(
        np.mean((pred["actual"] - pred["predicted"]) ** 2), rel=1e-5
    )


def test_evaluate_predictions_file(evaluated, processed_dir):
    base, _, _ = evaluated
    path = base / "evaluation" / "predictions.csv"
    assert path.read_text().splitlines()[0] == "actual,predicted"
    pred = pd.read_csv(path)
    test = read_split(processed_dir, "test")
    assert len(pred) == len(test) == 627
    assert np.array_equal(pred["actual"].to_numpy(), test[0].to_numpy())


def test_regression_report_known_values():
    report = evaluate.regression_report([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 4.0, 2.0])
    metrics = report["regression_metrics"]
    # errors 0, 0, -1, 2
    assert metrics["mse"]["value"] == pytest.approx(5.0 / 4)
    assert metrics["mse"]["standard_deviation"] == pytest.approx(np.std([0, 0, -1, 2]))
    assert metrics["rmse"]["value"] == pytest.approx(np.sqrt(5.0 / 4))
    assert metrics["mae"]["value"] == pytest.approx(3.0 / 4)
    assert metrics["r2"]["value"] == pytest.approx(1 - 5.0 / 5.0)
    json.dumps(report, allow_nan=False)  # plain JSON, no numpy types


def test_regression_report_edge_cases():
    assert evaluate.regression_report([3, 3], [2, 4])["regression_metrics"]["r2"]["value"] is None
    with pytest.raises(ValueError):
        evaluate.regression_report([1, 2], [1])
    with pytest.raises(ValueError):
        evaluate.regression_report([], [])


def test_evaluate_missing_model_archive(tmp_path, processed_dir):
    (tmp_path / "test").mkdir()
    shutil.copy(str(processed_dir / "test" / "test.csv"), str(tmp_path / "test" / "test.csv"))
    with pytest.raises(FileNotFoundError, match=r"model\.tar\.gz.*S3ModelArtifacts"):
        evaluate.main([], base_dir=str(tmp_path))


def test_evaluate_missing_test_file(tmp_path, processed_dir):
    make_model_archive(train_small_booster(processed_dir, rounds=1), tmp_path / "model")
    with pytest.raises(FileNotFoundError, match=r"test\.csv.*Outputs\['test'\]"):
        evaluate.main([], base_dir=str(tmp_path))


def test_archive_without_model_file(tmp_path, processed_dir):
    archive = make_model_archive(
        train_small_booster(processed_dir, rounds=1), tmp_path / "model", arcname="model.bin"
    )
    with pytest.raises(ValueError, match=r"no file named 'xgboost-model'.*model\.bin"):
        evaluate.load_booster(str(archive))


def test_pickled_model_from_old_algorithm_versions_loads(tmp_path, processed_dir):
    # Built-in XGBoost algorithm versions before 1.3 pickled the Booster.
    booster = train_small_booster(processed_dir, rounds=2)
    model_file = tmp_path / "xgboost-model"
    model_file.write_bytes(pickle.dumps(booster))
    with tarfile.open(str(tmp_path / "model.tar.gz"), "w:gz") as tar:
        tar.add(str(model_file), arcname="xgboost-model")
    loaded = evaluate.load_booster(str(tmp_path / "model.tar.gz"))
    test = read_split(processed_dir, "test").to_numpy(dtype=float)
    data = xgboost.DMatrix(test[:, 1:])
    assert np.array_equal(loaded.predict(data), booster.predict(data))


def test_feature_count_mismatch(tmp_path, processed_dir):
    make_model_archive(train_small_booster(processed_dir, rounds=1), tmp_path / "model")
    (tmp_path / "test").mkdir()
    test = read_split(processed_dir, "test").iloc[:, :-1]
    test.to_csv(tmp_path / "test" / "test.csv", header=False, index=False)
    with pytest.raises(ValueError, match="expects 10 features"):
        evaluate.main([], base_dir=str(tmp_path))


# --------------------------------------------------------------------------
# the scripts must run unchanged in the SageMaker containers
# --------------------------------------------------------------------------
@pytest.mark.parametrize("script", ["preprocess.py", "evaluate.py"])
def test_scripts_are_python39_and_standalone(script):
    source = (STEPS / script).read_text()
    tree = ast.parse(source, filename=script, feature_version=(3, 9))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import in " + script
            imported.add(node.module or "")
    top_level = {name.split(".")[0] for name in imported}
    assert "lab_helpers" not in top_level, imported
    if script == "evaluate.py":
        assert "sklearn" not in top_level, "scikit-learn may be absent in the XGBoost image"
    assert 'if __name__ == "__main__":' in source


def test_evaluate_is_python38_too():
    # The XGBoost 1.7-1 image may run Python 3.8.
    ast.parse((STEPS / "evaluate.py").read_text(), feature_version=(3, 8))


@pytest.mark.parametrize("script,option", [("preprocess.py", "--random-state"), ("evaluate.py", "usage")])
def test_scripts_run_alone_as_programs(tmp_path, script, option):
    # Copied alone into an empty folder, as SageMaker uploads the job's code.
    shutil.copy(str(STEPS / script), str(tmp_path / script))
    result = subprocess.run(
        [sys.executable, script, "--help"], cwd=str(tmp_path), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert option in result.stdout
