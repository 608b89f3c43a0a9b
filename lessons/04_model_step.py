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
# # 04 · The model step
#
# You add a step that turns the trained model artifact into a SageMaker *model* — the object that batch
# transform jobs and endpoints run — and run Train → CreateModel as a pipeline (outline Step 4.3).
#
# **What you will learn**
#
# - how a `Model` takes its artifact from the training step's properties;
# - how `ModelStep` wraps `model.create()`, and why the outline's `accelerator_type` is gone;
# - how step names appear in the compiled pipeline definition (`AbaloneCreateModel-CreateModel`);
# - how to find and inspect the model an execution created, and delete it again.
#
# **Prerequisites:** notebook 03 (the training step). **Time:** 15 minutes.
# **Cost:** local mode is free. Remote mode runs one training job on ml.m5.xlarge (3–5 minutes, about $0.01);
# creating a model starts no instance and costs nothing.

# %% [markdown] track="v3"
# # 04 · The model step
#
# You add a step that turns the trained model artifact into a SageMaker *model* — the object that batch
# transform jobs and endpoints run — and run Train → CreateModel as a pipeline (outline Step 4.3).
#
# **What you will learn**
#
# - how a `ModelBuilder` (SDK v3's successor of the outline's `Model`) takes its artifact from the training step's
#   properties;
# - how `ModelStep` wraps `model.build()`, and why the outline's `accelerator_type` is gone;
# - how the model step appears in the compiled pipeline definition;
# - how to find and inspect the model an execution created, and delete it again.
#
# **Prerequisites:** notebook 03 (the training step). **Time:** 15 minutes.
# **Cost:** local mode is free. Remote mode runs one training job on ml.m5.xlarge (3–5 minutes, about $0.01);
# creating a model starts no instance and costs nothing.

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
PIPELINE_NAME: str = "Lesson04TrainCreateModel"  # the pipeline this notebook creates, runs and deletes

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
# These are the SDK classes this notebook uses, from SDK v3: `ModelTrainer` and `InputData` for training (as in
# notebook 03), `ModelBuilder` (`sagemaker.serve`) in place of v2's `Model`, and the pipeline classes from
# `sagemaker.mlops.workflow`. The outline's code is SDK v2's; the v2 track of these notebooks (`notebooks/`,
# `solutions/`) has it.

# %% track="v2"
from sagemaker import image_uris
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.model import Model
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.steps import TrainingStep

# %% track="v3"
from sagemaker.core import image_uris
from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig
from sagemaker.mlops.workflow.model_step import ModelStep
from sagemaker.mlops.workflow.pipeline import Pipeline
from sagemaker.mlops.workflow.steps import TrainingStep
from sagemaker.serve.model_builder import ModelBuilder
from sagemaker.train.model_trainer import ModelTrainer

# %% [markdown]
# ## 1. The training step, again
#
# A model step needs a training step to take the model from, so you rebuild notebook 03's step (the data upload
# is skipped if the files are already in S3). The model path is under this notebook's pipeline name.

# %% track="v2"
xgb_image_uri = image_uris.retrieve(framework="xgboost", region=region, version="1.7-1")
split_uris = lab_helpers.pipelines.prepare_outline_data(sess)
model_path = f"s3://{bucket}/{lab_helpers.LAB_PREFIX}/{PIPELINE_NAME}/models/"
xgb_train = Estimator(image_uri=xgb_image_uri, instance_type="ml.m5.xlarge", instance_count=1,
                      output_path=model_path, role=role, sagemaker_session=sess)
xgb_train.set_hyperparameters(objective="reg:squarederror", num_round=50, max_depth=5, eta=0.2, subsample=0.7)
step_train = TrainingStep(
    name="Train",
    step_args=xgb_train.fit(inputs={
        "train": TrainingInput(s3_data=split_uris["train"], content_type="text/csv"),
        "validation": TrainingInput(s3_data=split_uris["validation"], content_type="text/csv"),
    }),
)

