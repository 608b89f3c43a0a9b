"""Script-mode serving: what the sagemaker-inference-toolkit does with an inference script, for batch transform.

A model whose container environment names ``SAGEMAKER_PROGRAM`` (the SDK's ``Model(entry_point=...)``,
``SKLearnModel``, ``XGBoostModel``) is served by the learner's inference script on the scikit-learn
or XGBoost framework image.  As the open-source ``aws/sagemaker-inference-toolkit`` does
(``transformer.py``, ``default_inference_handler.py``, ``decoder.py``, ``encoder.py``), with each
image's defaults (``aws/sagemaker-scikit-learn-container`` and ``aws/sagemaker-xgboost-container``,
``handler_service.py``/``serving.py``):

* the code is ``SAGEMAKER_SUBMIT_DIRECTORY`` (the runtime has unpacked an ``s3://.../sourcedir.tar.gz``
  into ``/opt/ml/code``), or ``/opt/ml/model/code`` (``model.tar.gz``'s ``code/``, where the SDK's
  repack step puts it); its ``requirements.txt`` is installed first; the module is
  ``SAGEMAKER_PROGRAM`` (default ``inference.py``);
* ``model_fn(model_dir)`` loads the model once; each request goes through ``transform_fn(model, body,
  content_type, accept)`` if the script has one, else ``input_fn`` -> ``predict_fn`` -> ``output_fn``,
  each the script's own or the image's default.  A function may take one more argument (the
  request context; the kit passes None).  ``transform_fn`` with any of the other three is an error;
* a body of a UTF-8 type (``text/csv``, ``application/json``) reaches ``input_fn`` as ``str``,
  others as ``bytes``; a missing or ``*/*`` Accept is ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``,
  default ``application/json``;
* the defaults: no ``model_fn`` (the script must have one, as in both images).  scikit-learn:
  ``input_fn`` decodes ``text/csv``, ``application/json``, ``application/x-npy`` to a numpy array
  (a 1-D array becomes one row; CSV/JSON as float32), ``predict_fn`` is ``model.predict(data)``,
  ``output_fn`` encodes to the Accept type (JSON: ``json.dumps`` of the list; CSV: one row per line,
  ``%s`` formatting; NPY).  XGBoost: ``input_fn`` makes an ``xgboost.DMatrix`` from ``text/csv`` or
  ``text/libsvm`` (not JSON), ``predict_fn`` is ``model.predict(data, validate_features=False)``,
  ``output_fn`` encodes as above.

Batch transform, as the runtime runs it: the input object is split into records (``SplitType``
``Line``: its non-blank lines; ``None``: the whole object) and the records go to the script in
requests (``BatchStrategy`` ``MultiRecord``, the default as in the SDK's local mode: as many lines as
fit in ``MaxPayloadInMB``, default 6, joined by newlines; ``SingleRecord``: one each).  The
answers are written in order to ``<input>.out``; with ``AssembleWith`` ``Line`` each answer ends
with a newline.  Where the kit differs: no model server runs (the functions are called in the job's
process, one request at a time); a request has no trailing newline (so the XGBoost image's CSV
decoder, which fails on one, is spared it); an answer that is neither bytes nor str is sent as
JSON.  In an XGBoost image job, ``sagemaker_xgboost_container.encoder`` (``csv_to_dmatrix``,
``libsvm_to_dmatrix``, ``decode``), which inference scripts import, is a stand-in of the kit.

Compatible with Python 3.9 (the images' Python): it runs inside jobs.
"""

import importlib
import inspect
import io
import json
import os
import sys
import traceback

from . import script_mode

CSV, JSON, NPY, NPZ, LIBSVM, ANY = ("text/csv", "application/json", "application/x-npy", "application/x-npz",
                                    "text/libsvm", "*/*")
UTF8_TYPES = (JSON, CSV)
DEFAULT_MODULE = "inference.py"


class UnsupportedFormatError(Exception):
    """A content type the decoder or encoder does not handle (the model server's 415 answer)."""

    def __init__(self, content_type):
        super().__init__("Content type {} is not supported by this framework. Please implement input_fn to "
                         "deserialize the request data or an output_fn to serialize the response.".format(content_type))


# --------------------------------------------------------------------------------------
# decoders and encoders (the inference toolkit's, for numpy arrays)
# --------------------------------------------------------------------------------------


def decode(data, content_type):
    """A numpy array from a request body of ``content_type`` (text/csv, application/json, application/x-npy, x-npz)."""
    import numpy as np

    if content_type == CSV:
        return np.genfromtxt(io.StringIO(_as_text(data)), delimiter=",")
    if content_type == JSON:
        return np.array(json.loads(_as_text(data)))
    if content_type == NPY:
        return np.load(io.BytesIO(_as_bytes(data)), allow_pickle=False)
    if content_type == NPZ:
        import scipy.sparse

        return scipy.sparse.load_npz(io.BytesIO(_as_bytes(data)))
    raise UnsupportedFormatError(content_type)


