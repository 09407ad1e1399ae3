"""The held-out detector against a consensus of several independent readings.

One reading is not the truth: a detector measured against it is charged with the reader's own
error too, and on the small FracAtlas films that error (5-16 % of the head diameter between two
readers, median) keeps any set of points from being *shown* within 5 mm in 95 % of cases, the
claim a confidence of 0.8 makes. The median of three independent readings
(:func:`~orthoplan.landmarks.references.median_reading`) carries about a third less reader error than one
reading, and a reader's gross slip does not move it. Measured against it, a detector's
distances are still *larger* than its distances to the truth would be (the consensus' own
error adds), so a share within tolerance shown against it is a conservative estimate of the
share within tolerance of the truth.

:func:`consensus_check` scores the held-out rows of the films read by every reading against the
consensus, per anatomy, and fits a plain empirical confidence table on them
(:func:`.crossval.confidence_table`, no error model): its highest confidence says whether the
detector's surest points of that anatomy can be shown at 0.8 against that reference.

:func:`readers_check` tests the assumption the detector's error estimates rest on. Grubbs'
estimator (:func:`.crossval.three_reader_estimate`) takes the held-out detection for a third
independent reader; but the network learned from the first readings, and where it shares their
habits the estimate flatters it. Three *human* readings give each reader's error without the
detector: where a reader's error comes out the same both ways, the detector behaved as an
independent reader.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from ..errors import LandmarkError
from .crossval import AP_PELVIS, FilmView, Row, confidence_table, rescored, three_reader_estimate
from .references import Reference, ReferencePoint, median_reading

__all__ = ["consensus_references", "consensus_check", "markdown_consensus", "reading_rows", "readers_check",
           "markdown_readers", "reading_habits", "markdown_habits"]


def consensus_references(*readings: Sequence[Reference]) -> list[Reference]:
    """The median reading of every film that each of the reading sets read usably (one
    :class:`Reference` per film, :func:`~orthoplan.landmarks.references.median_reading`)."""
    if not all(isinstance(r, Reference) for rs in readings for r in rs):
        raise LandmarkError("a consensus needs reading sets: sequences of references (load_references)")
    sets = [{r.stem: r for r in rs if r.usable} for rs in readings]
    stems = sorted(set.intersection(*(set(s) for s in sets))) if sets else []
    return [median_reading([s[stem] for s in sets]) for stem in stems]


def consensus_check(rows: Sequence[Row], consensus: Sequence[Reference], view: FilmView = AP_PELVIS,
                    patients: Sequence[str] = ("adult",)) -> dict[str, dict]:
    """Per anatomy of ``view``, the held-out rows of the films in ``consensus`` scored against
    it: points, median error (% of the view's size), the share within the view's tolerance, and
    the highest confidence a plain empirical table fitted on them grants (``None`` with fewer
    than 20 points). ``rows`` are the cross-validation's (every detected point, with its raw
    score)."""
    if not all(isinstance(c, Reference) for c in consensus) or not all(isinstance(r, Row) for r in rows):
        raise LandmarkError("a consensus check needs the cross-validation's rows and the consensus references")
    same = ("ap-pelvis", "ap-hip") if view is AP_PELVIS else (view.view,)
    consensus = [replace(c, view=view.view) for c in consensus if c.view in same and c.patient in patients]
    films = {c.stem for c in consensus}
    scored = rescored([replace(r, ref_xy=None) for r in rows if r.film in films], consensus, view)
    out = {}
    for a in view.anatomies:
        rs = [r for r in scored if r.anatomy == a and r.score is not None and r.error_pct is not None
              and r.det_xy is not None]
        if not rs:
            continue
        err = np.array([r.error_pct for r in rs])
        top = None
        if len(rs) >= 20:
            table = confidence_table([r.score for r in rs], err, tolerance_pct=view.tolerance_pct)
            top = float(max(table["confidence"]))
        out[a] = {"n": len(rs), "median_pct": float(np.median(err)),
                  "within": float(np.mean(err <= view.tolerance_pct)), "top_confidence": top}
    return out


def markdown_consensus(check: dict[str, dict], readers: int, view: FilmView = AP_PELVIS) -> str:
    """The table of :func:`consensus_check`."""
    t = f"{view.tolerance_pct:g} %"
    lines = [f"| landmark | points | median % {view.size_label} | within {t} | highest confidence showable |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for a, c in check.items():
        top = "–" if c["top_confidence"] is None else f"{c['top_confidence']:.2f}"
        lines.append(f"| {a} | {c['n']} | {c['median_pct']:.1f} | {100 * c['within']:.0f} % | {top} |")
    return (f"Against the median of {readers} independent readings (films read {readers} times; adults; "
            "every held-out point with a score):\n\n" + "\n".join(lines))


def reading_rows(readings: Sequence[Reference]) -> list[Row]:
    """A reading's points as rows of detected points (``det_xy``; no score), so that a third
    reader can take the detector's place in :func:`.crossval.three_reader_estimate`."""
    return [Row(r.stem, name, r.patient, -1, None, p.xy, None, None, None)
            for r in readings if r.usable for name, p in r.points.items()]


