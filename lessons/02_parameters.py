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
# # 02 · Sessions, locations and pipeline parameters
#
# You set up everything the pipeline's steps need before they exist — a session, a role, a bucket, the
# algorithm's image and the S3 paths — and you define pipeline parameters (outline Step 4.1).
#
# **What you will learn**
#
# - what a `PipelineSession` is, and why the kit's session replaces the outline's `LocalPipelineSession`;
# - why the role, bucket and region come from the session and are never typed into a notebook;
# - how to find the built-in XGBoost image for your region;
# - what pipeline parameters are, why they exist, and what `.expr` shows you.
#
# **Prerequisites:** notebook 01 (the data). **Time:** 10 minutes.
# **Cost:** nothing in either mode — this notebook starts no jobs.

# %% [markdown]
# ## Setup
#
# You import the kit first: its session sets up the SDK (quietly) before you import SDK classes.

# %%
# KERNEL CHECK

import json

import lab_helpers

# %% [markdown]
# The parameters of this notebook: the mode, and the name of the (never created) pipeline you inspect at the end.

# %% tags=["parameters"]
MODE: str = ""  # "local" | "remote" | "" for automatic (LAB_MODE, else remote in Studio, local elsewhere)
PIPELINE_NAME: str = "Lesson02Parameters"  # only built in Python here; nothing is created in SageMaker

# %% [markdown]
# ## 1. The session
#
# The outline switches between local and remote mode by editing code:
#
# ```python
# ### Local
# # from sagemaker.workflow.pipeline_context import LocalPipelineSession
# # pipeline_session = LocalPipelineSession()
# ### Remote
# pipeline_session = PipelineSession()
# ```

# %% [markdown] track="v2"
# A `PipelineSession` changes what the SDK does: under it, `estimator.fit()` or `model.create()` do not start
# anything — they *record* the request, and a pipeline step sends it later, when the pipeline runs. The SDK's
# `LocalPipelineSession` runs pipelines on your machine, but it needs Docker, AWS credentials to pull AWS's
# images and read S3, and it cannot run a `RegisterModel` step. The kit's session is instead a real
# `PipelineSession` whose AWS calls, in local mode, are answered inside your Python process, so the same code
# runs offline and in your account. You switch with the `MODE` parameter, not by editing code.

# %% [markdown] track="v3"
# A `PipelineSession` changes what the SDK does: under it, `model_trainer.train()` or `model_builder.build()` do
# not start anything — they *record* the request, and a pipeline step sends it later, when the pipeline runs.
# SDK v3's `LocalPipelineSession` (`sagemaker.mlops.local`) runs pipelines on your machine, but it needs Docker,
# AWS credentials to pull AWS's images and read S3, and it cannot run a model registration step. The kit's
# session is instead a real `PipelineSession` whose AWS calls, in local mode, are answered inside your Python
# process, so the same code runs offline and in your account. You switch with the `MODE` parameter, not by
# editing code.

# %%
sess = lab_helpers.session(MODE or None)
print(f"Mode: {lab_helpers.mode_of(sess)} · session class {type(sess).__name__}")

# %% [markdown] track="v2"
# These are the SDK classes this notebook uses.

# %% [markdown] track="v3"
# These are the SDK classes this notebook uses, from SDK v3: `sagemaker-core` holds the parameters and the
# `PipelineSession` (`sagemaker.core.workflow`), `sagemaker-mlops` the `Pipeline` (`sagemaker.mlops.workflow`).
# The outline's code is SDK v2's (`sagemaker.workflow`); the v2 track of these notebooks (`notebooks/`,
# `solutions/`) has it.

# %% track="v2"
from sagemaker import image_uris
from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession

# %% track="v3"
from sagemaker.core import image_uris
from sagemaker.core.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.mlops.workflow.pipeline import Pipeline

# %% [markdown]
# Checkpoint: in both modes the session is a `PipelineSession`, so the SDK takes the same code path.

# %% tags=["nbval-check-output"]
assert isinstance(sess, PipelineSession), "Create the session with lab_helpers.session(MODE or None)."
isinstance(sess, PipelineSession)

# %% [markdown]
# ## 2. Role and bucket come from the session
#
# The outline types them in:
#
# ```python
# role = "arn:aws:iam::<the author's account id>:role/SageMaker-ExecutionRole"
# s3_bucket = "<the author's bucket>"
# ```
#
# Both belong to the author's AWS account. In yours, that role does not exist (or cannot be passed), and the
# bucket is someone else's: bucket names are global, so you would get `AccessDenied`, or — worse — write your
# data into a stranger's bucket. (And teaching material should not publish an account id.) Instead you
# ask the session: the execution role of your Studio user (or `LAB_ROLE_ARN`), and the SDK's default bucket
# `sagemaker-<region>-<account id>`, which the SDK creates in your account if it is missing.

# %% tags=["nbval-check-output"]
role = lab_helpers.execution_role(sess)
bucket = sess.default_bucket()
region = sess.boto_region_name
print("role:  ", role)
print("bucket:", bucket)
print("region:", region)

# %% [markdown]
# ## 3. The XGBoost image for your region
#
# SageMaker's built-in XGBoost algorithm is a container image in Amazon ECR. Each region has its own copy, in
# an AWS-owned registry whose account id differs from region to region, and a job can only use an image from
# its own region. The outline asks for `region='us-east-1'`, which breaks in any other region; you ask for the
# session's region. Version `1.7-1` is the one the lesson uses, and the one the kit's local mode runs.

