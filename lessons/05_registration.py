# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Registering the model
#
# A pipeline that trains a model should also file it: the **model registry** keeps every model version
# with its artifacts, its metrics and an approval status that decides whether it may be deployed.
#
# **What you will learn**
#
# - the outline's `RegisterModel` step collection (outline Step 4.4), and the form the SDK recommends today,
#   `ModelStep(step_args=model.register(...))`;
# - approval status as a literal or as a pipeline parameter, and why production pipelines register models
#   as `PendingManualApproval`;
# - how `ModelMetrics` attaches an evaluation report to a model version;
# - how to read the registry (`list_model_packages`, `describe_model_package`) and approve or reject a
#   version (`update_model_package`).
#
# **Prerequisites:** notebooks 03 (the training step) and 04 (the model step). **Time:** about 20 minutes.
# **Cost:** local mode is free. Remote mode runs one training job on ml.m5.xlarge (3–5 minutes, about $0.01);
# the model registry itself costs nothing.

# %% [markdown] track="v3"
# **SDK v3.** This notebook is written with SageMaker Python SDK v3, the SDK in SageMaker Studio's images. v3 has
# neither the `RegisterModel` step collection nor the `Model` class: you describe the model with `ModelBuilder`
# (`sagemaker.serve`), and a registration is `ModelStep(step_args=ModelBuilder(...).register(...))` — the form
# sections 2 and 5 use. The v2 track (`notebooks/05_registration.ipynb`) has the outline's own code.

# %% [markdown]
# ## Setup
#
# You import the kit first. It picks the mode and hands you a session, a role and a bucket, so nothing in
# this notebook names an account.

# %%
# KERNEL CHECK

import json

from botocore.exceptions import WaiterError

import lab_helpers

# %% [markdown]
# The next cell holds the notebook's parameters (papermill can override them). Leave `MODE` empty to let
# the kit decide: remote in SageMaker Studio, local (offline) elsewhere, or whatever `LAB_MODE` says.

# %% tags=["parameters"]
MODE: str = ""  # "local" | "remote" | "" for automatic (LAB_MODE, else remote in Studio, local elsewhere)

# %% [markdown]
# Open a session in that mode and look up the execution role and the default bucket.

# %%
sess = lab_helpers.session(MODE or None)
role = lab_helpers.execution_role(sess)
bucket = sess.default_bucket()
region = sess.boto_region_name
print(f"Mode: {lab_helpers.mode_of(sess)} · region {region} · bucket {bucket}")

# %% [markdown]
# These are the SDK classes this notebook uses.

# %% track="v2"
from sagemaker import image_uris
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.model import Model
from sagemaker.model_metrics import MetricsSource, ModelMetrics
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.step_collections import RegisterModel
from sagemaker.workflow.steps import TrainingStep

# %% track="v3"
from sagemaker.core import image_uris
from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig
from sagemaker.core.workflow.parameters import ParameterString
from sagemaker.mlops.workflow.model_step import ModelStep
from sagemaker.mlops.workflow.pipeline import Pipeline
from sagemaker.mlops.workflow.steps import TrainingStep
from sagemaker.serve.model_builder import ModelBuilder
from sagemaker.train.model_trainer import ModelTrainer

# %% [markdown]
# ## 1. The training step you register
#
# A registration step registers the model a training step produced, so you rebuild notebook 03's training
# step first. `prepare_outline_data` puts the outline's `train.csv` and `validate.csv` in your bucket (it
# uploads them only once).

# %%
data = lab_helpers.pipelines.prepare_outline_data(sess)
xgb_image_uri = image_uris.retrieve(framework="xgboost", region=region, version="1.7-1")
model_path = f"s3://{bucket}/{lab_helpers.LAB_PREFIX}/pipeline-model/"
print("train:     ", data["train"])
print("validation:", data["validation"])
print("image:     ", xgb_image_uri)

# %% [markdown] track="v2"
# The estimator and the `TrainingStep` are the outline's, in the `step_args` form of notebook 03. Inside a
# `PipelineSession`, `fit()` starts nothing: it returns the request the step sends when the pipeline runs.

# %% [markdown] track="v3"
# The trainer and the `TrainingStep` are notebook 03's: v3's `ModelTrainer` in place of the outline's `Estimator`.
# Inside a `PipelineSession`, `train()` starts nothing: it returns the request the step sends when the pipeline runs.

