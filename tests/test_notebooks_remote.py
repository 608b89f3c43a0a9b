"""Remote mode without AWS: the whole lesson, as a Studio user runs it, against an in-process AWS emulator.

One kernel plays one learner's Studio session in one fake AWS account (``tests/aws_emulator.py``: moto
in the kernel process, fake credentials, region eu-west-2, an execution role in ``LAB_ROLE_ARN``, no
connection off this machine).  The solution notebooks run in it in NN order with ``MODE="remote"``
(papermill's parameter injection; 09 with ``DELETE=True``), the kernel's variables reset between
notebooks as a kernel restart would.  So every remote-mode code path of the notebooks runs: the SDK
builds and uploads, ``upsert``/``start``/``wait``/``describe``, the automation set-up and teardown,
the inventory and the clean-up.  Both tracks run so: v2 (``solutions/``) on this Python, v3
(``solutions/v3``) on the v3 track's environment (``python3 kit.py setup --sdk 3``), each in its own account.

What an emulator cannot give - a job's output, an execution's step list, a model version that a run
registered, a Lambda function that runs - only a real AWS run produces.  The cells that read such
things are tagged ``needs-aws`` in ``lessons/``; they are skipped here and listed at the end of this
module's output, so the list stays short and visible.  Every other cell must run.
"""

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import nbformat
import papermill
import pytest

import aws_emulator
from notebook_helpers import CELL_TIMEOUT, KERNEL, SOLUTIONS, CellError, lesson_notebooks
from sdk_envs import v3_kernel

NEEDS_AWS = "needs-aws"
TRACKS = {"v2": SOLUTIONS, "v3": SOLUTIONS / "v3"}  # each track's solution notebooks
NAMES = [path.name for path in lesson_notebooks(SOLUTIONS)]
PARAMETERS = {"09_cleanup.ipynb": {"DELETE": True}}
PROBE_HOST = "aws.amazon.com"
KIT_PREFIX = "pipelines-lab/"

_RESET = 'get_ipython().run_line_magic("reset", "-f")  # a fresh namespace, as after a kernel restart'
_PROBE = f"""\
import socket
try:
    socket.create_connection(({PROBE_HOST!r}, 443), timeout=5)
    print("network reachable")
except OSError as error:
    print("network refused:", error)
"""
_INVENTORY = 'print(__import__("aws_emulator").inventory_json())'


@dataclass
class NotebookResult:
    name: str
    seconds: float = 0.0
    error: Optional[CellError] = None
    skipped: list = field(default_factory=list)  # (cell id, section, first line) of the needs-aws cells
    inventory: Optional[dict] = None  # the emulated account after the notebook
    stdout: str = ""


def needs_aws_cells(nb):
    """(cell id, section heading, first code line) of every cell tagged needs-aws."""
    cells, section = [], ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            headings = [line[3:] for line in cell.source.splitlines() if line.startswith("## ")]
            section = headings[-1] if headings else section
        elif NEEDS_AWS in cell.metadata.get("tags", []):
            first = next((line for line in cell.source.splitlines() if line.strip()), "")
            cells.append((cell.get("id", ""), section, first))
    return cells


