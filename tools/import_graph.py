"""The import graph of ``lab_helpers``, read from the source, and the layers it must respect.

    python tools/import_graph.py            # print each layer's modules and the edges between groups

Used by ``tests/test_layout.py`` (no import circle, imports only downwards) and by
``tools/draw_layers.py`` (the README's picture of the layers).  Every ``import`` counts, those
inside functions too: a circle through a lazy import is still a circle.
"""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "lab_helpers"

#: The layers, lowest first: (name, what it owns, module-name prefixes).  A module may import
#: modules of its own layer or of lower ones, never of a higher one.  The first matching prefix
#: (longest first) decides a module's group; every module must match one.
LAYERS = [
    ("foundation", "settings and SageMaker's document shapes, shared by everything",
     ["lab_helpers.config", "lab_helpers.shapes", "lab_helpers.costs", "lab_helpers.steps",
      "lab_helpers.automation.lambda_function"]),
    ("local: errors, ids", "AWS errors and ids of the local account, below every emulated service",
     ["lab_helpers.local.errors", "lab_helpers.local.ids"]),
    ("local: wire, store", "botocore responses and routing; the control-plane store (SQLite)",
     ["lab_helpers.local.wire", "lab_helpers.local.store"]),
    ("local: services", "S3 on a folder, STS, CloudWatch Logs, IAM; the container images local mode runs",
     ["lab_helpers.local.s3", "lab_helpers.local.sts", "lab_helpers.local.logs", "lab_helpers.local.iam",
      "lab_helpers.local.images"]),
    ("local: jobs",
     "the job runtime: one lifecycle, containers, processes, fork server, sandbox, path overlay, AWS bridge",
     ["lab_helpers.local.jobs"]),
    ("local: lambda", "AWS Lambda: functions in the store, each invocation a confined job process",
     ["lab_helpers.local.lambdas"]),
    ("local: sagemaker", "the SageMaker API, the pipeline engine, the model registry",
     ["lab_helpers.local.sagemaker"]),
    ("local: cloud, session", "wires the services together; the SDK session that talks to them",
     ["lab_helpers.local.cloud", "lab_helpers.local.session", "lab_helpers.local.session_v3",
      "lab_helpers.local.session_parts", "lab_helpers.local"]),
    ("lesson helpers", "sessions, data, pipelines, monitoring, clean-up, automation, checks, the CLI",
     ["lab_helpers.sdk", "lab_helpers.sessions", "lab_helpers.data", "lab_helpers.pipeline_spec",
      "lab_helpers.pipelines_v3", "lab_helpers.pipelines", "lab_helpers.tracks", "lab_helpers.monitor",
      "lab_helpers.cleanup", "lab_helpers.automation", "lab_helpers.preflight",
      "lab_helpers.checkpoints", "lab_helpers.__main__",
      "lab_helpers"]),
]


def modules(root=ROOT):
    """{module name: path} of every module of the package."""
    found = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _targets(module, path, node, mods):
    """Kit modules an ``import ...`` / ``from ... import ...`` node imports."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in mods}
    if node.level:
        base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    found = set()
    for alias in node.names:  # "from pkg import sub" imports pkg.sub when that is a module, else pkg's name
        candidate = f"{prefix}.{alias.name}"
        found.add(candidate if candidate in mods else prefix)
    return {name for name in found if name in mods}


def edges(root=ROOT):
    """{module: set of kit modules it imports}, from every import statement in it (lazy ones too)."""
    mods = modules(root)
    graph = {}
    for name, path in mods.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                targets |= _targets(name, path, node, mods)
        targets.discard(name)
        graph[name] = targets
    return graph


def group_of(module):
    """(layer index, group prefix) of a module: its longest matching prefix in LAYERS."""
    best = None
    for index, (_, _, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > len(best[1]):
                    best = (index, prefix)
    if best is None:
        raise KeyError(f"{module} is in no layer of tools/import_graph.py LAYERS: add it there.")
    return best


def cycles(graph):
    """The import circles: strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(10000, sys.getrecursionlimit()))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def upward_imports(graph):
    """Imports from a module to a module of a higher layer: ``[(importer, imported)]``."""
    return sorted((a, b) for a, targets in graph.items() for b in targets if group_of(b)[0] > group_of(a)[0])


def line_counts(root=ROOT):
    """{module: number of lines}."""
    return {name: len(path.read_text().splitlines()) for name, path in modules(root).items()}


def main():
    """Print the layers, their modules with line counts, and the group-to-group edges."""
    graph, lines = edges(), line_counts()
    for index, (name, owns, _) in reversed(list(enumerate(LAYERS))):
        members = sorted(m for m in graph if group_of(m)[0] == index)
        print(f"{name} — {owns}")
        for m in members:
            print(f"    {m:55s} {lines[m]:5d} lines")
    print("circles:", cycles(graph) or "none")
    print("upward imports:", upward_imports(graph) or "none")


if __name__ == "__main__":
    main()
