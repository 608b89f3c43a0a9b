"""One run of a pipeline definition: steps in dependency order, in parallel, recorded as SageMaker shows them.

The scheduler (:meth:`Execution.run`) starts every step whose dependencies have succeeded, up to the
execution's parallelism (``MaxParallelExecutionSteps``, and never more than the machine's cores),
each in a worker thread; a condition step adds the steps of the branch it takes.  After a failure no
new step starts and the running ones finish; a stop request stops the running jobs.

Each step type has one runner here (``_run_<Type>``): job steps create their job through the job
runtime (:mod:`lab_helpers.local.jobs`), Model and RegisterModel steps go to the registry
(:mod:`.registry`), a Tuning step runs a tuning job (:mod:`.tuning`), Condition and Fail steps are
evaluated in place, Lambda steps invoke the local Lambda service (``engine.lambdas``).  A new step type
is a new runner and its name in :data:`SUPPORTED_STEP_TYPES`.  Around every step: the cache (a cacheable step whose
key matches an earlier successful run reuses it) and the retry policies (:mod:`.policies`).  In a
selective execution only the selected steps run; the steps they depend on are taken, outputs and
properties, from the source execution.
"""

import re
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from ...shapes import JOB_KINDS, STEP_JOB_KIND, data_references, walk_steps
from ..errors import ApiError
from ..ids import new_id
from ..jobs.runtime import JobStopped
from . import policies
from .expressions import Scope, StepFailed, as_string
from .tuning import Tuning
from .validation import check_request

SUPPORTED_STEP_TYPES = ("Processing", "Training", "Transform", "Model", "RegisterModel", "Condition", "Fail",
                        "Lambda", "Tuning")
#: fields of a step's record that ListPipelineExecutionSteps does not show
HIDDEN_STEP_FIELDS = ("Order", "CacheKey", "CacheEntryTime", "Properties")


class ExecutionStopped(Exception):
    """StopPipelineExecution was called for the execution that is running."""


class FailStepReached(Exception):
    """A Fail step ran: the execution fails with its error message."""


class StepsNotReached(Exception):
    """The execution ended with steps that never became ready; the message names them."""


_OUTPUT_TYPES = {"String": as_string, "Integer": int, "Float": float,
                 "Boolean": lambda v: v if isinstance(v, bool) else {"true": True, "false": False}[str(v).lower()]}


def lambda_outputs(step_name, declared, response):
    """A Lambda step's ``OutputParameters``, read from the function's JSON response and typed as declared."""
    if declared and not isinstance(response, dict):
        raise StepFailed(f"Lambda step '{step_name}' declares outputs, but its function returned "
                         f"{type(response).__name__} {str(response)[:200]!r}, not a JSON object holding them.")
    values = {}
    for output in declared:
        name, kind = output.get("OutputName"), output.get("OutputType", "String")
        if name not in response:
            raise StepFailed(f"Lambda step '{step_name}': the function's response has no output '{name}' (it has: "
                             f"{', '.join(sorted(response)) or 'nothing'}). Return it in the handler's dict, or "
                             "remove it from the step's outputs.")
        try:
            values[name] = _OUTPUT_TYPES[kind](response[name])
        except (KeyError, TypeError, ValueError):
            raise StepFailed(f"Lambda step '{step_name}': output '{name}' is declared {kind}, but the function "
                             f"returned {response[name]!r}.") from None
    return values


