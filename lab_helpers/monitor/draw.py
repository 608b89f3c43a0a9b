"""Drawing the pipeline graph with matplotlib - Studio's execution graph.

:func:`draw_pipeline` reads a definition (an execution's, or a pipeline's current one) and its
step statuses; :func:`render_graph` draws what :func:`~lab_helpers.monitor.graph.pipeline_graph`
returns: a box per step coloured by status, an arrow per edge styled by kind.  Sizes are in
inches (:class:`Geometry`), so text and boxes scale together.
"""

from .common import STATUS_COLORS, arn_of, as_datetime, fmt_duration, last_part, seconds_between
from .graph import display_name, pipeline_graph, ports, routes
from .plots import darker, finish
from .queries import list_steps, pipeline_name_of

#: Colour of each kind of edge in the graph.
EDGE_STYLES = {
    "data": {"color": "#455a64", "linestyle": "-", "legend": "data dependency"},
    "depends_on": {"color": "#455a64", "linestyle": (0, (4, 3)), "legend": "DependsOn"},
    "True": {"color": "#2e7d32", "linestyle": "-", "legend": "condition True branch"},
    "False": {"color": "#c62828", "linestyle": "-", "legend": "condition False branch"},
}


def draw_pipeline(sess, execution_arn=None, pipeline_name=None, ax=None):
    """Draw the pipeline's graph - Studio's execution graph - and return the matplotlib Figure.

    With ``execution_arn`` (or the execution object) you see the definition *that run used*,
    each step coloured by how it went (green Succeeded, red Failed, blue Executing, grey not
    run) with its type and duration; with only ``pipeline_name`` you see the pipeline's
    current definition, uncoloured.  Steps flow left to right: a step sits one column right of
    the last step it needs.  Edges show why (see :func:`pipeline_graph`): grey for data
    ("uses that step's output"), dashed for ``DependsOn``, green/red for a condition's
    True/False branch.  A ModelStep's step appears in the definition as
    ``<name>-RegisterModel`` / ``<name>-CreateModel``; the drawing shows the name you gave it.
    Pass ``ax`` to draw into your own axes; save with ``fig.savefig("graph.png")``.
    """
    definition, title, steps = _graph_source(sess, execution_arn, pipeline_name)
    nodes, edges = pipeline_graph(definition)
    return render_graph(nodes, edges, steps, title=title, ax=ax)


def _graph_source(sess, execution_arn, name):
    """(definition, title, {step name: step}) for an execution, or for a pipeline's latest definition."""
    sm = sess.sagemaker_client
    if execution_arn is not None:
        arn = arn_of(execution_arn)
        definition = sm.describe_pipeline_definition_for_execution(PipelineExecutionArn=arn)["PipelineDefinition"]
        described = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        name = name or pipeline_name_of(sess, described["PipelineArn"])
        steps = {s["StepName"]: s for s in list_steps(sess, arn)}
        return definition, f"{name} · execution {last_part(arn)} · {described['PipelineExecutionStatus']}", steps
    if name is None:
        raise ValueError("Give execution_arn (e.g. execution.arn) to colour the steps of a run, or pipeline_name.")
    definition = sm.describe_pipeline(PipelineName=name)["PipelineDefinition"]
    return definition, f"{name} · definition (no execution chosen)", None


