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
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from .errors import MeasurementError
from .model import ImageOrientation, LandmarkName, Side, SideMarker

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
    "orientation_from_landmarks",
    "knee_orientation_from_landmarks",
    "MARKER_MIN_OFFSET",
    "MARKER_LIMB_REACH",
    "side_markers_agree",
    "mirrored",
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
        np.array(orientation.left_vector(), dtype=float),
        np.array(orientation.superior_vector(), dtype=float),
    )


#: A pelvic line (through a pair of landmarks) more than this far from the image's left-right
#: axis says the orientation is wrong (a film stored turned, read upright) or the landmarks are:
#: its perpendicular is then no vertical to measure from. Readers' inter-head lines on the 156
#: usable FracAtlas films with both heads lie within 8° of it (in each film's orientation).
MAX_LINE_TILT_DEG = 45.0


def frame_from_line(p_right, p_left, orientation: ImageOrientation, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(patient-left, superior) unit vectors of the line through ``p_right`` and ``p_left``.

    MeasurementError where the points coincide or the line lies more than
    :data:`MAX_LINE_TILT_DEG` from the image's left-right axis.
    """
    img_left, img_sup = image_axes(orientation)
    d = direction(p_right, p_left, what)
    tilt = math.degrees(math.acos(min(1.0, abs(float(d @ img_left)))))
    if tilt > MAX_LINE_TILT_DEG:
        raise MeasurementError(
            f"the line through {what} lies {tilt:.0f}° from the image's left-right axis (at most "
            f"{MAX_LINE_TILT_DEG:.0f}°): the image orientation or these landmarks are wrong"
        )
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
    >>> ref = pelvic_reference({"teardrop_right": (0, 0), "teardrop_left": (10, 3)})
    >>> ref.line, np.round(ref.left, 4).tolist(), np.round(ref.superior, 4).tolist()
    ('teardrop', [0.9578, 0.2873], [0.2873, -0.9578])
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


#: AP pelvis anatomy read on both sides: the right one's point to the left one's runs towards
#: the patient's left.
PAIRED_ANATOMY = ("teardrop", "femoral_head_center", "ischial_tuberosity", "acetabular_lateral_edge",
                  "lesser_trochanter", "greater_trochanter", "sourcil_medial", "femoral_shaft_proximal",
                  "femoral_shaft_distal")
#: ``(lateral, medial)`` anatomy of one side of an AP pelvis: the first lies away from the
#: midline of the second (towards the patient's left on the left side), in any AP pose.
LATERAL_OF = (("femoral_head_center", "teardrop"), ("greater_trochanter", "femoral_head_center"),
              ("acetabular_lateral_edge", "sourcil_medial"), ("greater_trochanter", "ischial_tuberosity"))
#: ``(superior, inferior)`` anatomy of one side of an AP pelvis: the second lies towards the feet
#: of the first in any AP pose.
SUPERIOR_OF = (("teardrop", "ischial_tuberosity"), ("femoral_head_center", "lesser_trochanter"),
               ("acetabular_lateral_edge", "femoral_head_center"), ("sourcil_medial", "femoral_head_center"),
               ("greater_trochanter", "lesser_trochanter"), ("femoral_head_center", "femoral_shaft_distal"),
               ("greater_trochanter", "femoral_shaft_proximal"), ("femoral_shaft_proximal", "femoral_shaft_distal"))


def orientation_from_landmarks(landmarks_px: Mapping[LandmarkName | str, np.ndarray],
                               orientation: ImageOrientation) -> ImageOrientation:
    """The orientation named AP-pelvis landmarks show, where ``orientation`` was assumed.

    A film without orientation tags is assumed head up; one stored turned by a quarter turn
    has its pelvis's left-right line along the image's y. Where the landmarks' left runs along y
    (the right one's point to the left one's, and on each side the lateral one's from the medial
    one's, summed, within 45° of the y axis) and the landmarks of each side say where the head
    is (the teardrop above the ischial tuberosity, the head above the lesser trochanter ...,
    summed), the film is turned: the result is that orientation (source
    ``"assumed-turned-from-landmarks"``), sides as the landmarks name them. So is a film whose
    landmarks' left runs along x and whose head lies towards +y (stored upside down). Otherwise,
    and always where the orientation came from the header, ``orientation``.

    Examples
    --------
    >>> pts = {"femoral_head_center_right": (100, 50), "femoral_head_center_left": (100, 250),
    ...        "lesser_trochanter_right": (30, 40), "lesser_trochanter_left": (30, 260)}
    >>> o = orientation_from_landmarks(pts, ImageOrientation())
    >>> o.superior_vector(), o.left_vector(), o.source
    ((1, 0), (0, 1), 'assumed-turned-from-landmarks')

    Upside down (the film turned by half a turn: the patient's left at the image's left):

    >>> pts = {"femoral_head_center_right": (250, 300), "femoral_head_center_left": (50, 300),
    ...        "lesser_trochanter_right": (260, 230), "lesser_trochanter_left": (40, 230)}
    >>> o = orientation_from_landmarks(pts, ImageOrientation())
    >>> o.superior_name, o.left_vector()
    ('down', (-1, 0))
    """
    if not orientation.assumed:
        return orientation
    try:
        pts = {LandmarkName.parse(k): np.asarray(v, dtype=float).reshape(2) for k, v in landmarks_px.items()}
    except (TypeError, ValueError):
        raise MeasurementError("orientation from landmarks: each landmark must be an (x, y) point") from None

    def get(anatomy: str, side: Side) -> np.ndarray | None:
        return pts.get(LandmarkName.of(anatomy, side))

    left = np.zeros(2)
    for anatomy in PAIRED_ANATOMY:
        r, l_ = get(anatomy, Side.RIGHT), get(anatomy, Side.LEFT)
        if r is not None and l_ is not None:
            left += l_ - r
    for lateral, medial in LATERAL_OF:  # a film of one hip: its own lateral direction
        for side, sign in ((Side.LEFT, 1.0), (Side.RIGHT, -1.0)):
            a, b = get(lateral, side), get(medial, side)
            if a is not None and b is not None:
                left += sign * (a - b)
    sup = np.zeros(2)
    for above, below in SUPERIOR_OF:
        for side in Side:
            a, b = get(above, side), get(below, side)
            if a is not None and b is not None:
                sup += a - b
    if not (np.all(np.isfinite(left)) and np.all(np.isfinite(sup))):
        return orientation
    if (abs(left[1]) < abs(left[0]) and sup[1] > abs(sup[0]) and orientation.superior_y == -1
            and not orientation.turn_deg):  # left-right along x, the head towards +y: stored upside down
        return ImageOrientation.from_vectors((int(np.sign(left[0])), 0), (0, 1), "assumed-turned-from-landmarks")
    if abs(left[1]) <= abs(left[0]) or abs(sup[0]) <= abs(sup[1]):
        return orientation  # left-right along x (as assumed), or nothing says where the head is
    return ImageOrientation.from_vectors((0, int(np.sign(left[1]))), (int(np.sign(sup[0])), 0),
                                         "assumed-turned-from-landmarks")


#: ``(lateral, medial)`` anatomy of an AP knee: the first lies towards the patient's left of the
#: second on the left knee, towards the right on the right knee.
KNEE_LATERAL_OF = (("femoral_condyle_lateral", "femoral_condyle_medial"),
                   ("tibial_plateau_lateral", "tibial_plateau_medial"),
                   ("femoral_epicondyle_lateral", "femoral_epicondyle_medial"))
#: A knee film without orientation tags is taken for stored turned where its femoral axis runs
#: within this angle of the image's x axis. The readers' femoral axes on their head-up films lie
#: within 42° of the image's vertical (133 lateral knees, flexed up to 127°) and 16° (200 AP
#: knees); on the one lateral film stored turned, 5° from the horizontal.
KNEE_TURNED_WITHIN_DEG = 30.0


def knee_orientation_from_landmarks(landmarks_px: Mapping[LandmarkName | str, np.ndarray],
                                    orientation: ImageOrientation) -> ImageOrientation:
    """The orientation named knee landmarks (AP or lateral) show, where ``orientation`` was
    assumed head up: turned where the femoral axis (proximal point above the distal one) runs
    along the image's x (within :data:`KNEE_TURNED_WITHIN_DEG`), the head towards its proximal
    end; head down where it runs down the image (the proximal point below the distal one: a film
    stored upside down). An AP knee without both femoral axis points takes the direction from
    its tibial points to its femoral points instead. On an AP knee the medial and lateral points
    say where the patient's left is (they must then run across the femur); a lateral knee does
    not, and keeps the assumed display's. Otherwise, and always where the orientation came from
    the header, ``orientation``.

    Examples
    --------
    >>> pts = {"knee_femoral_axis_proximal_right": (400, 210), "knee_femoral_axis_distal_right": (250, 200)}
    >>> o = knee_orientation_from_landmarks(pts, ImageOrientation())
    >>> o.superior_name, o.source
    ('right', 'assumed-turned-from-landmarks')
    >>> knee_orientation_from_landmarks({"knee_femoral_axis_proximal_right": (240, 50),
    ...                                  "knee_femoral_axis_distal_right": (250, 200)}, ImageOrientation()).superior_name
    'up'

    A right knee read upside down (its lateral condyle at the image's left):

    >>> o = knee_orientation_from_landmarks({"knee_femoral_axis_proximal_right": (250, 400),
    ...     "knee_femoral_axis_distal_right": (240, 250), "femoral_condyle_lateral_right": (200, 200),
    ...     "femoral_condyle_medial_right": (280, 200)}, ImageOrientation())
    >>> o.superior_name, o.left_vector(), o.source
    ('down', (1, 0), 'assumed-turned-from-landmarks')

    The same knee without its femoral axis: its femoral points lie below its tibial ones.

    >>> o = knee_orientation_from_landmarks({"femoral_condyle_lateral_right": (200, 200),
    ...     "femoral_condyle_medial_right": (280, 200), "tibial_plateau_lateral_right": (195, 190),
    ...     "tibial_plateau_medial_right": (285, 191)}, ImageOrientation())
    >>> o.superior_name, o.left_vector()
    ('down', (1, 0))
    """
    if not orientation.assumed or orientation.turn_deg:
        return orientation
    try:
        pts = {LandmarkName.parse(k): np.asarray(v, dtype=float).reshape(2) for k, v in landmarks_px.items()}
    except (TypeError, ValueError):
        raise MeasurementError("orientation from landmarks: each landmark must be an (x, y) point") from None
    sup, left = np.zeros(2), np.zeros(2)
    for side, sign in ((Side.LEFT, 1.0), (Side.RIGHT, -1.0)):
        p, d = (pts.get(LandmarkName.of(a, side)) for a in ("knee_femoral_axis_proximal", "knee_femoral_axis_distal"))
        if p is not None and d is not None and np.hypot(*(p - d)) > 0:
            sup += (p - d) / np.hypot(*(p - d))
        for lateral, medial in KNEE_LATERAL_OF:
            a, b = pts.get(LandmarkName.of(lateral, side)), pts.get(LandmarkName.of(medial, side))
            if a is not None and b is not None:
                left += sign * (a - b)
    if not sup.any() and left.any():  # an AP knee without its femoral axis: its femur's points against its tibia's
        fem = [v for k, v in pts.items() if k.anatomy.startswith(("femoral_", "knee_femoral_"))]
        tib = [v for k, v in pts.items() if k.anatomy.startswith(("tibial_", "knee_tibial_"))]
        if fem and tib and np.hypot(*(np.mean(fem, axis=0) - np.mean(tib, axis=0))) > 0:
            sup = np.mean(fem, axis=0) - np.mean(tib, axis=0)
    if not (np.all(np.isfinite(sup)) and np.all(np.isfinite(left))) or not sup.any():
        return orientation
    along_y = abs(sup[1]) > abs(sup[0]) * math.tan(math.radians(KNEE_TURNED_WITHIN_DEG))
    if along_y and (sup[1] < 0 or orientation.superior_y == 1):
        return orientation  # the femur runs up the image as assumed (or too obliquely to tell)
    head = ("down" if along_y else "right" if sup[0] > 0 else "left")
    if not left.any():  # a lateral knee: nothing says where the patient's left is
        return ImageOrientation.turned(head, orientation.patient_left_x)
    across = 0 if along_y else 1  # the image axis along which medial and lateral must run
    if abs(left[across]) <= abs(left[1 - across]):
        return orientation  # medial and lateral across the femur's run: they do not agree with a turn
    return ImageOrientation.from_vectors((int(np.sign(left[0])), 0) if along_y else (0, int(np.sign(left[1]))),
                                         (0, 1) if along_y else (int(np.sign(sup[0])), 0),
                                         "assumed-turned-from-landmarks")


#: A side marker on a film of both sides tells the display only where it lies clearly on one
#: side of the midline: at least this share of the distance between the two sides' landmarks
#: from their midpoint (along the patient's left-right).
MARKER_MIN_OFFSET = 0.15


#: On a film of one limb a side marker names the limb only where it lies beside it: within this
#: many times the spread of the limb's landmarks (along the patient's left-right) of their
#: middle. On the 27 FracAtlas films of one knee with the station's marker, the marker lies
#: 0.34-1.04 plateau widths from the knee; one placed beside another knee at the film's edge
#: lies further.
MARKER_LIMB_REACH = 1.5


def side_markers_agree(markers: Sequence[SideMarker], landmarks_px: Mapping[LandmarkName | str, np.ndarray],
                       orientation: ImageOrientation, *, one_limb: bool = False) -> bool | None:
    """Whether the side markers on a film agree with the sides that ``orientation`` gives it.

    A marker's letter names the patient's side it was placed on. On a film of both sides (the
    landmarks name both) the marker lies on its letter's side of the midline between them, by
    at least :data:`MARKER_MIN_OFFSET` of their distance; on a film of one limb (``one_limb``,
    the landmarks name one side: a knee, a single hip) the letter names that limb, where the
    marker lies beside it (:data:`MARKER_LIMB_REACH`). True where
    every marker that tells agrees, False where every one disagrees (the film is displayed
    mirrored, or the landmarks are named wrong), None where none tells or they differ.

    Examples
    --------
    >>> pts = {"femoral_head_center_right": (100, 200), "femoral_head_center_left": (300, 200)}
    >>> side_markers_agree([SideMarker("R", 30, 50, 20)], pts, ImageOrientation())
    True
    >>> side_markers_agree([SideMarker("R", 370, 50, 20)], pts, ImageOrientation())
    False
    >>> side_markers_agree([SideMarker("L", 200, 50, 20)], pts, ImageOrientation()) is None  # on the midline
    True
    """
    try:
        pts = {LandmarkName.parse(k): np.asarray(v, dtype=float).reshape(2) for k, v in landmarks_px.items()}
    except (TypeError, ValueError):
        raise MeasurementError("side markers: each landmark must be an (x, y) point") from None
    u = np.asarray(orientation.left_vector(), dtype=float)
    along = {s: [float(p @ u) for n, p in pts.items() if n.side is s and np.all(np.isfinite(p))] for s in Side}
    shown = [s for s in Side if along[s]]
    votes = set()
    for m in markers:
        if len(shown) == 2:
            right, left = (float(np.median(along[s])) for s in (Side.RIGHT, Side.LEFT))
            if left - right <= 0:  # the landmarks' own sides run against the orientation: nothing to say
                return None
            offset = (float(m.xy @ u) - 0.5 * (left + right)) / (left - right)
            if abs(offset) >= MARKER_MIN_OFFSET:
                votes.add((offset > 0) == (m.side is Side.LEFT))
        elif len(shown) == 1 and one_limb:
            along_limb = along[shown[0]]
            extent = max(along_limb) - min(along_limb)
            if extent > 0 and abs(float(m.xy @ u) - float(np.median(along_limb))) <= MARKER_LIMB_REACH * extent:
                votes.add(m.side is shown[0])
    return votes.pop() if len(votes) == 1 else None


def mirrored(orientation: ImageOrientation, source: str | None = None) -> ImageOrientation:
    """``orientation`` displayed mirrored: the patient's left on the other side, the head where
    it was (``source``: how this is known, default ``orientation``'s).

    >>> o = mirrored(ImageOrientation())
    >>> o.left_vector(), o.superior_vector()
    ((-1, 0), (0, -1))
    """
    lx, ly = orientation.left_vector()
    return ImageOrientation.from_vectors((-lx, -ly), orientation.superior_vector(), source or orientation.source)
