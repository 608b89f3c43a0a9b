"""The SageMaker API, emulated for local mode: one handler per operation.

Requests arrive exactly as botocore sends them to AWS (JSON protocol, parameters already
validated against AWS's service model by botocore); answers use AWS's field names, pagination
(``NextToken``/``MaxResults``) and error codes (``ResourceNotFound``, ``ValidationException``,
``ResourceInUse``), so the SDK's remote code path - the one Studio users run - works unchanged,
and ``ClientError``s look the same as in AWS.

Where an operation lives: pipelines, executions, tags and jobs here (jobs run through
:mod:`lab_helpers.local.jobs`, executions through :mod:`.engine`); models and the model registry
in :mod:`.registry`; hyperparameter tuning jobs in :mod:`.tuning`.  A new operation is an
``op_<Name>`` method in one of them.

Differences from AWS (on purpose, and listed so nobody is surprised):

* Jobs and pipeline executions run *synchronously* inside the call that creates them
  (``CreateTrainingJob``, ``StartPipelineExecution``), like the SDK's own local mode; so
  ``execution.wait()`` returns at once.  Their logs print while they run.
* Only what the lesson uses is emulated; any other operation fails with a clear
  ``NotImplemented`` error naming it.
* IAM is not checked: any role ARN is accepted.
"""

import json
import time

from ...shapes import JOB_KINDS, TERMINAL_EXECUTION
from ..errors import ApiError, not_found, not_implemented, validation
from .. import images
from ..ids import resource_name
from .paging import filter_created, paginate, sort_items
from .engine import request_fingerprint
from .execution import HIDDEN_STEP_FIELDS
from .tuning import TUNING_KIND, Tuning
from .validation import check_definition, check_request


