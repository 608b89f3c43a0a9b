"""S3's error responses: :class:`S3Error` and the errors several operations raise alike."""

from __future__ import annotations

__all__ = ["S3Error", "no_such_bucket", "no_such_key", "no_such_upload", "not_representable", "outside_root",
           "precondition_failed"]


class S3Error(Exception):
    """An S3 error response: ``code`` and ``message`` as AWS spells them, HTTP ``status``."""

    def __init__(self, code: str, message: str, status: int = 400, headers: dict | None = None, **fields):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.headers = dict(headers or {})
        self.fields = fields  # extra <Error> children, e.g. Key=..., BucketName=...


def no_such_bucket(bucket) -> S3Error:
    """``NoSuchBucket`` (404) for ``bucket``."""
    return S3Error("NoSuchBucket", "The specified bucket does not exist", 404, BucketName=bucket)


def no_such_key(key) -> S3Error:
    """``NoSuchKey`` (404) for ``key``."""
    return S3Error("NoSuchKey", "The specified key does not exist.", 404, Key=key)


def no_such_upload(upload_id) -> S3Error:
    """``NoSuchUpload`` (404) for a multipart upload id."""
    return S3Error(
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, "
        "or the upload may have been aborted or completed.",
        404,
        UploadId=upload_id,
    )


def not_representable(key, reason) -> S3Error:
    """``InvalidArgument`` for a key that local mode cannot keep as a file, saying why."""
    return S3Error(
        "InvalidArgument",
        f"Key '{key}' cannot be stored by the kit's local S3: {reason}. "
        "In local mode every object is the file <bucket>/<key>, so a key must be a valid "
        "relative file path.",
        400,
        ArgumentName="key",
        ArgumentValue=key,
    )


def outside_root(what, real, root) -> S3Error:
    """``AccessDenied`` for a path that a symbolic link leads out of the local S3 folder."""
    return S3Error("AccessDenied", f"{what} leads to {real} through a symbolic link, outside the local S3 folder "
                   f"{root}; local mode does not follow links out of LAB_HOME/s3. Remove the link or put the "
                   "file itself in the bucket folder.", 403)


def precondition_failed(condition: str) -> S3Error:
    """``PreconditionFailed`` (412) naming the failed ``condition`` header."""
    return S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                   412, Condition=condition)
