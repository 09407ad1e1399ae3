"""Definitions of every hip measurement: geometry, sign convention, normal range, source.

:data:`DEFINITIONS` is the single source of truth for ``docs/measurements.md`` (rendered by
:func:`measurements_markdown`), the DICOM SR (titles, units) and the overlay labels. Per-side
measurements are keyed by a template name with ``{side}`` (``"lcea_{side}_deg"``); use
:func:`definition_for` to look a concrete name up and :func:`measurement_names` for every
concrete name in report order.

Examples
--------
>>> definition_for("lcea_left_deg").unit
'deg'
>>> measurement_names()[:2]
('lld_teardrop_mm', 'lld_ischial_mm')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ..errors import MeasurementError
from ..model import LANDMARK_DEFINITIONS, Side

__all__ = [
    "MeasurementDefinition",
    "DEFINITIONS",
    "definition_for",
    "measurement_names",
    "split_name",
    "measurements_markdown",
    "landmarks_markdown",
]


@dataclass(frozen=True)
class MeasurementDefinition:
    """What a measurement is, how it is signed, what is normal, and who defined it.

    ``name`` is a concrete name (``"lld_teardrop_mm"``) or, when ``sided``, a template with
    ``{side}`` (``"femoral_offset_{side}_mm"``). ``landmarks`` are side-less anatomy names
    of :data:`orthoplan.model.LANDMARK_DEFINITIONS`.
    """

    name: str
    unit: str  #: UCUM: "mm" or "deg"
    title: str
    definition: str
    reference: str
    normal_range: tuple[float, float] | None
    landmarks: tuple[str, ...]
    sided: bool
    sign: str = ""  #: the sign convention in words
    #: anatomy used when present (e.g. the pelvic reference of LCEA), not required
    optional_landmarks: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.unit not in ("mm", "deg"):
            raise ValueError(f"{self.name}: unit must be 'mm' or 'deg'")
        if self.sided != ("{side}" in self.name):
            raise ValueError(f"{self.name}: sided definitions (only) carry '{{side}}' in their name")
        if not self.name.endswith("_" + self.unit):
            raise ValueError(f"{self.name}: the name must end with its unit")
        unknown = [a for a in self.landmarks + self.optional_landmarks if a not in LANDMARK_DEFINITIONS]
        if unknown:
            raise ValueError(f"{self.name}: unknown landmark anatomy {unknown}")

    def concrete_names(self) -> tuple[str, ...]:
        """The names this definition stands for (one per side when sided)."""
        if not self.sided:
            return (self.name,)
        return tuple(self.name.format(side=s.value) for s in (Side.RIGHT, Side.LEFT))


_TANNAST_2015 = (
    "Tannast M, Hanke MS, Zheng G, Steppacher SD, Siebenrock KA. What are the radiographic "
    "reference values for acetabular under- and overcoverage? Clin Orthop Relat Res. "
    "2015;473(4):1234-1246"
)
_MEERMANS_2011 = (
    "Meermans G, Malik A, Witt J, Haddad F. Preoperative radiographic assessment of "
    "limb-length discrepancy in total hip arthroplasty. Clin Orthop Relat Res. "
    "2011;469(6):1677-1682"
)
_LECERF_2009 = (
    "Lecerf G, Fessy MH, Philippot R, et al. Femoral offset: anatomical concept, definition, "
    "assessment, implications for preoperative templating and hip arthroplasty. Orthop "
    "Traumatol Surg Res. 2009;95(3):210-219"
)
_DASTANE_2011 = (
    "Dastane M, Dorr LD, Tarwala R, Wan Z. Hip offset in total hip arthroplasty: quantitative "
    "measurement with navigation. Clin Orthop Relat Res. 2011;469(2):429-436"
)

_PELVIC_REFERENCE = (
    "The pelvic horizontal is the inter-teardrop line when both teardrops are given, else "
    "the bi-ischial line, else the image horizontal (the measurement's notes say which); "
    "the pelvic vertical is its perpendicular pointing superior."
)

_DEFS = (
    MeasurementDefinition(
        name="lld_teardrop_mm",
        unit="mm",
        title="Leg-length discrepancy (teardrop line)",
        definition=(
            "Perpendicular distance from each lesser trochanter (most prominent point) to the "
            "line through both teardrop inferior tips, measured along the pelvic inferior "
            "direction (the perpendicular to the line that is closest to image inferior); "
            "left distance minus right distance."
        ),
        sign="positive: left leg longer (left lesser trochanter further distal from the line)",
        reference=_MEERMANS_2011 + " (inter-teardrop line agreed with full-leg radiographs).",
        normal_range=None,
        landmarks=("teardrop", "lesser_trochanter"),
        sided=False,
    ),
    MeasurementDefinition(
        name="lld_ischial_mm",
        unit="mm",
        title="Leg-length discrepancy (bi-ischial line)",
        definition=(
            "As lld_teardrop_mm, with the line through the most inferior points of both "
            "ischial tuberosities as the pelvic reference."
        ),
        sign="positive: left leg longer",
        reference=_MEERMANS_2011 + " (the bi-ischial line differed from the true LLD; prefer the teardrop line).",
        normal_range=None,
        landmarks=("ischial_tuberosity", "lesser_trochanter"),
        sided=False,
    ),
    MeasurementDefinition(
        name="femoral_offset_{side}_mm",
        unit="mm",
        title="Femoral offset",
        definition=(
            "Perpendicular distance from the femoral head centre to the femoral shaft "
            "(anatomical) axis, the line through femoral_shaft_proximal and femoral_shaft_distal."
        ),
        sign="unsigned (always >= 0)",
        reference=(
            _LECERF_2009 + ". On AP pelvis radiographs the mean was 39.0 mm (44.0 mm on AP hip "
            "views, 44.7 mm on CT): Merle C, et al. J Bone Joint Surg Br. 2012;94-B(4):477-482."
        ),
        normal_range=None,
        landmarks=("femoral_head_center", "femoral_shaft_proximal", "femoral_shaft_distal"),
        sided=True,
    ),
    MeasurementDefinition(
        name="acetabular_offset_{side}_mm",
        unit="mm",
        title="Acetabular offset",
        definition=(
            "Distance, measured along the inter-teardrop line, from the femoral head centre to "
            "the perpendicular to that line through the same side's teardrop inferior tip."
        ),
        sign="positive when the head centre is lateral to the teardrop",
        reference=_DASTANE_2011 + "; " + _LECERF_2009 + ".",
        normal_range=None,
        landmarks=("femoral_head_center", "teardrop"),
        sided=True,
    ),
    MeasurementDefinition(
        name="global_offset_{side}_mm",
        unit="mm",
        title="Global (hip) offset",
        definition="Femoral offset plus acetabular offset of the same side.",
        sign="as its two terms",
        reference=_LECERF_2009 + "; " + _DASTANE_2011 + " (hip offset).",
        normal_range=None,
        landmarks=("femoral_head_center", "femoral_shaft_proximal", "femoral_shaft_distal", "teardrop"),
        sided=True,
    ),
    MeasurementDefinition(
        name="neck_shaft_angle_{side}_deg",
        unit="deg",
        title="Neck-shaft angle",
        definition=(
            "Angle between the vector femoral_neck_center -> femoral_head_center and the vector "
            "femoral_shaft_proximal -> femoral_shaft_distal (the neck axis and the shaft axis)."
        ),
        sign="unsigned, in [0, 180]",
        reference=(
            "Toogood PA, Skalak A, Cooperman DR. Proximal femoral anatomy in the normal human "
            "population. Clin Orthop Relat Res. 2009;467(4):876-885 (mean 129.2 deg in 375 "
            "adult femurs); the commonly quoted adult range is 125-135 deg."
        ),
        normal_range=(125.0, 135.0),
        landmarks=("femoral_head_center", "femoral_neck_center", "femoral_shaft_proximal", "femoral_shaft_distal"),
        sided=True,
    ),
    MeasurementDefinition(
        name="lcea_{side}_deg",
        unit="deg",
        title="Lateral centre-edge angle (Wiberg)",
        definition=(
            "Angle at the femoral head centre between the pelvic vertical and the line to the "
            "acetabular lateral edge. " + _PELVIC_REFERENCE
        ),
        sign="positive when the edge is lateral of the vertical, negative when medial",
        reference=(
            "Wiberg G. Studies on dysplastic acetabula and congenital subluxation of the hip "
            "joint. Acta Chir Scand. 1939;83(Suppl 58) (< 20 deg dysplastic); reference values: "
            + _TANNAST_2015 + " (normal 23-33 deg)."
        ),
        normal_range=(23.0, 33.0),
        landmarks=("femoral_head_center", "acetabular_lateral_edge"),
        optional_landmarks=("teardrop", "ischial_tuberosity"),
        sided=True,
    ),
    MeasurementDefinition(
        name="tonnis_angle_{side}_deg",
        unit="deg",
        title="Tönnis angle (acetabular index of the sourcil)",
        definition=(
            "Angle between the pelvic horizontal through the medial end of the sourcil and the "
            "line from the medial end of the sourcil to the acetabular lateral edge. "
            + _PELVIC_REFERENCE
        ),
        sign="positive when the lateral end is higher (superior) than the medial end",
        reference=(
            "Tönnis D. Normal values of the hip joint for the evaluation of X-rays in children "
            "and adults. Clin Orthop Relat Res. 1976;(119):39-47 (normal 0-10 deg); "
            + _TANNAST_2015 + " (3-13 deg)."
        ),
        normal_range=(0.0, 10.0),
        landmarks=("sourcil_medial", "acetabular_lateral_edge"),
        optional_landmarks=("teardrop", "ischial_tuberosity"),
        sided=True,
    ),
    MeasurementDefinition(
        name="sharp_angle_{side}_deg",
        unit="deg",
        title="Sharp angle (acetabular angle)",
        definition=(
            "Angle between the inter-teardrop line and the line from the teardrop inferior tip "
            "to the acetabular lateral edge of the same side."
        ),
        sign="positive when the edge is superior to the inter-teardrop line",
        reference=(
            "Sharp IK. Acetabular dysplasia: the acetabular angle. J Bone Joint Surg Br. "
            "1961;43-B(2):268-272 (<= 42 deg normal, > 45 deg dysplastic); "
            + _TANNAST_2015 + " (normal 38-42 deg)."
        ),
        normal_range=(38.0, 42.0),
        landmarks=("teardrop", "acetabular_lateral_edge"),
        sided=True,
    ),
)

#: Every hip measurement definition, by (template) name.
DEFINITIONS: Mapping[str, MeasurementDefinition] = MappingProxyType({d.name: d for d in _DEFS})


def split_name(name: str) -> tuple[MeasurementDefinition, Side | None]:
    """The definition and the side of a concrete measurement name.

    Raises :class:`~orthoplan.errors.MeasurementError` for an unknown name.

    >>> d, side = split_name("femoral_offset_left_mm")
    >>> d.name, side.value
    ('femoral_offset_{side}_mm', 'left')
    """
    if name in DEFINITIONS and not DEFINITIONS[name].sided:
        return DEFINITIONS[name], None
    for d in _DEFS:
        if d.sided:
            for s in Side:
                if d.name.format(side=s.value) == name:
                    return d, s
    raise MeasurementError(
        f"unknown measurement {name!r}; known measurements: {', '.join(measurement_names())}"
    )


def definition_for(name: str) -> MeasurementDefinition:
    """The definition of a concrete (or template) measurement name."""
    if name in DEFINITIONS:
        return DEFINITIONS[name]
    return split_name(name)[0]


def measurement_names() -> tuple[str, ...]:
    """Every concrete measurement name, in report order (pelvis first, then right, left)."""
    out: list[str] = [d.name for d in _DEFS if not d.sided]
    for side in (Side.RIGHT, Side.LEFT):
        out += [d.name.format(side=side.value) for d in _DEFS if d.sided]
    return tuple(out)


# --------------------------------------------------------------------------- documentation


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _range(d: MeasurementDefinition) -> str:
    if d.normal_range is None:
        return "none published (compare sides)"
    lo, hi = d.normal_range
    return f"{lo:g}–{hi:g}°" if d.unit == "deg" else f"{lo:g}–{hi:g} {d.unit}"


def measurements_markdown() -> str:
    """``docs/measurements.md``, rendered from :data:`DEFINITIONS` (kept in sync by a test)."""
    lines = [
        "# Hip measurements",
        "",
        "<!-- Generated from orthoplan.measurements.definitions.DEFINITIONS by",
        "     orthoplan.measurements.definitions.measurements_markdown(); do not edit by hand. -->",
        "",
        "Every measurement is computed by `orthoplan.measurements.measure_hip` from the landmarks",
        "(see [landmarks.md](landmarks.md)) in mm **at the anatomy** (pixel points are scaled by",
        "the calibration along each axis, so an anisotropic spacing is respected) and in degrees.",
        "Sides are the patient's; per-side names carry `right` or `left` in place of `{side}`.",
        "",
        "* **Pelvic reference.** The pelvic horizontal is the inter-teardrop line when both",
        "  teardrops are given, else the bi-ischial line, else the image horizontal; LCEA and",
        "  Tönnis say which in their notes (`pelvic reference: inter-teardrop line`, `... bi-ischial",
        "  line ...`, `... image axes (pelvic tilt not corrected)`). The pelvic",
        "  vertical (superior) is the perpendicular to it that is closest to image superior",
        "  (`ImageOrientation.superior_y`); lateral is towards the patient's side",
        "  (`ImageOrientation.patient_left_x`). LLD (teardrop), acetabular and global offset and",
        "  the Sharp angle need the teardrops themselves.",
        "* **Absent, never zero.** A measurement whose landmarks are missing, or whose geometry",
        "  is degenerate (coincident points, shaft points < 1 mm apart), is left out and listed",
        "  in `Measurements.missing` with the reason (e.g. `needs lesser_trochanter_left: not",
        "  found in image`).",
        "* **Assumed scale.** When the calibration is assumed, every length carries the note",
        "  \"assumed scale\".",
        "* **Constructions.** `orthoplan.measurements.construction(name, ...)` returns the named",
        "  polylines (pixels) that illustrate each measurement for the picture and the SR.",
        "",
        "| Name | Unit | Definition | Sign convention | Adult normal range | Landmarks | Reference |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for d in _DEFS:
        lms = ", ".join(f"`{a}`" for a in d.landmarks)
        if d.optional_landmarks:
            lms += " (reference: " + " or ".join(f"`{a}`" for a in d.optional_landmarks) + ")"
        lines.append(
            f"| `{d.name}` | {d.unit} | **{_cell(d.title)}.** {_cell(d.definition)} | {_cell(d.sign)} "
            f"| {_range(d)} | {lms} | {_cell(d.reference)} |"
        )
    lines += [
        "",
        "Normal ranges are those of the cited source for adults on AP pelvis radiographs; they",
        "depend on pelvic tilt and rotation at acquisition (Tannast et al., Clin Orthop Relat Res",
        "2015;473(4):1255-1266) and are a guide, not a diagnosis.",
        "",
    ]
    return "\n".join(lines)


def landmarks_markdown() -> str:
    """``docs/landmarks.md``, rendered from :data:`orthoplan.model.LANDMARK_DEFINITIONS`."""
    lines = [
        "# Landmarks",
        "",
        "<!-- Generated from orthoplan.model.LANDMARK_DEFINITIONS by",
        "     orthoplan.measurements.definitions.landmarks_markdown(); do not edit by hand. -->",
        "",
        "The landmark vocabulary is fixed (`orthoplan.model.LandmarkName`). Each anatomy exists",
        "for both of the **patient's** sides: the name is `<anatomy>_left` or `<anatomy>_right`.",
        "Positions are image coordinates `(x, y)` = (column, row) in pixels with the DICOM SCOORD",
        "origin (see [conventions.md](conventions.md)). Circles (femoral heads) also carry a",
        "radius in pixels.",
        "",
        "| Anatomy | Names | Definition | Circle | Code (scheme, value, meaning) | Used by |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for anatomy, ld in LANDMARK_DEFINITIONS.items():
        names = f"`{anatomy}_right`, `{anatomy}_left`"
        code = f"{ld.code[0]}, `{ld.code[1]}`, \"{ld.code[2]}\""
        used = ", ".join(f"`{d.name}`" for d in _DEFS if anatomy in d.landmarks + d.optional_landmarks) or "—"
        lines.append(
            f"| `{anatomy}` | {names} | {_cell(ld.definition)} | {'yes' if ld.circle else 'no'} | {code} | {used} |"
        )
    lines.append("")
    return "\n".join(lines)