def prepare(path):
    """The notebook as this test runs it: parameters injected, needs-aws cells emptied, inventory appended."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = load_notebook_node(str(path))  # papermill's reader: every cell gets its metadata.tags
    nb = parameterize_notebook(nb, {"MODE": "remote", **PARAMETERS.get(path.name, {})})
    for cell in nb.cells:
        if NEEDS_AWS in cell.metadata.get("tags", []):
            cell.source = "# needs-aws: skipped in the AWS emulator (needs a real AWS run)"
    nb.cells.insert(0, nbformat.v4.new_code_cell(_RESET, id="emulator-reset"))
    nb.cells.append(nbformat.v4.new_code_cell(_INVENTORY, id="emulator-inventory"))
    return nb


def _text(cell):
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def run_lesson(notebooks, out_dir, env, kernel=KERNEL):
    """Run the notebooks one after another in one kernel; a failing cell ends its notebook, not the lesson."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    out_dir.mkdir(parents=True, exist_ok=True)
    probe = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(_PROBE, id="emulator-probe")],
                                     metadata={"kernelspec": {"name": kernel, "language": "python",
                                                              "display_name": "Python 3"}})
    client = NotebookClient(probe, timeout=CELL_TIMEOUT, kernel_name=kernel, startup_timeout=120,
                            resources={"metadata": {"path": str(Path(notebooks[0]).parent)}})
    results = []
    with client.setup_kernel(env=env):
        client.execute_cell(probe.cells[0], 0)
        probe_output = _text(probe.cells[0])
        for path in notebooks:
            result = NotebookResult(path.name)
            nb = prepare(path)
            result.skipped = needs_aws_cells(nbformat.read(path, as_version=4))
            client.nb = nb
            started = time.perf_counter()
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                try:
                    client.execute_cell(cell, index)
                except CellExecutionError as error:
                    result.error = CellError(cell.get("id", ""), error.ename, error.evalue, cell.source)
                    break
                except CellTimeoutError as error:  # the kernel is still busy: the lesson cannot go on
                    result.error = CellError(cell.get("id", ""), "CellTimeoutError", str(error), cell.source)
                    results.append(result)
                    return probe_output, {r.name: r for r in results}
            result.seconds = time.perf_counter() - started
            result.stdout = "".join(_text(c) for c in nb.cells if c.cell_type == "code")
            if result.error is None:
                result.inventory = json.loads(_text(nb.cells[-1]).strip().splitlines()[-1])
            nbformat.write(nb, out_dir / path.name)
            results.append(result)
    return probe_output, {r.name: r for r in results}


@pytest.fixture(scope="module", params=list(TRACKS))
def lesson(request, tmp_path_factory):
    """One track's solution notebooks run in remote mode against the emulator, in one kernel."""
    track = request.param
    base = tmp_path_factory.mktemp(f"remote-emulator-{track}")
    log = base / "network.log"
    env = aws_emulator.emulator_env(dict(os.environ, LAB_HOME=str(base / "lab-home")), base / "site", log)
    kernel = KERNEL
    if track == "v3":  # the v3 track's kernel, registered for this run only
        kernel, kernel_env = v3_kernel(request.getfixturevalue("v3_python"), base)
        env.update(kernel_env)
    started = time.perf_counter()
    probe, results = run_lesson(lesson_notebooks(TRACKS[track]), base / "executed", env, kernel)
    wall = time.perf_counter() - started
    yield {"track": track, "probe": probe, "results": results, "log": log}
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n" + report(results, wall, track))


def report(results, wall, track):
    skipped = sum(len(r.skipped) for r in results.values())
    lines = [f"Remote mode against the AWS emulator, {track} track (one kernel, {wall:.1f}s): "
             f"{skipped} cell(s) tagged {NEEDS_AWS} skipped, they need a real AWS run:"]
    for r in results.values():
        status = "ok" if r.error is None else f"FAILED in cell {r.error.cell_id}"
        lines.append(f"  {r.seconds:5.1f}s  {r.name:26} {status}")
        lines.extend(f"           skipped {cell_id} ({section}): {first[:70]}" for cell_id, section, first in r.skipped)
    return "\n".join(lines)


# --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_kernel_is_offline_and_stays_so(lesson):
    assert lesson["probe"].startswith("network refused"), (
        f"the emulator kernel reached the network: {lesson['probe']!r} (tests/aws_emulator.py installs the guard)")
    attempts = lesson["log"].read_text().splitlines() if lesson["log"].exists() else []
    assert attempts and PROBE_HOST in attempts[0], "the guard did not record the probe"
    assert attempts[1:] == [], f"the notebooks tried to leave the machine: {attempts[1:]}"


