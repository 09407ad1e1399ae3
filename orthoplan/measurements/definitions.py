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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ..errors import MeasurementError
from ..model import LANDMARK_DEFINITIONS, Measurement, Side

__all__ = [
    "MeasurementDefinition",
    "DEFINITIONS",
    "LOWER_LIMB_DEFINITIONS",
    "lower_limb_measurement_names",
    "KNEE_DEFINITIONS",
    "KNEE_VIEWS",
    "knee_measurement_names",
    "definition_for",
    "measurement_names",
    "split_name",
    "measurements_markdown",
    "landmarks_markdown",
    "IMPLAUSIBLE_NOTE",
    "plausibility_note",
    "implausible_values",
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
    #: Values outside this range are anatomically implausible for an adult or child film read
    #: correctly: they mean misplaced landmarks or a wrong scale, and are flagged
    #: (:data:`IMPLAUSIBLE_NOTE`); far wider than the normal range (pathology is plausible).
    plausible_range: tuple[float, float] | None = None
    #: anatomy used when present (e.g. the pelvic reference of LCEA), not required
    optional_landmarks: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.unit not in ("mm", "deg"):
            raise ValueError(f"{self.name}: unit must be 'mm' or 'deg'")
        if self.sided != ("{side}" in self.name):
            raise ValueError(f"{self.name}: sided definitions (only) carry '{{side}}' in their name")
        if not self.name.endswith("_" + self.unit):
            raise ValueError(f"{self.name}: the name must end with its unit")
        if self.plausible_range is not None and self.normal_range is not None and not (
                self.plausible_range[0] <= self.normal_range[0] <= self.normal_range[1] <= self.plausible_range[1]):
            raise ValueError(f"{self.name}: the plausible range must contain the normal range")
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
        plausible_range=(-60.0, 60.0),
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
        plausible_range=(-60.0, 60.0),
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
        plausible_range=(10.0, 75.0),
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
        plausible_range=(10.0, 60.0),
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
        plausible_range=(30.0, 120.0),
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
        plausible_range=(90.0, 170.0),
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
        plausible_range=(-40.0, 70.0),
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
        plausible_range=(-30.0, 50.0),
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
        plausible_range=(20.0, 65.0),
        landmarks=("teardrop", "acetabular_lateral_edge"),
        sided=True,
    ),
)

#: Every hip measurement definition, by (template) name.
DEFINITIONS: Mapping[str, MeasurementDefinition] = MappingProxyType({d.name: d for d in _DEFS})

# --------------------------------------------------------------------------- lower limb (long-leg)

_PALEY_2002 = (
    "Paley D. Principles of Deformity Correction. Berlin: Springer; 2002, chapter 1 (normal "
    "lower-limb alignment and joint orientation) and chapter 2 (the malalignment test)"
)
_PALEY_1994 = (
    "Paley D, Herzenberg JE, Tetsworth K, McKie J, Bhave A. Deformity planning for frontal and "
    "sagittal plane corrective osteotomies. Orthop Clin North Am. 1994;25(3):425-465"
)
_MORELAND_1987 = (
    "Moreland JR, Bassett LW, Hanker GJ. Radiographic analysis of the axial alignment of the "
    "lower extremity. J Bone Joint Surg Am. 1987;69(5):745-749"
)

_LIMB_FRAME = (
    "Medial and lateral are the patient's, from the image orientation "
    "(ImageOrientation.patient_left_x); proximal is towards the femoral head."
)

