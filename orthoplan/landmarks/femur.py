"""Proximal femur: heads (circles), shaft axis, lesser and greater trochanters, neck centre.

All searches are expressed in mm at the anatomy and turned into pixels with the image
scale (:class:`~orthoplan.landmarks.context.Context`). The order is:

1. :func:`find_heads` – bright-disc Hough on the ~1 mm working image, sub-pixel circle fit
   at full resolution, then anatomical selection (two heads of similar size and height,
   150–280 mm apart, or one head on a one-hip view). Prosthetic heads (metal) are taken
   from the metal map and flagged.
2. :func:`find_shaft` – the femoral shaft is the long bright band of 20–45 mm width
   lateral-inferior of the head: a projection search over directions gives the band,
   perpendicular profiles at full resolution give the cortices, a line fit the axis.
   For a single head, the side on which a shaft is found tells the patient side.
3. :func:`find_lesser_trochanter`, :func:`find_greater_trochanter`, :func:`find_neck` –
   profiles in the frame of the shaft axis and of the neck.

Frames: a *femur frame* has ``u`` along the shaft axis (towards the knee) and ``v``
perpendicular to it, positive laterally, both in mm; :class:`Axis` converts.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from .common import CircleFit, sample, subpixel_peak, subpixel_peaks
from .context import Context
from .metal import METAL_LEVEL
from .heads import HEAD_DIAMETER_MM, fit_head_circle, hough_bright_circles

log = logging.getLogger(__name__)

#: Centre-to-centre distance of the two femoral heads (mm at the anatomy).
INTER_HEAD_MM = (130.0, 290.0)
#: Outer width of the femoral shaft (mm).
SHAFT_WIDTH_MM = (18.0, 45.0)


# --------------------------------------------------------------------------- heads


@dataclass(frozen=True)
class Head:
    """A femoral head found in the image (full-resolution pixels)."""

    x: float
    y: float
    r: float
    quality: float  #: [0, 1] from the circle fit (coverage, arc, residual)
    prosthesis: bool = False
    fit: CircleFit | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def xy(self) -> np.ndarray:
        return np.array([self.x, self.y])


def circle_quality(fit: CircleFit, mm_per_px: float) -> float:
    """Confidence-like score in [0, 1] of a head circle fit.

    Full marks need edges on ≥ 80 % of the rays spread over ≥ 200° of arc with an RMS
    residual ≤ 0.3 mm; a short arc or a ragged fit lowers it smoothly.

    >>> circle_quality(CircleFit(0, 0, 100, 0.5, 200, 240, 300, 0.1), 0.2)
    1.0
    """
    cov = min(1.0, fit.coverage / 0.8)
    arc = float(np.clip((fit.arc_deg - 90.0) / 110.0, 0.0, 1.0))
    rms_mm = fit.rms * mm_per_px
    res = float(np.clip(1.0 - (rms_mm - 0.3) / 0.9, 0.0, 1.0))
    return float(round(cov * arc * res, 4))


def fit_circle_at(ctx: Context, level: str, center_xy, r_guess: float, r_range: tuple[float, float],
                  n_angles: int = 240) -> CircleFit | None:
    """:func:`~orthoplan.landmarks.heads.fit_head_circle` on the context's ``"fine"`` (~0.2 mm)
    or ``"mid"`` (~0.5 mm) image; the result is in full-resolution pixels."""
    w = getattr(ctx, level)
    if w is None:
        return fit_head_circle(ctx.display, tuple(center_xy), r_guess, ctx.mm, r_range=r_range, n_angles=n_angles)
    f = w.factor
    fit = fit_head_circle(w.image, tuple(np.asarray(center_xy, dtype=float) / f), r_guess / f, w.mm_per_px,
                          r_range=(r_range[0] / f, r_range[1] / f), n_angles=n_angles, fine_mm=None)
    if fit is None:
        return None
    return CircleFit(fit.cx * f, fit.cy * f, fit.r * f, fit.rms * f, fit.inliers, fit.total, fit.arc_deg, fit.contrast)


#: Stage 2 of :func:`head_candidates` refines discs whose coarse score reaches this
#: fraction of the best one's.
FINE_FRACTION = 0.45


def head_candidates(ctx: Context, num_peaks: int = 10, max_fine: int = 5) -> list[Head]:
    """Circle-fitted bright discs of femoral-head size, best first (no anatomy yet)."""
    w = ctx.work
    lo_mm, hi_mm = HEAD_DIAMETER_MM[0] / 2 - 2, HEAD_DIAMETER_MM[1] / 2 + 2
    lo_mm, hi_mm = lo_mm / ctx.scale_tolerance, hi_mm * ctx.scale_tolerance
    # the search runs on the ~1 mm working image
    radii = np.arange(w.px(lo_mm), w.px(hi_mm) + 1.0, 1.0)
    peaks = hough_bright_circles(w.image, radii, mask=~ctx.metal_mask, num_peaks=num_peaks, threshold=0.12)
    # stage 1: a quick coarse fit of every peak (0.5 mm, 120 rays) ranks them
    ranked = []
    for x, y, r, votes in peaks:
        c = w.to_full((x, y))
        f = fit_circle_at(ctx, "mid", c, r * w.factor, (ctx.px(lo_mm), ctx.px(hi_mm)), n_angles=120)
        if f is None or np.hypot(f.cx - c[0], f.cy - c[1]) > 0.5 * r * w.factor:
            continue
        ranked.append((circle_quality(f, ctx.mm) * f.coverage, np.array([f.cx, f.cy]), f.r, votes))
    ranked.sort(key=lambda t: -t[0])
    firsts: list = []
    for t in ranked:  # one start per disc
        if all(np.hypot(*(t[1] - k[1])) >= 0.5 * max(t[2], k[2]) for k in firsts):
            firsts.append(t)
    # stage 2 is for discs the coarse fit found comparably round: a femoral head scores
    # 0.75–1 there, the other bright blobs of head size (obturator rims, the sacrum, the
    # greater trochanter) 0.1–0.4 (measured on synthetic and real films); weaker ones
    # could not win select_heads' comparison, so refining them only costs time
    if firsts:
        floor = FINE_FRACTION * firsts[0][0]
        firsts = [t for t in firsts if t[0] >= floor]
    out: list[Head] = []
    # stage 2: the best few, carefully (0.2 mm, 240 rays, several radius ranges, refit)
    for _, c, r_full, votes in firsts[:max_fine]:
        # two radius ranges: a head merging into its neck can lure a wide-range fit onto a
        # smaller circle; the better-supported circle wins
        fits = []
        for rng in ((max(ctx.px(lo_mm), 0.7 * r_full), min(ctx.px(hi_mm), 1.35 * r_full)),
                    (max(ctx.px(lo_mm), 0.95 * r_full), min(ctx.px(hi_mm), 1.35 * r_full)),
                    (ctx.px(lo_mm), ctx.px(hi_mm))):
            f = fit_circle_at(ctx, "fine", c, r_full, rng)
            if f is not None:
                fits.append((circle_quality(f, ctx.mm) * f.coverage, f))
        if not fits:
            continue
        fit = max(fits, key=lambda t: t[0])[1]
        # once more from the fitted centre, where the rays meet the outline squarely
        f = fit_circle_at(ctx, "fine", (fit.cx, fit.cy), fit.r, (0.85 * fit.r, 1.15 * fit.r))
        if f is not None and circle_quality(f, ctx.mm) * f.coverage >= circle_quality(fit, ctx.mm) * fit.coverage:
            fit = f
        if np.hypot(fit.cx - c[0], fit.cy - c[1]) > 0.5 * r_full:
            continue
        q = circle_quality(fit, ctx.mm)
        if q <= 0:
            continue
        out.append(Head(fit.cx, fit.cy, fit.r, q * min(1.0, votes / 0.3) ** 0.5, False, fit))
    out.sort(key=lambda h: -h.quality)
    kept: list[Head] = []
    for h in out:  # the better of two fits of one disc wins
        if all(np.hypot(k.x - h.x, k.y - h.y) >= 0.5 * max(k.r, h.r) for k in kept):
            kept.append(h)
    return kept


def prosthetic_heads(ctx: Context) -> list[Head]:
    """Prosthetic femoral heads from the metal map, circle-fitted at full resolution."""
    out = []
    w = ctx.work
    for m in ctx.prostheses:
        c = w.to_full((m.x, m.y))
        r = m.radius * w.factor
        fit = fit_circle_at(ctx, "fine", c, r, (0.75 * r, 1.35 * r))
        note = "prosthesis: metal femoral head and stem"
        if fit is not None and np.hypot(fit.cx - c[0], fit.cy - c[1]) < 0.5 * r:
            q = circle_quality(fit, ctx.mm)
            out.append(Head(fit.cx, fit.cy, fit.r, max(q, 0.5), True, fit, (note,)))
        else:
            out.append(Head(float(c[0]), float(c[1]), r, 0.4, True, None, (note,)))
    return out


def select_heads(cands: list[Head], mm_per_px: float, min_quality: float = 0.3) -> list[Head]:
    """The one or two candidates that are femoral heads (by anatomy), sorted by x.

    Two heads must be of similar radius (ratio ≤ 1.3), at similar height (within 25 % of
    their horizontal distance), 130–290 mm apart, and each at least half as good as the
    best candidate. Otherwise the best single candidate is kept if its quality reaches
    ``min_quality``.
    """
    good = sorted([h for h in cands if h.quality >= min_quality or h.prosthesis], key=lambda h: -h.quality)
    if not good:
        return []
    top = max(h.quality for h in good)
    best_pair, best_score = None, -1.0
    for i, a in enumerate(good):
        for b in good[i + 1:]:
            if min(a.quality, b.quality) < max(0.5 * top, min_quality) and not (a.prosthesis or b.prosthesis):
                continue
            dx = abs(a.x - b.x) * mm_per_px
            dy = abs(a.y - b.y) * mm_per_px
            if not (INTER_HEAD_MM[0] <= dx <= INTER_HEAD_MM[1]) or dy > 0.25 * dx:
                continue
            if not (a.prosthesis or b.prosthesis) and max(a.r, b.r) / min(a.r, b.r) > 1.3:
                continue
            s = a.quality + b.quality
            if s > best_score:
                best_pair, best_score = (a, b), s
    if best_pair is not None:
        return sorted(best_pair, key=lambda h: h.x)
    return good[:1]


# --------------------------------------------------------------------------- femur frame


@dataclass(frozen=True)
class Axis:
    """A femur frame: origin (full px), unit direction towards the knee, lateral sign.

    ``point(u, v)`` gives the image point ``u`` mm along the axis and ``v`` mm lateral
    of it.
    """

    origin: np.ndarray
    direction: np.ndarray  #: unit (x, y), distal
    lateral_x: int
    mm_per_px: float

    @property
    def normal(self) -> np.ndarray:
        """Unit vector perpendicular to the axis, pointing laterally."""
        n = np.array([-self.direction[1], self.direction[0]])
        return n if np.sign(n[0]) == self.lateral_x or n[0] == 0 and self.lateral_x > 0 else -n

    def point(self, u, v) -> np.ndarray:
        u = np.asarray(u, dtype=float)[..., None]
        v = np.asarray(v, dtype=float)[..., None]
        return self.origin + (u * self.direction + v * self.normal) / self.mm_per_px

    def uv(self, xy) -> np.ndarray:
        d = (np.asarray(xy, dtype=float) - self.origin) * self.mm_per_px
        return np.stack([d @ self.direction, d @ self.normal], axis=-1)


def unmetal(p: np.ndarray, axis: int = -1, level: float = METAL_LEVEL - 0.03, grow: int = 1) -> np.ndarray:
    """Replace metal samples of profiles by linear interpolation between their neighbours.

    A stem inside a shaft then leaves the bone's outline, not its own, in the profile.
    ``grow`` samples on either side of the metal are replaced too (its blurred rim).

    >>> unmetal(np.array([0.2, 0.3, 0.5, 0.99, 0.99, 0.5, 0.3, 0.2])).tolist()
    [0.2, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.2]
    """
    from scipy.ndimage import binary_dilation

    a = np.moveaxis(np.array(p, dtype=float, copy=True), axis, -1)
    with np.errstate(invalid="ignore"):
        metal = a >= level
    if not metal.any():
        return np.moveaxis(a, -1, axis)
    bad = binary_dilation(metal, structure=np.ones((1,) * (a.ndim - 1) + (2 * grow + 1,), bool)) & np.isfinite(a)
    flat, fbad = a.reshape(-1, a.shape[-1]), bad.reshape(-1, a.shape[-1])
    x = np.arange(a.shape[-1])
    for k in np.nonzero(fbad.any(axis=1))[0]:
        good = ~fbad[k] & np.isfinite(flat[k])
        if good.sum() >= 2:
            flat[k, fbad[k]] = np.interp(x[fbad[k]], x[good], flat[k, good])
    return np.moveaxis(flat.reshape(a.shape), -1, axis)


def _direction(theta_deg: float, lateral_x: int) -> np.ndarray:
    """Distal unit vector ``theta`` degrees from image-down, positive = distal end lateral."""
    t = math.radians(theta_deg)
    return np.array([lateral_x * math.sin(t), math.cos(t)])


def _band(profile: np.ndarray, step_mm: float, width_mm: tuple[float, float]) -> tuple[float, int, int]:
    """Best bright band (rising edge then falling edge) of a 1D profile.

    Returns ``(score, i_rise, i_fall)``; score is the weaker of the two edge steps (for
    each rising edge the strongest falling edge ``width_mm`` further on; the first best
    band wins ties).

    >>> p = np.r_[np.zeros(10), np.ones(30), np.zeros(10)]
    >>> _band(p, 1.0, (20.0, 40.0))
    (0.5, 9, 39)
    """
    return _band_of_gradient(np.gradient(profile), step_mm, width_mm)


def _band_of_gradient(g: np.ndarray, step_mm: float, width_mm: tuple[float, float]) -> tuple[float, int, int]:
    """:func:`_band` of a profile whose gradient (per sample) ``g`` is already known."""
    n = len(g)
    lo, hi = int(width_mm[0] / step_mm), int(math.ceil(width_mm[1] / step_mm))
    rise = np.nonzero((g[1:-1] > 0) & (g[1:-1] >= g[:-2]) & (g[1:-1] >= g[2:]))[0] + 1
    fall = np.nonzero((g[1:-1] < 0) & (g[1:-1] <= g[:-2]) & (g[1:-1] <= g[2:]))[0] + 1
    if len(rise) == 0 or len(fall) == 0:
        return (0.0, -1, -1)
    # (rise x fall) pairs a band width apart; per rise the strongest fall (first of equals)
    ok = (fall[None, :] >= rise[:, None] + lo) & (fall[None, :] <= np.minimum(n - 1, rise[:, None] + hi))
    drop = np.where(ok, -g[fall][None, :], -np.inf)
    k = np.argmax(drop, axis=1)
    has = ok[np.arange(len(rise)), k]
    score = np.where(has, np.minimum(g[rise], drop[np.arange(len(rise)), k]), 0.0)
    best = int(np.argmax(score))
    if not score[best] > 0:
        return (0.0, -1, -1)
    return (float(score[best]), int(rise[best]), int(fall[k[best]]))


@dataclass(frozen=True)
class Shaft:
    """The femoral shaft of one side: axis and the extent over which it was seen."""

    axis: Axis  #: origin at the head centre's projection, direction distal
    u_top: float  #: mm along the axis where the band was first seen
    u_bottom: float  #: and last seen
    width_mm: float
    score: float  #: [0, 1]
    offset_mm: float = 0.0  #: head centre medial of the axis (the femoral offset); < 0: wrong side


def find_shaft(ctx: Context, head: Head, lateral_x: int) -> Shaft | None:
    """The femoral shaft below ``head`` on the ``lateral_x`` side (see the module docstring)."""
    from scipy.ndimage import gaussian_filter1d

    img = ctx.work.image
    wf = ctx.work.factor
    hxy = head.xy / wf
    r_mm = head.r * ctx.mm
    mpw = ctx.work.mm_per_px
    us = np.arange(2.2 * r_mm + 20.0, 2.2 * r_mm + 140.0, 2.0)
    vs = np.arange(-60.0, 140.0, 1.0)

    def best_of(thetas: np.ndarray):
        """(score, theta, v_rise, v_fall) of the best band over ``thetas``, or None."""
        # every direction's (us x vs) grid sampled at once: (thetas, us, vs)
        ds = np.array([_direction(t, lateral_x) for t in thetas])
        ns = np.c_[-ds[:, 1], ds[:, 0]]
        ns[np.sign(ns[:, 0]) != lateral_x] *= -1
        # (small) head + along-axis part, plus (small) across part: one full-size array
        pts = (hxy + us[None, :, None, None] * ds[:, None, None, :] / mpw) + vs[None, None, :, None] * ns[:, None, None, :] / mpw
        grids = unmetal(sample(img, pts), axis=2)
        oks = np.isfinite(grids).all(axis=2)
        best = None
        for theta, g, ok in zip(thetas, grids, oks):
            if ok.sum() < 8:
                continue
            prof = gaussian_filter1d(g[ok].mean(axis=0), 1.0)
            s, i, j = _band(prof, 1.0, SHAFT_WIDTH_MM)
            if i < 0:
                continue
            if best is None or s > best[0]:
                best = (s, int(theta), vs[i], vs[j])
        return best

    # directions every 8° from 20° medial to 68° lateral, then the two 4° either side of the
    # best (the band's score varies smoothly with the direction: same result as a 4° search)
    best = best_of(np.arange(-20, 75, 8))
    if best is not None:
        finer = best_of(np.array([t for t in (best[1] - 4, best[1] + 4) if -20 <= t <= 72]))
        if finer is not None and finer[0] > best[0]:
            best = finer
    if best is None:
        return None
    s0, theta, v1, v2 = best
    ax = Axis(head.xy, _direction(theta, lateral_x), lateral_x, ctx.mm)
    lo_v, hi_v = min(v1, v2) - 10.0, max(v1, v2) + 10.0
    u_range = (us[0] - 25.0, us[-1] + 150.0)
    result = None
    for _ in range(2):
        fitted = _fit_midline(ctx, ax, lo_v, hi_v, u_range)
        if fitted is None:
            return result
        axis, u_top, u_bot, width, frac = fitted
        # re-express in a frame whose origin is the head's projection onto the axis
        u_head, v_head = (float(t) for t in axis.uv(head.xy))
        axis = Axis(axis.point(u_head, 0.0), axis.direction, lateral_x, ctx.mm)
        u_top, u_bot = u_top - u_head, u_bot - u_head
        score = float(np.clip(frac, 0, 1) * np.clip((u_bot - u_top) / 60.0, 0, 1))
        result = Shaft(axis, u_top, u_bot, width, score, -v_head)
        ax, lo_v, hi_v = axis, -width / 2 - 10.0, width / 2 + 10.0
        u_range = (u_top - 30.0, u_range[1])
    return result


def _fit_midline(ctx: Context, ax: Axis, lo_v: float, hi_v: float,
                 u_range: tuple[float, float]) -> tuple[Axis, float, float, float, float] | None:
    """Cortical borders on perpendicular profiles every 3 mm, midline fitted by a line."""
    from scipy.ndimage import gaussian_filter1d

    step = max(0.25, ctx.mm)
    vv = np.arange(lo_v, hi_v, step)
    u_all = np.arange(u_range[0], u_range[1], 3.0)
    U, V = np.meshgrid(u_all, vv, indexing="ij")
    P = sample(ctx.display, ax.point(U, V))
    inside = np.isfinite(P).all(axis=1)
    if inside.sum() < 6:
        return None
    u_all, P = u_all[inside], gaussian_filter1d(unmetal(P[inside], axis=1), 0.6 / step, axis=1)
    G = np.gradient(P, axis=1)
    bands = [(k, *_band_of_gradient(g, step, SHAFT_WIDTH_MM)) for k, g in enumerate(G)]  # (row, score, i, j)
    found = np.array([b for b in bands if b[2] >= 0]).reshape(-1, 4)
    if len(found) < 6:
        return None
    rows, rises, falls = (found[:, c].astype(np.intp) for c in (0, 2, 3))
    a = vv[0] + subpixel_peaks(G[rows], rises) * step
    b = vv[0] + subpixel_peaks(-G[rows], falls) * step
    uus, mids, widths, scores = u_all[rows], 0.5 * (a + b), np.abs(b - a), found[:, 1]
    # keep the rows consistent with the band (width and position), then fit v = a + b u
    wmed = np.median(widths[len(widths) // 3:])
    keep = (np.abs(widths - wmed) < 0.12 * wmed) & (scores > 0.3 * np.median(scores))
    log.debug("shaft rows u=%s mid=%s width=%s keep=%s", uus.round(), mids.round(1), widths.round(1), keep.astype(int))
    if keep.sum() < 6:
        return None
    coef = np.zeros(2)
    for _ in range(4):
        A = np.c_[np.ones(keep.sum()), uus[keep]]
        coef, *_ = np.linalg.lstsq(A, mids[keep], rcond=None)
        res = mids - (coef[0] + coef[1] * uus)
        new = keep & (np.abs(res) < max(0.75, 2.5 * np.std(res[keep])))
        new |= (np.abs(widths - wmed) < 0.12 * wmed) & (np.abs(res) < 1.0)
        if new.sum() < 6 or (new == keep).all():
            break
        keep = new
    p0 = ax.point(0.0, coef[0])
    p1 = ax.point(100.0, coef[0] + 100.0 * coef[1])
    dvec = (p1 - p0) / np.linalg.norm(p1 - p0)
    axis = Axis(p0, dvec, ax.lateral_x, ctx.mm)
    # the longest run of kept rows (gaps of up to 9 mm bridged: one odd row, e.g. at the
    # tip of a stem, does not cut the shaft) is the shaft seen
    kept = np.nonzero(keep)[0]
    runs, start = [], int(kept[0])
    for a, b in zip(kept[:-1], kept[1:]):
        if uus[b] - uus[a] > 9.0:
            runs.append((start, int(a)))
            start = int(b)
    runs.append((start, int(kept[-1])))
    s0, s1 = max(runs, key=lambda r: uus[r[1]] - uus[r[0]])
    u_top, u_bot = float(uus[s0]), float(uus[s1])
    frac = keep[s0:s1 + 1].sum() / max(1, s1 - s0 + 1)
    return axis, u_top, u_bot, float(np.median(widths[keep])), float(frac)


# --------------------------------------------------------------------------- profiles


def _edges_1d(p: np.ndarray, min_step: float) -> np.ndarray:
    """Indices of rising edges (local maxima of the gradient above ``min_step``) of ``p``."""
    g = np.gradient(p)
    return np.nonzero((g[1:-1] >= g[:-2]) & (g[1:-1] >= g[2:]) & (g[1:-1] > min_step))[0] + 1


def _straight(ctx: Context, axis: Axis, us: np.ndarray, vs: np.ndarray, sigma_mm: float = 0.5) -> np.ndarray:
    """The image resampled on the femur-frame grid ``us × vs`` (mm), lightly smoothed."""
    from scipy.ndimage import gaussian_filter

    U, V = np.meshgrid(us, vs, indexing="ij")
    g = sample(ctx.display, axis.point(U, V))
    g = unmetal(g, axis=1)
    g = np.where(np.isfinite(g), g, np.nanmedian(g) if np.isfinite(g).any() else 0.0)
    step = float(us[1] - us[0]) if len(us) > 1 else 1.0
    return gaussian_filter(g, sigma_mm / step)


def cortex_step(ctx: Context, shaft: Shaft) -> float:
    """Typical intensity step (display units per mm) at the shaft's outer cortex."""
    us = np.arange(max(shaft.u_top, 40.0), max(shaft.u_top, 40.0) + 40.0, 2.0)
    vs = np.arange(-shaft.width_mm / 2 - 6, -shaft.width_mm / 2 + 6, 0.5)
    g = np.gradient(_straight(ctx, shaft.axis, us, vs), 0.5, axis=1)
    return float(np.median(g.max(axis=1)))


