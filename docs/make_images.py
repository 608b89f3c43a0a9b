"""Regenerate the README's pictures offline: docs/images/pipeline-graph.png and docs/images/timeline.png.

    python docs/make_images.py              # or: python docs/make_images.py --out some/folder

It runs the abalone pipeline once in local mode, in a temporary LAB_HOME (nothing of yours is
touched, no AWS account or network is needed), then draws the run with
``lab_helpers.monitor.draw_pipeline`` and ``plot_timeline`` - the same calls a notebook makes.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images", help="folder for the PNG files")
    parser.add_argument("--dpi", type=int, default=100)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))  # run from a clone, installed or not
    import matplotlib

    matplotlib.use("Agg")
    with tempfile.TemporaryDirectory(prefix="lab-images-") as home:
        os.environ.update(LAB_HOME=home, LAB_MODE="local")
        import lab_helpers

        sess = lab_helpers.session("local")
        pipeline = lab_helpers.pipelines.abalone_pipeline(sess)
        pipeline.upsert(role_arn=lab_helpers.execution_role(sess))
        execution = pipeline.start()
        execution.wait()
        for path in write_images(sess, execution.arn, args.out, dpi=args.dpi):
            print(f"wrote {path}")


def write_images(sess, execution_arn, out, dpi=100):
    """Draw one execution's graph and timeline into ``out``; returns the paths written."""
    from lab_helpers import monitor

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, draw in (("pipeline-graph.png", monitor.draw_pipeline), ("timeline.png", monitor.plot_timeline)):
        draw(sess, execution_arn).savefig(out / name, dpi=dpi, facecolor="white")
        paths.append(out / name)
    return paths


if __name__ == "__main__":
    main()
