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
# # 06 · Assembling and running the pipeline
#
# Steps on their own do nothing. Here you put them in a `Pipeline`, create it in SageMaker, run it, and
# then run AWS's full abalone pipeline down both branches of its condition.
#
# **What you will learn**
#
# - how the outline's steps become a pipeline (outline Step 4.5): `Pipeline`, `upsert`, `start`,
#   `describe`, `wait`, `list_steps`;
# - how a pipeline parameter changes one execution without changing the pipeline;
# - how to write the full abalone pipeline's steps yourself: a `ProcessingStep` with its outputs, an
#   evaluation step with a `PropertyFile`, a `TransformStep`, a `FailStep` whose message is a `Join`, and a
#   `ConditionStep` that reads the report with `JsonGet` — each checked as you go;
# - what a failed execution looks like, and where its error message is.
#
# **Prerequisites:** notebooks 03–05. **Time:** about 50 minutes; in remote mode add about 40 minutes of
# waiting for three executions. **Cost:** local mode is free. Remote mode runs the outline's pipeline (one
# training job) and the abalone pipeline twice (four jobs on ml.m5.xlarge, then three jobs): about $0.12 in
# total (1, 6 and 4 cents).

# %% [markdown] track="v3"
# **SDK v3.** This notebook is written with SageMaker Python SDK v3, the SDK in SageMaker Studio's images: the
# pipeline classes come from `sagemaker.mlops.workflow` and `sagemaker.core.workflow`, `ModelTrainer` trains,
# `ModelBuilder` creates and registers models, and a `ScriptProcessor` with the scikit-learn image preprocesses.
# The pipelines you build are the same, step for step (the kit's v3 copy of the abalone pipeline is
# `lab_helpers.pipelines_v3.abalone_pipeline`). The v2 track (`notebooks/06_pipeline.ipynb`) has the outline's
# own code.

# %% [markdown]
# ## Setup
#
# You import the kit, which picks the mode and gives you a session, a role and a bucket.

# %%
# KERNEL CHECK

import json

import lab_helpers

# %% [markdown]
# The notebook's parameters: the mode, and the MSE threshold you use in section 6 to make the abalone
# pipeline take its failure branch (the model's test MSE is about 4, so 0.5 is out of reach).

# %% tags=["parameters"]
MODE: str = ""  # "local" | "remote" | "" for automatic (LAB_MODE, else remote in Studio, local elsewhere)
FAIL_THRESHOLD: float = 0.5  # an MseThreshold no model meets, so the FailStep runs

# %% [markdown]
# Open the session and look up the role, the bucket and the region.

# %%
sess = lab_helpers.session(MODE or None)
role = lab_helpers.execution_role(sess)
bucket = sess.default_bucket()
region = sess.boto_region_name
print(f"Mode: {lab_helpers.mode_of(sess)} · region {region} · bucket {bucket}")

# %% [markdown]
# These are the SDK classes the outline's pipeline uses.

# %% track="v2"
from botocore.exceptions import WaiterError
from sagemaker import image_uris
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.model import Model
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.step_collections import RegisterModel
from sagemaker.workflow.steps import TrainingStep

# %% track="v3"
from botocore.exceptions import WaiterError
from sagemaker.core import image_uris
from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig
from sagemaker.core.workflow.parameters import ParameterString
from sagemaker.mlops.workflow.model_step import ModelStep
from sagemaker.mlops.workflow.pipeline import Pipeline
from sagemaker.mlops.workflow.steps import TrainingStep
from sagemaker.serve.model_builder import ModelBuilder
from sagemaker.train.model_trainer import ModelTrainer

# %% [markdown]
# ## 1. The outline's three steps
#
# You built these in notebooks 03–05; they are repeated here so this notebook runs on its own. First
# the data (uploaded once), the XGBoost image for your region, and the training step.

# %% track="v2"
data = lab_helpers.pipelines.prepare_outline_data(sess)
xgb_image_uri = image_uris.retrieve(framework="xgboost", region=region, version="1.7-1")
xgb_train = Estimator(image_uri=xgb_image_uri, instance_type="ml.m5.xlarge", instance_count=1,
                      output_path=f"s3://{bucket}/{lab_helpers.LAB_PREFIX}/pipeline-model/",
                      role=role, sagemaker_session=sess)
xgb_train.set_hyperparameters(objective="reg:squarederror", num_round=50, max_depth=5, eta=0.2, subsample=0.7)
step_train = TrainingStep(name="Train", step_args=xgb_train.fit(inputs={
    "train": TrainingInput(s3_data=data["train"], content_type="text/csv"),
    "validation": TrainingInput(s3_data=data["validation"], content_type="text/csv"),
}))

