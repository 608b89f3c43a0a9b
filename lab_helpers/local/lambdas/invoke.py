"""Running one invocation of a local Lambda function: a confined host process, like a job's.

Each ``Invoke`` gets a folder ``LAB_HOME/lambda/<function>/invocations/<request id>/`` with the
function's code unpacked in ``task/`` (the function's ``/var/task``), and runs the emulated Python
runtime (:mod:`lab_helpers.local.images.lambda_python`) through the job runtime's launcher: the
same job process (warm from the fork server when there is one), the same sandbox (no network, the
host read-only, ``LAB_HOME`` hidden, a private ``/tmp``), the same AWS bridge (boto3 in the handler
reaches the kit's local services), its output going to CloudWatch Logs as
``/aws/lambda/<function>``.  The timeout is enforced inside the process (the runtime ends the
invocation) and, should that fail, from outside (the process group is killed).
"""

import base64
import json
import os
import shutil
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from typing import List, Optional

from ..jobs import aws_bridge, sandbox
from ..jobs.launch import JobStopped
from ..images.lambda_python import TASK_ROOT, error_payload

#: Seconds a process may take to start before the timeout counted from outside ends it.
START_ALLOWANCE = 15.0
#: Lambda returns at most the last 4 KB of the log with ``LogType: Tail``.
TAIL_BYTES = 4096


@dataclass
class Invocation:
    """What one invocation returned: the handler's response, or Lambda's error payload; its log lines."""

    request_id: str
    response: object = None
    error: Optional[dict] = None
    log: List[str] = field(default_factory=list)

    @property
    def payload(self):
        """The Invoke response's Payload bytes."""
        return json.dumps(self.error if self.error is not None else self.response).encode("utf-8")

    def log_tail(self):
        """``LogResult``: the base64 of the log's last 4 KB."""
        text = "\n".join(self.log) + "\n"
        return base64.b64encode(text.encode("utf-8")[-TAIL_BYTES:]).decode("ascii")


def function_environment(configuration, region, log_stream):
    """The variables Lambda sets for a Python function, then the function's own."""
    name = configuration["FunctionName"]
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": configuration.get("Version", "$LATEST"),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(configuration.get("MemorySize", 128)),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{configuration.get('Runtime', 'python3')}",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "LAMBDA_TASK_ROOT": TASK_ROOT,
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "_HANDLER": configuration["Handler"],
        "TZ": ":UTC",
    }
    env.update((configuration.get("Environment") or {}).get("Variables") or {})
    return env


class Invoker:
    """Runs invocations with a job runtime's launcher and AWS bridge."""

    def __init__(self, runtime, folder, region):
        self.runtime = runtime
        self.folder = folder
        self.region = region

    def run(self, configuration, code_zip, event_text):
        """Invoke the function once with ``event_text`` (JSON); returns an :class:`Invocation`."""
        request_id = str(uuid.uuid4())
        name = configuration["FunctionName"]
        log_stream = time.strftime("%Y/%m/%d/[$LATEST]", time.gmtime()) + uuid.uuid4().hex
        where = self.folder / name / "invocations" / request_id
        task, interface = where / "task", where / "runtime"
        task.mkdir(parents=True)
        interface.mkdir()
        result = interface / "result.json"
        invocation = Invocation(request_id)
        try:
            with zipfile.ZipFile(code_zip) as archive:
                archive.extractall(task)
            spec = {"kind": "lambda", "handler": configuration["Handler"], "event": event_text,
                    "request_id": request_id, "configuration": configuration,
                    "mapping": {"/opt/ml": str(interface), TASK_ROOT: str(task)},
                    "host": {"result": str(result), "task": str(task)}}
            socket = self.runtime.bridge.start() if self.runtime.bridge is not None else None
            problem = self.runtime.bridge.problem if self.runtime.bridge is not None else "no AWS bridge here"
            spec["env"] = {**aws_bridge.environment(self.region, socket, problem),
                           **function_environment(configuration, self.region, log_stream)}
            if sandbox.enabled() and sandbox.available()[0]:
                spec["sandbox"] = sandbox.plan(where, self.runtime.home, socket)
            deadline = time.monotonic() + float(configuration.get("Timeout", 3)) + START_ALLOWANCE
            try:
                code, invocation.log = self.runtime.launcher.run(
                    where, spec, f"/aws/lambda/{name}", log_stream, should_stop=lambda: time.monotonic() > deadline)
            except JobStopped:
                invocation.error = error_payload(
                    "Sandbox.Timedout", f"RequestId: {request_id} Error: Task timed out after "
                                        f"{float(configuration.get('Timeout', 3)):.2f} seconds", request_id)
                return invocation
            if result.exists():
                outcome = json.loads(result.read_text())
                invocation.response, invocation.error = outcome.get("response"), outcome.get("error")
            else:
                invocation.error = error_payload(
                    "Runtime.ExitError", f"RequestId: {request_id} Error: Runtime exited with error: exit status "
                                         f"{code}", request_id)
            return invocation
        finally:
            sandbox.tidy(where)
            shutil.rmtree(where, ignore_errors=True)
            _remove_empty(where.parent)


def _remove_empty(folder):
    try:
        os.rmdir(folder)
    except OSError:
        pass
