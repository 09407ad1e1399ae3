"""Knee measurements on AP and lateral knee radiographs: pure geometry on landmarks.

Two layers, as in :mod:`orthoplan.measurements.lower_limb`:

* small pure functions over points in mm at the anatomy (``(2,)`` arrays):
  :func:`aldfa_deg`, :func:`ampta_deg`, :func:`fta_deg`, :func:`posterior_tibial_slope_deg`,
  :func:`femoral_ap_dimension_mm`, :func:`posterior_condylar_offset_mm` (the JLCA is
  :func:`orthoplan.measurements.lower_limb.jlca_deg`); they raise
  :class:`~orthoplan.errors.MeasurementError` on degenerate geometry;
* :func:`measure_knee`, which converts the landmarks to mm, computes every value of the view
  the landmarks allow and lists every other one in :attr:`Measurements.missing` with the
  reason; :func:`knee_construction` gives the lines that illustrate a value.

A knee film shows neither the hip nor the ankle, so the axes are the **anatomical** ones
near the knee (``knee_femoral_axis_*``, ``knee_tibial_axis_*``). Medial and lateral come from
the landmark names (the patient's sides); anterior and posterior on the lateral view from
the landmarks themselves, so nothing depends on how the image is displayed. Definitions,
signs, normal ranges and sources are in :mod:`orthoplan.measurements.definitions`
(``KNEE_DEFINITIONS``) and ``docs/measurements.md``.

Examples
--------
>>> from orthoplan.model import Calibration, Landmark, Landmarks
>>> lms = Landmarks.from_landmarks([              # a left lateral knee, anterior towards -x
...     Landmark("knee_tibial_axis_proximal_left", 500, 1300), Landmark("knee_tibial_axis_distal_left", 500, 1800),
...     Landmark("tibial_plateau_anterior_left", 350, 1000), Landmark("tibial_plateau_posterior_left", 650, 1000)])
>>> ms = measure_knee(lms, Calibration(0.2, "ball-marker", 2.0), view="knee-lateral")
>>> round(ms["posterior_tibial_slope_left_deg"].value, 6)
0.0
>>> ms.get("posterior_tibial_slope_right_deg") is None   # only the side that was marked
True
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable

import numpy as np

from ..errors import MeasurementError
from ..geometry import angle_between_deg, project_onto_line, signed_angle_deg, to_px
from ..model import (KNEE_AP_ANATOMY, KNEE_LATERAL_ANATOMY, Calibration, ImageOrientation, LandmarkName,
                     Landmarks, Measurements, Side)
from .definitions import KNEE_DEFINITIONS, KNEE_VIEWS, knee_measurement_names, split_name
from .common import Absent, Context, Result, direction, measure_names, point, segment, value_or_absent
from .lower_limb import MIN_AXIS_TO_LATERAL_DEG, jlca_deg

__all__ = [
    "KNEE_AP_ANATOMY",
    "KNEE_LATERAL_ANATOMY",
    "aldfa_deg",
    "ampta_deg",
    "fta_deg",
    "posterior_tibial_slope_deg",
    "femoral_ap_dimension_mm",
    "posterior_condylar_offset_mm",
    "knee_sides",
    "measure_knee",
    "knee_construction",
]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- pure functions


def aldfa_deg(axis_proximal, axis_distal, condyle_medial, condyle_lateral) -> float:
    """Anatomical lateral distal femoral angle: between the femoral anatomical axis (distal →
    proximal point) and the condylar tangent (medial → lateral condyle).

    >>> round(aldfa_deg((0, -150), (0, -90), (-25, 0), (25, 0)), 6)
    90.0
    >>> round(aldfa_deg((0, -150), (0, -90), (-25, 0), (25, -50 * math.tan(math.radians(9)))), 6)
    81.0
    """
    a = direction(axis_distal, axis_proximal, "knee_femoral_axis_distal and knee_femoral_axis_proximal")
    b = direction(condyle_medial, condyle_lateral, "femoral_condyle_medial and femoral_condyle_lateral")
    return angle_between_deg(a, b)


def ampta_deg(axis_proximal, axis_distal, plateau_medial, plateau_lateral) -> float:
    """Medial proximal tibial angle to the tibial anatomical axis: between the axis (proximal →
    distal point) and the plateau line (lateral → medial margin).

    >>> round(ampta_deg((0, 50), (0, 150), (-35, 0), (35, 0)), 6)
    90.0
    """
    a = direction(axis_proximal, axis_distal, "knee_tibial_axis_proximal and knee_tibial_axis_distal")
    b = direction(plateau_lateral, plateau_medial, "tibial_plateau_lateral and tibial_plateau_medial")
    return angle_between_deg(a, b)


def fta_deg(femoral_proximal, femoral_distal, tibial_proximal, tibial_distal, lateral) -> float:
    """Femorotibial anatomical angle as the deviation from collinear axes; valgus positive.

    The angle from the femoral anatomical axis (proximal → distal) to the tibial one, positive
    when the tibia turns towards ``lateral`` (any vector towards the knee's lateral side).

    >>> round(fta_deg((0, 0), (0, 100), (0, 200), (10, 300), lateral=(1, 0)), 3)
    5.711
    >>> round(fta_deg((0, 0), (0, 100), (0, 200), (10, 300), lateral=(-1, 0)), 3)
    -5.711
    """
    f = direction(femoral_proximal, femoral_distal, "knee_femoral_axis_proximal and knee_femoral_axis_distal")
    t = direction(tibial_proximal, tibial_distal, "knee_tibial_axis_proximal and knee_tibial_axis_distal")
    lat = point(lateral)
    cross = float(f[0] * lat[1] - f[1] * lat[0])
    norm = math.hypot(lat[0], lat[1])
    if norm == 0 or abs(cross) / norm < math.sin(math.radians(MIN_AXIS_TO_LATERAL_DEG)):
        raise MeasurementError(
            "the femoral axis runs along the condylar line: the varus/valgus sense is undefined; check the landmarks"
        )
    return signed_angle_deg(f, t) * (1.0 if cross > 0 else -1.0)


def posterior_tibial_slope_deg(axis_proximal, axis_distal, plateau_anterior, plateau_posterior) -> float:
    """Posterior tibial slope: the angle between the plateau line (anterior → posterior rim)
    and the perpendicular to the tibial axis; positive when the posterior rim is more distal.

    >>> round(posterior_tibial_slope_deg((0, 50), (0, 150), (-25, 0), (25, 50 * math.tan(math.radians(7)))), 6)
    7.0
    """
    d = direction(axis_proximal, axis_distal, "knee_tibial_axis_proximal and knee_tibial_axis_distal")
    u = direction(plateau_anterior, plateau_posterior, "tibial_plateau_anterior and tibial_plateau_posterior")
    return math.degrees(math.asin(float(np.clip(u @ d, -1.0, 1.0))))


def _normal_towards(axis_proximal, axis_distal, frm, to, what: str) -> np.ndarray:
    """Unit normal of the axis pointing from ``frm`` towards ``to`` (the posterior direction)."""
    d = direction(axis_proximal, axis_distal, "knee_femoral_axis_proximal and knee_femoral_axis_distal")
    n = np.array([-d[1], d[0]])
    s = float((point(to) - point(frm)) @ n)
    if abs(s) < 1e-9:
        raise MeasurementError(f"{what} lie on one line parallel to the femoral axis: check these landmarks")
    return n if s > 0 else -n


def femoral_ap_dimension_mm(axis_proximal, axis_distal, anterior_cortex, posterior_condyle) -> float:
    """Femoral AP dimension: distance from the anterior cortex to the posterior condylar
    tangent, perpendicular to the femoral anatomical axis.

    >>> femoral_ap_dimension_mm((0, -150), (0, -90), (-30, -60), (32, 0))
    62.0
    """
    n = _normal_towards(axis_proximal, axis_distal, anterior_cortex, posterior_condyle,
                        "femoral_anterior_cortex and femoral_posterior_condyle")
    return float((point(posterior_condyle) - point(anterior_cortex)) @ n)


def posterior_condylar_offset_mm(axis_proximal, axis_distal, posterior_cortex, posterior_condyle,
                                 anterior=None) -> float:
    """Posterior condylar offset: distance from the posterior cortex line (through
    ``posterior_cortex``, parallel to the axis) to the posterior condylar tangent point.

    Positive when the condyle lies posterior to the line. Posterior is away from
    ``anterior`` (any anterior point, e.g. the anterior cortex) when given, else away from the
    axis (the posterior cortex lies posterior of the axis).

    >>> posterior_condylar_offset_mm((0, -150), (0, -90), (14, -100), (40, 0))
    26.0
    """
    ref = anterior if anterior is not None else project_onto_line(point(posterior_cortex), point(axis_proximal), point(axis_distal))
    n = _normal_towards(axis_proximal, axis_distal, ref, posterior_cortex,
                        "the femoral axis and femoral_posterior_cortex")
    return float((point(posterior_condyle) - point(posterior_cortex)) @ n)


# --------------------------------------------------------------------------- from landmarks


def _names(ctx: Context, side: Side, *anatomies: str) -> tuple[LandmarkName, ...]:
    return tuple(ctx.name(a, side) for a in anatomies)


def _need(ctx: Context, names: tuple[LandmarkName, ...], *pairs: tuple[int, int]) -> list[np.ndarray]:
    pts = ctx.need(*names)
    ctx.apart(*((names[i], names[j]) for i, j in pairs))
    return pts


_FEMUR = ("knee_femoral_axis_proximal", "knee_femoral_axis_distal")
_TIBIA = ("knee_tibial_axis_proximal", "knee_tibial_axis_distal")


def _aldfa(ctx: Context, side: Side) -> Result:
    names = _names(ctx, side, *_FEMUR, "femoral_condyle_medial", "femoral_condyle_lateral")
    fp, fd, cm, cl = _need(ctx, names, (0, 1), (2, 3))
    value = value_or_absent(aldfa_deg, fp, fd, cm, cl)
    # the axis prolonged to the joint line
    foot = _meet_or(fp, fd, cm, cl, fd)
    return Result(value, names, (), {"femoral_axis": segment(fp, foot), "femoral_joint_line": segment(cm, cl)})


def _ampta(ctx: Context, side: Side) -> Result:
    names = _names(ctx, side, *_TIBIA, "tibial_plateau_medial", "tibial_plateau_lateral")
    tp, td, pm, pl = _need(ctx, names, (0, 1), (2, 3))
    value = value_or_absent(ampta_deg, tp, td, pm, pl)
    top = _meet_or(tp, td, pm, pl, tp)
    return Result(value, names, (), {"tibial_axis": segment(top, td), "tibial_joint_line": segment(pm, pl)})


def _jlca(ctx: Context, side: Side) -> Result:
    names = _names(ctx, side, "femoral_condyle_medial", "femoral_condyle_lateral", "tibial_plateau_medial",
                   "tibial_plateau_lateral")
    cm, cl, pm, pl = _need(ctx, names, (0, 1), (2, 3))
    notes: tuple[str, ...] = ()
    fp, fd = (ctx.mm.get(n) for n in _names(ctx, side, *_FEMUR))
    if fp is not None and fd is not None and float(np.hypot(*(fd - fp))) > 1.0:
        distal = fd - fp  # the femoral axis gives the distal sense whatever the display
    else:
        distal = np.array(ctx.orientation.inferior_vector(), dtype=float)
        notes = ("distal direction from the image orientation (femoral axis not marked)",)
    value = value_or_absent(jlca_deg, cm, cl, pm, pl, distal)
    return Result(value, names, notes, {"femoral_joint_line": segment(cm, cl), "tibial_joint_line": segment(pm, pl)})


def _fta(ctx: Context, side: Side) -> Result:
    names = _names(ctx, side, *_FEMUR, *_TIBIA, "femoral_condyle_medial", "femoral_condyle_lateral")
    fp, fd, tp, td, cm, cl = _need(ctx, names, (0, 1), (2, 3), (4, 5))
    value = value_or_absent(fta_deg, fp, fd, tp, td, cl - cm)
    try:
        meet = _line_meet(fp, fd, tp, td)
        if float(np.hypot(*(meet - 0.5 * (fd + tp)))) > 3.0 * float(np.hypot(*(td - fp))):
            raise MeasurementError("far")
        lines = {"femoral_axis": segment(fp, meet), "tibial_axis": segment(meet, td)}
    except MeasurementError:  # (nearly) parallel axes: draw them as they are
        lines = {"femoral_axis": segment(fp, fd), "tibial_axis": segment(tp, td)}
    return Result(value, names, (), lines)


def _width(first: str, second: str) -> Callable[[Context, Side], Result]:
    def fn(ctx: Context, side: Side) -> Result:
        names = _names(ctx, side, first, second)
        a, b = _need(ctx, names, (0, 1))
        return Result(float(np.linalg.norm(b - a)), names, (), {"width": segment(a, b)})

    return fn


def _slope(ctx: Context, side: Side) -> Result:
    names = _names(ctx, side, *_TIBIA, "tibial_plateau_anterior", "tibial_plateau_posterior")
    tp, td, pa, pp = _need(ctx, names, (0, 1), (2, 3))
    value = value_or_absent(posterior_tibial_slope_deg, tp, td, pa, pp)
    d = (td - tp) / np.linalg.norm(td - tp)
    n = np.array([-d[1], d[0]])
    half = 0.5 * float(np.linalg.norm(pp - pa))
    mid = 0.5 * (pa + pp)
    top = project_onto_line(mid, tp, td)
    return Result(value, names, ("axis: proximal tibial anatomical axis (PTAA)",),
                   {"tibial_axis": segment(top, td), "plateau_line": segment(pa, pp),
                    "axis_perpendicular": segment(mid - half * n, mid + half * n)})


def _ap_dimension(ctx: Context, side: Side) -> Result:
    names = _names(ctx, side, *_FEMUR, "femoral_anterior_cortex", "femoral_posterior_condyle")
    fp, fd, ac, pc = _need(ctx, names, (0, 1), (2, 3))
    value = value_or_absent(femoral_ap_dimension_mm, fp, fd, ac, pc)
    d = (fd - fp) / np.linalg.norm(fd - fp)
    lines = {"femoral_axis": segment(fp, fd), "anterior_line": segment(ac - 30 * d, ac + 30 * d),
             "posterior_line": segment(pc - 30 * d, pc + 30 * d),
             "ap_dimension": segment(ac, ac + ((pc - ac) - float((pc - ac) @ d) * d))}
    return Result(value, names, (), lines)


def _pco(ctx: Context, side: Side) -> Result:
    names = _names(ctx, side, *_FEMUR, "femoral_posterior_cortex", "femoral_posterior_condyle")
    fp, fd, pk, pc = _need(ctx, names, (0, 1), (2, 3))
    anterior = ctx.mm.get(ctx.name("femoral_anterior_cortex", side))
    value = value_or_absent(posterior_condylar_offset_mm, fp, fd, pk, pc, anterior)
    d = (fd - fp) / np.linalg.norm(fd - fp)
    reach = float((pc - pk) @ d)
    foot = pk + reach * d
    return Result(value, names, (), {"posterior_cortex_line": segment(pk, foot), "offset": segment(foot, pc)})


def _line_meet(a1, a2, b1, b2) -> np.ndarray:
    """Intersection of the lines a1a2 and b1b2 (mm); MeasurementError when parallel."""
    from ..geometry import line_intersection

    try:
        p = line_intersection(a1, a2, b1, b2)
    except (ValueError, ZeroDivisionError, np.linalg.LinAlgError) as exc:
        raise MeasurementError(f"parallel lines: {exc}") from None
    if not np.all(np.isfinite(p)):
        raise MeasurementError("parallel lines")
    return np.asarray(p, dtype=float)


def _meet_or(a1, a2, b1, b2, default) -> np.ndarray:
    """:func:`_line_meet`, or ``default`` for (nearly) parallel lines or a meeting point far away."""
    try:
        p = _line_meet(a1, a2, b1, b2)
    except MeasurementError:
        return np.asarray(default, dtype=float)
    span = float(np.hypot(*(point(a2) - point(a1)))) + float(np.hypot(*(point(b2) - point(b1))))
    return p if float(np.hypot(*(p - point(default)))) <= 3.0 * span else np.asarray(default, dtype=float)


_SIDED: dict[str, Callable[[Context, Side], Result]] = {
    "aldfa_{side}_deg": _aldfa,
    "ampta_{side}_deg": _ampta,
    "jlca_{side}_deg": _jlca,
    "fta_{side}_deg": _fta,
    "femoral_condylar_width_{side}_mm": _width("femoral_epicondyle_medial", "femoral_epicondyle_lateral"),
    "tibial_plateau_width_{side}_mm": _width("tibial_plateau_medial", "tibial_plateau_lateral"),
    "posterior_tibial_slope_{side}_deg": _slope,
    "femoral_ap_dimension_{side}_mm": _ap_dimension,
    "posterior_condylar_offset_{side}_mm": _pco,
}


def _compute(ctx: Context, name: str) -> tuple[Result, Side | None, str]:
    definition, side = split_name(name)
    if definition.name not in _SIDED or side is None:
        raise MeasurementError(f"{name} is not a knee-view measurement")
    result = _SIDED[definition.name](ctx, side)
    if not math.isfinite(result.value):  # pragma: no cover - guarded by the separation checks
        raise Absent("the geometry is degenerate (non-finite result)")
    return result, side, definition.unit


def knee_sides(landmarks: Landmarks, view: str) -> tuple[Side, ...]:
    """The sides (right, then left) that have any landmark of ``view`` (found or reported
    missing); both sides when there is none at all.

    >>> from orthoplan.model import Landmark, Landmarks
    >>> knee_sides(Landmarks.from_landmarks([Landmark("femoral_posterior_condyle_left", 1, 2)]), "knee-lateral")
    (<Side.LEFT: 'left'>,)
    """
    anatomy = KNEE_AP_ANATOMY if view == "knee-ap" else KNEE_LATERAL_ANATOMY
    named = [lm.name for lm in landmarks] + [n for n, _ in landmarks.missing]
    sides = tuple(s for s in (Side.RIGHT, Side.LEFT) if any(n.side is s and n.anatomy in anatomy for n in named))
    return sides or (Side.RIGHT, Side.LEFT)


def measure_knee(
    landmarks: Landmarks,
    calibration: Calibration,
    orientation: ImageOrientation = ImageOrientation(),
    *,
    view: str = "knee-ap",
    sides: Iterable[Side | str] | None = None,
) -> Measurements:
    """Every measurement of a knee view the landmarks allow, in mm at the anatomy and degrees.

    Parameters
    ----------
    landmarks
        Landmarks in image pixels.
    calibration
        The anatomical scale.
    orientation
        Where the patient's left and head lie (only the JLCA's distal sense uses it, and only
        when the femoral axis is not marked).
    view
        ``"knee-ap"`` or ``"knee-lateral"``.
    sides
        The knees to measure; default :func:`knee_sides` (the sides with landmarks of the view).

    Absent values are listed in ``Measurements.missing`` with the reason (never zero);
    lengths carry ``"assumed scale"`` when the calibration is assumed.
    """
    if view not in KNEE_VIEWS:
        raise MeasurementError(f"unknown knee view {view!r}: one of {', '.join(KNEE_VIEWS)}")
    chosen = tuple(Side(s) for s in sides) if sides is not None else knee_sides(landmarks, view)
    ctx = Context(landmarks, calibration, orientation)
    items, missing = measure_names(ctx, knee_measurement_names(view, chosen), _compute)
    log.debug("measured %d %s values, %d absent", len(items), view, len(missing))
    return Measurements(tuple(items), tuple(missing))


def knee_construction(
    name: str,
    landmarks: Landmarks,
    calibration: Calibration,
    orientation: ImageOrientation = ImageOrientation(),
) -> dict[str, np.ndarray]:
    """The polylines (image pixels, ``(N, 2)``) that illustrate knee-view measurement ``name``.

    Keys: ``femoral_axis``, ``tibial_axis``, ``femoral_joint_line``, ``tibial_joint_line``,
    ``width``, ``plateau_line``, ``axis_perpendicular``, ``anterior_line``, ``posterior_line``,
    ``ap_dimension``, ``posterior_cortex_line``, ``offset``, as the measurement uses them.
    Raises :class:`~orthoplan.errors.MeasurementError` with the reason when it cannot be drawn.
    """
    ctx = Context(landmarks, calibration, orientation)
    try:
        result, _, _ = _compute(ctx, name)
    except Absent as exc:
        raise MeasurementError(f"{name} cannot be drawn: {exc}") from None
    return {k: to_px(v, calibration).reshape(-1, 2) for k, v in result.lines_mm.items()}


if set(KNEE_DEFINITIONS) | {"jlca_{side}_deg"} != set(_SIDED):  # pragma: no cover - a definition without code
    raise RuntimeError("every knee-view definition needs its function in orthoplan.measurements.knee._SIDED")
