"""Automatic landmarks on AP and lateral knee radiographs: :func:`detect_knee`.

One knee per image (its side from ``side=``, else the caller's laterality; on an AP view
without one, from the fibula, which lies lateral). Classical image analysis driven by sizes
in mm that the image scale turns into pixels:

* **shafts** – the femoral diaphysis is traced row by row from the superior edge of the
  image and the tibial diaphysis from the inferior edge (the widest bone: the tibia, not
  the fibula) with the long-leg tracer (:mod:`.limb`), and a line is fitted to each
  centreline (refitted without strays): the anatomical axes;
* **joint** – along the femoral axis, every column across the knee is searched for the
  femur's distal edge (bright → dark) followed by the tibia's proximal edge (dark → bright);
* **AP view** – the condylar tangent points are the two vertices of the distal femoral
  outline's convex hull that bridge the intercondylar notch (the tangent touching both
  condyles); the plateau line is a robust line through the tibia's proximal edge and the
  plateau margins are the tibial head's medial and lateral edges just below it; the
  epicondyle points are the medial and lateral extremes of the distal femur measured along
  the condylar line (the vertex of a parabola through the outline near the extreme);
* **lateral view** – the posterior condyle point is the posterior extreme of the distal femur
  measured perpendicular to the femoral axis (parabola vertex); the plateau rims are the
  anterior and posterior edges of the tibial head just below its proximal edge; the anterior
  and posterior cortex points are the shaft's outer edges at fixed levels. Anterior comes
  from PatientOrientation (``A``/``P`` along the rows); without it the landmarks that depend
  on it are reported missing with that reason (never guessed).

Model conventions (documented, not traced on the image): the axis points lie on the fitted
axes :data:`FEMORAL_AXIS_MM` proximal of the joint line (the condylar line on the AP view,
the level of the most distal condylar point on the lateral view) and :data:`TIBIAL_AXIS_MM`
distal of the plateau line, shortened to the part of the shaft that was seen; the anterior
and posterior cortex points are taken :data:`ANTERIOR_CORTEX_MM` and
:data:`POSTERIOR_CORTEX_MM` proximal of the most distal condylar point. These match the
synthetic phantom (:mod:`orthoplan.phantoms.knee`); on real films they approximate the
definitions.

Every landmark carries a confidence in [0, :data:`MAX_CONFIDENCE`] (this detector, tuned on
phantoms, is often wrong on real films: never confident); landmarks below ``MIN_CONFIDENCE`` and
landmarks not found are listed in ``Landmarks.missing`` with the reason. A film of two
projections side by side (an AP and a lateral on one image, recognised by
:func:`.views.classify_view`) is not read: every landmark is missing with that reason; nor is a
film the classifier confidently takes for an AP pelvis/hip film.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import LandmarkError
from ..model import (KNEE_AP_ANATOMY, KNEE_LATERAL_ANATOMY, Calibration, Landmark, LandmarkName, Landmarks,
                     LandmarkSource, Radiograph, Side)
from .common import WorkImage, block_mean, sample, scale_of, subpixel_peak
from .views import FIBULA_MIN_PROBABILITY, TWO_VIEW_REASON, classify_view, fibula_side, refusal_reason
from .common import low_confidence_reason

log = logging.getLogger(__name__)

__all__ = ["detect_knee", "detect_knee_details", "KneeDetection", "KNEE_AP_DETECTED", "KNEE_LATERAL_DETECTED",
           "knee_view_of"]

#: The anatomies the knee detectors report (found or missing): each view's whole vocabulary.
KNEE_AP_DETECTED = KNEE_AP_ANATOMY
KNEE_LATERAL_DETECTED = KNEE_LATERAL_ANATOMY
MIN_CONFIDENCE = 0.3
#: The most confidence this detector gives. Measured on real films (docs/accuracy.md, "Real
#: knee films: the classical knee detector"): of the points it reported at ≥ 0.8 on 100 real AP
#: knee films, 9 in 10 were more than 10 % of the condylar width off. Until a detector measured
#: on real knee films replaces it, no point of it is reported as confident.
MAX_CONFIDENCE = 0.5
FEMORAL_AXIS_MM = (140.0, 80.0)
TIBIAL_AXIS_MM = (50.0, 140.0)
#: Shortest acceptable distance between the two points of an axis (mm).
AXIS_SPAN_MIN_MM = 40.0
ANTERIOR_CORTEX_MM = 55.0
POSTERIOR_CORTEX_MM = 70.0
MID_MM = 0.5
STEP_MM = 0.5  #: sampling step along profiles
#: The steepest intensity gradient across a blurred rounded bone outline (a condyle, a
#: cortex seen side on) lies this far inside the outline at the detector's smoothing: the
#: outline edges are moved out by it.
ROUND_EDGE_INSET_MM = 0.6


@dataclass(frozen=True)
class KneeDetection:
    """Everything :func:`detect_knee_details` found: landmarks plus findings for people."""

    landmarks: Landmarks
    side: Side | None = None
    notes: tuple[str, ...] = ()
    info: dict = field(default_factory=dict)


class StageMiss(Exception):
    """A stage failed; the message is the reason for the landmarks that depend on it."""


def detect_knee(radiograph: Radiograph, calibration: Calibration | None = None, view: str = "knee-ap",
                side: Side | str | None = None) -> Landmarks:
    """Landmarks of an AP (``view="knee-ap"``) or lateral (``"knee-lateral"``) knee radiograph.

    ``side`` is the knee shown; a lateral view needs it (:class:`~orthoplan.errors.LandmarkError`
    otherwise), an AP view without it takes the side from the fibula's position.

    >>> from orthoplan.phantoms.knee import make_knee_ap
    >>> from orthoplan.pipeline import load_radiograph
    >>> case = make_knee_ap(seed=2, side="right", rows=950, columns=700, detector_spacing_mm=0.4)
    >>> lms = detect_knee(load_radiograph(case.dataset), view="knee-ap", side="right")
    >>> a, t = lms["femoral_condyle_lateral_right"], case.landmarks["femoral_condyle_lateral_right"]
    >>> bool(math.hypot(a.x - t.x, a.y - t.y) * case.mm_per_px < 3)
    True
    """
    return detect_knee_details(radiograph, calibration, view, side).landmarks


# --------------------------------------------------------------------------- frame and sampling


@dataclass
class LimbImage:
    """The smoothed full-resolution image, the working images and the scale."""

    smooth: np.ndarray
    mid: WorkImage
    mm: float  #: anatomical mm per full-resolution pixel
    conf_scale: float
    superior_y: int

    def px(self, mm: float) -> float:
        return mm / self.mm

    def grid(self, origin: np.ndarray, e1: np.ndarray, e2: np.ndarray, s1_mm: np.ndarray, s2_mm: np.ndarray) -> np.ndarray:
        """Values at ``origin + s1·e1 + s2·e2`` (mm along unit image directions), shape ``(len(s1), len(s2))``."""
        pts = (origin[None, None, :] + (s1_mm[:, None, None] * e1[None, None, :]
                                        + s2_mm[None, :, None] * e2[None, None, :]) / self.mm)
        return sample(self.smooth, pts)


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return v / max(float(np.hypot(*v)), 1e-12)


def _lm(anatomy: str, side: Side, xy, conf: float) -> Landmark:
    return Landmark(LandmarkName.of(anatomy, side), float(xy[0]), float(xy[1]), float(np.clip(conf, 0, 1)),
                    LandmarkSource.AUTO)


def _prepare(radiograph: Radiograph, calibration: Calibration | None) -> LimbImage:
    from scipy.ndimage import gaussian_filter

    scale = scale_of(radiograph, calibration)
    conf_scale = 1.0 if not scale.assumed else (0.85 if not scale.source.startswith("assumed-field") else 0.6)
    display = np.asarray(radiograph.display, dtype=np.float32)
    smooth = gaussian_filter(display, max(0.5, 0.5 / scale.mm_per_px))
    f = max(1, int(round(MID_MM / scale.mm_per_px)))
    mid = WorkImage(block_mean(display, f), f, scale.mm_per_px * f)
    sup = int(getattr(radiograph.orientation, "superior_y", -1) or -1)
    return LimbImage(smooth, mid, scale.mm_per_px, conf_scale, sup)


# --------------------------------------------------------------------------- shafts


@dataclass
class _Axis:
    point: np.ndarray  #: a point of the axis (full px)
    d: np.ndarray  #: unit direction, distal
    pts: np.ndarray  #: centreline points used (full px)
    conf: float


def _shaft(img: LimbImage, bone: str) -> _Axis:
    """The femoral (from the superior edge) or tibial (from the inferior edge) anatomical axis."""
    from .limb import LimbImage as LimbImg, StageMiss as LimbMiss, bone_run, robust_line, trace_bone  # noqa: N813

    w = img.mid
    rows, cols = w.image.shape
    distal = np.array([0.0, -float(img.superior_y)])
    femur = bone == "femur"
    go = distal if femur else -distal  # the tracing direction
    width = (18.0, 45.0) if femur else (14.0, 40.0)
    # the first row band, 10 mm inside the edge the bone enters from
    entering_top = (go[1] > 0)
    r = int(round(w.px(10.0))) if entering_top else rows - 1 - int(round(w.px(10.0)))
    band = w.image[max(0, r - 2): r + 3].mean(axis=0)
    run = bone_run(band, w.mm_per_px, width, cols / 2, widest=True)
    if run is None:
        raise StageMiss(f"no {bone} shaft where it enters the image")
    start = np.array([(run[0] + 0.5) * w.factor, (r + 0.5) * w.factor])
    limg = LimbImg(w, w, img.mm, img.conf_scale, img.superior_y)
    try:
        tr = trace_bone(limg, start, go, 1, 400.0, width_mm=width, step_mm=3.0, first_widest=not femur)
    except LimbMiss as exc:
        raise StageMiss(f"{bone} shaft not traced: {exc}") from None
    pts, widths = tr.pts, np.asarray(tr.widths_mm, dtype=float)
    # the diaphysis ends where the bone flares (the metaphysis): the trace is cut there, so
    # it never runs on through the joint into the other bone
    ref = float(np.median(widths[: max(3, len(widths) // 3)]))
    wide = np.nonzero(widths > 1.3 * ref)[0]
    if len(wide):
        pts, widths = pts[: wide[0]], widths[: wide[0]]
    if len(pts) < 6:
        raise StageMiss(f"the {bone} shaft is seen over too short a length")
    s = (pts - pts[0]) @ go * img.mm
    keep = s < s.max() - 6.0
    if keep.sum() < 6:
        raise StageMiss(f"the {bone} shaft is seen over too short a length")
    p = pts[keep]
    # a line through the first part of the trace (the diaphysis); the trace is kept while it
    # stays on that line (near the joint it may wander onto the condyles or the other bone)
    first = p[: max(6, int(0.6 * len(p)))]
    coef = robust_line(first)
    off = np.abs(p[:, 0] - np.polyval(coef, p[:, 1])) * img.mm
    stray = np.nonzero(off > 2.5)[0]
    stray = stray[stray >= len(first) // 2]
    if len(stray):
        p = p[: stray[0]]
    if len(p) < 6:
        raise StageMiss(f"the {bone} shaft is seen over too short a length")
    coef = robust_line(p)
    d = _unit([coef[0], 1.0])
    if d @ distal < 0:
        d = -d
    resid = p[:, 0] - np.polyval(coef, p[:, 1])
    rms_mm = float(np.sqrt(np.mean(resid ** 2))) * img.mm
    conf = float(np.clip(1.0 - rms_mm / 4.0, 0.0, 1.0)) * min(1.0, keep.sum() / 15.0)
    point = np.array([np.polyval(coef, p[-1, 1]), p[-1, 1]])
    return _Axis(point, d, p, conf)


# --------------------------------------------------------------------------- the joint


@dataclass
class _Joint:
    origin: np.ndarray  #: full px, on the femoral axis
    d: np.ndarray  #: distal along the femoral axis
    n: np.ndarray  #: across
    t: np.ndarray  #: column offsets (mm)
    fall: np.ndarray  #: per column: femur's distal edge (mm along d) or nan
    rise: np.ndarray  #: per column: tibia's proximal edge (mm along d) or nan
    strength: np.ndarray


def _joint(img: LimbImage, fem: _Axis, half_mm: float = 60.0, max_gap_mm: float = 15.0) -> _Joint:
    """Per column across the knee, the femur's distal edge and the tibia's proximal edge."""
    from scipy.ndimage import gaussian_filter1d

    d = fem.d
    n = np.array([-d[1], d[0]])
    s = np.arange(-40.0, 110.0, STEP_MM)
    t = np.arange(-half_mm, half_mm + 0.01, 1.0)
    vals = img.grid(fem.point, d, n, s, t)  # (len(s), len(t))
    if np.isnan(vals).mean() > 0.5:
        raise StageMiss("the knee is outside the image below the femoral shaft")
    vals = np.where(np.isfinite(vals), vals, np.nanmean(vals))
    g = gaussian_filter1d(vals, 0.7 / STEP_MM, axis=0, order=1)
    gmax = float(np.percentile(np.abs(g), 99.5)) + 1e-9
    fall = np.full(len(t), np.nan)
    rise = np.full(len(t), np.nan)
    strength = np.zeros(len(t))
    k_gap = int(max_gap_mm / STEP_MM)
    k_min = int(1.5 / STEP_MM)
    for j in range(len(t)):
        col = g[:, j]
        falls = [i for i in range(1, len(col) - 1) if col[i] < col[i - 1] and col[i] <= col[i + 1] and col[i] < -0.12 * gmax]
        best = None
        for i in falls:  # the most distal fall followed by a rise: the femur's end above the joint space
            seg = col[i + k_min: i + k_gap + 1]
            if len(seg) == 0:
                continue
            k = int(np.argmax(seg))
            if seg[k] < 0.2 * gmax:
                continue
            if best is None or i > best[1]:
                best = (-col[i] + seg[k], i, i + k_min + k)
        if best is None:
            continue
        sc, i, k = best
        fall[j] = s[0] + subpixel_peak(col, i) * STEP_MM + ROUND_EDGE_INSET_MM
        rise[j] = s[0] + subpixel_peak(col, k) * STEP_MM
        strength[j] = sc / gmax
    if np.isfinite(fall).sum() < 10:
        raise StageMiss("no joint space (femur above, tibia below) across the knee")
    return _Joint(fem.point, d, n, t, fall, rise, strength)


def _robust_fit(x: np.ndarray, y: np.ndarray, tol: float, iterations: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """``y = a x + b`` refitted without points further than ``tol`` (after a median start)."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 4:
        raise StageMiss("too few edge points for a line")
    keep = np.abs(y - np.median(y)) <= max(3.0 * np.median(np.abs(y - np.median(y))), tol)
    coef = np.polyfit(x[keep], y[keep], 1)
    for _ in range(iterations):
        keep = np.abs(y - np.polyval(coef, x)) <= tol
        if keep.sum() < 4:
            break
        coef = np.polyfit(x[keep], y[keep], 1)
    inl = np.abs(y - np.polyval(coef, x)) <= tol
    return coef, inl


