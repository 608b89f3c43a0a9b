"""Sessions: the one switch between local (offline) and remote (your AWS account) mode.

The lesson's notebooks get everything account-specific from here, so nothing in them
names an account, a role or a bucket:

    sess = lab_helpers.session()          # LAB_MODE, else remote in Studio / local elsewhere
    role = lab_helpers.execution_role(sess)
    bucket = sess.default_bucket()
"""

import os

from . import config

_ROLE_HELP = (
    "No SageMaker execution role found. SageMaker jobs run as an IAM role, and outside SageMaker "
    "Studio the kit cannot discover it. Set LAB_ROLE_ARN to the role's ARN, e.g. "
    "`export LAB_ROLE_ARN=arn:aws:iam::<your-account-id>:role/<your-SageMaker-execution-role>` "
    "(IAM console > Roles; the role needs the AmazonSageMakerFullAccess policy), or run the "
    "notebook in SageMaker Studio, or use local mode (LAB_MODE=local)."
)


class LabSetupError(RuntimeError):
    """Something the chosen mode needs is missing; the message says how to fix it."""


class _AtLeast:
    """A logger filter passing records of ``level`` and above: it holds even if the SDK resets the logger's level."""

    def __init__(self, level):
        self.level = level

    def filter(self, record):
        return record.levelno >= self.level


def quiet_sdk():
    """Silence the SDK's v2 deprecation banner and its routine log lines (local mode; either SDK)."""
    import logging
    import warnings

    from .sdk import routine_loggers

    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    if os.environ.get("LAB_SDK_LOGS") == "1":
        return
    for name, level in routine_loggers().items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        if not any(isinstance(f, _AtLeast) for f in logger.filters):
            logger.addFilter(_AtLeast(logging.getLevelName(level)))
    warnings.filterwarnings("ignore", message="Running within a PipelineSession", category=UserWarning)


def _restore_ipython_tracebacks():
    """Undo the rich traceback hook that importing the SDK installs in Jupyter.

    With it, every error - an exercise stub's ``NotImplementedError`` included - shows as a boxed
    display that hides the error's name from learners and from papermill/nbval.
    """
    import sys

    if getattr(sys.excepthook, "__module__", "").startswith("rich"):
        sys.excepthook = sys.__excepthook__
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        for name in ("_showtraceback", "showtraceback", "showsyntaxerror"):
            shell.__dict__.pop(name, None)  # rich set these on the instance; the class methods remain


def session(mode=None):
    """A SageMaker ``PipelineSession`` for the chosen mode.

    ``"local"``: offline - no Docker, no AWS account, no network.  The session is a real
    ``PipelineSession`` (so every SDK call takes the same code path as in Studio), whose AWS
    calls are answered in-process by the kit: S3 is the folder ``LAB_HOME/s3``, and jobs and
    pipelines run as host processes.  ``"remote"``: your AWS account (SageMaker Studio, or
    credentials and region from the environment).  With no argument the mode comes from
    ``LAB_MODE``, else it is remote inside SageMaker Studio and local elsewhere.
    """
    chosen = config.resolve_mode(mode)
    sess = local_session() if chosen == "local" else remote_session()
    _restore_ipython_tracebacks()
    _show_whole_cells()
    return sess


def _show_whole_cells():
    """In a notebook, let pandas tables show whole S3 URIs and failure reasons (not cut at 50 characters)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    if get_ipython() is not None:
        import pandas as pd

        pd.set_option("display.max_colwidth", None)


def local_session(home=None, region=None):
    """The offline session (see :func:`session`)."""
    quiet_sdk()
    # Without credentials botocore would ask the EC2 metadata service for some (a network call
    # that waits out a timeout off EC2); local mode never needs them.
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    from . import sdk
    from .local.cloud import LocalCloud

    if sdk.is_v3():
        from .local.session_v3 import LocalLabSession
    else:
        from .local.session import LocalLabSession

    cloud = LocalCloud.get(home, region)
    return LocalLabSession(cloud)


def remote_session():
    """A ``PipelineSession`` for your AWS account, with role and bucket resolved (or a clear error)."""
    import boto3

    boto_session = boto3.Session()
    if boto_session.region_name is None and os.environ.get("AWS_REGION"):
        boto_session = boto3.Session(region_name=os.environ["AWS_REGION"])  # boto3 reads AWS_DEFAULT_REGION only
    if boto_session.region_name is None:
        raise LabSetupError(
            "No AWS region is configured. Set one, e.g. `export AWS_DEFAULT_REGION=us-east-1` (or "
            "`aws configure`), or run in SageMaker Studio, where it is set for you."
        )
    if boto_session.get_credentials() is None:
        raise LabSetupError(
            "No AWS credentials found. Run `aws configure` (or set AWS_PROFILE / AWS_ACCESS_KEY_ID), "
            "or run in SageMaker Studio - or use local mode: `export LAB_MODE=local`."
        )
    from .sdk import sdk_class

    sess = sdk_class("PipelineSession")(boto_session=boto_session, default_bucket=os.environ.get("LAB_BUCKET") or None)
    sess.lab_mode = "remote"
    sess.lab_role_arn = _remote_role(sess)
    return sess


def _remote_role(sess):
    role = os.environ.get("LAB_ROLE_ARN")
    if role:
        if not role.startswith("arn:aws") or ":role/" not in role:
            raise LabSetupError(f"LAB_ROLE_ARN is {role!r}, which is not an IAM role ARN. {_ROLE_HELP}")
        return role
    if config.in_studio():
        from .sdk import sdk_class

        try:
            return sdk_class("get_execution_role")(sess)
        except ValueError as exc:
            raise LabSetupError(f"{_ROLE_HELP} (SageMaker said: {exc})") from None
    raise LabSetupError(_ROLE_HELP)


def execution_role(sess):
    """The IAM role ARN jobs and pipelines run as in this session's mode."""
    role = getattr(sess, "lab_role_arn", None)
    if role:
        return role
    return _remote_role(sess)


def mode_of(sess):
    """'local' or 'remote'."""
    return getattr(sess, "lab_mode", "remote")