_LOWER_DEFS = (
    MeasurementDefinition(
        name="hka_{side}_deg",
        unit="deg",
        title="Hip-knee-ankle angle (mechanical femorotibial angle)",
        definition=(
            "Angle between the femoral mechanical axis (femoral head centre -> femoral knee "
            "centre) and the tibial mechanical axis (tibial knee centre -> ankle centre), as the "
            "deviation from a straight limb: 0 when the axes are collinear. " + _LIMB_FRAME
        ),
        sign=(
            "varus negative, valgus positive (the classic medial HKA angle is 180 + this value); "
            "e.g. -6 is 6 deg of varus"
        ),
        reference=_PALEY_2002 + "; " + _MORELAND_1987 + " (mean 1.3 deg varus, SD 2 deg).",
        normal_range=(-3.0, 3.0),
        plausible_range=(-30.0, 30.0),
        landmarks=("femoral_head_center", "femoral_knee_center", "tibial_knee_center", "ankle_center"),
        sided=True,
    ),
    MeasurementDefinition(
        name="mad_{side}_mm",
        unit="mm",
        title="Mechanical axis deviation",
        definition=(
            "Perpendicular distance from the centre of the knee to the mechanical axis of the limb "
            "(the weight-bearing line from the femoral head centre to the ankle centre). The knee "
            "centre is the tibial knee centre (between the tibial spines), else the femoral knee "
            "centre (the note says which). Its note also carries the malalignment test's verdict. "
            + _LIMB_FRAME
        ),
        sign="positive when the axis passes medial to the knee centre (varus), negative lateral (valgus)",
        reference=_PALEY_2002 + " (normal 8 +/- 7 mm medial); " + _PALEY_1994 + ".",
        normal_range=(1.0, 15.0),
        plausible_range=(-100.0, 100.0),
        landmarks=("femoral_head_center", "ankle_center"),
        optional_landmarks=("tibial_knee_center", "femoral_knee_center"),
        sided=True,
    ),
    MeasurementDefinition(
        name="mlpfa_{side}_deg",
        unit="deg",
        title="Mechanical lateral proximal femoral angle (mLPFA)",
        definition=(
            "Lateral angle at the femoral head centre between the femoral mechanical axis (towards "
            "the femoral knee centre) and the line to the tip of the greater trochanter."
        ),
        sign="unsigned, in [0, 180]; above the range: a high trochanter (e.g. coxa vara)",
        reference=_PALEY_2002 + " (normal 90 deg, 85-95 deg).",
        normal_range=(85.0, 95.0),
        plausible_range=(60.0, 120.0),
        landmarks=("femoral_head_center", "femoral_knee_center", "greater_trochanter"),
        sided=True,
    ),
    MeasurementDefinition(
        name="mldfa_{side}_deg",
        unit="deg",
        title="Mechanical lateral distal femoral angle (mLDFA)",
        definition=(
            "Lateral angle between the femoral mechanical axis (from the femoral knee centre towards "
            "the head centre) and the distal femoral joint line (the tangent through the most "
            "distal points of the medial and lateral condyles)."
        ),
        sign="unsigned; above 90 deg: distal femoral varus, below 85 deg: distal femoral valgus",
        reference=_PALEY_2002 + " (normal 87.5 deg, 85-90 deg).",
        normal_range=(85.0, 90.0),
        plausible_range=(65.0, 115.0),
        landmarks=("femoral_head_center", "femoral_knee_center", "femoral_condyle_medial", "femoral_condyle_lateral"),
        sided=True,
    ),
    MeasurementDefinition(
        name="mpta_{side}_deg",
        unit="deg",
        title="Medial proximal tibial angle (MPTA)",
        definition=(
            "Medial angle between the tibial mechanical axis (from the tibial knee centre towards the "
            "ankle centre) and the proximal tibial joint line (through the medial and lateral "
            "margins of the plateau)."
        ),
        sign="unsigned; below 85 deg: proximal tibial varus, above 90 deg: proximal tibial valgus",
        reference=_PALEY_2002 + " (normal 87.5 deg, 85-90 deg).",
        normal_range=(85.0, 90.0),
        plausible_range=(65.0, 115.0),
        landmarks=("tibial_knee_center", "ankle_center", "tibial_plateau_medial", "tibial_plateau_lateral"),
        sided=True,
    ),
    MeasurementDefinition(
        name="ldta_{side}_deg",
        unit="deg",
        title="Lateral distal tibial angle (LDTA)",
        definition=(
            "Lateral angle between the tibial mechanical axis (from the ankle centre towards the "
            "tibial knee centre) and the distal tibial joint line (through the medial and lateral "
            "ends of the plafond)."
        ),
        sign="unsigned; above the range: distal tibial varus, below: distal tibial valgus",
        reference=_PALEY_2002 + " (normal 89 deg, 86-92 deg).",
        normal_range=(86.0, 92.0),
        plausible_range=(65.0, 115.0),
        landmarks=("tibial_knee_center", "ankle_center", "tibial_plafond_medial", "tibial_plafond_lateral"),
        sided=True,
    ),
    MeasurementDefinition(
        name="jlca_{side}_deg",
        unit="deg",
        title="Joint-line convergence angle (JLCA)",
        definition=(
            "Angle between the distal femoral joint line (condylar tangent) and the proximal tibial "
            "joint line (plateau)."
        ),
        sign=(
            "positive when the lines converge medially (the joint opens laterally: a varus "
            "contribution), negative when they converge laterally (valgus)"
        ),
        reference=_PALEY_2002 + " (normal 0-2 deg); " + _PALEY_1994 + ".",
        normal_range=(0.0, 2.0),
        plausible_range=(-15.0, 15.0),
        landmarks=("femoral_condyle_medial", "femoral_condyle_lateral", "tibial_plateau_medial", "tibial_plateau_lateral"),
        sided=True,
    ),
    MeasurementDefinition(
        name="ama_{side}_deg",
        unit="deg",
        title="Anatomical-mechanical angle of the femur (AMA)",
        definition=(
            "Angle between the femoral anatomical axis (the mid-diaphyseal line through "
            "femoral_shaft_proximal and femoral_shaft_distal) and the femoral mechanical axis "
            "(femoral head centre -> femoral knee centre)."
        ),
        sign="unsigned, in [0, 90]",
        reference=_PALEY_2002 + " (normal 7 +/- 2 deg).",
        normal_range=(5.0, 9.0),
        plausible_range=(0.0, 15.0),
        landmarks=("femoral_head_center", "femoral_knee_center", "femoral_shaft_proximal", "femoral_shaft_distal"),
        sided=True,
    ),
    MeasurementDefinition(
        name="femoral_length_{side}_mm",
        unit="mm",
        title="Femoral mechanical length",
        definition="Distance from the femoral head centre to the femoral knee centre.",
        sign="unsigned",
        reference=_PALEY_2002 + " (leg-length assessment on the standing long-leg radiograph).",
        normal_range=None,
        plausible_range=(120.0, 600.0),
        landmarks=("femoral_head_center", "femoral_knee_center"),
        sided=True,
    ),
    MeasurementDefinition(
        name="tibial_length_{side}_mm",
        unit="mm",
        title="Tibial mechanical length",
        definition="Distance from the tibial knee centre to the ankle centre.",
        sign="unsigned",
        reference=_PALEY_2002 + " (leg-length assessment on the standing long-leg radiograph).",
        normal_range=None,
        plausible_range=(90.0, 500.0),
        landmarks=("tibial_knee_center", "ankle_center"),
        sided=True,
    ),
    MeasurementDefinition(
        name="lld_long_leg_mm",
        unit="mm",
        title="Leg-length difference (long-leg view)",
        definition=(
            "Left leg length minus right leg length, each the femoral plus the tibial mechanical "
            "length (independent of the limb's alignment and of pelvic obliquity)."
        ),
        sign="positive: left leg longer",
        reference=_PALEY_2002 + " (leg-length assessment on the standing long-leg radiograph).",
        normal_range=None,
        plausible_range=(-80.0, 80.0),
        landmarks=("femoral_head_center", "femoral_knee_center", "tibial_knee_center", "ankle_center"),
        sided=False,
    ),
)

