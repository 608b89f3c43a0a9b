"""The Lambda API of local mode: functions' control plane and ``Invoke``.

``CreateFunction`` (code as ``ZipFile`` bytes or ``S3Bucket``/``S3Key`` in the local S3; the role must
be a role of the local IAM), ``GetFunction``, ``GetFunctionConfiguration``, ``UpdateFunctionCode``,
``UpdateFunctionConfiguration``, ``DeleteFunction``, ``ListFunctions`` and ``Invoke``
(``RequestResponse``, ``Event``, ``DryRun``; ``FunctionError: Unhandled`` with Lambda's error payload;
``LogType: Tail``).  A function is ``Active`` with ``LastUpdateStatus: Successful`` as soon as it is
created or updated, so boto3's ``function_active_v2``/``function_updated_v2`` waiters pass at once.
Records live in the control-plane store, code under ``LAB_HOME/lambda/<function>/code.zip``.

Differences from AWS: Python runtimes only (a function of another runtime is refused when created),
run by the kit's Python, not the runtime's version; only ``$LATEST`` (no versions, aliases, layers,
container images or event source mappings); the role is checked to exist, not assumed - its
policies are not enforced; ``Event`` invocations run in a thread of the process that invoked, with
no retries; the memory size is recorded, not enforced.
"""

import base64
import hashlib
import io
import json
import re
import threading
import time
import uuid
import zipfile

from ..errors import ApiError, not_implemented
from ..ids import resource_name
from .invoke import Invoker

