"""The Docker-free container runtime: SageMaker jobs as host processes.

Where the SDK's local mode would run ``docker compose``, the kit gives every job a private
folder that plays the container's file system, lays it out as the real container sees it,
and runs the job in a fresh host Python process:

    LAB_HOME/jobs/<job name>/container/opt/ml/...     the job's /opt/ml (config, channels, model, output)
    LAB_HOME/jobs/<job name>/container/<LocalPath>    processing inputs/outputs declared outside /opt/ml

Where Linux allows it, the job process confines itself in private namespaces (:mod:`.sandbox`):
that folder *is* ``/opt/ml`` there, for the job and every process it starts; it can write only
its own folders, its ``/tmp`` and its copy of the Python environment, cannot see ``LAB_HOME``
(the control plane, the S3 folder, other jobs) and has no network.  Elsewhere (macOS,
``LAB_SANDBOX=0``) the kit's path overlay (:mod:`.overlay`) makes ``/opt/ml/...`` (and every
declared container path) resolve to that folder inside the job's Python process, with no
isolation.  Either way the job's AWS calls are answered by the kit's local services
(:mod:`.aws_bridge`), and scripts that hard-code ``/opt/ml`` paths run unmodified, as any user.

Every kind of job goes through one lifecycle (:meth:`Runtime.run`): recorded ``InProgress``,
its container laid out (:mod:`.containers`), its process run (:mod:`.launch`), its outputs
uploaded, and ``Completed``, ``Failed`` (with a FailureReason) or ``Stopped``.

For rehearsing retry policies, a fault-injection switch: ``LAB_FAIL_JOBS="<fragment>:<count>"`` (in the
environment of the process that starts the execution, which its runner inherits) makes the first
``count`` jobs whose name contains ``fragment`` (case-insensitive; a pipeline's job names contain the
step's name) fail with an ``InternalServerError`` reason before their process starts - what a
``SageMaker.JOB_INTERNAL_ERROR`` retry policy retries.  Counted per process (one execution's runner);
several switches are separated by commas.  Unset, nothing is injected.

Differences from AWS: one instance only (``InstanceCount`` > 1 runs once), instance types
are not emulated, ``Pipe``/``FastFile`` input modes behave like ``File``; without the sandbox a
subprocess that a job script starts does not see the path overlay (except a Python process that a
script-mode job starts: see :mod:`.childsite`).
"""

import os
import re
import shutil
import threading
import time

from ...shapes import JOB_KINDS
from ..errors import ApiError, validation
from ..store import disk_problem
from .. import images
from . import aws_bridge, imageenvs, sandbox
from .containers import CONTAINERS
from .launch import JobStopped, Launcher, failure_reason
from .staging import JobFailed, Staging

__all__ = ["JobStopped", "Runtime"]

_JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
#: the environment variable of the fault-injection switch (see the module's docstring)
FAIL_JOBS_VARIABLE = "LAB_FAIL_JOBS"
_injected = {}  # fragment -> failures injected so far in this process
_injected_lock = threading.Lock()


def injected_failure(job_name):
    """The InternalServerError reason ``LAB_FAIL_JOBS`` injects for this job, or None (counts the injection)."""
    setting = os.environ.get(FAIL_JOBS_VARIABLE, "").strip()
    for item in filter(None, (part.strip() for part in setting.split(","))):
        fragment, _, count = item.rpartition(":")
        if not fragment or not count.isdigit():
            raise ValueError(f"{FAIL_JOBS_VARIABLE}={setting!r}: expected '<job name fragment>:<count>'")
        if fragment.lower() not in job_name.lower():
            continue
        with _injected_lock:
            done = _injected.get(fragment.lower(), 0)
            if done >= int(count):
                return None
            _injected[fragment.lower()] = done + 1
        return (f"InternalServerError: failure {done + 1} of {count} injected by {FAIL_JOBS_VARIABLE}={setting} "
                "(the kit's switch for rehearsing retry policies); the job did not start.")
    return None


