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
# # 07 · Monitoring pipeline executions
#
# A pipeline runs without you; afterwards you need to know what it did. Here you read an execution the way
# SageMaker Studio shows it: its graph, its steps and their timing, the jobs' logs, the artifacts, the
# metrics, and the model version it registered (outline Step 5).
#
# **What you will learn**
#
# - where SageMaker Studio shows pipelines, executions, step logs and the model registry, and what to click;
# - how to get the same information in code: the executions list, the step table, the execution graph, a
#   timeline, a job's CloudWatch logs, the output artifacts and the evaluation metrics;
# - how to judge a model from its predictions on the test set, and approve its registry version.
#
# **Prerequisites:** notebook 06 (if you have not run it, this notebook runs the abalone pipeline once).
# **Time:** about 20 minutes. **Cost:** reading is free. If the notebook has to run the pipeline in remote
# mode, that run takes 15–20 minutes and costs about $0.06 (four jobs on ml.m5.xlarge).

# %% [markdown]
# ## Setup
#
# You import the kit and its `monitor` module: each of its functions draws or tabulates one of Studio's views,
# from the same API calls Studio makes, so they work in both modes.

# %%
# KERNEL CHECK

import io
import json
import tarfile

from IPython.display import display

import lab_helpers
from lab_helpers import monitor

# %% [markdown]
# The notebook's parameters: the mode (empty means automatic).

# %% tags=["parameters"]
MODE: str = ""  # "local" | "remote" | "" for automatic (LAB_MODE, else remote in Studio, local elsewhere)

# %% [markdown]
# Open the session, as in every notebook.

# %%
sess = lab_helpers.session(MODE or None)
role = lab_helpers.execution_role(sess)
bucket = sess.default_bucket()
region = sess.boto_region_name
print(f"Mode: {lab_helpers.mode_of(sess)} · region {region} · bucket {bucket}")

# %% [markdown]
# ## 1. Where Studio shows all this
#
# In SageMaker Studio (remote mode) you monitor pipelines with the mouse:
#
# 1. In the left navigation pane, choose **Pipelines**, then the pipeline's name (`AbalonePipeline`).
# 2. The **Executions** tab lists the runs with their status. Choose one: its **graph** opens, each step
#    coloured by its status.
# 3. Choose a step in the graph. The panel on the right shows its settings, its input and output, and its
#    **Logs** (the job's CloudWatch log). A failed step shows its failure reason there.
# 4. The **Parameters** tab shows the values this execution ran with; **Definition** shows the pipeline graph.
# 5. For the registry: **Models** in the left pane, the **Registered models** tab, the model group
#    (`AbaloneModelPackageGroup`), then a version; **Update status** approves or rejects it.
#
# In Studio Classic the same views are under **Home → Pipelines** and **Home → Models → Model registry**.
# Offline there is no Studio, so the kit draws the same views in the notebook. The sections below show each
# one; in remote mode you can keep Studio open next to the notebook and compare.

# %% [markdown]
# ## 2. The executions list
#
# You need an execution to look at. `upsert` makes sure the pipeline exists (it only updates it if it is
# already there), and the next cell runs it once if it has never succeeded and is not running now.

# %%
pipeline_name = "AbalonePipeline"
pipeline = lab_helpers.pipelines.abalone_pipeline(sess)
pipeline.upsert(role_arn=role)
executions = monitor.executions_table(sess, pipeline_name)
if (executions["status"] == "Succeeded").any():
    print(f"{len(executions)} execution(s) of {pipeline_name} found.")
elif (executions["status"] == "Executing").any():
    print("An execution is still running: wait until Studio shows it finished, then run this cell again.")
else:
    print("No successful execution yet: running the abalone pipeline once (15-20 minutes in remote mode).")
    monitor.wait_with_progress(pipeline.start())
    executions = monitor.executions_table(sess, pipeline_name)

# %% [markdown]
# This is Studio's **Executions** tab: newest first, with the status, when each run started, how long it took,
# and for a failed run which step failed and why.

# %%
executions[["execution_id", "status", "start", "duration_s", "failure_reason"]]

# %% [markdown]
# You pick the newest execution that succeeded; every view below looks at it. Each function also accepts the
# execution object that `pipeline.start()` returns.

# %%
assert (executions["status"] == "Succeeded").any(), "No succeeded execution yet: run the cell above again later."
ok_arn = executions.loc[executions["status"] == "Succeeded", "arn"].iloc[0]
failed = executions.loc[executions["status"] == "Failed", "arn"]
print("Looking at execution", ok_arn.rsplit("/", 1)[-1])

# %% [markdown]
# ## 3. The execution graph
#
# `draw_pipeline` draws what Studio's graph shows: one box per step, coloured by status (green succeeded, red
# failed, grey not run), with the step's type and duration. Grey arrows are data dependencies ("uses that
# step's output"), green and red arrows are the condition's True and False branches. This run took the True
# branch, so the `FailStep` stayed grey.

