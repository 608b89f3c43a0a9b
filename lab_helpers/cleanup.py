"""Clean up: find everything the kit created, and delete it - only when you ask.

    from lab_helpers import cleanup
    cleanup.inventory(sess)                  # what the kit created that still exists
    cleanup.cleanup(sess)                    # a dry run: prints what WOULD be deleted
    cleanup.cleanup(sess, dry_run=False)     # deletes it (safe to run again: then it finds nothing)

A learner asks "what is still costing me money?"  In the lesson, nothing runs after a pipeline
execution ends: jobs stop by themselves and the kit deploys no endpoint.  What stays is storage
(S3 objects, the model registry's entries) and definitions (pipelines, models), which cost little
or nothing, but leave an account untidy.  This module finds exactly those, by name:

* the pipelines named in ``pipelines`` (default: the lesson's two) and their executions;
* the model package groups named in ``groups``, with their model package versions;
* the models those pipelines' executions created (their names come from the executions' steps);
* endpoints whose names start with one of ``endpoint_prefixes`` (normally none exist);
* S3 objects under ``s3://<default bucket>/<s3_prefix>/`` (the kit's data, outputs and models)
  and under ``s3://<default bucket>/<pipeline name>/`` (the scripts the SDK uploads for a
  pipeline's steps).

Anything else in your account - other pipelines, groups, objects, models - is never touched.
Everything goes through the session's clients, so it works the same in local and remote mode.
"""

from .config import LAB_PREFIX
from .pipelines import ABALONE_GROUP, ABALONE_PIPELINE, OUTLINE_GROUP, OUTLINE_PIPELINE

DEFAULT_PIPELINES = (ABALONE_PIPELINE, OUTLINE_PIPELINE)
DEFAULT_GROUPS = (ABALONE_GROUP, OUTLINE_GROUP)
#: Endpoint names the kit would use (case-insensitive prefixes); the lesson deploys none.
ENDPOINT_PREFIXES = ("abalone", LAB_PREFIX)
#: The kinds of resources, in the order cleanup() deletes them (dependents first).
KINDS = ("running_executions", "endpoints", "models", "model_packages", "model_package_groups",
         "pipelines", "s3_objects", "automation")
_GONE = ("ResourceNotFound", "ResourceNotFoundException", "NoSuchKey", "NoSuchBucket", "404")


class Inventory(dict):
    """A dict of lists (one per kind of resource); a notebook shows it as readable text."""

    printed = False  # set when cleanup() has just printed it: the notebook does not repeat it

    def _ipython_display_(self):
        if self.printed:
            self.printed = False
            return
        print(format_inventory(self))


def _pages(client, operation, key, **kwargs):
    """Every item under ``key`` of a paginated list call, through boto3's paginator for ``operation``."""
    return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page.get(key, [])]


def _gone(exc):
    """True if a ClientError says the resource does not exist (already deleted: not a failure)."""
    error = exc.response.get("Error", {})
    message = str(error.get("Message", "")).lower()
    return error.get("Code") in _GONE or "does not exist" in message or "could not find" in message


# -- what exists ------------------------------------------------------------------------------
def inventory(sess, pipelines=DEFAULT_PIPELINES, groups=DEFAULT_GROUPS, s3_prefix=LAB_PREFIX,
              endpoint_prefixes=ENDPOINT_PREFIXES):
    """What the kit created that still exists, as ``{kind: [item, ...]}``; deletes nothing.

    Kinds (see :data:`KINDS`): ``pipelines`` (name, arn, number of executions),
    ``running_executions``, ``model_package_groups`` (name, number of versions),
    ``model_packages`` (group, version, approval, arn), ``models`` (name, pipeline),
    ``endpoints``, ``s3_objects`` (bucket, key, size) and ``automation`` (notebook 08's
    S3 -> SQS -> Lambda trigger, remote mode: deleted with its ``teardown``).
    """
    if not s3_prefix or not str(s3_prefix).strip("/"):
        raise ValueError("s3_prefix must name a folder (e.g. 'pipelines-lab'): an empty prefix is the whole bucket.")
    found = Inventory({kind: [] for kind in KINDS})
    _find_pipelines(sess, pipelines, found)
    _find_registry(sess, groups, found)
    found["endpoints"] = [{"name": e["EndpointName"], "status": e.get("EndpointStatus")}
                          for e in _pages(sess.sagemaker_client, "list_endpoints", "Endpoints")
                          if e["EndpointName"].lower().startswith(tuple(p.lower() for p in endpoint_prefixes))]
    prefixes = [str(s3_prefix).strip("/") + "/"] + [f"{name}/" for name in pipelines]
    found["s3_objects"] = _find_objects(sess, prefixes)
    found["automation"] = _find_automation(sess, pipelines)
    return found