class Runtime:
    """Creates, runs and describes jobs; their records live in the control-plane store."""

    def __init__(self, store, s3, home, account, echo, router=None):
        """``router(request, event_name=...)`` answers the AWS calls of job code (the cloud's router)."""
        self.store = store
        self.s3 = s3
        self.account = account
        self.echo = echo
        self.home = home
        self.bridge = aws_bridge.Bridge(router) if router is not None else None
        self.jobs_dir = home / "jobs"
        self.staging = Staging(s3, account.region, self.jobs_dir)
        self.launcher = Launcher(self._log)
        self._containers = {key: container(self) for key, container in CONTAINERS.items()}

    def _log(self, group, stream, line):
        self.store.append_log(group, stream, line)
        self.echo(line)

    def warm_up(self):
        """Get ready for jobs that are coming (starts the fork server in the background)."""
        self.launcher.warm_up()

    # -- the API's view ---------------------------------------------------------------------
    def create(self, key, request, should_stop=None):
        """Create<Kind>Job: validate the name, record the job and run it to its end; returns its ARN.

        ``key`` is a job kind of :data:`lab_helpers.shapes.JOB_KINDS`; ``should_stop()`` is asked
        while the job runs (a pipeline execution being stopped) and stops it when true.
        """
        kind = JOB_KINDS[key]
        name = request[kind.name_field]
        if not _JOB_NAME.fullmatch(name):
            raise validation(
                f"1 validation error detected: Value '{name}' at '{kind.name_field[0].lower() + kind.name_field[1:]}' "
                "failed to satisfy constraint: Member must satisfy regular expression pattern: "
                "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
            )
        arn = self.arn(kind, name)
        with self.store.transaction():
            if self.store.get(kind.store_kind, name.lower()):
                raise ApiError("ResourceInUse", "Job name must be unique within an AWS account and region, and a job "
                                                f"with this name already exists ({arn})")
            self.store.put(kind.store_kind, name.lower(), arn, {kind.name_field: name, "Pending": True})
        self.run(kind, name, arn, request, should_stop)
        return arn

    def arn(self, kind, name):
        """The ARN of job ``name`` of ``kind``."""
        return self.account.arn(f"{kind.arn_prefix}/{name.lower()}")

    def describe(self, key, name):
        """Describe<Kind>Job's response, or the ValidationException AWS gives for an unknown job."""
        kind = JOB_KINDS[key]
        doc = self.store.get(kind.store_kind, name.lower())
        if doc is None or doc.get("Pending"):
            raise validation(f"Requested resource not found: {kind.label} {name} does not exist")
        return doc

    # -- the lifecycle ----------------------------------------------------------------------
    def run(self, kind, name, arn, request, should_stop=None):
        """Run one job from InProgress to Completed, Failed or Stopped (never left InProgress)."""
        container = self._containers[kind.key]
        now = time.time()
        doc = {k: v for k, v in request.items() if k != "Tags"}
        doc.update({kind.arn_field: arn, kind.status_field: "InProgress", "CreationTime": now,
                    "LastModifiedTime": now, kind.start_field: now})
        doc.update(container.initial_fields(now))
        self.store.put(kind.store_kind, name.lower(), arn, {k: v for k, v in doc.items() if v is not None})
        image = container.image(request)
        confined = sandbox.enabled() and sandbox.available()[0]
        self.echo(f"── {kind.key} {name} · image {image.rsplit('/', 1)[-1]} · running as a host process"
                  + (" in private namespaces" if confined else ""))
        job_dir = self._prepare_dir(name)
        stream = f"{name}/{kind.stream_host}-{int(now)}"
        try:
            injected = injected_failure(name)
            if injected:
                raise JobFailed(injected)
            spec = container.prepare(name, request, job_dir)
            self._contain(spec, job_dir, confined)
            self._python(spec, image)
            code, lines = self.launcher.run(job_dir, spec, kind.log_group, stream, should_stop)
            if code != 0:
                raise JobFailed(failure_reason(job_dir, code, lines))
            fields = container.finish(name, request, job_dir, lines, now)
            end = time.time()
            self.update(kind, name, **{kind.status_field: "Completed", kind.end_field: end,
                                       "LastModifiedTime": end}, **fields)
        except JobStopped:
            end = time.time()
            self.update(kind, name, **{kind.status_field: "Stopped", kind.end_field: end, "LastModifiedTime": end},
                        **container.ended_fields("Stopped"))
            raise
        except (JobFailed, OSError, ValueError, KeyError) as exc:  # every job ends in a terminal state
            problem = disk_problem(exc)
            reason = str(exc) if isinstance(exc, JobFailed) else f"InternalServerError: {problem}" if problem else (
                f"InternalServerError: the kit's local runtime could not run the job: {type(exc).__name__}: {exc}")
            end = time.time()
            self.echo(f"   ✗ {reason}")
            self.update(kind, name, **{kind.status_field: "Failed", "FailureReason": reason[:1024], kind.end_field: end,
                                       "LastModifiedTime": end}, **container.ended_fields("Failed", reason))
        finally:
            sandbox.tidy(job_dir)

    def _contain(self, spec, job_dir, confined):
        """What the job process sees besides its container: AWS settings, its AWS bridge, its sandbox."""
        socket = self.bridge.start() if self.bridge is not None else None
        problem = self.bridge.problem if self.bridge is not None else "no AWS bridge in this runtime"
        spec["env"] = {**aws_bridge.environment(self.account.region, socket, problem), **spec.get("env", {})}
        if confined:
            spec["sandbox"] = sandbox.plan(job_dir, self.home, socket)
        else:  # no copy-on-write environment: the job's pip installs into its own folder
            spec["pip_target"] = str(job_dir / "pip-packages")

    def _python(self, spec, image):
        """The image's own Python environment (built on first use), or the kit's with a note saying why."""
        found = images.repo_version(image)
        if found is None:
            return
        started = time.time()
        env = imageenvs.for_image(*found)
        spec["notes"] = list(env.notes)
        if env.python:
            spec["python"] = env.python
            if time.time() - started > 1:
                spec["notes"].insert(0, f"[image] built the Python environment of {found[0]}:{found[1]} in "
                                        f"{time.time() - started:.0f} s (once per machine)")

    def _prepare_dir(self, name):
        job_dir = self.jobs_dir / name
        if job_dir.exists():
            sandbox.tidy(job_dir)
            shutil.rmtree(job_dir)
        (job_dir / "container" / "opt" / "ml").mkdir(parents=True)
        return job_dir

    def transition(self, name, status, message):
        """A training job's SecondaryStatus moves on (with its entry in SecondaryStatusTransitions)."""
        self.update(JOB_KINDS["TrainingJob"], name, SecondaryStatus=status, transition=(status, message))

    def update(self, kind, name, transition=None, **fields):
        """Change a job's record atomically; ``transition=(status, message)`` appends a status transition."""
        def change(doc):
            doc.update({k: v for k, v in fields.items() if v is not None})
            if transition:
                now = time.time()
                history = doc.setdefault("SecondaryStatusTransitions", [])
                if history and "EndTime" not in history[-1]:
                    history[-1]["EndTime"] = now
                history.append({"Status": transition[0], "StartTime": now, "StatusMessage": transition[1]})
                if transition[0] in ("Completed", "Failed", "Stopped"):
                    history[-1]["EndTime"] = now
            return doc

        self.store.update(kind.store_kind, name.lower(), change)

    def end_with_step(self, metadata, final, reason, now):
        """A job its step's runner left InProgress ends with the step (not InProgress forever)."""
        for kind in JOB_KINDS.values():
            job_arn = (metadata.get(kind.key) or {}).get("Arn")
            if not job_arn:
                continue

            def change(doc, kind=kind):
                if doc.get(kind.status_field) not in ("InProgress", "Stopping"):
                    return doc
                doc[kind.status_field] = final
                doc[kind.end_field] = doc["LastModifiedTime"] = now
                if final == "Failed":
                    doc["FailureReason"] = reason
                if "SecondaryStatus" in doc:
                    doc["SecondaryStatus"] = final
                return doc

            self.store.update(kind.store_kind, job_arn.rsplit("/", 1)[-1], change)
