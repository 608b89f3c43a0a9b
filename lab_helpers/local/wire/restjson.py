"""The AWS rest-json protocol (Lambda), read and written through botocore's service model.

A rest-json request spreads its parameters over the URI (``/2015-03-31/functions/{FunctionName}``),
the query string, headers and a JSON body (or a raw payload); the reply likewise uses the status
code, headers and the body.  :func:`read_request` gathers the parameters by the operation's input
shape, :func:`answer` places an operation's result by its output shape, so a service answers with
``api.call(operation, params) -> dict`` raising :class:`~lab_helpers.local.errors.ApiError`.
"""

import base64
import json
import re
from urllib.parse import parse_qsl, unquote, urlsplit

from ..errors import ApiError
from .bodies import iter_body
from .query import service_model
from .responses import response


def _uri_pattern(template):
    path = template.split("?", 1)[0]
    regex = re.sub(r"\\\{([A-Za-z0-9_]+)(\\\+)?\\\}",
                   lambda m: f"(?P<{m.group(1)}>{'.+' if m.group(2) else '[^/]+'})", re.escape(path))
    return re.compile(regex.rstrip("/") + "/?")


def _scalar(shape, text):
    if shape.type_name in ("integer", "long"):
        return int(text)
    if shape.type_name == "boolean":
        return text.lower() == "true"
    return text


def _blobs(shape, value):
    """A JSON body's value with its blob members base64-decoded (botocore encodes them)."""
    if value is None:
        return None
    kind = shape.type_name
    if kind == "blob":
        return base64.b64decode(value)
    if kind == "structure" and isinstance(value, dict):
        return {k: _blobs(shape.members[k], v) if k in shape.members else v for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_blobs(shape.member, v) for v in value]
    return value


def read_request(service, operation, request):
    """The parameters of one rest-json request, by the operation's input shape."""
    op = service_model(service).operation_model(operation)
    shape = op.input_shape
    if shape is None:
        return {}
    parts = urlsplit(request.url)
    match = _uri_pattern(op.http["requestUri"]).fullmatch(parts.path)
    uri = {k: unquote(v) for k, v in (match.groupdict() if match else {}).items()}
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    headers = {str(k).lower(): (v.decode() if isinstance(v, bytes) else str(v)) for k, v in request.headers.items()}
    body = b"".join(iter_body(request.body))
    params = {}
    payload = shape.serialization.get("payload")
    for name, member in shape.members.items():
        where, wire_name = member.serialization.get("location"), member.serialization.get("name", name)
        if where == "uri" and wire_name in uri:
            params[name] = uri[wire_name]
        elif where == "querystring" and wire_name in query:
            params[name] = _scalar(member, query[wire_name])
        elif where == "header" and wire_name.lower() in headers:
            params[name] = _scalar(member, headers[wire_name.lower()])
    if payload:
        member = shape.members[payload]
        if member.type_name == "blob":
            params[payload] = body
        elif body:
            params[payload] = _blobs(member, json.loads(body))
    elif body:
        try:
            document = json.loads(body)
        except ValueError:
            raise ApiError("SerializationException", "The request body is not valid JSON.", 400) from None
        for name, value in document.items():
            if name in shape.members and not shape.members[name].serialization.get("location"):
                params[name] = _blobs(shape.members[name], value)
    return params


def answer(service, operation, url, result):
    """The rest-json reply carrying ``result`` (the operation's output members)."""
    op = service_model(service).operation_model(operation)
    status = op.http.get("responseCode", 200)
    headers = {"content-type": "application/json"}
    body, document = b"", {}
    shape = op.output_shape
    payload = shape.serialization.get("payload") if shape is not None else None
    for name, value in (result or {}).items():
        member = shape.members.get(name) if shape is not None else None
        if member is None or value is None:
            continue
        where = member.serialization.get("location")
        if where == "statusCode":
            status = int(value)
        elif where == "header":
            headers[member.serialization.get("name", name)] = str(value)
        elif name == payload:
            body = value if isinstance(value, bytes) else json.dumps(value).encode("utf-8")
        else:
            document[name] = value
    if not payload and (document or shape is not None and status != 204):
        body = json.dumps(document, default=str).encode("utf-8")
    return response(url, status, headers, body)


def error(url, exc):
    """A rest-json error reply; botocore reads its code from ``x-amzn-ErrorType``."""
    body = json.dumps({"Type": "User" if exc.status < 500 else "Service", "message": exc.message})
    return response(url, exc.status, {"content-type": "application/json", "x-amzn-ErrorType": exc.code}, body)


def handler(service, api):
    """A router handler answering ``service``'s rest-json requests with ``api.call(operation, params)``."""
    def handle(request, operation):
        try:
            params = read_request(service, operation, request)
            return answer(service, operation, request.url, api.call(operation, params))
        except ApiError as exc:
            return error(request.url, exc)

    return handle
