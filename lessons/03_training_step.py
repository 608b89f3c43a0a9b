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

# %% [markdown] track="v2"
# # 03 · The training step
#
# You turn SageMaker's built-in XGBoost algorithm into a pipeline step, and run a one-step pipeline that trains
# a model (outline Step 4.2).
#
# **What you will learn**
#
# - how to configure an `Estimator` with the XGBoost image and its hyperparameters;
# - why `fit()` starts no job under a `PipelineSession`, and what it returns instead;
# - how a `TrainingStep` wraps that request, and what `step.properties` are;
# - how to create, run and inspect a pipeline, and delete it again.
#
# **Prerequisites:** notebook 02 (sessions and parameters). **Time:** 15 minutes.
# **Cost:** local mode is free. Remote mode runs one training job on ml.m5.xlarge: 3–5 minutes, about $0.01.

# %% [markdown] track="v3"
# # 03 · The training step
#
# You turn SageMaker's built-in XGBoost algorithm into a pipeline step, and run a one-step pipeline that trains
# a model (outline Step 4.2).
#
# **What you will learn**
#
# - how to configure a `ModelTrainer` (SDK v3's successor of the outline's `Estimator`) with the XGBoost image and
#   its hyperparameters;
# - why `train()` starts no job under a `PipelineSession`, and what it returns instead;
# - how a `TrainingStep` wraps that request, and what `step.properties` are;
# - how to create, run and inspect a pipeline, and delete it again.
#
# **Prerequisites:** notebook 02 (sessions and parameters). **Time:** 15 minutes.
# **Cost:** local mode is free. Remote mode runs one training job on ml.m5.xlarge: 3–5 minutes, about $0.01.

# %% [markdown]
# ## Setup
#
# You import the kit and open a session; role, bucket and region come from it.

# %%
# KERNEL CHECK

import json

from botocore.exceptions import WaiterError

import lab_helpers

# %% [markdown]
# The parameters: the mode, and the name of the pipeline this notebook creates (and deletes at the end).

# %% tags=["parameters"]
MODE: str = ""  # "local" | "remote" | "" for automatic (LAB_MODE, else remote in Studio, local elsewhere)
PIPELINE_NAME: str = "Lesson03TrainOnly"  # the pipeline this notebook creates, runs and deletes

# %% [markdown]
# You open the session, as in every notebook.

# %%
sess = lab_helpers.session(MODE or None)
role = lab_helpers.execution_role(sess)
bucket = sess.default_bucket()
region = sess.boto_region_name
print(f"Mode: {lab_helpers.mode_of(sess)} · region {region} · bucket {bucket}")

# %% [markdown] track="v2"
# These are the SDK classes this notebook uses.

# %% [markdown] track="v3"
# These are the SDK classes this notebook uses, from SDK v3: `ModelTrainer` (`sagemaker.train`) replaces v2's
# `Estimator`, `InputData` (`sagemaker.core.training.configs`) v2's `TrainingInput`, and the pipeline classes are
# in `sagemaker.mlops.workflow`. The outline's code is SDK v2's; the v2 track of these notebooks (`notebooks/`,
# `solutions/`) has it.

# %% track="v2"
from sagemaker import image_uris
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.steps import TrainingStep

# %% track="v3"
from sagemaker.core import image_uris
from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig
from sagemaker.mlops.workflow.pipeline import Pipeline
from sagemaker.mlops.workflow.steps import TrainingStep
from sagemaker.train.model_trainer import ModelTrainer

# %% [markdown]
# This notebook runs on its own, so it re-creates what notebook 02 set up: the image for your region, the
# training data in S3 (uploaded only if missing), and where the model goes. The model path is under this
# notebook's pipeline name, so the clean-up section can remove exactly what this notebook wrote.

# %%
xgb_image_uri = image_uris.retrieve(framework="xgboost", region=region, version="1.7-1")
split_uris = lab_helpers.pipelines.prepare_outline_data(sess)
input_train_path, input_validate_path = split_uris["train"], split_uris["validation"]
model_path = f"s3://{bucket}/{lab_helpers.LAB_PREFIX}/{PIPELINE_NAME}/models/"
print("image:", xgb_image_uri)
print("train:", input_train_path)
print("model:", model_path)

# %% [markdown] track="v2"
# ## 1. The estimator
#
# An `Estimator` describes a training job: which image runs, on what instances, as which role, and where the
# model goes. The built-in XGBoost algorithm needs no training script: the image contains it.

