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
# # 00 · Setup: what you build, and where it runs
#
# You check that your environment is ready for the lesson, and you see the pipeline you are about to build.
#
# **What you will learn**
#
# - why ML teams put their training in a pipeline instead of a notebook;
# - what the abalone pipeline does, step by step;
# - the two modes the kit runs in — *remote* (your AWS account) and *local* (offline) — and the one switch between them;
# - how to check your Python, SageMaker SDK and library versions, your region, role and bucket;
# - what the lesson costs in remote mode, and where local mode keeps its files.

# %% [markdown] track="v2"
# **Prerequisites:** the kit installed (`python3 kit.py lab` on a laptop; in SageMaker Studio,
# `python3 kit.py setup` in a terminal) and this notebook on the kit's kernel, *Lesson 7.1 – SageMaker SDK 2.x*.
# **Time:** 5 minutes. **Cost:** nothing — this notebook starts no jobs.

# %% [markdown] track="v3"
# **Prerequisites:** the kit's v3 track installed (`python3 kit.py lab --sdk 3` on a laptop; in SageMaker Studio,
# `python3 kit.py setup --sdk 3` in a terminal) and this notebook on the kit's v3 kernel, *Lesson 7.1 – SageMaker
# SDK 3.x*. **Time:** 5 minutes. **Cost:** nothing — this notebook starts no jobs.

# %% [markdown]
# ## Why pipelines
#
# In a notebook, training a model is a sequence of cells someone runs by hand, in some order, with whatever data
# and settings were around that day. A SageMaker pipeline writes that sequence down as a definition that
# SageMaker runs for you:
#
# - **repeatable** — the same steps, in the same order, every time; what may change (the data, a threshold, an
#   instance type) is a *parameter* of one execution;
# - **automatic** — an execution can start without anyone at a keyboard: when new data lands in S3, or on a
#   schedule (notebook 08);
# - **gated** — a condition step lets only a model that is good enough reach the model registry;
# - **traceable** — every execution, step, log, output and model version is kept, so you can say which data and
#   code produced a model (notebook 07);
# - **cheap to leave** — nothing runs between executions: you pay for the jobs, not for the pipeline.
#
# The notebooks build the pipeline one step at a time (03–05), assemble and run it (06), watch it (07) and
# automate it (08).

# %% [markdown]
# ## The pipeline you build
#
# Over the next notebooks you build AWS's *abalone* example as a SageMaker pipeline. It predicts the age of an
# abalone (a sea snail) from measurements of its shell:
#
# ```
# AbaloneProcess    a processing job splits the raw data into train / validation / test and scales it
#   ↓
# AbaloneTrain      a training job fits SageMaker's built-in XGBoost algorithm
#   ↓
# AbaloneEval       a processing job scores the model on the test split → evaluation.json
#   ↓
# AbaloneMSECond    is the test mean squared error (MSE) at most a threshold?
#   ├─ yes → AbaloneRegisterModel                  file the model in the model registry
#   │        AbaloneCreateModel → AbaloneTransform  create a SageMaker model, batch-score new data
#   └─ no  → AbaloneMSEFail                        stop the execution with a message
# ```
#
# In SageMaker Studio, the Pipelines *visual editor* shows such a graph, and can even build one by drag and drop;
# here you build it in code, which you can version, review and test.
#
# Notebooks 01–04 build the parts one at a time: the data (01), parameters (02), the training step (03) and the
# model step (04). Then you register the model (05), assemble and run the whole pipeline (06), monitor it (07),
# automate it (08), and clean up (09).

# %% [markdown]
# ## Two modes, one switch
#
# The same notebook code runs in two places:
#
# | | **remote** | **local** |
# |---|---|---|
# | where | SageMaker Studio, or a machine with AWS credentials | your laptop: no AWS account, Docker or network |
# | jobs run on | SageMaker instances (you pay for them) | host processes on your machine |
# | S3 | your account's S3 | a folder, `LAB_HOME/s3/<bucket>/<key>` |
#
# `lab_helpers.session()` picks the mode and returns a SageMaker `PipelineSession` for it. The mode comes from,
# in order: the `MODE` parameter in the cell below, the `LAB_MODE` environment variable, and otherwise
# *remote* inside SageMaker Studio and *local* everywhere else. Nothing else in the notebooks changes.
#
# ## Two tracks: SageMaker SDK v2 or v3
#
# The lesson comes in two versions of the same notebooks, one per major version of the SageMaker Python SDK:
#
# | | **v2 track** (`notebooks/`) | **v3 track** (`notebooks/v3/`) |
# |---|---|---|
# | code | what the lesson outline shows: `Estimator`, `sagemaker.workflow`, `RegisterModel` | `ModelTrainer`, `sagemaker.mlops.workflow`, `ModelBuilder(…).register()` |
# | kernel | *Lesson 7.1 – SageMaker SDK 2.x* (`python3 kit.py setup`) | *Lesson 7.1 – SageMaker SDK 3.x* (`python3 kit.py setup --sdk 3`) |
# | status | maintenance only; end of support on **2027-07-06** | what SageMaker Studio's images ship today |
#
# Both build the same pipeline, with the same steps, names and parameters, and both run in either mode. Pick v2
# to follow the outline line by line, v3 for the code you will write from now on; notebook 10 walks through the
# differences. The text is the same in both tracks; only the code cells differ.

