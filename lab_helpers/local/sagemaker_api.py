"""The SageMaker control plane, emulated for local mode.

Requests arrive exactly as botocore sends them to AWS (JSON protocol, ``X-Amz-Target:
SageMaker.<Operation>``, parameters already validated against AWS's service model by
botocore); answers use AWS's field names, pagination (``NextToken``/``MaxResults``) and
error codes (``ResourceNotFound``, ``ValidationException``, ``ResourceInUse``), so the SDK's
remote code path - the one Studio users run - works unchanged, and ``ClientError``s look
the same as in AWS.

Differences from AWS (on purpose, and listed so nobody is surprised):

* Jobs and pipeline executions run *synchronously* inside the call that creates them
  (``CreateTrainingJob``, ``StartPipelineExecution``), like the SDK's own local mode; so
  ``execution.wait()`` returns at once.  Their logs print while they run.
* Only what the lesson uses is emulated; any other operation fails with a clear
  ``NotImplemented`` error naming it.
* IAM is not checked: any role ARN is accepted.
"""

import base64
import json
import re
import secrets
import time

from .. import config


class ApiError(Exception):
    """An AWS-style API error (code, message, HTTP status)."""

    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def not_found(what):
    return ApiError("ResourceNotFound", what, 400)


def validation(message):
    return ApiError("ValidationException", message, 400)


TERMINAL_EXECUTION = ("Succeeded", "Failed", "Stopped")


def new_id(n=12):
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(n))


# -- pagination -----------------------------------------------------------------------
def paginate(items, params, key, default_max=50):
    """Slice ``items`` with AWS-style ``MaxResults``/``NextToken``; returns the response dict."""
    max_results = params.get("MaxResults", default_max)
    if not 1 <= int(max_results) <= 100:
        raise validation(
            f"1 validation error detected: Value '{max_results}' at 'maxResults' failed to satisfy "
            "constraint: Member must have value less than or equal to 100"
        )
    start = 0
    token = params.get("NextToken")
    if token:
        try:
            start = int(json.loads(base64.b64decode(token.encode()).decode())["offset"])
        except Exception as exc:
            raise validation("Invalid pagination token: NextToken is not one this service returned.") from exc
    page = items[start : start + int(max_results)]
    out = {key: page}
    if start + int(max_results) < len(items):
        out["NextToken"] = base64.b64encode(json.dumps({"offset": start + int(max_results)}).encode()).decode()
    return out


def sort_items(items, params, fields, default_field, default_order="Descending"):
    field = fields.get(params.get("SortBy") or default_field, fields[default_field])
    reverse = (params.get("SortOrder") or default_order) == "Descending"
    return sorted(items, key=lambda item: (item.get(field) is None, item.get(field)), reverse=reverse)


def filter_created(items, params, after="CreatedAfter", before="CreatedBefore", field="CreationTime"):
    lo, hi = params.get(after), params.get(before)
    out = []
    for item in items:
        t = item.get(field)
        if lo is not None and t <= _epoch(lo):
            continue
        if hi is not None and t >= _epoch(hi):
            continue
        out.append(item)
    return out


def _epoch(value):
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        from datetime import datetime

        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