# %%
monitor.draw_pipeline(sess, ok_arn)

# %% [markdown]
# If you ran notebook 06, there is also a failed execution. Its graph shows the other branch: the condition
# went False, the `FailStep` failed the execution, and the three if-branch steps never ran.

# %%
if len(failed):
    display(monitor.draw_pipeline(sess, failed.iloc[0]))
else:
    print("No failed execution yet: notebook 06, section 5, makes one with MseThreshold = 0.5.")

# %% [markdown]
# ## 4. The steps and their timing
#
# `steps_table` is the step list Studio shows when you choose a step: status, start, end, duration, and what
# the step ran (a job, a model package version, a condition's outcome).

# %%
steps_table = monitor.steps_table(sess, ok_arn)
steps_table[["step", "status", "start", "duration_s", "ran"]]

# %% [markdown]
# The timeline shows the same as bars on a time axis, so you see where the time went. In AWS most of a job's
# time is starting its instance and pulling the image (2–3 minutes each), and independent steps run in
# parallel; offline, the kit runs one step at a time and a job starts in well under a second.

# %%
monitor.plot_timeline(sess, ok_arn)

# %% [markdown]
# ## 5. Exercise: read the step list yourself
#
# The monitor functions are thin wrappers around one API call, `list_pipeline_execution_steps`. You get its
# raw answer here: a list of dicts with `StepName`, `StepStatus`, `StartTime`, `EndTime` and `Metadata`.

# %% tags=["needs-aws"]
steps = sess.sagemaker_client.list_pipeline_execution_steps(PipelineExecutionArn=ok_arn)["PipelineExecutionSteps"]
print(json.dumps(steps[0], indent=1, default=str)[:600])

# %% [markdown]
# Find the training step (`AbaloneTrain`) in `steps` and compute how long it took, in seconds, from its
# `StartTime` and `EndTime` (both are `datetime` objects). Then list the names of the steps that succeeded.

# %% tags=["needs-aws"]
# EXERCISE: Set train_seconds to the AbaloneTrain step's (EndTime - StartTime).total_seconds().
train_step = next(step for step in steps if step["StepName"] == "AbaloneTrain")
train_seconds = (train_step["EndTime"] - train_step["StartTime"]).total_seconds()
# END EXERCISE
# EXERCISE: Set succeeded to the list of StepName of the steps whose StepStatus is "Succeeded".
succeeded = [step["StepName"] for step in steps if step["StepStatus"] == "Succeeded"]
# END EXERCISE
print(f"AbaloneTrain took {train_seconds:.1f} s; {len(succeeded)} steps succeeded.")

# %% [markdown]
# Checkpoint: your numbers agree with the kit's table (which rounds durations to a tenth of a second).

# %% tags=["needs-aws"]
table_seconds = steps_table.set_index("step").loc["AbaloneTrain", "duration_s"]
assert abs(train_seconds - table_seconds) <= 0.1, f"Expected about {table_seconds} s: EndTime - StartTime."
assert sorted(succeeded) == sorted(steps_table.loc[steps_table["status"] == "Succeeded", "step"]), (
    "Keep the StepName of every step whose StepStatus is 'Succeeded'."
)
print("Checkpoint passed.")

# %% [markdown]
# ## 6. Job logs
#
# Every job writes its output to CloudWatch Logs (log group `/aws/sagemaker/TrainingJobs`, one stream per
# instance). `show_logs` finds the step's job and prints the end of its log, like the step's **Logs** tab.
# The `#011` in the training log is a tab character: the XGBoost container writes tabs, and CloudWatch shows
# them escaped. Each line is one boosting round with the error on the training and validation data.

# %% tags=["needs-aws"]
monitor.show_logs(sess, ok_arn, "AbaloneTrain", tail=12)

# %% [markdown]
# The evaluation step's log is shorter: the script prints the test metrics it writes to its report.

# %% tags=["needs-aws"]
monitor.show_logs(sess, ok_arn, "AbaloneEval", tail=9)

# %% [markdown]
# `show_logs` prints the last lines by default and says how many it hid; `full=True` prints the whole log. For a
# failed execution, `monitor.explain` puts each failed step's exact reason next to the end of its job's log:
# what to read first when `wait()` raises `WaiterError`.

# %% tags=["needs-aws"]
if len(failed):
    monitor.explain(failed.iloc[0], sess=sess)
else:
    print("No failed execution yet: notebook 06, section 5, makes one with MseThreshold = 0.5.")

# %% [markdown]
# In remote mode you can also open the job in the AWS console. This cell prints the links (it does nothing
# offline).

