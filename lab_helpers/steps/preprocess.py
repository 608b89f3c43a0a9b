"""Preprocessing step for the abalone pipeline (runs inside a SageMaker processing job).

What this script does
---------------------
1. Finds the single CSV file that SageMaker copied into ``<base_dir>/input/``
   (the file name does not matter) and reads it: no header row, nine UCI
   columns ``sex,length,diameter,height,whole_weight,shucked_weight,
   viscera_weight,shell_weight,rings``. Every line is checked; a bad line stops
   the job with a message naming the file, the line, the column and the fix.
2. Shuffles the rows with a *seeded* random generator and cuts them into
   train / validation / test (70 / 15 / 15 by default).
3. Median-imputes and standard-scales the seven numeric measurements and
   one-hot encodes ``sex`` into three fixed columns ``sex_F, sex_I, sex_M``.
4. Writes ``rings`` (the label) as the FIRST column, no header, no index --
   the CSV layout SageMaker's built-in XGBoost algorithm expects -- to
   ``<base_dir>/train/train.csv``, ``<base_dir>/validation/validation.csv``
   and ``<base_dir>/test/test.csv``.

Two deliberate differences from AWS's abalone example
-----------------------------------------------------
* The split is seeded (``--random-state``, default 42). AWS's example calls
  ``np.random.shuffle`` without a seed, so every run trains and tests on
  different rows and reports a different MSE. In a class we want every learner
  and every re-run of the pipeline to see the same numbers, so that a change in
  MSE comes from what was changed (a hyperparameter, a feature), not from a
  new random split. The legacy ``numpy.random.RandomState`` generator is used
  because NumPy guarantees its stream never changes, so the same seed gives the
  same split in the processing container and on a laptop.
* The imputer medians and the scaler means/standard deviations are learned
  from the TRAIN rows only and then applied to all three splits. AWS's example
  fits them on all rows before splitting, which lets the test rows influence
  the preprocessing (a mild form of data leakage).

The script is self-contained (it is uploaded alone as the job's code) and is
written for Python 3.8+ with any pandas from 1.1 to 3.x, NumPy 1.2x/2.x and
scikit-learn 1.2+.

Run in a job:  python3 preprocess.py [--random-state 42]
               [--train-ratio 0.7] [--validation-ratio 0.15]
"""

import argparse
import csv
import math
import os
import sys
from typing import List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

DEFAULT_BASE_DIR = "/opt/ml/processing"

SEX_COLUMN = "sex"
NUMERIC_FEATURES = [
    "length",
    "diameter",
    "height",
    "whole_weight",
    "shucked_weight",
    "viscera_weight",
    "shell_weight",
]
LABEL_COLUMN = "rings"
INPUT_COLUMNS = [SEX_COLUMN] + NUMERIC_FEATURES + [LABEL_COLUMN]

# Fixed category list: the output always has these three one-hot columns, in
# this order, whatever values happen to be present in the input.
SEX_CATEGORIES = ["F", "I", "M"]
SEX_DUMMY_COLUMNS = ["sex_" + c for c in SEX_CATEGORIES]
OUTPUT_COLUMNS = [LABEL_COLUMN] + NUMERIC_FEATURES + SEX_DUMMY_COLUMNS

# Cell values treated as "missing" in the numeric feature columns (these are
# median-imputed). A missing sex or rings value is an error.
MISSING_VALUES = {"", "?", "na", "nan", "null", "none"}

DEFAULT_RANDOM_STATE = 42
DEFAULT_TRAIN_RATIO = 0.70
DEFAULT_VALIDATION_RATIO = 0.15


def log(message):
    # type: (str) -> None
    """Print a line to the job log (CloudWatch) immediately."""
    print("[preprocess] " + message, flush=True)


