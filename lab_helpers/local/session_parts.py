"""What the local-mode sessions of both SDKs share (:mod:`.session` for v2, :mod:`.session_v3` for v3).

It imports no SDK: each session passes in what of its SDK is needed.
"""

from ..config import LOCAL_WAIT_DELAY


def make_sdk_default(boto_session, telemetry_logging):
    """Make local mode the SDK's default too, for code that passes no session.

    The lesson's Step 4 builds ``Pipeline(name=..., steps=[...])`` with no ``sagemaker_session``;
    the SDK then makes a plain session, which takes ``boto3.DEFAULT_SESSION``.  Pointing that at the
    local boto session sends ``pipeline.upsert()``/``start()`` to the local control plane (instead of
    failing for want of an AWS region, or reaching AWS).  A plain session does not carry the kit's
    telemetry opt-out, so the SDK's usage ping (an HTTPS request, sent by ``telemetry_logging``: the
    SDK's module of that name) is skipped for every session whose boto session is a local one.
    """
    import boto3

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


def poll_local_executions_often(execution_class):
    """Make ``execution_class.wait`` (the SDK's pipeline execution) poll a local execution every 0.05 s, not 30 s.

    The SDK's waiter polls ``DescribePipelineExecution`` every ``delay`` seconds; for a pipeline that
    runs in seconds offline, 30 s would be most of the wait.  For local sessions the kit keeps the
    same total patience (``delay * max_attempts``) with a shorter delay; remote sessions are untouched.
    """
    import math

    original = execution_class.wait
    if getattr(original, "lab_local", False):
        return

    def wait(self, delay=30, max_attempts=60):
        if getattr(self.sagemaker_session, "lab_mode", None) == "local" and delay > LOCAL_WAIT_DELAY:
            max_attempts = int(math.ceil(delay * max_attempts / LOCAL_WAIT_DELAY))
            delay = LOCAL_WAIT_DELAY
        return original(self, delay=delay, max_attempts=max_attempts)

    wait.lab_local = True
    wait.__doc__ = original.__doc__
    execution_class.wait = wait


class LocalPaths:
    """A local session's way from an S3 URI to its local twin (mixed into both SDKs' local sessions)."""

    def local_path(self, s3_uri):
        """The local file (or folder) that is the twin of ``s3://bucket/key``."""
        if not s3_uri.startswith("s3://"):
            raise ValueError(f"{s3_uri!r} is not an s3:// URI")
        bucket, _, key = s3_uri[5:].partition("/")
        return self.cloud.s3.path_for(bucket, key)
