"""Errors of the local AWS, below every service: the API layer turns them into AWS error replies.

Every emulated service raises :class:`ApiError` with AWS's error code and wording; the wire
(:mod:`lab_helpers.local.wire`) turns it into the error response botocore parses into the same
``ClientError`` AWS would give.
"""


class ApiError(Exception):
    """An AWS-style API error (code, message, HTTP status)."""

    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class LocalModeError(RuntimeError):
    """A call local mode cannot serve (an AWS service it does not emulate)."""


def not_found(what):
    """SageMaker's ``ResourceNotFound`` error."""
    return ApiError("ResourceNotFound", what, 400)


def validation(message):
    """AWS's ``ValidationException`` with ``message``."""
    return ApiError("ValidationException", message, 400)


def not_implemented(message):
    """HTTP 501 ``NotImplemented``: an operation or option local mode does not emulate."""
    return ApiError("NotImplemented", message, 501)
