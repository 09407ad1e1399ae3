"""Automatic landmarks on a standing AP long-leg radiograph: :func:`detect_long_leg`.

Per patient side (sides from ``radiograph.orientation``), classical image analysis driven
by sizes in mm that the image scale turns into pixels:

* **hip** – the AP pelvis detector's head search (:mod:`.femur`: Hough, then a sub-pixel
  circle fit) runs on the top of the image, one half at a time (a long-leg film may show a
  tilted pelvis, so the heads are not paired by height; a head overlapping the pelvis can be
  bright enough to pass for metal, so the search is repeated without the metal mask when a
  metal-like object is there). A head is reported only with a femur traced below it (or, with
  its confidence capped, when it is a clear circle on a film cut short). The greater
  trochanter tip is the tip of the rounded cap, 38–78 mm lateral of the head centre, whose
  outline is the strongest sharp (band-passed) bright-inside edge;
* **femoral shaft** – the bone's centreline is traced row by row on a working image
  (~0.5 mm per pixel, block mean) and a line fitted to it: ``femoral_shaft_proximal`` and
  ``femoral_shaft_distal`` are the points of that (anatomical) axis 330 mm and 110 mm
  above the knee's level on it (where the line through the femoral knee centre perpendicular
  to the mechanical axis crosses it; mid-diaphysis, for the AMA, which uses only the axis'
  direction);
* **knee** – the two femoral condyles as bright circles (Hough on a ~2 mm image 330–560 mm
  below the head, paired side by side on the prolonged shaft line, the calibration ball
  excluded; then a robust circle fit on radial edges at ~0.5 mm): the condylar tangent points
  are their most distal points on the common tangent; the tibial plateau as an ellipse fitted to
  its outline below them: the plateau line is its proximal tangent, the margins its
  medial and lateral ends; the tibial spines' tip is traced up from the plateau;
* **ankle** – the tibial shaft is traced down from the knee (the widest bone first: the
  tibia, not the fibula) and a line fitted to it (refitted without strays); along that
  axis the joint is the strongest bright→dark→bright pattern (the tibia's end, the joint
  space, the talar dome): ``ankle_center`` lies on the axis at the talar dome's outline;
  the distal tibial outline either side of the axis gives the plafond points.

Model conventions (documented, not traced on the image): the femoral knee centre (apex of
the intercondylar notch) is placed ``NOTCH_HEIGHT_MM`` proximal of the midpoint of the
condylar tangent points along the femoral mechanical axis; the tibial knee centre
``SPINE_TIP_TO_CENTER_MM`` distal of the traced spine tip (or ``SPINE_HEIGHT_MM`` above the
plateau line when no tip is found); the ankle centre ``DOME_EDGE_MM`` proximal of the talar
dome's steepest edge (blur and the subchondral plate put the edge inside the dome); the
plafond points ``PLAFOND_HALF_WIDTH_MM`` either side of the tibial axis where the distal
tibial edge has fallen 80 % of the way into the joint space. These match the synthetic
phantom (:mod:`orthoplan.phantoms.limb`); on real films they approximate the definitions.

Every landmark carries a confidence in [0, 1]. The points found are then checked against the
anatomy (:func:`consistency_problems`: condyles above the plateau, the joint line between femur
and tibia, the shaft points inside the femur, hip above knee above ankle, each limb on its own
side of the midline, the two knees at a similar level); a point breaking a rule keeps
:data:`PENALTY` of its confidence, with a note. Landmarks below ``MIN_CONFIDENCE`` and
landmarks not found are listed in ``Landmarks.missing`` with the reason (``inconsistent with
the anatomy (…)`` for a broken rule). Memory: the
working images are block means (a 7000 × 2500 image at 0.19 mm gives a 2800 × 1000
working image); nothing else of the image's size is allocated.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ..model import Calibration, Landmark, LandmarkName, Landmarks, LandmarkSource, Radiograph, Side
from .common import WorkImage, block_mean, robust_circle, sample, scale_of
from .common import low_confidence_reason

log = logging.getLogger(__name__)

__all__ = ["detect_long_leg", "detect_long_leg_details", "LONG_LEG_DETECTED", "LimbDetection", "LegFrame",
           "leg_problems", "bilateral_problems", "consistency_problems", "penalise"]

#: The anatomies this detector reports (found or missing) per side.
LONG_LEG_DETECTED = (
    "femoral_head_center", "greater_trochanter", "femoral_shaft_proximal", "femoral_shaft_distal",
    "femoral_knee_center", "tibial_knee_center", "femoral_condyle_medial", "femoral_condyle_lateral",
    "tibial_plateau_medial", "tibial_plateau_lateral", "ankle_center", "tibial_plafond_medial",
    "tibial_plafond_lateral",
)
MIN_CONFIDENCE = 0.3
#: Part of the image height (from the top) searched for the hips.
HIP_BAND = 0.4
#: ... and at least this much (mm at the anatomy).
HIP_BAND_MM = 420.0
#: A long-leg film has one hip per half: no pairing of the heads checks them, so a single
#: head-like circle must fit better than on an AP pelvis.
MIN_HEAD_QUALITY = 0.5
#: Confidence cap of the hip landmarks when no femur is followed below the head.
UNCONFIRMED_HIP = 0.45
NOTCH_HEIGHT_MM = 10.0
SPINE_HEIGHT_MM = 6.0
SPINE_TIP_TO_CENTER_MM = 2.0
PLAFOND_HALF_WIDTH_MM = 15.0
DOME_EDGE_MM = 2.0
SHAFT_PROXIMAL_MM = 330.0  #: above the knee, along the anatomical axis
SHAFT_DISTAL_MM = 110.0
CONDYLE_RADIUS_MM = (12.0, 30.0)
CONDYLE_SPACING_MM = (30.0, 75.0)
FEMUR_LENGTH_MM = (330.0, 560.0)  #: head centre → knee, searched
TIBIA_LENGTH_MM = (270.0, 470.0)
MID_MM = 0.5
COARSE_MM = 2.0


@dataclass(frozen=True)
class LimbDetection:
    landmarks: Landmarks
    notes: tuple[str, ...] = ()
    per_side: dict = field(default_factory=dict)


class StageMiss(Exception):
    """A stage failed; the message is the reason for the landmarks that depend on it."""


def detect_long_leg(radiograph: Radiograph, calibration: Calibration | None = None) -> Landmarks:
    """Landmarks of a standing AP long-leg radiograph (see the module docstring).

    >>> from orthoplan.phantoms.limb import make_long_leg, LimbParams
    >>> from orthoplan.pipeline import load_radiograph
    >>> case = make_long_leg(LimbParams.preset("neutral"), rows=1950, columns=720, detector_spacing_mm=0.6)
    >>> lms = detect_long_leg(load_radiograph(case.dataset))
    >>> a, t = lms["ankle_center_left"], case.landmarks["ankle_center_left"]
    >>> bool(math.hypot(a.x - t.x, a.y - t.y) * case.mm_per_px < 3)
    True
    """
    return detect_long_leg_details(radiograph, calibration).landmarks


def _lm(anatomy: str, side: Side, xy, conf: float, radius: float | None = None) -> Landmark:
    return Landmark(LandmarkName.of(anatomy, side), float(xy[0]), float(xy[1]), float(np.clip(conf, 0, 1)),
                    LandmarkSource.AUTO, radius)


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return v / max(float(np.hypot(*v)), 1e-12)


@dataclass
class LimbImage:
    """Working images and scale of one detection."""

    mid: WorkImage
    coarse: WorkImage
    mm: float  #: anatomical mm per full-resolution pixel
    conf_scale: float
    superior_y: int  #: -1 when the patient's head is towards decreasing y

    def mid_px(self, mm: float) -> float:
        return mm / self.mid.mm_per_px


def detect_long_leg_details(radiograph: Radiograph, calibration: Calibration | None = None) -> LimbDetection:
    """:func:`detect_long_leg` plus notes per side."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # skimage's EllipseModel API transition
        return _detect(radiograph, calibration)