class SageMakerApi:
    """Operation handlers; each takes the request parameters and returns the response dict."""

    def __init__(self, store, account, s3, engine, runtime, registry):
        self.store = store
        self.account = account
        self.s3 = s3
        self.engine = engine
        self.runtime = runtime
        self.registry = registry
        self.tuning = Tuning(store, runtime)  # hyperparameter tuning jobs (their op_ methods)

    def call(self, operation, params):
        """Answer SageMaker ``operation`` (botocore's name for it) with AWS's response shape."""
        handler = getattr(self, "op_" + operation, None) or getattr(self.registry, "op_" + operation, None) \
            or getattr(self.tuning, "op_" + operation, None)
        if handler is None:
            raise not_implemented(
                f"SageMaker.{operation} is not emulated by the kit's local mode. "
                "Run this cell in remote mode (LAB_MODE=remote) against your AWS account."
            )
        check_request(operation, params)
        return handler(params)

    # -- pipelines --------------------------------------------------------------------
    def _definition_from(self, params):
        if "PipelineDefinition" in params:
            text = params["PipelineDefinition"]
        elif "PipelineDefinitionS3Location" in params:
            loc = params["PipelineDefinitionS3Location"]
            path = self.s3.path_for(loc["Bucket"], loc["ObjectKey"])
            if not path.exists():
                raise validation(f"PipelineDefinitionS3Location s3://{loc['Bucket']}/{loc['ObjectKey']} does not exist.")
            text = path.read_text()
        else:
            raise validation("Either PipelineDefinition or PipelineDefinitionS3Location must be given.")
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise validation(f"PipelineDefinition is not valid JSON: {exc}") from exc
        check_definition(parsed)
        return text

    def _warn_images(self, definition, values=None):
        """Name, in the notebook, each step whose image local mode cannot run (it would fail when it runs)."""
        try:
            parsed = json.loads(definition) if isinstance(definition, str) else definition
        except ValueError:
            return
        for line in images.offline_warnings(parsed or {}, values):
            self.runtime.echo(line)

    def _pipeline(self, name_or_arn):
        name = resource_name(name_or_arn)
        doc = self.store.get("pipeline", name.lower())
        if doc is None:
            raise not_found(f"Pipeline '{self.account.arn('pipeline/' + name.lower())}' does not exist.")
        return doc

    def op_CreatePipeline(self, p):
        self.runtime.warm_up()
        name = p["PipelineName"]
        definition = self._definition_from(p)
        self._warn_images(definition)
        arn = self.account.arn(f"pipeline/{name.lower()}")
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
        self.runtime.warm_up()
        name = p["PipelineName"]
        definition = self._definition_from(p) if (
            "PipelineDefinition" in p or "PipelineDefinitionS3Location" in p
        ) else None
        self._pipeline(name)
        if definition is not None:
            self._warn_images(definition)

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
            executions = [self.engine.reap(e) for e in self.store.list("execution", parent=arn)]
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
        """The execution record (reaped if its runner died), or ResourceNotFound."""
        doc = self.store.get("execution", arn)
        if doc is None:
            raise not_found(f"Pipeline execution '{arn}' does not exist.")
        return self.engine.reap(doc)

    def op_StartPipelineExecution(self, p):
        pipeline = self._pipeline(p["PipelineName"])
        token = p.get("ClientRequestToken")
        if token:
            for doc in self.store.list("execution", parent=pipeline["PipelineArn"]):
                if doc.get("ClientRequestToken") != token:
                    continue
                if doc.get("RequestFingerprint", request_fingerprint(p)) != request_fingerprint(p):
                    raise validation(f"ClientRequestToken '{token}' was already used to start the execution "
                                     f"{doc['PipelineExecutionArn']} with different parameters; a retry must repeat "
                                     "the request unchanged, and a new execution needs a new token.")
                return {"PipelineExecutionArn": doc["PipelineExecutionArn"]}
        self._warn_images(pipeline["PipelineDefinition"], {
            item.get("Name"): item.get("Value") for item in p.get("PipelineParameters") or []})
        arn = self.engine.start(pipeline, p)
        return {"PipelineExecutionArn": arn}

    def op_DescribePipelineExecution(self, p):
        doc = dict(self.execution(p["PipelineExecutionArn"]))
        for key in ("Parameters", "ClientRequestToken", "Runner", "PipelineDefinition", "RequestFingerprint"):
            doc.pop(key, None)
        doc["CreatedBy"] = doc["LastModifiedBy"] = {}
        return {k: v for k, v in doc.items() if v is not None}

    def op_ListPipelineExecutions(self, p):
        pipeline = self._pipeline(p["PipelineName"])
        items = []
        for doc in self.store.list("execution", parent=pipeline["PipelineArn"]):
            doc = self.engine.reap(doc)
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
            for hidden in HIDDEN_STEP_FIELDS:
                s.pop(hidden, None)
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
        self.engine.request_stop(doc["PipelineExecutionArn"])
        return {"PipelineExecutionArn": doc["PipelineExecutionArn"]}

    # -- tags ---------------------------------------------------------------------------
    def _tagged(self, arn):
        found = self.store.find_arn(arn, ("pipeline", "model_package_group", "model", "training_job",
                                          "processing_job", "transform_job", TUNING_KIND))
        if found is None:
            raise not_found(f"Resource {arn} does not exist.")
        return found

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
    def op_CreateTrainingJob(self, p):
        return {"TrainingJobArn": self.runtime.create("TrainingJob", p)}

    def op_DescribeTrainingJob(self, p):
        return self.runtime.describe("TrainingJob", p["TrainingJobName"])

    def op_CreateProcessingJob(self, p):
        return {"ProcessingJobArn": self.runtime.create("ProcessingJob", p)}

    def op_DescribeProcessingJob(self, p):
        return self.runtime.describe("ProcessingJob", p["ProcessingJobName"])

    def op_CreateTransformJob(self, p):
        self.registry.op_DescribeModel({"ModelName": p["ModelName"]})  # AWS refuses a model that does not exist
        return {"TransformJobArn": self.runtime.create("TransformJob", p)}

    def op_DescribeTransformJob(self, p):
        return self.runtime.describe("TransformJob", p["TransformJobName"])

    def _list_jobs(self, key, p):
        kind = JOB_KINDS[key]
        items = []
        for doc in self.store.list(kind.store_kind):
            if doc.get("Pending"):
                continue
            if p.get("NameContains") and p["NameContains"] not in doc[kind.name_field]:
                continue
            if p.get("StatusEquals") and doc.get(kind.status_field) != p["StatusEquals"]:
                continue
            items.append({k: doc.get(k) for k in (kind.name_field, kind.arn_field, "CreationTime",
                                                 "LastModifiedTime", kind.status_field)})
        items = filter_created(items, p, "CreationTimeAfter", "CreationTimeBefore")
        items = sort_items(items, p, {"Name": kind.name_field, "CreationTime": "CreationTime",
                                      "Status": kind.status_field}, "CreationTime")
        return paginate(items, p, kind.summaries)

    def op_ListTrainingJobs(self, p):
        return self._list_jobs("TrainingJob", p)

    def op_ListProcessingJobs(self, p):
        return self._list_jobs("ProcessingJob", p)

    def op_ListTransformJobs(self, p):
        return self._list_jobs("TransformJob", p)
