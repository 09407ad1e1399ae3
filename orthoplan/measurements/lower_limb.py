"""Lower-limb alignment on a standing AP long-leg radiograph: pure geometry on landmarks.

Two layers, as in :mod:`orthoplan.measurements.hip`:

* small pure functions over points in mm at the anatomy (``(2,)`` arrays):
  :func:`hka_deg`, :func:`mad_mm`, :func:`mlpfa_deg`, :func:`mldfa_deg`, :func:`mpta_deg`,
  :func:`ldta_deg`, :func:`jlca_deg`, :func:`ama_deg`, and :func:`malalignment_test`
  (Paley's malalignment test on measured values); they raise
  :class:`~orthoplan.errors.MeasurementError` on degenerate geometry;
* :func:`measure_lower_limb`, which converts the landmarks to mm, computes every value the
  landmarks allow and lists every other one in :attr:`Measurements.missing` with the
  reason; :func:`lower_limb_construction` gives the lines that illustrate a value.

Medial and lateral are the patient's (``ImageOrientation.patient_left_x``), never the
screen's; nothing assumes the limb is vertical in the image. Definitions, sign conventions
(HKA varus negative, MAD medial positive, JLCA medial convergence positive), normal ranges
and sources are in :mod:`orthoplan.measurements.definitions` and ``docs/measurements.md``.

Examples
--------
>>> from orthoplan.model import Calibration, Landmark, Landmarks
>>> lms = Landmarks.from_landmarks([          # right leg, standard AP: lateral is -x
...     Landmark("femoral_head_center_right", 500, 100), Landmark("femoral_knee_center_right", 500, 2300),
...     Landmark("tibial_knee_center_right", 500, 2350), Landmark("ankle_center_right", 500, 4300)])
>>> ms = measure_lower_limb(lms, Calibration(0.2, "ball-marker", 2.0))
>>> round(ms["hka_right_deg"].value, 6), round(ms["femoral_length_right_mm"].value, 3)
(0.0, 440.0)
>>> ms.get("mldfa_right_deg") is None
True
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import MeasurementError
from ..geometry import angle_between_deg, project_onto_line, signed_angle_deg, to_px
from ..model import Calibration, ImageOrientation, LandmarkName, Landmarks, Measurement, Measurements, Side
from .definitions import LOWER_LIMB_DEFINITIONS, lower_limb_measurement_names, split_name
from .common import Absent, Context, Result, direction, measure_names, point, segment, value_or_absent

__all__ = [
    "LONG_LEG_ANATOMY",
    "MalalignmentVerdict",
    "hka_deg",
    "mad_mm",
    "mlpfa_deg",
    "mldfa_deg",
    "mpta_deg",
    "ldta_deg",
    "jlca_deg",
    "ama_deg",
    "malalignment_test",
    "malalignment_from_measurements",
    "limb_directions",
    "measure_lower_limb",
    "lower_limb_construction",
]

log = logging.getLogger(__name__)

#: The landmark anatomies added for the standing AP long-leg view (the femoral head centre,
#: greater trochanter and femoral shaft points are shared with the AP pelvis view).
LONG_LEG_ANATOMY = (
    "femoral_knee_center", "tibial_knee_center", "femoral_condyle_medial", "femoral_condyle_lateral",
    "tibial_plateau_medial", "tibial_plateau_lateral", "ankle_center", "tibial_plafond_medial",
    "tibial_plafond_lateral",
)

#: The lateral direction must make at least this angle (deg) with a mechanical axis for the
#: varus/valgus sense to be defined (a limb lying along the medio-lateral image axis is not).
MIN_AXIS_TO_LATERAL_DEG = 20.0


# --------------------------------------------------------------------------- pure functions


def _turn_sign(axis: np.ndarray, towards, what: str) -> float:
    """+1 if turning ``axis`` towards ``towards`` is a positive :func:`signed_angle_deg`, else -1."""
    t = point(towards)
    cross = float(axis[0] * t[1] - axis[1] * t[0])
    norm = math.hypot(t[0], t[1])
    if norm == 0 or abs(cross) / norm < math.sin(math.radians(MIN_AXIS_TO_LATERAL_DEG)):
        raise MeasurementError(
            f"{what} runs along the patient's medio-lateral direction: the varus/valgus sense is "
            "undefined; check the landmarks and the image orientation"
        )
    return 1.0 if cross > 0 else -1.0


def hka_deg(hip, femoral_knee, tibial_knee, ankle, lateral) -> float:
    """Hip-knee-ankle angle as the deviation from a straight limb; varus negative.

    The angle from the femoral mechanical axis (``hip`` → ``femoral_knee``) to the tibial
    mechanical axis (``tibial_knee`` → ``ankle``), positive when the tibia turns laterally
    (valgus), negative when it turns medially (varus). ``lateral`` is any vector towards
    the patient's lateral side of this leg.

    Examples
    --------
    >>> round(hka_deg((0, 0), (0, 400), (0, 400), (-20, 780), lateral=(1, 0)), 3)  # ankle medial
    -3.013
    >>> round(hka_deg((0, 0), (0, 400), (0, 400), (20, 780), lateral=(1, 0)), 3)
    3.013
    """
    f = direction(hip, femoral_knee, "femoral_head_center and femoral_knee_center")
    t = direction(tibial_knee, ankle, "tibial_knee_center and ankle_center")
    return signed_angle_deg(f, t) * _turn_sign(f, lateral, "the femoral mechanical axis")


def mad_mm(hip, ankle, knee, lateral) -> float:
    """Mechanical axis deviation: distance of ``knee`` from the line ``hip`` → ``ankle``.

    Positive when the line passes medial to the knee (varus), negative lateral (valgus).

    Examples
    --------
    >>> mad_mm((0, 0), (0, 800), (12, 400), lateral=(1, 0))   # knee 12 mm lateral of the axis
    12.0
    >>> mad_mm((0, 0), (0, 800), (12, 400), lateral=(-1, 0))
    -12.0
    """
    u = direction(hip, ankle, "femoral_head_center and ankle_center")
    n = np.array([-u[1], u[0]]) * _turn_sign(u, lateral, "the limb's mechanical axis")
    return float((point(knee) - point(hip)) @ n)


def mlpfa_deg(hip, femoral_knee, greater_trochanter) -> float:
    """Mechanical lateral proximal femoral angle: at the head centre, between the mechanical
    axis and the line to the greater trochanter tip.

    >>> round(mlpfa_deg((0, 0), (0, 400), (50, 0)), 6)
    90.0
    """
    a = direction(hip, femoral_knee, "femoral_head_center and femoral_knee_center")
    b = direction(hip, greater_trochanter, "femoral_head_center and greater_trochanter")
    return angle_between_deg(a, b)


def mldfa_deg(hip, femoral_knee, condyle_medial, condyle_lateral) -> float:
    """Mechanical lateral distal femoral angle: between the mechanical axis (knee → hip) and
    the condylar tangent (medial → lateral condyle).

    >>> round(mldfa_deg((0, -400), (0, 0), (-25, 10), (25, 10)), 6)
    90.0
    >>> round(mldfa_deg((0, -400), (0, 0), (-25, 8), (25, 12)), 3)   # lateral end lower: varus
    94.574
    """
    a = direction(femoral_knee, hip, "femoral_knee_center and femoral_head_center")
    b = direction(condyle_medial, condyle_lateral, "femoral_condyle_medial and femoral_condyle_lateral")
    return angle_between_deg(a, b)


def mpta_deg(tibial_knee, ankle, plateau_medial, plateau_lateral) -> float:
    """Medial proximal tibial angle: between the tibial mechanical axis (knee → ankle) and
    the plateau line (lateral → medial margin).

    >>> round(mpta_deg((0, 0), (0, 380), (-30, 5), (30, 5)), 6)
    90.0
    """
    a = direction(tibial_knee, ankle, "tibial_knee_center and ankle_center")
    b = direction(plateau_lateral, plateau_medial, "tibial_plateau_lateral and tibial_plateau_medial")
    return angle_between_deg(a, b)


def ldta_deg(tibial_knee, ankle, plafond_medial, plafond_lateral) -> float:
    """Lateral distal tibial angle: between the tibial mechanical axis (ankle → knee) and the
    plafond line (medial → lateral end).

    >>> round(ldta_deg((0, 0), (0, 380), (-15, 375), (15, 375)), 6)
    90.0
    """
    a = direction(ankle, tibial_knee, "ankle_center and tibial_knee_center")
    b = direction(plafond_medial, plafond_lateral, "tibial_plafond_medial and tibial_plafond_lateral")
    return angle_between_deg(a, b)


def jlca_deg(condyle_medial, condyle_lateral, plateau_medial, plateau_lateral, distal) -> float:
    """Joint-line convergence angle between the condylar tangent and the plateau line.

    Positive when the lines converge medially (the plateau's lateral end lies further distal
    relative to the condylar tangent: the joint opens laterally), negative when they
    converge laterally. ``distal`` is any vector towards the feet.

    Examples
    --------
    >>> jlca_deg((-25, 0), (25, 0), (-30, 5), (30, 5), distal=(0, 1))
    0.0
    >>> round(jlca_deg((-25, 0), (25, 0), (-30, 5), (30, 8), distal=(0, 1)), 3)
    2.862
    """
    jf = direction(condyle_medial, condyle_lateral, "femoral_condyle_medial and femoral_condyle_lateral")
    jt = direction(plateau_medial, plateau_lateral, "tibial_plateau_medial and tibial_plateau_lateral")
    return signed_angle_deg(jf, jt) * _turn_sign(jf, distal, "the distal femoral joint line")


def ama_deg(hip, femoral_knee, shaft_proximal, shaft_distal) -> float:
    """Anatomical-mechanical angle of the femur (unsigned, degrees).

    >>> round(ama_deg((0, 0), (0, 400), (40, 60), (40 - 400 * math.tan(math.radians(7)), 460)), 6)
    7.0
    """
    a = direction(hip, femoral_knee, "femoral_head_center and femoral_knee_center")
    b = direction(shaft_proximal, shaft_distal, "femoral_shaft_proximal and femoral_shaft_distal")
    return angle_between_deg(a, b)


# --------------------------------------------------------------------------- malalignment test

#: Paley's normal values used by the malalignment test (from the definitions).
MAT_RANGES = {
    "mad": LOWER_LIMB_DEFINITIONS["mad_{side}_mm"].normal_range,
    "mldfa": LOWER_LIMB_DEFINITIONS["mldfa_{side}_deg"].normal_range,
    "mpta": LOWER_LIMB_DEFINITIONS["mpta_{side}_deg"].normal_range,
    "jlca": LOWER_LIMB_DEFINITIONS["jlca_{side}_deg"].normal_range,
}
ORIGINS = ("femoral", "tibial", "joint_line")


@dataclass(frozen=True)
class MalalignmentVerdict:
    """The result of Paley's malalignment test for one leg.

    ``alignment`` is ``"varus"``, ``"valgus"`` or ``"neutral"`` (MAD in its normal range);
    ``origins`` the levels whose angle is abnormal in the direction of the malalignment
    (in the order femoral, tibial, joint_line); ``compensating`` those abnormal in the
    other direction (for a neutral limb: every abnormal level); ``findings`` one line per
    step of the test.

    >>> v = malalignment_test(25.0, mldfa_deg=88.0, mpta_deg=81.0, jlca_deg=1.0, side="left")
    >>> v.alignment, v.origins, v.note
    ('varus', ('tibial',), 'malalignment test: varus; origin: tibial')
    """

    side: Side
    alignment: str
    origins: tuple[str, ...] = ()
    compensating: tuple[str, ...] = ()
    findings: tuple[str, ...] = ()

    @property
    def note(self) -> str:
        """One line for the ``mad_{side}_mm`` measurement's notes."""
        text = f"malalignment test: {self.alignment}"
        if self.alignment != "neutral":
            text += "; origin: " + (", ".join(self.origins) if self.origins else "combined (no single level abnormal)")
        if self.compensating:
            text += "; compensating: " + ", ".join(self.compensating)
        return text