# %% track="v3"
data = lab_helpers.pipelines.prepare_outline_data(sess)
xgb_image_uri = image_uris.retrieve(framework="xgboost", region=region, version="1.7-1")
xgb_train = ModelTrainer(training_image=xgb_image_uri,
                         compute=Compute(instance_type="ml.m5.xlarge", instance_count=1),
                         output_data_config=OutputDataConfig(
                             s3_output_path=f"s3://{bucket}/{lab_helpers.LAB_PREFIX}/pipeline-model/"),
                         hyperparameters=dict(objective="reg:squarederror", num_round=50, max_depth=5, eta=0.2,
                                              subsample=0.7),
                         role=role, sagemaker_session=sess)
step_train = TrainingStep(name="Train", step_args=xgb_train.train(input_data_config=[
    InputData(channel_name="train", data_source=data["train"], content_type="text/csv"),
    InputData(channel_name="validation", data_source=data["validation"], content_type="text/csv"),
]))

# %% [markdown]
# Then the model-creation step. The outline's `accelerator_type="ml.eia1.medium"` is gone: Elastic Inference
# has reached end of life, and SageMaker refuses the request.

# %% track="v2"
model = Model(image_uri=xgb_image_uri, model_data=step_train.properties.ModelArtifacts.S3ModelArtifacts,
              role=role, sagemaker_session=sess)
step_create_model = ModelStep(name="AbaloneCreateModel", step_args=model.create(instance_type="ml.m5.large"))

# %% track="v3"
model = ModelBuilder(image_uri=xgb_image_uri, s3_model_data_url=step_train.properties.ModelArtifacts.S3ModelArtifacts,
                     role_arn=role, sagemaker_session=sess)
step_create_model = ModelStep(name="AbaloneCreateModel", step_args=model.build())

# %% [markdown]
# And the registration step, with the approval status as a parameter (notebook 05): new versions wait
# for a reviewer unless an execution says otherwise.

# %% track="v2"
model_approval_status = ParameterString(name="ModelApprovalStatus", default_value="PendingManualApproval")
step_register = RegisterModel(
    name="RegisterModel",
    estimator=xgb_train,
    model_data=step_train.properties.ModelArtifacts.S3ModelArtifacts,
    content_types=["text/csv"],
    response_types=["text/csv"],
    inference_instances=["ml.m5.xlarge"],
    transform_instances=["ml.m5.xlarge"],
    model_package_group_name="PipelineModelPackageGroup",
    approval_status=model_approval_status,
)

# %% track="v3"
model_approval_status = ParameterString(name="ModelApprovalStatus", default_value="PendingManualApproval")
step_register = ModelStep(name="RegisterModel", step_args=model.register(
    content_types=["text/csv"],
    response_types=["text/csv"],
    inference_instances=["ml.m5.xlarge"],
    transform_instances=["ml.m5.xlarge"],
    model_package_group_name="PipelineModelPackageGroup",
    approval_status=model_approval_status,
))

# %% [markdown]
# ## 2. Create the pipeline and execute it
#
# A `Pipeline` has a name (unique in your account and region), the parameters it accepts and its steps.
# You do not list the steps in running order: SageMaker works the order out from the data that flows
# between them (both later steps use the training step's model artifact, so training runs first).
#
# Pass `sagemaker_session=sess` as well. The outline leaves it out, and the SDK then makes a plain default
# session; that works in Studio and offline, but the explicit session guarantees the pipeline uses the same
# account, region and bucket as its steps (a default session knows nothing of `LAB_BUCKET`, for example).

# %%
pipeline_name = "LessonOutlinePipeline"  # the outline calls it "ADGUPipeline"

# EXERCISE: Create pipeline = Pipeline(...): name, parameters=[model_approval_status], the 3 steps, sagemaker_session.
pipeline = Pipeline(
    name=pipeline_name,
    parameters=[model_approval_status],
    steps=[step_train, step_create_model, step_register],
    sagemaker_session=sess,
)
# END EXERCISE

# %% [markdown] track="v2"
# Checkpoint: the pipeline's definition has the three steps and the parameter. A step collection such as
# `RegisterModel` gets a suffix, `RegisterModel-RegisterModel`.

# %% track="v2"
expected_steps = ["AbaloneCreateModel-CreateModel", "RegisterModel-RegisterModel", "Train"]

# %% [markdown] track="v3"
# Checkpoint: the pipeline's definition has the three steps and the parameter. In v3 each `ModelStep` is one step
# with its own name (v2 adds a suffix: `RegisterModel-RegisterModel`).

# %% track="v3"
expected_steps = ["AbaloneCreateModel", "RegisterModel", "Train"]

# %% tags=["nbval-check-output"]
definition = json.loads(pipeline.definition())
step_names = sorted(step["Name"] for step in definition["Steps"])
print(step_names)
assert step_names == expected_steps, "Put step_train, step_create_model and step_register in steps=[...]."
assert [p["Name"] for p in definition["Parameters"]] == ["ModelApprovalStatus"], (
    "Pass parameters=[model_approval_status]: a parameter must be declared before an execution can set it."
)