def _tolist(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError("Object of type {} is not JSON serializable".format(type(value).__name__))


def encode(array_like, accept):
    """``array_like`` as ``accept`` (application/json, text/csv or application/x-npy)."""
    import numpy as np

    if accept == JSON:
        return json.dumps(array_like, default=_tolist)
    if accept == CSV:
        stream = io.StringIO()
        np.savetxt(stream, array_like, delimiter=",", fmt="%s")
        return stream.getvalue()
    if accept == NPY:
        buffer = io.BytesIO()
        np.save(buffer, array_like)
        return buffer.getvalue()
    raise UnsupportedFormatError(accept)


def _as_text(data):
    return data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else str(data)


def _as_bytes(data):
    return bytes(data) if isinstance(data, (bytes, bytearray)) else str(data).encode("utf-8")


# --------------------------------------------------------------------------------------
# each image's defaults
# --------------------------------------------------------------------------------------


def _no_model_fn(model_dir):
    raise NotImplementedError("Please provide a model_fn implementation. See documentation for model_fn at "
                              "https://sagemaker.readthedocs.io/en/stable/")


def _sklearn_input_fn(input_data, content_type):
    import numpy as np

    array = decode(input_data, content_type)
    if len(array.shape) == 1:
        array = array.reshape(1, -1)
    return array.astype(np.float32) if content_type in UTF8_TYPES else array


def _sklearn_predict_fn(input_data, model):
    return model.predict(input_data)


def _output_fn(prediction, accept):
    return encode(prediction, accept), accept


def csv_to_dmatrix(input_data, dtype=None):
    """An xgboost DMatrix from CSV text (no header, no label column); empty fields are missing values."""
    import xgboost as xgb

    from .xgboost.data import parse_csv_records, split_records

    records = split_records(_as_text(input_data))
    matrix = parse_csv_records(records, "the request", "inference")
    return xgb.DMatrix(matrix.astype(dtype) if dtype is not None else matrix)


def libsvm_to_dmatrix(input_data):
    """An xgboost DMatrix from LIBSVM text (``[label] index:value ...`` per line)."""
    import xgboost as xgb

    from .xgboost.data import parse_libsvm_records, sparse_features, split_records

    sparse = parse_libsvm_records(split_records(_as_text(input_data)), "the request", with_label=False)
    return xgb.DMatrix(sparse_features(sparse, sparse.width))


def xgboost_decode(data, content_type):
    """The XGBoost image's default input decoding: a DMatrix from text/csv or text/libsvm."""
    media = str(content_type).split(";", 1)[0].strip().lower()
    if media == CSV:
        return csv_to_dmatrix(data)
    if media in (LIBSVM, "text/x-libsvm"):
        return libsvm_to_dmatrix(data)
    raise UnsupportedFormatError(media)


def _xgboost_predict_fn(input_data, model):
    return model.predict(input_data, validate_features=False)


#: repository -> (default model_fn, input_fn, predict_fn, output_fn)
DEFAULTS = {
    "sagemaker-scikit-learn": (_no_model_fn, _sklearn_input_fn, _sklearn_predict_fn, _output_fn),
    "sagemaker-xgboost": (_no_model_fn, xgboost_decode, _xgboost_predict_fn, _output_fn),
}


# --------------------------------------------------------------------------------------
# the handler: the script's functions, else the image's defaults
# --------------------------------------------------------------------------------------


def _call(fn, *args):
    """Call a handler function with ``args``, or with ``args`` and the request context (None)."""
    count = len(inspect.signature(fn).parameters)
    if count == len(args):
        return fn(*args)
    if count == len(args) + 1:
        return fn(*args, None)
    raise TypeError("{} takes {} arguments but {} were given.".format(getattr(fn, "__name__", fn), count, len(args)))


class Handler(object):
    """The inference functions of one script (or the image's defaults), with the model they loaded."""

    def __init__(self, module, defaults):
        model_fn, input_fn, predict_fn, output_fn = defaults
        get = (lambda name: getattr(module, name, None)) if module is not None else (lambda name: None)
        self.transform_fn = get("transform_fn")
        if self.transform_fn and (get("input_fn") or get("predict_fn") or get("output_fn")):
            raise ValueError("Cannot use transform_fn implementation in conjunction with input_fn, predict_fn, "
                             "and/or output_fn implementation")
        self.model_fn = get("model_fn") or model_fn
        self.input_fn = get("input_fn") or input_fn
        self.predict_fn = get("predict_fn") or predict_fn
        self.output_fn = get("output_fn") or output_fn
        self.model = None

    def load(self, model_dir):
        """Load the model with model_fn."""
        self.model = _call(self.model_fn, model_dir)
        return self.model

    def transform(self, body, content_type, accept):
        """One request: its answer as bytes."""
        if content_type in UTF8_TYPES and isinstance(body, (bytes, bytearray)):
            body = body.decode("utf-8")
        if self.transform_fn is not None:
            result = _call(self.transform_fn, self.model, body, content_type, accept)
        else:
            data = _call(self.input_fn, body, content_type)
            prediction = _call(self.predict_fn, data, self.model)
            result = _call(self.output_fn, prediction, accept)
        if isinstance(result, tuple):
            result = result[0]
        if isinstance(result, (bytes, bytearray)):
            return bytes(result)
        if isinstance(result, str):
            return result.encode("utf-8")
        return json.dumps(result, default=_tolist).encode("utf-8")


def import_user_module(program, code_dir):
    """Import the inference script ``program`` (e.g. ``inference.py``) from ``code_dir``."""
    name = program[:-3] if program.endswith(".py") else program
    if not os.path.isfile(os.path.join(code_dir, name + ".py")) and not os.path.isdir(os.path.join(code_dir, name)):
        try:
            listing = ", ".join(sorted(os.listdir(code_dir))) or "nothing"
        except OSError:
            listing = "it does not exist"
        raise script_mode.ScriptModeError(
            "ClientError: the model's inference script {} (SAGEMAKER_PROGRAM) is not in its code folder {} "
            "(SAGEMAKER_SUBMIT_DIRECTORY), which holds: {}.".format(program, code_dir, listing))
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)
    return importlib.import_module(name)


