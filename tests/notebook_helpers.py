"""Running the lesson notebooks as tests: papermill, a fresh ``python3`` kernel, offline, a LAB_HOME per run.

Used by ``tests/test_notebooks.py``.  Each run is a ``papermill`` subprocess, so each gets its own
environment (``LAB_HOME``, ``LAB_MODE=local``) and its own kernel, and independent runs can go in
parallel (:class:`NotebookPool`).  The module is also a pytest plugin for the nbval runs
(``-p notebook_helpers``): see :func:`pytest_collectstart`.
"""

import functools
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "notebooks"
SOLUTIONS = ROOT / "solutions"
LESSONS = ROOT / "lessons"
SANITIZE_CFG = Path(__file__).resolve().parent / "nbval_sanitize.cfg"
STUB = 'raise NotImplementedError("Exercise:'
KERNEL = "python3"
CELL_TIMEOUT = 300  # seconds per cell: papermill has no execution timeout by default
RUN_TIMEOUT = 1800  # seconds per notebook, in case a kernel hangs outside a cell
#: Notebooks run at once (LAB_NOTEBOOK_WORKERS): the solutions in order on one worker, the rest on the others.
WORKERS = int(os.environ.get("LAB_NOTEBOOK_WORKERS") or min(2, os.cpu_count() or 1))

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def lesson_notebooks(folder):
    """The lesson notebooks in a folder, in reading (NN) order."""
    return sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))


@dataclass
class CellError:
    cell_id: str
    ename: str
    evalue: str
    source: str

    def __str__(self):
        return f"cell {self.cell_id!r}, which raised {self.ename}: {self.evalue}\n--- cell source ---\n{self.source}"


@dataclass
class Run:
    label: str
    executed: Path
    seconds: float
    error: Optional[CellError]  # the first cell that failed; None: the notebook ran to the end


def _env(lab_home, pythonpath=None, extra_env=None):
    env = dict(os.environ, LAB_HOME=str(lab_home), LAB_MODE="local", **(extra_env or {}))
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def run_notebook(source, out_dir, lab_home, label=None, kernel=KERNEL, extra_env=None):
    """Execute ``source`` with papermill in local mode, in ``LAB_HOME=lab_home``; the copy goes to ``out_dir``.

    ``kernel`` names the Jupyter kernel (the v3 track's is found through ``JUPYTER_PATH`` in ``extra_env``).
    """
    import nbformat

    source, out_dir = Path(source), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / source.name
    label = label or f"{source.parent.name}/{source.name}"
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "papermill", str(source), str(executed), "-p", "MODE", "local",
         "-k", kernel, "--cwd", str(source.parent), "--execution-timeout", str(CELL_TIMEOUT),
         "--start-timeout", "120", "--no-progress-bar"],
        env=_env(lab_home, extra_env=extra_env), capture_output=True, text=True, timeout=RUN_TIMEOUT,
    )
    seconds = time.perf_counter() - started
    if not executed.is_file():
        raise RuntimeError(f"papermill wrote no notebook for {label}:\n{result.stderr[-3000:]}")
    return Run(label, executed, seconds, first_error(nbformat.read(executed, as_version=4)))


