"""Amazon S3 (and STS ``GetCallerIdentity``) emulated in-process, backed by a plain folder.

``s3://bucket/key`` is the file ``<root>/bucket/key``: the object's bytes are exactly that file,
so a learner can open, edit or drop in files with any tool and the S3 APIs see them.

How it is wired: botocore emits ``before-send.s3.<Operation>`` just before it would open a
connection; a handler that returns an :class:`~botocore.awsrequest.AWSResponse` makes botocore
skip the HTTP send and parse that response with its normal parsers (``endpoint.py``,
``Endpoint._do_get_response``). So real boto3 clients, resources and s3transfer work unchanged::

    s3 = LocalS3(root)
    session.events.register("before-send.s3", lambda request, **kw: s3.handle(request))

The request is served like a server would: the bucket and key come from the URL (path-style
``https://s3.<region>.amazonaws.com/bucket/key`` or virtual-hosted
``https://bucket.s3.<region>.amazonaws.com/key``), the operation from method + query + headers
(matched against botocore's own S3 model), and bodies are decoded as sent on the wire, including
``aws-chunked`` bodies with checksum trailers (botocore's default since 1.36).

On disk::

    <root>/<bucket>/<key>                  the object's bytes (keys with '/' are folders)
    <root>/.s3meta/objects/<bucket>/<key>  JSON sidecar: content type, user metadata, ETag, checksum
    <root>/.s3meta/buckets/<bucket>.json   bucket region and creation date
    <root>/.s3meta/uploads/<upload-id>/    parts of multipart uploads in progress

A sidecar is trusted only while the file's size and mtime are the ones the emulator wrote; a file
without one (dropped in by hand) or changed since is still an object: ETag = MD5 of its content,
Last-Modified = file mtime, Content-Type ``application/octet-stream``, no user metadata.
Writes go to a temporary file in the target folder, then ``os.replace``: readers never see a
half-written object.

Where local mode differs from AWS (all deliberate, see also the module's tests):

* One owner, no authentication or ACLs; signatures are not checked. Any region works; the
  region only matters for CreateBucket's LocationConstraint check and GetBucketLocation.
* Keys must be valid relative file paths: no leading '/', no empty, '.' or '..' segments,
  segments up to 255 bytes, and a key cannot be both an object and a folder ('a' and 'a/b').
  Such keys get an ``InvalidArgument`` error naming the key. A key ending in '/' is a folder:
  PUT with an empty body creates it (HEAD/GET then answer with an empty object), but folders are
  not listed as objects - only files are. Deleting the last object in a folder removes the folder.
* On case-insensitive file systems (macOS, Windows) keys differing only in case collide.
* Listings skip editor/OS noise (``.ipynb_checkpoints`` folders, ``.DS_Store``) and temporary files.
* No versioning, tagging, ACLs, policies, lifecycle, SSE-C/KMS, presigned-URL serving, object
  lock, select or restore: such operations answer HTTP 501 ``NotImplemented`` naming the operation.
* Checksums: CRC32, SHA1, SHA256, SHA512 and MD5 are verified; CRC32C/CRC64NVME only when
  ``awscrt`` is installed (otherwise stored as sent). No default CRC64NVME is added to objects
  uploaded without a checksum.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import functools
import hashlib
import io
import json
import logging
import os
import re
import shutil
import stat
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit
from xml.etree import ElementTree as ET

from botocore.awsrequest import AWSResponse

from ..wire.responses import _RawBody

__all__ = ["LocalS3", "S3Error", "split_s3_uri"]

logger = logging.getLogger(__name__)

S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
META_DIR = ".s3meta"
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PARTS = 10000
MAX_KEY_BYTES = 1024
_MAX_NAME_BYTES = 255
_TMP_PREFIX = ".s3tmp-"
_IGNORED_NAMES = frozenset({".ipynb_checkpoints", ".DS_Store"})
_IN_MEMORY_LIMIT = 8 * 1024 * 1024
_CHUNK = 1024 * 1024
_OWNER_ID = hashlib.sha256(b"lab-local-s3-owner").hexdigest()
_OWNER_NAME = "lab-local"
_DEFAULT_PUT_CONTENT_TYPE = "binary/octet-stream"  # what AWS stores when PutObject sends none
_HAND_MADE_CONTENT_TYPE = "application/octet-stream"
_FOLDER_CONTENT_TYPE = "application/x-directory"
# Standard headers S3 stores with an object and returns on GET/HEAD.
_STORED_HEADERS = (
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
    "x-amz-website-redirect-location",
)
_RESPONSE_OVERRIDES = {
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
    "response-content-language": "Content-Language",
    "response-content-type": "Content-Type",
    "response-expires": "Expires",
}
_CHECKSUM_ALGORITHMS = (
    "crc32",
    "crc32c",
    "crc64nvme",
    "sha1",
    "sha256",
    "sha512",
    "md5",
    "xxhash64",
    "xxhash3",
    "xxhash128",
)
_AWS_S3_HOST = re.compile(
    r"^(?:(?P<bucket>.+)\.)?(?P<endpoint>s3(?:[.-][a-z0-9-]+)*)\.amazonaws\.com(?:\.cn)?$"
)
_REGION_IN_TEXT = re.compile(r"(?<![a-z0-9])([a-z]{2}(?:-[a-z]+)+-\d+)(?![a-z0-9])")
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/")
_ACCESSIBLE_BUCKET = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,254}$")
_NEW_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
_WINDOWS_FORBIDDEN = re.compile(r'[<>:"\\|?*\x00-\x1f]')
_WINDOWS_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"COM{i}" for i in range(1, 10)] + [f"LPT{i}" for i in range(1, 10)]
)


# ----------------------------------------------------------------------------- errors


class S3Error(Exception):
    """An S3 error response: ``code`` and ``message`` as AWS spells them, HTTP ``status``."""

    def __init__(self, code: str, message: str, status: int = 400, headers: dict | None = None, **fields):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.headers = dict(headers or {})
        self.fields = fields  # extra <Error> children, e.g. Key=..., BucketName=...


def _no_such_bucket(bucket):
    return S3Error("NoSuchBucket", "The specified bucket does not exist", 404, BucketName=bucket)


def _no_such_key(key):
    return S3Error("NoSuchKey", "The specified key does not exist.", 404, Key=key)


def _no_such_upload(upload_id):
    return S3Error(
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, "
        "or the upload may have been aborted or completed.",
        404,
        UploadId=upload_id,
    )


def _not_representable(key, reason):
    return S3Error(
        "InvalidArgument",
        f"Key '{key}' cannot be stored by the kit's local S3: {reason}. "
        "In local mode every object is the file <bucket>/<key>, so a key must be a valid "
        "relative file path.",
        400,
        ArgumentName="key",
        ArgumentValue=key,
    )


def _unimplemented(operation):
    return S3Error(
        "NotImplemented",
        f"The S3 operation {operation} is not emulated by the course kit's local mode "
        f"(local S3 supports: {', '.join(sorted(_HANDLERS))}).",
        501,
    )


# ----------------------------------------------------------------------------- small helpers


def _header_text(value) -> str:
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return bytes(value).decode("latin-1")
    return str(value)


def _iso(ns: int) -> str:
    dt = datetime.fromtimestamp(ns // 1_000_000_000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{(ns // 1_000_000) % 1000:03d}Z"


def _http_date(ns: int) -> str:
    return email.utils.formatdate(ns // 1_000_000_000, usegmt=True)


def _quoted(etag: str) -> str:
    return f'"{etag}"'


def _strip_etag(value: str) -> str:
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')


def _etag_matches(header: str, etag: str) -> bool:
    return any(t == "*" or _strip_etag(t) == etag for t in header.split(","))


def _parse_http_date(value: str | None):
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def _check_content_md5(header, digest):
    """Raise AWS's error when a Content-MD5 header is malformed or does not match ``digest``."""
    try:
        wanted = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError):
        wanted = b""
    if len(wanted) != 16:
        raise S3Error("InvalidDigest", "The Content-MD5 you specified was invalid.")
    if wanted != digest:
        raise S3Error("BadDigest", "The Content-MD5 you specified did not match what we received.")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _encodable(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes in a file name (surrogate escapes)
        return False
    return True


def _silent_unlink(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _token_encode(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode("utf-8")).decode("ascii")


def _token_decode(token: str, what: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8")
    except (ValueError, UnicodeError):
        raise S3Error("InvalidArgument", f"The {what} provided is incorrect.", 400,
                      ArgumentName=what) from None


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``'s3://bucket/a/b'`` -> ``('bucket', 'a/b')``; raises ValueError for anything else."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise ValueError(f"{uri!r} names no bucket")
    return bucket, key


# ----------------------------------------------------------------------------- checksums


class _Crc32:
    def __init__(self):
        self._value = 0

    def update(self, data):
        self._value = zlib.crc32(data, self._value)

    def digest(self) -> bytes:
        return (self._value & 0xFFFFFFFF).to_bytes(4, "big")


class _CrtChecksum:
    def __init__(self, fn, nbytes):
        self._fn, self._nbytes, self._value = fn, nbytes, 0

    def update(self, data):
        self._value = self._fn(bytes(data), self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(self._nbytes, "big")


def _new_checksum(algorithm: str | None):
    """A hasher with update()/digest() for an S3 checksum algorithm, or None if unsupported here."""
    name = (algorithm or "").lower()
    if name == "crc32":
        return _Crc32()
    if name in ("sha1", "sha256", "sha512", "md5"):
        return hashlib.new(name)
    if name in ("crc32c", "crc64nvme"):
        try:
            from awscrt import checksums  # optional, as in botocore
        except ImportError:
            return None
        if name == "crc32c":
            return _CrtChecksum(checksums.crc32c, 4)
        return _CrtChecksum(checksums.crc64nvme, 8)
    return None


def _requested_checksum(headers: dict) -> tuple[str | None, str | None]:
    """(algorithm, value-or-None) the client asked for in headers or announced as a trailer."""
    for algorithm in _CHECKSUM_ALGORITHMS:
        value = headers.get(f"x-amz-checksum-{algorithm}")
        if value:
            return algorithm, value.strip()
    trailer = headers.get("x-amz-trailer", "").strip().lower()
    if trailer.startswith("x-amz-checksum-") and trailer[15:] in _CHECKSUM_ALGORITHMS:
        return trailer[15:], None
    announced = (headers.get("x-amz-sdk-checksum-algorithm") or "").strip().lower()
    if announced in _CHECKSUM_ALGORITHMS:
        return announced, None
    return None, None


# ----------------------------------------------------------------------------- request bodies


def _iter_body(body) -> Iterator[bytes]:
    """The raw bytes of a prepared request body (bytes, str, file-like or iterable)."""
    if body is None:
        return
    if isinstance(body, (bytes, bytearray, memoryview)):
        if len(body):
            yield bytes(body)
        return
    if isinstance(body, str):
        if body:
            yield body.encode("utf-8")
        return
    read = getattr(body, "read", None)
    if read is not None:
        while True:
            piece = read(_CHUNK)
            if not piece:
                return
            yield piece.encode("utf-8") if isinstance(piece, str) else bytes(piece)
    for piece in body:
        if piece:
            yield piece.encode("utf-8") if isinstance(piece, str) else bytes(piece)


class _AwsChunkedDecoder:
    """Decodes an ``aws-chunked`` body: ``<hex-size>[;chunk-signature=..]\\r\\n<data>\\r\\n`` ...
    ``0\\r\\n`` then optional trailer lines (``x-amz-checksum-crc32:<b64>``) and a blank line.

    Iterating yields the decoded payload; afterwards ``trailers`` holds the trailing headers.
    """

    def __init__(self, pieces: Iterable[bytes]):
        self._pieces = iter(pieces)
        self._buf = bytearray()
        self.trailers: dict[str, str] = {}

    def _fill(self) -> bool:
        for piece in self._pieces:
            if piece:
                self._buf += piece
                return True
        return False

    def _line(self) -> bytes | None:
        while True:
            end = self._buf.find(b"\r\n")
            if end >= 0:
                line = bytes(self._buf[:end])
                del self._buf[: end + 2]
                return line
            if not self._fill():
                if self._buf:
                    line = bytes(self._buf)
                    self._buf.clear()
                    return line
                return None

    def _take(self, n: int) -> Iterator[bytes]:
        while n > 0:
            if not self._buf and not self._fill():
                raise S3Error(
                    "IncompleteBody",
                    "The aws-chunked request body ended in the middle of a chunk.",
                )
            k = min(n, len(self._buf))
            yield bytes(self._buf[:k])
            del self._buf[:k]
            n -= k

    def __iter__(self) -> Iterator[bytes]:
        while True:
            line = self._line()
            if line is None:
                raise S3Error("IncompleteBody", "The aws-chunked request body has no final 0-length chunk.")
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise S3Error("InvalidRequest", f"Malformed aws-chunked chunk header {line[:40]!r}.") from None
            if size == 0:
                break
            yield from self._take(size)
            if b"".join(self._take(2)) != b"\r\n":
                raise S3Error("InvalidRequest", "Malformed aws-chunked body: chunk not followed by CRLF.")
        while True:
            line = self._line()
            if not line:
                break
            name, sep, value = line.decode("latin-1").partition(":")
            if sep:
                self.trailers[name.strip().lower()] = value.strip()


# ----------------------------------------------------------------------------- response bodies


_BytesBody = _RawBody  # ``raw`` for an in-memory body: one definition, in wire.py


class _FileBody(io.RawIOBase):
    """``raw`` for a large GetObject body, read from the object's file as the caller consumes it."""

    def __init__(self, fh, length: int):
        super().__init__()
        self._fh = fh
        self._left = length
        self._pos = 0

    def readable(self):
        return True

    def readinto(self, b):
        if self._left <= 0 or self._fh.closed:
            self._fh.close()
            return 0
        view = memoryview(b).cast("B")[: min(len(b), self._left)]
        n = self._fh.readinto(view) or 0
        if n == 0:
            self._left = 0
            self._fh.close()
            return 0
        self._left -= n
        self._pos += n
        return n

    def read(self, size=-1):
        if size is None or size < 0:
            return self.readall()
        return super().read(size)

    def tell(self):
        return self._pos

    def close(self):
        self._fh.close()
        super().close()

    def stream(self, amt=64 * 1024, decode_content=None):  # noqa: ARG002
        while True:
            chunk = self.read(amt)
            if not chunk:
                return
            yield chunk


# ----------------------------------------------------------------------------- XML


def _xml_root(tag: str, ns: str | None = S3_XMLNS) -> ET.Element:
    root = ET.Element(tag)
    if ns:
        root.set("xmlns", ns)
    return root


def _sub(parent: ET.Element, tag: str, text=None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if text is not None:
        element.text = text if isinstance(text, str) else str(text)
    return element


def _xml_bytes(root: ET.Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode").encode("utf-8")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse_xml(data: bytes) -> ET.Element:
    try:
        return ET.fromstring(data)
    except ET.ParseError:
        raise S3Error(
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema",
        ) from None


def _child_text(element: ET.Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name:
            return child.text or ""
    return None


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if _local(child.tag) == name]


# ----------------------------------------------------------------------------- operation matching


@dataclass(frozen=True)
class _Rule:
    name: str
    method: str
    level: str  # "service", "bucket" or "key"
    query: tuple  # ((name, required value or ""), ...) from the requestUri
    query_names: frozenset  # required querystring members
    header_names: frozenset  # required header members

    @property
    def weight(self) -> int:
        return len(self.query) + len(self.query_names) + len(self.header_names)


@functools.lru_cache(maxsize=1)
def _s3_rules() -> tuple:
    """How each S3 operation looks on the wire, read from botocore's S3 model."""
    from botocore.session import get_session

    model = get_session().get_service_model("s3")
    rules = []
    for name in model.operation_names:
        op = model.operation_model(name)
        path, _, query = op.http.get("requestUri", "/").partition("?")
        level = {"/": "service", "/{Bucket}": "bucket", "/{Bucket}/{Key+}": "key"}.get(path)
        if level is None:
            continue
        query_names, header_names = set(), set()
        shape = op.input_shape
        if shape is not None:
            for member in shape.required_members:
                serialization = shape.members[member].serialization
                location = serialization.get("location")
                if location == "querystring":
                    query_names.add(serialization["name"])
                elif location == "header":
                    header_names.add(serialization["name"].lower())
        rules.append(
            _Rule(
                name,
                op.http.get("method", "GET").upper(),
                level,
                tuple(parse_qsl(query, keep_blank_values=True)),
                frozenset(query_names),
                frozenset(header_names),
            )
        )
    return tuple(rules)


def _identify(method: str, level: str, query: dict, headers: dict) -> str | None:
    best = None
    for rule in _s3_rules():
        if rule.method != method or rule.level != level:
            continue
        if any(k not in query or (v and query[k] != v) for k, v in rule.query):
            continue
        if any(n not in query for n in rule.query_names) or any(n not in headers for n in rule.header_names):
            continue
        rank = (rule.weight, rule.name in _HANDLERS, -len(rule.name))
        if best is None or rank > best[0]:
            best = (rank, rule.name)
    return best[1] if best else None


# ----------------------------------------------------------------------------- request model


@dataclass
class _Request:
    method: str
    url: str
    host: str
    bucket: str | None
    key: str | None
    query: dict
    headers: dict
    body: object
    region: str
    operation: str = ""
    context: dict = field(default_factory=dict)

    def read_body(self, limit: int = 64 * 1024 * 1024) -> bytes:
        """The whole (decoded) request body, for small XML bodies."""
        pieces = _iter_body(self.body)
        if _is_aws_chunked(self.headers):
            pieces = iter(_AwsChunkedDecoder(pieces))
        data = bytearray()
        for piece in pieces:
            data += piece
            if len(data) > limit:
                raise S3Error("MaxMessageLengthExceeded", "Your request was too big.")
        return bytes(data)


def _is_aws_chunked(headers: dict) -> bool:
    encodings = [t.strip().lower() for t in headers.get("content-encoding", "").split(",")]
    return "aws-chunked" in encodings or headers.get("x-amz-content-sha256", "").startswith("STREAMING-")


def _request_region(headers: dict, query: dict, host: str) -> str:
    for text in (headers.get("authorization", ""), "Credential=" + query.get("X-Amz-Credential", "")):
        match = _CREDENTIAL_SCOPE.search(text)
        if match:
            return match.group(1)
    match = _AWS_S3_HOST.match(host)
    if match:
        region = _REGION_IN_TEXT.search(match.group("endpoint"))
        if region:
            return region.group(1)
    return "us-east-1"


def _parse_request(request) -> _Request:
    method = (getattr(request, "method", "") or "GET").upper()
    url = getattr(request, "url", "") or ""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    headers = {}
    for name, value in (getattr(request, "headers", None) or {}).items():
        headers[str(name).lower()] = _header_text(value)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    context = getattr(request, "context", None) or {}
    path = parts.path or "/"

    bucket = None
    match = _AWS_S3_HOST.match(host)
    if match and match.group("bucket"):
        bucket = match.group("bucket")
    elif not match:
        # A custom endpoint_url: botocore's request context says which bucket it addressed.
        hinted = (context.get("s3_redirect") or {}).get("bucket")
        if isinstance(hinted, str) and hinted and host.startswith(hinted.lower() + "."):
            bucket = hinted
    if bucket is not None:
        key = unquote(path[1:]) if path.startswith("/") else unquote(path)
    else:
        trimmed = path[1:] if path.startswith("/") else path
        first, sep, rest = trimmed.partition("/")
        bucket = unquote(first) or None
        key = unquote(rest) if sep else ""
    if bucket is None:
        key = None
    return _Request(
        method=method,
        url=url,
        host=host,
        bucket=bucket,
        key=key,
        query=query,
        headers=headers,
        body=getattr(request, "body", None),
        region=_request_region(headers, query, host),
        context=context if isinstance(context, dict) else {},
    )


# ----------------------------------------------------------------------------- key <-> path


def _key_parts(key: str) -> tuple[list[str], bool]:
    """Path segments for ``key`` and whether it names a folder (ends with '/').

    Raises S3Error for keys that cannot be a file below the bucket folder.
    """
    if not isinstance(key, str) or key == "":
        raise S3Error("InvalidArgument", "An object key must not be empty.", ArgumentName="key", ArgumentValue="")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise S3Error("KeyTooLongError", f"Your key is too long: keys are limited to {MAX_KEY_BYTES} bytes.", Key=key)
    if key.startswith("/"):
        raise _not_representable(key, "it starts with '/' (it would be an absolute path)")
    if "\x00" in key:
        raise _not_representable(key, "it contains a NUL character")
    if not _encodable(key):
        raise _not_representable(key, "it is not valid UTF-8")
    parts = key.split("/")
    is_folder = parts[-1] == ""
    if is_folder:
        parts = parts[:-1]
    for segment in parts:
        if segment == "":
            raise _not_representable(key, "it contains '//' (an empty path segment)")
        if segment in (".", ".."):
            raise _not_representable(key, f"it contains a '{segment}' path segment")
        if len(segment.encode("utf-8")) > _MAX_NAME_BYTES:
            raise _not_representable(key, f"the segment '{segment[:40]}...' is longer than {_MAX_NAME_BYTES} bytes")
        if segment.startswith(_TMP_PREFIX):
            raise _not_representable(key, f"names starting with '{_TMP_PREFIX}' are reserved for temporary files")
        if os.name == "nt":
            if _WINDOWS_FORBIDDEN.search(segment) or segment[-1] in ". ":
                raise _not_representable(key, f"'{segment}' is not a valid Windows file name")
            if segment.split(".")[0].upper() in _WINDOWS_RESERVED:
                raise _not_representable(key, f"'{segment}' is a reserved Windows device name")
    return parts, is_folder


def _check_bucket_name(bucket) -> None:
    if not isinstance(bucket, str) or not _ACCESSIBLE_BUCKET.match(bucket) or ".." in bucket:
        raise _no_such_bucket(bucket)


def _validate_new_bucket_name(bucket: str) -> None:
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


# ----------------------------------------------------------------------------- objects


@dataclass
class _Object:
    bucket: str
    key: str
    path: Path
    size: int
    mtime_ns: int
    etag: str  # without quotes
    content_type: str
    metadata: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    checksum: dict | None = None  # {"algorithm": "CRC32", "value": "...", "type": "FULL_OBJECT"}
    part_sizes: list | None = None
    storage_class: str = "STANDARD"


_HANDLERS = {
    "ListBuckets": "_op_list_buckets",
    "CreateBucket": "_op_create_bucket",
    "HeadBucket": "_op_head_bucket",
    "DeleteBucket": "_op_delete_bucket",
    "GetBucketLocation": "_op_get_bucket_location",
    "ListObjects": "_op_list_objects",
    "ListObjectsV2": "_op_list_objects_v2",
    "PutObject": "_op_put_object",
    "GetObject": "_op_get_object",
    "HeadObject": "_op_head_object",
    "DeleteObject": "_op_delete_object",
    "DeleteObjects": "_op_delete_objects",
    "CopyObject": "_op_copy_object",
    "CreateMultipartUpload": "_op_create_multipart_upload",
    "UploadPart": "_op_upload_part",
    "UploadPartCopy": "_op_upload_part_copy",
    "CompleteMultipartUpload": "_op_complete_multipart_upload",
    "AbortMultipartUpload": "_op_abort_multipart_upload",
}

_Result = tuple  # (status, headers, body: bytes | _FileBody)


class LocalS3:
    """S3 served from the folder ``root``: ``s3://bucket/key`` is ``root/bucket/key``.

    ``handle(request)`` answers one botocore ``AWSPreparedRequest`` for service s3; register it
    on a session's ``before-send.s3`` event. The other public methods are Python-level helpers
    for kit code that already runs locally (they raise FileNotFoundError / ValueError, not S3Error).
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(os.path.abspath(os.fspath(root)))
        self.root.mkdir(parents=True, exist_ok=True)
        self._meta_root = self.root / META_DIR
        self._etag_cache: dict[str, tuple[int, int, str]] = {}
        self._lock = threading.Lock()

    def __repr__(self):
        return f"LocalS3(root={str(self.root)!r})"

    # ------------------------------------------------------------------ public API

    def handle(self, request, operation=None, **kwargs) -> AWSResponse:  # noqa: ARG002 - routed by cloud.Router
        """Serve one prepared S3 request; always returns an AWSResponse (errors as S3 error XML)."""
        request_id = uuid.uuid4().hex[:16].upper()
        req = None
        try:
            req = _parse_request(request)
            level = "service" if req.bucket is None else ("bucket" if not req.key else "key")
            req.operation = _identify(req.method, level, req.query, req.headers) or ""
            handler = _HANDLERS.get(req.operation)
            if handler is None:
                raise _unimplemented(req.operation or f"{req.method} {urlsplit(req.url).path or '/'}")
            logger.debug("local S3 %s bucket=%r key=%r", req.operation, req.bucket, req.key)
            status, headers, body = getattr(self, handler)(req)
        except S3Error as exc:
            return self._error(request, exc, request_id)
        except Exception as exc:  # a bug or an OS error: answer like S3's InternalError would
            logger.exception("local S3 failed on %s", getattr(req, "operation", "?"))
            operation = getattr(req, "operation", "") or "the request"
            return self._error(
                request,
                S3Error("InternalError", f"Local S3 failed while handling {operation}: {type(exc).__name__}: {exc}", 500),
                request_id,
            )
        return self._response(request, status, headers, body, request_id)

    def path_for(self, bucket: str, key: str) -> Path:
        """The file holding ``s3://bucket/key`` (a folder for '' or keys ending in '/')."""
        try:
            _check_bucket_name(bucket)
            if key in ("", None):
                return self.root / bucket
            parts, _ = _key_parts(key)
        except S3Error as exc:
            raise ValueError(exc.message) from None
        return self.root.joinpath(bucket, *parts)

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
            bucket_dir = self._bucket_dir(bucket)
        except S3Error:
            return []
        return [name for name, _ in self._collect(bucket_dir, prefix or "", "")]

    def create_bucket(self, bucket: str, region: str = "us-east-1", exist_ok: bool = True) -> Path:
        """Create a bucket folder (with its region recorded); returns the folder."""
        try:
            _validate_new_bucket_name(bucket)
        except S3Error as exc:
            raise ValueError(f"{bucket!r}: {exc.message}") from None
        path = self.root / bucket
        if path.is_dir() and not exist_ok:
            raise FileExistsError(f"Bucket {bucket!r} already exists")
        path.mkdir(parents=True, exist_ok=True)
        if not self._bucket_meta_path(bucket).exists():
            self._write_json(self._bucket_meta_path(bucket), {
                "region": region, "constraint": None if region == "us-east-1" else region,
                "created_ns": time.time_ns()})
        return path

    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str | None = None,
                  metadata: dict | None = None) -> str:
        """Store ``data`` as ``s3://bucket/key``; returns the quoted ETag."""
        return self._put_helper(bucket, key, [bytes(data)], content_type, metadata)

    def put_file(self, bucket: str, key: str, path, content_type: str | None = None,
                 metadata: dict | None = None) -> str:
        """Copy the local file ``path`` to ``s3://bucket/key`` (atomically); returns the quoted ETag."""
        with open(path, "rb") as fh:
            return self._put_helper(bucket, key, iter(lambda: fh.read(_CHUNK), b""), content_type, metadata)

    def read_bytes(self, bucket: str, key: str) -> bytes:
        """The bytes of ``s3://bucket/key``; FileNotFoundError if there is no such object."""
        try:
            obj = self._get_object_info(self._bucket_dir(bucket), bucket, key)
        except S3Error as exc:
            if exc.status == 404:
                raise FileNotFoundError(f"s3://{bucket}/{key} does not exist ({exc.message})") from None
            raise ValueError(exc.message) from None
        if obj is None:
            raise FileNotFoundError(f"s3://{bucket}/{key} does not exist (no file {self.root / bucket / key})")
        return obj.path.read_bytes() if obj.path.is_file() else b""

    def read_uri(self, uri: str) -> bytes:
        """The bytes of the object ``s3://bucket/key``; FileNotFoundError if missing."""
        bucket, key = split_s3_uri(uri)
        return self.read_bytes(bucket, key)

    # ------------------------------------------------------------------ responses

    def _response(self, request, status, headers, body, request_id) -> AWSResponse:
        out = {
            "x-amz-request-id": request_id,
            "x-amz-id-2": _b64(request_id.encode() * 2),
            "Date": _http_date(time.time_ns()),
            "Server": "LabLocalS3",
        }
        out.update(headers)
        if isinstance(body, _FileBody):
            raw = body
        else:
            body = body or b""
            out.setdefault("Content-Length", str(len(body)))
            raw = _BytesBody(body)
        return AWSResponse(getattr(request, "url", ""), status, out, raw)

    def _error(self, request, exc: S3Error, request_id) -> AWSResponse:
        headers = dict(exc.headers)
        if (getattr(request, "method", "") or "").upper() == "HEAD" or exc.status == 304:
            headers["Content-Length"] = "0"
            return self._response(request, exc.status, headers, b"", request_id)
        root = _xml_root("Error", ns=None)
        _sub(root, "Code", exc.code)
        _sub(root, "Message", exc.message)
        for name, value in exc.fields.items():
            if value is not None:
                _sub(root, name, value)
        _sub(root, "RequestId", request_id)
        _sub(root, "HostId", _b64(request_id.encode() * 2))
        headers["Content-Type"] = "application/xml"
        return self._response(request, exc.status, headers, _xml_bytes(root), request_id)

    @staticmethod
    def _xml_result(root: ET.Element, headers: dict | None = None, status: int = 200) -> _Result:
        out = {"Content-Type": "application/xml"}
        out.update(headers or {})
        return status, out, _xml_bytes(root)

    # ------------------------------------------------------------------ storage primitives

    def _bucket_dir(self, bucket) -> Path:
        _check_bucket_name(bucket)
        path = self.root / bucket
        if not path.is_dir():
            raise _no_such_bucket(bucket)
        return path

    def _bucket_meta_path(self, bucket: str) -> Path:
        return self._meta_root / "buckets" / f"{bucket}.json"

    def _bucket_info(self, bucket: str, default_region: str) -> dict:
        info = self._read_json(self._bucket_meta_path(bucket)) or {}
        region = info.get("region") or default_region
        created = info.get("created_ns")
        if not isinstance(created, int):
            try:
                created = os.stat(self.root / bucket).st_mtime_ns
            except OSError:
                created = time.time_ns()
        return {"region": region, "constraint": info.get("constraint", region), "created_ns": created}

    def _object_meta_path(self, bucket: str, parts: list[str]) -> Path:
        return self._meta_root.joinpath("objects", bucket, *parts)

    def _uploads_dir(self) -> Path:
        return self._meta_root / "uploads"

    @staticmethod
    def _read_json(path: Path):
        try:
            with open(path, "rb") as fh:
                value = json.load(fh)
            return value if isinstance(value, dict) else None
        except (OSError, ValueError):
            return None

    def _write_json(self, path: Path, value: dict) -> None:
        data = json.dumps(value, sort_keys=True).encode("utf-8")
        self._write_atomic(path, [data])

    @staticmethod
    def _open_temp(directory: Path):
        for attempt in range(3):
            directory.mkdir(parents=True, exist_ok=True)
            tmp = directory / f"{_TMP_PREFIX}{uuid.uuid4().hex}"
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            except FileNotFoundError:  # folder pruned by a concurrent delete: recreate and retry
                if attempt == 2:
                    raise
                continue
            return os.fdopen(fd, "wb"), tmp
        raise OSError(f"cannot create a temporary file in {directory}")  # pragma: no cover

    def _write_atomic(self, dest: Path, chunks: Iterable[bytes], sinks=(), check: Callable | None = None) -> int:
        """Write ``chunks`` to a temp file beside ``dest``, run ``check(size)``, then os.replace."""
        fh, tmp = self._open_temp(dest.parent)
        size = 0
        try:
            with fh:
                for chunk in chunks:
                    if not chunk:
                        continue
                    fh.write(chunk)
                    size += len(chunk)
                    for sink in sinks:
                        sink.update(chunk)
            if check is not None:
                check(size)
            os.replace(tmp, dest)
        except BaseException:
            _silent_unlink(tmp)
            raise
        return size

    def _prune(self, start: Path, stop: Path) -> None:
        """Remove empty folders from ``start`` up to (not including) ``stop``."""
        current = start
        while current != stop and stop in current.parents:
            try:
                current.rmdir()
            except OSError:
                return
            current = current.parent

    def _write_object_meta(self, bucket: str, parts: list[str], meta: dict) -> None:
        path = self._object_meta_path(bucket, parts)
        base = self._meta_root / "objects" / bucket
        # The sidecar tree mirrors the bucket tree; clear stale entries that would block it.
        current = base
        for segment in parts[:-1]:
            current = current / segment
            if current.exists() and not current.is_dir():
                _silent_unlink(current)
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        try:
            self._write_json(path, meta)
        except OSError:  # the object itself is written; without a sidecar it is derived from the file
            logger.warning("could not write S3 metadata sidecar for s3://%s/%s", bucket, "/".join(parts), exc_info=True)

    def _drop_object_meta(self, bucket: str, parts: list[str]) -> None:
        path = self._object_meta_path(bucket, parts)
        if path.is_file():
            _silent_unlink(path)
        self._prune(path.parent, self._meta_root / "objects")

    def _content_etag(self, path: Path, st: os.stat_result) -> str:
        cache_key = str(path)
        with self._lock:
            cached = self._etag_cache.get(cache_key)
        if cached and cached[0] == st.st_size and cached[1] == st.st_mtime_ns:
            return cached[2]
        digest = hashlib.md5()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                digest.update(chunk)
        etag = digest.hexdigest()
        with self._lock:
            if len(self._etag_cache) > 50_000:
                self._etag_cache.clear()
            self._etag_cache[cache_key] = (st.st_size, st.st_mtime_ns, etag)
        return etag

    def _object_from_file(self, bucket: str, key: str, parts: list[str], path: Path, st) -> _Object:
        meta = self._read_json(self._object_meta_path(bucket, parts))
        if meta and meta.get("size") == st.st_size and meta.get("mtime_ns") == st.st_mtime_ns and meta.get("etag"):
            return _Object(
                bucket, key, path, st.st_size, st.st_mtime_ns, meta["etag"],
                meta.get("content_type") or _DEFAULT_PUT_CONTENT_TYPE,
                dict(meta.get("metadata") or {}), dict(meta.get("headers") or {}),
                meta.get("checksum"), meta.get("part_sizes"), meta.get("storage_class") or "STANDARD",
            )
        # Dropped in (or edited) by hand: the file alone defines the object.
        return _Object(bucket, key, path, st.st_size, st.st_mtime_ns, self._content_etag(path, st),
                       _HAND_MADE_CONTENT_TYPE)

    def _get_object_info(self, bucket_dir: Path, bucket: str, key: str) -> _Object | None:
        parts, is_folder = _key_parts(key)
        path = bucket_dir.joinpath(*parts)
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if is_folder:
            if not stat.S_ISDIR(st.st_mode):
                return None
            return _Object(bucket, key, path, 0, st.st_mtime_ns, hashlib.md5(b"").hexdigest(), _FOLDER_CONTENT_TYPE)
        if not stat.S_ISREG(st.st_mode):
            return None
        return self._object_from_file(bucket, key, parts, path, st)

    def _require_object(self, bucket: str, key: str) -> _Object:
        obj = self._get_object_info(self._bucket_dir(bucket), bucket, key)
        if obj is None:
            raise _no_such_key(key)
        return obj

    def _check_writable(self, bucket_dir: Path, key: str, parts: list[str]) -> Path:
        current = bucket_dir
        for i, segment in enumerate(parts[:-1]):
            current = current / segment
            if current.exists() and not current.is_dir():
                taken = "/".join(parts[: i + 1])
                raise _not_representable(
                    key, f"'{taken}' is already an object (a file), so it cannot also be a folder of other keys")
        target = current / parts[-1]
        if target.is_dir():
            raise _not_representable(
                key, f"other keys start with '{key}/', so '{key}' is a folder and cannot also be an object")
        return target

    def _store(self, bucket: str, key: str, parts: list[str], target: Path, chunks: Iterable[bytes], *,
               content_type: str | None, metadata: dict, headers: dict, checksum_algorithm: str | None = None,
               expected_checksum: Callable[[], str | None] | None = None, check: Callable | None = None,
               checksum_type: str = "FULL_OBJECT", part_sizes: list | None = None,
               etag: str | None = None, storage_class: str = "STANDARD") -> dict:
        """Write an object's bytes and sidecar. ``check(size, md5, checksum_b64)`` may raise S3Error."""
        md5 = hashlib.md5()
        hasher = _new_checksum(checksum_algorithm)
        sinks = [md5] + ([hasher] if hasher is not None else [])
        state = {}

        def validate(size):
            computed = _b64(hasher.digest()) if hasher is not None else None
            expected = expected_checksum() if expected_checksum else None
            if computed and expected and computed != expected:
                raise S3Error("BadDigest",
                              f"The {checksum_algorithm.upper()} you specified did not match the calculated checksum.")
            if check is not None:
                check(size, md5)
            state["checksum"] = computed or expected

        size = self._write_atomic(target, chunks, sinks, validate)
        st = os.stat(target)
        checksum = None
        if checksum_algorithm and state.get("checksum"):
            checksum = {"algorithm": checksum_algorithm.upper(), "value": state["checksum"], "type": checksum_type}
        meta = {
            "etag": etag or md5.hexdigest(),
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "content_type": content_type or _DEFAULT_PUT_CONTENT_TYPE,
            "metadata": metadata,
            "headers": headers,
            "checksum": checksum,
            "part_sizes": part_sizes,
            "storage_class": storage_class,
        }
        self._write_object_meta(bucket, parts, meta)
        with self._lock:
            self._etag_cache.pop(str(target), None)
        logger.debug("stored s3://%s/%s (%d bytes)", bucket, key, size)
        return meta

    def _put_helper(self, bucket, key, chunks, content_type, metadata) -> str:
        try:
            bucket_dir = self._bucket_dir(bucket)
        except S3Error:
            raise FileNotFoundError(f"Bucket {bucket!r} does not exist (no folder {self.root / str(bucket)})") from None
        try:
            parts, is_folder = _key_parts(key)
            if is_folder:
                raise _not_representable(key, "it ends with '/', which local mode keeps as a folder, not a file")
            target = self._check_writable(bucket_dir, key, parts)
        except S3Error as exc:
            raise ValueError(exc.message) from None
        meta = self._store(bucket, key, parts, target, chunks, content_type=content_type,
                           metadata={str(k).lower(): str(v) for k, v in (metadata or {}).items()}, headers={},
                           checksum_algorithm="crc32")
        return _quoted(meta["etag"])

    # ------------------------------------------------------------------ request bodies -> objects

    def _receive(self, req: _Request, bucket: str, key: str, parts: list[str], target: Path, *,
                 content_type, metadata, headers, default_algorithm=None, checksum_type="FULL_OBJECT",
                 part_meta: bool = False) -> dict:
        """Store the request body as an object (or a part), verifying MD5 / checksums / lengths."""
        h = req.headers
        pieces = _iter_body(req.body)
        chunked = _is_aws_chunked(h)
        decoder = _AwsChunkedDecoder(pieces) if chunked else None
        chunks = iter(decoder) if decoder is not None else pieces
        algorithm, header_value = _requested_checksum(h)
        algorithm = algorithm or default_algorithm
        sha_header = h.get("x-amz-content-sha256", "")
        sha = hashlib.sha256() if (not chunked and re.fullmatch(r"[0-9a-f]{64}", sha_header)) else None
        content_md5 = h.get("content-md5")

        def expected_checksum():
            if header_value:
                return header_value
            if decoder is not None and algorithm:
                return decoder.trailers.get(f"x-amz-checksum-{algorithm}")
            return None

        def check(size, md5):
            if decoder is not None:
                declared = h.get("x-amz-decoded-content-length")
                if declared and declared.strip().isdigit() and int(declared) != size:
                    raise S3Error("IncompleteBody",
                                  "You did not provide the number of bytes specified by the "
                                  "X-Amz-Decoded-Content-Length HTTP header.")
            if content_md5 is not None:
                _check_content_md5(content_md5, md5.digest())
            if sha is not None and sha.hexdigest() != sha_header:
                raise S3Error("XAmzContentSHA256Mismatch",
                              "The provided 'x-amz-content-sha256' header does not match what was computed.")

        if sha is not None:
            chunks = _tee(chunks, sha)
        if part_meta:
            return self._store_part(target, chunks, algorithm, expected_checksum, check)
        return self._store(bucket, key, parts, target, chunks, content_type=content_type, metadata=metadata,
                           headers=headers, checksum_algorithm=algorithm, expected_checksum=expected_checksum,
                           check=check, checksum_type=checksum_type,
                           storage_class=h.get("x-amz-storage-class", "STANDARD") or "STANDARD")

    def _store_part(self, target: Path, chunks, algorithm, expected_checksum, check) -> dict:
        md5 = hashlib.md5()
        hasher = _new_checksum(algorithm)
        state = {}

        def validate(size):
            computed = _b64(hasher.digest()) if hasher is not None else None
            expected = expected_checksum()
            if computed and expected and computed != expected:
                raise S3Error("BadDigest", f"The {algorithm.upper()} you specified did not match the calculated checksum.")
            check(size, md5)
            state["checksum"] = computed or expected

        size = self._write_atomic(target, chunks, [md5] + ([hasher] if hasher else []), validate)
        meta = {"etag": md5.hexdigest(), "size": size}
        if algorithm and state.get("checksum"):
            meta["checksum"] = {"algorithm": algorithm.upper(), "value": state["checksum"]}
        self._write_json(target.with_name(target.name + ".json"), meta)
        return meta

    @staticmethod
    def _object_fields_from_headers(h: dict) -> tuple[str | None, dict, dict]:
        metadata = {name[11:]: value for name, value in h.items() if name.startswith("x-amz-meta-")}
        stored = {}
        for name in _STORED_HEADERS:
            value = h.get(name)
            if name == "content-encoding" and value:
                value = ",".join(t.strip() for t in value.split(",") if t.strip() and t.strip().lower() != "aws-chunked")
            if value:
                stored[name] = value
        return h.get("content-type"), metadata, stored

    # ------------------------------------------------------------------ response headers

    def _object_headers(self, obj: _Object, req: _Request, full: bool) -> dict:
        headers = {
            "ETag": _quoted(obj.etag),
            "Last-Modified": _http_date(obj.mtime_ns),
            "Content-Type": obj.content_type,
            "Accept-Ranges": "bytes",
            "x-amz-server-side-encryption": "AES256",
        }
        for name, value in obj.headers.items():
            headers[{"cache-control": "Cache-Control", "content-disposition": "Content-Disposition",
                     "content-encoding": "Content-Encoding", "content-language": "Content-Language",
                     "expires": "Expires"}.get(name, name)] = value
        for name, value in obj.metadata.items():
            headers[f"x-amz-meta-{name}"] = value
        if obj.storage_class and obj.storage_class != "STANDARD":
            headers["x-amz-storage-class"] = obj.storage_class
        if req.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED" and obj.checksum and full:
            headers[f"x-amz-checksum-{obj.checksum['algorithm'].lower()}"] = obj.checksum["value"]
            headers["x-amz-checksum-type"] = obj.checksum.get("type", "FULL_OBJECT")
        return headers

    @staticmethod
    def _check_conditions(obj: _Object, h: dict, prefix: str = "") -> None:
        """If-Match / If-None-Match / If-(Un)Modified-Since, as for GET and HEAD (or copy-source)."""
        if_match = h.get(f"{prefix}if-match")
        if_none_match = h.get(f"{prefix}if-none-match")
        modified = obj.mtime_ns // 1_000_000_000
        if if_match is not None and not _etag_matches(if_match, obj.etag):
            raise S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                          412, Condition="If-Match")
        unmodified_since = _parse_http_date(h.get(f"{prefix}if-unmodified-since"))
        if if_match is None and unmodified_since is not None and modified > unmodified_since:
            raise S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                          412, Condition="If-Unmodified-Since")
        not_modified = 412 if prefix else 304
        if if_none_match is not None and _etag_matches(if_none_match, obj.etag):
            raise S3Error("PreconditionFailed" if prefix else "NotModified",
                          "At least one of the pre-conditions you specified did not hold" if prefix else "Not Modified",
                          not_modified, headers={"ETag": _quoted(obj.etag)})
        since = _parse_http_date(h.get(f"{prefix}if-modified-since"))
        if if_none_match is None and since is not None and modified <= since:
            raise S3Error("PreconditionFailed" if prefix else "NotModified",
                          "At least one of the pre-conditions you specified did not hold" if prefix else "Not Modified",
                          not_modified, headers={"ETag": _quoted(obj.etag)})

    # ------------------------------------------------------------------ service / bucket operations

    def _op_list_buckets(self, req: _Request) -> _Result:
        names = []
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            entries = []
        for entry in entries:
            if entry.name.startswith(".") or not _ACCESSIBLE_BUCKET.match(entry.name) or ".." in entry.name:
                continue
            if entry.is_dir():
                names.append(entry.name)
        names.sort()
        prefix = req.query.get("prefix", "")
        names = [n for n in names if n.startswith(prefix)]
        token = req.query.get("continuation-token")
        if token:
            after = _token_decode(token, "continuation token")
            names = [n for n in names if n > after]
        limit = _int_param(req.query, "max-buckets", 10000, 1, 10000)
        page, truncated = names[:limit], len(names) > limit
        root = _xml_root("ListAllMyBucketsResult")
        owner = _sub(root, "Owner")
        _sub(owner, "ID", _OWNER_ID)
        _sub(owner, "DisplayName", _OWNER_NAME)
        buckets = _sub(root, "Buckets")
        for name in page:
            info = self._bucket_info(name, req.region)
            element = _sub(buckets, "Bucket")
            _sub(element, "Name", name)
            _sub(element, "CreationDate", _iso(info["created_ns"]))
            _sub(element, "BucketRegion", info["region"])
        if truncated:
            _sub(root, "ContinuationToken", _token_encode(page[-1]))
        if "prefix" in req.query:
            _sub(root, "Prefix", prefix)
        return self._xml_result(root)

    def _op_create_bucket(self, req: _Request) -> _Result:
        bucket = req.bucket
        _validate_new_bucket_name(bucket)
        body = req.read_body()
        constraint = None
        if body.strip():
            constraint = _child_text(_parse_xml(body), "LocationConstraint") or None
        endpoint_region = req.region
        if constraint == "us-east-1":
            raise S3Error("InvalidLocationConstraint", "The specified location-constraint is not valid",
                          LocationConstraint=constraint)
        if endpoint_region != "us-east-1":
            region_of_constraint = "eu-west-1" if constraint == "EU" else constraint
            if region_of_constraint != endpoint_region:
                described = "unspecified" if constraint is None else constraint
                raise S3Error(
                    "IllegalLocationConstraintException",
                    f"The {described} location constraint is incompatible for the region specific endpoint "
                    "this request was sent to.",
                )
        path = self.root / bucket
        if path.exists() and not path.is_dir():
            raise S3Error("BucketAlreadyExists",
                          "The requested bucket name is not available: a file with that name is in the local S3 root.",
                          409, BucketName=bucket)
        try:
            path.mkdir(parents=False, exist_ok=False)
        except FileExistsError:
            raise S3Error("BucketAlreadyOwnedByYou",
                          "Your previous request to create the named bucket succeeded and you already own it.",
                          409, BucketName=bucket) from None
        region = "eu-west-1" if constraint == "EU" else (constraint or "us-east-1")
        self._write_json(self._bucket_meta_path(bucket),
                         {"region": region, "constraint": constraint, "created_ns": time.time_ns()})
        location = f"/{bucket}" if region == "us-east-1" else f"http://{bucket}.s3.amazonaws.com/"
        return 200, {"Location": location, "x-amz-bucket-arn": f"arn:aws:s3:::{bucket}"}, b""

    def _op_head_bucket(self, req: _Request) -> _Result:
        self._bucket_dir(req.bucket)
        info = self._bucket_info(req.bucket, req.region)
        return 200, {"x-amz-bucket-region": info["region"], "x-amz-access-point-alias": "false",
                     "x-amz-bucket-arn": f"arn:aws:s3:::{req.bucket}"}, b""

    def _op_delete_bucket(self, req: _Request) -> _Result:
        bucket_dir = self._bucket_dir(req.bucket)
        if self._contains_object(bucket_dir):
            raise S3Error("BucketNotEmpty", "The bucket you tried to delete is not empty", 409, BucketName=req.bucket)
        shutil.rmtree(bucket_dir)  # only empty folders / ignored noise are left
        shutil.rmtree(self._meta_root / "objects" / req.bucket, ignore_errors=True)
        _silent_unlink(self._bucket_meta_path(req.bucket))
        return 204, {}, b""

    def _op_get_bucket_location(self, req: _Request) -> _Result:
        self._bucket_dir(req.bucket)
        info = self._bucket_info(req.bucket, req.region)
        root = _xml_root("LocationConstraint")
        constraint = info["constraint"]
        if constraint and constraint != "us-east-1":
            root.text = constraint
        return self._xml_result(root)

    # ------------------------------------------------------------------ listing

    @staticmethod
    def _scan(directory: Path):
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return []
        return [e for e in entries
                if not e.name.startswith(_TMP_PREFIX) and e.name not in _IGNORED_NAMES and _encodable(e.name)]

    def _walk_keys(self, directory: Path, rel: str, seen=None) -> Iterator[str]:
        seen = set() if seen is None else seen
        try:
            st = os.stat(directory)
        except OSError:
            return
        ident = (st.st_dev, st.st_ino)
        if ident in seen:  # a symlink loop
            return
        seen.add(ident)
        for entry in self._scan(directory):
            try:
                if entry.is_dir():
                    yield from self._walk_keys(Path(entry.path), f"{rel}{entry.name}/", seen)
                elif entry.is_file():
                    yield rel + entry.name
            except OSError:
                continue

    def _contains_object(self, directory: Path) -> bool:
        return next(iter(self._walk_keys(directory, "")), None) is not None

    def _collect(self, bucket_dir: Path, prefix: str, delimiter: str) -> list[tuple[str, bool]]:
        """Sorted ``(name, is_common_prefix)`` for all keys under ``prefix``, rolled up at ``delimiter``."""
        base_rel = prefix.rpartition("/")[0]
        base_parts = base_rel.split("/") if base_rel else []
        if any(p in ("", ".", "..") or p.startswith(_TMP_PREFIX) or p in _IGNORED_NAMES for p in base_parts):
            return []
        base_dir = bucket_dir.joinpath(*base_parts)
        if not base_dir.is_dir():
            return []
        rel_base = f"{base_rel}/" if base_rel else ""
        out: list[tuple[str, bool]] = []
        if delimiter == "/":
            for entry in self._scan(base_dir):
                rel = rel_base + entry.name
                if not rel.startswith(prefix):
                    continue
                try:
                    if entry.is_dir():
                        if self._contains_object(Path(entry.path)):
                            out.append((rel + "/", True))
                    elif entry.is_file():
                        out.append((rel, False))
                except OSError:
                    continue
            out.sort()
            return out
        keys = sorted(k for k in self._walk_keys(base_dir, rel_base) if k.startswith(prefix))
        if not delimiter:
            return [(k, False) for k in keys]
        last = None
        for key in keys:
            cut = key.find(delimiter, len(prefix))
            if cut >= 0:
                common = key[: cut + len(delimiter)]
                if common != last:
                    out.append((common, True))
                    last = common
            else:
                out.append((key, False))
        out.sort()
        return out

    def _listing_page(self, req: _Request, after: str):
        bucket_dir = self._bucket_dir(req.bucket)
        prefix = req.query.get("prefix", "")
        delimiter = req.query.get("delimiter", "")
        encoding = req.query.get("encoding-type")
        if encoding is not None and encoding != "url":
            raise S3Error("InvalidArgument", "Invalid Encoding Method specified in Request",
                          ArgumentName="encoding-type", ArgumentValue=encoding)
        max_keys = _int_param(req.query, "max-keys", 1000, 0, None)
        entries = [e for e in self._collect(bucket_dir, prefix, delimiter) if e[0] > after]
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
                obj = self._object_from_file(req.bucket, name, parts, path, st)
            except OSError:  # removed while listing
                continue
            contents.append((name, obj))
        enc = (lambda s: quote_plus(s, safe="/")) if encoding == "url" else (lambda s: s)
        return prefix, delimiter, encoding, max_keys, contents, truncated, enc

    @staticmethod
    def _add_contents(root, contents, enc, with_owner: bool) -> None:
        for name, obj in contents:
            if obj is None:
                continue
            element = _sub(root, "Contents")
            _sub(element, "Key", enc(name))
            _sub(element, "LastModified", _iso(obj.mtime_ns))
            _sub(element, "ETag", _quoted(obj.etag))
            if obj.checksum:
                _sub(element, "ChecksumAlgorithm", obj.checksum["algorithm"])
                _sub(element, "ChecksumType", obj.checksum.get("type", "FULL_OBJECT"))
            _sub(element, "Size", obj.size)
            if with_owner:
                owner = _sub(element, "Owner")
                _sub(owner, "ID", _OWNER_ID)
                _sub(owner, "DisplayName", _OWNER_NAME)
            _sub(element, "StorageClass", obj.storage_class)
        for name, obj in contents:
            if obj is None:
                _sub(_sub(root, "CommonPrefixes"), "Prefix", enc(name))

    def _op_list_objects(self, req: _Request) -> _Result:
        marker = req.query.get("marker", "")
        prefix, delimiter, encoding, max_keys, contents, truncated, enc = self._listing_page(req, marker)
        root = _xml_root("ListBucketResult")
        _sub(root, "Name", req.bucket)
        _sub(root, "Prefix", enc(prefix))
        _sub(root, "Marker", enc(marker))
        _sub(root, "MaxKeys", max_keys)
        if delimiter:
            _sub(root, "Delimiter", enc(delimiter))
        _sub(root, "IsTruncated", "true" if truncated else "false")
        if truncated and delimiter and contents:
            _sub(root, "NextMarker", enc(contents[-1][0]))
        if encoding:
            _sub(root, "EncodingType", encoding)
        self._add_contents(root, contents, enc, with_owner=True)
        return self._xml_result(root)

    def _op_list_objects_v2(self, req: _Request) -> _Result:
        token = req.query.get("continuation-token")
        start_after = req.query.get("start-after", "")
        after = _token_decode(token, "continuation token") if token else start_after
        after = max(after, start_after)
        prefix, delimiter, encoding, max_keys, contents, truncated, enc = self._listing_page(req, after)
        root = _xml_root("ListBucketResult")
        _sub(root, "Name", req.bucket)
        _sub(root, "Prefix", enc(prefix))
        _sub(root, "MaxKeys", max_keys)
        _sub(root, "KeyCount", len(contents))
        if delimiter:
            _sub(root, "Delimiter", enc(delimiter))
        _sub(root, "IsTruncated", "true" if truncated else "false")
        if token:
            _sub(root, "ContinuationToken", token)
        if truncated and contents:
            _sub(root, "NextContinuationToken", _token_encode(contents[-1][0]))
        if "start-after" in req.query:
            _sub(root, "StartAfter", enc(start_after))
        if encoding:
            _sub(root, "EncodingType", encoding)
        self._add_contents(root, contents, enc, with_owner=req.query.get("fetch-owner") == "true")
        return self._xml_result(root)

    # ------------------------------------------------------------------ object operations

    def _op_put_object(self, req: _Request) -> _Result:
        bucket_dir = self._bucket_dir(req.bucket)
        parts, is_folder = _key_parts(req.key)
        if is_folder:
            return self._put_folder(req, bucket_dir, parts)
        target = self._check_writable(bucket_dir, req.key, parts)
        self._check_write_conditions(req, bucket_dir)
        content_type, metadata, stored = self._object_fields_from_headers(req.headers)
        meta = self._receive(req, req.bucket, req.key, parts, target,
                             content_type=content_type, metadata=metadata, headers=stored)
        headers = {"ETag": _quoted(meta["etag"]), "x-amz-server-side-encryption": "AES256",
                   "x-amz-object-size": str(meta["size"])}
        if meta["checksum"]:
            headers[f"x-amz-checksum-{meta['checksum']['algorithm'].lower()}"] = meta["checksum"]["value"]
            headers["x-amz-checksum-type"] = meta["checksum"]["type"]
        return 200, headers, b""

    def _put_folder(self, req: _Request, bucket_dir: Path, parts: list[str]) -> _Result:
        if req.read_body():
            raise _not_representable(
                req.key, "it ends with '/', which local mode keeps as a folder, so it cannot hold data")
        current = bucket_dir
        for i, segment in enumerate(parts):
            current = current / segment
            if current.exists() and not current.is_dir():
                raise _not_representable(
                    req.key, f"'{'/'.join(parts[: i + 1])}' is already an object (a file), so it cannot be a folder")
        current.mkdir(parents=True, exist_ok=True)
        return 200, {"ETag": _quoted(hashlib.md5(b"").hexdigest()), "x-amz-server-side-encryption": "AES256"}, b""

    def _check_write_conditions(self, req: _Request, bucket_dir: Path) -> None:
        if_none_match = req.headers.get("if-none-match")
        if_match = req.headers.get("if-match")
        if if_none_match is None and if_match is None:
            return
        existing = self._get_object_info(bucket_dir, req.bucket, req.key)
        if if_none_match is not None and existing is not None and _etag_matches(if_none_match, existing.etag):
            raise S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                          412, Condition="If-None-Match")
        if if_match is not None:
            if existing is None:
                raise _no_such_key(req.key)
            if not _etag_matches(if_match, existing.etag):
                raise S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                              412, Condition="If-Match")

    def _get_or_head(self, req: _Request, head: bool) -> _Result:
        obj = self._require_object(req.bucket, req.key)
        self._check_conditions(obj, req.headers)
        size = obj.size
        start, end, status = 0, size - 1, 200
        extra = {}
        part_number = req.query.get("partNumber")
        range_header = req.headers.get("range")
        if part_number is not None:
            number = _int_param(req.query, "partNumber", 1, 1, MAX_PARTS)
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
        headers = self._object_headers(obj, req, full=(status == 200))
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
        return status, headers, _FileBody(fh, length)

    def _op_get_object(self, req: _Request) -> _Result:
        return self._get_or_head(req, head=False)

    def _op_head_object(self, req: _Request) -> _Result:
        return self._get_or_head(req, head=True)

    def _delete_key(self, bucket_dir: Path, bucket: str, key: str) -> None:
        parts, is_folder = _key_parts(key)
        path = bucket_dir.joinpath(*parts)
        if is_folder:
            if path.is_dir():
                try:
                    path.rmdir()  # only an empty folder is a "folder object"
                except OSError:
                    return
                self._prune(path.parent, bucket_dir)
            return
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return
        if stat.S_ISDIR(st.st_mode):
            return
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        self._drop_object_meta(bucket, parts)
        with self._lock:
            self._etag_cache.pop(str(path), None)
        self._prune(path.parent, bucket_dir)

    def _op_delete_object(self, req: _Request) -> _Result:
        bucket_dir = self._bucket_dir(req.bucket)
        self._delete_key(bucket_dir, req.bucket, req.key)
        return 204, {}, b""

    def _op_delete_objects(self, req: _Request) -> _Result:
        bucket_dir = self._bucket_dir(req.bucket)
        body = req.read_body()
        _verify_small_body(req.headers, body, required=True)
        root = _parse_xml(body)
        if _local(root.tag) != "Delete":
            raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against "
                                          "our published schema (the root element must be Delete).")
        quiet = (_child_text(root, "Quiet") or "").strip().lower() == "true"
        objects = _children(root, "Object")
        if not objects or len(objects) > 1000:
            raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against "
                                          "our published schema (1 to 1000 Object elements are required).")
        result = _xml_root("DeleteResult")
        for element in objects:
            key = _child_text(element, "Key")
            if key is None:
                raise S3Error("MalformedXML", "Every Object element needs a Key.")
            try:
                self._delete_key(bucket_dir, req.bucket, key)
            except S3Error as exc:
                error = _sub(result, "Error")
                _sub(error, "Key", key)
                _sub(error, "Code", exc.code)
                _sub(error, "Message", exc.message)
                continue
            except OSError as exc:
                error = _sub(result, "Error")
                _sub(error, "Key", key)
                _sub(error, "Code", "InternalError")
                _sub(error, "Message", f"{type(exc).__name__}: {exc}")
                continue
            if not quiet:
                _sub(_sub(result, "Deleted"), "Key", key)
        return self._xml_result(result)

    def _copy_source(self, req: _Request) -> _Object:
        raw = req.headers.get("x-amz-copy-source", "")
        path_part = raw.split("?", 1)[0]
        source = unquote(path_part.lstrip("/"))
        bucket, sep, key = source.partition("/")
        if not bucket or not sep or not key:
            raise S3Error("InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
                          ArgumentName="x-amz-copy-source", ArgumentValue=raw)
        obj = self._require_object(bucket, key)
        self._check_conditions(obj, req.headers, prefix="x-amz-copy-source-")
        return obj

    def _op_copy_object(self, req: _Request) -> _Result:
        source = self._copy_source(req)
        bucket_dir = self._bucket_dir(req.bucket)
        parts, is_folder = _key_parts(req.key)
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
                raise _not_representable(req.key, "it ends with '/', which local mode keeps as a folder, "
                                                  "so it cannot hold data")
            return self._put_folder(req, bucket_dir, parts)
        target = self._check_writable(bucket_dir, req.key, parts)
        self._check_write_conditions(req, bucket_dir)
        if directive == "COPY":
            content_type, metadata, stored = source.content_type, source.metadata, source.headers
        else:
            content_type, metadata, stored = self._object_fields_from_headers(req.headers)
        algorithm = req.headers.get("x-amz-checksum-algorithm") or (
            source.checksum["algorithm"] if source.checksum and source.checksum.get("type") == "FULL_OBJECT" else None)
        if algorithm and _new_checksum(algorithm) is None:
            algorithm = None
        with open(source.path, "rb") as fh:
            meta = self._store(req.bucket, req.key, parts, target, iter(lambda: fh.read(_CHUNK), b""),
                               content_type=content_type, metadata=dict(metadata), headers=dict(stored),
                               checksum_algorithm=algorithm,
                               storage_class=storage_class or source.storage_class)
        root = _xml_root("CopyObjectResult")
        _sub(root, "ETag", _quoted(meta["etag"]))
        _sub(root, "LastModified", _iso(meta["mtime_ns"]))
        if meta["checksum"]:
            _sub(root, "ChecksumType", meta["checksum"]["type"])
            _sub(root, f"Checksum{meta['checksum']['algorithm']}", meta["checksum"]["value"])
        return self._xml_result(root, {"x-amz-server-side-encryption": "AES256"})

    # ------------------------------------------------------------------ multipart uploads

    def _upload_state(self, req: _Request) -> tuple[dict, Path]:
        upload_id = req.query.get("uploadId", "")
        self._bucket_dir(req.bucket)
        if not _UPLOAD_ID.match(upload_id):
            raise _no_such_upload(upload_id)
        directory = self._uploads_dir() / upload_id
        state = self._read_json(directory / "upload.json")
        if not state or state.get("bucket") != req.bucket or state.get("key") != req.key:
            raise _no_such_upload(upload_id)
        return state, directory

    def _op_create_multipart_upload(self, req: _Request) -> _Result:
        bucket_dir = self._bucket_dir(req.bucket)
        parts, is_folder = _key_parts(req.key)
        if is_folder:
            raise _not_representable(req.key, "it ends with '/', which local mode keeps as a folder, "
                                              "so it cannot hold data")
        self._check_writable(bucket_dir, req.key, parts)
        content_type, metadata, stored = self._object_fields_from_headers(req.headers)
        algorithm = (req.headers.get("x-amz-checksum-algorithm") or "").upper() or None
        checksum_type = (req.headers.get("x-amz-checksum-type") or "").upper() or None
        if algorithm and not checksum_type:
            checksum_type = "FULL_OBJECT" if algorithm == "CRC64NVME" else "COMPOSITE"
        upload_id = uuid.uuid4().hex
        self._write_json(self._uploads_dir() / upload_id / "upload.json", {
            "bucket": req.bucket, "key": req.key, "initiated_ns": time.time_ns(),
            "content_type": content_type, "metadata": metadata, "headers": stored,
            "checksum_algorithm": algorithm, "checksum_type": checksum_type,
            "storage_class": req.headers.get("x-amz-storage-class") or "STANDARD",
        })
        root = _xml_root("InitiateMultipartUploadResult")
        _sub(root, "Bucket", req.bucket)
        _sub(root, "Key", req.key)
        _sub(root, "UploadId", upload_id)
        headers = {"x-amz-server-side-encryption": "AES256"}
        if algorithm:
            headers["x-amz-checksum-algorithm"] = algorithm
            headers["x-amz-checksum-type"] = checksum_type
        return self._xml_result(root, headers)

    def _part_number(self, req: _Request) -> int:
        return _int_param(req.query, "partNumber", None, 1, MAX_PARTS)

    def _op_upload_part(self, req: _Request) -> _Result:
        state, directory = self._upload_state(req)
        number = self._part_number(req)
        algorithm = (state.get("checksum_algorithm") or "").lower() or None
        meta = self._receive(req, req.bucket, req.key, [], directory / f"{number:05d}", content_type=None,
                             metadata={}, headers={}, default_algorithm=algorithm, part_meta=True)
        headers = {"ETag": _quoted(meta["etag"]), "x-amz-server-side-encryption": "AES256"}
        if meta.get("checksum"):
            headers[f"x-amz-checksum-{meta['checksum']['algorithm'].lower()}"] = meta["checksum"]["value"]
        return 200, headers, b""

    def _op_upload_part_copy(self, req: _Request) -> _Result:
        state, directory = self._upload_state(req)
        number = self._part_number(req)
        source = self._copy_source(req)
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
                    data = fh.read(min(_CHUNK, left))
                    if not data:
                        return
                    left -= len(data)
                    yield data

        meta = self._store_part(directory / f"{number:05d}", chunks(), algorithm, lambda: None, lambda size, md5: None)
        root = _xml_root("CopyPartResult")
        _sub(root, "ETag", _quoted(meta["etag"]))
        _sub(root, "LastModified", _iso(time.time_ns()))
        if meta.get("checksum"):
            _sub(root, f"Checksum{meta['checksum']['algorithm']}", meta["checksum"]["value"])
        return self._xml_result(root, {"x-amz-server-side-encryption": "AES256"})

    def _op_complete_multipart_upload(self, req: _Request) -> _Result:
        state, directory = self._upload_state(req)
        body = req.read_body()
        root = _parse_xml(body) if body.strip() else None
        requested = []
        for element in (_children(root, "Part") if root is not None else []):
            number_text = _child_text(element, "PartNumber")
            etag = _child_text(element, "ETag")
            if not number_text or not number_text.strip().isdigit() or etag is None:
                raise S3Error("MalformedXML", "Each Part needs a PartNumber and an ETag.")
            checksums = {_local(c.tag)[8:].lower(): (c.text or "").strip()
                         for c in element if _local(c.tag).startswith("Checksum") and _local(c.tag) != "ChecksumType"}
            requested.append((int(number_text), _strip_etag(etag), checksums))
        if not requested:
            raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against our "
                                          "published schema (CompleteMultipartUpload needs at least one Part).")
        numbers = [n for n, _, _ in requested]
        if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
            raise S3Error("InvalidPartOrder", "The list of parts was not in ascending order. The parts list must be "
                                              "specified in order by part number.", UploadId=req.query["uploadId"])
        parts_meta = []
        for index, (number, etag, checksums) in enumerate(requested):
            part = self._read_json(directory / f"{number:05d}.json")
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
                              ETag=_quoted(etag))
            parts_meta.append((number, part))

        bucket_dir = self._bucket_dir(req.bucket)
        key_parts, _ = _key_parts(req.key)
        target = self._check_writable(bucket_dir, req.key, key_parts)
        self._check_write_conditions(req, bucket_dir)
        count = len(parts_meta)
        etag = hashlib.md5(b"".join(bytes.fromhex(p["etag"]) for _, p in parts_meta)).hexdigest() + f"-{count}"
        algorithm = state.get("checksum_algorithm")
        checksum_type = state.get("checksum_type") or "COMPOSITE"
        composite = None
        if algorithm and checksum_type == "COMPOSITE":
            digests = [(p.get("checksum") or {}).get("value") for _, p in parts_meta]
            hasher = _new_checksum(algorithm)
            if hasher is not None and all(digests):
                for value in digests:
                    hasher.update(base64.b64decode(value))
                composite = f"{_b64(hasher.digest())}-{count}"

        def chunks():
            for number, _ in parts_meta:
                with open(directory / f"{number:05d}", "rb") as fh:
                    yield from iter(lambda: fh.read(_CHUNK), b"")

        meta = self._store(
            req.bucket, req.key, key_parts, target, chunks(),
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
            self._write_object_meta(req.bucket, key_parts, meta)
        shutil.rmtree(directory, ignore_errors=True)
        result = _xml_root("CompleteMultipartUploadResult")
        _sub(result, "Location", f"https://{req.bucket}.s3.{req.region}.amazonaws.com/{quote(req.key)}")
        _sub(result, "Bucket", req.bucket)
        _sub(result, "Key", req.key)
        _sub(result, "ETag", _quoted(etag))
        if meta["checksum"]:
            _sub(result, f"Checksum{meta['checksum']['algorithm']}", meta["checksum"]["value"])
            _sub(result, "ChecksumType", meta["checksum"]["type"])
        return self._xml_result(result, {"x-amz-server-side-encryption": "AES256"})

    def _op_abort_multipart_upload(self, req: _Request) -> _Result:
        _, directory = self._upload_state(req)
        shutil.rmtree(directory, ignore_errors=True)
        return 204, {}, b""


# ----------------------------------------------------------------------------- module helpers


def _tee(chunks: Iterable[bytes], sink) -> Iterator[bytes]:
    for chunk in chunks:
        sink.update(chunk)
        yield chunk


def _int_param(query: dict, name: str, default, low: int, high: int | None) -> int:
    raw = query.get(name)
    if raw is None:
        if default is None:
            raise S3Error("InvalidArgument", f"Missing required parameter {name}.", ArgumentName=name)
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        limit = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise S3Error("InvalidArgument", f"Provided {name} not an integer or within integer range ({limit}).",
                      ArgumentName=name, ArgumentValue=raw)
    return value


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


def _verify_small_body(headers: dict, body: bytes, required: bool) -> None:
    """Content-MD5 / x-amz-checksum-* check for small XML bodies (DeleteObjects requires one)."""
    content_md5 = headers.get("content-md5")
    algorithm, value = _requested_checksum(headers)
    if content_md5 is None and not value:
        if required:
            raise S3Error("InvalidRequest", "Missing required header for this request: Content-MD5")
        return
    if content_md5 is not None:
        _check_content_md5(content_md5, hashlib.md5(body).digest())
    if value:
        hasher = _new_checksum(algorithm)
        if hasher is not None:
            hasher.update(body)
            if _b64(hasher.digest()) != value:
                raise S3Error("BadDigest", f"The {algorithm.upper()} you specified did not match the calculated checksum.")