# %% track="v2"
xgb_train = Estimator(
    image_uri=xgb_image_uri,
    instance_type="ml.m5.xlarge",
    instance_count=1,
    output_path=model_path,
    role=role,
    sagemaker_session=sess,
)
xgb_train.set_hyperparameters(objective="reg:squarederror", num_round=50, max_depth=5, eta=0.2, subsample=0.7)
step_train = TrainingStep(
    name="Train",
    step_args=xgb_train.fit(inputs={
        "train": TrainingInput(s3_data=data["train"], content_type="text/csv"),
        "validation": TrainingInput(s3_data=data["validation"], content_type="text/csv"),
    }),
)

# %% track="v3"
xgb_train = ModelTrainer(
    training_image=xgb_image_uri,
    compute=Compute(instance_type="ml.m5.xlarge", instance_count=1),
    output_data_config=OutputDataConfig(s3_output_path=model_path),
    hyperparameters=dict(objective="reg:squarederror", num_round=50, max_depth=5, eta=0.2, subsample=0.7),
    role=role,
    sagemaker_session=sess,
)
step_train = TrainingStep(
    name="Train",
    step_args=xgb_train.train(input_data_config=[
        InputData(channel_name="train", data_source=data["train"], content_type="text/csv"),
        InputData(channel_name="validation", data_source=data["validation"], content_type="text/csv"),
    ]),
)

# %% [markdown] track="v2"
# ## 2. The outline's `RegisterModel` step
#
# `RegisterModel` takes the estimator (for its image), the model artifact the training step will write,
# what the model accepts and returns, the instance types it may be deployed on, the **model package group**
# (one group per problem; each registration adds a numbered version) and the approval status.
#
# The outline declares `response_types=["application/json"]`; the XGBoost container can answer in JSON, but
# you declare `text/csv` here, the format the pipeline's batch transform (notebook 06) receives.

# %% [markdown] track="v3"
# ## 2. The outline's registration step
#
# The outline registers with `RegisterModel`; in v3 you describe the model with `ModelBuilder` — its image, the
# model artifact the training step will write, the role — and its `register(...)` takes the rest: what the model
# accepts and returns, the instance types it may be deployed on, the **model package group** (one group per
# problem; each registration adds a numbered version) and the approval status. Like `train()`, `register()` only
# returns the request here, and `ModelStep` turns it into a pipeline step.
#
# The outline declares `response_types=["application/json"]`; the XGBoost container can answer in JSON, but
# you declare `text/csv` here, the format the pipeline's batch transform (notebook 06) receives.

# %% track="v2"
group_name = "PipelineModelPackageGroup"
step_register = RegisterModel(
    name="RegisterModel",
    estimator=xgb_train,
    model_data=step_train.properties.ModelArtifacts.S3ModelArtifacts,
    content_types=["text/csv"],
    response_types=["text/csv"],
    inference_instances=["ml.m5.xlarge"],
    transform_instances=["ml.m5.xlarge"],
    model_package_group_name=group_name,
    approval_status="Approved",
)

# %% track="v3"
group_name = "PipelineModelPackageGroup"
step_register = ModelStep(
    name="RegisterModel",
    step_args=ModelBuilder(
        image_uri=xgb_image_uri,
        s3_model_data_url=step_train.properties.ModelArtifacts.S3ModelArtifacts,
        role_arn=role,
        sagemaker_session=sess,
    ).register(
        content_types=["text/csv"],
        response_types=["text/csv"],
        inference_instances=["ml.m5.xlarge"],
        transform_instances=["ml.m5.xlarge"],
        model_package_group_name=group_name,
        approval_status="Approved",
    ),
)

# %% [markdown] track="v2"
# `RegisterModel` is a **step collection**: it expands into one or more real steps when the pipeline is
# built. Here it is a single step named `RegisterModel-RegisterModel`; that is the name you see in Studio's
# graph and in the step list of an execution.

# %% tags=["nbval-check-output"] track="v2"
for step in step_register.steps:
    print(f"{step.name:30} {type(step).__name__}")