_KIND = "lambda-function"
_NAME = re.compile(r"[a-zA-Z0-9-_]{1,64}")
_ROLE = re.compile(r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+")
_ENV_KEY = re.compile(r"[a-zA-Z]([a-zA-Z0-9_])+")
_RESERVED = ("_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
             "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
             "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
             "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
             "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR")
_SETTABLE = ("Role", "Handler", "Description", "Timeout", "MemorySize", "Environment", "Runtime")


def invalid(message):
    """Lambda's InvalidParameterValueException."""
    return ApiError("InvalidParameterValueException", message, 400)


def _constraint(value, field, rule):
    return ApiError("ValidationException", f"1 validation error detected: Value '{value}' at '{field}' failed to "
                                           f"satisfy constraint: {rule}", 400)


class LambdaApi:
    """The Lambda operations local mode answers (rest-json; see :mod:`lab_helpers.local.wire.restjson`)."""

    def __init__(self, store, s3, iam, runtime, home, account):
        self.store = store
        self.s3 = s3
        self.iam = iam
        self.account = account
        self.folder = home / "lambda"
        self.invoker = Invoker(runtime, self.folder, account.region)

    def call(self, operation, params):
        """Answer one Lambda operation (botocore's name for it) with AWS's response members."""
        handler = getattr(self, "op_" + operation, None)
        if handler is None:
            raise not_implemented(f"Lambda {operation} is not emulated by the course kit's local mode (it answers "
                                  "functions' create/get/update/delete/list and Invoke). Run this in remote mode.")
        return handler(params)

    # -- names and records ----------------------------------------------------------------------
    def function_arn(self, name):
        """The ARN of function ``name`` in the local account."""
        return self.account.arn(f"function:{name}", service="lambda")

    def _name(self, given, qualifier=None):
        """(name, qualifier) from a name, ``name:qualifier``, or a full or partial ARN."""
        text = given or ""
        if text.startswith("arn:"):
            parts = text.split(":")
            name, qual = (parts[6] if len(parts) > 6 else ""), (parts[7] if len(parts) > 7 else None)
        else:
            name, _, qual = text.partition(":")
        qual = qualifier or qual or None
        if not _NAME.fullmatch(name):
            raise _constraint(given, "functionName", "Member must satisfy regular expression pattern: "
                                                     "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?"
                                                     "(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?")
        return name, qual

    def _record(self, given, qualifier=None):
        name, qual = self._name(given, qualifier)
        doc = self.store.get(_KIND, name)
        if doc is None or qual not in (None, "$LATEST"):
            arn = self.function_arn(name) + (f":{qual}" if qual else "")
            raise ApiError("ResourceNotFoundException", f"Function not found: {arn}", 404)
        return doc

    @staticmethod
    def _configuration(doc):
        return {k: v for k, v in doc.items() if not k.startswith("_")}

    def _code_path(self, name):
        return self.folder / name / "code.zip"

    # -- checks ---------------------------------------------------------------------------------
    def _check_settings(self, p):
        if "Runtime" in p and not re.fullmatch(r"python3\.\d+", p["Runtime"] or ""):
            raise invalid(f"The runtime parameter of {p['Runtime']} is not run by the course kit's local mode: it "
                          "runs Python functions only (python3.x). Use a Python runtime, or run this in remote mode.")
        if "Role" in p:
            if not _ROLE.fullmatch(p["Role"] or ""):
                raise _constraint(p["Role"], "role", "Member must satisfy regular expression pattern: "
                                                     "arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+")
            if self.iam.role_by_arn(p["Role"]) is None:
                raise invalid("The role defined for the function cannot be assumed by Lambda. (Local mode knows the "
                              "roles created with the local IAM, and the kit's execution role: create the role first "
                              "with iam.create_role, or use lab_helpers.execution_role(sess).)")
        if "Timeout" in p and not 1 <= int(p["Timeout"]) <= 900:
            raise _constraint(p["Timeout"], "timeout", "Member must have value between 1 and 900")
        if "MemorySize" in p and not 128 <= int(p["MemorySize"]) <= 10240:
            raise _constraint(p["MemorySize"], "memorySize", "Member must have value between 128 and 10240")
        if "Handler" in p and not re.fullmatch(r"[^\s]{1,128}", p["Handler"] or ""):
            raise _constraint(p["Handler"], "handler", "Member must satisfy regular expression pattern: [^\\s]+")
        variables = (p.get("Environment") or {}).get("Variables") or {}
        reserved = sorted(k for k in variables if k in _RESERVED)
        if reserved:
            raise invalid("Lambda was unable to configure your environment variables because the environment "
                          "variables you have provided contains reserved keys that are currently not supported for "
                          f"modification. Reserved keys used in this request: {', '.join(reserved)}")
        bad = sorted(k for k in variables if not _ENV_KEY.fullmatch(k))
        if bad:
            raise _constraint(bad[0], "environment.variables", "Member must satisfy regular expression pattern: "
                                                                "[a-zA-Z]([a-zA-Z0-9_])+")
        if p.get("Layers"):
            raise invalid("Lambda layers are not emulated by the course kit's local mode: package what the function "
                          "needs in its deployment package, or run this in remote mode.")

    def _code(self, code):
        """The deployment package's bytes, from ``ZipFile`` or the local S3; checked to be a zip."""
        if code.get("ImageUri"):
            raise invalid("Container-image functions are not emulated by the course kit's local mode; give a .zip "
                          "deployment package (ZipFile, or S3Bucket/S3Key).")
        if code.get("ZipFile") is not None:
            data = code["ZipFile"]
        elif code.get("S3Bucket") and code.get("S3Key"):
            try:
                data = self.s3.read_uri(f"s3://{code['S3Bucket']}/{code['S3Key']}")
            except FileNotFoundError:
                raise invalid("Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: The "
                              "specified key does not exist.") from None
        else:
            raise invalid("Please provide a source for function code.")
        try:
            zipfile.ZipFile(io.BytesIO(data)).testzip()
        except (zipfile.BadZipFile, ValueError):
            raise invalid("Could not unzip uploaded file. Please check your file, then try to upload again.") from None
        return data

    def _store_code(self, doc, data):
        path = self._code_path(doc["FunctionName"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        doc["CodeSize"] = len(data)
        doc["CodeSha256"] = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")

    @staticmethod
    def _touch(doc):
        doc["LastModified"] = time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime())
        doc["RevisionId"] = str(uuid.uuid4())
        doc["State"], doc["LastUpdateStatus"] = "Active", "Successful"

    # -- the control plane ----------------------------------------------------------------------
    def op_CreateFunction(self, p):
        name, _ = self._name(p.get("FunctionName"))
        if (p.get("PackageType") or "Zip") != "Zip":
            raise invalid("Container-image functions are not emulated by the course kit's local mode.")
        if not p.get("Runtime") or not p.get("Handler"):
            raise invalid("Runtime and Handler are mandatory parameters for functions created with deployment "
                          "packages.")
        self._check_settings(p)
        data = self._code(p.get("Code") or {})
        with self.store.transaction():
            if self.store.get(_KIND, name) is not None:
                raise ApiError("ResourceConflictException", f"Function already exist: {name}", 409)
            doc = {"FunctionName": name, "FunctionArn": self.function_arn(name), "Runtime": p["Runtime"],
                   "Role": p["Role"], "Handler": p["Handler"], "Description": p.get("Description", ""),
                   "Timeout": int(p.get("Timeout") or 3), "MemorySize": int(p.get("MemorySize") or 128),
                   "Version": "$LATEST", "TracingConfig": {"Mode": "PassThrough"}, "PackageType": "Zip",
                   "Architectures": p.get("Architectures") or ["x86_64"], "EphemeralStorage": {"Size": 512},
                   "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"}}
            if (p.get("Environment") or {}).get("Variables"):
                doc["Environment"] = {"Variables": p["Environment"]["Variables"]}
            if p.get("Tags"):
                doc["_Tags"] = p["Tags"]
            self._store_code(doc, data)
            self._touch(doc)
            self.store.put(_KIND, name, doc["FunctionArn"], doc)
        return self._configuration(doc)

    def op_GetFunction(self, p):
        doc = self._record(p.get("FunctionName"), p.get("Qualifier"))
        out = {"Configuration": self._configuration(doc),
               "Code": {"RepositoryType": "S3", "Location": self._code_path(doc["FunctionName"]).as_uri()}}
        if doc.get("_Tags"):
            out["Tags"] = doc["_Tags"]
        return out

    def op_GetFunctionConfiguration(self, p):
        return self._configuration(self._record(p.get("FunctionName"), p.get("Qualifier")))

    def _update(self, p, change):
        name = self._record(p.get("FunctionName"))["FunctionName"]

        def apply(doc):
            if p.get("RevisionId") and p["RevisionId"] != doc["RevisionId"]:
                raise ApiError("PreconditionFailedException", "The Revision Id provided does not match the latest "
                               "Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id", 412)
            change(doc)
            self._touch(doc)
            return doc

        return self._configuration(self.store.update(_KIND, name, apply))

    def op_UpdateFunctionCode(self, p):
        data = self._code(p)
        if p.get("DryRun"):
            return self._configuration(self._record(p.get("FunctionName")))
        return self._update(p, lambda doc: self._store_code(doc, data))

    def op_UpdateFunctionConfiguration(self, p):
        self._check_settings(p)

        def change(doc):
            for key in _SETTABLE:
                if key in p:
                    doc[key] = p[key]
            if "Environment" in p and not (p["Environment"] or {}).get("Variables"):
                doc.pop("Environment", None)

        return self._update(p, change)

    def op_DeleteFunction(self, p):
        doc = self._record(p.get("FunctionName"), p.get("Qualifier"))
        self.store.delete(_KIND, doc["FunctionName"])
        code = self._code_path(doc["FunctionName"])
        if code.exists():
            code.unlink()
        return {"StatusCode": 204}

    def op_ListFunctions(self, p):
        functions = sorted(self.store.list(_KIND), key=lambda d: d["FunctionName"])
        start = int(p.get("Marker") or 0)
        size = int(p.get("MaxItems") or 50)
        if not 1 <= size <= 10000:
            raise _constraint(size, "maxItems", "Member must have value between 1 and 10000")
        out = {"Functions": [self._configuration(d) for d in functions[start:start + size]]}
        if start + size < len(functions):
            out["NextMarker"] = str(start + size)
        return out

    # -- invoking ---------------------------------------------------------------------------------
    def run(self, function, event):
        """Invoke ``function`` (name or ARN) with ``event`` synchronously; returns the :class:`Invocation`."""
        doc = self._record(function)
        return self.invoker.run(self._configuration(doc), self._code_path(doc["FunctionName"]), json.dumps(event))

    def op_Invoke(self, p):
        doc = self._record(p.get("FunctionName"), p.get("Qualifier"))
        kind = p.get("InvocationType") or "RequestResponse"
        if kind not in ("RequestResponse", "Event", "DryRun"):
            raise invalid(f"1 validation error detected: Value '{kind}' at 'invocationType' failed to satisfy "
                          "constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]")
        raw = p.get("Payload") or b""
        try:
            event = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            raise ApiError("InvalidRequestContentException", "Could not parse request body into json: Could not "
                           f"parse payload into json: {exc}", 400) from None
        if kind == "DryRun":
            return {"StatusCode": 204}
        configuration, code = self._configuration(doc), self._code_path(doc["FunctionName"])
        if kind == "Event":
            threading.Thread(target=self.invoker.run, args=(configuration, code, json.dumps(event)),
                             name=f"lambda-{doc['FunctionName']}", daemon=True).start()
            return {"StatusCode": 202, "Payload": b""}
        invocation = self.invoker.run(configuration, code, json.dumps(event))
        out = {"StatusCode": 200, "Payload": invocation.payload, "ExecutedVersion": "$LATEST"}
        if invocation.error is not None:
            out["FunctionError"] = "Unhandled"
        if p.get("LogType") == "Tail":
            out["LogResult"] = invocation.log_tail()
        return out
