"""The local-mode session: the SDK's own ``PipelineSession``, wired to the kit's offline AWS."""

from sagemaker.workflow.pipeline_context import PipelineSession

from ..config import LOCAL_SDK_CONFIG
from .images import remote_function
from .session_parts import LocalPaths, make_sdk_default, poll_local_executions_often


def _memoize_config_validation():
    """Validate an SDK config once, not on every lookup.

    The SDK re-validates ``sagemaker_config`` against its JSON schema on each of the ~100
    config lookups a pipeline build makes (about 0.3 s each).  Validation depends only on
    the config's content, so caching its result changes nothing but the time.
    """
    import json

    import sagemaker.utils as sdk_utils

    original = sdk_utils.validate_sagemaker_config
    if getattr(original, "lab_memoized", False):
        return
    seen = set()

    def validate(config=None):
        key = json.dumps(config, sort_keys=True, default=str)
        if key not in seen:
            original(config)
            seen.add(key)

    validate.lab_memoized = True
    sdk_utils.validate_sagemaker_config = validate


def _make_sdk_default(boto_session):
    """Make local mode SDK v2's default too, for code that passes no session (see :func:`.make_sdk_default`)."""
    from sagemaker.telemetry import telemetry_logging

    make_sdk_default(boto_session, telemetry_logging)


def _poll_local_executions_often():
    """Make v2's ``_PipelineExecution.wait`` poll a local execution often (see :func:`.poll_local_executions_often`)."""
    from sagemaker.workflow.pipeline import _PipelineExecution

    poll_local_executions_often(_PipelineExecution)


def _merged(defaults, config):
    """``config`` laid over ``defaults``, dict by dict (what ``config`` sets wins)."""
    merged = dict(defaults)
    for key, value in (config or {}).items():
        merged[key] = _merged(merged[key], value) if isinstance(value, dict) and isinstance(
            merged.get(key), dict) else value
    return merged


def _apply_local_sdk_defaults():
    """Give every SDK session on a local boto session the kit's SDK defaults, under the learner's own.

    A session made without ``sagemaker_config`` loads the SDK's config files (``SAGEMAKER_USER_CONFIG_OVERRIDE``,
    ``~/.config/sagemaker/config.yaml``: AWS's ``@step`` examples set ``RemoteFunction.InstanceType`` there);
    the kit's defaults (:func:`local_sdk_config`) fill what they leave unset.  That covers the plain
    ``sagemaker.Session()`` the SDK makes for a ``Pipeline`` given no session.  Remote sessions are untouched.
    """
    from sagemaker.session import Session

    original = Session._initialize
    if getattr(original, "lab_local", False):
        return

    def _initialize(self, *args, **kwargs):
        original(self, *args, **kwargs)
        defaults = getattr(self.boto_session, "lab_sdk_defaults", None)
        if defaults:
            self.sagemaker_config = _merged(defaults, self.sagemaker_config)

    _initialize.lab_local = True
    Session._initialize = _initialize


def local_sdk_config(region, role_arn):
    """The SDK defaults local mode installs: :data:`LOCAL_SDK_CONFIG` plus the ``@step``/``@remote`` defaults.

    ``RemoteFunction.ImageUri`` is SageMaker's base Python image of the region (the SDK picks that image
    only on Python 3.8 and 3.10; the kit runs it on its own Python, see :mod:`.images.remote_function`);
    ``RemoteFunction.RoleArn`` is the local role's full ARN, so the SDK needs no IAM look-up for it.
    A function's own ``image_uri``/``role`` still win, as with any SDK default.
    """
    modules = dict(LOCAL_SDK_CONFIG["SageMaker"]["PythonSDK"]["Modules"])
    modules["RemoteFunction"] = {"ImageUri": remote_function.image_uri(region), "RoleArn": role_arn}
    return {**LOCAL_SDK_CONFIG, "SageMaker": {"PythonSDK": {"Modules": modules}}}


class LocalLabSession(LocalPaths, PipelineSession):
    """A ``PipelineSession`` whose AWS calls are answered in-process (see :mod:`lab_helpers.local.cloud`).

    Use it wherever the lesson uses ``PipelineSession()`` or ``LocalPipelineSession()``:
    estimators, processors, models and steps take it as ``sagemaker_session``, and
    ``pipeline.upsert()`` / ``pipeline.start()`` run the pipeline offline.  Because it is a
    real ``PipelineSession``, the SDK takes the same code path it takes in Studio: the same
    pipeline definition, the same S3 URIs, the same API calls.
    """

    lab_mode = "local"

    def __init__(self, cloud):
        _memoize_config_validation()
        _poll_local_executions_often()
        self.cloud = cloud
        self.lab_role_arn = cloud.role_arn
        _apply_local_sdk_defaults()
        boto_session = cloud.boto_session()
        boto_session.lab_sdk_defaults = local_sdk_config(cloud.region, cloud.role_arn)
        _make_sdk_default(boto_session)
        super().__init__(boto_session=boto_session)  # the learner's SDK config files, over the kit's defaults

    def __repr__(self):
        return f"<LocalLabSession region={self.boto_region_name} home={self.cloud.home}>"
