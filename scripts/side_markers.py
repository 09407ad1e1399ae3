#!/usr/bin/env python3
"""Print how the R and L side markers are read on the real films (``docs/accuracy.md``).

Usage: ``python scripts/side_markers.py [--real ../shared/data/real]``

1. Every FracAtlas hip and knee film: how many carry a marker that is read, by film size.
2. Against the references (``datasets/fracatlas-*/references``): the films whose reader saw a
   marker (``sides_from``), read with that letter, with the other one, or not read; the films
   whose reader saw none, a marker read all the same.
3. The plan (learned detector, inferred view) of every film with a marker read: the marker
   agrees with the detected sides, shows the film displayed mirrored, or does not tell.
4. The reader's time per film (median, the display image of a 2304 x 2880 film, one core).
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--real", default=str(REPO.parent / "shared" / "data" / "real"), help="the real films' folder")
    args = p.parse_args(argv)
    os.environ.setdefault("ORTHOPLAN_DETECTOR", "learned")
    from orthoplan.errors import OrthoplanError
    from orthoplan.landmarks.markers import read_side_markers
    from orthoplan.landmarks.references import load_references
    from orthoplan.model import findings_in
    from orthoplan.pipeline import load_radiograph, plan_radiograph

    real = Path(args.real)
    read: dict[Path, tuple] = {}
    sizes = collections.Counter()
    marked = collections.Counter()
    times = []
    for ds in ("fracatlas-hip", "fracatlas-knee"):
        for path in sorted((real / ds / "images").glob("*.jpg")):
            try:
                rad = load_radiograph(path)
            except OrthoplanError:
                continue
            big = "full resolution (long side >= 2000 px)" if max(rad.shape) >= 2000 else "downsampled (about 400 px)"
            t = time.perf_counter()
            markers = read_side_markers(rad.display)
            if max(rad.shape) >= 2000:
                times.append(time.perf_counter() - t)
            sizes[big] += 1
            if markers:
                marked[big] += 1
                read[path] = markers
    print("**Side markers read on the FracAtlas hip and knee films**\n")
    print("| films | films | a marker read |\n| --- | ---: | ---: |")
    for k in sorted(sizes):
        print(f"| {k} | {sizes[k]} | {marked[k]} |")

    named = right = other = missed = invented = none = 0
    for ds in ("fracatlas-hip", "fracatlas-knee"):
        for ref in load_references(REPO / "datasets" / ds / "references"):
            path = real / ds / "images" / Path(ref.image).name
            got = {m.letter for m in read.get(path, ())}
            if ref.marker_letter:
                named += 1
                right += got == {ref.marker_letter}
                other += bool(got - {ref.marker_letter})
                missed += not got
            else:
                none += 1
                invented += bool(got)
    print("\n**Against the readers' references** (what each reader saw of the film's side marker)\n")
    print("| films the reader saw a marker on | read, that letter | read, the other letter | not read |"
          " films the reader saw none on | a marker read |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    print(f"| {named} | {right} | {other} | {missed} | {none} | {invented} |")

    outcome = collections.Counter()
    for path in read:
        rad = load_radiograph(path, spacing_mm=0.15)
        try:
            plan = plan_radiograph(rad, assume_magnification=1.1)
        except OrthoplanError as exc:
            outcome[("refused", type(exc).__name__)] += 1
            continue
        said = [n for n in plan.notes if n.startswith("Side marker")]
        kind = ("displayed mirrored" if "mirrored" in findings_in(plan.notes) else
                "agrees" if said and "agrees" in said[0] else "does not tell" if said else "no note")
        outcome[(plan.view, kind)] += 1
    print("\n**The plans of the films with a marker read** (learned detector, view inferred)\n")
    print("| view | the marker ... | films |\n| --- | --- | ---: |")
    for (view, kind), n in sorted(outcome.items()):
        print(f"| {view} | {kind} | {n} |")
    if times:
        print(f"\nReading a 2304 x 2880 film: median {1000 * statistics.median(times):.0f} ms ({len(times)} films).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