# %% [markdown]
# `upsert` creates the pipeline, or updates it if one with that name exists (running this notebook again
# is safe). The role is the one SageMaker assumes to run the pipeline's jobs.

# %%
response = pipeline.upsert(role_arn=role)
print(response["PipelineArn"])

# %% [markdown]
# `start()` starts an execution and returns at once with a handle to it. The outline registers models as
# `"Approved"`; you get the same result for this one execution with a parameter override, and the pipeline's
# default stays `PendingManualApproval`.

# %%
# EXERCISE: Start it with ModelApprovalStatus set to "Approved": execution = pipeline.start(parameters={...}).
execution = pipeline.start(parameters={"ModelApprovalStatus": "Approved"})
# END EXERCISE
described = execution.describe()
print(described["PipelineExecutionDisplayName"], described["PipelineExecutionStatus"])

# %% [markdown]
# The status is `Executing` now: in remote mode the jobs run in your account for a few minutes, offline the
# kit runs them in a background process for a few seconds. `wait()` blocks until the execution ends, and
# raises `WaiterError` if it fails; the error says only that the waiter saw "Failed". So you catch it and call
# `lab_helpers.monitor.explain(execution)`, which prints each failed step with the engine's exact reason and
# the last lines of its job's log. Interrupting `wait()` stops the waiting, not the execution.

# %%
try:
    execution.wait(delay=30, max_attempts=60)
except WaiterError:
    lab_helpers.monitor.explain(execution)
print(execution.describe()["PipelineExecutionStatus"])

# %% [markdown]
# `list_steps()` reports each step of the execution, newest first: its status, its times and what it
# created (a training job, a model, a model package).

# %%
for step in reversed(execution.list_steps()):
    seconds = (step["EndTime"] - step["StartTime"]).total_seconds() if "EndTime" in step else float("nan")
    created = ", ".join(step.get("Metadata", {}))
    print(f"{step['StepName']:32} {step['StepStatus']:10} {seconds:6.1f} s   {created}")

# %% [markdown]
# Checkpoint: the execution succeeded, and the override reached the registry: the new version is approved.
# If the registration failed, the message repeats the engine's reason (a wrong approval status is the usual one).

# %% tags=["needs-aws"]
steps = {step["StepName"]: step for step in execution.list_steps()}
register_name = "RegisterModel-RegisterModel" if "RegisterModel-RegisterModel" in steps else "RegisterModel"  # v2 | v3
register = steps.get(register_name)
status = execution.describe()["PipelineExecutionStatus"]
assert register is not None and register["StepStatus"] == "Succeeded", (
    f"The execution ended {status} and {register_name} did not succeed: "
    + (lab_helpers.monitor.failure_reason(register) if register else "it did not run (see explain above).")
    + ' → Fix: start with parameters={"ModelApprovalStatus": "Approved"}; the value is case-sensitive.'
)
package_arn = register["Metadata"]["RegisterModel"]["Arn"]
package = sess.sagemaker_client.describe_model_package(ModelPackageName=package_arn)
print(package_arn, package["ModelApprovalStatus"])
assert status == "Succeeded", "The execution failed: read lab_helpers.monitor.explain(execution) above."
assert package["ModelApprovalStatus"] == "Approved", (
    f'The new version is {package["ModelApprovalStatus"]}: start with parameters={{"ModelApprovalStatus": "Approved"}}.'
)

# %% [markdown]
# ## 3. The full abalone pipeline: you write it
#
# The outline's pipeline trains on data someone prepared by hand and registers whatever comes out. AWS's
# abalone example does the whole job: it preprocesses the raw data, trains, **evaluates** the model on a
# held-out test set, and registers and uses the model only if it is good enough. You write its heart now, one
# step at a time, each followed by a checkpoint. (The kit's own copy, which notebooks 07–08 and
# `python3 kit.py run` use, is `lab_helpers.pipelines.abalone_pipeline`: read it if you are stuck.)
#
# First the given parts: the SDK classes, the six pipeline parameters (values an execution can change), and
# `run_output(...)`, an S3 folder per execution under the kit's prefix, so runs never overwrite each other.

# %% track="v2"
from sagemaker.model_metrics import MetricsSource, ModelMetrics
from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
from sagemaker.sklearn.processing import SKLearnProcessor
from sagemaker.transformer import Transformer
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionLessThanOrEqualTo
from sagemaker.workflow.execution_variables import ExecutionVariables
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.steps import ProcessingStep, TransformStep

# %% track="v3"
from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
from sagemaker.core.processing import ScriptProcessor
from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
from sagemaker.core.transformer import Transformer
from sagemaker.core.workflow.conditions import ConditionLessThanOrEqualTo
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join, JsonGet
from sagemaker.core.workflow.parameters import ParameterFloat, ParameterInteger
from sagemaker.core.workflow.properties import PropertyFile
from sagemaker.mlops.workflow.condition_step import ConditionStep
from sagemaker.mlops.workflow.fail_step import FailStep
from sagemaker.mlops.workflow.steps import ProcessingStep, TransformStep

