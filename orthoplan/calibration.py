"""Calibration: the anatomical scale (mm per pixel at the hip) of a radiograph, and how sure it is.

Calibration, not landmarking, dominates the error of templating: a projection radiograph
magnifies everything by ``M = SID / SOD`` (source-to-detector over source-to-object
distance), and the object of interest (the hip) is at a depth nobody measured. Every
function here returns an :class:`orthoplan.model.Calibration` that says where the scale
came from (``source``), how far it can be off (``uncertainty_pct``, half-width of a ≥95 %
interval) and what is merely assumed.

Sources, best evidence first (see ``docs/calibration.md`` for the rules and references):

* :func:`from_known_length` — two points a known distance apart at the plane of interest;
* :func:`from_ball` — an automatically detected calibration ball (default 25 mm), with
  sub-pixel edge fitting (:func:`find_balls`);
* :func:`from_known_object` — a round object of known diameter near a click (e.g. a
  28/32/36 mm prosthetic femoral head);
* :func:`from_dicom_tags` — ``PixelSpacing`` with its calibration type,
  ``ImagerPixelSpacing`` with ``EstimatedRadiographicMagnificationFactor`` or with the
  source distances;
* :func:`from_assumed_magnification` — detector spacing divided by an assumed
  magnification, only when the caller opts in (flagged ``assumed``).

:func:`calibrate` applies them in that order and reports (never silently resolves) a
disagreement between a measured scale and an anatomical DICOM scale (:func:`compare`).

Examples
--------
>>> cal = from_known_length((100, 100), (400, 500), 50.0)
>>> round(cal.mm_per_px, 4), cal.source.value
(0.1, 'known-length')
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from .errors import CalibrationError
from .geometry import block_mean, fit_circle
from .model import Calibration, CalibrationSource, SpacingTags

__all__ = [
    "BallCandidate",
    "find_balls",
    "from_dicom_tags",
    "from_ball",
    "from_known_length",
    "from_known_object",
    "from_assumed_magnification",
    "calibrate",
    "compare",
    "MIN_BALL_SCORE",
    "MIN_BALL_EDGE_FRACTION",
    "UNCERTAINTY_PCT",
]

logger = logging.getLogger(__name__)

#: A candidate below this score is not accepted as a calibration ball by :func:`from_ball`.
MIN_BALL_SCORE = 0.5

#: Half-widths (%) of the ≥95 % intervals of each method; see docs/calibration.md.
UNCERTAINTY_PCT: Mapping[str, float] = {
    "pixel-spacing-fiducial": 2.0,
    "pixel-spacing-geometry": 5.0,
    "pixel-spacing-corrected-untyped": 7.0,
    "pixel-spacing-unknown": 20.0,
    "explicit-spacing": 5.0,
    "imager-spacing-ermf": 5.0,
    "imager-spacing-distances": 7.0,
    "ball-placement-unknown": 8.0,
    "ball-placement-hip-level": 3.0,
    "known-object-plane": 2.0,
    "assumed-magnification": 10.0,
}

#: A calibration ball shows its whole outline: at least this fraction of the rays must find
#: its edge (a prosthetic head loses ~12-15 % of its rim to the neck).
MIN_BALL_EDGE_FRACTION = 0.93

#: Plausible spacing values (mm per pixel) of a projection radiograph; outside is "absurd".
SPACING_LIMITS_MM = (0.01, 5.0)
#: Plausible geometric magnification of a projection radiograph at the detector.
MAGNIFICATION_LIMITS = (1.0, 2.0)
#: Magnification of the hip plane over the detector assumed when searching for a ball.
BALL_SEARCH_MAGNIFICATION = (1.0, 1.5)
#: Systematic edge-location error allowed for in every fitted circle (blur, processing), px.
EDGE_BIAS_PX = 0.5
#: The same for a weakly attenuating ball (a dome: its radius comes from the profile model).
DOME_EDGE_BIAS_PX = 1.0
#: Implied magnification (ImagerPixelSpacing / ball scale) a calibration ball can have: 1.0 at the
#: detector, ~1.35 on the front of a large patient (SID 115 cm, ball 30 cm above the detector).
BALL_MAGNIFICATION_LIMITS = (1.0, 1.35)
#: Two acceptable candidates whose scores are within this ratio are an ambiguity (any radius).
AMBIGUITY_SCORE_RATIO = 0.85
#: A dome's soft rim loses more rays to noise than a steel ball's sharp one (its evidence is its profile).
MIN_DOME_EDGE_FRACTION = 0.7
#: At least this fraction of a ball's rim must be on the film (a ball cut by the film's edge).
MIN_BALL_VISIBLE_FRACTION = 0.5

_OPTIONS = "{options}"  # replaced by _options(radiograph): only advice that the tool then accepts
_EXPLICIT_TYPE = "EXPLICIT"  # orthoplan.image.EXPLICIT_SPACING_CALIBRATION_TYPE (not imported: stage rule)


# --------------------------------------------------------------------------- ball candidates


@dataclass(frozen=True)
class BallCandidate:
    """A round, bright object found in an image, with its fitted circle.

    ``(x, y)`` is the centre in image coordinates (DICOM origin, pixels) and ``radius_px``
    the radius along x. ``score`` in [0, 1] combines the fraction of rays with a clean
    edge, the fit residual, the edge contrast and the interior uniformity.

    Examples
    --------
    >>> BallCandidate(10.0, 20.0, 5.0, 0.9).diameter_px
    10.0
    """

    x: float
    y: float
    radius_px: float
    score: float
    rms_px: float = 0.0
    n_edge_points: int = 0
    radius_se_px: float = 0.0  #: standard error of the radius from the fit
    edge_fraction: float = 0.0  #: fraction of rays with a clean edge on the circle
    contrast: float = 0.0  #: median inside-minus-outside level (display units)
    profile: str = ""  #: radial profile model: "opaque" (steel), "chord" (weakly attenuating), see ball_profile
    ballness: float = 0.0  #: how well the profile is a ball's (0-1)
    visible_fraction: float = 1.0  #: fraction of the rim inside the image (a ball cut by the film's edge < 1)
    profile_radius_px: float = 0.0  #: the radius of the profile model

    @property
    def diameter_px(self) -> float:
        return 2.0 * self.radius_px

    def to_dict(self) -> dict[str, float]:
        return {
            "x": round(self.x, 3),
            "y": round(self.y, 3),
            "radius_px": round(self.radius_px, 3),
            "score": round(self.score, 3),
            "rms_px": round(self.rms_px, 3),
            "n_edge_points": int(self.n_edge_points),
            "profile": self.profile,
            "visible_fraction": round(self.visible_fraction, 3),
        }


def find_balls(
    image: np.ndarray,
    *,
    radius_range_px: tuple[float, float] | None = None,
    max_candidates: int = 5,
    aspect_ratio: float = 1.0,
    min_score: float = 0.0,
) -> list[BallCandidate]:
    """Find round bright objects (calibration balls, prosthetic heads) in ``image``.

    Candidates are found on a block-averaged copy: for several intensity thresholds the
    distance transform of the bright mask gives inscribed circles whose rim is mostly
    background (a disc, even one touching a stem or a bone). Each is then refined at full
    resolution: ~180 radial profiles from the centre, the edge on each at the steepest
    descent (Gaussian derivative, parabolic sub-pixel interpolation), and a circle fit
    (:func:`orthoplan.geometry.fit_circle`) with iterative outlier rejection, twice.

    Parameters
    ----------
    image
        2-D display image in [0, 1], bright = attenuating (``Radiograph.display``).
    radius_range_px
        ``(min, max)`` expected radius in pixels along x; default a wide search (0.5 % to
        12 % of the smaller image side, at least 8 px).
    max_candidates
        Return at most this many candidates.
    aspect_ratio
        Row spacing / column spacing of the pixels (a ball is an ellipse in pixel space
        when it is not 1).
    min_score
        Candidates whose first, coarse pass already scores below this are dropped without
        the fine pass (it saves time; the coarse and the fine score of a ball agree within
        a few %, measured on synthetic films).

    Returns
    -------
    list of BallCandidate
        Sorted by ``score``, best first (may be empty).

    Examples
    --------
    >>> yy, xx = np.mgrid[0:200, 0:200] + 0.5
    >>> img = 0.2 + 0.7 * (np.hypot(xx - 90.3, yy - 110.6) < 40.0)
    >>> best = find_balls(img, radius_range_px=(30, 50))[0]
    >>> round(best.x, 1), round(best.y, 1), round(best.radius_px, 1)
    (90.3, 110.6, 40.0)
    """
    img = np.asarray(image)
    if img.ndim != 2 or min(img.shape) < 16:
        raise CalibrationError(f"ball search needs a 2-D image of at least 16 x 16 pixels, got shape {img.shape}")
    if not (math.isfinite(aspect_ratio) and aspect_ratio > 0):
        raise CalibrationError(f"aspect_ratio must be a positive number, got {aspect_ratio!r}")
    if not (isinstance(min_score, (int, float)) and 0.0 <= min_score <= 1.0):
        raise CalibrationError(f"min_score must be a number from 0 to 1, got {min_score!r}")
    if radius_range_px is None:
        short = min(img.shape[0] * aspect_ratio, img.shape[1])
        rmin, rmax = max(8.0, 0.005 * short), max(16.0, 0.12 * short)
    else:
        rmin, rmax = (float(v) for v in radius_range_px)
        if not (math.isfinite(rmin) and math.isfinite(rmax) and 0 < rmin <= rmax):
            raise CalibrationError(f"radius_range_px must be (min, max) with 0 < min <= max, got {radius_range_px!r}")
        rmin = max(rmin, 3.0)
        rmax = max(rmax, rmin)
    img = img.astype(np.float32, copy=False)
    coarse = _coarse_candidates(img, rmin, rmax, aspect_ratio)
    levels = _image_levels(img)
    found: list[BallCandidate] = []
    for cx, cy, r0 in coarse:
        cand = _refine(img, cx, cy, r0, aspect_ratio, min_score, levels)
        if cand is None or not (0.9 * rmin <= cand.radius_px <= 1.1 * rmax):
            continue
        if any(_same_circle(cand, c) for c in found):
            found = [c if not _same_circle(cand, c) or c.score >= cand.score else cand for c in found]
            continue
        found.append(cand)
    found.sort(key=lambda c: c.score, reverse=True)
    logger.debug("ball search: %d coarse, %d refined candidates", len(coarse), len(found))
    return found[: max(0, int(max_candidates))]


def _same_circle(a: BallCandidate, b: BallCandidate) -> bool:
    r = min(a.radius_px, b.radius_px)
    return math.hypot(a.x - b.x, a.y - b.y) < 0.3 * r and abs(a.radius_px - b.radius_px) < 0.15 * r


def _coarse_candidates(img: np.ndarray, rmin: float, rmax: float, aspect: float, limit: int = 12) -> list[tuple[float, float, float]]:
    """Approximate ``(x, y, r)`` of bright discs, from a block-averaged image."""
    from scipy import ndimage

    f = max(1, int(rmin // 5))
    f = max(f, int(math.ceil(max(img.shape) / 1200)))
    f = min(f, max(1, int(rmin // 3)))  # keep at least ~3 coarse pixels of radius
    small = block_mean(img, f) if f > 1 else img
    lo, hi = np.percentile(small, [40.0, 99.99])
    if not hi > lo:
        return []
    smin, smax = rmin / f, rmax / f
    sampling = (aspect, 1.0)
    nang = 32
    ang = np.linspace(0, 2 * np.pi, nang, endpoint=False)
    best: list[tuple[float, float, float, float]] = []  # (support, x, y, r) in full-res px
    for level in lo + (hi - lo) * np.array([0.15, 0.3, 0.45, 0.6, 0.7, 0.8, 0.88, 0.94]):
        mask = small > level
        if not mask.any():
            continue
        edt = ndimage.distance_transform_edt(mask, sampling=sampling)
        size = max(3, int(smin) | 1)
        peaks = (edt == ndimage.maximum_filter(edt, size=size)) & (edt >= 0.8 * smin) & (edt <= 1.25 * smax + 1)
        rr, cc = np.nonzero(peaks)
        if rr.size == 0:
            continue
        if rr.size > 4000:  # a flat ridge: keep a sample (rims of real discs are few)
            keep = np.random.default_rng(0).choice(rr.size, 4000, replace=False)
            rr, cc = rr[keep], cc[keep]
        rad = edt[rr, cc]
        # rim support: fraction of a ring just outside the inscribed circle that is background
        ring = rad[:, None] + 1.5
        ys = np.rint(rr[:, None] + ring * np.sin(ang)[None, :] / aspect).astype(int)
        xs = np.rint(cc[:, None] + ring * np.cos(ang)[None, :]).astype(int)
        inside = (ys >= 0) & (ys < mask.shape[0]) & (xs >= 0) & (xs < mask.shape[1])
        on = np.zeros(ys.shape, bool)
        on[inside] = mask[ys[inside], xs[inside]]
        support = 1.0 - on.mean(axis=1)
        for k in np.nonzero(support >= 0.6)[0]:
            x, y = (cc[k] + 0.5) * f, (rr[k] + 0.5) * f
            r = (rad[k] + 0.5) * f
            best.append((float(support[k]), float(x), float(y), float(r)))
    best.sort(key=lambda t: (-t[0], -t[3]))
    out = _distinct_circles((t[1:] for t in best), limit=limit)
    # domes: a weakly attenuating ball is brightest at its centre with a soft rim, so no
    # threshold cuts it at its true size; a scale-normalised Laplacian of Gaussian finds it
    # a soft rim's gradient survives a finer grid better: ~4 grid px of radius, at most ~0.5 Mpx
    fh = max(1, min(f, int(rmin // 4)), int(math.ceil(math.sqrt(img.size / 5e5))))
    small_h = block_mean(img, fh) if fh > 1 else img
    hough = _hough_candidates(small_h, rmin / fh, rmax / fh, fh, aspect, limit=8)
    blobs = _blob_candidates(small_h, rmin / fh, rmax / fh, fh, sampling)
    return _distinct_circles(blobs + hough, out)


def _distinct_circles(circles, out: list | None = None, limit: int | None = None) -> list[tuple[float, float, float]]:
    """``out`` extended by those ``(x, y, r)`` of ``circles`` (best first) whose centre is not
    within half a radius of one already kept, up to ``limit`` circles in all.

    >>> _distinct_circles([(0, 0, 10), (3, 0, 10), (30, 0, 10)])
    [(0, 0, 10), (30, 0, 10)]
    """
    out = [] if out is None else out
    for x, y, r in circles:
        if limit is not None and len(out) >= limit:
            break
        if not any(math.hypot(x - ox, y - oy) < 0.5 * min(r, orr) for ox, oy, orr in out):
            out.append((x, y, r))
    return out


def _hough_candidates(small: np.ndarray, smin: float, smax: float, f: int, aspect: float,
                      limit: int = 6) -> list[tuple[float, float, float]]:
    """Approximate ``(x, y, r)`` (full-resolution px) of bright discs and domes by gradient voting.

    Every strong edge pixel votes for the centres that lie ``r`` inwards along its gradient
    (bright inside) for each radius in ``smin``-``smax`` (coarse px); a round rim focuses its
    votes on its centre whatever its profile, where straight bone edges spread theirs.
    """
    from scipy import ndimage

    img = ndimage.gaussian_filter(small.astype(np.float32), 1.0)
    gy = ndimage.sobel(img, axis=0) / aspect
    gx = ndimage.sobel(img, axis=1)
    mag = np.hypot(gx, gy)
    thr = np.percentile(mag, 80.0)
    rr, cc = np.nonzero(mag > max(thr, 1e-6))
    if rr.size == 0:
        return []
    if rr.size > 20000:
        keep = np.random.default_rng(0).choice(rr.size, 20000, replace=False)
        rr, cc = rr[keep], cc[keep]
    ux, uy = gx[rr, cc] / mag[rr, cc], gy[rr, cc] / mag[rr, cc]
    radii = np.geomspace(max(smin, 2.0), max(smax, smin, 2.0), int(min(12, max(2, math.ceil(smax - smin) + 1))))
    h, w = small.shape
    found: list[tuple[float, float, float, float]] = []
    for rad in radii:
        x = np.rint(cc + rad * ux).astype(int)
        y = np.rint(rr + rad * uy / aspect).astype(int)
        ok = (x >= 0) & (x < w) & (y >= 0) & (y < h)
        acc = np.zeros((h, w), np.float32)
        np.add.at(acc, (y[ok], x[ok]), 1.0)
        acc = ndimage.gaussian_filter(acc, max(1.0, 0.05 * rad)) / rad  # a full rim casts ~2 pi r votes
        size = max(3, int(0.5 * rad) | 1)
        peaks = (acc == ndimage.maximum_filter(acc, size=size)) & (acc > 0)
        pr, pc = np.nonzero(peaks)
        for k in np.argsort(acc[pr, pc])[::-1][:2]:  # the best two of each radius
            found.append((float(acc[pr[k], pc[k]]), (pc[k] + 0.5) * f, (pr[k] + 0.5) * f, float(rad * f)))
    found.sort(key=lambda t: -t[0])
    return _distinct_circles((t[1:] for t in found), limit=limit)


def _blob_candidates(small: np.ndarray, smin: float, smax: float, f: int, sampling: tuple[float, float],
                     limit: int = 8) -> list[tuple[float, float, float]]:
    """Approximate ``(x, y, r)`` (full-resolution px) of bright round blobs: maxima of the
    scale-normalised negative Laplacian of Gaussian over radii ``smin``-``smax`` (coarse px)."""
    from scipy import ndimage

    radii = np.geomspace(max(smin, 2.0), max(smax, smin, 2.0), 8)
    found: list[tuple[float, float, float, float]] = []
    for rad in radii:
        g = max(1, int(rad // 4))  # a large blob is found as well on a coarser grid, much faster
        grid = block_mean(small, g) if g > 1 and min(small.shape) >= 8 * g else small
        g = small.shape[1] // grid.shape[1] if grid is not small else 1
        h, w = grid.shape
        rg = rad / g
        sigma = rg / math.sqrt(2.0)
        resp = -(sigma**2) * ndimage.gaussian_laplace(grid.astype(np.float32), (sigma / sampling[0], sigma))
        size = max(3, int(rg) | 1)
        peaks = (resp == ndimage.maximum_filter(resp, size=size)) & (resp > 0)
        m = int(min(0.5 * rg, 0.25 * min(h, w)))  # the border's reflection makes false blobs
        if m > 0:
            peaks[:m, :] = peaks[-m:, :] = False
            peaks[:, :m] = peaks[:, -m:] = False
        rr, cc = np.nonzero(peaks)
        if rr.size == 0:
            continue
        top = np.argsort(resp[rr, cc])[::-1][:3]  # the strongest few of each scale (small text blobs
        for k in top:                              # must not crowd out a large faint dome)
            found.append((float(resp[rr[k], cc[k]]), (cc[k] + 0.5) * g * f, (rr[k] + 0.5) * g * f, float(rad * f)))
    found.sort(key=lambda t: -t[0])
    return _distinct_circles((t[1:] for t in found), limit=2 * limit)


def _ray_edges(
    img: np.ndarray, cx: float, cy: float, r_lo: float, r_hi: float, aspect: float, n_rays: int = 180,
    step: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Edge radius, strength, contrast and interior level along ``n_rays`` rays from a centre.

    Radii are in x-pixel units (the circle of an isotropic object), sampled every ``step``
    pixels; returns ``(theta, edge_r, strength, contrast, profiles)``; ``edge_r`` is NaN
    where no edge.
    """
    from scipy import ndimage

    radii = np.arange(max(r_lo, 1.0), r_hi + step, step)
    theta = np.linspace(0.0, 2.0 * np.pi, n_rays, endpoint=False)
    xs = cx + radii[None, :] * np.cos(theta)[:, None]
    ys = cy + radii[None, :] * np.sin(theta)[:, None] / aspect
    rc = np.stack([ys - 0.5, xs - 0.5])  # (row, col) of each point: rc_from_xy
    prof = ndimage.map_coordinates(img, rc, order=1, mode="nearest")
    deriv = ndimage.gaussian_filter1d(prof, sigma=1.0, axis=1, order=1, mode="nearest")
    n = radii.size
    margin = 3
    if n < 2 * margin + 3:  # a window of a few samples (a radius of 1-2 px) has no edge to find
        none = np.full(n_rays, np.nan)
        return theta, none, none.copy(), none.copy(), prof
    core = deriv[:, margin : n - margin]
    i = np.argmin(core, axis=1) + margin
    rows = np.arange(n_rays)
    d0, d1, d2 = deriv[rows, i - 1], deriv[rows, i], deriv[rows, i + 1]
    den = d0 - 2 * d1 + d2
    off = np.where(np.abs(den) > 1e-12, 0.5 * (d0 - d2) / np.where(den == 0, 1, den), 0.0)
    off = np.clip(off, -1.0, 1.0)
    edge = radii[0] + (i + off) * step
    strength = -d1 / step  # per pixel
    # contrast: median level inside (just within the edge) minus outside (just beyond)
    w = max(3, int(0.15 * (r_hi + r_lo) / 2 / step))
    idx = np.arange(n)[None, :]
    inner = (idx < (i - 4)[:, None]) & (idx >= (i - 4 - w)[:, None])
    outer = (idx > (i + 4)[:, None]) & (idx <= (i + 4 + w)[:, None])
    n_in, n_out = inner.sum(axis=1), outer.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):  # rays whose edge is at the window's end
        contrast = (prof * inner).sum(axis=1) / n_in - (prof * outer).sum(axis=1) / n_out
    ex = cx + edge * np.cos(theta)
    ey = cy + edge * np.sin(theta) / aspect
    in_image = (ex > 1.0) & (ex < img.shape[1] - 1.0) & (ey > 1.0) & (ey < img.shape[0] - 1.0)
    valid = (i > margin) & (i < n - margin - 1) & np.isfinite(contrast) & (contrast > 0) & (strength > 0) & in_image
    edge = np.where(valid, edge, np.nan)
    return theta, edge, strength, contrast, prof


