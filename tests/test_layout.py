"""The package's shape: layers that import only downwards, no import circle, modules a reader can hold.

The layers and their rule live in ``tools/import_graph.py`` (which also prints them); the README's
picture of the layers is drawn from the same table by ``tools/draw_layers.py``.
"""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import import_graph  # noqa: E402

GRAPH = import_graph.edges()
MAX_LINES = 600
#: the engine core, the job runtime and the store: every public function says what it does
DOCUMENTED = ("lab_helpers.local.sagemaker", "lab_helpers.local.jobs", "lab_helpers.local.store",
              "lab_helpers.local.cloud", "lab_helpers.local.wire", "lab_helpers.shapes")


def test_the_graph_is_read_from_the_source():
    assert "lab_helpers.local.jobs.runtime" in GRAPH["lab_helpers.local.sagemaker.engine"]
    assert "lab_helpers.local.errors" in GRAPH["lab_helpers.local.sagemaker.api"]
    assert "lab_helpers.config" in GRAPH["lab_helpers.local.cloud"]


def test_no_import_circle():
    assert import_graph.cycles(GRAPH) == []


def test_a_circle_is_found():
    assert import_graph.cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_module_has_a_layer_and_imports_only_downwards():
    for module in GRAPH:
        import_graph.group_of(module)  # raises, naming the module, if it has no layer
    assert import_graph.upward_imports(GRAPH) == []


def test_an_upward_import_is_found():
    assert import_graph.upward_imports({"lab_helpers.local.store": {"lab_helpers.local.sagemaker.engine"}}) == [
        ("lab_helpers.local.store", "lab_helpers.local.sagemaker.engine")]


def test_the_engine_does_not_call_back_into_the_api():
    for module in ("lab_helpers.local.sagemaker.engine", "lab_helpers.local.sagemaker.execution",
                   "lab_helpers.local.jobs.runtime"):
        assert "lab_helpers.local.sagemaker.api" not in GRAPH[module]


def _docstring(path):
    return ast.get_docstring(ast.parse(path.read_text())) or ""


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_modules_are_small_or_say_why_not(module):
    path = import_graph.modules()[module]
    lines = len(path.read_text().splitlines())
    if lines > MAX_LINES:
        assert "cohesive" in _docstring(path).lower(), (
            f"{module} has {lines} lines (over {MAX_LINES}): split it, or say in its docstring why it is one "
            "cohesive thing")


def _public_functions(tree):
    """Public module-level functions and classes, and the public methods of public classes."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
            yield node
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):  # a private class's methods
            for item in node.body:                                            # implement a protocol (os.DirEntry, ...)
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and not item.name.startswith("_"):
                    yield item


def test_public_functions_of_the_core_have_docstrings():
    missing = []
    for module, path in import_graph.modules().items():
        if not module.startswith(DOCUMENTED):
            continue
        tree = ast.parse(path.read_text())
        for node in _public_functions(tree):
            # op_<Operation> handlers are documented by AWS's API reference under that operation's name
            if node.name.startswith("op_") or ast.get_docstring(node):
                continue
            missing.append(f"{module}.{node.name} (line {node.lineno})")
    assert not missing, "public functions without a docstring: " + ", ".join(missing)


def test_the_readme_picture_shows_the_current_layers():
    import draw_layers

    assert draw_layers.main(["--check"]) == 0, "run: python tools/draw_layers.py"
