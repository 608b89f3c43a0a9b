"""Which SageMaker Python SDK is installed (v2, the lesson's, or v3), and what differs between them.

The kit's builders and sessions exist once per SDK behind the same names; this module is the one place that
decides which one runs, and the one list of the documented differences between the pipeline definitions
the two SDKs build for the same lesson code (:data:`V3_DEFINITION_DIFFERENCES`).
"""

import importlib
import re
from functools import lru_cache

from .config import KIT_KERNEL

#: How the pipeline definition SDK v3 builds differs from SDK v2's for the same pipeline: (path pattern, why).
#: Paths name steps by their name (``Steps.AbaloneTrain.Arguments...``); ``*`` matches one key.  Everything
#: else is the same: step types, arguments, parameters and references between steps.
V3_DEFINITION_DIFFERENCES = (
    ("MlflowConfig", "v3's Pipeline writes MlflowConfig: null (v2 has no such field)"),
    ("Steps.*.Arguments.StoppingCondition.MaxRuntimeInSeconds",
     "ModelTrainer's default training timeout is 3600 s (the Estimator's is 86400 s)"),
    ("Steps.*.Arguments.DebugHookConfig", "ModelTrainer sets no debugger hook (the Estimator's default does)"),
    ("Steps.*.Arguments.ProfilerConfig", "ModelTrainer sets no profiler config (the Estimator's default does)"),
    ("Steps.*.Arguments.OutputDataConfig.CompressionType",
     "ModelTrainer states the model archive's compression (GZIP, the API's default); the Estimator leaves it out"),
    ("Steps.*.Arguments.InputDataConfig.*.InputMode",
     "ModelTrainer states each channel's input mode (File, the job's TrainingInputMode); the Estimator leaves it out"),
    ("Steps.*.Arguments.ProcessingInputs.code.AppManaged",
     "v3's processor leaves AppManaged out of the script's own input (false is the API's default); v2 states it"),
    ("Steps.*.Arguments.*.Containers.*.Environment.SAGEMAKER_PROGRAM",
     "ModelBuilder sets SAGEMAKER_PROGRAM to an empty string (register)"),
    ("Steps.*.Arguments.*.Containers.*.Environment.SAGEMAKER_SUBMIT_DIRECTORY",
     "ModelBuilder sets SAGEMAKER_SUBMIT_DIRECTORY to an empty string (register)"),
    ("Steps.*.Arguments.*.Containers.*.Environment.SAGEMAKER_CONTAINER_LOG_LEVEL",
     "ModelBuilder sets the serving container's log level (20, INFO) (register)"),
    ("Steps.*.Arguments.*.Containers.*.Environment.SAGEMAKER_REGION",
     "ModelBuilder sets the serving container's region (register)"),
    ("Steps.*.Arguments.PrimaryContainer.Environment.SAGEMAKER_PROGRAM",
     "ModelBuilder sets SAGEMAKER_PROGRAM to an empty string (create model)"),
    ("Steps.*.Arguments.PrimaryContainer.Environment.SAGEMAKER_SUBMIT_DIRECTORY",
     "ModelBuilder sets SAGEMAKER_SUBMIT_DIRECTORY to an empty string (create model)"),
    ("Steps.*.Arguments.PrimaryContainer.Environment.SAGEMAKER_CONTAINER_LOG_LEVEL",
     "ModelBuilder sets the serving container's log level (create model)"),
    ("Steps.*.Arguments.PrimaryContainer.Environment.SAGEMAKER_REGION",
     "ModelBuilder sets the serving container's region (create model)"),
)

#: Where each SDK keeps the classes and functions the kit's helpers use by name: ``{name: (v2 module, v3 module)}``.
#: v3's processing inputs/outputs are API shapes (``s3_input.s3_uri`` / ``.local_path``), not v2's helpers
#: (``source`` / ``destination``); :func:`processing_paths` reads either.
CLASSES = {
    "PipelineVariable": ("sagemaker.workflow.entities", "sagemaker.core.helper.pipeline_variable"),
    "Parameter": ("sagemaker.workflow.parameters", "sagemaker.core.workflow.parameters"),
    "PropertyFile": ("sagemaker.workflow.properties", "sagemaker.core.workflow.properties"),
    "Join": ("sagemaker.workflow.functions", "sagemaker.core.workflow.functions"),
    "JsonGet": ("sagemaker.workflow.functions", "sagemaker.core.workflow.functions"),
    "ConditionComparison": ("sagemaker.workflow.conditions", "sagemaker.core.workflow.conditions"),
    "ConditionNot": ("sagemaker.workflow.conditions", "sagemaker.core.workflow.conditions"),
    "ConditionOr": ("sagemaker.workflow.conditions", "sagemaker.core.workflow.conditions"),
    "ProcessingStep": ("sagemaker.workflow.steps", "sagemaker.mlops.workflow.steps"),
    "TransformStep": ("sagemaker.workflow.steps", "sagemaker.mlops.workflow.steps"),
    "FailStep": ("sagemaker.workflow.fail_step", "sagemaker.mlops.workflow.fail_step"),
    "ConditionStep": ("sagemaker.workflow.condition_step", "sagemaker.mlops.workflow.condition_step"),
    "ProcessingInput": ("sagemaker.processing", "sagemaker.core.shapes"),
    "ProcessingOutput": ("sagemaker.processing", "sagemaker.core.shapes"),
    "PipelineSession": ("sagemaker.workflow.pipeline_context", "sagemaker.core.workflow.pipeline_context"),
    "Session": ("sagemaker.session", "sagemaker.core.helper.session_helper"),
    "get_execution_role": ("sagemaker", "sagemaker.core.helper.session_helper"),
}


