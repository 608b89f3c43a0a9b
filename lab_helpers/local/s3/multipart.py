"""Multipart uploads: Create, UploadPart, UploadPartCopy, Complete and Abort.

An upload in progress is the folder ``<root>/.s3meta/uploads/<upload-id>/``: ``upload.json``
(bucket, key and the object's future metadata) and, per part, ``<NNNNN>`` (its bytes) and
``<NNNNN>.json`` (its ETag, size and checksum). Completing one concatenates the parts into the
object's file, atomically, and removes the folder.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import quote

from ..wire.bodies import READ_SIZE
from ..wire.xml import child_text, children, local_name, sub
from .bodies import Upload
from .checksums import b64, new_checksum
from .conditions import check_write_conditions
from .errors import S3Error, no_such_upload, not_representable
from .folder_store import FolderStore
from .names import key_parts
from .operations_objects import copy_source, object_fields_from_headers
from .request import Request, parse_xml, part_number
from .response import Result, iso, quoted, s3_xml, strip_etag, xml_result

__all__ = [
    "MIN_PART_SIZE", "abort_multipart_upload", "complete_multipart_upload", "create_multipart_upload",
    "upload_part", "upload_part_copy",
]

MIN_PART_SIZE = 5 * 1024 * 1024
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


def _upload_state(store: FolderStore, req: Request) -> tuple[dict, Path]:
    upload_id = req.query.get("uploadId", "")
    store.bucket_dir(req.bucket)
    if not _UPLOAD_ID.match(upload_id):
        raise no_such_upload(upload_id)
    directory = store.uploads_dir / upload_id
    state = store.read_json(directory / "upload.json")
    if not state or state.get("bucket") != req.bucket or state.get("key") != req.key:
        raise no_such_upload(upload_id)
    return state, directory


def _write_part(store: FolderStore, target: Path, chunks: Iterable[bytes], algorithm: str | None,
                expected_checksum: Callable, check: Callable) -> dict:
    size, md5_hex, checksum = store.write_verified(target, chunks, algorithm, expected_checksum, check)
    meta = {"etag": md5_hex, "size": size}
    if algorithm and checksum:
        meta["checksum"] = {"algorithm": algorithm.upper(), "value": checksum}
    store.write_json(target.with_name(target.name + ".json"), meta)
    return meta


def create_multipart_upload(store: FolderStore, req: Request) -> Result:
    """CreateMultipartUpload: a new upload folder holding the object's future metadata."""
    bucket_dir = store.bucket_dir(req.bucket)
    parts, is_folder = key_parts(req.key)
    if is_folder:
        raise not_representable(req.key, "it ends with '/', which local mode keeps as a folder, "
                                         "so it cannot hold data")
    store.check_writable(bucket_dir, req.key, parts)
    content_type, metadata, stored = object_fields_from_headers(req.headers)
    algorithm = (req.headers.get("x-amz-checksum-algorithm") or "").upper() or None
    checksum_type = (req.headers.get("x-amz-checksum-type") or "").upper() or None
    if algorithm and not checksum_type:
        checksum_type = "FULL_OBJECT" if algorithm == "CRC64NVME" else "COMPOSITE"
    upload_id = uuid.uuid4().hex
    store.write_json(store.uploads_dir / upload_id / "upload.json", {
        "bucket": req.bucket, "key": req.key, "initiated_ns": time.time_ns(),
        "content_type": content_type, "metadata": metadata, "headers": stored,
        "checksum_algorithm": algorithm, "checksum_type": checksum_type,
        "storage_class": req.headers.get("x-amz-storage-class") or "STANDARD",
    })
    root = s3_xml("InitiateMultipartUploadResult")
    sub(root, "Bucket", req.bucket)
    sub(root, "Key", req.key)
    sub(root, "UploadId", upload_id)
    headers = {"x-amz-server-side-encryption": "AES256"}
    if algorithm:
        headers["x-amz-checksum-algorithm"] = algorithm
        headers["x-amz-checksum-type"] = checksum_type
    return xml_result(root, headers)