def _direction_of(level: str, value: float) -> str | None:
    """``"varus"``/``"valgus"``/None for an angle of a level against Paley's range."""
    lo, hi = MAT_RANGES[{"femoral": "mldfa", "tibial": "mpta", "joint_line": "jlca"}[level]]
    if lo <= value <= hi:
        return None
    if level == "tibial":  # MPTA: low is varus
        return "varus" if value < lo else "valgus"
    return "varus" if value > hi else "valgus"  # mLDFA and JLCA: high is varus


def malalignment_test(
    mad_mm: float,
    *,
    mldfa_deg: float | None = None,
    mpta_deg: float | None = None,
    jlca_deg: float | None = None,
    side: Side | str,
) -> MalalignmentVerdict:
    """Paley's malalignment test on measured values (MAD medial positive).

    Step 1: MAD above 15 mm medial is varus, below 1 mm medial (i.e. lateral) valgus
    malalignment. Step 2: mLDFA outside 85-90 deg (above: varus) says femoral; step 3: MPTA
    outside 85-90 deg (below: varus) says tibial; step 4: JLCA outside 0-2 deg (above:
    varus) says joint line. A level not measured is named in the findings.

    Examples
    --------
    >>> malalignment_test(-20.0, mldfa_deg=82.0, mpta_deg=88.0, jlca_deg=0.5, side="right").origins
    ('femoral',)
    >>> v = malalignment_test(5.0, mldfa_deg=93.0, mpta_deg=92.0, jlca_deg=1.0, side="right")
    >>> v.alignment, v.compensating
    ('neutral', ('femoral', 'tibial'))
    """
    lo, hi = MAT_RANGES["mad"]
    alignment = "varus" if mad_mm > hi else "valgus" if mad_mm < lo else "neutral"
    where = "medial" if mad_mm >= 0 else "lateral"
    findings = [f"MAD {abs(mad_mm):.1f} mm {where} ({alignment}; normal {lo:g}-{hi:g} mm medial)"]
    origins, compensating = [], []
    for level, name, value in (("femoral", "mLDFA", mldfa_deg), ("tibial", "MPTA", mpta_deg), ("joint_line", "JLCA", jlca_deg)):
        if value is None:
            findings.append(f"{name} not measured: the {level.replace('_', ' ')} level is not assessed")
            continue
        d = _direction_of(level, float(value))
        if d is None:
            findings.append(f"{name} {value:.1f} deg normal")
            continue
        findings.append(f"{name} {value:.1f} deg: {level.replace('_', ' ')} {d}")
        (origins if d == alignment else compensating).append(level)
    return MalalignmentVerdict(Side(side), alignment, tuple(origins), tuple(compensating), tuple(findings))


