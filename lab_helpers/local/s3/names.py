"""Which bucket names and object keys local S3 accepts, and how a key splits into path segments."""

from __future__ import annotations

import os
import re

from .errors import S3Error, no_such_bucket, not_representable

__all__ = [
    "MAX_KEY_BYTES", "TMP_PREFIX", "check_bucket_name", "encodable", "is_bucket_folder_name", "key_parts",
    "validate_new_bucket_name",
]

MAX_KEY_BYTES = 1024
#: Prefix of the emulator's temporary files; reserved, never listed.
TMP_PREFIX = ".s3tmp-"
_MAX_NAME_BYTES = 255
_ACCESSIBLE_BUCKET = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,254}$")
_NEW_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_WINDOWS_FORBIDDEN = re.compile(r'[<>:"\\|?*\x00-\x1f]')
_WINDOWS_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"COM{i}" for i in range(1, 10)] + [f"LPT{i}" for i in range(1, 10)]
)


def encodable(name: str) -> bool:
    """Whether ``name`` is valid UTF-8 (a file name with undecodable bytes comes as surrogate escapes)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_bucket_folder_name(name) -> bool:
    """Whether a folder called ``name`` in the S3 root can be addressed as a bucket."""
    return isinstance(name, str) and bool(_ACCESSIBLE_BUCKET.match(name)) and ".." not in name


def check_bucket_name(bucket) -> None:
    """Raise ``NoSuchBucket`` for a name no bucket folder can have."""
    if not is_bucket_folder_name(bucket):
        raise no_such_bucket(bucket)


def validate_new_bucket_name(bucket: str) -> None:
    """Raise ``InvalidBucketName`` unless ``bucket`` follows AWS's naming rules for new buckets."""
    bad = (
        not _NEW_BUCKET.match(bucket)
        or ".." in bucket
        or ".-" in bucket
        or "-." in bucket
        or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", bucket)
        or bucket.startswith(("xn--", "sthree-", "amzn-s3-demo-"))
        or bucket.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"))
    )
    if bad:
        raise S3Error("InvalidBucketName", "The specified bucket is not valid.", 400, BucketName=bucket)


def key_parts(key: str) -> tuple[list[str], bool]:
    """Path segments for ``key`` and whether it names a folder (ends with '/').

    Raises S3Error for keys that cannot be a file below the bucket folder.
    """
    if not isinstance(key, str) or key == "":
        raise S3Error("InvalidArgument", "An object key must not be empty.", ArgumentName="key", ArgumentValue="")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise S3Error("KeyTooLongError", f"Your key is too long: keys are limited to {MAX_KEY_BYTES} bytes.", Key=key)
    if key.startswith("/"):
        raise not_representable(key, "it starts with '/' (it would be an absolute path)")
    if "\x00" in key:
        raise not_representable(key, "it contains a NUL character")
    if not encodable(key):
        raise not_representable(key, "it is not valid UTF-8")
    parts = key.split("/")
    is_folder = parts[-1] == ""
    if is_folder:
        parts = parts[:-1]
    for segment in parts:
        if segment == "":
            raise not_representable(key, "it contains '//' (an empty path segment)")
        if segment in (".", ".."):
            raise not_representable(key, f"it contains a '{segment}' path segment")
        if len(segment.encode("utf-8")) > _MAX_NAME_BYTES:
            raise not_representable(key, f"the segment '{segment[:40]}...' is longer than {_MAX_NAME_BYTES} bytes")
        if segment.startswith(TMP_PREFIX):
            raise not_representable(key, f"names starting with '{TMP_PREFIX}' are reserved for temporary files")
        if os.name == "nt":
            if _WINDOWS_FORBIDDEN.search(segment) or segment[-1] in ". ":
                raise not_representable(key, f"'{segment}' is not a valid Windows file name")
            if segment.split(".")[0].upper() in _WINDOWS_RESERVED:
                raise not_representable(key, f"'{segment}' is a reserved Windows device name")
    return parts, is_folder