def _detect(radiograph: Radiograph, calibration: Calibration | None) -> LimbDetection:
    scale = scale_of(radiograph, calibration)
    conf_scale = 1.0 if not scale.assumed else (0.85 if not scale.source.startswith("assumed-field") else 0.6)
    display = radiograph.display
    mid = WorkImage.from_display(display, scale.mm_per_px, MID_MM)
    cf = max(1, int(round(COARSE_MM / mid.mm_per_px)))
    coarse = WorkImage(block_mean(mid.image, cf), cf * mid.factor, mid.mm_per_px * cf)
    sup = getattr(radiograph.orientation, "superior_y", -1) or -1
    img = LimbImage(mid, coarse, scale.mm_per_px, conf_scale, int(sup))
    notes: list[str] = []
    if scale.assumed:
        notes.append(f"image scale assumed ({scale.source}): sizes and confidences are less certain")
    found: list[Landmark] = []
    missing: dict[LandmarkName, str] = {}
    hips = _hips(radiograph, calibration, img, notes)
    per_side = {}
    for side in (Side.RIGHT, Side.LEFT):
        lat = radiograph.orientation.lateral_x(side)
        f, m, info = _leg(img, side, lat, hips.get(side), _ball(calibration))
        found += f
        missing.update(m)
        per_side[side.value] = info
    # a point breaking an anatomical rule is not reported as confident (with the reason)
    frame = LegFrame(scale.mm_per_px, (0.0, -float(img.superior_y)), radiograph.orientation.patient_left_x)
    problems = consistency_problems([lm for lm in found if lm.confidence >= MIN_CONFIDENCE], frame)
    found = penalise(found, problems)
    notes += [f"{name.value}: {why}: its confidence is lowered" for name, why in problems.items()]
    for lm in found:
        if lm.confidence < MIN_CONFIDENCE:
            why = problems.get(lm.name)
            missing[lm.name] = (f"inconsistent with the anatomy ({why})" if why
                                else low_confidence_reason(lm.confidence, MIN_CONFIDENCE))
    found = [lm for lm in found if lm.confidence >= MIN_CONFIDENCE]
    names = {lm.name for lm in found}
    missing = {k: v for k, v in missing.items() if k not in names}
    lms = Landmarks.from_landmarks(found, missing)
    log.info("long-leg landmarks: %d found, %d missing (scale %s)", len(lms), len(lms.missing), scale.source)
    return LimbDetection(lms, tuple(notes), per_side)


def _ball(calibration: Calibration | None):
    """(x, y, r) of the calibration ball in full-resolution pixels, if the calibration found one."""
    try:
        d = calibration.details if calibration is not None else None
        if d and "center_xy" in d and "radius_px" in d:
            return np.array([float(d["center_xy"][0]), float(d["center_xy"][1]), float(d["radius_px"])])
    except (TypeError, ValueError, KeyError, IndexError):
        pass
    return None


# --------------------------------------------------------------------------- hips


def _hips(radiograph: Radiograph, calibration: Calibration | None, img: LimbImage, notes: list[str]) -> dict:
    """Per side: (head Landmark, greater trochanter Landmark or the reason it is missing).

    The head circles and the greater trochanter come from the AP pelvis detector's parts
    (:mod:`.femur`) run on the top of the image only; each side's head is the best head-like
    circle in that side's half of the image (a long-leg film may show a tilted pelvis, so
    the two heads are not paired by height as on an AP pelvis).
    """
    from . import femur
    from .context import make_context

    rows, cols = radiograph.shape
    r = min(rows, max(16, int(rows * HIP_BAND), int(HIP_BAND_MM / img.mm)))
    if img.superior_y > 0:  # patient's head at the bottom of the image: hips in the bottom band
        sl, dy = slice(rows - r, rows), rows - r
    else:
        sl, dy = slice(0, r), 0
    out = {}
    for side in Side:
        lat = radiograph.orientation.lateral_x(side)
        # this side's half of the image (and a little of the other half)
        if lat > 0:
            c0, c1 = int(cols * 0.45), cols
        else:
            c0, c1 = 0, int(cols * 0.55)
        sub = replace(radiograph, pixels=radiograph.pixels[sl, c0:c1], display=radiograph.display[sl, c0:c1])
        ctx = make_context(sub, calibration)
        cands = femur.head_candidates(ctx) + femur.prosthetic_heads(ctx)
        mine = [h for h in cands if h.quality >= MIN_HEAD_QUALITY or h.prosthesis]
        if not any(h.quality >= 0.8 or h.prosthesis for h in mine) or any(m.kind != "prosthesis" for m in ctx.metal):
            # a head overlapping the pelvis can be bright enough to be taken for metal: look again
            # without the metal mask
            bare = replace(ctx, metal=(), metal_mask=np.zeros_like(ctx.metal_mask))
            more = [h for h in femur.head_candidates(bare) if h.quality >= MIN_HEAD_QUALITY]
            if more and max(h.quality for h in more) > max((h.quality for h in mine), default=0.0):
                ctx = bare
            mine += more
        if not mine:
            continue
        h = max(mine, key=lambda c: c.quality)
        conf = h.quality * img.conf_scale
        if h.prosthesis:
            notes.append(f"{side.value} hip: prosthesis (metal femoral head and stem); the head centre is the "
                         "prosthetic head's")
            conf = min(conf, 0.9)
        head = Landmark(LandmarkName.of("femoral_head_center", side), h.x + c0, h.y + dy,
                        float(np.clip(conf, 0, 1)), LandmarkSource.AUTO, h.r)
        gt_out: Landmark | str = "femoral shaft not found below the head"
        shaft = femur.find_shaft(ctx, h, lat)
        if shaft is not None:
            gt = femur.find_greater_trochanter(ctx, h, shaft)
            if gt is None:
                gt_out = "no lateral outline of the proximal femur found"
            else:
                gt_out = Landmark(LandmarkName.of("greater_trochanter", side), float(gt.xy[0]) + c0,
                                  float(gt.xy[1]) + dy, float(np.clip(gt.confidence * shaft.score * img.conf_scale, 0, 1)),
                                  LandmarkSource.AUTO)
        out[side] = (head, gt_out)
    return out


# --------------------------------------------------------------------------- one leg