#: Every lower-limb (standing AP long-leg) measurement definition, by (template) name.
LOWER_LIMB_DEFINITIONS: Mapping[str, MeasurementDefinition] = MappingProxyType({d.name: d for d in _LOWER_DEFS})

# --------------------------------------------------------------------------- AP and lateral knee views

_BRAZIER_1996 = (
    "Brazier J, Migaud H, Gougeon F, Cotten A, Fontaine C, Duquennoy A. Evaluation of methods for "
    "radiographic measurement of the tibial slope. A study of 83 healthy knees. Rev Chir Orthop "
    "Reparatrice Appar Mot. 1996;82(3):195-200"
)
_YOO_2008 = (
    "Yoo JH, Chang CB, Shin KS, Seong SC, Kim TK. Anatomical references to assess the posterior "
    "tibial slope in total knee arthroplasty: a comparison of 5 anatomical axes. J Arthroplasty. "
    "2008;23(4):586-592"
)
_BELLEMANS_2002 = (
    "Bellemans J, Banks S, Victor J, Vandenneucker H, Moemans A. Fluoroscopic analysis of the "
    "kinematics of deep flexion in total knee arthroplasty. Influence of posterior condylar "
    "offset. J Bone Joint Surg Br. 2002;84(1):50-53"
)
_TKA_SIZING = (
    "Hitt K, Shurman JR 2nd, Greene K, et al. Anthropometric measurements of the human knee: "
    "correlation to the sizing of current knee arthroplasty systems. J Bone Joint Surg Am. "
    "2003;85-A Suppl 4:115-122; Mahoney OM, Kinsey T. Overhang of the femoral component in total "
    "knee arthroplasty: risk factors and clinical consequences. J Bone Joint Surg Am. "
    "2010;92(5):1115-1121"
)
_KNEE_AP_FRAME = (
    "AP knee view. Medial and lateral come from the landmark names (the patient's); the femoral "
    "anatomical axis runs from knee_femoral_axis_proximal to knee_femoral_axis_distal, the "
    "proximal tibial anatomical axis from knee_tibial_axis_proximal to knee_tibial_axis_distal "
    "(mid-diaphyseal points, docs/landmarks.md)."
)
_KNEE_LAT_FRAME = (
    "Lateral knee view of one knee (its side from ImageLaterality or the caller). Anterior and "
    "posterior come from the landmarks themselves, never from the screen."
)