# %% [markdown] track="v3"
# ## 1. The model trainer
#
# A `ModelTrainer` describes a training job: which image runs (`training_image`), on what instances (`compute`),
# as which role, and where the model goes (`output_data_config`). The built-in XGBoost algorithm needs no training
# script: the image contains it.

# %% track="v2"
xgb_train = Estimator(
    image_uri=xgb_image_uri,
    instance_type="ml.m5.xlarge",
    instance_count=1,
    output_path=model_path,
    role=role,
    sagemaker_session=sess,
)

# %% track="v3"
xgb_train = ModelTrainer(
    training_image=xgb_image_uri,
    compute=Compute(instance_type="ml.m5.xlarge", instance_count=1),
    output_data_config=OutputDataConfig(s3_output_path=model_path),
    role=role,
    sagemaker_session=sess,
)

# %% [markdown]
# ### Hyperparameters
#
# The algorithm reads its settings from hyperparameters. The lesson uses AWS's abalone values:
#
# | hyperparameter | value | meaning |
# |---|---|---|
# | `objective` | `reg:squarederror` | regression, minimising squared error (the old name `reg:linear` is deprecated) |
# | `num_round` | 50 | boosting rounds: the number of trees |
# | `max_depth` | 5 | how deep each tree may grow |
# | `eta` | 0.2 | learning rate: how much each tree corrects the ones before |
# | `subsample` | 0.7 | share of the training rows each tree sees |

# %% [markdown] track="v2"
# **Exercise.** Set these five hyperparameters on `xgb_train` with `set_hyperparameters`.

# %% [markdown] track="v3"
# **Exercise.** Set these five hyperparameters on `xgb_train`: a `ModelTrainer` keeps them in its attribute
# `hyperparameters`, a dict (you could also have passed `hyperparameters={...}` to `ModelTrainer(...)`).

# %% track="v2"
# EXERCISE: Call xgb_train.set_hyperparameters(...) with the five values from the table.
xgb_train.set_hyperparameters(
    objective="reg:squarederror",
    num_round=50,
    max_depth=5,
    eta=0.2,
    subsample=0.7,
)
# END EXERCISE
xgb_train.hyperparameters()

# %% track="v3"
# EXERCISE: Assign xgb_train.hyperparameters = {...}: a dict with the five values from the table.
xgb_train.hyperparameters = {
    "objective": "reg:squarederror",
    "num_round": 50,
    "max_depth": 5,
    "eta": 0.2,
    "subsample": 0.7,
}
# END EXERCISE
xgb_train.hyperparameters

# %% [markdown]
# Checkpoint: the hyperparameters match the table. SageMaker sends every hyperparameter to the job as a string,
# so `num_round="50"` is as right as `num_round=50`; the check compares the values as SageMaker sends them.

# %% track="v2"
got = xgb_train.hyperparameters()

# %% track="v3"
got = xgb_train.hyperparameters
assert isinstance(got, dict), f"xgb_train.hyperparameters is {got!r}: assign a dict with the five values."

# %%
expected = {"objective": "reg:squarederror", "num_round": 50, "max_depth": 5, "eta": 0.2, "subsample": 0.7}
assert got.get("objective") != "reg:linear", "reg:linear is deprecated: use objective='reg:squarederror'."
missing = sorted(set(expected) - set(got))
assert not missing, f"Missing hyperparameters {missing}: set all five from the table."
extra = sorted(set(got) - set(expected))
assert not extra, f"Unexpected hyperparameters {extra}: set only the five from the table (check the spelling)."
wrong = {k: got[k] for k in expected if str(got[k]).strip() != str(expected[k])}
assert not wrong, f"These values differ from the table: {wrong}; expected {({k: expected[k] for k in wrong})}."
print("Hyperparameters OK")

# %% [markdown] track="v2"
# ## 2. `fit()` under a PipelineSession
#
# The training job needs two input *channels*: `train` and `validation`. A `TrainingInput` names the S3 data of
# one channel and its content type; XGBoost needs `text/csv` to read CSV (label first, no header).
#
# Under a `PipelineSession`, `fit()` starts no job: it returns the job's arguments, to be sent when a pipeline runs
# the step. (In remote mode the SDK says so in a warning: "there will be No Wait, No Logs, and No Job being started".)

# %% [markdown] track="v3"
# ## 2. `train()` under a PipelineSession
#
# The training job needs two input *channels*: `train` and `validation`. An `InputData` names one channel, its S3
# data and its content type; XGBoost needs `text/csv` to read CSV (label first, no header).
#
# Under a `PipelineSession`, `train()` starts no job: it returns the job's arguments, to be sent when a pipeline runs
# the step. (In remote mode the SDK says so in a warning: "there will be No Wait, No Logs, and No Job being started".)