def malalignment_from_measurements(measurements: Measurements, side: Side | str) -> MalalignmentVerdict:
    """:func:`malalignment_test` on the values of :func:`measure_lower_limb` for ``side``.

    Raises :class:`~orthoplan.errors.MeasurementError` when the MAD was not measured.
    """
    s = Side(side).value
    mad = measurements.get(f"mad_{s}_mm")
    if mad is None:
        reason = dict(measurements.missing).get(f"mad_{s}_mm", "not measured")
        raise MeasurementError(f"the malalignment test needs mad_{s}_mm: {reason}")

    def val(name: str) -> float | None:
        m = measurements.get(f"{name}_{s}_deg")
        return None if m is None else m.value

    return malalignment_test(mad.value, mldfa_deg=val("mldfa"), mpta_deg=val("mpta"), jlca_deg=val("jlca"), side=side)


# --------------------------------------------------------------------------- from landmarks


def limb_directions(orientation: ImageOrientation, side: Side | str) -> tuple[np.ndarray, np.ndarray]:
    """``(lateral, distal)`` unit vectors of ``side``'s leg in image (and mm) coordinates.

    >>> [v.tolist() for v in limb_directions(ImageOrientation(), "right")]
    [[-1.0, 0.0], [0.0, 1.0]]
    """
    return (
        np.array(orientation.lateral_vector(side), dtype=float),
        np.array(orientation.inferior_vector(), dtype=float),
    )


