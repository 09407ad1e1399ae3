"""Realignment osteotomy planning on a standing AP long-leg radiograph (Miniaci method).

A knee realignment osteotomy turns the limb segment distal to a cut about a *hinge* so
that the weight-bearing line (WBL: femoral head centre → ankle centre) crosses the tibial
plateau at a chosen point, given as a fraction of the plateau width measured from its
medial margin (0 = medial margin, 1 = lateral margin):

* :func:`plan_hto` — high tibial osteotomy (medial *opening* wedge with a lateral hinge, or
  lateral *closing* wedge with a medial hinge), default target 62.5 % (Fujisawa point),
  by Miniaci's construction: the new WBL is drawn from the head centre through the target
  point; a circle about the hinge through the ankle centre meets it at the new ankle
  centre; the angle at the hinge between the old and the new ankle centre is the
  correction (wedge) angle;
* :func:`plan_dfo` — distal femoral osteotomy (lateral *opening* wedge with a medial hinge,
  or medial *closing* wedge with a lateral hinge), default target 50 %: the whole segment
  below the cut (knee and tibia) turns, so the angle is solved numerically.

In a :class:`~orthoplan.model.Plan`: :func:`plan_osteotomy` (plan and keep, one call) or
:func:`with_osteotomy` (keep an :class:`OsteotomyPlan`) store it as a
:class:`~orthoplan.model.PlannedOsteotomy` (JSON, SR, GSPS and picture carry it);
:func:`replan` re-plans after landmark or calibration edits; :func:`osteotomy_graphics_px`
is what the picture draws (hinge, cut, wedge, planned weight-bearing line, corrected limb).

The predicted HKA, MAD, mLDFA, MPTA, JLCA... come from rotating the distal segment's
landmarks about the hinge and re-measuring them with
:func:`orthoplan.measurements.measure_lower_limb` (JLCA is unchanged by construction:
soft-tissue laxity is not modelled).

**Default hinge points** (pass ``hinge_px`` to choose another):

* HTO opening wedge: the lateral cortex 10 mm distal to the joint line, taken as the
  lateral plateau margin moved 10 mm distally along the tibial mechanical axis
  (``hinge_distal_mm``) and ``hinge_inset_mm`` (default 0) towards the medial side;
* HTO closing wedge: likewise from the medial plateau margin;
* DFO opening wedge: the medial cortex 30 mm proximal to the joint line (the medial condyle
  point moved 30 mm proximally along the femoral mechanical axis); closing wedge: the same
  from the lateral condyle point.

**Wedge height** is the chord opened (or removed) at the far cortex,
``2 · L · sin(angle / 2)``, with ``L`` the osteotomy length from the hinge to the far
cortex: by default the distance from the hinge to the opposite joint-line margin moved
35 mm distally (HTO) or 30 mm proximally (DFO) — an estimate; pass ``osteotomy_length_mm``
measured on the image for the real cut.

References: Miniaci A, Ballmer FT, Ballmer PM, Jakob RP. Proximal tibial osteotomy. A new
fixation device. Clin Orthop Relat Res. 1989;(246):250-259. Fujisawa Y, Masuhara K, Shiomi
S. The effect of high tibial osteotomy on osteoarthritis of the knee. An arthroscopic study
of 54 knee joints. Orthop Clin North Am. 1979;10(3):585-608. Paley D. Principles of
Deformity Correction. Springer; 2002.

Examples
--------
>>> from orthoplan.phantoms.limb import LimbParams, make_long_leg
>>> from orthoplan.model import Calibration
>>> case = make_long_leg(LimbParams.preset("tibial_varus"), rows=1800, columns=700,
...                      detector_spacing_mm=0.6, noise=0)
>>> cal = Calibration(case.mm_per_px, "ball-marker", 1.0)
>>> plan = plan_hto(case.landmarks, cal, "right", case.orientation)
>>> round(plan.achieved_fraction, 4), round(plan.correction_deg, 1), plan.direction
(0.625, 9.9, 'valgus')
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from .errors import MeasurementError, PlanError
from .geometry import line_intersection, rotate, signed_angle_deg, to_mm, to_px
from .measurements.lower_limb import limb_directions, measure_lower_limb
from .model import (
    Calibration,
    ImageOrientation,
    Landmark,
    LandmarkName,
    Landmarks,
    LandmarkSource,
    Measurement,
    Measurements,
    Plan,
    PlannedOsteotomy,
    Side,
)

__all__ = [
    "FUJISAWA_FRACTION",
    "OsteotomyPlan",
    "plateau_fraction",
    "plateau_point",
    "miniaci_ankle",
    "wedge_height_mm",
    "plan_hto",
    "plan_dfo",
    "summary",
    "as_planned",
    "with_osteotomy",
    "without_osteotomy",
    "plan_osteotomy",
    "replan",
    "corrected_landmarks",
    "osteotomy_graphics_px",
    "osteotomy_label",
]

log = logging.getLogger(__name__)

#: Fujisawa point: 62.5 % of the plateau width from the medial margin.
FUJISAWA_FRACTION = 0.625

#: Landmark anatomies that move with the distal segment.
_HTO_DISTAL = ("ankle_center", "tibial_plafond_medial", "tibial_plafond_lateral")
_DFO_DISTAL = (
    "femoral_knee_center", "femoral_condyle_medial", "femoral_condyle_lateral", "tibial_knee_center",
    "tibial_plateau_medial", "tibial_plateau_lateral",
) + _HTO_DISTAL


# --------------------------------------------------------------------------- pure functions


def _pt(v) -> np.ndarray:
    return np.asarray(v, dtype=float).reshape(2)


def plateau_fraction(hip, ankle, plateau_medial, plateau_lateral) -> float:
    """Where the line ``hip`` → ``ankle`` crosses the plateau line, as a fraction of the plateau
    width from the medial margin (0 medial margin, 1 lateral margin; outside [0, 1] beyond).

    >>> plateau_fraction((0, 0), (0, 800), (-40, 400), (40, 400))
    0.5
    >>> plateau_fraction((10, 0), (10, 800), (-40, 400), (40, 400))
    0.625
    """
    m, l_ = _pt(plateau_medial), _pt(plateau_lateral)
    try:
        x = line_intersection(hip, ankle, m, l_)
    except ValueError:
        raise MeasurementError("the weight-bearing line is parallel to the tibial plateau") from None
    w = l_ - m
    return float((x - m) @ w / (w @ w))


def plateau_point(plateau_medial, plateau_lateral, fraction: float = FUJISAWA_FRACTION) -> np.ndarray:
    """The point at ``fraction`` of the plateau width from the medial margin.

    >>> plateau_point((-40, 400), (40, 400)).tolist()
    [10.0, 400.0]
    """
    m = _pt(plateau_medial)
    return m + float(fraction) * (_pt(plateau_lateral) - m)


def miniaci_ankle(hip, ankle, hinge, target) -> tuple[np.ndarray, float]:
    """Miniaci's construction: the new ankle centre and the rotation about ``hinge`` (degrees,
    the sign of :func:`orthoplan.geometry.signed_angle_deg`) that puts it on the line from
    ``hip`` through ``target``.

    The new ankle centre is where the circle about ``hinge`` through ``ankle`` meets the line
    from ``hip`` through ``target``, on the far side from the hip.

    >>> a, ang = miniaci_ankle((0, 0), (0, 800), (30, 410), (10, 400))
    >>> np.round(a, 3).tolist(), round(ang, 3)
    ([20.026, 801.025], -2.938)
    """
    h, a, c, t = _pt(hip), _pt(ankle), _pt(hinge), _pt(target)
    d = t - h
    n = math.hypot(*d)
    if n == 0:
        raise MeasurementError("the target point coincides with the femoral head centre")
    d /= n
    r2 = float((a - c) @ (a - c))
    # |h + s d - c|^2 = r^2  ->  s^2 + 2 s d.(h-c) + |h-c|^2 - r^2 = 0
    b = float(d @ (h - c))
    disc = b * b - (float((h - c) @ (h - c)) - r2)
    if disc < 0:
        raise MeasurementError("the new weight-bearing line does not reach the ankle's circle about the hinge")
    s = -b + math.sqrt(disc)
    new = h + s * d
    return new, signed_angle_deg(a - c, new - c)


def wedge_height_mm(angle_deg: float, osteotomy_length_mm: float) -> float:
    """Chord opened (or removed) at ``osteotomy_length_mm`` from the hinge: ``2 L sin(a/2)``.

    >>> round(wedge_height_mm(10.0, 60.0), 3)
    10.459
    """
    return 2.0 * float(osteotomy_length_mm) * math.sin(math.radians(abs(angle_deg)) / 2.0)


# --------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class OsteotomyPlan:
    """A planned realignment osteotomy and its predicted result (one leg).

    Points are image pixels; ``correction_deg`` is the wedge angle at the hinge (>= 0) and
    ``direction`` the sense it corrects (``"valgus"`` or ``"varus"``); ``rotation_deg`` the
    signed rotation of the distal segment in image coordinates (as
    :func:`orthoplan.geometry.rotate`). ``before`` and ``predicted`` are this side's
    lower-limb measurements; ``landmarks`` the predicted landmarks (distal segment moved).
    """

    kind: Literal["hto", "dfo"]
    wedge: Literal["opening", "closing"]
    side: Side
    target_fraction: float
    target_px: tuple[float, float]
    hinge_px: tuple[float, float]
    rotation_deg: float
    correction_deg: float
    direction: str
    osteotomy_length_mm: float
    wedge_height_mm: float
    achieved_fraction: float
    before: Measurements
    predicted: Measurements
    landmarks: Landmarks
    notes: tuple[str, ...] = ()
    #: The far end of the cut (the far cortex), ``osteotomy_length_mm`` from the hinge, pixels.
    cut_end_px: tuple[float, float] | None = None
    #: True when the hinge and the osteotomy length are the defaults (not given by the caller).
    auto: bool = True

    def predicted_value(self, measure: str) -> float | None:
        """A predicted value by side-less name (``"hka"``, ``"mad"``, ``"mpta"``, ``"jlca"``...).

        Returns ``None`` when it could not be measured.
        """
        for m in self.predicted:
            if m.name.startswith(measure + "_" + self.side.value + "_"):
                return m.value
        return None


class _Leg:
    """One leg's landmarks in mm with its patient directions."""

    def __init__(self, landmarks: Landmarks, calibration: Calibration, side: Side, orientation: ImageOrientation, needed: tuple[str, ...]):
        self.side, self.cal = side, calibration
        missing = [LandmarkName.of(a, side) for a in needed if LandmarkName.of(a, side) not in landmarks]
        if missing:
            raise MeasurementError(
                "osteotomy planning "
                + "; ".join(f"needs {n.value}: {landmarks.missing_reason(n)}" for n in missing)
            )
        self.mm = {a: to_mm(landmarks[LandmarkName.of(a, side)].xy, calibration) for a in needed}
        self.lateral, self.distal = limb_directions(orientation, side)

    def along(self, point: str, axis_from: str, axis_to: str, mm: float) -> np.ndarray:
        d = self.mm[axis_to] - self.mm[axis_from]
        return self.mm[point] + mm * d / np.linalg.norm(d)

    def inward(self, point: np.ndarray, towards: str, mm: float) -> np.ndarray:
        """``point`` moved ``mm`` straight towards the landmark ``towards`` (the hinge inset)."""
        if mm == 0:
            return point
        d = self.mm[towards] - point
        return point + mm * d / np.linalg.norm(d)


