"""Knee templating: size and place total-knee components on a standing AP long-leg (or AP knee) view.

Pure functions over :mod:`orthoplan.model` values (no image work):

* :func:`template_knee` places a femoral component, a tibial tray and an insert on one knee
  and returns the plan with their :class:`~orthoplan.model.Placement` values;
* :func:`femoral_ml_width_mm`, :func:`tibial_ml_width_mm` measure the widths that size the
  components; :func:`choose_femoral_size`, :func:`choose_tibial_size` and
  :func:`choose_insert_thickness` are the sizing rules;
* :func:`femoral_component_axis` gives the distal femoral cut's orientation (valgus to the
  anatomical axis; default perpendicular to the mechanical axis), :func:`tibial_component_axis`
  the tibial cut's (perpendicular to the tibial mechanical axis);
* :func:`edit_knee_placement` is the knee part of :func:`orthoplan.templating.update_placement`
  (move, rotate, resize, insert thickness);
* :func:`knee_outline_px` and :func:`resection_line_px` draw a placement at the image's
  magnification; :func:`knee_templating_summary` reports it as JSON-able values.

The rules and their references are in ``docs/templating.md`` (*Knee templating*).
Positions are image pixels (DICOM origin), lengths mm at the anatomy, angles degrees, sides
the patient's. The geometry is done in mm at the anatomy (so a non-square pixel aspect
keeps angles right) and converted back to pixels.

Examples
--------
>>> from orthoplan.phantoms.limb import make_long_leg
>>> from orthoplan.pipeline import load_radiograph, plan_radiograph
>>> case = make_long_leg(seed=1, rows=1950, columns=720, detector_spacing_mm=0.6, noise=0)
>>> rad = load_radiograph(case.dataset)
>>> plan = plan_radiograph(rad, landmarks=case.landmarks, view="long-leg")
>>> planned = template_knee(plan, None, "left")
>>> sorted(p.kind.value for p in planned.placements)
['femoral_component', 'tibial_insert', 'tibial_tray']
>>> round(knee_templating_summary(planned, "left")["femoral_component"]["cut_to_mechanical_axis_deg"], 6)
90.0
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import numpy as np

from ..catalog import Catalog, ImplantFamily
from ..catalog.outlines import (
    femoral_component_outline_mm,
    tibial_insert_outline_mm,
    tibial_tray_outline_mm,
    to_image,
)
from ..catalog.schema import FemoralComponentSize, TibialInsertSize, TibialTraySize
from ..errors import CatalogError, TemplatingError
from ..geometry import angle_between_deg, frame_pose, rotate, signed_angle_deg, to_mm, to_px, unit
from ..model import ImageOrientation, ImplantKind, LandmarkName, LandmarkSource, Placement, Plan, Side
from .common import ASSUMED_SCALE_NOTE, default_catalog, find_family, size_notes

__all__ = [
    "KNEE_IMPLANT_KINDS",
    "DEFAULT_FEMORAL_FAMILY",
    "DEFAULT_TIBIAL_FAMILY",
    "DEFAULT_INSERT_FAMILY",
    "CONDYLE_ALLOWANCE_MM",
    "TIBIAL_RESECTION_MM",
    "femoral_ml_width_mm",
    "tibial_ml_width_mm",
    "choose_femoral_size",
    "choose_tibial_size",
    "choose_insert_thickness",
    "femoral_component_axis",
    "tibial_component_axis",
    "template_knee",
    "knee_outline_px",
    "resection_line_px",
    "knee_templating_summary",
    "lateral_ap_dimension_mm",
    "DEFAULT_KNEE_VIEW_VALGUS_DEG",
    "edit_knee_placement",
    "knee_note_prefixes",
    "NotSeenError",
    "NOT_TEMPLATED",
]

log = logging.getLogger(__name__)

#: The placement kinds this module places.
KNEE_IMPLANT_KINDS = (ImplantKind.FEMORAL_COMPONENT, ImplantKind.TIBIAL_TRAY, ImplantKind.TIBIAL_INSERT)
DEFAULT_FEMORAL_FAMILY = "Generic TKA femoral component"
DEFAULT_TIBIAL_FAMILY = "Generic TKA tibial tray"
DEFAULT_INSERT_FAMILY = "Generic TKA tibial insert"

#: The distal-most point of each femoral condyle (the ``femoral_condyle_*`` landmarks) lies
#: near the middle of its condyle, so the distal femur's medial-lateral width is the distance
#: between the two points plus half a condyle's width beyond each: 2 × 16 mm (a condyle is
#: about 30-33 mm wide in the ML direction). Approximate; see docs/templating.md.
CONDYLE_ALLOWANCE_MM = 16.0
#: Tibial resection depth below the more proximal plateau margin (the less worn compartment),
#: measured along the tibial mechanical axis: the usual 8-10 mm measured resection.
TIBIAL_RESECTION_MM = 9.0

_NOTE_PREFIX = {ImplantKind.FEMORAL_COMPONENT: "femoral component", ImplantKind.TIBIAL_TRAY: "tibial tray",
                ImplantKind.TIBIAL_INSERT: "tibial insert"}


# --------------------------------------------------------------------------- catalog access


def _catalog(catalog: Catalog | None) -> Catalog:
    return catalog or default_catalog()


def _placement_family(catalog: Catalog, p: Placement) -> ImplantFamily:
    return find_family(catalog, p.family, p.kind.value, p.vendor)


# --------------------------------------------------------------------------- sizing rules


def femoral_ml_width_mm(condyle_medial_mm, condyle_lateral_mm, allowance_mm: float = CONDYLE_ALLOWANCE_MM) -> float:
    """Medial-lateral width of the distal femur estimated from the condylar tangent points.

    The distance between the two points (mm), plus ``allowance_mm`` on each side (half a
    condyle beyond its distal-most point).

    >>> femoral_ml_width_mm((0, 0), (48, 0))
    80.0
    """
    d = float(np.linalg.norm(np.asarray(condyle_lateral_mm, float) - np.asarray(condyle_medial_mm, float)))
    return d + 2.0 * float(allowance_mm)


def tibial_ml_width_mm(plateau_medial_mm, plateau_lateral_mm) -> float:
    """Medial-lateral width of the tibial plateau: the distance between its margins (mm).

    >>> tibial_ml_width_mm((0, 0), (72, 0))
    72.0
    """
    return float(np.linalg.norm(np.asarray(plateau_lateral_mm, float) - np.asarray(plateau_medial_mm, float)))


def _largest_not_wider(sizes, width_mm: float, what: str) -> tuple[Any, list[str]]:
    fits = [s for s in sizes if s.ml_width_mm <= width_mm + 1e-9]
    if fits:
        return max(fits, key=lambda s: s.ml_width_mm), []
    smallest = min(sizes, key=lambda s: s.ml_width_mm)
    return smallest, [f"{what}: even the smallest size ({smallest.label}, {smallest.ml_width_mm:g} mm) is wider "
                      f"than the measured {width_mm:.1f} mm; the smallest is placed"]


def choose_femoral_size(family: ImplantFamily, ml_width_mm: float | None = None, ap_dimension_mm: float | None = None) -> tuple[FemoralComponentSize, list[str]]:
    """The femoral component size, and notes.

    With the AP dimension (lateral view): the size whose ``ap_dimension_mm`` is nearest
    (a tie goes to the smaller: less flexion-gap stuffing), with a note when it overhangs the
    ML width. From the AP view alone: the **largest size no wider than the ML width** (no
    medial-lateral overhang), the smallest with a note if none fits.

    >>> from orthoplan.catalog import load_catalog
    >>> fam = load_catalog(include_env=False, include_entry_points=False).find("Generic TKA femoral component")
    >>> choose_femoral_size(fam, 70.0)[0].label
    '4'
    """
    if family.kind != "femoral_component":
        raise CatalogError(f"{family.vendor} / {family.family} is a {family.kind}, not a femoral_component")
    sizes = list(family.sizes)
    if ap_dimension_mm is not None:
        best = min(sizes, key=lambda s: (abs(s.ap_dimension_mm - ap_dimension_mm), s.ap_dimension_mm))
        notes = []
        if ml_width_mm is not None and best.ml_width_mm > ml_width_mm + 1e-9:
            notes.append(f"femoral component: size {best.label} sized to the AP dimension overhangs the ML width "
                         f"({best.ml_width_mm:g} mm on {ml_width_mm:.1f} mm): consider a narrow variant")
        return best, notes
    if ml_width_mm is None:
        raise TemplatingError("the femoral component needs the ML width (AP view) or the AP dimension (lateral view)")
    return _largest_not_wider(sizes, ml_width_mm, "femoral component")


def choose_tibial_size(family: ImplantFamily, ml_width_mm: float) -> tuple[TibialTraySize, list[str]]:
    """The largest tray no wider than the plateau (no medial-lateral overhang), and notes.

    >>> from orthoplan.catalog import load_catalog
    >>> fam = load_catalog(include_env=False, include_entry_points=False).find("Generic TKA tibial tray")
    >>> choose_tibial_size(fam, 74.0)[0].label
    '4'
    """
    if family.kind != "tibial_tray":
        raise CatalogError(f"{family.vendor} / {family.family} is a {family.kind}, not a tibial_tray")
    return _largest_not_wider(list(family.sizes), ml_width_mm, "tibial tray")


def choose_insert_thickness(family: ImplantFamily, tray_label: str, resection_mm: float) -> tuple[TibialInsertSize, float, list[str]]:
    """The insert entry for ``tray_label`` and the thinnest thickness that fills the resection.

    The labelled thickness is the tray + insert construct; it should replace the bone cut
    (``resection_mm``): the thinnest option ≥ the resection, else the thickest. The gap is
    balanced in theatre; this is the starting point.
    """
    if family.kind != "tibial_insert":
        raise CatalogError(f"{family.vendor} / {family.family} is a {family.kind}, not a tibial_insert")
    notes = []
    try:
        entry = family.size(tray_label)
    except CatalogError:
        entry = family.sizes[0]
        notes.append(f"tibial insert: {family.family} has no size {tray_label!r}; using size {entry.label}")
    fits = [t for t in entry.thicknesses_mm if t >= resection_mm - 1e-9]
    thickness = min(fits) if fits else max(entry.thicknesses_mm)
    return entry, float(thickness), notes


# --------------------------------------------------------------------------- axes


class NotSeenError(TemplatingError):
    """What one component needs is not on the film (a landmark, the lateral view's AP
    dimension): :func:`template_knee` leaves that component out, with this reason, and places
    the others; never a guessed size."""


def _mm(plan: Plan, anatomy: str, side: Side, what: str) -> np.ndarray:
    lm = plan.landmarks.get(LandmarkName.of(anatomy, side))
    if lm is None:
        name = LandmarkName.of(anatomy, side).value
        raise NotSeenError(f"{what} needs landmark {name} ({plan.landmarks.missing_reason(name)}): place it")
    return to_mm(np.array(lm.xy, dtype=float), plan.calibration)


def _has(plan: Plan, anatomy: str, side: Side) -> bool:
    return plan.landmarks.get(LandmarkName.of(anatomy, side)) is not None


def _lateral(orientation: ImageOrientation, side: Side) -> np.ndarray:
    return np.array(orientation.lateral_vector(side), dtype=float)


def _inferior(orientation: ImageOrientation) -> np.ndarray:
    return np.array(orientation.inferior_vector(), dtype=float)


def femoral_component_axis(plan: Plan, side: Side | str, valgus_deg: float | None = None) -> tuple[np.ndarray, float | None, list[str]]:
    """``(axis, valgus_deg, notes)``: the femoral component's axis (mm, unit, pointing distally).

    The distal cut is perpendicular to this axis. ``valgus_deg`` is the angle of the axis
    from the femoral **anatomical** axis (``femoral_shaft_proximal`` → ``_distal``), turned
    laterally (valgus). By default (``None``) the axis is the **mechanical** axis (femoral head
    centre → femoral knee centre), i.e. the valgus angle is the measured anatomical-mechanical
    angle (``ama_{side}_deg``), and the cut is perpendicular to the mechanical axis.
    """
    side = Side(side)
    if _knee_view(plan, side):
        return _knee_view_femoral_axis(plan, side, valgus_deg)
    h = _mm(plan, "femoral_head_center", side, "the femoral mechanical axis")
    k = _mm(plan, "femoral_knee_center", side, "the femoral mechanical axis")
    mech = unit(k - h)
    notes: list[str] = []
    shaft = _has(plan, "femoral_shaft_proximal", side) and _has(plan, "femoral_shaft_distal", side)
    if valgus_deg is None:
        ama = None
        if shaft:
            a = unit(_mm(plan, "femoral_shaft_distal", side, "") - _mm(plan, "femoral_shaft_proximal", side, ""))
            ama = angle_between_deg(a, mech)
        else:
            notes.append("femoral component: anatomical axis not marked (femoral_shaft_proximal/distal): the distal "
                         "cut is perpendicular to the mechanical axis; its valgus angle is not known")
        return mech, ama, notes
    if not shaft:
        raise TemplatingError(
            f"a distal femoral cut at {valgus_deg:g} deg valgus needs the anatomical axis: place "
            f"femoral_shaft_proximal_{side.value} and femoral_shaft_distal_{side.value}"
        )
    a = unit(_mm(plan, "femoral_shaft_distal", side, "") - _mm(plan, "femoral_shaft_proximal", side, ""))
    lat = _lateral(plan.orientation, side)
    towards_lateral = 1.0 if float(a[0] * lat[1] - a[1] * lat[0]) > 0 else -1.0
    return unit(rotate(a, towards_lateral * float(valgus_deg))), float(valgus_deg), notes


def tibial_component_axis(plan: Plan, side: Side | str) -> np.ndarray:
    """The tibial tray's axis (mm, unit, distal): the tibial mechanical axis (tibial knee
    centre → ankle centre); the tibial cut is perpendicular to it (0° posterior slope is not
    seen on an AP view)."""
    side = Side(side)
    if _knee_view(plan, side):  # AP knee: the proximal tibial anatomical axis (parallel to the mechanical one)
        tp = _mm(plan, "knee_tibial_axis_proximal", side, "the tibial anatomical axis")
        td = _mm(plan, "knee_tibial_axis_distal", side, "the tibial anatomical axis")
        return unit(td - tp)
    kt = _mm(plan, "tibial_knee_center", side, "the tibial mechanical axis")
    a = _mm(plan, "ankle_center", side, "the tibial mechanical axis")
    return unit(a - kt)


#: Distal femoral cut valgus to the anatomical axis on an AP knee view, where the
#: anatomical-mechanical angle cannot be measured (no femoral head): the usual 6 deg
#: (Paley's AMA is 7 +/- 2 deg; 5-7 deg is the common surgical choice).
DEFAULT_KNEE_VIEW_VALGUS_DEG = 6.0


def _knee_view(plan: Plan, side: Side) -> bool:
    """True for an AP knee plan (or any plan with the knee-view femoral axis but no femoral head)."""
    if plan.view == "knee-ap":
        return True
    return not _has(plan, "femoral_head_center", side) and _has(plan, "knee_femoral_axis_proximal", side)


def _knee_view_femoral_axis(plan: Plan, side: Side, valgus_deg: float | None) -> tuple[np.ndarray, float, list[str]]:
    """The femoral component axis on an AP knee view: the distal femoral anatomical axis
    turned ``valgus_deg`` (default :data:`DEFAULT_KNEE_VIEW_VALGUS_DEG`) laterally."""
    notes: list[str] = []
    fp = _mm(plan, "knee_femoral_axis_proximal", side, "the distal femoral cut on a knee view")
    fd = _mm(plan, "knee_femoral_axis_distal", side, "the distal femoral cut on a knee view")
    a = unit(fd - fp)
    if valgus_deg is None:
        valgus_deg = DEFAULT_KNEE_VIEW_VALGUS_DEG
        notes.append(f"femoral component: the mechanical axis is not on a knee film: the distal cut is at "
                     f"{valgus_deg:g} deg valgus to the anatomical axis (assumed; check on a long-leg view "
                     "or give --valgus)")
    cm = _mm(plan, "femoral_condyle_medial", side, "the femoral component")
    cl = _mm(plan, "femoral_condyle_lateral", side, "the femoral component")
    lat = cl - cm  # the knee's lateral direction, from the landmark names
    towards_lateral = 1.0 if float(a[0] * lat[1] - a[1] * lat[0]) > 0 else -1.0
    return unit(rotate(a, towards_lateral * float(valgus_deg))), float(valgus_deg), notes


def _femoral_width_mm(plan: Plan, side: Side, cm: np.ndarray, cl: np.ndarray) -> tuple[float, str]:
    """The femoral ML width: measured between the epicondyles (AP knee view) when marked,
    else estimated from the condylar tangent points (:func:`femoral_ml_width_mm`)."""
    if _has(plan, "femoral_epicondyle_medial", side) and _has(plan, "femoral_epicondyle_lateral", side):
        em = _mm(plan, "femoral_epicondyle_medial", side, "")
        el = _mm(plan, "femoral_epicondyle_lateral", side, "")
        return float(np.linalg.norm(el - em)), "epicondyles"
    return femoral_ml_width_mm(cm, cl), "condyles"


#: An automatic landmark sizes a component from a lateral view only at this confidence or above
#: (within about 5 mm in ≥ 95 % of held-out real films, docs/accuracy.md): on real films the
#: femoral AP dimension from detected points is 2.7 mm (median; p95 9.5 mm) from the reading,
#: a size step is 3-4 mm, and an unsure point must be confirmed by a person.
SIZING_MIN_CONFIDENCE = 0.8


def lateral_ap_dimension_mm(lateral: Plan, side: Side | str) -> float:
    """The femoral AP dimension (``femoral_ap_dimension_{side}_mm``) of a lateral knee plan.

    Raises :class:`~orthoplan.errors.TemplatingError` when the plan is not a lateral knee view
    of ``side``, :class:`NotSeenError` when the dimension could not be measured on it (with the
    reason) or rests on an automatic landmark below :data:`SIZING_MIN_CONFIDENCE` (a person
    placing, moving or confirming it makes it ``manual`` or ``refined``).
    """
    side = Side(side)
    name = f"femoral_ap_dimension_{side.value}_mm"
    if lateral.view != "knee-lateral":
        raise TemplatingError(f"the lateral plan is a {lateral.view!r} view, not a knee-lateral view")
    m = lateral.measurements.get(name)
    if m is None:
        reason = dict(lateral.measurements.missing).get(name)
        if reason is None or not any(lm.name.side is side for lm in lateral.landmarks):
            raise TemplatingError(f"the femoral AP dimension of the {side.value} knee is not on the lateral plan: "
                                  f"the lateral view is not of the {side.value} knee")
        raise NotSeenError(f"the femoral AP dimension of the {side.value} knee is not on the lateral plan: {reason}")
    unsure = [f"{lm.name.value} at confidence {lm.confidence:.2f}" for n in m.landmarks
              if (lm := lateral.landmarks.get(n)) is not None and lm.source is LandmarkSource.AUTO
              and lm.confidence < SIZING_MIN_CONFIDENCE]
    if unsure:
        raise NotSeenError(f"the femoral AP dimension of the {side.value} knee rests on automatic landmarks below "
                           f"confidence {SIZING_MIN_CONFIDENCE:g} ({', '.join(unsure)}): place or confirm them")
    return float(m.value)


def _perp_towards(d: np.ndarray, towards: np.ndarray) -> np.ndarray:
    n = np.array([-d[1], d[0]])
    return n if float(n @ towards) >= 0 else -n


# --------------------------------------------------------------------------- placing


def _angle_of(axis: np.ndarray, orientation: ImageOrientation) -> float:
    """Tilt of a distal-pointing axis from the image's inferior direction, clockwise on screen +."""
    return signed_angle_deg(_inferior(orientation), axis)


