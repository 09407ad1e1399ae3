"""Snap a rough click (within about 10 mm) to a landmark: :func:`refine`.

* femoral head centre: the bright disc whose centre lies within 12 mm of the click
  (circular Hough in a local window, then the sub-pixel circle fit); a prosthetic head
  under the click is fitted the same way;
* teardrop, ischial tuberosity: the local detectors of :mod:`.pelvis` in a window around
  the click;
* the long-leg landmarks (knee centres, condylar and plateau points, ankle centre, plafond
  points): the long-leg detection (:mod:`.limb`, cached per radiograph), taken when its
  landmark lies within 12 mm of the click;
* the AP and lateral knee-view landmarks (epicondyles, knee axis points, anterior and
  posterior cortex, posterior condyle, plateau rims; on a knee film also the condyles and
  plateau margins): the knee detection (learned, :mod:`.knee_learned`, or classical,
  :mod:`.knee`; cached per radiograph, view and side), taken when its landmark lies within
  12 mm of the click and, learned, has at least :data:`REFINE_MIN_CONFIDENCE`. A click on an
  axis point is moved across the shaft onto the detected axis, and one on a lateral film's
  femoral cortex or posterior condyle across the femoral axis to the detected point's distance
  from it: the click keeps its level (:data:`~.common.LATERAL_ACROSS_FEMUR`);
* the femoral and acetabular landmarks that need the femur's frame (trochanters, neck,
  shaft points, sourcil ends): the automatic detection of the whole image (cached per
  radiograph), taken when its landmark lies within 12 mm of the click. With the learned
  detector a click on a femoral shaft point is moved across the shaft onto the detected shaft
  axis: the click keeps its level (:data:`~.common.PELVIS_SHAFT_ENDS`).

With the learned AP-pelvis detector (the default, :mod:`.learned`), an AP pelvis/hip landmark
is the learned detection's (cached per radiograph) when it lies within 12 mm of the click and
its confidence is at least :data:`REFINE_MIN_CONFIDENCE` (0.72), else the click is kept (the
classical fits above, tuned on phantoms, are used only with ``ORTHOPLAN_DETECTOR=classical``:
on real films they can land further from the landmark than the click). Where the film has no
scale, 12 mm is measured in head radii (an adult femoral head: 24 mm).

When nothing is found near the click, or what is found is not sure enough, the click itself
is returned as a manual landmark (the person placed it), so a viewer can always use the result
and is never given a point worse than their own.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from ..errors import LandmarkError
from ..model import Calibration, Landmark, LandmarkName, LandmarkSource, Radiograph
from . import femur, pelvis
from .common import KNEE_AXIS_ENDS, LATERAL_ACROSS_FEMUR, PELVIS_SHAFT_ENDS, point_xy
from .context import make_context

log = logging.getLogger(__name__)

#: A detected landmark is taken for a click when it lies this close to it (mm).
SNAP_MM = 12.0
#: A learned landmark replaces a click only with at least this confidence. Confidence is the
#: estimated share within about 5 mm of the *true* point (docs/accuracy.md); a click anywhere
#: within 10 mm is within 5 mm a quarter of the time. On held-out real AP pelvis films the
#: snapped point was further from the reference reading than the click in 0-12 % of clicks per
#: landmark at 0.72; at 0.65 up to 14 %, at 0.6 the lesser trochanter's 13 % (docs/accuracy.md,
#: "Refining a click").
REFINE_MIN_CONFIDENCE = 0.72
#: No detector's point replaces a click below this confidence: an unsure point far from the
#: truth is worse than the person's own click.
SNAP_MIN_CONFIDENCE = 0.3

_CACHE: dict[int, tuple[Radiograph, object]] = {}
_LIMB_CACHE: dict[int, tuple[Radiograph, object]] = {}

#: Landmarks of the standing AP long-leg view only: snapped to the long-leg detection.
LIMB_ONLY = (
    "femoral_knee_center", "tibial_knee_center", "femoral_condyle_medial", "femoral_condyle_lateral",
    "tibial_plateau_medial", "tibial_plateau_lateral", "ankle_center", "tibial_plafond_medial",
    "tibial_plafond_lateral",
)


def _cached(cache: dict, radiograph: Radiograph, compute):
    """``compute()`` once per radiograph object (the last four are kept)."""
    key = id(radiograph)
    hit = cache.get(key)
    if hit is not None and hit[0] is radiograph:
        return hit[1]
    value = compute()
    if len(cache) >= 4:
        cache.pop(next(iter(cache)))
    cache[key] = (radiograph, value)
    return value


def _limb_detection(radiograph: Radiograph, calibration: Calibration | None):
    from .limb import detect_long_leg

    return _cached(_LIMB_CACHE, radiograph, lambda: detect_long_leg(radiograph, calibration))


def _detection(radiograph: Radiograph, calibration: Calibration | None):
    from . import detect_details

    return _cached(_CACHE, radiograph, lambda: detect_details(radiograph, calibration))


def refine(radiograph: Radiograph, name: LandmarkName | str, approx_xy: tuple[float, float],
           calibration: Calibration | None = None) -> Landmark:
    """The landmark ``name`` nearest to a click at ``approx_xy`` (image ``(x, y)``).

    Returns a landmark with ``source="refined"`` and the detector's confidence, or the
    click itself (``source="manual"``, confidence 1) if no such feature lies within
    about 10 mm.

    Examples
    --------
    With the classical detector (``ORTHOPLAN_DETECTOR=classical``) on a phantom, where its
    head fit is exact:

    >>> import os
    >>> from orthoplan.phantoms import pelvis as phantom
    >>> from orthoplan.pipeline import load_radiograph
    >>> case = phantom.make_pelvis(seed=2, rows=1000, columns=1200, detector_spacing_mm=0.38)
    >>> rad = load_radiograph(case.dataset)
    >>> t = case.landmarks["femoral_head_center_right"]
    >>> before, os.environ["ORTHOPLAN_DETECTOR"] = os.environ.get("ORTHOPLAN_DETECTOR"), "classical"
    >>> lm = refine(rad, "femoral_head_center_right", (t.x + 15, t.y - 10))
    >>> lm.source.value, round(abs(lm.x - t.x)) <= 2, round(abs(lm.radius_px - t.radius_px)) <= 3
    ('refined', True, True)
    >>> _ = os.environ.pop("ORTHOPLAN_DETECTOR") if before is None else os.environ.update(ORTHOPLAN_DETECTOR=before)
    """
    lname = LandmarkName.parse(name)
    click = point_xy(approx_xy, f"refine {lname.value}: the click")
    knee_view = _knee_view(radiograph, lname)
    if knee_view is not None:
        return _refine_knee(radiograph, lname, click, calibration, knee_view)
    if lname.anatomy in LIMB_ONLY:
        return _refine_limb(radiograph, lname, click, calibration)
    from . import HIP_ANATOMIES, default_method

    if lname.anatomy in HIP_ANATOMIES and default_method() == "learned":
        got = _refine_learned(radiograph, lname, click, calibration)
        return got if got is not None else _keep_click(lname, click)
    ctx = make_context(radiograph, calibration)
    anatomy, side = lname.anatomy, lname.side
    lat = ctx.lateral_x(side)
    found = None
    if anatomy == "femoral_head_center":
        found = _refine_head(ctx, click)
    elif anatomy in ("teardrop", "ischial_tuberosity"):
        frame = pelvis.HipFrame(click, lat, ctx.mm, 0.0, radiograph.orientation.superior_y)
        if anatomy == "teardrop":
            f = pelvis.find_teardrop(ctx, frame, 25.0, window=((-14.0, 14.0), (-28.0, 14.0)))
        else:
            f = pelvis.find_ischial_tuberosity(ctx, frame, window=((-18.0, 18.0), (-14.0, 16.0)))
        if f is not None:
            found = (f.xy, f.confidence, None)
    if found is None and anatomy != "femoral_head_center":
        det = _detection(radiograph, calibration)
        lm = det.landmarks.get(lname)
        if lm is not None:
            found = ((lm.x, lm.y), lm.confidence, lm.radius_px)
    if found is None:
        return _keep_click(lname, click)
    xy, conf, radius = found
    return snap_or_click(lname, click, xy, conf, ctx.mm, radius)


_LEARNED_CACHE: dict[int, tuple[Radiograph, object]] = {}


def clear_cache() -> None:
    """Forget the detections kept for snapping clicks (after the model changed)."""
    _LEARNED_CACHE.clear()


def _keep_click(lname: LandmarkName, click: np.ndarray) -> Landmark:
    log.info("refine %s: no sure feature within %.0f mm of the click; keeping the click", lname.value, SNAP_MM)
    return Landmark(lname, float(click[0]), float(click[1]), 1.0, LandmarkSource.MANUAL)


def snap_or_click(name: LandmarkName | str, click, found_xy, confidence: float, mm_per_px: float,
                  radius_px: float | None = None, min_confidence: float = SNAP_MIN_CONFIDENCE) -> Landmark:
    """The detector's point when it is within :data:`SNAP_MM` of the click and at least
    ``min_confidence`` sure (``source="refined"``), else the click itself (``source="manual"``,
    confidence 1): never a far or unsure point instead of a person's click.

    Examples
    --------
    >>> snap_or_click("teardrop_left", (100, 100), (104, 103), 0.9, 0.2).source.value
    'refined'
    >>> lm = snap_or_click("teardrop_left", (100, 100), (104, 103), 0.1, 0.2)
    >>> lm.source.value, lm.xy
    ('manual', (100.0, 100.0))
    >>> snap_or_click("teardrop_left", (100, 100), (200, 100), 0.9, 0.2).source.value  # 20 mm away
    'manual'
    """
    lname = LandmarkName.parse(name)
    try:
        click = np.asarray(click, dtype=float).reshape(2)
        x, y, conf = float(found_xy[0]), float(found_xy[1]), float(confidence)
    except (TypeError, ValueError, IndexError):
        raise LandmarkError(f"refine {lname.value}: the click and the found point are (x, y) pairs of numbers") from None
    if not np.all(np.isfinite([*click, x, y, conf, mm_per_px])) or mm_per_px <= 0:
        raise LandmarkError(f"refine {lname.value}: the click, the found point, the confidence and the scale must be "
                            "finite numbers (the scale positive)")
    conf = float(np.clip(conf, 0.0, 1.0))
    if conf < min_confidence or math.hypot(x - click[0], y - click[1]) * mm_per_px > SNAP_MM:
        return _keep_click(lname, click)
    return Landmark(lname, x, y, conf, LandmarkSource.REFINED, radius_px)


def _refine_learned(radiograph: Radiograph, lname: LandmarkName, click: np.ndarray,
                    calibration: Calibration | None) -> Landmark | None:
    """The learned detection's landmark when it is near the click and sure enough, else None."""
    from .common import scale_of
    from .learned import HEAD_RADIUS_MM, detect_learned

    det = _cached(_LEARNED_CACHE, radiograph, lambda: detect_learned(radiograph, calibration))
    lm = det.landmarks.get(lname)
    if lm is None:
        return None
    found = lm.xy
    if lname.anatomy in PELVIS_SHAFT_ENDS:  # the click's level, on the detected shaft axis
        p, q = (det.landmarks.get(LandmarkName.of(a, lname.side)) for a in PELVIS_SHAFT_ENDS[lname.anatomy])
        if p is None or q is None:
            return None
        found = onto_axis(click, p.xy, q.xy)
        lm = min(p, q, key=lambda t: t.confidence)
    if lm.confidence < REFINE_MIN_CONFIDENCE:
        return None
    scale = scale_of(radiograph, calibration)
    mm = scale.mm_per_px
    if scale.source == "assumed-field-width":  # no scale at all: the heads give one
        radii = [h.radius_px for h in det.landmarks if h.radius_px]
        if radii:
            mm = HEAD_RADIUS_MM / float(np.median(radii))
    if math.hypot(found[0] - click[0], found[1] - click[1]) * mm > SNAP_MM:
        return None
    return snap_or_click(lname, click, found, lm.confidence, mm, lm.radius_px, REFINE_MIN_CONFIDENCE)


