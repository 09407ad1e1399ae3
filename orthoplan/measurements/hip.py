"""Hip measurements on an AP pelvis (or AP hip) radiograph: pure geometry on landmarks.

Two layers:

* small pure functions over points in mm at the anatomy (``(2,)`` arrays), one per
  measurement (:func:`leg_length_discrepancy_mm`, :func:`femoral_offset_mm`, ...), plus
  :func:`pelvic_reference`; they raise :class:`~orthoplan.errors.MeasurementError` on
  degenerate geometry;
* :func:`measure_hip`, which converts the landmarks to mm (:func:`orthoplan.geometry.to_mm`,
  anisotropic spacing respected), computes every measurement the landmarks allow and lists
  every other one in :attr:`Measurements.missing` with the reason (never zero or NaN), and
  :func:`construction`, the lines that illustrate a measurement on the picture, in pixels.

Definitions, sign conventions, normal ranges and sources are in
:mod:`orthoplan.measurements.definitions` and ``docs/measurements.md``.

Examples
--------
>>> from orthoplan.model import Calibration, Landmark, Landmarks
>>> lms = Landmarks.from_landmarks([
...     Landmark("teardrop_right", 400, 500), Landmark("teardrop_left", 600, 500),
...     Landmark("lesser_trochanter_right", 380, 650), Landmark("lesser_trochanter_left", 620, 660),
... ])
>>> ms = measure_hip(lms, Calibration(0.2, "ball-marker", 2.0))
>>> round(ms["lld_teardrop_mm"].value, 3)   # left trochanter 10 px = 2 mm further distal
2.0
>>> ms.get("lcea_left_deg") is None
True
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np

from ..errors import MeasurementError
from ..geometry import line_intersection, to_px
from ..model import Calibration, ImageOrientation, LandmarkName, Landmarks, Measurements, Side
from ..frames import (MIN_SEPARATION_MM, PelvicReference, angle_from_axis_deg, direction, frame_from_line, image_axes,
                      orthonormal_frame, pelvic_reference, perpendicular_towards, point, unit_vector)
from .common import Absent, Context, Result, measure_names, segment, value_or_absent
from .definitions import measurement_names, split_name

__all__ = [
    "MIN_SEPARATION_MM",
    "PelvicReference",
    "pelvic_reference",
    "leg_length_discrepancy_mm",
    "femoral_offset_mm",
    "acetabular_offset_mm",
    "neck_shaft_angle_deg",
    "center_edge_angle_deg",
    "tonnis_angle_deg",
    "sharp_angle_deg",
    "measure_hip",
    "construction",
]

log = logging.getLogger(__name__)

#: Notes naming the pelvic reference used by LCEA and Tönnis.
REFERENCE_NOTES = {
    "teardrop": "pelvic reference: inter-teardrop line",
    "ischial": "pelvic reference: bi-ischial line (teardrops not both available)",
    "image": "pelvic reference: image axes (pelvic tilt not corrected)",
}


# --------------------------------------------------------------------------- pure helpers


# --------------------------------------------------------------------------- measurements (mm)


def leg_length_discrepancy_mm(ref_left, ref_right, lt_left, lt_right, superior=(0.0, -1.0)) -> float:
    """Leg-length discrepancy, left minus right, relative to a pelvic reference line.

    Each lesser trochanter's distance from the line through ``ref_left`` and ``ref_right``
    is measured along the line's normal that points away from ``superior`` (towards the
    feet). Positive means the left leg is longer.

    Parameters
    ----------
    ref_left, ref_right
        The reference points (teardrop tips or ischial tuberosities), mm.
    lt_left, lt_right
        The lesser trochanters (most prominent points), mm.
    superior
        Any vector towards the patient's head (image superior); only its side of the line
        is used.

    Examples
    --------
    >>> leg_length_discrepancy_mm((100, 0), (0, 0), (110, 55), (-10, 50), superior=(0, -1))
    5.0
    """
    d = direction(ref_right, ref_left, "the two pelvic reference points")
    inferior = -perpendicular_towards(d, superior)
    a = point(ref_right)
    return float((point(lt_left) - a) @ inferior - (point(lt_right) - a) @ inferior)


def femoral_offset_mm(head_center, shaft_proximal, shaft_distal) -> float:
    """Perpendicular distance from the head centre to the femoral shaft (anatomical) axis.

    Examples
    --------
    >>> femoral_offset_mm((0, 0), (40, 50), (40, 150))
    40.0
    """
    d = direction(shaft_proximal, shaft_distal, "femoral_shaft_proximal and femoral_shaft_distal")
    v = point(head_center) - point(shaft_proximal)
    return float(abs(v[0] * d[1] - v[1] * d[0]))


def acetabular_offset_mm(head_center, teardrop, lateral) -> float:
    """Distance along the inter-teardrop line from the head centre to the perpendicular
    through the same side's teardrop; positive when the head centre is lateral.

    ``lateral`` is the direction of the inter-teardrop line pointing laterally on this
    side (away from the other teardrop).

    Examples
    --------
    >>> acetabular_offset_mm((130, -20), (100, 0), lateral=(1, 0))
    30.0
    """
    lat = unit_vector(lateral, "the lateral direction")
    return float((point(head_center) - point(teardrop)) @ lat)


def neck_shaft_angle_deg(head_center, neck_center, shaft_proximal, shaft_distal) -> float:
    """Angle between neck centre → head centre and shaft proximal → shaft distal, degrees.

    Examples
    --------
    >>> round(neck_shaft_angle_deg((0, 0), (10, 10), (20, 20), (20, 100)), 6)
    135.0
    """
    n = direction(neck_center, head_center, "femoral_neck_center and femoral_head_center")
    s = direction(shaft_proximal, shaft_distal, "femoral_shaft_proximal and femoral_shaft_distal")
    return math.degrees(math.atan2(abs(n[0] * s[1] - n[1] * s[0]), float(n @ s)))


def center_edge_angle_deg(head_center, lateral_edge, superior, lateral) -> float:
    """Lateral centre-edge angle (Wiberg): from the pelvic vertical at the head centre to
    the line to the acetabular lateral edge; positive when the edge is lateral.

    ``superior`` is the pelvic vertical (towards the head), ``lateral`` the pelvic
    horizontal pointing laterally on this side.

    Examples
    --------
    >>> round(center_edge_angle_deg((0, 0), (10, -10), superior=(0, -1), lateral=(1, 0)), 6)
    45.0
    >>> round(center_edge_angle_deg((0, 0), (-10, -10), superior=(0, -1), lateral=(1, 0)), 6)
    -45.0
    """
    s, lat = orthonormal_frame(superior, lateral)
    direction(head_center, lateral_edge, "femoral_head_center and acetabular_lateral_edge")
    return angle_from_axis_deg(point(lateral_edge) - point(head_center), s, lat)


def tonnis_angle_deg(sourcil_medial, lateral_edge, superior, lateral) -> float:
    """Tönnis angle: from the pelvic horizontal through the medial sourcil end to the line to
    the acetabular lateral edge; positive when the lateral end is superior.

    Examples
    --------
    >>> round(tonnis_angle_deg((0, 0), (20, -2), superior=(0, -1), lateral=(1, 0)), 4)
    5.7106
    """
    s, lat = orthonormal_frame(superior, lateral)
    direction(sourcil_medial, lateral_edge, "sourcil_medial and acetabular_lateral_edge")
    return angle_from_axis_deg(point(lateral_edge) - point(sourcil_medial), lat, s)


def sharp_angle_deg(teardrop, lateral_edge, superior, lateral) -> float:
    """Sharp angle: from the inter-teardrop line (pointing laterally) to the line from the
    teardrop tip to the acetabular lateral edge; positive when the edge is superior.

    ``superior``/``lateral`` must be the frame of the inter-teardrop line.

    Examples
    --------
    >>> round(sharp_angle_deg((0, 0), (30, -30), superior=(0, -1), lateral=(1, 0)), 6)
    45.0
    """
    s, lat = orthonormal_frame(superior, lateral)
    direction(teardrop, lateral_edge, "teardrop and acetabular_lateral_edge")
    return angle_from_axis_deg(point(lateral_edge) - point(teardrop), lat, s)


# --------------------------------------------------------------------------- from landmarks


class _Context(Context):
    """Landmarks in mm plus the pelvic frames, shared by every measurement of one call."""

    def line_frame(self, anatomy: str) -> tuple[np.ndarray, np.ndarray, tuple[LandmarkName, LandmarkName], list[str]]:
        """(left, superior, (right name, left name), notes) of the line through both ``anatomy``."""
        nr, nl = self.name(anatomy, Side.RIGHT), self.name(anatomy, Side.LEFT)
        pr, pl = self.need(nr, nl)
        try:
            left, sup = frame_from_line(pr, pl, self.orientation, f"{nr.value} and {nl.value}")
        except MeasurementError as exc:
            raise Absent(str(exc)) from None
        notes = []
        img_left, _ = image_axes(self.orientation)
        if float((pl - pr) @ img_left) < 0:
            notes.append(
                f"{nl.value} lies on the patient's right of {nr.value} for this image orientation: "
                "check the sides"
            )
        return left, sup, (nr, nl), notes

    def reference(self) -> tuple[np.ndarray, np.ndarray, str, tuple[LandmarkName, ...], list[str]]:
        """Pelvic frame with fallbacks: (left, superior, line, landmarks used, notes).

        The image's axes only where neither line's landmarks are given: a line given but refused
        (far from the image's left-right axis) says the image's axes are no pelvic frame either.
        """
        refused = []
        for anatomy, line in (("teardrop", "teardrop"), ("ischial_tuberosity", "ischial")):
            try:
                left, sup, names, notes = self.line_frame(anatomy)
            except Absent as exc:
                if all(self.name(anatomy, s) in self.mm for s in Side):
                    refused.append(str(exc))
                continue
            return left, sup, line, names, [REFERENCE_NOTES[line], *notes]
        if refused:
            raise Absent("; ".join(refused))
        left, sup = image_axes(self.orientation)
        return left, sup, "image", (), [REFERENCE_NOTES["image"]]

    def lateral(self, left: np.ndarray, side: Side) -> np.ndarray:
        return left if side is Side.LEFT else -left


def _lld(ctx: _Context, anatomy: str) -> Result:
    ltr, ltl = ctx.name("lesser_trochanter", Side.RIGHT), ctx.name("lesser_trochanter", Side.LEFT)
    nr, nl = ctx.name(anatomy, Side.RIGHT), ctx.name(anatomy, Side.LEFT)
    pr, pl, tr, tl = ctx.need(nr, nl, ltr, ltl)
    left, sup, _, notes = ctx.line_frame(anatomy)
    value = value_or_absent(leg_length_discrepancy_mm, pl, pr, tl, tr, sup)
    # construction: the line spanning both reference points and both feet, and the perpendiculars
    feet = {s: pr + float((t - pr) @ left) * left for s, t in ((Side.RIGHT, tr), (Side.LEFT, tl))}
    ts = [float((p - pr) @ left) for p in (pr, pl, feet[Side.RIGHT], feet[Side.LEFT])]
    lines = {
        "reference_line": segment(pr + min(ts) * left, pr + max(ts) * left),
        "perpendicular_right": segment(feet[Side.RIGHT], tr),
        "perpendicular_left": segment(feet[Side.LEFT], tl),
    }
    return Result(value, (nr, nl, ltr, ltl), tuple(notes), lines)


def _femoral_offset(ctx: _Context, side: Side) -> Result:
    names = tuple(ctx.name(a, side) for a in ("femoral_head_center", "femoral_shaft_proximal", "femoral_shaft_distal"))
    hc, sp, sd = ctx.need(*names)
    ctx.apart((names[1], names[2]))
    value = value_or_absent(femoral_offset_mm, hc, sp, sd)
    d = (sd - sp) / np.linalg.norm(sd - sp)
    foot = sp + float((hc - sp) @ d) * d
    top = foot if float((foot - sp) @ d) < 0 else sp
    return Result(value, names, (), {"shaft_axis": segment(top, sd), "offset": segment(hc, foot)})


def _acetabular_offset(ctx: _Context, side: Side) -> Result:
    hname = ctx.name("femoral_head_center", side)
    hc, _, _ = ctx.need(hname, ctx.name("teardrop", Side.RIGHT), ctx.name("teardrop", Side.LEFT))
    left, sup, (nr, nl), notes = ctx.line_frame("teardrop")
    td_name = nl if side is Side.LEFT else nr
    td = ctx.mm[td_name]
    lat = ctx.lateral(left, side)
    value = value_or_absent(acetabular_offset_mm, hc, td, lat)
    on_perp = hc - value * lat
    lines = {
        "teardrop_line": segment(ctx.mm[nr], ctx.mm[nl]),
        "teardrop_perpendicular": segment(td, on_perp),
        "offset": segment(hc, on_perp),
    }
    return Result(value, (hname, nr, nl), tuple(notes), lines)


def _global_offset(ctx: _Context, side: Side) -> Result:
    reasons = []
    parts = []
    for fn in (_femoral_offset, _acetabular_offset):
        try:
            parts.append(fn(ctx, side))
        except Absent as exc:
            reasons += str(exc).split("; ")
    if reasons:
        raise Absent("; ".join(dict.fromkeys(reasons)))
    fo, ao = parts
    lines = {f"femoral_{k}": v for k, v in fo.lines_mm.items()}
    lines.update({f"acetabular_{k}": v for k, v in ao.lines_mm.items()})
    names = tuple(dict.fromkeys(fo.landmarks + ao.landmarks))
    return Result(fo.value + ao.value, names, tuple(dict.fromkeys(fo.notes + ao.notes)), lines)


def _neck_shaft(ctx: _Context, side: Side) -> Result:
    names = tuple(
        ctx.name(a, side)
        for a in ("femoral_head_center", "femoral_neck_center", "femoral_shaft_proximal", "femoral_shaft_distal")
    )
    hc, nc, sp, sd = ctx.need(*names)
    ctx.apart((names[2], names[3]), (names[1], names[0]))
    value = value_or_absent(neck_shaft_angle_deg, hc, nc, sp, sd)
    try:
        x = line_intersection(nc, hc, sp, sd)
        lines = {"neck_axis": segment(hc, x), "shaft_axis": segment(x, sd)}
    except ValueError:  # parallel axes: draw them as given
        lines = {"neck_axis": segment(hc, nc), "shaft_axis": segment(sp, sd)}
    return Result(value, names, (), lines)


def _reference_lines(ctx: _Context, ref_names: tuple[LandmarkName, ...]) -> dict[str, np.ndarray]:
    if len(ref_names) == 2:
        return {"reference_line": segment(ctx.mm[ref_names[0]], ctx.mm[ref_names[1]])}
    return {}


def _lcea(ctx: _Context, side: Side) -> Result:
    names = (ctx.name("femoral_head_center", side), ctx.name("acetabular_lateral_edge", side))
    hc, edge = ctx.need(*names)
    ctx.apart(names)
    left, sup, _line, ref_names, notes = ctx.reference()
    lat = ctx.lateral(left, side)
    value = value_or_absent(center_edge_angle_deg, hc, edge, sup, lat)
    r = float(np.linalg.norm(edge - hc))
    lines = {"vertical": segment(hc, hc + r * sup), "edge_line": segment(hc, edge), **_reference_lines(ctx, ref_names)}
    return Result(value, names + ref_names, tuple(notes), lines)


def _tonnis(ctx: _Context, side: Side) -> Result:
    names = (ctx.name("sourcil_medial", side), ctx.name("acetabular_lateral_edge", side))
    sm, edge = ctx.need(*names)
    ctx.apart(names)
    left, sup, _line, ref_names, notes = ctx.reference()
    lat = ctx.lateral(left, side)
    value = value_or_absent(tonnis_angle_deg, sm, edge, sup, lat)
    length = float(np.linalg.norm(edge - sm))
    lines = {"horizontal": segment(sm, sm + length * lat), "roof_line": segment(sm, edge), **_reference_lines(ctx, ref_names)}
    return Result(value, names + ref_names, tuple(notes), lines)


def _sharp(ctx: _Context, side: Side) -> Result:
    ename = ctx.name("acetabular_lateral_edge", side)
    edge, _, _ = ctx.need(ename, ctx.name("teardrop", Side.RIGHT), ctx.name("teardrop", Side.LEFT))
    left, sup, (nr, nl), notes = ctx.line_frame("teardrop")
    td_name = nl if side is Side.LEFT else nr
    td = ctx.mm[td_name]
    ctx.apart((td_name, ename))
    lat = ctx.lateral(left, side)
    value = value_or_absent(sharp_angle_deg, td, edge, sup, lat)
    length = float(np.linalg.norm(edge - td))
    lines = {
        "teardrop_line": segment(ctx.mm[nr], ctx.mm[nl]),
        "horizontal": segment(td, td + length * lat),
        "roof_line": segment(td, edge),
    }
    return Result(value, (td_name, ename, nl if side is Side.RIGHT else nr), tuple(notes), lines)


_SIDED: dict[str, Callable[[_Context, Side], Result]] = {
    "femoral_offset_{side}_mm": _femoral_offset,
    "acetabular_offset_{side}_mm": _acetabular_offset,
    "global_offset_{side}_mm": _global_offset,
    "neck_shaft_angle_{side}_deg": _neck_shaft,
    "lcea_{side}_deg": _lcea,
    "tonnis_angle_{side}_deg": _tonnis,
    "sharp_angle_{side}_deg": _sharp,
}
_PELVIC: dict[str, Callable[[_Context], Result]] = {
    "lld_teardrop_mm": lambda ctx: _lld(ctx, "teardrop"),
    "lld_ischial_mm": lambda ctx: _lld(ctx, "ischial_tuberosity"),
}


def _compute(ctx: _Context, name: str) -> tuple[Result, Side | None, str]:
    definition, side = split_name(name)
    if side is None:
        result = _PELVIC[definition.name](ctx)
    else:
        result = _SIDED[definition.name](ctx, side)
    if not math.isfinite(result.value):  # pragma: no cover - guarded by the separation checks
        raise Absent("the geometry is degenerate (non-finite result)")
    return result, side, definition.unit


def measure_hip(
    landmarks: Landmarks,
    calibration: Calibration,
    orientation: ImageOrientation = ImageOrientation(),
) -> Measurements:
    """Every hip measurement the landmarks allow, in mm at the anatomy and degrees.

    Measurements whose landmarks are missing, or whose geometry is degenerate, are absent
    and listed in ``Measurements.missing`` with the reason. Every measurement records the
    landmarks it used and its side; lengths carry the note ``"assumed scale"`` when the
    calibration is assumed; LCEA and Tönnis say which pelvic reference they used.

    Parameters
    ----------
    landmarks
        Landmarks in image pixels.
    calibration
        The anatomical scale (mm per pixel along x, and the aspect ratio for y).
    orientation
        Where the patient's left and head lie in the image.

    Examples
    --------
    >>> from orthoplan.model import Calibration, Landmark, Landmarks
    >>> lms = Landmarks.from_landmarks([
    ...     Landmark("femoral_head_center_left", 700, 400), Landmark("acetabular_lateral_edge_left", 740, 360)])
    >>> m = measure_hip(lms, Calibration(0.2, "ball-marker", 2.0))["lcea_left_deg"]
    >>> round(m.value, 3), m.notes
    (45.0, ('pelvic reference: image axes (pelvic tilt not corrected)',))
    """
    ctx = _Context(landmarks, calibration, orientation)
    items, missing = measure_names(ctx, measurement_names(), _compute)
    log.debug("measured %d hip values, %d absent", len(items), len(missing))
    return Measurements(tuple(items), tuple(missing))


def construction(
    name: str,
    landmarks: Landmarks,
    calibration: Calibration,
    orientation: ImageOrientation = ImageOrientation(),
) -> dict[str, np.ndarray]:
    """The polylines (image pixels) that illustrate measurement ``name`` on the picture.

    Each value is an ``(N, 2)`` array of ``(x, y)`` pixel points. Keys by measurement:

    * ``lld_*``: ``reference_line``, ``perpendicular_right``, ``perpendicular_left``
    * ``femoral_offset_*``: ``shaft_axis``, ``offset`` (head centre → foot on the axis)
    * ``acetabular_offset_*``: ``teardrop_line``, ``teardrop_perpendicular``, ``offset``
    * ``global_offset_*``: the two above with ``femoral_``/``acetabular_`` prefixes
    * ``neck_shaft_angle_*``: ``neck_axis``, ``shaft_axis`` (meeting at their intersection)
    * ``lcea_*``: ``vertical``, ``edge_line`` (+ ``reference_line`` unless image axes)
    * ``tonnis_angle_*``: ``horizontal``, ``roof_line`` (+ ``reference_line``)
    * ``sharp_angle_*``: ``teardrop_line``, ``horizontal``, ``roof_line``

    Raises :class:`~orthoplan.errors.MeasurementError` (with the reason) if the measurement
    cannot be made from these landmarks, or the name is unknown.

    Examples
    --------
    >>> from orthoplan.model import Calibration, Landmark, Landmarks
    >>> lms = Landmarks.from_landmarks([
    ...     Landmark("femoral_head_center_left", 700, 400), Landmark("acetabular_lateral_edge_left", 740, 360)])
    >>> construction("lcea_left_deg", lms, Calibration(0.2, "ball-marker", 2.0))["edge_line"].tolist()
    [[700.0, 400.0], [740.0, 360.0]]
    """
    ctx = _Context(landmarks, calibration, orientation)
    try:
        result, _, _ = _compute(ctx, name)
    except Absent as exc:
        raise MeasurementError(f"{name} cannot be drawn: {exc}") from None
    return {k: to_px(v, calibration).reshape(-1, 2) for k, v in result.lines_mm.items()}
