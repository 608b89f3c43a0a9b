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
# # 09 · Cleaning up
#
# You find everything the lesson created, see what of it costs money, and delete it — only when you say so.
#
# **What you will learn**
#
# - what keeps costing money after a pipelines lesson, and what costs nothing;
# - how to list the kit's pipelines, executions, models, registry entries and S3 objects;
# - how to delete them in a safe order, with a dry run first;
# - how to stop your SageMaker Studio instances, and how to reset local mode.
#
# **Prerequisites:** none (it finds whatever notebooks 00–08 left behind). **Time:** 5 minutes.
# **Cost:** nothing; it only lists and deletes.

# %% [markdown]
# ## Setup
#
# You import the kit and its `cleanup` module.

# %%
# KERNEL CHECK

import lab_helpers
from lab_helpers import cleanup

# %% [markdown]
# The notebook's parameters. `DELETE = False` is a **dry run**: the notebook lists what it would delete and
# deletes nothing. Set it to `True` (here, or with papermill) when you are done with the lesson.

# %% tags=["parameters"]
MODE: str = ""  # "local" | "remote" | "" for automatic (LAB_MODE, else remote in Studio, local elsewhere)
DELETE: bool = False  # True deletes what the kit created; False only lists it (dry run)

# %% [markdown]
# Open the session, as in every notebook.

# %%
sess = lab_helpers.session(MODE or None)
bucket = sess.default_bucket()
region = sess.boto_region_name
print(f"Mode: {lab_helpers.mode_of(sess)} · region {region} · bucket {bucket}")

# %% [markdown]
# ## 1. What costs money
#
# In remote mode you pay for what *runs* and for what is *stored*:
#
# - **Endpoints** bill every hour they are `InService`, whether or not anyone calls them. The lesson deploys
#   none (its batch transform job stops when it is done), but an endpoint you made while experimenting is
#   the most expensive thing you can forget.
# - **Jobs** (processing, training, transform) bill per second while they run and stop by themselves. Only
#   an execution that is still running can start new ones.
# - **S3** storage: the kit's data, splits, models and reports, a few MB — a fraction of a cent per month.
# - **SageMaker Studio**: your JupyterLab space runs on an instance (for example `ml.t3.medium`) that bills
#   while it is running, even when you close the browser tab. Section 5 says how to stop it.
# - Pipelines, model definitions and the model registry cost **nothing**; you delete them to keep your
#   account tidy.
#
# In local mode nothing costs money; everything is in one folder, `LAB_HOME`.

# %% [markdown]
# ## 2. What the kit created
#
# `cleanup.inventory` looks only for what the kit creates, by name: its two pipelines and their executions,
# its two model package groups and their versions, the models its executions created, endpoints with the
# kit's prefixes, and S3 objects under the kit's prefixes. Nothing else in your account is touched.

# %%
inventory = cleanup.inventory(sess)
print(cleanup.format_inventory(inventory))

# %% [markdown]
# Each entry is a list of dicts. For example, the model package versions, with their approval status:

# %%
for package in inventory["model_packages"]:
    print(f"{package['group']:28} version {package['version']:>3}  {package['approval']}")

# %% [markdown]
# Endpoints are what you most need to catch, and not only the kit's. In remote mode this cell lists every
# endpoint in service in this region of your account (offline it does nothing).

# %% tags=["remote-only"]
if lab_helpers.mode_of(sess) == "remote":
    in_service = sess.sagemaker_client.list_endpoints(StatusEquals="InService")["Endpoints"]
    for endpoint in in_service:
        print(f"{endpoint['EndpointName']:40} since {endpoint['CreationTime']:%Y-%m-%d %H:%M}")
    print(f"{len(in_service)} endpoint(s) in service in {region}; delete the ones you no longer need.")

# %% [markdown]
# ## 3. Exercise: what does the storage cost?
#
# Each S3 object in the inventory has a `size` in bytes. Add them up, in MB, and work out what storing them
# costs per month at the S3 Standard price of about $0.023 per GB-month (us-east-1).

# %%
# EXERCISE: Set total_mb (sum of the objects' "size" / 1e6) and monthly_usd (total_mb / 1000 * 0.023).
total_mb = sum(obj["size"] for obj in inventory["s3_objects"]) / 1e6
monthly_usd = total_mb / 1000 * 0.023
# END EXERCISE
print(f"{len(inventory['s3_objects'])} objects, {total_mb:.1f} MB: about ${monthly_usd:.5f} per month")