def _moved(landmarks: Landmarks, calibration: Calibration, side: Side, anatomies: tuple[str, ...], hinge_mm: np.ndarray, angle: float) -> Landmarks:
    out = landmarks
    for a in anatomies:
        name = LandmarkName.of(a, side)
        lm = landmarks.get(name)
        if lm is None:
            continue
        p = to_px(rotate(to_mm(lm.xy, calibration), angle, hinge_mm), calibration)
        out = out.with_landmark(Landmark(name, float(p[0]), float(p[1]), lm.confidence, LandmarkSource(lm.source), lm.radius_px))
    return out


def _side_only(ms: Measurements, side: Side) -> Measurements:
    tag = f"_{side.value}_"
    return Measurements(
        tuple(m for m in ms if tag in m.name),
        tuple((n, r) for n, r in ms.missing if tag in n),
    )


def _direction(before: Measurements, after: Measurements, side: Side, angle: float, leg: _Leg, hinge: np.ndarray) -> str:
    hb, ha = before.get(f"hka_{side.value}_deg"), after.get(f"hka_{side.value}_deg")
    if hb is not None and ha is not None and ha.value != hb.value:
        return "valgus" if ha.value > hb.value else "varus"
    # fall back on the ankle's move: laterally is valgus
    a = leg.mm["ankle_center"]
    moved = rotate(a, angle, hinge)
    return "valgus" if float((moved - a) @ leg.lateral) > 0 else "varus"