def _names(ctx: Context, side: Side, *anatomies: str) -> tuple[LandmarkName, ...]:
    return tuple(ctx.name(a, side) for a in anatomies)


def _need(ctx: Context, names: tuple[LandmarkName, ...], *pairs: tuple[int, int]) -> list[np.ndarray]:
    pts = ctx.need(*names)
    ctx.apart(*((names[i], names[j]) for i, j in pairs))
    return pts


def _hka(ctx: Context, side: Side) -> Result:
    names = _names(ctx, side, "femoral_head_center", "femoral_knee_center", "tibial_knee_center", "ankle_center")
    h, kf, kt, a = _need(ctx, names, (0, 1), (2, 3))
    lat, _ = limb_directions(ctx.orientation, side)
    value = value_or_absent(hka_deg, h, kf, kt, a, lat)
    return Result(value, names, (), {"femoral_axis": segment(h, kf), "tibial_axis": segment(kt, a)})


def _mad(ctx: Context, side: Side) -> Result:
    names = _names(ctx, side, "femoral_head_center", "ankle_center")
    h, a = _need(ctx, names, (0, 1))
    notes = []
    kt, kf = ctx.name("tibial_knee_center", side), ctx.name("femoral_knee_center", side)
    if kt in ctx.mm:
        knee_name = kt
        notes.append("knee centre: tibial (between the tibial spines)")
    elif kf in ctx.mm:
        knee_name = kf
        notes.append(f"knee centre: femoral (top of the intercondylar notch; {kt.value}: {ctx.landmarks.missing_reason(kt)})")
    else:
        raise Absent(
            f"needs {kt.value}: {ctx.landmarks.missing_reason(kt)}; "
            f"or {kf.value}: {ctx.landmarks.missing_reason(kf)}"
        )
    knee = ctx.mm[knee_name]
    lat, _ = limb_directions(ctx.orientation, side)
    value = value_or_absent(mad_mm, h, a, knee, lat)
    foot = project_onto_line(knee, h, a)
    return Result(value, names + (knee_name,), tuple(notes), {"mechanical_axis": segment(h, a), "deviation": segment(knee, foot)})