# %% track="v2"
train_args = xgb_train.fit(
    inputs={
        "train": TrainingInput(s3_data=input_train_path, content_type="text/csv"),
        "validation": TrainingInput(s3_data=input_validate_path, content_type="text/csv"),
    }
)
type(train_args).__name__

# %% track="v3"
train_args = xgb_train.train(
    input_data_config=[
        InputData(channel_name="train", data_source=input_train_path, content_type="text/csv"),
        InputData(channel_name="validation", data_source=input_validate_path, content_type="text/csv"),
    ]
)
type(train_args).__name__

# %% [markdown] track="v2"
# ## 3. The TrainingStep
#
# The outline passes the estimator to the step (`TrainingStep(estimator=..., inputs=...)`); current SDK versions
# deprecate that form. You pass what `fit()` returned, as `step_args`.
#
# **Exercise.** Create `step_train`, a `TrainingStep` named `"Train"` with `step_args=train_args`.

# %% [markdown] track="v3"
# ## 3. The TrainingStep
#
# The outline passes the estimator to the step (`TrainingStep(estimator=..., inputs=...)`); in SDK v3 a
# `TrainingStep` takes only `step_args`: what `train()` returned.
#
# **Exercise.** Create `step_train`, a `TrainingStep` named `"Train"` with `step_args=train_args`.

# %%
# EXERCISE: Create step_train = TrainingStep(...) named 'Train', with step_args=train_args.
step_train = TrainingStep(name="Train", step_args=train_args)
# END EXERCISE
step_train.name

# %% [markdown]
# The step's `arguments` are the request the pipeline sends when it runs the step: a `CreateTrainingJob` call.
# (The job name is missing: the pipeline makes one for each execution.) Note the hyperparameters: the API takes
# them as strings.

# %%
request = step_train.arguments
print(json.dumps({key: request[key] for key in ("AlgorithmSpecification", "HyperParameters")}, indent=1))
print("channels:", [(c["ChannelName"], c["ContentType"]) for c in request["InputDataConfig"]])

# %% [markdown]
# Checkpoint: the step is named `Train`, sends the hyperparameters as strings, and reads two CSV channels.

# %%
assert step_train.name == "Train", f"The step is named {step_train.name!r}: name it 'Train'."
hyperparameters = request["HyperParameters"]
assert hyperparameters["num_round"] == "50", f"num_round is {hyperparameters['num_round']!r} in the request; set 50."
assert all(isinstance(v, str) for v in hyperparameters.values()), "The request must carry hyperparameters as strings."
channels = {c["ChannelName"]: c["ContentType"] for c in request["InputDataConfig"]}
assert channels == {"train": "text/csv", "validation": "text/csv"}, f"Channels {channels}: want train, validation."
print("TrainingStep OK")

# %% [markdown]
# ## 4. Step properties are placeholders
#
# The model artifact's S3 URI is known only after the job ran, but the next step (creating a model) needs it
# now, while you build the pipeline. `step_train.properties` mirrors the `DescribeTrainingJob` response; each
# attribute is a placeholder, and `.expr` shows the reference the pipeline definition holds. SageMaker fills it in
# at run time — and it also tells SageMaker that a step using it must wait for `Train`.

# %% tags=["nbval-check-output"]
step_train.properties.ModelArtifacts.S3ModelArtifacts.expr

# %% [markdown]
# ## 5. Run a one-step pipeline
#
# A pipeline is a name plus its steps. `upsert()` creates it in SageMaker, or updates it if it exists, so running
# this notebook again is safe. The role is the one SageMaker Pipelines assumes to start the pipeline's jobs.

# %%
pipeline = Pipeline(name=PIPELINE_NAME, steps=[step_train], sagemaker_session=sess)
response = pipeline.upsert(role_arn=role)
print(response["PipelineArn"])

# %% [markdown]
# `start()` starts an execution and returns at once; `wait()` waits for it to end. In remote mode the job takes
# 3–5 minutes, most of it starting an instance. In local mode the execution runs in a background process of the
# kit, as SageMaker runs it in the cloud, and takes seconds. The job's log goes to CloudWatch Logs (offline: the
# kit's copy of it); `lab_helpers.monitor.show_logs(sess, execution.arn, "Train")` prints its last lines
# (`full=True`: all of it) — each line `[n] train-rmse … validation-rmse …` is one boosting round (`#011` is a
# tab, as CloudWatch shows it). If the execution fails, `wait()` raises `WaiterError`; the cell catches it and
# `lab_helpers.monitor.explain(execution)` prints each failed step's exact reason and the end of its log.