_KNEE_AP_DEFS = (
    MeasurementDefinition(
        name="aldfa_{side}_deg",
        unit="deg",
        title="Anatomical lateral distal femoral angle (aLDFA)",
        definition=(
            "Lateral angle between the distal femoral anatomical axis (from knee_femoral_axis_distal "
            "towards knee_femoral_axis_proximal) and the distal femoral joint line (the tangent "
            "through the most distal points of the medial and lateral condyles). " + _KNEE_AP_FRAME
        ),
        sign="unsigned; above the range: distal femoral varus, below: distal femoral valgus",
        reference=_PALEY_2002 + " (normal 81 deg, 79-83 deg).",
        normal_range=(79.0, 83.0),
        plausible_range=(60.0, 110.0),
        landmarks=("knee_femoral_axis_proximal", "knee_femoral_axis_distal", "femoral_condyle_medial",
                   "femoral_condyle_lateral"),
        sided=True,
    ),
    MeasurementDefinition(
        name="ampta_{side}_deg",
        unit="deg",
        title="Medial proximal tibial angle to the tibial anatomical axis (MPTA, AP knee)",
        definition=(
            "Medial angle between the proximal tibial anatomical axis (from knee_tibial_axis_proximal "
            "towards knee_tibial_axis_distal) and the proximal tibial joint line (through the medial "
            "and lateral margins of the plateau). In the tibia the anatomical and mechanical axes are "
            "nearly parallel, so this is Paley's MPTA (mpta_{side}_deg on the long-leg view). "
            + _KNEE_AP_FRAME
        ),
        sign="unsigned; below 85 deg: proximal tibial varus, above 90 deg: proximal tibial valgus",
        reference=_PALEY_2002 + " (normal 87 deg, 85-90 deg; the same for the anatomical and mechanical axes).",
        normal_range=(85.0, 90.0),
        plausible_range=(65.0, 115.0),
        landmarks=("knee_tibial_axis_proximal", "knee_tibial_axis_distal", "tibial_plateau_medial",
                   "tibial_plateau_lateral"),
        sided=True,
    ),
    MeasurementDefinition(
        name="fta_{side}_deg",
        unit="deg",
        title="Femorotibial anatomical angle (anatomical tibiofemoral angle)",
        definition=(
            "Angle between the distal femoral anatomical axis (proximal -> distal) and the proximal "
            "tibial anatomical axis (proximal -> distal), as the deviation from collinear axes; "
            "lateral is the direction from femoral_condyle_medial to femoral_condyle_lateral. "
            + _KNEE_AP_FRAME
        ),
        sign=(
            "valgus positive (the tibia turns laterally from the femoral axis), varus negative; the "
            "classic lateral femorotibial angle is 180 minus this value"
        ),
        reference=(
            _PALEY_2002 + " (from aLDFA 81 and MPTA 87 deg the anatomical axes meet at about 6 deg "
            "valgus); " + _MORELAND_1987 + "."
        ),
        normal_range=(4.0, 8.0),
        plausible_range=(-20.0, 25.0),
        landmarks=("knee_femoral_axis_proximal", "knee_femoral_axis_distal", "knee_tibial_axis_proximal",
                   "knee_tibial_axis_distal", "femoral_condyle_medial", "femoral_condyle_lateral"),
        sided=True,
    ),
    MeasurementDefinition(
        name="femoral_condylar_width_{side}_mm",
        unit="mm",
        title="Femoral condylar medial-lateral width",
        definition=(
            "Distance between the most medial and the most lateral points of the distal femur "
            "(femoral_epicondyle_medial and femoral_epicondyle_lateral) on the AP knee view: the "
            "bony ML width a femoral component is sized to (no ML overhang)."
        ),
        sign="unsigned",
        reference=_TKA_SIZING + ".",
        normal_range=None,
        plausible_range=(40.0, 110.0),
        landmarks=("femoral_epicondyle_medial", "femoral_epicondyle_lateral"),
        sided=True,
    ),
    MeasurementDefinition(
        name="tibial_plateau_width_{side}_mm",
        unit="mm",
        title="Tibial plateau medial-lateral width",
        definition=(
            "Distance between the medial and lateral margins of the tibial plateau "
            "(tibial_plateau_medial, tibial_plateau_lateral) on the AP knee view: the width a "
            "tibial tray is sized to."
        ),
        sign="unsigned",
        reference=_TKA_SIZING + ".",
        normal_range=None,
        plausible_range=(40.0, 110.0),
        landmarks=("tibial_plateau_medial", "tibial_plateau_lateral"),
        sided=True,
    ),
)