def _axis_of(p: Placement, orientation: ImageOrientation) -> np.ndarray:
    return unit(rotate(_inferior(orientation), p.angle_deg))


def template_knee(
    plan: Plan,
    catalog: Catalog | None,
    side: Side | str,
    *,
    femoral_family: str = DEFAULT_FEMORAL_FAMILY,
    tibial_family: str = DEFAULT_TIBIAL_FAMILY,
    insert_family: str | None = DEFAULT_INSERT_FAMILY,
    femoral_size: str | None = None,
    tibial_size: str | None = None,
    insert_thickness_mm: float | None = None,
    valgus_deg: float | None = None,
    femoral_ap_mm: float | None = None,
    tibial_resection_mm: float = TIBIAL_RESECTION_MM,
    lateral: Plan | None = None,
) -> Plan:
    """Size and place a total knee on ``side``: femoral component, tibial tray, insert.

    **Femoral component.** Axis from :func:`femoral_component_axis` (default: the mechanical
    axis; ``valgus_deg`` to the anatomical axis otherwise). The distal cut is perpendicular
    to it, ``distal_thickness_mm`` of the chosen size proximal to the more distal condyle
    (measured resection: the component replaces the bone it removes), centred between the
    condylar tangent points. Size: :func:`choose_femoral_size` on the ML width
    (:func:`femoral_ml_width_mm`; on an AP knee view the epicondylar width when marked) and,
    when given, the AP dimension from a lateral view (``femoral_ap_mm``, or the
    ``femoral_ap_dimension_{side}_mm`` of the lateral knee plan ``lateral``, whose own scale
    interval then bounds the AP dimension's). On an AP knee view (no hip, no ankle) the axes
    are the anatomical ones near the knee: the distal cut at ``valgus_deg`` (default 6) to the
    femoral anatomical axis, the tibial cut perpendicular to the proximal tibial anatomical
    axis; the femoral size there **needs the AP dimension** (a lateral view): without it the
    femoral component is not sized (the ML width alone is said as the largest size it allows).

    **Tibial tray.** The cut is perpendicular to the tibial mechanical axis,
    ``tibial_resection_mm`` (default 9) distal to the more proximal plateau margin, centred
    between the margins. Size: :func:`choose_tibial_size` on the plateau width.
    **Insert** (unless ``insert_family`` is ``None``): :func:`choose_insert_thickness`.

    Every automatic size carries ``Placement.size_range``: the sizes chosen at the ends of the
    scale's interval (the AP view's for the widths, the lateral view's for the AP dimension).

    A component whose landmarks (or AP dimension) the film does not give is **left out**, with
    the reason as a plan note ``"<component> <side>: not templated: <reason>"``
    (:class:`NotSeenError`); the others are placed. Returns the plan with the placements
    (replacing earlier knee placements of the side) and notes. Raises
    :class:`~orthoplan.errors.TemplatingError` when no component can be placed, or for a
    request that cannot be met (an explicit valgus without the anatomical axis, a lateral plan
    of the other knee), and :class:`~orthoplan.errors.CatalogError` for an unknown family or size.
    """
    side = Side(side)
    catalog = _catalog(catalog)
    cal = plan.calibration
    fem_fam = find_family(catalog, femoral_family, "femoral_component")
    tib_fam = find_family(catalog, tibial_family, "tibial_tray")
    ins_fam = find_family(catalog, insert_family, "tibial_insert") if insert_family else None
    notes: list[str] = []
    left_out: dict[ImplantKind, str] = {}
    new: list[Placement] = []
    u = cal.uncertainty_pct / 100.0

    # femur
    u_ap = u
    ap_missing = None
    if lateral is not None and femoral_ap_mm is None:
        try:
            femoral_ap_mm = lateral_ap_dimension_mm(lateral, side)
            u_ap = lateral.calibration.uncertainty_pct / 100.0
            if lateral.calibration.assumed:
                notes.append(f"femoral component {side.value}: the lateral view's scale is assumed "
                             f"({lateral.calibration.source.value}): the AP dimension and the size rest on it")
        except NotSeenError as e:
            ap_missing = str(e)
    try:
        if ap_missing is not None and femoral_size is None:
            raise NotSeenError(ap_missing)
        fem, fem_range, f_center, f_axis, f_notes = _femoral(plan, side, fem_fam, femoral_size, valgus_deg,
                                                            femoral_ap_mm, u, u_ap)
        notes += f_notes
        fx, fy = to_px(f_center, cal)
        new.append(Placement(ImplantKind.FEMORAL_COMPONENT, side, fem_fam.vendor, fem_fam.family, fem.label, fx, fy,
                             _angle_of(f_axis, plan.orientation), size_range=fem_range))
    except NotSeenError as e:
        left_out[ImplantKind.FEMORAL_COMPONENT] = str(e)

    # tibia
    try:
        tray, tray_range, t_center, t_axis, t_notes = _tibial(plan, side, tib_fam, tibial_size, tibial_resection_mm, u)
        notes += t_notes
        tx, ty = to_px(t_center, cal)
        new.append(Placement(ImplantKind.TIBIAL_TRAY, side, tib_fam.vendor, tib_fam.family, tray.label, tx, ty,
                             _angle_of(t_axis, plan.orientation), size_range=tray_range))
        if ins_fam is not None:
            entry, thickness, more = choose_insert_thickness(ins_fam, tray.label, float(tibial_resection_mm))
            notes += more
            if insert_thickness_mm is not None:
                if not any(abs(v - insert_thickness_mm) < 1e-6 for v in entry.thicknesses_mm):
                    raise CatalogError(
                        f"insert thickness {insert_thickness_mm:g} mm is not offered for {ins_fam.family} size "
                        f"{entry.label}; options: {', '.join(f'{v:g}' for v in entry.thicknesses_mm)} mm"
                    )
                thickness = float(insert_thickness_mm)
            new.append(Placement(ImplantKind.TIBIAL_INSERT, side, ins_fam.vendor, ins_fam.family, entry.label, tx, ty,
                                 _angle_of(t_axis, plan.orientation), thickness_mm=thickness))
    except NotSeenError as e:
        left_out[ImplantKind.TIBIAL_TRAY] = str(e)
        if ins_fam is not None:
            left_out[ImplantKind.TIBIAL_INSERT] = "no tibial tray to sit on"

    if ImplantKind.FEMORAL_COMPONENT in left_out and ImplantKind.TIBIAL_TRAY in left_out:
        raise TemplatingError(f"nothing can be templated on the {side.value} knee: femoral component: "
                              f"{left_out[ImplantKind.FEMORAL_COMPONENT]}; tibial tray: "
                              f"{left_out[ImplantKind.TIBIAL_TRAY]}")
    notes += [f"{_NOTE_PREFIX[k]} {side.value}: {NOT_TEMPLATED}: {why}" for k, why in left_out.items()]
    if cal.assumed:
        notes.append(ASSUMED_SCALE_NOTE)

    keys = {p.key for p in new} | {(k, side) for k in KNEE_IMPLANT_KINDS}
    kept = tuple(p for p in plan.placements if p.key not in keys)
    old_prefixes = tuple(f"{_NOTE_PREFIX[k]} {side.value}" for k in KNEE_IMPLANT_KINDS) + tuple(
        f"{_NOTE_PREFIX[k]}:" for k in KNEE_IMPLANT_KINDS)
    kept_notes = tuple(n for n in plan.notes if not n.startswith(old_prefixes))
    log.debug("knee %s: %s placed, %d left out", side.value, [p.kind.value for p in new], len(left_out))
    return replace(plan, placements=kept + tuple(new), notes=tuple(dict.fromkeys(kept_notes + tuple(notes))))


