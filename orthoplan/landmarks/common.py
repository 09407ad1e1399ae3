"""Shared helpers of the classical landmark detectors: scale, working image, edges, fits.

Everything here works on plain numpy arrays and values. Image points are ``(x, y)`` with
the DICOM SCOORD origin (see :mod:`orthoplan.geometry`); arrays are indexed ``[row, col]``.

A *working image* is the radiograph's ``display`` (bone bright, [0, 1]) reduced by an
integer block mean to about ``target_mm`` per pixel, so that searches run on a few
hundred thousand pixels whatever the detector. Because the reduction is by whole
blocks, a working point maps back to the full image by one multiplication:
``xy_full = factor * xy_work``.

Examples
--------
>>> import numpy as np
>>> w = WorkImage.from_display(np.zeros((100, 80), np.float32), mm_per_px=0.25, target_mm=1.0)
>>> w.factor, w.image.shape, w.mm_per_px
(4, (25, 20), 1.0)
>>> w.to_full((2.5, 1.0)).tolist()
[10.0, 4.0]
"""

from __future__ import annotations

import logging
import math
import weakref
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Iterable, Mapping

import numpy as np

from ..errors import LandmarkError
from ..geometry import block_mean, fit_circle  # noqa: F401  (block_mean: the landmark modules use it from here)
from ..model import Calibration, ImageOrientation, Landmark, LandmarkName, Landmarks, Radiograph, Side

if TYPE_CHECKING:
    from .network import Transform

log = logging.getLogger(__name__)

#: Detector mm at the anatomy are divided by this when only ImagerPixelSpacing is known
#: (a typical AP pelvis magnification: table-to-detector distance over a 115 cm SID).
DEFAULT_MAGNIFICATION = 1.15

#: Width of the imaged field assumed when no spacing at all is known (mm at the anatomy).
ASSUMED_FIELD_MM = 380.0


@dataclass(frozen=True)
class Scale:
    """Anatomical mm per full-resolution pixel and how it was obtained.

    ``assumed`` is True when the value is a guess (no calibration, no spacing tag):
    searches then widen their size ranges and confidences are lowered.
    """

    mm_per_px: float
    source: str
    assumed: bool = False


def scale_of(radiograph: Radiograph, calibration: Calibration | None = None) -> Scale:
    """The best available anatomical scale of ``radiograph``.

    Order: the calibration (if given), ``PixelSpacing``, ``ImagerPixelSpacing`` divided
    by the estimated (or a default 1.15) magnification, else an assumed field width of
    380 mm across the longer image side.

    Examples
    --------
    >>> import numpy as np
    >>> from orthoplan.model import ImageReference, Radiograph
    >>> z = np.zeros((10, 10), np.float32)
    >>> scale_of(Radiograph(z, z, ImageReference())).assumed
    True
    """
    if calibration is not None:
        return Scale(float(calibration.mm_per_px), f"calibration:{calibration.source.value}",
                     bool(calibration.assumed))
    sp = radiograph.spacing
    if sp.pixel_spacing_mm is not None and _valid(sp.pixel_spacing_mm):
        return Scale(float(sp.pixel_spacing_mm[1]), "PixelSpacing", False)
    if sp.imager_pixel_spacing_mm is not None and _valid(sp.imager_pixel_spacing_mm):
        mag = sp.estimated_magnification
        if mag is not None and 1.0 <= mag <= 2.0:
            return Scale(float(sp.imager_pixel_spacing_mm[1]) / mag, "ImagerPixelSpacing+ERMF", False)
        return Scale(float(sp.imager_pixel_spacing_mm[1]) / DEFAULT_MAGNIFICATION,
                     "ImagerPixelSpacing+assumed-magnification", True)
    rows, cols = radiograph.shape
    return Scale(ASSUMED_FIELD_MM / max(rows, cols), "assumed-field-width", True)