# --------------------------------------------------------------------------------------
# batch transform
# --------------------------------------------------------------------------------------


def records_of(data, split_type):
    """The records of an input object: its non-blank lines (``Line``), or all of it (``None``)."""
    if split_type == "Line":
        return [line.rstrip(b"\r") for line in data.split(b"\n") if line.strip()]
    return [data] if data else []


def requests_of(records, strategy, max_payload_mb):
    """Request bodies: records joined by newlines up to the payload limit (MultiRecord), or one each."""
    limit = int(float(max_payload_mb) * 1024 * 1024) if max_payload_mb else 0
    for record in records:
        if limit and len(record) > limit:
            raise script_mode.ScriptModeError(
                "ClientError: a record of {} bytes is larger than MaxPayloadInMB ({} MB).".format(
                    len(record), max_payload_mb))
    if strategy == "SingleRecord":
        return list(records)
    batches, current = [], []
    size = 0
    for record in records:
        if current and limit and size + 1 + len(record) > limit:
            batches.append(b"\n".join(current))
            current, size = [], 0
        size += len(record) + (1 if current else 0)
        current.append(record)
    if current:
        batches.append(b"\n".join(current))
    return batches


def transform_file(handler, source, target, options):
    """Send one input object through the handler, writing the answers to ``target``; returns (requests, records)."""
    with open(source, "rb") as handle:
        records = records_of(handle.read(), options["split_type"])
    bodies = requests_of(records, options["batch_strategy"], options["max_payload_mb"])
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as out:
        for body in bodies:
            answer = handler.transform(body, options["content_type"], options["accept"])
            out.write(answer)
            if options["assemble_with"] == "Line" and not answer.endswith(b"\n"):
                out.write(b"\n")
    return len(bodies), len(records)


def run_transform(spec):
    """A batch transform job with the model's inference script; returns 0 (ScriptModeError on failure)."""
    image, code_dir = spec["image"], spec["code_dir"]
    program = spec.get("program") or DEFAULT_MODULE
    accept = spec.get("accept")
    if not accept or accept == ANY:
        accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", JSON)
    options = {"content_type": spec.get("content_type"), "accept": accept, "split_type": spec.get("split_type"),
               "batch_strategy": spec.get("batch_strategy"), "max_payload_mb": spec.get("max_payload_mb"),
               "assemble_with": spec.get("assemble_with")}
    print("Serving the model with {} from {} (script mode, {} {})".format(program, code_dir, image,
                                                                         spec.get("version")), flush=True)
    packages = script_mode.prepare_process(spec["host"], code_dir)
    try:
        script_mode.install_requirements(code_dir, spec["host"]["code"], packages)
        module = import_user_module(program, code_dir)
        handler = Handler(module, DEFAULTS[image])
        handler.load(spec["model_dir"])
        total_requests = total_records = 0
        for source, target in spec["files"]:
            requests, records = transform_file(handler, source, target, options)
            print("transformed {} -> {}: {} record(s) in {} request(s)".format(source, target, records, requests),
                  flush=True)
            total_requests += requests
            total_records += records
    except script_mode.ScriptModeError:
        raise
    except Exception as exc:  # noqa: BLE001 - the inference code's error: the log has the traceback
        traceback.print_exc()
        sys.stderr.flush()
        summary = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        raise script_mode.ScriptModeError(
            "ClientError: the model's inference code failed in {}: {} (see the job's log for the traceback)".format(
                program, summary))
    print("batch transform complete: {} file(s), {} record(s), {} request(s)".format(
        len(spec["files"]), total_records, total_requests), flush=True)
    return 0
