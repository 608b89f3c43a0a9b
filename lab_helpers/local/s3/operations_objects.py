"""The object operations: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects, CopyObject."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from urllib.parse import unquote

from ..wire.bodies import READ_SIZE
from ..wire.xml import child_text, children, local_name, sub
from .bodies import Upload
from .checksums import new_checksum, verify_small_body
from .conditions import check_read_conditions, check_write_conditions
from .errors import S3Error, not_representable
from .folder_store import FolderStore, StoredObject
from .names import key_parts
from .request import Request, parse_xml, part_number
from .response import FileBody, Result, http_date, iso, quoted, s3_xml, xml_result

__all__ = [
    "copy_object", "copy_source", "delete_object", "delete_objects", "get_object", "head_object",
    "object_fields_from_headers", "put_object",
]

_IN_MEMORY_LIMIT = 8 * 1024 * 1024  # larger GetObject bodies are streamed from the file
# Standard headers S3 stores with an object and returns on GET/HEAD.
_STORED_HEADERS = (
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
    "x-amz-website-redirect-location",
)
_HEADER_CASE = {"cache-control": "Cache-Control", "content-disposition": "Content-Disposition",
                "content-encoding": "Content-Encoding", "content-language": "Content-Language",
                "expires": "Expires"}
_RESPONSE_OVERRIDES = {
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
    "response-content-language": "Content-Language",
    "response-content-type": "Content-Type",
    "response-expires": "Expires",
}
_EMPTY_ETAG = quoted(hashlib.md5(b"").hexdigest())


def object_fields_from_headers(h: dict) -> tuple[str | None, dict, dict]:
    """(Content-Type, user metadata, stored standard headers) a write request sets on its object."""
    metadata = {name[11:]: value for name, value in h.items() if name.startswith("x-amz-meta-")}
    stored = {}
    for name in _STORED_HEADERS:
        value = h.get(name)
        if name == "content-encoding" and value:
            value = ",".join(t.strip() for t in value.split(",") if t.strip() and t.strip().lower() != "aws-chunked")
        if value:
            stored[name] = value
    return h.get("content-type"), metadata, stored


def _object_headers(obj: StoredObject, req: Request, full: bool) -> dict:
    headers = {
        "ETag": quoted(obj.etag),
        "Last-Modified": http_date(obj.mtime_ns),
        "Content-Type": obj.content_type,
        "Accept-Ranges": "bytes",
        "x-amz-server-side-encryption": "AES256",
    }
    for name, value in obj.headers.items():
        headers[_HEADER_CASE.get(name, name)] = value
    for name, value in obj.metadata.items():
        headers[f"x-amz-meta-{name}"] = value
    if obj.storage_class and obj.storage_class != "STANDARD":
        headers["x-amz-storage-class"] = obj.storage_class
    if req.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED" and obj.checksum and full:
        headers[f"x-amz-checksum-{obj.checksum['algorithm'].lower()}"] = obj.checksum["value"]
        headers["x-amz-checksum-type"] = obj.checksum.get("type", "FULL_OBJECT")
    return headers


# ----------------------------------------------------------------------------- PutObject


def put_object(store: FolderStore, req: Request) -> Result:
    """PutObject: the body becomes the file (verified, atomically); a key ending in '/' makes a folder."""
    bucket_dir = store.bucket_dir(req.bucket)
    parts, is_folder = key_parts(req.key)
    if is_folder:
        return _put_folder(store, req, bucket_dir, parts)
    target = store.check_writable(bucket_dir, req.key, parts)
    check_write_conditions(store, req, bucket_dir)
    content_type, metadata, stored = object_fields_from_headers(req.headers)
    upload = Upload(req.headers, req.body)
    meta = store.write_object(req.bucket, req.key, parts, target, upload.chunks,
                              content_type=content_type, metadata=metadata, headers=stored,
                              checksum_algorithm=upload.algorithm, expected_checksum=upload.expected_checksum,
                              check=upload.check,
                              storage_class=req.headers.get("x-amz-storage-class", "STANDARD") or "STANDARD")
    headers = {"ETag": quoted(meta["etag"]), "x-amz-server-side-encryption": "AES256",
               "x-amz-object-size": str(meta["size"])}
    if meta["checksum"]:
        headers[f"x-amz-checksum-{meta['checksum']['algorithm'].lower()}"] = meta["checksum"]["value"]
        headers["x-amz-checksum-type"] = meta["checksum"]["type"]
    return 200, headers, b""


def _put_folder(store: FolderStore, req: Request, bucket_dir: Path, parts: list[str]) -> Result:
    if req.read_body():
        raise not_representable(
            req.key, "it ends with '/', which local mode keeps as a folder, so it cannot hold data")
    store.make_folder(bucket_dir, req.key, parts)
    return 200, {"ETag": _EMPTY_ETAG, "x-amz-server-side-encryption": "AES256"}, b""


# ----------------------------------------------------------------------------- GetObject, HeadObject


def _parse_range(header: str, size: int):
    """(start, end) for a single ``bytes=`` range, None to ignore it, or "unsatisfiable"."""
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if not match or (match.group(1) == "" and match.group(2) == ""):
        return None  # malformed or multi-range: served whole, as S3 does
    first, last = match.group(1), match.group(2)
    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - suffix), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        return "unsatisfiable"
    return start, min(end, size - 1)


def _get_or_head(store: FolderStore, req: Request, head: bool) -> Result:
    obj = store.require_object(req.bucket, req.key)
    check_read_conditions(obj, req.headers)
    size = obj.size
    start, end, status = 0, size - 1, 200
    extra = {}
    range_header = req.headers.get("range")
    if req.query.get("partNumber") is not None:
        number = part_number(req.query, 1)
        sizes = obj.part_sizes or [size]
        if number > len(sizes):
            raise S3Error("InvalidPartNumber", "The requested partnumber is not satisfiable", 416,
                          PartNumberRequested=number, ActualPartCount=len(sizes))
        start = sum(sizes[: number - 1])
        end = start + sizes[number - 1] - 1
        extra["x-amz-mp-parts-count"] = str(len(sizes))
        if obj.part_sizes:
            status = 206
    elif range_header:
        parsed = _parse_range(range_header, size)
        if parsed == "unsatisfiable":
            raise S3Error("InvalidRange", "The requested range is not satisfiable", 416,
                          headers={"Content-Range": f"bytes */{size}"},
                          RangeRequested=range_header, ActualObjectSize=size)
        if parsed is not None:
            start, end = parsed
            status = 206
    headers = _object_headers(obj, req, full=(status == 200))
    headers.update(extra)
    if status == 206:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    if not head:
        for param, header in _RESPONSE_OVERRIDES.items():
            if param in req.query:
                headers[header] = req.query[param]
    length = max(0, end - start + 1)
    headers["Content-Length"] = str(length)
    if head or length == 0:
        return status, headers, b""
    fh = open(obj.path, "rb")
    if start:
        fh.seek(start)
    if length <= _IN_MEMORY_LIMIT:
        with fh:
            data = fh.read(length)
        headers["Content-Length"] = str(len(data))
        return status, headers, data
    return status, headers, FileBody(fh, length)


def get_object(store: FolderStore, req: Request) -> Result:
    """GetObject: the file's bytes (whole, a Range or a part), with the object's headers."""
    return _get_or_head(store, req, head=False)


def head_object(store: FolderStore, req: Request) -> Result:
    """HeadObject: GetObject's headers without the body."""
    return _get_or_head(store, req, head=True)


