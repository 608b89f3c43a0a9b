"""Requests and pipeline definitions checked the way SageMaker checks them, before anything runs.

Two kinds of checks, both answering AWS's ``ValidationException``:

* :func:`check_request` - a request against the operation's input shape in AWS's service model
  (the one botocore ships): required members, lengths, value ranges, enums and the regular
  expression patterns botocore itself does not check (names, ARNs).  The message uses AWS's
  wording: ``1 validation error detected: Value 'x' at 'pipelineName' failed to satisfy
  constraint: Member must satisfy regular expression pattern: ...``.  The API checks every
  request with it; the engine checks the job requests a pipeline's steps make, which no
  client-side validation has seen.
* :func:`check_definition` - a pipeline definition as ``CreatePipeline``/``UpdatePipeline``
  refuse one: steps and parameters with valid, unique names, known step types, ``DependsOn``
  naming existing steps, no dependency cycle, parameter types and defaults that agree.  AWS does
  not document the wording of these messages; the kit's name the step and the problem.
"""

import functools
import json
import re

from ...shapes import data_references, walk_steps
from ..errors import validation
from .policies import parse_duration

#: Step types SageMaker Pipelines knows (the definition schema's step types).
KNOWN_STEP_TYPES = ("Training", "Processing", "Transform", "Model", "RegisterModel", "Condition", "Fail",
                    "Tuning", "Lambda", "Callback", "QualityCheck", "ClarifyCheck", "EMR", "AutoML",
                    "EMRServerless", "Notebook")
_STEP_NAME = re.compile(r"[A-Za-z0-9\-_]{1,64}")
_PARAMETER_TYPES = {"String": str, "Integer": int, "Float": (int, float), "Boolean": bool}
_MAX_PATTERN_INPUT = 2048  # longer strings (definitions, scripts) are not matched against a pattern


@functools.lru_cache(maxsize=1)
def _service_model():
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker")


def preload():
    """Load the service model now (the fork server calls this, so a runner forked from it has it loaded)."""
    _service_model()


@functools.lru_cache(maxsize=256)
def _regex(pattern):
    try:
        return re.compile(pattern)
    except re.error:  # a Java-only construct: leave that member to AWS
        return None


def _label(path):
    """AWS's member path: ``PipelineParameters.1.Name`` -> ``pipelineParameters.1.member.name``."""
    out = []
    for part in path:
        if isinstance(part, int):
            out.append(f"{part + 1}.member")
        else:
            out.append(part[:1].lower() + part[1:])
    return ".".join(out)