# --------------------------------------------------------------------------
# Reading and validating the input
# --------------------------------------------------------------------------
def find_input_csv(input_dir):
    # type: (str) -> str
    """Return the path of the one ``*.csv`` file under ``input_dir``.

    Searches sub-folders too (an S3 prefix as ProcessingInput source keeps its
    folder structure). Raises FileNotFoundError if the folder is missing and
    ValueError if it holds zero or several CSV files, listing what it found.
    """
    if not os.path.isdir(input_dir):
        raise FileNotFoundError(
            "Input folder {!r} does not exist. Give the processing job a "
            "ProcessingInput whose destination is {!r}.".format(input_dir, input_dir)
        )
    all_files = []
    for root, dirs, files in os.walk(input_dir):
        dirs.sort()
        for name in sorted(files):
            all_files.append(os.path.relpath(os.path.join(root, name), input_dir))
    csv_files = [f for f in all_files if f.lower().endswith(".csv")]
    listing = ", ".join(all_files) if all_files else "(the folder is empty)"
    if not csv_files:
        raise ValueError(
            "No CSV file found in input folder {!r}; it contains: {}. Point the "
            "ProcessingInput at the abalone data file, and make sure its name "
            "ends in '.csv'.".format(input_dir, listing)
        )
    if len(csv_files) > 1:
        raise ValueError(
            "Found {} CSV files in input folder {!r} but expected exactly one: "
            "{}. Point the ProcessingInput at a single file (or a prefix that "
            "holds only one CSV).".format(len(csv_files), input_dir, ", ".join(csv_files))
        )
    return os.path.join(input_dir, csv_files[0])


def _parse_number(text, path, line_no, column, allow_missing):
    # type: (str, str, int, str, bool) -> float
    """Convert one cell to float, or raise a ValueError that says where and why."""
    if text.lower() in MISSING_VALUES:
        if allow_missing:
            return float("nan")
        raise ValueError(
            "{}, line {}: column '{}' is empty. Every row needs a value for "
            "'{}'; fix or delete that line.".format(path, line_no, column, column)
        )
    try:
        value = float(text)
    except ValueError:
        hint = ""
        if line_no == 1:
            hint = " If line 1 is a header row, delete it: the file must have no header."
        raise ValueError(
            "{}, line {}: column '{}' must be a number but is {!r}. Fix the value "
            "(use '.' as the decimal point) or delete that line.{}".format(
                path, line_no, column, text, hint
            )
        )
    if math.isinf(value) or (math.isnan(value) and not allow_missing):
        raise ValueError(
            "{}, line {}: column '{}' is {!r}, which is not a usable number. "
            "Fix or delete that line.".format(path, line_no, column, text)
        )
    return value


#: The longest line an abalone CSV can reasonably have (its lines are under 100 bytes).
MAX_LINE_BYTES = 64 * 1024


def _text_lines(handle, path):
    """The lines of a binary file as text; ValueError naming the line and byte of bad UTF-8 or an endless line."""
    line_no = 0
    while True:
        raw = handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        line_no += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            raise ValueError(
                "{}, line {}: the line is longer than {} bytes; an abalone CSV line is under 100. Is this "
                "the right file (not a binary or one-line file)?".format(path, line_no, MAX_LINE_BYTES)
            )
        if line_no == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(
                "{}, line {}, column {}: the file is not UTF-8 text (byte 0x{:02x}); is it compressed or "
                "binary? Upload the plain abalone CSV file.".format(path, line_no, error.start + 1,
                                                                   raw[error.start])
            )


def load_abalone(path):
    # type: (str) -> pd.DataFrame
    """Read and validate a header-less abalone CSV file.

    Returns a DataFrame with columns ``INPUT_COLUMNS``: ``sex`` as strings
    (one of F, I, M) and the other eight columns as float64; empty numeric
    feature cells become NaN (imputed later). Blank lines are skipped.
    Raises ValueError naming the file, line and column of the first problem.
    """
    sexes = []  # type: List[str]
    numbers = []  # type: List[List[float]]
    with open(path, "rb") as handle:
        reader = csv.reader(_text_lines(handle, path))
        while True:
            start = reader.line_num + 1  # the line this record starts on
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                raise ValueError(
                    "{}, line {}: not valid CSV ({}). Fix or delete that line.".format(path, start, error)
                )
            line_no = start
            if reader.line_num > start and any("\n" in cell or "\r" in cell for cell in row):
                raise ValueError(
                    "{}, line {}: a quoted field opened on this line is not closed on it (the quote runs "
                    "on to line {}). Close the quote (\") or delete it.".format(path, start, reader.line_num)
                )
            if not row or all(not cell.strip() for cell in row):
                continue  # blank line
            if len(row) != len(INPUT_COLUMNS):
                raise ValueError(
                    "{}, line {}: expected {} comma-separated columns ({}) but "
                    "found {}. The file must be the UCI abalone data with no "
                    "header and no index column; fix or delete that line.".format(
                        path, line_no, len(INPUT_COLUMNS), ",".join(INPUT_COLUMNS), len(row)
                    )
                )
            cells = [cell.strip() for cell in row]
            sex = cells[0].upper()
            if sex not in SEX_CATEGORIES:
                hint = ""
                if line_no == 1 and cells[0].lower() == SEX_COLUMN:
                    hint = " Line 1 looks like a header row; delete it: the file must have no header."
                raise ValueError(
                    "{}, line {}: column 'sex' must be one of {} but is {!r}. Fix "
                    "the value or delete that line.{}".format(
                        path, line_no, "/".join(SEX_CATEGORIES), cells[0], hint
                    )
                )
            values = []
            for column, text in zip(INPUT_COLUMNS[1:], cells[1:]):
                values.append(
                    _parse_number(text, path, line_no, column, column != LABEL_COLUMN)
                )
            sexes.append(sex)
            numbers.append(values)
    if not sexes:
        raise ValueError(
            "{} contains no data rows. Upload the abalone CSV file (4177 rows in "
            "the UCI version).".format(path)
        )
    frame = pd.DataFrame(
        np.array(numbers, dtype=np.float64), columns=INPUT_COLUMNS[1:]
    )
    frame.insert(0, SEX_COLUMN, pd.Series(sexes, dtype=object))
    return frame