#: The word of a plan note that says a component was left out (``"<component> <side>: not templated: …"``).
NOT_TEMPLATED = "not templated"


def _femoral(plan: Plan, side: Side, fam: ImplantFamily, size_label: str | None, valgus_deg: float | None,
             ap_mm: float | None, u: float, u_ap: float):
    """(size, size range or None, cut centre mm, axis, notes) of the femoral component; raises
    :class:`NotSeenError` when the film does not give what it needs."""
    cm = _mm(plan, "femoral_condyle_medial", side, "femoral sizing")
    cl = _mm(plan, "femoral_condyle_lateral", side, "femoral sizing")
    f_axis, _valgus, notes = femoral_component_axis(plan, side, valgus_deg)
    f_width, width_from = _femoral_width_mm(plan, side, cm, cl)
    fem_range = None
    if size_label is not None:
        fem = fam.size(size_label)
    else:
        if ap_mm is None and _knee_view(plan, side):
            widest = _largest_not_wider(list(fam.sizes), f_width, "femoral component")[0]
            raise NotSeenError(
                f"the femoral size needs the femoral AP dimension of a lateral view of the same knee "
                f"(--lateral LATERAL, or --femoral-ap MM); the ML width {f_width:.1f} mm ({width_from}) alone "
                f"allows up to size {widest.label}")
        fem, more = choose_femoral_size(fam, f_width, ap_mm)
        notes += more
        corners = [choose_femoral_size(fam, f_width * a, None if ap_mm is None else ap_mm * b)[0]
                   for a in (1 - u, 1 + u) for b in (1 - u_ap, 1 + u_ap)]
        fem_range = _range(fam, fem, corners)
        notes += size_notes(_NOTE_PREFIX[ImplantKind.FEMORAL_COMPONENT], side, fam, fem, fem_range,
                            range(len(fam.sizes)), fam.sizes.index(fem))
        if ap_mm is None:
            notes.append(f"femoral component {side.value}: sized to the ML width only (AP view); "
                         "check the AP size on a lateral view")
        else:
            notes.append(f"femoral component {side.value}: sized to the AP dimension {ap_mm:.1f} mm "
                         f"(lateral view) with the ML width {f_width:.1f} mm ({width_from})")
    deepest = max(float(cm @ f_axis), float(cl @ f_axis))
    mid = 0.5 * (cm + cl)
    return fem, fem_range, mid + ((deepest - fem.distal_thickness_mm) - float(mid @ f_axis)) * f_axis, f_axis, notes