# %%
raw = lab_helpers.data.upload_abalone(sess)  # notebook 01 put these in S3; uploads only what is missing
processing_instance_count = ParameterInteger(name="ProcessingInstanceCount", default_value=1)
training_instance_type = ParameterString(name="TrainingInstanceType", default_value="ml.m5.xlarge")
abalone_approval_status = ParameterString(name="ModelApprovalStatus", default_value="PendingManualApproval")
input_data = ParameterString(name="InputData", default_value=raw["input"])
batch_data = ParameterString(name="BatchData", default_value=raw["batch"])
mse_threshold = ParameterFloat(name="MseThreshold", default_value=6.0)

abalone_base = f"s3://{bucket}/{lab_helpers.LAB_PREFIX}/AbalonePipeline"


def run_output(*parts):
    """An S3 folder of the running execution: <abalone_base>/<execution id>/<parts...>."""
    return Join(on="/", values=[abalone_base, ExecutionVariables.PIPELINE_EXECUTION_ID, *parts])


# %% [markdown]
# ### 3.1 Processing
#
# A processing job runs a script in a container: SageMaker copies each `ProcessingInput` from S3 into the
# container before the script starts, and uploads each `ProcessingOutput` folder to S3 when it ends. The kit's
# `preprocess.py` (the script you called in notebook 01) reads the raw CSV from `/opt/ml/processing/input`
# and writes one folder per split: `/opt/ml/processing/train`, `.../validation` and `.../test`. Later steps
# find a split by its **output name**, so name each output after its split.
#
# **Exercise.** Write `step_process`: a `ProcessingStep` named `"AbaloneProcess"` whose `step_args` are
# `sklearn_processor.run(inputs=[...], outputs=[...], code=..., arguments=["--random-state", "42"])`. The input
# is `input_data` (the parameter); the three outputs go to `run_output("AbaloneProcess", <split>)`.

# %% [markdown] track="v3"
# v3 has no `SKLearnProcessor`: `sklearn_processor` is a `ScriptProcessor` on the scikit-learn image, which runs
# the script with `python3`. Its inputs and outputs are the API's own shapes, with the S3 side and the container
# side named as the API names them:
#
# - `ProcessingInput(input_name="input", s3_input=ProcessingS3Input(s3_uri=<from S3>, local_path=<folder in the
#   container>, s3_data_type="S3Prefix"))`;
# - `ProcessingOutput(output_name=<split>, s3_output=ProcessingS3Output(s3_uri=<to S3>, local_path=<folder in the
#   container>, s3_upload_mode="EndOfJob"))`.

# %% track="v2"
sklearn_processor = SKLearnProcessor(framework_version="1.2-1", instance_type="ml.m5.xlarge",
                                     instance_count=processing_instance_count, base_job_name="abalone-process",
                                     role=role, sagemaker_session=sess)
preprocess_script = lab_helpers.pipelines.step_script("preprocess.py")

# EXERCISE: step_process = ProcessingStep(name="AbaloneProcess", step_args=sklearn_processor.run(...)).
step_process = ProcessingStep(
    name="AbaloneProcess",
    step_args=sklearn_processor.run(
        inputs=[ProcessingInput(source=input_data, destination="/opt/ml/processing/input")],
        outputs=[
            ProcessingOutput(output_name="train", source="/opt/ml/processing/train",
                             destination=run_output("AbaloneProcess", "train")),
            ProcessingOutput(output_name="validation", source="/opt/ml/processing/validation",
                             destination=run_output("AbaloneProcess", "validation")),
            ProcessingOutput(output_name="test", source="/opt/ml/processing/test",
                             destination=run_output("AbaloneProcess", "test")),
        ],
        code=preprocess_script,
        arguments=["--random-state", "42"],
    ),
)
# END EXERCISE

# %% track="v3"
sklearn_image_uri = image_uris.retrieve(framework="sklearn", region=region, version="1.2-1",
                                       instance_type="ml.m5.xlarge")
sklearn_processor = ScriptProcessor(image_uri=sklearn_image_uri, command=["python3"], instance_type="ml.m5.xlarge",
                                   instance_count=processing_instance_count, base_job_name="abalone-process",
                                   role=role, sagemaker_session=sess)
preprocess_script = lab_helpers.pipelines.step_script("preprocess.py")

