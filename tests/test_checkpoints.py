"""Checkpoints accept every correct answer and reject the plausible wrong ones with a message naming the mistake.

Each case runs the solution notebook's code cells in a fresh local-mode Python process, one answer
swapped in (``replace``), up to and including the checkpoint cell, and reports the first error.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from notebook_helpers import SOLUTIONS

RUNNER = textwrap.dedent('''
    import json, sys, traceback
    import nbformat
    spec = json.loads(sys.argv[1])
    nb = nbformat.read(spec["notebook"], as_version=4)
    namespace = {"__name__": "__main__"}
    for cell in nb.cells:
        if cell.cell_type != "code" or "raises-exception" in cell.metadata.get("tags", []):
            continue
        source = cell.source
        for old, new in spec["replace"].items():
            source = source.replace(old, new)
        if "parameters" in cell.metadata.get("tags", []):
            source += "\\nMODE = 'local'"
        try:
            exec(compile(source, "<cell>", "exec"), namespace)
        except BaseException as error:
            print(json.dumps({"error": type(error).__name__, "message": str(error)}))
            sys.exit(0)
        if spec["until"] in cell.source:
            break
    print(json.dumps({"error": None}))
''')


def run_until(notebook, until, replace, tmp_path):
    """Run ``notebook``'s solution cells up to the one containing ``until``; the first error (name, message) or None."""
    import nbformat

    source = SOLUTIONS / notebook
    text = "\n".join(cell.source for cell in nbformat.read(source, as_version=4).cells)
    for old in replace:
        assert old in text, f"{old!r} is not in {notebook}: the test no longer swaps an answer in"
    assert until in text, f"{until!r} is not in {notebook}"
    spec = json.dumps({"notebook": str(source), "until": until, "replace": replace})
    env = dict(os.environ, LAB_HOME=str(tmp_path / "lab"), LAB_MODE="local", MPLBACKEND="Agg")
    result = subprocess.run([sys.executable, "-c", RUNNER, spec], cwd=SOLUTIONS, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    return (outcome["error"], outcome.get("message", "")) if outcome["error"] else None


# -- 01: the splits must be the pipeline's (random_state=42) ------------------------------------
SPLITS_CHECK = "pipeline_splits = preprocess.preprocess(df, random_state=42)"
SPLITS_ANSWER = "train, validation, test = preprocess.preprocess(df, random_state=42)"


@pytest.mark.parametrize("answer", [SPLITS_ANSWER, "train, validation, test = preprocess.preprocess(df)"])
def test_01_splits_accept_the_solution(tmp_path, answer):
    assert run_until("01_data.ipynb", SPLITS_CHECK, {SPLITS_ANSWER: answer}, tmp_path) is None  # 42 is the default


@pytest.mark.parametrize("wrong", ["preprocess.preprocess(df, random_state=7)",
                                   "preprocess.preprocess(df, random_state=0)"])
def test_01_splits_reject_another_seed(tmp_path, wrong):
    error = run_until("01_data.ipynb", SPLITS_CHECK,
                      {SPLITS_ANSWER: f"train, validation, test = {wrong}"}, tmp_path)
    assert error and error[0] == "AssertionError" and "random_state=42" in error[1], error


# -- 03: hyperparameters, as numbers or as the strings SageMaker sends ---------------------------
HP_CHECK = 'print("Hyperparameters OK")'
HP_ANSWER = '''    num_round=50,
    max_depth=5,
    eta=0.2,
    subsample=0.7,'''


@pytest.mark.parametrize("answer", [HP_ANSWER, '''    num_round="50",
    max_depth="5",
    eta="0.2",
    subsample="0.7",'''])
def test_03_hyperparameters_accept_numbers_and_strings(tmp_path, answer):
    assert run_until("03_training_step.ipynb", HP_CHECK, {HP_ANSWER: answer}, tmp_path) is None


@pytest.mark.parametrize("wrong, named", [
    (HP_ANSWER.replace("max_depth=5", "max_depth=6"), "max_depth"),
    (HP_ANSWER.replace("num_round=50", "num_rounds=50"), "num_round"),
])
def test_03_hyperparameters_reject_a_wrong_value(tmp_path, wrong, named):
    error = run_until("03_training_step.ipynb", HP_CHECK, {HP_ANSWER: wrong}, tmp_path)
    assert error and error[0] == "AssertionError" and named in error[1], error


# -- 06: a wrong approval status fails the registration: the checkpoint says why, no KeyError ----
APPROVAL_CHECK = 'package_arn = register["Metadata"]["RegisterModel"]["Arn"]'
APPROVAL_ANSWER = 'execution = pipeline.start(parameters={"ModelApprovalStatus": "Approved"})'


@pytest.mark.slow
def test_06_approval_accepts_the_solution(tmp_path):
    assert run_until("06_pipeline.ipynb", APPROVAL_CHECK, {}, tmp_path) is None


@pytest.mark.slow
def test_06_approval_rejects_a_lower_case_status(tmp_path):
    wrong = APPROVAL_ANSWER.replace('"Approved"', '"approved"')
    error = run_until("06_pipeline.ipynb", APPROVAL_CHECK, {APPROVAL_ANSWER: wrong}, tmp_path)
    assert error and error[0] == "AssertionError", error
    assert "RegisterModel-RegisterModel did not succeed" in error[1] and "case-sensitive" in error[1], error
    assert "approved" in error[1], "the message should repeat the engine's reason, which names the value"


# -- 08: the key filter: whole prefix (with its '/'), and no folder markers ----------------------
FILTER_CHECK = 'sibling = spec.prefix.rstrip("/")'
FILTER_ANSWER = 'return key.startswith(prefix) and key.endswith(suffix) and not key.endswith("/")'


def test_08_key_filter_accepts_the_solution(tmp_path):
    assert run_until("08_automation.ipynb", FILTER_CHECK, {}, tmp_path) is None


@pytest.mark.parametrize("wrong, named", [
    ('return key.startswith(prefix) and key.endswith(suffix)', "folder marker"),
    ('return key.startswith(prefix.rstrip("/")) and key.endswith(suffix) and not key.endswith("/")', "trailing '/'"),
])
def test_08_key_filter_rejects_plausible_mistakes(tmp_path, wrong, named):
    error = run_until("08_automation.ipynb", FILTER_CHECK, {FILTER_ANSWER: wrong}, tmp_path)
    assert error and error[0] == "AssertionError" and named in error[1], error