# %% [markdown] track="v2"
# ## Setup
#
# First the cell checks that the notebook runs on the kit's kernel, **Lesson 7.1 – SageMaker SDK 2.x** (the kit's
# own environment, which `python3 kit.py setup` builds and registers). SageMaker Studio's own kernels have
# SageMaker SDK v3, which the lesson's v2 code cannot use — and which must not be downgraded, since JupyterLab
# itself runs in that environment. On any other kernel the cell stops and says which one to pick; every notebook
# starts with the same check. Then you import the kit's helper package. It holds the code that would distract
# from the lesson: sessions, data upload, and the offline engine.

# %% [markdown] track="v3"
# ## Setup
#
# First the cell checks that the notebook runs on the kit's v3 kernel, **Lesson 7.1 – SageMaker SDK 3.x** (the
# kit's own v3 environment, which `python3 kit.py setup --sdk 3` builds and registers). SageMaker Studio's own
# kernels have SDK v3 too, but not the kit's helper package and libraries, and installing them there would change
# the environment JupyterLab itself runs in. On any other kernel the cell stops and says which one to pick; every
# notebook starts with the same check. Then you import the kit's helper package. It holds the code that would
# distract from the lesson: sessions, data upload, and the offline engine.

# %%
# KERNEL CHECK

import platform
from importlib.metadata import PackageNotFoundError, version

import lab_helpers

# %% [markdown]
# The next cell holds the notebook's parameters. Leave `MODE` empty to let the kit choose, or set it to
# `"local"` or `"remote"`. (Test runs set it with papermill, which is why the cell is tagged `parameters`.)

# %% tags=["parameters"]
MODE: str = ""  # "local" | "remote" | "" for automatic (LAB_MODE, else remote in Studio, local elsewhere)

# %% [markdown]
# Now you create the session. Every later notebook starts with these same lines.

# %%
sess = lab_helpers.session(MODE or None)
role = lab_helpers.execution_role(sess)
bucket = sess.default_bucket()
region = sess.boto_region_name
print(f"Mode: {lab_helpers.mode_of(sess)} · region {region} · bucket {bucket}")

# %% [markdown] track="v2"
# ## 1. Check your environment
#
# You print the versions the lesson depends on. The SageMaker Python SDK must be **2.x**: the v2 track's code
# (`sagemaker.workflow`, `Estimator`, `PipelineSession`) is SDK v2, and SDK v3 removed `sagemaker.workflow`.
# XGBoost is 1.7 because that is what the `sagemaker-xgboost:1.7-1` image runs, so a model trained there loads here.

# %% [markdown] track="v3"
# ## 1. Check your environment
#
# You print the versions the lesson depends on. The SageMaker Python SDK must be **3.x**: the v3 track's code uses
# its packages `sagemaker-core`, `-train`, `-serve` and `-mlops`, which are versioned together (3.N with 2.N and
# 1.N). XGBoost is 1.7 because that is what the `sagemaker-xgboost:1.7-1` image runs, so a model trained there loads here.

# %%
import sagemaker


def installed(package):
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


print("Python      ", platform.python_version())
for package in ("sagemaker", "sagemaker-mlops", "xgboost", "scikit-learn", "pandas"):
    print(f"{package:<15}", installed(package))

# %% [markdown]
# This checkpoint stops the notebook if the SDK is the wrong major version, and says how to fix it.

# %% track="v2"
assert sagemaker.__version__.startswith("2."), (
    f"SageMaker SDK {sagemaker.__version__} is installed, but the lesson needs 2.x: "
    "switch the kernel to 'Lesson 7.1 – SageMaker SDK 2.x' (Kernel → Change Kernel…); if it isn't listed, "
    "run `python3 kit.py setup` in a terminal in the kit's folder."
)
print("SageMaker SDK", sagemaker.__version__, "- OK")