class SageMakerApi:
    """Operation handlers; each takes the request parameters and returns the response dict."""

    def __init__(self, cloud):
        self.cloud = cloud
        self.store = cloud.store

    # -- plumbing ---------------------------------------------------------------------
    def arn(self, resource):
        return f"arn:aws:sagemaker:{self.cloud.region}:{self.cloud.account}:{resource}"

    def call(self, operation, params):
        handler = getattr(self, "op_" + operation, None)
        if handler is None:
            raise ApiError(
                "NotImplemented",
                f"SageMaker.{operation} is not emulated by the kit's local mode. "
                "Run this cell in remote mode (LAB_MODE=remote) against your AWS account.",
                501,
            )
        return handler(params)

    # -- pipelines --------------------------------------------------------------------
    def _definition_from(self, params):
        if "PipelineDefinition" in params:
            text = params["PipelineDefinition"]
        elif "PipelineDefinitionS3Location" in params:
            loc = params["PipelineDefinitionS3Location"]
            path = self.cloud.s3.path_for(loc["Bucket"], loc["ObjectKey"])
            if not path.exists():
                raise validation(f"PipelineDefinitionS3Location s3://{loc['Bucket']}/{loc['ObjectKey']} does not exist.")
            text = path.read_text()
        else:
            raise validation("Either PipelineDefinition or PipelineDefinitionS3Location must be given.")
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise validation(f"PipelineDefinition is not valid JSON: {exc}") from exc
        if not isinstance(parsed, dict) or "Steps" not in parsed:
            raise validation("PipelineDefinition must be a JSON object with a 'Steps' list.")
        return text

    def _pipeline(self, name_or_arn):
        name = name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn
        doc = self.store.get("pipeline", name.lower())
        if doc is None:
            raise not_found(f"Pipeline '{self.arn('pipeline/' + name.lower())}' does not exist.")
        return doc

    def op_CreatePipeline(self, p):
        self.cloud.warm_up()
        name = p["PipelineName"]
        definition = self._definition_from(p)
        arn = self.arn(f"pipeline/{name.lower()}")
        with self.store.transaction():
            if self.store.get("pipeline", name.lower()):
                raise validation(
                    "Pipeline names must be unique within an AWS account and region. "
                    f"Pipeline with name ({name}) already exists."
                )
            now = time.time()
            doc = {
                "PipelineArn": arn,
                "PipelineName": name,
                "PipelineDisplayName": p.get("PipelineDisplayName", name),
                "PipelineDescription": p.get("PipelineDescription"),
                "PipelineDefinition": definition,
                "RoleArn": p["RoleArn"],
                "PipelineStatus": "Active",
                "CreationTime": now,
                "LastModifiedTime": now,
                "PipelineVersionId": 1,
                "ParallelismConfiguration": p.get("ParallelismConfiguration"),
                "Tags": p.get("Tags", []),
            }
            self.store.put("pipeline", name.lower(), arn, doc, created=now)
        return {"PipelineArn": arn}

    def op_UpdatePipeline(self, p):
        self.cloud.warm_up()
        name = p["PipelineName"]
        definition = self._definition_from(p) if (
            "PipelineDefinition" in p or "PipelineDefinitionS3Location" in p
        ) else None
        self._pipeline(name)

        def change(doc):
            if definition is not None:
                doc["PipelineDefinition"] = definition
            for key in ("PipelineDisplayName", "PipelineDescription", "RoleArn", "ParallelismConfiguration"):
                if key in p:
                    doc[key] = p[key]
            doc["LastModifiedTime"] = time.time()
            doc["PipelineVersionId"] = int(doc.get("PipelineVersionId", 1)) + 1
            return doc

        doc = self.store.update("pipeline", name.lower(), change)
        return {"PipelineArn": doc["PipelineArn"], "PipelineVersionId": doc["PipelineVersionId"]}

    def op_DescribePipeline(self, p):
        doc = dict(self._pipeline(p["PipelineName"]))
        doc.pop("Tags", None)
        doc["CreatedBy"] = doc["LastModifiedBy"] = {}
        return {k: v for k, v in doc.items() if v is not None}

    def op_ListPipelines(self, p):
        items = []
        prefix = p.get("PipelineNamePrefix", "")
        for doc in self.store.list("pipeline"):
            if not doc["PipelineName"].startswith(prefix):
                continue
            summary = {k: doc.get(k) for k in (
                "PipelineArn", "PipelineName", "PipelineDisplayName", "PipelineDescription",
                "RoleArn", "CreationTime", "LastModifiedTime", "LastExecutionTime")}
            items.append({k: v for k, v in summary.items() if v is not None})
        items = filter_created(items, p)
        items = sort_items(items, p, {"Name": "PipelineName", "CreationTime": "CreationTime"}, "CreationTime")
        return paginate(items, p, "PipelineSummaries")

    def op_DeletePipeline(self, p):
        """As in AWS: refused while an execution runs; deleting a pipeline deletes its executions."""
        doc = self._pipeline(p["PipelineName"])
        arn = doc["PipelineArn"]
        with self.store.transaction():
            executions = [self.cloud.engine.reap(e) for e in self.store.list("execution", parent=arn)]
            running = [e["PipelineExecutionArn"] for e in executions
                       if e["PipelineExecutionStatus"] not in TERMINAL_EXECUTION]
            if running:
                raise ApiError(
                    "ConflictException",
                    f"Pipeline {doc['PipelineName']} has running executions ({', '.join(running)}); "
                    "stop them first (StopPipelineExecution).",
                )
            for execution in executions:
                self.store.delete_children("step", execution["PipelineExecutionArn"])
                self.store.delete("execution", execution["PipelineExecutionArn"])
            self.store.delete("pipeline", doc["PipelineName"].lower())
        return {"PipelineArn": arn}

    # -- executions -------------------------------------------------------------------
    def execution(self, arn):
        doc = self.store.get("execution", arn)
        if doc is None:
            raise not_found(f"Pipeline execution '{arn}' does not exist.")
        return self.cloud.engine.reap(doc)

    def op_StartPipelineExecution(self, p):
        pipeline = self._pipeline(p["PipelineName"])
        token = p.get("ClientRequestToken")
        if token:
            for doc in self.store.list("execution", parent=pipeline["PipelineArn"]):
                if doc.get("ClientRequestToken") == token:
                    return {"PipelineExecutionArn": doc["PipelineExecutionArn"]}
        if p.get("SelectiveExecutionConfig"):
            raise ApiError("NotImplemented", "Selective execution is not emulated by the kit's local mode.", 501)
        arn = self.cloud.engine.start(pipeline, p)
        return {"PipelineExecutionArn": arn}

    def op_DescribePipelineExecution(self, p):
        doc = dict(self.execution(p["PipelineExecutionArn"]))
        for key in ("Parameters", "ClientRequestToken", "Runner", "PipelineDefinition"):
            doc.pop(key, None)
        doc["CreatedBy"] = doc["LastModifiedBy"] = {}
        return {k: v for k, v in doc.items() if v is not None}

    def op_ListPipelineExecutions(self, p):
        pipeline = self._pipeline(p["PipelineName"])
        items = []
        for doc in self.store.list("execution", parent=pipeline["PipelineArn"]):
            doc = self.cloud.engine.reap(doc)
            summary = {
                "PipelineExecutionArn": doc["PipelineExecutionArn"],
                "StartTime": doc["CreationTime"],
                "PipelineExecutionStatus": doc["PipelineExecutionStatus"],
                "PipelineExecutionDescription": doc.get("PipelineExecutionDescription"),
                "PipelineExecutionDisplayName": doc.get("PipelineExecutionDisplayName"),
                "PipelineExecutionFailureReason": doc.get("FailureReason"),
            }
            items.append({k: v for k, v in summary.items() if v is not None})
        items = filter_created(items, p, field="StartTime")
        items = sort_items(items, p, {"CreationTime": "StartTime", "PipelineExecutionArn": "PipelineExecutionArn"}, "CreationTime")
        return paginate(items, p, "PipelineExecutionSummaries")

    def op_ListPipelineExecutionSteps(self, p):
        doc = self.execution(p["PipelineExecutionArn"])
        steps = [dict(s) for s in self.store.list("step", parent=doc["PipelineExecutionArn"])]
        for s in steps:
            s.pop("Order", None)
        reverse = (p.get("SortOrder") or "Descending") == "Descending"
        steps.sort(key=lambda s: s.get("StartTime") or 0, reverse=reverse)
        return paginate(steps, p, "PipelineExecutionSteps")

    def op_ListPipelineParametersForExecution(self, p):
        doc = self.execution(p["PipelineExecutionArn"])
        return paginate(doc.get("Parameters", []), p, "PipelineParameters")

    def op_DescribePipelineDefinitionForExecution(self, p):
        doc = self.execution(p["PipelineExecutionArn"])
        return {"PipelineDefinition": doc["PipelineDefinition"], "CreationTime": doc["CreationTime"]}

    def op_StopPipelineExecution(self, p):
        doc = self.execution(p["PipelineExecutionArn"])
        if doc["PipelineExecutionStatus"] in TERMINAL_EXECUTION:
            raise validation(
                f"Pipeline execution '{doc['PipelineExecutionArn']}' is in status "
                f"{doc['PipelineExecutionStatus']} and cannot be stopped."
            )
        self.cloud.engine.request_stop(doc["PipelineExecutionArn"])
        return {"PipelineExecutionArn": doc["PipelineExecutionArn"]}

    # -- tags ---------------------------------------------------------------------------
    def _tagged(self, arn):
        for kind in ("pipeline", "model_package_group", "model", "training_job", "processing_job", "transform_job"):
            with self.store._lock:
                row = self.store._conn.execute(
                    "SELECT name FROM resources WHERE kind=? AND arn=?", (kind, arn)).fetchone()
            if row:
                return kind, row[0]
        raise not_found(f"Resource {arn} does not exist.")

    def op_ListTags(self, p):
        kind, name = self._tagged(p["ResourceArn"])
        return paginate(self.store.get(kind, name).get("Tags", []), p, "Tags")

    def op_AddTags(self, p):
        kind, name = self._tagged(p["ResourceArn"])

        def change(doc):
            tags = {t["Key"]: t["Value"] for t in doc.get("Tags", [])}
            tags.update({t["Key"]: t["Value"] for t in p["Tags"]})
            doc["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
            return doc

        return {"Tags": self.store.update(kind, name, change)["Tags"]}

    def op_DeleteTags(self, p):
        kind, name = self._tagged(p["ResourceArn"])

        def change(doc):
            doc["Tags"] = [t for t in doc.get("Tags", []) if t["Key"] not in p["TagKeys"]]
            return doc

        self.store.update(kind, name, change)
        return {}

    # -- jobs ---------------------------------------------------------------------------
    def _create_job(self, kind, name_key, arn_prefix, p, run):
        name = p[name_key]
        if not re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", name):
            raise validation(
                f"1 validation error detected: Value '{name}' at '{name_key[0].lower() + name_key[1:]}' "
                "failed to satisfy constraint: Member must satisfy regular expression pattern: "
                "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
            )
        arn = self.arn(f"{arn_prefix}/{name.lower()}")
        with self.store.transaction():
            if self.store.get(kind, name.lower()):
                raise ApiError("ResourceInUse", f"Job name must be unique within an AWS account and region, and a job with this name already exists ({arn})")
            self.store.put(kind, name.lower(), arn, {name_key: name, "Pending": True})
        run(name, arn, p)
        return arn

    def _job(self, kind, name, label):
        doc = self.store.get(kind, name.lower())
        if doc is None or doc.get("Pending"):
            raise validation(f"Requested resource not found: {label} {name} does not exist")
        return doc

    def op_CreateTrainingJob(self, p):
        arn = self._create_job("training_job", "TrainingJobName", "training-job", p, self.cloud.runtime.run_training)
        return {"TrainingJobArn": arn}

    def op_DescribeTrainingJob(self, p):
        return self._job("training_job", p["TrainingJobName"], "Training job")

    def op_CreateProcessingJob(self, p):
        arn = self._create_job("processing_job", "ProcessingJobName", "processing-job", p, self.cloud.runtime.run_processing)
        return {"ProcessingJobArn": arn}

    def op_DescribeProcessingJob(self, p):
        return self._job("processing_job", p["ProcessingJobName"], "Processing job")

    def op_CreateTransformJob(self, p):
        self._model(p["ModelName"])
        arn = self._create_job("transform_job", "TransformJobName", "transform-job", p, self.cloud.runtime.run_transform)
        return {"TransformJobArn": arn}

    def op_DescribeTransformJob(self, p):
        return self._job("transform_job", p["TransformJobName"], "Transform job")

    def _list_jobs(self, kind, key, name_key, status_key, p):
        items = []
        for doc in self.store.list(kind):
            if doc.get("Pending"):
                continue
            if p.get("NameContains") and p["NameContains"] not in doc[name_key]:
                continue
            if p.get("StatusEquals") and doc.get(status_key) != p["StatusEquals"]:
                continue
            items.append({k: doc.get(k) for k in (name_key, name_key.replace("Name", "Arn"), "CreationTime",
                                                 "LastModifiedTime", status_key)})
        items = filter_created(items, p, "CreationTimeAfter", "CreationTimeBefore")
        items = sort_items(items, p, {"Name": name_key, "CreationTime": "CreationTime", "Status": status_key}, "CreationTime")
        return paginate(items, p, key)

    def op_ListTrainingJobs(self, p):
        return self._list_jobs("training_job", "TrainingJobSummaries", "TrainingJobName", "TrainingJobStatus", p)

    def op_ListProcessingJobs(self, p):
        return self._list_jobs("processing_job", "ProcessingJobSummaries", "ProcessingJobName", "ProcessingJobStatus", p)

    def op_ListTransformJobs(self, p):
        return self._list_jobs("transform_job", "TransformJobSummaries", "TransformJobName", "TransformJobStatus", p)

    # -- models -------------------------------------------------------------------------
    def _model(self, name):
        doc = self.store.get("model", name.lower())
        if doc is None:
            raise validation(f"Could not find model \"{self.arn('model/' + name.lower())}\".")
        return doc

    def op_CreateModel(self, p):
        name = p["ModelName"]
        arn = self.arn(f"model/{name.lower()}")
        container = p.get("PrimaryContainer") or (p.get("Containers") or [None])[0]
        if not container:
            raise validation("CreateModel needs PrimaryContainer or Containers.")
        self.cloud.runtime.check_image(container.get("Image", ""), purpose="inference")
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
        raise validation(f"Could not find endpoint \"{self.arn('endpoint/' + p['EndpointName'].lower())}\".")

    # -- model registry -----------------------------------------------------------------
    def _group(self, name_or_arn):
        name = name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn
        doc = self.store.get("model_package_group", name.lower())
        if doc is None:
            raise validation(f"ModelPackageGroup {name} does not exist.")
        return doc

    def op_CreateModelPackageGroup(self, p):
        name = p["ModelPackageGroupName"]
        arn = self.arn(f"model-package-group/{name.lower()}")
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
            raise ApiError("NotImplemented", "Unversioned model packages (no ModelPackageGroupName) are not emulated offline.", 501)
        status = p.get("ModelApprovalStatus", "PendingManualApproval")
        if status not in ("Approved", "Rejected", "PendingManualApproval"):
            raise validation(
                f"1 validation error detected: Value '{status}' at 'modelApprovalStatus' failed to satisfy "
                "constraint: Member must satisfy enum value set: [Approved, Rejected, PendingManualApproval]"
            )
        for container in (p.get("InferenceSpecification") or {}).get("Containers", []):
            self.cloud.runtime.check_image(container.get("Image", ""), purpose="inference")
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
            arn = self.arn(f"model-package/{gname.lower()}/{version}")
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
        if status is not None and status not in ("Approved", "Rejected", "PendingManualApproval"):
            raise validation(
                f"1 validation error detected: Value '{status}' at 'modelApprovalStatus' failed to satisfy "
                "constraint: Member must satisfy enum value set: [Approved, Rejected, PendingManualApproval]"
            )

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
            group = group.rsplit("/", 1)[-1] if group.startswith("arn:") else group
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