def _tibial(plan: Plan, side: Side, fam: ImplantFamily, size_label: str | None, resection_mm: float, u: float):
    """(size, size range or None, cut centre mm, axis, notes) of the tibial tray; raises
    :class:`NotSeenError` when the film does not give what it needs."""
    notes: list[str] = []
    pm = _mm(plan, "tibial_plateau_medial", side, "tibial sizing")
    pl = _mm(plan, "tibial_plateau_lateral", side, "tibial sizing")
    t_axis = tibial_component_axis(plan, side)
    t_width = tibial_ml_width_mm(pm, pl)
    tray_range = None
    if size_label is not None:
        tray = fam.size(size_label)
    else:
        tray, more = choose_tibial_size(fam, t_width)
        notes += more
        tray_range = _range(fam, tray, [choose_tibial_size(fam, t_width * f)[0] for f in (1 - u, 1 + u)])
        notes += size_notes(_NOTE_PREFIX[ImplantKind.TIBIAL_TRAY], side, fam, tray, tray_range,
                            range(len(fam.sizes)), fam.sizes.index(tray))
    highest = min(float(pm @ t_axis), float(pl @ t_axis))
    tmid = 0.5 * (pm + pl)
    return tray, tray_range, tmid + ((highest + float(resection_mm)) - float(tmid @ t_axis)) * t_axis, t_axis, notes