def _valid(pair: tuple[float, float]) -> bool:
    try:
        return all(math.isfinite(float(v)) and 0.01 <= float(v) <= 5.0 for v in pair)
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True, eq=False)
class WorkImage:
    """A block-mean reduced copy of a display image (see the module docstring)."""

    image: np.ndarray
    factor: int
    mm_per_px: float  #: anatomical mm per *working* pixel

    @classmethod
    def from_display(cls, display: np.ndarray, mm_per_px: float, target_mm: float = 1.0) -> WorkImage:
        """Reduce ``display`` (full resolution, ``mm_per_px`` each) to about ``target_mm``."""
        factor = max(1, int(round(target_mm / mm_per_px)))
        return cls(block_mean(display, factor), factor, mm_per_px * factor)

    def to_full(self, xy: np.ndarray | tuple[float, float]) -> np.ndarray:
        """Working ``(x, y)`` (or ``(N, 2)``) → full-resolution image coordinates."""
        return np.asarray(xy, dtype=float) * self.factor

    def to_work(self, xy: np.ndarray | tuple[float, float]) -> np.ndarray:
        """Full-resolution ``(x, y)`` → working coordinates."""
        return np.asarray(xy, dtype=float) / self.factor

    def px(self, mm: float) -> float:
        """Working pixels spanning ``mm`` at the anatomy."""
        return mm / self.mm_per_px


#: A knee axis point's bone, by its two axis points. Where along the shaft an axis point lies is
#: a reading convention (its distance from the joint, or as far as the film shows): its error is
#: measured across the axis, and a click on one is moved across the shaft onto the axis.
KNEE_AXIS_ENDS = {
    "knee_femoral_axis_proximal": ("knee_femoral_axis_proximal", "knee_femoral_axis_distal"),
    "knee_femoral_axis_distal": ("knee_femoral_axis_proximal", "knee_femoral_axis_distal"),
    "knee_tibial_axis_proximal": ("knee_tibial_axis_proximal", "knee_tibial_axis_distal"),
    "knee_tibial_axis_distal": ("knee_tibial_axis_proximal", "knee_tibial_axis_distal"),
}

#: Lateral knee points that the measurements use only across the femoral axis (the femoral AP
#: dimension and the posterior condylar offset are measured perpendicular to it), and whose
#: level along the femur is a loose reading convention (where on the anterior cortex; which
#: point of the round posterior condyle): their error is measured across the femoral axis, and
#: a click on one keeps its level and takes the detected point's distance from the axis.
LATERAL_ACROSS_FEMUR = ("femoral_anterior_cortex", "femoral_posterior_cortex", "femoral_posterior_condyle")


#: An AP pelvis/hip film's femoral shaft points, by the shaft's two points. The measurements
#: (femoral and global offset, neck-shaft angle, AMA) and stem templating use only the line
#: through them, and how far "just below the lesser trochanter" the proximal one lies is a
#: reading convention (our first readers put it a median 0.33 head diameters below the lesser
#: trochanter's tip, the second and third 0.47 and 0.46): as for the knee axis points, its error
#: is measured across the shaft, and a click on one is moved across the shaft onto the axis.
PELVIS_SHAFT_ENDS = {
    "femoral_shaft_proximal": ("femoral_shaft_proximal", "femoral_shaft_distal"),
    "femoral_shaft_distal": ("femoral_shaft_proximal", "femoral_shaft_distal"),
}

#: The views whose films carry the AP pelvis vocabulary (a reading of one hip is "ap-hip").
PELVIS_VIEWS = ("ap-pelvis", "ap-hip")


