"""Femoral heads: a polarity-aware circular Hough search, then a sub-pixel circle fit.

The search runs on a working image of about 1 mm per pixel. Every edge pixel votes,
for each radius of the expected range (femoral head 40–60 mm in diameter), for the
centre lying that far along its gradient *towards the brighter side*: a femoral head
is brighter inside than out, so the dark obturator foramen or the inner rim of the
acetabulum do not vote for it. The best few centres are refined on a ~0.2 mm image (finer
adds time, not accuracy: the edges are located to a fraction of a pixel): up to three
bright→dark steps are found along 240 rays from the candidate centre, with sub-pixel
precision, and a vectorised RANSAC circle followed by least-squares refits
(:func:`orthoplan.geometry.fit_circle`) gives the head circle.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from ..geometry import xy_from_rc
from .common import CircleFit, crop, largest_gap_deg, robust_circle, sample

log = logging.getLogger(__name__)

#: Femoral head diameter range in mm at the anatomy (adult).
HEAD_DIAMETER_MM = (40.0, 60.0)


@dataclass(frozen=True)
class HeadCandidate:
    """A circle that may be a femoral head, in full-resolution image coordinates."""

    x: float
    y: float
    r: float
    votes: float  #: Hough support: fraction of the circumference with a consistent edge
    fit: CircleFit | None = None
    confidence: float = 0.0
    notes: tuple[str, ...] = field(default=())

    @property
    def xy(self) -> tuple[float, float]:
        return (self.x, self.y)


def gradient(image: np.ndarray, sigma: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``(gx, gy)`` of a Gaussian-smoothed image (x along columns, y along rows)."""
    from scipy.ndimage import gaussian_filter, sobel

    s = gaussian_filter(np.asarray(image, dtype=np.float32), sigma)
    return sobel(s, axis=1) / 8.0, sobel(s, axis=0) / 8.0


def edge_mask(image: np.ndarray, sigma: float = 1.5, mask: np.ndarray | None = None) -> np.ndarray:
    """Canny edges with quantile thresholds (robust to exposure and windowing).

    The quantiles are taken inside ``mask`` (the anatomy): flat collimated or metal areas
    would otherwise lower them and let noise through.
    """
    from skimage.feature import canny

    if mask is not None and mask.all():
        mask = None  # the same edges (canny erodes an all-true mask to its border anyway), less work
    return canny(np.asarray(image, dtype=np.float32), sigma=sigma, low_threshold=0.75,
                 high_threshold=0.9, use_quantiles=True, mask=mask)


def hough_bright_circles(
    image: np.ndarray,
    radii: np.ndarray,
    *,
    sigma: float = 1.5,
    mask: np.ndarray | None = None,
    num_peaks: int = 8,
    min_distance: int | None = None,
    threshold: float = 0.15,
) -> list[tuple[float, float, float, float]]:
    """Centres of bright discs of radius in ``radii`` (working pixels).

    Each Canny edge pixel votes for the centre ``r`` pixels along its gradient, towards
    the brighter side. Votes are normalised by the circumference, so a score of 1
    means a full circle of consistent edges.

    Returns
    -------
    list of ``(x, y, r, score)`` in image coordinates of ``image``, best first.
    """
    from skimage.feature import peak_local_max

    img = np.asarray(image, dtype=np.float32)
    h, w = img.shape
    edges = edge_mask(img, sigma, mask)
    rr, cc = np.nonzero(edges)
    if len(rr) == 0:
        return []
    gx, gy = gradient(img, sigma=max(0.8, sigma * 0.7))
    ux, uy = gx[rr, cc], gy[rr, cc]
    mag = np.hypot(ux, uy)
    ok = mag > 1e-6
    rr, cc, ux, uy, mag = rr[ok], cc[ok], ux[ok] / mag[ok], uy[ok] / mag[ok], mag[ok]
    radii = np.asarray(radii, dtype=float)

    def cells(k: int) -> np.ndarray | None:
        """Votes for radius ``radii[k]`` summed over each cell's 3 × 3 neighbours."""
        if not 0 <= k < len(radii):
            return None
        yc = np.rint(rr + radii[k] * uy).astype(np.intp)
        xc = np.rint(cc + radii[k] * ux).astype(np.intp)
        inside = (yc >= 0) & (yc < h) & (xc >= 0) & (xc < w)
        votes = np.bincount(yc[inside] * w + xc[inside], minlength=h * w).reshape(h, w)
        return _box3_sum(votes.astype(np.float32))

    # votes of neighbouring cells and radii (3 × 3 × 3), normalised by the circumference;
    # the best radius per cell kept as the radii go by (one 2-D slice at a time stays in
    # the cache; the sums are of whole votes, so exact in any order)
    best = np.full((h, w), -np.inf, dtype=np.float32)
    best_k = np.zeros((h, w), dtype=np.intp)
    prev, cur = None, cells(0)
    for k in range(len(radii)):
        nxt = cells(k + 1)
        acc = cur.copy()
        for other in (prev, nxt):
            if other is not None:
                acc += other
        np.divide(acc, np.float64(2 * np.pi * radii[k] * 3.0), out=acc)
        better = acc > best  # the first radius wins ties, as argmax would
        np.copyto(best, acc, where=better)
        np.copyto(best_k, k, where=better)
        prev, cur = cur, nxt
    best_r = radii[best_k]
    md = int(min_distance if min_distance is not None else max(3, radii.min() * 0.6))
    peaks = peak_local_max(best, min_distance=md, threshold_abs=threshold, num_peaks=num_peaks,
                           exclude_border=False)
    out = []
    for r_, c_ in peaks:
        x, y = xy_from_rc(r_, c_)
        out.append((x, y, float(best_r[r_, c_]), float(best[r_, c_])))
    out.sort(key=lambda t: -t[3])
    return out


