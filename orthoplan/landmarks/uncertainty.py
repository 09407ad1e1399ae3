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
* only the ten AP pelvis/hip anatomies of the table. No real-film figures exist for the knee or
  long-leg landmarks, nor for the classical detector (tuned on phantoms): they get no σ (``None``),
  and a measurement built on them claims no positional interval (lengths keep the calibration's).

Without a femoral head circle among the landmarks no σ is claimed either: the table is in
head diameters.

Examples
--------
>>> from orthoplan.model import Landmark, Landmarks
>>> round(sigma_px("femoral_head_center", "auto", 100.0), 3)  # 4.1 % of 100 px / 1.1774
3.482
>>> sigma_px("knee_femoral_axis_proximal", "manual", 100.0) is None
True
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

from ..model import Landmarks, LandmarkSource
from .common import PELVIS_SHAFT_ENDS

__all__ = [
    "MEDIAN_TO_SIGMA",
    "DETECTOR_MEDIAN_PCT",
    "READER_MEDIAN_PCT",
    "SIGMA_DETECTORS",
    "sigma_px",
    "head_diameter_px",
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

#: The median of |x| for x ~ N(0, σ²), over σ: the shaft points' figures are such medians.
HALF_NORMAL_MEDIAN = 0.6744897501960817

#: The automatic detectors whose points have measured figures (the classical one has none).
SIGMA_DETECTORS = ("learned",)


def sigma_px(anatomy: str, source: LandmarkSource | str, head_diameter_px: float | None,
             detector: str | None = "learned") -> float | None:
    """A landmark's 1-σ positional uncertainty per axis (pixels), or ``None`` where not known.

    Parameters
    ----------
    anatomy
        The landmark's anatomy (``LandmarkName.anatomy``), e.g. ``"teardrop"``.
    source
        ``auto`` (the detector's figure, only for a detector in :data:`SIGMA_DETECTORS`),
        ``manual`` (a reader's) or ``refined`` (the larger of both).
    head_diameter_px
        The film's femoral head diameter in pixels; ``None`` → ``None``.
    detector
        Which automatic detector placed an ``auto`` point (``"learned"`` or ``"classical"``).

    >>> round(sigma_px("teardrop", "refined", 50.0), 3)  # max(10.2, 11.4) % of 50 px / 1.1774
    4.841
    >>> sigma_px("teardrop", "auto", 50.0, detector="classical") is None
    True
    """
    if head_diameter_px is None or not (math.isfinite(head_diameter_px) and head_diameter_px > 0):
        return None
    source = LandmarkSource(source)
    if anatomy not in DETECTOR_MEDIAN_PCT:
        return None
    if source is LandmarkSource.AUTO:
        if detector not in SIGMA_DETECTORS:
            return None
        pct = DETECTOR_MEDIAN_PCT[anatomy]
    elif source is LandmarkSource.MANUAL:
        pct = READER_MEDIAN_PCT[anatomy]
    else:
        pct = max(READER_MEDIAN_PCT[anatomy], DETECTOR_MEDIAN_PCT[anatomy])
    to_sigma = HALF_NORMAL_MEDIAN if anatomy in PELVIS_SHAFT_ENDS else MEDIAN_TO_SIGMA
    return pct / 100.0 * float(head_diameter_px) / to_sigma


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


def with_positional_sigma(landmarks: Landmarks, detector: str | None = None) -> Landmarks:
    """``landmarks`` with :func:`sigma_px` filled in for every landmark that has none yet.

    A landmark that already carries a σ keeps it (it was set when the point was placed). An
    ``auto`` landmark gets one only when ``detector`` (the detector that placed it) has
    figures; the pipeline calls this without one, which fills a person's points only.

    >>> from orthoplan.model import Landmark, Landmarks
    >>> lms = Landmarks.from_landmarks([Landmark("femoral_head_center_left", 5, 5, source="auto", radius_px=25)])
    >>> with_positional_sigma(lms)["femoral_head_center_left"].sigma_px is None
    True
    >>> round(with_positional_sigma(lms, "learned")["femoral_head_center_left"].sigma_px, 3)
    1.741
    """
    diameter = head_diameter_px(landmarks)
    if diameter is None:
        return landmarks
    items = []
    for lm in landmarks:
        if lm.sigma_px is None:
            s = sigma_px(lm.name.anatomy, lm.source, diameter, detector)
            if s is not None:
                lm = replace(lm, sigma_px=s)
        items.append(lm)
    return Landmarks(tuple(items), landmarks.missing)
