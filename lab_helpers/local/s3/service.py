"""LocalS3: answers botocore's S3 requests from the folder store, and gives kit code Python-level helpers."""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from botocore.awsrequest import AWSResponse

from ..wire.bodies import READ_SIZE
from .errors import S3Error, not_representable
from .folder_store import FolderStore
from .multipart import (
    abort_multipart_upload, complete_multipart_upload, create_multipart_upload, upload_part, upload_part_copy,
)
from .names import check_bucket_name, key_parts, validate_new_bucket_name
from .operations_buckets import create_bucket, delete_bucket, get_bucket_location, head_bucket, list_buckets
from .operations_listing import list_objects, list_objects_v2
from .operations_objects import copy_object, delete_object, delete_objects, get_object, head_object, put_object
from .request import parse_request
from .response import error_response, quoted, response

__all__ = ["LocalS3"]

logger = logging.getLogger(__name__)

#: botocore's S3 operation name -> the function serving it, ``(store, request) -> (status, headers, body)``.
OPERATIONS = {
    "ListBuckets": list_buckets,
    "CreateBucket": create_bucket,
    "HeadBucket": head_bucket,
    "DeleteBucket": delete_bucket,
    "GetBucketLocation": get_bucket_location,
    "ListObjects": list_objects,
    "ListObjectsV2": list_objects_v2,
    "PutObject": put_object,
    "GetObject": get_object,
    "HeadObject": head_object,
    "DeleteObject": delete_object,
    "DeleteObjects": delete_objects,
    "CopyObject": copy_object,
    "CreateMultipartUpload": create_multipart_upload,
    "UploadPart": upload_part,
    "UploadPartCopy": upload_part_copy,
    "CompleteMultipartUpload": complete_multipart_upload,
    "AbortMultipartUpload": abort_multipart_upload,
}


def _unimplemented(operation: str) -> S3Error:
    return S3Error(
        "NotImplemented",
        f"The S3 operation {operation} is not emulated by the course kit's local mode "
        f"(local S3 supports: {', '.join(sorted(OPERATIONS))}).",
        501,
    )


