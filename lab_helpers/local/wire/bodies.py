"""Reading the body of a botocore ``AWSPreparedRequest``, whatever botocore put there."""

from __future__ import annotations

from typing import Iterator

__all__ = ["READ_SIZE", "iter_body"]

#: How much is read from a file-like body (or a file) at a time.
READ_SIZE = 1024 * 1024


def iter_body(body) -> Iterator[bytes]:
    """The raw bytes of a prepared request body (bytes, str, file-like or iterable), piece by piece."""
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
            piece = read(READ_SIZE)
            if not piece:
                return
            yield piece.encode("utf-8") if isinstance(piece, str) else bytes(piece)
    for piece in body:
        if piece:
            yield piece.encode("utf-8") if isinstance(piece, str) else bytes(piece)