def render_graph(nodes, edges, steps=None, title="", ax=None):
    """Draw ``pipeline_graph``'s nodes and edges; ``steps`` maps step names to their execution steps."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    captions = {n["name"]: _node_caption(n, steps) for n in nodes}
    geo = Geometry(nodes, captions)
    lanes = routes(nodes, edges, geo)
    where = ports(nodes, edges, lanes, geo)
    fig, ax, scale = _graph_axes(ax, nodes, lanes, geo, title)
    by_name = {n["name"]: n for n in nodes}
    for i, (edge, lane) in enumerate(zip(edges, lanes)):
        (xs, ys), (xt, yt) = geo.center(by_name[edge["source"]]), geo.center(by_name[edge["target"]])
        p0, p3 = (xs + geo.width / 2, ys + where[("out", i)]), (xt - geo.width / 2, yt + where[("in", i)])
        path, last = _edge_path(p0, p3, lane, geo.gap)
        style = EDGE_STYLES[edge["label"] or edge["kind"]]
        alpha = 0.35 if _branch_not_taken(edge, steps) else 1.0
        ax.add_patch(FancyArrowPatch(path=path, arrowstyle="-|>", mutation_scale=17 * scale, lw=1.8 * scale,
                                     color=style["color"], linestyle=style["linestyle"], zorder=1, alpha=alpha,
                                     gid=f"edge:{edge['source']}->{edge['target']}"))
        if edge["label"]:
            lx, ly = _bezier(last, 0.7)
            ax.text(lx, ly, edge["label"], fontsize=geo.label_size * scale, color=style["color"], ha="center",
                    va="center", zorder=3, alpha=alpha,
                    bbox={"boxstyle": "round,pad=0.18", "fc": "white", "ec": style["color"], "alpha": alpha})
    for node in nodes:
        status = (steps or {}).get(node["name"], {}).get("StepStatus")
        color = STATUS_COLORS.get(status, STATUS_COLORS[None])
        x, y = geo.center(node)
        ax.add_patch(FancyBboxPatch((x - geo.width / 2, y - geo.height / 2), geo.width, geo.height,
                                    boxstyle="round,pad=0,rounding_size=0.12", fc=color, ec=darker(color),
                                    lw=2 * scale, zorder=2, gid=f"step:{node['name']}"))
        name = display_name(node["name"])
        block = name.count("\n") * 0.21 + 0.44
        ax.text(x, y + block / 2 - (name.count("\n") + 1) * 0.105, name, fontsize=geo.name_size * scale,
                ha="center", va="center", color="#212121", zorder=3)
        ax.text(x, y - block / 2 + 0.09, captions[node["name"]], fontsize=geo.caption_size * scale,
                ha="center", va="center", color="#37474f", zorder=3)
    _graph_legend(fig, ax, edges, steps, title, scale)
    return finish(fig) if ax.get_label() == "lab-graph" else fig


def _node_caption(node, steps):
    if steps is None:
        return node["type"]
    step = steps.get(node["name"])
    if step is None:
        return f"{node['type']} · not run"
    seconds = seconds_between(as_datetime(step.get("StartTime")), as_datetime(step.get("EndTime")))
    return f"{node['type']} · {fmt_duration(seconds) if seconds is not None else step['StepStatus'].lower()}"


def text_inches(text, size, weight="normal"):
    """Width in inches of the widest line of ``text`` at font ``size`` (points)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    widths = [TextPath((0, 0), line or " ", size=size, prop=FontProperties(weight=weight)).get_extents().width
              for line in text.split("\n")]
    return max(widths) / 72


class Geometry:
    """Sizes in inches (the drawing's data units are inches, so text and boxes scale together)."""

    name_size, caption_size, label_size = 12.5, 10.5, 10
    height, gap, row_gap, margin, clearance = 0.95, 1.1, 0.7, 0.35, 0.22

    def __init__(self, nodes, captions):
        widest = max([text_inches(display_name(n["name"]), self.name_size) for n in nodes]
                     + [text_inches(c, self.caption_size) for c in captions.values()], default=1.0)
        self.width = widest + 0.4
        self.pitch_x, self.pitch_y = self.width + self.gap, self.height + self.row_gap

    def center(self, node):
        """(x, y) of a laid-out node's box centre, in inches."""
        return self.margin + self.width / 2 + node["layer"] * self.pitch_x, node["y"] * self.pitch_y