@dataclass(frozen=True)
class Found:
    """A landmark position (full-resolution ``(x, y)``) with its confidence and notes."""

    xy: tuple[float, float]
    confidence: float
    notes: tuple[str, ...] = ()


def find_lesser_trochanter(ctx: Context, head: Head, shaft: Shaft) -> Found | None:
    """Most medial point (perpendicular to the shaft axis) of the lesser trochanter.

    The medial outline of the femur is traced on profiles perpendicular to the axis every
    0.5 mm, from the head down to 110 mm below it: on each, the outermost rising edge
    (soft tissue → bone) of at least a third of the cortex step. Above the lesser
    trochanter the outline runs up into the neck; the lesser trochanter is the most
    medial point of the outline below the neck (where the outline has come within 12 mm
    of the shaft's border).
    """
    r_mm = head.r * ctx.mm
    half = shaft.width_mm / 2
    step = 0.5
    us = np.arange(0.5 * r_mm, 120.0, step)
    vs = np.arange(-half - 35.0, -half + 6.0, step)
    img = _straight(ctx, shaft.axis, us, vs)
    g = np.gradient(img, step, axis=1)
    ref = cortex_step(ctx, shaft)
    thr = 0.25 * ref
    # per row the outermost rising edge: the first local maximum of the gradient above thr
    # (what _edges_1d finds on one profile), all rows at once
    gu = np.gradient(img, axis=1)  # per sample, as _edges_1d sees it
    edge = np.zeros(g.shape, bool)
    edge[:, 1:-1] = (gu[:, 1:-1] >= gu[:, :-2]) & (gu[:, 1:-1] >= gu[:, 2:]) & (gu[:, 1:-1] > thr * step)
    has = edge.any(axis=1)
    first = np.argmax(edge, axis=1)
    m = np.full(len(us), np.nan)
    m[has] = -(vs[0] + subpixel_peaks(g[has], first[has]) * step)
    ok = np.isfinite(m)
    log.debug("LT outline (u, m): %s", [(float(u), round(float(x), 1)) for u, x in zip(us[::4], m[::4])])
    if ok.sum() < 20:
        return None
    # from the distal shaft upwards: the first bump standing out of the shaft's border; the
    # trochanter's tip is the outline's most medial point within 25 mm above that
    from scipy.ndimage import median_filter

    mm_ = median_filter(np.where(ok, m, half), size=int(2.0 / step) | 1, mode="nearest")
    excess = mm_ - half
    # the bump: a run of at least 4 mm standing out, gaps of up to 2 mm (rows where its faint
    # edge was missed) bridged; a few stray edges in the soft tissue below it are no trochanter
    from scipy.ndimage import binary_closing, label

    out_ = binary_closing(excess > 2.5, structure=np.ones(int(2.0 / step) + 1, bool))
    runs, n_runs = label(out_ | (excess > 2.5))
    long_runs = [r for r in range(1, n_runs + 1) if (runs == r).sum() * step >= 4.0]
    if not long_runs:
        return None
    k = int(np.nonzero(np.isin(runs, long_runs))[0].max())
    k_top = max(0, k - int(25.0 / step))
    kmax = k_top + int(np.argmax(mm_[k_top:k + 1]))
    if kmax - k_top < int(2.0 / step):  # still rising at the window's top: climb to the first maximum
        kmax = k
        while kmax > 0 and mm_[kmax - 1] >= mm_[kmax]:
            kmax -= 1
    if kmax <= 1 or excess[kmax] > 15.0:
        return None  # the outline runs straight into the neck: no distinct trochanter
    # the middle of the contiguous plateau within 0.3 mm of the maximum
    j0 = kmax
    while j0 > 0 and mm_[j0 - 1] >= mm_[kmax] - 0.3:
        j0 -= 1
    j1 = kmax
    while j1 < len(mm_) - 1 and mm_[j1 + 1] >= mm_[kmax] - 0.3:
        j1 += 1
    kc = (j0 + j1) // 2
    prominence = float(excess[kmax])
    u, v = us[kc], -mm_[kc]
    # capped at 0.75: where the trochanter merges with the intertrochanteric outline the
    # tip can slide along it by ~10 mm without any sign in the image (measured on phantoms)
    conf = 0.75 * float(np.clip((prominence - 1.5) / 4.0, 0, 1)) * float(np.clip(ok.mean() * 1.2, 0, 1))
    notes = ()
    # a flat outline (within 0.5 mm of the maximum over more than 12 mm): the tip is ambiguous
    a0 = kmax
    while a0 > 0 and mm_[a0 - 1] >= mm_[kmax] - 0.5:
        a0 -= 1
    a1 = kmax
    while a1 < len(mm_) - 1 and mm_[a1 + 1] >= mm_[kmax] - 0.5:
        a1 += 1
    flat_mm = (a1 - a0) * step
    if flat_mm > 12.0:
        conf *= 0.75 * 12.0 / flat_mm
        notes = (f"flat medial outline over {flat_mm:.0f} mm: tip ambiguous",)
    xy = shaft.axis.point(u, v)
    return Found((float(xy[0]), float(xy[1])), round(conf, 3), notes)


