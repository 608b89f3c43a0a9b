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
# # 10 · From SDK v2 to SDK v3: the same pipeline, new classes
#
# You move the lesson's pipeline from SageMaker Python SDK v2 (the code the outline shows) to SDK v3 (what
# SageMaker Studio's images ship), and you check in code that both build the same pipeline.
#
# **What you will learn**
#
# - why the move is due, and how SDK v3 is packaged;
# - which v3 class replaces each v2 class the lesson uses, step by step;
# - how to compare two pipeline definitions, and what really differs between v2's and v3's;
# - what changes around the definition: IAM and S3 calls, defaults, local mode.
#
# **Prerequisites:** notebooks 00–06 in either track; both tracks' environments (`python3 kit.py setup` and
# `python3 kit.py setup --sdk 3`), since this notebook builds the pipeline with each SDK.
# **Time:** 15 minutes. **Cost:** nothing — the definitions are built offline, and nothing is created.

# %% [markdown]
# ## Why move
#
# - **SDK v2 is in maintenance** since 2026-07-06 and reaches **end of support on 2027-07-06**; `import sagemaker`
#   warns about it from 2.257.4 on. Fixes after that date go into v3 only.
# - **Studio ships v3.** Every supported SageMaker Distribution image (4.x) has SDK v3 in the environment JupyterLab
#   runs in. (That is why the kit never installs into it: the v2 track has its own kernel.)
# - **v3 is several packages**, released together as one family: `sagemaker` 3.N asks for `sagemaker-core` 2.N
#   (API shapes, sessions, parameters, functions, properties), `sagemaker-train` 1.N (`ModelTrainer`),
#   `sagemaker-serve` 1.N (`ModelBuilder`) and `sagemaker-mlops` 1.N (pipelines and steps). Pin all five to one
#   family: pip would otherwise pick the newest of each.

# %% [markdown]
# ## Setup
#
# The kernel check, the kit, and the notebook's parameters. This notebook runs on either track's kernel.

# %%
# KERNEL CHECK

import pandas as pd
from IPython.display import display

import lab_helpers
from lab_helpers import sdk, tracks

pd.set_option("display.max_colwidth", 90)

# %% tags=["parameters"]
MODE: str = ""  # "local" | "remote" | "" for automatic (LAB_MODE, else remote in Studio, local elsewhere)

# %% [markdown]
# The session, as in every notebook. The comparison itself builds both definitions offline, whatever the mode.

# %%
sess = lab_helpers.session(MODE or None)
print(f"Mode: {lab_helpers.mode_of(sess)} · region {sess.boto_region_name} · bucket {sess.default_bucket()}")

# %% [markdown]
# This kernel's SDK, and where each track's environment is. The comparison below runs the other track's Python
# in a child process: one Python cannot import two major versions of the same package.

# %%
print("This kernel:", f"SageMaker SDK {sdk.major()}.x")
for major in (2, 3):
    python = tracks.environment_python(major)
    print(f"v{major} track: {python} ({'set up' if python.exists() else 'missing: ' + tracks.ENVIRONMENTS[major][2]})")

