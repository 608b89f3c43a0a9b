"""Checkpoints for the exercises in which learners write the pipeline's steps themselves.

Each checkpoint takes the notebook's namespace (``globals()``), reads the learner's variables
by name, inspects the real SageMaker SDK objects (``step.arguments``, ``property_files``,
``ConditionStep.conditions``, ``JsonGet``, ``Join``...) and prints a line starting with ✓, or
raises :class:`CheckpointFailed` whose message names the mistake and the fix.  A missing
variable, ``None`` or an object of the wrong type gets its own message: a checkpoint never
stops with a bare ``AttributeError`` or ``KeyError`` before saying what is wrong.

    lab_helpers.checkpoints.processing_step(globals())

Every correct form passes: ``step_args=`` or the older keyword arguments, ``JsonGet`` with the
``PropertyFile`` or its name, ``step_name=`` or ``step=``, ``ConditionLessThanOrEqualTo`` or the
mirrored ``ConditionGreaterThan`` with the branches swapped (the condition is judged by what it
does on an MSE below, at and above the threshold, not by its class).  They judge SDK v2's objects and SDK v3's
alike (:func:`lab_helpers.sdk.sdk_class`) and name a mistake in the same words in both; where a fix shows code
that differs between the SDKs (a processing input or output), it is written in the installed SDK's API.
"""

import functools
import re

from .config import LAB_PREFIX

PROCESSING_DIR = "/opt/ml/processing"
SPLITS = ("train", "validation", "test")
NAMES = {"process": "AbaloneProcess", "eval": "AbaloneEval", "transform": "AbaloneTransform",
         "fail": "AbaloneMSEFail", "cond": "AbaloneMSECond"}
MSE_PATH = "regression_metrics.mse.value"
#: the shape of evaluate.py's report (lab_helpers/steps/evaluate.py), with example numbers
SAMPLE_REPORT = {"regression_metrics": {"mse": {"value": 4.2, "standard_deviation": 2.0},
                                        "rmse": {"value": 2.05}, "mae": {"value": 1.5}, "r2": {"value": 0.55}}}


class CheckpointFailed(AssertionError):
    """A checkpoint found a mistake: the message says what is wrong and how to fix it."""


def _fail(mistake, fix):
    raise CheckpointFailed(f"✗ {mistake}\n→ Fix: {fix}")


def checkpoint(what):
    """Decorate a check so that any unexpected error still ends in a message naming ``what`` was inspected."""
    def wrap(check):
        @functools.wraps(check)
        def run(namespace=None):
            if not isinstance(namespace, dict):
                _fail("the checkpoint needs your notebook's variables.", f"call it as {check.__name__}(globals()).")
            try:
                message = check(namespace)
            except CheckpointFailed:
                raise
            except Exception as error:  # the learner's object broke the inspection: say so, do not crash
                raise CheckpointFailed(
                    f"✗ inspecting {what} raised {type(error).__name__}: {error}\n"
                    "→ Fix: compare your cell with the exercise's hint; the object is not what the checkpoint "
                    "expects.") from error
            print(f"✓ {message}")
        return run
    return wrap


def _variable(namespace, name, kinds, hint):
    """The learner's variable ``name``, of one of ``kinds``; a message if it is missing, None or of another type."""
    if name not in namespace:
        _fail(f"there is no variable `{name}` yet.", f"run your exercise cell; it must assign {hint} to `{name}`.")
    value = namespace[name]
    if value is None:
        _fail(f"`{name}` is None.", f"assign {hint} to `{name}` (a function that prints returns None).")
    if not isinstance(value, kinds):
        wanted = " or ".join(k.__name__ for k in (kinds if isinstance(kinds, tuple) else (kinds,)))
        extra = ""
        if "StepArguments" in type(value).__name__:
            extra = (" — it holds the job's arguments, which `.run(...)`/`.transform(...)` returned: pass them to "
                     "the step as step_args=")
        _fail(f"`{name}` is a {type(value).__name__}, not a {wanted}{extra}.", f"assign {hint} to `{name}`.")
    return value


def _name(step, expected, var):
    if step.name != expected:
        _fail(f"`{var}` is named {step.name!r}.",
              f"name it {expected!r}: the other steps, the checks and notebook 07 look for that name.")