def find_greater_trochanter(ctx: Context, head: Head, shaft: Shaft) -> Found | None:
    """Tip (most proximal point along the shaft axis) of the greater trochanter.

    Lateral of the shaft axis (``v`` from half the shaft width − 6 mm to + 30 mm), each line
    parallel to the axis is followed distally from 40 mm above the head centre; the first
    rising edge (soft tissue → bone) of at least a third of the cortex step is the
    trochanter's outline there. The tip is the most proximal outline point.
    """
    half = shaft.width_mm / 2
    step = 0.5
    us = np.arange(-40.0, 60.0, step)
    vs = np.arange(half - 6.0, half + 30.0, step)
    img = _straight(ctx, shaft.axis, us, vs, sigma_mm=1.0)
    g = np.gradient(img, step, axis=0)
    thr = 0.2 * cortex_step(ctx, shaft)
    top = np.full(len(vs), np.nan)
    for j in range(len(vs)):
        idx = _edges_1d(img[:, j], thr * step)
        if len(idx):
            top[j] = us[0] + subpixel_peak(g[:, j], int(idx[0])) * step
    ok = np.isfinite(top)
    if ok.sum() < 8:
        return None
    # continuous pieces of the outline; the trochanter's is the longest reaching 8 mm
    # lateral of the shaft border
    runs, start = [], None
    for j in range(len(vs) + 1):
        cont = j < len(vs) and ok[j] and (start is None or abs(top[j] - top[j - 1]) < 2.0)
        if cont and start is None:
            start = j
        elif not cont and start is not None:
            runs.append((start, j - 1))
            start = j if j < len(vs) and ok[j] else None
    log.debug("GT top(v): %s", [(float(v), round(float(t), 1)) for v, t in zip(vs[::4], top[::4])])
    runs = [r for r in runs if vs[r[1]] >= half + 8.0 and r[1] - r[0] >= int(4.0 / step)]
    if not runs:
        return None
    j0, j1 = max(runs, key=lambda r: r[1] - r[0])
    # from the lateral end inwards, the outline climbs to the tip, then descends (towards
    # the trochanteric fossa / the neck)
    t = top[j0:j1 + 1]
    j = len(t) - 1
    while j > 0 and t[j - 1] <= t[j] + 0.1:
        j -= 1
    near = np.nonzero(t <= t[j] + 0.3)[0]
    near = near[np.abs(near - j) <= int(4.0 / step)]
    jc = j0 + int(round(np.mean(near)))
    u, v = float(top[jc]), float(vs[jc])
    span = (j1 - j0) * step
    conf = float(np.clip(span / 15.0, 0, 1)) * (0.9 if j > 0 else 0.4)
    xy = shaft.axis.point(u, v)
    return Found((float(xy[0]), float(xy[1])), round(conf, 3))