def _mlpfa(ctx: Context, side: Side) -> Result:
    names = _names(ctx, side, "femoral_head_center", "femoral_knee_center", "greater_trochanter")
    h, kf, gt = _need(ctx, names, (0, 1), (0, 2))
    value = value_or_absent(mlpfa_deg, h, kf, gt)
    return Result(value, names, (), {"femoral_axis": segment(h, kf), "trochanter_line": segment(h, gt)})


def _mldfa(ctx: Context, side: Side) -> Result:
    names = _names(ctx, side, "femoral_head_center", "femoral_knee_center", "femoral_condyle_medial", "femoral_condyle_lateral")
    h, kf, cm, cl = _need(ctx, names, (0, 1), (2, 3))
    value = value_or_absent(mldfa_deg, h, kf, cm, cl)
    return Result(value, names, (), {"femoral_axis": segment(h, kf), "femoral_joint_line": segment(cm, cl)})


def _mpta(ctx: Context, side: Side) -> Result:
    names = _names(ctx, side, "tibial_knee_center", "ankle_center", "tibial_plateau_medial", "tibial_plateau_lateral")
    kt, a, pm, pl = _need(ctx, names, (0, 1), (2, 3))
    value = value_or_absent(mpta_deg, kt, a, pm, pl)
    return Result(value, names, (), {"tibial_axis": segment(kt, a), "tibial_joint_line": segment(pm, pl)})