def sdk_class(name):
    """The installed SDK's class (or function) ``name`` from :data:`CLASSES`, e.g. ``sdk_class("ProcessingStep")``."""
    try:
        v2_module, v3_module = CLASSES[name]
    except KeyError:
        raise KeyError(f"{name!r} is not in lab_helpers.sdk.CLASSES: add where each SDK keeps it.") from None
    return getattr(importlib.import_module(v3_module if is_v3() else v2_module), name)


def processing_paths(item):
    """``(S3 side, container side)`` of a processing input or output, from v2's helper class or v3's API shape.

    An input gives ``(source URI, destination folder)``, an output ``(destination URI, source folder)``.
    """
    if hasattr(item, "s3_input") or hasattr(item, "s3_output"):  # v3: ProcessingInput / ProcessingOutput shapes
        s3 = getattr(item, "s3_input", None) or getattr(item, "s3_output", None)
        uri = getattr(s3, "s3_uri", None)
        return uri, getattr(s3, "local_path", None)
    if hasattr(item, "output_name") and not hasattr(item, "input_name"):
        return item.destination, item.source
    return item.source, item.destination


#: Per SDK major version, the loggers whose routine lines drown a lesson in local mode, and the level each is
#: raised to (LAB_SDK_LOGS=1 keeps them).  v3's are v2's, under v3's module names.
ROUTINE_LOGGERS = {
    2: {
        "sagemaker.config": "WARNING",            # "Not applying SDK defaults from location ..."
        "sagemaker.telemetry": "ERROR",           # says it "will collect telemetry" even when opted out
        "sagemaker.image_uris": "WARNING",        # "Ignoring unnecessary instance type"
        "sagemaker.workflow.utilities": "ERROR",  # "Popping out 'TrainingJobName' ..." for every step
        "sagemaker.workflow._utils": "ERROR",     # "Popping out 'CertifyForMarketplace' ..." (register)
        "sagemaker.estimator": "ERROR",           # "No finished training job found ..." while building steps
    },
    3: {
        "sagemaker.config": "WARNING",
        "sagemaker.core.telemetry.telemetry_logging": "ERROR",  # "will collect telemetry", once per SDK call
        "sagemaker.core.image_uris": "WARNING",   # "Ignoring unnecessary instance type", "Defaulting to ... py3"
        "sagemaker.core.workflow.utilities": "ERROR",  # "Popping out 'TrainingJobName' ..." for every step
        "sagemaker.mlops.workflow.model_step": "ERROR",  # "Popping out 'ModelPackageName' ..." (register)
        "sagemaker.mlops.workflow._utils": "ERROR",
        # ModelTrainer's and ModelBuilder's logger, while building steps: "Training image URI", "StoppingCondition
        # not provided", "Base name not provided", and "Model has been created" (no model is, at build time).
        # ModelBuilder resets its level to DEBUG, so the kit's quieting also filters it (its warnings still show).
        "sagemaker.core.utils.utils": "WARNING",
    },
}


def routine_loggers():
    """``{logger name: level}`` to quiet for the installed SDK (see :data:`ROUTINE_LOGGERS`); none without an SDK."""
    try:
        return ROUTINE_LOGGERS[3 if is_v3() else 2]
    except ImportError:  # an image's environment (a job's fork server) has no SDK, so nothing of it to quiet
        return {}


#: A ModelStep's step in the definition: v2 names it ``<ModelStep name>-RegisterModel`` / ``-CreateModel``
#: (and references it so); v3 names it after the ModelStep itself.  The comparison renames v2's.
V3_MODEL_STEP_SUFFIXES = ("-RegisterModel", "-CreateModel")


def v3_step_name(v2_name):
    """The name SDK v3 gives the step SDK v2 names ``v2_name`` (they differ only for ModelSteps)."""
    for suffix in V3_MODEL_STEP_SUFFIXES:
        if v2_name.endswith(suffix):
            return v2_name[: -len(suffix)]
    return v2_name


