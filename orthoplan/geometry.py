"""Points, lines, circles and angles; the one place for coordinate conversion.

Image coordinates are ``(x, y)`` = (column, row) in pixels with the DICOM SCOORD origin:
``(0, 0)`` is the top-left *corner* of the top-left pixel, so the centre of array element
``[r, c]`` is ``(c + 0.5, r + 0.5)``. numpy and scikit-image index ``(row, col)`` with
pixel centres on integers: convert with :func:`xy_from_rc` / :func:`rc_from_xy` only.

Physical points are ``(x_mm, y_mm)`` at the anatomy: pixel coordinates times the
calibration's mm per pixel along each axis (:func:`to_mm`).

Examples
--------
>>> xy_from_rc(0, 0)
(0.5, 0.5)
>>> round(angle_between_deg((1, 0), (0, 1)), 6)
90.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .model import Calibration

ArrayLike = Sequence[float] | np.ndarray


# --------------------------------------------------------------------------- conversion


def xy_from_rc(row: float, col: float) -> tuple[float, float]:
    """Image ``(x, y)`` of the array position ``(row, col)`` (pixel centres on integers)."""
    return (float(col) + 0.5, float(row) + 0.5)


def rc_from_xy(x: float, y: float) -> tuple[float, float]:
    """Array ``(row, col)`` (pixel centres on integers) of image point ``(x, y)``."""
    return (float(y) - 0.5, float(x) - 0.5)


def xy_array_from_rc(rc: np.ndarray) -> np.ndarray:
    """Vectorised :func:`xy_from_rc`: ``(N, 2)`` (row, col) → ``(N, 2)`` (x, y)."""
    rc = np.asarray(rc, dtype=float).reshape(-1, 2)
    return rc[:, ::-1] + 0.5


def rc_array_from_xy(xy: np.ndarray) -> np.ndarray:
    """Vectorised :func:`rc_from_xy`: ``(N, 2)`` (x, y) → ``(N, 2)`` (row, col)."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    return xy[:, ::-1] - 0.5


def to_mm(points_px: ArrayLike, calibration: Calibration) -> np.ndarray:
    """Pixel points ``(..., 2)`` → mm at the anatomy, by the calibration's spacing.

    >>> from orthoplan.model import Calibration
    >>> to_mm([10, 20], Calibration(0.5, "ball-marker", 2.0)).tolist()
    [5.0, 10.0]
    """
    p = np.asarray(points_px, dtype=float)
    return p * np.array([calibration.mm_per_px, calibration.mm_per_px_y])


def to_px(points_mm: ArrayLike, calibration: Calibration) -> np.ndarray:
    """Inverse of :func:`to_mm`."""
    p = np.asarray(points_mm, dtype=float)
    return p / np.array([calibration.mm_per_px, calibration.mm_per_px_y])


# --------------------------------------------------------------------------- vectors, lines


def _vec(p: ArrayLike) -> np.ndarray:
    return np.asarray(p, dtype=float).reshape(2)


def unit(v: ArrayLike) -> np.ndarray:
    """``v`` scaled to length 1 (raises ``ValueError`` for a zero vector)."""
    v = _vec(v)
    n = math.hypot(v[0], v[1])
    if n == 0:
        raise ValueError("zero-length vector has no direction")
    return v / n


def distance(a: ArrayLike, b: ArrayLike) -> float:
    """Euclidean distance between two points."""
    d = _vec(b) - _vec(a)
    return math.hypot(d[0], d[1])


def angle_between_deg(u: ArrayLike, v: ArrayLike) -> float:
    """Unsigned angle between two vectors, in [0, 180] degrees."""
    u, v = unit(u), unit(v)
    return math.degrees(math.atan2(abs(u[0] * v[1] - u[1] * v[0]), float(u @ v)))


def signed_angle_deg(u: ArrayLike, v: ArrayLike) -> float:
    """Angle from ``u`` to ``v`` in (-180, 180], positive counter-clockwise in a y-up frame.

    In image coordinates (y down) positive means clockwise on screen.
    """
    u, v = unit(u), unit(v)
    return math.degrees(math.atan2(u[0] * v[1] - u[1] * v[0], float(u @ v)))


def signed_distance_to_line(p: ArrayLike, a: ArrayLike, b: ArrayLike) -> float:
    """Signed perpendicular distance from ``p`` to the line through ``a`` and ``b``.

    Positive on the side the line's left normal ``(-d_y, d_x)`` points to, where
    ``d = (b - a) / |b - a|``.
    """
    d = unit(_vec(b) - _vec(a))
    n = np.array([-d[1], d[0]])
    return float((_vec(p) - _vec(a)) @ n)