def _ldta(ctx: Context, side: Side) -> Result:
    names = _names(ctx, side, "tibial_knee_center", "ankle_center", "tibial_plafond_medial", "tibial_plafond_lateral")
    kt, a, fm, fl = _need(ctx, names, (0, 1), (2, 3))
    value = value_or_absent(ldta_deg, kt, a, fm, fl)
    return Result(value, names, (), {"tibial_axis": segment(kt, a), "ankle_joint_line": segment(fm, fl)})


def _jlca(ctx: Context, side: Side) -> Result:
    names = _names(ctx, side, "femoral_condyle_medial", "femoral_condyle_lateral", "tibial_plateau_medial", "tibial_plateau_lateral")
    cm, cl, pm, pl = _need(ctx, names, (0, 1), (2, 3))
    _, distal = limb_directions(ctx.orientation, side)
    value = value_or_absent(jlca_deg, cm, cl, pm, pl, distal)
    return Result(value, names, (), {"femoral_joint_line": segment(cm, cl), "tibial_joint_line": segment(pm, pl)})


def _ama(ctx: Context, side: Side) -> Result:
    names = _names(ctx, side, "femoral_head_center", "femoral_knee_center", "femoral_shaft_proximal", "femoral_shaft_distal")
    h, kf, sp, sd = _need(ctx, names, (0, 1), (2, 3))
    value = value_or_absent(ama_deg, h, kf, sp, sd)
    return Result(value, names, (), {"femoral_axis": segment(h, kf), "anatomical_axis": segment(sp, sd)})


def _length(first: str, second: str) -> Callable[[Context, Side], Result]:
    def fn(ctx: Context, side: Side) -> Result:
        names = _names(ctx, side, first, second)
        a, b = _need(ctx, names, (0, 1))
        return Result(float(np.linalg.norm(b - a)), names, (), {"length": segment(a, b)})

    return fn


_femoral_length = _length("femoral_head_center", "femoral_knee_center")
_tibial_length = _length("tibial_knee_center", "ankle_center")


def _lld(ctx: Context) -> Result:
    reasons, legs, names, lines = [], {}, [], {}
    for side in (Side.RIGHT, Side.LEFT):
        total = 0.0
        for fn, part in ((_femoral_length, "femur"), (_tibial_length, "tibia")):
            try:
                r = fn(ctx, side)
            except Absent as exc:
                reasons += str(exc).split("; ")
                continue
            total += r.value
            names += list(r.landmarks)
            lines[f"{part}_{side.value}"] = r.lines_mm["length"]
        legs[side] = total
    if reasons:
        raise Absent("; ".join(dict.fromkeys(reasons)))
    return Result(legs[Side.LEFT] - legs[Side.RIGHT], tuple(dict.fromkeys(names)), (), lines)


_SIDED: dict[str, Callable[[Context, Side], Result]] = {
    "hka_{side}_deg": _hka,
    "mad_{side}_mm": _mad,
    "mlpfa_{side}_deg": _mlpfa,
    "mldfa_{side}_deg": _mldfa,
    "mpta_{side}_deg": _mpta,
    "ldta_{side}_deg": _ldta,
    "jlca_{side}_deg": _jlca,
    "ama_{side}_deg": _ama,
    "femoral_length_{side}_mm": _femoral_length,
    "tibial_length_{side}_mm": _tibial_length,
}
_BOTH: dict[str, Callable[[Context], Result]] = {"lld_long_leg_mm": _lld}


def _compute(ctx: Context, name: str) -> tuple[Result, Side | None, str]:
    definition, side = split_name(name)
    if definition.name not in LOWER_LIMB_DEFINITIONS:
        raise MeasurementError(f"{name} is not a lower-limb measurement")
    result = _BOTH[definition.name](ctx) if side is None else _SIDED[definition.name](ctx, side)
    if not math.isfinite(result.value):  # pragma: no cover - guarded by the separation checks
        raise Absent("the geometry is degenerate (non-finite result)")
    return result, side, definition.unit