# %%
execution = pipeline.start()
try:
    execution.wait(delay=30, max_attempts=60)
except WaiterError:  # the execution failed: show each failed step's exact reason and the end of its log
    lab_helpers.monitor.explain(execution)
print("status:", execution.describe()["PipelineExecutionStatus"])

# %% [markdown]
# The kit's `monitor` helpers read the execution's steps through the same API in both modes and print them as a table.

# %%
rows = lab_helpers.monitor.step_rows(sess, execution.arn)
print(lab_helpers.monitor.format_table(rows))

# %% [markdown]
# ## 6. The trained model
#
# The step's metadata names its training job. `DescribeTrainingJob` gives the model artifact (a `model.tar.gz`
# under `model_path`) and the final metrics the algorithm reported.

# %% tags=["needs-aws"]
job_name = rows[0]["metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[-1]
job = sess.sagemaker_client.describe_training_job(TrainingJobName=job_name)
model_artifact = job["ModelArtifacts"]["S3ModelArtifacts"]
print("status:  ", job["TrainingJobStatus"])
print("artifact:", model_artifact)
for metric in job.get("FinalMetricDataList", []):
    print(f"{metric['MetricName']}: {metric['Value']:.3f}")

# %% [markdown]
# Checkpoint: the job completed, and the artifact is a `model.tar.gz` under your model path.

# %% tags=["needs-aws"]
assert job["TrainingJobStatus"] == "Completed", f"The job ended {job['TrainingJobStatus']}: {job.get('FailureReason')}"
assert model_artifact.startswith(model_path) and model_artifact.endswith("model.tar.gz"), model_artifact
print("Model artifact OK")

# %% [markdown]
# In remote mode you can also open the job in the SageMaker console, with its CloudWatch logs and instance
# metrics, and the pipeline in Studio (**Pipelines** → your pipeline → **Executions**). This cell does nothing
# offline.

# %% tags=["remote-only", "needs-aws"]
if lab_helpers.mode_of(sess) == "remote":
    print(f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}#/jobs/{job_name}")

# %% [markdown]
# ## Clean up
#
# You delete what this notebook created: the pipeline (one API call, `delete_pipeline`) and the model artifacts
# under `model_path`. The kit's `cleanup` helper finds exactly those, by name and prefix, and touches nothing
# else. Without `dry_run=False` it only shows what it would delete — look before you delete.

# %%
created = {"pipelines": [PIPELINE_NAME], "groups": [], "s3_prefix": f"{lab_helpers.LAB_PREFIX}/{PIPELINE_NAME}"}
lab_helpers.cleanup.cleanup(sess, **created)

# %% [markdown]
# Now you delete them. Running this cell again is safe: it then finds nothing. The training job's record stays in
# SageMaker's history: jobs cannot be deleted, and a finished job costs nothing.

# %%
lab_helpers.cleanup.cleanup(sess, dry_run=False, **created)

# %% [markdown] track="v2"
# ## Summary
#
# - An `Estimator` with the XGBoost image and `set_hyperparameters` describes the training job.
# - Under a `PipelineSession`, `fit()` returns the job's arguments; `TrainingStep(step_args=...)` turns them into
#   a step.
# - `step.properties` are placeholders (`{"Get": "Steps.Train...."}`) that SageMaker fills in at run time.
# - `upsert()` creates or updates a pipeline, `start()` runs it, and `delete_pipeline` (here via `lab_helpers.cleanup`)
#   removes it.
#
# **Next:** [04 · The model step](04_model_step.ipynb) — you turn the trained model artifact into a SageMaker model.

# %% [markdown] track="v3"
# ## Summary
#
# - A `ModelTrainer` with the XGBoost image and its `hyperparameters` dict describes the training job.
# - Under a `PipelineSession`, `train()` returns the job's arguments; `TrainingStep(step_args=...)` turns them
#   into a step.
# - `step.properties` are placeholders (`{"Get": "Steps.Train...."}`) that SageMaker fills in at run time.
# - `upsert()` creates or updates a pipeline, `start()` runs it, and `delete_pipeline` (here via `lab_helpers.cleanup`)
#   removes it.
#
# **Next:** [04 · The model step](04_model_step.ipynb) — you turn the trained model artifact into a SageMaker model.
