"""AWS IAM emulated for local mode: roles and their policies, recorded - never enforced.

A notebook that creates the role its Lambda function (or its pipeline) runs as gets AWS's answers
here: ``CreateRole``, ``GetRole``, ``ListRoles``, ``DeleteRole``, the managed-policy attachments
(``AttachRolePolicy``, ``DetachRolePolicy``, ``ListAttachedRolePolicies``), the inline policies
(``PutRolePolicy``, ``GetRolePolicy``, ``DeleteRolePolicy``, ``ListRolePolicies``) and
``SimulatePrincipalPolicy``, with AWS's errors (``NoSuchEntity``, ``EntityAlreadyExists``,
``DeleteConflict``, ``MalformedPolicyDocument``).  Roles live in the control-plane store, so every
process of the kit sees them; the kit's own execution role (``config.LOCAL_ROLE_NAME``) always exists.

Differences from AWS: **nothing is enforced** - local mode checks no permission, so a role with no
policy can do everything, and ``SimulatePrincipalPolicy`` answers "allowed" for every action; a
managed policy ARN is accepted when it is well formed (there is no catalogue of AWS's managed
policies); a policy document must be a JSON object with a ``Statement``, and is not checked further.
"""

import hashlib
import json
import re
import time
from urllib.parse import quote

from .. import config
from .errors import ApiError, not_implemented

_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}")
_POLICY_NAME = re.compile(r"[\w+=,.@-]{1,128}")
_POLICY_ARN = re.compile(r"arn:aws[a-z-]*:iam::(aws|\d{12}):policy/([\w+=,.@/-]+)")
_KIND = "iam-role"
#: The trust policy of the kit's default role: SageMaker and Lambda may assume it.
_DEFAULT_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": ["sagemaker.amazonaws.com", "lambda.amazonaws.com"]},
    "Action": "sts:AssumeRole"}]}


def no_such_role(name):
    """AWS's NoSuchEntity for an unknown role."""
    return ApiError("NoSuchEntity", f"The role with name {name} cannot be found.", 404)


def _policy_document(text):
    """The policy as stored (its JSON text), or MalformedPolicyDocument."""
    try:
        doc = json.loads(text)
    except (TypeError, ValueError):
        raise ApiError("MalformedPolicyDocument", "This policy contains invalid Json", 400) from None
    if not isinstance(doc, dict) or "Statement" not in doc:
        raise ApiError("MalformedPolicyDocument", "Syntax errors in policy. (A policy document is a JSON object "
                                                  "with a Statement.)", 400)
    return text


def _check_name(value, pattern, field, limit):
    if not value or not pattern.fullmatch(value):
        raise ApiError("ValidationError", f"1 validation error detected: Value '{value}' at '{field}' failed to "
                                          f"satisfy constraint: Member must satisfy regular expression pattern: "
                                          f"[\\w+=,.@-]+ and have length between 1 and {limit}", 400)


def _page(items, params, key):
    """One page of ``items`` by IAM's Marker/MaxItems, with IsTruncated (and Marker when truncated)."""
    start = int(params.get("Marker") or 0)
    size = int(params.get("MaxItems") or 100)
    if not 1 <= size <= 1000:
        raise ApiError("ValidationError", "1 validation error detected: Value at 'maxItems' failed to satisfy "
                                          "constraint: Member must have value between 1 and 1000", 400)
    out = {key: items[start:start + size], "IsTruncated": start + size < len(items)}
    if out["IsTruncated"]:
        out["Marker"] = str(start + size)
    return out