def axis_ends(view: str, anatomy: str) -> tuple[str, str] | None:
    """The two points of the axis that a point of ``anatomy`` on a ``view`` film is measured
    across (and that a click on it keeps its level along), else None: a knee axis point
    (:data:`KNEE_AXIS_ENDS`), a lateral knee film's :data:`LATERAL_ACROSS_FEMUR` point (the
    femoral axis), an AP pelvis's femoral shaft point (:data:`PELVIS_SHAFT_ENDS`).

    >>> axis_ends("ap-pelvis", "femoral_shaft_proximal")
    ('femoral_shaft_proximal', 'femoral_shaft_distal')
    >>> axis_ends("knee-lateral", "femoral_posterior_condyle")
    ('knee_femoral_axis_proximal', 'knee_femoral_axis_distal')
    >>> axis_ends("knee-ap", "femoral_posterior_condyle") is None, axis_ends("ap-pelvis", "teardrop") is None
    (True, True)
    """
    if view in ("knee-ap", "knee-lateral"):
        if anatomy in KNEE_AXIS_ENDS:
            return KNEE_AXIS_ENDS[anatomy]
        if view == "knee-lateral" and anatomy in LATERAL_ACROSS_FEMUR:
            return KNEE_AXIS_ENDS["knee_femoral_axis_proximal"]
    elif view in PELVIS_VIEWS and anatomy in PELVIS_SHAFT_ENDS:
        return PELVIS_SHAFT_ENDS[anatomy]
    return None


def point_xy(value, what: str) -> np.ndarray:
    """``value`` as a finite ``(x, y)`` array, else :class:`~orthoplan.errors.LandmarkError`
    naming ``what``.

    >>> point_xy([3, 4], "the click").tolist()
    [3.0, 4.0]
    """
    try:
        v = np.asarray(value, dtype=float).reshape(2)
    except (TypeError, ValueError):
        raise LandmarkError(f"{what} must be an (x, y) pair of numbers, got {value!r}") from None
    if not np.all(np.isfinite(v)):
        raise LandmarkError(f"{what} must be finite, got {v.tolist()}")
    return v


def lateral_sign(radiograph: Radiograph, side: Side) -> int:
    """+1 if the patient's ``side`` lies laterally towards increasing x, else -1."""
    return radiograph.orientation.lateral_x(side)


def side_from_lateral(radiograph: Radiograph, lateral_x: int) -> Side:
    """The patient side whose lateral direction is ``lateral_x`` (+1: increasing x)."""
    return Side.LEFT if lateral_x == radiograph.orientation.patient_left_x else Side.RIGHT


# --------------------------------------------------------------------------- sampling


def sample(image: np.ndarray, xy: np.ndarray, order: int = 1, cval: float = np.nan) -> np.ndarray:
    """Values of ``image`` at image points ``xy`` (``(..., 2)``), bilinear by default."""
    from scipy.ndimage import map_coordinates

    xy = np.asarray(xy, dtype=float)
    # (row, col) = (y, x) - 0.5 (pixel centres on integers, :func:`orthoplan.geometry.rc_from_xy`),
    # written straight into the (2, ...) array map_coordinates takes: no intermediate copies
    rc = np.empty((2,) + xy.shape[:-1])
    np.subtract(xy[..., 1], 0.5, out=rc[0])
    np.subtract(xy[..., 0], 0.5, out=rc[1])
    return map_coordinates(image, rc, order=order, mode="constant", cval=cval)


def crop(image: np.ndarray, center_xy: tuple[float, float], half: float) -> tuple[np.ndarray, np.ndarray]:
    """A square crop around ``center_xy`` and the ``(x, y)`` offset of its origin.

    Points in the crop are ``xy_full - offset``.
    """
    h, w = image.shape
    x0 = int(max(0, math.floor(center_xy[0] - half)))
    y0 = int(max(0, math.floor(center_xy[1] - half)))
    x1 = int(min(w, math.ceil(center_xy[0] + half)))
    y1 = int(min(h, math.ceil(center_xy[1] + half)))
    return image[y0:y1, x0:x1], np.array([x0, y0], dtype=float)


def subpixel_peak(values: np.ndarray, i: int) -> float:
    """Sub-sample position of the extremum at index ``i`` by a parabola through 3 samples."""
    if i <= 0 or i >= len(values) - 1:
        return float(i)
    a, b, c = values[i - 1], values[i], values[i + 1]
    den = a - 2 * b + c
    if den == 0 or not np.isfinite(den):
        return float(i)
    return float(i) + float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))