# %% track="v3"
xgb_image_uri = image_uris.retrieve(framework="xgboost", region=region, version="1.7-1")
split_uris = lab_helpers.pipelines.prepare_outline_data(sess)
model_path = f"s3://{bucket}/{lab_helpers.LAB_PREFIX}/{PIPELINE_NAME}/models/"
xgb_train = ModelTrainer(training_image=xgb_image_uri, compute=Compute(instance_type="ml.m5.xlarge", instance_count=1),
                         output_data_config=OutputDataConfig(s3_output_path=model_path),
                         role=role, sagemaker_session=sess)
xgb_train.hyperparameters = {"objective": "reg:squarederror", "num_round": 50, "max_depth": 5, "eta": 0.2,
                             "subsample": 0.7}
step_train = TrainingStep(
    name="Train",
    step_args=xgb_train.train(input_data_config=[
        InputData(channel_name="train", data_source=split_uris["train"], content_type="text/csv"),
        InputData(channel_name="validation", data_source=split_uris["validation"], content_type="text/csv"),
    ]),
)

# %% [markdown]
# ## 2. The model
#
# A SageMaker model is an image plus a model artifact plus a role: everything needed to serve predictions. The
# artifact does not exist yet, so you pass the training step's *property* — the placeholder you met in notebook 03.
# The same XGBoost image that trains the model also serves it.

# %% [markdown] track="v3"
# In SDK v3 a `ModelBuilder` describes the model: the artifact is `s3_model_data_url`, the role `role_arn`, and
# `instance_type` the kind of instance the model is meant for.

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
    instance_type="ml.m5.large",
    sagemaker_session=sess,
)

# %% [markdown] track="v2"
# ## 3. The ModelStep
#
# As with `fit()`, under a `PipelineSession` `model.create()` creates nothing: it returns the request, and a
# `ModelStep` sends it when the pipeline runs. `instance_type` only tells the SDK what kind of instance the model
# is meant for; the `CreateModel` request itself has no instance type — instances start only when you deploy the
# model or run a batch transform.

# %% [markdown] track="v3"
# ## 3. The ModelStep
#
# As with `train()`, under a `PipelineSession` `model.build()` creates nothing: it returns the request, and a
# `ModelStep` sends it when the pipeline runs. `instance_type` only tells the SDK what kind of instance the model
# is meant for; the `CreateModel` request itself has no instance type — instances start only when you deploy the
# model or run a batch transform.

# %% [markdown]
# The outline also passes `accelerator_type="ml.eia1.medium"`: an **Amazon Elastic Inference** accelerator.
# Elastic Inference is at end of life: since April 15, 2023 AWS onboards no new customers, and a request for an
# accelerator fails unless your account used Elastic Inference in the previous 30 days. To make inference cheaper
# or faster, choose a right-sized instance (as here), or an AWS Inferentia instance (`ml.inf2.*`) for large
# deep-learning models.

# %% [markdown] track="v2"
# **Exercise.** Create `step_create_model`, a `ModelStep` named `"AbaloneCreateModel"` whose `step_args` are
# `model.create(instance_type="ml.m5.large")`.

# %% [markdown] track="v3"
# **Exercise.** Create `step_create_model`, a `ModelStep` named `"AbaloneCreateModel"` whose `step_args` are
# `model.build()`.

# %% track="v2"
# EXERCISE: Create step_create_model, a ModelStep named 'AbaloneCreateModel' whose step_args create the model.
step_create_model = ModelStep(name="AbaloneCreateModel", step_args=model.create(instance_type="ml.m5.large"))
# END EXERCISE
step_create_model.name

# %% track="v3"
# EXERCISE: Create step_create_model, a ModelStep named 'AbaloneCreateModel' whose step_args are model.build().
step_create_model = ModelStep(name="AbaloneCreateModel", step_args=model.build())
# END EXERCISE
step_create_model.name