# %% [markdown]
# Checkpoint: storage is not what makes this lesson expensive.

# %%
total_bytes = sum(obj["size"] for obj in inventory["s3_objects"])
assert abs(total_mb * 1e6 - total_bytes) < 1, "Sum the 'size' (bytes) of every object, then divide by 1e6."
assert monthly_usd < 0.01, f"${monthly_usd:.4f} per month: did you divide by 1000 (MB to GB)?"
print("Checkpoint passed.")

# %% [markdown]
# ## 4. Delete — or rehearse it
#
# `cleanup.cleanup` deletes in a safe order: it stops running executions, then deletes endpoints, models,
# model package versions before their groups, pipelines, and finally the S3 objects. Something already gone
# is not an error, so you can run it again. With `dry_run=True` it only prints what it would delete.

# %%
result = cleanup.cleanup(sess, dry_run=not DELETE)

# %% [markdown]
# Checkpoint: you look again. After a real run nothing of the kit's is left; after a dry run everything is
# still there.

# %%
after = cleanup.inventory(sess)
left = {kind: len(items) for kind, items in after.items() if items}
if DELETE:
    assert not left and not result.get("errors"), f"Still there: {left}; errors: {result.get('errors')}"
    print("Everything the kit created is gone.")
else:
    assert left == {kind: len(items) for kind, items in inventory.items() if items}, "A dry run must delete nothing."
    print("Dry run: nothing was deleted. Set DELETE = True in the parameters cell and run the notebook again.")

# %% [markdown]
# ## 5. Stop what runs outside the kit
#
# **SageMaker Studio.** Deleting resources does not stop the instance your notebooks run on. When you finish:
#
# - In Studio, open **Running instances** from the home page (or the **JupyterLab** page) and choose **Stop**
#   for your space. Shutting down a kernel alone does not stop the instance.
# - In Studio Classic, open the **Running Terminals and Kernels** panel in the left sidebar and shut down the
#   running instances and apps (or **File → Shut Down**).
# - Ask your administrator to turn on *idle shutdown* for JupyterLab, so a forgotten space stops by itself.
#
# In remote mode this cell lists the Studio apps that are running in your account and region, with their
# instance types (offline it does nothing). It does not stop them: one of them is running this notebook.

# %% tags=["remote-only"]
if lab_helpers.mode_of(sess) == "remote":
    try:
        apps = [a for a in sess.sagemaker_client.list_apps(MaxResults=100)["Apps"] if a.get("Status") == "InService"]
    except sess.sagemaker_client.exceptions.ClientError as error:
        apps = []
        print("Your role may not list Studio apps; check Running instances in Studio instead.", error)
    for app in apps:
        owner = app.get("SpaceName") or app.get("UserProfileName", "")
        instance = app.get("ResourceSpec", {}).get("InstanceType", "")
        print(f"{app['AppType']:16} {app['AppName']:24} {owner:24} {instance}")
    print(f"{len(apps)} Studio app(s) running.")

# %% [markdown]
# **Local mode.** Everything lives in `LAB_HOME`: the S3 folder, the control plane's database and every
# job's folder and logs. `cleanup` empties the S3 folder and the registry; to start from nothing, delete the
# whole folder after closing this notebook (`rm -rf` the path below, or delete it in your file manager).

# %%
if lab_helpers.mode_of(sess) == "local":
    home = lab_helpers.lab_home()
    size_mb = sum(f.stat().st_size for f in home.rglob("*") if f.is_file()) / 1e6
    print(f"LAB_HOME is {home} ({size_mb:.1f} MB)")
else:
    print("Remote mode: nothing on this machine to delete.")

# %% [markdown]
# ## Clean up
#
# This notebook *is* the clean-up. With `DELETE = True` it removed everything the kit created in this mode
# and region; run it once per region you used.
#
# ## Summary
#
# - After the lesson, nothing runs: jobs stop by themselves and no endpoint exists. What stays is storage and
#   definitions, which cost little or nothing.
# - `cleanup.inventory` lists the kit's resources; `cleanup.cleanup(sess, dry_run=False)` deletes them in a
#   safe order and can run twice.
# - Stop your Studio space when you finish; offline, delete `LAB_HOME` to start over.
#
# **Next:** [10 · From SDK v2 to SDK v3](10_v2_to_v3.ipynb) (optional) compares the lesson's two tracks. That is
# the whole lesson; to rehearse it offline, run the notebooks again from [00 · Setup](00_setup.ipynb) with
# `LAB_MODE=local`.
