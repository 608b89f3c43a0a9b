"""The listing operations: ListObjects (v1, marker) and ListObjectsV2 (continuation token)."""

from __future__ import annotations

import os
from urllib.parse import quote_plus

from ..wire.xml import sub
from .errors import S3Error
from .folder_store import FolderStore
from .request import Request, decode_token, encode_token, int_param
from .response import OWNER_ID, OWNER_NAME, Result, iso, quoted, s3_xml, xml_result

__all__ = ["list_objects", "list_objects_v2"]


def _listing_page(store: FolderStore, req: Request, after: str):
    bucket_dir = store.bucket_dir(req.bucket)
    prefix = req.query.get("prefix", "")
    delimiter = req.query.get("delimiter", "")
    encoding = req.query.get("encoding-type")
    if encoding is not None and encoding != "url":
        raise S3Error("InvalidArgument", "Invalid Encoding Method specified in Request",
                      ArgumentName="encoding-type", ArgumentValue=encoding)
    max_keys = int_param(req.query, "max-keys", 1000, 0, None)
    entries = [e for e in store.collect(bucket_dir, prefix, delimiter) if e[0] > after]
    page = entries[: min(max_keys, 1000)]
    truncated = len(entries) > len(page) and max_keys > 0
    contents = []
    for name, is_prefix in page:
        if is_prefix:
            contents.append((name, None))
            continue
        parts = name.split("/")
        path = bucket_dir.joinpath(*parts)
        try:
            st = os.stat(path)
            obj = store.object_from_file(req.bucket, name, parts, path, st)
        except OSError:  # removed while listing
            continue
        contents.append((name, obj))
    enc = (lambda s: quote_plus(s, safe="/")) if encoding == "url" else (lambda s: s)
    return prefix, delimiter, encoding, max_keys, contents, truncated, enc


def _add_contents(root, contents, enc, with_owner: bool) -> None:
    for name, obj in contents:
        if obj is None:
            continue
        element = sub(root, "Contents")
        sub(element, "Key", enc(name))
        sub(element, "LastModified", iso(obj.mtime_ns))
        sub(element, "ETag", quoted(obj.etag))
        if obj.checksum:
            sub(element, "ChecksumAlgorithm", obj.checksum["algorithm"])
            sub(element, "ChecksumType", obj.checksum.get("type", "FULL_OBJECT"))
        sub(element, "Size", obj.size)
        if with_owner:
            owner = sub(element, "Owner")
            sub(owner, "ID", OWNER_ID)
            sub(owner, "DisplayName", OWNER_NAME)
        sub(element, "StorageClass", obj.storage_class)
    for name, obj in contents:
        if obj is None:
            sub(sub(root, "CommonPrefixes"), "Prefix", enc(name))


def list_objects(store: FolderStore, req: Request) -> Result:
    """ListObjects (v1): keys after ``marker``, rolled up at ``delimiter``."""
    marker = req.query.get("marker", "")
    prefix, delimiter, encoding, max_keys, contents, truncated, enc = _listing_page(store, req, marker)
    root = s3_xml("ListBucketResult")
    sub(root, "Name", req.bucket)
    sub(root, "Prefix", enc(prefix))
    sub(root, "Marker", enc(marker))
    sub(root, "MaxKeys", max_keys)
    if delimiter:
        sub(root, "Delimiter", enc(delimiter))
    sub(root, "IsTruncated", "true" if truncated else "false")
    if truncated and delimiter and contents:
        sub(root, "NextMarker", enc(contents[-1][0]))
    if encoding:
        sub(root, "EncodingType", encoding)
    _add_contents(root, contents, enc, with_owner=True)
    return xml_result(root)


def list_objects_v2(store: FolderStore, req: Request) -> Result:
    """ListObjectsV2: keys after the continuation token or ``start-after``, rolled up at ``delimiter``."""
    token = req.query.get("continuation-token")
    start_after = req.query.get("start-after", "")
    after = decode_token(token, "continuation token") if token else start_after
    after = max(after, start_after)
    prefix, delimiter, encoding, max_keys, contents, truncated, enc = _listing_page(store, req, after)
    root = s3_xml("ListBucketResult")
    sub(root, "Name", req.bucket)
    sub(root, "Prefix", enc(prefix))
    sub(root, "MaxKeys", max_keys)
    sub(root, "KeyCount", len(contents))
    if delimiter:
        sub(root, "Delimiter", enc(delimiter))
    sub(root, "IsTruncated", "true" if truncated else "false")
    if token:
        sub(root, "ContinuationToken", token)
    if truncated and contents:
        sub(root, "NextContinuationToken", encode_token(contents[-1][0]))
    if "start-after" in req.query:
        sub(root, "StartAfter", enc(start_after))
    if encoding:
        sub(root, "EncodingType", encoding)
    _add_contents(root, contents, enc, with_owner=req.query.get("fetch-owner") == "true")
    return xml_result(root)