# %% track="v3"
# (SDK v3's `sagemaker` package has no `__version__`: you ask the installed distributions instead)
assert installed("sagemaker").startswith("3.") and installed("sagemaker-mlops") != "not installed", (
    f"SageMaker SDK {installed('sagemaker')} (sagemaker-mlops {installed('sagemaker-mlops')}) is installed, but the "
    "v3 track needs 3.x with sagemaker-mlops: switch the kernel to 'Lesson 7.1 – SageMaker SDK 3.x' (Kernel → "
    "Change Kernel…); if it isn't listed, run `python3 kit.py setup --sdk 3` in a terminal in the kit's folder."
)
print("SageMaker SDK", installed("sagemaker"), "- OK")

# %% [markdown]
# ## 2. Region, role and bucket
#
# The notebooks never type an account id, a role ARN, a bucket or a region: they ask the session. The
# **region** is where your jobs run, the **role** is the IAM role SageMaker assumes to run them, and the
# **bucket** is the SDK's default bucket, `sagemaker-<region>-<account id>`, created on first use.
# In local mode the account id is the obviously fake `000000000000`.

# %%
print("region:", region)
print("role:  ", role)
print("bucket:", bucket)

# %% [markdown]
# In remote mode you also see which AWS account you are working in, and whether you are inside SageMaker Studio.
# (This cell does nothing offline.)

# %% tags=["remote-only"]
if lab_helpers.mode_of(sess) == "remote":
    identity = sess.boto_session.client("sts").get_caller_identity()
    print("AWS account:", identity["Account"])
    print("caller:     ", identity["Arn"])
    print("in SageMaker Studio:", lab_helpers.in_studio())

# %% [markdown]
# The kit's preflight check does all of this in one go, one line per check with ✓ / ✗ / ? and the fix under
# each ✗ — in remote mode it also checks your credentials, role, bucket and (where IAM lets it ask) whether the
# role may do what the lesson does. From a terminal: `python -m lab_helpers check`.

# %%
from lab_helpers import preflight

checks = preflight.run_checks(lab_helpers.mode_of(sess))
print(preflight.format_checks(checks))
assert preflight.exit_code(checks) == 0, "Fix the lines marked ✗ above (each says how), then run this cell again."

# %% [markdown]
# ## 3. What the lesson costs in remote mode
#
# In local mode the lesson costs nothing. In remote mode you pay for the instances your jobs run on, per
# second while they run, with a one-minute minimum. The kit keeps a small, dated price table; check
# <https://aws.amazon.com/sagemaker/pricing/> for your region and today's prices. Your Studio notebook's own
# instance (e.g. ml.t3.medium, about $0.05 per hour) also bills while it is open.

# %%
from lab_helpers import costs

print(costs.lesson_cost_text())

# %% [markdown]
# All of notebooks 00–09 together cost well under $1, if you run each clean-up section and shut down your
# Studio apps when you finish. No notebook creates an endpoint, which would bill every hour until deleted.

# %% [markdown]
# ## 4. Where local mode keeps things
#
# Everything local mode creates lives under one folder, `LAB_HOME` (default `~/.sagemaker-lab`): S3 objects
# as plain files, the pipelines and jobs in a small database, and each job's logs. `sess.local_path(uri)` gives
# the file behind an `s3://` URI; it exists on the local session only, so the cell checks the mode first.

# %%
if lab_helpers.mode_of(sess) == "local":
    example_uri = f"s3://{bucket}/{lab_helpers.LAB_PREFIX}/data/abalone.csv"
    print("LAB_HOME:", lab_helpers.lab_home())
    print(example_uri)
    print("  is the local file", sess.local_path(example_uri))
else:
    print("Remote mode: your data lives in S3, in", f"s3://{bucket}/{lab_helpers.LAB_PREFIX}/")

# %% [markdown]
# ## Clean up
#
# This notebook created nothing: it only read settings (in local mode, the session creates the empty
# `LAB_HOME` folder). To start local mode from scratch at any time, delete `LAB_HOME` (or run notebook 09).
#
# ## Summary
#
# - A pipeline makes training repeatable, automatic, gated and traceable; you pay only for the jobs it runs.
# - The lesson builds the abalone pipeline: preprocess → train → evaluate → condition → register, create model and
#   batch transform — or fail.
# - `lab_helpers.session(MODE or None)` is the one switch between remote and local mode; role, bucket and region come
#   from the session, never from the notebook.
# - Remote mode costs cents per job; local mode costs nothing and keeps its files in `LAB_HOME`.
# - Two tracks, one per SDK: v2 (the outline's code, supported until 2027-07-06) and v3 (what Studio ships).
#
# **Next:** [01 · The abalone data](01_data.ipynb) — you look at the data and put it where the pipeline reads it.
