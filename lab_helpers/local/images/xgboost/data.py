"""Training data as the container reads it: content types, channels, CSV/LIBSVM/Parquet, DMatrix.

* Channels: ``train`` (required) and ``validation`` (optional); ``code`` is allowed and
  ignored; any other channel fails the job, as in the container.  ContentType ``text/csv``
  (label in the FIRST column, no header; ``text/csv; label_size=1`` accepted) or
  ``text/libsvm`` / ``text/x-libsvm`` (the default when ContentType is missing).  The
  container reads every channel with the ``train`` channel's content type; here a
  ``validation`` channel with a different format fails with a clear message instead.
* ``csv_weights=1``: the second CSV column holds instance weights.  LIBSVM accepts
  ``<label>[:<weight>] [qid:<id>] <index>:<value> ...`` with zero-based feature indices.
* Every file of a channel is read, recursively, in a stable order.

Where this differs from the container, and why:

* Stricter data checks, reported with file and line: a CSV header row, non-numeric values,
  rows with different numbers of columns, a missing label.  The real container hands files
  to xgboost's C++ parser, which may read a header row as a row of data instead of failing.
  Blank lines are skipped, and files whose names start with ``_`` (such as Spark's
  ``_SUCCESS``) are ignored.  A file or folder whose name starts with ``.`` fails the job,
  as in the container ("Hidden file found in the data path").
* Input modes: Pipe and FastFile channels are read from their folder like File mode (the
  container's rule that LIBSVM cannot use Pipe mode is kept); a missing
  S3DistributionType is fine here, the container needs it.
* Not read: ``application/x-recordio-protobuf``, and Parquet when ``pyarrow`` is not
  installed; each fails the job with a clear message.

The CSV and LIBSVM line parsers are shared with serving (:mod:`.serve`), which reads
request payloads and batch files with them.
"""

import io
import math
import os
import warnings

import numpy as np

from .common import AlgorithmError, log, one_paragraph

# --------------------------------------------------------------------------------------
# channels and content types
# --------------------------------------------------------------------------------------

CSV, LIBSVM, PARQUET, RECORDIO = "csv", "libsvm", "parquet", "recordio-protobuf"
_CONTENT_TYPES = {
    "csv": CSV,
    "text/csv": CSV,
    "libsvm": LIBSVM,
    "text/libsvm": LIBSVM,
    "text/x-libsvm": LIBSVM,
    "parquet": PARQUET,
    "application/x-parquet": PARQUET,
    "recordio-protobuf": RECORDIO,
    "application/x-recordio-protobuf": RECORDIO,
}


def split_media_type(value):
    """``("text/csv", {"label_size": "1"})`` from ``"text/csv; label_size=1"``: media type lowercased, parameters."""
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
        return LIBSVM
    media, params = split_media_type(content_type)
    kind = _CONTENT_TYPES.get(media)
    if kind is None:
        accepted = "text/csv, text/libsvm" if purpose != "training" else ", ".join(_CONTENT_TYPES)
        raise AlgorithmError(
            "ContentType '{}' is not supported by SageMaker XGBoost {}; use one of: {}.".format(
                content_type, purpose, accepted
            )
        )
    if kind == CSV and params.get("label_size", "1") != "1":
        raise AlgorithmError(
            "ContentType '{}' is not an accepted csv ContentType: the optional parameter label_size must be "
            "1 for XGBoost.".format(content_type)
        )
    if purpose != "training" and kind not in (CSV, LIBSVM):
        raise AlgorithmError(
            "ContentType '{}' is not supported by local-mode XGBoost inference; use text/csv or text/libsvm.".format(
                content_type
            )
        )
    return kind


_KNOWN_CHANNELS = ("train", "validation", "code")


def validate_channels(data_config):
    """channel -> ``{"kind", "content_type"}`` for train/validation, after the container's channel checks."""
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
        if mode == "Pipe" and kind == LIBSVM:
            raise AlgorithmError(
                "Channel '{}': Pipe mode is not supported for LibSVM data; use File mode or CSV.".format(name)
            )
        channels[name] = {"kind": kind, "content_type": settings.get("ContentType") or "text/libsvm"}
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