def _box3_sum(a: np.ndarray) -> np.ndarray:
    """Sum over each cell's 3 × 3 × … neighbourhood (zeros beyond the edges); twice as fast
    as ``scipy.ndimage.uniform_filter(a, 3, mode="constant") * 3**a.ndim``.

    >>> _box3_sum(np.eye(3)).tolist()
    [[2.0, 2.0, 1.0], [2.0, 3.0, 2.0], [1.0, 2.0, 2.0]]
    """
    out = a
    for axis in range(a.ndim):
        b = np.moveaxis(out, axis, 0)
        summed = b.copy()
        summed[1:] += b[:-1]
        summed[:-1] += b[1:]
        out = np.moveaxis(summed, 0, axis)
    return out


def fit_head_circle(
    display: np.ndarray,
    center_xy: tuple[float, float],
    r_guess: float,
    mm_per_px: float,
    *,
    r_range: tuple[float, float] | None = None,
    n_angles: int = 240,
    rng: int = 0,
    fine_mm: float | None = 0.2,
) -> CircleFit | None:
    """Sub-pixel circle of a bright disc near ``center_xy`` at full resolution.

    Along each of ``n_angles`` rays, up to three bright→dark steps between
    ``r_range`` (default ±30 % of ``r_guess``) are candidate edge points; RANSAC
    keeps the ones on one circle. Works on a smoothed crop reduced to about ``fine_mm``
    per pixel, so it is fast at any image size.
    """
    from scipy.ndimage import gaussian_filter, gaussian_filter1d

    lo, hi = r_range if r_range is not None else (0.7 * r_guess, 1.3 * r_guess)
    lo = max(lo, 2.0)
    sub, off = crop(display, center_xy, hi + 6)
    if sub.size == 0:
        return None
    f = max(1, int(round(fine_mm / mm_per_px))) if fine_mm else 1
    if f > 1:  # a finer grid adds time, not accuracy: the edge is sub-pixel either way
        from .common import block_mean

        fit = fit_head_circle(block_mean(sub, f), tuple((np.asarray(center_xy) - off) / f), r_guess / f,
                              mm_per_px * f, r_range=(lo / f, hi / f), n_angles=n_angles, rng=rng, fine_mm=None)
        if fit is None:
            return None
        return CircleFit(fit.cx * f + off[0], fit.cy * f + off[1], fit.r * f, fit.rms * f, fit.inliers,
                         fit.total, fit.arc_deg, fit.contrast)
    sig = max(0.6, 0.3 / mm_per_px)
    sub = gaussian_filter(np.asarray(sub, dtype=np.float32), sig)
    c = np.asarray(center_xy, dtype=float) - off
    step = 0.5
    rs = np.arange(lo, hi + step, step)
    ang = np.linspace(0, 2 * np.pi, n_angles, endpoint=False)
    d = np.stack([np.cos(ang), np.sin(ang)], axis=-1)
    pts = c[None, None, :] + rs[None, :, None] * d[:, None, :]
    prof = sample(sub, pts)
    valid_ray = np.isfinite(prof)
    prof = np.where(valid_ray, prof, np.nan)
    # fill invalid samples with the ray's last valid value: no edge is invented
    prof = _ffill(prof)
    prof = gaussian_filter1d(prof, max(1.0, 0.15 / mm_per_px / step), axis=1)
    deriv = -np.gradient(prof, step, axis=1)
    # up to three local maxima of the drop per ray (vectorised over rays)
    n_r = deriv.shape[1]
    ismax = np.zeros(deriv.shape, dtype=bool)
    ismax[:, 1:-1] = (deriv[:, 1:-1] > deriv[:, :-2]) & (deriv[:, 1:-1] >= deriv[:, 2:]) & (deriv[:, 1:-1] > 0)
    vr = valid_ray.copy()
    vr[:, 1:-1] &= valid_ray[:, :-2] & valid_ray[:, 2:]
    ismax &= vr & np.isfinite(deriv).all(axis=1)[:, None]
    vals = np.where(ismax, deriv, -np.inf)
    top = np.argsort(-vals, axis=1)[:, :3]
    tv = np.take_along_axis(vals, top, axis=1)
    keep = np.isfinite(tv) & (tv >= 0.3 * tv[:, :1])
    kk, jj = np.nonzero(keep)
    ii = top[kk, jj]
    ii = np.clip(ii, 1, n_r - 2)
    a_, b_, c_ = deriv[kk, ii - 1], deriv[kk, ii], deriv[kk, ii + 1]
    den = a_ - 2 * b_ + c_
    with np.errstate(divide="ignore", invalid="ignore"):
        off_i = np.where(den != 0, np.clip(0.5 * (a_ - c_) / den, -0.5, 0.5), 0.0)
    rr = rs[0] + (ii + off_i) * step
    cand_xy = c[None, :] + rr[:, None] * d[kk]
    cand_ray = kk
    cand_step = b_ * 2 * step
    if len(cand_xy) < 8:
        return None
    thr = max(0.75, 0.35 / mm_per_px)
    res = robust_circle(cand_xy, threshold=thr, rng=rng, max_trials=400, r_range=(lo * 0.9, hi * 1.1))
    if res is None:
        return None
    (cx, cy, r, rms), inl = res
    if not (lo * 0.9 <= r <= hi * 1.1):
        return None
    rays = cand_ray[inl]
    uniq = np.unique(rays)
    ang_in = ang[uniq]
    arc = 360.0 - largest_gap_deg(ang_in)
    contrast = float(np.median(cand_step[inl]))
    return CircleFit(cx + off[0], cy + off[1], r, rms, int(len(uniq)), n_angles, arc, contrast)


