"""Which AWS container images the kit's local runtime can stand in for, and how.

Local mode never pulls an image.  It recognises the image URI the SDK put in the request
(``image_uris.retrieve(...)`` gives the same URI offline as in Studio) and runs the job as
a host process that honours that image's contract.  What runs inside the job process:

==================  ==========================================================================
``xgboost/``        the built-in XGBoost algorithm: training and batch-transform serving
``script_mode``     script-mode training on the framework images (the training toolkit's contract)
``serving``         script-mode batch transform: model_fn/input_fn/predict_fn/output_fn, each
                    image's defaults (the inference toolkit's contract)
``imagepackages/``  stand-ins for packages of an image that scripts import
                    (``sagemaker_xgboost_container.encoder``)
``remote_function`` SageMaker's base Python image as the SDK's remote-function runner
                    (``@step`` / ``@remote`` functions)
==================  ==========================================================================

:func:`run_mode` says which a job gets: the remote-function runner on the base Python image, script
mode when it names an entry point, else the image's built-in algorithm (the scikit-learn image has none).
"""

import re
from pathlib import Path

from ..errors import validation

_ECR = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repo>[^:@]+)(?::(?P<tag>[^@]+))?(?:@(?P<digest>.+))?$"
)

#: repository -> versions (tag prefixes) the runtime supports, and what it runs them as
SUPPORTED = {
    "sagemaker-xgboost": {
        "versions": ("1.0-1", "1.2-1", "1.2-2", "1.3-1", "1.5-1", "1.7-1"),
        "training": "the built-in XGBoost algorithm (train/validation channels, text/csv or text/libsvm), or your "
                    "entry_point script (script mode)",
        "processing": "Python scripts on the image's libraries (ScriptProcessor, command=['python3'])",
        "inference": "XGBoost serving for batch transform (text/csv in, one prediction per line out), or your "
                     "inference script's model_fn/input_fn/predict_fn/output_fn (script mode)",
        "algorithm": True,
    },
    "sagemaker-scikit-learn": {
        "versions": ("0.23-1", "1.0-1", "1.2-1"),
        "training": "your entry_point script (script mode: SKLearn estimator)",
        "processing": "Python scripts on the image's libraries (SKLearnProcessor)",
        "inference": "your inference script's model_fn/input_fn/predict_fn/output_fn for batch transform "
                     "(script mode: SKLearnModel, Model(entry_point=...))",
        "algorithm": False,
    },
}
#: SageMaker's base Python image (the SDK's default image of @step and @remote functions)
for _py in ("310", "38"):
    SUPPORTED["sagemaker-base-python-" + _py] = {
        "versions": ("1.0",),
        "training": "a @step or @remote function: the SDK's remote-function runner (job_driver.sh), on the kit's "
                    "Python",
        "algorithm": False,
        "runner": "remote-function",
    }

#: stand-ins for the image's own Python packages, put on a script-mode job's sys.path
IMAGE_PACKAGES = {"sagemaker-xgboost": str(Path(__file__).resolve().parent / "imagepackages")}


class UnsupportedImage(ValueError):
    """The local runtime cannot stand in for this image (for this purpose)."""


def describe_supported():
    """One line listing every image local mode runs, its versions and uses."""
    lines = []
    for repo, spec in SUPPORTED.items():
        uses = ", ".join(k for k in ("training", "processing", "inference") if k in spec)
        lines.append(f"{repo}:{{{', '.join(spec['versions'])}}} ({uses})")
    return "; ".join(lines)


def resolve(image_uri, purpose):
    """Return (repository, version) for an image the runtime can run for ``purpose``.

    ``purpose`` is "training", "processing" or "inference".  Anything else raises
    :class:`UnsupportedImage` with a message naming the image and listing what is supported.
    """
    match = _ECR.match(image_uri or "")
    repo = match.group("repo") if match else None
    tag = (match.group("tag") or "") if match else ""
    spec = SUPPORTED.get(repo)
    version = None
    if spec:
        version = next((v for v in spec["versions"] if tag == v or tag.startswith(v + "-")), None)
    if not spec or not version or purpose not in spec:
        raise UnsupportedImage(
            f"The kit's local mode cannot run image '{image_uri}' for {purpose}: it has no stand-in for it. "
            f"Local mode supports: {describe_supported()}. "
            "Use one of those (image_uris.retrieve('xgboost', region, '1.7-1') or an SKLearnProcessor "
            "with framework_version '1.2-1'), or run this step in remote mode."
        )
    return repo, version


