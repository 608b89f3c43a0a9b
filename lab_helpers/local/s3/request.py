"""An S3 request as a server sees it: bucket and key from the URL, query, headers, region, body.

botocore addresses a bucket path-style (``https://s3.<region>.amazonaws.com/bucket/key``) or
virtual-hosted (``https://bucket.s3.<region>.amazonaws.com/key``); with a custom ``endpoint_url``
the request context names the bucket. Also here: reading query parameters and XML request bodies.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit
from xml.etree import ElementTree as ET

from ..wire.bodies import iter_body
from .bodies import AwsChunkedDecoder, is_aws_chunked
from .errors import S3Error

__all__ = ["MAX_PARTS", "Request", "decode_token", "encode_token", "int_param", "parse_request", "parse_xml",
           "part_number"]

#: The highest part number of a multipart upload.
MAX_PARTS = 10000

_AWS_S3_HOST = re.compile(
    r"^(?:(?P<bucket>.+)\.)?(?P<endpoint>s3(?:[.-][a-z0-9-]+)*)\.amazonaws\.com(?:\.cn)?$"
)
_REGION_IN_TEXT = re.compile(r"(?<![a-z0-9])([a-z]{2}(?:-[a-z]+)+-\d+)(?![a-z0-9])")
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/")


@dataclass
class Request:
    """One S3 request: ``operation`` (botocore's name), addressing, lower-case headers and the raw body."""

    method: str
    url: str
    bucket: str | None
    key: str | None
    query: dict
    headers: dict
    body: object
    region: str
    operation: str = ""

    def read_body(self, limit: int = 64 * 1024 * 1024) -> bytes:
        """The whole (decoded) request body, for small XML bodies."""
        pieces = iter_body(self.body)
        if is_aws_chunked(self.headers):
            pieces = iter(AwsChunkedDecoder(pieces))
        data = bytearray()
        for piece in pieces:
            data += piece
            if len(data) > limit:
                raise S3Error("MaxMessageLengthExceeded", "Your request was too big.")
        return bytes(data)


def _header_text(value) -> str:
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return bytes(value).decode("latin-1")
    return str(value)


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


def parse_request(request, operation: str | None) -> Request:
    """The :class:`Request` for a botocore ``AWSPreparedRequest`` of the S3 ``operation``."""
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
    return Request(
        method=method,
        url=url,
        bucket=bucket,
        key=key,
        query=query,
        headers=headers,
        body=getattr(request, "body", None),
        region=_request_region(headers, query, host),
        operation=operation or "",
    )


def int_param(query: dict, name: str, default, low: int, high: int | None) -> int:
    """The integer query parameter ``name`` within [low, high] (``default`` if absent; None = required)."""
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


def part_number(query: dict, default: int | None = None) -> int:
    """The ``partNumber`` query parameter, 1 to MAX_PARTS (``default`` if absent; None = required)."""
    return int_param(query, "partNumber", default, 1, MAX_PARTS)


def encode_token(value: str) -> str:
    """The opaque continuation token for resuming a listing after ``value``."""
    return base64.urlsafe_b64encode(value.encode("utf-8")).decode("ascii")


def decode_token(token: str, what: str) -> str:
    """The value a continuation token stands for; InvalidArgument naming ``what`` if it is not one."""
    try:
        return base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8")
    except (ValueError, UnicodeError):
        raise S3Error("InvalidArgument", f"The {what} provided is incorrect.", 400,
                      ArgumentName=what) from None


def parse_xml(data: bytes) -> ET.Element:
    """The document element of an XML request body; ``MalformedXML`` if it does not parse."""
    try:
        return ET.fromstring(data)
    except ET.ParseError:
        raise S3Error(
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema",
        ) from None