# %% [markdown]
# ## 1. Class by class
#
# The pipeline has the same steps in both SDKs; what you write to get each one changes. Left, the v2 track's code
# (notebooks 02–06); right, the v3 track's.
#
# | what | SDK v2 | SDK v3 |
# |---|---|---|
# | session | `sagemaker.workflow.pipeline_context.PipelineSession` | `sagemaker.core.workflow.pipeline_context.PipelineSession` |
# | parameters, `Join`, `JsonGet`, `PropertyFile` | `sagemaker.workflow.parameters` / `.functions` / `.properties` | `sagemaker.core.workflow.parameters` / `.functions` / `.properties` |
# | steps, `Pipeline` | `sagemaker.workflow.steps`, `.pipeline`, `.condition_step`, `.fail_step`, `.model_step` | `sagemaker.mlops.workflow.steps`, `.pipeline`, `.condition_step`, `.fail_step`, `.model_step` |
# | image URIs | `sagemaker.image_uris.retrieve` | `sagemaker.core.image_uris.retrieve` |
# | training | `Estimator(image_uri=…, instance_type=…, output_path=…)` and `.fit(inputs={…})` | `ModelTrainer(training_image=…, compute=Compute(…), output_data_config=OutputDataConfig(…))` and `.train(input_data_config=[InputData(…)])` |
# | training channels | `TrainingInput(s3_data=…, content_type=…)` | `InputData(channel_name=…, data_source=…, content_type=…)` |
# | scikit-learn processing | `SKLearnProcessor(framework_version="1.2-1", …)` | `ScriptProcessor(image_uri=image_uris.retrieve(framework="sklearn", …), command=["python3"], …)` |
# | processing inputs/outputs | `ProcessingInput(source=…, destination=…)`, `ProcessingOutput(output_name=…, source=…, destination=…)` | the API's own shapes: `ProcessingInput(input_name=…, s3_input=ProcessingS3Input(s3_uri=…, local_path=…, …))`, `ProcessingOutput(output_name=…, s3_output=ProcessingS3Output(…))` from `sagemaker.core.shapes` |
# | create a model | `Model(image_uri=…, model_data=…).create(…)` in a `ModelStep` | `ModelBuilder(image_uri=…, s3_model_data_url=…).build()` in a `ModelStep` |
# | register a model | `RegisterModel(…)` step collection, or `model.register(…)` in a `ModelStep` | `ModelBuilder(…).register(…)` in a `ModelStep` (there is no `RegisterModel`) |
#
# Two more things to know. Some of AWS's own v3 pages name import paths that do not exist (in 3.12 the pipeline
# classes are under `sagemaker.mlops.workflow` and `sagemaker.core.workflow`, as above): when an import fails,
# look in those two. And `sagemaker.__version__` is gone: ask `importlib.metadata.version("sagemaker")`.
#
# The training step, for example. SDK v2 (notebook 03, v2 track):
#
# ```python
# xgb_train = Estimator(image_uri=xgb_image_uri, instance_type="ml.m5.xlarge", instance_count=1,
#                       output_path=model_path, role=role, sagemaker_session=sess)
# xgb_train.set_hyperparameters(objective="reg:squarederror", num_round=50, max_depth=5, eta=0.2, subsample=0.7)
# step_train = TrainingStep(name="Train", step_args=xgb_train.fit(inputs={
#     "train": TrainingInput(s3_data=input_train_path, content_type="text/csv"),
#     "validation": TrainingInput(s3_data=input_validate_path, content_type="text/csv")}))
# ```
#
# SDK v3 (notebook 03, v3 track):
#
# ```python
# xgb_train = ModelTrainer(training_image=xgb_image_uri,
#                          compute=Compute(instance_type="ml.m5.xlarge", instance_count=1),
#                          output_data_config=OutputDataConfig(s3_output_path=model_path),
#                          hyperparameters={"objective": "reg:squarederror", "num_round": 50, "max_depth": 5,
#                                           "eta": 0.2, "subsample": 0.7},
#                          role=role, sagemaker_session=sess)
# step_train = TrainingStep(name="Train", step_args=xgb_train.train(input_data_config=[
#     InputData(channel_name="train", data_source=input_train_path, content_type="text/csv"),
#     InputData(channel_name="validation", data_source=input_validate_path, content_type="text/csv")]))
# ```
#
# The kit's complete builders of both pipelines, one per SDK, are `lab_helpers/pipelines.py` (v2) and
# `lab_helpers/pipelines_v3.py` (v3): read them side by side.

# %% [markdown]
# ## 2. The same pipeline? Compare the definitions
#
# What SageMaker runs is not your Python but the pipeline's **definition**, the JSON document `upsert()` sends. Two
# codes build the same pipeline when they build the same definition. `tracks.definition(builder, major)` builds the
# definition of one of the lesson's pipelines with SDK `major`, offline; you start with the outline's pipeline
# (Train → CreateModel → RegisterModel).

# %%
v2_outline = tracks.definition("outline", 2)
v3_outline = tracks.definition("outline", 3)
print("v2 steps:", [step["Name"] for step in v2_outline["Steps"]])
print("v3 steps:", [step["Name"] for step in v3_outline["Steps"]])

# %% [markdown]
# The step names already show one difference: v2's `ModelStep` names the step it writes `<name>-CreateModel` or
# `<name>-RegisterModel` (v2's `RegisterModel` collection is itself named `RegisterModel`, hence
# `RegisterModel-RegisterModel`), v3's names it after the `ModelStep`. A comparison has to rename v2's steps
# (and every reference to them) before it compares anything else; `sdk.v3_step_name` does it.

# %%
for step in v2_outline["Steps"]:
    print(f"{step['Name']:<30} → {sdk.v3_step_name(step['Name'])}")

# %% [markdown]
# Now every place the two definitions differ. `tracks.compare` flattens both documents into paths
# (`Steps.<name>.Arguments.…`), compares them path by path, and says why each difference is there — from the kit's
# list of documented differences, `sdk.V3_DEFINITION_DIFFERENCES`. A difference nobody has explained reads
# `UNDOCUMENTED`.

