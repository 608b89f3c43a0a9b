"""The kit's offline AWS: the one place where local mode's services are built and wired together.

:class:`LocalCloud` owns, for one ``LAB_HOME`` and region, the local S3 folder, the control-plane
store, the job runtime, the pipeline engine and the APIs in front of them, and routes every
request of :meth:`LocalCloud.boto_session` to them in-process (:mod:`.wire`): S3, STS, SageMaker,
CloudWatch Logs, IAM and Lambda answer; any other service is refused with a clear error, so local mode makes
no network call and needs no credentials.

Layers, each importing only those below it::

    cloud            this module: builds everything, routes requests
    sagemaker/       the SageMaker API, the pipeline engine, the model registry
    lambdas/         Lambda: functions, invoked as confined processes
    jobs/            the job runtime: containers, processes, the sandbox, the path overlay, the AWS bridge
    images/          what each emulated container image runs
    s3/ sts logs iam the other emulated services
    wire/ store      botocore responses; the control-plane store
    errors ids       AWS errors; ids and ARNs
"""

import threading
from pathlib import Path

import boto3
import botocore.config

from .. import config
from . import sts
from .errors import LocalModeError
from .iam import IamApi
from .lambdas.api import LambdaApi
from .ids import Account
from .jobs.runtime import Runtime
from .logs import LogsApi
from .s3 import LocalS3
from .sagemaker.api import SageMakerApi
from .sagemaker.engine import Engine
from .sagemaker.registry import Registry
from .store import Store
from .wire import Router, query, restjson

__all__ = ["LocalCloud", "LocalModeError"]


def _print(line):
    print(line, flush=True)


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
        account = Account(self.account, region)
        self.s3 = LocalS3(self.home / "s3")
        self.store = Store(self.home / "control-plane.sqlite3")
        self.router = Router()  # answers the notebook's requests, and (through the runtime) those of job code
        self.runtime = Runtime(self.store, self.s3, self.home, account, lambda line: self.log_sink(line),
                               router=self.router)
        self.registry = Registry(self.store, account)
        self.engine = Engine(self.store, self.s3, self.runtime, self.registry, self.home, region)
        self.sagemaker = SageMakerApi(self.store, account, self.s3, self.engine, self.runtime, self.registry)
        self.logs = LogsApi(self.store, account)
        self.router.add("s3", self.s3.handle)
        self.router.add("sts", lambda request, operation: sts.handle(request, self.account))
        self.router.add_json("sagemaker", self.sagemaker)
        self.router.add_json("cloudwatch-logs", self.logs)
        self.iam = IamApi(self.store, self.account)
        self.router.add("iam", query.handler("iam", self.iam))
        self.lambdas = LambdaApi(self.store, self.s3, self.iam, self.runtime, self.home, account)
        self.router.add("lambda", restjson.handler("lambda", self.lambdas))
        self.engine.lambdas = self.lambdas  # LambdaStep invokes through it

    @classmethod
    def get(cls, home=None, region=None):
        """The one LocalCloud of this process for (LAB_HOME, region)."""
        home = Path(home) if home else config.lab_home()
        region = region or config.local_region()
        key = (str(home.resolve()), region)
        with cls._lock:
            if key not in cls._instances:
                cls._instances[key] = cls(home, region)
            return cls._instances[key]

    @property
    def default_bucket(self):
        """The SDK's default bucket name in the local account."""
        return f"sagemaker-{self.region}-{self.account}"

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
        botocore_session.register("before-send", self.router)
        # botocore calls every before-send hook (the first answer wins); a hook added to all
        # sessions (an emulator such as moto does that, via BUILTIN_HANDLERS) would also act on
        # local-mode requests, so a local session keeps only its own.
        from botocore.handlers import BUILTIN_HANDLERS

        for spec in BUILTIN_HANDLERS:
            if spec[0] == "before-send":
                botocore_session.unregister("before-send", spec[1])
        return session

