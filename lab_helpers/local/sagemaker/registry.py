"""SageMaker's models and model registry, emulated for local mode.

``CreateModel`` and the model registry (model package groups and versioned model packages, their
approval status) are records in the control-plane store; a pipeline's Model and RegisterModel
steps call the same methods the API serves.  Endpoints: none exist offline (the lesson never
deploys one), so their List calls answer empty and Describe answers as AWS does for a missing one.
"""

import time

from .. import images
from ..errors import ApiError, not_implemented, validation
from ..ids import resource_name
from .paging import filter_created, paginate, sort_items
_APPROVAL_STATUSES = ("Approved", "Rejected", "PendingManualApproval")


def _check_approval(status):
    if status not in _APPROVAL_STATUSES:
        raise validation(
            f"1 validation error detected: Value '{status}' at 'modelApprovalStatus' failed to satisfy "
            "constraint: Member must satisfy enum value set: [Approved, Rejected, PendingManualApproval]"
        )


class Registry:
    """Models, model package groups and model packages (``op_<Operation>`` handlers)."""

    def __init__(self, store, account):
        self.store = store
        self.account = account

    # -- models -------------------------------------------------------------------------
    def _model(self, name):
        doc = self.store.get("model", name.lower())
        if doc is None:
            raise validation(f"Could not find model \"{self.account.arn('model/' + name.lower())}\".")
        return doc

    def op_CreateModel(self, p):
        name = p["ModelName"]
        arn = self.account.arn(f"model/{name.lower()}")
        container = p.get("PrimaryContainer") or (p.get("Containers") or [None])[0]
        if not container:
            raise validation("CreateModel needs PrimaryContainer or Containers.")
        images.check(container.get("Image", ""), purpose="inference")
        with self.store.transaction():
            if self.store.get("model", name.lower()):
                raise validation(f"Cannot create already existing model \"{arn}\".")
            doc = dict(p)
            doc.update({"ModelArn": arn, "CreationTime": time.time(), "DeploymentRecommendation": None})
            doc = {k: v for k, v in doc.items() if v is not None}
            self.store.put("model", name.lower(), arn, doc)
        return {"ModelArn": arn}

    def op_DescribeModel(self, p):
        doc = dict(self._model(p["ModelName"]))
        doc.pop("Tags", None)
        return doc

    def op_DeleteModel(self, p):
        self._model(p["ModelName"])
        self.store.delete("model", p["ModelName"].lower())
        return {}

    def op_ListModels(self, p):
        items = [{"ModelName": d["ModelName"], "ModelArn": d["ModelArn"], "CreationTime": d["CreationTime"]}
                 for d in self.store.list("model")
                 if not p.get("NameContains") or p["NameContains"] in d["ModelName"]]
        items = filter_created(items, p, "CreationTimeAfter", "CreationTimeBefore")
        items = sort_items(items, p, {"Name": "ModelName", "CreationTime": "CreationTime"}, "CreationTime")
        return paginate(items, p, "Models")

    # -- endpoints: none exist offline (the lesson never deploys one) ------------------
    def op_ListEndpoints(self, p):
        return paginate([], p, "Endpoints")

    def op_ListEndpointConfigs(self, p):
        return paginate([], p, "EndpointConfigs")

    def op_DescribeEndpoint(self, p):
        raise validation(f"Could not find endpoint \"{self.account.arn('endpoint/' + p['EndpointName'].lower())}\".")

    # -- model registry -----------------------------------------------------------------
    def _group(self, name_or_arn):
        name = resource_name(name_or_arn)
        doc = self.store.get("model_package_group", name.lower())
        if doc is None:
            raise validation(f"ModelPackageGroup {name} does not exist.")
        return doc

    def op_CreateModelPackageGroup(self, p):
        name = p["ModelPackageGroupName"]
        arn = self.account.arn(f"model-package-group/{name.lower()}")
        with self.store.transaction():
            if self.store.get("model_package_group", name.lower()):
                raise validation(f"Model Package Group already exists: {arn}")
            doc = {
                "ModelPackageGroupName": name,
                "ModelPackageGroupArn": arn,
                "ModelPackageGroupDescription": p.get("ModelPackageGroupDescription"),
                "CreationTime": time.time(),
                "CreatedBy": {},
                "ModelPackageGroupStatus": "Completed",
                "Tags": p.get("Tags", []),
            }
            self.store.put("model_package_group", name.lower(), arn, {k: v for k, v in doc.items() if v is not None})
        return {"ModelPackageGroupArn": arn}

    def op_DescribeModelPackageGroup(self, p):
        doc = dict(self._group(p["ModelPackageGroupName"]))
        doc.pop("Tags", None)
        return doc

    def op_ListModelPackageGroups(self, p):
        items = []
        for d in self.store.list("model_package_group"):
            if p.get("NameContains") and p["NameContains"] not in d["ModelPackageGroupName"]:
                continue
            items.append({k: d.get(k) for k in ("ModelPackageGroupName", "ModelPackageGroupArn",
                                                "ModelPackageGroupDescription", "CreationTime",
                                                "ModelPackageGroupStatus") if d.get(k) is not None})
        items = filter_created(items, p, "CreationTimeAfter", "CreationTimeBefore")
        items = sort_items(items, p, {"Name": "ModelPackageGroupName", "CreationTime": "CreationTime"}, "CreationTime")
        return paginate(items, p, "ModelPackageGroupSummaryList")

    def op_DeleteModelPackageGroup(self, p):
        doc = self._group(p["ModelPackageGroupName"])
        if self.store.list("model_package", parent=doc["ModelPackageGroupName"].lower()):
            raise ApiError(
                "ConflictException",
                f"Model Package Group {doc['ModelPackageGroupName']} still contains model packages; "
                "delete them first (DeleteModelPackage).",
            )
        self.store.delete("model_package_group", doc["ModelPackageGroupName"].lower())
        return {}

    def create_model_package(self, p, create_group=False):
        """CreateModelPackage; a pipeline's RegisterModel step also creates a missing group."""
        group_name = p.get("ModelPackageGroupName")
        if not group_name:
            raise not_implemented("Unversioned model packages (no ModelPackageGroupName) are not emulated offline.")
        status = p.get("ModelApprovalStatus", "PendingManualApproval")
        _check_approval(status)
        for container in (p.get("InferenceSpecification") or {}).get("Containers", []):
            images.check(container.get("Image", ""), purpose="inference")
        with self.store.transaction():
            try:
                group = self._group(group_name)
            except ApiError:
                if not create_group:
                    raise
                self.op_CreateModelPackageGroup({"ModelPackageGroupName": group_name})
                group = self._group(group_name)
            gname = group["ModelPackageGroupName"]
            existing = self.store.list("model_package", parent=gname.lower())
            version = max([d["ModelPackageVersion"] for d in existing] + [group.get("LastVersion", 0)]) + 1
            self.store.update("model_package_group", gname.lower(), lambda d: dict(d, LastVersion=version))
            arn = self.account.arn(f"model-package/{gname.lower()}/{version}")
            now = time.time()
            doc = {k: v for k, v in p.items() if k not in ("ClientToken", "Tags")}
            doc.update({
                "ModelPackageName": gname,
                "ModelPackageGroupName": gname,
                "ModelPackageVersion": version,
                "ModelPackageArn": arn,
                "CreationTime": now,
                "LastModifiedTime": now,
                "ModelPackageStatus": "Completed",
                "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
                "CertifyForMarketplace": bool(p.get("CertifyForMarketplace", False)),
                "ModelApprovalStatus": status,
                "CreatedBy": {},
                "Tags": p.get("Tags", []),
            })
            self.store.put("model_package", f"{gname.lower()}/{version}", arn, doc, parent=gname.lower(), created=now)
        return doc

    def op_CreateModelPackage(self, p):
        return {"ModelPackageArn": self.create_model_package(p)["ModelPackageArn"]}

    def _package(self, name_or_arn):
        if name_or_arn.startswith("arn:"):
            doc = self.store.get_by_arn("model_package", name_or_arn)
        else:
            doc = None
        if doc is None:
            raise validation(f"ModelPackage {name_or_arn} does not exist.")
        return doc

    def op_DescribeModelPackage(self, p):
        doc = dict(self._package(p["ModelPackageName"]))
        doc.pop("Tags", None)
        return doc

    def op_UpdateModelPackage(self, p):
        doc = self._package(p["ModelPackageArn"])
        status = p.get("ModelApprovalStatus")
        if status is not None:
            _check_approval(status)

        def change(d):
            for key in ("ModelApprovalStatus", "ApprovalDescription", "CustomerMetadataProperties",
                        "ModelCard", "SourceUri", "InferenceSpecification"):
                if key in p:
                    d[key] = p[key]
            d["LastModifiedTime"] = time.time()
            d["LastModifiedBy"] = {}
            return d

        self.store.update("model_package", f"{doc['ModelPackageGroupName'].lower()}/{doc['ModelPackageVersion']}", change)
        return {"ModelPackageArn": doc["ModelPackageArn"]}

    def op_DeleteModelPackage(self, p):
        doc = self._package(p["ModelPackageName"])
        self.store.delete("model_package", f"{doc['ModelPackageGroupName'].lower()}/{doc['ModelPackageVersion']}")
        return {}

    def op_ListModelPackages(self, p):
        items = []
        group = p.get("ModelPackageGroupName")
        if group:
            group = resource_name(group)
        package_type = p.get("ModelPackageType", "Both")
        for d in self.store.list("model_package"):
            if group and d["ModelPackageGroupName"].lower() != group.lower():
                continue
            if package_type == "Unversioned":
                continue
            if p.get("ModelApprovalStatus") and d["ModelApprovalStatus"] != p["ModelApprovalStatus"]:
                continue
            if p.get("NameContains") and p["NameContains"] not in d["ModelPackageName"]:
                continue
            items.append({k: d.get(k) for k in (
                "ModelPackageName", "ModelPackageGroupName", "ModelPackageVersion", "ModelPackageArn",
                "ModelPackageDescription", "CreationTime", "ModelPackageStatus", "ModelApprovalStatus")
                if d.get(k) is not None})
        items = filter_created(items, p, "CreationTimeAfter", "CreationTimeBefore")
        items = sort_items(items, p, {"Name": "ModelPackageName", "CreationTime": "CreationTime"}, "CreationTime")
        return paginate(items, p, "ModelPackageSummaryList")
