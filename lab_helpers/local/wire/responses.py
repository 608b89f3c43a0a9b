"""Building botocore responses in-process.

The kit's local mode answers AWS API calls without a network: a handler on botocore's
``before-send`` event returns an :class:`botocore.awsrequest.AWSResponse`, and botocore
then parses it exactly as it would parse AWS's reply (same parsers, same ``ClientError``s).
"""

import io
import json

from botocore.awsrequest import AWSResponse


class Streaming:
    """What botocore needs of a ``raw`` response body besides ``read()``: ``stream()``."""

    def stream(self, amt=64 * 1024, decode_content=False):  # noqa: ARG002 - botocore's signature
        """Yield the rest of the body in chunks of up to ``amt`` bytes."""
        while True:
            chunk = self.read(amt)
            if not chunk:
                break
            yield chunk


class _RawBody(Streaming, io.BytesIO):
    """The ``raw`` object botocore reads an in-memory response body from."""


def response(url, status, headers, body=b""):
    """An AWSResponse carrying ``body`` (bytes or str)."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    headers = dict(headers)
    headers.setdefault("content-length", str(len(body)))
    headers.setdefault("x-amzn-requestid", "local-0000")
    return AWSResponse(url, status, headers, _RawBody(body))


def json_response(url, payload, status=200, content_type="application/x-amz-json-1.1"):
    """A JSON-protocol reply, as SageMaker and CloudWatch Logs send them."""
    return response(url, status, {"content-type": content_type}, json.dumps(payload, default=str))


def json_error(url, code, message, status=400):
    """A JSON-protocol error; botocore turns it into ``ClientError`` with ``Error.Code == code``."""
    return json_response(url, {"__type": code, "message": message}, status=status)


def raw_response(url, status, headers, body):
    """An AWSResponse with exactly ``headers`` (no defaults added); ``body`` is bytes or a ``raw`` object."""
    if isinstance(body, (bytes, bytearray)):
        body = _RawBody(bytes(body))
    return AWSResponse(url, status, headers, body)