def _arguments(step, var):
    """The request the SDK builds for a step (``step.arguments``), or a message saying why it could not."""
    try:
        return step.arguments
    except Exception as error:
        _fail(f"the SDK could not build the request of `{var}`: {type(error).__name__}: {error}",
              "read the error above; it names the argument the SDK refused.")


def _expr(value):
    """A pipeline variable's JSON expression ({"Get": ...}), or None for a plain value."""
    from .sdk import sdk_class

    PipelineVariable = sdk_class("PipelineVariable")

    return value.expr if isinstance(value, PipelineVariable) else None


def _get_path(value):
    expr = _expr(value)
    return expr.get("Get", "") if isinstance(expr, dict) and isinstance(expr.get("Get"), str) else ""


def _is_parameter(value, name):
    from .sdk import sdk_class

    return isinstance(value, sdk_class("Parameter")) and value.name == name


def _describe(value):
    path = _get_path(value)
    if path:
        return path
    return type(value).__name__ if _expr(value) is not None else repr(value)


# --------------------------------------------------------------------------- 01: the S3 upload


@checkpoint("input_uri")
def s3_upload(namespace=None):
    """01: ``input_uri`` is where the pipeline reads the raw data: default bucket, kit prefix, the kit's file."""
    from botocore.exceptions import ClientError

    from . import data
    from .shapes import split_s3_uri

    hint = "the S3 URI that sess.upload_data(...) returns"
    uri = _variable(namespace, "input_uri", str, hint)
    sess = _variable(namespace, "sess", object, "the session (run the Setup cells)")
    if not uri.startswith("s3://"):
        _fail(f"`input_uri` is {uri!r}, not an S3 URI.", f"assign {hint} (it starts with s3://).")
    expected = data.data_uris(sess)["input"]
    bucket, key = split_s3_uri(uri)
    want_bucket, want_key = split_s3_uri(expected)
    if bucket != want_bucket:
        _fail(f"the data went to the bucket {bucket!r}, not to the session's default bucket {want_bucket!r}.",
              "pass bucket=sess.default_bucket() (or leave bucket out): a bucket name typed in works in one "
              "account only, and the pipeline reads from the default bucket.")
    if not key.startswith(f"{LAB_PREFIX}/"):
        _fail(f"the key {key!r} is not under the kit's prefix {LAB_PREFIX + '/'!r}.",
              f'pass key_prefix=f"{{lab_helpers.LAB_PREFIX}}/data": the pipeline reads {expected}, and '
              "notebook 09 deletes what is under the prefix.")
    if key != want_key:
        _fail(f"the data is at {uri}, but the pipeline reads {expected}.",
              f'pass key_prefix=f"{{lab_helpers.LAB_PREFIX}}/data" and upload the file abalone.csv itself.')
    s3 = sess.boto_session.client("s3", region_name=sess.boto_region_name)
    try:
        size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
    except ClientError as error:
        _fail(f"there is no object at {uri} ({error.response['Error'].get('Code')}).",
              "run the upload cell: upload_data uploads the file, then returns its URI.")
    local = data.abalone_csv().stat().st_size
    if size != local:
        _fail(f"the object at {uri} has {size} bytes, the kit's abalone.csv {local}.",
              "upload lab_helpers.data.abalone_csv() (the variable local_csv), unchanged.")
    return f"the raw data is at {uri}, where the pipeline reads it ({size:,} bytes)."


# --------------------------------------------------------------------------- 06: processing


def _processing_parts(step, var):
    """(code, [(source, destination)], {output name: source}) of a ProcessingStep, as the learner wrote them.

    Read from the ``run(...)`` call the step holds (``step_args=``) or from the older keyword arguments;
    unlike ``step.arguments`` this uploads nothing (outside a pipeline the SDK would upload the code
    to a job-named folder that no clean-up knows of).
    """
    import inspect

    from .sdk import processing_paths, sdk_class

    ProcessingInput, ProcessingOutput = sdk_class("ProcessingInput"), sdk_class("ProcessingOutput")

    step_args = getattr(step, "step_args", None)
    if step_args is not None and getattr(step_args, "func", None) is not None:
        try:
            bound = inspect.signature(step_args.func).bind(*step_args.func_args, **step_args.func_kwargs).arguments
        except TypeError as error:
            _fail(f"the run(...) call of `{var}` does not fit the processor: {error}", "compare it with the hint.")
        code, inputs, outputs = bound.get("code"), bound.get("inputs"), bound.get("outputs")
    else:
        code, inputs, outputs = getattr(step, "code", None), step.inputs, step.outputs
    for items, kind, name in ((inputs, ProcessingInput, "inputs"), (outputs, ProcessingOutput, "outputs")):
        if items is not None and (not isinstance(items, (list, tuple)) or not all(isinstance(i, kind) for i in items)):
            _fail(f"the {name} of `{var}` are {items!r}, not a list of {kind.__name__}s.",
                  f"pass {name}=[{kind.__name__}(...), ...].")
    return (code, [(processing_paths(i)[0], _container_path(processing_paths(i)[1])) for i in inputs or []],
            {o.output_name: _container_path(processing_paths(o)[1]) for o in outputs or []})