def _split_s3_uri(uri: str) -> tuple[str, str]:
    """``'s3://bucket/a/b'`` -> ``('bucket', 'a/b')``; raises ValueError for anything else."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise ValueError(f"{uri!r} names no bucket")
    return bucket, key


class LocalS3:
    """S3 served from the folder ``root``: ``s3://bucket/key`` is ``root/bucket/key``.

    ``handle(request, operation)`` answers one botocore ``AWSPreparedRequest`` for service s3, the
    operation named by its ``before-send.s3.<Operation>`` event (the kit's Router passes it). The
    other public methods are Python-level helpers for kit code that already runs locally (they
    raise FileNotFoundError / ValueError, not S3Error).
    """

    def __init__(self, root: str | os.PathLike):
        self.store = FolderStore(Path(os.path.abspath(os.fspath(root))))
        self.root = self.store.root

    def __repr__(self):
        return f"LocalS3(root={str(self.root)!r})"

    # ------------------------------------------------------------------ botocore requests

    def handle(self, request, operation: str | None = None) -> AWSResponse:
        """Serve one prepared S3 request for ``operation``; always an AWSResponse (errors as S3 error XML)."""
        request_id = uuid.uuid4().hex[:16].upper()
        req = None
        try:
            req = parse_request(request, operation)
            serve = OPERATIONS.get(req.operation)
            if serve is None:
                raise _unimplemented(req.operation or f"{req.method} {urlsplit(req.url).path or '/'}")
            logger.debug("local S3 %s bucket=%r key=%r", req.operation, req.bucket, req.key)
            status, headers, body = serve(self.store, req)
        except S3Error as exc:
            return error_response(request, exc, request_id)
        except Exception as exc:  # a bug or an OS error: answer like S3's InternalError would
            logger.exception("local S3 failed on %s", getattr(req, "operation", "?"))
            operation = getattr(req, "operation", "") or "the request"
            message = f"Local S3 failed while handling {operation}: {type(exc).__name__}: {exc}"
            return error_response(request, S3Error("InternalError", message, 500), request_id)
        return response(request, status, headers, body, request_id)

    # ------------------------------------------------------------------ Python-level helpers

    def path_for(self, bucket: str, key: str) -> Path:
        """The file holding ``s3://bucket/key`` (a folder for '' or keys ending in '/')."""
        try:
            check_bucket_name(bucket)
            if key in ("", None):
                return self.root / bucket
            parts, _ = key_parts(key)
        except S3Error as exc:
            raise ValueError(exc.message) from None
        return self.root.joinpath(bucket, *parts)

    def object_path(self, bucket: str, key: str) -> Path:
        """Like :meth:`path_for`, but ValueError when a symbolic link leads the path out of the local S3 folder."""
        path = self.path_for(bucket, key)
        try:
            self.store.require_inside(path, f"s3://{bucket}/{key}")
        except S3Error as exc:
            raise ValueError(exc.message) from None
        return path

    def uri_for_path(self, path) -> str:
        """``s3://bucket/key`` for a file under root (``s3://bucket/prefix/`` for a folder)."""
        candidate = Path(os.path.abspath(os.fspath(path)))
        rel = None
        for base, target in ((self.root, candidate), (self.root.resolve(), candidate.resolve())):
            try:
                rel = target.relative_to(base)
                break
            except ValueError:
                continue
        if rel is None or not rel.parts:
            raise ValueError(f"{os.fspath(path)} is not inside a bucket folder of the local S3 root {self.root}")
        bucket, *parts = rel.parts
        if bucket.startswith("."):
            raise ValueError(f"{os.fspath(path)} is in the local S3's internal folder, not in a bucket")
        key = "/".join(parts)
        if candidate.is_dir():
            key = key + "/" if key else ""
        return f"s3://{bucket}/{key}"

    def list_keys(self, bucket: str, prefix: str = "") -> list[str]:
        """All object keys starting with ``prefix``, sorted as S3 lists them ([] if no bucket)."""
        try:
            bucket_dir = self.store.bucket_dir(bucket)
        except S3Error:
            return []
        return [name for name, _ in self.store.collect(bucket_dir, prefix or "", "")]

    def create_bucket(self, bucket: str, region: str = "us-east-1", exist_ok: bool = True) -> Path:
        """Create a bucket folder (with its region recorded); returns the folder."""
        try:
            validate_new_bucket_name(bucket)
        except S3Error as exc:
            raise ValueError(f"{bucket!r}: {exc.message}") from None
        path = self.root / bucket
        if path.is_dir() and not exist_ok:
            raise FileExistsError(f"Bucket {bucket!r} already exists")
        path.mkdir(parents=True, exist_ok=True)
        if not self.store.has_bucket_record(bucket):
            self.store.record_bucket(bucket, region, None if region == "us-east-1" else region)
        return path

    def put_file(self, bucket: str, key: str, path, content_type: str | None = None,
                 metadata: dict | None = None) -> str:
        """Copy the local file ``path`` to ``s3://bucket/key`` (atomically); returns the quoted ETag."""
        with open(path, "rb") as fh:
            try:
                bucket_dir = self.store.bucket_dir(bucket)
            except S3Error:
                raise FileNotFoundError(
                    f"Bucket {bucket!r} does not exist (no folder {self.root / str(bucket)})") from None
            try:
                parts, is_folder = key_parts(key)
                if is_folder:
                    raise not_representable(key, "it ends with '/', which local mode keeps as a folder, not a file")
                target = self.store.check_writable(bucket_dir, key, parts)
            except S3Error as exc:
                raise ValueError(exc.message) from None
            meta = self.store.write_object(
                bucket, key, parts, target, iter(lambda: fh.read(READ_SIZE), b""), content_type=content_type,
                metadata={str(k).lower(): str(v) for k, v in (metadata or {}).items()}, headers={},
                checksum_algorithm="crc32")
        return quoted(meta["etag"])

    def read_bytes(self, bucket: str, key: str) -> bytes:
        """The bytes of ``s3://bucket/key``; FileNotFoundError if there is no such object."""
        try:
            obj = self.store.get_object(self.store.bucket_dir(bucket), bucket, key)
        except S3Error as exc:
            if exc.status == 404:
                raise FileNotFoundError(f"s3://{bucket}/{key} does not exist ({exc.message})") from None
            raise ValueError(exc.message) from None
        if obj is None:
            raise FileNotFoundError(f"s3://{bucket}/{key} does not exist (no file {self.root / bucket / key})")
        return obj.path.read_bytes() if obj.path.is_file() else b""

    def read_uri(self, uri: str) -> bytes:
        """The bytes of the object ``s3://bucket/key``; FileNotFoundError if missing."""
        bucket, key = _split_s3_uri(uri)
        return self.read_bytes(bucket, key)
