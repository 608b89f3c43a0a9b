"""Request bodies as S3 receives them: ``aws-chunked`` decoding and the checks on uploaded bytes."""

from __future__ import annotations

import hashlib
import re
from typing import Iterable, Iterator

from ..wire.bodies import iter_body
from .checksums import check_content_md5, requested_checksum
from .errors import S3Error

__all__ = ["AwsChunkedDecoder", "Upload", "is_aws_chunked"]


def is_aws_chunked(headers: dict) -> bool:
    """Whether a request's body is sent ``aws-chunked`` (by its Content-Encoding or streaming payload hash)."""
    encodings = [t.strip().lower() for t in headers.get("content-encoding", "").split(",")]
    return "aws-chunked" in encodings or headers.get("x-amz-content-sha256", "").startswith("STREAMING-")


class AwsChunkedDecoder:
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


def _tee(chunks: Iterable[bytes], sink) -> Iterator[bytes]:
    for chunk in chunks:
        sink.update(chunk)
        yield chunk


class Upload:
    """An object's (or a part's) data arriving in a request body, with what the client said about it.

    ``chunks`` yields the payload (aws-chunked decoded); ``algorithm`` is the checksum algorithm to
    compute (the one the client sent or announced, else ``default_algorithm``). Once ``chunks`` is
    exhausted, ``expected_checksum()`` is the value the client sent (header or trailer) and
    ``check(size, md5)`` raises S3Error if the decoded length, Content-MD5 or payload SHA-256 disagree.
    """

    def __init__(self, headers: dict, body, default_algorithm: str | None = None):
        self._headers = headers
        pieces = iter_body(body)
        chunked = is_aws_chunked(headers)
        self._decoder = AwsChunkedDecoder(pieces) if chunked else None
        chunks = iter(self._decoder) if self._decoder is not None else pieces
        algorithm, self._header_value = requested_checksum(headers)
        self.algorithm = algorithm or default_algorithm
        self._sha_header = headers.get("x-amz-content-sha256", "")
        self._sha = hashlib.sha256() if (not chunked and re.fullmatch(r"[0-9a-f]{64}", self._sha_header)) else None
        self._content_md5 = headers.get("content-md5")
        self.chunks = _tee(chunks, self._sha) if self._sha is not None else chunks

    def expected_checksum(self) -> str | None:
        """The checksum value the client sent for ``algorithm`` (header, else aws-chunked trailer), or None."""
        if self._header_value:
            return self._header_value
        if self._decoder is not None and self.algorithm:
            return self._decoder.trailers.get(f"x-amz-checksum-{self.algorithm}")
        return None

    def check(self, size: int, md5) -> None:
        """Raise S3Error if the received ``size`` or ``md5`` contradict the request's length and digest headers."""
        if self._decoder is not None:
            declared = self._headers.get("x-amz-decoded-content-length")
            if declared and declared.strip().isdigit() and int(declared) != size:
                raise S3Error("IncompleteBody",
                              "You did not provide the number of bytes specified by the "
                              "X-Amz-Decoded-Content-Length HTTP header.")
        if self._content_md5 is not None:
            check_content_md5(self._content_md5, md5.digest())
        if self._sha is not None and self._sha.hexdigest() != self._sha_header:
            raise S3Error("XAmzContentSHA256Mismatch",
                          "The provided 'x-amz-content-sha256' header does not match what was computed.")
