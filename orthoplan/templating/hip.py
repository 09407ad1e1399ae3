"""Hip templating: place and size a cup, a stem and a head, and predict the reconstruction.

Pure functions over :mod:`orthoplan.model` values (and, for the canal, the image array):

* :func:`template_hip` places all three components on one side automatically and returns
  the plan with its :class:`~orthoplan.model.Placement` values and predicted values;
* :func:`edit_hip_placement` is the hip part of :func:`orthoplan.templating.update_placement`
  (move, rotate or resize one component, or change the neck length);
* :func:`predict` is the prediction alone: the femur of a templated side moves with the
  stem so that the stem's head centre lands on the cup's centre of rotation; the moved
  landmarks are measured by the ``measure`` function templating is given
  (:func:`orthoplan.measurements.measure_hip`, passed in by :mod:`orthoplan.pipeline`), the
  same code as the pre-operative values;
* :func:`canal_widths_mm` / :func:`endosteal_edges_px` find the endosteal cortices along the
  femoral shaft; :func:`choose_cup_size`, :func:`choose_stem_size` and
  :func:`choose_neck_length` are the sizing rules (``docs/templating.md``);
* :func:`hip_outline_px` draws a placement at the image's magnification
  (:func:`orthoplan.catalog.to_image`), for the overlay, the picture and the GSPS.

Positions are image pixels (DICOM origin), lengths mm at the anatomy, sides the patient's.

Examples
--------
>>> from orthoplan.phantoms import pelvis as phantom
>>> from orthoplan.pipeline import load_radiograph, plan_radiograph
>>> from orthoplan.catalog import load_catalog
>>> from orthoplan.measurements import measure_hip
>>> case = phantom.make_pelvis(seed=2, rows=900, columns=1100, detector_spacing_mm=0.4, medullary_canal="marrow")
>>> rad = load_radiograph(case.dataset)
>>> plan = plan_radiograph(rad, landmarks=case.landmarks)
>>> cat = load_catalog(include_env=False, include_entry_points=False)
>>> planned = template_hip(plan, rad, cat, "left", measure=measure_hip)
>>> sorted(p.kind.value for p in planned.placements)
['cup', 'head', 'stem']
>>> "lld_teardrop_mm" in planned.predictions
True
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..catalog import Catalog, ImplantFamily
from ..catalog.outlines import cup_outline_mm, head_outline_mm, stem_outline_mm, to_image
from ..catalog.schema import CupSize, HeadSize, StemSize
from ..errors import CatalogError, MeasurementError, TemplatingError
from ..frames import angle_from_axis_deg, pelvic_reference
from ..geometry import frame_pose, project_onto_line, rc_array_from_xy, reflect_across_line, rotate, signed_angle_deg, to_mm, unit
from ..model import (
    Calibration,
    ImageOrientation,
    ImplantKind,
    Landmark,
    LandmarkName,
    Landmarks,
    LandmarkSource,
    Measurement,
    Measurements,
    Placement,
    Plan,
    Side,
)
from .common import ASSUMED_SCALE_NOTE, MeasureHip, default_catalog, find_family, px_per_mm, replace_placements, size_notes

__all__ = [
    "DEFAULT_INCLINATION_DEG",
    "JOINT_SPACE_MM",
    "CEMENT_MANTLE_MM",
    "USUAL_RESECTION_ABOVE_LT_MM",
    "CANAL_DEPTHS_BELOW_LT_MM",
    "PREDICTED_NAMES",
    "CanalProfile",
    "template_hip",
    "edit_hip_placement",
    "hip_outline_px",
    "predict",
    "prediction_changes",
    "choose_cup_size",
    "choose_stem_size",
    "choose_head_size",
    "choose_neck_length",
    "cup_coverage_pct",
    "endosteal_edges_px",
    "canal_widths_mm",
    "rescale_placements",
    "cup_target_diameter_mm",
    "mirrored_center_px",
    "reconstructed_landmarks",
    "resection_for_length_mm",
    "shaft_axis_angle_deg",
    "templating_summary",
    "stem_tip_px",
    "stem_outside_femur",
    "STEM_TIP_MAX_OFF_AXIS_MM",
    "STEM_BEYOND_FILM_MAX_FRACTION",
]

log = logging.getLogger(__name__)

#: Default cup inclination (Lewinnek's safe zone is 40° ± 10°).
DEFAULT_INCLINATION_DEG = 40.0
#: Radiographic joint space per side added to the bony head diameter to size the cup: the
#: acetabulum is reamed to its subchondral bone, one joint space (two cartilage layers,
#: about 4 mm on an AP pelvis) beyond the femoral head's subchondral outline.
JOINT_SPACE_MM = 4.0
#: Cement mantle per side for cemented stems (2 mm, the mantle recommended for stability).
CEMENT_MANTLE_MM = 2.0
#: Cut levels outside this range (mm above the lesser trochanter) get a note.
USUAL_RESECTION_ABOVE_LT_MM = (5.0, 35.0)
#: Heads tried in this order: the largest the cup takes.
PREFERRED_HEAD_DIAMETERS_MM = (36.0, 32.0, 28.0)
#: Canal widths within this of a stem width count as a fit.
CANAL_FIT_TOLERANCE_MM = 0.0
#: Depths below the lesser trochanter at which the canal is measured for stem sizing.
CANAL_DEPTHS_BELOW_LT_MM = tuple(float(v) for v in range(20, 101, 10))

#: Weight of the brightest point against the steepest rise when locating an endosteal edge.
#: Blur moves the brightest point of a cortical tube's projection outwards (≈1.3-1.7 px on
#: the synthetic phantom, Gaussian PSF σ≈0.8 px) and the steepest rise inwards (≈0.8 px):
#: 0.35 · peak + 0.65 · steepest is within ±0.1 px of the true edge there from 0.17 to
#: 0.43 mm/px. Real radiographs have other PSFs: check against a known canal before relying
#: on it below one stem size (about 1 mm of width).
PEAK_WEIGHT = 0.35

#: A canal level is rejected when its edges lie this unevenly about the shaft axis (fraction
#: of the width): the axis landmarks are the midpoints between the cortices.
MAX_CANAL_ASYMMETRY = 0.2

#: A cup sized from the acetabular lateral edge alone (no femoral head circle): twice the
#: edge's distance from the centre of rotation, over the head-based target (head diameter +
#: joint space), is 1.155 in the median and 0.977–1.417 (95 %) on 335 real adult hips of our
#: FracAtlas references (``python scripts/cup_from_edge.py``). The edge target is divided by
#: the median and the size range widened by the spread.
EDGE_CUP_RATIO = 1.155
EDGE_CUP_RATIO_95 = (0.977, 1.417)
#: A neck cut more than this far below the lesser trochanter's tip is outside the anatomy.
MAX_CUT_BELOW_LT_MM = 10.0
#: A stem whose head centre lands further than this from the cup's centre cannot be reduced
#: onto it: the femur would move that far (lengthening and offset beyond any plan).
MAX_REDUCTION_MM = 35.0

#: A stem tip farther than this from the femoral shaft axis (the line through the shaft
#: landmarks) has left the canal: half the width of a wide adult femoral canal at the isthmus
#: (about 24 mm; most are 10-16 mm), so a tip beyond it is outside the femur on any film.
STEM_TIP_MAX_OFF_AXIS_MM = 12.0
#: A stem of which more than this fraction of its length below the neck cut lies beyond the
#: film is longer than the femur shown (refused unless forced); a tip just beyond the film's
#: edge, common on an AP pelvis, gets a note only (its distal fit is not seen).
STEM_BEYOND_FILM_MAX_FRACTION = 0.5

#: The predicted values (``{side}`` is the templated side).
PREDICTED_NAMES = (
    "lld_teardrop_mm",
    "lld_ischial_mm",
    "femoral_offset_{side}_mm",
    "acetabular_offset_{side}_mm",
    "global_offset_{side}_mm",
)
#: Landmarks that move with the femur when it is reduced onto the cup.
FEMORAL_ANATOMY = (
    "femoral_neck_center",
    "femoral_shaft_proximal",
    "femoral_shaft_distal",
    "lesser_trochanter",
    "greater_trochanter",
)


# --------------------------------------------------------------------------- catalog access


def _size(fam: ImplantFamily, label: str | float) -> Any:
    return fam.size(label)


# --------------------------------------------------------------------------- frames


def _point(landmarks: Landmarks, anatomy: str, side: Side, what: str) -> np.ndarray:
    lm = landmarks.get(LandmarkName.of(anatomy, side))
    if lm is None:
        name = LandmarkName.of(anatomy, side).value
        raise TemplatingError(
            f"{what} needs landmark {name} ({landmarks.missing_reason(name)}): place it, or give the position explicitly"
        )
    return np.array(lm.xy, dtype=float)


def _image_inferior(orientation: ImageOrientation) -> np.ndarray:
    return np.array(orientation.inferior_vector(), dtype=float)


def _medial_image(orientation: ImageOrientation, side: Side) -> np.ndarray:
    return -np.array(orientation.lateral_vector(side), dtype=float)


def _perpendicular_towards(d: np.ndarray, towards: np.ndarray) -> np.ndarray:
    n = np.array([-d[1], d[0]])
    return n if float(n @ towards) >= 0 else -n


def _pelvic_frame_px(plan: Plan) -> tuple[np.ndarray, np.ndarray]:
    """(superior, patient-left) unit vectors of the pelvic reference, image directions."""
    mm = {lm.name: to_mm(lm.xy, plan.calibration) for lm in plan.landmarks}
    ref = pelvic_reference(mm, plan.orientation)
    # directions in mm and px agree up to the aspect ratio; rescale then normalise
    s = unit(ref.superior * px_per_mm(plan.calibration))
    left = unit(ref.left * px_per_mm(plan.calibration))
    return s, left


def _cup_axes(plan: Plan, side: Side, inclination_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """(medial, distal) image unit vectors of the cup frame at ``inclination_deg``."""
    sup, left = _pelvic_frame_px(plan)
    lateral = left if side is Side.LEFT else -left
    n0, d0 = -lateral, -sup
    a = math.radians(inclination_deg)
    n = math.cos(a) * n0 + math.sin(a) * d0
    d = -math.sin(a) * n0 + math.cos(a) * d0
    return n, d


def _stem_axes(orientation: ImageOrientation, side: Side, angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """(medial, distal) image unit vectors of a stem tilted ``angle_deg`` (clockwise on screen)."""
    d = unit(rotate(_image_inferior(orientation), angle_deg))
    n = _perpendicular_towards(d, _medial_image(orientation, side))
    return n, d


def _stem_frame_to_px(placement: Placement, cal: Calibration, orientation: ImageOrientation, uv_mm) -> np.ndarray:
    n, d = _stem_axes(orientation, placement.side, placement.angle_deg)
    uv = np.asarray(uv_mm, dtype=float).reshape(-1, 2)
    return np.array(placement.xy) + (uv[:, :1] * n + uv[:, 1:] * d) * px_per_mm(cal)


def shaft_axis_angle_deg(plan: Plan, side: Side | str) -> float:
    """Tilt of the femoral shaft axis (proximal → distal landmarks) from the image vertical.

    Positive clockwise on the screen, the convention of a stem placement's ``angle_deg``.
    """
    side = Side(side)
    sp = _point(plan.landmarks, "femoral_shaft_proximal", side, "the shaft axis")
    sd = _point(plan.landmarks, "femoral_shaft_distal", side, "the shaft axis")
    return signed_angle_deg(_image_inferior(plan.orientation), sd - sp)


# --------------------------------------------------------------------------- sizing rules


def choose_cup_size(family: ImplantFamily, target_outer_diameter_mm: float) -> CupSize:
    """The cup size nearest to ``target_outer_diameter_mm`` (a tie goes to the larger size).

    Examples
    --------
    >>> from orthoplan.catalog import load_catalog
    >>> fam = load_catalog(include_env=False, include_entry_points=False).find("generic hemispherical cup")
    >>> choose_cup_size(fam, 55.0).label, choose_cup_size(fam, 53.9).label
    ('56', '54')
    """
    if not math.isfinite(target_outer_diameter_mm) or target_outer_diameter_mm <= 0:
        raise TemplatingError(f"cup target diameter must be a positive number, got {target_outer_diameter_mm!r}")
    return min(family.sizes, key=lambda s: (abs(s.outer_diameter_mm - target_outer_diameter_mm), -s.outer_diameter_mm))


def cup_target_diameter_mm(head_diameter_mm: float, joint_space_mm: float = JOINT_SPACE_MM) -> float:
    """Cup outer diameter for a femoral head of ``head_diameter_mm`` (bony outline).

    ``head + 2 × joint space``: the acetabulum is reamed to its subchondral bone.

    >>> cup_target_diameter_mm(46.0)
    54.0
    """
    return float(head_diameter_mm) + 2.0 * float(joint_space_mm)


def cup_coverage_pct(center_mm, lateral_edge_mm, superior, lateral, inclination_deg: float) -> float:
    """Share of the cup's dome arc (AP projection) medial of the acetabular lateral edge, %.

    The dome runs 180° from the medial rim, over the top, to the lateral rim, which lies
    ``90° − inclination`` lateral of the vertical through the centre. Bone covers it up to
    the lateral edge, at the centre-edge angle of the edge seen from the cup's centre
    (the same angle as :func:`orthoplan.measurements.center_edge_angle_deg`).

    Examples
    --------
    >>> round(cup_coverage_pct((0, 0), (10, -17.32), (0, -1), (1, 0), 40.0), 1)  # edge at 30°
    88.9
    """
    sup, lat = unit(superior), unit(lateral)
    edge = np.asarray(lateral_edge_mm, float) - np.asarray(center_mm, float)
    if float(np.hypot(*edge)) == 0.0:
        raise MeasurementError("the cup centre is on the acetabular lateral edge")
    ce = angle_from_axis_deg(edge, sup, lat)  # the centre-edge angle of the edge seen from the cup
    lateral_rim = 90.0 - float(inclination_deg)
    covered = min(ce, lateral_rim) + 90.0 + float(inclination_deg)
    return float(np.clip(100.0 * covered / 180.0, 0.0, 100.0))


def choose_head_size(family: ImplantFamily, cup: CupSize, diameter_mm: float | None = None) -> HeadSize:
    """The head of ``family`` to use with ``cup``: ``diameter_mm`` if given, else the largest of
    36/32/28 mm that the cup's liners take (all of them if the catalog does not say).
    """
    offered = {float(s.diameter_mm): s for s in family.sizes}
    if diameter_mm is not None:
        if float(diameter_mm) not in offered:
            raise CatalogError(
                f"{family.vendor} / {family.family} has no {diameter_mm:g} mm head; diameters: "
                + ", ".join(f"{d:g}" for d in sorted(offered))
            )
        return offered[float(diameter_mm)]
    takes = set(map(float, cup.compatible_head_diameters_mm)) or set(offered)
    for d in PREFERRED_HEAD_DIAMETERS_MM:
        if d in offered and d in takes:
            return offered[d]
    both = sorted(takes & set(offered))
    if not both:
        raise TemplatingError(
            f"no head of {family.vendor} / {family.family} fits cup {cup.label} (it takes "
            f"{', '.join(f'{d:g}' for d in sorted(takes))} mm); choose another head family"
        )
    return offered[both[-1]]


def choose_stem_size(
    family: ImplantFamily,
    canal_mm: Mapping[float, float],
    *,
    mantle_mm: float | None = None,
    tolerance_mm: float = CANAL_FIT_TOLERANCE_MM,
) -> tuple[StemSize, tuple[str, ...]]:
    """The largest stem that fits the canal, with notes.

    ``canal_mm`` maps a distance below the resection level (mm) to the endosteal canal width
    there (mm; NaN where unmeasured). A size fits when, at every measured distance within
    its ``body_widths_mm`` range, its width there (linear between the catalog's levels)
    ``+ 2 × mantle ≤ canal + tolerance`` (mantle :data:`CEMENT_MANTLE_MM` for cemented
    families, 0 otherwise): the largest fitting stem fills the canal at its tightest level.
    When even the smallest size is too wide, the smallest is returned with a note.

    Examples
    --------
    >>> from orthoplan.catalog import load_catalog
    >>> fam = load_catalog(include_env=False, include_entry_points=False).find("generic uncemented straight stem")
    >>> choose_stem_size(fam, {50.0: 15.0, 100.0: 13.0})[0].label   # 6 is 15.5 mm wide at 50 mm
    '5'
    """
    if mantle_mm is None:
        mantle_mm = CEMENT_MANTLE_MM if family.fixation == "cemented" else 0.0
    measured = {float(d): float(w) for d, w in canal_mm.items() if w is not None and math.isfinite(w)}
    if not measured:
        raise TemplatingError(
            "the femoral canal could not be measured below the lesser trochanter; check the shaft landmarks "
            "(femoral_shaft_proximal/distal on the canal's midline) or give the stem size"
        )
    best: StemSize | None = None
    for size in family.sizes:
        first, last = size.body_widths_mm[0][0], size.body_widths_mm[-1][0]
        levels = [(d, w) for d, w in measured.items() if first <= d <= last]
        if levels and all(size.body_width_at(d) + 2.0 * mantle_mm <= w + tolerance_mm for d, w in levels):
            best = size
    if best is None:
        smallest = family.sizes[0]
        return smallest, (
            f"the canal is narrower than the smallest {family.family} ({smallest.label}) needs: "
            "consider another family",
        )
    return best, ()


def choose_neck_length(
    neck_lengths_mm: Sequence[float],
    evaluate,
) -> tuple[float, dict[str, float]]:
    """The neck length whose predicted values come closest to the targets.

    ``evaluate(neck_length_mm)`` returns ``{"lld_mm": …, "offset_difference_mm": …}`` (either
    may be absent): the predicted leg-length discrepancy and the predicted global offset of
    the templated side minus the other side's. The chosen length minimises the sum of the
    squares of those present (equal leg length and offset: the other side restored); ties go
    to the shorter neck.

    Examples
    --------
    >>> choose_neck_length([-3.5, 0, 3.5], lambda L: {"lld_mm": L - 2.0})[0]
    3.5
    """
    best = None
    for L in neck_lengths_mm:
        got = evaluate(float(L))
        cost = sum(v * v for v in got.values() if v is not None and math.isfinite(v))
        if best is None or cost < best[0] - 1e-9:
            best = (cost, float(L), got)
    if best is None:
        raise TemplatingError("the head offers no neck length")
    return best[1], best[2]


# --------------------------------------------------------------------------- canal


def endosteal_edges_px(
    display: np.ndarray,
    center_xy,
    direction_xy,
    *,
    min_radius_px: float,
    max_radius_px: float,
    band_px: float = 8.0,
    step_px: float = 0.25,
) -> tuple[float, float] | None:
    """Distances (px) from ``center_xy`` to the endosteal edges on either side of the shaft.

    Intensity (bone bright) is sampled along the perpendicular to ``direction_xy`` (the
    shaft axis), averaged over ``±band_px`` along the axis. For a cortical tube seen side-on
    the projected cortical thickness, hence the brightness, peaks where the ray grazes the
    endosteal surface and rises steeply just inside it; each edge is a weighted mean
    (:data:`PEAK_WEIGHT`) of the brightest point between ``min_radius_px`` and
    ``max_radius_px`` on its side and the steepest rise towards it from the canal, both
    refined to a fraction of a sample. Returns ``(negative
    side, positive side)`` distances along the normal ``(-d_y, d_x)``, or ``None`` when a
    peak lies on the search boundary (no cortex found).

    Examples
    --------
    >>> yy, xx = np.mgrid[0:60, 0:80] + 0.5
    >>> a = np.abs(xx - 40.0)
    >>> img = np.where(a < 10, 2 * np.sqrt(np.clip(15**2 - a**2, 0, None)) - 1.6 * np.sqrt(np.clip(10**2 - a**2, 0, None)), 2 * np.sqrt(np.clip(15**2 - a**2, 0, None)))
    >>> lo, hi = endosteal_edges_px(img, (40.0, 30.0), (0.0, 1.0), min_radius_px=2, max_radius_px=20)
    >>> round(lo, 1), round(hi, 1)
    (10.0, 10.0)
    """
    from scipy import ndimage

    c = np.asarray(center_xy, dtype=float).reshape(2)
    d = unit(direction_xy)
    n = np.array([-d[1], d[0]])
    a = np.arange(-max_radius_px, max_radius_px + step_px / 2, step_px)
    t = np.arange(-band_px, band_px + 0.5, 1.0)
    pts = c + a[None, :, None] * n + t[:, None, None] * d  # (len t, len a, 2)
    rc = rc_array_from_xy(pts.reshape(-1, 2))
    values = ndimage.map_coordinates(np.asarray(display, dtype=np.float32), rc.T, order=1, mode="nearest")
    profile = values.reshape(len(t), len(a)).mean(axis=0)
    profile = ndimage.gaussian_filter1d(profile, sigma=max(1.0, 0.5 / step_px))
    grad = np.gradient(profile)
    out = []
    for sign in (-1.0, 1.0):
        sel = np.nonzero((sign * a >= min_radius_px) & (sign * a <= max_radius_px))[0]
        if len(sel) < 3:
            return None
        i = sel[int(np.argmax(profile[sel]))]
        if i in (sel[0], sel[-1]):
            return None
        peak = abs(a[i] + _parabola_offset(profile, i) * step_px)
        # the steepest rise towards the peak from the canal side
        inner = sel[(sign * a[sel] >= min_radius_px) & (sign * a[sel] <= sign * a[i])]
        if len(inner) < 3:
            return None
        slope = sign * grad[inner]
        j = inner[int(np.argmax(slope))]
        if j in (inner[0], inner[-1]):
            return None
        steepest = abs(a[j] + _parabola_offset(sign * grad, j) * step_px)
        out.append(PEAK_WEIGHT * peak + (1.0 - PEAK_WEIGHT) * steepest)
    return float(out[0]), float(out[1])


def _parabola_offset(y: np.ndarray, i: int) -> float:
    """Sub-sample offset in [-0.5, 0.5] of the maximum of ``y`` near index ``i``."""
    y0, y1, y2 = y[i - 1], y[i], y[i + 1]
    den = y0 - 2 * y1 + y2
    return float(np.clip(0.5 * (y0 - y2) / den, -0.5, 0.5)) if den < 0 else 0.0


@dataclass(frozen=True)
class CanalProfile:
    """Endosteal canal widths along the femoral shaft (mm at the anatomy).

    ``below_lt_mm`` are depths below the lesser trochanter tip along the shaft axis;
    ``widths_mm`` the canal width there (NaN where no cortex was found).
    """

    below_lt_mm: tuple[float, ...]
    widths_mm: tuple[float, ...]

    def width_at(self, below_lt_mm: float) -> float:
        for d, w in zip(self.below_lt_mm, self.widths_mm):
            if abs(d - below_lt_mm) < 1e-6:
                return w
        return float("nan")


def _axis(plan: Plan, side: Side) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(proximal point, distal unit vector, lesser trochanter foot on the axis), image px."""
    sp = _point(plan.landmarks, "femoral_shaft_proximal", side, "stem placement")
    sd = _point(plan.landmarks, "femoral_shaft_distal", side, "stem placement")
    lt = _point(plan.landmarks, "lesser_trochanter", side, "the resection level")
    if float(np.linalg.norm(sd - sp)) < 5.0:
        raise TemplatingError(f"femoral_shaft_proximal_{side.value} and _distal are too close to define the shaft axis")
    return sp, unit(sd - sp), project_onto_line(lt, sp, sd)


def canal_widths_mm(
    display: np.ndarray,
    plan: Plan,
    side: Side | str,
    below_lt_mm: Sequence[float],
    *,
    band_mm: float = 5.0,
    max_radius_mm: float = 24.0,
    min_radius_mm: float = 2.0,
) -> CanalProfile:
    """Endosteal canal widths at depths below the lesser trochanter, along the shaft axis.

    The shaft axis is the line through the ``femoral_shaft_proximal`` and ``_distal``
    landmarks; each depth is measured from the lesser trochanter tip's foot on that axis.
    Levels outside the image, or where no cortex is found, are NaN.
    """
    side = Side(side)
    _, d, foot = _axis(plan, side)
    cal = plan.calibration
    px_per_mm = 1.0 / cal.mm_per_px
    rows, cols = display.shape
    widths = []
    for depth in below_lt_mm:
        c = foot + float(depth) * px_per_mm * d
        margin = max_radius_mm * px_per_mm + 2
        if not (margin <= c[0] <= cols - margin and margin <= c[1] <= rows - margin):
            widths.append(float("nan"))
            continue
        edges = endosteal_edges_px(
            display, c, d, min_radius_px=min_radius_mm * px_per_mm, max_radius_px=max_radius_mm * px_per_mm,
            band_px=max(2.0, band_mm * px_per_mm),
        )
        if edges is None or abs(edges[0] - edges[1]) > MAX_CANAL_ASYMMETRY * (edges[0] + edges[1]):
            # no cortex, or something else (a marker, an overlapping bone) brighter than it
            widths.append(float("nan"))
            continue
        n = np.array([-d[1], d[0]])
        span_px = (edges[0] + edges[1]) * n
        widths.append(float(np.linalg.norm(to_mm(span_px, cal))))
    return CanalProfile(tuple(float(v) for v in below_lt_mm), tuple(widths))


# --------------------------------------------------------------------------- placing


def _head_center_px(stem: Placement, stem_size: StemSize, neck_length_mm: float, plan: Plan) -> np.ndarray:
    return _stem_frame_to_px(stem, plan.calibration, plan.orientation, stem_size.head_center_mm(neck_length_mm))[0]


def _stem_taper_for_cut(stem_size: StemSize, cut_axis_px: np.ndarray, n: np.ndarray, d: np.ndarray, cal: Calibration) -> np.ndarray:
    """Taper point (px) of a stem whose shaft axis point at the resection depth is ``cut_axis_px``."""
    return cut_axis_px + (stem_size.horizontal_offset_mm * n - stem_size.resection_level_mm * d) * px_per_mm(cal)


def stem_tip_px(plan: Plan, stem: Placement, stem_size: StemSize) -> np.ndarray:
    """The stem's distal tip in image pixels: on its axis, ``stem_length_mm`` below the taper point."""
    return _stem_frame_to_px(stem, plan.calibration, plan.orientation,
                             (-stem_size.horizontal_offset_mm, stem_size.stem_length_mm))[0]


def stem_outside_femur(plan: Plan, stem: Placement, stem_size: StemSize) -> tuple[str | None, str | None]:
    """``(refusal, note)``: why the placed stem leaves the femur (``None`` when it does not), and
    a note where the film does not show all of it.

    Refused:

    * its tip lies farther than :data:`STEM_TIP_MAX_OFF_AXIS_MM` from the femoral shaft axis
      (the line through ``femoral_shaft_proximal`` and ``_distal``): outside the canal;
    * more than :data:`STEM_BEYOND_FILM_MAX_FRACTION` of its length below the neck cut lies
      beyond the image: the stem is longer than the femur shown.

    A tip beyond the image by less is a note: its fit in the distal canal is not seen. Without
    the shaft landmarks the axis check is skipped (the placement needed them anyway).

    Examples
    --------
    >>> refusal, note = stem_outside_femur(plan, plan.placement("stem", "left"), size)  # doctest: +SKIP
    """
    side = stem.side
    cal = plan.calibration
    tip = stem_tip_px(plan, stem, stem_size)
    sp = plan.landmarks.get(LandmarkName.of("femoral_shaft_proximal", side))
    sd = plan.landmarks.get(LandmarkName.of("femoral_shaft_distal", side))
    if sp is not None and sd is not None and float(np.linalg.norm(np.subtract(sd.xy, sp.xy))) >= 5.0:
        foot = project_onto_line(tip, np.array(sp.xy), np.array(sd.xy))
        off_mm = float(np.linalg.norm(to_mm(tip - foot, cal)))
        if off_mm > STEM_TIP_MAX_OFF_AXIS_MM:
            return (f"the {side.value} stem's tip lies {off_mm:.0f} mm from the femoral shaft axis (a canal is at most "
                    f"about {2 * STEM_TIP_MAX_OFF_AXIS_MM:g} mm wide): the stem leaves the femur"), None
    rows, cols = plan.image.rows, plan.image.columns
    if rows <= 0 or cols <= 0:
        return None, None
    lo, hi = np.zeros(2), np.array([cols - 1.0, rows - 1.0])
    if bool(np.all(tip >= lo) and np.all(tip <= hi)):
        return None, None
    cut = _cut_axis_px(stem, stem_size, plan)
    # the fraction of the axis from the cut to the tip that lies inside the image
    inside = 1.0
    step = tip - cut
    for k in range(2):
        for bound in (lo[k], hi[k]):
            if (tip[k] - bound) * (cut[k] - bound) < 0.0:  # the axis crosses this edge
                inside = min(inside, (bound - cut[k]) / step[k])
    if not (np.all(cut >= lo) and np.all(cut <= hi)):
        inside = 0.0
    below_cut_mm = float(np.linalg.norm(to_mm(tip - cut, cal)))
    beyond_mm = (1.0 - inside) * below_cut_mm
    if 1.0 - inside > STEM_BEYOND_FILM_MAX_FRACTION:
        return (f"{beyond_mm:.0f} mm of the {side.value} stem's {below_cut_mm:.0f} mm below the neck cut lie beyond the "
                "image: the stem is longer than the femur shown"), None
    return None, (f"stem {side.value}: its tip lies {beyond_mm:.0f} mm beyond the image: its fit in the distal canal "
                  "is not seen on this film")


def _cut_axis_px(stem: Placement, stem_size: StemSize, plan: Plan) -> np.ndarray:
    """The shaft-axis point of a placed stem at its resection depth (px)."""
    return _stem_frame_to_px(
        stem, plan.calibration, plan.orientation, (-stem_size.horizontal_offset_mm, stem_size.resection_level_mm)
    )[0]


def resection_for_length_mm(
    plan: Plan,
    side: Side | str,
    stem: StemSize,
    cup_center_px,
    medial_px: np.ndarray,
    distal_px: np.ndarray,
    lt_foot_px: np.ndarray,
    *,
    measure: MeasureHip,
    neck_length_mm: float = 0.0,
) -> float:
    """Cut level (mm above the lesser trochanter) at which ``stem`` with a ``neck_length_mm`` head
    makes the legs equal once reduced onto the cup at ``cup_center_px``.

    After reduction the femur moves by (cup centre − stem head centre), so the leg lengthens
    by that vector's inferior component (pelvic frame); it must cancel the pre-operative
    discrepancy (``lld_teardrop_mm``, else ``lld_ischial_mm``, else 0: keep the length), as
    predicted with the other side's placements when that side is templated too.
    """
    side = Side(side)
    cal = plan.calibration
    lld = _current_lld_mm(plan, side, measure)
    sign = 1.0 if side is Side.LEFT else -1.0
    sup, _left = _pelvic_frame_px(plan)
    inferior = -unit(to_mm(sup, cal))
    taper0 = _stem_taper_for_cut(stem, np.asarray(lt_foot_px, dtype=float), medial_px, distal_px, cal)
    u, v = stem.head_center_mm(neck_length_mm)
    s0 = taper0 + (u * medial_px + v * distal_px) * px_per_mm(cal)
    c_mm, s0_mm = to_mm(np.asarray(cup_center_px, dtype=float), cal), to_mm(s0, cal)
    d_mm = unit(to_mm(distal_px, cal))
    along = float(d_mm @ inferior)
    if abs(along) < 0.2:
        raise TemplatingError("the femoral shaft axis is nearly horizontal in the pelvic frame: check the shaft landmarks")
    return float((-sign * lld - float((c_mm - s0_mm) @ inferior)) / along)


def _current_lld_mm(plan: Plan, side: Side, measure: MeasureHip) -> float:
    """LLD before templating ``side``: predicted with the other side's implants, else pre-op, else 0."""
    others = replace(plan, placements=tuple(p for p in plan.placements if p.side is not side))
    source = predict(others, measure=measure) if others.placements else plan.measurements
    m = source.get("lld_teardrop_mm") or source.get("lld_ischial_mm")
    return m.value if m is not None else 0.0


def mirrored_center_px(plan: Plan, side: Side | str) -> np.ndarray:
    """The other side's femoral head centre mirrored across the pelvic midline (px).

    The midline is the perpendicular to the inter-teardrop line through its midpoint.
    """
    side = Side(side)
    other = _point(plan.landmarks, "femoral_head_center", side.other, "a mirrored centre of rotation")
    tl = _point(plan.landmarks, "teardrop", Side.LEFT, "a mirrored centre of rotation")
    tr = _point(plan.landmarks, "teardrop", Side.RIGHT, "a mirrored centre of rotation")
    mid = (tl + tr) / 2.0
    sup, _left = _pelvic_frame_px(plan)
    return reflect_across_line(other, mid, mid + 100.0 * sup)


def template_hip(
    plan: Plan,
    radiograph: Any,
    catalog: Catalog | None,
    side: Side | str,
    *,
    cup_family: str = "generic hemispherical cup",
    stem_family: str = "generic uncemented straight stem",
    head_family: str | None = None,
    cup_size: str | float | None = None,
    stem_size: str | float | None = None,
    head_diameter_mm: float | None = None,
    neck_length_mm: float | None = None,
    inclination_deg: float = DEFAULT_INCLINATION_DEG,
    cup_center: str | tuple[float, float] = "native",
    resection_above_lt_mm: float | None = None,
    force: bool = False,
    measure: MeasureHip,
) -> Plan:
    """Template a total hip on ``side``: cup, stem and head placed, sized and predicted.

    Usually called through :func:`orthoplan.pipeline.template_hip`, which gives ``measure``.

    Parameters
    ----------
    plan
        A measured plan (landmarks in pixels, calibration).
    radiograph
        The :class:`~orthoplan.model.Radiograph` (its ``display`` is searched for the
        endosteal cortices); may be ``None`` when ``stem_size`` is given.
    catalog
        Implant catalog (``None``: :func:`default_catalog`).
    side
        The patient's side to replace.
    cup_family, stem_family, head_family
        Family names (or slugs); the head family defaults to the stem vendor's heads, else
        generic heads.
    cup_size, stem_size, head_diameter_mm, neck_length_mm
        Force a size instead of the automatic choice.
    inclination_deg
        Cup inclination (default 40°).
    cup_center
        ``"native"`` (the femoral head centre: the anatomical centre of rotation),
        ``"mirrored"`` (the other hip's centre mirrored across the midline) or ``(x, y)`` px.
    resection_above_lt_mm
        Neck-cut level: its medial end this far above the lesser trochanter tip. ``None``
        (default): for each neck length the stem sits at the depth that equalises leg length
        (:func:`resection_for_length_mm`), the neck length that best restores the other
        side's offset is kept, and the cut follows from the stem's depth.
    force
        Template even where the plan is impossible as measured (a size beyond the family, a
        canal narrower than the smallest stem, a neck cut outside the femur, a stem leaving the
        femur); each forced
        choice is noted with ``FORCED:`` in the plan (its report, SR and picture show it).
    measure
        The hip measuring function (:data:`~orthoplan.templating.common.MeasureHip`) that
        predicts the reconstruction.

    Returns
    -------
    Plan
        ``plan`` with the three placements of ``side`` (others kept) and its predictions.

    Raises
    ------
    CatalogError
        Unknown family, size or head diameter (the message lists the known ones).
    TemplatingError
        Landmarks needed for a placement are missing, or the canal cannot be measured; or
        (unless ``force``) the size needed lies beyond the family, the canal is narrower than
        the smallest stem, the neck cut lies outside the femur, the stem's head lands more than
        :data:`MAX_REDUCTION_MM` from the cup's centre, or the stem leaves the femur
        (:func:`stem_outside_femur`: its tip off the shaft axis, or most of it beyond the film).

    Notes
    -----
    Each automatic size comes with ``Placement.size_range``: the sizes chosen anywhere within
    the scale's 95 % interval (and, for a cup sized from the acetabular edge, that estimate's
    spread), and a note when the range spans more than one size or the size is the family's
    smallest or largest.
    """
    side = Side(side)
    catalog = catalog or default_catalog()
    cal = plan.calibration
    notes: list[str] = []
    cup_fam = find_family(catalog, cup_family, "cup")
    stem_fam = find_family(catalog, stem_family, "stem")
    if head_family is None:
        same_vendor = [f for f in catalog.of_kind("head") if f.vendor == stem_fam.vendor]
        generic = [f for f in catalog.of_kind("head") if f.vendor == "generic"]
        pool = same_vendor or generic or list(catalog.of_kind("head"))
        if not pool:
            raise CatalogError("the catalog has no head family; add one or pass head_family")
        head_fam = pool[0]
    else:
        head_fam = find_family(catalog, head_family, "head")

    # --- cup: centre of rotation, size to the acetabulum
    if isinstance(cup_center, str):
        if cup_center == "native":
            center = _point(plan.landmarks, "femoral_head_center", side, "the cup's centre of rotation")
        elif cup_center == "mirrored":
            center = mirrored_center_px(plan, side)
        else:
            raise TemplatingError(f"cup_center must be 'native', 'mirrored' or (x, y) pixels, got {cup_center!r}")
    else:
        center = np.asarray(cup_center, dtype=float).reshape(2)
    u = cal.uncertainty_pct / 100.0
    cup_range: tuple[str, str] | None = None
    if cup_size is not None:
        cup = _size(cup_fam, cup_size)
    else:
        head_lm = plan.landmarks.get(LandmarkName.of("femoral_head_center", side))
        edge_lm = plan.landmarks.get(LandmarkName.of("acetabular_lateral_edge", side))
        if head_lm is not None and head_lm.radius_px:
            head_d_mm = 2.0 * head_lm.radius_px * math.sqrt(cal.mm_per_px * cal.mm_per_px_y)

            def target_at(f: float) -> float:
                return cup_target_diameter_mm(head_d_mm * f)
            spread = (1.0, 1.0)
        elif edge_lm is not None:
            raw = 2.0 * float(np.linalg.norm(to_mm(np.array(edge_lm.xy) - center, cal)))

            def target_at(f: float) -> float:
                return raw * f / EDGE_CUP_RATIO
            spread = (EDGE_CUP_RATIO_95[0] / EDGE_CUP_RATIO, EDGE_CUP_RATIO_95[1] / EDGE_CUP_RATIO)
            lo_pct, hi_pct = 100.0 * (spread[0] - 1.0), 100.0 * (spread[1] - 1.0)
            notes.append(
                f"cup {side.value}: sized to the acetabular lateral edge (no femoral head circle): on real films "
                f"this estimate is within {lo_pct:+.0f} % to {hi_pct:+.0f} % of the head-based size (95 %); "
                "place the femoral head circle to size the cup"
            )
        else:
            raise TemplatingError(
                f"cannot size the {side.value} cup: needs the femoral_head_center_{side.value} circle "
                f"(with a radius) or acetabular_lateral_edge_{side.value}; or give cup_size"
            )
        target = target_at(1.0)
        notes += _beyond_family(cup_fam, [s_.outer_diameter_mm for s_ in cup_fam.sizes], target,
                                f"the {side.value} cup needs about {target:.0f} mm", "mm", force)
        cup = choose_cup_size(cup_fam, target)
        ends = [choose_cup_size(cup_fam, target_at(f) * g) for f in (1.0 - u, 1.0 + u) for g in spread] + [cup]
        ends.sort(key=lambda c: c.outer_diameter_mm)
        cup_range = (ends[0].label, ends[-1].label)
        notes += size_notes("cup", side, cup_fam, cup, cup_range, [s_.outer_diameter_mm for s_ in cup_fam.sizes],
                             cup.outer_diameter_mm)
    cup_p = Placement(ImplantKind.CUP, side, cup_fam.vendor, cup_fam.family, cup.label, center[0], center[1],
                      float(inclination_deg), size_range=cup_range)

    # --- stem: along the shaft axis, cut at the chosen level, size to the canal
    _sp, d, foot = _axis(plan, side)
    angle = signed_angle_deg(_image_inferior(plan.orientation), d)
    n, d = _stem_axes(plan.orientation, side, angle)
    head_lm = plan.landmarks.get(LandmarkName.of("femoral_head_center", side))
    head_above_lt = None if head_lm is None else float(to_mm(foot - np.array(head_lm.xy), cal) @ unit(to_mm(d, cal)))
    def check_cut(level: float) -> list[str]:
        """A TemplatingError (forced: a note) for a neck cut outside the femur."""
        if level < -MAX_CUT_BELOW_LT_MM or (head_above_lt is not None and level > head_above_lt):
            where = (f"{-level:.0f} mm below the lesser trochanter" if level < 0 else
                     f"{level:.0f} mm above the lesser trochanter, above the femoral head centre ({head_above_lt:.0f} mm)")
            if not force:
                raise TemplatingError(
                    f"the {side.value} neck cut would lie {where}: outside the femur. Check the scale and the landmarks "
                    "(femoral head, lesser trochanter, shaft axis), give the cut level or the stem size, or force it"
                )
            return [f"FORCED: stem {side.value}: the neck cut lies {where}, outside the femur"]
        return []

    stem_range: tuple[str, str] | None = None
    if stem_size is not None:
        stem = _size(stem_fam, stem_size)
    else:
        provisional = stem_fam.sizes[len(stem_fam.sizes) // 2]
        if resection_above_lt_mm is None:
            level = resection_for_length_mm(plan, side, provisional, center, n, d, foot, measure=measure)
        else:
            level = float(resection_above_lt_mm)
        notes += check_cut(level)
        if radiograph is None:
            raise TemplatingError("automatic stem sizing needs the radiograph (its canal); or give stem_size")
        profile = canal_widths_mm(radiograph.display, plan, side, CANAL_DEPTHS_BELOW_LT_MM)
        canal = {b + level: w for b, w in zip(profile.below_lt_mm, profile.widths_mm)}
        log.debug("canal widths (mm below the cut → mm): %s", canal)
        if any(math.isfinite(w) for w in canal.values()):
            stem, stem_notes = choose_stem_size(stem_fam, canal)
            if stem_notes and not force:  # the canal is narrower than the smallest stem needs
                raise TemplatingError(
                    f"the {side.value} canal is narrower than the smallest {stem_fam.family} ({stem.label}) needs: "
                    "check the scale and the shaft landmarks, choose another stem family or a stem size, or force it"
                )
            notes += [f"{'FORCED: ' if stem_notes else ''}stem {side.value}: {t}" for t in stem_notes]
            ends = sorted((choose_stem_size(stem_fam, {k: w * f for k, w in canal.items()})[0] for f in (1.0 - u, 1.0 + u)),
                          key=lambda z: stem_fam.sizes.index(z))
            stem_range = (min(ends[0], stem, key=stem_fam.sizes.index).label,
                          max(ends[-1], stem, key=stem_fam.sizes.index).label)
            order = list(range(len(stem_fam.sizes)))
            notes += size_notes("stem", side, stem_fam, stem, stem_range, order, stem_fam.sizes.index(stem))
        else:  # keep templating usable (an interactive session): a visible placeholder, not an error
            stem = provisional
            notes.append(
                f"stem {side.value}: NOT SIZED TO THE CANAL - the endosteal cortices were not found below the "
                f"lesser trochanter (check femoral_shaft_proximal/distal_{side.value}); size {stem.label} is a "
                "placeholder: choose the size"
            )
    # --- head: diameter to the cup; neck length (and, unless the cut is given, the stem's
    # depth) to restore length and offset towards the other side
    head = choose_head_size(head_fam, cup, head_diameter_mm)
    if neck_length_mm is not None:
        if not head.offers(float(neck_length_mm)):
            raise CatalogError(
                f"neck length {neck_length_mm:+g} mm is not offered for {head_fam.family} {head.label}; options: "
                + ", ".join(f"{v:+g}" for v in head.neck_lengths_mm) + " mm"
            )
        options: Sequence[float] = (float(neck_length_mm),)
    else:
        options = head.neck_lengths_mm

    def assemble(L: float) -> tuple[Plan, float]:
        if resection_above_lt_mm is None:
            level = resection_for_length_mm(plan, side, stem, center, n, d, foot, measure=measure, neck_length_mm=L)
        else:
            level = float(resection_above_lt_mm)
        taper = _stem_taper_for_cut(stem, foot - level * d * px_per_mm(cal), n, d, cal)
        stem_p = Placement(ImplantKind.STEM, side, stem_fam.vendor, stem_fam.family, stem.label, taper[0], taper[1], angle,
                           size_range=stem_range)
        hc = _head_center_px(stem_p, stem, L, plan)
        head_p = Placement(ImplantKind.HEAD, side, head_fam.vendor, head_fam.family, head.label, hc[0], hc[1], 0.0, L)
        return replace(plan, placements=replace_placements(plan, [cup_p, stem_p, head_p])), level

    L, _ = choose_neck_length(options, lambda L: _targets(assemble(L)[0], side, measure))
    out, level = assemble(L)
    if not any(n.startswith(f"FORCED: stem {side.value}: the neck cut") for n in notes):
        notes += check_cut(level)
    head_p = out.placement("head", side)
    reach_mm = float(np.linalg.norm(to_mm(np.array(cup_p.xy) - np.array(head_p.xy), cal)))
    if reach_mm > MAX_REDUCTION_MM:
        text = (f"the {side.value} stem's head lands {reach_mm:.0f} mm from the cup's centre (reducing it moves "
                f"the femur that far; at most {MAX_REDUCTION_MM:g} mm)")
        if not force:
            raise TemplatingError(f"{text}: check the landmarks, the cup centre and the stem, or force it")
        notes.append(f"FORCED: stem {side.value}: {text}")
    outside, film_note = stem_outside_femur(out, out.placement("stem", side), stem)
    if film_note is not None:
        notes.append(film_note)
    if outside is not None:
        if not force:
            raise TemplatingError(f"{outside}: check the shaft landmarks and the stem size (a shorter stem, or a film "
                                  "showing more of the femur), or force it")
        notes.append(f"FORCED: stem {side.value}: {outside}")
    if not (USUAL_RESECTION_ABOVE_LT_MM[0] <= level <= USUAL_RESECTION_ABOVE_LT_MM[1]):
        notes.append(
            f"stem {side.value}: the neck cut is {level:.0f} mm above the lesser trochanter (usually "
            f"{USUAL_RESECTION_ABOVE_LT_MM[0]:g}-{USUAL_RESECTION_ABOVE_LT_MM[1]:g} mm): check the landmarks and the stem"
        )
    if cal.assumed and ASSUMED_SCALE_NOTE not in out.notes:
        notes.insert(0, ASSUMED_SCALE_NOTE)
    out = replace(out, notes=tuple(dict.fromkeys(out.notes + tuple(notes))))
    return replace(out, predictions=predict(out, measure=measure))


def _beyond_family(fam: ImplantFamily, dims: Sequence[float], target: float, what: str, unit_: str,
                   force: bool) -> list[str]:
    """A TemplatingError (or, forced, a ``FORCED:`` note) when ``target`` lies beyond the family's
    sizes by more than half its size step."""
    lo, hi = min(dims), max(dims)
    step = (hi - lo) / max(len(dims) - 1, 1)
    if lo - step / 2.0 <= target <= hi + step / 2.0:
        return []
    text = (f"{what}; {fam.family} goes from {lo:g} to {hi:g} {unit_}")
    if not force:
        raise TemplatingError(f"{text}: check the scale and the landmarks, choose another family, or force it")
    return [f"FORCED: {text}"]


def _targets(trial: Plan, side: Side, measure: MeasureHip) -> dict[str, float]:
    """Predicted LLD and global-offset difference (side − other) of a trial plan."""
    plan = trial
    pred = predict(trial, measure=measure)
    out: dict[str, float] = {}
    lld = pred.get("lld_teardrop_mm") or pred.get("lld_ischial_mm")
    if lld is not None:
        out["lld_mm"] = lld.value
    mine = pred.get(f"global_offset_{side.value}_mm")
    other = f"global_offset_{side.other.value}_mm"
    theirs = pred.get(other) or plan.measurements.get(other)  # the other side as reconstructed, if it is
    if mine is not None and theirs is not None:
        out["offset_difference_mm"] = mine.value - theirs.value
    return out


# --------------------------------------------------------------------------- prediction


def reconstructed_landmarks(plan: Plan) -> Landmarks:
    """The landmarks after reduction: on each side with a cup and a head, the femur moves
    by (cup centre − head centre) and the femoral head centre becomes the cup centre
    (with the head's radius when its diameter is known from the size label)."""
    lms = plan.landmarks
    for side in Side:
        cup, head = plan.placement("cup", side), plan.placement("head", side)
        if cup is None or head is None:
            continue
        shift = np.array(cup.xy) - np.array(head.xy)
        for anatomy in FEMORAL_ANATOMY:
            lm = lms.get(LandmarkName.of(anatomy, side))
            if lm is not None:
                lms = lms.with_landmark(replace(lm, x=lm.x + shift[0], y=lm.y + shift[1]))
        try:
            r_px = float(head.size) / 2.0 / math.sqrt(plan.calibration.mm_per_px * plan.calibration.mm_per_px_y)
        except ValueError:
            r_px = None
        lms = lms.with_landmark(
            Landmark(LandmarkName.of("femoral_head_center", side), cup.x, cup.y, 1.0, LandmarkSource.MANUAL, r_px)
        )
    return lms


def predict(plan: Plan, *, measure: MeasureHip) -> Measurements:
    """Predicted post-operative values of the plan's placements (see :data:`PREDICTED_NAMES`).

    Measured by :func:`~orthoplan.measurements.measure_hip` on
    :func:`reconstructed_landmarks`; the values keep the measurement names (and are absent
    with the reason when the landmarks do not allow them). Empty without a cup and a head.
    """
    sides = [s for s in Side if plan.placement("cup", s) is not None and plan.placement("head", s) is not None]
    if not sides:
        return Measurements()
    names = list(dict.fromkeys(n.format(side=s.value) for s in sides for n in PREDICTED_NAMES))
    ms = measure(reconstructed_landmarks(plan), plan.calibration, plan.orientation)
    items = tuple(Measurement(m.name, m.value, m.unit, (), m.side, (), m.interval) for m in ms if m.name in names)
    missing = tuple((n, r) for n, r in ms.missing if n in names)
    return Measurements(items, missing)


def prediction_changes(plan: Plan) -> dict[str, float]:
    """Predicted minus pre-operative value, for every predicted value that was measured pre-op."""
    out = {}
    for m in plan.predictions:
        pre = plan.measurements.get(m.name)
        if pre is not None:
            out[m.name] = m.value - pre.value
    return out


# --------------------------------------------------------------------------- editing


def rescale_placements(plan: Plan, previous: Calibration, catalog: Catalog | None = None, *,
                       measure: MeasureHip) -> Plan:
    """The plan's placements redone for its (new) calibration, after one made at ``previous``.

    Implants are fixed in mm: when the scale changes, a stem keeps its shaft-axis point at the
    resection level (the cut) and its angle, and its taper point and head move to the stem's
    offsets at the new scale; cups keep their centre. Predictions are re-evaluated.
    """
    if not plan.placements or previous == plan.calibration:
        return replace(plan, predictions=predict(plan, measure=measure)) if plan.placements else plan
    catalog = catalog or default_catalog()
    changes: list[Placement] = []
    for stem in (p for p in plan.placements if p.kind is ImplantKind.STEM):
        size = _size(find_family(catalog, stem, "stem"), stem.size)
        cut = _cut_axis_px(stem, size, replace(plan, calibration=previous))
        n, d = _stem_axes(plan.orientation, stem.side, stem.angle_deg)
        t = _stem_taper_for_cut(size, cut, n, d, plan.calibration)
        moved = replace(stem, x=t[0], y=t[1])
        changes.append(moved)
        head = plan.placement("head", stem.side)
        if head is not None:
            hc = _head_center_px(moved, size, head.neck_length_mm, plan)
            changes.append(replace(head, x=hc[0], y=hc[1]))
    out = replace(plan, placements=replace_placements(plan, changes))
    notes = tuple(t for t in out.notes if t != ASSUMED_SCALE_NOTE)
    if out.calibration.assumed:
        notes = (ASSUMED_SCALE_NOTE,) + notes
    return replace(out, notes=notes, predictions=predict(out, measure=measure))


# --------------------------------------------------------------------------- drawing and reporting


def edit_hip_placement(plan: Plan, current: Placement, catalog: Catalog, xy: np.ndarray, *,
                       angle_deg: float | None = None, size: str | float | None = None,
                       neck_length_mm: float | None = None) -> list[Placement]:
    """The placements that change when a cup, stem or head is moved to ``xy``, rotated or resized
    (the hip part of :func:`orthoplan.templating.update_placement`): a stem carries its head."""
    kind, side = current.kind, current.side
    changes: list[Placement] = []
    if kind is ImplantKind.CUP:
        label = current.size if size is None else _size(find_family(catalog, current, "cup"), size).label
        changes.append(replace(current, x=xy[0], y=xy[1], size=label, auto=False,
                               angle_deg=current.angle_deg if angle_deg is None else float(angle_deg)))
    elif kind is ImplantKind.STEM:
        fam = find_family(catalog, current, "stem")
        old = _size(fam, current.size)
        new_size = old if size is None else _size(fam, size)
        moved = replace(current, x=xy[0], y=xy[1], auto=False,
                        angle_deg=current.angle_deg if angle_deg is None else float(angle_deg))
        if new_size is not old:
            cut = _cut_axis_px(moved, old, plan)
            n, d = _stem_axes(plan.orientation, side, moved.angle_deg)
            t = _stem_taper_for_cut(new_size, cut, n, d, plan.calibration)
            moved = replace(moved, x=t[0], y=t[1], size=new_size.label)
        changes.append(moved)
        head = plan.placement("head", side)
        if head is not None:
            hc = _head_center_px(moved, new_size, head.neck_length_mm, plan)
            changes.append(replace(head, x=hc[0], y=hc[1]))
    else:
        stem = plan.placement("stem", side)
        if stem is None:
            raise TemplatingError(f"the {side.value} head sits on a stem: place the stem first")
        head_fam = find_family(catalog, current, "head")
        head = _size(head_fam, current.size if size is None else size)
        L = current.neck_length_mm if neck_length_mm is None else float(neck_length_mm)
        if not head.offers(L):
            raise CatalogError(
                f"neck length {L:+g} mm is not offered for {head_fam.family} {head.label}; options: "
                + ", ".join(f"{v:+g}" for v in head.neck_lengths_mm) + " mm"
            )
        stem_size = _size(find_family(catalog, stem, "stem"), stem.size)
        hc = _head_center_px(stem, stem_size, L, plan)
        changes.append(replace(current, x=hc[0], y=hc[1], size=head.label, neck_length_mm=L, auto=False))
    return changes


def hip_outline_px(plan: Plan, placement: Placement, catalog: Catalog | None = None) -> np.ndarray:
    """A cup, stem or head outline in image pixels at the plan's scale (closed polygon, (N, 2)).

    Cups and stems come from the catalog outlines (:mod:`orthoplan.catalog.outlines`) placed
    by :func:`orthoplan.catalog.to_image`; heads are circles of the head's diameter.
    """
    catalog = catalog or default_catalog()
    cal = plan.calibration
    if placement.kind is ImplantKind.CUP:
        size = _size(find_family(catalog, placement, "cup"), placement.size)
        n, d = _cup_axes(plan, placement.side, placement.angle_deg)
        rot, mirror = frame_pose(n, d)
        return to_image(cup_outline_mm(size), center_xy=placement.xy, rotation_deg=rot, mirror=mirror, calibration=cal)
    if placement.kind is ImplantKind.STEM:
        size = _size(find_family(catalog, placement, "stem"), placement.size)
        n, d = _stem_axes(plan.orientation, placement.side, placement.angle_deg)
        rot, mirror = frame_pose(n, d)
        return to_image(stem_outline_mm(size), center_xy=placement.xy, rotation_deg=rot, mirror=mirror, calibration=cal)
    size = _size(find_family(catalog, placement, "head"), placement.size)
    circle = head_outline_mm(size, 0.0) if size.offers(0.0) else head_outline_mm(size, size.neck_lengths_mm[0])
    circle = circle - circle.mean(axis=0)
    return to_image(circle, center_xy=placement.xy, calibration=cal)


def templating_summary(plan: Plan, side: Side | str, catalog: Catalog | None = None) -> dict[str, Any]:
    """What was templated on ``side`` and what it predicts, as plain JSON-able values.

    ``{"cup": {vendor, family, size, outer_diameter_mm, inclination_deg, center_px,
    coverage_pct}, "stem": {…, size, horizontal_offset_mm, neck_shaft_angle_deg,
    resection_above_lt_mm}, "head": {…, diameter_mm, neck_length_mm}, "preoperative": {…},
    "predicted": {…}, "change": {…}, "notes": […]}``.
    """
    side = Side(side)
    catalog = catalog or default_catalog()
    out: dict[str, Any] = {"side": side.value}
    cal = plan.calibration
    cup = plan.placement("cup", side)
    if cup is not None:
        size = _size(find_family(catalog, cup, "cup"), cup.size)
        entry = {
            "vendor": cup.vendor, "family": cup.family, "size": cup.size,
            "outer_diameter_mm": size.outer_diameter_mm, "inclination_deg": cup.angle_deg,
            "center_px": [cup.x, cup.y], "auto": cup.auto,
        }
        edge = plan.landmarks.get(LandmarkName.of("acetabular_lateral_edge", side))
        if edge is not None:
            sup, left = _pelvic_frame_px(plan)
            lat = left if side is Side.LEFT else -left
            sup_mm, lat_mm = unit(to_mm(sup, cal)), unit(to_mm(lat, cal))
            try:
                entry["coverage_pct"] = cup_coverage_pct(
                    to_mm(cup.xy, cal), to_mm(edge.xy, cal), sup_mm, lat_mm, cup.angle_deg
                )
            except MeasurementError:
                pass
        out["cup"] = entry
    stem = plan.placement("stem", side)
    if stem is not None:
        size = _size(find_family(catalog, stem, "stem"), stem.size)
        entry = {
            "vendor": stem.vendor, "family": stem.family, "size": stem.size,
            "horizontal_offset_mm": size.horizontal_offset_mm, "neck_shaft_angle_deg": size.neck_shaft_angle_deg,
            "stem_length_mm": size.stem_length_mm, "taper_px": [stem.x, stem.y], "axis_angle_deg": stem.angle_deg,
            "auto": stem.auto,
        }
        lt = plan.landmarks.get(LandmarkName.of("lesser_trochanter", side))
        if lt is not None:
            cut = _cut_axis_px(stem, size, plan)
            n, d = _stem_axes(plan.orientation, side, stem.angle_deg)
            above = float((np.array(lt.xy) - cut) @ d) / float(np.linalg.norm(d * px_per_mm(cal)))
            entry["resection_above_lt_mm"] = above
        out["stem"] = entry
    head = plan.placement("head", side)
    if head is not None:
        size = _size(find_family(catalog, head, "head"), head.size)
        out["head"] = {
            "vendor": head.vendor, "family": head.family, "size": head.size, "diameter_mm": size.diameter_mm,
            "neck_length_mm": head.neck_length_mm, "center_px": [head.x, head.y], "auto": head.auto,
        }
    names = [n.format(side=side.value) for n in PREDICTED_NAMES]
    out["preoperative"] = {n: plan.measurements[n].value for n in names if n in plan.measurements}
    out["predicted"] = {n: plan.predictions[n].value for n in names if n in plan.predictions}
    out["change"] = {n: v for n, v in prediction_changes(plan).items() if n in names}
    out["assumed_scale"] = bool(cal.assumed)
    out["notes"] = [t for t in plan.notes if t.startswith(("cup ", "stem ", "head ", "TEMPLATING", "FORCED"))]
    return out