def _range(fam: ImplantFamily, chosen: Any, others: list[Any]) -> tuple[str, str]:
    """(smallest, largest) label among ``chosen`` and the sizes chosen at the scale's bounds."""
    ranked = sorted([chosen, *others], key=fam.sizes.index)
    return ranked[0].label, ranked[-1].label


# --------------------------------------------------------------------------- drawing


def _pose(plan: Plan, p: Placement) -> tuple[float, bool]:
    d = _axis_of(p, plan.orientation)
    n = _perp_towards(d, -_lateral(plan.orientation, p.side))
    return frame_pose(n, d)


def _outline_mm(catalog: Catalog, p: Placement) -> np.ndarray:
    fam = _placement_family(catalog, p)
    size = fam.size(p.size)
    if p.kind is ImplantKind.FEMORAL_COMPONENT:
        return femoral_component_outline_mm(size)
    if p.kind is ImplantKind.TIBIAL_TRAY:
        return tibial_tray_outline_mm(size)
    if p.kind is ImplantKind.TIBIAL_INSERT:
        return tibial_insert_outline_mm(size, float(p.thickness_mm))
    raise TemplatingError(f"{p.kind.value} is not a knee component")


def knee_outline_px(plan: Plan, placement: Placement, catalog: Catalog | None = None) -> np.ndarray:
    """The knee placement's outline in image pixels at the plan's scale (closed polygon ``(N, 2)``).

    The catalog outline (knee frame: origin at the centre of the resection line, ``+y``
    along the component axis) is rotated to the placement's angle, mirrored for the other
    side and scaled by the calibration (:func:`orthoplan.catalog.to_image`): a 70 mm wide
    component at 0.2 mm/px is 350 px wide.
    """
    catalog = _catalog(catalog)
    rot, mirror = _pose(plan, placement)
    return to_image(_outline_mm(catalog, placement), center_xy=placement.xy, rotation_deg=rot, mirror=mirror,
                    calibration=plan.calibration)