class Execution:
    """One run of a pipeline definition."""

    def __init__(self, engine, doc, definition, parameters):
        self.engine = engine
        self.store = engine.store
        self.runtime = engine.runtime
        self.registry = engine.registry
        self.tuning = Tuning(self.store, self.runtime)
        self.doc = doc
        self.arn = doc["PipelineExecutionArn"]
        self.exec_id = self.arn.rsplit("/", 1)[-1]
        self.definition = definition
        self.scope = Scope(doc, parameters, engine.s3.read_uri)
        self.status = {}  # step name -> StepStatus
        self.order = 0
        self._lock = threading.Lock()
        selective = doc.get("SelectiveExecutionConfig") or {}
        self.selected = {s["StepName"] for s in selective.get("SelectedSteps", [])} or None
        self.source = selective.get("SourcePipelineExecutionArn")

    def should_stop(self):
        """True once StopPipelineExecution asked this execution to stop."""
        return self.engine.stop_requested(self.arn)

    # -- recording ------------------------------------------------------------------------
    def record_step(self, step, status, **fields):
        """Write the step's ListPipelineExecutionSteps entry with ``status`` and ``fields`` (None: keep)."""
        name = step["Name"]
        key = f"{self.arn}#{name}"
        with self._lock:
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
        meta = {kind.key: {"Arn": described[kind.arn_field]}}
        if described[kind.status_field] == "Stopped":
            raise JobStopped()
        if described[kind.status_field] != "Completed":
            raise StepFailed(described.get("FailureReason", f"{kind.label} failed"), meta)
        return meta

    def _run_Tuning(self, step):
        """A tuning job (:mod:`.tuning`); its properties: the Describe response and the top 50 training jobs."""
        name = step["Name"]
        request = self.scope.evaluate(step.get("Arguments", {}))
        clean = re.sub(r"[^a-zA-Z0-9-]", "", name)  # a tuning job's name has at most 32 characters
        job_name = f"{self.exec_id}-{clean}"[:21].rstrip("-") + "-" + new_id(10)
        request["HyperParameterTuningJobName"] = job_name
        check_request("CreateHyperParameterTuningJob", request)
        meta = {"TuningJob": {"Arn": self.tuning.arn(job_name)}}
        self.record_step(step, "Executing", Metadata=meta)
        self.tuning.create(request, should_stop=self.should_stop)
        described = self.tuning.describe(job_name)
        self.scope.properties[name] = dict(described, TrainingJobSummaries=self.tuning.top_summaries(job_name))
        if described["HyperParameterTuningJobStatus"] == "Stopped":
            raise JobStopped()
        if described["HyperParameterTuningJobStatus"] != "Completed":
            raise StepFailed(described.get("FailureReason", "The tuning job failed."), meta)
        return meta, None

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

    def _run_Lambda(self, step):
        arn = step.get("FunctionArn", "")
        meta = {"Lambda": {"Arn": arn}}
        event = self.scope.evaluate(step.get("Arguments", {}))
        lambdas = getattr(self.engine, "lambdas", None)
        if lambdas is None:
            raise StepFailed("Lambda steps need the local Lambda service, which this engine was not given.", meta)
        self.record_step(step, "Executing", Metadata=meta)
        invocation = lambdas.run(arn, event)  # an unknown function: ApiError, the step fails with its message
        if invocation.error is not None:
            raise StepFailed(str(invocation.error.get("errorMessage") or invocation.error.get("errorType")), meta)
        outputs = lambda_outputs(step.get("Name"), step.get("OutputParameters") or [], invocation.response)
        self.scope.properties[step["Name"]] = {"OutputParameters": outputs}
        meta["Lambda"]["OutputParameters"] = [{"Name": k, "Value": as_string(v)} for k, v in outputs.items()]
        return meta, None

    # -- around a step: cache and retries (in a worker thread) -----------------------------
    def _attempts(self, step):
        """Run a step (or reuse a cached run), retrying as its policies say; returns (meta, outcome, fields)."""
        if step.get("Type") in ("Processing",):
            self.scope.property_files[step["Name"]] = {
                pf["PropertyFileName"]: pf for pf in step.get("PropertyFiles", [])}
        cached = self._cache_hit(step)
        if cached is not None:
            return cached
        first, retries = time.time(), 0
        while True:
            try:
                meta, outcome = self.run_step(step)
                fields = {}
                key = self._cache_key(step)
                if key:
                    fields["CacheKey"] = key
                return meta, outcome, fields
            except (StepFailed, ApiError) as exc:
                reason = exc.message if isinstance(exc, ApiError) else str(exc.args[0])
                types = policies.failure_types(reason, getattr(exc, "code", None), getattr(exc, "status", None))
                delay = policies.retry_delay(step.get("RetryPolicies"), types, retries, first, time.time())
                if delay is None:
                    raise
                retries += 1
                self.runtime.echo(f"   ↻ step {step['Name']} failed ({reason[:120]}); retry {retries} in {delay:g} s")
                self.record_step(step, "Executing", AttemptCount=retries + 1)
                deadline = time.time() + delay
                while time.time() < deadline:
                    if self.should_stop():
                        raise JobStopped() from None
                    time.sleep(min(0.1, max(0.0, deadline - time.time())))

    def _cache_key(self, step):
        enabled, _ = policies.cache_settings(step)
        if not enabled:
            return None
        return policies.cache_key(step["Type"], self.scope.evaluate(step.get("Arguments", {})))

    def _cache_hit(self, step):
        """The result of an earlier successful run with the same cache key, still valid; None otherwise."""
        enabled, expire = policies.cache_settings(step)
        if not enabled:
            return None
        key = self._cache_key(step)
        found = self.engine.find_cached_step(self.doc["PipelineArn"], step["Name"], key, expire, self.arn)
        if found is None:
            return None
        record, source = found
        self.scope.properties[step["Name"]] = record.get("Properties") or {}
        self.runtime.echo(f"── step {step['Name']}: cache hit, reusing its run in execution {source.rsplit('/', 1)[-1]}")
        # a hit does not renew the entry: ExpireAfter counts from the run that really ran the step
        fields = {"CacheKey": key, "CacheHitResult": {"SourcePipelineExecutionArn": source},
                  "CacheEntryTime": record.get("CacheEntryTime", record.get("EndTime"))}
        return record.get("Metadata") or {}, None, fields

    # -- selective execution -------------------------------------------------------------------
    def _reuse_from_source(self, steps, deps):
        """Take, from the source execution, every unselected step a selected step needs."""
        needed, todo = set(), [n for n in self.selected]
        while todo:
            for dep in deps.get(todo.pop(), ()):
                if dep not in self.selected and dep not in needed:
                    needed.add(dep)
                    todo.append(dep)
        by_name = {s["Name"]: s for s in steps}
        for name in sorted(needed):
            record = self.store.get("step", f"{self.source}#{name}")
            if not record or record.get("StepStatus") != "Succeeded":
                raise StepFailed(f"Selective execution: step {name}, which a selected step needs, did not succeed "
                                 f"in source execution {self.source}; select it too, or pick another source.")
            step = by_name[name]
            self.scope.properties[name] = record.get("Properties") or {}
            if step.get("Type") == "Processing":
                self.scope.property_files[name] = {pf["PropertyFileName"]: pf for pf in step.get("PropertyFiles", [])}
            self.record_step(step, "Succeeded", StartTime=time.time(), EndTime=time.time(),
                             Metadata=record.get("Metadata") or {}, Properties=record.get("Properties"),
                             SelectiveExecutionResult={"SourcePipelineExecutionArn": self.source})

    # -- the run --------------------------------------------------------------------------
    def run(self):
        """Run the steps as they become ready until none is left or one failed; returns the status."""
        steps = list(walk_steps(self.definition.get("Steps", [])))
        names = {s["Name"] for s in steps}
        deps = {s["Name"]: (set(data_references(s)) | set(s.get("DependsOn", []))) & names for s in steps}
        active = list(self.definition.get("Steps", []))
        skipped = set()
        if self.selected:
            self._reuse_from_source(steps, deps)
            skipped = names - self.selected - set(self.status)
        limit = self.engine.max_parallel_steps(self.doc)
        running, failed, stopped = {}, False, False
        with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="step") as pool:
            while True:
                if not stopped and self.should_stop():
                    stopped = True
                if not failed and not stopped:
                    busy = {step["Name"] for step in running.values()}
                    for step in active:
                        name = step["Name"]
                        if len(running) >= limit:
                            break
                        if name in self.status or name in busy or name in skipped:
                            continue
                        if not all(self.status.get(d) == "Succeeded" for d in deps[name]):
                            continue
                        self.order += 1
                        self.record_step(step, "Executing", StartTime=time.time())
                        running[pool.submit(self._attempts, step)] = step
                        busy.add(name)
                if not running:
                    break
                done, _ = wait(list(running), timeout=0.05, return_when=FIRST_COMPLETED)
                for future in done:
                    step = running.pop(future)
                    outcome, ok = self._settle(step, future)
                    failed = failed or not ok and self.status.get(step["Name"]) == "Failed"
                    stopped = stopped or self.status.get(step["Name"]) == "Stopped"
                    if ok and step.get("Type") == "Condition":
                        active.extend(step["Arguments"].get("IfSteps" if outcome else "ElseSteps", []))
        if stopped:
            raise ExecutionStopped()
        if failed:
            return "Failed"
        unreached = [s["Name"] for s in active if s["Name"] not in self.status and s["Name"] not in skipped]
        if unreached:  # nothing failed, yet these never became ready: never report that as Succeeded
            raise StepsNotReached(f"Steps {', '.join(unreached)} were never reached: a step they depend on did "
                                  "not run in this execution.")
        return "Succeeded"

    def _settle(self, step, future):
        """Record how a step's run ended; returns (condition outcome, succeeded)."""
        now = time.time()
        try:
            meta, outcome, fields = future.result()
        except FailStepReached as fail:
            self.record_step(step, "Failed", EndTime=now, FailureReason=str(fail),
                             Metadata={"Fail": {"ErrorMessage": str(fail)}})
            return None, False
        except (StepFailed, ApiError) as exc:
            meta = exc.args[1] if isinstance(exc, StepFailed) and len(exc.args) > 1 else None
            reason = exc.message if isinstance(exc, ApiError) else str(exc.args[0])
            # Metadata=None keeps what the step recorded when it started (its job's ARN)
            self.record_step(step, "Failed", EndTime=now, FailureReason=reason[:1024], Metadata=meta)
            return None, False
        except JobStopped:
            self.record_step(step, "Stopped", EndTime=now)
            return None, False
        properties = self.scope.properties.get(step["Name"])
        self.record_step(step, "Succeeded", EndTime=now, Metadata=meta, Properties=properties, **fields)
        return outcome, True