@pytest.mark.parametrize("track", TRACKS)
def test_both_tracks_have_the_same_notebooks(track):
    assert [path.name for path in lesson_notebooks(TRACKS[track])] == NAMES, f"the {track} track's notebooks differ"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES, ids=lambda name: name[:-len(".ipynb")])
def test_notebook_runs_in_remote_mode(name, lesson):
    result = lesson["results"][name]
    source = f"lessons/{name[:-len('.ipynb')]}.py ({lesson['track']} track)"
    assert result.error is None, (
        f"{name} failed in remote mode against the emulator, in {result.error}\n"
        f"If the cell needs what only a real AWS run produces, tag it {NEEDS_AWS} in {source}.")
    assert "Mode: remote" in result.stdout, f"{name} did not run in remote mode:\n{result.stdout[:2000]}"
    if name != "02_parameters.ipynb":  # 02 prints the session class instead of the bucket
        assert f"bucket sagemaker-{aws_emulator.REGION}-{aws_emulator.ACCOUNT}" in result.stdout


def _inventory_after(lesson, name):
    result = lesson["results"][name]
    assert result.inventory is not None, f"{name} did not run to the end: {result.error}"
    return result.inventory


@pytest.mark.slow
def test_notebooks_that_clean_up_leave_nothing_behind(lesson):
    # 03 and 04 create, run and delete a pipeline each (papermill reads PIPELINE_NAME from them)
    for name in ("03_training_step.ipynb", "04_model_step.ipynb"):
        pipeline = papermill.inspect_notebook(str(TRACKS[lesson["track"]] / name))["PIPELINE_NAME"]["default"]
        pipeline = pipeline.strip("\"'")
        assert pipeline not in _inventory_after(lesson, name)["pipelines"], f"{name} left {pipeline} behind"
    # 08 tears the trigger down: no function, queue, topic, rule or role of it is left
    after_08 = _inventory_after(lesson, "08_automation.ipynb")
    for kind in ("lambda_functions", "sqs_queues", "sns_topics", "event_rules", "iam_roles"):
        assert after_08[kind] == [], f"08's teardown left {kind}: {after_08[kind]}"
    # before 09 the account holds the lesson's pipelines and data; after it (DELETE=True) none of it
    assert after_08["pipelines"] and any(f"/{KIT_PREFIX}" in uri for uri in after_08["s3_objects"]), after_08
    after_09 = _inventory_after(lesson, "09_cleanup.ipynb")
    assert after_09["pipelines"] == [] and after_09["models"] == [], after_09
    assert after_09["model_package_groups"] == [], after_09
    # every object in the emulated account is the kit's (its data and outputs, the scripts the SDK uploaded)
    assert any(f"/{KIT_PREFIX}" not in uri for uri in after_08["s3_objects"]), "expected the SDK's script uploads"
    assert after_09["s3_objects"] == [], after_09["s3_objects"]


@pytest.mark.parametrize("track", TRACKS)
def test_needs_aws_cells_are_few_and_never_the_setup_or_clean_up(track):
    total = code = 0
    for path in lesson_notebooks(TRACKS[track]):
        nb = nbformat.read(path, as_version=4)
        code += sum(cell.cell_type == "code" for cell in nb.cells)
        by_id = {cell.get("id"): cell for cell in nb.cells}
        for cell_id, section, _ in needs_aws_cells(nb):
            total += 1
            assert "lab_helpers.session(" not in by_id[cell_id].source, (
                f"{path.name}: the setup cell cannot be {NEEDS_AWS}")
            assert section not in ("Setup", "Clean up"), (
                f"{path.name} cell {cell_id}: a {section} cell must run in remote mode; do not tag it {NEEDS_AWS}")
    assert total <= code // 4, f"{total} of {code} code cells are tagged {NEEDS_AWS}: keep the list short"
