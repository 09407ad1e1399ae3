"""Accuracy on real films: k-fold cross-validation of the learned detector, reader agreement.

``python -m orthoplan.landmarks.crossval --refs datasets/fracatlas-hip/references
--second datasets/fracatlas-hip/second-reading --root ../shared/data/real/fracatlas-hip --folds 5``

* **Cross-validation.** The reference films are split into ``k`` folds by film (no film is in
  both training and test); for each fold a model is trained by the shipped recipe
  (:func:`orthoplan.landmarks.training.train`, with the phantoms) on the other folds and the
  whole detector (:func:`orthoplan.landmarks.learned.detect_learned`: network, head refinement,
  consistency checks) runs on the held-out films.
* **Errors** are radial distances to the reference in stored pixels and in percent of the
  reference head diameter of that side (the films carry no scale; 10 % of an adult head is
  about 5 mm). A landmark counts as found when it is reported (confidence ≥ 0.3).
* **Confidence calibration.** The raw heatmap peak scores of the held-out predictions give the
  table that maps a score to a confidence (:func:`confidence_table`): the confidence is the
  held-out rate within :data:`TOLERANCE_PCT` of the head diameter (a lower bound), and a
  landmark reported at ≥ 0.8 was within it in ≥ 95 % of held-out cases.
  Confident misses are counted with each fold calibrated on the *other* folds only.
* **Reader agreement.** Films read twice, independently: the same statistics between the two
  readings — the floor below which no accuracy figure means anything.
* **Error against the truth** (:func:`three_reader_estimate`). On the films read twice the
  detector is a third, independent reader; with three readers the variance of each one's own
  error follows from the three pairwise differences (Grubbs' estimator), so the detector's
  error against the (unknown) true point can be estimated without trusting either human reading.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from ..errors import UsageError
from ..model import KNEE_AP_ANATOMY, KNEE_LATERAL_ANATOMY, LandmarkName
from .common import PELVIS_SHAFT_ENDS, axis_ends
from .network import LATERAL_PREFIX
from .references import Reference, load_references
from .uncertainty import MEDIAN_TO_SIGMA

log = logging.getLogger(__name__)

#: A point is "within tolerance" when closer than this percentage of the head diameter (≈ 5 mm).
TOLERANCE_PCT = 10.0
ANATOMIES = ("femoral_head_center", "teardrop", "ischial_tuberosity", "lesser_trochanter", "greater_trochanter",
             "acetabular_lateral_edge", "sourcil_medial", "femoral_neck_center", "femoral_shaft_proximal",
             "femoral_shaft_distal")


@dataclass(frozen=True)
class Row:
    """One reference landmark (or one reported landmark without a reference) on one film."""

    film: str
    name: str
    patient: str
    fold: int
    ref_xy: tuple[float, float] | None
    det_xy: tuple[float, float] | None
    confidence: float | None
    score: float | None
    head_diameter_px: float | None
    radius_err_pct: float | None = None
    #: the reference axis (unit vector) of a point measured across one (a knee axis point, an AP
    #: pelvis's femoral shaft point; :func:`axis_direction`): its error is then the distance
    #: across that axis
    axis_dir: tuple[float, float] | None = None

    @property
    def anatomy(self) -> str:
        return self.name.rsplit("_", 1)[0]

    @property
    def error_px(self) -> float | None:
        if self.ref_xy is None or self.det_xy is None:
            return None
        dx, dy = self.det_xy[0] - self.ref_xy[0], self.det_xy[1] - self.ref_xy[1]
        if self.axis_dir is not None:
            return abs(dx * self.axis_dir[1] - dy * self.axis_dir[0])
        return math.hypot(dx, dy)

    @property
    def error_pct(self) -> float | None:
        e = self.error_px
        return None if e is None or not self.head_diameter_px else 100.0 * e / self.head_diameter_px


#: Two films whose 32-px thumbnails (:func:`.network.prepare_input`) differ by less than this
#: (mean absolute, 0-1) are one picture stored twice (FracAtlas holds duplicates).
SAME_PICTURE = 0.03


def picture_groups(thumbs: np.ndarray) -> np.ndarray:
    """One group number per film; films that are the same picture get one (keep a group in one
    fold, so that no picture is in both training and test).

    >>> t = np.zeros((3, 32, 32)); t[1] += 0.01; t[2] += 0.5
    >>> picture_groups(t).tolist()
    [0, 0, 2]
    """
    flat = np.asarray(thumbs, np.float32).reshape(len(thumbs), -1)
    group = np.arange(len(flat))
    for i in range(len(flat)):
        if group[i] == i:
            same = np.nonzero(np.abs(flat[i + 1:] - flat[i]).mean(1) < SAME_PICTURE)[0] + i + 1
            group[same] = np.where(group[same] == same, i, group[same])
    return group


def axis_direction(ref: Reference, name: str) -> tuple[float, float] | None:
    """The unit direction of the reference's axis that a point ``name`` is measured across
    (:func:`~.common.axis_ends`: a knee axis point's bone, a lateral film's femoral cortex and
    posterior condyle, an AP pelvis's femoral shaft point), both of its points read; else None
    (another point, or the axis not read)."""
    anatomy, side = name.rsplit("_", 1)
    ends = axis_ends(ref.view, anatomy)
    if ends is None:
        return None
    a, b = (ref.points.get(f"{n}_{side}") for n in ends)
    if a is None or b is None:
        return None
    d = math.hypot(b.x - a.x, b.y - a.y)
    return None if d == 0 else ((b.x - a.x) / d, (b.y - a.y) / d)


def with_axis_directions(rows: Sequence[Row], refs: Sequence[Reference]) -> list[Row]:
    """The rows with the reference axis of each point measured across one set
    (:func:`axis_direction`; rows read back from JSON written before it was)."""
    by = {r.stem: r for r in refs}
    return [replace(r, axis_dir=axis_direction(by[r.film], r.name)) if r.film in by else r for r in rows]


def rescored(rows: Sequence[Row], refs: Sequence[Reference], view: FilmView) -> list[Row]:
    """The rows of ``view``'s films against the readings as they are now (a point read again,
    or moved to missing, since the detections were made): reference point, size and axis."""
    by = {r.stem: r for r in refs}
    out = []
    for r in rows:
        ref = by.get(r.film)
        if ref is None or ref.view != view.view:
            out.append(r)
            continue
        p = ref.points.get(r.name)
        if p is None and r.det_xy is None:
            continue
        out.append(replace(r, ref_xy=None if p is None else p.xy, head_diameter_px=view.size(ref, r.name.rsplit("_", 1)[1]),
                           axis_dir=axis_direction(ref, r.name)))
    return out


def head_diameter(ref: Reference, side: str) -> float | None:
    """The reference head diameter (px) of ``side``, else of the other side."""
    for s in (side, "left" if side == "right" else "right"):
        p = ref.points.get(f"femoral_head_center_{s}")
        if p is not None and p.radius:
            return 2.0 * p.radius
    return None


def _distance(ref: Reference, a: str, b: str) -> float | None:
    p, q = ref.points.get(a), ref.points.get(b)
    return None if p is None or q is None else math.hypot(p.x - q.x, p.y - q.y) or None


def condylar_width(ref: Reference, side: str) -> float | None:
    """The femoral condylar width (px) of ``side`` on an AP knee reading: epicondyle to epicondyle."""
    return _distance(ref, f"femoral_epicondyle_medial_{side}", f"femoral_epicondyle_lateral_{side}")


def femoral_ap_width(ref: Reference, side: str) -> float | None:
    """The femoral AP dimension (px) of ``side`` on a lateral knee reading: anterior cortex to
    posterior condyle."""
    return _distance(ref, f"femoral_anterior_cortex_{side}", f"femoral_posterior_condyle_{side}")


@dataclass(frozen=True)
class FilmView:
    """What a real-film evaluation of a view measures: its anatomies, and the size of the
    anatomy (per film and side, px) that errors are given in percent of."""

    view: str
    anatomies: tuple[str, ...]
    size_label: str
    size: Callable[[Reference, str], float | None]
    #: a typical adult size in mm: a film without a scale is given ``size_mm / size_px`` (a
    #: plausible scale, as a user would give with --spacing) when a detector needs one
    size_mm: float
    #: a point is "within tolerance" (not a miss) when closer than this percentage of the size:
    #: about 5 mm at the typical adult size
    tolerance_pct: float = TOLERANCE_PCT


AP_PELVIS = FilmView("ap-pelvis", ANATOMIES, "head Ø", head_diameter, 48.0)
KNEE_AP = FilmView("knee-ap", KNEE_AP_ANATOMY + ("femoral_knee_center", "tibial_knee_center"), "condylar width",
                   condylar_width, 80.0, 6.25)
KNEE_LATERAL = FilmView("knee-lateral", KNEE_LATERAL_ANATOMY, "femoral AP width", femoral_ap_width, 65.0, 7.7)
FILM_VIEWS = {v.view: v for v in (AP_PELVIS, KNEE_AP, KNEE_LATERAL)}
#: The knee networks and the views each is scored on: ``knee`` (320 px) reads both views and
#: is the lateral films' model; ``knee-ap`` (the same channels at 448 px) reads AP films.
KNEE_FAMILIES = {"knee": ("knee-ap", "knee-lateral"), "knee-ap": ("knee-ap",)}


def score(ref: Reference, landmarks, raw: dict[str, float] | None = None, fold: int = -1,
          view: FilmView = AP_PELVIS) -> list[Row]:
    """Rows comparing a detection (:class:`~orthoplan.model.Landmarks`) with a reference; errors
    in percent of the view's size (``Row.head_diameter_px`` holds it, whatever the view)."""
    rows = []
    raw = raw or {}
    names = {n.value for n in LandmarkName if n.anatomy in view.anatomies}
    for name in sorted(names):
        p = ref.points.get(name) if ref.usable else None
        d = landmarks.get(name) if name in landmarks else None
        if p is None and d is None:
            continue
        side = name.rsplit("_", 1)[1]
        rerr = None
        if p is not None and d is not None and p.radius and d.radius_px:
            rerr = 100.0 * (d.radius_px - p.radius) / p.radius
        rows.append(Row(ref.stem, name, ref.patient if ref.usable else "not-ap", fold,
                        None if p is None else p.xy, None if d is None else (d.x, d.y),
                        None if d is None else d.confidence, raw.get(name), view.size(ref, side), rerr,
                        axis_direction(ref, name)))
    return rows