# EXERCISE: step_process = ProcessingStep(name="AbaloneProcess", step_args=sklearn_processor.run(...)), v3's shapes.
step_process = ProcessingStep(
    name="AbaloneProcess",
    step_args=sklearn_processor.run(
        inputs=[ProcessingInput(input_name="input", s3_input=ProcessingS3Input(
            s3_uri=input_data, local_path="/opt/ml/processing/input", s3_data_type="S3Prefix"))],
        outputs=[
            ProcessingOutput(output_name="train", s3_output=ProcessingS3Output(
                s3_uri=run_output("AbaloneProcess", "train"), local_path="/opt/ml/processing/train",
                s3_upload_mode="EndOfJob")),
            ProcessingOutput(output_name="validation", s3_output=ProcessingS3Output(
                s3_uri=run_output("AbaloneProcess", "validation"), local_path="/opt/ml/processing/validation",
                s3_upload_mode="EndOfJob")),
            ProcessingOutput(output_name="test", s3_output=ProcessingS3Output(
                s3_uri=run_output("AbaloneProcess", "test"), local_path="/opt/ml/processing/test",
                s3_upload_mode="EndOfJob")),
        ],
        code=preprocess_script,
        arguments=["--random-state", "42"],
    ),
)
# END EXERCISE

# %% [markdown]
# Checkpoint: the step runs `preprocess.py` on `InputData` and declares the three outputs where the script
# writes them.

# %%
lab_helpers.checkpoints.processing_step(globals())

# %% [markdown]
# ### 3.2 Training (given)
#
# The outline's XGBoost training step, now fed by your outputs: `step_process.properties` stands for the
# processing job's description, which exists only once the job has run, so SageMaker fills in the URIs then.

# %% track="v2"
xgb_image_uri = image_uris.retrieve(framework="xgboost", region=region, version="1.7-1", instance_type="ml.m5.xlarge")
abalone_estimator = Estimator(image_uri=xgb_image_uri, instance_type=training_instance_type, instance_count=1,
                              output_path=f"{abalone_base}/models", base_job_name="abalone-train",
                              role=role, sagemaker_session=sess)
abalone_estimator.set_hyperparameters(**lab_helpers.pipelines.HYPERPARAMETERS)
splits = step_process.properties.ProcessingOutputConfig.Outputs
abalone_train = TrainingStep(name="AbaloneTrain", step_args=abalone_estimator.fit(inputs={
    "train": TrainingInput(s3_data=splits["train"].S3Output.S3Uri, content_type="text/csv"),
    "validation": TrainingInput(s3_data=splits["validation"].S3Output.S3Uri, content_type="text/csv"),
}))

# %% track="v3"
xgb_image_uri = image_uris.retrieve(framework="xgboost", region=region, version="1.7-1", instance_type="ml.m5.xlarge")
abalone_trainer = ModelTrainer(training_image=xgb_image_uri,
                               compute=Compute(instance_type=training_instance_type, instance_count=1),
                               output_data_config=OutputDataConfig(s3_output_path=f"{abalone_base}/models"),
                               hyperparameters=dict(lab_helpers.pipelines.HYPERPARAMETERS),
                               base_job_name="abalone-train", role=role, sagemaker_session=sess)
splits = step_process.properties.ProcessingOutputConfig.Outputs
abalone_train = TrainingStep(name="AbaloneTrain", step_args=abalone_trainer.train(input_data_config=[
    InputData(channel_name="train", data_source=splits["train"].S3Output.S3Uri, content_type="text/csv"),
    InputData(channel_name="validation", data_source=splits["validation"].S3Output.S3Uri, content_type="text/csv"),
]))

# %% [markdown]
# ### 3.3 Evaluation and its report
#
# `evaluate.py` scores the model on the test split and writes `evaluation.json` into its output folder:
# `{"regression_metrics": {"mse": {"value": 4.17, "standard_deviation": ...}, ...}}`. For a later step to read a
# value out of that file, the step that writes it must declare it as a `PropertyFile`: a name, the
# `output_name` of the output that holds it, and its `path` inside that output.
#
# **Exercise.** Write `evaluation_report = PropertyFile(...)` named `"EvaluationReport"`, and `step_eval`, a
# `ProcessingStep` named `"AbaloneEval"` with `step_args=eval_args` that declares the report
# (`property_files=[...]`).

# %% track="v2"
script_eval = ScriptProcessor(image_uri=xgb_image_uri, command=["python3"], instance_type="ml.m5.xlarge",
                              instance_count=1, base_job_name="abalone-eval", role=role, sagemaker_session=sess)
evaluation_uri = run_output("AbaloneEval", "evaluation")
eval_args = script_eval.run(
    inputs=[ProcessingInput(source=abalone_train.properties.ModelArtifacts.S3ModelArtifacts,
                            destination="/opt/ml/processing/model"),
            ProcessingInput(source=splits["test"].S3Output.S3Uri, destination="/opt/ml/processing/test")],
    outputs=[ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation",
                              destination=evaluation_uri)],
    code=lab_helpers.pipelines.step_script("evaluate.py"),
)

# EXERCISE: evaluation_report = PropertyFile(...); step_eval = ProcessingStep(..., property_files=[...]).
evaluation_report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
step_eval = ProcessingStep(name="AbaloneEval", step_args=eval_args, property_files=[evaluation_report])
# END EXERCISE