def _leg(img: LimbImage, side: Side, lat: int, hip, ball=None) -> tuple[list[Landmark], dict, dict]:
    found: list[Landmark] = []
    missing: dict[LandmarkName, str] = {}
    info: dict = {}

    def miss(reason: str, *anatomies: str) -> None:
        for a in anatomies:
            missing[LandmarkName.of(a, side)] = reason

    if hip is None:
        miss(f"{side.value} femoral head not found in the top of the image: the leg is not followed",
             *LONG_LEG_DETECTED)
        return found, missing, info
    head, gt = hip
    H = np.array([head.x, head.y])
    distal = np.array([0.0, -float(img.superior_y)])  # image direction towards the feet
    try:
        try:
            femur = trace_bone(img, H + distal * _px(img, 90.0), distal, lat, FEMUR_LENGTH_MM[1] - 60.0, width_mm=(14.0, 40.0))
        except StageMiss:
            femur = trace_bone(img, H + distal * _px(img, 150.0), distal, lat, FEMUR_LENGTH_MM[1] - 120.0, width_mm=(14.0, 40.0))
    except StageMiss as e:
        # no femur below the circle: a clear head may still be one (a film cut short), but less sure
        if head.confidence >= 0.7:
            found.append(_lm("femoral_head_center", side, H, min(head.confidence, UNCONFIRMED_HIP), head.radius_px))
        else:
            miss(f"a head-like circle (confidence {head.confidence:.2f}) without a femoral shaft below it",
                 "femoral_head_center")
        miss(f"femoral shaft not traced below the head: {e}", *LONG_LEG_DETECTED[1:])
        return found, missing, info
    found.append(_lm("femoral_head_center", side, H, head.confidence, head.radius_px))
    own = _greater_trochanter(img, H, lat)
    if own is not None:
        agree = not isinstance(gt, str) and math.hypot(own[0][0] - gt.x, own[0][1] - gt.y) * img.mm < 4.0
        found.append(_lm("greater_trochanter", side, own[0], min(0.95, own[1] + 0.1) if agree else own[1]))
    elif isinstance(gt, str):
        miss(gt, "greater_trochanter")
    else:
        found.append(_lm("greater_trochanter", side, (gt.x, gt.y), gt.confidence))
    # knee: condyles
    try:
        knee = _condyles(img, H, femur, lat, ball)
    except StageMiss as e:
        miss(f"knee not found: {e}", *LONG_LEG_DETECTED[2:])
        return found, missing, info
    cm, cl, n_dist, kconf = knee
    C0 = 0.5 * (cm + cl)
    u_mech = _unit(C0 - H)
    Kf = C0 - _px(img, NOTCH_HEIGHT_MM) * u_mech
    conf = kconf * img.conf_scale
    found += [_lm("femoral_condyle_medial", side, cm, conf), _lm("femoral_condyle_lateral", side, cl, conf),
              _lm("femoral_knee_center", side, Kf, conf * 0.95)]
    info["condyles"] = kconf
    # femoral anatomical axis
    try:
        sp, sd, sconf = _shaft_points(img, femur, Kf, H)
        found += [_lm("femoral_shaft_proximal", side, sp, sconf * img.conf_scale),
                  _lm("femoral_shaft_distal", side, sd, sconf * img.conf_scale)]
    except StageMiss as e:
        miss(f"femoral shaft axis: {e}", "femoral_shaft_proximal", "femoral_shaft_distal")
    # tibial plateau
    try:
        P0, jt, half, pconf = _plateau(img, C0, n_dist, lat, ball)
        med, latp = (P0 - half * jt, P0 + half * jt)
        found += [_lm("tibial_plateau_medial", side, med, pconf * img.conf_scale),
                  _lm("tibial_plateau_lateral", side, latp, pconf * img.conf_scale)]
        n_prox = np.array([jt[1], -jt[0]])
        if n_prox @ n_dist > 0:
            n_prox = -n_prox
        tip = _spine_tip(img, P0, n_prox)
        if tip is None:
            Kt = P0 + _px(img, SPINE_HEIGHT_MM) * n_prox
            tconf = pconf * 0.8
        else:
            Kt = tip - _px(img, SPINE_TIP_TO_CENTER_MM) * n_prox
            tconf = pconf
        found.append(_lm("tibial_knee_center", side, Kt, tconf * img.conf_scale))
    except StageMiss as e:
        miss(f"tibial plateau not found below the condyles: {e}", "tibial_plateau_medial", "tibial_plateau_lateral")
        Kt = C0 + _px(img, 1.0) * n_dist  # the joint line's centre: a rough tibial knee centre
        found.append(_lm("tibial_knee_center", side, Kt, 0.4 * kconf * img.conf_scale))
    # ankle
    try:
        A, fm, fl, aconf = _ankle(img, Kt, n_dist, lat)
        c = aconf * img.conf_scale
        found += [_lm("ankle_center", side, A, c)]
        if fm is None:
            miss("distal tibial outline not found above the talus", "tibial_plafond_medial", "tibial_plafond_lateral")
        else:
            found += [_lm("tibial_plafond_medial", side, fm, c * 0.9), _lm("tibial_plafond_lateral", side, fl, c * 0.9)]
    except StageMiss as e:
        miss(f"ankle not found: {e}", "ankle_center", "tibial_plafond_medial", "tibial_plafond_lateral")
    return found, missing, info


def _px(img: LimbImage, mm: float) -> float:
    """Full-resolution pixels spanning ``mm``."""
    return mm / img.mm


GT_WINDOW_MM = ((38.0, 78.0), (-18.0, 25.0))
#: Half-width and height (mm) of the rounded top of the greater trochanter searched for.
GT_CAP_MM = (10.0, 12.0)  #: lateral and distal of the head centre


def _greater_trochanter(img: LimbImage, H: np.ndarray, lat: int):
    """Tip of the greater trochanter in a window lateral of the head centre (:data:`GT_WINDOW_MM`):
    the tip of the rounded cap (:data:`GT_CAP_MM`) whose whole outline is the strongest
    bright-inside edge of the band-passed image (the trochanter's outline is sharp, the soft
    tissue's a broad ramp; a straight edge or a wider, softer cap scores less).

    Returns ``(xy, confidence)`` or None.
    """
    from scipy.ndimage import gaussian_filter

    w = img.mid
    down = -float(img.superior_y)
    (l0, l1), (d0, d1) = GT_WINDOW_MM
    xs = sorted([H[0] + lat * _px(img, l0), H[0] + lat * _px(img, l1)])
    ys = sorted([H[1] + down * _px(img, d0 - 6.0), H[1] + down * _px(img, d1 + 6.0)])
    if xs[0] < 0 or ys[0] < 0 or xs[1] / w.factor > w.image.shape[1] or ys[1] / w.factor > w.image.shape[0]:
        return None  # the trochanter's window is not wholly in the image
    x0, x1 = int(xs[0] / w.factor), int(xs[1] / w.factor)
    y0, y1 = int(ys[0] / w.factor), int(ys[1] / w.factor)
    if x1 - x0 < 5 or y1 - y0 < 8:
        return None
    raw = w.image[y0:y1, x0:x1].astype(np.float32)
    sub = gaussian_filter(raw, w.px(0.8)) - gaussian_filter(raw, w.px(5.0), mode="nearest")
    gy, gx = np.gradient(sub)
    # a rounded cap (half-width GT_CAP_MM[0], height GT_CAP_MM[1]) whose outline is a bright-inside
    # edge all along: the summed inward gradient over the cap's outline, per candidate tip
    ca, cb = w.px(GT_CAP_MM[0]), w.px(GT_CAP_MM[1])
    th = np.radians(np.linspace(-70.0, 70.0, 15))
    ax_, ay_ = ca * np.sin(th), down * cb * (1.0 - np.cos(th))  # outline relative to the tip
    nx, ny = -np.sin(th) / ca, down * np.cos(th) / cb  # inward normal (unnormalised ellipse gradient)
    nn = np.hypot(nx, ny)
    nx, ny = nx / nn, ny / nn
    m = int(round(w.px(6.0)))
    ty, tx = np.mgrid[m:sub.shape[0] - m, 0:sub.shape[1]]
    ty, tx = ty.ravel(), tx.ravel()
    py = ty[:, None] + ay_[None, :]
    px_ = tx[:, None] + ax_[None, :]
    from scipy.ndimage import map_coordinates

    vy = map_coordinates(gy, [py, px_], order=1, mode="constant", cval=0.0)
    vx = map_coordinates(gx, [py, px_], order=1, mode="constant", cval=0.0)
    along = vx * nx[None, :] + vy * ny[None, :]
    # every part of the cap must be an edge: the mean, less the spread along the outline
    score = along.mean(axis=1) - 0.5 * along.std(axis=1)
    k = int(np.argmax(score))
    if score[k] <= 0:
        return None
    ry, rx = float(ty[k]), float(tx[k])
    xy = np.array([x0 + rx + 0.5, y0 + ry + 0.5]) * w.factor
    rng = float(np.percentile(np.abs(sub), 99)) + 1e-6
    conf = 0.85 * float(np.clip(score[k] / rng / 0.1, 0, 1))  # a clear cap scores ~0.1 of the band's range
    return xy, conf