#: the automation resources notebook 08 creates (see lab_helpers.automation.setup.Resources)
_TRIGGER_PARTS = ("queue_url", "dlq_url", "topic_arn", "subscriptions", "role_arn", "function_arn",
                  "mapping_uuid", "notification_id")


def _find_automation(sess, pipelines):
    """The S3 -> SQS -> Lambda trigger of notebook 08, if it exists (remote mode only).

    Offline, notebook 08 builds the trigger inside an in-memory AWS emulator that is gone when
    the notebook ends, so there is nothing to find.
    """
    from .sessions import mode_of

    if mode_of(sess) != "remote" or not pipelines:
        return []
    from botocore.exceptions import BotoCoreError, ClientError

    from .automation.setup import TriggerSpec, describe

    spec = TriggerSpec(bucket=sess.default_bucket(), pipeline_name=pipelines[0])
    try:
        parts = {k: v for k, v in describe(sess.boto_session, spec).summary().items() if k in _TRIGGER_PARTS}
    except (ClientError, BotoCoreError) as exc:
        return [{"name": spec.name, "error": f"could not check the automation resources: {exc}"}]
    return [{"name": spec.name, "spec": spec, "parts": sorted(parts)}] if parts else []


def _find_pipelines(sess, names, found):
    client = sess.sagemaker_client
    for name in names:
        summaries = _pages(client, "list_pipelines", "PipelineSummaries", PipelineNamePrefix=name)
        match = [p for p in summaries if p["PipelineName"].lower() == name.lower()]
        if not match:
            continue
        executions = _pages(client, "list_pipeline_executions", "PipelineExecutionSummaries", PipelineName=name)
        found["pipelines"].append({"name": match[0]["PipelineName"], "arn": match[0]["PipelineArn"],
                                   "executions": len(executions)})
        found["running_executions"] += [
            {"pipeline": name, "arn": e["PipelineExecutionArn"], "status": e["PipelineExecutionStatus"]}
            for e in executions if e["PipelineExecutionStatus"] in ("Executing", "Stopping")]
        found["models"] += _execution_models(sess, name, executions)


def _execution_models(sess, pipeline, executions):
    """The models that the executions' CreateModel steps made and that still exist."""
    from botocore.exceptions import ClientError

    from .monitor import list_steps

    models, seen = [], set()
    for execution in executions:
        for step in list_steps(sess, execution["PipelineExecutionArn"]):
            arn = step.get("Metadata", {}).get("Model", {}).get("Arn")
            if not arn or arn in seen:
                continue
            seen.add(arn)
            try:
                described = sess.sagemaker_client.describe_model(ModelName=arn.rsplit("/", 1)[-1])
            except ClientError as exc:
                if _gone(exc):
                    continue
                raise
            models.append({"name": described["ModelName"], "pipeline": pipeline})
    return models


def _find_registry(sess, names, found):
    client = sess.sagemaker_client
    for name in names:
        summaries = _pages(client, "list_model_package_groups", "ModelPackageGroupSummaryList", NameContains=name)
        if not any(g["ModelPackageGroupName"].lower() == name.lower() for g in summaries):
            continue
        packages = _pages(client, "list_model_packages", "ModelPackageSummaryList", ModelPackageGroupName=name)
        found["model_package_groups"].append({"name": name, "versions": len(packages)})
        found["model_packages"] += [{"group": name, "version": p.get("ModelPackageVersion"),
                                     "approval": p.get("ModelApprovalStatus"), "arn": p["ModelPackageArn"]}
                                    for p in packages]


def _find_objects(sess, prefixes):
    s3 = sess.boto_session.client("s3", region_name=sess.boto_region_name)
    bucket = sess.default_bucket()
    objects = []
    for prefix in prefixes:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            objects += [{"bucket": bucket, "key": o["Key"], "size": o.get("Size", 0), "prefix": prefix}
                        for o in page.get("Contents", [])]
    return objects


# -- deleting -----------------------------------------------------------------------------------
def cleanup(sess, dry_run=True, pipelines=DEFAULT_PIPELINES, groups=DEFAULT_GROUPS, s3_prefix=LAB_PREFIX,
            endpoint_prefixes=ENDPOINT_PREFIXES):
    """Delete what :func:`inventory` finds - but only with ``dry_run=False``.

    With ``dry_run=True`` (the default) it prints and returns what it WOULD delete.  With
    ``dry_run=False`` it deletes in a safe order: it stops running executions, then deletes
    endpoints, models, model package versions before their groups, pipelines, and finally the
    S3 objects (1,000 per request).  Something already gone is not an error, so running it
    twice is fine: the second run finds nothing.  Returns the inventory of what was (or would
    be) deleted; anything that could not be deleted is listed under ``"errors"``.
    """
    found = inventory(sess, pipelines=pipelines, groups=groups, s3_prefix=s3_prefix,
                      endpoint_prefixes=endpoint_prefixes)
    if not any(found.values()):
        print("Nothing to delete: none of the kit's resources exist.")
    elif dry_run:
        print("Dry run: nothing was deleted. cleanup(sess, dry_run=False) would delete:\n" + format_inventory(found))
    else:
        found["errors"] = _delete_all(sess, found)
        print("Deleted:\n" + format_inventory(found))
    found.printed = True
    return found