def _container_path(value):
    """A folder in the container as the learner wrote it, without a trailing slash (a pipeline variable: as is)."""
    return value if _expr(value) is not None else str(value).rstrip("/")


def _processing_input_form(source, destination):
    """How the installed SDK writes a processing input from ``source`` (code) into ``destination``."""
    from .sdk import is_v3

    if is_v3():
        return (f'ProcessingInput(input_name="input", s3_input=ProcessingS3Input(s3_uri={source}, '
                f'local_path="{destination}", s3_data_type="S3Prefix"))')
    return f'ProcessingInput(source={source}, destination="{destination}")'


def _processing_output_form(name, folder):
    """How the installed SDK writes a processing output ``name`` that uploads ``folder``."""
    from .sdk import is_v3

    if is_v3():
        return (f'ProcessingOutput(output_name="{name}", s3_output=ProcessingS3Output(local_path="{folder}", '
                's3_uri=..., s3_upload_mode="EndOfJob"))')
    return f'ProcessingOutput(output_name="{name}", source="{folder}")'


@checkpoint("step_process")
def processing_step(namespace=None):
    """06: ``step_process`` runs preprocess.py on the raw data and declares the outputs train, validation, test."""
    from .sdk import is_v3, sdk_class

    ProcessingStep = sdk_class("ProcessingStep")
    step = _variable(namespace, "step_process", ProcessingStep, "ProcessingStep(name=..., step_args=...)")
    _name(step, NAMES["process"], "step_process")
    code, inputs, outputs = _processing_parts(step, "step_process")
    if not str(code or "").endswith("preprocess.py"):
        _fail(f"the job runs {code or 'no script'}, not preprocess.py.",
              "pass code=preprocess_script (the kit's preprocess.py) to sklearn_processor.run(...).")
    wanted_input = f"{PROCESSING_DIR}/input"
    sources = [source for source, destination in inputs if destination == wanted_input]
    if not sources:
        where = [d if _expr(d) is None else _describe(d) for _, d in inputs] or "nowhere"
        _fail(f"no input is copied to {wanted_input} (the inputs go to {where}).",
              f"{_processing_input_form('input_data', wanted_input)}: preprocess.py reads its CSV from there.")
    source = sources[0]
    if not (_is_parameter(source, "InputData") or source == namespace.get("input_uri")
            or (isinstance(source, str) and source.endswith("/data/abalone.csv"))):
        _fail(f"the input is {_describe(source)}, not the raw data.",
              f"pass {'s3_uri' if is_v3() else 'source'}=input_data (the pipeline parameter InputData, so an "
              "execution can change it).")
    missing = [split for split in SPLITS if split not in outputs]
    if missing:
        _fail(f"step_process has the outputs {sorted(str(o) for o in outputs)}; {', '.join(missing)} "
              f"{'is' if len(missing) == 1 else 'are'} missing.",
              "declare three ProcessingOutputs named train, validation and test: training reads "
              "outputs['train'] and ['validation'], the evaluation reads ['test'].")
    for split in SPLITS:
        folder = outputs[split]
        if _expr(folder) is not None:
            _fail(f"the output {split!r} has an S3 location ({_describe(folder)}) on the container's side: "
                  f"preprocess.py writes the {split} split to the folder {PROCESSING_DIR}/{split}.",
                  f"swap the two sides: {_processing_output_form(split, f'{PROCESSING_DIR}/{split}')}.")
        if folder != f"{PROCESSING_DIR}/{split}":
            _fail(f"the output {split!r} uploads the folder {folder!r}, but preprocess.py writes the {split} "
                  f"split to {PROCESSING_DIR}/{split}.",
                  f"{_processing_output_form(split, f'{PROCESSING_DIR}/{split}')}.")
    return f"{step.name} runs preprocess.py and declares the outputs {', '.join(SPLITS)}."