def project_onto_line(p: ArrayLike, a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Foot of the perpendicular from ``p`` onto the line through ``a`` and ``b``."""
    a = _vec(a)
    d = unit(_vec(b) - a)
    return a + float((_vec(p) - a) @ d) * d


def line_intersection(a1: ArrayLike, a2: ArrayLike, b1: ArrayLike, b2: ArrayLike) -> np.ndarray:
    """Intersection of line ``a1a2`` with line ``b1b2`` (``ValueError`` if parallel)."""
    p, r = _vec(a1), _vec(a2) - _vec(a1)
    q, s = _vec(b1), _vec(b2) - _vec(b1)
    denom = r[0] * s[1] - r[1] * s[0]
    if abs(denom) < 1e-12 * max(1.0, float(r @ r) * float(s @ s)):
        raise ValueError("lines are parallel")
    t = ((q - p)[0] * s[1] - (q - p)[1] * s[0]) / denom
    return p + t * r


def rotate(points: ArrayLike, angle_deg: float, center: ArrayLike = (0.0, 0.0)) -> np.ndarray:
    """Rotate ``(..., 2)`` points by ``angle_deg`` about ``center`` (counter-clockwise, y up)."""
    a = math.radians(angle_deg)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    c = _vec(center)
    return (np.asarray(points, dtype=float) - c) @ rot.T + c


def reflect_across_line(p: ArrayLike, a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Mirror image of ``p`` across the line through ``a`` and ``b``.

    >>> reflect_across_line((3, 1), (0, 0), (0, 5)).tolist()
    [-3.0, 1.0]
    """
    foot = project_onto_line(p, a, b)
    return 2.0 * foot - _vec(p)


def frame_pose(medial: ArrayLike, distal: ArrayLike) -> tuple[float, bool]:
    """``(rotation_deg, mirror)`` that maps an implant frame onto image directions.

    Implant frames (``docs/catalog.md``) have ``+x`` medial and ``+y`` distal for a right hip
    on a standard AP image. Given the unit image vectors that the frame's ``+x`` and ``+y``
    must become (perpendicular; pixels, y down), return the arguments of
    :func:`orthoplan.catalog.to_image` (rotation clockwise on the screen, then mirror) that
    make ``(u, v)`` land on ``u * medial + v * distal``.

    >>> frame_pose((1, 0), (0, 1))
    (0.0, False)
    >>> frame_pose((-1, 0), (0, 1))
    (0.0, True)
    """
    n, d = unit(medial), unit(distal)
    if abs(float(n @ d)) > 1e-6:
        raise ValueError("the medial and distal directions of an implant frame must be perpendicular")
    if float(n @ np.array([d[1], -d[0]])) > 0:
        return math.degrees(math.atan2(-d[0], d[1])) + 0.0, False
    return math.degrees(math.atan2(d[0], d[1])) + 0.0, True


# --------------------------------------------------------------------------- circles


def fit_circle(points: ArrayLike) -> tuple[float, float, float, float]:
    """Least-squares circle through ``(N, 2)`` points (N ≥ 3).

    Uses scikit-image's geometric (total least squares) fit.

    Returns
    -------
    cx, cy, radius, rms
        Centre, radius and root-mean-square radial residual, in the points' units.

    Examples
    --------
    >>> t = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    >>> cx, cy, r, rms = fit_circle(np.c_[3 + 2 * np.cos(t), -1 + 2 * np.sin(t)])
    >>> round(cx, 6), round(cy, 6), round(r, 6)
    (3.0, -1.0, 2.0)
    """
    from skimage.measure import CircleModel

    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    if len(pts) < 3 or not np.all(np.isfinite(pts)):
        raise ValueError("a circle fit needs at least 3 finite points")
    model = CircleModel.from_estimate(pts)
    if not model:
        raise ValueError("circle fit failed (points collinear?)")
    cx, cy = (float(v) for v in model.center)
    r = float(model.radius)
    resid = np.hypot(pts[:, 0] - cx, pts[:, 1] - cy) - r
    return cx, cy, r, float(np.sqrt(np.mean(resid**2)))


def circle_polyline(cx: float, cy: float, r: float, n: int = 72) -> np.ndarray:
    """``(n, 2)`` points on a circle (for drawing), first point not repeated."""
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    return np.c_[cx + r * np.cos(t), cy + r * np.sin(t)]


# --------------------------------------------------------------------------- images


def block_mean(image: np.ndarray, factor: int) -> np.ndarray:
    """Mean over ``factor × factor`` blocks (the ragged last row/column is dropped).

    >>> block_mean(np.arange(16, dtype=float).reshape(4, 4), 2).tolist()
    [[2.5, 4.5], [10.5, 12.5]]
    """
    a = np.asarray(image, dtype=np.float32)
    if factor == 1:
        return a.copy()
    r, c = (a.shape[0] // factor) * factor, (a.shape[1] // factor) * factor
    # strided in-place adds: 2-4x faster than ndarray.sum over the short block axes
    rows = a[:r, :c].reshape(r // factor, factor, c)
    acc = rows[:, 0, :].copy()
    for i in range(1, factor):
        acc += rows[:, i, :]
    cols = acc.reshape(r // factor, c // factor, factor)
    out = cols[:, :, 0].copy()
    for j in range(1, factor):
        out += cols[:, :, j]
    out /= np.float32(factor * factor)
    return out