_KNEE_LAT_DEFS = (
    MeasurementDefinition(
        name="posterior_tibial_slope_{side}_deg",
        unit="deg",
        title="Posterior tibial slope (to the proximal tibial anatomical axis)",
        definition=(
            "Angle between the medial plateau line (tibial_plateau_anterior -> "
            "tibial_plateau_posterior, the subchondral rims) and the perpendicular to the proximal "
            "tibial anatomical axis (PTAA: knee_tibial_axis_proximal -> knee_tibial_axis_distal, the "
            "midpoints of the tibial diaphysis about 5 and 15 cm below the joint), on the lateral "
            "view. " + _KNEE_LAT_FRAME
        ),
        sign="positive when the plateau descends posteriorly (posterior slope), negative anterior slope",
        reference=(
            _BRAZIER_1996 + " (the proximal tibial anatomical axis as the reference); " + _YOO_2008
            + " (mean about 10 deg to the PTAA in a TKA population; reported normal means 7-10 deg)."
        ),
        normal_range=(5.0, 12.0),
        plausible_range=(-10.0, 30.0),
        landmarks=("knee_tibial_axis_proximal", "knee_tibial_axis_distal", "tibial_plateau_anterior",
                   "tibial_plateau_posterior"),
        sided=True,
    ),
    MeasurementDefinition(
        name="femoral_ap_dimension_{side}_mm",
        unit="mm",
        title="Femoral anteroposterior dimension",
        definition=(
            "Distance from the anterior femoral cortex (femoral_anterior_cortex) to the posterior "
            "condylar tangent (femoral_posterior_condyle), measured perpendicular to the distal "
            "femoral anatomical axis (knee_femoral_axis_proximal -> knee_femoral_axis_distal) on the "
            "lateral view: the anterior-referencing AP size of a femoral component. "
            + _KNEE_LAT_FRAME
        ),
        sign="unsigned",
        reference=_TKA_SIZING + ".",
        normal_range=None,
        plausible_range=(35.0, 90.0),
        landmarks=("knee_femoral_axis_proximal", "knee_femoral_axis_distal", "femoral_anterior_cortex",
                   "femoral_posterior_condyle"),
        sided=True,
    ),
    MeasurementDefinition(
        name="posterior_condylar_offset_{side}_mm",
        unit="mm",
        title="Posterior condylar offset (PCO)",
        definition=(
            "Distance from the posterior condylar tangent (femoral_posterior_condyle) to the "
            "prolonged posterior cortex of the femoral diaphysis (the line through "
            "femoral_posterior_cortex parallel to the distal femoral anatomical axis), measured "
            "perpendicular to that axis on the lateral view. " + _KNEE_LAT_FRAME
        ),
        sign="positive when the condyles lie posterior to the cortex line",
        reference=_BELLEMANS_2002 + " (compare with the other side and with the planned component).",
        normal_range=None,
        plausible_range=(10.0, 45.0),
        landmarks=("knee_femoral_axis_proximal", "knee_femoral_axis_distal", "femoral_posterior_cortex",
                   "femoral_posterior_condyle"),
        sided=True,
    ),
)

#: The views of the knee measured by :func:`orthoplan.measurements.knee.measure_knee`.
KNEE_VIEWS = ("knee-ap", "knee-lateral")
#: Knee-view measurement definitions by (template) name; ``jlca_{side}_deg`` (AP knee) is the
#: long-leg definition, reused.
KNEE_DEFINITIONS: Mapping[str, MeasurementDefinition] = MappingProxyType(
    {d.name: d for d in _KNEE_AP_DEFS + _KNEE_LAT_DEFS}
)