def _stats(values: Sequence[float]) -> tuple[float, float, float]:
    a = np.asarray(values, float)
    return (float(np.median(a)), float(np.mean(a)), float(np.percentile(a, 95))) if a.size else (math.nan,) * 3


def summarize(rows: Iterable[Row], patients: Sequence[str] = ("adult",), view: FilmView = AP_PELVIS
              ) -> dict[str, dict]:
    """Per anatomy: reference points, found, median/mean/p95 error (px and % of the head
    diameter), confident misses (reported ≥ 0.8 and off by more than the tolerance, or
    reported where the reference has no such point), and the points reported where the reading
    has none: ``unread`` on ``patients``' usable films (a hip the reader did not see: off the
    film, cut by its edge, hidden), ``unusable`` on films the readers found unusable."""
    out: dict[str, dict] = {}
    rows = list(rows)
    for anatomy in view.anatomies:
        rs = [r for r in rows if r.anatomy == anatomy]
        ref_rows = [r for r in rs if r.ref_xy is not None and r.patient in patients]
        found = [r for r in ref_rows if r.det_xy is not None]
        px = [r.error_px for r in found]
        pct = [r.error_pct for r in found if r.error_pct is not None]
        spurious = [r for r in rs if r.ref_xy is None and r.det_xy is not None and (r.patient in patients or r.patient == "not-ap")]
        unread = [r for r in spurious if r.patient != "not-ap"]  # on a usable film, where the reader saw no such point
        confident = [r for r in found if (r.confidence or 0) >= 0.8]
        miss = [r for r in confident if r.error_pct is not None and r.error_pct > view.tolerance_pct]
        conf_spur = [r for r in spurious if (r.confidence or 0) >= 0.8]
        radius = [abs(r.radius_err_pct) for r in found if r.radius_err_pct is not None]
        out[anatomy] = {
            "reference": len(ref_rows), "found": len(found),
            "rate": len(found) / len(ref_rows) if ref_rows else math.nan,
            "px": _stats(px), "pct": _stats(pct),
            "within_tol": float(np.mean([e <= view.tolerance_pct for e in pct])) if pct else math.nan,
            "confident": len(confident) + len(conf_spur), "confident_misses": len(miss) + len(conf_spur),
            "spurious": len(spurious), "unread": len(unread), "unusable": len(spurious) - len(unread),
            "radius_pct": _stats(radius) if radius else None,
        }
    return out


#: Median radial distance between two independent readers, per unit of one reader's per-axis
#: spread σ: the difference of two isotropic 2-D Gaussians of spread σ is one of spread σ√2,
#: whose median radius is σ√2·√(2 ln 2).
PAIR_MEDIAN_PER_SIGMA = math.sqrt(2.0) * MEDIAN_TO_SIGMA
#: The highest within-tolerance rate that the error model alone may give a score level
#: (:func:`confidence_table` maps it below 0.8): "within 5 mm in ≥ 95 % of cases" must be seen
#: against the references themselves. Measured why: on the films read twice, the ischial
#: tuberosities that the model put at ≥ 0.8 were more than 10 % from the *mean* of two readings
#: in 5 of 19 cases, twice what the readings' own error explains.
MAX_MODELLED_RATE = 0.949
#: Radial extent (% of the head diameter) over which a gross miss is spread in the error model.
GROSS_EXTENT_PCT = 100.0