def upload_part(store: FolderStore, req: Request) -> Result:
    """UploadPart: store the body as part ``partNumber`` (verified like PutObject)."""
    state, directory = _upload_state(store, req)
    number = part_number(req.query)
    upload = Upload(req.headers, req.body, default_algorithm=(state.get("checksum_algorithm") or "").lower() or None)
    meta = _write_part(store, directory / f"{number:05d}", upload.chunks, upload.algorithm,
                       upload.expected_checksum, upload.check)
    headers = {"ETag": quoted(meta["etag"]), "x-amz-server-side-encryption": "AES256"}
    if meta.get("checksum"):
        headers[f"x-amz-checksum-{meta['checksum']['algorithm'].lower()}"] = meta["checksum"]["value"]
    return 200, headers, b""


def upload_part_copy(store: FolderStore, req: Request) -> Result:
    """UploadPartCopy: part ``partNumber`` copied from (a byte range of) an existing object."""
    state, directory = _upload_state(store, req)
    number = part_number(req.query)
    source = copy_source(store, req)
    start, end = 0, source.size - 1
    copy_range = req.headers.get("x-amz-copy-source-range")
    if copy_range:
        match = re.fullmatch(r"\s*bytes=(\d+)-(\d+)\s*", copy_range)
        if not match or int(match.group(1)) > int(match.group(2)):
            raise S3Error("InvalidArgument", "The x-amz-copy-source-range value must be of the form "
                                             "bytes=first-last where first and last are the zero-based offsets "
                                             "of the first and last bytes to copy",
                          ArgumentName="x-amz-copy-source-range", ArgumentValue=copy_range)
        start, end = int(match.group(1)), int(match.group(2))
        if end >= source.size:
            raise S3Error("InvalidRange", "The requested range is not satisfiable", 416,
                          RangeRequested=copy_range, ActualObjectSize=source.size)
    algorithm = (state.get("checksum_algorithm") or "").lower() or None

    def chunks():
        with open(source.path, "rb") as fh:
            fh.seek(start)
            left = end - start + 1
            while left > 0:
                data = fh.read(min(READ_SIZE, left))
                if not data:
                    return
                left -= len(data)
                yield data

    meta = _write_part(store, directory / f"{number:05d}", chunks(), algorithm, lambda: None, lambda size, md5: None)
    root = s3_xml("CopyPartResult")
    sub(root, "ETag", quoted(meta["etag"]))
    sub(root, "LastModified", iso(time.time_ns()))
    if meta.get("checksum"):
        sub(root, f"Checksum{meta['checksum']['algorithm']}", meta["checksum"]["value"])
    return xml_result(root, {"x-amz-server-side-encryption": "AES256"})


def _requested_parts(req: Request) -> list[tuple[int, str, dict]]:
    body = req.read_body()
    root = parse_xml(body) if body.strip() else None
    requested = []
    for element in (children(root, "Part") if root is not None else []):
        number_text = child_text(element, "PartNumber")
        etag = child_text(element, "ETag")
        if not number_text or not number_text.strip().isdigit() or etag is None:
            raise S3Error("MalformedXML", "Each Part needs a PartNumber and an ETag.")
        checksums = {local_name(c.tag)[8:].lower(): (c.text or "").strip() for c in element
                     if local_name(c.tag).startswith("Checksum") and local_name(c.tag) != "ChecksumType"}
        requested.append((int(number_text), strip_etag(etag), checksums))
    if not requested:
        raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against our "
                                      "published schema (CompleteMultipartUpload needs at least one Part).")
    numbers = [n for n, _, _ in requested]
    if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
        raise S3Error("InvalidPartOrder", "The list of parts was not in ascending order. The parts list must be "
                                          "specified in order by part number.", UploadId=req.query["uploadId"])
    return requested


