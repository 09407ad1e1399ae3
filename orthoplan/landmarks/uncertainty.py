"""How far a landmark may lie from the anatomy it names: a 1-σ positional uncertainty in pixels.

The figures are measured on real AP pelvis films (``docs/accuracy.md``): the median radial
error, in percent of the femoral head diameter, against the (unknown) true point,
- of the learned detector: table "The detector's error against the truth, estimated from three
  readers" (Grubbs' estimator from median distances, on the films read twice);
- of a person clicking: the median distance between two independent readings of the same
  point (table "Reader-to-reader difference") over √2, the same reader's error twice.

Printed by ``python -m orthoplan.landmarks.crossval ... --report-only`` (see docs/accuracy.md);
update both tables together when the references change. Taking the error as a round
Gaussian with standard deviation σ per axis, the median radial error is σ·√(2 ln 2) ≈ 1.1774 σ,
so ``σ = median / 1.1774``; in pixels, ``σ_px = σ_% / 100 × head diameter in px`` of the same
film (the mean of the femoral head circles of its landmarks).

The femoral shaft points are the exception: what the measurements take from them is the shaft's
line (femoral and global offset, neck-shaft angle, AMA), and where along the shaft a reader puts
them is a convention (``common.PELVIS_SHAFT_ENDS``). Their figures are medians of the distance
*across* the readers' shaft (one dimension: ``σ = median / 0.6745``), and that σ is given to both
axes: a move along the shaft changes none of those values, so the measurements' intervals come
out as they would from an across-only error (their coverage on real films is in
``docs/accuracy.md``, "Are the intervals honest?").

The model is conservative: the reference films are 373×454 px JPEGs, on which one pixel is
about 2 % of the head diameter; on a sharper film the real σ is smaller. It covers:

* the learned AP pelvis detector's points (``source="auto"`` from :mod:`.learned`);
* a person's points (``manual``), and a click snapped by :func:`~orthoplan.landmarks.refine`
  (``refined``: the larger of the two, since the person accepted the detector's point);
* the ten AP pelvis/hip anatomies of the table, and (since 8 December 2026) the AP and lateral
  knee films' anatomies of the learned knee detector (:data:`KNEE_DETECTOR_MEDIAN_PCT`,
  measured the same way on the real knee films read twice; ``python scripts/knee_accuracy.py``),
  in % of the condylar width (AP: epicondyle to epicondyle) or of the femoral AP width
  (lateral: anterior cortex to posterior condyle). Axis points, and a lateral film's femoral
  cortices and posterior condyle, are measured across their axis (:func:`.common.axis_ends`), as
  the pelvis's shaft points. No real-film figures exist for the long-leg landmarks (no standing
  long-leg film is available), nor for the classical detectors (tuned on phantoms): they get no
  σ (``None``), and a measurement built on them claims no positional interval (lengths keep the
  calibration's).

Without the film's size among the landmarks (a femoral head circle; both epicondyles of a knee;
a lateral knee's anterior cortex and posterior condyle) no σ is claimed either: the tables are in
those sizes.

Examples
--------
>>> from orthoplan.model import Landmark, Landmarks
>>> round(sigma_px("femoral_head_center", "auto", 100.0), 3)  # 4.1 % of 100 px / 1.1774
3.482
>>> sigma_px("knee_femoral_axis_proximal", "manual", 100.0) is None  # not a pelvis landmark
True
>>> round(sigma_px("femoral_condyle_medial", "auto", 100.0, view="knee-ap"), 3)  # 1.6 % of a 100 px knee
1.359
>>> lms = Landmarks.from_landmarks([Landmark("femoral_head_center_left", 500, 400, radius_px=50.0),
...                                 Landmark("teardrop_left", 420, 480)])
>>> round(with_positional_sigma(lms)["teardrop_left"].sigma_px, 2)  # a person's click: 11.4 %
9.68
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

from ..errors import LandmarkError
from ..model import Landmarks, LandmarkSource
from .common import axis_ends

__all__ = [
    "MEDIAN_TO_SIGMA",
    "DETECTOR_MEDIAN_PCT",
    "READER_MEDIAN_PCT",
    "SIGMA_DETECTORS",
    "KNEE_DETECTOR_MEDIAN_PCT",
    "KNEE_READER_MEDIAN_PCT",
    "SIGMA_VIEWS",
    "sigma_px",
    "head_diameter_px",
    "film_size_px",
    "with_positional_sigma",
]

#: Median radial error of a round 2-D Gaussian over its per-axis σ: √(2 ln 2).
MEDIAN_TO_SIGMA = math.sqrt(2.0 * math.log(2.0))

#: The learned detector's estimated median error against the truth (% of the head diameter).
DETECTOR_MEDIAN_PCT: Mapping[str, float] = MappingProxyType({
    "femoral_head_center": 4.1,
    "teardrop": 10.2,
    "ischial_tuberosity": 5.0,
    "lesser_trochanter": 5.5,
    "greater_trochanter": 7.2,
    "acetabular_lateral_edge": 4.6,
    "sourcil_medial": 5.2,
    "femoral_neck_center": 7.0,
    "femoral_shaft_proximal": 1.7,  # across the shaft (see the module's text)
    "femoral_shaft_distal": 1.5,
})

#: A reader's estimated median error against the truth (% of the head diameter; mean of the
#: two readings' estimates).
READER_MEDIAN_PCT: Mapping[str, float] = MappingProxyType({
    "femoral_head_center": 4.9,
    "teardrop": 11.4,
    "ischial_tuberosity": 8.3,
    "lesser_trochanter": 5.8,
    "greater_trochanter": 5.6,
    "acetabular_lateral_edge": 4.1,
    "sourcil_medial": 8.8,
    "femoral_neck_center": 7.3,
    "femoral_shaft_proximal": 2.8,  # across the shaft
    "femoral_shaft_distal": 2.4,
})

#: The median of |x| for x ~ N(0, σ²), over σ: the figures of points measured across an axis
#: (:func:`.common.axis_ends`) are such medians.
HALF_NORMAL_MEDIAN = 0.6744897501960817

#: The learned knee detector's estimated median error against the truth, per view: AP films in
#: % of the condylar width, lateral films in % of the femoral AP width (docs/accuracy.md, the
#: knee sections' "The detector's error against the truth, estimated from three readers"; axis
#: points and the lateral femoral points across their axis).
KNEE_DETECTOR_MEDIAN_PCT: Mapping[str, Mapping[str, float]] = MappingProxyType({
    "knee-ap": MappingProxyType({
        "knee_femoral_axis_proximal": 0.4, "knee_femoral_axis_distal": 0.3,
        "knee_tibial_axis_proximal": 0.6, "knee_tibial_axis_distal": 0.4,
        "femoral_condyle_medial": 1.6, "femoral_condyle_lateral": 1.9,
        "tibial_plateau_medial": 2.1, "tibial_plateau_lateral": 2.2,
        "femoral_epicondyle_medial": 3.4, "femoral_epicondyle_lateral": 3.0,
        "femoral_knee_center": 1.9, "tibial_knee_center": 2.2,
    }),
    "knee-lateral": MappingProxyType({
        "knee_femoral_axis_proximal": 1.0, "knee_femoral_axis_distal": 1.0,
        "knee_tibial_axis_proximal": 1.7, "knee_tibial_axis_distal": 1.5,
        "femoral_anterior_cortex": 0.9, "femoral_posterior_cortex": 1.2, "femoral_posterior_condyle": 2.6,
        "tibial_plateau_anterior": 4.0, "tibial_plateau_posterior": 5.4,
    }),
})

#: A reader's, the same tables (the mean of the two readings' estimates).
KNEE_READER_MEDIAN_PCT: Mapping[str, Mapping[str, float]] = MappingProxyType({
    "knee-ap": MappingProxyType({
        "knee_femoral_axis_proximal": 0.55, "knee_femoral_axis_distal": 0.75,
        "knee_tibial_axis_proximal": 0.8, "knee_tibial_axis_distal": 0.75,
        "femoral_condyle_medial": 1.9, "femoral_condyle_lateral": 2.2,
        "tibial_plateau_medial": 1.3, "tibial_plateau_lateral": 1.85,
        "femoral_epicondyle_medial": 2.4, "femoral_epicondyle_lateral": 2.55,
        "femoral_knee_center": 0.9, "tibial_knee_center": 2.1,
    }),
    "knee-lateral": MappingProxyType({
        "knee_femoral_axis_proximal": 0.55, "knee_femoral_axis_distal": 0.8,
        "knee_tibial_axis_proximal": 1.65, "knee_tibial_axis_distal": 1.2,
        "femoral_anterior_cortex": 1.4, "femoral_posterior_cortex": 1.55, "femoral_posterior_condyle": 1.0,
        "tibial_plateau_anterior": 5.8, "tibial_plateau_posterior": 2.95,
    }),
})

#: The views with real-film figures.
SIGMA_VIEWS = ("ap-pelvis", "knee-ap", "knee-lateral")

#: The automatic detectors whose points have measured figures (the classical one has none).
SIGMA_DETECTORS = ("learned",)


def sigma_px(anatomy: str, source: LandmarkSource | str, size_px: float | None,
             detector: str | None = "learned", view: str = "ap-pelvis") -> float | None:
    """A landmark's 1-σ positional uncertainty per axis (pixels), or ``None`` where not known.

    Parameters
    ----------
    anatomy
        The landmark's anatomy (``LandmarkName.anatomy``), e.g. ``"teardrop"``.
    source
        ``auto`` (the detector's figure, only for a detector in :data:`SIGMA_DETECTORS`),
        ``manual`` (a reader's) or ``refined`` (the larger of both).
    size_px
        The film's size in pixels that the view's table is in (:func:`film_size_px`): the
        femoral head diameter (AP pelvis/hip), the condylar width (AP knee), the femoral AP
        width (lateral knee); ``None`` → ``None``.
    detector
        Which automatic detector placed an ``auto`` point (``"learned"`` or ``"classical"``).
    view
        ``"ap-pelvis"`` (or ``"ap-hip"``), ``"knee-ap"`` or ``"knee-lateral"``; another view has no
        figures (``None``).

    >>> round(sigma_px("teardrop", "refined", 50.0), 3)  # max(10.2, 11.4) % of 50 px / 1.1774
    4.841
    >>> sigma_px("teardrop", "auto", 50.0, detector="classical") is None
    True
    >>> round(sigma_px("knee_femoral_axis_proximal", "auto", 100.0, view="knee-ap"), 3)  # across: 0.4 % / 0.6745
    0.593
    >>> sigma_px("femoral_condyle_medial", "auto", 100.0, view="long-leg") is None
    True
    """
    if size_px is None or not (math.isfinite(size_px) and size_px > 0):
        return None
    source = LandmarkSource(source)
    view = "ap-pelvis" if view == "ap-hip" else view
    if view == "ap-pelvis":
        detected, read = DETECTOR_MEDIAN_PCT, READER_MEDIAN_PCT
    elif view in KNEE_DETECTOR_MEDIAN_PCT:
        detected, read = KNEE_DETECTOR_MEDIAN_PCT[view], KNEE_READER_MEDIAN_PCT[view]
    else:
        return None
    if anatomy not in detected:
        return None
    if source is LandmarkSource.AUTO:
        if detector not in SIGMA_DETECTORS:
            return None
        pct = detected[anatomy]
    elif source is LandmarkSource.MANUAL:
        pct = read[anatomy]
    else:
        pct = max(read[anatomy], detected[anatomy])
    to_sigma = HALF_NORMAL_MEDIAN if axis_ends(view, anatomy) is not None else MEDIAN_TO_SIGMA
    return pct / 100.0 * float(size_px) / to_sigma


def head_diameter_px(landmarks: Landmarks) -> float | None:
    """The mean diameter (px) of the femoral head circles among ``landmarks``; ``None`` without one.

    >>> from orthoplan.model import Landmark, Landmarks
    >>> head_diameter_px(Landmarks.from_landmarks([Landmark("femoral_head_center_left", 1, 1, radius_px=20),
    ...                                            Landmark("femoral_head_center_right", 9, 1, radius_px=22)]))
    42.0
    """
    radii = [lm.radius_px for lm in landmarks
             if lm.name.anatomy == "femoral_head_center" and lm.radius_px is not None]
    if not radii:
        return None
    return 2.0 * sum(radii) / len(radii)


def film_size_px(landmarks: Landmarks, view: str = "ap-pelvis", side: str | None = None) -> float | None:
    """The size (px) that ``view``'s table is in, from ``landmarks``: the femoral head diameter
    (:func:`head_diameter_px`; AP pelvis/hip), the condylar width (epicondyle to epicondyle; AP
    knee) or the femoral AP width (anterior cortex to posterior condyle; lateral knee) of
    ``side``, else of the other side; ``None`` where the landmarks do not give it.

    >>> from orthoplan.model import Landmark, Landmarks
    >>> lms = Landmarks.from_landmarks([Landmark("femoral_epicondyle_medial_left", 100, 50),
    ...                                 Landmark("femoral_epicondyle_lateral_left", 180, 56)])
    >>> round(film_size_px(lms, "knee-ap", "right"), 2)  # the left knee's: 80.22 px
    80.22
    """
    if not isinstance(landmarks, Landmarks):
        raise LandmarkError(f"film size: the landmarks must be Landmarks, not {type(landmarks).__name__}")
    if view in ("ap-pelvis", "ap-hip"):
        return head_diameter_px(landmarks)
    ends = {"knee-ap": ("femoral_epicondyle_medial", "femoral_epicondyle_lateral"),
            "knee-lateral": ("femoral_anterior_cortex", "femoral_posterior_condyle")}.get(view)
    if ends is None:
        return None
    sides = ("right", "left") if side is None else (side, "left" if side == "right" else "right")
    for s in sides:
        a, b = (landmarks.get(f"{e}_{s}") for e in ends)
        if a is not None and b is not None and (a.x, a.y) != (b.x, b.y):
            return math.hypot(a.x - b.x, a.y - b.y)
    return None


def with_positional_sigma(landmarks: Landmarks, detector: str | None = None, view: str = "ap-pelvis") -> Landmarks:
    """``landmarks`` with :func:`sigma_px` filled in for every landmark that has none yet.

    A landmark that already carries a σ keeps it (it was set when the point was placed). An
    ``auto`` landmark gets one only when ``detector`` (the detector that placed it) has
    figures; the pipeline calls this without one, which fills a person's points only. ``view``
    picks the table: a knee view's, else the AP pelvis/hip one (so that a long-leg film's
    femoral heads get theirs, and its knee and ankle points none).

    >>> from orthoplan.model import Landmark, Landmarks
    >>> lms = Landmarks.from_landmarks([Landmark("femoral_head_center_left", 5, 5, source="auto", radius_px=25)])
    >>> with_positional_sigma(lms)["femoral_head_center_left"].sigma_px is None
    True
    >>> round(with_positional_sigma(lms, "learned")["femoral_head_center_left"].sigma_px, 3)
    1.741
    """
    view = view if view in KNEE_DETECTOR_MEDIAN_PCT else "ap-pelvis"
    items = []
    sizes: dict[str, float | None] = {}
    for lm in landmarks:
        if lm.sigma_px is None:
            side = lm.name.side.value if lm.name.side is not None else None
            if side not in sizes:
                sizes[side] = film_size_px(landmarks, view, side)
            s = sigma_px(lm.name.anatomy, lm.source, sizes[side], detector, view)
            if s is not None:
                lm = replace(lm, sigma_px=s)
        items.append(lm)
    return Landmarks(tuple(items), landmarks.missing)