def split_records(text):
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


def parse_csv_records(records, where, role, delimiter=None):
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
        """Append the rows of another block (the next file of the channel)."""
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
        """Number of rows."""
        return len(self.labels)


def _libsvm_error(where, line_no, line, why):
    return AlgorithmError(
        "Line {} of {} is not LIBSVM ('<label>[:<weight>] <index>:<value> ...'): {} (line starts '{}'). If the "
        "data is CSV, set the channel's ContentType to 'text/csv' (LIBSVM is the default).".format(
            line_no, where, why, line.strip()[:50]
        )
    )


def parse_libsvm_records(records, where, with_label):
    """The rows of LIBSVM ``records`` (see :func:`split_records`) as a sparse block; errors name file and line."""
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

    def __init__(self, dense=None, sparse=None, label=None, weight=None, group=None):
        self.dense = dense  # features (n, f) for csv / parquet
        self.sparse = sparse
        self.label = label
        self.weight = weight
        self.group = group

    @property
    def width(self):
        """Number of feature columns."""
        return self.sparse.width if self.sparse is not None else int(self.dense.shape[1])


def _load_csv_channel(files, channel, csv_weights):
    blocks = []
    width = None
    first_file = None
    for rel, path in files:
        where = "file '{}' in the '{}' channel".format(rel, channel)
        records = split_records(_read_text(path, where))
        matrix = parse_csv_records(records, where, "training")
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
    return _ChannelData(dense=data[:, first_feature:], label=data[:, 0].copy(), weight=weight)


def _load_libsvm_channel(files, channel):
    total = _Sparse()
    for rel, path in files:
        where = "file '{}' in the '{}' channel".format(rel, channel)
        total.extend(parse_libsvm_records(split_records(_read_text(path, where)), where, with_label=True))
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
                "Failed to load parquet file '{}' in the '{}' channel: {}".format(rel, channel, one_paragraph(exc))
            )
    if not blocks:
        return None
    data = np.vstack(blocks)
    return _ChannelData(dense=data[:, 1:], label=data[:, 0].copy())


def load_channel(ml_root, channel, kind, csv_weights):
    """The parsed files of ``input/data/<channel>`` under ``ml_root``, or None when it has no data."""
    channel_dir = os.path.join(ml_root, "input", "data", channel)
    files = _channel_files(channel_dir, channel)
    log("files path: {}".format(channel_dir))
    if kind == RECORDIO:
        raise AlgorithmError(
            "The '{}' channel is application/x-recordio-protobuf, which local mode does not read; write the data "
            "as text/csv or text/libsvm.".format(channel)
        )
    if not files:
        return None
    if kind == CSV:
        return _load_csv_channel(files, channel, csv_weights)
    if kind == LIBSVM:
        return _load_libsvm_channel(files, channel)
    return _load_parquet_channel(files, channel)


def sparse_features(sparse, width):
    """A scipy CSR matrix of ``width`` columns from parsed LIBSVM rows."""
    from scipy.sparse import csr_matrix

    return csr_matrix(
        (np.asarray(sparse.data, dtype=np.float32), np.asarray(sparse.indices, dtype=np.int64),
         np.asarray(sparse.indptr, dtype=np.int64)),
        shape=(sparse.rows, width),
    )


def to_dmatrix(channel_data, width):
    """An xgboost DMatrix of ``width`` feature columns from a channel's parsed data."""
    import xgboost as xgb

    if channel_data.sparse is not None:
        features = sparse_features(channel_data.sparse, width)
    else:
        features = channel_data.dense
    dmatrix = xgb.DMatrix(features, label=channel_data.label, weight=channel_data.weight)
    if channel_data.group is not None:
        dmatrix.set_group(channel_data.group)
    return dmatrix
