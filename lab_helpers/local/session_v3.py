"""The local-mode session under SageMaker Python SDK v3: v3's own ``PipelineSession``, on the kit's offline AWS.

The v2 twin is :mod:`.session`; this one takes v3's classes (``sagemaker.core.workflow.pipeline_context``)
and the same local cloud, whose AWS answers do not depend on the SDK.  v3's own ``LocalPipelineSession``
needs Docker; this session does not.
"""

from sagemaker.core.workflow.pipeline_context import PipelineSession

from ..config import LOCAL_SDK_CONFIG, LOCAL_WAIT_DELAY


def _make_sdk_default(boto_session):
    """Make the local boto session boto3's default, and skip v3's telemetry ping for local sessions."""
    import boto3
    from sagemaker.core.telemetry import telemetry_logging

    boto_session.lab_local = True
    boto3.DEFAULT_SESSION = boto_session
    original = telemetry_logging._send_telemetry_request
    if getattr(original, "lab_guarded", False):
        return

    def send(status, feature_list, session, *args, **kwargs):
        if getattr(getattr(session, "boto_session", None), "lab_local", False):
            return None  # local mode makes no network call
        return original(status, feature_list, session, *args, **kwargs)

    send.lab_guarded = True
    telemetry_logging._send_telemetry_request = send


def _poll_local_executions_often():
    """Make v3's ``PipelineExecution.wait`` poll a local execution every 0.05 s instead of every 30 s.

    v2's twin is :func:`lab_helpers.local.session._poll_local_executions_often`: the same total patience
    (``delay * max_attempts``) with a shorter delay, for local sessions only.
    """
    import math

    from sagemaker.mlops.workflow.pipeline import PipelineExecution

    original = PipelineExecution.wait
    if getattr(original, "lab_local", False):
        return

    def wait(self, delay=30, max_attempts=60):
        if getattr(self.sagemaker_session, "lab_mode", None) == "local" and delay > LOCAL_WAIT_DELAY:
            max_attempts = int(math.ceil(delay * max_attempts / LOCAL_WAIT_DELAY))
            delay = LOCAL_WAIT_DELAY
        return original(self, delay=delay, max_attempts=max_attempts)

    wait.lab_local = True
    wait.__doc__ = original.__doc__
    PipelineExecution.wait = wait


class LocalLabSession(PipelineSession):
    """SDK v3's ``PipelineSession`` whose AWS calls are answered in-process (see :mod:`lab_helpers.local.cloud`)."""

    lab_mode = "local"

    def __init__(self, cloud):
        import os

        # v3's ProcessingStep makes a throw-away plain boto3.Session() (to name a local-mode method) that
        # needs a region, as Studio's environment gives it; offline, the local cloud's region is that region.
        os.environ.setdefault("AWS_DEFAULT_REGION", cloud.region)
        _poll_local_executions_often()
        self.cloud = cloud
        self.lab_role_arn = cloud.role_arn
        boto_session = cloud.boto_session()
        _make_sdk_default(boto_session)
        super().__init__(boto_session=boto_session, sagemaker_config=LOCAL_SDK_CONFIG)

    def local_path(self, s3_uri):
        """The local file (or folder) that is the twin of ``s3://bucket/key``."""
        if not s3_uri.startswith("s3://"):
            raise ValueError(f"{s3_uri!r} is not an s3:// URI")
        bucket, _, key = s3_uri[5:].partition("/")
        return self.cloud.s3.path_for(bucket, key)

    def __repr__(self):
        return f"<LocalLabSession sdk=v3 region={self.boto_region_name} home={self.cloud.home}>"