def _edge_path(p0, p3, lane, gap):
    """A smooth path from p0 to p3 (through the lane at height ``lane`` if given)."""
    from matplotlib.path import Path

    (x0, y0), (x3, y3) = p0, p3
    if lane is None:
        h = (x3 - x0) / 2
        verts = [p0, (x0 + h, y0), (x3 - h, y3), p3]
        return Path(verts, [Path.MOVETO] + [Path.CURVE4] * 3), verts
    a, b = (x0 + gap, lane), (x3 - gap, lane)
    verts = [p0, (x0 + gap / 2, y0), (a[0] - gap / 2, lane), a, b, (b[0] + gap / 2, lane), (x3 - gap / 2, y3), p3]
    codes = [Path.MOVETO] + [Path.CURVE4] * 3 + [Path.LINETO] + [Path.CURVE4] * 3
    return Path(verts, codes), verts[-4:]


def _bezier(verts, t):
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = verts
    u = 1 - t
    return (u**3 * x0 + 3 * u * u * t * x1 + 3 * u * t * t * x2 + t**3 * x3,
            u**3 * y0 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t**3 * y3)


def _branch_not_taken(edge, steps):
    """True for a condition edge whose branch the run did not take (drawn faded)."""
    outcome = (steps or {}).get(edge["source"], {}).get("Metadata", {}).get("Condition", {}).get("Outcome")
    return edge["kind"] == "condition" and outcome is not None and str(outcome) != edge["label"]


def _graph_axes(ax, nodes, lanes, geo, title=""):
    """The axes to draw in (a new figure sized to the graph unless ``ax`` is given) and the font scale."""
    ys = [geo.center(n)[1] for n in nodes] or [0.0]
    low = min(ys + [y for y in lanes if y is not None]) - geo.height / 2 - geo.margin
    high = max(ys + [y for y in lanes if y is not None]) + geo.height / 2 + geo.margin
    width = 2 * geo.margin + geo.width + max((n["layer"] for n in nodes), default=0) * geo.pitch_x
    pad = 0.0
    if ax is None:  # wide enough for the title and the legend too; the graph is centred
        pad = max(0.0, (max(text_inches(title, 15) + 0.8, 8.0) - width) / 2)
    scale = 1.0
    if ax is None:
        import matplotlib.pyplot as plt

        top, bottom = 0.6, 0.75  # inches for the title and the legend
        fig = plt.figure(figsize=(width + 2 * pad, high - low + top + bottom))
        total = high - low + top + bottom
        ax = fig.add_axes((0, bottom / total, 1, (high - low) / total), label="lab-graph")
    else:
        fig = ax.figure
        box = ax.get_position()
        scale = min(box.width * fig.get_figwidth() / width, box.height * fig.get_figheight() / (high - low))
    ax.set_xlim(-pad, width + pad)
    ax.set_ylim(low, high)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return fig, ax, scale


def _graph_legend(fig, ax, edges, steps, title, scale):
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = []
    if steps is not None:
        shown = ["Succeeded", "Failed", "Executing"] + sorted(
            {s["StepStatus"] for s in steps.values()} - {"Succeeded", "Failed", "Executing", "Starting"})
        handles += [Patch(fc=STATUS_COLORS.get(s, STATUS_COLORS[None]), ec=darker(STATUS_COLORS.get(s, "#e0e0e0")),
                          label=s) for s in shown]
        handles.append(Patch(fc=STATUS_COLORS[None], ec=darker(STATUS_COLORS[None]), label="not run"))
    for key, style in EDGE_STYLES.items():
        if any((e["label"] or e["kind"]) == key for e in edges):
            handles.append(Line2D([], [], color=style["color"], linestyle=style["linestyle"], lw=2,
                                  label=style["legend"]))
    own = ax.get_label() == "lab-graph"
    ncol = len(handles) if fig.get_figwidth() * (1 if own else 0.8) > 2.0 * len(handles) else (len(handles) + 1) // 2
    if own:
        fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize=11, frameon=False,
                   bbox_to_anchor=(0.5, 0.01), handlelength=2.2)
        fig.text(0.5, 1 - 0.3 / fig.get_figheight(), title, ha="center", va="center", fontsize=15)
    else:
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=ncol,
                  fontsize=11 * scale, frameon=False)
        ax.set_title(title, fontsize=14 * scale)