def deconvolved_rate(errors_pct, reader_sigma_pct, tolerance_pct: float = TOLERANCE_PCT, iters: int = 80
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The share of a detector's points within ``tolerance_pct`` of the *true* point, estimated
    from its distances to one reader whose own error has per-axis spread ``reader_sigma_pct``.

    The model: a detected point is, with probability ``1 - gross``, an isotropic 2-D Gaussian of
    spread ``s`` around the truth, else a gross miss anywhere within :data:`GROSS_EXTENT_PCT`
    (uniform in radius); the reader adds an independent Gaussian of spread ``reader_sigma_pct``.
    The distances to the reader are then a Rayleigh of spread √(s² + σ_r²) mixed with the
    uniform; ``gross`` and ``s`` are fitted by expectation-maximisation, and the rate within the
    tolerance is ``(1 - gross) (1 - exp(-t² / 2s²))``. Reader outliers are charged to the
    detector (the estimate errs low). Vectorised: ``errors_pct`` of shape ``(n,)`` or ``(b, n)``
    (``b`` bootstrap replicates) and ``reader_sigma_pct`` a scalar or of shape ``(b,)``.

    Returns
    -------
    rate, gross, s : np.ndarray
        One value per replicate (0-d for a single sample).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> truth_err = rng.normal(0, 3.0, (4000, 2))           # detector: s = 3 %
    >>> reader_err = rng.normal(0, 5.0, (4000, 2))          # a noisier reader: 5 %
    >>> d = np.hypot(*(truth_err - reader_err).T)
    >>> round(float(np.mean(d <= 10)), 2)                     # against the reader: looks poor
    0.77
    >>> rate, gross, s = deconvolved_rate(d, 5.0)
    >>> round(float(rate), 2), round(float(s), 1)             # against the truth: 1 - exp(-100/18)
    (1.0, 3.0)
    """
    r = np.atleast_2d(np.asarray(errors_pct, float))
    sr2 = np.broadcast_to(np.asarray(reader_sigma_pct, float) ** 2, r.shape[:1]).astype(float)
    floor = sr2 + 1e-6
    med = np.median(r, axis=1)
    tau2 = np.maximum((med / MEDIAN_TO_SIGMA) ** 2, floor)
    gross = np.full(r.shape[0], 0.05)
    r2 = r * r
    for _ in range(iters):
        f = (r / tau2[:, None]) * np.exp(-r2 / (2.0 * tau2[:, None]))
        core = (1.0 - gross)[:, None] * f
        w = core / (core + gross[:, None] / GROSS_EXTENT_PCT)
        gross = np.clip(1.0 - w.mean(axis=1), 1e-4, 0.999)
        tau2 = np.maximum((w * r2).sum(axis=1) / (2.0 * w.sum(axis=1)), floor)
    s2 = tau2 - sr2
    with np.errstate(divide="ignore", over="ignore"):
        inside = np.where(s2 > 1e-9, 1.0 - np.exp(-tolerance_pct ** 2 / (2.0 * np.maximum(s2, 1e-12))), 1.0)
    rate = (1.0 - gross) * inside
    squeeze = np.ndim(errors_pct) == 1
    out = (rate, gross, np.sqrt(np.maximum(s2, 0.0)))
    return tuple(v[0] if squeeze else v for v in out)


def confidence_table(scores: Sequence[float], errors_pct: Sequence[float], min_support: int = 20,
                     reader_differences_pct: Sequence[float] | None = None, *, n_boot: int = 200,
                     seed: int = 0, tolerance_pct: float = TOLERANCE_PCT) -> dict:
    """A step table ``{"score": [...], "confidence": [...]}`` from held-out peak heights and
    each point's distance to the reference (% of the head diameter).

    Each cut-off (every 5th percentile of the scores with at least ``min_support`` points above
    it) has a bound: the held-out rate within ``tolerance_pct`` (:data:`TOLERANCE_PCT` of the head
    diameter, or a knee view's tolerance) of the points scoring at least as high, as a 95 % lower
    bound (one-sided 97.5 %). The confidence of a score is the highest bound of the cut-offs at or
    below it, so it rises with the score, and the points given at least a confidence ``c`` are
    exactly those above the loosest cut-off whose bound reached ``c``: the claim holds for them as
    a set. 0.8 and above are given only where that bound is at least 0.95: the landmarks reported
    at ≥ 0.8 were within tolerance in ≥ 95 % of held-out cases. (Taking the *lowest* bound of the
    stricter cut-offs instead, as before 6 December 2026, let the few top-scoring points, whose
    bound is low only because they are few, cap every confidence below 0.8.)

    Without ``reader_differences_pct`` the rate is against the reference reading itself (Wilson
    bound): a reference's own error then counts as the detector's. With the distances between
    two independent readings of the same points (films read twice), the rate is also estimated
    against the *truth*: each reader's spread is estimated from those differences (their median
    is :data:`PAIR_MEDIAN_PER_SIGMA` σ) and removed by :func:`deconvolved_rate`; that bound is
    the 2.5th percentile of a bootstrap over both the detector's points and the reader pairs
    (seeded). The higher of the two bounds is used, but a modelled one never above
    :data:`MAX_MODELLED_RATE`: the model may raise a confidence within 0.3–0.79, and only the
    references themselves can give 0.8.
    """
    s = np.asarray(scores, float)
    e = np.asarray(errors_pct, float)
    ok = e <= tolerance_pct
    table = {"score": [-1e9], "confidence": [0.0], "tolerance_pct": tolerance_pct, "n": int(s.size),
             "against": "the reference reading" if reader_differences_pct is None else
             "the truth where the error model shows it (below 0.8), else the reference reading"}
    if s.size < min_support:
        return table
    if reader_differences_pct is not None:
        diffs = np.asarray(reader_differences_pct, float)
        if diffs.size < 8:
            raise ValueError("the truth needs at least 8 reader-to-reader differences to estimate a reader's spread")
        rng = np.random.default_rng(seed)
        sigma_boot = np.median(rng.choice(diffs, (n_boot, diffs.size)), axis=1) / PAIR_MEDIAN_PER_SIGMA
        table["reader_sigma_pct"] = round(float(np.median(diffs) / PAIR_MEDIAN_PER_SIGMA), 3)
    cuts = np.unique(np.percentile(s, np.arange(0, 100, 5)))
    bounds = []
    for t in cuts:
        sel, sel_e = ok[s >= t], e[s >= t]
        n = sel.size
        if n < min_support:
            bounds.append(np.nan)
            continue
        p, z = sel.mean(), 1.96
        lo = (p + z * z / (2 * n) - z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (1 + z * z / n)
        if reader_differences_pct is not None and lo < 0.95:
            # against the truth: a model's estimate may raise a confidence, but not to 0.8 and
            # above, which only the references themselves can show (below, MAX_MODELLED)
            boot = sel_e[rng.integers(0, n, (n_boot, n))]
            lo = min(max(lo, float(np.percentile(deconvolved_rate(boot, sigma_boot, tolerance_pct)[0], 2.5))), MAX_MODELLED_RATE)
        bounds.append(lo)
    b = np.asarray(bounds)
    keep = np.isfinite(b)
    cuts, b = cuts[keep], b[keep]
    # rising with the score: the best bound of any looser cut-off (a set-wise claim)
    env = np.maximum.accumulate(b)
    conf = np.where(env >= 0.95, 0.8 + 4.0 * (env - 0.95), np.minimum(env, 0.79))
    for x, c in zip(cuts, conf):
        c = round(float(c), 3)
        if c > table["confidence"][-1]:
            table["score"].append(float(x))
            table["confidence"].append(c)
    return table


def confidence_tables(rows: Sequence[Row], reader_differences: dict[str, Sequence[float]] | None = None,
                      view: FilmView = AP_PELVIS, prefix: str = "") -> dict[str, dict]:
    """Per anatomy of ``view`` (keyed ``prefix + anatomy``), :func:`confidence_table` of the
    held-out rows (with a score and a reference distance); against the truth for the anatomies
    in ``reader_differences`` (see :func:`reader_differences`)."""
    out = {}
    for a in view.anatomies:
        rs = [r for r in rows if r.anatomy == a and r.score is not None and r.error_pct is not None]
        diffs = (reader_differences or {}).get(a)
        out[prefix + a] = confidence_table([r.score for r in rs], [r.error_pct for r in rs],
                                           reader_differences_pct=diffs if diffs is not None and len(diffs) >= 8 else None,
                                           tolerance_pct=view.tolerance_pct)
    return out


def film_views(refs: Sequence[Reference]) -> dict[str, str]:
    """Film stem -> the view its reading says."""
    return {r.stem: r.view for r in refs}


def knee_confidence_tables(rows: Sequence[Row], refs: Sequence[Reference]) -> dict[str, dict]:
    """The knee model's confidence tables from its cross-validation rows: per view, against the
    one reading (the knee films read twice are too few to check an error model as the pelvis's
    are, :func:`mean_reading_check`). AP anatomies are keyed by name, lateral ones
    ``lateral:<anatomy>``."""
    views = film_views(refs)
    out: dict[str, dict] = {}
    for view, prefix in ((KNEE_AP, ""), (KNEE_LATERAL, LATERAL_PREFIX)):
        mine = [r for r in rows if views.get(r.film) == view.view and r.ref_xy is not None]
        out.update(confidence_tables(mine, None, view, prefix))
    return out


def truth_differences(rows: Sequence[Row], first: Sequence[Reference], second: Sequence[Reference]
                      ) -> dict[str, list[float]]:
    """The reader differences (:func:`reader_differences`) of the anatomies whose error model
    passes its check on the films read twice (:func:`mean_reading_check`: it predicts no more
    detections within the tolerance of the mean of two readings than are observed). Only for
    those is confidence fitted against the truth; for the others, against the one reading.

    Why a check: the detector learned the first readers' habits (e.g. where along the shaft a
    shaft point goes). Where the second readers place a point differently, the reader-to-reader
    difference overstates the first reading's own error, and removing it would flatter the
    detector; the check catches that."""
    diffs = reader_differences(first, second)
    check = mean_reading_check(rows, first, second, diffs)
    return {a: d for a, d in diffs.items() if a in check and check[a]["predicted"] <= check[a]["observed"]}


def apply_table(table: dict, score_value: float) -> float:
    xs = np.asarray(table["score"], float)
    i = np.searchsorted(xs, score_value, side="right") - 1
    return float(table["confidence"][i]) if i >= 0 else 0.0


def _reader_pairs(first: Sequence[Reference], second: Sequence[Reference], view: FilmView = AP_PELVIS) -> list[Row]:
    """A row per point read on both readings of a film (first reading as the reference)."""
    by = {r.stem: r for r in first}
    rows = []
    for b in second:
        a = by.get(b.stem)
        if a is None or not (a.usable and b.usable) or (view is not AP_PELVIS and a.view != view.view):
            continue
        for name, p in b.points.items():
            q = a.points.get(name)
            if q is None or name.rsplit("_", 1)[0] not in view.anatomies:
                continue
            hd = view.size(a, name.rsplit("_", 1)[1])
            rerr = 100.0 * (p.radius - q.radius) / q.radius if p.radius and q.radius else None
            rows.append(Row(a.stem, name, a.patient, -1, q.xy, p.xy, None, None, hd, rerr, axis_direction(a, name)))
    return rows


def reader_differences(first: Sequence[Reference], second: Sequence[Reference], view: FilmView = AP_PELVIS
                       ) -> dict[str, list[float]]:
    """Per anatomy, the distances (% of the view's size) between two independent readings."""
    out: dict[str, list[float]] = {}
    for r in _reader_pairs(first, second, view):
        if r.error_pct is not None:
            out.setdefault(r.anatomy, []).append(r.error_pct)
    return out


def reader_agreement(first: Sequence[Reference], second: Sequence[Reference], view: FilmView = AP_PELVIS
                     ) -> dict[str, dict]:
    """Per anatomy, the difference between two independent readings of the same films."""
    rows = _reader_pairs(first, second, view)
    out = {}
    for anatomy in view.anatomies:
        rs = [r for r in rows if r.anatomy == anatomy]
        pct = [r.error_pct for r in rs if r.error_pct is not None]
        radius = [abs(r.radius_err_pct) for r in rs if r.radius_err_pct is not None]
        out[anatomy] = {"pairs": len(rs), "films": len({r.film for r in rs}), "px": _stats([r.error_px for r in rs]),
                        "pct": _stats(pct), "radius_pct": _stats(radius) if radius else None}
    out["_films"] = len({r.film for r in rows})
    return out


def three_reader_estimate(rows: Sequence[Row], first: Sequence[Reference], second: Sequence[Reference], *,
                          patients: Sequence[str] = ("adult",), view: FilmView | None = None, n_boot: int = 2000,
                          seed: int = 0) -> dict[str, dict]:
    """The detector's median error against the truth, per anatomy, from three independent readers.

    On each film read twice, the held-out detection (``rows``), the first reading and the
    second reading are three independent readings of the same point. With independent,
    isotropic Gaussian errors of per-axis spread ``s_i``, the mean squared distance between
    readers i and j is ``2 (s_i² + s_j²)``, so each reader's own spread follows from the three
    pairwise distances (Grubbs' estimator), and the median radial error of a 2-D Gaussian is
    ``s √(2 ln 2)``. The 95 % interval is a bootstrap over points (seeded).

    ``view`` (default the AP pelvis) gives the anatomies and the size that errors are in percent
    of. A knee's axis points, and a lateral film's femoral points, are compared across their
    reference axis only (:func:`axis_direction`), as the cross-validation scores them: where
    along the axis they lie is a reading convention.

    Returns
    -------
    dict
        anatomy → ``{"n", "detector_pct", "detector_ci_pct", "reader_a_pct", "reader_b_pct",
        "observed_pct", "readers_observed_pct", "dims"}`` (medians in % of the view's size;
        ``dims`` 1 for points compared across an axis); anatomies with fewer than 8 triples
        are left out.
    """
    view = view or AP_PELVIS
    by_a = {r.stem: r for r in first}
    by_b = {r.stem: r for r in second}
    det = {(r.film, r.name): r for r in rows if r.det_xy is not None}
    triples: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    for stem, b in by_b.items():
        a = by_a.get(stem)
        if a is None or not (a.usable and b.usable) or a.patient not in patients or a.view != b.view:
            continue
        for name, pb in b.points.items():
            pa, d = a.points.get(name), det.get((stem, name))
            anatomy, side = name.rsplit("_", 1)
            size = view.size(a, side)
            if pa is None or d is None or not size or anatomy not in view.anatomies:
                continue
            pts = [np.asarray(xy, float) for xy in (d.det_xy, pa.xy, pb.xy)]
            if _across_an_axis(a, anatomy):
                axis = axis_direction(a, name)
                if axis is None:
                    continue
                across = np.array([axis[1], -axis[0]])
                pts = [np.array([float(p @ across)]) for p in pts]
            triples.setdefault(anatomy, []).append(tuple(100.0 * p / size for p in pts))
    return {anatomy: three_reader_medians(np.array(t), n_boot=n_boot, seed=seed) for anatomy, t in triples.items() if len(t) >= 8}


def _across_an_axis(ref: Reference, anatomy: str) -> bool:
    """Whether a point of ``anatomy`` is scored across its reference axis on ``ref``'s view."""
    return axis_ends(ref.view, anatomy) is not None


#: The median of |x| for x ~ N(0, σ²), over σ (the 75th percentile of the standard normal).
HALF_NORMAL_MEDIAN = 0.6744897501960817


def three_reader_medians(t: np.ndarray, *, n_boot: int = 2000, seed: int = 0) -> dict:
    """Grubbs' estimate of each reader's median error against the truth, from the median
    pairwise distances (robust to a few gross disagreements).

    Parameters
    ----------
    t
        ``(n, 3, 2)``: n points, each read by the detector, reader A and reader B (any unit);
        or ``(n, 3, 1)`` / ``(n, 3)``: n values (an angle, a point's distance across an axis),
        whose median *absolute* error is then estimated.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> truth = rng.uniform(0, 100, (20000, 1, 2))
    >>> t = truth + rng.normal(0, 1, (20000, 3, 2)) * np.array([1.0, 2.0, 2.0])[:, None]
    >>> e = three_reader_medians(t, n_boot=20)
    >>> abs(e["detector_pct"] - 1.18) < 0.06, abs(e["reader_a_pct"] - 2.35) < 0.06  # 1.18 σ and 2.35 σ
    (True, True)
    >>> angles = rng.normal(80, 3, (20000, 1)) + rng.normal(0, 1, (20000, 3)) * [1.0, 2.0, 2.0]
    >>> e = three_reader_medians(angles, n_boot=20)
    >>> e["dims"], abs(e["detector_pct"] - 0.674) < 0.04  # 0.674 σ in one dimension
    (1, True)
    """
    t = np.asarray(t, float)
    if t.ndim == 2:
        t = t[:, :, None]
    if t.ndim != 3 or t.shape[1] != 3 or t.shape[2] not in (1, 2):
        raise UsageError(f"three readings of points or values are (n, 3, 2) or (n, 3), not {t.shape}")
    dims = t.shape[2]
    # the median distance of a spread-σ Gaussian: radial in 2-D, absolute in 1-D
    to_sigma = MEDIAN_TO_SIGMA if dims == 2 else HALF_NORMAL_MEDIAN

    def spreads(ix: np.ndarray) -> np.ndarray:
        d, a, b = t[ix, 0], t[ix, 1], t[ix, 2]
        # mean squared distances, each from its median (dims · (median / to_sigma)² for a round
        # Gaussian): robust to a few gross disagreements, e.g. a film's sides read the other way
        da, db, ab = (dims * (float(np.median(np.linalg.norm(u - v, axis=1))) / to_sigma) ** 2
                      for u, v in ((d, a), (d, b), (a, b)))
        var = np.array([da + db - ab, da + ab - db, db + ab - da]) / (2.0 * dims)  # per-axis variances
        return np.sqrt(np.clip(var, 0.0, None)) * to_sigma

    n = len(t)
    est = spreads(np.arange(n))
    rng = np.random.default_rng(seed)
    boot = np.array([spreads(rng.integers(0, n, n))[0] for _ in range(n_boot)])
    return {"n": n, "dims": dims, "detector_pct": float(est[0]),
            "detector_ci_pct": (float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))),
            "reader_a_pct": float(est[1]), "reader_b_pct": float(est[2]),
            "observed_pct": float(np.median(np.linalg.norm(t[:, 0] - t[:, 1], axis=1))),
            "readers_observed_pct": float(np.median(np.linalg.norm(t[:, 1] - t[:, 2], axis=1)))}


