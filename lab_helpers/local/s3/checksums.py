"""S3's integrity checks: the x-amz-checksum-* algorithms, Content-MD5, and which checksum a request asks for."""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib

from .errors import S3Error

__all__ = ["CHECKSUM_ALGORITHMS", "b64", "check_content_md5", "new_checksum", "requested_checksum",
           "verify_small_body"]

#: The algorithms S3 names in ``x-amz-checksum-<algorithm>`` headers (lower case).
CHECKSUM_ALGORITHMS = (
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


def b64(data: bytes) -> str:
    """``data`` in base64, as S3 writes digests."""
    return base64.b64encode(data).decode("ascii")


class _Crc32:
    """CRC32 with hashlib's update()/digest() interface."""

    def __init__(self):
        self._value = 0

    def update(self, data):
        """Add ``data`` to the checksum."""
        self._value = zlib.crc32(data, self._value)

    def digest(self) -> bytes:
        """The 4-byte big-endian CRC32 so far."""
        return (self._value & 0xFFFFFFFF).to_bytes(4, "big")


class _CrtChecksum:
    """An ``awscrt.checksums`` function with hashlib's update()/digest() interface."""

    def __init__(self, fn, nbytes):
        self._fn, self._nbytes, self._value = fn, nbytes, 0

    def update(self, data):
        """Add ``data`` to the checksum."""
        self._value = self._fn(bytes(data), self._value)

    def digest(self) -> bytes:
        """The ``nbytes``-byte big-endian checksum so far."""
        return self._value.to_bytes(self._nbytes, "big")


def new_checksum(algorithm: str | None):
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


def requested_checksum(headers: dict) -> tuple[str | None, str | None]:
    """(algorithm, value-or-None) the client asked for in headers or announced as a trailer."""
    for algorithm in CHECKSUM_ALGORITHMS:
        value = headers.get(f"x-amz-checksum-{algorithm}")
        if value:
            return algorithm, value.strip()
    trailer = headers.get("x-amz-trailer", "").strip().lower()
    if trailer.startswith("x-amz-checksum-") and trailer[15:] in CHECKSUM_ALGORITHMS:
        return trailer[15:], None
    announced = (headers.get("x-amz-sdk-checksum-algorithm") or "").strip().lower()
    if announced in CHECKSUM_ALGORITHMS:
        return announced, None
    return None, None


def check_content_md5(header, digest) -> None:
    """Raise AWS's error when a Content-MD5 header is malformed or does not match ``digest``."""
    try:
        wanted = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError):
        wanted = b""
    if len(wanted) != 16:
        raise S3Error("InvalidDigest", "The Content-MD5 you specified was invalid.")
    if wanted != digest:
        raise S3Error("BadDigest", "The Content-MD5 you specified did not match what we received.")


def verify_small_body(headers: dict, body: bytes, required: bool) -> None:
    """Content-MD5 / x-amz-checksum-* check for small XML bodies (DeleteObjects requires one)."""
    content_md5 = headers.get("content-md5")
    algorithm, value = requested_checksum(headers)
    if content_md5 is None and not value:
        if required:
            raise S3Error("InvalidRequest", "Missing required header for this request: Content-MD5")
        return
    if content_md5 is not None:
        check_content_md5(content_md5, hashlib.md5(body).digest())
    if value:
        hasher = new_checksum(algorithm)
        if hasher is not None:
            hasher.update(body)
            if b64(hasher.digest()) != value:
                raise S3Error("BadDigest",
                              f"The {algorithm.upper()} you specified did not match the calculated checksum.")
