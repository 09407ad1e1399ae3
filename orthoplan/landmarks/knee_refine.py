"""Move a knee joint-line point from a start point onto the image feature, at full resolution.

A start point (a learned detector's point on a reduced film, or a person's click) is moved
onto the feature that the readers of ``docs/reading-films.md`` mark, searching only within
:data:`SEARCH_MM` of the start, on the film's own pixels:

* ``femoral_condyle_medial`` / ``_lateral`` (AP) and ``femoral_posterior_condyle`` (lateral
  view): the *extreme point* of a condyle's outline, the most distal (AP) or the most
  posterior (lateral view) point of the bone-to-joint-space edge. The edge is traced across
  the search window (dynamic programming over the edge strength) and its extreme point taken
  where the outline bends back on both sides of it within the window;
* ``tibial_plateau_medial`` / ``_lateral`` (AP) and ``tibial_plateau_anterior`` /
  ``_posterior`` (lateral view): the *corner* of the tibia where the plateau's subchondral
  line (joint space above, bone below) meets the outer cortex (bone inside, soft tissue
  outside): the point where both edges are strongest together.

On lateral films (the posterior condyle and the plateau rims) the search is not used: measured
on real films it did not bring points closer to our readings (:data:`UNRELIABLE`), so
:func:`refine_joint_point` is always unsure there. For the two condyles of an AP film,
:func:`refine_condyle_pair` finds the tangent to both and its touch points, the readers'
definition, without needing the tangent's direction beforehand.

Where the feature is not clear (weak edge, no extreme point or corner inside the window, two
corners of like strength) :func:`refine_joint_point` returns ``None`` and the caller keeps its
start point. The directions are given by the caller: ``down_xy`` towards the feet along the
bone the point belongs to (the femur's axis for femoral points, the tibia's for tibial ones),
``lateral_xy`` away from the knee's midline (AP) or towards anterior (lateral view).

Everything is in image ``(x, y)`` with the DICOM SCOORD origin (the centre of array element
``[r, c]`` is ``(c + 0.5, r + 0.5)``); ``display`` is bone bright (``Radiograph.display``).
How well it does on real films, against our readings, is in ``docs/accuracy.md``
("Refining knee joint-line points (real films)"; ``scripts/knee_refine_accuracy.py``).

Examples
--------
A bright block (bone) whose top-right corner is at ``(60, 40)``, a start 4 px off:

>>> import numpy as np
>>> img = np.zeros((100, 100), np.float32)
>>> img[40:, :60] = 1.0
>>> x, y, conf = refine_joint_point(img, "tibial_plateau_lateral", (63.0, 37.0),
...                                 down_xy=(0.0, 1.0), lateral_xy=(1.0, 0.0), mm_per_px=0.5)
>>> abs(x - 60) < 1.5, abs(y - 40) < 1.5, conf > 0.5
(True, True, True)
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from ..errors import LandmarkError
from .common import point_xy

log = logging.getLogger(__name__)

__all__ = ["EXTREME_ANATOMIES", "CORNER_ANATOMIES", "JOINT_ANATOMIES", "UNRELIABLE", "SEARCH_MM", "Refined",
           "refine_joint_point", "refine_joint_point_details", "refine_condyle_pair"]

#: The anatomies refined as the extreme point of a condyle, and the direction they are extreme in
#: (``"down"``: towards the feet; ``"back"``: posterior, against ``lateral_xy`` on a lateral view).
EXTREME_ANATOMIES = {"femoral_condyle_medial": "down", "femoral_condyle_lateral": "down",
                     "femoral_posterior_condyle": "back"}
#: The anatomies refined as a corner of the tibia, and the side the corner points to (``"out"``:
#: along ``lateral_xy``; ``"back"``: against it: the medial margin on an AP film, the posterior
#: rim on a lateral one).
CORNER_ANATOMIES = {"tibial_plateau_medial": "back", "tibial_plateau_lateral": "out",
                    "tibial_plateau_anterior": "out", "tibial_plateau_posterior": "back"}
JOINT_ANATOMIES = tuple(EXTREME_ANATOMIES) + tuple(CORNER_ANATOMIES)
#: Anatomies whose refinement did not move points towards our readings on real films
#: (docs/accuracy.md, "Refining knee joint-line points (real films)"): always unsure, with this
#: reason, unless ``include_unreliable`` (the measurement script) asks for the search anyway.
UNRELIABLE = {a: "not refined on lateral films: on real films it did not bring points closer to the readings"
              for a in ("femoral_posterior_condyle", "tibial_plateau_anterior", "tibial_plateau_posterior")}

#: The search reaches this far from the start (mm at the knee).
SEARCH_MM = 8.0
#: The film is smoothed with a Gaussian of this sigma (mm) before edges are taken; never less
#: than :data:`MIN_SIGMA_PX` pixels.
SIGMA_MM = 0.6
MIN_SIGMA_PX = 0.7
#: Samples of the search grid are this far apart (mm), never closer than half a pixel.
STEP_MM = 0.25
#: Edge contrast is measured against the film's grey-value range within this distance (mm).
CONTEXT_MM = 30.0
#: The bone beside a found edge (this far inside it, mm) must be at least this bright, as a share
#: of the range from soft tissue to bone around it: an edge in soft tissue is none.
BONE_MM = 1.5
BONE_LEVEL = 0.35
#: An edge is taken only where its contrast (the grey-value step across one mm, in units of the
#: window's grey-value range) is at least this.
MIN_CONTRAST = 0.02
#: An extreme point must have the outline fall back by this much (mm) on both sides of it
#: within the window, else the outline is too flat to tell where along it the point lies.
MIN_BEND_MM = 0.5
#: A plateau edge shorter than this (mm) is no edge.
MIN_RUN_MM = 2.0
#: The plateau's margin is where its edge falls to this share of the edge's typical strength.
END_LEVEL = 0.35
#: The condyle's touch point is the vertex of a parabola fitted to its outline this far (mm) on
#: either side along the tangent.
FIT_MM = 3.0
#: A condyle's edge counts as much as the film is dark this far (mm) below it, in the joint space
#: (not the tibia's subchondral plate).
DARK_MM = 1.0
DARK_POWER = 1.0


@dataclass(frozen=True)
class Refined:
    """What :func:`refine_joint_point_details` found.

    ``xy`` the refined point (``None`` when unsure), ``confidence`` in [0, 1], ``reason`` why
    it is unsure (empty when sure), ``contrast`` the feature's edge contrast.
    """

    xy: tuple[float, float] | None
    confidence: float
    reason: str = ""
    contrast: float = 0.0


# --------------------------------------------------------------------------- checks


def _anatomy(name: str) -> str:
    if not isinstance(name, str):
        raise LandmarkError(f"knee refinement: the anatomy must be a name, got {name!r}")
    base = name[:-6] if name.endswith("_right") else name[:-5] if name.endswith("_left") else name
    if base not in JOINT_ANATOMIES:
        raise LandmarkError(f"knee refinement: {name!r} is not a joint-line point "
                            f"(one of {', '.join(JOINT_ANATOMIES)})")
    return base


def _vector(value, what: str) -> np.ndarray:
    return point_xy(value, f"knee refinement: {what}")


def _frame(down_xy, lateral_xy) -> tuple[np.ndarray, np.ndarray]:
    """Unit ``down`` and the unit ``lateral`` made perpendicular to it."""
    down = _vector(down_xy, "down_xy")
    lat = _vector(lateral_xy, "lateral_xy")
    nd, nl = float(np.hypot(*down)), float(np.hypot(*lat))
    if nd < 1e-9 or nl < 1e-9:
        raise LandmarkError("knee refinement: down_xy and lateral_xy must not be zero")
    down, lat = down / nd, lat / nl
    if abs(float(down @ lat)) > 0.5:
        raise LandmarkError("knee refinement: down_xy and lateral_xy must be about perpendicular "
                            f"(they are {math.degrees(math.acos(min(1.0, abs(float(down @ lat))))):.0f}° apart)")
    lat = lat - float(down @ lat) * down
    return down, lat / float(np.hypot(*lat))


def _image(display) -> np.ndarray:
    img = np.asarray(display)
    if img.ndim != 2 or min(img.shape) < 3:
        raise LandmarkError(f"knee refinement: the image must be a 2-D array, got shape {img.shape}")
    if not np.issubdtype(img.dtype, np.number) or np.issubdtype(img.dtype, np.complexfloating):
        raise LandmarkError(f"knee refinement: the image must hold real numbers, got {img.dtype}")
    return img


# --------------------------------------------------------------------------- sampling


def _grid(img: np.ndarray, start: np.ndarray, along: np.ndarray, across: np.ndarray, half_px: float,
          step_px: float, sigma_px: float) -> np.ndarray:
    """The smoothed film on a square grid around ``start``: ``g[i, j]`` lies at
    ``start + (i - n) * step * along + (j - n) * step * across``."""
    from scipy.ndimage import gaussian_filter, map_coordinates

    n = int(math.ceil(half_px / step_px))
    margin = half_px * math.sqrt(2) + 4 * sigma_px + 2
    h, w = img.shape
    x0, x1 = max(0, int(start[0] - margin)), min(w, int(start[0] + margin) + 1)
    y0, y1 = max(0, int(start[1] - margin)), min(h, int(start[1] + margin) + 1)
    if x1 - x0 < 3 or y1 - y0 < 3:
        raise LandmarkError("knee refinement: the start point lies outside the film")
    patch = np.asarray(img[y0:y1, x0:x1], dtype=np.float64)
    if not np.all(np.isfinite(patch)):
        raise LandmarkError("knee refinement: the film has non-finite pixels around the start point")
    patch = gaussian_filter(patch, sigma_px, mode="nearest")
    k = (np.arange(2 * n + 1) - n) * step_px
    pts = start[None, None, :] + k[:, None, None] * along[None, None, :] + k[None, :, None] * across[None, None, :]
    rc = np.stack([pts[..., 1] - 0.5 - y0, pts[..., 0] - 0.5 - x0])
    return map_coordinates(patch, rc, order=1, mode="nearest")


def _level(g: np.ndarray, row: float, col: float, lo: float, hi: float) -> float:
    """The grid's grey value at ``(row, col)`` (clipped to the grid) between ``lo`` (0) and ``hi`` (1)."""
    r = min(max(row, 0.0), g.shape[0] - 1.0)
    c = min(max(col, 0.0), g.shape[1] - 1.0)
    r0, c0 = int(r), int(c)
    r1, c1 = min(r0 + 1, g.shape[0] - 1), min(c0 + 1, g.shape[1] - 1)
    fr, fc = r - r0, c - c0
    v = ((1 - fr) * ((1 - fc) * g[r0, c0] + fc * g[r0, c1]) + fr * ((1 - fc) * g[r1, c0] + fc * g[r1, c1]))
    return float((v - lo) / (hi - lo))