# %% [markdown] track="v2"
# A `ModelStep` is a *step collection*: one name in your code, one or more steps in the pipeline. For
# `model.create()` it holds one step, named with the suffix `-CreateModel`.

# %% tags=["nbval-check-output"] track="v2"
[step.name for step in step_create_model.steps]

# %% [markdown] track="v3"
# In SDK v3 a `ModelStep` is one step of the pipeline, under the name you gave it; its type says what it does:
# `Model` creates a model (`RegisterModel` would register one).

# %% tags=["nbval-check-output"] track="v3"
step_create_model.step_type.value

# %% [markdown]
# Checkpoint: the step is named `AbaloneCreateModel` and creates a model, with no accelerator.

# %% track="v2"
assert step_create_model.name == "AbaloneCreateModel", f"Name it 'AbaloneCreateModel', not {step_create_model.name!r}."
assert [s.name for s in step_create_model.steps] == ["AbaloneCreateModel-CreateModel"], (
    "Pass step_args=model.create(instance_type='ml.m5.large') - model.create, not model.register."
)
print("ModelStep OK")

# %% track="v3"
assert step_create_model.name == "AbaloneCreateModel", f"Name it 'AbaloneCreateModel', not {step_create_model.name!r}."
assert step_create_model.step_type.value == "Model", (
    f"The step is a {step_create_model.step_type.value} step: pass step_args=model.build() - build, not register."
)
print("ModelStep OK")

# %% [markdown] track="v2"
# ## 4. The compiled pipeline definition
#
# You put both steps in a pipeline and look at the JSON definition SageMaker will store. The model step appears
# under its full name, with the request it sends: `PrimaryContainer.ModelDataUrl` is still the reference
# `{"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}`, which is also how SageMaker knows to run `Train` first.

# %% [markdown] track="v3"
# ## 4. The compiled pipeline definition
#
# You put both steps in a pipeline and look at the JSON definition SageMaker will store. The model step appears
# under its name, with the request it sends: `PrimaryContainer.ModelDataUrl` is still the reference
# `{"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}`, which is also how SageMaker knows to run `Train` first.
# (`ModelBuilder` also sets a few environment variables of the serving container; they do not matter for XGBoost.)

# %%
pipeline = Pipeline(name=PIPELINE_NAME, steps=[step_train, step_create_model], sagemaker_session=sess)
definition = json.loads(pipeline.definition())
model_definition = next(s for s in definition["Steps"] if s["Type"] == "Model")
print(json.dumps(model_definition, indent=1))

# %% [markdown] track="v2"
# Checkpoint: the compiled step is named `AbaloneCreateModel-CreateModel` and takes its model data from `Train`.

# %% tags=["nbval-check-output"] track="v2"
assert model_definition["Name"] == "AbaloneCreateModel-CreateModel", model_definition["Name"]
assert "Accelerator" not in json.dumps(model_definition), "Remove accelerator_type: Elastic Inference is end of life."
model_definition["Arguments"]["PrimaryContainer"]["ModelDataUrl"]

# %% [markdown] track="v3"
# Checkpoint: the compiled step is named `AbaloneCreateModel` and takes its model data from `Train`.

# %% tags=["nbval-check-output"] track="v3"
assert model_definition["Name"] == "AbaloneCreateModel", model_definition["Name"]
assert "Accelerator" not in json.dumps(model_definition), "Remove accelerator_type: Elastic Inference is end of life."
model_definition["Arguments"]["PrimaryContainer"]["ModelDataUrl"]

# %% [markdown]
# ## 5. Run Train → CreateModel
#
# You create (or update) the pipeline and run it. If it fails, `lab_helpers.monitor.explain` prints each failed
# step's exact reason and the last lines of its job's log. The model step after training takes a fraction of a second.

# %%
pipeline.upsert(role_arn=role)
execution = pipeline.start()
try:
    execution.wait(delay=30, max_attempts=60)
except WaiterError:  # the execution failed: show each failed step's exact reason and the end of its log
    lab_helpers.monitor.explain(execution)