def resection_line_px(plan: Plan, placement: Placement, catalog: Catalog | None = None, overshoot: float = 0.15) -> np.ndarray:
    """The resection line of a femoral component or tibial tray placement, in image pixels:
    ``(2, 2)``, through the placement's point, perpendicular to its axis, as wide as the
    component plus ``overshoot`` of its width on each side."""
    catalog = _catalog(catalog)
    size = _placement_family(catalog, placement).size(placement.size)
    width = float(getattr(size, "ml_width_mm", None) or 70.0)
    d = _axis_of(placement, plan.orientation)
    n = np.array([-d[1], d[0]])
    c = to_mm(np.array(placement.xy, dtype=float), plan.calibration)
    half = width * (0.5 + overshoot)
    return to_px(np.array([c - half * n, c + half * n]), plan.calibration)


# --------------------------------------------------------------------------- summary


def knee_templating_summary(plan: Plan, side: Side | str, catalog: Catalog | None = None) -> dict[str, Any]:
    """What was templated on ``side``'s knee, as plain JSON-able values.

    ``{"side", "femoral_component": {vendor, family, size, ml_width_mm, ap_dimension_mm,
    distal_resection_mm, center_px, angle_deg, valgus_to_anatomical_deg, cut_to_mechanical_axis_deg},
    "tibial_tray": {…, ml_width_mm, ap_depth_mm, resection_below_plateau_mm, cut_to_mechanical_axis_deg},
    "tibial_insert": {…, thickness_mm}, "measured": {femoral_ml_width_mm, tibial_ml_width_mm},
    "not_templated": {kind: reason} (only when a component was left out), "notes": […]}``.
    An automatic size has ``size_range`` ``[smallest, largest]``: the sizes the scale's interval
    allows. ``cut_to_mechanical_axis_deg`` is 90 for a cut perpendicular to the axis.
    """
    side = Side(side)
    catalog = _catalog(catalog)
    cal = plan.calibration
    out: dict[str, Any] = {"side": side.value}
    measured: dict[str, float] = {}

    def base(p: Placement) -> dict[str, Any]:
        out = {"vendor": p.vendor, "family": p.family, "size": p.size, "center_px": [p.x, p.y],
               "angle_deg": p.angle_deg, "auto": p.auto}
        if p.size_range is not None:
            out["size_range"] = list(p.size_range)
        return out

    fem = plan.placement(ImplantKind.FEMORAL_COMPONENT, side)
    if fem is not None:
        size = _placement_family(catalog, fem).size(fem.size)
        axis = _axis_of(fem, plan.orientation)
        entry = base(fem) | {"ml_width_mm": size.ml_width_mm, "ap_dimension_mm": size.ap_dimension_mm,
                             "distal_resection_mm": size.distal_thickness_mm}
        try:
            h = _mm(plan, "femoral_head_center", side, "")
            k = _mm(plan, "femoral_knee_center", side, "")
            entry["cut_to_mechanical_axis_deg"] = angle_between_deg(np.array([-axis[1], axis[0]]), k - h)
            sp = _mm(plan, "femoral_shaft_proximal", side, "")
            sd = _mm(plan, "femoral_shaft_distal", side, "")
            entry["valgus_to_anatomical_deg"] = angle_between_deg(axis, sd - sp)
        except TemplatingError:
            pass
        if _knee_view(plan, side):  # AP knee: the cut against the anatomical axis near the knee
            try:
                fp = _mm(plan, "knee_femoral_axis_proximal", side, "")
                fd = _mm(plan, "knee_femoral_axis_distal", side, "")
                entry["valgus_to_anatomical_deg"] = angle_between_deg(axis, fd - fp)
            except TemplatingError:
                pass
        out["femoral_component"] = entry
    tray = plan.placement(ImplantKind.TIBIAL_TRAY, side)
    if tray is not None:
        size = _placement_family(catalog, tray).size(tray.size)
        axis = _axis_of(tray, plan.orientation)
        entry = base(tray) | {"ml_width_mm": size.ml_width_mm, "ap_depth_mm": size.ap_depth_mm}
        try:
            kt = _mm(plan, "tibial_knee_center", side, "")
            a = _mm(plan, "ankle_center", side, "")
            entry["cut_to_mechanical_axis_deg"] = angle_between_deg(np.array([-axis[1], axis[0]]), a - kt)
        except TemplatingError:
            pass
        if _knee_view(plan, side):
            try:
                tp = _mm(plan, "knee_tibial_axis_proximal", side, "")
                td = _mm(plan, "knee_tibial_axis_distal", side, "")
                entry["cut_to_anatomical_axis_deg"] = angle_between_deg(np.array([-axis[1], axis[0]]), td - tp)
            except TemplatingError:
                pass
        try:
            pm = _mm(plan, "tibial_plateau_medial", side, "")
            pl = _mm(plan, "tibial_plateau_lateral", side, "")
            c = to_mm(np.array(tray.xy, dtype=float), cal)
            entry["resection_below_plateau_mm"] = float(c @ axis) - min(float(pm @ axis), float(pl @ axis))
        except TemplatingError:
            pass
        out["tibial_tray"] = entry
    ins = plan.placement(ImplantKind.TIBIAL_INSERT, side)
    if ins is not None:
        out["tibial_insert"] = base(ins) | {"thickness_mm": ins.thickness_mm}
    try:  # the widths that size the components, whether or not they were placed
        cm = _mm(plan, "femoral_condyle_medial", side, "")
        cl = _mm(plan, "femoral_condyle_lateral", side, "")
        measured["femoral_ml_width_mm"] = _femoral_width_mm(plan, side, cm, cl)[0]
    except TemplatingError:
        pass
    try:
        measured["tibial_ml_width_mm"] = tibial_ml_width_mm(_mm(plan, "tibial_plateau_medial", side, ""),
                                                            _mm(plan, "tibial_plateau_lateral", side, ""))
    except TemplatingError:
        pass
    out["measured"] = measured
    left_out = {}
    for kind in KNEE_IMPLANT_KINDS:
        head = f"{_NOTE_PREFIX[kind]} {side.value}: {NOT_TEMPLATED}: "
        for n in plan.notes:
            if n.startswith(head) and plan.placement(kind, side) is None:
                left_out[kind.value] = n[len(head):]
    if left_out:
        out["not_templated"] = left_out
    out["notes"] = list(plan.notes)
    return out


