"""Cleaning up (lab_helpers.cleanup): find what the kit made, delete it only when asked, touch nothing else.

A fresh LAB_HOME gets one abalone run, the outline pipeline (created, not run), and resources
that are not the kit's: another pipeline and model package group, and S3 objects beside the
kit's prefixes (including look-alike prefixes).  The tests then run in file order: the
inventory lists the kit's things, a dry run deletes nothing, a real run deletes exactly them,
and a second run finds nothing and does not fail.
"""

import pytest

from lab_helpers import cleanup, monitor
from conftest import finished  # noqa: E402

OTHER_PIPELINE, OTHER_GROUP = "SomeoneElsesPipeline", "SomeoneElsesGroup"
OTHER_KEYS = ["someone-else/keep.txt", "pipelines-lab-other/keep.txt", "AbalonePipelineV2/keep.txt"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(session, succeeded execution ARN) in a LAB_HOME holding the kit's resources and others'."""
    import lab_helpers

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAB_HOME", str(tmp_path_factory.mktemp("cleanup-home")))
        sess = lab_helpers.session("local")
        role = lab_helpers.execution_role(sess)
        abalone = lab_helpers.pipelines.abalone_pipeline(sess)
        abalone.upsert(role_arn=role)
        arn = finished(abalone.start()).arn
        lab_helpers.pipelines.outline_pipeline(sess).upsert(role_arn=role)
        lab_helpers.pipelines.outline_pipeline(sess, name=OTHER_PIPELINE, model_package_group=OTHER_GROUP).upsert(
            role_arn=role)
        sess.sagemaker_client.create_model_package_group(ModelPackageGroupName=OTHER_GROUP)
        s3 = sess.boto_session.client("s3", region_name=sess.boto_region_name)
        for key in OTHER_KEYS:
            s3.put_object(Bucket=sess.default_bucket(), Key=key, Body=b"not the kit's")
        yield sess, arn


def all_keys(sess):
    s3 = sess.boto_session.client("s3", region_name=sess.boto_region_name)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=sess.default_bucket())
    return {o["Key"] for page in pages for o in page.get("Contents", [])}


def pipeline_names(sess):
    return {p["PipelineName"] for p in sess.sagemaker_client.list_pipelines()["PipelineSummaries"]}


def test_inventory_lists_what_the_kit_made(lab):
    sess, arn = lab
    inv = cleanup.inventory(sess)
    assert set(inv) == set(cleanup.KINDS)
    assert {(p["name"], p["executions"]) for p in inv["pipelines"]} == {
        ("AbalonePipeline", 1), ("LessonOutlinePipeline", 0)}
    assert inv["running_executions"] == []
    assert inv["model_package_groups"] == [{"name": "AbaloneModelPackageGroup", "versions": 1}]
    assert [(p["group"], p["version"]) for p in inv["model_packages"]] == [("AbaloneModelPackageGroup", 1)]
    model_arn = next(s for s in monitor.list_steps(sess, arn) if "Model" in s["Metadata"])["Metadata"]["Model"]["Arn"]
    assert [m["name"].lower() for m in inv["models"]] == [model_arn.rsplit("/", 1)[-1]]
    assert inv["endpoints"] == [] and inv["automation"] == []
    keys = {o["key"] for o in inv["s3_objects"]}
    assert keys and all(k.startswith(("pipelines-lab/", "AbalonePipeline/")) for k in keys)
    assert "pipelines-lab/data/abalone.csv" in keys
    assert any(k.startswith("AbalonePipeline/code/") for k in keys)  # the SDK's uploads of the step scripts
    assert keys.isdisjoint(OTHER_KEYS)
    text = cleanup.format_inventory(inv)
    assert "AbalonePipeline (1 execution)" in text and "Automation (0): none" in text


def test_inventory_refuses_an_empty_s3_prefix(lab):
    with pytest.raises(ValueError, match="whole bucket"):
        cleanup.inventory(lab[0], s3_prefix="/")


def test_a_dry_run_deletes_nothing(lab, capsys):
    sess, _ = lab
    keys_before, pipelines_before = all_keys(sess), pipeline_names(sess)
    result = cleanup.cleanup(sess)
    assert "Dry run" in capsys.readouterr().out
    assert result["pipelines"] and result["s3_objects"]
    assert all_keys(sess) == keys_before and pipeline_names(sess) == pipelines_before
    assert monitor.registry_table(sess, "AbaloneModelPackageGroup")["version"].tolist() == [1]


def test_cleanup_deletes_the_kits_resources_and_nothing_else(lab, capsys):
    sess, _ = lab
    found = cleanup.cleanup(sess, dry_run=False)
    assert "Deleted:" in capsys.readouterr().out
    assert found["errors"] == []
    assert pipeline_names(sess) == {OTHER_PIPELINE}
    groups = sess.sagemaker_client.list_model_package_groups()["ModelPackageGroupSummaryList"]
    assert [g["ModelPackageGroupName"] for g in groups] == [OTHER_GROUP]
    assert sess.sagemaker_client.list_model_packages(ModelPackageGroupName="AbaloneModelPackageGroup")[
        "ModelPackageSummaryList"] == []
    assert sess.sagemaker_client.list_models()["Models"] == []
    assert all_keys(sess) == set(OTHER_KEYS)
    assert not any(cleanup.inventory(sess).values())


def test_a_second_cleanup_finds_nothing_and_does_not_fail(lab, capsys):
    sess, _ = lab
    found = cleanup.cleanup(sess, dry_run=False)
    assert "Nothing to delete" in capsys.readouterr().out
    assert not any(found.values())
    assert pipeline_names(sess) == {OTHER_PIPELINE} and all_keys(sess) == set(OTHER_KEYS)


def test_the_result_shows_once_in_a_notebook(capsys):
    inv = cleanup.Inventory({kind: [] for kind in cleanup.KINDS})
    inv._ipython_display_()
    assert "Pipelines (0): none" in capsys.readouterr().out
    inv.printed = True  # as cleanup() leaves it: it has just printed the same text
    inv._ipython_display_()
    assert capsys.readouterr().out == ""


def test_remote_cleanup_finds_and_tears_down_the_automation_trigger(monkeypatch, tmp_path):
    """Notebook 08's trigger (remote mode) is listed by inventory() and removed by cleanup()."""
    import json

    import boto3
    from moto import mock_aws

    import lab_helpers
    from lab_helpers.automation.setup import TriggerSpec, describe, setup

    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "LAB_BUCKET"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("LAB_HOME", str(tmp_path / "home"))
    with mock_aws():
        iam = boto3.Session(region_name="eu-west-2").client("iam")  # not boto3's default session: a local one may own it
        role = iam.create_role(RoleName="LabExecutionRole", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "sagemaker.amazonaws.com"}}]}))
        monkeypatch.setenv("LAB_ROLE_ARN", role["Role"]["Arn"])
        sess = lab_helpers.session("remote")
        spec = TriggerSpec(bucket=sess.default_bucket(), pipeline_name="AbalonePipeline")
        setup(sess.boto_session, spec, enable_mapping=False)

        found = cleanup.inventory(sess)
        assert [t["name"] for t in found["automation"]] == [spec.name]
        assert {"queue_url", "topic_arn", "function_arn", "role_arn"} <= set(found["automation"][0]["parts"])
        assert "Automation (1)" in cleanup.format_inventory(found)

        cleanup.cleanup(sess, dry_run=True)
        assert describe(sess.boto_session, spec).function_arn is not None, "a dry run must delete nothing"
        done = cleanup.cleanup(sess, dry_run=False)
        assert not done.get("errors"), done.get("errors")
        left = describe(sess.boto_session, spec)
        assert {k: v for k, v in left.summary().items() if k in cleanup._TRIGGER_PARTS} == {}
        assert cleanup.inventory(sess)["automation"] == []
