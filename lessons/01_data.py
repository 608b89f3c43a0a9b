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
# # 01 · The abalone data
#
# You get to know the data set the pipeline learns from, split it the way the pipeline does, and put it
# where the pipeline reads it (outline Steps 2 and 3).
#
# **What you will learn**
#
# - what the UCI Abalone data holds, and why it is a regression problem;
# - how the kit's preprocessing script turns it into train / validation / test splits;
# - how to upload the data to S3 yourself (or, in local mode, to S3's local twin folder), and find it again.
#
# **Prerequisites:** notebook 00 (setup). **Time:** 15 minutes.
# **Cost:** nothing in either mode — this notebook starts no jobs; the files it stores in S3 are under 1 MB.

# %% [markdown]
# ## Setup
#
# You import the kit and the libraries for looking at data.

# %%
# KERNEL CHECK

import inspect

import matplotlib.pyplot as plt
from IPython.display import Code

import lab_helpers
from lab_helpers.steps import preprocess

# %% [markdown]
# The parameters: the mode (empty = automatic), and whether the clean-up section keeps the data in S3.
# The next notebooks read it, so keep it unless you are done with the lesson.

# %% tags=["parameters"]
MODE: str = ""  # "local" | "remote" | "" for automatic (LAB_MODE, else remote in Studio, local elsewhere)
KEEP_DATA: bool = True  # False: the clean-up section deletes the data this notebook uploaded

# %% [markdown]
# You open a session in that mode; the role, bucket and region come from it.

# %%
sess = lab_helpers.session(MODE or None)
bucket = sess.default_bucket()
region = sess.boto_region_name
print(f"Mode: {lab_helpers.mode_of(sess)} · region {region} · bucket {bucket}")

# %% [markdown]
# ## 1. Load the data
#
# The kit ships the UCI Abalone data set in `data/abalone.csv`: 4177 abalones, one per row, with no header.
# `lab_helpers.data.load_abalone()` reads it into a pandas DataFrame and names the columns.

# %% tags=["nbval-check-output"]
df = lab_helpers.data.load_abalone()
df.shape

# %% [markdown]
# Each row is one animal: its sex (`M`, `F`, or `I` for infant), seven measurements of its shell and body
# (lengths in mm, weights in grams, both scaled down by 200 in this version of the data), and the number of
# **rings** in its shell.

# %%
df.head()

# %% [markdown]
# ## 2. Look at it
#
# `describe()` summarises each numeric column. Look at the ranges: no values are missing, and one `height`
# is 0 — real data has such oddities.

# %%
df.describe().round(3)

# %% [markdown]
# The three sexes are about equally common, so the one-hot columns the preprocessing makes from them are balanced.

# %% tags=["nbval-check-output"]
df["sex"].value_counts()

# %% [markdown]
# The target, `rings`, runs from 1 to 29, and most abalones have 7–11 rings. The histogram shows the long
# tail of old animals that any model finds hard to predict.

# %%
ax = df["rings"].plot.hist(bins=range(1, 31), edgecolor="white", figsize=(7, 3))
ax.set(xlabel="rings", ylabel="abalones", title="Rings per abalone")
plt.show()

# %% [markdown]
# ### Why this is a regression problem
#
# An abalone's age is its number of rings plus 1.5 years. Counting rings means cutting the shell, staining it
# and counting under a microscope; the measurements are quick. The target is a *number* whose size matters
# (predicting 10 rings for an 11-ring abalone is a smaller error than predicting 5), so you predict it with
# **regression** and score it with the mean squared error (MSE) — the number the pipeline's condition step
# checks. The weights track the rings closely, which is why a model can learn this at all:

# %%
df.drop(columns="sex").corr()["rings"].drop("rings").sort_values(ascending=False).round(2)

# %% [markdown]
# ## 3. Prepare train, validation and test splits
#
# The pipeline's first step runs the kit's preprocessing script, `lab_helpers/steps/preprocess.py`, in a
# processing job. It is an ordinary, unit-tested Python file, so you can read it and call it here. Its main
# function shuffles the rows (seeded, so every run gives the same split), splits them 70 / 15 / 15, scales the
# measurements, one-hot encodes `sex`, and puts `rings` first — the layout SageMaker's XGBoost expects.

# %%
Code(inspect.getsource(preprocess.preprocess), language="python")

# %% [markdown]
# **Exercise.** Call `preprocess.preprocess` on `df` with `random_state=42` (the seed the pipeline uses) and
# unpack its result into `train`, `validation` and `test`.

# %%
# EXERCISE: Call preprocess.preprocess(df, random_state=42) and unpack the result into train, validation, test.
train, validation, test = preprocess.preprocess(df, random_state=42)
# END EXERCISE
len(train), len(validation), len(test)

# %% [markdown]
# Checkpoint: the three splits hold every row once, about 70 / 15 / 15, with `rings` as the first column, and
# they are the pipeline's splits: the same rows in the same order as `random_state=42` gives.

