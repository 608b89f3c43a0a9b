"""Conditional requests: If-Match, If-None-Match, If-(Un)Modified-Since on reads, copies and writes."""

from __future__ import annotations

import email.utils
from pathlib import Path

from .errors import S3Error, no_such_key, precondition_failed
from .folder_store import FolderStore, StoredObject
from .request import Request
from .response import quoted, strip_etag

__all__ = ["check_read_conditions", "check_write_conditions", "etag_matches"]


def etag_matches(header: str, etag: str) -> bool:
    """Whether an If-Match / If-None-Match header value (a list, or ``*``) matches ``etag``."""
    return any(t == "*" or strip_etag(t) == etag for t in header.split(","))


def _parse_http_date(value: str | None):
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def check_read_conditions(obj: StoredObject, h: dict, prefix: str = "") -> None:
    """If-Match / If-None-Match / If-(Un)Modified-Since, as for GET and HEAD (or copy-source)."""
    if_match = h.get(f"{prefix}if-match")
    if_none_match = h.get(f"{prefix}if-none-match")
    modified = obj.mtime_ns // 1_000_000_000
    if if_match is not None and not etag_matches(if_match, obj.etag):
        raise precondition_failed("If-Match")
    unmodified_since = _parse_http_date(h.get(f"{prefix}if-unmodified-since"))
    if if_match is None and unmodified_since is not None and modified > unmodified_since:
        raise precondition_failed("If-Unmodified-Since")
    not_modified = 412 if prefix else 304
    if if_none_match is not None and etag_matches(if_none_match, obj.etag):
        raise S3Error("PreconditionFailed" if prefix else "NotModified",
                      "At least one of the pre-conditions you specified did not hold" if prefix else "Not Modified",
                      not_modified, headers={"ETag": quoted(obj.etag)})
    since = _parse_http_date(h.get(f"{prefix}if-modified-since"))
    if if_none_match is None and since is not None and modified <= since:
        raise S3Error("PreconditionFailed" if prefix else "NotModified",
                      "At least one of the pre-conditions you specified did not hold" if prefix else "Not Modified",
                      not_modified, headers={"ETag": quoted(obj.etag)})


def check_write_conditions(store: FolderStore, req: Request, bucket_dir: Path) -> None:
    """If-None-Match / If-Match of a write (PutObject, CopyObject, CompleteMultipartUpload) on the current object."""
    if_none_match = req.headers.get("if-none-match")
    if_match = req.headers.get("if-match")
    if if_none_match is None and if_match is None:
        return
    existing = store.get_object(bucket_dir, req.bucket, req.key)
    if if_none_match is not None and existing is not None and etag_matches(if_none_match, existing.etag):
        raise precondition_failed("If-None-Match")
    if if_match is not None:
        if existing is None:
            raise no_such_key(req.key)
        if not etag_matches(if_match, existing.etag):
            raise precondition_failed("If-Match")
