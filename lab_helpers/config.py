"""Where the kit keeps things, and which mode it runs in.

A learner asks: "Where does my data go in local mode?"  Everything the kit's local
mode creates lives under one folder, ``LAB_HOME`` (default ``~/.sagemaker-lab``):

    LAB_HOME/s3/<bucket>/<key>     the local twin of s3://<bucket>/<key>
    LAB_HOME/control-plane.sqlite3 pipelines, executions, jobs, models, the model registry
    LAB_HOME/jobs/<job name>/      each job's private /opt/ml folder and its logs

Delete that folder (or run notebook 09) and local mode starts from nothing.
"""

import os
from pathlib import Path

#: Fake, obviously-local account id used by local mode (never a real account).
LOCAL_ACCOUNT_ID = "000000000000"
#: Region local mode pretends to be in unless LAB_REGION / AWS_REGION says otherwise.
DEFAULT_LOCAL_REGION = "us-east-1"
#: The execution role local mode hands to the SDK (nothing checks it offline).
LOCAL_ROLE_NAME = "LabLocalExecutionRole"
#: The S3 key prefix under the default bucket that the kit writes to, in both modes.
LAB_PREFIX = "pipelines-lab"

MODES = ("local", "remote")
#: The Jupyter kernel ``python3 kit.py setup`` registers: the kit's own environment, with SDK 2.x (the v2 track).
KIT_KERNEL = "Lesson 7.1 – SageMaker SDK 2.x"
#: The kernel ``python3 kit.py setup --sdk 3`` registers: the v3 track's environment (``.venv-sdk3``), with SDK 3.x.
KIT_KERNEL_V3 = "Lesson 7.1 – SageMaker SDK 3.x"

#: How often ``execution.wait()`` polls a local execution, in seconds (AWS's default is every 30 s).
LOCAL_WAIT_DELAY = 0.05

#: SDK defaults for local mode: telemetry off (the SDK would otherwise send usage pings).
LOCAL_SDK_CONFIG = {
    "SchemaVersion": "1.0",
    "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
}


def lab_home() -> Path:
    """The folder holding everything local mode creates (``LAB_HOME``, default ``~/.sagemaker-lab``)."""
    home = os.environ.get("LAB_HOME")
    return Path(home).expanduser() if home else Path.home() / ".sagemaker-lab"


def in_studio() -> bool:
    """True inside SageMaker Studio (or a notebook instance), where AWS writes this metadata file."""
    return os.path.exists("/opt/ml/metadata/resource-metadata.json")


def resolve_mode(mode=None) -> str:
    """The mode to run in: the argument, else ``LAB_MODE``, else remote in Studio and local elsewhere."""
    chosen = mode or os.environ.get("LAB_MODE") or ("remote" if in_studio() else "local")
    chosen = str(chosen).strip().lower()
    if chosen not in MODES:
        source = "mode argument" if mode else "LAB_MODE environment variable"
        raise ValueError(
            f"{source} is {chosen!r}, which is not a mode of this kit. "
            "Use 'local' (offline, no AWS account needed) or 'remote' (your AWS account), "
            "e.g. `export LAB_MODE=local`."
        )
    return chosen


def local_region() -> str:
    """Region local mode reports: LAB_REGION, else AWS_REGION / AWS_DEFAULT_REGION, else us-east-1."""
    return (
        os.environ.get("LAB_REGION")
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or DEFAULT_LOCAL_REGION
    )