# %% [markdown] track="v3"
# In v3 the `ModelStep` is the pipeline step itself, named as you named it: `RegisterModel`, of type `RegisterModel`
# (v2's step collection adds a suffix, `RegisterModel-RegisterModel`). That is the name you see in Studio's graph
# and in the step list of an execution.

# %% tags=["nbval-check-output"] track="v3"
print(f"{step_register.name:30} {step_register.step_type.value}")

# %% [markdown]
# `model_data` is not a string yet: it is a *property* of the training step, a placeholder SageMaker fills
# in at run time. Referring to it is also what makes registration wait for training.

# %% tags=["nbval-check-output"]
print(type(step_train.properties.ModelArtifacts.S3ModelArtifacts).__name__)
print(step_train.properties.ModelArtifacts.S3ModelArtifacts.expr)

# %% [markdown]
# ## 3. Approval status: a literal or a parameter
#
# The outline registers every model as `"Approved"`: whatever the pipeline trains may go to production at
# once. That suits a demo. In production you want a person (or a test suite) to look at a new version
# first, so the pipeline registers it as `"PendingManualApproval"` and a reviewer approves or rejects it
# in the registry.
#
# A `ParameterString` makes that choice per execution: the default is the safe value, and a run can
# override it (`pipeline.start(parameters={"ModelApprovalStatus": "Approved"})`) without editing the
# pipeline.

# %%
model_approval_status = ParameterString(name="ModelApprovalStatus", default_value="PendingManualApproval")
print(model_approval_status.name, "defaults to", model_approval_status.default_value)

# %% [markdown]
# ## 4. Metrics that travel with the model
#
# A model version is easier to judge with its test metrics next to it. `ModelMetrics` points at a JSON
# report in S3; the registry stores the pointer, and Studio shows the report on the version's page.
# In notebook 06 an evaluation step writes this report; here you point at where it goes.

# %%
evaluation_report_uri = f"s3://{bucket}/{lab_helpers.LAB_PREFIX}/evaluation/evaluation.json"
model_metrics = ModelMetrics(
    model_statistics=MetricsSource(s3_uri=evaluation_report_uri, content_type="application/json")
)
print("Model statistics report:", evaluation_report_uri)

# %% [markdown] track="v2"
# ## 5. The current form: `ModelStep(step_args=model.register(...))`
#
# The SDK deprecates `RegisterModel` in favour of `ModelStep`. You describe the model once with `Model`
# (image, artifact, role) and ask it to `register(...)`: like `fit()`, inside a `PipelineSession` this only
# returns the request, and `ModelStep` turns it into a pipeline step.

# %% [markdown] track="v3"
# ## 5. A registration with the parameter and the metrics
#
# The outline's registration has a fixed status and no metrics. Now you write one with both: you describe the
# model once with `ModelBuilder` and keep it in `model`, then ask it to `register(...)`.

# %% track="v2"
model = Model(
    image_uri=xgb_image_uri,
    model_data=step_train.properties.ModelArtifacts.S3ModelArtifacts,
    role=role,
    sagemaker_session=sess,
)

# %% track="v3"
model = ModelBuilder(
    image_uri=xgb_image_uri,
    s3_model_data_url=step_train.properties.ModelArtifacts.S3ModelArtifacts,
    role_arn=role,
    sagemaker_session=sess,
)

# %% [markdown] track="v2"
# Now write the registration: the same arguments as `RegisterModel` above (without `estimator` and
# `model_data`, which `model` already holds), plus `approval_status=model_approval_status` and
# `model_metrics=model_metrics`.

# %% [markdown] track="v3"
# Now write the registration: the same `register(...)` arguments as in section 2, with
# `approval_status=model_approval_status` in place of `"Approved"`, plus `model_metrics=model_metrics`.

# %%
# EXERCISE: Set register_args = model.register(...): section 2's registration arguments + approval_status, model_metrics.
register_args = model.register(
    content_types=["text/csv"],
    response_types=["text/csv"],
    inference_instances=["ml.m5.xlarge"],
    transform_instances=["ml.m5.xlarge"],
    model_package_group_name=group_name,
    approval_status=model_approval_status,
    model_metrics=model_metrics,
)
# END EXERCISE
step_register_metrics = ModelStep(name="RegisterWithMetrics", step_args=register_args)

# %% [markdown] track="v2"
# Checkpoint: the step exists and expands into a registration step.