# --------------------------------------------------------------------------- 06: evaluation report


@checkpoint("evaluation_report and step_eval")
def property_file(namespace=None):
    """06: ``evaluation_report`` names evaluation.json in step_eval's output, and step_eval declares it."""
    from .sdk import sdk_class

    PropertyFile, ProcessingStep = sdk_class("PropertyFile"), sdk_class("ProcessingStep")

    report = _variable(namespace, "evaluation_report", PropertyFile,
                       'PropertyFile(name="EvaluationReport", output_name=..., path=...)')
    step = _variable(namespace, "step_eval", ProcessingStep, "ProcessingStep(..., property_files=[...])")
    _name(step, NAMES["eval"], "step_eval")
    outputs = [name for name in _processing_parts(step, "step_eval")[2] if name]
    if report.output_name not in outputs:
        _fail(f"the PropertyFile's output_name is {report.output_name!r}, which is not an output of step_eval "
              f"(its outputs: {outputs}).",
              f'output_name="{outputs[0] if outputs else "evaluation"}": the name of the ProcessingOutput whose '
              "folder holds the report.")
    path = str(report.path)
    if path.startswith("/") or path.startswith("s3://"):
        _fail(f"the PropertyFile's path is {path!r}: it is read relative to the output's folder in S3.",
              'path="evaluation.json".')
    if path.lstrip("./") != "evaluation.json":
        _fail(f"the PropertyFile's path is {path!r}, but evaluate.py writes evaluation.json.",
              'path="evaluation.json".')
    declared = list(step.property_files or [])
    if not declared:
        _fail("step_eval declares no property files, so no later step can read the report.",
              "pass property_files=[evaluation_report] to ProcessingStep(...).")
    if not any(p is report or getattr(p, "name", None) == report.name for p in declared):
        _fail(f"step_eval declares {[getattr(p, 'name', p) for p in declared]}, not evaluation_report "
              f"({report.name!r}).", "pass property_files=[evaluation_report].")
    return f"{step.name} declares the PropertyFile {report.name!r}: {report.output_name}/{path}."


# --------------------------------------------------------------------------- 06: batch transform


@checkpoint("step_transform")
def transform_step(namespace=None):
    """06: ``step_transform`` batch-scores the BatchData input with the model step_create_model created."""
    from .sdk import sdk_class

    TransformStep = sdk_class("TransformStep")

    step = _variable(namespace, "step_transform", TransformStep, "TransformStep(name=..., step_args=...)")
    _name(step, NAMES["transform"], "step_transform")
    arguments = _arguments(step, "step_transform")
    model_name = arguments.get("ModelName")
    fix_model = "Transformer(model_name=step_create_model.properties.ModelName, ...)"
    path = _get_path(model_name)
    if "ModelArtifacts" in path or (isinstance(model_name, str) and model_name.startswith("s3://")):
        _fail(f"the transformer's model_name is {_describe(model_name)}: the model artifact (model.tar.gz in S3), "
              "not a model.", f"a transform job runs a SageMaker model, by name: {fix_model}.")
    if not (path.startswith("Steps.AbaloneCreateModel") and path.endswith(".ModelName")):
        _fail(f"the transformer's model_name is {_describe(model_name)}.",
              f"use the name of the model the execution creates: {fix_model}.")
    transform_input = arguments.get("TransformInput", {})
    source = transform_input.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri")
    if "ProcessingOutputConfig" in _get_path(source) or _is_parameter(source, "InputData"):
        _fail(f"the transform reads {_describe(source)}: a file with the rings in it, which the model does not "
              "expect.", "transformer.transform(data=batch_data, ...): the BatchData parameter, features only.")
    if not (_is_parameter(source, "BatchData") or (isinstance(source, str) and source.endswith("abalone-batch.csv"))):
        _fail(f"the transform reads {_describe(source)}.", "transformer.transform(data=batch_data, ...).")
    content_type = transform_input.get("ContentType")
    if content_type != "text/csv":
        _fail(f"the transform's content_type is {content_type!r}.",
              'pass content_type="text/csv" (and split_type="Line": one record per line) to transform(...).')
    return f"{step.name} scores BatchData with the model {path.split('.')[1]} creates."