def _refine_limb(radiograph: Radiograph, lname: LandmarkName, click: np.ndarray,
                 calibration: Calibration | None) -> Landmark:
    """A long-leg landmark: the long-leg detection's (cached per radiograph) when within
    ``SNAP_MM`` of the click, else the click."""
    from .common import scale_of

    mm = scale_of(radiograph, calibration).mm_per_px
    lm = _limb_detection(radiograph, calibration).get(lname)
    if lm is None:
        return _keep_click(lname, click)
    return snap_or_click(lname, click, lm.xy, lm.confidence, mm, lm.radius_px)


#: Landmarks of the AP knee view only, of the lateral knee view only, and of both.
KNEE_AP_ONLY = ("femoral_epicondyle_medial", "femoral_epicondyle_lateral")
KNEE_LATERAL_ONLY = ("femoral_anterior_cortex", "femoral_posterior_cortex", "femoral_posterior_condyle",
                     "tibial_plateau_anterior", "tibial_plateau_posterior")
KNEE_BOTH = ("knee_femoral_axis_proximal", "knee_femoral_axis_distal", "knee_tibial_axis_proximal",
             "knee_tibial_axis_distal")
_KNEE_CACHE: dict[tuple[str, str], dict] = {}


def _knee_view(radiograph: Radiograph, lname: LandmarkName) -> str | None:
    """The knee view whose detection snaps ``lname``, or None (not a knee-view landmark/image)."""
    from .knee import knee_view_of

    header = knee_view_of(radiograph)
    if lname.anatomy in KNEE_AP_ONLY:
        return "knee-ap"
    if lname.anatomy in KNEE_LATERAL_ONLY:
        return "knee-lateral"
    if lname.anatomy in KNEE_BOTH:
        return header or "knee-ap"
    if lname.anatomy in LIMB_ONLY and header == "knee-ap":  # condyles and plateau margins on a knee film
        return header
    return None