# ----------------------------------------------------------------------------- DeleteObject(s)


def delete_object(store: FolderStore, req: Request) -> Result:
    """DeleteObject: remove the file (and its emptied folders); a missing key is no error."""
    bucket_dir = store.bucket_dir(req.bucket)
    store.delete_key(bucket_dir, req.bucket, req.key)
    return 204, {}, b""


def delete_objects(store: FolderStore, req: Request) -> Result:
    """DeleteObjects: delete up to 1000 keys named in the XML body, reporting each (or only errors if Quiet)."""
    bucket_dir = store.bucket_dir(req.bucket)
    body = req.read_body()
    verify_small_body(req.headers, body, required=True)
    root = parse_xml(body)
    if local_name(root.tag) != "Delete":
        raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against "
                                      "our published schema (the root element must be Delete).")
    quiet = (child_text(root, "Quiet") or "").strip().lower() == "true"
    objects = children(root, "Object")
    if not objects or len(objects) > 1000:
        raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against "
                                      "our published schema (1 to 1000 Object elements are required).")
    result = s3_xml("DeleteResult")
    for element in objects:
        key = child_text(element, "Key")
        if key is None:
            raise S3Error("MalformedXML", "Every Object element needs a Key.")
        try:
            store.delete_key(bucket_dir, req.bucket, key)
        except S3Error as exc:
            error = sub(result, "Error")
            sub(error, "Key", key)
            sub(error, "Code", exc.code)
            sub(error, "Message", exc.message)
            continue
        except OSError as exc:
            error = sub(result, "Error")
            sub(error, "Key", key)
            sub(error, "Code", "InternalError")
            sub(error, "Message", f"{type(exc).__name__}: {exc}")
            continue
        if not quiet:
            sub(sub(result, "Deleted"), "Key", key)
    return xml_result(result)


