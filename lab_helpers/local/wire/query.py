"""The AWS query protocol (IAM, STS), read and written through botocore's service model.

A query request is a form: ``Action=CreateRole&RoleName=r&Tags.member.1.Key=k``.  :func:`read_request`
turns it into the nested parameters of the operation's input shape; :func:`answer` writes an
operation's result as the ``<OperationResponse><OperationResult>`` document botocore's query parser
reads (lists as ``<member>`` elements, timestamps in ISO 8601), and :func:`error` AWS's
``<ErrorResponse>``.  A service answers with ``api.call(operation, params) -> dict`` raising
:class:`~lab_helpers.local.errors.ApiError`, as the JSON services do.
"""

import datetime
import functools
import uuid
from urllib.parse import parse_qsl, urlsplit

from ..errors import ApiError
from .bodies import iter_body
from .responses import raw_response
from .xml import sub, xml_bytes, xml_root


@functools.lru_cache(maxsize=4)
def service_model(service):
    """botocore's service model of ``service`` (loaded once)."""
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def form(request):
    """The request's form fields: the URL's query and the body's (botocore sends a dict or bytes)."""
    params = dict(parse_qsl(urlsplit(getattr(request, "url", "") or "").query, keep_blank_values=True))
    body = getattr(request, "body", None)
    if isinstance(body, dict):
        params.update({str(k): str(v) for k, v in body.items()})
    else:
        params.update(parse_qsl(b"".join(iter_body(body)).decode("utf-8", "replace"), keep_blank_values=True))
    return params


def _read(shape, fields, prefix):
    kind = shape.type_name
    if kind == "structure":
        out = {}
        for name, member in shape.members.items():
            key = f"{prefix}.{name}" if prefix else name
            value = _read(member, fields, key)
            if value is not None:
                out[name] = value
        return out or None
    if kind == "list":
        items, n = [], 1
        while any(k == f"{prefix}.member.{n}" or k.startswith(f"{prefix}.member.{n}.") for k in fields):
            items.append(_read(shape.member, fields, f"{prefix}.member.{n}"))
            n += 1
        return items if items or prefix + "" in fields else None
    if prefix not in fields:
        return None
    text = fields[prefix]
    if kind in ("integer", "long"):
        return int(text)
    if kind == "boolean":
        return text.lower() == "true"
    return text


def read_request(service, operation, request):
    """The parameters of one query request, nested as the operation's input shape says."""
    shape = service_model(service).operation_model(operation).input_shape
    if shape is None:
        return {}
    return _read(shape, form(request), "") or {}


def _write(parent, tag, shape, value):
    kind = shape.type_name
    if value is None:
        return
    if kind == "structure":
        node = sub(parent, tag)
        for name, member in shape.members.items():
            if name in value:
                _write(node, member.serialization.get("name", name), member, value[name])
    elif kind == "list":
        node = sub(parent, tag)
        for item in value:
            _write(node, "member", shape.member, item)
    elif kind == "timestamp":
        when = value if isinstance(value, datetime.datetime) else datetime.datetime.fromtimestamp(
            float(value), datetime.timezone.utc)
        sub(parent, tag, when.strftime("%Y-%m-%dT%H:%M:%SZ"))
    elif kind == "boolean":
        sub(parent, tag, "true" if value else "false")
    else:
        sub(parent, tag, value)


def answer(service, operation, url, result):
    """The query-protocol reply carrying ``result`` (a dict of the operation's output members)."""
    model = service_model(service)
    op = model.operation_model(operation)
    root = xml_root(f"{operation}Response", model.metadata.get("xmlNamespace"))
    if op.output_shape is not None:
        wrapper = op.output_shape.serialization.get("resultWrapper", f"{operation}Result")
        node = sub(root, wrapper)
        for name, member in op.output_shape.members.items():
            if name in result:
                _write(node, member.serialization.get("name", name), member, result[name])
    request_id = str(uuid.uuid4())
    sub(sub(root, "ResponseMetadata"), "RequestId", request_id)
    return _reply(url, 200, root, request_id)


def error(service, url, exc):
    """AWS's query-protocol ``<ErrorResponse>`` for an :class:`ApiError`."""
    root = xml_root("ErrorResponse", service_model(service).metadata.get("xmlNamespace"))
    node = sub(root, "Error")
    sub(node, "Type", "Sender" if exc.status < 500 else "Receiver")
    sub(node, "Code", exc.code)
    sub(node, "Message", exc.message)
    request_id = str(uuid.uuid4())
    sub(root, "RequestId", request_id)
    return _reply(url, exc.status, root, request_id)


def _reply(url, status, root, request_id):
    data = xml_bytes(root)
    headers = {"Content-Type": "text/xml", "Content-Length": str(len(data)), "x-amzn-RequestId": request_id}
    return raw_response(url, status, headers, data)


def handler(service, api):
    """A router handler answering ``service``'s query requests with ``api.call(operation, params)``."""
    def handle(request, operation):
        url = getattr(request, "url", "") or ""
        try:
            params = read_request(service, operation, request)
            return answer(service, operation, url, api.call(operation, params))
        except ApiError as exc:
            return error(service, url, exc)

    return handle