def find_neck(ctx: Context, head: Head, shaft: Shaft) -> tuple[Found, np.ndarray] | None:
    """Neck axis through the head centre and the neck centre at its narrowest width.

    Directions making a neck-shaft angle of 100–160° are tried: along each, profiles
    across the neck from 0.9 to 1.6 head radii from the centre are averaged and the bright
    band (neck) must be centred on the line. The best direction is refined by a line
    through the band midpoints; the neck centre is the point of least width (vertex of a
    parabola through the widths near the least).
    Returns the neck centre and the unit direction from the head towards the shaft.
    """
    from scipy.ndimage import gaussian_filter1d

    R = head.r * ctx.mm
    d, n = shaft.axis.direction, shaft.axis.normal
    ss = np.arange(0.9 * R, 1.6 * R, 1.0)
    ts = np.arange(-1.2 * R, 1.2 * R, 0.5)
    S, T = np.meshgrid(ss, ts, indexing="ij")

    def best_of(alphas: np.ndarray):
        """(score, alpha, e, f) of the best-centred neck band over ``alphas``, or None."""
        a_r = np.radians(alphas)[:, None]
        es = np.cos(a_r) * n + np.sin(a_r) * d  # (alphas, 2)
        fs = np.c_[-es[:, 1], es[:, 0]]
        # every direction's (ss x ts) grid sampled at once: (alphas, ss, ts)
        grids = sample(ctx.display, head.xy + (S[None, ..., None] * es[:, None, None, :]
                                               + T[None, ..., None] * fs[:, None, None, :]) / ctx.mm)
        best = None
        for alpha, e, f, g in zip(alphas, es, fs, grids):
            if not np.isfinite(g).all():
                continue
            prof = gaussian_filter1d(g.mean(axis=0), 1.0)
            sc, i, j = _band(prof, 0.5, (0.8 * R, 1.9 * R))
            if i < 0:
                continue
            centre = 0.5 * (ts[i] + ts[j])
            score = sc * math.exp(-((centre / (0.1 * R)) ** 2))
            log.debug("neck alpha %.0f: band %.4f centre %.1f score %.4f", alpha, sc, centre, score)
            if best is None or score > best[0]:
                best = (score, alpha, e, f)
        return best

    # directions every 4° from 10° to 70°, then the two 2° either side of the best
    best = best_of(np.arange(10.0, 71.0, 4.0))
    if best is not None:
        finer = best_of(np.array([a for a in (best[1] - 2.0, best[1] + 2.0) if 10.0 <= a <= 70.0]))
        if finer is not None and finer[0] > best[0]:
            best = finer
    if best is None:
        return None
    _, alpha, e, f = best
    mids, widths, svals = [], [], []
    s_all = np.arange(0.8 * R, 1.7 * R, 0.5)
    rows = sample(ctx.display, head.xy + (s_all[:, None, None] * e + ts[None, :, None] * f) / ctx.mm)
    for s_, p in zip(s_all, rows):
        if not np.isfinite(p).all():
            continue
        p = gaussian_filter1d(p, 1.0)
        sc, i, j = _band(p, 0.5, (0.8 * R, 1.9 * R))
        if i < 0:
            continue
        gg = np.gradient(p)
        a_ = ts[0] + subpixel_peak(gg, i) * 0.5
        b_ = ts[0] + subpixel_peak(-gg, j) * 0.5
        mids.append(0.5 * (a_ + b_))
        widths.append(abs(b_ - a_))
        svals.append(s_)
    if len(mids) < 5:
        return None
    mids, widths, svals = map(np.asarray, (mids, widths, svals))
    log.debug("neck s=%s mid=%s width=%s", svals.round(1), mids.round(1), widths.round(1))
    # beyond the neck the band breaks up (trochanters): keep the midpoints that agree
    good = np.abs(mids - np.median(mids)) < 2.0
    good &= np.abs(widths - np.median(widths[good])) < 0.25 * np.median(widths[good]) if good.any() else good
    if good.sum() < 5:
        return None
    frac = float(good.mean())
    mids, widths, svals = mids[good], widths[good], svals[good]
    # neck axis: the line through the head centre that best follows the band midpoints
    slope = float(np.sum(mids * svals) / np.sum(svals * svals))
    e2 = e + slope * f
    e2 /= np.linalg.norm(e2)
    # narrowest width: vertex of a parabola through the widths around the least one
    k = int(np.argmin(widths))
    near = np.abs(svals - svals[k]) <= 0.3 * R
    s_star = float(svals[k])
    if near.sum() >= 5:
        a2, a1, _ = np.polyfit(svals[near], widths[near], 2)
        if a2 > 0:
            s_star = float(np.clip(-a1 / (2 * a2), svals[near].min(), svals[near].max()))
    xy = head.xy + s_star * e2 / ctx.mm
    resid = float(np.std(mids - slope * svals))
    conf = float(np.clip(1.0 - resid / 3.0, 0, 1)) * 0.85 * min(1.0, frac / 0.6)
    return Found((float(xy[0]), float(xy[1])), round(conf, 3)), e2