# %% track="v3"
script_eval = ScriptProcessor(image_uri=xgb_image_uri, command=["python3"], instance_type="ml.m5.xlarge",
                              instance_count=1, base_job_name="abalone-eval", role=role, sagemaker_session=sess)
evaluation_uri = run_output("AbaloneEval", "evaluation")
eval_args = script_eval.run(
    inputs=[ProcessingInput(input_name="model", s3_input=ProcessingS3Input(
                s3_uri=abalone_train.properties.ModelArtifacts.S3ModelArtifacts,
                local_path="/opt/ml/processing/model", s3_data_type="S3Prefix")),
            ProcessingInput(input_name="test", s3_input=ProcessingS3Input(
                s3_uri=splits["test"].S3Output.S3Uri, local_path="/opt/ml/processing/test", s3_data_type="S3Prefix"))],
    outputs=[ProcessingOutput(output_name="evaluation", s3_output=ProcessingS3Output(
        s3_uri=evaluation_uri, local_path="/opt/ml/processing/evaluation", s3_upload_mode="EndOfJob"))],
    code=lab_helpers.pipelines.step_script("evaluate.py"),
)

# EXERCISE: evaluation_report = PropertyFile(...); step_eval = ProcessingStep(..., property_files=[...]).
evaluation_report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
step_eval = ProcessingStep(name="AbaloneEval", step_args=eval_args, property_files=[evaluation_report])
# END EXERCISE

# %% [markdown]
# Checkpoint: the report points at `evaluation.json` in the step's `evaluation` output, and the step declares it.

# %%
lab_helpers.checkpoints.property_file(globals())

# %% [markdown]
# ### 3.4 Register and create the model (given)
#
# As in notebooks 04 and 05, with one addition: the registered version carries the evaluation report as its
# model metrics, so the registry shows each version's MSE.

# %% track="v2"
abalone_model = Model(image_uri=xgb_image_uri, model_data=abalone_train.properties.ModelArtifacts.S3ModelArtifacts,
                      role=role, sagemaker_session=sess)
step_register = ModelStep(name="AbaloneRegisterModel", step_args=abalone_model.register(
    content_types=["text/csv"], response_types=["text/csv"],
    inference_instances=["ml.t2.medium", "ml.m5.large"], transform_instances=["ml.m5.large"],
    model_package_group_name=lab_helpers.pipelines.ABALONE_GROUP, approval_status=abalone_approval_status,
    model_metrics=ModelMetrics(model_statistics=MetricsSource(
        s3_uri=Join(on="/", values=[evaluation_uri, "evaluation.json"]), content_type="application/json")),
))
step_create_model = ModelStep(name="AbaloneCreateModel", step_args=abalone_model.create(instance_type="ml.m5.large"))

# %% track="v3"
abalone_model = ModelBuilder(image_uri=xgb_image_uri,
                             s3_model_data_url=abalone_train.properties.ModelArtifacts.S3ModelArtifacts,
                             role_arn=role, sagemaker_session=sess)
step_register = ModelStep(name="AbaloneRegisterModel", step_args=abalone_model.register(
    content_types=["text/csv"], response_types=["text/csv"],
    inference_instances=["ml.t2.medium", "ml.m5.large"], transform_instances=["ml.m5.large"],
    model_package_group_name=lab_helpers.pipelines.ABALONE_GROUP, approval_status=abalone_approval_status,
    model_metrics=ModelMetrics(model_statistics=MetricsSource(
        s3_uri=Join(on="/", values=[evaluation_uri, "evaluation.json"]), content_type="application/json")),
))
step_create_model = ModelStep(name="AbaloneCreateModel", step_args=abalone_model.build())

# %% [markdown]
# ### 3.5 Batch transform
#
# A transform job runs a SageMaker **model** — by its name — over a whole file in S3 and writes the predictions
# next to it. The model is created during the execution, so its name is `step_create_model.properties.ModelName`.
# The input is `batch_data` (the parameter `BatchData`): the test split's features without the rings, one
# abalone per CSV line.
#
# **Exercise.** Write a `Transformer` for that model (`ml.m5.xlarge`, one instance, output to
# `run_output("AbaloneTransform")`, `sagemaker_session=sess`), and `step_transform`, a `TransformStep` named
# `"AbaloneTransform"` with `step_args=transformer.transform(data=..., content_type="text/csv", split_type="Line")`.

# %%
# EXERCISE: transformer = Transformer(model_name=..., ...); step_transform = TransformStep(...).
transformer = Transformer(model_name=step_create_model.properties.ModelName, instance_type="ml.m5.xlarge",
                          instance_count=1, output_path=run_output("AbaloneTransform"), sagemaker_session=sess)
step_transform = TransformStep(
    name="AbaloneTransform",
    step_args=transformer.transform(data=batch_data, content_type="text/csv", split_type="Line"),
)
# END EXERCISE

# %% [markdown]
# Checkpoint: the transform runs the created model on `BatchData`, as CSV.

# %%
lab_helpers.checkpoints.transform_step(globals())