def first_error(nb):
    """The first failing code cell of an executed notebook (cells tagged ``raises-exception`` may fail)."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.get("tags", [])
        for output in cell.get("outputs", []):
            if output.output_type == "error" and "raises-exception" not in tags:
                return CellError(cell.get("id", ""), output.ename, output.evalue, cell.source)
        if cell.metadata.get("papermill", {}).get("exception"):
            return CellError(cell.get("id", ""), *_error_from_display(cell), cell.source)
    return None


def _error_from_display(cell):
    """Exception name and message when a traceback hook replaced the kernel's error output.

    Importing the SageMaker SDK installs rich's traceback hook in IPython
    (aws/sagemaker-python-sdk#5179): the error then arrives as display output whose last
    lines, after the box, read ``Name: message`` wrapped at the console width.
    """
    text = "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in cell.get("outputs", []))
    tail = _ANSI.sub("", text).rsplit("╰", 1)[-1].split("\n", 1)[-1]
    ename, _, evalue = "".join(tail.strip().splitlines()).partition(": ")
    return ename.strip() or "UnknownError", evalue.strip()


def start_runs(pool, solutions, exercises, base, **run_options):
    """Start the runs of one track's notebooks: the solutions in NN order sharing one LAB_HOME (like one learner),
    and each exercise notebook that holds a stub in a fresh LAB_HOME of its own.  ``{name: future}`` per kind;
    ``run_options`` (``kernel``, ``extra_env``) go to :func:`run_notebook`."""
    import nbformat

    run = functools.partial(run_notebook, **run_options)
    solution_runs = {p.name: pool.serial(_label(p), run, p, base / "solutions", base / "learner-home")
                     for p in lesson_notebooks(solutions)}
    exercise_runs = {}
    for path in lesson_notebooks(exercises):
        twin = Path(solutions) / path.name
        if (first_stub_cell_id(nbformat.read(path, as_version=4)) is None and twin.is_file()
                and twin.read_bytes() == path.read_bytes()):
            continue  # no exercise: the same notebook as the solution, which runs anyway
        exercise_runs[path.name] = pool.parallel(_label(path), run, path, base / "exercises",
                                                 base / "exercise-homes" / path.stem)
    return solution_runs, exercise_runs


def _label(path):
    """A notebook's label in reports and test ids: ``solutions/06_pipeline``, ``v3/06_pipeline``."""
    return f"{Path(path).parent.name}/{Path(path).stem}"


def first_stub_cell_id(nb):
    """Id of the first cell holding an exercise stub, or None."""
    return next((c.get("id", "") for c in nb.cells if c.cell_type == "code" and STUB in c.source), None)


def run_nbval(executed, lab_home):
    """Re-run an executed notebook under nbval; ``--nbval-lax`` compares only cells tagged ``nbval-check-output``."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "notebook_helpers",
         "--nbval-lax", "--nbval-sanitize-with", str(SANITIZE_CFG), "--nbval-kernel-name", KERNEL,
         "--nbval-cell-timeout", str(CELL_TIMEOUT), str(executed)],
        cwd=Path(executed).parent, env=_env(lab_home, pythonpath=Path(__file__).resolve().parent),
        capture_output=True, text=True, timeout=RUN_TIMEOUT,
    )
    return result, time.perf_counter() - started


def pytest_collectstart(collector):
    """nbval plugin hook: never compare stderr (library warnings change between versions)."""
    path = getattr(collector, "path", None)
    if path is not None and Path(path).suffix == ".ipynb" and hasattr(collector, "skip_compare"):
        collector.skip_compare = tuple(collector.skip_compare) + ("stderr",)


class NotebookPool:
    """Notebook runs in the background: ``serial`` jobs one after another, in submission order
    (like one learner), ``parallel`` jobs on the remaining workers.  Jobs return futures."""

    def __init__(self, workers=WORKERS):
        self._serial = ThreadPoolExecutor(1, thread_name_prefix="notebooks-serial")
        self._parallel = self._serial if workers < 2 else ThreadPoolExecutor(workers - 1, "notebooks-parallel")
        self.timings = []  # (label, seconds)
        self.started = self.finished = time.perf_counter()

    def _timed(self, label, fn, *args):
        started = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.finished = time.perf_counter()
            self.timings.append((label, self.finished - started))

    def serial(self, label, fn, *args):
        return self._serial.submit(self._timed, label, fn, *args)

    def parallel(self, label, fn, *args):
        return self._parallel.submit(self._timed, label, fn, *args)

    def shutdown(self):
        self._serial.shutdown(wait=True, cancel_futures=True)
        self._parallel.shutdown(wait=True, cancel_futures=True)

    def report(self):
        wall = self.finished - self.started
        busy = sum(seconds for _, seconds in self.timings)
        lines = [f"  {seconds:6.1f}s  {label}" for label, seconds in self.timings]
        return "\n".join([f"Notebook runs (offline, {WORKERS} at a time):", *lines,
                          f"  {busy:6.1f}s  sum of the runs", f"  {wall:6.1f}s  wall time of the whole set"])
