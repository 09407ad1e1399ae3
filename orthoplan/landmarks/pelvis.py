"""Pelvis: teardrops, ischial tuberosities, acetabular roof (lateral edge, medial sourcil end), evidence of a pelvis.

Each search is anchored on the femoral head of its side (centre ``H``, radius ``R``) and
runs in a *hip frame* in mm: ``lat`` towards the patient's lateral side, ``inf`` towards
the feet, rotated by the pelvic tilt when both heads are known
(:class:`HipFrame`). Windows come from adult anatomy (teardrop tip 12–48 mm medial and
0–40 mm inferior of the head centre; ischial tuberosity 8–65 mm medial and 30–115 mm
inferior; sourcil within 10 mm of the head outline; obturator foramen 5–95 mm medial and
0–95 mm inferior).

A single femoral head is not yet a pelvis (a lateral hip view shows one too):
:func:`no_pelvis_reason` asks for the hemipelvis beside it (an ischial tuberosity with a
teardrop or an obturator foramen above it).

Examples
--------
>>> f = HipFrame(np.array([100.0, 100.0]), lateral_x=1, mm_per_px=0.5)
>>> f.point(10.0, 20.0).tolist()
[120.0, 140.0]
"""

from __future__ import annotations

import functools
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
        return _without_metal(sample(ctx.display, self.point(L, I)), step)


def _without_metal(g: np.ndarray, step: float) -> np.ndarray:
    """:meth:`HipFrame.grid` of the samples ``g`` (rows × columns ``step`` mm apart)."""
    g = unmetal(g, axis=1, grow=int(round(4.0 / step)))  # shields, balls
    fill = np.nanmedian(g) if np.isfinite(g).any() else 0.0
    return np.minimum(np.where(np.isfinite(g), g, fill), METAL_LEVEL - 0.05)


@functools.lru_cache(maxsize=4)
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
    t.flags.writeable = False  # cached: shared by every call
    return t, (int(17.0 / step), int(7.0 / step))