# ----------------------------------------------------------------------------- CopyObject


def copy_source(store: FolderStore, req: Request) -> StoredObject:
    """The object named by ``x-amz-copy-source``, after its x-amz-copy-source-if-* conditions."""
    raw = req.headers.get("x-amz-copy-source", "")
    path_part = raw.split("?", 1)[0]
    source = unquote(path_part.lstrip("/"))
    bucket, sep, key = source.partition("/")
    if not bucket or not sep or not key:
        raise S3Error("InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
                      ArgumentName="x-amz-copy-source", ArgumentValue=raw)
    obj = store.require_object(bucket, key)
    check_read_conditions(obj, req.headers, prefix="x-amz-copy-source-")
    return obj


def copy_object(store: FolderStore, req: Request) -> Result:
    """CopyObject: copy a file within local S3, keeping (COPY) or replacing (REPLACE) its metadata."""
    source = copy_source(store, req)
    bucket_dir = store.bucket_dir(req.bucket)
    parts, is_folder = key_parts(req.key)
    directive = req.headers.get("x-amz-metadata-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", "Unknown metadata directive.", ArgumentName="x-amz-metadata-directive",
                      ArgumentValue=directive)
    storage_class = req.headers.get("x-amz-storage-class")
    if (source.bucket, source.key) == (req.bucket, req.key) and directive == "COPY" and not storage_class:
        raise S3Error(
            "InvalidRequest",
            "This copy request is illegal because it is trying to copy an object to itself without changing "
            "the object's metadata, storage class, website redirect location or encryption attributes.",
        )
    if is_folder:
        if source.size:
            raise not_representable(req.key, "it ends with '/', which local mode keeps as a folder, "
                                             "so it cannot hold data")
        return _put_folder(store, req, bucket_dir, parts)
    target = store.check_writable(bucket_dir, req.key, parts)
    check_write_conditions(store, req, bucket_dir)
    if directive == "COPY":
        content_type, metadata, stored = source.content_type, source.metadata, source.headers
    else:
        content_type, metadata, stored = object_fields_from_headers(req.headers)
    algorithm = req.headers.get("x-amz-checksum-algorithm") or (
        source.checksum["algorithm"] if source.checksum and source.checksum.get("type") == "FULL_OBJECT" else None)
    if algorithm and new_checksum(algorithm) is None:
        algorithm = None
    with open(source.path, "rb") as fh:
        meta = store.write_object(req.bucket, req.key, parts, target, iter(lambda: fh.read(READ_SIZE), b""),
                                  content_type=content_type, metadata=dict(metadata), headers=dict(stored),
                                  checksum_algorithm=algorithm,
                                  storage_class=storage_class or source.storage_class)
    root = s3_xml("CopyObjectResult")
    sub(root, "ETag", quoted(meta["etag"]))
    sub(root, "LastModified", iso(meta["mtime_ns"]))
    if meta["checksum"]:
        sub(root, "ChecksumType", meta["checksum"]["type"])
        sub(root, f"Checksum{meta['checksum']['algorithm']}", meta["checksum"]["value"])
    return xml_result(root, {"x-amz-server-side-encryption": "AES256"})