def _delete_all(sess, found):
    from botocore.exceptions import ClientError

    client, errors = sess.sagemaker_client, []
    calls = {
        "running_executions": lambda i: client.stop_pipeline_execution(PipelineExecutionArn=i["arn"]),
        "endpoints": lambda i: client.delete_endpoint(EndpointName=i["name"]),
        "models": lambda i: client.delete_model(ModelName=i["name"]),
        "model_packages": lambda i: client.delete_model_package(ModelPackageName=i["arn"]),
        "model_package_groups": lambda i: client.delete_model_package_group(ModelPackageGroupName=i["name"]),
        "pipelines": lambda i: client.delete_pipeline(PipelineName=i["name"]),
    }
    for kind, call in calls.items():
        for item in found[kind]:
            try:
                call(item)
            except ClientError as exc:
                finished = kind == "running_executions" and "cannot be stopped" in str(exc)
                if not (_gone(exc) or finished):
                    errors.append(f"{kind[:-1]} {item.get('name') or item.get('arn')}: {exc}")
    for trigger in found.get("automation", []):
        if "spec" not in trigger:
            errors.append(f"automation {trigger['name']}: {trigger.get('error')}")
            continue
        from .automation.setup import teardown

        try:
            teardown(sess.boto_session, trigger["spec"])
        except ClientError as exc:
            errors.append(f"automation {trigger['name']}: {exc}")
    return errors + _delete_objects(sess, found["s3_objects"])


def _delete_objects(sess, objects):
    s3 = sess.boto_session.client("s3", region_name=sess.boto_region_name)
    errors = []
    for start in range(0, len(objects), 1000):
        batch = objects[start:start + 1000]
        response = s3.delete_objects(Bucket=batch[0]["bucket"], Delete={
            "Objects": [{"Key": o["key"]} for o in batch], "Quiet": True})
        errors += [f"s3 object {e.get('Key')}: {e.get('Code')} {e.get('Message')}" for e in response.get("Errors", [])
                   if e.get("Code") not in _GONE]
    return errors


# -- printing -----------------------------------------------------------------------------------
def format_inventory(inv):
    """An inventory (or a cleanup result) as a few lines of text, one per kind of resource."""
    lines = [
        _line("Pipelines", inv.get("pipelines"), lambda p: f"{p['name']} ({_n(p['executions'], 'execution')})"),
        _line("Running executions", inv.get("running_executions"), lambda e: e["arn"].rsplit("/", 1)[-1]),
        _line("Model package groups", inv.get("model_package_groups"),
              lambda g: f"{g['name']} ({_n(g['versions'], 'version')})"),
        _line("Model packages", inv.get("model_packages"), lambda p: f"{p['group']} v{p['version']} ({p['approval']})"),
        _line("Models", inv.get("models"), lambda m: m["name"]),
        _line("Endpoints", inv.get("endpoints"), lambda e: e["name"]),
        _objects_line(inv.get("s3_objects") or []),
        _line("Automation", inv.get("automation"),
              lambda a: f"{a['name']} ({', '.join(a['parts'])})" if "parts" in a else f"{a['name']}: {a['error']}"),
    ]
    if inv.get("errors"):
        lines += ["Could not delete:"] + [f"  {e}" for e in inv["errors"]]
    return "\n".join(lines)


def _n(count, word):
    return f"{count} {word}{'' if count == 1 else 's'}"


def _line(title, items, describe):
    items = items or []
    return f"  {title} ({len(items)}): " + (", ".join(describe(i) for i in items) if items else "none")


def _objects_line(objects):
    if not objects:
        return "  S3 objects (0): none"
    counts = {}
    for o in objects:
        counts[o["prefix"]] = counts.get(o["prefix"], 0) + 1
    size = sum(o["size"] for o in objects) / 1e6
    where = ", ".join(f"{prefix} ({n})" for prefix, n in counts.items())
    return f"  S3 objects ({len(objects)}, {size:.1f} MB) in s3://{objects[0]['bucket']}/: {where}"