# --------------------------------------------------------------------------
# Transforming and splitting
# --------------------------------------------------------------------------
def split_sizes(n_rows, train_ratio, validation_ratio):
    # type: (int, float, float) -> Tuple[int, int, int]
    """Row counts (train, validation, test); the test split gets the remainder."""
    if not (0.0 < train_ratio < 1.0) or not (0.0 < validation_ratio < 1.0):
        raise ValueError(
            "train_ratio and validation_ratio must each be between 0 and 1 "
            "(got {} and {}).".format(train_ratio, validation_ratio)
        )
    if train_ratio + validation_ratio >= 1.0:
        raise ValueError(
            "train_ratio + validation_ratio must be below 1 so that rows are left "
            "for the test split (got {} + {}).".format(train_ratio, validation_ratio)
        )
    # The small epsilon keeps e.g. 0.7 * 10 = 6.999999... from rounding down to 6.
    train_end = int(math.floor(train_ratio * n_rows + 1e-9))
    validation_end = int(math.floor((train_ratio + validation_ratio) * n_rows + 1e-9))
    sizes = (train_end, validation_end - train_end, n_rows - validation_end)
    if min(sizes) < 1:
        raise ValueError(
            "{} rows are too few for a {:.0%}/{:.0%}/{:.0%} split (sizes would be "
            "{}); every split needs at least one row.".format(
                n_rows,
                train_ratio,
                validation_ratio,
                1.0 - train_ratio - validation_ratio,
                sizes,
            )
        )
    return sizes


def _one_hot_sex(sex):
    # type: (pd.Series) -> np.ndarray
    values = sex.astype(str).str.strip().str.upper().to_numpy()
    unknown = sorted(set(values) - set(SEX_CATEGORIES))
    if unknown:
        raise ValueError(
            "Column 'sex' contains {} but only {} are allowed.".format(
                unknown, "/".join(SEX_CATEGORIES)
            )
        )
    categories = np.array(SEX_CATEGORIES, dtype=object)
    return (values.reshape(-1, 1) == categories.reshape(1, -1)).astype(np.int64)