# --------------------------------------------------------------------------- 06: JsonGet, FailStep, ConditionStep


def _json_path(path):
    """Follow a JsonGet path (``a.b[0].c``, optional leading ``$.``) through the sample report."""
    node, walked = SAMPLE_REPORT, []
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", re.sub(r"^\$\.?", "", path)):
        if not isinstance(node, dict) or part not in node:
            keys = sorted(node) if isinstance(node, dict) else []
            where = ".".join(walked) or "the top"
            _fail(f"JsonGet's json_path {path!r}: the report has no {part!r} at {where} (there: {keys}).",
                  f'json_path="{MSE_PATH}".')
        node = node[part]
        walked.append(part)
    return node


def _check_json_get(value, namespace, where):
    """A message unless ``value`` is a JsonGet reading the MSE from step_eval's property file."""
    from .sdk import sdk_class

    if not isinstance(value, sdk_class("JsonGet")):
        _fail(f"{where} is {_describe(value)}, not a JsonGet.",
              f'JsonGet(step_name=step_eval.name, property_file=evaluation_report, json_path="{MSE_PATH}").')
    step_name = value.step.name if getattr(value, "step", None) is not None else value.step_name
    if step_name != NAMES["eval"]:
        _fail(f"JsonGet reads from the step {step_name!r}; the report is written by {NAMES['eval']}.",
              "step_name=step_eval.name.")
    report = namespace.get("evaluation_report")
    wanted = getattr(report, "name", "EvaluationReport")
    used = getattr(value.property_file, "name", value.property_file)
    if used != wanted:
        _fail(f"JsonGet reads the property file {used!r}; step_eval declares {wanted!r}.",
              "property_file=evaluation_report (or its name).")
    found = _json_path(str(value.json_path))
    if isinstance(found, dict):
        _fail(f"JsonGet's json_path {value.json_path!r} ends at an object ({sorted(found)}), not a number.",
              f'json_path="{value.json_path}.value".')
    if found != SAMPLE_REPORT["regression_metrics"]["mse"]["value"]:
        _fail(f"JsonGet's json_path {value.json_path!r} reads another metric, not the MSE.", f'json_path="{MSE_PATH}".')


@checkpoint("step_fail")
def fail_step(namespace=None):
    """06: ``step_fail`` is a FailStep whose message is a Join of text, the MSE (JsonGet) and the threshold."""
    from .sdk import sdk_class

    FailStep, Join, JsonGet = sdk_class("FailStep"), sdk_class("Join"), sdk_class("JsonGet")

    step = _variable(namespace, "step_fail", FailStep, "FailStep(name=..., error_message=Join(...))")
    _name(step, NAMES["fail"], "step_fail")
    message, fix = step.error_message, 'error_message=Join(on=" ", values=["...", mse, "...", mse_threshold])'
    if isinstance(message, str):
        if re.search(r"JsonGet|Parameter\w*\(|<sagemaker\.|Join\(|'Get'|default_value", message):
            _fail("error_message is a plain string: the f-string was filled in now, when you defined the step, "
                  "with a description of the objects, not with the MSE of the execution.",
                  f"{fix}: SageMaker fills a Join in when the step runs.")
        _fail("error_message is fixed text: it does not say what the MSE was.", fix)
    if not isinstance(message, Join):
        _fail(f"error_message is a {type(message).__name__}, not a Join.", fix)
    values = list(message.values or [])
    readers = [v for v in values if isinstance(v, JsonGet)]
    if not readers:
        _fail("the Join has no JsonGet: the message would not contain the MSE.", f"put mse (a JsonGet) in it: {fix}.")
    for reader in readers:
        _check_json_get(reader, namespace, "the MSE in the Join")
    if not any(_is_parameter(v, "MseThreshold") for v in values):
        _fail("the Join does not contain the threshold.", f"put the parameter mse_threshold in it: {fix}.")
    return f"{step.name}'s message is a Join with the MSE and MseThreshold, filled in when the step runs."