def _grid_point(start: np.ndarray, along: np.ndarray, across: np.ndarray, n: int, step_px: float,
                i: float, j: float) -> np.ndarray:
    return start + (i - n) * step_px * along + (j - n) * step_px * across


def _context_levels(img: np.ndarray, start: np.ndarray, radius_px: float) -> tuple[float, float]:
    """The grey values (2nd and 98th percentile) of the film within ``radius_px`` of ``start``:
    soft tissue and bone. Their difference is the unit of every edge's contrast (a window inside
    soft tissue alone has a small range, and its noise would otherwise read as edges)."""
    h, w = img.shape
    x0, x1 = max(0, int(start[0] - radius_px)), min(w, int(start[0] + radius_px) + 1)
    y0, y1 = max(0, int(start[1] - radius_px)), min(h, int(start[1] + radius_px) + 1)
    stride = max(1, int((x1 - x0) // 100))
    patch = np.asarray(img[y0:y1:stride, x0:x1:stride], dtype=np.float64)
    lo, hi = np.percentile(patch, [2, 98])
    return float(lo), max(float(hi), float(lo) + 1e-6)


# --------------------------------------------------------------------------- extreme point


def _trace(strength: np.ndarray, max_jump: int) -> np.ndarray:
    """The row of the strongest edge in each column, continuous (rows change by at most
    ``max_jump`` from one column to the next): dynamic programming over the summed strength."""
    rows, cols = strength.shape
    score = strength[:, 0].copy()
    back = np.zeros((rows, cols), dtype=np.intp)
    idx = np.arange(rows)
    for c in range(1, cols):
        best = np.full(rows, -np.inf)
        arg = idx.copy()
        for d in range(-max_jump, max_jump + 1):
            src = idx + d
            ok = (src >= 0) & (src < rows)
            cand = np.where(ok, score[np.clip(src, 0, rows - 1)], -np.inf)
            better = cand > best
            best = np.where(better, cand, best)
            arg = np.where(better, src, arg)
        back[:, c] = arg
        score = best + strength[:, c]
    path = np.empty(cols, dtype=np.intp)
    path[-1] = int(np.argmax(score))
    for c in range(cols - 1, 0, -1):
        path[c - 1] = back[path[c], c]
    return path


def _darkness(g: np.ndarray, shift: float) -> np.ndarray:
    """How dark (0 bright .. 1 dark, within the window's range) the grid is ``shift`` rows further
    on from each sample (the joint space lies below a condyle's edge and above the plateau's)."""
    from scipy.ndimage import shift as nd_shift

    lo, hi = np.percentile(g, [2, 98])
    moved = nd_shift(g, (-shift, 0.0), order=1, mode="nearest")
    return np.clip((hi - moved) / max(hi - lo, 1e-6), 0.0, 1.0) ** DARK_POWER


def _subrows(strength: np.ndarray, path: np.ndarray) -> np.ndarray:
    """The traced rows refined to a sub-sample by a parabola across the edge in each column."""
    rows = path.astype(float)
    for c, r in enumerate(path):
        if 0 < r < strength.shape[0] - 1:
            a, b, cc = strength[r - 1, c], strength[r, c], strength[r + 1, c]
            den = a - 2 * b + cc
            if den < 0:
                rows[c] = r + float(np.clip(0.5 * (a - cc) / den, -0.5, 0.5))
    return rows


@dataclass(frozen=True)
class _Outline:
    """A condyle's bone-to-joint-space edge traced across a grid: sub-sample ``rows`` of the
    columns ``first..last`` (the longest strong stretch), and its ``contrast``."""

    rows: np.ndarray
    first: int
    last: int
    contrast: float


def _outline(g: np.ndarray, step_mm: float, contrast_unit: float) -> _Outline | None:
    """The bright-to-dark edge (going down the rows) of grid ``g``, or ``None`` when there is none."""
    d_row = np.gradient(g, axis=0) / step_mm  # grey per mm along the extreme direction
    strength = np.clip(-d_row, 0.0, None) / contrast_unit * _darkness(g, DARK_MM / step_mm)
    path = _trace(strength, max_jump=2)
    s = strength[path, np.arange(g.shape[1])]
    peak = float(np.percentile(s, 90))
    if peak < MIN_CONTRAST:
        return None
    runs = _runs(s >= max(MIN_CONTRAST, 0.35 * peak))
    first, last = max(runs, key=lambda r: (r[1] - r[0], float(np.sum(s[r[0]:r[1] + 1]))))
    if (last - first) * step_mm < MIN_RUN_MM:
        return None
    return _Outline(_subrows(strength, path), first, last, float(np.median(s[first:last + 1])))


def _extreme(g: np.ndarray, step_mm: float, contrast_unit: float) -> tuple[float, float, float, str]:
    """The extreme point (largest row) of the bright-to-dark edge (going down the rows) of grid
    ``g``: ``(row, col, contrast, reason)``; reason is empty when sure."""
    o = _outline(g, step_mm, contrast_unit)
    if o is None:
        return math.nan, math.nan, 0.0, "no edge"
    rows = o.rows[o.first:o.last + 1]
    far = float(np.max(rows))
    at = np.nonzero(rows >= far - 0.25)[0]
    c0 = int(np.argmax(rows))
    bend = MIN_BEND_MM / step_mm
    if not (np.any(rows[:c0 + 1] <= far - bend) and np.any(rows[c0:] <= far - bend)):
        return math.nan, math.nan, o.contrast, "no extreme point inside the search window"
    col = o.first + 0.5 * (float(at[0]) + float(at[-1]))
    return far, col, o.contrast, ""


# --------------------------------------------------------------------------- corner


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """The ``(first, last)`` index of each run of True in ``mask``."""
    out, i, n = [], 0, len(mask)
    while i < n:
        if mask[i]:
            j = i
            while j + 1 < n and mask[j + 1]:
                j += 1
            out.append((i, j))
            i = j + 1
        else:
            i += 1
    return out


def _corner(g: np.ndarray, step_mm: float, contrast_unit: float) -> tuple[float, float, float, str]:
    """The outer end of the tibial plateau's edge in grid ``g`` (rows go down, columns go
    inwards): ``(row, col, contrast, reason)``.

    The plateau's edge (joint space above, bone below: grey rising down the rows) is traced
    across the window; the margin is the outer end (smallest column) of its longest strong
    stretch, where its strength falls to half. An edge that runs out of the window's outer side
    has no end inside it: unsure.
    """
    d_row = np.gradient(g, axis=0) / step_mm / contrast_unit
    strength = np.clip(d_row, 0.0, None)
    path = _trace(strength, max_jump=2)
    cols = np.arange(g.shape[1])
    s = strength[path, cols]
    peak = float(np.percentile(s, 90))
    if peak < MIN_CONTRAST:
        return math.nan, math.nan, peak, "no plateau edge"
    level = max(MIN_CONTRAST, END_LEVEL * float(np.median(s[s >= 0.5 * peak])))
    runs = _runs(s >= level)
    first, last = max(runs, key=lambda r: (r[1] - r[0], float(np.sum(s[r[0]:r[1] + 1]))))
    if (last - first) * step_mm < MIN_RUN_MM:
        return math.nan, math.nan, peak, "no plateau edge"
    if first <= 0:
        return math.nan, math.nan, peak, "the plateau edge runs beyond the search window"
    contrast = float(np.median(s[first:min(last, first + int(2.0 / step_mm)) + 1]))
    # sub-sample: where the strength crosses the level between first - 1 and first
    a, b = s[first - 1], s[first]
    col = first - (b - level) / (b - a) if b > a else float(first)
    r = int(path[first])
    prof = strength[:, first]
    row = float(r)
    if 0 < r < len(prof) - 1:
        pa, pb, pc = prof[r - 1], prof[r], prof[r + 1]
        den = pa - 2 * pb + pc
        if den < 0:
            row = r + float(np.clip(0.5 * (pa - pc) / den, -0.5, 0.5))
    return row, float(col), contrast, ""


# --------------------------------------------------------------------------- public


def _confidence(contrast: float, moved_mm: float, search_mm: float) -> float:
    """A score in [0, 1]: rises with the feature's contrast, falls as the point moves far."""
    c = 1.0 - math.exp(-max(0.0, contrast - MIN_CONTRAST) / 0.15)
    return float(np.clip(c * (1.0 - 0.4 * min(1.0, moved_mm / search_mm)), 0.0, 1.0))


def refine_joint_point_details(display: np.ndarray, anatomy: str, start_xy, down_xy, lateral_xy,
                               mm_per_px: float, search_mm: float = SEARCH_MM,
                               include_unreliable: bool = False) -> Refined:
    """:func:`refine_joint_point` with the reason when unsure (see there for the arguments).

    >>> import numpy as np
    >>> refine_joint_point_details(np.zeros((50, 50)), "femoral_condyle_medial", (25, 25),
    ...                            (0, 1), (1, 0), 0.5).reason
    'no edge'
    """
    base = _anatomy(anatomy)
    img = _image(display)
    start = _vector(start_xy, "start_xy")
    down, lat = _frame(down_xy, lateral_xy)
    if isinstance(mm_per_px, bool) or not isinstance(mm_per_px, (int, float, np.floating, np.integer)) \
            or not math.isfinite(mm_per_px) or mm_per_px <= 0:
        raise LandmarkError(f"knee refinement: mm_per_px must be a positive number, got {mm_per_px!r}")
    if not (isinstance(search_mm, (int, float)) and math.isfinite(search_mm) and search_mm > 0):
        raise LandmarkError(f"knee refinement: search_mm must be a positive number, got {search_mm!r}")
    h, w = img.shape
    if not (0 <= start[0] <= w and 0 <= start[1] <= h):
        raise LandmarkError(f"knee refinement: the start point ({start[0]:.1f}, {start[1]:.1f}) lies outside "
                            f"the {w} x {h} film")
    if base in UNRELIABLE and not include_unreliable:
        return Refined(None, 0.0, UNRELIABLE[base])
    mm = float(mm_per_px)
    step_px = max(0.5, STEP_MM / mm)
    step_mm = step_px * mm
    sigma_px = max(MIN_SIGMA_PX, SIGMA_MM / mm)
    half_px = search_mm / mm
    n = int(math.ceil(half_px / step_px))
    if base in EXTREME_ANATOMIES:
        along = down if EXTREME_ANATOMIES[base] == "down" else -lat
        across = lat if EXTREME_ANATOMIES[base] == "down" else down
        g = _grid(img, start, along, across, half_px, step_px, sigma_px)
        lo, hi = _context_levels(img, start, CONTEXT_MM / mm)
        row, col, contrast, reason = _extreme(g, step_mm, hi - lo)
        inside = (-BONE_MM / step_mm, 0.0)  # the condyle lies above its edge
    else:
        out = lat if CORNER_ANATOMIES[base] == "out" else -lat
        # rows go down, columns go inwards (against ``out``)
        g = _grid(img, start, down, -out, half_px, step_px, sigma_px)
        lo, hi = _context_levels(img, start, CONTEXT_MM / mm)
        row, col, contrast, reason = _corner(g, step_mm, hi - lo)
        along, across = down, -out
        inside = (BONE_MM / step_mm, BONE_MM / step_mm)  # the tibia lies below and inside its margin
    if not reason and _level(g, row + inside[0], col + inside[1], lo, hi) < BONE_LEVEL:
        reason = "no bone beside the edge"
    if reason:
        log.debug("knee refinement of %s: unsure (%s)", base, reason)
        return Refined(None, 0.0, reason, contrast)
    p = _grid_point(start, along, across, n, step_px, row, col)
    moved_mm = float(np.hypot(*(p - start))) * mm
    if moved_mm > search_mm:
        return Refined(None, 0.0, "the feature lies beyond the search distance", contrast)
    return Refined((float(p[0]), float(p[1])), _confidence(contrast, moved_mm, search_mm), "", contrast)


def _upper_hull(u: np.ndarray, v: np.ndarray) -> list[int]:
    """Indices (by increasing ``u``) of the hull of the points ``(u, v)`` on the side of large ``v``."""
    hull: list[int] = []
    for i in np.lexsort((v, u)):
        while len(hull) >= 2:
            o, q = hull[-2], hull[-1]
            if (u[q] - u[o]) * (v[i] - v[o]) - (v[q] - v[o]) * (u[i] - u[o]) >= 0:
                hull.pop()
            else:
                break
        hull.append(int(i))
    return hull


def _condyle_outline(img: np.ndarray, center: np.ndarray, along: np.ndarray, across: np.ndarray, mm: float,
                     search_mm: float) -> tuple[np.ndarray, float, int, int] | None:
    """A condyle's distal outline near ``center``: its points (image xy, ``(k, 2)``), contrast, and
    the index range ``first..last`` of its strong stretch."""
    step_px = max(0.5, STEP_MM / mm)
    sigma_px = max(MIN_SIGMA_PX, SIGMA_MM / mm)
    half_px = search_mm / mm
    n = int(math.ceil(half_px / step_px))
    g = _grid(img, center, along, across, half_px, step_px, sigma_px)
    lo, hi = _context_levels(img, center, CONTEXT_MM / mm)
    o = _outline(g, step_px * mm, hi - lo)
    if o is None:
        return None
    cols = np.arange(len(o.rows), dtype=float)
    pts = (center[None, :] + ((o.rows - n) * step_px)[:, None] * along[None, :]
           + ((cols - n) * step_px)[:, None] * across[None, :])
    return pts, o.contrast, o.first, o.last


def _vertex(pts: np.ndarray, idx: int, t: np.ndarray, perp: np.ndarray, half_px: float) -> np.ndarray:
    """The touch point ``pts[idx]`` made finer: the vertex of a parabola fitted to the outline
    points within ``half_px`` of it along the tangent ``t`` (heights along ``perp``)."""
    u, v = pts @ t, pts @ perp
    near = np.abs(u - u[idx]) <= half_px
    if np.count_nonzero(near) < 5:
        return pts[idx]
    uu = u[near] - u[idx]
    a, b, c = np.polyfit(uu, v[near], 2)
    if a >= 0:
        return pts[idx]
    u0 = float(np.clip(-b / (2 * a), uu.min(), uu.max()))
    return (u[idx] + u0) * t + (a * u0 * u0 + b * u0 + c) * perp


def refine_condyle_pair(display: np.ndarray, medial_start_xy, lateral_start_xy, down_xy, mm_per_px: float,
                        search_mm: float = SEARCH_MM) -> tuple[Refined, Refined]:
    """Both femoral condyles' distal points on an AP film: where the tangent to both condyles
    touches them (``docs/reading-films.md``), from a start point on each.

    Each condyle's distal outline is traced within ``search_mm`` of its start; the tangent
    touching both from below is the edge of their joint convex hull that joins the two
    outlines, and its ends are the points. The windows are moved onto the points once and the
    tangent found again. A point is unsure where its outline ends at the touch point (the
    condyle's lowest point lies beyond the window) or no outline is found.

    Returns ``(medial, lateral)`` as :class:`Refined`; raises :class:`LandmarkError` on bad input.

    >>> import numpy as np
    >>> img = np.zeros((120, 200), np.float32)
    >>> yy, xx = np.mgrid[0:120, 0:200] + 0.5
    >>> img[((xx - 60) ** 2 + (yy - 40) ** 2 < 30 ** 2) | ((xx - 140) ** 2 + (yy - 44) ** 2 < 30 ** 2)] = 1
    >>> med, lat = refine_condyle_pair(img, (63, 68), (136, 76), (0, 1), 0.5)
    >>> truth = np.array([58.5, 70.0, 138.5, 74.0])   # where the lower tangent touches the circles
    >>> bool(np.all(np.abs(np.array(med.xy + lat.xy) - truth) < 2.0))
    True
    """
    img = _image(display)
    m0 = _vector(medial_start_xy, "medial_start_xy")
    l0 = _vector(lateral_start_xy, "lateral_start_xy")
    down = _vector(down_xy, "down_xy")
    if not (isinstance(mm_per_px, (int, float, np.floating, np.integer)) and not isinstance(mm_per_px, bool)
            and math.isfinite(mm_per_px) and mm_per_px > 0):
        raise LandmarkError(f"knee refinement: mm_per_px must be a positive number, got {mm_per_px!r}")
    mm = float(mm_per_px)
    if float(np.hypot(*(l0 - m0))) * mm < search_mm:
        raise LandmarkError("knee refinement: the two condyles' start points are too close together")
    if float(np.hypot(*down)) < 1e-9:
        raise LandmarkError("knee refinement: down_xy must not be zero")
    h, w = img.shape
    for v in (m0, l0):
        if not (0 <= v[0] <= w and 0 <= v[1] <= h):
            raise LandmarkError(f"knee refinement: the start point ({v[0]:.1f}, {v[1]:.1f}) lies outside the film")
    unsure = (Refined(None, 0.0, "no condyle outline"),) * 2
    centers = [m0, l0]
    result = unsure
    for _ in range(2):
        t = centers[1] - centers[0]
        t = t / float(np.hypot(*t))
        perp = np.array([-t[1], t[0]])
        perp = perp if float(perp @ down) >= 0 else -perp
        got = [_condyle_outline(img, c, perp, t, mm, search_mm) for c in centers]
        if got[0] is None or got[1] is None:
            med, lat = (Refined(None, 0.0, "no condyle outline") if g is None else
                        Refined(None, 0.0, "the other condyle has no outline") for g in got)
            return med, lat
        pts = np.concatenate([g[0][g[2]:g[3] + 1] for g in got])
        label = np.concatenate([np.full(g[3] - g[2] + 1, k) for k, g in enumerate(got)])
        hull = _upper_hull(pts @ t, pts @ perp)
        edges = [(i, j) for i, j in zip(hull[:-1], hull[1:]) if label[i] != label[j]]
        if len(edges) != 1:
            return (Refined(None, 0.0, "no tangent to both condyles"),) * 2
        i, j = edges[0]
        touch = {int(label[i]): i, int(label[j]): j}
        offset = [0, got[0][3] - got[0][2] + 1]
        out = []
        for k in (0, 1):
            g, idx = got[k], touch[k] - offset[k]
            k_end = min(idx, (g[3] - g[2]) - idx) * max(0.5, STEP_MM / mm) * mm
            p = _vertex(g[0][g[2]:g[3] + 1], idx, t, perp, FIT_MM / mm)
            moved = float(np.hypot(*(p - (m0, l0)[k]))) * mm
            if k_end < MIN_BEND_MM:
                out.append(Refined(None, 0.0, "the condyle's lowest point lies beyond the search window", g[1]))
            elif moved > search_mm:
                out.append(Refined(None, 0.0, "the feature lies beyond the search distance", g[1]))
            else:
                out.append(Refined((float(p[0]), float(p[1])), _confidence(g[1], moved, search_mm), "", g[1]))
        result = (out[0], out[1])
        if out[0].xy is None or out[1].xy is None:
            break
        centers = [np.array(out[0].xy), np.array(out[1].xy)]
    return result


def refine_joint_point(display: np.ndarray, anatomy: str, start_xy, down_xy, lateral_xy,
                       mm_per_px: float) -> tuple[float, float, float] | None:
    """Move a knee joint-line point from ``start_xy`` onto the feature; ``None`` when unsure.

    Parameters
    ----------
    display
        The film at full resolution, bone bright (``Radiograph.display``), 2-D.
    anatomy
        One of :data:`JOINT_ANATOMIES` (a ``_right`` / ``_left`` suffix is allowed).
    start_xy
        The start point, image ``(x, y)`` in stored pixels.
    down_xy
        Towards the feet along the point's bone (femoral axis for the condyles, tibial axis for
        the plateau), image ``(x, y)``; need not be a unit vector.
    lateral_xy
        Away from the knee's midline (AP view) or towards anterior (lateral view), about
        perpendicular to ``down_xy``.
    mm_per_px
        The film's scale at the knee (a plausible one will do: the search reaches
        :data:`SEARCH_MM` mm, the smoothing is :data:`SIGMA_MM` mm).

    Returns
    -------
    ``(x, y, confidence)`` or ``None`` when the feature is not clear within :data:`SEARCH_MM`
    of the start (the caller then keeps the start). ``confidence`` rises with the feature's edge
    contrast and falls as the point moves far from the start; it is a ranking score, not a
    calibrated probability (docs/accuracy.md gives the shares within 2 mm of our readings).

    Raises
    ------
    LandmarkError
        An unknown anatomy, a non-finite or misshapen start, direction or scale, a start
        outside the film, an image that is not a 2-D array of finite numbers near the start.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((120, 120), np.float32)
    >>> yy, xx = np.mgrid[0:120, 0:120] + 0.5
    >>> img[(xx - 60) ** 2 + (yy - 40) ** 2 < 30 ** 2] = 1.0   # a condyle, lowest point (60, 70)
    >>> x, y, conf = refine_joint_point(img, "femoral_condyle_medial", (64, 66), (0, 1), (1, 0), 0.5)
    >>> abs(x - 60) < 1.5, abs(y - 70) < 1.0
    (True, True)
    """
    got = refine_joint_point_details(display, anatomy, start_xy, down_xy, lateral_xy, mm_per_px)
    if got.xy is None:
        return None
    return (got.xy[0], got.xy[1], got.confidence)
