#!/usr/bin/env python3
"""Build the lesson notebooks from their single sources (see lessons/FORMAT.md), for both SDK tracks.

    python tools/build_notebooks.py              # write notebooks/ and solutions/ (v2), notebooks/v3/ and solutions/v3/
    python tools/build_notebooks.py --lesson 03  # only lessons/03_*.py
    python tools/build_notebooks.py --check      # exit 1, listing notebooks that differ from their source

Each ``lessons/NN_slug.py`` (jupytext py:percent) becomes, per track, a solution notebook (the
``# EXERCISE: hint`` / ``# END EXERCISE`` marker lines dropped) and an exercise notebook (each block
replaced by ``raise NotImplementedError("Exercise: hint")`` at its indentation); in both, a
``# KERNEL CHECK`` line becomes the kernel check of ``lessons/kernel_check.py`` for that track's SDK and kernel.
A cell whose header says ``track="v2"`` or ``track="v3"`` is in that track's notebooks only; every other cell
is in both.  A lesson listed in :data:`SINGLE_TRACK` is built for its one track only.
Output is byte-for-byte deterministic: no outputs, cell ids ``<stem>-<index>``, cell metadata
reduced to ``tags``, and only the ``kernelspec`` and ``language_info`` notebook metadata.
"""

import argparse
import importlib.util
import json
import re
import string
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
LESSONS = ROOT / "lessons"
VARIANTS = ("exercise", "solution")
_KIT_SPEC = importlib.util.spec_from_file_location("kit", ROOT / "kit.py")
_KIT = importlib.util.module_from_spec(_KIT_SPEC)
_KIT_SPEC.loader.exec_module(_KIT)
#: Per track: the SDK major version its notebooks need, the kernel they name (kit.py's ``KERNELS``: ``python3 kit.py
#: setup`` registers the v2 one, ``python3 kit.py setup --sdk 3`` the v3 one), and where its notebooks go.
TRACKS = {
    "v2": {"sdk": "2", "kernel": _KIT.KERNELS[2], "exercise": ROOT / "notebooks", "solution": ROOT / "solutions"},
    "v3": {"sdk": "3", "kernel": _KIT.KERNELS[3],
           "exercise": ROOT / "notebooks" / "v3", "solution": ROOT / "solutions" / "v3"},
}
#: Lessons that exist in one track only: {lesson stem: track}
SINGLE_TRACK = {}
SOURCE_PATTERN = "[0-9][0-9]_*.py"
START = re.compile(r"^(?P<indent>[ \t]*)# EXERCISE:\s*(?P<hint>.*?)\s*$")
END = re.compile(r"^[ \t]*# END EXERCISE\s*$")
#: a lesson's set-up cell starts with this line; the build puts the kernel check (one source) in its place
KERNEL_CHECK_MARKER = "# KERNEL CHECK"
KERNEL_CHECK = LESSONS / "kernel_check.py"


def metadata(track):
    """A track's notebook metadata: the kernel ``python3 kit.py setup`` registers for it (JupyterLab and SageMaker
    Studio then pick it by itself when it is there; test runs name their kernel explicitly)."""
    name, display = TRACKS[track]["kernel"]
    return {"kernelspec": {"display_name": display, "language": "python", "name": name},
            "language_info": {"name": "python"}}


def kernel_check(track):
    """The kernel check for ``track``: ``lessons/kernel_check.py`` with its ``$sdk_major`` and ``$kernel`` filled in."""
    template = string.Template(KERNEL_CHECK.read_text(encoding="utf-8").rstrip("\n"))
    return template.substitute(sdk_major=TRACKS[track]["sdk"], kernel=TRACKS[track]["kernel"][1],
                               setup="python3 kit.py setup" + ("" if track == "v2" else " --sdk 3"))


class FormatError(ValueError):
    """A lesson source breaks lessons/FORMAT.md; the message names the file and cell."""


def transform(source, variant, where, track="v2"):
    """A code cell's source for ``variant``: exercise blocks kept (solution) or stubbed (exercise)."""
    out, block = [], None
    for line in source.split("\n"):
        if line == KERNEL_CHECK_MARKER:
            out.append(kernel_check(track))
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


def build(source_path, variant, track="v2"):
    """The notebook (as the exact text written to disk) that ``variant`` of one lesson source produces in ``track``."""
    stem = source_path.stem
    text = jupytext.reads(source_path.read_text(encoding="utf-8"), fmt="py:percent")
    nb = nbformat.v4.new_notebook(metadata=metadata(track))
    for index, cell in enumerate(text.cells):
        where = f"{source_path.relative_to(ROOT)} cell {index}"
        cell_track = cell.metadata.get("track")
        if cell_track is not None and cell_track not in TRACKS:
            raise FormatError(f"{where}: track={cell_track!r} is not one of {', '.join(TRACKS)}")
        if cell_track not in (None, track):
            continue
        tags = list(cell.metadata.get("tags", []))
        cell_metadata = {"tags": tags} if tags else {}
        if cell.cell_type == "code":
            new = nbformat.v4.new_code_cell(transform(cell.source, variant, where, track), metadata=cell_metadata)
        elif any(START.match(line) or END.match(line) for line in cell.source.split("\n")):
            raise FormatError(f"{where}: exercise markers belong in code cells")
        elif cell.cell_type == "markdown":
            new = nbformat.v4.new_markdown_cell(cell.source, metadata=cell_metadata)
        else:
            new = nbformat.v4.new_raw_cell(cell.source, metadata=cell_metadata)
        new.id = f"{stem}-{index:03d}"[-64:]  # the source's cell index: a cell keeps its id in both tracks
        nb.cells.append(new)
    nbformat.validate(nb)
    return nbformat.writes(nb, version=4) + "\n"


def tracks_of(source_path):
    """The tracks a lesson source is built for (both, unless it is in :data:`SINGLE_TRACK`)."""
    single = SINGLE_TRACK.get(source_path.stem)
    return (single,) if single else tuple(TRACKS)


def output_path(source_path, variant, track):
    """Where ``variant`` of a lesson in ``track`` is written."""
    return TRACKS[track][variant] / f"{source_path.stem}.ipynb"


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
        wanted = {output_path(src, variant, track): build(src, variant, track)
                  for src in sources(args.lesson) for track in tracks_of(src) for variant in VARIANTS}
    except FormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.check:
        for path, text in wanted.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.is_file() or path.read_bytes() != text.encode("utf-8"):
                path.write_bytes(text.encode("utf-8"))
                print(f"wrote {path.relative_to(ROOT)}")
        return 0
    problems = [f"{p.relative_to(ROOT)}: {'missing' if not p.is_file() else 'differs from its source'}"
                for p, text in wanted.items() if not p.is_file() or p.read_bytes() != text.encode("utf-8")]
    if args.lesson is None:
        problems += [f"{p.relative_to(ROOT)}: no source lessons/{p.stem}.py in its track"
                     for track in TRACKS for variant in VARIANTS
                     for p in sorted(TRACKS[track][variant].glob("*.ipynb")) if p not in wanted]
    for line in problems:
        print(line)
    if problems:
        print("Run `python tools/build_notebooks.py` to rebuild them from lessons/.", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