def find_teardrop(ctx: Context, frame: HipFrame, head_r_mm: float,
                  window: tuple[tuple[float, float], tuple[float, float]] = ((-52.0, -8.0), (-8.0, 42.0))) -> Found | None:
    """Inferior tip of the teardrop: a thin bright U medial and inferior of the head.

    The window (12–50 mm medial, −5 to 40 mm inferior of the head centre) is resampled at
    0.5 mm, thin bright structures are kept by a white top-hat (3 mm), and a U template
    is matched (normalised cross-correlation; the U is mirrored for the patient side).
    The tip is then moved to the inferior border of the U: the strongest bright→dark
    step below it. Confidence: (NCC − 0.45) / 0.3, clipped to [0, 1].
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
    # a teardrop matches with NCC ≥ 0.6 (phantoms); other U-ish structures (an acetabular
    # wall seen end-on, a soft-tissue fold) reach ~0.5, so below 0.54 nothing is reported
    conf = float(np.clip((peak - 0.45) / 0.3, 0, 1))
    return Found((float(xy[0]), float(xy[1])), round(conf, 3))


#: Curvature radii (mm) of the tuberosity's lower outline that the disc search tries.
ISCHIUM_RADII_MM = (10.0, 27.0)


def find_ischial_tuberosity(ctx: Context, frame: HipFrame,
                            window: tuple[tuple[float, float], tuple[float, float]] = ((-65.0, -8.0), (30.0, 115.0))) -> Found | None:
    """Most inferior point of the ischial tuberosity.

    The tuberosity is the thick, rounded inferior end of the ischium: its lower outline is
    a convex arc facing the feet. In the window (8–65 mm medial and 30–115 mm inferior of
    the head centre; 0.5 mm grid):

    1. thin bright lines (the obturator ring, the rami's cortices) are removed by a grey
       opening with a 5 mm disc (decomposed, scikit-image), which leaves convex outlines
       of larger curvature radius in place; metal (a gonadal shield) and 8 mm around it
       are ignored;
    2. the edges facing inferiorly (bright → dark, outward normal within 75° of the feet)
       vote for the centre of a disc of radius 10–26 mm whose outline they could be
       (a Hough transform along the normals, :func:`_lower_disc`);
    3. from the best centre, rays every 3° over ±75° about the inferior direction give
       the outline (strongest falling edge, sub-sample), kept where it is smooth;
    4. the lowest point is the vertex of a robust parabola through the outline within
       ±45° of the bottom.

    Confidence: the share of the ±60° arc outlined, the Hough peak's dominance over any
    other disc, and the parabola's residual; at most 0.8, and 0.3 when the vertex is not
    inside the traced outline or lies on the window's border.
    """
    from scipy import ndimage
    from skimage.morphology import disk, opening

    step = 0.5
    above = 25.0  # grid rows above the window: room for the disc's centre
    lats = np.arange(window[0][0], window[0][1], step)
    infs = np.arange(window[1][0] - above, window[1][1], step)
    L, I = np.meshgrid(lats, infs)
    raw = sample(ctx.display, frame.point(L, I))
    metal = ~np.isfinite(raw) | (raw >= METAL_LEVEL - 0.05)
    if metal.any():  # a thin shield's rim fades over several mm
        metal = ndimage.binary_dilation(metal, iterations=int(8.0 / step))
    img = ndimage.gaussian_filter(_without_metal(raw, step), 0.75 / step)
    img = opening(img, disk(int(round(5.0 / step)), decomposition="sequence"))
    img = ndimage.gaussian_filter(img, 0.75 / step)
    usable = ~metal
    usable[:int(above / step)] = False
    disc = _lower_disc(img, step, usable)
    if disc is None:
        return None
    c0, r0, dominance, ref = disc
    # the outline on rays from the centre, ±75° about inferior
    angs = np.radians(np.arange(-75.0, 76.0, 3.0))
    dirs = np.stack([np.sin(angs), np.cos(angs)], axis=-1)  # (lat, inf)
    dr = 0.25
    rs = np.arange(0.55 * r0, 1.5 * r0, dr)
    P = (c0[None, None, :] + rs[None, :, None] * dirs[:, None, :]) / step + 0.5  # grid image (x, y)
    prof = sample(img, P)
    prof = np.where(np.isfinite(prof), prof, float(img.min()))
    d = -np.gradient(prof, dr, axis=1)
    d[(sample(metal.astype(np.float32), P, order=0) > 0.5) | ~np.isfinite(d)] = 0.0
    j = np.argmax(d, axis=1)
    strength = d[np.arange(len(angs)), j]
    rr = np.array([rs[0] + subpixel_peak(d[a], int(j[a])) * dr for a in range(len(angs))])
    seen = strength >= 0.2 * ref
    if seen.sum() < 8:
        return None
    # smooth: within 2 mm of the running median (7 rays) of the outline's radius
    med = np.array([np.median(rr[max(0, a - 3):a + 4][seen[max(0, a - 3):a + 4]])
                    if seen[max(0, a - 3):a + 4].any() else np.nan for a in range(len(angs))])
    keep = seen & (np.abs(rr - med) < 2.0)
    adeg = np.degrees(angs)
    pts = c0 + rr[:, None] * dirs
    sel = keep & (np.abs(adeg) <= 45.0)
    if keep.sum() < 8 or sel.sum() < 6:
        return None
    x_, y_ = pts[sel, 0], pts[sel, 1]
    use = np.ones(len(x_), bool)
    for _ in range(3):
        coef = np.polyfit(x_[use], y_[use], 2)
        res = y_ - np.polyval(coef, x_)
        new = np.abs(res) < max(0.75, 2.5 * float(np.std(res[use])))
        if new.sum() < 6 or (new == use).all():
            break
        use = new
    a2, b2, _ = coef
    rms = float(np.sqrt(np.mean(res[use] ** 2)))
    xs = x_[use]
    if a2 < 0:
        xv = float(np.clip(-b2 / (2 * a2), xs.min(), xs.max()))
        yv = float(np.polyval(coef, xv))
    else:
        k = int(np.argmax(y_[use]))
        xv, yv = float(xs[k]), float(y_[use][k])
    lat, inf = lats[0] + xv, infs[0] + yv
    xy = frame.point(lat, inf)
    coverage = float(keep[np.abs(adeg) <= 60.0].mean())
    at_border = inf > window[1][1] - 3 or inf < window[1][0] + 3 or lat < lats[0] + 3 or lat > lats[-1] - 3
    vertex_inside = a2 < 0 and xs.min() + 2.0 < xv < xs.max() - 2.0
    conf = (float(np.clip((coverage - 0.4) / 0.4, 0, 1)) * float(np.clip((dominance - 1.0) / 0.5, 0, 1))
            * float(np.clip(1.5 - rms, 0, 1)) * (0.8 if vertex_inside and not at_border else 0.3))
    log.debug("ischial tuberosity: disc r %.0f mm, coverage %.2f, dominance %.2f, rms %.2f mm",
              r0, coverage, dominance, rms)
    return Found((float(xy[0]), float(xy[1])), round(conf, 3))


def _lower_disc(img: np.ndarray, step: float, usable: np.ndarray) -> tuple[np.ndarray, float, float, float] | None:
    """Centre (grid mm: lat, inf), radius (mm) of the bright disc best outlined from below.

    Edges (local maxima of the gradient magnitude along the normal, ≥ 20 % of the 99.5th
    percentile) whose outward normal points within 75° of inferior vote, weighted by
    their strength, for the centres ``r`` mm inwards along the normal, for every radius in
    :data:`ISCHIUM_RADII_MM` (votes / √r, so a large circle gathering scattered edges does
    not win). Also returns the peak's dominance (ratio to the best peak farther than 0.8 r)
    and the reference edge strength.
    """
    from scipy import ndimage

    gi, gl = np.gradient(img, step)  # per mm, along inf (rows) and lat (cols)
    mag = np.hypot(gi, gl)
    with np.errstate(invalid="ignore", divide="ignore"):
        ni, nl = np.nan_to_num(-gi / mag), np.nan_to_num(-gl / mag)
    if not usable.any():
        return None
    ref = float(np.percentile(mag[usable], 99.5))
    if not np.isfinite(ref) or ref <= 0:
        return None
    R, C = np.mgrid[0:mag.shape[0], 0:mag.shape[1]]
    fwd = ndimage.map_coordinates(mag, [R + ni, C + nl], order=1, mode="nearest")
    bwd = ndimage.map_coordinates(mag, [R - ni, C - nl], order=1, mode="nearest")
    edge = usable & (mag >= fwd) & (mag >= bwd) & (mag > 0.2 * ref) & (ni > 0.25)
    r_idx, c_idx = np.nonzero(edge)
    if len(r_idx) < 10:
        return None
    w = mag[r_idx, c_idx]
    pi, pl = r_idx * step, c_idx * step
    ni_, nl_ = ni[r_idx, c_idx], nl[r_idx, c_idx]
    radii = np.arange(ISCHIUM_RADII_MM[0], ISCHIUM_RADII_MM[1], 1.0)
    shape = (len(radii), int(img.shape[0] * step) + 2, int(img.shape[1] * step) + 2)  # 1 mm bins
    acc = np.zeros(shape)
    for k, r in enumerate(radii):
        ci = np.round(pi - r * ni_).astype(int)
        cl = np.round(pl - r * nl_).astype(int)
        ok = (ci >= 0) & (ci < shape[1]) & (cl >= 0) & (cl < shape[2])
        acc[k] = np.bincount(ci[ok] * shape[2] + cl[ok], weights=w[ok], minlength=shape[1] * shape[2]).reshape(shape[1:])
    acc = ndimage.gaussian_filter(acc, (0.7, 1.0, 1.0)) / np.sqrt(radii)[:, None, None]
    k, ci, cl = np.unravel_index(int(np.argmax(acc)), acc.shape)
    r0 = float(radii[k])
    yy, xx = np.mgrid[0:shape[1], 0:shape[2]]
    far = np.hypot(yy - ci, xx - cl) > 0.8 * r0
    second = float(acc.max(axis=0)[far].max()) if far.any() else 0.0
    dominance = float(acc[k, ci, cl]) / max(1e-12, second)
    return np.array([float(cl), float(ci)]), r0, dominance, ref


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


#: Least confidences of the teardrop and of the ischial tuberosity that show a hemipelvis.
PELVIS_EVIDENCE = {"teardrop": 0.4, "ischial_tuberosity": 0.5, "obturator_foramen": 0.5}


def find_obturator_foramen(ctx: Context, frame: HipFrame,
                           window: tuple[tuple[float, float], tuple[float, float]] = ((-95.0, -5.0), (0.0, 95.0))
                           ) -> Found | None:
    """Centre of the obturator foramen: a dark hole enclosed by bone medial-inferior of the head.

    In the window (1 mm grid, smoothed 1.5 mm), for thresholds at the 30th–70th percentile,
    the regions below the threshold that bone encloses completely (holes of the bone mask)
    of 250–3000 mm², at most 3 times as long as wide and filling ≥ 60 % of their bounding
    ellipse, are candidates; the one darkest against its 3 mm rim wins. Confidence: the
    rim contrast over 0.04 (display units), at most 1. Used as evidence of a pelvis (a
    lateral hip view shows no foramen), not reported as a landmark.
    """
    from scipy import ndimage

    step = 1.0
    lats = np.arange(window[0][0], window[0][1], step)
    infs = np.arange(window[1][0], window[1][1], step)
    img = ndimage.gaussian_filter(frame.grid(ctx, lats, infs), 1.5 / step)
    best = None
    for q in (30, 40, 50, 60, 70):
        bone = img > float(np.percentile(img, q))
        holes = ndimage.binary_fill_holes(bone) & ~bone
        lab, n = ndimage.label(holes)
        if n == 0:
            continue
        areas = ndimage.sum(holes, lab, np.arange(1, n + 1)) * step * step
        for k in np.nonzero((areas >= 250.0) & (areas <= 3000.0))[0]:
            comp = lab == k + 1
            rr, cc = np.nonzero(comp)
            h, w = (np.ptp(rr) + 1) * step, (np.ptp(cc) + 1) * step
            if max(h, w) / min(h, w) > 3.0 or areas[k] / (math.pi / 4 * h * w) < 0.6:
                continue
            rim = ndimage.binary_dilation(comp, iterations=int(3.0 / step)) & ~comp
            contrast = float(img[rim].mean() - img[comp].mean())
            if best is None or contrast > best[0]:
                best = (contrast, lats[0] + cc.mean() * step, infs[0] + rr.mean() * step)
    if best is None:
        return None
    xy = frame.point(best[1], best[2])
    return Found((float(xy[0]), float(xy[1])), round(float(np.clip(best[0] / 0.04, 0, 1)), 3))


def no_pelvis_reason(ctx: Context, frame: HipFrame, head_r_mm: float, prosthesis: bool = False) -> str | None:
    """Why there is no pelvis beside a lone femoral head, or ``None`` if there is one.

    Two heads of one size at one height are a pelvis by themselves; a single head is not:
    a lateral hip view, a shoulder or a round object also show one. An AP hip view shows
    the hemipelvis beside the head: an ischial tuberosity (confidence ≥ 0.5) below and
    medial of it, and above the tuberosity a teardrop (≥ 0.4; 15–90 mm above it and within
    45 mm across) or the obturator foramen (:func:`find_obturator_foramen`, ≥ 0.5; 5–70 mm
    above it). On a lateral view the acetabulum is seen end-on (no teardrop) and the
    ischium overlaps the pubis (no foramen).
    """
    it = find_ischial_tuberosity(ctx, frame)
    if it is None or it.confidence < PELVIS_EVIDENCE["ischial_tuberosity"]:
        return "no pelvis found: no ischial tuberosity below the only femoral head (a lateral view, or not a hip)"

    def above_it(f: Found) -> tuple[float, float]:
        d = (np.asarray(it.xy) - np.asarray(f.xy)) * frame.mm_per_px
        return float(d @ frame.inf), float(d @ frame.lat)

    r_anat = head_r_mm if not prosthesis else 25.0
    td = find_teardrop(ctx, frame, head_r_mm, window=((-(r_anat + 22.0), -(r_anat - 8.0)), (-8.0, 42.0)))
    if td is not None and td.confidence >= PELVIS_EVIDENCE["teardrop"]:
        below, across = above_it(td)
        if 15.0 <= below <= 90.0 and abs(across) <= 45.0:
            return None
    fo = find_obturator_foramen(ctx, frame)
    if fo is not None and fo.confidence >= PELVIS_EVIDENCE["obturator_foramen"]:
        below, across = above_it(fo)
        if 5.0 <= below <= 70.0 and abs(across) <= 45.0:
            return None
    return ("no pelvis found: neither a teardrop nor an obturator foramen above the ischial tuberosity candidate "
            "beside the only femoral head (a lateral view, or not a hip)")