def _longest_run(t: np.ndarray, max_gap: float) -> np.ndarray:
    """The longest run of sorted values with steps of at most ``max_gap``."""
    t = np.sort(t)
    if len(t) == 0:
        raise StageMiss("no edge points")
    cuts = np.nonzero(np.diff(t) > max_gap)[0]
    runs = np.split(t, cuts + 1)
    return max(runs, key=len)


def _upper_bridge(t: np.ndarray, s: np.ndarray) -> tuple[int, int]:
    """Indices of the two vertices of the outline's distal convex hull (max ``s``) joined by its
    longest edge (20-80 mm): the points of the tangent touching both condyles across the notch."""
    idx = np.argsort(t)
    t, s, order = t[idx], s[idx], idx
    hull: list[int] = []
    for i in range(len(t)):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            # keep a convex chain with all points on or below (proximal of) it in s
            cross = (t[b] - t[a]) * (s[i] - s[a]) - (s[b] - s[a]) * (t[i] - t[a])
            if cross >= 0:
                hull.pop()
            else:
                break
        hull.append(i)
    edges = [(t[b] - t[a], a, b) for a, b in zip(hull[:-1], hull[1:]) if 20.0 <= t[b] - t[a] <= 80.0]
    if not edges:
        raise StageMiss("no tangent bridging the condyles")
    _, a, b = max(edges)  # the longest hull edge: it spans the notch
    return int(order[a]), int(order[b])