def _checked_parts(store: FolderStore, req: Request, directory: Path, requested) -> list[tuple[int, dict]]:
    parts_meta = []
    for index, (number, etag, checksums) in enumerate(requested):
        part = store.read_json(directory / f"{number:05d}.json")
        if not part or not (directory / f"{number:05d}").is_file() or part.get("etag") != etag:
            raise S3Error("InvalidPart", "One or more of the specified parts could not be found. The part may not "
                                         "have been uploaded, or the specified entity tag may not match the part's "
                                         "entity tag.", UploadId=req.query["uploadId"], PartNumber=number, ETag=etag)
        stored = part.get("checksum") or {}
        for algorithm, value in checksums.items():
            if stored and stored.get("algorithm", "").lower() == algorithm and stored.get("value") != value:
                raise S3Error("InvalidPart", f"The {algorithm.upper()} checksum of part {number} does not match "
                                             "the uploaded part.", UploadId=req.query["uploadId"], PartNumber=number)
        if index < len(requested) - 1 and part["size"] < MIN_PART_SIZE:
            raise S3Error("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.",
                          ProposedSize=part["size"], MinSizeAllowed=MIN_PART_SIZE, PartNumber=number,
                          ETag=quoted(etag))
        parts_meta.append((number, part))
    return parts_meta


def complete_multipart_upload(store: FolderStore, req: Request) -> Result:
    """CompleteMultipartUpload: join the listed parts into the object (multipart ETag, composite checksum)."""
    state, directory = _upload_state(store, req)
    parts_meta = _checked_parts(store, req, directory, _requested_parts(req))

    bucket_dir = store.bucket_dir(req.bucket)
    parts, _ = key_parts(req.key)
    target = store.check_writable(bucket_dir, req.key, parts)
    check_write_conditions(store, req, bucket_dir)
    count = len(parts_meta)
    etag = hashlib.md5(b"".join(bytes.fromhex(p["etag"]) for _, p in parts_meta)).hexdigest() + f"-{count}"
    algorithm = state.get("checksum_algorithm")
    checksum_type = state.get("checksum_type") or "COMPOSITE"
    composite = None
    if algorithm and checksum_type == "COMPOSITE":
        digests = [(p.get("checksum") or {}).get("value") for _, p in parts_meta]
        hasher = new_checksum(algorithm)
        if hasher is not None and all(digests):
            for value in digests:
                hasher.update(base64.b64decode(value))
            composite = f"{b64(hasher.digest())}-{count}"

    def chunks():
        for number, _ in parts_meta:
            with open(directory / f"{number:05d}", "rb") as fh:
                yield from iter(lambda: fh.read(READ_SIZE), b"")

    meta = store.write_object(
        req.bucket, req.key, parts, target, chunks(),
        content_type=state.get("content_type"), metadata=state.get("metadata") or {},
        headers=state.get("headers") or {},
        checksum_algorithm=algorithm if checksum_type == "FULL_OBJECT" else None,
        expected_checksum=(lambda: req.headers.get(f"x-amz-checksum-{algorithm.lower()}"))
        if algorithm and checksum_type == "FULL_OBJECT" else None,
        part_sizes=[p["size"] for _, p in parts_meta], etag=etag,
        storage_class=state.get("storage_class") or "STANDARD",
    )
    if composite:
        meta["checksum"] = {"algorithm": algorithm.upper(), "value": composite, "type": "COMPOSITE"}
        store.write_object_meta(req.bucket, parts, meta)
    shutil.rmtree(directory, ignore_errors=True)
    result = s3_xml("CompleteMultipartUploadResult")
    sub(result, "Location", f"https://{req.bucket}.s3.{req.region}.amazonaws.com/{quote(req.key)}")
    sub(result, "Bucket", req.bucket)
    sub(result, "Key", req.key)
    sub(result, "ETag", quoted(etag))
    if meta["checksum"]:
        sub(result, f"Checksum{meta['checksum']['algorithm']}", meta["checksum"]["value"])
        sub(result, "ChecksumType", meta["checksum"]["type"])
    return xml_result(result, {"x-amz-server-side-encryption": "AES256"})


def abort_multipart_upload(store: FolderStore, req: Request) -> Result:
    """AbortMultipartUpload: drop the upload folder and its parts."""
    _, directory = _upload_state(store, req)
    shutil.rmtree(directory, ignore_errors=True)
    return 204, {}, b""