print("status:", execution.describe()["PipelineExecutionStatus"])

# %% [markdown]
# The step list: training, then the model step, each with what it created.

# %%
rows = lab_helpers.monitor.step_rows(sess, execution.arn)
print(lab_helpers.monitor.format_table(rows))

# %% [markdown]
# ## 6. The model SageMaker created
#
# The model step's metadata holds the model's ARN; its last part is the model's name, which SageMaker Pipelines
# generates for each execution. `DescribeModel` shows what the step created: the image, the artifact the training
# step produced, and the role.

# %% tags=["needs-aws"]
model_arn = next(r["metadata"]["Model"]["Arn"] for r in rows if "Model" in r["metadata"])
described = sess.sagemaker_client.describe_model(ModelName=model_arn.rsplit("/", 1)[-1])
model_name = described["ModelName"]
print("model:   ", model_name)
print("image:   ", described["PrimaryContainer"]["Image"])
print("artifact:", described["PrimaryContainer"]["ModelDataUrl"])
print("role:    ", described["ExecutionRoleArn"])

# %% [markdown]
# Checkpoint: the model serves the artifact this execution's training job wrote, with the XGBoost image.

# %% tags=["needs-aws"]
job_name = rows[0]["metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[-1]
job = sess.sagemaker_client.describe_training_job(TrainingJobName=job_name)
assert described["PrimaryContainer"]["ModelDataUrl"] == job["ModelArtifacts"]["S3ModelArtifacts"]
assert described["PrimaryContainer"]["Image"] == xgb_image_uri
print("Model OK: it serves", job["ModelArtifacts"]["S3ModelArtifacts"])

# %% [markdown]
# In remote mode you can open the model in the SageMaker console (**Inference** → **Models**). This cell does
# nothing offline.

# %% tags=["remote-only", "needs-aws"]
if lab_helpers.mode_of(sess) == "remote":
    print(f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}#/models/{model_name}")

# %% [markdown]
# ## Clean up
#
# You delete what this notebook created: the models its pipeline's executions made (`delete_model`), the pipeline
# (`delete_pipeline`), and the model artifacts under `model_path`. A model costs nothing while no endpoint or job
# uses it, but deleting it keeps your account tidy. The kit's `cleanup` helper finds exactly those; a dry run
# first shows them.

# %%
created = {"pipelines": [PIPELINE_NAME], "groups": [], "s3_prefix": f"{lab_helpers.LAB_PREFIX}/{PIPELINE_NAME}"}
lab_helpers.cleanup.cleanup(sess, **created)

# %% [markdown]
# Now you delete them (running the cell again finds nothing left to delete).

# %%
lab_helpers.cleanup.cleanup(sess, dry_run=False, **created)

# %% [markdown] track="v2"
# ## Summary
#
# - A `Model` takes its artifact from `step_train.properties.ModelArtifacts.S3ModelArtifacts`, a placeholder
#   that also orders the steps.
# - `ModelStep(name="AbaloneCreateModel", step_args=model.create(instance_type="ml.m5.large"))` becomes the
#   pipeline step `AbaloneCreateModel-CreateModel`; Elastic Inference's `accelerator_type` is gone for good.
# - The step's metadata names the model the execution created; `describe_model` shows it, `delete_model` removes it.
#
# **Next:** [05 · Registering the model](05_registration.ipynb) — you file the model in the model registry.

# %% [markdown] track="v3"
# ## Summary
#
# - A `ModelBuilder` takes its artifact from `step_train.properties.ModelArtifacts.S3ModelArtifacts`, a placeholder
#   that also orders the steps.
# - `ModelStep(name="AbaloneCreateModel", step_args=model.build())` becomes the pipeline step `AbaloneCreateModel`,
#   of type `Model`; Elastic Inference's `accelerator_type` is gone for good.
# - The step's metadata names the model the execution created; `describe_model` shows it, `delete_model` removes it.
#
# **Next:** [05 · Registering the model](05_registration.ipynb) — you file the model in the model registry.
