"""The kit's offline AWS: one object that answers every AWS call local mode makes.

:class:`LocalCloud` owns the local S3 folder, the control-plane store, the SageMaker API
emulation, the pipeline engine and the job runtime.  :meth:`LocalCloud.boto_session` gives
a real ``boto3.Session`` whose requests never leave the process: a ``before-send`` handler
answers them (S3, STS, SageMaker, CloudWatch Logs) and refuses any other service with a
clear error, so local mode makes no network call and needs no credentials.
"""

import json
import sys
import threading
from pathlib import Path

import boto3
import botocore.config

from .. import config
from . import wire
from .engine import Engine
from .runtime import LOG_GROUPS, Runtime
from .s3 import LocalS3, sts_handle
from .sagemaker_api import ApiError, SageMakerApi
from .store import Store


class LocalModeError(RuntimeError):
    """A call local mode cannot serve (an AWS service it does not emulate)."""


def _print(line):
    print(line, flush=True)


class LogsApi:
    """CloudWatch Logs, as much as reading job logs needs (``DescribeLogStreams``, ``GetLogEvents``)."""

    def __init__(self, cloud):
        self.cloud = cloud

    def call(self, operation, p):
        store = self.cloud.store
        if operation == "DescribeLogStreams":
            group = p["logGroupName"]
            if group not in LOG_GROUPS.values():
                raise ApiError("ResourceNotFoundException", "The specified log group does not exist.")
            streams = store.log_streams(group, p.get("logStreamNamePrefix", ""))
            if p.get("descending"):
                streams.reverse()
            limit = int(p.get("limit", 50))
            start = int(p.get("nextToken") or 0)
            page = streams[start:start + limit]
            out = {"logStreams": [{
                "logStreamName": s["stream"],
                "creationTime": s["first"], "firstEventTimestamp": s["first"],
                "lastEventTimestamp": s["last"], "lastIngestionTime": s["last"],
                "arn": f"arn:aws:logs:{self.cloud.region}:{self.cloud.account}:log-group:{group}:log-stream:{s['stream']}",
            } for s in page]}
            if start + limit < len(streams):
                out["nextToken"] = str(start + limit)
            return out
        if operation == "GetLogEvents":
            token = p.get("nextToken") or "f/0"
            after = int(token.split("/", 1)[1]) if token.startswith("f/") else 0
            events = store.log_events(p["logGroupName"], p["logStreamName"], after, int(p.get("limit", 10000)))
            if p.get("startTime"):
                events = [e for e in events if e["ts"] >= int(p["startTime"])]
            last = events[-1]["seq"] if events else after
            return {
                "events": [{"timestamp": e["ts"], "message": e["message"], "ingestionTime": e["ts"]} for e in events],
                "nextForwardToken": f"f/{last}",
                "nextBackwardToken": f"b/{after}",
            }
        raise ApiError("NotImplemented", f"CloudWatch Logs {operation} is not emulated by the kit's local mode.", 501)


class LocalCloud:
    """Everything local mode emulates, for one LAB_HOME and region."""

    _instances = {}
    _lock = threading.Lock()

    def __init__(self, home, region):
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.region = region
        self.account = config.LOCAL_ACCOUNT_ID
        self.role_arn = f"arn:aws:iam::{self.account}:role/{config.LOCAL_ROLE_NAME}"
        self.log_sink = _print
        self.s3 = LocalS3(self.home / "s3")
        self.store = Store(self.home / "control-plane.sqlite3")
        self.sagemaker = SageMakerApi(self)
        self.logs = LogsApi(self)
        self.runtime = Runtime(self)
        self.engine = Engine(self)

    def warm_up(self):
        """Start the fork server in the background (pipeline created: jobs are coming)."""
        if self.runtime.forks is not None:
            self.runtime.forks.start()

    @classmethod
    def get(cls, home=None, region=None):
        home = Path(home) if home else config.lab_home()
        region = region or config.local_region()
        key = (str(home.resolve()), region)
        with cls._lock:
            if key not in cls._instances:
                cls._instances[key] = cls(home, region)
            return cls._instances[key]

    @property
    def default_bucket(self):
        return f"sagemaker-{self.region}-{self.account}"

    # -- the wire -----------------------------------------------------------------------
    def boto_session(self):
        """A boto3 Session whose every request is answered here, in-process."""
        session = boto3.Session(
            aws_access_key_id="local-mode",
            aws_secret_access_key="local-mode",
            aws_session_token=None,
            region_name=self.region,
        )
        botocore_session = session._session
        botocore_session.set_default_client_config(
            botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})
        )
        botocore_session.register("before-send", self.handle)
        # botocore calls every before-send hook (the first answer wins); a hook added to all
        # sessions (an emulator such as moto does that, via BUILTIN_HANDLERS) would also act on
        # local-mode requests, so a local session keeps only its own.
        from botocore.handlers import BUILTIN_HANDLERS

        for spec in BUILTIN_HANDLERS:
            if spec[0] == "before-send":
                botocore_session.unregister("before-send", spec[1])
        return session

    def handle(self, request, event_name=None, **_):
        parts = (event_name or "").split(".")
        service = parts[1] if len(parts) > 1 else "?"
        operation = parts[2] if len(parts) > 2 else "?"
        if service == "s3":
            return self.s3.handle(request)
        if service == "sts":
            return sts_handle(request, self.account)
        if service in ("sagemaker", "cloudwatch-logs"):
            api = self.sagemaker if service == "sagemaker" else self.logs
            body = request.body or b"{}"
            if hasattr(body, "read"):
                body = body.read()
            params = json.loads(body or b"{}")
            try:
                return wire.json_response(request.url, api.call(operation, params))
            except ApiError as exc:
                return wire.json_error(request.url, exc.code, exc.message, exc.status)
        raise LocalModeError(
            f"Local mode has no emulation of the AWS service '{service}' (operation {operation}), and it "
            "never calls AWS. Run this in remote mode (LAB_MODE=remote) with your AWS account, or skip this cell."
        )


def lab_log_sink_to_stderr(cloud):
    """Send job logs to stderr (used by the CLI's --json mode so stdout stays machine-readable)."""
    cloud.log_sink = lambda line: print(line, file=sys.stderr, flush=True)
