"""The lesson notebooks: built from their sources, committed clean, and runnable offline the way a learner runs them.

* ``tools/build_notebooks.py --check`` passes, and every committed notebook of both tracks is clean (no outputs,
  its track's kernel - ``lesson-7-1-sdk2``, or ``lesson-7-1-sdk3`` in ``notebooks/v3`` and ``solutions/v3`` -,
  a source in ``lessons/``, one papermill ``parameters`` cell with ``MODE``).  The v3 track's runs are in
  ``tests/test_notebooks_v3.py``.
* Every solution notebook runs to the end in local mode, in NN order, sharing one fresh LAB_HOME
  (like one learner); notebook 03 also runs in a fresh LAB_HOME of its own, twice: it needs nothing
  from earlier notebooks, runs again after it has run, and leaves no pipeline behind.
* Every exercise notebook stops first at its first exercise stub, with NotImplementedError("Exercise: ..."),
  not in an earlier cell.
* nbval re-runs a few cheap executed solutions and compares the cells tagged ``nbval-check-output``.

The runs start in the background when the first of them is needed (the solutions in order on one
worker, everything else on the other: see ``notebook_helpers.NotebookPool``); the timings are
printed at the end of the module.
"""

import os
import subprocess
import sys

import nbformat
import pytest
import sdk_envs

from notebook_helpers import (
    EXERCISES,
    LESSONS,
    ROOT,
    SOLUTIONS,
    STUB,
    NotebookPool,
    first_stub_cell_id,
    lesson_notebooks,
    run_nbval,
    run_notebook,
    start_runs,
)

SOLUTION_NOTEBOOKS = lesson_notebooks(SOLUTIONS)
EXERCISE_NOTEBOOKS = lesson_notebooks(EXERCISES)
#: Each track's notebooks and the kernel they name (tools/build_notebooks.py TRACKS)
TRACK_NOTEBOOKS = {"lesson-7-1-sdk2": (EXERCISE_NOTEBOOKS, SOLUTION_NOTEBOOKS),
                   "lesson-7-1-sdk3": (lesson_notebooks(EXERCISES / "v3"), lesson_notebooks(SOLUTIONS / "v3"))}
COMPARES_TRACKS = "10_v2_to_v3.ipynb"  # builds the pipelines with both SDKs (both tracks' environments)
INDEPENDENT = "03_training_step.ipynb"  # a later notebook that must run with nothing before it
NBVAL = ["01_data.ipynb", "02_parameters.ipynb"]  # cheap (no pipeline runs), with tagged outputs


def _id(path):
    return str(path.relative_to(ROOT).with_suffix(""))


def _read(path):
    return nbformat.read(path, as_version=4)


# --------------------------------------------------------------------------- built and clean