# --------------------------------------------------------------------------- tracing a long bone


@dataclass
class _Trace:
    pts: np.ndarray  #: (N, 2) full-resolution centreline points
    widths_mm: np.ndarray


def bone_run(prof: np.ndarray, step_mm: float, width_mm: tuple[float, float], centre_i: float,
              widest: bool = False):
    """The bright run (bone over soft tissue) nearest ``centre_i`` in a row profile: (centre, width) or None."""
    from scipy.ndimage import gaussian_filter1d

    p = gaussian_filter1d(prof, 1.0 / step_mm)
    base = gaussian_filter1d(p, 30.0 / step_mm, mode="nearest")
    hp = p - base
    if not np.isfinite(hp).all() or hp.max() <= 0:
        return None
    thr = 0.35 * hp.max()
    on = hp > thr
    # runs
    d = np.diff(np.r_[0, on.astype(np.int8), 0])
    starts, ends = np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]
    best = None
    for s, e in zip(starts, ends):
        w = (e - s) * step_mm
        if not (width_mm[0] * 0.5 <= w <= width_mm[1] * 1.6):
            continue
        c = 0.5 * (s + e - 1)
        dist = abs(c - centre_i)
        score = -w if widest else dist - 0.3 * w / step_mm
        if best is None or score < best[0]:
            best = (score, c, w)
    if best is None:
        return None
    return best[1], best[2]


def trace_bone(img: LimbImage, start: np.ndarray, distal: np.ndarray, lat: int, length_mm: float,
           width_mm: tuple[float, float], step_mm: float = 6.0, first_widest: bool = False) -> _Trace:
    """Follow a long bone from ``start`` (full-res xy) distally on the mid image."""
    w = img.mid
    x = float(start[0]) / w.factor
    y0 = float(start[1]) / w.factor
    dy = distal[1]
    n = int(length_mm / step_mm)
    half = w.px(45.0)
    pts, widths = [], []
    slope = 0.0
    misses = 0
    for k in range(n):
        y = y0 + dy * k * w.px(step_mm)
        r = int(y)
        if r < 0 or r >= w.image.shape[0]:
            break
        xc = x + slope * (y - (pts[-1][1] if pts else y))
        c0, c1 = int(max(0, xc - half)), int(min(w.image.shape[1], xc + half))
        if c1 - c0 < 10:
            break
        prof = w.image[max(0, r - 1): r + 2, c0:c1].mean(axis=0)
        run = bone_run(prof, w.mm_per_px, width_mm, xc - c0, widest=first_widest and not pts)
        if run is None or (pts and abs(run[0] + c0 - xc) > w.px(12.0)):
            misses += 1
            if misses > 4:
                break
            continue
        misses = 0
        cx = run[0] + c0 + 0.5
        if len(pts) >= 3:
            a = np.array(pts[-6:])
            slope = float(np.polyfit(a[:, 1], a[:, 0], 1)[0]) if len(a) >= 3 else 0.0
        pts.append((cx, y + 0.5))
        widths.append(run[1])
        x = cx
    if len(pts) < 8:
        raise StageMiss("no continuous bright bone band below the start")
    return _Trace(np.asarray(pts) * w.factor, np.asarray(widths))


# --------------------------------------------------------------------------- knee


def _condyles(img: LimbImage, H: np.ndarray, femur: _Trace, lat: int, ball=None):
    """Medial and lateral condylar tangent points, distal joint-line normal and a confidence."""
    from .heads import hough_bright_circles

    c = img.coarse
    down = -float(img.superior_y)
    # search box: 330-560 mm below the head, 120 mm either side of it
    ys = sorted([H[1] + down * _px(img, FEMUR_LENGTH_MM[0] - 30.0), H[1] + down * _px(img, FEMUR_LENGTH_MM[1] + 30.0)])
    x0, x1 = H[0] - _px(img, 120.0), H[0] + _px(img, 120.0)
    r0, r1 = int(max(0, ys[0] / c.factor)), int(min(c.image.shape[0], ys[1] / c.factor))
    q0, q1 = int(max(0, x0 / c.factor)), int(min(c.image.shape[1], x1 / c.factor))
    if r1 - r0 < 10 or q1 - q0 < 10:
        raise StageMiss("the knee region is outside the image")
    sub = c.image[r0:r1, q0:q1]
    radii = np.arange(c.px(CONDYLE_RADIUS_MM[0]), c.px(CONDYLE_RADIUS_MM[1]) + 1, 1.0)
    peaks = hough_bright_circles(sub, radii, num_peaks=16, threshold=0.1, sigma=1.0)
    log.debug('condyle peaks %s', [(round(x + q0), round(y + r0), round(r, 1), round(s_, 2)) for x, y, r, s_ in peaks])
    if len(peaks) < 2:
        raise StageMiss("no pair of condyle-like circles")
    P = [(np.array([x + q0, y + r0]) * c.factor, r * c.factor, s) for x, y, r, s in peaks]
    # the knee lies on the femoral shaft's line, prolonged (the anatomical axis passes within
    # ~10 mm of the knee centre)
    tr = femur.pts
    t = (tr[:, 1] - H[1]) * down * img.mm
    dia = tr[(t > 60.0) & (t < 300.0)]
    line = np.polyfit(dia[:, 1], dia[:, 0], 1) if len(dia) >= 5 else None
    if ball is not None:  # the calibration ball is a bright disc too
        P = [p for p in P if np.hypot(*(p[0] - ball[:2])) > ball[2] + 5.0 / img.mm]
    pairs: list = []
    for use_line in ((True, False) if line is not None else (False,)):
        for i in range(len(P)):
            for j in range(i + 1, len(P)):
                (a, ra, sa), (b, rb, sb) = P[i], P[j]
                d = (b - a) * img.mm
                dist = float(np.hypot(*d))
                if not (CONDYLE_SPACING_MM[0] <= dist <= CONDYLE_SPACING_MM[1]):
                    continue
                if abs(d[1]) > 0.45 * abs(d[0]):  # joint line within ~24 deg of horizontal
                    continue
                if abs(ra - rb) * img.mm > 6.0:
                    continue
                mid_ = 0.5 * (a + b)
                if use_line and abs(np.polyval(line, mid_[1]) - mid_[0]) * img.mm > 25.0:
                    continue
                ia, ib = _disc_mean(c, a, ra), _disc_mean(c, b, rb)
                if not (0.8 <= ia / max(ib, 1e-6) <= 1.25):  # a steel ball beside a condyle
                    continue
                pairs.append((sa + sb, a, ra, b, rb))
        if pairs:
            break
    if not pairs:
        raise StageMiss("no pair of condyle-like circles side by side")
    # the best-voted pairs, fitted: the first whose fits are good and still look like condyles
    best = None
    for _, a, ra, b, rb in sorted(pairs, key=lambda t: -t[0])[:6]:
        fa, fb = _fit_circle_mid(img, a, ra), _fit_circle_mid(img, b, rb)
        if fa is None or fb is None:
            continue
        gap = float(np.hypot(*(fb[0] - fa[0]))) * img.mm
        ok = (CONDYLE_SPACING_MM[0] <= gap <= CONDYLE_SPACING_MM[1] and abs(fa[1] - fb[1]) * img.mm <= 5.0
              and all(CONDYLE_RADIUS_MM[0] <= f[1] * img.mm <= CONDYLE_RADIUS_MM[1] for f in (fa, fb)))
        q = min(fa[2], fb[2]) * (1.0 if ok else 0.3)
        if best is None or q > best[0]:
            best = (q, fa, fb)
        if ok and q >= 0.6:
            break
    if best is None:
        raise StageMiss("the condyle outlines could not be fitted")
    _, (ca, rfa, qa), (cb, rfb, qb) = best
    n = np.array([-(cb - ca)[1], (cb - ca)[0]])
    n = _unit(n)
    distal = np.array([0.0, -float(img.superior_y)])
    if n @ distal < 0:
        n = -n
    ta, tb = ca + rfa * n, cb + rfb * n
    # medial: the one further from the lateral direction
    if (ta[0] - tb[0]) * lat > 0:
        cl, cm = ta, tb
    else:
        cl, cm = tb, ta
    return cm, cl, n, float(best[0])