def subpixel_peaks(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """:func:`subpixel_peak` for each row of ``values`` (2-D) at its index in ``idx``.

    >>> subpixel_peaks(np.array([[0.0, 1.0, 0.5], [0.0, 2.0, 2.0]]), np.array([1, 1])).tolist()
    [1.1666666666666667, 1.5]
    """
    values = np.asarray(values, dtype=float)
    i = np.asarray(idx, dtype=np.intp)
    out = i.astype(float)
    inner = (i > 0) & (i < values.shape[1] - 1)
    r = np.nonzero(inner)[0]
    a, b, c = values[r, i[r] - 1], values[r, i[r]], values[r, i[r] + 1]
    den = a - 2 * b + c
    ok = (den != 0) & np.isfinite(den)
    with np.errstate(divide="ignore", invalid="ignore"):
        off = np.where(ok, np.clip(0.5 * (a - c) / np.where(ok, den, 1.0), -0.5, 0.5), 0.0)
    out[r] += off
    return out


# --------------------------------------------------------------------------- circles


@dataclass(frozen=True)
class CircleFit:
    """A circle fitted to edge points, with what the fit says about itself."""

    cx: float
    cy: float
    r: float
    rms: float  #: radial residual of the inliers, same units as the points
    inliers: int
    total: int  #: number of rays that were sampled
    arc_deg: float  #: angular span covered by inliers (largest gap removed)
    contrast: float  #: median edge step (display units) at the inliers

    @property
    def coverage(self) -> float:
        return self.inliers / max(1, self.total)


def radial_edges(
    image: np.ndarray,
    center_xy: tuple[float, float],
    r_min: float,
    r_max: float,
    n_angles: int = 180,
    step: float = 0.5,
    polarity: int = -1,
    smooth: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Strongest edge along each of ``n_angles`` rays from ``center_xy``.

    ``polarity=-1`` finds bright-inside → dark-outside steps (a bone outline seen
    from its centre). Returns ``(angles_rad, radius, strength)``; strength is the
    intensity drop per pixel (``nan`` where the ray leaves the image).
    """
    from scipy.ndimage import gaussian_filter1d

    angles = np.linspace(0, 2 * np.pi, n_angles, endpoint=False)
    rs = np.arange(r_min, r_max + step, step)
    d = np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    pts = np.asarray(center_xy, dtype=float)[None, None, :] + rs[None, :, None] * d[:, None, :]
    prof = sample(image, pts)
    if smooth > 0:
        prof = gaussian_filter1d(np.nan_to_num(prof, nan=np.nanmean(prof) if np.isfinite(prof).any() else 0),
                                 smooth / step, axis=1)
    deriv = np.gradient(prof, step, axis=1) * polarity
    idx = np.argmax(deriv, axis=1)
    radius = np.empty(n_angles)
    strength = np.empty(n_angles)
    for k in range(n_angles):
        radius[k] = rs[0] + subpixel_peak(deriv[k], int(idx[k])) * step
        strength[k] = deriv[k, idx[k]]
    valid = np.isfinite(sample(image, np.asarray(center_xy)[None, :] + radius[:, None] * d, order=0))
    strength[~valid] = np.nan
    return angles, radius, strength


def largest_gap_deg(angles_rad: np.ndarray) -> float:
    """Largest angular gap (degrees) between sorted angles on the circle."""
    if len(angles_rad) == 0:
        return 360.0
    a = np.sort(np.mod(angles_rad, 2 * np.pi))
    gaps = np.diff(np.r_[a, a[0] + 2 * np.pi])
    return float(np.degrees(gaps.max()))


def circles_through(p1: np.ndarray, p2: np.ndarray, p3: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres and radii of the circles through point triples (vectorised, ``(N, 2)`` each).

    Collinear triples give ``nan``.

    >>> cx, cy, r = circles_through(np.array([[1.0, 0]]), np.array([[0.0, 1]]), np.array([[-1.0, 0]]))
    >>> float(cx[0]), float(cy[0]), float(r[0])
    (0.0, 0.0, 1.0)
    """
    ax, ay = p1[:, 0], p1[:, 1]
    bx, by = p2[:, 0], p2[:, 1]
    cx, cy = p3[:, 0], p3[:, 1]
    d = 2.0 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by))
    with np.errstate(divide="ignore", invalid="ignore"):
        a2, b2, c2 = ax * ax + ay * ay, bx * bx + by * by, cx * cx + cy * cy
        ux = (a2 * (by - cy) + b2 * (cy - ay) + c2 * (ay - by)) / d
        uy = (a2 * (cx - bx) + b2 * (ax - cx) + c2 * (bx - ax)) / d
        r = np.hypot(ax - ux, ay - uy)
    bad = np.abs(d) < 1e-9
    ux[bad] = uy[bad] = r[bad] = np.nan
    return ux, uy, r


