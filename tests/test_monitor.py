"""The monitoring helpers (lab_helpers.monitor): tables, graph, timeline, logs, artifacts, registry.

One successful abalone run and one that takes the Fail branch (MseThreshold = 0.5) are made
once for the module, in a fresh LAB_HOME; every helper is then checked on their results
structurally (columns, row counts, statuses, the graph's nodes and edges, the colours drawn),
and every figure must save to PNG with the Agg backend.  ``pipeline_graph`` is also tested
as a pure function on hand-written definitions.
"""

import io
import json
from itertools import combinations
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from lab_helpers import monitor  # noqa: E402
from conftest import finished  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = "AbalonePipeline"
GROUP = "AbaloneModelPackageGroup"
REGISTER, CREATE = "AbaloneRegisterModel-RegisterModel", "AbaloneCreateModel-CreateModel"
RAN_ON_SUCCESS = ["AbaloneProcess", "AbaloneTrain", "AbaloneEval", "AbaloneMSECond", REGISTER, CREATE,
                  "AbaloneTransform"]
RAN_ON_FAILURE = ["AbaloneProcess", "AbaloneTrain", "AbaloneEval", "AbaloneMSECond", "AbaloneMSEFail"]
GREEN, RED, GREY = (to_hex(monitor.STATUS_COLORS[s]) for s in ("Succeeded", "Failed", None))
ABALONE_EDGES = {
    ("AbaloneProcess", "AbaloneTrain", "data", None),
    ("AbaloneProcess", "AbaloneEval", "data", None),
    ("AbaloneTrain", "AbaloneEval", "data", None),
    ("AbaloneEval", "AbaloneMSECond", "data", None),
    ("AbaloneTrain", REGISTER, "data", None),
    ("AbaloneTrain", CREATE, "data", None),
    (CREATE, "AbaloneTransform", "data", None),
    ("AbaloneEval", "AbaloneMSEFail", "data", None),  # the Fail step's message quotes the MSE
    ("AbaloneMSECond", REGISTER, "condition", "True"),
    ("AbaloneMSECond", CREATE, "condition", "True"),
    ("AbaloneMSECond", "AbaloneTransform", "condition", "True"),
    ("AbaloneMSECond", "AbaloneMSEFail", "condition", "False"),
}