def share_within(median_abs: float, limit: float) -> float:
    """The share of values within ``limit`` of the truth for a centred Gaussian error whose
    median absolute value is ``median_abs`` (a 1-D :func:`three_reader_medians` estimate).

    >>> round(share_within(HALF_NORMAL_MEDIAN, 1.96), 3)  # σ = 1: within 1.96 σ
    0.95
    """
    if not (math.isfinite(median_abs) and median_abs >= 0.0 and math.isfinite(limit) and limit > 0.0):
        raise UsageError(f"share within a limit needs a median error >= 0 and a limit > 0 (not {median_abs}, {limit})")
    if median_abs == 0.0:
        return 1.0
    return math.erf(limit * HALF_NORMAL_MEDIAN / (median_abs * math.sqrt(2.0)))


def markdown_three_readers(est: dict[str, dict], view: FilmView | None = None) -> str:
    view = view or AP_PELVIS
    which = ("the held-out network's position for every point, reported or not" if view is AP_PELVIS else
             "the held-out detection's points, every one that the anatomy rules keep")
    lines = [f"**The detector's error against the truth, estimated from three readers** ({which}; first and second reading "
             "of the films read twice; Grubbs' estimator, 95 % bootstrap interval"
             + ("" if view is AP_PELVIS else f"; in % of the {view.size_label}, points on an axis across it") + ")", "",
             "| landmark | points | detector vs 1st reading, median % | 1st vs 2nd reading, median % | "
             "detector vs truth, est. median % (95 % CI) | readers vs truth, est. median % |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for a in view.anatomies:
        if a not in est:
            continue
        e = est[a]
        lo, hi = e["detector_ci_pct"]
        lines.append(f"| {a} | {e['n']} | {_f(e['observed_pct'])} | {_f(e['readers_observed_pct'])} | "
                     f"{_f(e['detector_pct'])} ({_f(lo)}–{_f(hi)}) | {_f(e['reader_a_pct'])} / {_f(e['reader_b_pct'])} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- cross-validation


def folds_of(refs: Sequence[Reference], k: int, seed: int = 0) -> dict[str, int]:
    """Film stem -> fold, at random (seeded); every film in exactly one fold."""
    stems = sorted({r.stem for r in refs})
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(stems))
    return {stems[i]: int(j % k) for j, i in enumerate(perm)}


def cross_validate(refs: Sequence[Reference], root: str | Path, k: int = 5, *, phantoms=(), seed: int = 0,
                   workdir: str | Path = "/tmp/orthoplan-cv", train_kwargs: dict | None = None,
                   folds: Sequence[int] | None = None, family: str = "ap-pelvis", train_only: bool = False
                   ) -> list[Row]:
    """Train on ``k - 1`` folds (plus ``phantoms``, :class:`TrainingFilm` values), detect on the
    held-out fold; every reference film is held out once. Returns the scored rows (with the
    raw peak heights, for :func:`confidence_table`).

    ``family`` is the network: ``"ap-pelvis"`` (:func:`~orthoplan.landmarks.learned.detect_learned`),
    ``"knee"`` (AP and lateral knee films,
    :func:`~orthoplan.landmarks.knee_learned.detect_knee_learned`) or ``"knee-ap"`` (the same
    network and films, scored on AP films only: :data:`KNEE_FAMILIES`). A fold whose model is
    already in ``workdir`` is not trained again; ``train_only`` stops after training."""
    from ..image import load
    from . import training
    from .network import LandmarkModel, load_model

    channels = training.KNEE_CHANNELS if family in KNEE_FAMILIES else training.AP_PELVIS_CHANNELS
    model_view = "knee" if family in KNEE_FAMILIES else family
    bad = [f for f in (folds or ()) if not 0 <= f < k]
    if bad:
        raise UsageError(f"no fold {bad[0]} in a {k}-fold cross-validation (folds are 0 to {k - 1})")
    assignment = folds_of(refs, k, seed)
    rows: list[Row] = []
    films_all = {f.key: f for f in training.films_from_references(refs, root, channels)}
    for fold in (folds if folds is not None else range(k)):
        train_films = [f for key, f in films_all.items() if assignment[key] != fold] + list(phantoms)
        out = Path(workdir) / f"fold{fold}" / family
        t0 = time.perf_counter()
        if not out.with_suffix(".onnx").exists():
            training.train(train_films, out, seed=seed, channels=channels, view=model_view, **(train_kwargs or {}))
        log.info("cv: fold %d trained on %d films (%.0f s)", fold, len(train_films), time.perf_counter() - t0)
        if train_only:
            continue
        m = load_model(out.with_suffix(".onnx"), view=model_view)
        # every peak reported (confidence 1 before the anatomy's penalties): the table is fitted
        # afterwards on held-out peaks (:func:`recalibrated`)
        model = LandmarkModel(m.path, m.view, m.channels, m.input_size, m.stride,
                              {**m.meta, "confidence": {"*": {"score": [-1e9], "confidence": [1.0]}}}, m.session)
        fibula = _fold_fibula_model(refs, root, assignment, fold) if family in KNEE_FAMILIES else None
        # the AP knee network takes its axis points from the same fold's 320-px network
        axis_path = Path(workdir) / f"fold{fold}" / "knee.onnx"
        axis = load_model(axis_path, view="knee") if family == "knee-ap" and axis_path.exists() else None
        for ref in refs:
            if assignment[ref.stem] != fold or (family in KNEE_FAMILIES and ref.view not in KNEE_FAMILIES[family]):
                continue
            try:
                rad = load(Path(root) / ref.image)
            except Exception as exc:  # noqa: BLE001
                log.warning("cv: %s unreadable (%s)", ref.image, exc)
                continue
            rows.extend(_detect_and_score(ref, rad, model, fold, family, fibula, axis))
    return rows


def _fold_fibula_model(refs: Sequence[Reference], root: str | Path, assignment: dict[str, int], fold: int):
    """The fibula model (:mod:`.views`) fitted on the other folds' AP knee readings, so that a
    held-out knee's medial and lateral are oriented by a model that never saw it."""
    from ..image import load
    from .views import FIBULA_CLASSES, FIBULA_L2, fibula_examples, fit_view_model

    others = [r for r in refs if assignment.get(r.stem) != fold]
    x, y, _ = fibula_examples(others, lambda ref: load(Path(root) / ref.image).display)
    return fit_view_model(x, y, classes=FIBULA_CLASSES, l2=FIBULA_L2)


def _detect_and_score(ref: Reference, rad, model, fold: int, family: str, fibula=None, axis=None) -> list[Row]:
    """One held-out film detected with a fold's model and scored against its reading."""
    if family in KNEE_FAMILIES:
        from .knee_learned import detect_knee_learned

        view = FILM_VIEWS.get(ref.view)
        if view is None or not ref.usable:
            return []
        # each film gets the side its reader decided where it shows one knee (as a laterality tag
        # or --side would give it; a lateral view needs one); medial and lateral come from the
        # anatomy, a fibula model fitted on the other folds; a film of both knees gets none
        sides = sorted({n.rsplit("_", 1)[1] for n in ref.points})
        side = sides[0] if len(sides) == 1 else None
        det = detect_knee_learned(rad, ref.view, side, model=model, minimum=0.0, fibula_model=fibula,
                                  axis_model=axis)
        raw = {lm.name.value: det.info.get("scores", {}).get(lm.name.value) for lm in det.landmarks}
        return score(ref, det.landmarks, raw, fold, view)
    from .learned import detect_learned

    det = detect_learned(rad, model=model)
    return score(ref, det.landmarks, {p.channel: p.score for p in det.raw}, fold)


def recalibrated(rows: Sequence[Row], k: int, reader_diffs: dict[str, Sequence[float]] | None = None,
                 view: FilmView = AP_PELVIS) -> list[Row]:
    """The rows with each fold's confidences from a table fitted on the *other* folds' rows
    (per anatomy), times the anatomy checks' penalties (the rows' confidence, found with every
    peak at confidence 1), so that confident misses are counted on data the table never saw.
    A landmark whose confidence falls below 0.3 is no longer reported, nor is anything on a
    side whose head is not (a knee: whose joint-line points' median confidence is below 0.3).
    ``rows`` are of one view."""
    out = []
    for fold in range(k):
        others = [r for r in rows if r.fold != fold and r.score is not None and r.ref_xy is not None
                  and r.error_pct is not None]
        tables = confidence_tables(others, reader_diffs, view)
        mine = [r for r in rows if r.fold == fold]
        conf = {(r.film, r.name): apply_table(tables[r.anatomy], r.score) * (r.confidence or 0.0)
                for r in mine if r.det_xy is not None and r.score is not None}
        for r in mine:
            side = r.name.rsplit("_", 1)[1]
            c = conf.get((r.film, r.name))
            if view is AP_PELVIS:
                head = conf.get((r.film, f"femoral_head_center_{side}"), 0.0)
            elif view is KNEE_AP:
                joint = ("femoral_condyle_medial", "femoral_condyle_lateral", "tibial_plateau_medial",
                         "tibial_plateau_lateral")
                head = float(np.median([conf.get((r.film, f"{a}_{side}"), 0.0) for a in joint]))
            else:
                head = 1.0
            if c is None or c < 0.3 or head < 0.3:
                if r.ref_xy is not None:
                    out.append(replace(r, det_xy=None, confidence=None, radius_err_pct=None))
                continue
            out.append(replace(r, confidence=c))
    return out


def evaluate_refine(refs: Sequence[Reference], root: str | Path, rows: Sequence[Row], k: int = 5, *,
                    seed: int = 0, workdir: str | Path = "/tmp/orthoplan-cv", clicks_per_point: int = 2,
                    click_radius_pct: float = 20.0, patients: Sequence[str] = ("adult",),
                    reader_diffs: dict[str, Sequence[float]] | None = None) -> dict[str, dict]:
    """Snap simulated clicks with :func:`orthoplan.landmarks.refine`, each film with the fold
    model that never saw it (``ORTHOPLAN_MODEL``), its confidence table fitted on the other
    folds' ``rows`` (written into the fold model's description).

    A click lands at a random place within ``click_radius_pct`` of the head diameter of the
    reference point (20 % ≈ 10 mm). Per anatomy: the share of results within 4 % of the head
    diameter (≈ 2 mm) of the reference, the share left at the click (source manual), and the
    share made worse than the click. A femoral shaft point is scored across the reference shaft
    (:func:`axis_direction`): refine keeps a click's level along it."""
    import os

    from ..image import load
    from .refine import clear_cache, refine

    assignment = folds_of(refs, k, seed)
    for fold in range(k):
        meta_path = Path(workdir) / f"fold{fold}" / "ap-pelvis.json"
        meta = json.loads(meta_path.read_text())
        others = [r for r in rows if r.fold != fold and r.score is not None and r.error_pct is not None]
        meta["confidence"] = confidence_tables(others, reader_diffs)
        meta_path.write_text(json.dumps(meta))
    rng = np.random.default_rng(seed + 1)
    stats: dict[str, dict] = {a: {"n": 0, "within": 0, "kept": 0, "worse": 0} for a in ANATOMIES}
    old = os.environ.get("ORTHOPLAN_MODEL")
    try:
        for ref in refs:
            if not ref.usable or ref.patient not in patients or ref.stem not in assignment:
                continue
            os.environ["ORTHOPLAN_MODEL"] = str(Path(workdir) / f"fold{assignment[ref.stem]}" / "ap-pelvis.onnx")
            try:
                rad = load(Path(root) / ref.image)
            except Exception:  # noqa: BLE001
                continue
            for name, p in ref.points.items():
                anatomy, side = name.rsplit("_", 1)
                hd = head_diameter(ref, side)
                if anatomy not in ANATOMIES or not hd:
                    continue
                axis = axis_direction(ref, name)
                for _ in range(clicks_per_point):
                    ang, rad_pct = rng.uniform(0, 2 * np.pi), click_radius_pct * math.sqrt(rng.uniform(0.05, 1.0))
                    click = (p.x + math.cos(ang) * rad_pct * hd / 100, p.y + math.sin(ang) * rad_pct * hd / 100)
                    got = refine(rad, name, click)
                    err, was = (Row(ref.stem, name, ref.patient, -1, p.xy, xy, None, None, hd, None, axis).error_pct
                                for xy in ((got.x, got.y), click))
                    st = stats[anatomy]
                    st["n"] += 1
                    st["within"] += err <= 4.0
                    st["kept"] += got.source.value == "manual"
                    st["worse"] += err > was + 0.5  # beyond float32 rounding of the coordinates
            clear_cache()
    finally:
        if old is None:
            os.environ.pop("ORTHOPLAN_MODEL", None)
        else:
            os.environ["ORTHOPLAN_MODEL"] = old
    return stats


def reader_sigmas(reader_diffs: dict[str, Sequence[float]]) -> dict[str, float]:
    """Per anatomy, one reader's per-axis spread (% of the head diameter) from the distances
    between two independent readings (their median is :data:`PAIR_MEDIAN_PER_SIGMA` σ). Not for
    the femoral shaft points, measured across the shaft (one axis; :data:`~.common.PELVIS_SHAFT_ENDS`):
    the 2-D error model of :func:`deconvolved_rate` is not theirs, and their confidence is fitted
    against the one reading, as the knee's axis points' is."""
    return {a: float(np.median(d)) / PAIR_MEDIAN_PER_SIGMA for a, d in reader_diffs.items()
            if len(d) >= 8 and a not in PELVIS_SHAFT_ENDS}


def calibration_check(cal_rows: Sequence[Row], reader_diffs: dict[str, Sequence[float]],
                      patients: Sequence[str] = ("adult",),
                      bands: Sequence[tuple[float, float]] = ((0.3, 0.5), (0.5, 0.65), (0.65, 0.8), (0.8, 1.01))
                      ) -> list[dict]:
    """Does a reported confidence mean what it says? Per confidence band of the held-out,
    recalibrated rows (``cal_rows``, from :func:`recalibrated`): the points, their mean
    confidence, the share within :data:`TOLERANCE_PCT` of the one reference reading, and the share
    estimated within it of the truth (:func:`deconvolved_rate` per anatomy, the reader's spread
    from ``reader_diffs``, pooled by count; an anatomy without a spread, such as the shaft points
    measured across the shaft, at its share within of the one reading, which the reader's own
    error only lowers)."""
    sig = reader_sigmas(reader_diffs)
    out = []
    for lo, hi in bands:
        rs = [r for r in cal_rows if r.patient in patients and r.det_xy is not None and r.error_pct is not None
              and r.confidence is not None and lo <= r.confidence < hi]
        est, n_est = 0.0, 0
        for a in ANATOMIES:
            e = [r.error_pct for r in rs if r.anatomy == a]
            if len(e) >= 8 and a in sig:
                est += float(deconvolved_rate(np.asarray(e), sig[a])[0]) * len(e)
                n_est += len(e)
            elif len(e) >= 8 and a in PELVIS_SHAFT_ENDS:
                est += float(np.sum(np.asarray(e) <= TOLERANCE_PCT))
                n_est += len(e)
        out.append({"band": (lo, min(hi, 1.0)), "n": len(rs),
                    "mean_confidence": float(np.mean([r.confidence for r in rs])) if rs else math.nan,
                    "observed": float(np.mean([r.error_pct <= TOLERANCE_PCT for r in rs])) if rs else math.nan,
                    "estimated_truth": est / n_est if n_est else math.nan})
    return out


def mean_reading_check(rows: Sequence[Row], first: Sequence[Reference], second: Sequence[Reference],
                       reader_diffs: dict[str, Sequence[float]], patients: Sequence[str] = ("adult",)) -> dict[str, dict]:
    """A check of the error model behind :func:`deconvolved_rate` on data it was not fitted to.

    The model is fitted per anatomy on the held-out detections against the one (first) reading.
    On the films read twice the *mean* of the two readings is a better reference (its spread is
    σ_r/√2); the model predicts the share of detections within :data:`TOLERANCE_PCT` of it, and
    that share is observed. Agreement supports the model; a prediction above the observation
    would mean the confidence against the truth is too high."""
    sig = reader_sigmas(reader_diffs)
    by_b = {r.stem: r for r in second}
    by_a = {r.stem: r for r in first}
    out = {}
    for a in ANATOMIES:
        if a not in sig:
            continue
        e = np.asarray([r.error_pct for r in rows if r.anatomy == a and r.patient in patients
                        and r.error_pct is not None], float)
        if e.size < 20:
            continue
        _, gross, s_det = (float(v) for v in deconvolved_rate(e, sig[a]))
        tau2 = s_det ** 2 + sig[a] ** 2 / 2.0
        predicted = (1 - gross) * (1 - math.exp(-TOLERANCE_PCT ** 2 / (2 * tau2))) + gross * TOLERANCE_PCT / GROSS_EXTENT_PCT
        d = []
        for r in rows:
            if r.anatomy != a or r.det_xy is None or r.patient not in patients:
                continue
            ra, rb = by_a.get(r.film), by_b.get(r.film)
            if ra is None or rb is None or not rb.usable:
                continue
            pa, pb = ra.points.get(r.name), rb.points.get(r.name)
            hd = head_diameter(ra, r.name.rsplit("_", 1)[1])
            if pa is None or pb is None or not hd:
                continue
            mx, my = (pa.x + pb.x) / 2, (pa.y + pb.y) / 2
            d.append(100.0 * math.hypot(r.det_xy[0] - mx, r.det_xy[1] - my) / hd)
        if len(d) >= 8:
            out[a] = {"n": len(d), "predicted": predicted, "observed": float(np.mean(np.asarray(d) <= TOLERANCE_PCT)),
                      "detector_sigma_pct": s_det, "gross": gross, "reader_sigma_pct": sig[a]}
    return out


def markdown_calibration_check(check: list[dict], model: dict[str, dict]) -> str:
    lines = ["| confidence band | points | mean confidence | within 10 % of the one reading | "
             "within 10 % of the truth (estimated) |", "| --- | ---: | ---: | ---: | ---: |"]
    for c in check:
        lo, hi = c["band"]
        lines.append(f"| {lo:.2f}–{hi:.2f} | {c['n']} | {_f(c['mean_confidence'], 2)} | "
                     f"{_f(100 * c['observed'], 0)} % | {_f(100 * c['estimated_truth'], 0)} % |")
    lines += ["", "| landmark | reader σ, % | detector σ, % | gross misses | films read twice: points | "
              "within 10 % of the mean reading, predicted | observed | confidence fitted against |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for a, m in model.items():
        against = "the truth" if m["predicted"] <= m["observed"] else "the one reading (model not confirmed)"
        lines.append(f"| {a} | {m['reader_sigma_pct']:.1f} | {m['detector_sigma_pct']:.1f} | {100 * m['gross']:.1f} % | "
                     f"{m['n']} | {100 * m['predicted']:.1f} % | {100 * m['observed']:.1f} % | {against} |")
    for a in PELVIS_SHAFT_ENDS:
        if a not in model:
            lines.append(f"| {a} | – | – | – | – | – | – | the one reading (measured across the shaft) |")
    return "\n".join(lines)


def perfect_refine(reader_sigma_pct: float, n: int = 20000, click_radius_pct: float = 20.0, seed: int = 0,
                   across: bool = False) -> tuple[float, float]:
    """What a *perfect* refinement (the true point, every time) scores against one reading whose
    own error has per-axis spread ``reader_sigma_pct``, with the clicks of :func:`evaluate_refine`:
    the share within 4 % of the head diameter of the reading (a ceiling), and the share "made
    worse than the click" (a floor: the click happened to lie nearer the reading than the truth).
    ``across``: a point scored across an axis (one dimension: the reading's and the click's
    distances across it).

    >>> within, worse = perfect_refine(4.3)
    >>> round(within, 2), round(worse, 2)
    (0.35, 0.05)
    >>> within, worse = perfect_refine(3.2, across=True)
    >>> round(within, 2), round(worse, 2)
    (0.79, 0.11)
    """
    rng = np.random.default_rng(seed)
    click = click_radius_pct * np.sqrt(rng.uniform(0.05, 1.0, n))
    if across:
        click = click * np.abs(np.sin(rng.uniform(0.0, 2 * np.pi, n)))
        reading = np.abs(rng.normal(0.0, reader_sigma_pct, n))
    else:
        reading = np.hypot(*rng.normal(0.0, reader_sigma_pct, (2, n)))
    return float(np.mean(reading <= 4.0)), float(np.mean(reading > click + 0.5))


def markdown_refine(stats: dict[str, dict], reader_diffs: dict[str, Sequence[float]] | None = None) -> str:
    sig = reader_sigmas(reader_diffs or {})
    # a shaft point, scored across the shaft: one reader's spread from the median |difference|
    across = {a: float(np.median(d)) / (HALF_NORMAL_MEDIAN * math.sqrt(2.0))
              for a, d in (reader_diffs or {}).items() if a in PELVIS_SHAFT_ENDS and len(d) >= 8}
    lines = ["| landmark | clicks | within 4 % of the head Ø (≈ 2 mm) | left at the click | made worse than the click | "
             "a perfect refinement against this reading: within 4 % / worse |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for a, st in stats.items():
        n = max(st["n"], 1)
        perfect = "–"
        if a in sig or a in across:
            w, b = perfect_refine(sig[a]) if a in sig else perfect_refine(across[a], across=True)
            perfect = f"{100 * w:.0f} % / {100 * b:.0f} %"
        lines.append(f"| {a} | {st['n']} | {100 * st['within'] / n:.0f} % | {100 * st['kept'] / n:.0f} % | "
                     f"{100 * st['worse'] / n:.0f} % | {perfect} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- report


def _f(v: float, nd: int = 1) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{nd}f}"


def markdown_accuracy(summary: dict[str, dict], title: str, size_label: str = "head Ø",
                      tolerance_pct: float = TOLERANCE_PCT) -> str:
    lines = [f"**{title}**", "",
             f"| landmark | reference points | found | median px | mean px | p95 px | median % {size_label} | mean % | p95 % "
             f"| within {tolerance_pct:g} % | confident (≥ 0.8) | confident misses | reported, not read | "
             "reported on unusable films |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for a, s in summary.items():
        lines.append(f"| {a} | {s['reference']} | {_f(100 * s['rate'], 0)} % | {_f(s['px'][0])} | {_f(s['px'][1])} | "
                     f"{_f(s['px'][2])} | {_f(s['pct'][0])} | {_f(s['pct'][1])} | {_f(s['pct'][2])} | "
                     f"{_f(100 * s['within_tol'], 0)} % | {s['confident']} | {s['confident_misses']} | "
                     f"{s['unread']} | {s['unusable']} |")
    h = summary.get("femoral_head_center", {}).get("radius_pct")
    if h:
        lines += ["", f"Head radius error: median {_f(h[0])} %, mean {_f(h[1])} %, p95 {_f(h[2])} % of the reference radius."]
    return "\n".join(lines)


def markdown_agreement(agree: dict[str, dict], size_label: str = "head Ø", title: str = "Reader-to-reader difference"
                       ) -> str:
    lines = [f"**{title}** ({agree['_films']} films read twice, independently)", "",
             f"| landmark | pairs | median px | mean px | p95 px | median % {size_label} | mean % | p95 % |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for a in [k for k in agree if not k.startswith("_")]:
        s = agree[a]
        lines.append(f"| {a} | {s['pairs']} | {_f(s['px'][0])} | {_f(s['px'][1])} | {_f(s['px'][2])} | "
                     f"{_f(s['pct'][0])} | {_f(s['pct'][1])} | {_f(s['pct'][2])} |")
    h = agree.get("femoral_head_center", {}).get("radius_pct")
    if h:
        lines += ["", f"Head radius difference: median {_f(h[0])} %, mean {_f(h[1])} %, p95 {_f(h[2])} %."]
    return "\n".join(lines)


def evaluate_classical_knee(refs: Sequence[Reference], root: str | Path, view: FilmView) -> list[Row]:
    """The classical knee detector (:func:`orthoplan.landmarks.knee.detect_knee_details`) on
    real knee films, scored against their readings (no training: nothing is held out).

    Each film is given the side its reader decided and a plausible scale, the view's typical
    adult size over its size read on the film (``view.size_mm``; as a user would give with
    ``--spacing``). A film without that size read is left out. Children are kept (their rows
    say so)."""
    from ..errors import LandmarkError
    from ..model import Calibration
    from ..pipeline import load_radiograph
    from .knee import detect_knee_details

    rows: list[Row] = []
    for ref in refs:
        if not ref.usable or ref.view != view.view:
            continue
        sides = sorted({n.rsplit("_", 1)[1] for n in ref.points})
        for side in sides:
            size = view.size(ref, side)
            if not size:
                continue
            try:
                rad = load_radiograph(str(Path(root) / ref.image))
                cal = Calibration(view.size_mm / size, "explicit-spacing", 10.0)
                det = detect_knee_details(rad, cal, view=view.view, side=side)
            except LandmarkError as exc:
                log.info("%s %s: %s", ref.stem, side, exc)
                continue
            mine = [r for r in score(ref, det.landmarks, view=view) if r.name.endswith("_" + side)]
            rows.extend(mine)
    return rows


def rows_to_json(rows: Sequence[Row]) -> list[dict]:
    return [dict(vars(r)) for r in rows]


def rows_from_json(data: Sequence[dict]) -> list[Row]:
    return [Row(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()}) for d in data]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m orthoplan.landmarks.crossval", description=__doc__.split("\n\n")[0])
    ap.add_argument("--refs", required=True, help="folder of the primary reference readings")
    ap.add_argument("--second", help="folder of the second, independent readings (reader agreement)")
    ap.add_argument("--third", help="folder of third, independent readings of some of the films read twice: the "
                    "detector against the median of three readings, and the readers' own errors without it")
    ap.add_argument("--root", required=True, help="the data set's root (the images' paths are relative to it)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--fold", type=int, action="append", help="run only these folds (repeatable)")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--phantoms", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", default="/tmp/orthoplan-cv")
    ap.add_argument("--rows", help="write (or, with --report-only, read) the scored rows as JSON")
    ap.add_argument("--report-only", action="store_true", help="only print the tables from --rows")
    ap.add_argument("--view", default="ap-pelvis", choices=sorted(FILM_VIEWS),
                    help="the view of the references (knee views: one network for AP and lateral knee films)")
    ap.add_argument("--classical", action="store_true",
                    help="knee views: measure the classical knee detector (no training) instead of the learned one")
    ap.add_argument("--refine", action="store_true",
                    help="also snap simulated clicks with each fold's model (after the folds are trained)")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    refs = load_references(a.refs)
    second = load_references(a.second) if a.second else []
    view = FILM_VIEWS[a.view]
    if second:
        print(markdown_agreement(reader_agreement(refs, second, view), view.size_label,
                                 "Reader-to-reader difference" + ("" if view is AP_PELVIS else f", real {view.view} films")))
        print()
    if view is not AP_PELVIS and a.classical:
        rows = evaluate_classical_knee(refs, a.root, view)
        n_films = len({r.film for r in rows})
        for patients, label in ((("adult",), "adults"), (("adolescent", "child"), "children and adolescents")):
            print(markdown_accuracy(summarize(rows, patients, view),
                                    f"Real {view.view} films, {label}: the classical knee detector ({n_films} films)",
                                    view.size_label, view.tolerance_pct))
            print()
        return 0
    if view is not AP_PELVIS:
        return _knee_report(a, refs, second, view)
    if a.report_only:
        rows = with_axis_directions(rows_from_json(json.loads(Path(a.rows).read_text())), refs)
    else:
        from .training import films_from_phantoms

        ph = films_from_phantoms(a.phantoms, seed=a.seed) if a.phantoms else []
        rows = cross_validate(refs, a.root, a.folds, phantoms=ph, seed=a.seed, workdir=a.workdir,
                              train_kwargs={"epochs": a.epochs}, folds=a.fold)
        if a.rows:
            Path(a.rows).write_text(json.dumps(rows_to_json(rows)))
    k = a.folds
    diffs = truth_differences(rows, refs, second) if second else None
    cal = recalibrated(rows, k, diffs)
    n_films = len({r.film for r in rows})
    for patients, label in ((("adult",), "adults"), (("adolescent", "child"), "children and adolescents")):
        print(markdown_accuracy(summarize(cal, patients),
                                f"Real AP pelvis/hip films, {label}: {k}-fold cross-validation ({n_films} films)"))
        print()
    if second:
        print(markdown_three_readers(three_reader_estimate(rows, refs, second)))
        print()
        print("**Does a confidence mean what it says** (adults; each fold's confidences from the other folds; "
              "the truth estimated by `deconvolved_rate`; below, the error model checked against the mean of two "
              "readings on the films read twice)")
        print()
        all_diffs = reader_differences(refs, second)
        print(markdown_calibration_check(calibration_check(cal, diffs),
                                         mean_reading_check(rows, refs, second, all_diffs)))
        print()
    if a.third and second:
        print_third_readings(rows, refs, second, load_references(a.third), AP_PELVIS)
    if a.refine:
        print("**Refining a click** (clicks within 20 % of the head diameter, ≈ 10 mm, of the reference; "
              "each film with the fold model that never saw it)")
        print()
        shafts = {k: d for k, d in (reader_differences(refs, second) if second else {}).items()
                  if k in PELVIS_SHAFT_ENDS}  # their "perfect" column, across the shaft
        print(markdown_refine(evaluate_refine(refs, a.root, rows, a.folds, seed=a.seed, workdir=a.workdir,
                                             reader_diffs=diffs), {**(diffs or {}), **shafts}))
    return 0


def print_third_readings(rows: Sequence[Row], first: Sequence[Reference], second: Sequence[Reference],
                         third: Sequence[Reference], view: FilmView) -> None:
    """The tables of :mod:`.consensus` for the films read three times."""
    from .consensus import (consensus_check, consensus_references, markdown_consensus, markdown_habits,
                            markdown_readers, readers_check, reading_habits)

    n = len({r.stem for r in third if r.usable})
    print(f"**Films read three times** ({n} usable; the third readers saw neither other reading nor any detection)")
    print()
    print(markdown_consensus(consensus_check(rows, consensus_references(first, second, third), view), 3, view))
    print()
    print(markdown_readers(readers_check(rows, first, second, third, view), view))
    print()
    if view is AP_PELVIS:
        print("**Reading habits** (the films read three times, head up: median signed offset from the first "
              "reading in the hip's frame; near 0 where readers differ at random)")
        print()
        print(markdown_habits(reading_habits(rows, first, second, third)))
        print()


def _knee_report(a, refs: Sequence[Reference], second: Sequence[Reference], view: FilmView) -> int:
    """The learned knee detector's cross-validation tables for one knee view (``--view``)."""
    if a.report_only:
        rows = with_axis_directions(rows_from_json(json.loads(Path(a.rows).read_text())), refs)
    else:
        from .training import films_from_knee_phantoms

        ph = films_from_knee_phantoms(a.phantoms, seed=a.seed) if a.phantoms else []
        rows = cross_validate(refs, a.root, a.folds, phantoms=ph, seed=a.seed, workdir=a.workdir,
                              train_kwargs={"epochs": a.epochs}, folds=a.fold, family="knee")
        if a.rows:
            Path(a.rows).write_text(json.dumps(rows_to_json(rows)))
    views = film_views(refs)
    mine = [r for r in rows if views.get(r.film) == view.view]
    cal = recalibrated(mine, a.folds, None, view)
    n_films = len({r.film for r in mine})
    for patients, label in ((("adult",), "adults"), (("adolescent", "child"), "children and adolescents")):
        print(markdown_accuracy(summarize(cal, patients, view),
                                f"Real {view.view} films, {label}: the learned knee detector, {a.folds}-fold "
                                f"cross-validation ({n_films} films)", view.size_label, view.tolerance_pct))
        print()
    return 0


if __name__ == "__main__":
    # run the package's module, not this __main__ copy: the rows and references other modules
    # check with isinstance are the package's classes (python -m would otherwise define them twice)
    from orthoplan.landmarks.crossval import main as _main

    sys.exit(_main())