#: Typical adult knee sizes (mm), to measure :data:`SNAP_MM` on a knee film without a scale:
#: the epicondylar (condylar) width on an AP film, the femoral AP width on a lateral film.
KNEE_WIDTH_MM = {"knee-ap": 80.0, "knee-lateral": 65.0}


def _refine_knee(radiograph: Radiograph, lname: LandmarkName, click: np.ndarray,
                 calibration: Calibration | None, view: str) -> Landmark:
    """A knee-view landmark: the knee detection's (cached per radiograph, view and side) when
    within ``SNAP_MM`` of the click and sure enough (the learned detector: at least
    :data:`REFINE_MIN_CONFIDENCE`), else the click. On a film without a scale, ``SNAP_MM`` is
    measured in the knee's own width (:data:`KNEE_WIDTH_MM`)."""
    from . import default_method, detect
    from .common import scale_of

    scale = scale_of(radiograph, calibration)
    side = lname.side
    cache = _KNEE_CACHE.setdefault((view, side.value), {})
    lms = _cached(cache, radiograph, lambda: detect(radiograph, calibration, view=view, side=side))
    lm = lms.get(lname)
    if lm is None:
        return _keep_click(lname, click)
    learned = default_method() == "learned"
    mm = scale.mm_per_px
    if learned and scale.source == "assumed-field-width":
        ends = (("femoral_epicondyle_medial", "femoral_epicondyle_lateral") if view == "knee-ap"
                else ("femoral_anterior_cortex", "femoral_posterior_condyle"))
        a, b = (lms.get(LandmarkName.of(e, side)) for e in ends)
        if a is not None and b is not None and math.hypot(a.x - b.x, a.y - b.y) > 0:
            mm = KNEE_WIDTH_MM[view] / math.hypot(a.x - b.x, a.y - b.y)
    found = lm.xy
    if learned and lname.anatomy in KNEE_AXIS_ENDS:  # the click's level, on the detected axis
        p, q = (lms.get(LandmarkName.of(a, side)) for a in KNEE_AXIS_ENDS[lname.anatomy])
        if p is None or q is None:
            return _keep_click(lname, click)
        found = onto_axis(click, p.xy, q.xy)
        lm = min(p, q, key=lambda t: t.confidence)
    elif learned and view == "knee-lateral" and lname.anatomy in LATERAL_ACROSS_FEMUR:
        # the click's level, at the detected point's distance from the femoral axis
        p, q = (lms.get(LandmarkName.of(a, side)) for a in KNEE_AXIS_ENDS["knee_femoral_axis_proximal"])
        if p is None or q is None:
            return _keep_click(lname, click)
        found = across_femur(click, lm.xy, p.xy, q.xy)
    return snap_or_click(lname, click, found, lm.confidence, mm, None,
                         REFINE_MIN_CONFIDENCE if learned else SNAP_MIN_CONFIDENCE)


