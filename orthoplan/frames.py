"""Directions and reference frames from landmarks: the pelvic horizontal and vertical.

Shared by the measurements (:mod:`orthoplan.measurements`) and templating
(:mod:`orthoplan.templating`): both work in the pelvic frame that the landmarks define. Points
are ``(x, y)`` in mm at the anatomy (or pixels, where only directions matter); degenerate
geometry raises :class:`~orthoplan.errors.MeasurementError` with the reason.

Examples
--------
>>> ref = pelvic_reference({"teardrop_right": (0, 0), "teardrop_left": (100, 0)})
>>> ref.line, ref.left.tolist(), ref.superior.tolist()
('teardrop', [1.0, 0.0], [0.0, -1.0])
>>> round(angle_from_axis_deg((1, -1), axis_from=(0, -1), axis_to=(1, 0)), 6)
45.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from .errors import MeasurementError
from .model import ImageOrientation, LandmarkName, Side

__all__ = [
    "MIN_SEPARATION_MM",
    "point",
    "direction",
    "unit_vector",
    "orthonormal_frame",
    "perpendicular_towards",
    "angle_from_axis_deg",
    "image_axes",
    "frame_from_line",
    "PelvicReference",
    "pelvic_reference",
]

#: Two points that define a direction (a line, an axis) must be at least this far apart.
MIN_SEPARATION_MM = 1.0


def point(v) -> np.ndarray:
    """``v`` as a finite ``(2,)`` float array (MeasurementError otherwise)."""
    a = np.asarray(v, dtype=float).reshape(2)
    if not np.all(np.isfinite(a)):
        raise MeasurementError(f"point {a.tolist()} is not finite")
    return a


def direction(a, b, what: str) -> np.ndarray:
    """Unit vector from ``a`` to ``b``; MeasurementError if closer than MIN_SEPARATION_MM."""
    d = point(b) - point(a)
    n = math.hypot(d[0], d[1])
    if n < MIN_SEPARATION_MM:
        raise MeasurementError(
            f"{what} are {n:.3g} mm apart (at least {MIN_SEPARATION_MM:g} mm needed): the direction "
            "is undefined; check these landmarks"
        )
    return d / n


def unit_vector(v, what: str) -> np.ndarray:
    """``v`` normalised; MeasurementError for a zero vector."""
    v = point(v)
    n = math.hypot(v[0], v[1])
    if n == 0:
        raise MeasurementError(f"{what} is a zero vector")
    return v / n


def orthonormal_frame(superior, lateral) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal (superior, lateral) frame; ``lateral`` only gives the sign of the second axis."""
    s = unit_vector(superior, "the superior direction")
    lat = point(lateral)
    lat = lat - float(lat @ s) * s
    return s, unit_vector(lat, "the lateral direction (parallel to superior?)")


def perpendicular_towards(d: np.ndarray, towards) -> np.ndarray:
    """The unit normal of direction ``d`` closest to ``towards`` (MeasurementError if ambiguous)."""
    n = np.array([-d[1], d[0]])
    dot = float(n @ point(towards))
    if abs(dot) < 1e-12:
        raise MeasurementError(
            "the pelvic reference line is parallel to the image's superior direction: check the "
            "landmarks and the image orientation"
        )
    return n if dot > 0 else -n


class PelvicReference(NamedTuple):
    """The pelvic frame in mm space: unit vectors and which line defined it."""

    left: np.ndarray  #: unit vector along the pelvic horizontal towards the patient's left
    superior: np.ndarray  #: unit vector of the pelvic vertical, towards the head
    line: str  #: "teardrop", "ischial" or "image"


def image_axes(orientation: ImageOrientation) -> tuple[np.ndarray, np.ndarray]:
    """(patient-left, superior) unit vectors of the image axes (same signs in px and mm)."""
    return (
        np.array([float(orientation.patient_left_x), 0.0]),
        np.array([0.0, float(orientation.superior_y)]),
    )


def frame_from_line(p_right, p_left, orientation: ImageOrientation, what: str) -> tuple[np.ndarray, np.ndarray]:
    img_left, img_sup = image_axes(orientation)
    d = direction(p_right, p_left, what)
    s = perpendicular_towards(d, img_sup)
    # the horizontal is the line direction signed towards the patient's left, whatever the
    # order of the two points (swapped sides are reported by measure_hip, not silently used)
    left = d if float(d @ img_left) >= 0 else -d
    return left, s


def angle_from_axis_deg(v, axis_from, axis_to) -> float:
    """Angle of ``v`` from ``axis_from``, positive turning towards ``axis_to`` (degrees)."""
    v, a, b = point(v), point(axis_from), point(axis_to)
    return math.degrees(math.atan2(float(v @ b), float(v @ a)))


def pelvic_reference(
    landmarks_mm: Mapping[LandmarkName | str, np.ndarray],
    orientation: ImageOrientation = ImageOrientation(),
) -> PelvicReference:
    """The pelvic horizontal and vertical, from the best reference available.

    The inter-teardrop line when both teardrops are given (and at least
    :data:`MIN_SEPARATION_MM` apart), else the bi-ischial line, else the image axes.
    The vertical is the perpendicular to the line closest to image superior
    (``orientation.superior_y``); the horizontal is signed towards the patient's left
    (``orientation.patient_left_x``).

    Parameters
    ----------
    landmarks_mm
        Landmark name → ``(x, y)`` in mm at the anatomy (only teardrops and ischial
        tuberosities are looked at).
    orientation
        Where the patient's left and head are in the image.

    Returns
    -------
    PelvicReference
        ``(left, superior, line)`` with ``line`` one of ``"teardrop"``, ``"ischial"``,
        ``"image"``.

    Examples
    --------
    >>> ref = pelvic_reference({"teardrop_right": (0, 0), "teardrop_left": (10, 10)})
    >>> ref.line, np.round(ref.left, 4).tolist(), np.round(ref.superior, 4).tolist()
    ('teardrop', [0.7071, 0.7071], [0.7071, -0.7071])
    """
    pts = {LandmarkName.parse(k): v for k, v in landmarks_mm.items()}
    for anatomy, line in (("teardrop", "teardrop"), ("ischial_tuberosity", "ischial")):
        r, l_ = pts.get(LandmarkName.of(anatomy, Side.RIGHT)), pts.get(LandmarkName.of(anatomy, Side.LEFT))
        if r is None or l_ is None:
            continue
        try:
            left, sup = frame_from_line(r, l_, orientation, f"{anatomy}_right and {anatomy}_left")
        except MeasurementError:
            continue
        return PelvicReference(left, sup, line)
    left, sup = image_axes(orientation)
    return PelvicReference(left, sup, "image")