def repo_version(image_uri):
    """(repository, version) of a supported image URI whatever the purpose, else None."""
    for purpose in ("processing", "training", "inference"):
        try:
            return resolve(image_uri, purpose)
        except UnsupportedImage:
            continue
    return None


def check(image_uri, purpose):
    """AWS's ValidationException unless local mode can run ``image_uri`` for ``purpose``."""
    try:
        resolve(image_uri, purpose)
    except UnsupportedImage as exc:
        raise validation(str(exc)) from None


def run_mode(repo, purpose, program):
    """The image's own runner, else "script" when the job names an entry point, else "algorithm" if it has one.

    An image with a runner ("remote-function": the base Python image) always runs that.  ``purpose`` is "training" or "inference"; an image without a built-in algorithm (scikit-learn)
    and no entry point raises :class:`UnsupportedImage` saying what to give.
    """
    if SUPPORTED[repo].get("runner"):
        return SUPPORTED[repo]["runner"]
    if program:
        return "script"
    if SUPPORTED[repo].get("algorithm"):
        return "algorithm"
    what = ("an entry_point (SKLearn(entry_point='train.py', ...))" if purpose == "training" else
            "an inference script (SKLearnModel(entry_point='inference.py', ...), which sets SAGEMAKER_PROGRAM)")
    raise UnsupportedImage(f"The {repo} image has no built-in algorithm: its {purpose} runs your script, so give "
                           f"it {what}.")


#: step types whose job runs an AWS-owned image the kit has no stand-in for
_IMAGE_STEP_TYPES = {"ClarifyCheck": "the SageMaker Clarify image", "QualityCheck": "the Model Monitor image"}


def _value(value, parameters):
    """A definition's string, or a pipeline parameter's value (``{"Get": "Parameters.X"}``); None if unknown."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("Get"), str) and value["Get"].startswith("Parameters."):
        found = parameters.get(value["Get"][len("Parameters."):])
        return found if isinstance(found, str) else None
    return None


def _step_images(step):
    """(image value, purpose) pairs a step's job or model would run."""
    args = step.get("Arguments") or {}
    kind = step.get("Type")
    if kind == "Processing":
        return [((args.get("AppSpecification") or {}).get("ImageUri"), "processing")]
    if kind == "Training":
        return [((args.get("AlgorithmSpecification") or {}).get("TrainingImage"), "training")]
    if kind == "Model":
        containers = [args.get("PrimaryContainer")] + list(args.get("Containers") or [])
        return [(c.get("Image"), "inference") for c in containers if isinstance(c, dict)]
    if kind == "RegisterModel":
        spec = args.get("InferenceSpecification") or {}
        return [(c.get("Image"), "inference") for c in spec.get("Containers") or [] if isinstance(c, dict)]
    return []


def _all_steps(steps):
    for step in steps or []:
        if not isinstance(step, dict):
            continue
        yield step
        args = step.get("Arguments") or {}
        if step.get("Type") == "Condition":
            yield from _all_steps(args.get("IfSteps"))
            yield from _all_steps(args.get("ElseSteps"))


def offline_warnings(definition, values=None):
    """One line per step of a pipeline definition whose image local mode cannot run (the step will fail).

    ``definition`` is the parsed PipelineDefinition; ``values`` the execution's parameter values
    ({name: value}), over the parameters' defaults.  Image URIs given by other expressions are not judged.
    """
    parameters = {p.get("Name"): p.get("DefaultValue") for p in definition.get("Parameters") or [] if isinstance(p, dict)}
    parameters.update(values or {})
    lines = []
    for step in _all_steps(definition.get("Steps")):
        name, kind = step.get("Name"), step.get("Type")
        if kind in _IMAGE_STEP_TYPES:
            lines.append(f"Warning: step '{name}' ({kind}) needs {_IMAGE_STEP_TYPES[kind]}, which the kit's local mode "
                         "cannot run offline: the step will fail. Run this pipeline in remote mode.")
            continue
        for raw, purpose in _step_images(step):
            image = _value(raw, parameters)
            if image is None:
                continue
            try:
                resolve(image, purpose)
            except UnsupportedImage:
                lines.append(f"Warning: step '{name}' ({kind}) uses image '{image}', which the kit's local mode cannot "
                             f"run for {purpose}: the step will fail. Local mode runs: {describe_supported()}.")
    return lines