_COMPARE = {"Equals": lambda a, b: a == b, "GreaterThan": lambda a, b: a > b,
            "GreaterThanOrEqualTo": lambda a, b: a >= b, "LessThan": lambda a, b: a < b,
            "LessThanOrEqualTo": lambda a, b: a <= b}


def _holds(condition, namespace, mse, threshold):
    """Whether ``condition`` holds when the report's MSE is ``mse`` and MseThreshold is ``threshold``."""
    from .sdk import sdk_class

    ConditionComparison, ConditionNot, ConditionOr, JsonGet = (
        sdk_class(name) for name in ("ConditionComparison", "ConditionNot", "ConditionOr", "JsonGet"))

    def operand(value):
        if isinstance(value, JsonGet):
            _check_json_get(value, namespace, "one side of the condition")
            return mse
        if _is_parameter(value, "MseThreshold"):
            return threshold
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            _fail(f"the condition compares with the number {value}, not with the parameter mse_threshold.",
                  "use mse_threshold: section 5 changes the threshold per execution with MseThreshold.")
        _fail(f"the condition compares {_describe(value)}.",
              "compare mse (the JsonGet) with mse_threshold, e.g. "
              "ConditionLessThanOrEqualTo(left=mse, right=mse_threshold).")

    if isinstance(condition, ConditionNot):
        return not _holds(condition.expression, namespace, mse, threshold)
    if isinstance(condition, ConditionOr):
        return any(_holds(c, namespace, mse, threshold) for c in condition.conditions or [])
    if isinstance(condition, ConditionComparison):
        kind = condition.condition_type.value
        return _COMPARE[kind](operand(condition.left), operand(condition.right))
    _fail(f"the condition is a {type(condition).__name__}.",
          "compare the MSE with the threshold: ConditionLessThanOrEqualTo(left=mse, right=mse_threshold).")


def _names(steps):
    return [getattr(s, "name", repr(s)) for s in steps or []]


@checkpoint("step_cond")
def condition_step(namespace=None):
    """06: ``step_cond`` sends an MSE at or below MseThreshold to register/create/transform, above it to step_fail."""
    from .sdk import sdk_class

    ConditionStep = sdk_class("ConditionStep")

    step = _variable(namespace, "step_cond", ConditionStep, "ConditionStep(name=..., conditions=[...], ...)")
    _name(step, NAMES["cond"], "step_cond")
    good = sorted(_names([namespace.get(n) for n in ("step_register", "step_create_model", "step_transform")
                          if namespace.get(n) is not None]))
    if_names, else_names = _names(step.if_steps), _names(step.else_steps)
    branches = {"if_steps": if_names, "else_steps": else_names}
    fail_branch = [b for b, names in branches.items() if names == [NAMES["fail"]]]
    if not fail_branch:
        _fail(f"if_steps={if_names}, else_steps={else_names}: step_fail must be alone in one branch.",
              "if_steps=[step_register, step_create_model, step_transform], else_steps=[step_fail].")
    other = "else_steps" if fail_branch[0] == "if_steps" else "if_steps"
    if sorted(branches[other]) != good:
        _fail(f"{other}={branches[other]}; that branch must hold {good}.",
              f"{other}=[step_register, step_create_model, step_transform].")
    if not step.conditions:
        _fail("step_cond has no conditions.", "conditions=[ConditionLessThanOrEqualTo(left=mse, right=mse_threshold)].")
    for mse, threshold, expected in ((3.0, 6.0, other), (6.0, 6.0, other), (7.0, 6.0, fail_branch[0])):
        holds = all(_holds(c, namespace, mse, threshold) for c in step.conditions)
        taken = "if_steps" if holds else "else_steps"
        if taken != expected:
            verdict = "fails a good model" if expected == other else "registers a model that is too poor"
            case = "equal to" if mse == threshold else ("below" if mse < threshold else "above")
            _fail(f"with an MSE {case} the threshold ({mse} vs {threshold}) your condition runs {taken} "
                  f"({', '.join(branches[taken])}): it "
                  f"{verdict}.",
                  "a model passes when MSE <= MseThreshold: ConditionLessThanOrEqualTo(left=mse, right=mse_threshold) "
                  "with the good steps in if_steps (or swap the branches of the opposite comparison).")
    return f"{step.name}: MSE <= MseThreshold runs {', '.join(branches[other])}; above it, {NAMES['fail']}."
