"""One run of a pipeline definition: steps in dependency order, each recorded as SageMaker shows it.

Each step type has one runner here (``_run_<Type>``): job steps create their job through the
job runtime (:mod:`lab_helpers.local.jobs`), Model and RegisterModel steps go to the registry
(:mod:`.registry`), Condition and Fail steps are evaluated in place.  A new step type is a new
runner and its name in :data:`SUPPORTED_STEP_TYPES`.

Differences from AWS: steps run one at a time, in definition order among those that are ready
(AWS may run independent steps in parallel).
"""

import re
import time

from ...shapes import JOB_KINDS, STEP_JOB_KIND, data_references, walk_steps
from ..errors import ApiError
from ..ids import new_id
from .expressions import Scope, StepFailed, as_string
from .validation import check_request

SUPPORTED_STEP_TYPES = ("Processing", "Training", "Transform", "Model", "RegisterModel", "Condition", "Fail")


class ExecutionStopped(Exception):
    """StopPipelineExecution was called for the execution that is running."""


class FailStepReached(Exception):
    """A Fail step ran: the execution fails with its error message."""


class StepsNotReached(Exception):
    """The execution ended with steps that never became ready; the message names them."""


class Execution:
    """One run of a pipeline definition."""

    def __init__(self, engine, doc, definition, parameters):
        self.engine = engine
        self.store = engine.store
        self.runtime = engine.runtime
        self.registry = engine.registry
        self.doc = doc
        self.arn = doc["PipelineExecutionArn"]
        self.exec_id = self.arn.rsplit("/", 1)[-1]
        self.definition = definition
        self.scope = Scope(doc, parameters, engine.s3.read_uri)
        self.status = {}  # step name -> StepStatus
        self.order = 0

    def should_stop(self):
        """True once StopPipelineExecution asked this execution to stop."""
        return self.engine.stop_requested(self.arn)

    # -- recording ------------------------------------------------------------------------
    def record_step(self, step, status, **fields):
        """Write the step's ListPipelineExecutionSteps entry with ``status`` and ``fields``."""
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
        existing.update({k: v for k, v in fields.items() if v is not None})
        existing["StepStatus"] = status
        existing = {k: v for k, v in existing.items() if v is not None}
        self.store.put("step", key, key, existing, parent=self.arn)
        self.status[name] = status

    def job_name(self, step_name):
        """The name SageMaker gives the job a step creates: pipelines-<execution id>-<step>-<random>."""
        clean = re.sub(r"[^a-zA-Z0-9-]", "", step_name)
        return f"pipelines-{self.exec_id}-{clean}"[:52].rstrip("-") + "-" + new_id(10)

    # -- step runners: each returns (Metadata, condition outcome or None) ------------------
    def run_step(self, step):
        """Run one step; StepFailed / FailStepReached / ApiError when it fails."""
        kind = step.get("Type")
        if kind not in SUPPORTED_STEP_TYPES:
            raise StepFailed(
                f"Step '{step['Name']}' is of type {kind}, which the kit's local mode does not run. "
                f"It runs: {', '.join(SUPPORTED_STEP_TYPES)}. Run this pipeline in remote mode."
            )
        if kind in STEP_JOB_KIND:
            return self._run_job(step, JOB_KINDS[STEP_JOB_KIND[kind]]), None
        return getattr(self, "_run_" + kind)(step)

    def _run_job(self, step, kind):
        name = step["Name"]
        request = self.scope.evaluate(step.get("Arguments", {}))
        job_name = request[kind.name_field] = self.job_name(name)
        check_request("Create" + kind.key, request)  # a definition's Arguments have met no client-side check
        # the job shows in the step's metadata while it runs (as in AWS), so a reaper can find it
        self.record_step(step, "Executing", Metadata={kind.key: {"Arn": self.runtime.arn(kind, job_name)}})
        if kind.key == "TransformJob":
            self.registry.op_DescribeModel({"ModelName": request["ModelName"]})
        self.runtime.create(kind.key, request, should_stop=self.should_stop)
        described = self.runtime.describe(kind.key, job_name)
        self.scope.properties[name] = described
        if kind.key == "ProcessingJob":
            self.scope.property_files[name] = {pf["PropertyFileName"]: pf for pf in step.get("PropertyFiles", [])}
        meta = {kind.key: {"Arn": described[kind.arn_field]}}
        if described[kind.status_field] != "Completed":
            raise StepFailed(described.get("FailureReason", f"{kind.label} failed"), meta)
        return meta

    def _run_Condition(self, step):
        outcome = all(self.scope.condition(c) for c in step.get("Arguments", {}).get("Conditions", []))
        self.scope.properties[step["Name"]] = {"Outcome": outcome}
        return {"Condition": {"Outcome": "True" if outcome else "False"}}, outcome

    def _run_Fail(self, step):
        raise FailStepReached(as_string(self.scope.evaluate(step.get("Arguments", {}).get("ErrorMessage", ""))))

    def _run_Model(self, step):
        request = self.scope.evaluate(step.get("Arguments", {}))
        request["ModelName"] = self.job_name(step["Name"])
        check_request("CreateModel", request)
        self.registry.op_CreateModel(request)
        described = self.registry.op_DescribeModel({"ModelName": request["ModelName"]})
        self.scope.properties[step["Name"]] = described
        return {"Model": {"Arn": described["ModelArn"]}}, None

    def _run_RegisterModel(self, step):
        request = self.scope.evaluate(step.get("Arguments", {}))
        request.pop("ModelPackageName", None)
        check_request("CreateModelPackage", request)
        package = self.registry.create_model_package(request, create_group=True)
        self.scope.properties[step["Name"]] = self.registry.op_DescribeModelPackage(
            {"ModelPackageName": package["ModelPackageArn"]})
        return {"RegisterModel": {"Arn": package["ModelPackageArn"]}}, None

    # -- the run --------------------------------------------------------------------------
    def run(self):
        """Run the steps that become ready until none is left or one failed; returns the status."""
        steps = list(walk_steps(self.definition.get("Steps", [])))
        names = {s["Name"] for s in steps}
        deps = {s["Name"]: (set(data_references(s)) | set(s.get("DependsOn", []))) & names for s in steps}
        active = list(self.definition.get("Steps", []))
        failed = False
        while True:
            if self.should_stop():
                raise ExecutionStopped()
            ready = [s for s in active if s["Name"] not in self.status
                     and all(self.status.get(d) == "Succeeded" for d in deps[s["Name"]])]
            if not ready or failed:
                break
            step = ready[0]
            self.order += 1
            self.record_step(step, "Executing", StartTime=time.time())
            try:
                meta, outcome = self.run_step(step)
            except FailStepReached as fail:
                self.record_step(step, "Failed", EndTime=time.time(), FailureReason=str(fail),
                                 Metadata={"Fail": {"ErrorMessage": str(fail)}})
                failed = True
                continue
            except (StepFailed, ApiError) as exc:
                meta = exc.args[1] if isinstance(exc, StepFailed) and len(exc.args) > 1 else None
                reason = exc.message if isinstance(exc, ApiError) else str(exc.args[0])
                # Metadata=None keeps what the step recorded when it started (its job's ARN)
                self.record_step(step, "Failed", EndTime=time.time(), FailureReason=reason, Metadata=meta)
                failed = True
                continue
            self.record_step(step, "Succeeded", EndTime=time.time(), Metadata=meta)
            if step.get("Type") == "Condition":
                active.extend(step["Arguments"].get("IfSteps" if outcome else "ElseSteps", []))
        if failed:
            return "Failed"
        unreached = [s["Name"] for s in active if s["Name"] not in self.status]
        if unreached:  # nothing failed, yet these never became ready: never report that as Succeeded
            raise StepsNotReached(f"Steps {', '.join(unreached)} were never reached: a step they depend on did "
                                  "not run in this execution.")
        return "Succeeded"