# --------------------------------------------------------------------------- editing


def knee_note_prefixes(kind: ImplantKind | str, side: Side | str) -> tuple[str, ...]:
    """The prefixes of the plan notes :func:`template_knee` wrote about ``kind`` on ``side``
    (dropped once a person chooses the size)."""
    prefix = _NOTE_PREFIX[ImplantKind(kind)]
    return (f"{prefix} {Side(side).value}", f"{prefix}:")


def edit_knee_placement(
    plan: Plan,
    current: Placement,
    catalog: Catalog | None,
    xy: np.ndarray,
    *,
    angle_deg: float | None = None,
    size: str | None = None,
    thickness_mm: float | None = None,
) -> list[Placement]:
    """The placements that change when a person edits the knee placement ``current``.

    Called by :func:`orthoplan.templating.update_placement` (the one editing entry point for
    hip and knee), which works out the new point ``xy`` (pixels) from ``to_xy``/``move_px``:

    * femoral component: moves to ``xy``, turns to ``angle_deg`` about its point; another
      ``size`` keeps the distal joint line (the component's distal surface) where it was, so
      the cut moves by the difference of the sizes' distal thicknesses along the axis;
    * tibial tray: moves, turns, or takes another ``size`` (the cut stays); the insert goes
      with it (same point and angle, the insert entry of the new tray size when the insert
      family has one, and its thickness, or the nearest offered one);
    * tibial insert: moving or turning it moves the tray and insert together (they are one
      construct); ``size`` another insert entry, ``thickness_mm`` another offered thickness.

    Raises :class:`~orthoplan.errors.CatalogError` for a size or thickness the family does
    not offer and :class:`~orthoplan.errors.TemplatingError` for ``thickness_mm`` on a
    component that has none.
    """
    catalog = _catalog(catalog)
    cal = plan.calibration
    if thickness_mm is not None and current.kind is not ImplantKind.TIBIAL_INSERT:
        raise TemplatingError(f"only a tibial insert has a thickness, not a {current.kind.value}")
    angle = current.angle_deg if angle_deg is None else float(angle_deg)
    x, y = (float(v) for v in xy)
    if current.kind is ImplantKind.FEMORAL_COMPONENT:
        fam = _placement_family(catalog, current)
        old, new = fam.size(current.size), fam.size(current.size if size is None else size)
        moved = replace(current, x=x, y=y, angle_deg=angle, size=new.label, auto=False)
        shift = float(old.distal_thickness_mm) - float(new.distal_thickness_mm)
        if shift:
            c = to_mm(np.array(moved.xy, dtype=float), cal) + shift * _axis_of(moved, plan.orientation)
            cx, cy = to_px(c, cal)
            moved = replace(moved, x=cx, y=cy)
        return [moved]
    tray = plan.placement(ImplantKind.TIBIAL_TRAY, current.side)
    insert = plan.placement(ImplantKind.TIBIAL_INSERT, current.side)
    if current.kind is ImplantKind.TIBIAL_TRAY:
        label = current.size if size is None else _placement_family(catalog, current).size(size).label
        tray = replace(current, x=x, y=y, angle_deg=angle, size=label, auto=False)
        if insert is None:
            return [tray]
        ins_fam = _placement_family(catalog, insert)
        try:
            entry = ins_fam.size(tray.size)
        except CatalogError:
            entry = ins_fam.size(insert.size)
        thickness = float(insert.thickness_mm)
        if not any(abs(v - thickness) < 1e-6 for v in entry.thicknesses_mm):
            thickness = float(min(entry.thicknesses_mm, key=lambda v: (abs(v - thickness), -v)))
            log.info("insert thickness %g mm not offered for size %s: %g mm", insert.thickness_mm, entry.label, thickness)
        return [tray, replace(insert, x=tray.x, y=tray.y, angle_deg=tray.angle_deg, size=entry.label,
                              thickness_mm=thickness)]
    # the insert
    fam = _placement_family(catalog, current)
    entry = fam.size(current.size if size is None else size)
    thickness = float(current.thickness_mm if thickness_mm is None else thickness_mm)
    if not any(abs(v - thickness) < 1e-6 for v in entry.thicknesses_mm):
        raise CatalogError(
            f"insert thickness {thickness:g} mm is not offered for {fam.family} size {entry.label}; "
            f"options: {', '.join(f'{v:g}' for v in entry.thicknesses_mm)} mm"
        )
    out = [replace(current, x=x, y=y, angle_deg=angle, size=entry.label, thickness_mm=thickness, auto=False)]
    if tray is not None and (x, y, angle) != (current.x, current.y, current.angle_deg):
        dx, dy = x - current.x, y - current.y
        out.append(replace(tray, x=tray.x + dx, y=tray.y + dy, angle_deg=angle))
    return out
