"""Serving as the container does it: load the model, negotiate content types, predict, batch transform.

:func:`load_model`, :func:`predict` (one InvokeEndpoint request) and :func:`transform_file`
(batch transform of one file, SplitType Line):

* The model: ``xgboost-model`` as any image version writes it -- a pickled Booster (1.0-1 ..
  1.2-2) or a ``Booster.save_model`` file (1.3-1 and later) -- so a model trained with one
  version serves with any other, as with the real images.
* Input ``text/csv`` (no header, no label column, one record per line) or ``text/libsvm``.
* ``predict``, Accept ``text/csv``: one prediction per line (multi:softprob: the class
  probabilities of a record, comma-separated, per line).  Accept ``application/json``:
  ``{"predictions": [{"score": 0.73}, ...]}``.
* ``transform_file`` writes what the container answers in batch mode (``SAGEMAKER_BATCH``):
  ``str(prediction)`` per line whatever the Accept type, so multi:softprob gives lines like
  ``[0.1, 0.2, 0.7]``, exactly like a real batch transform.

Where this differs from the real container, and why:

* Only a file that starts like a pickle (protocol 2 or later) is unpickled, and then
  before xgboost's loader is tried; the container unpickles any file first.
* Blank lines in a request or batch file are skipped (the container fails on them), so
  the number of output lines is the number of non-blank input lines.
* Not emulated: the ``application/x-recordio-protobuf`` input format, selectable inference
  output (``SAGEMAKER_INFERENCE_OUTPUT``), ensembles of several model files.
"""

import json
import os
import pickle
import tarfile

from .common import MODEL_FILENAME, AlgorithmError, clean_xgb_error, one_paragraph, quote_list
from .data import (CSV, parse_content_type, parse_csv_records, parse_libsvm_records, sparse_features, split_media_type,
                   split_records)

#: Records per xgboost call in transform_file; keeps memory bounded for big files.
TRANSFORM_CHUNK_RECORDS = 50000


def load_model(model_dir):
    """The Booster in ``model_dir`` (``xgboost-model``, as the runtime untars model.tar.gz there).

    Whatever image version trained it: the file may be a pickled Booster (what 1.0-1 .. 1.2-2
    write) or a ``Booster.save_model`` file (1.3-1 and later), and like the container's
    ``get_loaded_booster`` this tries one format, then the other.  Like the container,
    another single non-hidden file is also tried; a ``model.tar.gz`` left unextracted is
    read directly.
    """
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
    booster = _load_booster(raw if raw is not None else path)
    booster.set_param("nthread", 1)
    return booster


def _model_bytes_from_tar(tar_path):
    with tarfile.open(tar_path, "r:*") as archive:
        members = [m for m in archive.getmembers() if m.isfile() and not os.path.basename(m.name).startswith(".")]
        chosen = [m for m in members if os.path.basename(m.name) == MODEL_FILENAME] or members[:1]
        if not chosen:
            raise AlgorithmError("Unable to load model: model.tar.gz holds no model file.")
        return archive.extractfile(chosen[0]).read()


#: The PROTO opcode every pickle of protocol 2 or later starts with.
_PICKLE_START = b"\x80"


def _load_booster(source):
    """A Booster from a model file (path, or its bytes): pickled, or written by ``Booster.save_model``.

    The container (serve_utils.get_loaded_booster) tries ``pickle.load`` first and then
    ``Booster.load_model``.  Here pickle is only tried on bytes that start like a pickle
    (``\x80``), and then first; anything else goes straight to xgboost's loader.
    """
    import xgboost as xgb

    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        with open(source, "rb") as handle:
            data = handle.read()
    pickle_error = None
    if data[:1] == _PICKLE_START:
        try:
            return _unpickle_booster(data)
        except Exception as exc:  # noqa: BLE001 - any failure: try xgboost's own format
            pickle_error = exc
    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(data) if isinstance(source, (bytes, bytearray)) else source)
        return booster
    except Exception as xgb_error:  # noqa: BLE001
        if pickle_error is None:
            raise AlgorithmError(
                "Unable to load model: the model file is neither an xgboost model file (as Booster.save_model "
                "writes it, which SageMaker XGBoost 1.3-1 and later do; xgboost says: {}) nor a pickled Booster "
                "(as 1.0-1 .. 1.2-2 write it).".format(clean_xgb_error(xgb_error))
            )
        raise AlgorithmError(
            "Unable to load model: the model file starts like a pickle but does not unpickle to an xgboost "
            "Booster ({}: {}), and xgboost cannot read it either ({}).".format(
                type(pickle_error).__name__, one_paragraph(pickle_error), clean_xgb_error(xgb_error)
            )
        )


def _unpickle_booster(data):
    """The Booster in pickled ``data``: a Booster, or a scikit-learn style model holding one."""
    import xgboost as xgb

    model = pickle.loads(data)  # the 1.0-1 .. 1.2-2 images' xgboost-model; script-mode models too
    if isinstance(model, xgb.Booster):
        return model
    if hasattr(model, "get_booster"):
        return model.get_booster()
    raise TypeError("the pickle holds a {}, not an xgboost Booster".format(type(model).__name__))


_REALTIME_ACCEPTS = ("text/csv", "application/json")
_BATCH_ACCEPTS = ("text/csv", "application/json", "application/jsonlines", "application/x-recordio-protobuf")


def _parse_accept(accept, allowed):
    media, _ = split_media_type(accept or "")
    if not media or media == "*/*":
        return os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "text/csv")
    if media not in allowed:
        raise AlgorithmError(
            "Accept type '{}' is not supported. Please use supported accept types: {}.".format(
                accept, quote_list(allowed)
            )
        )
    return media


def _records_to_dmatrix(booster, records, kind, where):
    import xgboost as xgb

    n_features = _num_features(booster)
    if kind == CSV:
        matrix = parse_csv_records(records, where, "inference")
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
    sparse = parse_libsvm_records(records, where, with_label=False)
    if sparse.width > n_features:
        raise AlgorithmError(
            "Unable to evaluate payload provided: {} uses feature index {} but the model was trained on {} "
            "features (indices 0..{}).".format(where, sparse.width - 1, n_features, n_features - 1)
        )
    return xgb.DMatrix(sparse_features(sparse, n_features))


def _num_features(booster):
    """The model's feature count (``Booster.num_features`` from xgboost 1.4; its config or names before)."""
    if hasattr(booster, "num_features"):
        return booster.num_features()
    try:
        return int(json.loads(booster.save_config())["learner"]["learner_model_param"]["num_feature"])
    except (ValueError, KeyError, TypeError):
        return len(booster.feature_names or [])


def _predict_array(booster, dmatrix):
    """booster.predict, limited to the best round when the model kept extra rounds (1.0-1..1.2-2)."""
    kwargs = {}
    best = booster.attr("best_iteration")
    if best is not None:
        try:
            booster_name = json.loads(booster.save_config())["learner"]["gradient_booster"]["name"]
        except (ValueError, KeyError):
            booster_name = "gbtree"
        if booster_name != "gblinear" and not hasattr(booster, "num_boosted_rounds"):  # xgboost before 1.4
            kwargs["ntree_limit"] = int(best) + 1
        elif booster_name != "gblinear" and booster.num_boosted_rounds() > int(best) + 1:
            kwargs["iteration_range"] = (0, int(best) + 1)
    try:
        return booster.predict(dmatrix, validate_features=False, **kwargs)
    except Exception as exc:  # noqa: BLE001
        raise AlgorithmError("Unable to evaluate payload provided: {}".format(clean_xgb_error(exc)))


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
    return split_records(text)


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
