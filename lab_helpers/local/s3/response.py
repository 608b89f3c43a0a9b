"""S3's side of the wire: results and errors as the AWSResponses botocore parses, and S3's text formats."""

from __future__ import annotations

import email.utils
import hashlib
import io
import time
from datetime import datetime, timezone
from xml.etree import ElementTree as ET

from botocore.awsrequest import AWSResponse

from ..wire.responses import Streaming, raw_response
from ..wire.xml import sub, xml_bytes, xml_root
from .checksums import b64
from .errors import S3Error

__all__ = [
    "OWNER_ID", "OWNER_NAME", "S3_XMLNS", "FileBody", "Result", "error_response", "http_date", "iso", "quoted",
    "response", "s3_xml", "strip_etag", "xml_result",
]

S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
#: The one owner of every bucket and object in local mode.
OWNER_ID = hashlib.sha256(b"lab-local-s3-owner").hexdigest()
OWNER_NAME = "lab-local"

#: What an operation returns: ``(status, headers, body)`` with body bytes or a :class:`FileBody`.
Result = tuple


def iso(ns: int) -> str:
    """A nanosecond timestamp as S3's XML dates (``2024-01-31T12:00:00.000Z``)."""
    dt = datetime.fromtimestamp(ns // 1_000_000_000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{(ns // 1_000_000) % 1000:03d}Z"


def http_date(ns: int) -> str:
    """A nanosecond timestamp as an HTTP date header value."""
    return email.utils.formatdate(ns // 1_000_000_000, usegmt=True)


def quoted(etag: str) -> str:
    """The ETag as S3 sends it, in double quotes."""
    return f'"{etag}"'


def strip_etag(value: str) -> str:
    """An ETag as a client sent it, without quotes or a weak ``W/`` prefix."""
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')


def s3_xml(tag: str) -> ET.Element:
    """A new S3 result document element ``tag`` in S3's XML namespace."""
    return xml_root(tag, S3_XMLNS)


def xml_result(root: ET.Element, headers: dict | None = None, status: int = 200) -> Result:
    """An operation's result whose body is the XML document ``root``."""
    out = {"Content-Type": "application/xml"}
    out.update(headers or {})
    return status, out, xml_bytes(root)


class FileBody(Streaming, io.RawIOBase):
    """``raw`` for a large GetObject body, read from the object's file as the caller consumes it."""

    def __init__(self, fh, length: int):
        super().__init__()
        self._fh = fh
        self._left = length
        self._pos = 0

    def readable(self):
        """Always True: this is a body to read."""
        return True

    def readinto(self, b):
        """Read up to ``len(b)`` bytes of the remaining body into ``b``; closes the file at the end."""
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
        """Up to ``size`` bytes (all that is left if ``size`` is None or negative)."""
        if size is None or size < 0:
            return self.readall()
        return super().read(size)

    def tell(self):
        """How many bytes of the body were read so far."""
        return self._pos

    def close(self):
        """Close the object's file."""
        self._fh.close()
        super().close()


def response(request, status, headers, body, request_id) -> AWSResponse:
    """The AWSResponse for an operation's result, with S3's request-id, date and server headers."""
    out = {
        "x-amz-request-id": request_id,
        "x-amz-id-2": b64(request_id.encode() * 2),
        "Date": http_date(time.time_ns()),
        "Server": "LabLocalS3",
    }
    out.update(headers)
    if not isinstance(body, FileBody):
        body = body or b""
        out.setdefault("Content-Length", str(len(body)))
    return raw_response(getattr(request, "url", ""), status, out, body)


def error_response(request, exc: S3Error, request_id) -> AWSResponse:
    """The AWSResponse for an S3Error: S3's ``<Error>`` XML (no body for HEAD and 304)."""
    headers = dict(exc.headers)
    if (getattr(request, "method", "") or "").upper() == "HEAD" or exc.status == 304:
        headers["Content-Length"] = "0"
        return response(request, exc.status, headers, b"", request_id)
    root = xml_root("Error")
    sub(root, "Code", exc.code)
    sub(root, "Message", exc.message)
    for name, value in exc.fields.items():
        if value is not None:
            sub(root, name, value)
    sub(root, "RequestId", request_id)
    sub(root, "HostId", b64(request_id.encode() * 2))
    headers["Content-Type"] = "application/xml"
    return response(request, exc.status, headers, xml_bytes(root), request_id)