def _cut_end(hinge: np.ndarray, far: np.ndarray, length_mm: float) -> np.ndarray:
    """The far end of a cut from ``hinge`` towards ``far`` (mm), ``length_mm`` long."""
    d = far - hinge
    n = float(np.linalg.norm(d))
    if n == 0:
        raise MeasurementError("the hinge lies on the far cortex: choose another hinge point")
    return hinge + float(length_mm) * d / n


def _finish(kind, wedge, side, fraction, target, hinge, angle, length, landmarks, calibration, orientation, anatomies,
            expected, leg, cut_end, auto) -> OsteotomyPlan:
    before = _side_only(measure_lower_limb(landmarks, calibration, orientation), side)
    moved = _moved(landmarks, calibration, side, anatomies, hinge, angle)
    predicted = _side_only(measure_lower_limb(moved, calibration, orientation), side)
    direction = _direction(before, predicted, side, angle, leg, hinge)
    mm = {a: to_mm(moved[LandmarkName.of(a, side)].xy, calibration) for a in
          ("femoral_head_center", "ankle_center", "tibial_plateau_medial", "tibial_plateau_lateral")}
    achieved = plateau_fraction(mm["femoral_head_center"], mm["ankle_center"], mm["tibial_plateau_medial"], mm["tibial_plateau_lateral"])
    notes = []
    if direction != expected and abs(angle) > 1e-9:
        notes.append(
            f"the target needs a {direction} correction, but a {kind.upper()} {wedge} wedge corrects into "
            f"{expected}: check the target fraction or choose the other osteotomy"
        )
    if abs(angle) > 20.0:
        notes.append(f"correction of {abs(angle):.1f} deg exceeds 20 deg: consider a double-level osteotomy")
    t_px, h_px, e_px = to_px(target, calibration), to_px(hinge, calibration), to_px(cut_end, calibration)
    log.info("%s %s %s: %.2f deg, wedge %.1f mm", kind, wedge, side.value, abs(angle), wedge_height_mm(angle, length))
    return OsteotomyPlan(
        kind, wedge, side, float(fraction), (float(t_px[0]), float(t_px[1])), (float(h_px[0]), float(h_px[1])),
        float(angle), abs(float(angle)), direction, float(length), wedge_height_mm(angle, length), achieved,
        before, predicted, moved, tuple(notes), (float(e_px[0]), float(e_px[1])), bool(auto),
    )


