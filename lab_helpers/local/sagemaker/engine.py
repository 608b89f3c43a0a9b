"""The local pipeline engine: runs a pipeline *definition* the way SageMaker Pipelines does.

``pipeline.upsert()`` sends the pipeline's JSON definition to the (emulated) SageMaker API;
``pipeline.start()`` asks it to run.  :class:`Engine` is what runs it: it checks the parameters,
records the execution, runs it (:mod:`.execution`: steps in dependency order, expressions from
:mod:`.expressions`) and records how it ended.  The Arguments of a job step *are* AWS API requests
(``CreateTrainingJob``, ``CreateProcessingJob``, ``CreateTransformJob``): the engine hands them to
the job runtime, and Model/RegisterModel steps to the registry - never back through the API.

Differences from AWS: the whole execution runs inside the ``StartPipelineExecution`` call of the
process that started it.  If that process dies, the execution is reported as Failed (never
"Executing" forever) - see :meth:`Engine.reap`.
"""

import json
import os
import socket
import time

from ..errors import validation
from ..ids import new_id
from ..jobs.runtime import JobStopped
from .execution import Execution, ExecutionStopped, StepsNotReached
from .expressions import as_string

try:  # POSIX advisory locks tell whether the process running an execution is still alive
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


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



class Engine:
    """Starts executions, and reports the fate of executions whose process died."""

    def __init__(self, store, s3, runtime, registry, home):
        self.store = store
        self.s3 = s3
        self.runtime = runtime
        self.registry = registry
        self.lock_dir = home / "locks"

    def _lock_path(self, arn):
        return self.lock_dir / (arn.rsplit("/", 1)[-1] + ".lock")

    def start(self, pipeline, params):
        """StartPipelineExecution: check the parameters, then run the execution to its end; returns its ARN."""
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
            if allowed and as_string(values[name]) not in [as_string(v) for v in allowed]:
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
            "Parameters": [{"Name": k, "Value": as_string(v)} for k, v in values.items()],
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
            try:
                status = execution.run()
                if status == "Failed":
                    reason = "Step failure: One or multiple steps failed."
            except (ExecutionStopped, JobStopped):
                status = "Stopped"
            except StepsNotReached as exc:
                reason = str(exc)
            except KeyboardInterrupt:
                self._finish(arn, "Stopped", "Interrupted (KeyboardInterrupt) while running.")
                raise
            except Exception as exc:  # an engine bug must not leave the execution "Executing"
                reason = f"Internal error in the kit's local engine: {type(exc).__name__}: {exc}"
            self._finish(arn, status, reason)
        finally:
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
                    self.runtime.end_with_step(step.get("Metadata", {}), final, step["FailureReason"], now)

    def stop_requested(self, arn):
        """True while StopPipelineExecution has asked execution ``arn`` to stop."""
        doc = self.store.get("execution", arn)
        return bool(doc and doc.get("PipelineExecutionStatus") == "Stopping")

    def request_stop(self, arn):
        """StopPipelineExecution: mark the execution Stopping (its runner stops it), or end it if its runner is gone."""
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
