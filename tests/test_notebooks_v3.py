"""The v3 track's notebooks (``notebooks/v3``, ``solutions/v3``) run offline on SageMaker Python SDK v3.

The kernel is the v3 track's environment (``python3 kit.py setup --sdk 3``; :mod:`sdk_envs` builds it once),
registered for these runs only, in a temporary Jupyter folder.  As for the v2 track (``tests/test_notebooks.py``):
every solution notebook runs to the end in local mode, in NN order, sharing one fresh LAB_HOME; every exercise
notebook stops first at its first exercise stub.  If the v3 environment cannot be built here the tests skip,
saying why - except under CI=true, where they fail.
"""

import nbformat
import pytest

from notebook_helpers import EXERCISES, SOLUTIONS, STUB, NotebookPool, first_stub_cell_id, lesson_notebooks, start_runs
from sdk_envs import v3_kernel

V3_SOLUTIONS, V3_EXERCISES = SOLUTIONS / "v3", EXERCISES / "v3"
V3_KERNEL = "lesson-7-1-sdk3"


@pytest.fixture(scope="module")
def v3_runs(request, tmp_path_factory, v3_python):
    """Futures of every v3 notebook run, started at once in the background on the v3 kernel."""
    base = tmp_path_factory.mktemp("notebook-runs-v3")
    kernel, extra_env = v3_kernel(v3_python, base)
    pool = NotebookPool()
    solutions, exercises = start_runs(pool, V3_SOLUTIONS, V3_EXERCISES, base, kernel=kernel, extra_env=extra_env)
    yield {"solutions": solutions, "exercises": exercises}
    pool.shutdown()
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n" + pool.report())


@pytest.mark.slow
@pytest.mark.parametrize("path", lesson_notebooks(V3_SOLUTIONS), ids=lambda p: p.stem)
def test_v3_solution_runs(path, v3_runs):
    run = v3_runs["solutions"][path.name].result()
    assert run.error is None, f"solutions/v3/{path.name} failed in {run.error}"
    # every notebook's first code cell is the kernel check, which stops on any SDK but 3.x: it passed, on this kernel
    assert nbformat.read(run.executed, as_version=4).metadata["kernelspec"]["name"] == V3_KERNEL


@pytest.mark.slow
@pytest.mark.parametrize("path", lesson_notebooks(V3_EXERCISES), ids=lambda p: p.stem)
def test_v3_exercise_stops_at_first_stub(path, v3_runs):
    stub = first_stub_cell_id(nbformat.read(path, as_version=4))
    if path.name not in v3_runs["exercises"]:
        assert stub is None
        pytest.skip("no exercise: identical to its solution notebook, which test_v3_solution_runs runs")
    run = v3_runs["exercises"][path.name].result()
    assert run.error is not None, f"notebooks/v3/{path.name} ran to the end although cell {stub!r} holds {STUB}…"
    assert run.error.cell_id == stub, (
        f"notebooks/v3/{path.name} must fail first at the exercise stub in cell {stub!r}, but failed earlier, "
        f"in {run.error}")
    assert run.error.ename == "NotImplementedError" and run.error.evalue.startswith("Exercise:"), str(run.error)