def _extreme(values_by_level: np.ndarray, levels: np.ndarray, sign: float, window_mm: float = 9.0):
    """The vertex ``(level, value)`` of a parabola fitted to the outline near its extreme
    (``sign`` +1: the largest value, -1: the smallest)."""
    from scipy.ndimage import median_filter

    ok = np.isfinite(values_by_level)
    if ok.sum() < 5:
        return None
    v = sign * values_by_level
    med = np.full(len(v), np.nan)
    med[ok] = median_filter(v[ok], 7, mode="constant", cval=-1e9)  # an isolated stray edge is not the outline
    ok &= np.abs(v - med) <= 1.5
    if ok.sum() < 5:
        return None
    k = int(np.nanargmax(np.where(ok, med, -np.inf)))
    near = ok & (np.abs(levels - levels[k]) <= window_mm)
    if near.sum() < 5:
        return float(levels[k]), float(values_by_level[k])
    a, b, c = np.polyfit(levels[near], v[near], 2)
    if a >= 0:  # not a cap: take the sample
        return float(levels[k]), float(values_by_level[k])
    lv = float(np.clip(-b / (2 * a), levels[near].min(), levels[near].max()))
    return lv, float(sign * np.polyval([a, b, c], lv))


def _outer_edges(img: LimbImage, origin: np.ndarray, along: np.ndarray, across: np.ndarray, levels: np.ndarray,
                 span: tuple[float, float], outward: float, outermost: float = 0.0) -> np.ndarray:
    """Per level (mm along ``along``), the position (mm along ``across``) in ``span`` of the
    strongest bright → dark edge going in the ``outward`` (±1) sense of ``across``; with
    ``outermost`` > 0, the outermost edge at least that fraction as strong as the strongest
    edges of the whole window (a faint soft-tissue outline is not a bone's)."""
    from scipy.ndimage import gaussian_filter1d

    u = np.arange(span[0], span[1] + 0.01, STEP_MM)
    vals = img.grid(origin, along, across, levels, u)
    out = np.full(len(levels), np.nan)
    if np.isnan(vals).all():
        return out
    vals = np.where(np.isfinite(vals), vals, np.nanmean(vals))
    g = outward * gaussian_filter1d(vals, 0.6 / STEP_MM, axis=1, order=1)  # negative at an outward fall
    gmax = float(np.percentile(np.abs(g), 99.5)) + 1e-9
    for i in range(len(levels)):
        row = g[i]
        k = int(np.argmin(row))
        if row[k] >= -0.25 * gmax:
            continue
        if outermost:  # the outermost clear edge (a bone's outline, not an inner overlap)
            mins = [j for j in range(1, len(row) - 1) if row[j] < row[j - 1] and row[j] <= row[j + 1]
                    and row[j] < -outermost * gmax]
            k = max(mins) if mins else k
        out[i] = u[0] + subpixel_peak(row, k) * STEP_MM + ROUND_EDGE_INSET_MM
    return out