def preprocess(
    df,
    random_state=DEFAULT_RANDOM_STATE,
    train_ratio=DEFAULT_TRAIN_RATIO,
    validation_ratio=DEFAULT_VALIDATION_RATIO,
):
    # type: (pd.DataFrame, int, float, float) -> Tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]
    """Shuffle (seeded), split, impute, scale and one-hot encode ``df``.

    ``df`` has the columns of ``load_abalone``. Returns three DataFrames
    (train, validation, test) with columns ``OUTPUT_COLUMNS``: ``rings`` first,
    then the seven scaled numeric features, then ``sex_F, sex_I, sex_M``
    (0/1). Imputer and scaler are fitted on the train rows only.
    """
    missing = [c for c in INPUT_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(
            "Input data is missing column(s) {}; expected {}.".format(missing, INPUT_COLUMNS)
        )
    labels = pd.to_numeric(df[LABEL_COLUMN], errors="coerce").to_numpy(dtype=np.float64)
    if np.isnan(labels).any():
        raise ValueError(
            "Column '{}' has {} missing or non-numeric value(s); every row needs a "
            "label.".format(LABEL_COLUMN, int(np.isnan(labels).sum()))
        )
    numeric = np.column_stack(
        [pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=np.float64) for c in NUMERIC_FEATURES]
    )
    sex_dummies = _one_hot_sex(df[SEX_COLUMN])

    n_rows = len(df)
    n_train, n_validation, _ = split_sizes(n_rows, train_ratio, validation_ratio)
    # Legacy RandomState: its stream is frozen by NumPy, so a seed gives the
    # same split on every NumPy version (container and laptop alike).
    order = np.random.RandomState(random_state).permutation(n_rows)
    parts = np.split(order, [n_train, n_train + n_validation])

    train_numeric = numeric[parts[0]]
    empty = [c for c, col in zip(NUMERIC_FEATURES, train_numeric.T) if np.isnan(col).all()]
    if empty:
        raise ValueError(
            "Column(s) {} have no values at all in the training rows, so no median "
            "can be computed. Check the input file.".format(empty)
        )
    numeric_pipeline = Pipeline(
        steps=[
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
        ]
    )
    numeric_pipeline.fit(train_numeric)

    if np.all(labels == np.round(labels)):
        label_values = labels.astype(np.int64)  # write "15", not "15.0"
    else:
        label_values = labels

    splits = []
    for rows in parts:
        frame = pd.DataFrame(
            numeric_pipeline.transform(numeric[rows]), columns=NUMERIC_FEATURES
        )
        frame.insert(0, LABEL_COLUMN, label_values[rows])
        for i, column in enumerate(SEX_DUMMY_COLUMNS):
            frame[column] = sex_dummies[rows, i]
        splits.append(frame[OUTPUT_COLUMNS])
    return splits[0], splits[1], splits[2]


# --------------------------------------------------------------------------
# Command line / job entry point
# --------------------------------------------------------------------------
def parse_args(argv=None):
    # type: (Optional[Sequence[str]]) -> argparse.Namespace
    parser = argparse.ArgumentParser(
        description="Abalone preprocessing step: validate, split, impute, scale, one-hot."
    )
    parser.add_argument(
        "--random-state",
        type=int,
        default=DEFAULT_RANDOM_STATE,
        help="Seed for the shuffle before splitting; same seed, same split "
        "(default: %(default)s).",
    )
    parser.add_argument(
        "--train-ratio",
        type=float,
        default=DEFAULT_TRAIN_RATIO,
        help="Share of rows for training (default: %(default)s).",
    )
    parser.add_argument(
        "--validation-ratio",
        type=float,
        default=DEFAULT_VALIDATION_RATIO,
        help="Share of rows for validation; the rest is the test split "
        "(default: %(default)s).",
    )
    return parser.parse_args(argv)


def write_csv(frame, path):
    # type: (pd.DataFrame, str) -> None
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    frame.to_csv(path, header=False, index=False)


def main(argv=None, base_dir=DEFAULT_BASE_DIR):
    # type: (Optional[Sequence[str]], str) -> dict
    """Run the step. Returns {split name: output path}."""
    args = parse_args(argv)
    input_path = find_input_csv(os.path.join(base_dir, "input"))
    log("reading {}".format(input_path))
    df = load_abalone(input_path)
    counts = df[SEX_COLUMN].value_counts()
    log(
        "rows in: {} (sex F/I/M: {}); missing numeric values imputed: {}".format(
            len(df),
            "/".join(str(int(counts.get(c, 0))) for c in SEX_CATEGORIES),
            int(df[NUMERIC_FEATURES].isna().sum().sum()),
        )
    )
    log(
        "split: random_state={} train_ratio={} validation_ratio={}".format(
            args.random_state, args.train_ratio, args.validation_ratio
        )
    )
    train, validation, test = preprocess(
        df,
        random_state=args.random_state,
        train_ratio=args.train_ratio,
        validation_ratio=args.validation_ratio,
    )
    outputs = {}
    for name, frame in (("train", train), ("validation", validation), ("test", test)):
        path = os.path.join(base_dir, name, name + ".csv")
        write_csv(frame, path)
        outputs[name] = path
        log("rows out: {:>10} {:>5} rows x {} columns -> {}".format(
            name, len(frame), frame.shape[1], path))
    log("columns (no header written): " + ",".join(OUTPUT_COLUMNS))
    return outputs


if __name__ == "__main__":
    try:
        main()
    except ValueError as error:  # bad input data: one line that names the file, line and fix (the job's reason)
        sys.exit("ERROR: {}".format(error))
