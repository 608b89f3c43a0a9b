"""The local pipeline engine: runs a pipeline *definition* the way SageMaker Pipelines does.

``pipeline.upsert()`` sends the pipeline's JSON definition to the (emulated) SageMaker API;
``pipeline.start()`` asks it to run.  This module is what runs it: it resolves parameters,
evaluates the definition's expressions (``Get``, ``Std:Join``, ``Std:JsonGet``), orders the
steps by their data dependencies and ``DependsOn``, and turns each step's ``Arguments`` -
which *are* AWS API requests (``CreateTrainingJob``, ``CreateProcessingJob``, ``CreateModel``,
``CreateModelPackage``, ``CreateTransformJob``) - into calls on the local control plane.

Differences from AWS: steps run one at a time, in definition order among those that are
ready (AWS may run independent steps in parallel); the whole execution runs inside the
``StartPipelineExecution`` call of the process that started it.  If that process dies, the
execution is reported as Failed (never "Executing" forever) - see :meth:`Engine.reap`.
"""

import json
import os
import re
import socket
import time

from .runtime import JobStopped
from .sagemaker_api import ApiError, new_id, validation

try:  # POSIX advisory locks tell whether the process running an execution is still alive
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

SUPPORTED_STEP_TYPES = ("Processing", "Training", "Transform", "Model", "RegisterModel", "Condition", "Fail")
_PROPERTY_TOKEN = re.compile(r"\.([A-Za-z0-9_]+)|\['([^']*)'\]|\[\"([^\"]*)\"\]|\[(\d+)\]")


class StepFailed(Exception):
    """A step failed; the message becomes the step's FailureReason."""


class ExecutionStopped(Exception):
    """StopPipelineExecution was called for the execution that is running."""


def _walk_steps(steps):
    """Every step of a definition, nested condition branches included, in definition order."""
    for step in steps:
        yield step
        if step.get("Type") == "Condition":
            args = step.get("Arguments", {})
            yield from _walk_steps(args.get("IfSteps", []))
            yield from _walk_steps(args.get("ElseSteps", []))


def _references(value, found=None):
    """Names of the steps a JSON expression reads properties from."""
    found = set() if found is None else found
    if isinstance(value, dict):
        get = value.get("Get")
        if isinstance(get, str) and get.startswith("Steps."):
            found.add(re.split(r"[.\[]", get[len("Steps."):], 1)[0])
        for item in value.values():
            _references(item, found)
    elif isinstance(value, list):
        for item in value:
            _references(item, found)
    return found


def _coerce_parameter(spec, raw):
    kind = spec.get("Type", "String")
    name = spec["Name"]
    try:
        if kind == "Integer":
            return int(str(raw))
        if kind == "Float":
            return float(str(raw))
        if kind == "Boolean":
            text = str(raw).lower()
            if text not in ("true", "false"):
                raise ValueError(raw)
            return text == "true"
        return str(raw)
    except ValueError:
        raise validation(f"Parameter '{name}' of type {kind} cannot take the value '{raw}'.") from None