# %% tags=["nbval-check-output"]
assert (len(train), len(validation), len(test)) == (2923, 627, 627), (
    "Expected splits of 2923 / 627 / 627 rows: call preprocess.preprocess(df, random_state=42) "
    "with the default ratios."
)
assert list(train.columns[:1]) == ["rings"], "rings must be the first column: XGBoost reads the label from there."
pipeline_splits = preprocess.preprocess(df, random_state=42)
assert all(mine.equals(theirs) for mine, theirs in zip((train, validation, test), pipeline_splits)), (
    "The sizes are right but the rows differ from the pipeline's splits: pass random_state=42 (the seed the "
    "pipeline uses); another seed shuffles the rows differently."
)
print("Splits OK:", list(train.columns))

# %% [markdown]
# The features are now scaled (mean 0 on the training rows) and `sex` is three 0/1 columns. The files the
# pipeline writes have no header row: XGBoost's CSV input is label first, features after, nothing else.

# %%
train.head(3).round(3)

# %% [markdown]
# ## 4. Put the data where the pipeline reads it
#
# The full pipeline's first step reads the raw CSV from S3, so you upload it there. Two rules keep the lab
# portable and easy to clean up: use the session's **default bucket** (`sess.default_bucket()`, never a bucket
# name typed in), and put everything under the kit's **prefix** `lab_helpers.LAB_PREFIX` (`pipelines-lab`).
# The pipeline reads the raw data from `s3://<default bucket>/pipelines-lab/data/abalone.csv`.
#
# **Exercise.** Upload the kit's copy of the data, `local_csv`, with `sess.upload_data(path, bucket=...,
# key_prefix=...)`; it returns the new object's S3 URI: keep it in `input_uri`.

# %%
local_csv = str(lab_helpers.data.abalone_csv())
# EXERCISE: Upload local_csv to the default bucket, key prefix pipelines-lab/data: input_uri = sess.upload_data(...).
input_uri = sess.upload_data(local_csv, bucket=bucket, key_prefix=f"{lab_helpers.LAB_PREFIX}/data")
# END EXERCISE

# %% [markdown]
# Checkpoint: the object is in the default bucket, under the prefix, where the pipeline reads it, and it is the
# whole file. `lab_helpers.checkpoints` reads your variables (`globals()`) and says what to fix if something is off.

# %%
lab_helpers.checkpoints.s3_upload(globals())

# %% [markdown]
# Two kit helpers upload the rest; both are idempotent (they upload only what is missing), so every notebook
# can call them. `upload_abalone` stores the batch-transform input next to your raw CSV (which it finds already
# there); `prepare_outline_data` stores the outline's `train.csv` and `validate.csv` — the splits you just made,
# made by the same script with the same seed.

# %%
data_uris = lab_helpers.data.upload_abalone(sess)
split_uris = lab_helpers.pipelines.prepare_outline_data(sess)
for name, uri in {**data_uris, **split_uris}.items():
    print(f"{name:<11}{uri}")

# %% [markdown]
# You read the start of the uploaded `train.csv` back through the S3 API — the same call in both modes.

# %%
train_bucket, train_key = split_uris["train"][len("s3://"):].split("/", 1)
uploaded = sess.read_s3_file(train_bucket, train_key)
print(uploaded[:300])

# %% [markdown]
# Checkpoint: the uploaded file has one line per row of your `train` split, and no header.

# %%
lines = uploaded.strip().splitlines()
assert len(lines) == len(train), f"train.csv has {len(lines)} lines, your train split {len(train)} rows."
assert not lines[0].startswith("rings"), "train.csv must have no header row."
print(f"train.csv: {len(lines)} rows, no header - OK")

# %% [markdown]
# In local mode, S3 is a folder: every object is a plain file under `LAB_HOME/s3/<bucket>/`, which you can open
# with any tool. `sess.local_path(uri)` tells you which file.

# %%
if lab_helpers.mode_of(sess) == "local":
    for name, uri in {**data_uris, **split_uris}.items():
        path = sess.local_path(uri)
        print(f"{name:<11}{path.stat().st_size:>8,} bytes  {path}")
else:
    print("Remote mode: see the files in the S3 console, under", f"s3://{bucket}/{lab_helpers.LAB_PREFIX}/")

# %% [markdown]
# ## Clean up
#
# The data stays in S3 by default: notebooks 02–08 read it, and storing under 1 MB costs a fraction of a cent
# per month. Set `KEEP_DATA = False` in the parameters cell to delete it here (any later notebook uploads it
# again).

# %%
if not KEEP_DATA:
    s3 = sess.boto_session.client("s3", region_name=region)
    for uri in {**data_uris, **split_uris}.values():
        data_bucket, key = uri[len("s3://"):].split("/", 1)
        s3.delete_object(Bucket=data_bucket, Key=key)
        print("deleted", uri)
else:
    print("Keeping the data for the next notebooks.")

# %% [markdown]
# ## Summary
#
# - The abalone data has 4177 rows: sex, seven measurements, and the rings — the regression target
#   (age ≈ rings + 1.5).
# - The kit's preprocessing script, the same one the pipeline runs, splits it 70 / 15 / 15 with a fixed seed,
#   scales it and writes `rings` first, with no header.
# - `sess.upload_data` puts a file in S3 and returns its URI: the default bucket, under the kit's prefix;
#   `upload_abalone` and `prepare_outline_data` add the rest once; in local mode S3 is the folder `LAB_HOME/s3`.
#
# **Next:** [02 · Sessions and parameters](02_parameters.ipynb) — the session, role, image and S3 paths the
# pipeline needs, and the parameters that let you change an execution without editing the pipeline.