def readers_check(rows: Sequence[Row], first: Sequence[Reference], second: Sequence[Reference],
                  third: Sequence[Reference], view: FilmView = AP_PELVIS, patients: Sequence[str] = ("adult",),
                  n_boot: int = 500) -> dict[str, dict]:
    """Per anatomy, on the films read three times: each reader's median error against the truth
    from the three human readings (``"third_pct"``, ``"first_pct"``, ``"second_pct"``), the first
    and second readers' from the detector and those two (``"first_with_detector_pct"``,
    ``"second_with_detector_pct"``) and the detector's (``"detector_pct"``), all
    :func:`.crossval.three_reader_estimate` on the same films (% of the view's size); and the
    detector's from the second and third readers alone (``"detector_unseen_pct"``): readers whose
    readings never trained the network, so that no shared habit flatters it."""
    films = {r.stem for r in third if r.usable}
    mine = [r for r in rows if r.film in films]
    humans = three_reader_estimate(reading_rows(third), first, second, patients=patients, view=view, n_boot=n_boot)
    machine = three_reader_estimate(mine, first, second, patients=patients, view=view, n_boot=n_boot)
    unseen = three_reader_estimate(mine, second, third, patients=patients, view=view, n_boot=n_boot)
    out = {}
    for a, h in humans.items():
        m, u = machine.get(a), unseen.get(a)
        if m is None or u is None:
            continue
        out[a] = {"n": h["n"], "third_pct": h["detector_pct"], "first_pct": h["reader_a_pct"],
                  "second_pct": h["reader_b_pct"], "first_with_detector_pct": m["reader_a_pct"],
                  "second_with_detector_pct": m["reader_b_pct"], "detector_pct": m["detector_pct"],
                  "detector_ci_pct": m["detector_ci_pct"], "detector_unseen_pct": u["detector_pct"],
                  "detector_unseen_ci_pct": u["detector_ci_pct"]}
    return out


