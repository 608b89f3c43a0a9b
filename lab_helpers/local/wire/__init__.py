"""The botocore seam: local mode answers AWS requests in-process, before they would be sent.

botocore emits ``before-send.<service>.<Operation>`` just before it opens a connection; a
handler that returns an :class:`~botocore.awsrequest.AWSResponse` makes botocore skip the send
and parse that response with its normal parsers, so callers get the same results and the same
``ClientError``s as from AWS.  :class:`Router` is that handler: it reads the service and the
operation from the event name and hands the request to the service registered for it.
"""

import json

from ..errors import ApiError, LocalModeError
from . import responses


class Router:
    """Routes each botocore request to the emulated service named by its ``before-send`` event."""

    def __init__(self):
        self._services = {}

    def add(self, service, handler):
        """Serve ``service`` (botocore's event name for it, e.g. ``s3``) with ``handler(request, operation)``."""
        self._services[service] = handler

    def add_json(self, service, api):
        """Serve a JSON-protocol service with ``api.call(operation, params) -> dict`` (raising ApiError)."""
        self.add(service, lambda request, operation: answer_json(api, request, operation))

    def __call__(self, request, event_name=None, **_):
        parts = (event_name or "").split(".")
        service = parts[1] if len(parts) > 1 else "?"
        operation = parts[2] if len(parts) > 2 else "?"
        handler = self._services.get(service)
        if handler is None:
            raise LocalModeError(
                f"Local mode has no emulation of the AWS service '{service}' (operation {operation}), and it "
                "never calls AWS. Run this in remote mode (LAB_MODE=remote) with your AWS account, or skip this cell."
            )
        return handler(request, operation)


def answer_json(api, request, operation):
    """Answer one JSON-protocol request (SageMaker, CloudWatch Logs) with ``api.call``'s result or error."""
    body = request.body or b"{}"
    if hasattr(body, "read"):
        body = body.read()
    params = json.loads(body or b"{}")
    try:
        return responses.json_response(request.url, api.call(operation, params))
    except ApiError as exc:
        return responses.json_error(request.url, exc.code, exc.message, exc.status)
