"""AWS STS emulated for local mode: ``GetCallerIdentity`` as the local learner role (query protocol).

The caller is a session of the kit's execution role (``config.LOCAL_ROLE_NAME``), as a notebook in
Studio runs as its execution role: ``sagemaker.get_execution_role()`` then finds that role in the
local IAM, as AWS's examples expect.
"""

import hashlib
import uuid
from urllib.parse import parse_qsl, urlsplit

from .. import config
from .wire.bodies import iter_body
from .wire.responses import raw_response
from .wire.xml import sub, xml_bytes, xml_root

STS_XMLNS = "https://sts.amazonaws.com/doc/2011-06-15/"


def handle(request, account_id):
    """Answer STS ``GetCallerIdentity`` (query protocol) as the local learner role; other actions -> 501."""
    url = getattr(request, "url", "") or ""
    params = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    body = getattr(request, "body", None)
    if isinstance(body, dict):
        params.update({str(k): str(v) for k, v in body.items()})
    else:
        text = b"".join(iter_body(body)).decode("utf-8", "replace")
        params.update(parse_qsl(text, keep_blank_values=True))
    action = params.get("Action", "")
    request_id = str(uuid.uuid4())
    account = str(account_id)
    if action == "GetCallerIdentity":
        root = xml_root("GetCallerIdentityResponse", STS_XMLNS)
        result = sub(root, "GetCallerIdentityResult")
        role = config.LOCAL_ROLE_NAME
        sub(result, "Arn", f"arn:aws:sts::{account}:assumed-role/{role}/local")
        role_id = "AROA" + hashlib.sha1(f"{role}:{account}".encode()).hexdigest()[:17].upper()
        sub(result, "UserId", f"{role_id}:local")
        sub(result, "Account", account)
        sub(sub(root, "ResponseMetadata"), "RequestId", request_id)
        status = 200
    else:
        root = xml_root("ErrorResponse", STS_XMLNS)
        error = sub(root, "Error")
        sub(error, "Type", "Sender")
        sub(error, "Code", "NotImplemented")
        sub(error, "Message", f"The STS action {action or '(none)'} is not emulated by the course kit's local mode "
                              "(local STS supports: GetCallerIdentity).")
        sub(root, "RequestId", request_id)
        status = 501
    data = xml_bytes(root)
    headers = {"Content-Type": "text/xml", "Content-Length": str(len(data)), "x-amzn-RequestId": request_id}
    return raw_response(url, status, headers, data)