# %% tags=["nbval-check-output"] track="v2"
names = [step.name for step in step_register_metrics.steps]
assert isinstance(step_register_metrics, ModelStep), "Make step_register_metrics a ModelStep(name=..., step_args=register_args)."
assert names == ["RegisterWithMetrics-RegisterModel"], f"Got {names}: pass the result of model.register(...) as step_args."
print("Checkpoint passed:", names)

# %% [markdown] track="v3"
# Checkpoint: the step exists and is a registration step.

# %% tags=["nbval-check-output"] track="v3"
assert isinstance(step_register_metrics, ModelStep), "Make step_register_metrics a ModelStep(name=..., step_args=register_args)."
kind = step_register_metrics.step_type.value
assert kind == "RegisterModel", f"Got a {kind} step: pass the result of model.register(...) as step_args."
print("Checkpoint passed:", step_register_metrics.name, kind)

# %% [markdown]
# ## 6. What SageMaker receives
#
# A pipeline is sent to SageMaker as a JSON **definition**. You can build that JSON without creating
# anything: put the steps in a `Pipeline` and call `definition()`. Then look at the registration step's
# arguments.

# %%
preview = Pipeline(
    name="RegistrationPreview",
    parameters=[model_approval_status],
    steps=[step_train, step_register_metrics],
    sagemaker_session=sess,
)
definition = json.loads(preview.definition())
register_def = next(s for s in definition["Steps"] if s["Type"] == "RegisterModel")
print("step:", register_def["Name"])
for key in ("ModelPackageGroupName", "ModelApprovalStatus", "ModelMetrics"):
    print(f"{key}: {json.dumps(register_def['Arguments'].get(key))}")

# %% [markdown]
# The approval status is not a value but a reference, `{"Get": "Parameters.ModelApprovalStatus"}`:
# SageMaker resolves it when an execution starts. The model artifact is a reference to the training
# step's output in the same way.

# %%
container = register_def["Arguments"]["InferenceSpecification"]["Containers"][0]
print("ModelDataUrl:", json.dumps(container["ModelDataUrl"]))
assert register_def["Arguments"]["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}, (
    "The approval status should come from the pipeline parameter: pass approval_status=model_approval_status."
)
assert "ModelMetrics" in register_def["Arguments"], "Pass model_metrics=model_metrics to model.register(...)."

# %% [markdown]
# ## 7. The model registry
#
# To see versions in the registry you need a pipeline that registered some. The kit's `outline_pipeline`
# is the outline's pipeline (Train → AbaloneCreateModel → RegisterModel, `approval_status="Approved"`),
# built from exactly the pieces above. You create (or update) it and run it; notebook 06 takes these
# calls apart. In remote mode this takes about 5 minutes.

# %%
outline = lab_helpers.pipelines.outline_pipeline(sess)
outline.upsert(role_arn=role)
execution = outline.start()
try:
    execution.wait()
except WaiterError:  # the execution failed: show each failed step's exact reason and the end of its log
    lab_helpers.monitor.explain(execution)
print("Execution status:", execution.describe()["PipelineExecutionStatus"])

# %% [markdown]
# Every successful run adds a version to the group. You list them newest first with the plain SageMaker
# API, `list_model_packages`.

# %%
response = sess.sagemaker_client.list_model_packages(
    ModelPackageGroupName=group_name, SortBy="CreationTime", SortOrder="Descending"
)
packages = response["ModelPackageSummaryList"]
for package in packages:
    print(f"version {package['ModelPackageVersion']:>3}  {package['ModelApprovalStatus']:22} "
          f"{package['CreationTime']:%Y-%m-%d %H:%M}")

# %% [markdown]
# Checkpoint: the run you just made registered a version.

# %% tags=["needs-aws"]
assert packages, f"No model package in {group_name}: check that the execution above Succeeded."
latest_arn = packages[0]["ModelPackageArn"]
print("Latest version:", latest_arn)

# %% [markdown]
# `describe_model_package` shows what a version holds: the image and the model artifact a deployment would
# use, the content types and instance types you declared, and the approval status.

