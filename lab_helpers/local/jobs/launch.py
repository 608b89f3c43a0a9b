"""Starting a job's process and following it: its log lines, its exit code, a stop.

A job runs as ``python -m lab_helpers.local.jobs.jobmain <spec.json>``: forked from the warm fork
server when there is one (:mod:`.forkclient`), else started cold.  ``python`` is the interpreter of
the image's own environment when the spec names one (:mod:`.imageenvs`; its warm server is shared
machine-wide), else the kit's.  Its output is the job's log: each
line goes to the control-plane store (CloudWatch Logs) and to the notebook as it comes.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..images import requirements
from . import aws_bridge, forkclient, imageenvs

PACKAGE_ROOT = str(Path(__file__).resolve().parents[3])


class JobStopped(Exception):
    """The job was stopped (StopPipelineExecution) while it ran."""


class Launcher:
    """Runs job processes; ``emit(group, stream, line)`` receives every line they print."""

    def __init__(self, emit):
        self.emit = emit
        self.forks = forkclient.shared() if forkclient.enabled() else None

    def warm_up(self):
        """Start the fork servers in the background (jobs are coming): the kit's, and the lesson's images' ones."""
        if self.forks is None:
            return
        self.forks.start()
        for repo, version in requirements.LESSON_IMAGES:
            python = imageenvs.for_image(repo, version, build=False).python
            if python:
                forkclient.for_python(python, {KIT_SITE_VAR: os.pathsep.join(imageenvs.kit_site_packages())}).start()

    def run(self, job_dir, spec, group, stream, should_stop=None):
        """Run the job process for ``spec``; returns (exit code, log lines).  JobStopped if stopped."""
        spec_path = job_dir / "spec.json"
        spec_path.write_text(json.dumps(spec, indent=1))
        python = spec.get("python") or sys.executable
        env = job_environment(spec.get("env", {}), python, spec.get("pip_target"))
        forks = self.forks
        if python != sys.executable:
            forks = forkclient.for_python(python, {KIT_SITE_VAR: env[KIT_SITE_VAR]}) if forkclient.enabled() else None
        lines = []

        def emit(line):
            lines.append(line)
            self.emit(group, stream, line)

        for note in spec.get("notes", []):
            emit(note)
        pid = None
        if forks is not None:
            log_path = job_dir / "output.log"
            pid = forks.launch([str(spec_path)], job_dir, env, log_path)
        if pid is not None:
            return self._follow_forked(forks, pid, log_path, emit, should_stop), lines
        return self._run_cold(python, spec_path, job_dir, env, emit, should_stop), lines

    def _run_cold(self, python, spec_path, job_dir, env, emit, should_stop):
        proc = subprocess.Popen(
            [python, "-m", "lab_helpers.local.jobs.jobmain", str(spec_path)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=str(job_dir), env=env, bufsize=1, text=True, errors="replace", start_new_session=True,
        )

        def pump():
            for line in proc.stdout:
                emit(line.rstrip("\n"))

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            while proc.poll() is None:
                if should_stop and should_stop():
                    terminate(proc.pid, proc.wait)
                    reader.join(5)
                    raise JobStopped()
                time.sleep(0.05)
        except BaseException:
            if proc.poll() is None:
                terminate(proc.pid, proc.wait)
            raise
        reader.join()
        return proc.returncode

    def _follow_forked(self, forks, pid, log_path, emit, should_stop):
        """Tail a forked job's log file until it exits; returns its exit code."""
        code = None
        position = 0
        pending = ""
        try:
            while True:
                if code is None:
                    code = forks.poll(pid)
                if log_path.exists():
                    with open(log_path, "r", errors="replace") as handle:
                        handle.seek(position)
                        chunk = handle.read()
                        position = handle.tell()
                    pending += chunk
                    *complete, pending = pending.split("\n")
                    for line in complete:
                        emit(line)
                if code is not None:
                    if pending:
                        emit(pending)
                    return code
                if should_stop and should_stop():
                    terminate(pid, lambda timeout: forks.wait_exit(pid, timeout))
                    raise JobStopped()
                time.sleep(0.02)
        except BaseException:
            if code is None:
                terminate(pid, lambda timeout: forks.wait_exit(pid, timeout))
            raise


#: the notebook's SDK config files and virtual environment are not the container's (a job's SDK loads its image's, as in AWS)
_NOTEBOOK_ONLY = ("SAGEMAKER_USER_CONFIG_OVERRIDE", "SAGEMAKER_ADMIN_CONFIG_OVERRIDE", "VIRTUAL_ENV")
#: where a job's Python finds the kit's site-packages, after its image's own (see jobsite.sitecustomize)
KIT_SITE_VAR = "LAB_KIT_SITE"


def job_environment(job_env, python=None, pip_target=None):
    """A job process's environment: the notebook's, less its AWS settings and SDK config paths, plus the job's own.

    ``PYTHONPATH`` starts with the bridge's ``sitecustomize`` folder (every Python process of the
    job answers AWS calls locally) and the kit; ``PATH`` starts with the job interpreter's folder, so
    ``python3`` and ``pip`` in a job are the job's Python, as in the image.  ``pip_target`` (a job
    that is not confined) is where its ``pip install`` goes, first on its ``PYTHONPATH``.
    """
    python = python or sys.executable
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in _NOTEBOOK_ONLY}
    env.update(job_env)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONSTARTUP", None)
    env["PYTHONPATH"] = os.pathsep.join([aws_bridge.SITE_DIR, PACKAGE_ROOT] + ([pip_target] if pip_target else []) + (
        [env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    if pip_target:
        env["PIP_TARGET"] = pip_target
    env["PATH"] = os.pathsep.join([os.path.dirname(python)] + ([env["PATH"]] if env.get("PATH") else []))
    env[KIT_SITE_VAR] = os.pathsep.join(imageenvs.kit_site_packages()) if python != sys.executable else ""
    return env


def terminate(pid, wait):
    """SIGTERM the job's process group (as `docker stop` does), SIGKILL after 10 s."""
    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            if wait(timeout=grace) is not None:
                return
        except subprocess.TimeoutExpired:
            continue


def failure_reason(job_dir, code, lines, prefix="AlgorithmError"):
    """The FailureReason of a job that exited with ``code``: what it wrote, else its last log lines."""
    reason_file = job_dir / "failure-reason"
    failure = job_dir / "container" / "opt" / "ml" / "output" / "failure"
    for f in (failure, reason_file):
        if f.exists() and f.read_text().strip():
            text = f.read_text().strip()
            if text.startswith(("ClientError", "AlgorithmError")):
                return text[:1024]
            return f"{prefix}: {text} (exit code {code})"[:1024]
    tail = " | ".join(l for l in lines[-3:] if l.strip())
    if not tail:
        return f"{prefix}: the job's process exited with code {code} without writing a log line."
    return f"{prefix}: the job's process exited with code {code}. Last log lines: {tail}"[:1024]
