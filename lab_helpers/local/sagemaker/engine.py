"""The local pipeline engine: runs a pipeline *definition* the way SageMaker Pipelines does.

``pipeline.upsert()`` sends the pipeline's JSON definition to the (emulated) SageMaker API;
``pipeline.start()`` asks it to run.  :class:`Engine` checks the request (parameters, parallelism,
selective execution), records the execution as ``Executing`` and hands it to a background runner
process (:mod:`lab_helpers.local.runner`), then returns at once - as ``StartPipelineExecution``
does in AWS.  In the runner, :meth:`Engine.run` runs it (:mod:`.execution`: steps in dependency
order and in parallel, with caching and retries; expressions from :mod:`.expressions`) and records
how it ended.  The Arguments of a job step *are* AWS API requests (``CreateTrainingJob``, ...): the
engine hands them to the job runtime, and Model/RegisterModel steps to the registry - never back
through the API.

An execution whose runner died (killed, machine restarted) is reported Failed with a reason the
next time anyone looks at it (:meth:`Engine.reap`): a runner holds its execution's lock file for as
long as it runs, and a lock nobody holds means nobody runs it.
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from ..errors import validation
from ..images import remote_function
from ..ids import new_id
from ..jobs import forkclient
from ..jobs.runtime import JobStopped
from .execution import Execution, ExecutionStopped, StepsNotReached
from .expressions import as_string

try:  # POSIX advisory locks tell whether the process running an execution is still alive
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

#: SageMaker's limit on steps running at once when the pipeline sets none.
DEFAULT_MAX_PARALLEL_STEPS = 50
#: How long a runner may take to start before a record without one counts as dead.
RUNNER_START_GRACE = 60.0
RUNNER_MODULE = "lab_helpers.local.runner"
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[3])


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



#: the StartPipelineExecution fields a repeated ClientRequestToken must repeat unchanged
_IDEMPOTENT_FIELDS = ("PipelineParameters", "PipelineExecutionDisplayName", "PipelineExecutionDescription",
                      "ParallelismConfiguration", "SelectiveExecutionConfig", "PipelineVersionId")


#: how a runner's last log line starts when a fault (control plane, disk) ended it
RUNNER_FAILED = "runner failed:"


def request_fingerprint(params):
    """The parts of a StartPipelineExecution request that a retry with the same token must repeat, as text."""
    fields = {k: params.get(k) for k in _IDEMPOTENT_FIELDS if params.get(k) is not None}
    if "PipelineParameters" in fields:
        fields["PipelineParameters"] = sorted((p.get("Name"), p.get("Value")) for p in fields["PipelineParameters"])
    return json.dumps(fields, sort_keys=True, default=str)

class Engine:
    """Starts executions in runners, runs them there, and reports the fate of those whose runner died."""

    def __init__(self, store, s3, runtime, registry, home, region):
        self.store = store
        self.s3 = s3
        self.runtime = runtime
        self.registry = registry
        self.home = Path(home)
        self.region = region
        self.lock_dir = self.home / "locks"
        self.log_dir = self.home / "executions"
        if forkclient.enabled():  # runners fork warm from the fork server, with the engine already imported
            forkclient.shared().also_preload("lab_helpers.local.cloud", "lab_helpers.local.sagemaker.validation",
                                             RUNNER_MODULE)

    def _lock_path(self, arn):
        return self.lock_dir / (arn.rsplit("/", 1)[-1] + ".lock")

    # -- starting ------------------------------------------------------------------------
    def parameters(self, pipeline, definition, params):
        """The execution's parameter values: the request's, else the defaults, each of its declared type."""
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
        return values

    def _selective(self, pipeline, definition, config):
        """Check a SelectiveExecutionConfig against the pipeline and its source execution."""
        if not config:
            return None
        from ...shapes import walk_steps

        names = {s["Name"] for s in walk_steps(definition.get("Steps", []))}
        selected = [s["StepName"] for s in config.get("SelectedSteps", [])]
        unknown = [s for s in selected if s not in names]
        if unknown:
            raise validation(f"SelectedSteps names steps that are not in pipeline {pipeline['PipelineName']}: "
                             f"{', '.join(unknown)}.")
        source_arn = config.get("SourcePipelineExecutionArn")
        if not source_arn:
            raise validation("SelectiveExecutionConfig needs SourcePipelineExecutionArn: the execution whose "
                             "results the steps you did not select reuse.")
        source = self.store.get("execution", source_arn)
        if source is None or source["PipelineArn"] != pipeline["PipelineArn"]:
            raise validation(f"Source execution {source_arn} is not an execution of pipeline "
                             f"{pipeline['PipelineName']}.")
        if source["PipelineExecutionStatus"] not in ("Succeeded", "Failed", "Stopped"):
            raise validation(f"Source execution {source_arn} is {source['PipelineExecutionStatus']}: "
                             "selective execution needs a source execution that has finished.")
        return {"SourcePipelineExecutionArn": source_arn, "SelectedSteps": [{"StepName": s} for s in selected]}

    def start(self, pipeline, params):
        """StartPipelineExecution: check, record the execution, start its runner; returns its ARN at once."""
        definition = json.loads(pipeline["PipelineDefinition"])
        values = self.parameters(pipeline, definition, params)
        selective = self._selective(pipeline, definition, params.get("SelectiveExecutionConfig"))
        parallelism = params.get("ParallelismConfiguration") or pipeline.get("ParallelismConfiguration")
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
            "ParallelismConfiguration": parallelism,
            "SelectiveExecutionConfig": selective,
            "Parameters": [{"Name": k, "Value": as_string(v)} for k, v in values.items()],
            "PipelineDefinition": pipeline["PipelineDefinition"],
            "ClientRequestToken": params.get("ClientRequestToken"),
            "RequestFingerprint": request_fingerprint(params),
            "Runner": {"Host": socket.gethostname(), "Starting": now},
        }
        self.store.put("execution", arn, arn, {k: v for k, v in doc.items() if v is not None},
                       parent=pipeline["PipelineArn"], created=now)
        self.store.update("pipeline", pipeline["PipelineName"].lower(), lambda d: dict(d, LastExecutionTime=now))
        pid, exited, log_path = self._spawn_runner(arn, remote_function.job_preload(definition))
        interrupted = False
        while True:  # the request is recorded and its runner started: a Ctrl-C now must not orphan it
            try:
                self._await_runner(arn, pid, exited, log_path)
                break
            except KeyboardInterrupt:
                interrupted = True
        if interrupted:
            print(f"(interrupted after the execution had started: it runs on in the background; "
                  f"stop it with StopPipelineExecution, {arn})", file=sys.stderr)
        return arn

    def _spawn_runner(self, arn, preload=()):
        """Start the runner process: forked from the fork server, else a fresh interpreter.

        ``preload``: modules the runner imports before it forks its jobs' server (what its jobs all need).
        """
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / (arn.rsplit("/", 1)[-1] + ".log")
        argv = [str(self.home), self.region, arn, *preload]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = _PACKAGE_ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        if forkclient.enabled():
            forks = forkclient.shared()
            pid = forks.launch(argv, self.home, env, log_path, entry=RUNNER_MODULE)
            if pid is not None:
                return pid, (lambda: forks.poll(pid)), log_path
        with open(log_path, "ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", RUNNER_MODULE, *argv], cwd=str(self.home), env=env,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        return proc.pid, proc.poll, log_path

    def _await_runner(self, arn, pid, exited, log_path):
        """Wait until the runner holds the execution's lock, has already finished it, or has died."""
        deadline = time.time() + RUNNER_START_GRACE
        while not self._lock_held(arn):
            code = exited()
            doc = self.store.get("execution", arn) or {}
            if doc.get("PipelineExecutionStatus") not in ("Executing", "Stopping"):
                return  # it ran to its end already
            if code is not None or time.time() > deadline:
                tail = log_path.read_text(errors="replace").strip().splitlines()[-3:] if log_path.exists() else []
                what = f"exited with code {code}" if code is not None else "did not start"
                self._finish(arn, "Failed", f"The execution's runner process (pid {pid}) {what} before running it. "
                                            f"Last lines of {log_path}: {' | '.join(tail) or '(none)'}")
                return
            time.sleep(0.005)

    # -- running (in the runner process) -----------------------------------------------------
    def run(self, arn):
        """Run execution ``arn`` to its end while holding its lock; True if it succeeded."""
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        lock = open(self._lock_path(arn), "a")
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        status = "Failed"
        try:
            doc = self.store.update("execution", arn, lambda d: dict(
                d, Runner={"Host": socket.gethostname(), "Pid": os.getpid()}))
            if doc is None or doc["PipelineExecutionStatus"] not in ("Executing", "Stopping"):
                return False
            definition = json.loads(doc["PipelineDefinition"])
            values = {}
            declared = {spec["Name"]: spec for spec in definition.get("Parameters", [])}
            for item in doc.get("Parameters", []):
                values[item["Name"]] = _coerce_parameter(declared[item["Name"]], item["Value"])
            execution = Execution(self, doc, definition, values)
            reason = None
            try:
                status = execution.run()
                if status == "Failed":
                    reason = "Step failure: One or multiple steps failed."
            except (ExecutionStopped, JobStopped):
                status = "Stopped"
            except StepsNotReached as exc:
                reason = str(exc)
            except Exception as exc:  # an engine bug must not leave the execution "Executing"
                reason = f"Internal error in the kit's local engine: {type(exc).__name__}: {exc}"
            self._finish(arn, status, reason)
        finally:
            lock.close()
            try:
                os.remove(self._lock_path(arn))
            except OSError:
                pass
        return status == "Succeeded"

    def find_cached_step(self, pipeline_arn, step_name, key, expire_seconds, current_arn):
        """The newest successful run of ``step_name`` in this pipeline with cache ``key``, still valid.

        A record that was itself a cache hit is as old as the run it reused (``CacheEntryTime``).
        Returns ``(step record, ARN of the execution that really ran it)`` or None.
        """
        oldest = time.time() - expire_seconds if expire_seconds is not None else None
        for doc in reversed(self.store.list("execution", parent=pipeline_arn)):
            arn = doc["PipelineExecutionArn"]
            if arn == current_arn:
                continue
            record = self.store.get("step", f"{arn}#{step_name}")
            if not record or record.get("StepStatus") != "Succeeded" or record.get("CacheKey") != key:
                continue
            if oldest is not None and float(record.get("CacheEntryTime", record.get("EndTime", 0))) < oldest:
                continue
            return record, (record.get("CacheHitResult") or {}).get("SourcePipelineExecutionArn", arn)
        return None

    def max_parallel_steps(self, doc):
        """How many steps may run at once: the execution's (or pipeline's) limit, and the machine's cores."""
        configured = (doc.get("ParallelismConfiguration") or {}).get("MaxParallelExecutionSteps")
        return max(1, min(int(configured or DEFAULT_MAX_PARALLEL_STEPS), os.cpu_count() or 1))

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

    # -- stopping and reaping ---------------------------------------------------------------------
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
            "ended before the execution finished: it was killed, or the machine restarted. "
            "Start a new execution."
        )
        last = self._runner_last_words(doc["PipelineExecutionArn"])
        if last:
            reason = (f"The process that ran this execution (pid {runner.get('Pid')}) ended before the execution "
                      f"finished: {last}")[:1024]
        self._finish(doc["PipelineExecutionArn"], "Stopped" if stopping else "Failed",
                     None if stopping else reason, only_if_running=True)
        return self.store.get("execution", doc["PipelineExecutionArn"])

    def _runner_last_words(self, arn):
        """The one line a runner that failed on a fault wrote last to its log ('runner failed: ...'), or None."""
        try:
            with open(self.log_dir / (arn.rsplit("/", 1)[-1] + ".log"), "rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - 4096))
                lines = handle.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return None
        for line in reversed(lines):
            if line.startswith(RUNNER_FAILED):
                return line[len(RUNNER_FAILED):].strip()
        return None

    def _runner_alive(self, doc):
        runner = doc.get("Runner", {})
        if runner.get("Host") not in (None, socket.gethostname()):
            return True  # another machine sharing LAB_HOME: cannot tell, trust the record
        if "Pid" not in runner and time.time() - float(runner.get("Starting", 0)) < RUNNER_START_GRACE:
            return True  # its runner is still starting
        if fcntl is None:
            try:
                os.kill(int(runner.get("Pid", -1)), 0)
                return True
            except (OSError, ValueError):
                return False
        return self._lock_held(doc["PipelineExecutionArn"])

    def _lock_held(self, arn):
        """True while some process holds the execution's lock file."""
        if fcntl is None:  # pragma: no cover - Windows: trust the runner's record
            doc = self.store.get("execution", arn) or {}
            return "Pid" in doc.get("Runner", {})
        try:
            handle = open(self._lock_path(arn), "r")
        except FileNotFoundError:
            return False
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False