def _tibial_head_ends(img, centre, below, e, width_mm: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """The tibial head's outer edges along ``+e`` and ``-e`` from ``centre`` (px), just below
    the plateau line (:func:`_outer_edges` at 1.5–2.5 mm); ``width_mm`` bounds the search."""
    ends = []
    for sgn in (1.0, -1.0):
        pos = _outer_edges(img, centre, below, e * sgn, np.array([1.5, 2.0, 2.5]), width_mm, 1.0)
        if not np.isfinite(pos).any():
            raise StageMiss("the tibial head's edge was not found")
        ends.append(centre + sgn * float(np.nanmedian(pos)) * e / img.mm)
    return ends[0], ends[1]


def _line_confidence(inliers: np.ndarray, values: np.ndarray) -> float:
    """Share of a traced line's finite samples that its robust fit kept (×1.2, at most 1)."""
    return float(np.clip(inliers.sum() / max(1, np.isfinite(values).sum()) * 1.2, 0, 1))


def _tibial_axis_landmarks(img, tib, plateau_mid, e, side, shape) -> tuple[list[Landmark], list[str]]:
    """The two tibial anatomical-axis points (:data:`TIBIAL_AXIS_MM` below the plateau line)."""
    T0 = _meet(tib.point, tib.d, plateau_mid, e)
    tp, td, notes = _axis_points(img, T0, tib.d, TIBIAL_AXIS_MM, 1.0, shape)
    return [_lm("knee_tibial_axis_proximal", side, tp, tib.conf * img.conf_scale),
            _lm("knee_tibial_axis_distal", side, td, tib.conf * img.conf_scale)], notes


def _axis_points(img: LimbImage, base: np.ndarray, d: np.ndarray, dists: tuple[float, float], sense: float,
                 shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Two points on an axis at ``dists`` mm from ``base`` (``sense`` -1: proximal), moved in 5 mm
    steps towards the base to stay inside the image (the closer point first, then the farther)."""
    rows, cols = shape
    margin = img.px(6.0)
    notes = []

    def inside(p):
        return margin <= p[0] <= cols - margin and margin <= p[1] <= rows - margin

    a, b = dists
    far, near = (a, b) if a > b else (b, a)
    while far - near >= AXIS_SPAN_MIN_MM and not inside(base + sense * img.px(far) * d):
        far -= 5.0
    if far - near < AXIS_SPAN_MIN_MM:
        raise StageMiss(f"the shaft is seen over less than {AXIS_SPAN_MIN_MM + near:.0f} mm from the joint")
    if far != max(a, b):
        notes.append(f"axis point at {far:.0f} mm instead of {max(a, b):.0f} mm from the joint (image edge)")
    pf, pn = base + sense * img.px(far) * d, base + sense * img.px(near) * d
    return (pf, pn, notes) if a > b else (pn, pf, notes)


def _meet(p: np.ndarray, d: np.ndarray, q: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Intersection of the lines ``p + s d`` and ``q + r e``."""
    m = np.column_stack([d, -e])
    if abs(np.linalg.det(m)) < 1e-9:
        raise StageMiss("parallel lines")
    s, _ = np.linalg.solve(m, q - p)
    return p + s * d


# --------------------------------------------------------------------------- AP view


def _ap(img: LimbImage, radiograph: Radiograph, side: Side | None, notes: list[str]):
    found: list[Landmark] = []
    missing: dict[str, str] = {}
    fem = _shaft(img, "femur")
    tib = _shaft(img, "tibia")
    jt = _joint(img, fem)
    ok = np.isfinite(jt.fall)
    # condylar tangent: the distal hull of the femur's outline across the notch
    from scipy.ndimage import median_filter

    fall = jt.fall.copy()
    fall[ok] = median_filter(fall[ok], 3, mode="nearest")
    i, k = _upper_bridge(jt.t[ok], fall[ok])
    tt, ss = jt.t[ok], fall[ok]
    pa = jt.origin + (ss[i] * jt.d + tt[i] * jt.n) / img.mm
    pb = jt.origin + (ss[k] * jt.d + tt[k] * jt.n) / img.mm
    gap = abs(tt[k] - tt[i])
    cconf = float(np.clip(ok.mean() * 1.6, 0, 1)) * (1.0 if 25.0 <= gap <= 70.0 else 0.3)
    # side from the fibula when not given: it lies beside the tibia, laterally
    if side is None:
        lat_x, p, how = _fibula_direction(radiograph, img, tib, jt)
        if lat_x is None:
            raise StageMiss(f"the knee's side is not in the header and {how}: give the side")
        from .common import side_from_lateral

        side = side_from_lateral(radiograph, lat_x)
        notes.append(f"side from the fibula's position: {side.value} knee ({how})")
        cconf *= 0.9
    lat_x = radiograph.orientation.lateral_x(side)
    cl, cm = (pa, pb) if (pa[0] - pb[0]) * lat_x > 0 else (pb, pa)
    found += [_lm("femoral_condyle_medial", side, cm, cconf * img.conf_scale),
              _lm("femoral_condyle_lateral", side, cl, cconf * img.conf_scale)]
    jf = _unit(cl - cm)  # lateral along the condylar line
    C0 = 0.5 * (cm + cl)
    n_p = np.array([-jf[1], jf[0]])
    if n_p @ fem.d > 0:
        n_p = -n_p  # proximal
    # femoral axis points
    try:
        Q = _meet(fem.point, fem.d, C0, jf)
        fp, fd, more = _axis_points(img, Q, fem.d, FEMORAL_AXIS_MM, -1.0, radiograph.shape)
        notes += more
        found += [_lm("knee_femoral_axis_proximal", side, fp, fem.conf * img.conf_scale),
                  _lm("knee_femoral_axis_distal", side, fd, fem.conf * img.conf_scale)]
    except StageMiss as e:
        for a in ("knee_femoral_axis_proximal", "knee_femoral_axis_distal"):
            missing[a] = f"femoral axis: {e}"
    # plateau line and margins
    try:
        rise = jt.rise
        coef, inl = _robust_fit(jt.t, rise, tol=1.0)
        t_in = _longest_run(jt.t[np.isfinite(rise)][inl], 4.0)
        run = (jt.t >= t_in.min()) & (jt.t <= t_in.max())
        coef, inl = _robust_fit(jt.t[run], rise[run], tol=1.0)
        x0 = jt.t[run][np.isfinite(rise[run])][inl]
        P_mid = jt.origin + (np.polyval(coef, 0.0) * jt.d) / img.mm
        e = _unit(jt.n + coef[0] * jt.d)  # along the plateau line, image px direction (mm units)
        below = np.array([-e[1], e[0]])
        if below @ fem.d < 0:
            below = -below
        ends = _tibial_head_ends(img, P_mid, below, e, (15.0, 60.0))
        pl, pm = (ends[0], ends[1]) if (ends[0][0] - ends[1][0]) * lat_x > 0 else (ends[1], ends[0])
        pconf = _line_confidence(inl, rise[run]) * min(1.0, len(x0) / 30.0)
        found += [_lm("tibial_plateau_medial", side, pm, pconf * img.conf_scale),
                  _lm("tibial_plateau_lateral", side, pl, pconf * img.conf_scale)]
        axis_lms, more = _tibial_axis_landmarks(img, tib, P_mid, e, side, radiograph.shape)
        notes += more
        found += axis_lms
    except StageMiss as e:
        for a in ("tibial_plateau_medial", "tibial_plateau_lateral", "knee_tibial_axis_proximal",
                  "knee_tibial_axis_distal"):
            if not any(lm.name.anatomy == a for lm in found):
                missing[a] = f"tibial plateau: {e}"
    # epicondyles: the medial and lateral extremes of the distal femur along the condylar line
    levels = np.arange(3.0, 45.0, STEP_MM)
    for anatomy, sgn in (("femoral_epicondyle_lateral", 1.0), ("femoral_epicondyle_medial", -1.0)):
        pos = _outer_edges(img, C0, n_p, jf * sgn, levels, (20.0, 50.0), 1.0, outermost=0.3)
        ext = _extreme(pos, levels, 1.0)
        if ext is None:
            missing[anatomy] = "no outline of the distal femur found beside the condyles"
            continue
        lv, u = ext
        found.append(_lm(anatomy, side, C0 + (lv * n_p + sgn * u * jf) / img.mm,
                         float(np.clip(np.isfinite(pos).mean() * 1.3, 0, 1)) * cconf * img.conf_scale))
    return side, found, missing


#: Below :data:`.views.FIBULA_MIN_PROBABILITY`, the learned fibula side is still taken from this
#: probability on when the classical search (:func:`_fibula_side`) finds the fibula on the same side.
FIBULA_AGREED_PROBABILITY = 0.6


def _fibula_direction(radiograph: Radiograph, img: LimbImage, tib: _Axis, jt: _Joint
                      ) -> tuple[int | None, float, str]:
    """The image x-direction (+1: +x) of the fibula, hence of the lateral side; its probability;
    and how it was decided (or why not).

    The learned model (:func:`.views.fibula_side`, on the head-up image) decides alone from
    :data:`.views.FIBULA_MIN_PROBABILITY`; from :data:`FIBULA_AGREED_PROBABILITY` on it decides
    only when the classical search agrees. The classical search alone decides nothing: on real
    AP knee films it put the fibula on the wrong side of 6 of the 25 films it decided
    (docs/accuracy.md)."""
    sup = radiograph.orientation.superior_y
    display = np.asarray(radiograph.display)
    direction, p = fibula_side(display if sup == -1 else display[::-1], min_probability=FIBULA_AGREED_PROBABILITY)
    if direction is None:
        return None, p, f"the fibula's side is not clear (probability {p:.2f})"
    if p >= FIBULA_MIN_PROBABILITY:
        return direction, p, f"probability {p:.2f}"
    classical = _fibula_side(img, tib, jt)
    if classical == direction:
        return direction, p, f"probability {p:.2f}, and the classical search agrees"
    return None, p, f"the fibula's side is not clear (probability {p:.2f}, the classical search does not confirm it)"


def _fibula_side(img: LimbImage, tib: _Axis, jt: _Joint) -> int | None:
    """+1 if the fibula (a thinner bright band beside the tibia, 22-60 mm from its axis) lies
    towards +x, -1 towards -x; None when neither side has one clearly."""
    from scipy.ndimage import gaussian_filter1d

    d = tib.d
    n = np.array([-d[1], d[0]])
    score = {1: 0.0, -1: 0.0}
    base = jt.origin + (np.nanmedian(jt.rise) * jt.d) / img.mm
    u = np.arange(-80.0, 80.01, STEP_MM)
    for depth in np.arange(40.0, 110.0, 10.0):
        prof = img.grid(base + img.px(depth) * d, d, n, np.array([0.0]), u)[0]
        if np.isnan(prof).any():
            continue
        p = gaussian_filter1d(prof, 1.0 / STEP_MM)
        hp = p - gaussian_filter1d(p, 20.0 / STEP_MM, mode="nearest")
        for sgn in (1, -1):
            part = hp[(u * sgn > 22.0) & (u * sgn < 60.0)]
            score[sgn] += float(np.clip(part.max(), 0, None)) if part.size else 0.0
    if max(score.values()) <= 0 or abs(score[1] - score[-1]) < 0.3 * max(score.values()):
        return None
    sgn = 1 if score[1] > score[-1] else -1
    return 1 if (n * sgn)[0] > 0 else -1


# --------------------------------------------------------------------------- lateral view


def _anterior_from_tags(radiograph: Radiograph) -> int | None:
    po = radiograph.patient_orientation
    if po and len(po) >= 1 and po[0]:
        first = str(po[0]).strip().upper()[:1]
        if first in ("A", "P"):
            return 1 if first == "A" else -1
    return None


def _lateral(img: LimbImage, radiograph: Radiograph, side: Side, notes: list[str]):
    found: list[Landmark] = []
    missing: dict[str, str] = {}
    fem = _shaft(img, "femur")
    tib = _shaft(img, "tibia")
    jt = _joint(img, fem, half_mm=65.0, max_gap_mm=30.0)
    n = jt.n
    ok = np.isfinite(jt.fall)
    # the most distal condylar point along the femoral axis: level 0
    k = int(np.nanargmax(np.where(ok, jt.fall, -np.inf)))
    s0 = float(jt.fall[k])
    O = jt.origin + (s0 * jt.d) / img.mm  # the femoral axis at the joint level
    up = -jt.d
    # anterior: from the header (PatientOrientation A or P along the rows); never guessed
    ant_x = _anterior_from_tags(radiograph)
    aconf = 1.0
    levels = np.arange(5.0, 45.0, STEP_MM)
    fem_axis = {"knee_femoral_axis_proximal", "knee_femoral_axis_distal"}
    if ant_x is None:
        why = ("the image header does not say where anterior is (PatientOrientation A or P along the rows): "
               "place this landmark by hand")
        notes.append("anterior not in the header: the anterior/posterior landmarks are not detected")
        for a in KNEE_LATERAL_DETECTED:
            if a not in fem_axis:
                missing[a] = why
        try:
            fp, fd, more = _axis_points(img, O, fem.d, FEMORAL_AXIS_MM, -1.0, radiograph.shape)
            found += [_lm("knee_femoral_axis_proximal", side, fp, fem.conf * img.conf_scale),
                      _lm("knee_femoral_axis_distal", side, fd, fem.conf * img.conf_scale)]
        except StageMiss as e:
            for a in fem_axis:
                missing[a] = f"femoral axis: {e}"
        return found, missing
    post_sgn = 1.0 if (n[0] > 0) != (ant_x > 0) else -1.0
    post = n * post_sgn  # posterior, unit image direction
    ant = -post
    # posterior condyle
    pos = _outer_edges(img, O, up, post, levels, (5.0, 65.0), 1.0, outermost=0.3)
    ext = _extreme(pos, levels, 1.0)
    cconf = float(np.clip(ok.mean() * 1.6, 0, 1)) * aconf
    if ext is None:
        missing["femoral_posterior_condyle"] = "no posterior outline of the condyles found"
    else:
        lv, a = ext
        found.append(_lm("femoral_posterior_condyle", side, O + (lv * up + a * post) / img.mm,
                         float(np.clip(np.isfinite(pos).mean() * 1.3, 0, 1)) * cconf * img.conf_scale))
    # cortices
    for anatomy, level, direction in (("femoral_anterior_cortex", ANTERIOR_CORTEX_MM, ant),
                                      ("femoral_posterior_cortex", POSTERIOR_CORTEX_MM, post)):
        lv = np.arange(level - 2.0, level + 2.01, STEP_MM)
        pos = _outer_edges(img, O, up, direction, lv, (6.0, 35.0), 1.0)
        if not np.isfinite(pos).any():
            missing[anatomy] = "no cortex edge found at its level"
            continue
        a = float(np.nanmedian(pos))
        spread = float(np.nanstd(pos))
        found.append(_lm(anatomy, side, O + (level * up + a * direction) / img.mm,
                         float(np.clip(1.0 - spread / 2.0, 0, 1)) * fem.conf * aconf * img.conf_scale))
    # femoral axis points
    try:
        fp, fd, more = _axis_points(img, O, fem.d, FEMORAL_AXIS_MM, -1.0, radiograph.shape)
        notes += more
        found += [_lm("knee_femoral_axis_proximal", side, fp, fem.conf * img.conf_scale),
                  _lm("knee_femoral_axis_distal", side, fd, fem.conf * img.conf_scale)]
    except StageMiss as e:
        for a in ("knee_femoral_axis_proximal", "knee_femoral_axis_distal"):
            missing[a] = f"femoral axis: {e}"
    # tibial plateau: the strongest dark → bright edge below the femur, per column
    try:
        from scipy.ndimage import gaussian_filter1d

        s = np.arange(s0 - 8.0, s0 + 40.0, STEP_MM)
        vals = img.grid(jt.origin, jt.d, n, s, jt.t)
        vals = np.where(np.isfinite(vals), vals, np.nanmean(vals))
        g = gaussian_filter1d(vals, 0.7 / STEP_MM, axis=0, order=1)
        gmax = float(np.percentile(np.abs(g), 99.5)) + 1e-9
        rise = np.full(len(jt.t), np.nan)
        for j in range(len(jt.t)):
            i = int(np.argmax(g[:, j]))
            if g[i, j] > 0.25 * gmax:
                rise[j] = s[0] + subpixel_peak(g[:, j], i) * STEP_MM
        coef, inl = _robust_fit(jt.t, rise, tol=1.0)
        t_in = _longest_run(jt.t[np.isfinite(rise)][inl], 4.0)
        # refitted on the head's own columns only (a stray run, e.g. the calibration ball, has leverage)
        run = (jt.t >= t_in.min()) & (jt.t <= t_in.max())
        coef, inl = _robust_fit(jt.t[run], rise[run], tol=1.0)
        t_mid = 0.5 * (t_in.min() + t_in.max())  # the head's middle (posterior of the femoral axis)
        P_mid = jt.origin + (np.polyval(coef, t_mid) * jt.d + t_mid * jt.n) / img.mm
        e = _unit(jt.n + coef[0] * jt.d)
        below = np.array([-e[1], e[0]])
        if below @ jt.d < 0:
            below = -below
        first, second = _tibial_head_ends(img, P_mid, below, e, (8.0, 55.0))
        # anterior rim: the end towards anterior
        pa_, pp_ = (first, second) if float((first - second) @ ant) > 0 else (second, first)
        pconf = _line_confidence(inl, rise[run]) * aconf
        found += [_lm("tibial_plateau_anterior", side, pa_, pconf * img.conf_scale),
                  _lm("tibial_plateau_posterior", side, pp_, pconf * img.conf_scale)]
        axis_lms, more = _tibial_axis_landmarks(img, tib, P_mid, e, side, radiograph.shape)
        notes += more
        found += axis_lms
    except StageMiss as e:
        for a in ("tibial_plateau_anterior", "tibial_plateau_posterior", "knee_tibial_axis_proximal",
                  "knee_tibial_axis_distal"):
            if not any(lm.name.anatomy == a for lm in found):
                missing[a] = f"tibial plateau: {e}"
    return found, missing


# --------------------------------------------------------------------------- entry


def detect_knee_details(radiograph: Radiograph, calibration: Calibration | None = None, view: str = "knee-ap",
                        side: Side | str | None = None) -> KneeDetection:
    """:func:`detect_knee` plus the side used and notes."""
    side = checked_view_and_side(view, side)
    anatomies = KNEE_AP_DETECTED if view == "knee-ap" else KNEE_LATERAL_DETECTED
    img = _prepare(radiograph, calibration)
    notes: list[str] = []
    if img.conf_scale < 1.0:
        notes.append("image scale assumed: sizes and confidences are less certain")
    found: list[Landmark] = []
    missing: dict[str, str] = {}
    refused = refused_film(radiograph, view)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            if refused:
                notes.append(refused[1])
                raise StageMiss(refused[0])
            if view == "knee-ap":
                side, found, missing = _ap(img, radiograph, side, notes)
            else:
                found, missing = _lateral(img, radiograph, side, notes)
        except StageMiss as e:
            missing = {a: (str(e) if refused else f"knee not found: {e}") for a in anatomies}
            found = []
    sides = (side,) if side is not None else (Side.RIGHT, Side.LEFT)
    out_missing: dict[LandmarkName, str] = {}
    for s in sides:
        for a, reason in missing.items():
            out_missing[LandmarkName.of(a, s)] = reason
    found = [replace(lm, confidence=min(lm.confidence, MAX_CONFIDENCE)) for lm in found]
    weak = [lm for lm in found if lm.confidence < MIN_CONFIDENCE]
    for lm in weak:
        out_missing[lm.name] = low_confidence_reason(lm.confidence, MIN_CONFIDENCE)
    found = [lm for lm in found if lm.confidence >= MIN_CONFIDENCE]
    lms = Landmarks.from_landmarks(found, out_missing)
    log.info("%s landmarks: %d found, %d missing", view, len(lms), len(lms.missing))
    return KneeDetection(lms, side, tuple(notes))


def checked_view_and_side(view: str, side: Side | str | None) -> Side | None:
    """The knee's side for a knee ``view``; :class:`~orthoplan.errors.LandmarkError` for another
    view, or a lateral view without a side (a lateral view looks the same for either knee)."""
    if view not in ("knee-ap", "knee-lateral"):
        raise LandmarkError(f"the knee detector knows the knee-ap and knee-lateral views, not {view!r}")
    try:
        side = Side(side) if side is not None else None
    except ValueError:
        raise LandmarkError(f"the knee's side must be left or right, not {side!r}") from None
    if view == "knee-lateral" and side is None:
        raise LandmarkError(
            "a lateral knee view shows one knee and its side is unknown: give side='left'|'right' "
            "(orthoplan --side) or set ImageLaterality"
        )
    return side


def refused_film(radiograph: Radiograph, view: str) -> tuple[str, str] | None:
    """``(reason, note)`` when the view classifier (:mod:`.views`) says the film is not one knee
    view: two projections side by side, or an AP pelvis/hip film (not when the header says
    KNEE, :func:`.views.refusal_reason`); else None. Every landmark is then missing with the
    reason."""
    guess = classify_view(radiograph.display)
    if guess.two_view:
        return TWO_VIEW_REASON, f"{TWO_VIEW_REASON} (view classifier: probability {guess.probabilities['two-view']:.2f})"
    why = refusal_reason(radiograph, view, guess)
    return (why, why) if why else None


def knee_view_of(radiograph: Radiograph) -> str | None:
    """``"knee-ap"``/``"knee-lateral"`` when the header says a knee film (BodyPartExamined KNEE,
    ViewPosition AP/PA or lateral, not a long-leg shape), else None (as :func:`orthoplan.pipeline.infer_view`)."""
    part = (radiograph.body_part_examined or "").strip().upper()
    rows, cols = radiograph.shape
    if part != "KNEE" or rows > 2 * cols:
        return None
    pos = (radiograph.view_position or "").strip().upper()
    if pos in ("AP", "PA"):
        return "knee-ap"
    if pos in ("LL", "RL", "LAT", "LATERAL", "LLD", "RLD", "LATERAL-MEDIAL", "MEDIAL-LATERAL"):
        return "knee-lateral"
    return None


_ = math  # math is used by the doctest