def plan_hto(
    landmarks: Landmarks,
    calibration: Calibration,
    side: Side | str,
    orientation: ImageOrientation = ImageOrientation(),
    *,
    wedge: Literal["opening", "closing"] = "opening",
    target_fraction: float = FUJISAWA_FRACTION,
    hinge_px: tuple[float, float] | None = None,
    hinge_distal_mm: float = 10.0,
    hinge_inset_mm: float = 0.0,
    osteotomy_length_mm: float | None = None,
) -> OsteotomyPlan:
    """High tibial osteotomy by the Miniaci method (see the module docs).

    Parameters
    ----------
    landmarks, calibration, side, orientation
        The long-leg landmarks (pixels), scale, the leg and the image orientation. Needs the
        femoral head centre, tibial knee centre, ankle centre and both plateau margins.
    wedge
        ``"opening"`` (medial opening, lateral hinge) or ``"closing"`` (lateral closing,
        medial hinge).
    target_fraction
        Where the new weight-bearing line crosses the plateau, from its medial margin.
    hinge_px
        The hinge in image pixels; default as in the module docs (``hinge_distal_mm`` below
        the joint line at the hinge-side plateau margin, ``hinge_inset_mm`` inwards).
    osteotomy_length_mm
        Hinge to the far cortex, for the wedge height (default: estimated).

    Raises
    ------
    MeasurementError
        A needed landmark is missing, or the geometry is degenerate.
    """
    side = Side(side)
    if wedge not in ("opening", "closing"):
        raise MeasurementError(f"wedge must be 'opening' or 'closing', got {wedge!r}")
    leg = _Leg(landmarks, calibration, side, orientation,
               ("femoral_head_center", "tibial_knee_center", "ankle_center", "tibial_plateau_medial", "tibial_plateau_lateral"))
    hinge_margin, far_margin = (("tibial_plateau_lateral", "tibial_plateau_medial") if wedge == "opening"
                                else ("tibial_plateau_medial", "tibial_plateau_lateral"))
    auto = hinge_px is None and osteotomy_length_mm is None
    if hinge_px is None:
        hinge = leg.along(hinge_margin, "tibial_knee_center", "ankle_center", hinge_distal_mm)
        hinge = leg.inward(hinge, far_margin, hinge_inset_mm)
    else:
        hinge = to_mm(hinge_px, calibration)
    far = leg.along(far_margin, "tibial_knee_center", "ankle_center", 35.0)
    if osteotomy_length_mm is None:
        osteotomy_length_mm = float(np.linalg.norm(far - hinge))
    target = plateau_point(leg.mm["tibial_plateau_medial"], leg.mm["tibial_plateau_lateral"], target_fraction)
    _, angle = miniaci_ankle(leg.mm["femoral_head_center"], leg.mm["ankle_center"], hinge, target)
    return _finish("hto", wedge, side, target_fraction, target, hinge, angle, osteotomy_length_mm,
                   landmarks, calibration, orientation, _HTO_DISTAL, "valgus", leg,
                   _cut_end(hinge, far, osteotomy_length_mm), auto)