# %% [markdown]
# ### 3.6 Read the MSE, and fail with a message
#
# `JsonGet` reads one value out of a property file when the pipeline runs: the step that wrote it, the
# `PropertyFile`, and a `json_path` to a number in the JSON (dots between keys). A `FailStep` ends the
# execution as Failed with an `error_message`. That message must be built when the step runs, so it cannot be
# an f-string (Python fills an f-string in now, while no MSE exists yet; notebook 02 showed the SDK refusing
# to format a pipeline variable): it is a `Join` of its pieces, which SageMaker fills in and joins at run time.
#
# **Exercise.** Write `mse`, the `JsonGet` of the test MSE from `step_eval`'s report, and `step_fail`, a
# `FailStep` named `"AbaloneMSEFail"` whose message joins some text, `mse` and `mse_threshold`.

# %%
# EXERCISE: mse = JsonGet(step_name=..., property_file=..., json_path=...); step_fail = FailStep(...Join(...)).
mse = JsonGet(step_name=step_eval.name, property_file=evaluation_report, json_path="regression_metrics.mse.value")
step_fail = FailStep(
    name="AbaloneMSEFail",
    error_message=Join(on=" ", values=["Execution failed: the test MSE", mse,
                                       "is above the threshold MseThreshold =", mse_threshold]),
)
# END EXERCISE

# %% [markdown]
# Checkpoint: the message is a `Join` holding the MSE and the threshold, and `mse` reads a number from the report.

# %%
lab_helpers.checkpoints.fail_step(globals())

# %% [markdown]
# ### 3.7 The condition
#
# A `ConditionStep` evaluates its `conditions` when it runs, then runs `if_steps` if they all hold and
# `else_steps` otherwise. The rule: a model is good enough when its MSE is **at most** `MseThreshold`.
#
# **Exercise.** Write `step_cond`, a `ConditionStep` named `"AbaloneMSECond"`: the condition compares `mse` with
# `mse_threshold`; a good model goes to `step_register`, `step_create_model` and `step_transform`, any other to
# `step_fail`.

# %%
# EXERCISE: step_cond = ConditionStep(name="AbaloneMSECond", conditions=[...], if_steps=[...], else_steps=[...]).
step_cond = ConditionStep(
    name="AbaloneMSECond",
    conditions=[ConditionLessThanOrEqualTo(left=mse, right=mse_threshold)],
    if_steps=[step_register, step_create_model, step_transform],
    else_steps=[step_fail],
)
# END EXERCISE

# %% [markdown]
# Checkpoint: with an MSE below or equal to the threshold the model is registered, created and used; above it,
# the execution fails.

# %%
lab_helpers.checkpoints.condition_step(globals())

# %% [markdown]
# ### 3.8 The pipeline
#
# The top-level steps are the four that run unconditionally; the condition step holds the rest. It has the
# kit's name, `AbalonePipeline`, so notebook 07 finds its executions.

# %%
abalone = Pipeline(
    name="AbalonePipeline",
    parameters=[processing_instance_count, training_instance_type, abalone_approval_status,
                input_data, batch_data, mse_threshold],
    steps=[step_process, abalone_train, step_eval, step_cond],
    sagemaker_session=sess,
)
abalone_definition = json.loads(abalone.definition())

# %% [markdown]
# Your pipeline's steps, with their types. The condition step holds two lists of steps: what runs if the
# condition holds, and what runs otherwise.

# %% tags=["nbval-check-output"]
for step in abalone_definition["Steps"]:
    print(f"{step['Name']:36} {step['Type']}")
    if step["Type"] == "Condition":
        for branch in ("IfSteps", "ElseSteps"):
            for inner in step["Arguments"][branch]:
                print(f"  {branch:9} -> {inner['Name']:36} {inner['Type']}")

# %% [markdown]
# In the definition SageMaker receives, your `JsonGet` is a `Std:JsonGet` function and your parameter a
# `Get` of `Parameters.MseThreshold`: nothing is evaluated until the execution runs.

# %% tags=["nbval-check-output"]
cond_step = next(s for s in abalone_definition["Steps"] if s["Type"] == "Condition")
print(json.dumps(cond_step["Arguments"]["Conditions"], indent=1))

# %% [markdown]
# ## 4. Run the abalone pipeline with its defaults
#
# You create or update it and start it with the defaults (threshold 6.0). In remote mode this takes about
# 15–20 minutes; the `wait` below allows up to an hour.

# %%
abalone.upsert(role_arn=role)
run_ok = abalone.start()
try:
    run_ok.wait(delay=30, max_attempts=120)
except WaiterError:
    lab_helpers.monitor.explain(run_ok)
print("Status:", run_ok.describe()["PipelineExecutionStatus"])

# %% [markdown]
# The step list shows the path it took: all three if-branch steps ran, the `FailStep` did not.

