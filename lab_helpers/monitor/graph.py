"""The pipeline graph as data: steps and the edges that order them, laid out in layers, edges routed.

:func:`pipeline_graph` walks a pipeline definition with :mod:`lab_helpers.shapes` (steps,
condition branches, property references) and places every step: its layer (column) and its
row.  :func:`routes` and :func:`ports` then decide where each edge runs between the boxes,
given their sizes (see :class:`lab_helpers.monitor.draw.Geometry`).  Nothing here draws or
calls AWS: :mod:`.draw` renders the result with matplotlib.
"""

import json

from ..shapes import branches, data_references, walk_steps


def pipeline_graph(definition):
    """The DAG of a pipeline definition: ``(nodes, edges)``, laid out left to right.

    A learner asks "what decides the order of my steps?" - the edges:

    * ``data``: a step's arguments use another step's output (``{"Get": "Steps.AbaloneTrain..."}``
      in the definition, e.g. the model artifact the evaluation reads);
    * ``depends_on``: the step lists the other in ``DependsOn``;
    * ``condition``: a ConditionStep runs its ``IfSteps`` (label ``"True"``) or ``ElseSteps``
      (``"False"``); steps inside branches (also nested conditions) are nodes too.

    ``definition`` is the JSON (string or dict) from ``pipeline.definition()`` or
    ``describe_pipeline``.  Each node is ``{"name", "type", "layer", "row", "y"}``: ``layer``
    is the topological depth (0 = needs nothing; a step's layer is one more than its deepest
    predecessor's), ``row`` its place from the top within the layer, ``y`` its vertical
    position (rows centred on 0, up is positive).  Each edge is ``{"source", "target",
    "kind", "label"}`` with ``label`` "True"/"False" for condition edges, else None.
    """
    if isinstance(definition, (str, bytes)):
        definition = json.loads(definition)
    steps = definition.get("Steps", [])
    nodes = [{"name": step["Name"], "type": step.get("Type", "?")} for step in walk_steps(steps)]
    edges = _resolve_edges(nodes, _dependencies(steps))
    _layout(nodes, edges)
    return nodes, edges


def _dependencies(steps):
    """``{(source, target): (kind, label)}`` of every step of the definition, in walk order.

    A branch's condition edges come just before the edges of the branch's first step, and a
    condition edge wins over a data or DependsOn edge between the same two steps.
    """
    found, branch_heads = {}, {}  # id of a branch's first step -> (condition step's name, label, branch)
    for step in walk_steps(steps):
        name = step["Name"]
        head = branch_heads.pop(id(step), None)
        if head:
            condition, label, branch = head
            for child in branch:
                found[(condition, child["Name"])] = ("condition", label)
        for ref in data_references(step):
            found.setdefault((ref, name), ("data", None))
        for dep in step.get("DependsOn") or []:
            found.setdefault((dep, name), ("depends_on", None))
        for label, branch in branches(step):
            if branch:
                branch_heads[id(branch[0])] = (name, label, branch)
    return found


def _resolve_edges(nodes, found):
    """Edges between real nodes; a name like "AbaloneRegisterModel" (a step collection) means its steps."""
    names = [n["name"] for n in nodes]
    edges = []
    for (source, target), (kind, label) in found.items():
        sources = [source] if source in names else [n for n in names if n.startswith(source + "-")]
        edges += [{"source": s, "target": target, "kind": kind, "label": label} for s in sources if s != target]
    return edges


def _layout(nodes, edges):
    """Give each node its layer (longest path from a start) and its row within the layer."""
    preds = {n["name"]: [] for n in nodes}
    for e in edges:
        preds[e["target"]].append(e["source"])
    layer, pending = {}, [n["name"] for n in nodes]
    while pending:
        ready = [n for n in pending if all(p in layer for p in preds[n])]
        if not ready:
            raise ValueError(f"The pipeline's steps depend on each other in a cycle: {', '.join(pending)}.")
        for name in ready:
            layer[name] = 1 + max((layer[p] for p in preds[name]), default=-1)
        pending = [n for n in pending if n not in layer]
    y = {}
    for depth in range(max(layer.values(), default=-1) + 1):
        members = [n for n in nodes if layer[n["name"]] == depth]
        members.sort(key=lambda n: -sum(y[p] for p in preds[n["name"]]) / max(1, len(preds[n["name"]])))
        for row, node in enumerate(members):
            node.update(layer=depth, row=row, y=(len(members) - 1) / 2 - row)
            y[node["name"]] = node["y"]