def plan_dfo(
    landmarks: Landmarks,
    calibration: Calibration,
    side: Side | str,
    orientation: ImageOrientation = ImageOrientation(),
    *,
    wedge: Literal["opening", "closing"] = "opening",
    target_fraction: float = 0.5,
    hinge_px: tuple[float, float] | None = None,
    hinge_proximal_mm: float = 30.0,
    hinge_inset_mm: float = 0.0,
    osteotomy_length_mm: float | None = None,
) -> OsteotomyPlan:
    """Distal femoral osteotomy: the segment below the cut (knee and tibia) turns about the
    hinge until the weight-bearing line crosses the plateau at ``target_fraction``.

    ``wedge="opening"`` is a lateral opening wedge (medial hinge), ``"closing"`` a medial
    closing wedge (lateral hinge); both correct a valgus knee into varus. Needs the femoral
    head centre, femoral knee centre, both condyle points, ankle centre and both plateau
    margins. Other parameters as :func:`plan_hto`.
    """
    from scipy.optimize import brentq

    side = Side(side)
    if wedge not in ("opening", "closing"):
        raise MeasurementError(f"wedge must be 'opening' or 'closing', got {wedge!r}")
    needed = ("femoral_head_center", "femoral_knee_center", "femoral_condyle_medial", "femoral_condyle_lateral",
              "ankle_center", "tibial_plateau_medial", "tibial_plateau_lateral")
    leg = _Leg(landmarks, calibration, side, orientation, needed)
    hinge_condyle, far_condyle = (("femoral_condyle_medial", "femoral_condyle_lateral") if wedge == "opening"
                                  else ("femoral_condyle_lateral", "femoral_condyle_medial"))
    auto = hinge_px is None and osteotomy_length_mm is None
    if hinge_px is None:
        hinge = leg.along(hinge_condyle, "femoral_knee_center", "femoral_head_center", hinge_proximal_mm)
        hinge = leg.inward(hinge, far_condyle, hinge_inset_mm)
    else:
        hinge = to_mm(hinge_px, calibration)
    far = leg.along(far_condyle, "femoral_knee_center", "femoral_head_center", hinge_proximal_mm)
    if osteotomy_length_mm is None:
        osteotomy_length_mm = float(np.linalg.norm(far - hinge))
    h, a, pm, pl = (leg.mm[k] for k in ("femoral_head_center", "ankle_center", "tibial_plateau_medial", "tibial_plateau_lateral"))

    def residual(angle: float) -> float:
        ra, rm, rl = rotate(np.array([a, pm, pl]), angle, hinge)
        return plateau_fraction(h, ra, rm, rl) - target_fraction

    lo, hi = -45.0, 45.0
    if residual(lo) * residual(hi) > 0:
        raise MeasurementError(
            f"no rotation within {hi:g} deg about the hinge brings the weight-bearing line to "
            f"{100 * target_fraction:g} % of the plateau"
        )
    angle = float(brentq(residual, lo, hi, xtol=1e-10))
    target = plateau_point(*rotate(np.array([pm, pl]), angle, hinge), target_fraction)
    return _finish("dfo", wedge, side, target_fraction, target, hinge, angle, osteotomy_length_mm,
                   landmarks, calibration, orientation, _DFO_DISTAL, "varus", leg,
                   _cut_end(hinge, far, osteotomy_length_mm), auto)