def robust_circle(
    points: np.ndarray,
    weights: np.ndarray | None = None,
    threshold: float = 1.0,
    rng: int = 0,
    max_trials: int = 300,
    r_range: tuple[float, float] | None = None,
) -> tuple[tuple[float, float, float, float], np.ndarray] | None:
    """RANSAC circle (vectorised over all trials) then least-squares refits on the inliers.

    The hypothesis with the largest (weighted) inlier support wins; ``r_range`` rejects
    hypotheses of implausible radius. Returns ``((cx, cy, r, rms), inlier_mask)`` or
    ``None`` if no circle fits.

    Examples
    --------
    >>> t = np.linspace(0, 2 * np.pi, 60, endpoint=False)
    >>> pts = np.c_[10 + 5 * np.cos(t), 20 + 5 * np.sin(t)]
    >>> pts[::6] = np.c_[10 + 8 * np.cos(t[::6]), 20 + 8 * np.sin(t[::6])]  # 10 outliers
    >>> (cx, cy, r, rms), inl = robust_circle(pts, threshold=0.5)
    >>> round(cx, 3), round(cy, 3), round(r, 3), int(inl.sum())
    (10.0, 20.0, 5.0, 50)
    """
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    n = len(pts)
    if n < 5:
        return None
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    gen = np.random.default_rng(rng)
    idx = np.stack([gen.choice(n, 3, replace=False) for _ in range(max_trials)]) if n < 8 else \
        gen.integers(0, n, size=(max_trials, 3))
    ok = (idx[:, 0] != idx[:, 1]) & (idx[:, 1] != idx[:, 2]) & (idx[:, 0] != idx[:, 2])
    idx = idx[ok]
    cx, cy, r = circles_through(pts[idx[:, 0]], pts[idx[:, 1]], pts[idx[:, 2]])
    good = np.isfinite(r)
    if r_range is not None:
        good &= (r >= r_range[0]) & (r <= r_range[1])
    if not good.any():
        return None
    cx, cy, r = cx[good], cy[good], r[good]
    # |d - r| < t  <=>  (r - t)^2 < d^2 < (r + t)^2 (for r > t): no square roots over the
    # (trials x points) matrix, which is most of the time of a fit; it is evaluated a few
    # dozen trials at a time, so each block stays in the cache
    lo2 = np.where(r > threshold, (r - threshold) ** 2, -1.0)
    hi2 = (r + threshold) ** 2

    def inside(trials: slice) -> np.ndarray:
        d2 = (pts[None, :, 0] - cx[trials, None]) ** 2
        d2 += (pts[None, :, 1] - cy[trials, None]) ** 2
        return (d2 > lo2[trials, None]) & (d2 < hi2[trials, None])

    block = max(1, 32768 // n)
    support = np.concatenate([inside(slice(i, i + block)) @ w if weights is not None else
                              np.count_nonzero(inside(slice(i, i + block)), axis=1)
                              for i in range(0, len(r), block)])
    k = int(np.argmax(support))
    inl = inside(slice(k, k + 1))[0]
    if inl.sum() < 5:
        return None
    c = (cx[k], cy[k], r[k], 0.0)
    for _ in range(3):
        try:
            c = fit_circle(pts[inl])
        except ValueError:
            return None
        new = np.abs(np.hypot(pts[:, 0] - c[0], pts[:, 1] - c[1]) - c[2]) < threshold
        if new.sum() < 5 or (new == inl).all():
            break
        inl = new
    return (float(c[0]), float(c[1]), float(c[2]), float(c[3])), inl


# --------------------------------------------------------------------------- shafts

#: :func:`shaft_midline`: the levels across the shaft where the cortices are found, the least
#: number of them that must agree, and how far the fitted midline may turn from the start
#: points' line (degrees), lie off its levels (RMS) and move a start point (both in shaft widths).
SHAFT_LEVELS = 24
SHAFT_MIN_LEVELS = 6
SHAFT_MAX_TURN_DEG = 5.0
SHAFT_MAX_RMS = 0.06
SHAFT_MAX_SHIFT = 0.25


@dataclass(frozen=True)
class ShaftMidline:
    """A long bone's midline between two levels of its shaft (:func:`shaft_midline`)."""

    proximal_xy: tuple[float, float]
    distal_xy: tuple[float, float]
    levels_used: int  #: levels whose two cortices were found and agree with the line
    width_px: float  #: the shaft's median width, outer cortex to outer cortex
    rms_px: float  #: the midpoints' scatter about the line


def shaft_midline(display: np.ndarray, proximal_xy, distal_xy, width_px: float, *,
                  levels: int = SHAFT_LEVELS) -> ShaftMidline | None:
    """The midline of a long bone's shaft through the level of each start point: the midpoint
    between the two outer cortices on :data:`SHAFT_LEVELS` profiles across the shaft from
    ``proximal_xy`` to ``distal_xy``, fitted by a line (the scattered levels left out).

    The readers place an anatomical axis point "midway between the two cortices" at two levels
    (``docs/reading-films.md``); a line through many such midpoints turns less with one
    point's error than a line through two. ``width_px`` is the shaft's expected width (the
    cortices are sought within 0.9 of it either side of the start line). Each returned point
    lies on the midline at its start point's level. ``None`` (keep the start points) where
    fewer than :data:`SHAFT_MIN_LEVELS` levels and half of them agree, or the midline turns
    more than :data:`SHAFT_MAX_TURN_DEG` from the start line, scatters more than
    :data:`SHAFT_MAX_RMS` of the width, or moves a point more than :data:`SHAFT_MAX_SHIFT` of it.
    ``display`` is bone bright; points are image ``(x, y)`` (SCOORD origin).

    >>> img = np.zeros((200, 120)); img[:, 40:70] = 1.0            # a vertical shaft, x 40 to 70
    >>> m = shaft_midline(img, (57.0, 20.0), (53.0, 180.0), 30.0)   # start line 1.4° off
    >>> [round(v, 1) for v in m.proximal_xy + m.distal_xy], round(m.width_px)
    ([55.0, 19.9, 55.0, 180.1], 30)
    """
    from scipy.ndimage import gaussian_filter1d

    img = np.asarray(display)
    if img.ndim != 2 or not np.issubdtype(img.dtype, np.number):
        raise LandmarkError(f"shaft midline: the image must be a 2-D array of numbers, not {img.dtype} {img.shape}")
    p, d = point_xy(proximal_xy, "proximal_xy"), point_xy(distal_xy, "distal_xy")
    try:
        width_px = float(width_px)
    except (TypeError, ValueError):
        width_px = math.nan
    if not (math.isfinite(width_px) and width_px > 0):
        raise LandmarkError("shaft midline: the shaft width must be a positive number of pixels")
    if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or levels < SHAFT_MIN_LEVELS:
        raise LandmarkError(f"shaft midline: the levels must be a whole number of at least {SHAFT_MIN_LEVELS}, "
                            f"not {levels!r}")
    length = float(np.hypot(*(d - p)))
    if length < 1.0:
        raise LandmarkError("shaft midline: the proximal and distal points are the same point")
    along = (d - p) / length
    across = np.array([-along[1], along[0]])
    step = max(0.5, width_px / 60.0)
    s = np.arange(-0.9 * width_px, 0.9 * width_px + step / 2, step)
    t = np.linspace(0.0, length, levels)
    band = np.linspace(-2.0, 2.0, 5)  # each profile averaged over 4 px along the shaft
    xy = (p + t[:, None, None, None] * along + band[None, :, None, None] * along
          + s[None, None, :, None] * across)
    if not np.issubdtype(img.dtype, np.floating):  # interpolated, not rounded to the image's integers
        img = img.astype(np.float32)
    prof = sample(img, xy).mean(axis=1)
    inside = np.isfinite(prof).all(axis=1)
    g = gaussian_filter1d(np.where(np.isfinite(prof), prof, 0.0), max(0.8, width_px / 40.0) / step, order=1, axis=1)
    # the outer cortices: the strongest rise (soft tissue to bone) on the start line's one side,
    # the strongest fall on the other, each beyond the medullary canal's middle
    g_rise = np.where(s < -0.12 * width_px, g, -np.inf)
    g_fall = np.where(s > 0.12 * width_px, -g, -np.inf)
    i_rise, i_fall = g_rise.argmax(axis=1), g_fall.argmax(axis=1)
    rows = np.arange(levels)
    contrast = np.minimum(g_rise[rows, i_rise], g_fall[rows, i_fall])
    lo = s[0] + subpixel_peaks(np.where(np.isfinite(g_rise), g_rise, 0.0), i_rise) * step
    hi = s[0] + subpixel_peaks(np.where(np.isfinite(g_fall), g_fall, 0.0), i_fall) * step
    widths, mids = hi - lo, 0.5 * (lo + hi)
    ok = inside & (contrast > 0)
    if ok.sum() < SHAFT_MIN_LEVELS:
        return None
    w = float(np.median(widths[ok]))
    ok &= (widths > 0.75 * w) & (widths < 1.3 * w)
    for _ in range(3):
        if ok.sum() < max(SHAFT_MIN_LEVELS, levels / 2):
            return None
        slope, offset = np.polyfit(t[ok], mids[ok], 1)
        resid = mids - (slope * t + offset)
        ok &= np.abs(resid) < 3.0 * (float(np.median(np.abs(resid[ok]))) + 0.3)
    if ok.sum() < max(SHAFT_MIN_LEVELS, levels / 2):
        return None
    slope, offset = np.polyfit(t[ok], mids[ok], 1)
    rms = float(np.std(mids[ok] - (slope * t[ok] + offset)))
    p2, d2 = p + offset * across, d + (slope * length + offset) * across
    shift = max(abs(offset), abs(slope * length + offset))
    if (math.degrees(math.atan(abs(slope))) > SHAFT_MAX_TURN_DEG or rms > SHAFT_MAX_RMS * width_px
            or shift > SHAFT_MAX_SHIFT * width_px):
        return None
    return ShaftMidline((float(p2[0]), float(p2[1])), (float(d2[0]), float(d2[1])), int(ok.sum()), w, rms)


def low_confidence_reason(confidence: float, minimum: float) -> str:
    """Why a landmark found below ``minimum`` is not reported (the confidence rounded down, so
    that it never reads as the minimum itself).

    >>> low_confidence_reason(0.298, 0.3)
    'found only with a confidence of 0.29 (< 0.3): not reported'
    """
    return f"found only with a confidence of {math.floor(100 * confidence) / 100:.2f} (< {minimum}): not reported"


def lowered(found: Mapping[LandmarkName, Landmark], factor: float, minimum: float, why: str,
            missing: dict, names: Iterable[LandmarkName] | None = None) -> dict[LandmarkName, Landmark]:
    """``found`` with the confidence of the landmarks ``names`` (default all) times ``factor``;
    one that falls below ``minimum`` moves to ``missing``, the reason starting with ``why``.

    >>> lm = Landmark(LandmarkName.parse("teardrop_right"), 1.0, 2.0, 0.5)
    >>> missing = {}
    >>> lowered({lm.name: lm}, 0.5, 0.3, "metal hardware", missing)
    {}
    >>> missing[lm.name]
    'metal hardware: found only with a confidence of 0.25 (< 0.3): not reported'
    """
    which = set(found) if names is None else set(names)
    out = {}
    for name, lm in found.items():
        if name not in which:
            out[name] = lm
            continue
        conf = lm.confidence * factor
        if conf < minimum:
            missing[name] = f"{why}: " + low_confidence_reason(conf, minimum)
            continue
        out[name] = replace(lm, confidence=float(conf))
    return out


class LastCall:
    """The answer of a function for the last read-only array it was asked about: a plan asks
    several stages about the same film (:attr:`~orthoplan.model.Radiograph.display` is read-only),
    and a writeable array, which may change, is never remembered.

    >>> last, film = LastCall(), np.zeros((4, 4))
    >>> film.flags.writeable = False
    >>> last.put(film, "knee"); last.get(film), last.get(np.zeros((4, 4)))
    ('knee', None)
    """

    def __init__(self) -> None:
        self._last: tuple | None = None

    @staticmethod
    def _remembers(array) -> bool:
        return isinstance(array, np.ndarray) and not array.flags.writeable

    def get(self, array):
        """The answer remembered for ``array`` (the same object), else None."""
        if self._remembers(array) and self._last is not None and self._last[0]() is array:
            return self._last[1]
        return None

    def put(self, array, answer) -> None:
        """Remember ``answer`` for ``array`` where it is a read-only array."""
        if self._remembers(array):
            self._last = (weakref.ref(array), answer)


def head_up(radiograph: Radiograph) -> tuple[Radiograph, Transform]:
    """A film stored turned by a quarter turn (its header's Patient Orientation puts the head
    along the rows), turned head up, and the :class:`~.network.Transform` from the stored film's
    pixels to the head-up copy's (its :meth:`~.network.Transform.inverse` maps points back).
    A film stored head up or head down is returned as it is.

    The copy's pixels, display and spacing are turned with it; its orientation is the stored
    one's head-up display (the patient's left where a viewer of the turned-back film sees it).

    Examples
    --------
    >>> from orthoplan.model import ImageOrientation, ImageReference
    >>> film = np.arange(6, dtype=np.float32).reshape(2, 3) / 5
    >>> rad = Radiograph(film, film, ImageReference("1.2", "1.2.3", "1.2.3.4"),
    ...                  orientation=ImageOrientation.turned("right"))
    >>> up, turn = head_up(rad)
    >>> up.shape, up.orientation.turn_deg, up.orientation.superior_y
    ((3, 2), 0, -1)
    >>> turn.inverse(turn.apply([(2.0, 1.0)])).round(6).tolist()
    [[2.0, 1.0]]
    """
    from .network import canonical_transform

    o = radiograph.orientation
    turn = canonical_transform(radiograph.shape, o.superior_name if o.turn_deg else "up")
    if not o.turn_deg:
        return radiograph, turn
    s = radiograph.spacing

    def swap(pair):  # (row, column) spacing: the rows are the columns now
        return None if pair is None else (pair[1], pair[0])

    spacing = replace(s, pixel_spacing_mm=swap(s.pixel_spacing_mm),
                      imager_pixel_spacing_mm=swap(s.imager_pixel_spacing_mm))
    pixels, display = (np.ascontiguousarray(turn.array(a)) for a in (radiograph.pixels, radiograph.display))
    for a in (pixels, display):
        a.flags.writeable = False
    upright = ImageOrientation(o.patient_left_x, -1, o.source, 0)
    return replace(radiograph, pixels=pixels, display=display, spacing=spacing, orientation=upright,
                   patient_orientation=None), turn


def landmarks_mapped(landmarks: Landmarks, to_stored) -> Landmarks:
    """``landmarks`` (a :class:`~orthoplan.model.Landmarks`) with every point moved by
    ``to_stored`` (a function of an ``(n, 2)`` array of points), the reasons of the missing ones
    kept: the points found on a head-up copy (:func:`head_up`), on the stored film."""
    found = list(landmarks)
    if not found:
        return landmarks
    xy = to_stored(np.array([lm.xy for lm in found], float))
    moved = [replace(lm, x=float(x), y=float(y)) for lm, (x, y) in zip(found, xy)]
    return Landmarks.from_landmarks(moved, dict(landmarks.missing))