# %% tags=["remote-only", "needs-aws"]
if lab_helpers.mode_of(sess) == "remote":
    training = next(step for step in steps if step["StepName"] == "AbaloneTrain")
    arn_name = training["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[-1]  # ARNs are lower-case
    job_name = sess.sagemaker_client.describe_training_job(TrainingJobName=arn_name)["TrainingJobName"]
    console = f"https://{region}.console.aws.amazon.com"
    print("Training job:", f"{console}/sagemaker/home?region={region}#/jobs/{job_name}")
    print("Its logs:    ", f"{console}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/"
          f"$252Faws$252Fsagemaker$252FTrainingJobs$3FlogStreamNameFilter$3D{job_name}")

# %% [markdown]
# ## 7. Artifacts
#
# Each step's outputs are in S3. `artifacts` lists them: the processing splits, the model archive, the
# evaluation report, the transform output, and the registry entries. Offline, `local_path` is the file on
# your disk that stands in for the S3 object.

# %%
artifacts = monitor.artifacts(sess, ok_arn)
artifacts

# %% [markdown]
# The model archive, `model.tar.gz`, is what a deployment loads. You read it from S3 and list what is inside:
# one file, `xgboost-model`, the trained booster.

# %% tags=["needs-aws"]
model_uri = artifacts.loc[artifacts["artifact"] == "model.tar.gz", "location"].iloc[0]
model_bucket, model_key = model_uri[len("s3://"):].split("/", 1)
archive = sess.boto_session.client("s3", region_name=region).get_object(Bucket=model_bucket, Key=model_key)
with tarfile.open(fileobj=io.BytesIO(archive["Body"].read())) as tar:
    print(model_uri)
    print([(member.name, member.size) for member in tar.getmembers()])

# %% [markdown]
# ## 8. Metrics
#
# The evaluation report is the file the condition step read. Its shape is the one the model registry expects
# for regression metrics.

# %%
report = monitor.evaluation_report(sess, ok_arn)
print(json.dumps(report, indent=1))

# %% [markdown]
# A single number hides a lot. The evaluation step also saved its predictions, and `plot_predictions` draws
# them against the true ring counts: points on the dashed line are perfect. The model is close for young
# abalone, but above about 13 rings most points fall below the line: it predicts too few rings for old
# abalone, of which the data has only a few.

# %% tags=["needs-aws"]
monitor.plot_predictions(sess, ok_arn)

# %% [markdown]
# Checkpoint: this execution passed its condition, so its MSE is at most the default threshold.

# %% tags=["needs-aws"]
mse = report["regression_metrics"]["mse"]["value"]
assert mse <= 6.0, f"MSE {mse:.2f} is above 6.0, so this execution should not have succeeded: check ok_arn."
print(f"Test MSE {mse:.2f} (RMSE {mse ** 0.5:.2f} rings)")

# %% [markdown]
# ## 9. The model registry
#
# The successful execution registered a model version as `PendingManualApproval` (if you ran this notebook
# before, you approved it then). `registry_table` is
# Studio's view of the model group: every version, its approval status, its MSE (read from the report the
# version points to, its `ModelMetrics`) and the reviewer's note.

# %%
group_name = "AbaloneModelPackageGroup"
registry = monitor.registry_table(sess, group_name)
registry[["version", "approval", "created", "mse", "description"]]

# %% [markdown]
# You are the reviewer: the MSE is below the threshold and the plot looks reasonable, so you approve the
# newest version (Studio: choose the version, then **Update status → Approved**). `approve` calls
# `update_model_package` and returns the new status.

# %% tags=["needs-aws"]
latest = registry.iloc[0]
note = f"Test MSE {latest['mse']:.2f}; predictions reviewed in notebook 07."
status = monitor.approve(sess, latest["arn"], description=note)
print(f"Version {latest['version']}: {status}")

# %% [markdown]
# Checkpoint: the registry now shows the newest version as approved.

# %% tags=["needs-aws"]
registry = monitor.registry_table(sess, group_name)
assert registry.iloc[0]["approval"] == "Approved", "The newest version is not approved: call monitor.approve(...)."
registry[["version", "approval", "mse", "description"]].head(3)

# %% [markdown]
# ## Clean up
#
# This notebook only read what earlier runs created, and changed one approval status, which costs nothing.
# If it ran the pipeline for you, its jobs have stopped on their own. Notebook 09 deletes everything.
#
# ## Summary
#
# - Studio: **Pipelines → pipeline → Executions → execution** shows the graph; a step's panel has its logs;
#   **Models → Registered models** has the versions and their approval status.
# - In code: `list_pipeline_executions`, `list_pipeline_execution_steps`, CloudWatch Logs and S3 give you the
#   same facts; the kit's `monitor` functions tabulate and draw them.
# - Judge a model from its report *and* its predictions, then approve its version in the registry.
#
# **Next:** [08 · Automating the pipeline](08_automation.ipynb) (optional) starts the pipeline automatically when
# new data arrives in S3;
# [09 · Cleaning up](09_cleanup.ipynb) deletes what the lesson created.