def knee_measurement_names(view: str, sides: tuple[Side, ...] = (Side.RIGHT, Side.LEFT)) -> tuple[str, ...]:
    """Every concrete measurement name of a knee view, per side (right, then left).

    >>> knee_measurement_names("knee-lateral", (Side.LEFT,))
    ('posterior_tibial_slope_left_deg', 'femoral_ap_dimension_left_mm', 'posterior_condylar_offset_left_mm')
    """
    if view == "knee-ap":
        defs = _KNEE_AP_DEFS[:2] + (LOWER_LIMB_DEFINITIONS["jlca_{side}_deg"],) + _KNEE_AP_DEFS[2:]
    elif view == "knee-lateral":
        defs = _KNEE_LAT_DEFS
    else:
        raise MeasurementError(f"unknown knee view {view!r}: one of {', '.join(KNEE_VIEWS)}")
    return tuple(d.name.format(side=s.value) for s in sides for d in defs)


def _names(defs: tuple[MeasurementDefinition, ...]) -> tuple[str, ...]:
    out: list[str] = [d.name for d in defs if not d.sided]
    for side in (Side.RIGHT, Side.LEFT):
        out += [d.name.format(side=side.value) for d in defs if d.sided]
    return tuple(out)


def lower_limb_measurement_names() -> tuple[str, ...]:
    """Every concrete lower-limb measurement name, in report order (limb pair, then right, left).

    >>> lower_limb_measurement_names()[:2]
    ('lld_long_leg_mm', 'hka_right_deg')
    """
    return _names(_LOWER_DEFS)


def split_name(name: str) -> tuple[MeasurementDefinition, Side | None]:
    """The definition and the side of a concrete measurement name.

    Raises :class:`~orthoplan.errors.MeasurementError` for an unknown name.

    >>> d, side = split_name("femoral_offset_left_mm")
    >>> d.name, side.value
    ('femoral_offset_{side}_mm', 'left')
    """
    for table in (DEFINITIONS, LOWER_LIMB_DEFINITIONS):
        if name in table and not table[name].sided:
            return table[name], None
    for d in _DEFS + _LOWER_DEFS + _KNEE_AP_DEFS + _KNEE_LAT_DEFS:
        if d.sided:
            for s in Side:
                if d.name.format(side=s.value) == name:
                    return d, s
    raise MeasurementError(
        f"unknown measurement {name!r}; known measurements: "
        f"{', '.join(measurement_names() + lower_limb_measurement_names() + knee_measurement_names('knee-ap') + knee_measurement_names('knee-lateral'))}"
    )


#: The start of the note on a value outside its definition's plausible range.
IMPLAUSIBLE_NOTE = "implausible: check the landmarks"


def plausibility_note(name: str, value: float) -> str | None:
    """The note for a value outside its plausible range, else ``None``.

    >>> plausibility_note("lld_teardrop_mm", -180.0)
    'implausible: check the landmarks (outside the plausible -60 to 60 mm)'
    >>> plausibility_note("lld_teardrop_mm", 12.0) is None
    True
    """
    d = definition_for(name)
    r = d.plausible_range
    if r is None or r[0] <= value <= r[1]:
        return None
    return f"{IMPLAUSIBLE_NOTE} (outside the plausible {r[0]:g} to {r[1]:g} {d.unit})"


def implausible_values(*groups: Iterable[Measurement]) -> list[str]:
    """``"name = value unit (plausible lo to hi)"`` for every value outside its plausible range.

    >>> from orthoplan.model import Measurement
    >>> implausible_values([Measurement("lld_teardrop_mm", -180.0, "mm"), Measurement("lcea_left_deg", 30.0, "deg")])
    ['lld_teardrop_mm = -180.0 mm (plausible -60 to 60 mm)']
    """
    out = []
    for group in groups:
        for m in group:
            r = definition_for(m.name).plausible_range
            if r is not None and not (r[0] <= m.value <= r[1]):
                out.append(f"{m.name} = {m.value:.1f} {m.unit} (plausible {r[0]:g} to {r[1]:g} {m.unit})")
    return out


def definition_for(name: str) -> MeasurementDefinition:
    """The definition of a concrete (or template) measurement name."""
    if name in DEFINITIONS:
        return DEFINITIONS[name]
    if name in LOWER_LIMB_DEFINITIONS:
        return LOWER_LIMB_DEFINITIONS[name]
    if name in KNEE_DEFINITIONS:
        return KNEE_DEFINITIONS[name]
    return split_name(name)[0]