class IamApi:
    """The IAM operations local mode answers (query protocol; see :mod:`.wire.query`)."""

    def __init__(self, store, account_id):
        self.store = store
        self.account_id = account_id

    def call(self, operation, params):
        """Answer one IAM operation (botocore's name for it) with AWS's response members."""
        handler = getattr(self, "op_" + operation, None)
        if handler is None:
            raise not_implemented(f"IAM {operation} is not emulated by the course kit's local mode (it answers "
                                  "roles and role policies only). Run this in remote mode with your AWS account.")
        return handler(params)

    # -- roles ------------------------------------------------------------------------------
    def role_arn(self, name, path="/"):
        """The ARN of role ``name`` in the local account."""
        return f"arn:aws:iam::{self.account_id}:role{path}{name}"

    def _new_role(self, name, path, trust, description=None, max_session=3600, tags=None, created=None):
        digest = hashlib.sha1(f"{self.account_id}:{name}:{created}".encode()).hexdigest().upper()
        role = {"Path": path, "RoleName": name, "RoleId": "AROA" + digest[:17], "Arn": self.role_arn(name, path),
                "CreateDate": created if created is not None else time.time(), "AssumeRolePolicyDocument": trust,
                "MaxSessionDuration": max_session, "Attached": [], "Inline": {}}
        if description:
            role["Description"] = description
        if tags:
            role["Tags"] = tags
        return role

    def _stored(self, name):
        doc = self.store.get(_KIND, (name or "").lower())
        if doc is None and (name or "").lower() == config.LOCAL_ROLE_NAME.lower():
            doc = self._new_role(config.LOCAL_ROLE_NAME, "/", json.dumps(_DEFAULT_TRUST), created=0.0,
                                 description="The course kit's local execution role (local mode enforces nothing).")
            doc["Attached"] = [{"PolicyName": "AmazonSageMakerFullAccess",
                                "PolicyArn": "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"}]
            self.store.put(_KIND, doc["RoleName"].lower(), doc["Arn"], doc)
        return doc

    def role(self, name):
        """The stored role ``name`` (case-insensitive, as IAM names are), or NoSuchEntity."""
        doc = self._stored(name)
        if doc is None:
            raise no_such_role(name)
        return doc

    def role_by_arn(self, arn):
        """The stored role an ARN names (``arn:aws:iam::<account>:role/<path/>name``), or None."""
        match = re.fullmatch(r"arn:aws[a-z-]*:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)", arn or "")
        if not match or match.group(1) != self.account_id:
            return None
        return self._stored(match.group(2))

    @staticmethod
    def _shown(doc):
        shown = {k: v for k, v in doc.items() if k not in ("Attached", "Inline")}
        shown["AssumeRolePolicyDocument"] = quote(doc["AssumeRolePolicyDocument"])  # IAM sends it URL-encoded
        return shown

    def _update(self, name, change):
        self.role(name)
        return self.store.update(_KIND, name.lower(), change)

    def op_CreateRole(self, p):
        name, path = p.get("RoleName", ""), p.get("Path") or "/"
        _check_name(name, _ROLE_NAME, "roleName", 64)
        if not (path.startswith("/") and path.endswith("/")):
            raise ApiError("ValidationError", f"The specified value for path is invalid: '{path}'. It must begin "
                                              "and end with / and contain only alphanumeric characters and/or / "
                                              "characters.", 400)
        trust = _policy_document(p.get("AssumeRolePolicyDocument"))
        with self.store.transaction():
            if self._stored(name) is not None:
                raise ApiError("EntityAlreadyExists", f"Role with name {name} already exists.", 409)
            role = self._new_role(name, path, trust, p.get("Description"), int(p.get("MaxSessionDuration") or 3600),
                                  p.get("Tags"))
            self.store.put(_KIND, name.lower(), role["Arn"], role)
        return {"Role": self._shown(role)}

    def op_GetRole(self, p):
        return {"Role": self._shown(self.role(p.get("RoleName")))}

    def op_ListRoles(self, p):
        self._stored(config.LOCAL_ROLE_NAME)
        prefix = p.get("PathPrefix") or "/"
        roles = sorted((r for r in self.store.list(_KIND) if r["Path"].startswith(prefix)),
                       key=lambda r: r["RoleName"].lower())
        return _page([self._shown(r) for r in roles], p, "Roles")

    def op_DeleteRole(self, p):
        name = p.get("RoleName", "")
        role = self.role(name)
        if role["RoleName"].lower() == config.LOCAL_ROLE_NAME.lower():
            raise ApiError("UnmodifiableEntity", f"Cannot perform the operation on the protected role "
                                                 f"'{role['RoleName']}' - this role is the course kit's local "
                                                 "execution role, which always exists.", 400)
        if role["Attached"]:
            raise ApiError("DeleteConflict", "Cannot delete entity, must detach all policies first.", 409)
        if role["Inline"]:
            raise ApiError("DeleteConflict", "Cannot delete entity, must delete policies first.", 409)
        self.store.delete(_KIND, name.lower())
        return {}

    # -- managed policies ---------------------------------------------------------------------
    @staticmethod
    def _policy_arn(arn):
        match = _POLICY_ARN.fullmatch(arn or "")
        if not match:
            raise ApiError("InvalidInput", f"ARN {arn} is not valid.", 400)
        return match.group(2).rsplit("/", 1)[-1]

    def op_AttachRolePolicy(self, p):
        arn = p.get("PolicyArn")
        policy_name = self._policy_arn(arn)

        def change(doc):
            if all(a["PolicyArn"] != arn for a in doc["Attached"]):
                doc["Attached"].append({"PolicyName": policy_name, "PolicyArn": arn})
            return doc

        self._update(p.get("RoleName"), change)
        return {}

    def op_DetachRolePolicy(self, p):
        arn = p.get("PolicyArn")
        self._policy_arn(arn)
        role = self.role(p.get("RoleName"))
        if all(a["PolicyArn"] != arn for a in role["Attached"]):
            raise ApiError("NoSuchEntity", f"Policy {arn} was not found.", 404)
        self._update(role["RoleName"], lambda doc: {**doc, "Attached": [
            a for a in doc["Attached"] if a["PolicyArn"] != arn]})
        return {}

    def op_ListAttachedRolePolicies(self, p):
        prefix = p.get("PathPrefix") or "/"
        attached = [a for a in self.role(p.get("RoleName"))["Attached"]
                    if ("/" + a["PolicyArn"].split(":policy/", 1)[1]).startswith(prefix)]
        return _page(attached, p, "AttachedPolicies")

    # -- inline policies ----------------------------------------------------------------------
    def op_PutRolePolicy(self, p):
        name = p.get("PolicyName", "")
        _check_name(name, _POLICY_NAME, "policyName", 128)
        document = _policy_document(p.get("PolicyDocument"))

        def change(doc):
            doc["Inline"][name] = document
            return doc

        self._update(p.get("RoleName"), change)
        return {}

    def _inline(self, p):
        role = self.role(p.get("RoleName"))
        name = p.get("PolicyName")
        if name not in role["Inline"]:
            raise ApiError("NoSuchEntity", f"The role policy with name {name} cannot be found.", 404)
        return role, name

    def op_GetRolePolicy(self, p):
        role, name = self._inline(p)
        return {"RoleName": role["RoleName"], "PolicyName": name, "PolicyDocument": quote(role["Inline"][name])}

    def op_DeleteRolePolicy(self, p):
        role, name = self._inline(p)

        def change(doc):
            doc["Inline"].pop(name, None)
            return doc

        self._update(role["RoleName"], change)
        return {}

    def op_ListRolePolicies(self, p):
        return _page(sorted(self.role(p.get("RoleName"))["Inline"]), p, "PolicyNames")

    # -- simulation ---------------------------------------------------------------------------
    def op_SimulatePrincipalPolicy(self, p):
        source = p.get("PolicySourceArn", "")
        if ":role/" in source and self.role_by_arn(source) is None:
            raise ApiError("NoSuchEntity", f"The role with ARN {source} cannot be found.", 404)
        resources = p.get("ResourceArns") or ["*"]
        results = [{"EvalActionName": action, "EvalResourceName": resource, "EvalDecision": "allowed",
                    "MatchedStatements": [], "MissingContextValues": []}
                   for action in p.get("ActionNames") or [] for resource in resources]
        return _page(results, p, "EvaluationResults")