def summary(plan: OsteotomyPlan) -> Mapping[str, float | str | None]:
    """Flat ``{key: value}`` of a plan for tables: angles, wedge, and predicted HKA/MAD/MPTA/JLCA/mLDFA.

    >>> # summary(plan_hto(...))["predicted_hka_deg"]
    """
    out: dict[str, float | str | None] = {
        "kind": plan.kind, "wedge": plan.wedge, "side": plan.side.value,
        "correction_deg": plan.correction_deg, "direction": plan.direction,
        "wedge_height_mm": plan.wedge_height_mm, "osteotomy_length_mm": plan.osteotomy_length_mm,
        "target_fraction": plan.target_fraction, "achieved_fraction": plan.achieved_fraction,
    }
    for key, unit in (("hka", "deg"), ("mad", "mm"), ("mpta", "deg"), ("jlca", "deg"), ("mldfa", "deg")):
        out[f"predicted_{key}_{unit}"] = plan.predicted_value(key)
    return out


# --------------------------------------------------------------------------- osteotomies in a Plan


def as_planned(osteotomy: OsteotomyPlan) -> PlannedOsteotomy:
    """The part of an :class:`OsteotomyPlan` a :class:`~orthoplan.model.Plan` keeps.

    The measurements before the correction are the plan's own and the predicted landmarks
    follow from the plan's landmarks, the hinge and the rotation
    (:func:`corrected_landmarks`), so neither is copied; the predicted values keep their
    names, values and units.
    """
    if osteotomy.cut_end_px is None:
        raise PlanError("this osteotomy plan has no cut end: make it with plan_hto or plan_dfo")
    predicted = Measurements(
        tuple(Measurement(m.name, m.value, m.unit, (), m.side, (), m.interval) for m in osteotomy.predicted),
        osteotomy.predicted.missing,
    )
    return PlannedOsteotomy(
        osteotomy.kind, osteotomy.side, osteotomy.wedge, osteotomy.target_fraction,
        *osteotomy.hinge_px, *osteotomy.cut_end_px, *osteotomy.target_px,
        osteotomy.rotation_deg, osteotomy.direction, osteotomy.osteotomy_length_mm, osteotomy.wedge_height_mm,
        osteotomy.achieved_fraction, predicted, osteotomy.notes, osteotomy.auto,
    )


def with_osteotomy(plan: Plan, osteotomy: OsteotomyPlan | PlannedOsteotomy) -> Plan:
    """A copy of ``plan`` holding ``osteotomy`` (replacing any osteotomy of the same side).

    ``osteotomy`` comes from :func:`plan_hto` / :func:`plan_dfo` on this plan's landmarks
    (or is a :class:`~orthoplan.model.PlannedOsteotomy`). The plan then carries it into its
    JSON, its SR (two measurement groups per osteotomy) and its picture and GSPS (layer
    ``OSTEOTOMY_<SIDE>``). See :func:`plan_osteotomy` for the one-call form.

    Examples
    --------
    >>> # plan = with_osteotomy(plan, plan_hto(plan.landmarks, plan.calibration, "right", plan.orientation))
    """
    record = osteotomy if isinstance(osteotomy, PlannedOsteotomy) else as_planned(osteotomy)
    if plan.view not in ("long-leg", ""):
        raise PlanError(f"an osteotomy is planned on a standing long-leg view, this plan is a {plan.view} view")
    kept = tuple(o for o in plan.osteotomies if o.side is not record.side)
    order = {Side.RIGHT: 0, Side.LEFT: 1}
    return replace(plan, osteotomies=tuple(sorted(kept + (record,), key=lambda o: order[o.side])))


