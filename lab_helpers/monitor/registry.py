"""The model registry: a group's versions as a table, and approving or rejecting one - Studio's Registered models."""

from .common import as_utc, shown
from .queries import read_s3_json


def registry_table(sess, group_name):
    """The model package group's versions, newest first - Studio's Registered models view.

    Columns: ``version``, ``status`` (of the package itself), ``approval``
    (PendingManualApproval / Approved / Rejected), ``created``, ``mse`` (from the package's
    ModelMetrics report, if it has one and it is readable), ``description`` (the approval
    note) and ``arn`` (pass it to :func:`approve` / :func:`reject`).  Empty if the group does
    not exist yet.
    """
    import pandas as pd

    sm, rows = sess.sagemaker_client, []
    pages = sm.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group_name,
                                                             SortBy="CreationTime", SortOrder="Descending")
    for summary in (s for page in pages for s in page["ModelPackageSummaryList"]):
        described = sm.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        rows.append({"version": described.get("ModelPackageVersion"),
                     "status": described.get("ModelPackageStatus"),
                     "approval": described.get("ModelApprovalStatus"),
                     "created": shown(as_utc(described.get("CreationTime")), None)[0],
                     "mse": _package_mse(sess, described),
                     "description": described.get("ApprovalDescription"),
                     "arn": described["ModelPackageArn"]})
    return pd.DataFrame(rows, columns=["version", "status", "approval", "created", "mse", "description", "arn"])


def _package_mse(sess, described):
    from botocore.exceptions import ClientError

    uri = described.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {}).get("S3Uri")
    if not uri:
        return None
    try:
        return read_s3_json(sess, uri)["regression_metrics"]["mse"]["value"]
    except (ClientError, KeyError, TypeError, ValueError):
        return None  # the report was deleted, or is not a regression report


def approve(sess, model_package_arn, description="Approved after reviewing its test metrics."):
    """Approve a model package version (what Studio's "Update status > Approved" does).

    Approval is the registry's gate: a deployment pipeline (or an EventBridge rule) typically
    deploys only Approved versions.  Returns the package's new approval status.
    """
    return _set_approval(sess, model_package_arn, "Approved", description)


def reject(sess, model_package_arn, description="Rejected after reviewing its test metrics."):
    """Reject a model package version; returns its new approval status ("Rejected")."""
    return _set_approval(sess, model_package_arn, "Rejected", description)


def _set_approval(sess, arn, status, description):
    sm = sess.sagemaker_client
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status, ApprovalDescription=description)
    return sm.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]