#: Fields that name the items of a list in a definition: such lists are compared item by name, not position.
_ITEM_NAMES = ("Name", "InputName", "OutputName", "ChannelName")


def _flatten(value, path, out):
    """``{dotted path: leaf}`` of a definition.  Steps, condition branches included, are keyed ``Steps.<name>``;
    processing inputs/outputs and channels by their names; other lists by position."""
    if isinstance(value, dict):
        if not value:
            out[path] = {}
        for key, item in value.items():
            _flatten(item, f"{path}.{key}" if path else key, out)
        return out
    if not isinstance(value, list):
        out[path] = value
        return out
    if not value:
        out[path] = []
    if all(isinstance(item, dict) and "Name" in item and "Type" in item for item in value):
        out[path] = [item["Name"] for item in value]
        for item in value:
            _flatten(item, f"Steps.{item['Name']}", out)
        return out
    for index, item in enumerate(value):
        key = next((item[field] for field in _ITEM_NAMES if isinstance(item, dict) and field in item), index)
        _flatten(item, f"{path}.{key}", out)
    return out


def _step_names(steps):
    """Every step name in a definition's step list, condition branches included."""
    for step in steps:
        yield step["Name"]
        arguments = step.get("Arguments") or {}
        if step.get("Type") == "Condition":
            yield from _step_names(arguments.get("IfSteps", []) + arguments.get("ElseSteps", []))


def _renamed_v2(definition):
    """SDK v2's definition with its ModelStep step names (and references to them) as v3 writes them."""
    import json

    text = json.dumps(definition)
    for name in set(_step_names(definition.get("Steps", []))):
        renamed = v3_step_name(name)
        if renamed != name:
            text = text.replace(f'"{name}"', f'"{renamed}"').replace(f'"Steps.{name}.', f'"Steps.{renamed}.')
    return json.loads(text)


def _documented_by(pattern, path):
    """True when ``path`` is ``pattern`` (``*``: any one key) or lies under it."""
    regex = r"\.".join("[^.]+" if part == "*" else re.escape(part) for part in pattern.split("."))
    return re.fullmatch(regex + r"(\..+)?", path) is not None


def _documented(path):
    """Why ``path`` differs, when it is (under) one of :data:`V3_DEFINITION_DIFFERENCES`; else None."""
    return next((why for pattern, why in V3_DEFINITION_DIFFERENCES if _documented_by(pattern, path)), None)


def _emptied(path, a, b, left, right):
    """True when one side has an empty object/list at ``path`` and the other side has entries under it."""
    below = path + "."
    return (a in ({}, []) and any(p.startswith(below) for p in right)) or (
        b in ({}, []) and any(p.startswith(below) for p in left))


#: Why an empty object or list on one side, with entries under it on the other, is not a difference of its own
EMPTIED = "an empty object or list on one side, whose entries the other side's rows show"


def definition_differences(v2_definition, v3_definition):
    """Every place two definitions of one pipeline (v2's, v3's; parsed JSON) differ, and why.

    Returns ``[(path, v2 value, v3 value, why)]`` (``None`` for a missing value); ``why`` is the documented reason
    from :data:`V3_DEFINITION_DIFFERENCES`, :data:`EMPTIED`, or ``None`` for a difference nobody documented.
    v2's ModelStep step names are first renamed as v3 writes them (:func:`v3_step_name`).
    """
    left = _flatten(_renamed_v2(v2_definition), "", {})
    right = _flatten(v3_definition, "", {})
    missing = object()
    found = []
    for path in sorted(set(left) | set(right)):
        a, b = left.get(path, missing), right.get(path, missing)
        if a == b:
            continue
        why = _documented(path) or (EMPTIED if _emptied(path, a, b, left, right) else None)
        found.append((path, None if a is missing else a, None if b is missing else b, why))
    return found


def undocumented_differences(v2_definition, v3_definition):
    """Where two definitions of one pipeline (v2's, v3's; parsed JSON) differ beyond :data:`V3_DEFINITION_DIFFERENCES`.

    Returns ``[(path, v2 value, v3 value)]``: empty when the only differences are the documented ones.
    """
    return [(path, a, b) for path, a, b, why in definition_differences(v2_definition, v3_definition) if why is None]


@lru_cache(maxsize=None)
def major():
    """The installed SageMaker Python SDK's major version (2 or 3), read from its package metadata."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return int(version("sagemaker").split(".")[0])
    except PackageNotFoundError:
        raise ImportError(f"The SageMaker Python SDK is not installed in this environment: switch the notebook's kernel "
                          f"to '{KIT_KERNEL}' (`python3 kit.py setup` registers it).") from None


def is_v3():
    """True when SDK v3 (sagemaker-core / sagemaker-mlops) is installed instead of SDK v2."""
    return major() >= 3