# ----------------------------------------------------------------------------- set-up
@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A fresh LAB_HOME with two abalone executions: (session, succeeded ARN, failed ARN)."""
    import lab_helpers

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAB_HOME", str(tmp_path_factory.mktemp("monitor-home")))
        sess = lab_helpers.session("local")
        pipeline = lab_helpers.pipelines.abalone_pipeline(sess)
        pipeline.upsert(role_arn=lab_helpers.execution_role(sess))
        good = finished(pipeline.start())
        bad = finished(pipeline.start(parameters={"MseThreshold": 0.5}))
        yield sess, good.arn, bad.arn


@pytest.fixture(scope="module")
def sess(runs):
    return runs[0]


@pytest.fixture(scope="module")
def good(runs):
    return runs[1]


@pytest.fixture(scope="module")
def bad(runs):
    return runs[2]


def png_bytes(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    data = buffer.getvalue()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
    return data


def node_patches(fig):
    """{step name: patch} of the boxes (graph) or bars (timeline) drawn for steps."""
    return {p.get_gid()[5:]: p for ax in fig.axes for p in ax.patches if (p.get_gid() or "").startswith("step:")}


def edge_patches(fig):
    return [p for ax in fig.axes for p in ax.patches if (p.get_gid() or "").startswith("edge:")]


# ----------------------------------------------------------------------------- the graph, as data
def test_pipeline_graph_of_a_definition_with_nested_conditions_and_depends_on():
    definition = {"Version": "2020-12-01", "Steps": [
        {"Name": "Prep", "Type": "Processing", "Arguments": {}},
        {"Name": "Fit", "Type": "Training",
         "Arguments": {"InputDataConfig": [{"S3Uri": {"Get": "Steps.Prep.ProcessingOutputConfig.Outputs['train']"}}]}},
        {"Name": "Audit", "Type": "Processing", "Arguments": {}, "DependsOn": ["Prep"]},
        {"Name": "Check", "Type": "Condition", "Arguments": {
            "Conditions": [{"Type": "GreaterThan", "LeftValue": {"Get": "Steps.Fit.FinalMetricDataList[0].Value"},
                            "RightValue": 0.5}],
            "IfSteps": [
                {"Name": "Register", "Type": "RegisterModel",
                 "Arguments": {"ModelUrl": {"Std:Join": {"On": "/", "Values": [
                     {"Get": "Steps.Fit.ModelArtifacts.S3ModelArtifacts"},
                     {"Get": "Execution.PipelineExecutionId"}]}}}},
                {"Name": "Inner", "Type": "Condition", "Arguments": {
                    "Conditions": [{"Type": "Equals", "LeftValue": {"Get": "Parameters.Mode"}, "RightValue": "x"}],
                    "IfSteps": [{"Name": "Deep", "Type": "Lambda", "Arguments": {}, "DependsOn": ["Audit"]}],
                    "ElseSteps": []}},
            ],
            "ElseSteps": [{"Name": "Stop", "Type": "Fail", "Arguments": {"ErrorMessage": "too low"}}]}},
    ]}
    nodes, edges = monitor.pipeline_graph(json.dumps(definition))
    assert [n["name"] for n in nodes] == ["Prep", "Fit", "Audit", "Check", "Register", "Inner", "Deep", "Stop"]
    assert {(e["source"], e["target"], e["kind"], e["label"]) for e in edges} == {
        ("Prep", "Fit", "data", None),
        ("Prep", "Audit", "depends_on", None),
        ("Fit", "Check", "data", None),
        ("Fit", "Register", "data", None),
        ("Check", "Register", "condition", "True"),
        ("Check", "Inner", "condition", "True"),
        ("Check", "Stop", "condition", "False"),
        ("Inner", "Deep", "condition", "True"),
        ("Audit", "Deep", "depends_on", None),
    }
    layer = {n["name"]: n["layer"] for n in nodes}
    assert layer == {"Prep": 0, "Fit": 1, "Audit": 1, "Check": 2, "Register": 3, "Inner": 3, "Stop": 3, "Deep": 4}
    assert all(layer[e["source"]] < layer[e["target"]] for e in edges)
    places = [(n["layer"], n["row"]) for n in nodes]
    assert len(set(places)) == len(places)


def test_pipeline_graph_rejects_a_cycle():
    definition = {"Steps": [{"Name": "A", "Type": "Processing", "DependsOn": ["B"]},
                            {"Name": "B", "Type": "Processing", "DependsOn": ["A"]}]}
    with pytest.raises(ValueError, match="cycle"):
        monitor.pipeline_graph(definition)


def test_pipeline_graph_of_the_abalone_pipeline(sess, good):
    definition = sess.sagemaker_client.describe_pipeline_definition_for_execution(
        PipelineExecutionArn=good)["PipelineDefinition"]
    nodes, edges = monitor.pipeline_graph(definition)
    assert len(nodes) == 8
    assert {(e["source"], e["target"], e["kind"], e["label"]) for e in edges} == ABALONE_EDGES
    layer = {n["name"]: n["layer"] for n in nodes}
    assert layer == {"AbaloneProcess": 0, "AbaloneTrain": 1, "AbaloneEval": 2, "AbaloneMSECond": 3,
                     REGISTER: 4, CREATE: 4, "AbaloneMSEFail": 4, "AbaloneTransform": 5}
    rows = {n["name"]: n["row"] for n in nodes if n["layer"] == 4}
    assert rows[REGISTER] < rows[CREATE] < rows["AbaloneMSEFail"]  # True branch above False


# ----------------------------------------------------------------------------- the graph, drawn
def test_draw_pipeline_colours_each_step_by_its_status(sess, good, bad):
    fig = monitor.draw_pipeline(sess, good)
    boxes = node_patches(fig)
    assert len(boxes) == 8 and len(edge_patches(fig)) == len(ABALONE_EDGES)
    colours = {name: to_hex(p.get_facecolor()) for name, p in boxes.items()}
    assert {n for n, c in colours.items() if c == GREEN} == set(RAN_ON_SUCCESS)
    assert colours["AbaloneMSEFail"] == GREY
    png_bytes(fig)

    colours = {n: to_hex(p.get_facecolor()) for n, p in node_patches(monitor.draw_pipeline(sess, bad)).items()}
    assert colours["AbaloneMSEFail"] == RED
    assert {n for n, c in colours.items() if c == GREEN} == set(RAN_ON_FAILURE) - {"AbaloneMSEFail"}
    assert {colours[n] for n in (REGISTER, CREATE, "AbaloneTransform")} == {GREY}


def test_drawn_nodes_do_not_overlap_and_texts_fit_inside(sess, good):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = monitor.draw_pipeline(sess, good)
    canvas = FigureCanvasAgg(fig)  # the figure comes detached from pyplot: give it a canvas to measure on
    canvas.draw()
    renderer = canvas.get_renderer()
    boxes = [p.get_window_extent(renderer) for p in node_patches(fig).values()]
    for a, b in combinations(boxes, 2):
        assert not a.overlaps(b)
    ax = fig.axes[0]
    for text in ax.texts:
        if text.get_text() in ("True", "False"):
            continue
        extent = text.get_window_extent(renderer)
        assert any(box.x0 <= extent.x0 and extent.x1 <= box.x1 and box.y0 <= extent.y0 and extent.y1 <= box.y1
                   for box in boxes), f"{text.get_text()!r} is not inside a step's box"
    assert fig.get_figwidth() < 20  # projectable: not a poster


def test_draw_pipeline_from_the_pipeline_name_and_into_given_axes(sess):
    import matplotlib.pyplot as plt

    fig = monitor.draw_pipeline(sess, pipeline_name=PIPELINE)
    assert {to_hex(p.get_facecolor()) for p in node_patches(fig).values()} == {GREY}
    assert "definition" in fig.texts[0].get_text()
    own, ax = plt.subplots(figsize=(8, 4))
    assert monitor.draw_pipeline(sess, pipeline_name=PIPELINE, ax=ax) is own
    assert len(node_patches(own)) == 8
    png_bytes(own)
    plt.close(own)
    with pytest.raises(ValueError, match="execution_arn"):
        monitor.draw_pipeline(sess)


def test_render_graph_colours_every_status_and_fades_the_branch_not_taken():
    definition = {"Steps": [
        {"Name": "Prep", "Type": "Processing", "Arguments": {}},
        {"Name": "Gate", "Type": "Condition", "Arguments": {
            "Conditions": [{"LeftValue": {"Get": "Steps.Prep.ProcessingJobStatus"}}],
            "IfSteps": [{"Name": "Fit", "Type": "Training", "Arguments": {}}],
            "ElseSteps": [{"Name": "Stop", "Type": "Fail", "Arguments": {}}]}},
    ]}
    steps = {"Prep": {"StepStatus": "Succeeded"},
             "Gate": {"StepStatus": "Succeeded", "Metadata": {"Condition": {"Outcome": "True"}}},
             "Fit": {"StepStatus": "Executing"}}
    fig = monitor.render_graph(*monitor.pipeline_graph(definition), steps=steps, title="t")
    colours = {n: to_hex(p.get_facecolor()) for n, p in node_patches(fig).items()}
    assert colours == {"Prep": GREEN, "Gate": GREEN, "Fit": to_hex(monitor.STATUS_COLORS["Executing"]), "Stop": GREY}
    alpha = {p.get_gid(): p.get_alpha() for p in edge_patches(fig)}
    assert alpha == {"edge:Prep->Gate": 1.0, "edge:Gate->Fit": 1.0, "edge:Gate->Stop": 0.35}
    assert "Training · executing" in [t.get_text() for t in fig.axes[0].texts]
    png_bytes(fig)


# ----------------------------------------------------------------------------- tables
def test_executions_table_lists_newest_first_with_why_a_run_failed(sess, good, bad):
    table = monitor.executions_table(sess, PIPELINE)
    assert list(table.columns) == ["execution_id", "display_name", "status", "start", "end", "duration_s",
                                   "failure_reason", "arn"]
    assert list(table["arn"]) == [bad, good]
    assert list(table["status"]) == ["Failed", "Succeeded"]
    assert (table["duration_s"] > 0).all() and (table["end"] >= table["start"]).all()
    assert table["failure_reason"][0].startswith("AbaloneMSEFail: Execution failed: the test MSE")
    assert table["execution_id"][1] == good.rsplit("/", 1)[-1]
    assert len(monitor.executions_table(sess, PIPELINE, max_results=1)) == 1


def test_steps_table_says_what_each_step_ran(sess, good, bad):
    table = monitor.steps_table(sess, good)
    assert list(table.columns) == ["step", "status", "start", "end", "duration_s", "ran", "failure_reason"]
    assert list(table["step"]) == RAN_ON_SUCCESS
    assert set(table["status"]) == {"Succeeded"}
    ran = dict(zip(table["step"], table["ran"]))
    assert ran["AbaloneTrain"].startswith("training job pipelines-")
    assert ran["AbaloneProcess"].startswith("processing job ")
    assert ran["AbaloneMSECond"] == "condition outcome: True"
    assert ran[REGISTER] == "model package abalonemodelpackagegroup version 1"
    assert ran[CREATE].startswith("model pipelines-")
    assert ran["AbaloneTransform"].startswith("transform job ")

    failed = monitor.steps_table(sess, bad)
    assert list(failed["step"]) == RAN_ON_FAILURE
    last = failed.iloc[-1]
    assert last["status"] == "Failed" and last["ran"].startswith("fail: Execution failed: the test MSE")
    assert "MseThreshold = 0.5" in last["failure_reason"]


# ----------------------------------------------------------------------------- timeline
def test_plot_timeline_draws_one_bar_per_step(sess, good, bad):
    fig = monitor.plot_timeline(sess, good)
    bars = node_patches(fig)
    assert set(bars) == set(RAN_ON_SUCCESS)
    assert {to_hex(b.get_facecolor()) for b in bars.values()} == {GREEN}
    assert bars["AbaloneTrain"].get_x() >= bars["AbaloneProcess"].get_x() + bars["AbaloneProcess"].get_width() - 1e-6
    assert "Succeeded" in fig.axes[0].get_title()
    png_bytes(fig)
    bars = node_patches(monitor.plot_timeline(sess, bad))
    assert to_hex(bars["AbaloneMSEFail"].get_facecolor()) == RED


# ----------------------------------------------------------------------------- logs
def test_show_logs_prints_and_returns_the_jobs_log(sess, good, capsys):
    text = monitor.show_logs(sess, good, "AbaloneTrain", tail=5)
    assert capsys.readouterr().out.strip() == text
    hint, *lines = text.splitlines()
    assert "earlier lines hidden" in hint and "full=True" in hint
    assert len(lines) == 5 and all("validation-rmse" in line for line in lines)
    everything = monitor.show_logs(sess, good, "AbaloneTrain", tail=None)
    assert len(everything.splitlines()) > 5 and everything.endswith("\n".join(lines))
    assert "hidden" not in everything


def test_show_logs_is_collapsed_by_default_with_a_switch_for_the_full_log(sess, good):
    short = monitor.show_logs(sess, good, "AbaloneTrain")
    full = monitor.show_logs(sess, good, "AbaloneTrain", full=True)
    assert len(short.splitlines()) == monitor.logs.SHOW_TAIL + 1
    assert len(full.splitlines()) > len(short.splitlines()) and "hidden" not in full


def test_explain_names_each_failed_step_and_its_exact_reason(sess, good, bad, capsys):
    text = monitor.explain(bad, sess=sess)
    assert capsys.readouterr().out.strip() == text
    assert ": Failed" in text.splitlines()[0]
    failed = [line for line in text.splitlines() if line.startswith("✗")]
    assert len(failed) == 1 and failed[0].startswith("✗ AbaloneMSEFail (Failed): ")
    assert "MSE" in failed[0] and "0.5" in failed[0]  # the FailStep's own message, values filled in
    assert "No step failed." in monitor.explain(good, sess=sess)
    assert "[evaluate]" in monitor.show_logs(sess, good, "AbaloneEval")
    assert "records" in monitor.show_logs(sess, good, "AbaloneTransform")


def test_show_logs_of_steps_that_run_no_job(sess, good):
    assert "condition outcome: True" in monitor.show_logs(sess, good, "AbaloneMSECond")
    assert "model package" in monitor.show_logs(sess, good, "AbaloneRegisterModel")  # the name given in code
    with pytest.raises(ValueError, match="AbaloneTrain"):
        monitor.show_logs(sess, good, "NoSuchStep")


def test_printed_text_is_not_shown_twice_in_a_notebook(capsys):
    text = monitor.PrintedText("hello")
    text._ipython_display_()
    assert capsys.readouterr().out == ""
    text._ipython_display_()  # displayed again later: shown
    assert capsys.readouterr().out == "hello\n"


# ----------------------------------------------------------------------------- evaluation
def test_evaluation_report_and_predictions(sess, good):
    report = monitor.evaluation_report(sess, good)
    mse = report["regression_metrics"]["mse"]["value"]
    assert 0 < mse < 6  # the condition passed: MSE <= MseThreshold (6.0)
    frame = monitor.predictions(sess, good)
    assert list(frame.columns) == ["actual", "predicted"] and len(frame) > 100
    assert ((frame["actual"] - frame["predicted"]) ** 2).mean() == pytest.approx(mse)
    fig = monitor.plot_predictions(sess, good)
    assert f"{mse:.3f}" in fig.axes[0].get_title()
    assert len(fig.axes[0].lines) == 1  # the y = x line
    png_bytes(fig)


def test_evaluation_report_is_none_without_an_evaluation(sess):
    import lab_helpers

    pipeline = lab_helpers.pipelines.outline_pipeline(sess)
    pipeline.upsert(role_arn=lab_helpers.execution_role(sess))
    arn = finished(pipeline.start()).arn
    assert monitor.evaluation_report(sess, arn) is None
    assert monitor.predictions(sess, arn) is None
    with pytest.raises(ValueError, match="no successful evaluation step"):
        monitor.plot_predictions(sess, arn)


# ----------------------------------------------------------------------------- artifacts
def test_artifacts_lists_every_output_with_its_local_twin(sess, good):
    table = monitor.artifacts(sess, good)
    assert list(table.columns) == ["step", "artifact", "location", "local_path"]
    by_artifact = dict(zip(zip(table["step"], table["artifact"]), table["location"]))
    assert set(by_artifact) == {
        ("AbaloneProcess", "output 'train'"), ("AbaloneProcess", "output 'validation'"),
        ("AbaloneProcess", "output 'test'"), ("AbaloneTrain", "model.tar.gz"), ("AbaloneEval", "output 'evaluation'"),
        (REGISTER, "model package"), (CREATE, "model"), ("AbaloneTransform", "transform output")}
    assert by_artifact[("AbaloneTrain", "model.tar.gz")].endswith("/output/model.tar.gz")
    assert by_artifact[(REGISTER, "model package")].startswith("arn:aws:sagemaker:")
    for uri, local in zip(table["location"], table["local_path"]):
        if uri.startswith("s3://"):
            assert Path(local).exists(), local
        else:
            assert local is None
    assert Path(dict(zip(table["artifact"], table["local_path"]))["model.tar.gz"]).is_file()


# ----------------------------------------------------------------------------- registry
def test_registry_table_approve_and_reject(sess, good):
    table = monitor.registry_table(sess, GROUP)
    assert list(table.columns) == ["version", "status", "approval", "created", "mse", "description", "arn"]
    assert list(table["version"]) == [1]  # only the run that passed the condition registered a model
    assert table["approval"][0] == "PendingManualApproval"
    report = monitor.evaluation_report(sess, good)
    assert table["mse"][0] == pytest.approx(report["regression_metrics"]["mse"]["value"])
    arn = table["arn"][0]
    assert monitor.approve(sess, arn, description="MSE is fine") == "Approved"
    approved = monitor.registry_table(sess, GROUP)
    assert (approved["approval"][0], approved["description"][0]) == ("Approved", "MSE is fine")
    assert monitor.reject(sess, arn) == "Rejected"
    assert monitor.registry_table(sess, GROUP)["approval"][0] == "Rejected"
    assert monitor.registry_table(sess, "NoSuchGroup").empty


# ----------------------------------------------------------------------------- waiting
class _Execution:
    def __init__(self, sess, arn):
        self.sagemaker_session, self.arn = sess, arn


def test_wait_with_progress_returns_at_once_for_finished_runs(sess, good, bad):
    out = io.StringIO()
    assert monitor.wait_with_progress(_Execution(sess, good), poll_seconds=3600, out=out) == "Succeeded"
    lines = out.getvalue().splitlines()
    assert len(lines) == len(RAN_ON_SUCCESS) + 1
    assert "AbaloneTrain -> Succeeded" in lines[1] and lines[-1].endswith("Succeeded")
    out = io.StringIO()
    assert monitor.wait_with_progress(_Execution(sess, bad), poll_seconds=3600, out=out) == "Failed"
    assert "AbaloneMSEFail -> Failed" in out.getvalue()


class _ScriptedClient:
    """A SageMaker client whose execution moves through given states, one per describe call."""

    def __init__(self, states):
        self.states, self.now = states, None

    def describe_pipeline_execution(self, PipelineExecutionArn):
        status, self.now = self.states.pop(0)
        return {"PipelineExecutionStatus": status}

    def list_pipeline_execution_steps(self, **kwargs):
        return {"PipelineExecutionSteps": [{"StepName": name, "StepStatus": status} for name, status in self.now]}

    def get_paginator(self, operation):  # one page, as boto3's paginator yields it
        return _OnePage(getattr(self, operation))


class _OnePage:
    def __init__(self, call):
        self.call = call

    def paginate(self, **kwargs):
        return iter([self.call(**kwargs)])


def test_wait_with_progress_prints_a_line_per_change_and_never_raises():
    states = [("Executing", [("Prep", "Executing")]),
              ("Executing", [("Prep", "Executing")]),
              ("Executing", [("Prep", "Succeeded"), ("Fit", "Executing")]),
              ("Failed", [("Prep", "Succeeded"), ("Fit", "Failed")])]

    class Session:
        sagemaker_client = _ScriptedClient(states)

    out = io.StringIO()
    assert monitor.wait_with_progress(_Execution(Session(), "arn:x/execution/e1"), poll_seconds=0, out=out) == "Failed"
    changes = [line.split("  ", 1)[1] for line in out.getvalue().splitlines()[:-1]]
    assert changes == ["Prep -> Executing", "Prep -> Succeeded", "Fit -> Executing", "Fit -> Failed"]
    assert out.getvalue().splitlines()[-1] == "Execution e1: Failed"


# ----------------------------------------------------------------------------- the README's pictures
def test_make_images_draws_both_pictures(sess, good, tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_images", ROOT / "docs" / "make_images.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    paths = module.write_images(sess, good, tmp_path)
    assert [p.name for p in paths] == ["pipeline-graph.png", "timeline.png"]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in paths)
