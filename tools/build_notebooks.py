#!/usr/bin/env python3
"""Build the lesson notebooks from their single sources (see lessons/FORMAT.md).

    python tools/build_notebooks.py              # write notebooks/ (exercises) and solutions/
    python tools/build_notebooks.py --lesson 03  # only lessons/03_*.py
    python tools/build_notebooks.py --check      # exit 1, listing notebooks that differ from their source

Each ``lessons/NN_slug.py`` (jupytext py:percent) becomes ``solutions/NN_slug.ipynb`` (the
``# EXERCISE: hint`` / ``# END EXERCISE`` marker lines dropped) and ``notebooks/NN_slug.ipynb``
(each block replaced by ``raise NotImplementedError("Exercise: hint")`` at its indentation); in both,
a ``# KERNEL CHECK`` line becomes the kernel check of ``lessons/kernel_check.py``.
Output is byte-for-byte deterministic: no outputs, cell ids ``<stem>-<index>``, cell metadata
reduced to ``tags``, and only the ``kernelspec`` and ``language_info`` notebook metadata.
"""

import argparse
import json
import re
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
LESSONS, OUTPUT_DIRS = ROOT / "lessons", {"exercise": ROOT / "notebooks", "solution": ROOT / "solutions"}
SOURCE_PATTERN = "[0-9][0-9]_*.py"
START = re.compile(r"^(?P<indent>[ \t]*)# EXERCISE:\s*(?P<hint>.*?)\s*$")
END = re.compile(r"^[ \t]*# END EXERCISE\s*$")
#: a lesson's set-up cell starts with this line; the build puts the kernel check (one source) in its place
KERNEL_CHECK_MARKER = "# KERNEL CHECK"
KERNEL_CHECK = LESSONS / "kernel_check.py"
#: The notebooks name the kernel ``python3 kit.py setup`` registers (the kit's own environment), so
#: JupyterLab and SageMaker Studio pick it by itself when it is there; test runs name their kernel explicitly.
METADATA = {
    "kernelspec": {"display_name": "Lesson 7.1 – SageMaker SDK 2.x", "language": "python", "name": "lesson-7-1-sdk2"},
    "language_info": {"name": "python"},
}


class FormatError(ValueError):
    """A lesson source breaks lessons/FORMAT.md; the message names the file and cell."""


def transform(source, variant, where):
    """A code cell's source for ``variant``: exercise blocks kept (solution) or stubbed (exercise)."""
    out, block = [], None
    for line in source.split("\n"):
        if line == KERNEL_CHECK_MARKER:
            out.append(KERNEL_CHECK.read_text(encoding="utf-8").rstrip("\n"))
            continue
        start, end = START.match(line), END.match(line)
        if start and block is None:
            if not start["hint"]:
                raise FormatError(f"{where}: '# EXERCISE:' needs a hint saying what to write")
            block = start
        elif end and block is not None:
            if variant == "exercise":
                out.append(f'{block["indent"]}raise NotImplementedError({json.dumps("Exercise: " + block["hint"])})')
            block = None
        elif start or end:
            raise FormatError(f"{where}: {'nested # EXERCISE' if start else '# END EXERCISE without # EXERCISE'}")
        elif block is None or variant == "solution":
            out.append(line)
    if block is not None:
        raise FormatError(f"{where}: '# EXERCISE:' without '# END EXERCISE'")
    return "\n".join(out)


def build(source_path, variant):
    """The notebook (as the exact text written to disk) that ``variant`` of one lesson source produces."""
    stem = source_path.stem
    text = jupytext.reads(source_path.read_text(encoding="utf-8"), fmt="py:percent")
    nb = nbformat.v4.new_notebook(metadata=json.loads(json.dumps(METADATA)))
    for index, cell in enumerate(text.cells):
        where = f"{source_path.relative_to(ROOT)} cell {index}"
        tags = list(cell.metadata.get("tags", []))
        metadata = {"tags": tags} if tags else {}
        if cell.cell_type == "code":
            new = nbformat.v4.new_code_cell(transform(cell.source, variant, where), metadata=metadata)
        elif any(START.match(line) or END.match(line) for line in cell.source.split("\n")):
            raise FormatError(f"{where}: exercise markers belong in code cells")
        elif cell.cell_type == "markdown":
            new = nbformat.v4.new_markdown_cell(cell.source, metadata=metadata)
        else:
            new = nbformat.v4.new_raw_cell(cell.source, metadata=metadata)
        new.id = f"{stem}-{index:03d}"[-64:]
        nb.cells.append(new)
    nbformat.validate(nb)
    return nbformat.writes(nb, version=4) + "\n"


def sources(lesson=None):
    found = sorted(LESSONS.glob(SOURCE_PATTERN))
    if lesson is not None:
        found = [p for p in found if p.name.startswith(f"{lesson:02d}_")]
        if not found:
            raise SystemExit(f"No lesson source lessons/{lesson:02d}_*.py")
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if any notebook is out of date")
    parser.add_argument("--lesson", metavar="NN", type=int, help="only this lesson (e.g. 03)")
    args = parser.parse_args(argv)
    try:
        wanted = {OUTPUT_DIRS[variant] / f"{src.stem}.ipynb": build(src, variant)
                  for src in sources(args.lesson) for variant in OUTPUT_DIRS}
    except FormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.check:
        for path, text in wanted.items():
            path.parent.mkdir(exist_ok=True)
            if not path.is_file() or path.read_bytes() != text.encode("utf-8"):
                path.write_bytes(text.encode("utf-8"))
                print(f"wrote {path.relative_to(ROOT)}")
        return 0
    problems = [f"{p.relative_to(ROOT)}: {'missing' if not p.is_file() else 'differs from its source'}"
                for p, text in wanted.items() if not p.is_file() or p.read_bytes() != text.encode("utf-8")]
    if args.lesson is None:
        stems = {p.stem for p in sources()}
        problems += [f"{p.relative_to(ROOT)}: no source lessons/{p.stem}.py"
                     for d in OUTPUT_DIRS.values() for p in sorted(d.glob("*.ipynb")) if p.stem not in stems]
    for line in problems:
        print(line)
    if problems:
        print("Run `python tools/build_notebooks.py` to rebuild them from lessons/.", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
