"""The AWS Lambda Python runtime, emulated: the one place where the kit calls a Lambda handler.

:func:`call_handler` calls ``handler(event, context)`` as Lambda's Python runtime does: with a
:class:`LambdaContext`, the function's environment variables, the result marshalled to JSON, and an
error turned into the payload Lambda returns (``errorMessage``, ``errorType``, ``requestId``,
``stackTrace``).  Both ways the kit runs a handler go through it:

* :func:`run` - the local Lambda service's ``Invoke`` (:mod:`lab_helpers.local.lambdas`): in a job
  process of its own (confined like a job: no network, its own ``/tmp``, the host read-only), it
  loads ``module.function`` from the function's code, logs ``START``/``END``/``REPORT`` lines, enforces
  the timeout and writes the outcome for the service to read;
* :class:`lab_helpers.automation.offline.OfflineAutomation` - the automation handler called in the
  notebook's process, with clients the kit injects.

Standard library only, Python 3.9+: it runs inside job processes.
"""

import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid

#: Where the function's code is, as in Lambda.
TASK_ROOT = "/var/task"


class LambdaContext:
    """The ``context`` argument Lambda passes: the attributes and the method a handler usually reads."""

    def __init__(self, configuration, request_id=None, log_stream=None):
        self.function_name = configuration["FunctionName"]
        self.function_version = configuration.get("Version", "$LATEST")
        self.invoked_function_arn = configuration["FunctionArn"]
        self.memory_limit_in_mb = int(configuration.get("MemorySize", 128))
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = log_stream or time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + float(configuration.get("Timeout", 3))

    def get_remaining_time_in_millis(self):
        """Milliseconds left before the function's timeout (as Lambda's context says)."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def error_payload(error_type, message, request_id, stack=None):
    """The payload Lambda returns for a failed invocation."""
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack or []}


def _from_exception(exc, request_id, skip=1):
    frames = traceback.extract_tb(exc.__traceback__)[skip:]  # not the runtime's own frame
    return error_payload(type(exc).__name__, str(exc), request_id, traceback.format_list(frames))


def call_handler(handler, event, context, environment=None):
    """Call ``handler(event, context)`` as Lambda does: ``(response, None)`` or ``(None, error payload)``.

    ``environment`` (the function's variables) is set for the call and restored after it; the
    response is marshalled through JSON, as Lambda returns it.
    """
    saved = {name: os.environ.get(name) for name in environment or {}}
    os.environ.update(environment or {})
    try:
        try:
            response = handler(event, context)
        except Exception as exc:  # noqa: BLE001 - the function's error is its result
            return None, _from_exception(exc, context.aws_request_id)
        try:
            return json.loads(json.dumps(response)), None
        except (TypeError, ValueError) as exc:
            return None, error_payload("Runtime.MarshalError", f"Unable to marshal response: {exc}",
                                       context.aws_request_id)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def load_handler(name, task_root, request_id):
    """The function ``module.function`` names in ``task_root``: ``(handler, None)`` or ``(None, error payload)``."""
    module_name, _, function = name.rpartition(".")
    if not module_name or not function:
        return None, error_payload("Runtime.MalformedHandlerName",
                                   f"Bad handler '{name}': not enough values to unpack (expected 2, got 1)",
                                   request_id)
    if task_root not in sys.path:
        sys.path.insert(0, task_root)
    try:
        import importlib

        module = importlib.import_module(module_name.replace("/", "."))
    except Exception as exc:  # noqa: BLE001 - reported as Lambda reports it
        return None, error_payload("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}",
                                   request_id)
    handler = getattr(module, function, None)
    _shown_root[0] = _code_root(module, task_root)
    if handler is None:
        return None, error_payload("Runtime.HandlerNotFound",
                                   f"Handler '{function}' missing on module '{module_name}'", request_id)
    return handler, None


_shown_root = [None]  # where the function's code really is, when that is not its task root (a confined job's view)


def _code_root(module, task_root):
    """The folder the handler's module was imported from, if it differs from ``task_root``."""
    path = getattr(module, "__file__", None) or ""
    depth = module.__name__.count(".") + (1 if os.path.basename(path).startswith("__init__.") else 0)
    root = os.path.dirname(path)
    for _ in range(depth):
        root = os.path.dirname(root)
    return root if root and root != task_root else None


def _as_task_paths(lines, task_root):
    """Stack trace lines naming the function's files under ``task_root``, as Lambda shows them."""
    real = _shown_root[0]
    return [line.replace(real + os.sep, task_root.rstrip("/") + "/") for line in lines] if real else lines


class _LogFormatter(logging.Formatter):
    def __init__(self, request_id):
        super().__init__()
        self.request_id = request_id

    def format(self, record):
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        return f"[{record.levelname}]\t{stamp}\t{self.request_id}\t{record.getMessage()}"


def _write(path, outcome):
    with open(path + ".part", "w") as handle:
        json.dump(outcome, handle)
    os.replace(path + ".part", path)


def run(spec):
    """In the invocation's process: call the function's handler with the event; write the outcome; exit code."""
    request_id = spec["request_id"]
    configuration = spec["configuration"]
    result_path = spec["host"]["result"]
    task_root = spec["host"].get("task") or TASK_ROOT
    timeout = float(configuration.get("Timeout", 3))
    started = time.monotonic()
    print(f"START RequestId: {request_id} Version: {configuration.get('Version', '$LATEST')}", flush=True)

    def report():
        took = (time.monotonic() - started) * 1000
        print(f"END RequestId: {request_id}", flush=True)
        print(f"REPORT RequestId: {request_id}\tDuration: {took:.2f} ms\tBilled Duration: {int(took) + 1} ms\t"
              f"Memory Size: {configuration.get('MemorySize', 128)} MB", flush=True)

    def expire():  # the timeout: whatever the handler does, the invocation ends here
        message = f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
        _write(result_path, {"error": error_payload("Sandbox.Timedout", message, request_id)})
        print(f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime())}Z {request_id} Task timed out after "
              f"{timeout:.2f} seconds", flush=True)
        report()
        sys.stderr.flush()
        os._exit(0)

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    root = logging.getLogger()
    stream = logging.StreamHandler(sys.stdout)
    stream.setFormatter(_LogFormatter(request_id))
    root.addHandler(stream)
    os.chdir(task_root)
    handler, error = load_handler(spec["handler"], task_root, request_id)
    response = None
    if error is None:
        timer.start()
        context = LambdaContext(configuration, request_id, os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME"))
        response, error = call_handler(handler, json.loads(spec["event"]), context)
        timer.cancel()
    if error is not None:
        error["stackTrace"] = _as_task_paths(error["stackTrace"], TASK_ROOT)
        print(f"[ERROR] {error['errorType']}: {error['errorMessage']}", flush=True)
        for line in error["stackTrace"]:
            print(line.rstrip("\n"), flush=True)
    sys.stdout.flush()
    _write(result_path, {"error": error} if error is not None else {"response": response})
    report()
    return 0
