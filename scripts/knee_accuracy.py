#!/usr/bin/env python3
"""The learned knee detector on real knee films: landmarks and the angles that follow.

    python scripts/knee_accuracy.py                     # from the rows of scripts/train_knee.py

Prints, for AP and lateral knee films: the reader-to-reader difference (films read twice), the
k-fold cross-validation table per landmark (each fold's confidences from the other folds,
:func:`orthoplan.landmarks.crossval.recalibrated`), and the knee angles measured from the
detected landmarks against the same angles measured from the reference landmarks (aLDFA, aMPTA,
JLCA, FTA on AP films; the posterior tibial slope on lateral films), next to the same comparison
between two readers. Angles need no scale.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orthoplan.landmarks import crossval  # noqa: E402
from orthoplan.landmarks.references import Reference, load_references  # noqa: E402
from orthoplan.landmarks.uncertainty import sigma_px  # noqa: E402
from orthoplan.measurements import measure_knee  # noqa: E402
from orthoplan.model import Calibration, Landmark, Landmarks  # noqa: E402

#: Angles are scale-free: any scale serves.
UNIT_SCALE = Calibration(1.0, "explicit-spacing", 0.0)
ANGLES = {"knee-ap": ("aldfa", "ampta", "jlca", "fta"), "knee-lateral": ("posterior_tibial_slope",)}
WITHIN_DEG = 2.0
#: Simulated clicks: uniformly within this distance (mm) of the reference point, at the film's
#: plausible scale (the view's typical adult size over its size read on the film).
CLICK_MM = 10.0
WITHIN_MM = 2.0


#: The component sizes' measurements (TKA sizing), compared in mm at the film's plausible scale.
SIZES = {"knee-ap": ("femoral_condylar_width", "tibial_plateau_width"),
         "knee-lateral": ("femoral_ap_dimension", "posterior_condylar_offset")}


def angles(points: dict[str, tuple[float, float]], view: str, unit: str = "_deg",
           names: dict[str, tuple[str, ...]] = ANGLES) -> dict[str, float]:
    """``{angle_side: degrees}`` measured from ``{landmark name: (x, y)}`` (``unit="_mm"``,
    ``names=SIZES``: the sizes, in pixels)."""
    lms = Landmarks.from_landmarks([Landmark(n, x, y) for n, (x, y) in points.items()])
    ms = measure_knee(lms, UNIT_SCALE, view=view)
    out = {}
    for m in ms:
        base = m.name[: -len(unit)] if m.name.endswith(unit) else None
        if base is None or m.value is None:
            continue
        angle, side = base.rsplit("_", 1)
        if angle in names[view]:
            out[f"{angle}_{side}"] = float(m.value)
    return out


def angle_intervals(points: dict[str, tuple[float, float]], view: str, source: str, size_px: float | None
                    ) -> dict[str, tuple[float, float | None]]:
    """``{angle_side: (degrees, half width of its 95 % interval)}`` as :func:`angles`, each
    landmark carrying the positional uncertainty that :mod:`orthoplan.landmarks.uncertainty`
    gives a ``source`` point (``auto``: the learned detector's, ``manual``: a reader's) on a film
    of that size (the condylar width or the femoral AP width, px); the half width None where a
    landmark has none."""
    lms = Landmarks.from_landmarks([Landmark(n, x, y, sigma_px=sigma_px(n.rsplit("_", 1)[0], source, size_px, view=view))
                                    for n, (x, y) in points.items()])
    out = {}
    for m in measure_knee(lms, UNIT_SCALE, view=view):
        if m.value is None or not m.name.endswith("_deg"):
            continue
        angle, side = m.name[: -len("_deg")].rsplit("_", 1)
        if angle in ANGLES[view]:
            out[f"{angle}_{side}"] = (float(m.value), None if m.interval is None else (m.interval[1] - m.interval[0]) / 2)
    return out


def coverage(pairs: list[tuple[dict, dict]], names: tuple[str, ...]) -> dict[str, dict]:
    """Are the positional intervals honest? ``pairs``: per film, the held-out detection's and the
    reading's ``{measurement[_side]: (value, 95 % half width)}``. Per measurement of ``names``:
    how many, the share where the two values differ by no more than the two half widths combined
    (√(h_det² + h_read²): about 95 % if both σ are right, less if they claim too much), and the
    median half widths."""
    got: dict[str, list[tuple[bool, float, float]]] = {}
    for d, a in pairs:
        for k in sorted(d.keys() & a.keys()):
            name = next((n for n in names if k == n or k.startswith(n + "_")), None)
            (dv, dh), (av, ah) = d[k], a[k]
            if name is not None and dh is not None and ah is not None:
                got.setdefault(name, []).append((abs(dv - av) <= math.hypot(dh, ah), dh, ah))
    out = {}
    for n in names:
        if n in got:
            c = np.array(got[n], float)
            out[n] = {"n": len(c), "covered": float(c[:, 0].mean()), "detector_half": float(np.median(c[:, 1])),
                      "reader_half": float(np.median(c[:, 2]))}
    return out


def markdown_coverage(cov: dict[str, dict], title: str, unit_of, items: str = "knees") -> str:
    """The table of :func:`coverage` (``unit_of(name)``: "°" or " mm")."""
    lines = [title, "", f"| measurement | {items} | within the combined 95 % intervals | detector's half width, median | "
             "a reader's half width, median |", "| --- | ---: | ---: | ---: | ---: |"]
    for n, c in cov.items():
        u = unit_of(n)
        lines.append(f"| {n} | {c['n']} | {100 * c['covered']:.0f} % | {c['detector_half']:.1f}{u} | "
                     f"{c['reader_half']:.1f}{u} |")
    return "\n".join(lines)


def mean_points(a: Reference, b: Reference) -> dict[str, tuple[float, float]]:
    """The mean of two readings of a film, point by point (the points both read)."""
    return {n: ((p.x + b.points[n].x) / 2.0, (p.y + b.points[n].y) / 2.0) for n, p in a.points.items() if n in b.points}


def plausible_mm_per_px(ref: Reference, view) -> float:
    """The film's plausible scale: the view's typical adult size over its size read on the film
    (the side read first)."""
    for side in ("right", "left"):
        size = view.size(ref, side)
        if size:
            return view.size_mm / size
    return float("nan")


def detected_points(rows, film: str) -> dict[str, tuple[float, float]]:
    return {r.name: r.det_xy for r in rows if r.film == film and r.det_xy is not None}


def compare(pairs: list[tuple[dict, dict, float]], names: tuple[str, ...], within: float) -> dict[str, dict]:
    """Per measurement of ``names`` (``name`` or ``name_side``): knees with both values, median and p95 of |difference|
    (times each pair's factor: 1 for angles, the plausible mm per px for sizes), share within
    ``within``."""
    out = {}
    for name in names:
        d = np.asarray([abs(a[k] - b[k]) * f for a, b, f in pairs for k in a
                        if (k == name or k.startswith(name + "_")) and k in b])
        out[name] = {"n": int(d.size), "median": float(np.median(d)) if d.size else float("nan"),
                     "p95": float(np.percentile(d, 95)) if d.size else float("nan"),
                     "within": float(np.mean(d <= within)) if d.size else float("nan")}
    return out


def markdown(det: dict, readers: dict, title: str, unit: str, within: str, items: str = "knees") -> str:
    """The detector-vs-reading and reader-vs-reader table of :func:`compare`'s results
    (``items``: what is counted, knees or hips)."""
    lines = [title, "", f"| measurement | {items} | median abs diff ({unit}) | p95 ({unit}) | within {within} | "
             f"readers: {items} | median ({unit}) | p95 ({unit}) | within {within} |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for a in det:
        s, r = det[a], readers[a]
        lines.append(f"| {a} | {s['n']} | {s['median']:.1f} | {s['p95']:.1f} | {100 * s['within']:.0f} % | "
                     f"{r['n']} | {r['median']:.1f} | {r['p95']:.1f} | {100 * r['within']:.0f} % |")
    return "\n".join(lines)


def angle_triples(rows, pairs: list[tuple[Reference, Reference]], films: set[str], view: str
                  ) -> dict[str, list[tuple[float, float, float]]]:
    """Per angle, ``(detected, first reading, second reading)`` of every knee read twice whose
    film is in ``films`` (the held-out detection's points, ``rows``)."""
    out: dict[str, list[tuple[float, float, float]]] = {}
    for second, first in pairs:
        if first.stem not in films:
            continue
        d = angles(detected_points(rows, first.stem), view)
        a = angles({n: p.xy for n, p in first.points.items()}, view)
        b = angles({n: p.xy for n, p in second.points.items()}, view)
        for k in sorted(d.keys() & a.keys() & b.keys()):
            out.setdefault(k.rsplit("_", 1)[0], []).append((d[k], a[k], b[k]))
    return {name: out[name] for name in ANGLES[view] if name in out}


def confident_on_films_read_twice(rows, second: list[Reference], view: crossval.FilmView) -> str:
    """The points reported at ≥ 0.8 on the films read twice (adults), and how many of them lie
    more than the view's tolerance from the first reading, the second, and their mean: a miss
    against one reading can be the reading's."""
    by = {r.stem: r for r in second if r.usable}
    n, misses = 0, {"first": 0, "second": 0, "mean": 0}
    for r in rows:
        if (r.confidence or 0.0) < 0.8 or r.patient != "adult" or r.det_xy is None or r.ref_xy is None:
            continue
        s = by.get(r.film)
        q = s.points.get(r.name) if s is not None else None
        if q is None or r.error_pct is None:
            continue
        n += 1
        mean = ((r.ref_xy[0] + q.x) / 2, (r.ref_xy[1] + q.y) / 2)
        for key, ref_xy in (("first", r.ref_xy), ("second", q.xy), ("mean", mean)):
            misses[key] += dataclasses.replace(r, ref_xy=ref_xy).error_pct > view.tolerance_pct
    return (f"**Points at ≥ 0.8 on the real {view.view} films read twice (adults)**: {n}; more than "
            f"{view.tolerance_pct:g} % off the first reading {misses['first']}, the second {misses['second']}, "
            f"the mean of the two {misses['mean']}")


def markdown_angles_against_truth(triples: dict[str, list[tuple[float, float, float]]], view: str) -> str:
    """Grubbs' three-reader estimate of each angle's error against the truth
    (:func:`orthoplan.landmarks.crossval.three_reader_medians`), and the share of knees within
    2° of the truth that a centred Gaussian error of that size gives."""
    return markdown_against_truth(
        triples, f"**Knee angles on the real {view} films read twice (adults), against the truth: the held-out detection "
        "as a third reader** (Grubbs' estimator from the three pairwise differences, 95 % bootstrap interval over knees; "
        "the share within 2° assumes a centred Gaussian error)")


def markdown_against_truth(triples: dict[str, list[tuple[float, float, float]]], title: str, unit: str = "°",
                           within: float = WITHIN_DEG, items: str = "knees") -> str:
    """The table of :func:`markdown_angles_against_truth` for any measurement: per measurement,
    ``(detected, first reading, second reading)`` values in ``unit``; the share within
    ``within`` of the truth from the estimated error (a centred Gaussian)."""
    w = f"{within:g}{'' if unit == '°' else ' '}{unit}"
    lines = [title, "",
             f"| measurement | {items} | detector vs 1st reading, within {w} | vs 2nd reading, within {w} | "
             f"detector vs truth, est. median ({unit}) (95 % CI) | est. within {w} of the truth (95 % CI) | "
             f"readers vs truth, est. median ({unit}) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, t in triples.items():
        if len(t) < 8:
            continue
        a = np.asarray(t, float)
        e = crossval.three_reader_medians(a)
        lo, hi = e["detector_ci_pct"]
        share = crossval.share_within
        lines.append(f"| {name} | {len(a)} | {100 * np.mean(abs(a[:, 0] - a[:, 1]) <= within):.0f} % | "
                     f"{100 * np.mean(abs(a[:, 0] - a[:, 2]) <= within):.0f} % | "
                     f"{e['detector_pct']:.1f} ({lo:.1f}–{hi:.1f}) | {100 * share(e['detector_pct'], within):.0f} % "
                     f"({100 * share(hi, within):.0f}–{100 * share(lo, within):.0f} %) | "
                     f"{e['reader_a_pct']:.1f} / {e['reader_b_pct']:.1f} |")
    return "\n".join(lines)


def refine_simulation(cal, view, clicks_per_point: int = 2, seed: int = 0) -> dict[str, dict]:
    """What :func:`orthoplan.landmarks.refine` does with a click near each reference point on a
    film the detector never saw: the held-out detection's point when it lies within
    ``SNAP_MM`` of the click with at least ``REFINE_MIN_CONFIDENCE``, else the click. Per
    anatomy: the share within 2 mm of the reference (clicks, result), snapped, made worse."""
    from orthoplan.landmarks.common import KNEE_AXIS_ENDS, LATERAL_ACROSS_FEMUR
    from orthoplan.landmarks.refine import REFINE_MIN_CONFIDENCE, SNAP_MM, across_femur, onto_axis

    rng = np.random.default_rng(seed)
    out: dict[str, dict] = {}
    for anatomy in view.anatomies:
        rs = [r for r in cal if r.anatomy == anatomy and r.ref_xy is not None and r.head_diameter_px
              and r.patient == "adult"]
        n = snapped = worse = click_ok = res_ok = snap_ok = 0
        by = {(r.film, r.name): r for r in cal}
        for r in rs:
            mm = view.size_mm / r.head_diameter_px
            ref = np.asarray(r.ref_xy)
            found, conf = r.det_xy, r.confidence or 0.0
            side = r.name.rsplit("_", 1)[1]
            across = view is crossval.KNEE_LATERAL and anatomy in LATERAL_ACROSS_FEMUR
            if anatomy in KNEE_AXIS_ENDS or across:  # refine moves the click across an axis
                ends = [by.get((r.film, f"{a}_{side}"))
                        for a in KNEE_AXIS_ENDS["knee_femoral_axis_proximal" if across else anatomy]]
                ok = all(e is not None and e.det_xy is not None for e in ends)
                if anatomy in KNEE_AXIS_ENDS:
                    conf = min(e.confidence or 0.0 for e in ends) if ok else 0.0
                elif not ok:
                    conf = 0.0
            for _ in range(clicks_per_point):
                rad, ang = CLICK_MM * math.sqrt(rng.uniform()), rng.uniform(0, 2 * math.pi)
                click = ref + rad / mm * np.array([math.cos(ang), math.sin(ang)])
                res = click
                if anatomy in KNEE_AXIS_ENDS and conf > 0:
                    found = onto_axis(click, ends[0].det_xy, ends[1].det_xy)
                elif across and conf > 0 and r.det_xy is not None:
                    found = across_femur(click, r.det_xy, ends[0].det_xy, ends[1].det_xy)
                if found is not None and conf >= REFINE_MIN_CONFIDENCE and \
                        np.hypot(*(np.asarray(found) - click)) * mm <= SNAP_MM:
                    res, snapped = np.asarray(found), snapped + 1
                d_click, d_res = (_distance(click, r) * mm, _distance(res, r) * mm)
                snap_ok += res is not click and d_res <= WITHIN_MM
                n += 1
                click_ok += d_click <= WITHIN_MM
                res_ok += d_res <= WITHIN_MM
                worse += d_res > d_click + 1e-9
        out[anatomy] = {"clicks": n, "snapped": snapped / n if n else math.nan,
                        "click_within": click_ok / n if n else math.nan, "within": res_ok / n if n else math.nan,
                        "worse": worse / n if n else math.nan,
                        "snapped_within": snap_ok / snapped if snapped else math.nan}
    return out


def _distance(xy, row) -> float:
    """A point's distance to the row's reference point (an axis point's: across its axis)."""
    return float(dataclasses.replace(row, det_xy=(float(xy[0]), float(xy[1]))).error_px)


def markdown_refine(stats: dict[str, dict], view: str) -> str:
    lines = [f"**Refining a click on real {view} films (adults; clicks within {CLICK_MM:g} mm of the reference at a "
             f"plausible scale; each film with the fold model that never saw it; axis points: distance across "
             f"the reference axis, the click moved onto the detected axis; lateral femoral cortex and posterior "
             f"condyle: distance across the femoral axis, the click moved across it)**", "",
             "| landmark | clicks | snapped | snapped within 2 mm | click within 2 mm | result within 2 mm | "
             "worse than the click |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for a, s in stats.items():
        sw = "–" if math.isnan(s["snapped_within"]) else f"{100 * s['snapped_within']:.0f} %"
        lines.append(f"| {a} | {s['clicks']} | {100 * s['snapped']:.0f} % | {sw} | {100 * s['click_within']:.0f} % | "
                     f"{100 * s['within']:.0f} % | {100 * s['worse']:.0f} % |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--refs", default=str(REPO / "datasets" / "fracatlas-knee" / "references"))
    ap.add_argument("--second", default=str(REPO / "datasets" / "fracatlas-knee" / "second-reading"))
    ap.add_argument("--third", default=str(REPO / "datasets" / "fracatlas-knee" / "third-reading"),
                    help="third readings of some AP films read twice (used where the folder exists)")
    ap.add_argument("--rows", default="/tmp/orthoplan-knee-cv/rows.json")
    ap.add_argument("--folds", type=int, default=3)
    a = ap.parse_args(argv)
    refs = load_references(a.refs)
    second = load_references(a.second)
    rows = crossval.with_axis_directions(crossval.rows_from_json(json.loads(Path(a.rows).read_text())), refs)
    views = crossval.film_views(refs)
    by: dict[str, Reference] = {r.stem: r for r in refs}
    for view in (crossval.KNEE_AP, crossval.KNEE_LATERAL):
        print(crossval.markdown_agreement(crossval.reader_agreement(refs, second, view), view.size_label,
                                          f"Reader-to-reader difference, real {view.view} films"))
        print()
        # against the readings as they are now (lateral plateau rims were read again after the
        # model was trained)
        mine = crossval.rescored([r for r in rows if views.get(r.film) == view.view], refs, view)
        cal = crossval.recalibrated(mine, a.folds, None, view)
        for patients, label in ((("adult",), "adults"), (("adolescent", "child"), "children and adolescents")):
            n_films = len({r.film for r in mine if r.patient in patients})
            print(crossval.markdown_accuracy(crossval.summarize(cal, patients, view),
                                             f"Real {view.view} films, {label}: the learned knee detector, "
                                             f"{a.folds}-fold cross-validation ({n_films} films)",
                                             view.size_label, view.tolerance_pct))
            print()
        films = sorted({r.film for r in cal if by[r.film].patient == "adult"})
        det_pairs = [(angles(detected_points(cal, f), view.view), angles({n: p.xy for n, p in by[f].points.items()},
                                                                          view.view), 1.0) for f in films]
        sec = {r.stem: r for r in second if r.usable and r.view == view.view and r.patient == "adult"}
        pairs = [(s, by[st]) for st, s in sec.items() if st in by and by[st].usable]
        reader_pairs = [(angles({n: p.xy for n, p in s.points.items()}, view.view),
                         angles({n: p.xy for n, p in f.points.items()}, view.view), 1.0) for s, f in pairs]
        print(markdown(compare(det_pairs, ANGLES[view.view], WITHIN_DEG),
                       compare(reader_pairs, ANGLES[view.view], WITHIN_DEG),
                       f"**Knee angles on real {view.view} films (adults): detected landmarks vs the reference reading, "
                       f"and a second reader vs the first**", "°", "2°"))
        print()
        sized = [(f, view.size(by[f], side)) for f in films for side in ("right", "left") if view.size(by[f], side)]
        cov_pairs = [(angle_intervals(detected_points(cal, f), view.view, "auto", size),
                      angle_intervals({n: p.xy for n, p in by[f].points.items()}, view.view, "manual", size))
                     for f, size in dict(sized).items()]
        print(markdown_coverage(coverage(cov_pairs, ANGLES[view.view]),
                                f"**Are the {view.view} angles' intervals honest?** (the same knees: the held-out "
                                "detection's value and the reading's, each with the 95 % interval of its landmarks' "
                                "positional uncertainty, `landmarks.uncertainty`)", lambda n: "°"))
        print()
        # on the films read twice, against the mean of the two readings (its own error is a
        # reader's over √2): how near the detector comes when the reference is less noisy
        in_cv = set(films)
        mean_pairs = [(angles(detected_points(cal, f.stem), view.view), angles(mean_points(s, f), view.view), 1.0)
                      for s, f in pairs if f.stem in in_cv]
        print(markdown(compare(mean_pairs, ANGLES[view.view], WITHIN_DEG),
                       compare(reader_pairs, ANGLES[view.view], WITHIN_DEG),
                       f"**Knee angles on the real {view.view} films read twice (adults): detected landmarks vs the "
                       f"mean of the two readings, and a second reader vs the first**", "°", "2°"))
        print()
        # the same knees, against the truth: the held-out detection is a third reader
        print(crossval.markdown_three_readers(crossval.three_reader_estimate(cal, refs, second, view=view), view))
        print()
        print(markdown_angles_against_truth(angle_triples(cal, pairs, in_cv, view.view), view.view))
        print()
        print(confident_on_films_read_twice(cal, second, view))
        print()
        third = load_references(a.third) if Path(a.third).is_dir() else []
        if any(r.view == view.view for r in third):
            third = [r for r in third if r.view == view.view]
            crossval.print_third_readings(mine, refs, second, third, view)
            # the angles against the truth from the two readers who never trained the network
            by_second = {r.stem: r for r in second if r.usable}
            unseen = [(t, by_second[t.stem]) for t in third if t.usable and t.stem in by_second]
            print(markdown_against_truth(
                angle_triples(cal, unseen, in_cv, view.view),
                f"**Knee angles on the real {view.view} films read three times (adults), against the truth from the "
                "second and third readers, whose readings never trained the network** (Grubbs' estimator, the "
                "held-out detection as the third reader; \"1st reading\" is the second reader here, \"2nd\" the "
                "third)"))
            print()
        size_of = dict(unit="_mm", names=SIZES)
        det_sizes = [(angles(detected_points(cal, f), view.view, **size_of),
                      angles({n: p.xy for n, p in by[f].points.items()}, view.view, **size_of),
                      plausible_mm_per_px(by[f], view)) for f in films]
        reader_sizes = [(angles({n: p.xy for n, p in s.points.items()}, view.view, **size_of),
                         angles({n: p.xy for n, p in f.points.items()}, view.view, **size_of),
                         plausible_mm_per_px(f, view)) for s, f in pairs]
        print(markdown(compare([p for p in det_sizes if math.isfinite(p[2])], SIZES[view.view], WITHIN_MM),
                       compare([p for p in reader_sizes if math.isfinite(p[2])], SIZES[view.view], WITHIN_MM),
                       f"**Component sizes' measurements on real {view.view} films (adults; mm at a plausible scale, "
                       f"the view's typical adult size over its size read on the film): detected landmarks vs the "
                       f"reference reading, and a second reader vs the first**", "mm", "2 mm"))
        print()
        print(markdown_refine(refine_simulation(cal, view), view.view))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