def _disc_mean(w: WorkImage, centre_full: np.ndarray, r_full: float) -> float:
    cx, cy = centre_full / w.factor
    r = 0.5 * r_full / w.factor
    y0, y1 = int(max(0, cy - r)), int(min(w.image.shape[0], cy + r + 1))
    x0, x1 = int(max(0, cx - r)), int(min(w.image.shape[1], cx + r + 1))
    patch = w.image[y0:y1, x0:x1]
    return float(patch.mean()) if patch.size else 0.0


def _fit_circle_mid(img: LimbImage, centre_full: np.ndarray, r_full: float):
    """Circle fit on radial edges (mid image) near ``centre_full``; (centre, r full-res, quality) or None."""
    from .common import radial_edges

    w = img.mid
    cw = centre_full / w.factor
    rw = r_full / w.factor
    lo, hi = 0.6 * rw, 1.4 * rw
    ang, rad, strength = radial_edges(w.image, tuple(cw), lo, hi, n_angles=120, step=0.5, polarity=-1, smooth=1.0)
    ok = np.isfinite(strength) & (strength > 0)
    if ok.sum() < 10:
        return None
    pts = cw[None, :] + rad[ok, None] * np.c_[np.cos(ang[ok]), np.sin(ang[ok])]
    res = robust_circle(pts, weights=strength[ok], threshold=max(0.8, w.px(0.8)), r_range=(lo, hi))
    if res is None:
        return None
    (cx, cy, r, rms), inl = res
    quality = float(np.clip(inl.sum() / ok.size * 1.4, 0, 1) * np.clip(1.2 - rms * w.mm_per_px / 1.5, 0, 1))
    return np.array([cx, cy]) * w.factor, r * w.factor, quality


def _plateau(img: LimbImage, C0: np.ndarray, n_dist: np.ndarray, lat: int, ball=None):
    """Plateau line centre P0 (proximal tangent of the fitted ellipse), the unit lateral direction
    along it, its half-width (full px) and a confidence."""
    from skimage.measure import EllipseModel

    from .common import radial_edges

    w = img.mid
    guess = (C0 + _px(img, 17.0) * n_dist) / w.factor
    ang, rad, strength = radial_edges(w.image, tuple(guess), w.px(5.0), w.px(46.0), n_angles=144, step=0.5,
                                      polarity=-1, smooth=1.0)
    d = np.c_[np.cos(ang), np.sin(ang)]
    nd = n_dist / np.hypot(*n_dist)
    keep = np.isfinite(strength) & (strength > 0) & (d @ nd < math.sin(math.radians(12)))
    if keep.sum() < 20:
        raise StageMiss("too few plateau edges")
    pts = guess[None, :] + rad[keep, None] * d[keep]
    hidden = 1.0
    if ball is not None:  # edges of the calibration ball are not the plateau's
        bw = ball / w.factor
        near = np.hypot(pts[:, 0] - bw[0], pts[:, 1] - bw[1]) <= bw[2] + w.px(8.0)
        if np.hypot(*(bw[:2] - guess)) <= bw[2] + w.px(55.0):
            hidden = 0.5  # the ball overlaps the plateau's outline: less sure
        pts = pts[~near]
        if len(pts) < 20:
            raise StageMiss("the plateau is hidden by the calibration ball")
    best = None
    rng = np.random.default_rng(0)
    m = len(pts)
    # RANSAC over 5-point ellipse fits
    for _ in range(200):
        idx = rng.choice(m, 5, replace=False)
        em = EllipseModel()
        if not em.estimate(pts[idx]):
            continue
        _, _, ea, eb, _ = em.params
        if not (20.0 <= max(ea, eb) * w.mm_per_px <= 50.0 and 4.0 <= min(ea, eb) * w.mm_per_px <= 22.0):
            continue
        res = _ellipse_residuals(em.params, pts)
        inl = res < w.px(1.0)
        if best is None or inl.sum() > best[0]:
            best = (int(inl.sum()), inl)
    if best is None or best[0] < 15:
        raise StageMiss("no elliptical plateau outline")
    em = EllipseModel()
    if not em.estimate(pts[best[1]]):
        raise StageMiss("plateau ellipse fit failed")
    xc, yc, a, b, theta = em.params
    if b > a:
        a, b = b, a
        theta += math.pi / 2
    j = np.array([math.cos(theta), math.sin(theta)])
    a_mm, b_mm = a * w.mm_per_px, b * w.mm_per_px
    if not (22.0 <= a_mm <= 55.0 and 4.0 <= b_mm <= 25.0):
        raise StageMiss(f"the plateau outline has an implausible size ({2 * a_mm:.0f} x {2 * b_mm:.0f} mm)")
    if abs(j[1]) > math.sin(math.radians(25)):
        raise StageMiss("the plateau outline is not transverse")
    if j[0] * lat < 0:
        j = -j
    n_prox = np.array([-j[1], j[0]])
    if n_prox @ nd > 0:
        n_prox = -n_prox
    centre = np.array([xc, yc]) * w.factor
    P0 = centre + b * w.factor * n_prox
    conf = float(np.clip(best[0] / len(pts) * 1.3, 0, 1)) * hidden
    return P0, j, a * w.factor, conf