def onto_axis(click, p, q) -> tuple[float, float]:
    """The foot of the perpendicular from ``click`` onto the line through ``p`` and ``q``.

    >>> onto_axis((3.0, 5.0), (0.0, 0.0), (0.0, 10.0))
    (0.0, 5.0)
    """
    c, a, b = (np.asarray(v, dtype=float) for v in (click, p, q))
    d = b - a
    n = float(d @ d)
    if n == 0:
        return float(a[0]), float(a[1])
    f = a + d * float((c - a) @ d) / n
    return float(f[0]), float(f[1])


def across_femur(click, found, p, q) -> tuple[float, float]:
    """The click moved across the axis ``p``–``q`` to the line through ``found`` parallel to it:
    the click's level along the axis, ``found``'s distance from it.

    >>> across_femur((3.0, 5.0), (7.0, 1.0), (0.0, 0.0), (0.0, 10.0))
    (7.0, 5.0)
    """
    f = np.asarray(found, dtype=float)
    return onto_axis(click, f, f + np.asarray(q, dtype=float) - np.asarray(p, dtype=float))


def _refine_head(ctx, click: np.ndarray):
    """Best head-sized bright disc whose centre is within ``SNAP_MM`` of the click."""
    from .heads import HEAD_DIAMETER_MM, hough_bright_circles
    from .common import crop

    for m in ctx.prostheses:
        c = ctx.work.to_full((m.x, m.y))
        if np.hypot(*(c - click)) * ctx.mm <= SNAP_MM:
            h = femur.prosthetic_heads(ctx)
            best = min(h, key=lambda t: np.hypot(t.x - click[0], t.y - click[1]))
            return (best.x, best.y), best.quality, best.r
    w = ctx.work
    lo, hi = HEAD_DIAMETER_MM[0] / 2 - 3, HEAD_DIAMETER_MM[1] / 2 + 3
    cw = w.to_work(click)
    sub, off = crop(w.image, tuple(cw), w.px(hi + SNAP_MM + 10))
    mask, _ = crop(~ctx.metal_mask, tuple(cw), w.px(hi + SNAP_MM + 10))
    radii = np.arange(w.px(lo), w.px(hi) + 1, 1.0)
    peaks = hough_bright_circles(sub, radii, mask=mask, num_peaks=10, threshold=0.05)
    best = None
    for x, y, r, votes in peaks:
        c = w.to_full(np.array([x, y]) + off)
        if np.hypot(*(c - click)) * ctx.mm > SNAP_MM + 3:
            continue
        r_full = r * w.factor
        fit = femur.fit_circle_at(ctx, "fine", c, r_full, (max(ctx.px(lo), 0.7 * r_full), min(ctx.px(hi), 1.35 * r_full)))
        if fit is not None:  # once more from the fitted centre
            again = femur.fit_circle_at(ctx, "fine", (fit.cx, fit.cy), fit.r, (0.85 * fit.r, 1.15 * fit.r))
            if again is not None and femur.circle_quality(again, ctx.mm) >= femur.circle_quality(fit, ctx.mm):
                fit = again
        if fit is None:
            continue
        q = femur.circle_quality(fit, ctx.mm)
        if best is None or q > best[1]:
            best = ((fit.cx, fit.cy), q, fit.r)
    return best