# %% tags=["needs-aws"]
described = sess.sagemaker_client.describe_model_package(ModelPackageName=latest_arn)
spec = described["InferenceSpecification"]
print("Image:         ", spec["Containers"][0]["Image"])
print("Model artifact:", spec["Containers"][0]["ModelDataUrl"])
print("Content types: ", spec["SupportedContentTypes"], "->", spec["SupportedResponseMIMETypes"])
print("Instances:     ", spec["SupportedRealtimeInferenceInstanceTypes"])
print("Approval:      ", described["ModelApprovalStatus"])

# %% [markdown]
# ## 8. Approving and rejecting a version
#
# Approval is one call, `update_model_package`, with a description that records why. Say a reviewer finds
# that this version has no evaluation report attached (the outline's pipeline has no evaluation step) and
# rejects it. In a production setup each change of status is also an event (EventBridge: "SageMaker Model
# Package State Change") that can start or stop a deployment.

# %% tags=["needs-aws"]
sess.sagemaker_client.update_model_package(
    ModelPackageArn=latest_arn,
    ModelApprovalStatus="Rejected",
    ApprovalDescription="Rejected in notebook 05: no evaluation report attached.",
)
described = sess.sagemaker_client.describe_model_package(ModelPackageName=latest_arn)
print(described["ModelApprovalStatus"], "·", described["ApprovalDescription"])

# %% [markdown]
# ## 9. Exercise: filter the registry by status
#
# A reviewer wants the rejected versions, a deployment only the approved ones. `list_model_packages` filters
# by status itself: pass `ModelApprovalStatus="Rejected"` together with the group name, and keep the
# summary list.

# %%
# EXERCISE: Set rejected to list_model_packages(...)["ModelPackageSummaryList"], filtered by ModelApprovalStatus.
rejected = sess.sagemaker_client.list_model_packages(
    ModelPackageGroupName=group_name,
    ModelApprovalStatus="Rejected",
    SortBy="CreationTime",
    SortOrder="Descending",
)["ModelPackageSummaryList"]
# END EXERCISE
for package in rejected:
    print(f"version {package['ModelPackageVersion']:>3}  {package['ModelApprovalStatus']}")

# %% [markdown]
# Checkpoint: every version in the list is rejected, and the one you rejected is in it.

# %% tags=["needs-aws"]
assert rejected and all(p["ModelApprovalStatus"] == "Rejected" for p in rejected), (
    "Filter with ModelApprovalStatus='Rejected' in the list_model_packages call."
)
assert latest_arn in [p["ModelPackageArn"] for p in rejected], "The version you rejected in section 8 is missing."
print(f"Checkpoint passed: {len(rejected)} rejected version(s).")

# %% [markdown]
# Say the reviewer looks again and accepts the version after all. Approve it again, so the newest version is
# the deployable one.

# %% tags=["needs-aws"]
sess.sagemaker_client.update_model_package(
    ModelPackageArn=latest_arn,
    ModelApprovalStatus="Approved",
    ApprovalDescription="Approved in notebook 05 after review.",
)
approved = sess.sagemaker_client.list_model_packages(
    ModelPackageGroupName=group_name, ModelApprovalStatus="Approved", SortBy="CreationTime", SortOrder="Descending"
)["ModelPackageSummaryList"]
print("Approved versions:", [p["ModelPackageVersion"] for p in approved])
assert approved[0]["ModelPackageArn"] == latest_arn, "The newest approved version should be the one you just approved."

# %% [markdown]
# ## Clean up
#
# Nothing is running now: a pipeline execution's jobs stop when they finish, and the registry, the pipeline
# and the model (`AbaloneCreateModel`) cost nothing while idle. The model artifacts stay in S3 (well under
# 1 MB, a fraction of a cent per month). Notebook 09 lists and deletes everything the kit created.

# %% [markdown]
# ## Summary
#
# - `RegisterModel` (outline) and `ModelStep(step_args=model.register(...))` (current SDK) both add a
#   version to a **model package group**.
# - Make the approval status a `ParameterString` defaulting to `PendingManualApproval`; approve with
#   `update_model_package` after review.
# - `ModelMetrics` attaches an evaluation report to the version.
# - `list_model_packages` (filter with `ModelApprovalStatus`) and `describe_model_package` read the registry.
#
# **Next:** [06 · Assembling and running the pipeline](06_pipeline.ipynb) — you assemble the outline's pipeline,
# run it, and then run the full abalone pipeline with its evaluation step and condition.