def _ellipse_residuals(params, pts: np.ndarray) -> np.ndarray:
    """Distance of each point from the ellipse along the ray from its centre (a fast stand-in
    for the orthogonal distance, equal to it on the axes)."""
    xc, yc, a, b, th = params
    d = pts - np.array([xc, yc])
    c, s_ = math.cos(th), math.sin(th)
    u = d[:, 0] * c + d[:, 1] * s_
    v = -d[:, 0] * s_ + d[:, 1] * c
    rho = np.hypot(u, v)
    k = np.sqrt((u / max(a, 1e-9)) ** 2 + (v / max(b, 1e-9)) ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(k > 0, np.abs(rho - rho / k), np.inf)


def _spine_tip(img: LimbImage, P0: np.ndarray, n_prox: np.ndarray):
    """Tip of the tibial spines: the last bright→dark step going proximally from the plateau line."""
    from scipy.ndimage import gaussian_filter1d

    w = img.mid
    s = np.arange(0.0, 14.0, 0.25)
    perp = np.array([n_prox[1], -n_prox[0]])
    offs = np.linspace(-3.0, 3.0, 7)
    pts = (P0[None, None, :] + (s[:, None, None] * n_prox[None, None, :] + offs[None, :, None] * perp[None, None, :]) / img.mm)
    prof = np.nanmean(sample(w.image, pts / w.factor), axis=1)
    if not np.isfinite(prof).all():
        return None
    prof = gaussian_filter1d(prof, 0.6 / 0.25)
    g = -np.gradient(prof)  # drop going proximal
    lo = int(3.0 / 0.25)
    i = lo + int(np.argmax(g[lo:]))
    if g[i] <= 0.15 * (prof.max() - prof.min() + 1e-6) / 2:
        return None
    return P0 + s[i] / img.mm * n_prox


# --------------------------------------------------------------------------- shaft axis


def _shaft_points(img: LimbImage, femur: _Trace, Kf: np.ndarray, H: np.ndarray):
    pts = femur.pts
    u_mech = _unit(Kf - H)
    t = (pts - H) @ u_mech * img.mm  # mm from the head along the mechanical axis
    L = float((Kf - H) @ u_mech) * img.mm
    sel = (t > 60.0) & (t < L - 130.0)  # the diaphysis: below the trochanters, above the metaphysis
    if sel.sum() < 8:
        raise StageMiss("the diaphysis is seen over too short a length")
    p = pts[sel]
    # x as a function of y (a long bone is closer to vertical than horizontal)
    coef = np.polyfit(p[:, 1], p[:, 0], 1)
    resid = p[:, 0] - np.polyval(coef, p[:, 1])
    rms_mm = float(np.sqrt(np.mean(resid**2))) * img.mm
    d = _unit([coef[0], 1.0])
    if d @ u_mech < 0:
        d = -d
    origin = np.array([np.polyval(coef, Kf[1]), Kf[1]])
    # the knee's level on the axis: where the knee's transverse line (through the femoral knee
    # centre, perpendicular to the mechanical axis) crosses the anatomical axis
    n_mech = np.array([-u_mech[1], u_mech[0]])
    t_k, _ = np.linalg.solve(np.column_stack([d, -n_mech]), Kf - origin)
    k = origin + t_k * d
    sp = k - _px(img, SHAFT_PROXIMAL_MM) * d
    sd = k - _px(img, SHAFT_DISTAL_MM) * d
    conf = float(np.clip(1.0 - rms_mm / 4.0, 0.0, 1.0)) * min(1.0, sel.sum() / 20)
    return sp, sd, conf


def robust_line(p: np.ndarray, tol_px: float | None = None) -> np.ndarray:
    """x = f(y) line through trace points, refitted twice without the points far off it (a
    trace that strayed onto a neighbouring bone)."""
    coef = np.polyfit(p[:, 1], p[:, 0], 1)
    for _ in range(3):
        r = np.abs(p[:, 0] - np.polyval(coef, p[:, 1]))
        tol = tol_px if tol_px is not None else max(2.0, 2.5 * float(np.median(r)))
        keep = r <= tol
        if keep.sum() < max(5, 0.5 * len(p)):
            break
        coef = np.polyfit(p[keep, 1], p[keep, 0], 1)
    return coef


# --------------------------------------------------------------------------- ankle


def _ankle(img: LimbImage, Kt: np.ndarray, n_dist: np.ndarray, lat: int):
    """Ankle centre (talar dome centre), plafond points (medial, lateral) and a confidence."""
    from scipy.ndimage import gaussian_filter1d

    distal = np.array([0.0, -float(img.superior_y)])
    tib = trace_bone(img, Kt + distal * _px(img, 80.0), distal, lat, TIBIA_LENGTH_MM[1] - 40.0, width_mm=(12.0, 34.0),
                 first_widest=True)  # the tibia, not the fibula beside it
    t = (tib.pts - Kt) @ distal * img.mm
    sel = t < t.max() - 70.0
    if sel.sum() < 6:
        raise StageMiss("the tibial shaft is seen over too short a length")
    p = tib.pts[sel]
    coef = robust_line(p)
    d = _unit([coef[0], 1.0])
    if d @ distal < 0:
        d = -d
    o = np.array([np.polyval(coef, Kt[1]), Kt[1]])
    # intensity along the axis (band ±6 mm), from the trace end - 60 mm to + 120 mm
    w = img.mid
    s_end = float((tib.pts[-1] - o) @ d) * img.mm
    s_max = float((Kt - o) @ d) * img.mm + TIBIA_LENGTH_MM[1] + 30.0
    s = np.arange(s_end - 60.0, max(s_end + 120.0, s_max), 0.5)
    perp = np.array([d[1], -d[0]])
    offs = np.linspace(-6.0, 6.0, 9)
    pts = o[None, None, :] + (s[:, None, None] * d[None, None, :] + offs[None, :, None] * perp[None, None, :]) / img.mm
    prof = sample(w.image, pts / w.factor)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        prof = np.nanmean(prof, axis=1)
    valid = np.isfinite(prof)
    if valid.sum() < 60:
        raise StageMiss("the ankle is outside the image")
    s, prof = s[valid], prof[valid]
    sm = gaussian_filter1d(prof, 2.0)
    g = np.gradient(sm)
    # the joint: a bright→dark step (the tibia's end) followed within 25 mm by a dark→bright
    # step (the talar dome), the pair with the largest combined step
    rise = [i for i in range(2, len(g) - 2) if g[i] > g[i - 1] and g[i] >= g[i + 1] and g[i] > 0]
    fall = [i for i in range(2, len(g) - 2) if g[i] < g[i - 1] and g[i] <= g[i + 1] and g[i] < 0]
    if not rise or not fall:
        raise StageMiss("no joint space along the tibial axis")
    amp = sm.max() - sm.min()
    cands = []
    for i in rise:
        above = [f for f in fall if s[i] - 25.0 < s[f] < s[i]]
        if not above:
            continue
        f = min(above, key=lambda k: g[k])
        score = g[i] - g[f]
        if score < 0.02 * amp:
            continue
        cands.append((score, i, f))
    if not cands:
        raise StageMiss("no joint space along the tibial axis")
    best = max(cands, key=lambda c: c[0])
    _, i_talus, i_tib = best
    from .common import subpixel_peak

    s_top = s[0] + subpixel_peak(g, i_talus) * (s[1] - s[0])
    # the talar dome's articular surface on the tibial shaft axis: the steepest edge lies
    # DOME_EDGE_MM inside the dome (blur, the subchondral plate)
    A = o + (s_top - DOME_EDGE_MM) / img.mm * d
    # confidence: the joint space's contrast against the profile's range
    depth = float(min(sm[i_tib], sm[i_talus]) - sm[i_tib:i_talus + 1].min()) if i_talus > i_tib else 0.0
    conf = float(np.clip(0.55 + 4.0 * (g[i_talus] - g[i_tib]) / max(amp, 1e-6) + 2.0 * depth / max(amp, 1e-6), 0, 1))
    # plafond: the distal tibial edge at ±PLAFOND_HALF_WIDTH_MM either side of the axis
    fm = fl = None
    ends = []
    for sgn in (-1.0, 1.0):
        off = perp * sgn * _px(img, PLAFOND_HALF_WIDTH_MM)
        ss = np.arange(s[i_tib] - 15.0, s[i_talus] + 2.0, 0.25)
        q = o[None, :] + off[None, :] + (ss[:, None] * d[None, :]) / img.mm
        pr = sample(w.image, q / w.factor)
        if not np.isfinite(pr).all():
            ends = None
            break
        pr = gaussian_filter1d(pr, 1.0 / 0.25)
        gg = np.gradient(pr)
        k = int(np.argmin(gg))
        # the outer end of the bone's distal edge: where the profile has fallen 80 % of the way
        # from the bone above the edge to the joint space below it
        hi_v = float(pr[max(0, k - 20):k + 1].max())
        lo_v = float(pr[k:].min())
        level = hi_v - 0.8 * (hi_v - lo_v)
        below = np.nonzero(pr[k:] <= level)[0]
        if len(below):
            k = k + int(below[0])
        ends.append(o + off + ss[k] / img.mm * d)
    if ends:
        e1, e2 = ends
        if (e1[0] - e2[0]) * lat > 0:
            fl, fm = e1, e2
        else:
            fl, fm = e2, e1
    return A, fm, fl, conf


# --------------------------------------------------------------------------- consistency

#: A landmark breaking an anatomical rule keeps this fraction of its confidence (as the learned
#: detectors do): a confident point on the wrong structure drops below :data:`MIN_CONFIDENCE`
#: and is reported missing with the rule it broke.
PENALTY = 0.25
#: A condyle may lie this far (mm) distal of the plateau margin of its compartment (bone on bone,
#: the points' own error) before it is "below the plateau".
JOINT_TOLERANCE_MM = 3.0
#: The knee lies at least this far (mm) below the hip, the ankle this far below the knee (a
#: child's femur is longer than 200 mm from about two years of age, its tibia than 150 mm).
HIP_TO_KNEE_MIN_MM = 200.0
KNEE_TO_ANKLE_MIN_MM = 150.0
#: The femoral shaft points lie on the femur: across the mechanical axis (head → knee centre),
#: at most this far medial of it, and no further lateral than an anatomical axis at
#: :data:`SHAFT_MAX_AMA_DEG` to it that passes this close to the knee centre.
SHAFT_ACROSS_MM = 20.0
SHAFT_MAX_AMA_DEG = 12.0
#: The greater trochanter's tip: lateral of the head centre by this much (mm) and within
#: ``GT_LEVEL_MM`` of its level.
GT_LATERAL_MM = (20.0, 100.0)
GT_LEVEL_MM = 50.0
#: The two femoral knee centres differ in level by at most this much (mm): a leg-length
#: difference beyond it is rare, and a wrong knee (a ball, a circle on the shaft) is more
#: likely (the phantoms' independently drawn tibial lengths put the knees up to ~70 mm apart).
KNEE_LEVEL_MM = 80.0
#: A limb's point may lie this far (mm) across the midline (an ankle of a varus knee stood with
#: the feet together comes close to it); a point of the other leg lies ~100 mm or more across.
MIDLINE_TOLERANCE_MM = 10.0
#: The points of one knee (what a wrong knee level makes uncertain).
KNEE_POINTS = ("femoral_knee_center", "tibial_knee_center", "femoral_condyle_medial", "femoral_condyle_lateral",
               "tibial_plateau_medial", "tibial_plateau_lateral")
_JOINT_POINTS = ("femoral_condyle_medial", "femoral_condyle_lateral", "tibial_plateau_medial", "tibial_plateau_lateral")


@dataclass(frozen=True)
class LegFrame:
    """Scale and directions the consistency rules are judged in.

    ``distal`` is the unit image direction towards the feet, ``patient_left_x`` +1 when the
    patient's left lies towards increasing x; ``mm_per_px`` the anatomical scale.

    >>> f = LegFrame(0.5, (0.0, 1.0), 1)
    >>> f.height_mm((10.0, 40.0)), f.lateral_mm((10.0, 40.0), Side.RIGHT)
    (20.0, -5.0)
    """

    mm_per_px: float
    distal: tuple[float, float] = (0.0, 1.0)
    patient_left_x: int = 1

    def height_mm(self, xy) -> float:
        """Position along the leg (mm, increasing towards the feet)."""
        return float(np.dot(np.asarray(xy, float), self.distal)) * self.mm_per_px

    def lateral_mm(self, xy, side: Side) -> float:
        """Position across the leg (mm, increasing towards ``side``'s lateral)."""
        lat = self.patient_left_x if Side(side) is Side.LEFT else -self.patient_left_x
        d = np.asarray(self.distal, float)
        across = np.array([-d[1], d[0]])  # perpendicular to the leg
        if across[0] * lat < 0 or (across[0] == 0 and across[1] * lat < 0):
            across = -across
        return float(np.dot(np.asarray(xy, float), across)) * self.mm_per_px


def leg_problems(points: Mapping[str, Sequence[float]], side: Side, frame: LegFrame) -> dict[str, str]:
    """The anatomical rules one leg's points break: ``{anatomy: reason}`` (empty when none).

    ``points`` maps anatomies (``"femoral_head_center"``, …, without the side) to ``(x, y)``;
    a rule is judged only where its points are given. The rules (sizes in mm at the anatomy):

    * **condyles above the plateau**: each femoral condyle no more than
      :data:`JOINT_TOLERANCE_MM` distal of the plateau margin of its compartment;
    * **the joint line between femur and tibia**: condyles and plateau margins distal of the
      femoral knee centre and of the distal shaft point, proximal of the ankle centre; the
      femoral knee centre proximal of the tibial knee centre;
    * **axis points inside the shaft**: the femoral shaft points between the head and the
      knee centre, proximal one first, and across the mechanical axis where an anatomical axis
      can lie (:data:`SHAFT_ACROSS_MM`, :data:`SHAFT_MAX_AMA_DEG`);
    * **hip above knee above ankle**: the femoral knee centre at least
      :data:`HIP_TO_KNEE_MIN_MM` below the head centre, the ankle centre at least
      :data:`KNEE_TO_ANKLE_MIN_MM` below the tibial knee centre; the greater trochanter lateral
      of the head near its level.

    A rule between two points cannot tell which one is wrong: both are named (the head
    centre, which the whole leg is followed from, is the anchor of the trochanter rule).

    >>> f = LegFrame(1.0, (0.0, 1.0), 1)
    >>> pts = {"femoral_condyle_medial": (-20.0, 500.0), "tibial_plateau_medial": (-35.0, 490.0)}
    >>> leg_problems(pts, Side.LEFT, f)["femoral_condyle_medial"]
    'the condyle lies 10 mm below the plateau margin of its compartment'
    """
    side = Side(side)
    h = {k: frame.height_mm(v) for k, v in points.items()}
    a = {k: frame.lateral_mm(v, side) for k, v in points.items()}
    out: dict[str, str] = {}

    def flag(why: str, *anatomies: str) -> None:
        for k in anatomies:
            out.setdefault(k, why)

    for comp in ("medial", "lateral"):
        c, p = f"femoral_condyle_{comp}", f"tibial_plateau_{comp}"
        if c in h and p in h and h[c] - h[p] > JOINT_TOLERANCE_MM:
            flag(f"the condyle lies {h[c] - h[p]:.0f} mm below the plateau margin of its compartment", c, p)
    for j in _JOINT_POINTS:
        if j not in h:
            continue
        for above in ("femoral_knee_center", "femoral_shaft_distal"):
            if above in h and h[j] <= h[above]:
                flag(f"the joint line is not below the femur ({j} proximal of {above})", j, above)
        if "ankle_center" in h and h[j] >= h["ankle_center"]:
            flag(f"the joint line is not above the tibia ({j} distal of ankle_center)", j, "ankle_center")
    if "femoral_knee_center" in h and "tibial_knee_center" in h \
            and h["femoral_knee_center"] - h["tibial_knee_center"] > JOINT_TOLERANCE_MM:
        flag("the femoral knee centre lies below the tibial knee centre", "femoral_knee_center", "tibial_knee_center")
    head, knee = points.get("femoral_head_center"), points.get("femoral_knee_center")
    if head is not None and knee is not None:
        if h["femoral_knee_center"] - h["femoral_head_center"] < HIP_TO_KNEE_MIN_MM:
            flag(f"the knee is less than {HIP_TO_KNEE_MIN_MM:.0f} mm below the hip", "femoral_head_center",
                 "femoral_knee_center")
        for s in ("femoral_shaft_proximal", "femoral_shaft_distal"):
            if s in points:
                why = _shaft_problem(points[s], head, knee, side, frame)
                if why:
                    flag(why, s)
        if "femoral_shaft_proximal" in h and "femoral_shaft_distal" in h \
                and h["femoral_shaft_proximal"] >= h["femoral_shaft_distal"]:
            flag("the proximal shaft point is not above the distal one", "femoral_shaft_proximal", "femoral_shaft_distal")
    if "tibial_knee_center" in h and "ankle_center" in h \
            and h["ankle_center"] - h["tibial_knee_center"] < KNEE_TO_ANKLE_MIN_MM:
        flag(f"the ankle is less than {KNEE_TO_ANKLE_MIN_MM:.0f} mm below the knee", "tibial_knee_center",
             "ankle_center")
    if "greater_trochanter" in h and "femoral_head_center" in h:
        lat_mm = a["greater_trochanter"] - a["femoral_head_center"]
        level_mm = abs(h["greater_trochanter"] - h["femoral_head_center"])
        if not GT_LATERAL_MM[0] <= lat_mm <= GT_LATERAL_MM[1] or level_mm > GT_LEVEL_MM:
            flag(f"the greater trochanter is not lateral of the head near its level ({lat_mm:.0f} mm lateral, "
                 f"{level_mm:.0f} mm from its level)", "greater_trochanter")
    return out


def _shaft_problem(p, head, knee, side: Side, frame: LegFrame) -> str | None:
    """Why a femoral shaft point is not inside the femur (``None`` if it may be)."""
    hp, hh, hk = frame.height_mm(p), frame.height_mm(head), frame.height_mm(knee)
    if not hh < hp < hk:
        return "the shaft point is not between the femoral head and the knee"
    t = (hp - hh) / (hk - hh)  # where the mechanical axis is at this level
    axis_mm = (1 - t) * frame.lateral_mm(head, side) + t * frame.lateral_mm(knee, side)
    off = frame.lateral_mm(p, side) - axis_mm
    most = SHAFT_ACROSS_MM + (hk - hp) * math.tan(math.radians(SHAFT_MAX_AMA_DEG))
    if not -SHAFT_ACROSS_MM <= off <= most:
        return f"the shaft point lies {off:.0f} mm across the mechanical axis, outside the femoral shaft"
    return None


def bilateral_problems(right: Mapping[str, Sequence[float]], left: Mapping[str, Sequence[float]],
                       frame: LegFrame) -> dict[Side, dict[str, str]]:
    """The rules between the two legs: ``{side: {anatomy: reason}}``.

    * **each limb on its own side of the midline**: the midline passes midway between the
      femoral head centres (else the femoral knee centres), along the leg; a point more than
      :data:`MIDLINE_TOLERANCE_MM` on the other side of it is named;
    * **the two knees at a similar level**: femoral knee centres within :data:`KNEE_LEVEL_MM`
      of each other's level, else every point of both knees (:data:`KNEE_POINTS`) is named.

    >>> f = LegFrame(1.0, (0.0, 1.0), 1)
    >>> r = {"femoral_head_center": (100.0, 50.0), "ankle_center": (260.0, 900.0)}
    >>> l = {"femoral_head_center": (300.0, 50.0)}
    >>> bilateral_problems(r, l, f)[Side.RIGHT]
    {'ankle_center': "on the patient's left of the midline (60 mm)"}
    """
    out: dict[Side, dict[str, str]] = {Side.RIGHT: {}, Side.LEFT: {}}
    legs = {Side.RIGHT: right, Side.LEFT: left}
    for ref in ("femoral_head_center", "femoral_knee_center"):
        if ref in right and ref in left:
            mid = 0.5 * (np.asarray(right[ref], float) + np.asarray(left[ref], float))
            for side, pts in legs.items():
                m = frame.lateral_mm(mid, side)
                for k, xy in pts.items():
                    d = frame.lateral_mm(xy, side) - m
                    if d < -MIDLINE_TOLERANCE_MM:
                        other = Side.LEFT if side is Side.RIGHT else Side.RIGHT
                        out[side].setdefault(k, f"on the patient's {other.value} of the midline ({-d:.0f} mm)")
            break
    if "femoral_knee_center" in right and "femoral_knee_center" in left:
        dh = abs(frame.height_mm(right["femoral_knee_center"]) - frame.height_mm(left["femoral_knee_center"]))
        if dh > KNEE_LEVEL_MM:
            for side, pts in legs.items():
                for k in KNEE_POINTS:
                    if k in pts:
                        out[side].setdefault(k, f"the two knees are {dh:.0f} mm apart in level "
                                                f"(more than {KNEE_LEVEL_MM:.0f})")
    return out


def consistency_problems(landmarks: Iterable[Landmark], frame: LegFrame) -> dict[LandmarkName, str]:
    """Every landmark of a long leg that breaks a rule (:func:`leg_problems`,
    :func:`bilateral_problems`), with the first reason found.

    >>> f = LegFrame(1.0, (0.0, 1.0), 1)
    >>> lms = [Landmark(LandmarkName.of("femoral_head_center", "right"), 100.0, 50.0),
    ...        Landmark(LandmarkName.of("femoral_knee_center", "right"), 120.0, 150.0)]
    >>> consistency_problems(lms, f)[LandmarkName.of("femoral_knee_center", "right")]
    'the knee is less than 200 mm below the hip'
    """
    pts: dict[Side, dict[str, tuple[float, float]]] = {Side.RIGHT: {}, Side.LEFT: {}}
    for lm in landmarks:
        pts[lm.name.side][lm.name.anatomy] = (lm.x, lm.y)
    out: dict[LandmarkName, str] = {}
    both = bilateral_problems(pts[Side.RIGHT], pts[Side.LEFT], frame)
    for side in (Side.RIGHT, Side.LEFT):
        for k, why in {**both[side], **leg_problems(pts[side], side, frame)}.items():
            out.setdefault(LandmarkName.of(k, side), why)
    return out


def penalise(landmarks: Iterable[Landmark], problems: Mapping[LandmarkName, str],
             penalty: float = PENALTY) -> list[Landmark]:
    """``landmarks`` with the confidence of each one in ``problems`` multiplied by ``penalty``.

    >>> lm = Landmark(LandmarkName.of("ankle_center", "left"), 1.0, 2.0, 0.9)
    >>> penalise([lm], {lm.name: "why"})[0].confidence
    0.225
    """
    return [replace(lm, confidence=float(lm.confidence) * penalty) if lm.name in problems else lm
            for lm in landmarks]