# %% tags=["nbval-check-output"]
xgb_image_uri = image_uris.retrieve(framework="xgboost", region=sess.boto_region_name, version="1.7-1")
print(xgb_image_uri)

# %% [markdown]
# ## 4. The S3 paths
#
# The training step reads the outline's `train.csv` and `validate.csv`, and writes the model under
# `model_path`. The kit keeps everything it writes under one prefix, `pipelines-lab/`, in your default bucket.
# `prepare_outline_data` uploads the two files if they are not there yet (notebook 01 did it once already), and
# returns their URIs.

# %%
prefix = f"s3://{bucket}/{lab_helpers.LAB_PREFIX}"
input_train_path = f"{prefix}/pipeline-dataset/train.csv"
input_validate_path = f"{prefix}/pipeline-dataset/validate.csv"
model_path = f"{prefix}/pipeline-model/"

split_uris = lab_helpers.pipelines.prepare_outline_data(sess)
print(json.dumps(split_uris, indent=1))

# %% [markdown]
# Checkpoint: your paths are exactly where the data is.

# %%
assert split_uris == {"train": input_train_path, "validation": input_validate_path}, (
    f"The paths differ from where the data is: {split_uris}"
)
print("Paths OK")

# %% [markdown]
# ## 5. Pipeline parameters
#
# A pipeline is a definition stored in SageMaker; each *execution* runs it. Some values should change from one
# execution to the next without editing the definition: the instance type to train on, an approval status, the
# MSE a model must reach. Those become **pipeline parameters**: typed (`ParameterString`, `ParameterInteger`,
# `ParameterFloat`, `ParameterBoolean`), named, and with a default. You pass one to a step wherever you would pass
# a literal value, and you override it when you start an execution: `pipeline.start(parameters={"MseThreshold": 5.0})`.

# %%
training_instance_type = ParameterString(name="TrainingInstanceType", default_value="ml.m5.xlarge")
processing_instance_count = ParameterInteger(name="ProcessingInstanceCount", default_value=1)
mse_threshold = ParameterFloat(name="MseThreshold", default_value=6.0)
training_instance_type

# %% [markdown]
# A parameter has no value while you build the pipeline: the value exists only when an execution runs. What
# the SDK writes into the definition is a *reference*, which `.expr` shows you.

# %% tags=["nbval-check-output"]
print(training_instance_type.expr)
print(mse_threshold.expr)

# %% [markdown]
# That is also why you cannot format a parameter into a string in Python: there is no value yet. The SDK says
# so (and tells you to use `.to_string()` or `Join`, which are evaluated at run time).

# %%
try:
    f"s3://{bucket}/{training_instance_type}"
except TypeError as error:
    print("TypeError:", error)

# %% [markdown]
# **Exercise.** Define a string parameter `model_approval_status` named `"ModelApprovalStatus"` whose default is
# `"PendingManualApproval"`. (The registration step uses it later: a new model version then waits for a
# person to approve it, unless an execution passes `"Approved"`.)

# %%
# EXERCISE: Define model_approval_status: a ParameterString 'ModelApprovalStatus', default 'PendingManualApproval'.
model_approval_status = ParameterString(name="ModelApprovalStatus", default_value="PendingManualApproval")
# END EXERCISE
model_approval_status.expr

# %% [markdown]
# Checkpoint: the parameter has the right type, name and default.

# %% tags=["nbval-check-output"]
assert isinstance(model_approval_status, ParameterString), "Use ParameterString: the status is a string."
assert model_approval_status.name == "ModelApprovalStatus", "Name the parameter exactly ModelApprovalStatus."
assert model_approval_status.default_value == "PendingManualApproval", "The default is PendingManualApproval."
print("ModelApprovalStatus OK")

# %% [markdown]
# ## 6. Parameters in a pipeline definition
#
# A pipeline declares its parameters in its definition, the JSON document SageMaker stores. You build a pipeline
# with no steps yet, only to see that part of the definition. Building it creates nothing in SageMaker:
# only `pipeline.upsert()` would.

# %% tags=["nbval-check-output"]
pipeline = Pipeline(
    name=PIPELINE_NAME,
    parameters=[training_instance_type, processing_instance_count, mse_threshold, model_approval_status],
    steps=[],
    sagemaker_session=sess,
)
print(json.dumps(json.loads(pipeline.definition())["Parameters"], indent=1))

# %% [markdown]
# ## Clean up
#
# Nothing to clean up: this notebook built objects in Python only. The data `prepare_outline_data` checked stays
# in S3 for the next notebooks.
#
# ## Summary
#
# - The session is a `PipelineSession` in both modes; under it, SDK calls record requests for pipeline steps.
# - Role, bucket and region come from the session; the XGBoost image comes from `image_uris.retrieve` for the
#   session's region.
# - Pipeline parameters are typed, named placeholders with defaults; `.expr` shows the reference
#   (`{"Get": "Parameters.<name>"}`) the definition holds, and an execution supplies the value.
#
# **Next:** [03 · The training step](03_training_step.ipynb) — you turn an XGBoost estimator into a pipeline step
# and run it.