def _parabola(v: np.ndarray, i: int) -> float:
    if i <= 0 or i >= len(v) - 1:
        return float(i)
    a, b, c = v[i - 1], v[i], v[i + 1]
    den = a - 2 * b + c
    if den == 0:
        return float(i)
    return i + float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))


def _ffill(prof: np.ndarray) -> np.ndarray:
    """Forward/backward fill NaNs along axis 1 (rays that leave the image); all-NaN rows → 0.

    >>> _ffill(np.array([[np.nan, 1.0, np.nan, 3.0, np.nan]])).tolist()
    [[1.0, 1.0, 1.0, 3.0, 3.0]]
    """
    good = np.isfinite(prof)
    if good.all():
        return prof.copy()
    n = prof.shape[1]
    cols = np.arange(n)
    last = np.maximum.accumulate(np.where(good, cols, -1), axis=1)  # last valid index so far
    first = np.argmax(good, axis=1)[:, None]  # leading NaNs take the first valid value
    idx = np.where(last < 0, first, last)
    out = np.take_along_axis(prof, idx, axis=1)
    out[~good.any(axis=1)] = 0.0
    return out


def disc_stats(display: np.ndarray, cx: float, cy: float, r: float) -> dict[str, float]:
    """Intensity statistics of a disc and of the ring just outside it (for vetting)."""
    sub, off = crop(display, (cx, cy), 1.35 * r + 2)
    if sub.size == 0:
        return {"inside": math.nan, "ring": math.nan, "inside_std": math.nan, "inside_p95": math.nan}
    yy, xx = np.mgrid[0:sub.shape[0], 0:sub.shape[1]]
    rho = np.hypot(xx + 0.5 + off[0] - cx, yy + 0.5 + off[1] - cy)
    inside = sub[rho < 0.85 * r]
    ring = sub[(rho > 1.08 * r) & (rho < 1.3 * r)]
    return {
        "inside": float(np.median(inside)) if inside.size else math.nan,
        "ring": float(np.median(ring)) if ring.size else math.nan,
        "inside_std": float(np.std(inside)) if inside.size else math.nan,
        "inside_p95": float(np.percentile(inside, 95)) if inside.size else math.nan,
    }
