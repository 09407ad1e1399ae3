"""Pelvis: teardrops, ischial tuberosities, acetabular roof (lateral edge, medial sourcil end).

Each search is anchored on the femoral head of its side (centre ``H``, radius ``R``) and
runs in a *hip frame* in mm: ``lat`` towards the patient's lateral side, ``inf`` towards
the feet, rotated by the pelvic tilt when both heads are known
(:class:`HipFrame`). Windows come from adult anatomy (teardrop tip 12–48 mm medial and
0–40 mm inferior of the head centre; ischial tuberosity 8–65 mm medial and 35–110 mm
inferior; sourcil within 10 mm of the head outline).

Examples
--------
>>> f = HipFrame(np.array([100.0, 100.0]), lateral_x=1, mm_per_px=0.5)
>>> f.point(10.0, 20.0).tolist()
[120.0, 140.0]
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from .common import sample, subpixel_peak
from .context import Context
from .femur import Found, unmetal
from .metal import METAL_LEVEL

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HipFrame:
    """Head-centred frame: ``point(lat, inf)`` mm → image ``(x, y)``; ``tilt_rad`` rotates."""

    origin: np.ndarray
    lateral_x: int
    mm_per_px: float
    tilt_rad: float = 0.0  #: angle of the inter-head line from the image x axis (y down)
    superior_y: int = -1

    @property
    def lat(self) -> np.ndarray:
        return self.lateral_x * np.array([math.cos(self.tilt_rad), math.sin(self.tilt_rad)])

    @property
    def inf(self) -> np.ndarray:
        v = np.array([-math.sin(self.tilt_rad), math.cos(self.tilt_rad)])
        return v if np.sign(v[1]) == -self.superior_y else -v

    def point(self, lat, inf) -> np.ndarray:
        lat = np.asarray(lat, dtype=float)[..., None]
        inf = np.asarray(inf, dtype=float)[..., None]
        return self.origin + (lat * self.lat + inf * self.inf) / self.mm_per_px

    def grid(self, ctx: Context, lats: np.ndarray, infs: np.ndarray) -> np.ndarray:
        """Image sampled on ``infs × lats`` (rows inferior, columns lateral); metal is
        replaced by interpolation along the rows, so its outline makes no edges."""
        L, I = np.meshgrid(lats, infs)
        step = abs(float(lats[1] - lats[0])) if len(lats) > 1 else 1.0
        g = unmetal(sample(ctx.display, self.point(L, I)), axis=1, grow=int(round(4.0 / step)))  # shields, balls
        fill = np.nanmedian(g) if np.isfinite(g).any() else 0.0
        return np.minimum(np.where(np.isfinite(g), g, fill), METAL_LEVEL - 0.05)


def _u_template(step: float) -> tuple[np.ndarray, tuple[int, int]]:
    """A teardrop-like U (8 mm wide, 14 mm tall, 2 mm stroke) and its tip's index (row, col)."""
    from scipy.ndimage import gaussian_filter

    h, w = int(20 / step), int(14 / step)
    t = np.zeros((h, w), np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    lat = (xx + 0.5) * step - 7.0
    up = 17.0 - (yy + 0.5) * step  # mm above the tip
    for a in np.linspace(-1.4, 1.4, 60):
        cx, cy = 4.0 * math.sin(a), 1.0 + 13.0 * (1 - math.cos(a))
        t[np.hypot(lat - cx, up - cy) < 1.0] = 1.0
    t = gaussian_filter(t, 0.5 / step)
    return t, (int(17.0 / step), int(7.0 / step))


def find_teardrop(ctx: Context, frame: HipFrame, head_r_mm: float,
                  window: tuple[tuple[float, float], tuple[float, float]] = ((-52.0, -8.0), (-8.0, 42.0))) -> Found | None:
    """Inferior tip of the teardrop: a thin bright U medial and inferior of the head.

    The window (12–50 mm medial, −5 to 40 mm inferior of the head centre) is resampled at
    0.5 mm, thin bright structures are kept by a white top-hat (3 mm), and a U template
    is matched (normalised cross-correlation; the U is mirrored for the patient side).
    The tip is then moved to the inferior border of the U: the strongest bright→dark
    step below it.
    """
    from scipy.ndimage import gaussian_filter1d
    from skimage.feature import match_template
    from skimage.morphology import disk, white_tophat

    step = 0.5
    lats = np.arange(window[0][0], window[0][1], step)
    infs = np.arange(window[1][0], window[1][1], step)
    from scipy.ndimage import gaussian_filter

    img = gaussian_filter(frame.grid(ctx, lats, infs), 0.6 / step)
    th = white_tophat(img, disk(int(3.0 / step)))
    tmpl, (tr, tc) = _u_template(step)
    if th.std() < 1e-6:
        return None
    ncc = match_template(th, tmpl, pad_input=True)
    # the template is placed centred: its tip lies (tr, tc) - centre from the match
    k = int(np.argmax(ncc))
    r0, c0 = np.unravel_index(k, ncc.shape)
    peak = float(ncc[r0, c0])
    r_tip = r0 - tmpl.shape[0] // 2 + tr
    c_tip = c0 - tmpl.shape[1] // 2 + tc
    if not (0 <= r_tip < img.shape[0] and 0 <= c_tip < img.shape[1]):
        return None
    # inferior border: strongest drop going inferiorly within 4 mm of the stroke's centre
    col = gaussian_filter1d(img[:, max(0, c_tip - 1):c_tip + 2].mean(axis=1), 0.6 / step)
    g = -np.gradient(col)
    lo, hi = max(1, r_tip - int(2 / step)), min(len(g) - 1, r_tip + int(4 / step))
    if hi <= lo:
        return None
    i = lo + int(np.argmax(g[lo:hi]))
    inf = infs[0] + subpixel_peak(g, i) * step
    lat = lats[0] + c_tip * step
    xy = frame.point(lat, inf)
    conf = float(np.clip((peak - 0.25) / 0.4, 0, 1))
    return Found((float(xy[0]), float(xy[1])), round(conf, 3))


def find_ischial_tuberosity(ctx: Context, frame: HipFrame,
                            window: tuple[tuple[float, float], tuple[float, float]] = ((-65.0, -8.0), (30.0, 115.0))) -> Found | None:
    """Most inferior point of the ischial tuberosity.

    In the window 8–65 mm medial and 30–115 mm inferior of the head centre, thin lines are
    removed (grey opening, 7 mm), then the lower outline of bone is the set of strong bright→dark steps going inferiorly (at least 40 %
    of the strongest); the component with the largest total step is the tuberosity and
    the vertex of a parabola through its lowest part is the landmark.
    """
    from scipy import ndimage

    step = 0.5
    lats = np.arange(window[0][0], window[0][1], step)
    infs = np.arange(window[1][0], window[1][1], step)
    # an opening (7 mm square) removes thin bright lines (the obturator ring, the pubic
    # rami's cortices) and keeps the thick body of the tuberosity
    k = int(7.0 / step) | 1
    img = ndimage.grey_opening(frame.grid(ctx, lats, infs), size=(k, k))
    img = ndimage.gaussian_filter(img, 1.0 / step)
    e = -np.gradient(img, axis=0) / step
    if not np.isfinite(e).all() or e.max() <= 0:
        return None
    emax = float(np.percentile(e, 99.8))
    mask = (e > 0.4 * emax) & (e >= np.roll(e, 1, 0)) & (e >= np.roll(e, -1, 0))
    mask = ndimage.binary_dilation(mask, iterations=1)
    lab, n = ndimage.label(mask)
    if n == 0:
        return None
    sums = ndimage.sum(e, lab, index=np.arange(1, n + 1))
    best = int(np.argmax(sums)) + 1
    comp = lab == best
    cols = np.nonzero(comp.any(axis=0))[0]
    if len(cols) < int(6 / step):
        return None
    rows = np.array([int(np.argmax(np.where(comp[:, c], e[:, c], -np.inf))) for c in cols])
    kl = int(np.argmax(rows))
    # the lowest part of the outline (within 6 mm of its lowest point, contiguous)
    near = rows >= rows[kl] - int(6.0 / step)
    lab1, _ = ndimage.label(near)
    near = lab1 == lab1[kl]
    x_, y_ = cols[near] * step, rows[near] * step
    if len(x_) >= 5:
        a, b, c = np.polyfit(x_, y_, 2)
        if a < 0:
            xv = float(np.clip(-b / (2 * a), x_.min(), x_.max()))
            yv = float(np.polyval([a, b, c], xv))
        else:
            xv, yv = float(cols[kl] * step), float(rows[kl] * step)
    else:
        xv, yv = float(cols[kl] * step), float(rows[kl] * step)
    lat, inf = lats[0] + xv, infs[0] + yv
    xy = frame.point(lat, inf)
    dominance = float(sums[best - 1] / max(1e-9, np.sort(sums)[-2] if n > 1 else 0.5 * sums[best - 1]))
    at_border = inf > infs[-1] - 3 or lat < lats[0] + 3 or lat > lats[-1] - 3
    # at most 0.7: a flat tuberosity leaves its lowest point uncertain along the outline
    conf = float(np.clip((dominance - 1.0) / 1.5, 0, 1)) * (0.3 if at_border else 0.7)
    return Found((float(xy[0]), float(xy[1])), round(conf, 3))


def find_acetabular_roof(ctx: Context, frame: HipFrame, head_r_mm: float) -> tuple[Found | None, Found | None]:
    """Lateral edge of the acetabular roof and medial end of the sourcil.

    The sourcil is a dense (bright) line above the head, within −8 to +10 mm of its
    outline. Along rays from the head centre every 1°, from 100° lateral to 100° medial of
    the superior direction, the strongest ridge (brighter than both points 2 mm either side, allowing for a slope) is
    found; the run of rays with a ridge of at least 40 % of the strongest, around the
    superior direction, is the sourcil; its ends are the landmarks.
    """
    from scipy.ndimage import gaussian_filter1d, median_filter

    R = head_r_mm
    step = 0.25
    rhos = np.arange(R - 8.0, R + 10.0, step)
    angles = np.radians(np.arange(-100.0, 100.5, 1.0))  # + lateral, 0 superior
    lat = np.sin(angles)[:, None] * rhos[None, :]
    inf = -np.cos(angles)[:, None] * rhos[None, :]
    prof = sample(ctx.display, frame.point(lat, inf))
    if not np.isfinite(prof).any():
        return None, None
    prof = np.where(np.isfinite(prof), prof, np.nanmedian(prof))
    prof = gaussian_filter1d(prof, 0.5 / step, axis=1)
    k = int(2.0 / step)
    # a line is brighter than both sides (a step edge is not): min of the two differences,
    # with some allowance for a line lying on a slope (the ilium's outline, the head's)
    a_, b_ = prof[:, :-2 * k], prof[:, 2 * k:]
    ridge = prof[:, k:-k] - np.maximum(a_, b_) + 0.35 * np.abs(a_ - b_)
    idx = np.argmax(ridge, axis=1)
    strength = ridge[np.arange(len(angles)), idx]
    rho_at = median_filter(rhos[k + idx], size=5, mode="nearest")
    strength = gaussian_filter1d(strength, 2.0)
    central = np.abs(np.degrees(angles)) < 45
    c = int(np.argmax(np.where(central, strength, -np.inf)))
    smax = float(np.median(strength[max(0, c - 8):c + 9]))
    if smax <= 0:
        return None, None
    thr = 0.4 * smax

    def run(i: int, di: int) -> int:
        """Follow the line from ray ``i`` in direction ``di``, bridging gaps of up to 3°."""
        while True:
            for gap in range(1, 5):
                k = i + gap * di
                if 0 <= k < len(strength) and strength[k] >= thr and abs(rho_at[k] - rho_at[i]) < 1.0 + 0.5 * gap:
                    i = k
                    break
            else:
                return i

    i0, i1 = run(c, -1), run(c, +1)
    out = []
    for i, inward in ((i1, -1), (i0, +1)):  # lateral end, medial end
        # sub-degree end: where strength crosses 40 % of the run's median
        half = thr
        j = i + (1 if inward < 0 else -1)
        a = np.degrees(angles[i])
        if 0 <= j < len(strength) and strength[i] != strength[j]:
            frac = (strength[i] - half) / (strength[i] - strength[j])
            a = a + float(np.clip(frac, 0, 1)) * (np.degrees(angles[j]) - a)
        rr = float(np.median(rho_at[max(0, min(i, i + 4 * inward)):max(i, i + 4 * inward) + 1]))
        ar = math.radians(a)
        if inward > 0:  # medial end: the sourcil may turn inwards along the ray; follow it in
            rr = _inner_end(ctx, frame, ar, R - 10.0, rr, 0.5 * smax)
        xy = frame.point(math.sin(ar) * rr, -math.cos(ar) * rr)
        at_limit = i in (0, len(angles) - 1)
        conf = float(np.clip((i1 - i0) / 25.0, 0, 1)) * (0.3 if at_limit else 0.8)
        out.append(Found((float(xy[0]), float(xy[1])), round(conf, 3)))
    return out[0], out[1]


def _inner_end(ctx: Context, frame: HipFrame, angle: float, rho_lo: float, rho_line: float,
               min_ridge: float) -> float:
    """Where a bright line leaving the circle inwards along ``angle`` ends.

    Moving inwards from the circle, the line is brighter than the points 2.5 mm to either
    side across it; its end is where that transverse ridge drops below ``min_ridge``.
    """
    from scipy.ndimage import gaussian_filter1d

    step = 0.25
    rhos = np.arange(rho_lo, rho_line - 1.5, step)[::-1]  # inwards
    if len(rhos) < 4:
        return rho_line
    d = 2.5 / rhos
    out = []
    for off in (0.0, -1.0, 1.0):
        a = angle + off * d
        out.append(sample(ctx.display, frame.point(np.sin(a) * rhos, -np.cos(a) * rhos)))
    c, l_, r_ = (gaussian_filter1d(np.nan_to_num(v), 0.5 / step) for v in out)
    ridge = c - np.maximum(l_, r_)
    if ridge[:4].mean() < min_ridge:
        return rho_line
    j = 0
    while j < len(ridge) - 1 and ridge[j + 1] >= min_ridge:
        j += 1
    return float(rhos[j])