def _as_string(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Execution:
    """One run of a pipeline definition."""

    def __init__(self, engine, doc, definition, parameters):
        self.engine = engine
        self.api = engine.api
        self.store = engine.store
        self.doc = doc
        self.arn = doc["PipelineExecutionArn"]
        self.exec_id = self.arn.rsplit("/", 1)[-1]
        self.definition = definition
        self.parameters = parameters
        self.properties = {}  # step name -> the Describe* response of what the step created
        self.property_files = {}  # step name -> {PropertyFileName: spec}
        self.status = {}  # step name -> StepStatus
        self.order = 0

    # -- expressions ----------------------------------------------------------------------
    def evaluate(self, value):
        if isinstance(value, dict):
            if len(value) == 1 and "Get" in value:
                return self.get(value["Get"])
            if len(value) == 1 and "Std:Join" in value:
                spec = value["Std:Join"]
                return str(spec.get("On", "")).join(_as_string(self.evaluate(v)) for v in spec.get("Values", []))
            if len(value) == 1 and "Std:JsonGet" in value:
                return self.json_get(value["Std:JsonGet"])
            return {key: self.evaluate(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.evaluate(item) for item in value]
        return value

    def get(self, path):
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
                "StartDateTime": _iso(self.doc["CreationTime"]),
                "CurrentDateTime": _iso(time.time()),
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
            document = json.loads(self.engine.cloud.s3.read_uri(uri))
        except FileNotFoundError:
            raise StepFailed(f"JsonGet could not read {uri}: the object does not exist.") from None
        except ValueError as exc:
            raise StepFailed(f"JsonGet could not parse {uri} as JSON: {exc}") from None
        value = document
        for token in filter(None, re.split(r"\.|\[(\d+)\]", path)):
            try:
                value = value[int(token)] if token.isdigit() and isinstance(value, list) else value[token]
            except (KeyError, IndexError, TypeError):
                raise StepFailed(f"JsonGet path '{path}' not found in {uri}.") from None
        return value

    # -- conditions -----------------------------------------------------------------------
    def condition(self, cond):
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

    # -- steps ----------------------------------------------------------------------------
    def record_step(self, step, status, **fields):
        name = step["Name"]
        key = f"{self.arn}#{name}"
        existing = self.store.get("step", key) or {
            "StepName": name,
            "StepDisplayName": step.get("DisplayName", name),
            "StepDescription": step.get("Description"),
            "AttemptCount": 1,
            "Metadata": {},
            "Order": self.order,
        }
        existing.update(fields)
        existing["StepStatus"] = status
        existing = {k: v for k, v in existing.items() if v is not None}
        self.store.put("step", key, key, existing, parent=self.arn)
        self.status[name] = status

    def job_name(self, step_name):
        clean = re.sub(r"[^a-zA-Z0-9-]", "", step_name)
        return f"pipelines-{self.exec_id}-{clean}"[:52].rstrip("-") + "-" + new_id(10)

    def job_started(self, step, kind, arn_prefix, job_name):
        """Show the job in the step's metadata while it runs (as AWS does), so a reaper can find it."""
        arn = self.api.arn(f"{arn_prefix}/{job_name.lower()}")
        self.record_step(step, "Executing", Metadata={kind: {"Arn": arn}})

    def run_step(self, step):
        kind = step.get("Type")
        name = step["Name"]
        if kind not in SUPPORTED_STEP_TYPES:
            raise StepFailed(
                f"Step '{name}' is of type {kind}, which the kit's local mode does not run. "
                f"It runs: {', '.join(SUPPORTED_STEP_TYPES)}. Run this pipeline in remote mode."
            )
        args = step.get("Arguments", {})
        if kind == "Condition":
            outcome = all(self.condition(c) for c in args.get("Conditions", []))
            self.properties[name] = {"Outcome": outcome}
            return {"Condition": {"Outcome": "True" if outcome else "False"}}, outcome
        if kind == "Fail":
            message = _as_string(self.evaluate(args.get("ErrorMessage", "")))
            raise _FailStep(message)
        request = self.evaluate(args)
        api = self.api
        if kind == "Training":
            request["TrainingJobName"] = self.job_name(name)
            self.job_started(step, "TrainingJob", "training-job", request["TrainingJobName"])
            api.op_CreateTrainingJob(request)
            described = api.op_DescribeTrainingJob({"TrainingJobName": request["TrainingJobName"]})
            self.properties[name] = described
            meta = {"TrainingJob": {"Arn": described["TrainingJobArn"]}}
            if described["TrainingJobStatus"] != "Completed":
                raise StepFailed(described.get("FailureReason", "Training job failed"), meta)
            return meta, None
        if kind == "Processing":
            request["ProcessingJobName"] = self.job_name(name)
            self.job_started(step, "ProcessingJob", "processing-job", request["ProcessingJobName"])
            api.op_CreateProcessingJob(request)
            described = api.op_DescribeProcessingJob({"ProcessingJobName": request["ProcessingJobName"]})
            self.properties[name] = described
            self.property_files[name] = {pf["PropertyFileName"]: pf for pf in step.get("PropertyFiles", [])}
            meta = {"ProcessingJob": {"Arn": described["ProcessingJobArn"]}}
            if described["ProcessingJobStatus"] != "Completed":
                raise StepFailed(described.get("FailureReason", "Processing job failed"), meta)
            return meta, None
        if kind == "Transform":
            request["TransformJobName"] = self.job_name(name)
            self.job_started(step, "TransformJob", "transform-job", request["TransformJobName"])
            api.op_CreateTransformJob(request)
            described = api.op_DescribeTransformJob({"TransformJobName": request["TransformJobName"]})
            self.properties[name] = described
            meta = {"TransformJob": {"Arn": described["TransformJobArn"]}}
            if described["TransformJobStatus"] != "Completed":
                raise StepFailed(described.get("FailureReason", "Transform job failed"), meta)
            return meta, None
        if kind == "Model":
            request["ModelName"] = self.job_name(name)
            api.op_CreateModel(request)
            described = api.op_DescribeModel({"ModelName": request["ModelName"]})
            self.properties[name] = described
            return {"Model": {"Arn": described["ModelArn"]}}, None
        if kind == "RegisterModel":
            request.pop("ModelPackageName", None)
            package = api.create_model_package(request, create_group=True)
            self.properties[name] = api.op_DescribeModelPackage({"ModelPackageName": package["ModelPackageArn"]})
            return {"RegisterModel": {"Arn": package["ModelPackageArn"]}}, None
        raise StepFailed(f"Step type {kind} is not handled.")  # pragma: no cover

    def run(self):
        steps = list(_walk_steps(self.definition.get("Steps", [])))
        by_name = {s["Name"]: s for s in steps}
        deps = {}
        for step in steps:
            args = step.get("Arguments", {})
            refs = _references(args.get("Conditions", []) if step.get("Type") == "Condition" else args)
            deps[step["Name"]] = (refs | set(step.get("DependsOn", []))) & set(by_name)
        branch_owner = {}
        for step in steps:
            if step.get("Type") == "Condition":
                args = step.get("Arguments", {})
                for branch in ("IfSteps", "ElseSteps"):
                    for child in args.get(branch, []):
                        branch_owner[child["Name"]] = (step["Name"], branch == "IfSteps")
        active = [s for s in self.definition.get("Steps", [])]
        failed = False
        while True:
            self.engine.check_stop(self.arn)
            ready = [s for s in active if s["Name"] not in self.status
                     and all(self.status.get(d) == "Succeeded" for d in deps[s["Name"]])]
            if not ready or failed:
                break
            step = ready[0]
            self.order += 1
            started = time.time()
            self.record_step(step, "Executing", StartTime=started)
            try:
                meta, outcome = self.run_step(step)
            except _FailStep as fail:
                self.record_step(step, "Failed", EndTime=time.time(), FailureReason=str(fail),
                                 Metadata={"Fail": {"ErrorMessage": str(fail)}})
                failed = True
                continue
            except (StepFailed, ApiError) as exc:
                meta = exc.args[1] if isinstance(exc, StepFailed) and len(exc.args) > 1 else {}
                reason = exc.message if isinstance(exc, ApiError) else str(exc.args[0])
                self.record_step(step, "Failed", EndTime=time.time(), FailureReason=reason, Metadata=meta)
                failed = True
                continue
            self.record_step(step, "Succeeded", EndTime=time.time(), Metadata=meta)
            if step.get("Type") == "Condition":
                chosen = "IfSteps" if outcome else "ElseSteps"
                active.extend(step["Arguments"].get(chosen, []))
        return "Failed" if failed else "Succeeded"


class _FailStep(Exception):
    pass


def _equal(a, b):
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return _as_string(a) == _as_string(b)


def _iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + "Z"


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


#: step metadata key -> (store kind, status field, end-time field) of the job a step runs
_JOB_RECORDS = {
    "TrainingJob": ("training_job", "TrainingJobStatus", "TrainingEndTime"),
    "ProcessingJob": ("processing_job", "ProcessingJobStatus", "ProcessingEndTime"),
    "TransformJob": ("transform_job", "TransformJobStatus", "TransformEndTime"),
}


class Engine:
    """Starts executions, and reports the fate of executions whose process died."""

    def __init__(self, cloud):
        self.cloud = cloud
        self.api = cloud.sagemaker
        self.store = cloud.store
        self.lock_dir = cloud.home / "locks"

    def _lock_path(self, arn):
        return self.lock_dir / (arn.rsplit("/", 1)[-1] + ".lock")

    def start(self, pipeline, params):
        definition = json.loads(pipeline["PipelineDefinition"])
        declared = {spec["Name"]: spec for spec in definition.get("Parameters", [])}
        given = {}
        for item in params.get("PipelineParameters", []):
            if item["Name"] not in declared:
                raise validation(
                    f"Pipeline parameter '{item['Name']}' is not defined in pipeline "
                    f"{pipeline['PipelineName']}. Its parameters are: {', '.join(declared) or 'none'}."
                )
            given[item["Name"]] = item["Value"]
        values = {}
        for name, spec in declared.items():
            if name in given:
                values[name] = _coerce_parameter(spec, given[name])
            elif "DefaultValue" in spec:
                values[name] = _coerce_parameter(spec, spec["DefaultValue"])
            else:
                raise validation(f"Pipeline parameter '{name}' has no default value and was not given.")
            allowed = spec.get("EnumValues")
            if allowed and _as_string(values[name]) not in [_as_string(v) for v in allowed]:
                raise validation(f"Pipeline parameter '{name}' must be one of {allowed}, got '{values[name]}'.")

        exec_id = new_id(12)
        arn = f"{pipeline['PipelineArn']}/execution/{exec_id}"
        now = time.time()
        doc = {
            "PipelineArn": pipeline["PipelineArn"],
            "PipelineExecutionArn": arn,
            "PipelineExecutionDisplayName": params.get("PipelineExecutionDisplayName", f"execution-{int(now * 1000)}"),
            "PipelineExecutionDescription": params.get("PipelineExecutionDescription"),
            "PipelineExecutionStatus": "Executing",
            "PipelineExperimentConfig": {"ExperimentName": pipeline["PipelineName"].lower(), "TrialName": exec_id},
            "CreationTime": now,
            "LastModifiedTime": now,
            "PipelineVersionId": pipeline.get("PipelineVersionId", 1),
            "Parameters": [{"Name": k, "Value": _as_string(v)} for k, v in values.items()],
            "PipelineDefinition": pipeline["PipelineDefinition"],
            "ClientRequestToken": params.get("ClientRequestToken"),
            "Runner": {"Host": socket.gethostname(), "Pid": os.getpid()},
        }
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        lock = open(self._lock_path(arn), "w")
        try:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_EX)
            self.store.put("execution", arn, arn, {k: v for k, v in doc.items() if v is not None},
                           parent=pipeline["PipelineArn"], created=now)
            self.store.update("pipeline", pipeline["PipelineName"].lower(),
                              lambda d: dict(d, LastExecutionTime=now))
            execution = Execution(self, doc, definition, values)
            status, reason = "Failed", None
            self.cloud.runtime.stop_check = lambda: self.stop_requested(arn)
            try:
                status = execution.run()
                if status == "Failed":
                    reason = "Step failure: One or multiple steps failed."
            except (ExecutionStopped, JobStopped):
                status = "Stopped"
            except KeyboardInterrupt:
                self._finish(arn, "Stopped", "Interrupted (KeyboardInterrupt) while running.")
                raise
            except Exception as exc:  # an engine bug must not leave the execution "Executing"
                reason = f"Internal error in the kit's local engine: {type(exc).__name__}: {exc}"
            self._finish(arn, status, reason)
        finally:
            self.cloud.runtime.stop_check = None
            lock.close()
            try:
                os.remove(self._lock_path(arn))
            except OSError:
                pass
        return arn

    def _finish(self, arn, status, reason, only_if_running=False):
        now = time.time()

        def change(doc):
            if only_if_running and doc["PipelineExecutionStatus"] not in ("Executing", "Stopping"):
                return doc  # it finished meanwhile: nothing to reap
            doc["PipelineExecutionStatus"] = status
            doc["LastModifiedTime"] = now
            if reason:
                doc["FailureReason"] = reason
            return doc

        with self.store.transaction():
            doc = self.store.update("execution", arn, change)
            if doc is None or doc["PipelineExecutionStatus"] != status:
                return
            for step in self.store.list("step", parent=arn):
                if step["StepStatus"] in ("Starting", "Executing", "Stopping"):
                    final = "Stopped" if status == "Stopped" else "Failed"
                    step.update(StepStatus=final, EndTime=now, FailureReason=step.get("FailureReason") or reason or final)
                    key = f"{arn}#{step['StepName']}"
                    self.store.put("step", key, key, step, parent=arn)
                    self._end_job(step.get("Metadata", {}), final, step["FailureReason"], now)

    def _end_job(self, metadata, final, reason, now):
        """A job its step's runner left InProgress ends with the step (not InProgress forever)."""
        for kind, (store_kind, status_field, end_field) in _JOB_RECORDS.items():
            job_arn = (metadata.get(kind) or {}).get("Arn")
            if not job_arn:
                continue

            def change(doc, status_field=status_field, end_field=end_field):
                if doc.get(status_field) not in ("InProgress", "Stopping"):
                    return doc
                doc[status_field] = final
                doc[end_field] = doc["LastModifiedTime"] = now
                if final == "Failed":
                    doc["FailureReason"] = reason
                if "SecondaryStatus" in doc:
                    doc["SecondaryStatus"] = final
                return doc

            self.store.update(store_kind, job_arn.rsplit("/", 1)[-1], change)

    def check_stop(self, arn):
        doc = self.store.get("execution", arn)
        if doc and doc.get("PipelineExecutionStatus") == "Stopping":
            raise ExecutionStopped()

    def stop_requested(self, arn):
        doc = self.store.get("execution", arn)
        return bool(doc and doc.get("PipelineExecutionStatus") == "Stopping")

    def request_stop(self, arn):
        def change(doc):
            if doc["PipelineExecutionStatus"] == "Executing":
                doc["PipelineExecutionStatus"] = "Stopping"
                doc["LastModifiedTime"] = time.time()
            return doc

        self.store.update("execution", arn, change)
        self.reap(self.store.get("execution", arn))

    def reap(self, doc):
        """If the process running this execution is gone, record the execution as Failed/Stopped."""
        if doc["PipelineExecutionStatus"] not in ("Executing", "Stopping"):
            return doc
        if self._runner_alive(doc):
            return doc
        runner = doc.get("Runner", {})
        stopping = doc["PipelineExecutionStatus"] == "Stopping"
        reason = (
            f"The process that ran this execution (pid {runner.get('Pid')} on {runner.get('Host')}) "
            "ended before the execution finished: it was killed, or its kernel restarted. "
            "Start a new execution."
        )
        self._finish(doc["PipelineExecutionArn"], "Stopped" if stopping else "Failed",
                     None if stopping else reason, only_if_running=True)
        return self.store.get("execution", doc["PipelineExecutionArn"])

    def _runner_alive(self, doc):
        runner = doc.get("Runner", {})
        if runner.get("Host") not in (None, socket.gethostname()):
            return True  # another machine sharing LAB_HOME: cannot tell, trust the record
        path = self._lock_path(doc["PipelineExecutionArn"])
        if fcntl is None:
            try:
                os.kill(int(runner.get("Pid", -1)), 0)
                return True
            except (OSError, ValueError):
                return False
        try:
            handle = open(path, "r")
        except FileNotFoundError:
            return False
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False