def markdown_readers(check: dict[str, dict], view: FilmView = AP_PELVIS) -> str:
    """The table of :func:`readers_check`."""
    u = f"% {view.size_label}"
    lines = [f"| landmark | points | 1st / 2nd / 3rd reader vs truth, from the three readers ({u}) | 1st / 2nd reader "
             f"vs truth, with the detector as the third ({u}) | detector vs truth, with the 1st and 2nd readers "
             f"({u}, 95 % CI) | detector vs truth, with the 2nd and 3rd readers, who never trained it ({u}, 95 % CI) |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for a, c in check.items():
        lo, hi = c["detector_ci_pct"]
        ulo, uhi = c["detector_unseen_ci_pct"]
        lines.append(f"| {a} | {c['n']} | {c['first_pct']:.1f} / {c['second_pct']:.1f} / {c['third_pct']:.1f} | "
                     f"{c['first_with_detector_pct']:.1f} / {c['second_with_detector_pct']:.1f} | "
                     f"{c['detector_pct']:.1f} ({lo:.1f}–{hi:.1f}) | {c['detector_unseen_pct']:.1f} ({ulo:.1f}–{uhi:.1f}) |")
    return "\n".join(lines)


def reading_habits(rows: Sequence[Row], first: Sequence[Reference], second: Sequence[Reference],
                   third: Sequence[Reference], patients: Sequence[str] = ("adult",), min_points: int = 8
                   ) -> dict[str, dict]:
    """Where the readers differ by habit: per AP pelvis anatomy, the median *signed* offset of the
    second reading, the third reading and the held-out detection from the first reading, in the
    hip's frame (``(lateral, inferior)``, % of the first reading's head diameter of that side), on
    the head-up films that every reading read usably. Random reading errors leave medians near 0;
    a median of several percent is a convention one reader group holds and the other does not
    (where along the shaft a shaft point goes, which end of the teardrop is its tip). Sides are
    as read (the patient's left at the image's right, standard AP display). An anatomy with fewer
    than ``min_points`` offsets of any of the three is left out.

    >>> from orthoplan.landmarks.references import ReferencePoint
    >>> def reading(reader, y):
    ...     pts = {"femoral_head_center_left": ReferencePoint("femoral_head_center_left", 200, 100, "clear", 25.0),
    ...            "teardrop_left": ReferencePoint("teardrop_left", 150, y, "clear")}
    ...     return Reference("images/a.jpg", 400, 300, "ap-pelvis", True, reader, pts, patient="adult")
    >>> rows = [Row("a", "teardrop_left", "adult", 0, None, (150.0, 120.0), 0.4, 0.5, 50.0)]
    >>> h = reading_habits(rows, [reading("r1", 120.0)], [reading("r2", 115.0)], [reading("r3", 117.0)], min_points=1)
    >>> h["teardrop"]["second"], h["teardrop"]["detector"]  # 5 px higher on a 50 px head: -10 % inferior
    ((0.0, -10.0), (0.0, 0.0))
    """
    if not all(isinstance(r, Reference) for rs in (first, second, third) for r in rs) or \
            not all(isinstance(r, Row) for r in rows):
        raise LandmarkError("reading habits need the cross-validation's rows and three sets of readings")
    sets = [{r.stem: r for r in rs if r.usable and r.patient in patients and r.superior == "up"}
            for rs in (first, second, third)]
    stems = set.intersection(*(set(s) for s in sets))
    det = {(r.film, r.name): r.det_xy for r in rows if r.det_xy is not None}
    offsets: dict[str, dict[str, list]] = {}
    for stem in sorted(stems):
        a = sets[0][stem]
        for name, p in a.points.items():
            anatomy, side = name.rsplit("_", 1)
            head = a.points.get(f"femoral_head_center_{side}")
            if anatomy not in AP_PELVIS.anatomies or head is None or not head.radius:
                continue
            lateral = 1.0 if side == "left" else -1.0
            others = {"second": sets[1][stem].points.get(name), "third": sets[2][stem].points.get(name),
                      "detector": det.get((stem, name))}
            for who, q in others.items():
                if q is None:
                    continue
                qx, qy = q.xy if isinstance(q, ReferencePoint) else q
                d = 100.0 / (2.0 * head.radius)
                offsets.setdefault(anatomy, {}).setdefault(who, []).append(
                    ((qx - p.x) * lateral * d, (qy - p.y) * d))
    out = {}
    for anatomy in AP_PELVIS.anatomies:
        got = offsets.get(anatomy, {})
        if all(len(got.get(w, ())) >= min_points for w in ("second", "third", "detector")):
            out[anatomy] = {"n": min(len(got[w]) for w in ("second", "third", "detector"))}
            for w in ("second", "third", "detector"):
                m = np.median(np.asarray(got[w]), axis=0)
                out[anatomy][w] = (round(float(m[0]), 1), round(float(m[1]), 1))
    return out


def markdown_habits(habits: dict[str, dict]) -> str:
    """The table of :func:`reading_habits`."""
    lines = ["| landmark | points | 2nd reading − 1st: lateral, inferior (% head Ø) | 3rd − 1st | detector − 1st |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for a, h in habits.items():
        cells = " | ".join(f"{h[w][0]:+.1f}, {h[w][1]:+.1f}" for w in ("second", "third", "detector"))
        lines.append(f"| {a} | {h['n']} | {cells} |")
    return "\n".join(lines)