def test_notebooks_match_their_sources():
    result = subprocess.run([sys.executable, "tools/build_notebooks.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, f"Notebooks out of date:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("kernel", TRACK_NOTEBOOKS)
def test_every_lesson_has_both_notebooks_in_each_track(kernel):
    exercises, solutions = TRACK_NOTEBOOKS[kernel]
    assert solutions, f"no solution notebooks for {kernel}: run python tools/build_notebooks.py"
    assert [p.name for p in exercises] == [p.name for p in solutions]
    sources = sorted(p.stem for p in LESSONS.glob("[0-9][0-9]_*.py"))
    assert [p.stem for p in solutions] == sources, f"{kernel}: a lesson is missing from the track"


@pytest.mark.parametrize("path,kernel", [(p, k) for k, (ex, so) in TRACK_NOTEBOOKS.items() for p in [*ex, *so]],
                         ids=lambda value: _id(value) if hasattr(value, "stem") else "")
def test_committed_notebook_is_clean(path, kernel):
    import papermill

    nb = _read(path)
    nbformat.validate(nb)
    assert (LESSONS / f"{path.stem}.py").is_file(), f"{path.name} has no source lessons/{path.stem}.py"
    assert nb.metadata.get("kernelspec", {}).get("name") == kernel, \
        f"the kernelspec must be the track's kernel {kernel} (kit.py KERNELS)"
    for cell in nb.cells:
        assert cell.get("id", "").startswith(path.stem), f"cell id {cell.get('id')!r} is not a stable id"
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"cell {cell.id} has outputs"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell must be tagged 'parameters' (papermill injects values after it)"
    assert "MODE" in papermill.inspect_notebook(str(path)), "papermill cannot parse MODE in the parameters cell"


# --------------------------------------------------------------------------- the runs


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory):
    """Futures of every notebook run, started at once in the background."""
    base = tmp_path_factory.mktemp("notebook-runs")
    try:  # notebook 10 compares the two tracks: it runs the v3 track's environment too
        sdk_envs.v3_python()
        no_v3 = None
    except sdk_envs.EnvUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run notebook {COMPARES_TRACKS}, which needs the v3 track's environment: {exc}")
        no_v3 = str(exc)
    pool = NotebookPool()
    solutions, exercises = start_runs(pool, SOLUTIONS, EXERCISES, base)

    def alone_then_again():
        home = base / "alone-home"
        return [run_notebook(SOLUTIONS / INDEPENDENT, base / attempt, home, f"{INDEPENDENT} ({attempt})")
                for attempt in ("alone", "again")], home

    alone = pool.parallel(f"solutions/{INDEPENDENT} alone, then again", alone_then_again)

    def nbval(name):
        run = solutions[name].result()
        if run.error is not None:
            pytest.fail(f"{name} failed under papermill in {run.error}")
        return run, run_nbval(run.executed, base / f"nbval-home-{name}")[0]

    nbvals = {name: pool.parallel(f"nbval {name}", nbval, name) for name in NBVAL if name in solutions}

    yield {"solutions": solutions, "exercises": exercises, "alone": alone, "nbval": nbvals, "no_v3": no_v3}
    pool.shutdown()
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n" + pool.report())


@pytest.mark.slow
@pytest.mark.parametrize("path", SOLUTION_NOTEBOOKS, ids=_id)
def test_solution_runs(path, runs):
    if path.name == COMPARES_TRACKS and runs["no_v3"]:
        pytest.skip(f"{path.name} compares the two tracks, and the v3 track's environment is missing: {runs['no_v3']}")
    run = runs["solutions"][path.name].result()
    assert run.error is None, f"{path.name} failed in {run.error}"


@pytest.mark.slow
def test_later_notebook_runs_alone_and_again(runs):
    import lab_helpers

    attempts, home = runs["alone"].result()
    for run in attempts:
        assert run.error is None, f"{run.label} (fresh LAB_HOME) failed in {run.error}"
    sess = lab_helpers.local_session(home=home)
    leftovers = sess.sagemaker_client.list_pipelines()["PipelineSummaries"]
    assert leftovers == [], f"{INDEPENDENT}'s clean-up left pipelines behind: {leftovers}"


@pytest.mark.slow
@pytest.mark.parametrize("path", EXERCISE_NOTEBOOKS, ids=_id)
def test_exercise_stops_at_first_stub(path, runs):
    stub = first_stub_cell_id(_read(path))
    if path.name not in runs["exercises"]:
        assert stub is None
        pytest.skip("no exercise: identical to its solution notebook, which test_solution_runs runs")
    run = runs["exercises"][path.name].result()
    if stub is None:
        assert run.error is None, f"{path.name} has no exercise, so it must run to the end; it failed in {run.error}"
        return
    assert run.error is not None, f"{path.name} ran to the end although cell {stub!r} holds {STUB}…"
    assert run.error.cell_id == stub, (
        f"{path.name} must fail first at the exercise stub in cell {stub!r}, but failed earlier, in {run.error}"
    )
    assert run.error.ename == "NotImplementedError" and run.error.evalue.startswith("Exercise:"), str(run.error)


@pytest.mark.slow
@pytest.mark.parametrize("name", NBVAL)
def test_tagged_outputs_are_reproducible(name, runs):
    if name not in runs["nbval"]:
        pytest.fail(f"solutions/{name} does not exist")
    run, result = runs["nbval"][name].result()
    assert any("nbval-check-output" in c.metadata.get("tags", []) for c in _read(run.executed).cells), (
        f"{name} tags no cell nbval-check-output"
    )
    assert result.returncode == 0, f"nbval: differences in {name}:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