# %%
outline_differences = tracks.compare("outline")
display(outline_differences)

# %% [markdown]
# Read the table: v3 writes `MlflowConfig: null`; `ModelTrainer` has a shorter default timeout (3600 s instead of
# 86400 s), no debugger or profiler configuration, and states two API defaults (`InputMode`, `CompressionType`);
# `ModelBuilder` adds four environment variables to the model's container. Nothing changes which steps run, in what
# order, on which data, image and hyperparameters.
#
# Checkpoint: no difference is undocumented.

# %% tags=["nbval-check-output"]
undocumented = outline_differences[outline_differences["why"] == "UNDOCUMENTED"]
assert undocumented.empty, f"The two tracks differ where nobody documented it:\n{undocumented.to_string()}"
print("outline pipeline: the same in both tracks, but for", len(outline_differences), "documented differences")

# %% [markdown]
# If you want v3's training job to behave exactly like v2's, set the timeout yourself:
# `ModelTrainer(…, stopping_condition=StoppingCondition(max_runtime_in_seconds=86400))`, with `StoppingCondition`
# from `sagemaker.core.training.configs` (where `Compute`, `InputData` and `OutputDataConfig` are too). A pipeline
# whose jobs may run longer than an hour needs it.

# %% [markdown]
# ## 3. The whole abalone pipeline
#
# The same comparison for notebook 06's pipeline, with processing, a property file, a condition, a fail step and
# a batch transform.

# %%
abalone_differences = tracks.compare("abalone")
print(abalone_differences["why"].value_counts().to_string())

# %% [markdown]
# One more documented difference appears: v3's `ScriptProcessor` leaves out `AppManaged: false` on the script's own
# input, which is the API's default. Checkpoint: again, nothing undocumented.

# %% tags=["nbval-check-output"]
undocumented = abalone_differences[abalone_differences["why"] == "UNDOCUMENTED"]
assert undocumented.empty, f"The two tracks differ where nobody documented it:\n{undocumented.to_string()}"
print("abalone pipeline: the same in both tracks, but for", len(abalone_differences), "documented differences")

# %% [markdown]
# ## 4. What changes around the definition
#
# - **IAM calls.** A v3 `ModelTrainer`, and `Pipeline.create()`/`upsert()`, check the role: they call IAM
#   `GetRole` and `SimulatePrincipalPolicy`. Your role (or your Studio user) needs `iam:GetRole` and
#   `iam:SimulatePrincipalPolicy`, or those calls fail with `AccessDenied`. In local mode the kit's IAM answers them
#   (recorded, not enforced).
# - **S3 calls.** `ModelBuilder.register()` lists and checks buckets (`ListBuckets`, `HeadBucket`) while it
#   builds the step.
# - **Defaults.** The training timeout above; no debugger or profiler output in S3 (less clutter, nothing lost
#   for this lesson).
# - **Local mode.** v3's own `LocalPipelineSession` still needs Docker; the kit's local mode runs both tracks
#   offline, with the same engine.
#
# ## 5. How to move a pipeline of your own
#
# 1. Make a new environment (never upgrade the one JupyterLab runs in) with the five packages of one family, as the
#    kit's `requirements-v3.txt` pins them: `python3 -m venv v3-env && v3-env/bin/pip install -r requirements-v3.txt`
#    (`python3 kit.py setup --sdk 3` does this, plus the kit, for the v3 track).
# 2. Change the imports and classes with the table in section 1, one step at a time.
# 3. Build the definition with both SDKs and compare them, as above: every difference should be one you expect.
# 4. Run it once in local mode, then in your account.

# %% [markdown]
# ## Clean up
#
# Nothing to clean up: the definitions were built offline and nothing was created (in local mode, the lesson's
# data is in the local S3 already; notebook 09 removes it).
#
# ## Summary
#
# - SDK v2 reaches end of support on 2027-07-06; Studio ships v3, a family of five packages to pin together.
# - The pipeline's steps stay the same; their classes move: `ModelTrainer` for `Estimator`, `ScriptProcessor` with
#   an image for `SKLearnProcessor`, `ModelBuilder` for `Model` and `RegisterModel`, API shapes for processing
#   inputs and outputs, `sagemaker.mlops.workflow` and `sagemaker.core.workflow` for `sagemaker.workflow`.
# - Two definitions are compared path by path, after v2's ModelStep names are renamed; the lesson's two tracks
#   differ only in documented defaults.
#
# **Next:** that is the whole lesson, in both tracks.