def measure_lower_limb(
    landmarks: Landmarks,
    calibration: Calibration,
    orientation: ImageOrientation = ImageOrientation(),
) -> Measurements:
    """Every lower-limb measurement the landmarks allow, in mm at the anatomy and degrees.

    Absent values are listed in ``Measurements.missing`` with the reason (never zero).
    ``mad_{side}_mm`` carries the malalignment test's verdict as a note (see
    :class:`MalalignmentVerdict`; :func:`malalignment_from_measurements` gives it as a
    value); lengths carry ``"assumed scale"`` when the calibration is assumed.

    Parameters
    ----------
    landmarks
        Landmarks in image pixels (standing AP long-leg view).
    calibration
        The anatomical scale.
    orientation
        Where the patient's left and head lie in the image.

    Examples
    --------
    >>> from orthoplan.model import Calibration, Landmark, Landmarks
    >>> lms = Landmarks.from_landmarks([Landmark("femoral_head_center_left", 1500, 100)])
    >>> measure_lower_limb(lms, Calibration(0.2, "ball-marker", 2.0)).missing[0]
    ('lld_long_leg_mm', 'needs femoral_head_center_right: not given; needs femoral_knee_center_right: not given; needs tibial_knee_center_right: not given; needs ankle_center_right: not given; needs femoral_knee_center_left: not given; needs tibial_knee_center_left: not given; needs ankle_center_left: not given')
    """
    ctx = Context(landmarks, calibration, orientation)
    items, missing = measure_names(ctx, lower_limb_measurement_names(), _compute)
    ms = Measurements(tuple(items), tuple(missing))
    # the malalignment verdict, as a note on the MAD of each side
    out = []
    for m in items:
        if m.name.startswith("mad_") and m.side is not None:
            verdict = malalignment_from_measurements(ms, m.side)
            m = Measurement(m.name, m.value, m.unit, m.landmarks, m.side, m.notes + (verdict.note,), m.interval)
        out.append(m)
    log.debug("measured %d lower-limb values, %d absent", len(out), len(missing))
    return Measurements(tuple(out), tuple(missing))


def lower_limb_construction(
    name: str,
    landmarks: Landmarks,
    calibration: Calibration,
    orientation: ImageOrientation = ImageOrientation(),
) -> dict[str, np.ndarray]:
    """The polylines (image pixels, ``(N, 2)``) that illustrate lower-limb measurement ``name``.

    Keys: ``femoral_axis``, ``tibial_axis``, ``mechanical_axis``, ``deviation``,
    ``trochanter_line``, ``femoral_joint_line``, ``tibial_joint_line``, ``ankle_joint_line``,
    ``anatomical_axis``, ``length`` (lengths), ``femur_<side>``/``tibia_<side>`` (LLD), as
    the measurement uses them. Raises :class:`~orthoplan.errors.MeasurementError` with the
    reason when it cannot be drawn.

    >>> from orthoplan.model import Calibration, Landmark, Landmarks
    >>> lms = Landmarks.from_landmarks([Landmark("femoral_head_center_right", 500, 100),
    ...                                 Landmark("ankle_center_right", 520, 4300)])
    >>> lower_limb_construction("mad_right_mm", lms, Calibration(0.2, "ball-marker", 2.0))
    Traceback (most recent call last):
    ...
    orthoplan.errors.MeasurementError: mad_right_mm cannot be drawn: needs tibial_knee_center_right: not given; or femoral_knee_center_right: not given
    """
    ctx = Context(landmarks, calibration, orientation)
    try:
        result, _, _ = _compute(ctx, name)
    except Absent as exc:
        raise MeasurementError(f"{name} cannot be drawn: {exc}") from None
    return {k: to_px(v, calibration).reshape(-1, 2) for k, v in result.lines_mm.items()}
