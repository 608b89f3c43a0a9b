"""The expression language of a pipeline definition, evaluated for one execution.

A definition's arguments hold expressions where values are known only at run time: ``Get``
(a parameter, an execution variable, a property of an earlier step, a property file),
``Std:Join`` and ``Std:JsonGet``; condition steps hold comparisons of them.  :class:`Scope` keeps
what an execution knows so far and evaluates them the way SageMaker Pipelines does.
"""

import json
import re
import time

_JSON_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")
_PROPERTY_TOKEN = re.compile(r"\.([A-Za-z0-9_]+)|\['([^']*)'\]|\[\"([^\"]*)\"\]|\[(\d+)\]")


class StepFailed(Exception):
    """A step failed; the first argument becomes the step's FailureReason, the second its Metadata."""


def as_string(value):
    """A value as the definition's string form (booleans as ``true``/``false``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def iso(ts):
    """An epoch time as ISO 8601 in UTC (execution variables' format)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + "Z"


class Scope:
    """What one execution knows: its parameters and variables, and each finished step's properties."""

    def __init__(self, doc, parameters, read_s3):
        self.doc = doc
        self.arn = doc["PipelineExecutionArn"]
        self.exec_id = self.arn.rsplit("/", 1)[-1]
        self.parameters = parameters
        self.read_s3 = read_s3  # s3:// URI -> bytes (FileNotFoundError if missing)
        self.properties = {}  # step name -> the Describe* response of what the step created
        self.property_files = {}  # step name -> {PropertyFileName: spec}

    def evaluate(self, value):
        """``value`` with every expression in it replaced by its value."""
        if isinstance(value, dict):
            if len(value) == 1 and "Get" in value:
                return self.get(value["Get"])
            if len(value) == 1 and "Std:Join" in value:
                spec = value["Std:Join"]
                return str(spec.get("On", "")).join(as_string(self.evaluate(v)) for v in spec.get("Values", []))
            if len(value) == 1 and "Std:JsonGet" in value:
                return self.json_get(value["Std:JsonGet"])
            return {key: self.evaluate(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.evaluate(item) for item in value]
        return value

    def get(self, path):
        """The value of ``{"Get": path}``."""
        if path.startswith("Parameters."):
            name = path[len("Parameters."):]
            if name not in self.parameters:
                raise StepFailed(f"The definition reads parameter '{name}', which the pipeline does not declare.")
            return self.parameters[name]
        if path.startswith("Execution."):
            variables = {
                "PipelineExecutionId": self.exec_id,
                "PipelineExecutionArn": self.arn,
                "PipelineName": self.doc["PipelineArn"].rsplit("/", 1)[-1],
                "PipelineArn": self.doc["PipelineArn"],
                "StartDateTime": iso(self.doc["CreationTime"]),
                "CurrentDateTime": iso(time.time()),
            }
            name = path[len("Execution."):]
            if name not in variables:
                raise StepFailed(f"Unknown execution variable '{path}'.")
            return variables[name]
        if path.startswith("Steps."):
            rest = path[len("Steps."):]
            name = re.split(r"[.\[]", rest, 1)[0]
            tail = rest[len(name):]
            if tail.startswith(".PropertyFiles."):
                files = self.property_files.get(name, {})
                file_name = tail[len(".PropertyFiles."):]
                if file_name not in files:
                    raise StepFailed(f"Step '{name}' has no property file '{file_name}'.")
                return {"__property_file__": (name, files[file_name])}
            if name not in self.properties:
                raise StepFailed(f"The definition reads '{path}', but step '{name}' has not produced properties.")
            return _resolve(self.properties[name], tail, path)
        raise StepFailed(f"Cannot evaluate '{path}': not a parameter, execution variable or step property.")

    def json_get(self, spec):
        """The value of ``Std:JsonGet``: a path into a property file or a JSON object in S3."""
        path = spec.get("Path", "")
        source = spec.get("PropertyFile")
        if source is not None:
            ref = self.evaluate(source) if isinstance(source, dict) else source
            if not (isinstance(ref, dict) and "__property_file__" in ref):
                raise StepFailed(f"JsonGet PropertyFile must reference Steps.<step>.PropertyFiles.<name>, got {source!r}.")
            step_name, pf = ref["__property_file__"]
            outputs = self.properties[step_name].get("ProcessingOutputConfig", {}).get("Outputs", [])
            output = next((o for o in outputs if o.get("OutputName") == pf["OutputName"]), None)
            if output is None:
                raise StepFailed(f"Property file '{pf['PropertyFileName']}' names output '{pf['OutputName']}', "
                                 f"which step '{step_name}' does not have.")
            uri = output["S3Output"]["S3Uri"].rstrip("/") + "/" + pf["FilePath"]
        else:
            uri = self.evaluate(spec.get("S3Uri"))
        try:
            document = json.loads(self.read_s3(uri))
        except FileNotFoundError:
            raise StepFailed(f"JsonGet could not read {uri}: the object does not exist.") from None
        except ValueError as exc:
            raise StepFailed(f"JsonGet could not parse {uri} as JSON: {exc}") from None
        value = document
        for name, index, key1, key2 in _JSON_PATH_TOKEN.findall(path):  # a.b[0]['c'] (a @step's Result['c'])
            token = index or name or key1 or key2
            try:
                value = value[int(token)] if token.isdigit() and isinstance(value, list) else value[token]
            except (KeyError, IndexError, TypeError):
                raise StepFailed(f"JsonGet path '{path}' not found in {uri}.") from None
        return value

    def condition(self, cond):
        """The truth of one condition of a ConditionStep."""
        kind = cond.get("Type")
        if kind == "Not":
            return not self.condition(cond["Expression"])
        if kind == "Or":
            return any(self.condition(c) for c in cond["Conditions"])
        if kind == "In":
            query = self.evaluate(cond["QueryValue"])
            return any(_equal(query, self.evaluate(v)) for v in cond["Values"])
        left, right = self.evaluate(cond.get("LeftValue")), self.evaluate(cond.get("RightValue"))
        if kind == "Equals":
            return _equal(left, right)
        ops = {
            "GreaterThan": lambda a, b: a > b,
            "GreaterThanOrEqualTo": lambda a, b: a >= b,
            "LessThan": lambda a, b: a < b,
            "LessThanOrEqualTo": lambda a, b: a <= b,
        }
        if kind not in ops:
            raise StepFailed(f"Condition type '{kind}' is not supported.")
        try:
            return ops[kind](float(left), float(right))
        except (TypeError, ValueError):
            raise StepFailed(f"Condition {kind} compares {left!r} with {right!r}, which are not numbers.") from None


def _equal(a, b):
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return as_string(a) == as_string(b)


def _resolve(document, tail, path):
    value = document
    for match in _PROPERTY_TOKEN.finditer(tail):
        attr, key1, key2, index = match.groups()
        key = attr or key1 or key2
        try:
            if index is not None:
                value = value[int(index)]
            elif isinstance(value, list):
                value = next(item for item in value if key in (
                    item.get("OutputName"), item.get("ChannelName"), item.get("InputName"),
                    item.get("MetricName"), item.get("Name"), item.get("Key")))
            else:
                value = value[key]
        except (KeyError, IndexError, TypeError, StopIteration):
            raise StepFailed(f"Property '{path}' does not exist on the step's result.") from None
    return value