def without_osteotomy(plan: Plan, side: Side | str) -> Plan:
    """A copy of ``plan`` without the osteotomy of ``side`` (unchanged if it has none)."""
    side = Side(side)
    return replace(plan, osteotomies=tuple(o for o in plan.osteotomies if o.side is not side))


def plan_osteotomy(
    plan: Plan,
    kind: Literal["hto", "dfo"],
    side: Side | str,
    *,
    wedge: Literal["opening", "closing"] = "opening",
    target_fraction: float | None = None,
    **options,
) -> Plan:
    """Plan an HTO or a DFO on ``plan``'s landmarks and return the plan holding it.

    ``target_fraction`` defaults to the Fujisawa point (0.625) for an HTO and 0.5 for a DFO;
    ``options`` go to :func:`plan_hto` / :func:`plan_dfo` (``hinge_px``,
    ``osteotomy_length_mm``, ``hinge_inset_mm``...). Same as
    ``with_osteotomy(plan, plan_hto(plan.landmarks, plan.calibration, side, plan.orientation, ...))``.

    Raises
    ------
    MeasurementError
        A needed landmark is missing or the geometry is degenerate.
    PlanError
        ``kind`` is not ``"hto"``/``"dfo"``, or the plan is not a long-leg view.

    Examples
    --------
    >>> from orthoplan.phantoms.limb import LimbParams, make_long_leg
    >>> from orthoplan.pipeline import load_radiograph, plan_radiograph
    >>> case = make_long_leg(LimbParams.preset("tibial_varus"), rows=1800, columns=700,
    ...                      detector_spacing_mm=0.6, noise=0)
    >>> plan = plan_radiograph(load_radiograph(case.dataset), landmarks=case.landmarks, view="long-leg")
    >>> planned = plan_osteotomy(plan, "hto", "right")
    >>> o = planned.osteotomy("right")
    >>> o.kind, o.wedge, round(o.achieved_fraction, 4), round(o.correction_deg, 1)
    ('hto', 'opening', 0.625, 9.9)
    """
    if kind not in ("hto", "dfo"):
        raise PlanError(f"osteotomy kind must be 'hto' or 'dfo', got {kind!r}")
    fn = plan_hto if kind == "hto" else plan_dfo
    if target_fraction is None:
        target_fraction = FUJISAWA_FRACTION if kind == "hto" else 0.5
    op = fn(plan.landmarks, plan.calibration, side, plan.orientation, wedge=wedge,
            target_fraction=float(target_fraction), **options)
    return with_osteotomy(plan, op)


def replan(plan: Plan) -> Plan:
    """The plan's osteotomies planned again on its current landmarks and calibration.

    Kind, side, wedge and target are kept; an ``auto`` osteotomy's hinge and length are the
    defaults again, a given hinge and length stay. An osteotomy the landmarks no longer
    allow is removed, with a plan note saying why. Used by
    :func:`orthoplan.pipeline.update_landmarks` and :func:`~orthoplan.pipeline.recalibrate`.
    """
    out = plan
    for o in plan.osteotomies:
        options = {} if o.auto else {"hinge_px": o.hinge_px, "osteotomy_length_mm": o.osteotomy_length_mm}
        try:
            out = plan_osteotomy(out, o.kind, o.side, wedge=o.wedge, target_fraction=o.target_fraction, **options)
        except MeasurementError as exc:
            note = f"osteotomy {o.side.value}: removed, it cannot be planned any more ({exc})"
            out = replace(without_osteotomy(out, o.side), notes=out.notes + (note,))
    return out


def corrected_landmarks(plan: Plan, osteotomy: PlannedOsteotomy) -> Landmarks:
    """The plan's landmarks with the segment below the cut turned about the hinge."""
    anatomies = _HTO_DISTAL if osteotomy.kind == "hto" else _DFO_DISTAL
    hinge = to_mm(osteotomy.hinge_px, plan.calibration)
    return _moved(plan.landmarks, plan.calibration, osteotomy.side, anatomies, hinge, osteotomy.rotation_deg)