# %%
for step in reversed(run_ok.list_steps()):
    outcome = step.get("Metadata", {}).get("Condition", {}).get("Outcome")
    print(f"{step['StepName']:36} {step['StepStatus']:10} {'condition: ' + outcome if outcome else ''}")

# %% [markdown]
# The kit's `monitor` module reads the evaluation report of an execution for you (notebook 07 shows more).

# %%
summary = lab_helpers.monitor.execution_summary(sess, run_ok.arn)
print({name: round(value, 3) for name, value in summary["metrics"].items()})

# %% [markdown]
# Checkpoint: the execution succeeded through the if-branch.

# %% tags=["needs-aws"]
ok_steps = {step["StepName"]: step for step in run_ok.list_steps()}
assert summary["status"] == "Succeeded", f"The execution ended {summary['status']}: read explain's output above."
outcome = ok_steps.get("AbaloneMSECond", {}).get("Metadata", {}).get("Condition", {}).get("Outcome")
assert outcome == "True", f"The condition's outcome was {outcome}: run this execution with the default MseThreshold."
assert "AbaloneTransform" in ok_steps and "AbaloneMSEFail" not in ok_steps
print("Checkpoint passed: test MSE", round(summary["metrics"]["mse"], 3), "<= 6.0")

# %% [markdown]
# ## 5. Exercise: override a parameter of the abalone pipeline
#
# Parameters are what you change between executions without editing the pipeline. Start a second
# execution with `MseThreshold` set to `FAIL_THRESHOLD` (0.5). No model reaches that, so this execution
# takes the else-branch.

# %%
# EXERCISE: Start the abalone pipeline with MseThreshold = FAIL_THRESHOLD: run_fail = abalone.start(parameters={...}).
run_fail = abalone.start(parameters={"MseThreshold": FAIL_THRESHOLD})
# END EXERCISE
print(run_fail.arn)

# %% [markdown]
# ## 6. A failed execution
#
# `wait()` raises `WaiterError` when an execution ends Failed, as it does against AWS. The error itself says
# little, so you catch it, print its first line, and let `monitor.explain` say which step failed and why.

# %%
try:
    run_fail.wait(delay=30, max_attempts=120)
except WaiterError as error:
    print("wait() raised WaiterError:", str(error).splitlines()[0][:100])
    lab_helpers.monitor.explain(run_fail)
described = run_fail.describe()
print("Status:", described["PipelineExecutionStatus"], "·", described.get("FailureReason"))

# %% [markdown]
# The execution's reason is generic ("one or multiple steps failed"). The `FailStep`'s own message, with the
# MSE and the threshold filled in, is in its step entry — which is where `explain` found it.

# %%
fail_steps = {step["StepName"]: step for step in reversed(run_fail.list_steps())}
for name, step in fail_steps.items():
    print(f"{name:16} {step['StepStatus']:10} {step.get('FailureReason', '')}")

# %% [markdown]
# Checkpoint: this execution took the else-branch and failed in the `FailStep`.

# %% tags=["needs-aws"]
assert described["PipelineExecutionStatus"] == "Failed", (
    "Expected a Failed execution: start it with parameters={'MseThreshold': FAIL_THRESHOLD}."
)
outcome = fail_steps.get("AbaloneMSECond", {}).get("Metadata", {}).get("Condition", {}).get("Outcome")
assert outcome == "False", (
    f"The condition's outcome was {outcome}, so the execution failed elsewhere: read explain's output above."
)
print("Fail message:", lab_helpers.monitor.failure_reason(fail_steps["AbaloneMSEFail"]))

# %% [markdown]
# ## Clean up
#
# Nothing keeps running after an execution ends: processing, training and transform jobs stop on their own,
# and the pipelines, models and registry versions cost nothing while idle. The outputs stay in S3, where
# notebook 07 reads them. Notebook 09 lists and deletes everything the kit created.

# %% [markdown]
# ## Summary
#
# - `Pipeline(name, parameters, steps, sagemaker_session)` → `upsert(role_arn=role)` → `start()` →
#   `wait()`; `describe()` and `list_steps()` tell you where an execution is and what it did.
# - `start(parameters={...})` changes one execution; the pipeline keeps its defaults.
# - You wrote the abalone pipeline: a `ProcessingStep` whose named outputs feed training and evaluation; a
#   `PropertyFile` the evaluation declares; a `ConditionStep` that reads the MSE with `JsonGet` and chooses
#   between registering, creating and batch-scoring the model (`TransformStep` on the created model's name) or a
#   `FailStep` whose `Join` message is filled in at run time.
# - A failed execution makes `wait()` raise `WaiterError`; `lab_helpers.monitor.explain(execution)` prints each
#   failed step's exact reason (the `FailStep`'s message is in `list_steps()`) and the end of its job's log.
#
# **Next:** [07 · Monitoring pipeline executions](07_monitoring.ipynb) — you look at these executions the way
# Studio shows them: the graph, the timeline, the logs, the artifacts and the metrics.
