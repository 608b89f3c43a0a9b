"""The local-mode session under SageMaker Python SDK v3: v3's own ``PipelineSession``, on the kit's offline AWS.

The v2 twin is :mod:`.session`; this one takes v3's classes (``sagemaker.core.workflow.pipeline_context``)
and the same local cloud, whose AWS answers do not depend on the SDK.  v3's own ``LocalPipelineSession``
needs Docker; this session does not.
"""

from sagemaker.core.workflow.pipeline_context import PipelineSession

from ..config import LOCAL_SDK_CONFIG
from .session_parts import LocalPaths, make_sdk_default, poll_local_executions_often


def _make_sdk_default(boto_session):
    """Make local mode SDK v3's default too, for code that passes no session (see :func:`.make_sdk_default`)."""
    from sagemaker.core.telemetry import telemetry_logging

    make_sdk_default(boto_session, telemetry_logging)


def _poll_local_executions_often():
    """Make v3's ``PipelineExecution.wait`` poll a local execution often (see :func:`.poll_local_executions_often`)."""
    from sagemaker.mlops.workflow.pipeline import PipelineExecution

    poll_local_executions_often(PipelineExecution)


class LocalLabSession(LocalPaths, PipelineSession):
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

    def __repr__(self):
        return f"<LocalLabSession sdk=v3 region={self.boto_region_name} home={self.cloud.home}>"