def _robust_circle(points: np.ndarray, n_iter: int = 6) -> tuple[float, float, float, float, np.ndarray] | None:
    """Circle fit with iterative rejection of points off the circle; returns (cx, cy, r, rms, inliers)."""
    keep = np.ones(len(points), bool)
    fit = None
    for _ in range(n_iter):
        if keep.sum() < 8:
            return None
        try:
            cx, cy, r, _rms = fit_circle(points[keep])
        except ValueError:
            return None
        res = np.hypot(points[:, 0] - cx, points[:, 1] - cy) - r
        mad = 1.4826 * np.median(np.abs(res[keep] - np.median(res[keep])))
        new = np.abs(res) <= max(3.0 * mad, 0.75)
        fit = (cx, cy, r, float(np.sqrt(np.mean(res[new] ** 2))) if new.any() else float("inf"), new)
        if np.array_equal(new, keep):
            break
        keep = new
    return fit


def _refine(img: np.ndarray, cx: float, cy: float, r0: float, aspect: float,
            min_score: float = 0.0, levels: tuple[float, float] | None = None) -> BallCandidate | None:
    """Sub-pixel circle of the bright disc near ``(cx, cy, r0)``, or None (also when the
    first, coarse pass already scores below ``min_score``)."""
    n_rays = 180
    cx0, cy0, r = cx, cy, r0
    result = None
    # pass 1 finds the disc over a wide radius range on half the rays at 1 px steps (coarse
    # is enough: pass 2 starts from it), pass 2 measures the rim at 0.5 px steps in a
    # narrow band on all the rays
    for lo, hi, step, rays in ((0.5, 1.5, 1.0, n_rays // 2), (None, None, 0.5, n_rays)):
        if lo is None:
            half = max(5.0, 0.15 * r)
            r_lo, r_hi = r - half, r + half
        else:
            r_lo, r_hi = lo * r, hi * r
        theta, edge, strength, contrast, prof = _ray_edges(img, cx0, cy0, r_lo, r_hi, aspect, rays, step)
        ok = np.isfinite(edge)
        if ok.sum() < rays // 4:
            return None
        med_strength = float(np.median(strength[ok]))
        ok &= strength >= 0.3 * med_strength
        pts = np.c_[cx0 + edge * np.cos(theta), (cy0 * aspect) + edge * np.sin(theta)]  # isotropic frame
        ok_idx = np.nonzero(ok)[0]
        fit = _robust_circle(pts[ok_idx])
        if fit is None:
            return None
        fx, fy_iso, fr, rms, inl = fit
        if not (fr > 2.0 and math.isfinite(fr)):
            return None
        cx0, cy0, r = fx, fy_iso / aspect, fr
        inliers = ok_idx[inl]
        edge_pts = pts[inliers]
        result = (cx0, cy0, r, rms, inliers, contrast)
        if math.hypot(cx0 - cx, cy0 - cy) > r0:  # wandered off: not this object
            return None
        if lo is not None and min_score > 0:
            vis = _visible_rays(img.shape, cx0, cy0, r, aspect, rays)
            if _ball_score(img, *result, rays, aspect, vis, levels)[0] < min_score:
                return None  # not worth the fine pass (a bone's textured interior, mostly)
    assert result is not None
    cx0, cy0, r, rms, inliers, contrast = result
    n_in = int(inliers.size)
    visible = _visible_rays(img.shape, cx0, cy0, r, aspect, n_rays)
    frac = n_in / max(visible, 1)
    if n_in / n_rays < 0.3 or visible < 0.4 * n_rays:
        return None
    score, c_med, prof = _ball_score(img, *result, n_rays, aspect, visible, levels)
    # radius SE from the fit's covariance (right for an arc too), x sqrt(2) as for a full circle ~ rms*sqrt(2/N)
    se = math.sqrt(2.0) * _radius_se(edge_pts, cx0, cy0 * aspect, rms)
    if prof.kind == "chord":  # the steepest edge of a dome lies inside its rim: the profile model's radius
        r = prof.radius_px
    return BallCandidate(
        x=float(cx0),
        y=float(cy0),
        radius_px=float(r),
        score=score,
        rms_px=float(rms),
        n_edge_points=n_in,
        radius_se_px=float(se),
        edge_fraction=float(min(frac, 1.0)),
        contrast=c_med,
        profile=prof.kind,
        ballness=prof.ballness,
        visible_fraction=visible / n_rays,
        profile_radius_px=prof.radius_px,
    )


def _visible_rays(shape: tuple[int, ...], cx: float, cy: float, r: float, aspect: float, n_rays: int) -> int:
    """How many of ``n_rays`` rim points of the circle lie inside the image (a ball cut by its edge)."""
    theta = np.linspace(0.0, 2.0 * np.pi, n_rays, endpoint=False)
    ex, ey = cx + r * np.cos(theta), cy + r * np.sin(theta) / aspect
    return int(np.count_nonzero((ex > 1.0) & (ex < shape[1] - 1.0) & (ey > 1.0) & (ey < shape[0] - 1.0)))


def _radius_se(points: np.ndarray, cx: float, cy: float, rms: float) -> float:
    """Standard error of the radius of a geometric circle fit through ``points`` (covariance of the fit).

    For a full circle of N points it is ``rms / sqrt(N)``; for an arc (a ball cut by the
    film's edge) it grows as the centre and the radius become confounded.
    """
    d = np.hypot(points[:, 0] - cx, points[:, 1] - cy)
    d = np.where(d > 0, d, 1.0)
    J = np.c_[(points[:, 0] - cx) / d, (points[:, 1] - cy) / d, np.ones(len(points))]
    try:
        cov = np.linalg.inv(J.T @ J) * max(rms, 0.05) ** 2
    except np.linalg.LinAlgError:
        return float("inf")
    return float(math.sqrt(max(cov[2, 2], 0.0)))


def _ball_score(img: np.ndarray, cx: float, cy: float, r: float, rms: float, inliers: np.ndarray,
                contrast: np.ndarray, n_rays: int, aspect: float, visible: int | None = None,
                levels: tuple[float, float] | None = None) -> tuple[float, float, BallProfile]:
    """Score in [0, 1] of a fitted circle as a ball, its median rim contrast and its profile model.

    The product of: the share of the visible rays on the rim (squared), the fit's closeness
    (rms in px), the object's contrast, and how well its radial profile is that of a ball
    (:func:`ball_profile`: an opaque ball is a uniformly bright disc with a sharp rim, a
    weakly attenuating one follows the chord length of a sphere; anything textured is not a
    ball).
    """
    frac = inliers.size / max(visible if visible else n_rays, 1)
    c_med = float(np.median(contrast[inliers])) if inliers.size else 0.0
    prof = ball_profile(img, cx, cy, r, aspect, levels=levels)
    amp = max(prof.amplitude, 0.0)
    # a steel ball's evidence is its sharp, whole rim; a dome's is its profile: its soft rim is
    # located less sharply and lost on more rays where a bone's edge crosses it
    rim_px, rim_power = (1.0, 2.0) if prof.kind == "opaque" else (3.0, 1.0)
    score = (
        min(frac, 1.0) ** rim_power
        * (1.0 / (1.0 + (rms / rim_px) ** 2))
        * (amp / (amp + 0.01))
        * prof.ballness
    )
    return float(np.clip(score, 0.0, 1.0)), c_med, prof


@dataclass(frozen=True)
class BallProfile:
    """How well the radial profile of a round object matches the physics of a calibration ball.

    ``kind`` is ``"opaque"`` (a flat, bright plateau with a sharp rim: steel) or ``"chord"``
    (brightness ∝ the chord through a sphere, ``sqrt(1 - (ρ/R)²)``: a weakly attenuating
    ball). ``quality`` (0-1) is the fit of that model, ``opacity`` (0-1) how close the plateau
    comes to the brightest level of the image (steel is the most attenuating thing on a film;
    a flat bone shadow is not), ``texture`` the spread of the residuals inside the object in
    units of its amplitude, and ``ballness`` their combination. ``radius_px`` is the model's
    radius (the chord model corrects the inward bias of the steepest edge of a dome).

    Examples
    --------
    >>> BallProfile("opaque", 0.99, 0.5, 0.3, 1.0, 0.02, 40.0, 0.98).kind
    'opaque'
    """

    kind: str
    quality: float
    amplitude: float
    background: float
    opacity: float
    texture: float
    radius_px: float
    ballness: float
    quality_opaque: float = 0.0
    quality_chord: float = 0.0


def _image_levels(img: np.ndarray) -> tuple[float, float]:
    """(median, 99.9th percentile) of an image, on a subsample: what 'background' and 'brightest' mean."""
    sub = img[:: max(1, img.shape[0] // 400), :: max(1, img.shape[1] // 400)]
    lo, hi = np.percentile(sub, [50.0, 99.9])
    return float(lo), float(hi)


def _smoothstep(x: float, lo: float, hi: float) -> float:
    t = min(max((x - lo) / (hi - lo), 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


def ball_profile(
    img: np.ndarray, cx: float, cy: float, r: float, aspect: float = 1.0, *, levels: tuple[float, float] | None = None
) -> BallProfile:
    """Fit the radial profile of the round object at ``(cx, cy, r)`` with the two ball models.

    The median over 72 rays of the level at each distance ρ from the centre (0 to 1.35 r)
    is fitted, by linear least squares for a grid of blur widths and radii, with
    ``b + a·S(ρ)``: ``S`` a blurred step (an opaque ball) or a blurred ``sqrt(1-(ρ/R)²)``
    (a weakly attenuating ball, whose brightness follows the chord length). The model with
    the better ball-likeness wins; an opaque model counts only if its plateau is near the
    brightest level of the image (``levels``: median and 99.9th percentile; computed if not
    given).

    Examples
    --------
    >>> yy, xx = np.mgrid[0:160, 0:160] + 0.5
    >>> dome = 0.2 + 0.3 * np.sqrt(np.clip(1 - ((xx - 80) ** 2 + (yy - 80) ** 2) / 40.0 ** 2, 0, None))
    >>> ball_profile(dome, 80.0, 80.0, 40.0).kind
    'chord'
    """
    from scipy import ndimage
    from scipy.special import erfc

    if levels is None:
        levels = _image_levels(img)
    lo_level, hi_level = levels
    n_rays = 72
    step = max(0.25, r / 60.0)
    rho = np.arange(0.0, 1.35 * r + step, step)
    theta = np.linspace(0.0, 2.0 * np.pi, n_rays, endpoint=False)
    xs = cx + rho[None, :] * np.cos(theta)[:, None]
    ys = cy + rho[None, :] * np.sin(theta)[:, None] / aspect
    samples = ndimage.map_coordinates(img.astype(np.float32, copy=False), np.stack([ys - 0.5, xs - 0.5]), order=1,
                                      mode="constant", cval=np.nan)
    with warnings.catch_warnings():  # rays wholly outside the image: "All-NaN slice"
        warnings.simplefilter("ignore", RuntimeWarning)
        prof = np.nanmedian(samples, axis=0)
    ok = np.isfinite(prof)
    if ok.sum() < 10:
        return BallProfile("none", 0.0, 0.0, 0.0, 0.0, 1.0, r, 0.0)
    pp = prof[ok]
    fine = np.arange(2 * rho.size) * (step / 2.0)  # fine[2 i] == rho[i]
    sigmas = (0.8, 1.3, 2.0, 3.0)
    r_grid = r * (1.0 + 0.004 * np.arange(-4, 13))
    best: dict[str, tuple[float, float, float, float, float]] = {}  # kind -> (nrms, a, b, R, sigma)
    for sigma in sigmas:
        chord = np.sqrt(np.clip(1.0 - (fine[None, :] / r_grid[:, None]) ** 2, 0.0, None))
        chord = ndimage.gaussian_filter1d(chord, sigma / (step / 2.0), axis=1, mode="mirror")[:, ::2][:, ok]
        r_step = r_grid[3:6]  # the edge fit is unbiased for a step: stay at its radius
        step_sh = 0.5 * erfc((rho[ok][None, :] - r_step[:, None]) / (sigma * math.sqrt(2.0)))
        for kind, shapes, radii in (("chord", chord, r_grid), ("opaque", step_sh, r_step)):
            fit = _linear_fits(shapes, pp)
            if fit is None:
                continue
            k, nrms, a, b = fit
            if kind not in best or nrms < best[kind][0]:
                best[kind] = (nrms, a, b, float(radii[k]), sigma)
    if not best:
        return BallProfile("none", 0.0, 0.0, float(np.median(pp)), 0.0, 1.0, r, 0.0)
    quality = {k: 1.0 / (1.0 + (v[0] / 0.05) ** 2) for k, v in best.items()}
    opacity = 0.0
    if "opaque" in best:
        _, a, b, _, _ = best["opaque"]
        span = hi_level - lo_level
        opacity = _smoothstep((b + a - lo_level) / span, 0.75, 0.92) if span > 1e-6 else 0.0
    like = {"opaque": quality.get("opaque", 0.0) * opacity, "chord": quality.get("chord", 0.0)}
    kind = max(like, key=like.get)
    if like[kind] <= 0.0:
        kind = "opaque" if "opaque" in best else "chord"
    nrms, a, b, R, sigma = best[kind]
    # texture: spread of the 2-D residuals inside 85 % of the radius, in units of the amplitude
    if kind == "opaque":
        model = b + a * 0.5 * erfc((rho - R) / (sigma * math.sqrt(2.0)))
    else:
        chord = ndimage.gaussian_filter1d(np.sqrt(np.clip(1.0 - (fine / R) ** 2, 0.0, None)), sigma / (step / 2.0), mode="mirror")
        model = b + a * chord[::2]
    inner = rho <= 0.85 * R
    res = samples[:, inner] - model[None, inner]
    res = res[np.isfinite(res)]
    texture = float(np.subtract(*np.percentile(res, [75, 25])) / 1.349 / a) if res.size > 20 else 1.0
    ballness = like[kind] * (1.0 / (1.0 + (texture / 0.35) ** 2))
    return BallProfile(kind, float(quality[kind]), a, b, float(opacity), texture, float(R), float(ballness),
                       float(quality.get("opaque", 0.0)), float(quality.get("chord", 0.0)))


def _linear_fits(shapes: np.ndarray, y: np.ndarray) -> tuple[int, float, float, float] | None:
    """Best of the least-squares fits ``y ≈ b + a · shapes[k]`` (a > 0): ``(k, rms / a, a, b)``."""
    n = y.size
    sm = shapes.mean(axis=1)
    ym = float(y.mean())
    ds = shapes - sm[:, None]
    var = (ds * ds).sum(axis=1)
    cov = ds @ (y - ym)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(var > 1e-12, cov / var, 0.0)
        rss = np.clip(((y - ym) ** 2).sum() - a * cov, 0.0, None)
        nrms = np.where(a > 1e-6, np.sqrt(rss / n) / a, np.inf)
    k = int(np.argmin(nrms))
    if not np.isfinite(nrms[k]):
        return None
    return k, float(nrms[k]), float(a[k]), float(ym - a[k] * sm[k])


# --------------------------------------------------------------------------- tags


def _tag_pair(value: Any, tag: str) -> tuple[float, float]:
    """Validate a (row, column) spacing pair: finite, positive, plausible; else CalibrationError."""
    try:
        pair = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise CalibrationError(
            f"{tag} is not numeric ({value!r}); the image cannot be scaled from it: {_OPTIONS}"
        ) from None
    if len(pair) != 2:
        raise CalibrationError(f"{tag} must have two values (row, column spacing), got {value!r}: {_OPTIONS}")
    lo, hi = SPACING_LIMITS_MM
    for v in pair:
        if not math.isfinite(v) or v <= 0:
            raise CalibrationError(
                f"{tag} is degenerate ({_fmt_pair(pair)} mm): zero, negative or not a number; "
                f"the modality wrote no usable scale. To measure, {_OPTIONS}"
            )
        if not lo <= v <= hi:
            raise CalibrationError(
                f"{tag} is implausible ({_fmt_pair(pair)} mm per pixel; a radiograph has "
                f"{lo:g}-{hi:g}); refusing it. To measure, {_OPTIONS}"
            )
    if not 0.25 <= pair[0] / pair[1] <= 4.0:
        raise CalibrationError(f"{tag} is implausibly anisotropic ({_fmt_pair(pair)} mm); refusing it. To measure, {_OPTIONS}")
    return (pair[0], pair[1])


def _fmt_pair(pair: Sequence[float]) -> str:
    return "\\".join(f"{v:g}" for v in pair)


def _unreadable_value(radiograph: Any, keyword: str) -> str | None:
    """The raw text of ``keyword`` if the DICOM header has it but it could not be read as numbers."""
    ds = getattr(radiograph, "dataset", None)
    try:
        if ds is None or keyword not in ds:
            return None
    except Exception:
        return None
    try:
        value = ds[keyword].value
    except Exception:  # a malformed element that pydicom cannot even parse
        return "unparseable"
    if value is None or (isinstance(value, (str, bytes)) and not value.strip()) or (isinstance(value, list) and not value):
        return None
    return str(value)[:40]


def _valid_pair(radiograph: Any, tags: SpacingTags, attr: str, keyword: str) -> tuple[float, float] | None:
    value = getattr(tags, attr)
    if value is None:
        raw = _unreadable_value(radiograph, keyword)
        if raw is not None:
            raise CalibrationError(f"{keyword} is present but not numeric ({raw!r}); refusing it. To measure, "
                                   f"{_options(radiograph)}")
        return None
    try:
        return _tag_pair(value, keyword)
    except CalibrationError as exc:
        raise CalibrationError(str(exc).replace(_OPTIONS, _options(radiograph))) from None


def _quiet_pair(value: Any) -> tuple[float, float] | None:
    """A valid spacing pair, or None (no message, no advice)."""
    if value is None:
        return None
    try:
        return _tag_pair(value, "spacing")
    except CalibrationError:
        return None


def _options(radiograph: Any, *, verb: str = "give") -> str:
    """What the user can do to calibrate this image: only options the tool then accepts.

    A known length always works; an assumed magnification only where there is a detector
    spacing to divide (``ImagerPixelSpacing``, or a ``PixelSpacing`` without calibration
    type); the pixel spacing at the anatomy (``--spacing``) where the image has no usable
    spacing (a bitmap, a DICOM without or with a degenerate spacing).

    Examples
    --------
    >>> class R: spacing = SpacingTags(); dataset = None
    >>> "--spacing" in _options(R()), "--assume-magnification" in _options(R())
    (True, False)
    """
    try:
        tags = _spacing(radiograph)
    except CalibrationError:
        tags = SpacingTags()
    known = "a known length between two points (--known-length X1 Y1 X2 Y2 MM)"
    detector = _quiet_pair(tags.imager_pixel_spacing_mm) is not None or (
        _quiet_pair(tags.pixel_spacing_mm) is not None and not (tags.pixel_spacing_calibration_type or "").strip()
    )
    if detector:
        return (f"{verb} {known} or an assumed magnification of the detector spacing (--assume-magnification M, "
                "e.g. 1.15), or place a calibration ball on the next film")
    return (f"{verb} {known} or the pixel spacing at the anatomy if it is known (--spacing MM), or place a "
            "calibration ball on the next film; an assumed magnification needs a detector spacing, which this "
            "image lacks")


def _valid_single(value: Any, keyword: str, lo: float, hi: float, issues: list[str]) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        issues.append(f"{keyword} is not numeric ({value!r}) and was ignored")
        return None
    if not (math.isfinite(v) and lo <= v <= hi):
        issues.append(f"{keyword} = {value!r} is outside the plausible range {lo:g}-{hi:g} and was ignored")
        return None
    return v


def _same_spacing(a: tuple[float, float], b: tuple[float, float], rel: float = 0.005) -> bool:
    return all(abs(x - y) <= rel * max(x, y) for x, y in zip(a, b))


def _detector_spacing(radiograph: Any) -> tuple[tuple[float, float], str] | None:
    """The detector-plane spacing (row, col) and its tag, if the header says what it is.

    ``ImagerPixelSpacing`` when valid; else a ``PixelSpacing`` without calibration type
    (which, per PS3.3 10.7.1.1, is then the detector spacing or undetermined).
    """
    tags = _spacing(radiograph)
    try:
        ips = _valid_pair(radiograph, tags, "imager_pixel_spacing_mm", "ImagerPixelSpacing")
    except CalibrationError:
        ips = None
    if ips is not None:
        return ips, "ImagerPixelSpacing"
    try:
        ps = _valid_pair(radiograph, tags, "pixel_spacing_mm", "PixelSpacing")
    except CalibrationError:
        ps = None
    if ps is not None and not (tags.pixel_spacing_calibration_type or "").strip():
        return ps, "PixelSpacing"
    return None


def _spacing(radiograph: Any) -> SpacingTags:
    tags = getattr(radiograph, "spacing", None)
    if tags is None:
        return SpacingTags()
    if not isinstance(tags, SpacingTags):
        raise CalibrationError(f"radiograph.spacing must be a SpacingTags, got {type(tags).__name__}")
    return tags


def from_dicom_tags(radiograph: Any) -> Calibration:
    """Anatomical scale from the DICOM spacing attributes, with an honest uncertainty.

    Rules, in order (``docs/calibration.md`` gives the reasoning and the standard's text):

    1. ``PixelSpacing`` with ``PixelSpacingCalibrationType`` FIDUCIAL (±2 %) or GEOMETRY
       (±5 %); a spacing given explicitly to the loader (type ``EXPLICIT``) gives source
       ``explicit-spacing`` (±5 %).
    2. ``ImagerPixelSpacing`` / ``EstimatedRadiographicMagnificationFactor`` (±5 %).
    3. ``ImagerPixelSpacing`` × ``DistanceSourceToPatient`` / ``DistanceSourceToDetector``
       (±7 %: the distance is to the patient's side, not the hip's plane).
    4. ``PixelSpacing`` that differs from ``ImagerPixelSpacing`` without a type: corrected by
       the modality by an unknown method (±7 %, warning).
    5. ``PixelSpacing`` without type (or equal to ``ImagerPixelSpacing``): the value as
       given, ±20 %, with a warning that it may be the detector spacing.
    6. ``ImagerPixelSpacing`` alone, or nothing: :class:`CalibrationError`.

    Degenerate values (zero, negative, NaN, non-numeric, outside 0.01-5 mm) are refused
    with a :class:`CalibrationError` naming the attribute. For anisotropic pixels
    ``mm_per_px`` is the column spacing (second value) and ``aspect_ratio`` row/column.

    Examples
    --------
    >>> from orthoplan.model import SpacingTags
    >>> class R: spacing = SpacingTags(imager_pixel_spacing_mm=(0.15, 0.15), estimated_magnification=1.2); dataset = None
    >>> cal = from_dicom_tags(R())
    >>> round(cal.mm_per_px, 4), cal.source.value, cal.uncertainty_pct
    (0.125, 'dicom-imager-spacing+ermf', 5.0)
    """
    tags = _spacing(radiograph)
    ps = _valid_pair(radiograph, tags, "pixel_spacing_mm", "PixelSpacing")
    ips = _valid_pair(radiograph, tags, "imager_pixel_spacing_mm", "ImagerPixelSpacing")
    ctype = (tags.pixel_spacing_calibration_type or "").strip().upper()
    issues: list[str] = []
    ermf = _valid_single(tags.estimated_magnification, "EstimatedRadiographicMagnificationFactor", *MAGNIFICATION_LIMITS, issues)
    sid = _valid_single(tags.source_to_detector_mm, "DistanceSourceToDetector", 300.0, 5000.0, issues)
    sod = _valid_single(tags.source_to_patient_mm, "DistanceSourceToPatient", 150.0, 5000.0, issues)
    base_details: dict[str, Any] = {
        "PixelSpacing": list(ps) if ps else None,
        "PixelSpacingCalibrationType": tags.pixel_spacing_calibration_type,
        "ImagerPixelSpacing": list(ips) if ips else None,
        "EstimatedRadiographicMagnificationFactor": ermf,
        "DistanceSourceToDetector": sid,
        "DistanceSourceToPatient": sod,
    }
    if tags.pixel_spacing_calibration_description:
        base_details["PixelSpacingCalibrationDescription"] = tags.pixel_spacing_calibration_description[:64]

    def make(pair, source, unc, rule, basis, magnification=None, warnings=(), assumed=False, **extra):
        details = {k: v for k, v in base_details.items() if v is not None}
        details.update(rule=rule, **extra)
        return Calibration(
            mm_per_px=pair[1],
            source=source,
            uncertainty_pct=unc,
            aspect_ratio=pair[0] / pair[1],
            magnification=magnification,
            spacing_basis=basis,
            assumed=assumed,
            details=details,
            warnings=tuple(warnings) + tuple(issues),
        )

    def mag_of(anat):
        return round(ips[1] / anat[1], 4) if ips else None

    ps_is_detector = ps is not None and ips is not None and _same_spacing(ps, ips)
    # 1. calibrated PixelSpacing
    if ps is not None and ctype == _EXPLICIT_TYPE:
        return make(ps, CalibrationSource.EXPLICIT_SPACING, UNCERTAINTY_PCT["explicit-spacing"], "explicit spacing given to the loader", "PixelSpacing")
    if ps is not None and ctype in ("FIDUCIAL", "GEOMETRY"):
        key = "pixel-spacing-fiducial" if ctype == "FIDUCIAL" else "pixel-spacing-geometry"
        warnings = []
        if ps_is_detector:
            warnings.append(
                f"PixelSpacing equals ImagerPixelSpacing although its calibration type is {ctype}; "
                "the modality may not have corrected for magnification"
            )
        return make(ps, CalibrationSource.DICOM_PIXEL_SPACING, UNCERTAINTY_PCT[key] if not ps_is_detector else UNCERTAINTY_PCT["pixel-spacing-unknown"],
                    f"PixelSpacing with PixelSpacingCalibrationType {ctype}", "PixelSpacing", mag_of(ps), warnings)
    # 2./3. imager spacing corrected by the modality's magnification estimate or distances
    if ips is not None and ermf is not None:
        anat = (ips[0] / ermf, ips[1] / ermf)
        warnings = []
        unc = UNCERTAINTY_PCT["imager-spacing-ermf"]
        if ermf == 1.0:
            warnings.append("EstimatedRadiographicMagnificationFactor is exactly 1.0, which often means 'not estimated'; "
                            "the scale is likely the detector spacing (anatomy up to ~20 % smaller)")
            unc = UNCERTAINTY_PCT["pixel-spacing-unknown"]
        if ps is not None and not ps_is_detector and not _same_spacing(ps, anat, 0.01):
            warnings.append(f"PixelSpacing ({_fmt_pair(ps)} mm) disagrees with ImagerPixelSpacing / "
                            f"EstimatedRadiographicMagnificationFactor ({_fmt_pair(anat)} mm); the latter is used")
        return make(anat, CalibrationSource.DICOM_IMAGER_SPACING_ERMF, unc,
                    "ImagerPixelSpacing / EstimatedRadiographicMagnificationFactor", "ImagerPixelSpacing", ermf, warnings)
    if ips is not None and sid is not None and sod is not None:
        m = sid / sod
        lo, hi = MAGNIFICATION_LIMITS
        if lo <= m <= hi:
            anat = (ips[0] / m, ips[1] / m)
            return make(anat, CalibrationSource.DICOM_IMAGER_SPACING_DISTANCES, UNCERTAINTY_PCT["imager-spacing-distances"],
                        "ImagerPixelSpacing x DistanceSourceToPatient / DistanceSourceToDetector", "ImagerPixelSpacing",
                        round(m, 4),
                        ["scale from the source distances: DistanceSourceToPatient is measured to the patient's "
                         "side or the table, not to the hip's plane (±7 %)"])
        issues.append(f"DistanceSourceToDetector / DistanceSourceToPatient = {m:.3f} is not a plausible magnification "
                      f"({lo:g}-{hi:g}); the distances were ignored")
    # 4./5. PixelSpacing without (known) calibration type
    if ps is not None:
        kind = f"calibration type {ctype!r} (not a DICOM defined term)" if ctype else "no PixelSpacingCalibrationType"
        if ips is not None and not ps_is_detector:
            return make(ps, CalibrationSource.DICOM_PIXEL_SPACING, UNCERTAINTY_PCT["pixel-spacing-corrected-untyped"],
                        "PixelSpacing differing from ImagerPixelSpacing (corrected, method unknown)", "PixelSpacing",
                        mag_of(ps),
                        [f"PixelSpacing differs from ImagerPixelSpacing but has {kind}: the modality corrected for "
                         "magnification by an unknown method and depth (±7 %)"])
        why = "equals ImagerPixelSpacing" if ps_is_detector else f"has {kind}"
        return make(ps, CalibrationSource.DICOM_PIXEL_SPACING, UNCERTAINTY_PCT["pixel-spacing-unknown"],
                    "PixelSpacing as given (may be the detector spacing)", "PixelSpacing", None,
                    [f"PixelSpacing {why}: it may be the detector spacing, so anatomy may be up to ~20 % smaller "
                     "than measured (typical magnification 1.1-1.25); ±20 % reported. For templating, "
                     + _options(radiograph, verb="use")],
                    may_be_detector_spacing=True, equals_imager_pixel_spacing=ps_is_detector)
    if ips is not None:
        extra = ("; " + "; ".join(issues)) if issues else ""
        raise CalibrationError(
            f"the image has a detector spacing only (ImagerPixelSpacing {_fmt_pair(ips)} mm, measured at the "
            f"detector, not at the anatomy) and no magnification{extra}; to measure, {_options(radiograph)}"
        )
    extra = ("; " + "; ".join(issues)) if issues else ""
    raise CalibrationError(f"the image has no pixel spacing (no PixelSpacing or ImagerPixelSpacing){extra}; to measure, "
                           f"{_options(radiograph)}")


# --------------------------------------------------------------------------- ball


def _ball_radius_range(radiograph: Any, diameter_mm: float) -> tuple[tuple[float, float] | None, str]:
    """Expected radius range (px along x) of a ball of ``diameter_mm``, and what it rests on."""
    tags = _spacing(radiograph)
    half = diameter_mm / 2.0
    try:
        ips = _valid_pair(radiograph, tags, "imager_pixel_spacing_mm", "ImagerPixelSpacing")
    except CalibrationError:
        ips = None
    if ips is not None:
        lo, hi = BALL_SEARCH_MAGNIFICATION
        return (0.95 * half * lo / ips[1], 1.05 * half * hi / ips[1]), "ImagerPixelSpacing"
    try:
        ps = _valid_pair(radiograph, tags, "pixel_spacing_mm", "PixelSpacing")
    except CalibrationError:
        ps = None
    if ps is not None:
        ctype = (tags.pixel_spacing_calibration_type or "").strip().upper()
        # anatomical spacing: the ball is off the hip's plane by a few %; untyped: may be detector
        lo, hi = (0.8, 1.25) if ctype in ("FIDUCIAL", "GEOMETRY", _EXPLICIT_TYPE) else (0.8, 1.55)
        return (half * lo / ps[1], half * hi / ps[1]), "PixelSpacing"
    return None, "none"


def _magnification_prior(cand: BallCandidate, diameter_mm: float, ref_spacing: float | None, typical: float) -> float:
    """Weight in (0, 1] favouring a ball whose implied magnification is typical."""
    if ref_spacing is None:
        return 1.0
    m = 2.0 * cand.radius_px * ref_spacing / diameter_mm
    return math.exp(-0.5 * (math.log(m / typical) / 0.12) ** 2)


def from_ball(
    radiograph: Any,
    diameter_mm: float = 25.0,
    *,
    candidate: BallCandidate | None = None,
    placement: Literal["unknown", "hip-level"] = "unknown",
    min_score: float = MIN_BALL_SCORE,
    ball_at: tuple[float, float] | None = None,
) -> Calibration:
    """Scale from a calibration ball of known diameter, found automatically.

    ``mm_per_px = diameter_mm / (2 r)``. The uncertainty combines the fit (twice the
    radius standard error plus a 0.5 px edge-bias allowance) and the ball's placement:
    8 % when ``"unknown"`` (a ball beside or between the thighs sits some ±3 cm off the
    hip's plane: ``M_ball / M_hip ≈ 1 + dz / SOD``), 3 % when placed ``"hip-level"``.

    Parameters
    ----------
    radiograph
        A :class:`orthoplan.model.Radiograph` (its ``display`` is searched).
    diameter_mm
        True diameter of the ball.
    candidate
        Use this candidate (e.g. chosen by a person from :func:`find_balls`) instead of
        searching.
    placement
        ``"unknown"`` or ``"hip-level"`` (the ball was placed at the height of the hip).
    min_score
        Candidates scoring below this are not balls.
    ball_at
        ``(x, y)`` in stored pixels: a person's choice among the candidates (see
        :func:`choose_candidate_at`): the acceptable candidate whose circle contains the
        point, the nearest centre if several do. The choice is the person's, so near-equal
        other candidates are no ambiguity (nothing is widened) and the details keep
        ``chosen_at``.

    Raises
    ------
    CalibrationError
        No round object of plausible size and good score was found; with ``ball_at``, no
        acceptable candidate there (the message says what lies there, or where the
        candidates are).

    Examples
    --------
    >>> cal = from_ball(rad, 25.0)          # doctest: +SKIP
    >>> cal.source.value, cal.details["radius_px"]  # doctest: +SKIP
    ('ball-marker', 95.8)
    """
    d = _check_positive(diameter_mm, "diameter_mm", 3.0, 150.0)
    if placement not in ("unknown", "hip-level"):
        raise CalibrationError(f"placement must be 'unknown' or 'hip-level', got {placement!r}")
    tags = _spacing(radiograph)
    aspect = _aspect_from_tags(radiograph)
    rng, basis = _ball_radius_range(radiograph, d)
    det = _detector_spacing(radiograph)
    others: list[BallCandidate] = []
    rejected: list[tuple[BallCandidate, str]] = []
    ambiguous: list[BallCandidate] = []
    ips = det[0][1] if det is not None and det[1] == "ImagerPixelSpacing" else None
    gate = _ball_magnification_gate(tags) if ips is not None else None

    def implied_m(c: BallCandidate) -> float | None:
        return 2.0 * c.radius_px * ips / d if ips is not None else None

    if candidate is None:
        # candidates far below the acceptance score need no fine pass
        found = find_balls(radiograph.display, radius_range_px=rng, max_candidates=8, aspect_ratio=aspect,
                           min_score=0.1 * min_score)
        ref = None
        typical = 1.15
        if ips is not None:
            ref = ips
            if gate is not None and tags.estimated_magnification:
                typical = min(max(float(tags.estimated_magnification), gate[0]), gate[1])
        elif basis == "PixelSpacing":
            ref = _valid_pair(radiograph, tags, "pixel_spacing_mm", "PixelSpacing")[1]
            typical = 1.0 if (tags.pixel_spacing_calibration_type or "").strip() else 1.1
        ranked = sorted(found, key=lambda c: c.score * _magnification_prior(c, d, ref, typical), reverse=True)
        good: list[BallCandidate] = []
        for c in ranked:
            why = _not_a_ball_reason(c, min_score, implied_m(c), gate, d)
            if why is None:
                good.append(c)
            else:
                rejected.append((c, why))
        if ball_at is not None:
            candidate = choose_candidate_at(ball_at, good, rejected, d)
            others = [c for c in ranked if c is not candidate]
        elif not good:
            best = ""
            strong = [(c, why) for c, why in rejected if c.score >= min_score]
            if strong:
                c, why = strong[0]
                best = f" (a round object of radius {c.radius_px:.0f} px at x={c.x:.0f}, y={c.y:.0f} {why})"
            elif ranked:
                best = f" (best score {ranked[0].score:.2f} < {min_score:g})"
            where = f"radius {rng[0]:.0f}-{rng[1]:.0f} px from {basis}" if rng else "a wide radius range"
            raise CalibrationError(f"no {d:g} mm calibration ball found (searched {where}){best}; "
                                   "give a known length or object, or check the ball is fully in the image")
        else:
            candidate = good[0]
            others = [c for c in ranked if c is not candidate]
            ambiguous = [c for c in good[1:] if c.score >= AMBIGUITY_SCORE_RATIO * candidate.score]
    else:
        if not isinstance(candidate, BallCandidate) or not (candidate.radius_px > 0):
            raise CalibrationError(f"candidate must be a BallCandidate with a positive radius, got {candidate!r}")
    r = candidate.radius_px
    mm_per_px = d / (2.0 * r)
    bias_px = EDGE_BIAS_PX if candidate.profile != "chord" else DOME_EDGE_BIAS_PX
    fit_pct = 100.0 * math.hypot(2.0 * candidate.radius_se_px, bias_px) / r
    place_pct = UNCERTAINTY_PCT["ball-placement-unknown" if placement == "unknown" else "ball-placement-hip-level"]
    unc = math.hypot(fit_pct, place_pct)
    warnings: list[str] = []

    def where(c: BallCandidate) -> str:
        return f"radius {c.radius_px:.1f} px, score {c.score:.2f}, at x={c.x:.0f}, y={c.y:.0f}"

    ambiguous_with = []
    for c in ambiguous:
        s_c = d / (2.0 * c.radius_px)
        u_c = math.hypot(100.0 * math.hypot(2.0 * c.radius_se_px, bias_px) / c.radius_px, place_pct)
        diff = 100.0 * (s_c / mm_per_px - 1.0)
        ambiguous_with.append({**c.to_dict(), "mm_per_px": round(s_c, 6), "difference_pct": round(diff, 2)})
        x1, x2 = c.x - c.radius_px, c.x + c.radius_px
        use_other = f"--known-length {x1:.0f} {c.y:.0f} {x2:.0f} {c.y:.0f} {d:g}"
        choose = (f"choose the ball with --ball-at {candidate.x:.0f},{candidate.y:.0f} (the chosen one) or "
                  f"--ball-at {c.x:.0f},{c.y:.0f} (the other)")
        if abs(diff) <= 1.0:
            warnings.append(
                f"ambiguous calibration ball: two candidates of the same size score alike as a {d:g} mm ball, the "
                f"chosen one ({where(candidate)}) and another ({where(c)}); the scale is the same either way "
                f"({diff:+.1f} %), but check that they are {d:g} mm balls; {choose}"
            )
            continue
        # widen the interval around the chosen scale until it holds the other one's interval too
        hi = 100.0 * (s_c * (1 + u_c / 100.0) / mm_per_px - 1.0)
        lo = 100.0 * (1.0 - s_c * (1 - u_c / 100.0) / mm_per_px)
        unc = max(unc, hi, lo)
        warnings.append(
            f"ambiguous calibration ball: two round objects score alike as a {d:g} mm ball, the chosen one "
            f"({where(candidate)}: {mm_per_px:.4f} mm/px) and another ({where(c)}: {s_c:.4f} mm/px, {diff:+.1f} %); "
            f"the uncertainty is widened to ±{unc:.1f} % to cover both. Check which is the ball and {choose}; "
            f"or measure across the other: {use_other}"
        )
    amb_ids = {id(c) for c in ambiguous}
    strong = [c for c in others if id(c) not in amb_ids and c.score >= min_score and c.score >= 0.7 * candidate.score]
    if ball_at is not None:
        strong = []  # a person chose this one among them
    reasons = {id(c): why for c, why in rejected}
    for c in strong[:1]:
        if id(c) in reasons and reasons[id(c)].startswith("implies"):
            warnings.append(
                f"two round objects found: the chosen one ({where(candidate)}) and another ({where(c)}) that "
                f"{reasons[id(c)]}: not taken for the {d:g} mm ball"
            )
        elif abs(c.radius_px - r) > 0.05 * r:
            warnings.append(
                f"two round objects found: the chosen one ({where(candidate)}) and another ({where(c)}); check that "
                f"the chosen one is the {d:g} mm ball"
            )
    magnification = None
    if ips is not None:
        magnification = round(ips / mm_per_px, 4)
    details = {
        "center_xy": [round(candidate.x, 3), round(candidate.y, 3)],
        "radius_px": round(r, 3),
        "radius_se_px": round(candidate.radius_se_px, 4),
        "diameter_mm": d,
        "score": round(candidate.score, 3),
        "profile": candidate.profile,
        "visible_fraction": round(candidate.visible_fraction, 3),
        "rms_px": round(candidate.rms_px, 3),
        "n_edge_points": candidate.n_edge_points,
        "placement": placement,
        "fit_uncertainty_pct": round(fit_pct, 3),
        "placement_uncertainty_pct": place_pct,
        "other_candidates": [c.to_dict() for c in others[:4]],
    }
    if gate is not None:
        details["magnification_limits"] = list(gate)
    if ball_at is not None:
        details["chosen_at"] = [float(ball_at[0]), float(ball_at[1])]
    if ambiguous_with:
        details["ambiguous_with"] = ambiguous_with
    if rejected:
        details["rejected_candidates"] = [{**c.to_dict(), "reason": why} for c, why in rejected[:4] if c.score >= 0.1]
    return Calibration(
        mm_per_px=mm_per_px,
        source=CalibrationSource.BALL_MARKER,
        uncertainty_pct=round(unc, 3),
        aspect_ratio=aspect,
        magnification=magnification,
        spacing_basis="image",
        details=details,
        warnings=tuple(warnings),
    )


def choose_candidate_at(point: tuple[float, float], good: Sequence[BallCandidate],
                        rejected: Sequence[tuple[BallCandidate, str]], diameter_mm: float) -> BallCandidate:
    """The acceptable candidate whose circle holds ``point`` (stored pixels): the nearest centre
    if several do.

    Raises
    ------
    CalibrationError
        None there: the message says why a rejected candidate there is no ball, or lists where
        the acceptable candidates are.

    Examples
    --------
    >>> a = BallCandidate(100.0, 100.0, 20.0, 0.9)
    >>> b = BallCandidate(300.0, 100.0, 25.0, 0.9)
    >>> choose_candidate_at((310, 95), [a, b], [], 25.0) is b
    True
    """
    try:
        x, y = (float(v) for v in point)
    except (TypeError, ValueError):
        raise CalibrationError(f"the ball's position must be two numbers x,y in pixels, got {point!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise CalibrationError(f"the ball's position must be finite pixels, got {x!r},{y!r}")

    def distance(c: BallCandidate) -> float:
        return math.hypot(c.x - x, c.y - y)

    here = sorted((c for c in good if distance(c) <= c.radius_px), key=distance)
    if here:
        return here[0]
    there = sorted(((c, why) for c, why in rejected if distance(c) <= c.radius_px), key=lambda p: distance(p[0]))
    if there:
        c, why = there[0]
        raise CalibrationError(
            f"the round object at x={c.x:.0f}, y={c.y:.0f} (radius {c.radius_px:.0f} px) is not taken for the "
            f"{diameter_mm:g} mm ball: it {why}; give a known length (--known-length) instead")
    listed = "; ".join(f"x={c.x:.0f}, y={c.y:.0f} (radius {c.radius_px:.0f} px)" for c in good[:4])
    raise CalibrationError(
        f"no {diameter_mm:g} mm calibration ball at x={x:.0f}, y={y:.0f}"
        + (f": the candidates are at {listed}" if listed else ": no candidate was found in the image")
        + "; give --ball-at inside one of them, or a known length")


def _ball_magnification_gate(tags: SpacingTags) -> tuple[float, float]:
    """The magnifications (detector spacing / ball scale) a calibration ball can have on this film.

    From the detector (1.0) to a ball on the front of a large patient (1.35); with an
    ``EstimatedRadiographicMagnificationFactor`` the range is also kept within ±15 % of it
    (the ball lies within some ±15 cm of the plane the modality meant).
    """
    lo, hi = BALL_MAGNIFICATION_LIMITS
    ermf = tags.estimated_magnification
    try:
        m = float(ermf) if ermf is not None else None
    except (TypeError, ValueError):
        m = None
    if m is not None and MAGNIFICATION_LIMITS[0] < m <= MAGNIFICATION_LIMITS[1]:
        lo2, hi2 = max(lo, m / 1.15), min(hi, m * 1.15)
        if lo2 < hi2:
            lo, hi = lo2, hi2
    return (round(lo, 4), round(hi, 4))


def _not_a_ball_reason(c: BallCandidate, min_score: float, implied: float | None,
                       gate: tuple[float, float] | None, d: float) -> str | None:
    """Why a candidate is not taken for the ball, or None if it may be the ball."""
    if c.score < min_score:
        return f"scores {c.score:.2f} as a ball (< {min_score:g})"
    need = MIN_BALL_EDGE_FRACTION if c.profile != "chord" else MIN_DOME_EDGE_FRACTION
    if c.edge_fraction < need:
        return (f"has an outline interrupted on {100 * (1 - c.edge_fraction):.0f} % of its rim, like a prosthetic "
                "head on its neck; if it is of known size, use it as a known object")
    if c.visible_fraction < MIN_BALL_VISIBLE_FRACTION:
        return f"shows only {100 * c.visible_fraction:.0f} % of its rim on the film (cut by the edge)"
    if implied is not None and gate is not None and not gate[0] <= implied <= gate[1]:
        return (f"implies a magnification of {implied:.2f} (ImagerPixelSpacing / its scale as a {d:g} mm ball), "
                f"outside the {gate[0]:g}-{gate[1]:g} a ball can have on this film")
    return None


def _aspect_from_tags(radiograph: Any) -> float:
    """Row/column spacing ratio from whichever spacing tag is valid (1.0 if none)."""
    tags = _spacing(radiograph)
    for attr, kw in (("imager_pixel_spacing_mm", "ImagerPixelSpacing"), ("pixel_spacing_mm", "PixelSpacing")):
        try:
            pair = _valid_pair(radiograph, tags, attr, kw)
        except CalibrationError:
            continue
        if pair is not None:
            return pair[0] / pair[1]
    return 1.0


def _check_positive(value: Any, name: str, lo: float, hi: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise CalibrationError(f"{name} must be a number, got {value!r}") from None
    if not (math.isfinite(v) and lo <= v <= hi):
        raise CalibrationError(f"{name} must be between {lo:g} and {hi:g}, got {value!r}")
    return v


# --------------------------------------------------------------------------- known length / object


def from_known_length(
    p1_xy: Sequence[float],
    p2_xy: Sequence[float],
    length_mm: float,
    *,
    click_error_px: float = 1.0,
    plane_uncertainty_pct: float = 0.0,
    aspect_ratio: float = 1.0,
) -> Calibration:
    """Scale from two image points a known distance apart (a ruler, a marked rod).

    ``mm_per_px = length_mm / |p2 - p1|`` (the y component scaled by ``aspect_ratio``).
    Uncertainty (95 %): ``2 √2 · click_error_px / length_px`` from the two clicks,
    combined with ``plane_uncertainty_pct`` (the object off the hip's plane).

    Examples
    --------
    >>> cal = from_known_length((0, 0), (300, 400), 100.0, click_error_px=1.0)
    >>> round(cal.mm_per_px, 3), round(cal.uncertainty_pct, 2)
    (0.2, 0.57)
    """
    try:
        a = np.asarray(p1_xy, dtype=float).reshape(2)
        b = np.asarray(p2_xy, dtype=float).reshape(2)
    except (TypeError, ValueError):
        raise CalibrationError(f"known length: points must be (x, y) pairs, got {p1_xy!r} and {p2_xy!r}") from None
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise CalibrationError("known length: point coordinates must be finite numbers")
    length = _check_positive(length_mm, "length_mm", 1e-3, 1e5)
    click = _check_positive(click_error_px, "click_error_px", 0.0, 1e3)
    plane = _check_positive(plane_uncertainty_pct, "plane_uncertainty_pct", 0.0, 100.0)
    aspect = _check_positive(aspect_ratio, "aspect_ratio", 0.1, 10.0)
    length_px = math.hypot(b[0] - a[0], (b[1] - a[1]) * aspect)
    if length_px < 5.0:
        raise CalibrationError(f"known length: the two points are {length_px:.1f} px apart; place them at least 5 px apart")
    lo, hi = SPACING_LIMITS_MM
    if not (math.isfinite(length_px) and lo <= length / length_px <= hi):
        raise CalibrationError(
            f"known length: {length:g} mm over {length_px:.4g} px is {length / length_px:.3g} mm per pixel, outside "
            f"what a radiograph has ({lo:g}-{hi:g}); check the two points and the length"
        )
    fit_pct = 100.0 * 2.0 * math.sqrt(2.0) * click / length_px
    return Calibration(
        mm_per_px=length / length_px,
        source=CalibrationSource.KNOWN_LENGTH,
        uncertainty_pct=round(math.hypot(fit_pct, plane), 4),
        aspect_ratio=aspect,
        spacing_basis="image",
        details={
            "p1_xy": [float(a[0]), float(a[1])],
            "p2_xy": [float(b[0]), float(b[1])],
            "length_mm": length,
            "length_px": round(length_px, 4),
            "click_error_px": click,
            "plane_uncertainty_pct": plane,
        },
    )


def from_known_object(
    radiograph: Any,
    approx_xy: Sequence[float],
    diameter_mm: float,
    *,
    search_radius_px: float | None = None,
    plane_uncertainty_pct: float = UNCERTAINTY_PCT["known-object-plane"],
) -> Calibration:
    """Scale from a round object of known diameter near a click (e.g. a 32 mm prosthetic head).

    The circle edge is fitted as for the ball (:func:`find_balls` on a window around the
    click); the candidate that contains the click, or is nearest to it, is used.

    Parameters
    ----------
    approx_xy
        A click inside (or on) the object, image coordinates.
    diameter_mm
        The object's true diameter.
    search_radius_px
        Half-size of the searched window; default 1.6 x the largest expected radius from
        the spacing tags, or 15 % of the smaller image side.
    plane_uncertainty_pct
        The object's distance from the plane of interest (2 % for a prosthetic head at the
        hip).

    Examples
    --------
    >>> cal = from_known_object(rad, (812, 640), 32.0)   # doctest: +SKIP
    >>> cal.source.value                                  # doctest: +SKIP
    'known-object'
    """
    d = _check_positive(diameter_mm, "diameter_mm", 1.0, 300.0)
    try:
        cx, cy = (float(v) for v in approx_xy)
    except (TypeError, ValueError):
        raise CalibrationError(f"approx_xy must be an (x, y) pair, got {approx_xy!r}") from None
    img = np.asarray(radiograph.display)
    rows, cols = img.shape
    if not (0 <= cx <= cols and 0 <= cy <= rows):
        raise CalibrationError(f"approx_xy ({cx:.0f}, {cy:.0f}) is outside the image ({cols} x {rows} px)")
    aspect = _aspect_from_tags(radiograph)
    rng, _basis = _ball_radius_range(radiograph, d)
    if search_radius_px is None:
        search = 1.6 * rng[1] if rng else 0.15 * min(rows, cols)
    else:
        search = _check_positive(search_radius_px, "search_radius_px", 4.0, 1e5)
    rlo, rhi = (rng if rng else (4.0, search))
    rhi = min(rhi, search)
    rlo = min(rlo, rhi)
    r0, r1 = max(0, int(cy - search / aspect)), min(rows, int(math.ceil(cy + search / aspect)))
    c0, c1 = max(0, int(cx - search)), min(cols, int(math.ceil(cx + search)))
    window = img[r0:r1, c0:c1]
    if min(window.shape) < 16:
        raise CalibrationError("the search window around the click is too small; click inside the object")
    found = find_balls(window, radius_range_px=(rlo, rhi), max_candidates=8, aspect_ratio=aspect)
    found = [replace(c, x=c.x + c0, y=c.y + r0) for c in found if c.score >= 0.25]
    if not found:
        raise CalibrationError(
            f"no round object of {d:g} mm found near ({cx:.0f}, {cy:.0f}); click inside it, or give search_radius_px"
        )

    def dist(c: BallCandidate) -> float:
        return math.hypot(c.x - cx, (c.y - cy) * aspect)

    inside = [c for c in found if dist(c) <= c.radius_px * 1.05]
    best = max(inside, key=lambda c: c.score) if inside else min(found, key=dist)
    if not inside and dist(best) > 2 * best.radius_px:
        raise CalibrationError(f"no round object found at ({cx:.0f}, {cy:.0f}); the nearest is {dist(best):.0f} px away")
    r = best.radius_px
    fit_pct = 100.0 * math.hypot(2.0 * best.radius_se_px, EDGE_BIAS_PX) / r
    plane = _check_positive(plane_uncertainty_pct, "plane_uncertainty_pct", 0.0, 100.0)
    det = _detector_spacing(radiograph)
    mm_per_px = d / (2.0 * r)
    warnings = []
    if best.score < MIN_BALL_SCORE:
        warnings.append(f"the object's edge fit is weak (score {best.score:.2f}); check the fitted circle")
    return Calibration(
        mm_per_px=mm_per_px,
        source=CalibrationSource.KNOWN_OBJECT,
        uncertainty_pct=round(math.hypot(fit_pct, plane), 3),
        aspect_ratio=aspect,
        magnification=round(det[0][1] / mm_per_px, 4) if det and det[1] == "ImagerPixelSpacing" else None,
        spacing_basis="image",
        details={
            "center_xy": [round(best.x, 3), round(best.y, 3)],
            "radius_px": round(r, 3),
            "radius_se_px": round(best.radius_se_px, 4),
            "diameter_mm": d,
            "score": round(best.score, 3),
            "rms_px": round(best.rms_px, 3),
            "n_edge_points": best.n_edge_points,
            "click_xy": [cx, cy],
            "fit_uncertainty_pct": round(fit_pct, 3),
            "plane_uncertainty_pct": plane,
        },
        warnings=tuple(warnings),
    )


# --------------------------------------------------------------------------- assumed magnification


def from_assumed_magnification(
    radiograph: Any, magnification: float, *, uncertainty_pct: float = UNCERTAINTY_PCT["assumed-magnification"]
) -> Calibration:
    """Detector spacing divided by an assumed magnification (the caller opted in).

    Uses ``ImagerPixelSpacing``, or a ``PixelSpacing`` without calibration type (taken to
    be the detector spacing). Flagged ``assumed``; a warning says so, and the label reads
    ``"ASSUMED SCALE — ..."``. The uncertainty (default ±10 %) reflects that a fixed
    magnification is wrong by up to ~10 % for individual patients.

    Examples
    --------
    >>> from orthoplan.model import SpacingTags
    >>> class R: spacing = SpacingTags(imager_pixel_spacing_mm=(0.15, 0.15)); dataset = None
    >>> cal = from_assumed_magnification(R(), 1.2)
    >>> round(cal.mm_per_px, 4), cal.assumed, cal.label.startswith("ASSUMED")
    (0.125, True, True)
    """
    m = _check_positive(magnification, "magnification", *MAGNIFICATION_LIMITS)
    unc = _check_positive(uncertainty_pct, "uncertainty_pct", 0.0, 100.0)
    tags = _spacing(radiograph)
    ips = _valid_pair(radiograph, tags, "imager_pixel_spacing_mm", "ImagerPixelSpacing")
    if ips is not None:
        pair, basis = ips, "ImagerPixelSpacing"
    else:
        ps = _valid_pair(radiograph, tags, "pixel_spacing_mm", "PixelSpacing")
        ctype = (tags.pixel_spacing_calibration_type or "").strip()
        if ps is None:
            raise CalibrationError(
                "an assumed magnification needs a detector spacing, and the image has no ImagerPixelSpacing or "
                f"PixelSpacing; instead, {_options(radiograph)}"
            )
        if ctype:
            raise CalibrationError(
                f"PixelSpacing is already corrected for magnification (calibration type {ctype}); dividing it by an "
                "assumed magnification would count it twice — use the DICOM calibration (from_dicom_tags) instead"
            )
        pair, basis = ps, "PixelSpacing"
    extra_warnings: tuple[str, ...] = ()
    if basis == "PixelSpacing":
        extra_warnings = (
            "PixelSpacing has no calibration type and is taken as the detector spacing (DICOM PS3.3 10.7.1.1); "
            f"if the modality had already corrected it for magnification, the anatomy is {100 * (m - 1):.0f} % "
            "larger than this assumed scale says",
        )
    return Calibration(
        mm_per_px=pair[1] / m,
        source=CalibrationSource.ASSUMED_MAGNIFICATION,
        uncertainty_pct=unc,
        aspect_ratio=pair[0] / pair[1],
        magnification=m,
        spacing_basis=basis,
        assumed=True,
        details={"detector_spacing_mm": list(pair), "detector_spacing_tag": basis, "assumed_magnification": m},
        warnings=(
            f"ASSUMED SCALE: {basis} divided by an assumed magnification of {m:g}, not measured on this image; "
            f"sizes may be off by ±{unc:g} % or more",
        ) + extra_warnings,
    )


# --------------------------------------------------------------------------- orchestration


def compare(a: Calibration, b: Calibration, tolerance_pct: float = 3.0) -> str | None:
    """A warning text if two calibrations of the same image differ by more than ``tolerance_pct``.

    The difference is ``a / b - 1`` of ``mm_per_px``. Nothing is resolved: the caller
    decides which to keep and reports the text.

    Examples
    --------
    >>> a = Calibration(0.130, "ball-marker", 8.0); b = Calibration(0.125, "dicom-imager-spacing+ermf", 5.0)
    >>> compare(a, b) is not None, compare(a, b, tolerance_pct=5.0)
    (True, None)
    """
    tol = float(tolerance_pct)
    diff = 100.0 * (a.mm_per_px / b.mm_per_px - 1.0)
    if abs(diff) <= tol:
        return None
    return (
        f"scales disagree: {a.source.value} gives {a.mm_per_px:.4f} mm/px and {b.source.value} gives "
        f"{b.mm_per_px:.4f} mm/px ({diff:+.1f} %, more than {tol:g} %)"
    )


def _parse_known_length(known_length: Any) -> tuple[Any, Any, float, dict[str, Any]]:
    if isinstance(known_length, Mapping):
        try:
            p1, p2, length = known_length["p1"], known_length["p2"], known_length["length_mm"]
        except KeyError:
            raise CalibrationError('known_length must be {"p1": [x, y], "p2": [x, y], "length_mm": L}') from None
        extra = {k: known_length[k] for k in ("click_error_px", "plane_uncertainty_pct") if k in known_length}
        return p1, p2, length, extra
    try:
        p1, p2, length = known_length
    except (TypeError, ValueError):
        raise CalibrationError("known_length must be ((x1, y1), (x2, y2), length_mm)") from None
    return p1, p2, length, {}


def calibrate(
    radiograph: Any,
    *,
    ball_diameter_mm: float | None = 25.0,
    known_length: Any = None,
    assume_magnification: float | None = None,
    ball_placement: Literal["unknown", "hip-level"] = "unknown",
    ball_at: tuple[float, float] | None = None,
) -> Calibration:
    """The best available scale of ``radiograph``, never silent about its basis.

    Order: a known length if given; else a calibration ball of ``ball_diameter_mm`` if
    one is found with a good score; else the DICOM tags (:func:`from_dicom_tags`); else an
    assumed magnification if the caller opted in; else :class:`CalibrationError`.

    A measured scale (ball, known length) is compared with an anatomical DICOM scale if
    there is one: a difference over 3 % is reported in ``warnings`` and the measured scale
    is kept. A detector-only spacing is no contradiction (it differs by the magnification);
    the magnification implied (detector spacing / measured mm per px) is recorded.

    Parameters
    ----------
    known_length
        ``((x1, y1), (x2, y2), length_mm)`` or ``{"p1":…, "p2":…, "length_mm":…}``.
    ball_diameter_mm
        Diameter of the calibration ball to look for; ``None`` to skip the search.
    assume_magnification
        Opt in to ``detector spacing / assume_magnification`` as the last resort.
    ball_placement
        ``"unknown"`` (±8 %) or ``"hip-level"`` (±3 %).
    ball_at
        ``(x, y)`` (stored pixels) inside the ball to use, where the search finds several
        candidates (:func:`from_ball`); no ball there is an error, never a fall-back to
        another scale. Needs the ball search (not with ``known_length`` or
        ``ball_diameter_mm=None``).

    Examples
    --------
    >>> cal = calibrate(rad, ball_diameter_mm=25.0)   # doctest: +SKIP
    >>> cal.label                                      # doctest: +SKIP
    'ball-marker: 0.1304 mm/px ±8.0%'
    """
    if assume_magnification is not None:
        assume_magnification = _check_positive(assume_magnification, "assume_magnification", *MAGNIFICATION_LIMITS)
    reasons: list[str] = []
    measured: Calibration | None = None
    if ball_at is not None and (known_length is not None or ball_diameter_mm is None):
        raise CalibrationError("the ball's position (--ball-at) chooses a calibration ball: it cannot be combined "
                               "with a known length or --no-ball")
    if ball_at is not None:
        measured = from_ball(radiograph, ball_diameter_mm, placement=ball_placement, ball_at=ball_at)
    elif known_length is not None:
        p1, p2, length, extra = _parse_known_length(known_length)
        measured = from_known_length(p1, p2, length, aspect_ratio=_aspect_from_tags(radiograph), **extra)
    elif ball_diameter_mm is not None:
        try:
            measured = from_ball(radiograph, ball_diameter_mm, placement=ball_placement)
        except CalibrationError as exc:
            reasons.append(str(exc))
            logger.info("no calibration ball used: %s", exc)
    if measured is not None:
        cal = _cross_check(radiograph, measured)
        if assume_magnification is not None:
            cal = _with_warning(cal, f"the assumed magnification {assume_magnification:g} is not used: the "
                                     f"{cal.source.value} scale is measured on this image")
        return cal
    try:
        tag_cal: Calibration | None = from_dicom_tags(radiograph)
    except CalibrationError as exc:
        reasons.append(str(exc))
        tag_cal = None
    if assume_magnification is None:
        if tag_cal is None:
            raise CalibrationError("; ".join(_dedupe(reasons)))
        cal = tag_cal
    elif tag_cal is not None and tag_cal.uncertainty_pct <= UNCERTAINTY_PCT["assumed-magnification"]:
        # the modality's own calibration is better evidence than an assumption
        cal = _with_warning(tag_cal, f"the assumed magnification {assume_magnification:g} is not used: the image's "
                                     f"{tag_cal.source.value} scale (±{tag_cal.uncertainty_pct:g} %) is better "
                                     f"than an assumed one (±{UNCERTAINTY_PCT['assumed-magnification']:g} %)")
    else:
        try:
            cal = from_assumed_magnification(radiograph, assume_magnification)
        except CalibrationError as exc:
            if tag_cal is None:
                why = (f"the assumed magnification {assume_magnification:g} cannot be used either: the image has no "
                       "detector spacing to divide" if "detector spacing" in str(exc) else str(exc))
                raise CalibrationError("; ".join(_dedupe(reasons + [why]))) from None
            cal = _with_warning(tag_cal, f"the assumed magnification {assume_magnification:g} is not used: {exc}")
        else:
            if tag_cal is not None:
                cal = replace(cal, details={**cal.details, "replaces": {"source": tag_cal.source.value,
                                                                          "mm_per_px": tag_cal.mm_per_px,
                                                                          "uncertainty_pct": tag_cal.uncertainty_pct}})
                cal = _with_warning(cal, f"the assumed magnification replaces the {tag_cal.source.value} scale "
                                         f"({tag_cal.mm_per_px:.4f} mm/px ±{tag_cal.uncertainty_pct:g} %), as asked")
    if ball_diameter_mm is not None and reasons:
        cal = _with_warning(cal, f"no {ball_diameter_mm:g} mm calibration ball found; {cal.source.value} used")
    return cal


def _with_warning(cal: Calibration, text: str) -> Calibration:
    return replace(cal, warnings=cal.warnings + (text,))


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _cross_check(radiograph: Any, measured: Calibration) -> Calibration:
    """Add the DICOM comparison and the implied magnification to a measured calibration."""
    warnings = list(measured.warnings)
    details = dict(measured.details)
    magnification = measured.magnification
    det = _detector_spacing(radiograph)
    if det is not None and magnification is None and det[1] == "ImagerPixelSpacing":
        magnification = round(det[0][1] / measured.mm_per_px, 4)
    try:
        tag_cal = from_dicom_tags(radiograph)
    except CalibrationError as exc:
        details["dicom_tags"] = f"not usable: {str(exc)[:160]}"
        tag_cal = None
    if tag_cal is not None:
        details["dicom_tags"] = {"source": tag_cal.source.value, "mm_per_px": tag_cal.mm_per_px, "uncertainty_pct": tag_cal.uncertainty_pct}
        if tag_cal.details.get("equals_imager_pixel_spacing"):
            details["dicom_tags"]["note"] = "PixelSpacing equals ImagerPixelSpacing (detector plane): not compared"
        else:
            text = compare(measured, tag_cal, 3.0)
            if text:
                hint = (" (that PixelSpacing may be the detector spacing)" if tag_cal.details.get("may_be_detector_spacing") else "")
                warnings.append(
                    f"{text}{hint}; the {measured.source.value} scale is used — check the marker's placement and "
                    "the modality's calibration"
                )
    if magnification is not None and not (0.95 <= magnification <= 1.6):
        warnings.append(f"the implied magnification {magnification:.3f} (detector spacing / measured scale) is unusual")
    return replace(measured, magnification=magnification, details=details, warnings=tuple(warnings))