def display_name(name, width=14):
    """A node's caption: the SDK's "-RegisterModel"/"-CreateModel" suffix dropped, long names on two lines."""
    for suffix in ("-RegisterModel", "-CreateModel"):
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    if len(name) <= width:
        return name
    cuts = [i for i in range(1, len(name)) if name[i].isupper() and name[i - 1].islower() or name[i - 1] in "-_"]
    if not cuts:
        return name
    cut = min(cuts, key=lambda i: abs(i - len(name) / 2))
    return name[:cut] + "\n" + name[cut:]


# -- routing the edges --------------------------------------------------------------------------
# ``geo`` below is the drawing's geometry: ``center(node)`` -> (x, y) in inches, ``height`` of a
# box and the ``clearance`` an edge keeps from boxes it passes.
def routes(nodes, edges, geo):
    """For each edge, the lane (a y clear of the nodes it passes) it follows, or None if adjacent."""
    by_name = {n["name"]: n for n in nodes}
    lanes, taken = [], []  # taken: (y, first layer, last layer, source)
    for e in edges:
        s, t = by_name[e["source"]], by_name[e["target"]]
        if t["layer"] - s["layer"] <= 1:
            lanes.append(None)
            continue
        span = (s["layer"] + 1, t["layer"] - 1)
        half = geo.height / 2 + geo.clearance
        blocked = [(geo.center(n)[1] - half, geo.center(n)[1] + half)
                   for n in nodes if span[0] <= n["layer"] <= span[1]]
        shared = [y for y, a, b, src in taken if src == s["name"] and a <= span[1] and span[0] <= b]
        blocked += [(y - 0.16, y + 0.16) for y, a, b, src in taken
                    if src != s["name"] and a <= span[1] and span[0] <= b]
        lane = _lane(geo.center(s)[1], geo.center(t)[1], blocked, shared, _traffic(nodes, edges, span, e))
        taken.append((lane, span[0], span[1], s["name"]))
        lanes.append(lane)
    return lanes


def _traffic(nodes, edges, span, edge):
    """How many other edges leave or enter the nodes an edge passes, upwards (+1) and downwards (-1)."""
    y = {n["name"]: n["y"] for n in nodes}
    passed = {n["name"] for n in nodes if span[0] <= n["layer"] <= span[1]}
    count = {1: 0, -1: 0}
    for other in edges:
        if other is not edge:
            for here, there in ((other["source"], other["target"]), (other["target"], other["source"])):
                if here in passed and y[there] != y[here]:
                    count[1 if y[there] > y[here] else -1] += 1
    return count


def _lane(y_source, y_target, blocked, shared, traffic=None):
    """The height at which an edge passes the layers between its ends, clear of their nodes.

    The target's height if free (the edge then runs straight in), else the source's, else
    the free height nearest the middle (the centre of a narrow gap between two nodes); of
    two equally near, the side with less ``traffic`` (fewer crossings).  A lane another edge
    from the same source already uses is preferred: the edges run together.
    """
    traffic = traffic or {1: 0, -1: 0}
    merged = []
    for lo, hi in sorted(blocked):
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])

    def free(y):
        return all(not lo < y < hi for lo, hi in merged)

    for y in (y_target, y_source):
        if free(y):
            return y
    want = (y_source + y_target) / 2
    bounds = [-float("inf")] + [v for pair in merged for v in pair] + [float("inf")]
    candidates = []
    for a, b in zip(bounds[::2], bounds[1::2]):
        point = (a + b) / 2 if b - a < 1.0 else min(max(want, a), b)
        candidates.append((round(abs(point - want), 6), traffic[1 if point >= want else -1], -point, point))
    candidates += [(abs(y - want) - 0.5, 0, -y, y) for y in shared if free(y)]
    return min(candidates)[-1]


def ports(nodes, edges, lanes, geo):
    """Where each edge leaves its source and enters its target: spread over the box's side, top to bottom."""
    by_name = {n["name"]: n for n in nodes}
    out_aim, in_aim = {}, {}
    for i, (e, lane) in enumerate(zip(edges, lanes)):
        out_aim[i] = round(lane if lane is not None else geo.center(by_name[e["target"]])[1], 2)
        in_aim[i] = round(lane if lane is not None else geo.center(by_name[e["source"]])[1], 2)
    found = {}
    for side, aim, key in (("out", out_aim, "source"), ("in", in_aim, "target")):
        for name in by_name:
            mine = [i for i, e in enumerate(edges) if e[key] == name]
            levels = sorted({aim[i] for i in mine}, reverse=True)
            step = min(0.16, geo.height * 0.6 / max(1, len(levels) - 1))
            for i in mine:
                found[(side, i)] = ((len(levels) - 1) / 2 - levels.index(aim[i])) * step
    return found
