#!/usr/bin/env python3
"""The learned AP-pelvis detector on real films: the hip measurements that follow from its landmarks.

    python scripts/hip_accuracy.py                      # from the rows of scripts/train_ap_pelvis.py

For the adults' usable head-up FracAtlas AP pelvis / hip films, each hip's measurements
(:func:`orthoplan.measurements.measure_hip`: LCEA, Tönnis and Sharp angles, neck-shaft angle,
femoral, acetabular and global offset; the leg length differences per film) from the held-out
detection's landmarks (every point the anatomy rules keep, whatever its confidence), against
the same measurements from the reference reading; next to a second reader against the first; and on the films read twice, Grubbs' three-reader estimate
of each one's error against the truth. The films carry no scale: lengths are in mm at a
plausible scale, a 48 mm adult femoral head over the head diameter read on the film.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from knee_accuracy import (compare, coverage, detected_points, markdown, markdown_against_truth,  # noqa: E402
                           markdown_coverage)
from knee_accuracy import plausible_mm_per_px as view_mm_per_px  # noqa: E402

from orthoplan.landmarks import crossval  # noqa: E402
from orthoplan.landmarks.uncertainty import sigma_px  # noqa: E402
from orthoplan.landmarks.references import Reference, load_references  # noqa: E402
from orthoplan.measurements import measure_hip  # noqa: E402
from orthoplan.model import Calibration, Landmark, Landmarks  # noqa: E402

ANGLES = ("lcea", "tonnis_angle", "sharp_angle", "neck_shaft_angle")
LENGTHS = ("femoral_offset", "acetabular_offset", "global_offset", "lld_teardrop", "lld_ischial")
WITHIN_DEG = 2.0
WITHIN_MM = 2.0


def plausible_mm_per_px(ref: Reference) -> float:
    """An adult head (``crossval.AP_PELVIS.size_mm``, 48 mm) over the film's head diameter as
    read (either side); NaN without one."""
    return view_mm_per_px(ref, crossval.AP_PELVIS)


def hip_values(points: dict[str, tuple[float, float]], mm_per_px: float) -> dict[str, float]:
    """``{measurement[_side]: value}`` (degrees; mm at ``mm_per_px``) from ``{landmark: (x, y)}``
    of a head-up film; the leg length differences carry no side."""
    return {k: v for k, (v, _) in hip_intervals(points, mm_per_px).items()}


def hip_intervals(points: dict[str, tuple[float, float]], mm_per_px: float, source: str | None = None,
                  head_diameter_px: float | None = None) -> dict[str, tuple[float, float | None]]:
    """``{measurement[_side]: (value, half width of its 95 % interval)}`` as :func:`hip_values`;
    with a ``source`` (``auto``: the learned detector's points, ``manual``: a reader's) and the
    film's head diameter, each landmark carries the positional uncertainty that
    :mod:`orthoplan.landmarks.uncertainty` gives it, and the half width is the measurement's
    positional interval (the scale is taken as exact); else None."""
    sig = (lambda n: None) if source is None else (
        lambda n: sigma_px(n.rsplit("_", 1)[0], source, head_diameter_px))
    lms = Landmarks.from_landmarks([Landmark(n, x, y, sigma_px=sig(n)) for n, (x, y) in points.items()])
    out = {}
    for m in measure_hip(lms, Calibration(mm_per_px, "explicit-spacing", 0.0)):
        if m.value is None:
            continue
        for unit in ("_deg", "_mm"):
            if m.name.endswith(unit):
                half = None if m.interval is None else (m.interval[1] - m.interval[0]) / 2.0
                out[m.name[: -len(unit)]] = (float(m.value), half)
    return out


def interval_coverage(rows, refs: list[Reference], films: list[str], names: tuple[str, ...]) -> dict[str, dict]:
    """Are the positional intervals honest on real films? :func:`knee_accuracy.coverage` of each
    hip of ``films``: the held-out detection's values (the detector's σ) against the reading's (a
    reader's σ), both on the reading's head diameter."""
    by = {r.stem: r for r in refs}
    pairs = []
    for f in films:
        mm, hd = plausible_mm_per_px(by[f]), crossval.head_diameter(by[f], "left")
        pairs.append((hip_intervals(detected_points(rows, f), mm, "auto", hd),
                      hip_intervals({n: p.xy for n, p in by[f].points.items()}, mm, "manual", hd)))
    return coverage(pairs, names)


def triples(rows, pairs: list[tuple[Reference, Reference]], films: set[str], names: tuple[str, ...]
            ) -> dict[str, list[tuple[float, float, float]]]:
    """Per measurement, ``(detected, first reading, second reading)`` of every hip read twice."""
    out: dict[str, list[tuple[float, float, float]]] = {}
    for second, first in pairs:
        if first.stem not in films:
            continue
        f = plausible_mm_per_px(first)
        d = hip_values(detected_points(rows, first.stem), f)
        a = hip_values({n: p.xy for n, p in first.points.items()}, f)
        b = hip_values({n: p.xy for n, p in second.points.items()}, f)
        for k in sorted(d.keys() & a.keys() & b.keys()):
            name = next((n for n in names if k == n or k.startswith(n + "_")), None)
            if name is not None:
                out.setdefault(name, []).append((d[k], a[k], b[k]))
    return {n: out[n] for n in names if n in out}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--refs", default=str(REPO / "datasets" / "fracatlas-hip" / "references"))
    ap.add_argument("--second", default=str(REPO / "datasets" / "fracatlas-hip" / "second-reading"))
    ap.add_argument("--third", default=str(REPO / "datasets" / "fracatlas-hip" / "third-reading"),
                    help="third readings of some films read twice (used where the folder exists): the measurements "
                    "against the truth from the second and third readers, whose readings never trained the network")
    ap.add_argument("--rows", default="/tmp/orthoplan-cv/rows.json")
    ap.add_argument("--folds", type=int, default=3)
    a = ap.parse_args(argv)
    refs = load_references(a.refs)
    second = load_references(a.second)
    rows = crossval.rows_from_json(json.loads(Path(a.rows).read_text()))
    # every point the held-out detection placed and its anatomy rules kept, whatever the confidence
    # its fold's table gives it (that table's 0.3 cut would leave some fold models' teardrops out)
    kept = [r for r in rows if r.det_xy is not None]
    by = {r.stem: r for r in refs}
    films = sorted({r.film for r in kept if r.film in by and by[r.film].patient == "adult" and by[r.film].usable
                    and by[r.film].superior == "up" and math.isfinite(plausible_mm_per_px(by[r.film]))})
    sec = {r.stem: r for r in second if r.usable and r.patient == "adult"}
    pairs = [(s, by[st]) for st, s in sec.items() if st in by and by[st].usable and by[st].superior == "up"
             and math.isfinite(plausible_mm_per_px(by[st]))]
    for names, unit, within, label in ((ANGLES, "°", WITHIN_DEG, "angles"), (LENGTHS, "mm", WITHIN_MM, "lengths")):
        w = f"{within:g}{'' if unit == '°' else ' '}{unit}"
        det = [(hip_values(detected_points(kept, f), plausible_mm_per_px(by[f])),
                hip_values({n: p.xy for n, p in by[f].points.items()}, plausible_mm_per_px(by[f])), 1.0) for f in films]
        readers = [(hip_values({n: p.xy for n, p in s.points.items()}, plausible_mm_per_px(f)),
                    hip_values({n: p.xy for n, p in f.points.items()}, plausible_mm_per_px(f)), 1.0) for s, f in pairs]
        scale = "" if unit == "°" else "; mm at a plausible scale, a 48 mm head over the head diameter read"
        print(markdown(compare(det, names, within), compare(readers, names, within),
                       f"**Hip {label} on real AP pelvis/hip films ({len(films)} adults' head-up films{scale}): "
                       "detected landmarks vs the reference reading, and a second reader vs the first**",
                       unit, w, items="hips"))
        print()
        print(markdown_against_truth(
            triples(kept, pairs, set(films), names),
            f"**Hip {label} on the real AP pelvis/hip films read twice (adults, head up), against the truth: the "
            "held-out detection as a third reader** (Grubbs' estimator from the three pairwise differences, 95 % "
            f"bootstrap interval over hips; the share within {w} assumes a centred Gaussian error)",
            unit, within, items="hips"))
        print()
        print(markdown_coverage(
            interval_coverage(kept, refs, films, names),
            f"**Are the {label}' intervals honest?** (the same hips: the held-out detection's value and the "
            "reading's, each with the 95 % interval of its landmarks' positional uncertainty, "
            "`landmarks.uncertainty`; the scale taken as exact)", lambda n: "°" if n in ANGLES else " mm", "hips"))
        print()
        if not Path(a.third).is_dir():
            continue
        by_second = {r.stem: r for r in second if r.usable}
        unseen = [(t, by_second[t.stem]) for t in load_references(a.third)
                  if t.usable and t.patient == "adult" and t.stem in by_second and t.stem in by and by[t.stem].superior == "up"]
        print(markdown_against_truth(
            triples(kept, unseen, set(films), names),
            f"**Hip {label} on the real AP pelvis/hip films read three times (adults, head up), against the truth from "
            "the second and third readers, whose readings never trained the network** (Grubbs' estimator, the held-out "
            "detection as the third reader; \"1st reading\" is the second reader here, \"2nd\" the third)",
            unit, within, items="hips"))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