def osteotomy_graphics_px(plan: Plan, osteotomy: PlannedOsteotomy) -> dict[str, np.ndarray]:
    """What the picture draws of an osteotomy, as named point arrays ``(N, 2)`` in image pixels.

    * ``"hinge"`` (1 point) and ``"cut"`` (hinge → far cortex);
    * ``"wedge"``: the closed triangle opened (opening wedge: the cut's far end and where the
      distal side of the cut goes) or removed (closing wedge: the cut and the distal cut
      that closes onto it), its angle at the hinge the correction angle;
    * ``"weight_bearing_line"``: the planned weight-bearing line, femoral head centre →
      corrected ankle centre (it crosses the plateau at the target);
    * ``"corrected_axis"``: the corrected tibial mechanical axis (tibial knee centre →
      ankle centre after correction) and ``"corrected_<pair>"`` the corrected joint lines of
      the moved segment (``plafond``; DFO also ``condyles`` and ``plateau``).

    Entries whose landmarks are absent are left out. The geometry is done in mm at the
    anatomy (a non-square pixel keeps angles right).
    """
    cal, side = plan.calibration, osteotomy.side
    h = to_mm(osteotomy.hinge_px, cal)
    e = to_mm(osteotomy.cut_end_px, cal)
    sign = 1.0 if osteotomy.wedge == "opening" else -1.0
    other = rotate(e, sign * osteotomy.rotation_deg, h)
    out: dict[str, np.ndarray] = {
        "hinge": np.array([osteotomy.hinge_px], dtype=float),
        "cut": np.array([osteotomy.hinge_px, osteotomy.cut_end_px], dtype=float),
        "wedge": to_px(np.array([h, e, other]), cal),
    }
    moved = corrected_landmarks(plan, osteotomy)

    def xy(lms: Landmarks, anatomy: str):
        lm = lms.get(LandmarkName.of(anatomy, side))
        return None if lm is None else lm.xy

    hip, ankle = xy(plan.landmarks, "femoral_head_center"), xy(moved, "ankle_center")
    if hip is not None and ankle is not None:
        out["weight_bearing_line"] = np.array([hip, ankle], dtype=float)
    knee = xy(moved, "tibial_knee_center")
    if knee is not None and ankle is not None:
        out["corrected_axis"] = np.array([knee, ankle], dtype=float)
    pairs = {"plafond": ("tibial_plafond_medial", "tibial_plafond_lateral")}
    if osteotomy.kind == "dfo":
        pairs = {"condyles": ("femoral_condyle_medial", "femoral_condyle_lateral"),
                 "plateau": ("tibial_plateau_medial", "tibial_plateau_lateral"), **pairs}
    for name, (a, b) in pairs.items():
        pa, pb = xy(moved, a), xy(moved, b)
        if pa is not None and pb is not None:
            out[f"corrected_{name}"] = np.array([pa, pb], dtype=float)
    return out


def osteotomy_label(osteotomy: PlannedOsteotomy) -> tuple[str, str]:
    """Two lines for pictures: the osteotomy (kind, wedge, correction, wedge height, WBL
    position) and the predicted HKA, MAD, MPTA and JLCA."""
    first = (f"{osteotomy.kind.upper()} {osteotomy.wedge} wedge {osteotomy.correction_deg:.1f}° {osteotomy.direction}, "
             f"height {osteotomy.wedge_height_mm:.1f} mm, WBL {100 * osteotomy.achieved_fraction:.1f} %")
    side = osteotomy.side.value
    parts = []
    for key, fmt in (("hka", "HKA {:+.1f}°"), ("mad", "MAD {:+.1f} mm"), ("mpta", "MPTA {:.1f}°"), ("jlca", "JLCA {:.1f}°")):
        m = osteotomy.predicted.get(f"{key}_{side}_{'mm' if key == 'mad' else 'deg'}")
        if m is not None:
            parts.append(fmt.format(m.value))
    return first, "predicted " + (", ".join(parts) if parts else "values not available")