def measurement_names() -> tuple[str, ...]:
    """Every concrete hip (AP pelvis) measurement name, in report order (pelvis first, then
    right, left); :func:`lower_limb_measurement_names` lists the long-leg ones."""
    return _names(_DEFS)


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
        "* **Interval.** Every length carries its 95 % interval (`Measurement.interval`): the",
        "  calibration's interval applied to the length (a length scales with mm per pixel). Where",
        "  every landmark a value uses carries a positional uncertainty (`Landmark.sigma_px`: the",
        "  learned detectors' points and a person's, on an AP pelvis/hip film with a femoral head",
        "  circle, an AP knee film with both epicondyles or a lateral knee film with the anterior",
        "  cortex and the posterior condyle; see `orthoplan.landmarks.uncertainty` and",
        "  docs/accuracy.md), it is propagated to",
        "  the value to first order (each landmark moved by ±σ along x and y through the",
        "  measurement's own computation, the changes added in quadrature, the landmarks taken as",
        "  independent) and its 95 % half-width (1.96 SD) is added in quadrature to the",
        "  calibration's: lengths and angles then both carry an interval. The σ model comes from",
        "  373×454 px films and is conservative on sharper ones. The femoral shaft points' σ is their",
        "  error across the shaft (a move along it changes no value that uses them). On held-out real",
        "  films the detector's and the reading's values differ by no more than their two intervals",
        "  combined on 90-100 % of hips per measurement, and of knees on 91-100 % (docs/accuracy.md,",
        "  \"Are the intervals honest?\"). Long-leg landmarks (no real standing long-leg film) and",
        "  the classical detectors' points carry no σ: their lengths keep the calibration's interval",
        "  and their angles carry none (a long-leg film's femoral heads take the AP pelvis table's).",
        "  Shown in the CLI (text and",
        "  JSON `interval_95`), the batch table (`<name>_lo95`, `<name>_hi95`), the plan's JSON, the",
        "  SR, the picture and the PDF.",
        "* **Plausible range.** A value outside its plausible range (in brackets in the table:",
        "  far wider than normal, so pathology stays plausible) means misplaced landmarks or a wrong",
        "  scale: it carries the note \"implausible: check the landmarks (...)\", shown by the CLI,",
        "  the SR and the batch table (`implausible`), and `store_plan` / `orthoplan plan --archive`",
        "  refuse such a plan unless it is stored as a draft (`allow_implausible=True`, `--draft`).",
        "* **Constructions.** `orthoplan.measurements.construction(name, ...)` returns the named",
        "  polylines (pixels) that illustrate each measurement for the picture and the SR.",
        "",
        "| Name | Unit | Definition | Sign convention | Adult normal range (plausible range) | Landmarks | Reference |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += _rows(_DEFS, "reference")
    lines += [
        "",
        "Normal ranges are those of the cited source for adults on AP pelvis radiographs; they",
        "depend on pelvic tilt and rotation at acquisition (Tannast et al., Clin Orthop Relat Res",
        "2015;473(4):1255-1266) and are a guide, not a diagnosis.",
        "",
        "# Lower-limb measurements (standing AP long-leg radiograph)",
        "",
        "Computed by `orthoplan.measurements.measure_lower_limb` (`orthoplan.pipeline` uses it for",
        "`view=\"long-leg\"`), with the same rules: mm at the anatomy, the patient's sides, absent",
        "values listed with the reason, \"assumed scale\" on lengths. Medial and lateral are the",
        "patient's, from `ImageOrientation.patient_left_x`; nothing depends on the limb being",
        "vertical in the image.",
        "",
        "* **Axes.** Femoral mechanical axis: femoral head centre → femoral knee centre (top of the",
        "  intercondylar notch). Tibial mechanical axis: tibial knee centre (between the tibial",
        "  spines) → ankle centre (talar dome). Limb mechanical axis (weight-bearing line): femoral",
        "  head centre → ankle centre. Femoral anatomical axis: `femoral_shaft_proximal` →",
        "  `femoral_shaft_distal` (mid-diaphysis).",
        "* **HKA sign.** `hka_{side}_deg` is the deviation from a straight limb, **varus negative,",
        "  valgus positive** (−6 = 6° varus; the classic medial HKA angle is 180 + value).",
        "* **MAD sign.** `mad_{side}_mm` is **positive medial** (axis medial to the knee centre,",
        "  varus), negative lateral.",
        "* **Malalignment test (Paley).** `orthoplan.measurements.malalignment_test` returns a",
        "  `MalalignmentVerdict`: (1) MAD outside 1–15 mm medial → varus (> 15) or valgus (< 1)",
        "  malalignment; (2) mLDFA outside 85–90° → femoral origin (> 90 varus, < 85 valgus);",
        "  (3) MPTA outside 85–90° → tibial origin (< 85 varus, > 90 valgus); (4) JLCA outside",
        "  0–2° → joint-line origin (> 2 varus, < 0 valgus). Origins in the direction of the",
        "  malalignment are its causes; abnormal angles in the other direction are listed as",
        "  compensating. The verdict is also written as a note on `mad_{side}_mm`",
        "  (`malalignment test: varus; origin: tibial`).",
        "",
        "| Name | Unit | Definition | Sign convention | Adult normal range (plausible range) | Landmarks | Reference |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += _rows(_LOWER_DEFS, "knee centre")
    lines += [
        "",
        "Normal ranges are Paley's for adults (mean ± about 2.5°) and are a guide, not a diagnosis;",
        "the frontal-plane angles assume a true AP of the knee (patella forward): rotation of the",
        "limb changes them.",
        "",
        "# Knee measurements (AP and lateral knee radiographs)",
        "",
        "Computed by `orthoplan.measurements.measure_knee` (`orthoplan.pipeline` uses it for",
        "`view=\"knee-ap\"` and `view=\"knee-lateral\"`), with the same rules: mm at the anatomy,",
        "the patient's sides, absent values listed with the reason, \"assumed scale\" on lengths.",
        "Only the sides that have knee landmarks are measured (a lateral view shows one knee).",
        "",
        "* **Axes.** A knee film does not show the hip or the ankle: the femoral axis is the distal",
        "  femoral **anatomical** axis (`knee_femoral_axis_proximal` → `knee_femoral_axis_distal`,",
        "  mid-diaphyseal points about 15 and 9 cm above the joint) and the tibial axis the proximal",
        "  tibial anatomical axis (`knee_tibial_axis_proximal` → `knee_tibial_axis_distal`, about 5",
        "  and 15 cm below the plateau). The posterior tibial slope is measured to the latter (Brazier",
        "  et al.'s proximal tibial anatomical axis).",
        "* **AP knee.** `aldfa`, `ampta`, `jlca` (the long-leg definition), `fta` (valgus positive)",
        "  and the femoral condylar and tibial plateau widths that size a total knee.",
        "* **Lateral knee.** Posterior tibial slope, femoral AP dimension (anterior cortex to",
        "  posterior condylar tangent, perpendicular to the femoral axis; sizes the femoral",
        "  component with `template_knee(..., lateral=plan)`) and posterior condylar offset.",
        "",
        "| Name | Unit | Definition | Sign convention | Adult normal range (plausible range) | Landmarks | Reference |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += _rows(_KNEE_AP_DEFS + _KNEE_LAT_DEFS, "optional")
    lines += [
        "",
        "Knee-view angles depend on the limb's rotation at acquisition (a true AP with the patella",
        "forward; a true lateral with the posterior condyles superimposed).",
        "",
    ]
    return "\n".join(lines)


def _plausible(d: MeasurementDefinition) -> str:
    if d.plausible_range is None:
        return ""
    return f" (plausible {d.plausible_range[0]:g} to {d.plausible_range[1]:g})"


def _rows(defs: tuple[MeasurementDefinition, ...], optional_word: str) -> list[str]:
    out = []
    for d in defs:
        lms = ", ".join(f"`{a}`" for a in d.landmarks)
        if d.optional_landmarks:
            lms += f" ({optional_word}: " + " or ".join(f"`{a}`" for a in d.optional_landmarks) + ")"
        out.append(
            f"| `{d.name}` | {d.unit} | **{_cell(d.title)}.** {_cell(d.definition)} | {_cell(d.sign)} "
            f"| {_range(d)}{_plausible(d)} | {lms} | {_cell(d.reference)} |"
        )
    return out


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
        used = ", ".join(
            f"`{d.name}`" for d in _DEFS + _LOWER_DEFS + _KNEE_AP_DEFS + _KNEE_LAT_DEFS
            if anatomy in d.landmarks + d.optional_landmarks
        ) or "—"
        lines.append(
            f"| `{anatomy}` | {names} | {_cell(ld.definition)} | {'yes' if ld.circle else 'no'} | {code} | {used} |"
        )
    lines.append("")
    return "\n".join(lines)
