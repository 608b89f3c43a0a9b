"""Draw the README's picture of the package's layers from its real import graph.

    python tools/draw_layers.py            # writes docs/images/layers.png
    python tools/draw_layers.py --check    # exit 1 if the picture's content is out of date (CI)

One band per layer of ``tools/import_graph.py`` (highest on top), one box per group of modules in
it with its line count, and an arrow from a group to each group it imports (all point down or
across layers only: that is the rule the tests check).  The picture records a fingerprint of
the graph it was drawn from, so ``--check`` notices a new module or a new import between groups.
"""

import hashlib
import json
import sys
from pathlib import Path

import import_graph

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images" / "layers.png"
STAMP = OUT.with_suffix(".json")


def _short(prefix):
    short = prefix.replace("lab_helpers.local.", "local/").replace("lab_helpers.", "")
    return short.replace("automation.lambda_function", "lambda_function")


def _shown(module, lines):
    """Package __init__ files that hold nothing but a docstring are not worth a box."""
    return lines[module] > 8


def model():
    """Groups per layer with line counts, and the edges between groups: what the picture shows."""
    graph, lines = import_graph.edges(), import_graph.line_counts()
    graph = {m: {t for t in targets if _shown(t, lines)} for m, targets in graph.items() if _shown(m, lines)}
    groups = {}
    for module in graph:
        layer, prefix = import_graph.group_of(module)
        entry = groups.setdefault(prefix, {"layer": layer, "lines": 0, "modules": 0})
        entry["lines"] += lines[module]
        entry["modules"] += 1
    edges = sorted({(import_graph.group_of(a)[1], import_graph.group_of(b)[1])
                    for a, targets in graph.items() for b in targets
                    if import_graph.group_of(a)[0] > import_graph.group_of(b)[0] > 0})
    return groups, edges


def fingerprint(groups, edges):
    """A hash of the groups (without line counts, which change every day) and the edges."""
    shape = {"groups": sorted((p, g["layer"]) for p, g in groups.items()), "edges": edges}
    return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:16]


def draw(groups, edges, path):
    """Render the layers picture to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    layers = import_graph.LAYERS
    band_h, box_h, width = 1.25, 0.72, 16.0
    fig, ax = plt.subplots(figsize=(15, 1.05 * len(layers) + 0.8))
    centers, widths = {}, {}
    for index, (name, owns, _) in enumerate(layers):
        y = index * band_h
        ax.add_patch(FancyBboxPatch((-0.1, y - band_h / 2 + 0.06), width + 0.2, band_h - 0.12,
                                    boxstyle="round,pad=0.02", fc="#f5f7fa" if index % 2 else "#eef2f7",
                                    ec="none", zorder=0))
        ax.text(-0.3, y + 0.12, name, ha="right", va="center", fontsize=10, weight="bold")
        ax.text(-0.3, y - 0.2, owns, ha="right", va="center", fontsize=7.5, color="#555", wrap=True)
        members = sorted((p for p, g in groups.items() if g["layer"] == index), key=_short)
        step = width / max(1, len(members))
        for i, prefix in enumerate(members):
            g = groups[prefix]
            x = step * (i + 0.5)
            w = min(step - 0.15, 3.2)
            widths[prefix] = w
            ax.add_patch(FancyBboxPatch((x - w / 2, y - box_h / 2), w, box_h, boxstyle="round,pad=0.03",
                                        fc="#ffffff", ec="#37474f", lw=1.1, zorder=3))
            ax.text(x, y + 0.12, _short(prefix), ha="center", va="center", fontsize=8.5, zorder=4, weight="bold")
            count = f"{g['modules']} modules\n{g['lines']} lines" if g["modules"] > 1 else f"{g['lines']} lines"
            ax.text(x, y - 0.16, count, ha="center", va="center", fontsize=6.8, color="#555", zorder=4,
                    linespacing=1.0)
            centers[prefix] = (x, y)
    outs = {p: sorted((e for e in edges if e[0] == p), key=lambda e: centers[e[1]][0]) for p in centers}
    ins = {p: sorted((e for e in edges if e[1] == p), key=lambda e: centers[e[0]][0]) for p in centers}

    def spread(prefix, edge, side):
        """Where an arrow leaves (``outs``) or enters (``ins``) a box: spread along its edge."""
        ends = side[prefix]
        x, _ = centers[prefix]
        half = min(widths[prefix] / 2 - 0.15, 0.12 * len(ends))
        return x - half + (2 * half * ends.index(edge) / (len(ends) - 1) if len(ends) > 1 else half)

    for edge in edges:
        source, target = edge
        (_, y0), (_, y1) = centers[source], centers[target]
        same = abs(y0 - y1) < 1e-6
        start = (spread(source, edge, outs), y0 - box_h / 2)
        end = (spread(target, edge, ins), y1 + (box_h / 2 if not same else -box_h / 2))
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=9, lw=0.7, color="#607d8b",
                                     alpha=0.7, zorder=2, connectionstyle="arc3,rad=0.3" if same else "arc3,rad=0"))
    ax.set_xlim(-5.2, width + 0.3)
    ax.set_ylim(-band_h / 2 - 0.1, (len(layers) - 0.5) * band_h + 0.45)
    ax.axis("off")
    ax.set_title("lab_helpers, layer by layer: each arrow is an import, and imports only point down\n"
                 "(left out: imports within a layer, and of the foundation, which every layer may use)", fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv):
    """Write the picture, or with --check compare the graph with the one it was drawn from."""
    groups, edges = model()
    stamp = {"fingerprint": fingerprint(groups, edges)}
    if "--check" in argv:
        recorded = json.loads(STAMP.read_text()) if STAMP.exists() else {}
        if recorded.get("fingerprint") != stamp["fingerprint"] or not OUT.exists():
            print("docs/images/layers.png is out of date: run python tools/draw_layers.py")
            return 1
        return 0
    draw(groups, edges, OUT)
    STAMP.write_text(json.dumps(stamp, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