def _walk(shape, value, path, problems):
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if not isinstance(value, dict):
            problems.append((path, value, "Member must be a structure"))
            return
        for name in shape.required_members:
            if value.get(name) is None:
                problems.append((path + [name], None, "Member must not be null"))
        for name, item in value.items():
            if name in shape.members and item is not None:
                _walk(shape.members[name], item, path + [name], problems)
    elif kind == "list":
        if not isinstance(value, list):
            problems.append((path, value, "Member must be a list"))
            return
        _length(meta, len(value), value, path, problems)
        for index, item in enumerate(value):
            _walk(shape.member, item, path + [index], problems)
    elif kind == "map":
        if not isinstance(value, dict):
            problems.append((path, value, "Member must be a map"))
            return
        _length(meta, len(value), value, path, problems)
        for key, item in value.items():
            _walk(shape.value, item, path + [key], problems)
    elif kind == "string":
        if not isinstance(value, str):
            problems.append((path, value, "Member must be a string"))
            return
        _length(meta, len(value), value, path, problems)
        if shape.enum and value not in shape.enum:
            problems.append((path, value, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]"))
        pattern = meta.get("pattern")
        regex = _regex(pattern) if pattern and len(value) <= _MAX_PATTERN_INPUT else None
        if regex is not None and not regex.fullmatch(value):
            problems.append((path, value, f"Member must satisfy regular expression pattern: {pattern}"))
    elif kind in ("integer", "long", "float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append((path, value, f"Member must be a number"))
            return
        if "min" in meta and value < meta["min"]:
            problems.append((path, value, f"Member must have value greater than or equal to {meta['min']}"))
        if "max" in meta and value > meta["max"]:
            problems.append((path, value, f"Member must have value less than or equal to {meta['max']}"))
    elif kind == "boolean" and not isinstance(value, bool):
        problems.append((path, value, "Member must be a boolean"))


def _length(meta, length, value, path, problems):
    if "min" in meta and length < meta["min"]:
        problems.append((path, value, f"Member must have length greater than or equal to {meta['min']}"))
    if "max" in meta and length > meta["max"]:
        problems.append((path, value, f"Member must have length less than or equal to {meta['max']}"))


def request_problems(operation, params):
    """The constraint violations of ``params`` for SageMaker ``operation``: ``[(path, value, constraint)]``."""
    shape = _service_model().operation_model(operation).input_shape
    problems = []
    if shape is not None:
        _walk(shape, params, [], problems)
    return problems


def check_request(operation, params):
    """ValidationException in AWS's wording if ``params`` break the constraints of ``operation``'s input."""
    problems = request_problems(operation, params)
    if not problems:
        return
    parts = []
    for path, value, constraint in problems:
        shown = value if not isinstance(value, (dict, list)) else json.dumps(value)[:200]
        parts.append(f"Value '{'null' if value is None else shown}' at '{_label(path)}' failed to satisfy "
                     f"constraint: {constraint}")
    count = len(parts)
    raise validation(f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(parts))


# -- pipeline definitions -----------------------------------------------------------------------
def check_definition(definition):
    """ValidationException naming the first problem SageMaker would refuse the definition for."""
    if not isinstance(definition, dict):
        raise validation("PipelineDefinition must be a JSON object with a 'Steps' list.")
    steps = definition.get("Steps")
    if not isinstance(steps, list):
        raise validation(f"PipelineDefinition 'Steps' must be a list of steps, not {json.dumps(steps)[:80]}.")
    _check_parameters(definition.get("Parameters", []))
    _check_steps(steps)
    every = list(walk_steps(steps))
    names = [s["Name"] for s in every]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise validation(f"Step names must be unique within a pipeline; these appear more than once: "
                         f"{', '.join(duplicates)}.")
    known = set(names)
    for step in every:
        depends = step.get("DependsOn", [])
        if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
            raise validation(f"Step '{step['Name']}': DependsOn must be a list of step names.")
        unknown = [d for d in depends if d not in known and not any(n.startswith(d + "-") for n in known)]
        if unknown:
            raise validation(f"Step '{step['Name']}' depends on {', '.join(repr(u) for u in unknown)}, which "
                             "is not a step of this pipeline.")
    cycle = _find_cycle(every, known)
    if cycle:
        raise validation("The pipeline's steps depend on each other in a cycle: " + " -> ".join(cycle) + ".")


def _check_parameters(parameters):
    if not isinstance(parameters, list):
        raise validation("PipelineDefinition 'Parameters' must be a list.")
    seen = set()
    for spec in parameters:
        name = spec.get("Name") if isinstance(spec, dict) else None
        if not isinstance(name, str) or not _STEP_NAME.fullmatch(name):
            raise validation(f"Pipeline parameter name {name!r} must match ^[A-Za-z0-9\\-_]{{1,64}}$.")
        if name in seen:
            raise validation(f"Pipeline parameter '{name}' is declared more than once.")
        seen.add(name)
        kind = spec.get("Type", "String")
        if kind not in _PARAMETER_TYPES:
            raise validation(f"Pipeline parameter '{name}' has type {kind!r}; the types are "
                             f"{', '.join(_PARAMETER_TYPES)}.")
        default = spec.get("DefaultValue")
        wanted = _PARAMETER_TYPES[kind]
        if default is not None and (not isinstance(default, wanted) or (kind != "Boolean" and isinstance(default, bool))):
            raise validation(f"Pipeline parameter '{name}' of type {kind} has the default value "
                             f"{json.dumps(default)}, which is not a {kind}.")


def _check_steps(steps):
    for step in steps:
        if not isinstance(step, dict):
            raise validation(f"Each step must be a JSON object; got {json.dumps(step)[:80]}.")
        name = step.get("Name")
        if not isinstance(name, str) or not _STEP_NAME.fullmatch(name):
            raise validation(f"Step name {json.dumps(name)} must match ^[A-Za-z0-9\\-_]{{1,64}}$"
                             + ("" if name is not None else " (the step has no Name)") + ".")
        kind = step.get("Type")
        if kind not in KNOWN_STEP_TYPES:
            raise validation(f"Step '{name}' has type {json.dumps(kind)}, which is not a SageMaker Pipelines "
                             f"step type ({', '.join(KNOWN_STEP_TYPES)}).")
        if not isinstance(step.get("Arguments", {}), dict):
            raise validation(f"Step '{name}': Arguments must be a JSON object.")
        expire = (step.get("CacheConfig") or {}).get("ExpireAfter")
        if expire is not None:
            try:
                parse_duration(expire)
            except ValueError as exc:
                raise validation(f"Step '{name}': CacheConfig {exc}") from None
        if kind == "Condition":
            for branch in ("IfSteps", "ElseSteps"):
                children = step.get("Arguments", {}).get(branch, [])
                if not isinstance(children, list):
                    raise validation(f"Step '{name}': {branch} must be a list of steps.")
                _check_steps(children)


def _find_cycle(steps, known):
    """A dependency cycle as a list of names (first name repeated at the end), or None."""
    def expand(target):
        return [target] if target in known else [n for n in known if n.startswith(target + "-")]

    edges = {s["Name"]: set() for s in steps}
    for step in steps:
        args = step.get("Arguments") or {}
        for source in data_references(step) + list(step.get("DependsOn", [])):
            for name in expand(source):
                edges[step["Name"]].add(name)  # step needs `name` first
        if step.get("Type") == "Condition":
            for branch in ("IfSteps", "ElseSteps"):
                for child in args.get(branch, []):
                    edges[child["Name"]].add(step["Name"])
    state, trail = {}, []

    def visit(name):
        state[name] = "open"
        trail.append(name)
        for needed in sorted(edges.get(name, ())):
            if state.get(needed) == "open":
                return trail[trail.index(needed):] + [needed]
            if needed not in state:
                found = visit(needed)
                if found:
                    return found
        state[name] = "done"
        trail.pop()
        return None

    for name in sorted(edges):
        if name not in state:
            found = visit(name)
            if found:
                return found
    return None
