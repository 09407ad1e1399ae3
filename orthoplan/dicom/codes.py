"""Every code orthoplan writes into DICOM: standard ones (DCM, SCT, UCUM, UMLS) where they
exist, else the private coding scheme ``99ORTHOPLAN``.

The private scheme is declared in each SR's Coding Scheme Identification Sequence
(:data:`CODING_SCHEME`) and documented in ``docs/dicom.md``; :func:`code_table_markdown`
renders the table there. Code values are at most 16 characters (VR SH) unless they come from
:data:`orthoplan.model.LANDMARK_DEFINITIONS` (written as Long Code Value then).

Examples
--------
>>> MEASUREMENT_CODES["lcea_{side}_deg"].value
'LCEA'
>>> UNITS["mm"].scheme_designator
'UCUM'
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from pydicom.sr.coding import Code

from ..model import LANDMARK_DEFINITIONS, CalibrationSource, ImplantKind, LandmarkSource, Side

#: Designator of the private coding scheme (``99`` prefix: local, PS3.16 section 8.2).
SCHEME = "99ORTHOPLAN"
SCHEME_NAME = "orthoplan surgical planning codes"
SCHEME_ORGANIZATION = "orthoplan project (docs/dicom.md)"


def _p(value: str, meaning: str) -> Code:
    if len(value) > 16:
        raise ValueError(f"private code value {value!r} is longer than 16 characters")
    return Code(value, SCHEME, meaning)


# --------------------------------------------------------------------------- standard codes

#: Title of the report (CID 7021).
IMAGING_MEASUREMENT_REPORT = Code("126000", "DCM", "Imaging Measurement Report")
#: Procedure reported (TID 1500 row 4, from CID 100 "Quantitative Diagnostic Imaging
#: Procedures"): DCM 112342 "Generic Planning for Hip Replacement" is not in CID 100, and the
#: PixelMed TID validator (2022) knows neither it nor LN 43468-8 "XR unspecified body region".
PROCEDURE_IMAGING = Code("363679005", "SCT", "Imaging procedure")
#: TID 1500 row 12: the document-level qualitative evaluations container.
QUALITATIVE_EVALUATIONS = Code("C0034375", "UMLS", "Qualitative Evaluations")
IMAGING_MEASUREMENTS = Code("126010", "DCM", "Imaging Measurements")
MEASUREMENT_GROUP = Code("125007", "DCM", "Measurement Group")
TRACKING_IDENTIFIER = Code("112039", "DCM", "Tracking Identifier")
TRACKING_UID = Code("112040", "DCM", "Tracking Unique Identifier")
FINDING = Code("121071", "DCM", "Finding")
FINDING_SITE = Code("363698007", "SCT", "Finding Site")
LATERALITY = Code("272741003", "SCT", "Laterality")
TOPOGRAPHICAL_MODIFIER = Code("106233006", "SCT", "Topographical modifier")
IMAGE_REGION = Code("111030", "DCM", "Image Region")
OBSERVER_TYPE = Code("121005", "DCM", "Observer Type")
PERSON = Code("121006", "DCM", "Person")
PERSON_OBSERVER_NAME = Code("121008", "DCM", "Person Observer Name")
IMAGE_LIBRARY = Code("111028", "DCM", "Image Library")
MODALITY = Code("121139", "DCM", "Modality")
FRAME_OF_REFERENCE_UID = Code("112227", "DCM", "Frame of Reference UID")
PIXEL_DATA_ROWS = Code("110910", "DCM", "Pixel Data Rows")
PIXEL_DATA_COLUMNS = Code("110911", "DCM", "Pixel Data Columns")
IMAGE_LIBRARY_GROUP = Code("126200", "DCM", "Image Library Group")
SOURCE = Code("260753009", "SCT", "Source")
PROCEDURE_REPORTED = Code("121058", "DCM", "Procedure reported")
LANGUAGE = Code("121049", "DCM", "Language of Content Item and Descendants")
ENGLISH_US = Code("en-US", "RFC5646", "English (United States)")
DEVICE = Code("121007", "DCM", "Device")
DEVICE_OBSERVER_UID = Code("121012", "DCM", "Device Observer UID")
DEVICE_OBSERVER_NAME = Code("121013", "DCM", "Device Observer Name")
DEVICE_OBSERVER_MANUFACTURER = Code("121014", "DCM", "Device Observer Manufacturer")
DEVICE_OBSERVER_MODEL_NAME = Code("121015", "DCM", "Device Observer Model Name")

LEFT = Code("7771000", "SCT", "Left")
RIGHT = Code("24028007", "SCT", "Right")
PROXIMAL = Code("40415009", "SCT", "Proximal")
DISTAL = Code("46053002", "SCT", "Distal")
YES = Code("373066001", "SCT", "Yes")
NO = Code("373067005", "SCT", "No")
HIP_JOINT = Code("24136001", "SCT", "Hip joint")
LOWER_LIMB = Code("61685007", "SCT", "Lower limb")
PELVIS = Code("816092008", "SCT", "Pelvis")
RADIUS = Code("131190003", "SCT", "Radius")
MAGNIFICATION = Code("399163009", "SCT", "Magnification")

CALIBRATION = Code("122505", "DCM", "Calibration")
CALIBRATION_FACTOR = Code("122322", "DCM", "Calibration Factor")
MEASUREMENT_METHOD = Code("370129005", "SCT", "Measurement Method")
CALIBRATION_UNCERTAINTY = Code("113763", "DCM", "Calibration Uncertainty")

#: Laterality of the patient's side.
SIDE_CODES: Mapping[Side, Code] = MappingProxyType({Side.LEFT: LEFT, Side.RIGHT: RIGHT})

# --------------------------------------------------------------------------- units (UCUM)

#: Units of :class:`orthoplan.model.Measurement` (``unit`` → UCUM code).
UNITS: Mapping[str, Code] = MappingProxyType(
    {
        "mm": Code("mm", "UCUM", "millimeter"),
        "deg": Code("deg", "UCUM", "degree"),
    }
)
UNIT_PIXEL = Code("{pixels}", "UCUM", "pixels")
UNIT_MM_PER_PIXEL = Code("mm/{pixels}", "UCUM", "millimeter per pixel")
UNIT_PERCENT = Code("%", "UCUM", "percent")
UNIT_RATIO = Code("{ratio}", "UCUM", "ratio")
UNIT_ONE = Code("1", "UCUM", "no units")

# --------------------------------------------------------------------------- private: plan

PLAN_UID = _p("PLAN-UID", "Plan identifier")
PLAN_REVISION = _p("PLAN-REVISION", "Plan revision")
PLAN_CREATED = _p("PLAN-CREATED", "Plan creation date and time")
PLAN_STATUS = _p("PLAN-STATUS", "Plan status")
STATUS_CODES: Mapping[str, Code] = MappingProxyType(
    {"draft": _p("STATUS-DRAFT", "Draft"), "final": _p("STATUS-FINAL", "Final")}
)
PLAN_VIEW = _p("PLAN-VIEW", "Radiographic view of the plan")
PLAN_NOTE = _p("PLAN-NOTE", "Plan note")
SOFTWARE_VERSION = _p("SOFTWARE-VERSION", "orthoplan software version")

ORIENT_PATIENT_LEFT = _p("ORIENT-PT-LEFT", "Image direction of the patient's left")
ORIENT_PATIENT_SUPERIOR = _p("ORIENT-PT-SUP", "Image direction of the patient's head")
ORIENT_SOURCE = _p("ORIENT-SOURCE", "How the image orientation was known")
#: image direction ``(dx, dy)`` → code: where the patient's left and head lie
#: (:meth:`~orthoplan.model.ImageOrientation.left_vector`, ``superior_vector``; a film stored
#: turned by a quarter turn has its left along y and its head along x).
DIRECTION_CODES: Mapping[tuple[int, int], Code] = MappingProxyType({
    (1, 0): _p("DIR-X-PLUS", "Towards increasing column (x)"),
    (-1, 0): _p("DIR-X-MINUS", "Towards decreasing column (x)"),
    (0, 1): _p("DIR-Y-PLUS", "Towards increasing row (y)"),
    (0, -1): _p("DIR-Y-MINUS", "Towards decreasing row (y)"),
})

LANDMARK_MISSING = _p("LM-MISSING", "Landmark not found")
MEASUREMENT_MISSING = _p("MS-MISSING", "Measurement not available")
MEASUREMENT_NOTE = _p("MS-NOTE", "Measurement note")
MEASUREMENT_ORDER = _p("MS-ORDER", "Measurement order")
MEASUREMENT_LANDMARKS = _p("MS-LANDMARKS", "Landmarks of a measurement")
MEASUREMENT_INTERVAL = _p("MS-INTERVAL", "95 % interval of a value (JSON [low, high])")

# --------------------------------------------------------------------------- private: calibration

CAL_ASPECT_RATIO = _p("CAL-ASPECT", "Pixel aspect ratio (row over column scale)")
CAL_ASSUMED = _p("CAL-ASSUMED", "Scale rests on an assumption")
CAL_SPACING_BASIS = _p("CAL-SPACING", "Pixel spacing attribute used")
CAL_WARNING = _p("CAL-WARNING", "Calibration warning")
CAL_DETAILS = _p("CAL-DETAILS", "Calibration details (JSON)")

#: ``Calibration.spacing_basis`` → code.
SPACING_BASIS_CODES: Mapping[str, Code] = MappingProxyType(
    {
        "PixelSpacing": _p("SB-PIXEL-SPACING", "Pixel Spacing (0028,0030)"),
        "ImagerPixelSpacing": _p("SB-IMAGER-SPACE", "Imager Pixel Spacing (0018,1164)"),
        "image": _p("SB-IMAGE", "Scale measured in the image"),
        "none": _p("SB-NONE", "No spacing attribute used"),
    }
)

#: ``Calibration.source`` → code (the Measurement Method of the calibration group).
CALIBRATION_SOURCE_CODES: Mapping[CalibrationSource, Code] = MappingProxyType(
    {
        CalibrationSource.DICOM_PIXEL_SPACING: _p("CS-PIXEL-SPACING", "DICOM Pixel Spacing"),
        CalibrationSource.DICOM_IMAGER_SPACING_ERMF: _p(
            "CS-IMAGER-ERMF", "Imager Pixel Spacing and estimated magnification factor"
        ),
        CalibrationSource.DICOM_IMAGER_SPACING_DISTANCES: _p(
            "CS-IMAGER-DIST", "Imager Pixel Spacing and source distances"
        ),
        CalibrationSource.BALL_MARKER: _p("CS-BALL-MARKER", "Calibration ball marker"),
        CalibrationSource.KNOWN_LENGTH: _p("CS-KNOWN-LENGTH", "Known length in the image"),
        CalibrationSource.KNOWN_OBJECT: _p("CS-KNOWN-OBJECT", "Known object in the image"),
        CalibrationSource.ASSUMED_MAGNIFICATION: _p("CS-ASSUMED-MAG", "Assumed magnification"),
        CalibrationSource.EXPLICIT_SPACING: _p("CS-EXPLICIT", "Spacing given by the user"),
    }
)

# --------------------------------------------------------------------------- private: landmarks

#: Finding type of every landmark group, one code per landmark anatomy (side-less).
LANDMARK_CODES: Mapping[str, Code] = MappingProxyType(
    {
        "teardrop": _p("LM-TEARDROP", "Inferior tip of radiographic teardrop"),
        "ischial_tuberosity": _p("LM-ISCHIAL-TUB", "Most inferior point of ischial tuberosity"),
        "femoral_head_center": _p("LM-FEM-HEAD-CTR", "Femoral head centre (and outline circle)"),
        "femoral_neck_center": _p("LM-FEM-NECK-CTR", "Femoral neck midpoint"),
        "femoral_shaft_proximal": _p("LM-FEM-SHAFT-PRX", "Proximal point of femoral shaft axis"),
        "femoral_shaft_distal": _p("LM-FEM-SHAFT-DST", "Distal point of femoral shaft axis"),
        "lesser_trochanter": _p("LM-LESSER-TROCH", "Most prominent point of lesser trochanter"),
        "greater_trochanter": _p("LM-GREATER-TROCH", "Tip of greater trochanter"),
        "acetabular_lateral_edge": _p("LM-ACETAB-EDGE", "Lateral edge of acetabular roof"),
        "sourcil_medial": _p("LM-SOURCIL-MED", "Medial end of acetabular sourcil"),
        # standing AP long-leg view (docs/landmarks.md)
        "femoral_knee_center": _p("LM-FEM-KNEE-CTR", "Femoral knee centre (top of intercondylar notch)"),
        "tibial_knee_center": _p("LM-TIB-KNEE-CTR", "Tibial knee centre (between the tibial spines)"),
        "femoral_condyle_medial": _p("LM-FEM-COND-MED", "Distal tangent point of medial femoral condyle"),
        "femoral_condyle_lateral": _p("LM-FEM-COND-LAT", "Distal tangent point of lateral femoral condyle"),
        "tibial_plateau_medial": _p("LM-TIB-PLAT-MED", "Medial margin of tibial plateau"),
        "tibial_plateau_lateral": _p("LM-TIB-PLAT-LAT", "Lateral margin of tibial plateau"),
        "ankle_center": _p("LM-ANKLE-CTR", "Ankle centre (centre of talar dome)"),
        "tibial_plafond_medial": _p("LM-PLAFOND-MED", "Medial point of distal tibial plafond"),
        "tibial_plafond_lateral": _p("LM-PLAFOND-LAT", "Lateral point of distal tibial plafond"),
        # AP and lateral knee views (docs/landmarks.md)
        "femoral_epicondyle_medial": _p("LM-FEM-EPIC-MED", "Most medial point of distal femur (medial epicondyle)"),
        "femoral_epicondyle_lateral": _p("LM-FEM-EPIC-LAT", "Most lateral point of distal femur (lateral epicondyle)"),
        "knee_femoral_axis_proximal": _p("LM-KFEM-AXIS-PRX", "Proximal point of distal femoral anatomical axis"),
        "knee_femoral_axis_distal": _p("LM-KFEM-AXIS-DST", "Distal point of distal femoral anatomical axis"),
        "knee_tibial_axis_proximal": _p("LM-KTIB-AXIS-PRX", "Proximal point of proximal tibial anatomical axis"),
        "knee_tibial_axis_distal": _p("LM-KTIB-AXIS-DST", "Distal point of proximal tibial anatomical axis"),
        "femoral_anterior_cortex": _p("LM-FEM-ANT-CORT", "Anterior cortex point of distal femur"),
        "femoral_posterior_cortex": _p("LM-FEM-POST-CORT", "Posterior cortex point of distal femoral diaphysis"),
        "femoral_posterior_condyle": _p("LM-FEM-POST-COND", "Most posterior point of femoral condyles"),
        "tibial_plateau_anterior": _p("LM-TIB-PLAT-ANT", "Anterior rim of tibial plateau"),
        "tibial_plateau_posterior": _p("LM-TIB-PLAT-POST", "Posterior rim of tibial plateau"),
    }
)
#: Topographical modifier of a landmark's finding site where the anatomy code is shared.
LANDMARK_MODIFIERS: Mapping[str, Code] = MappingProxyType(
    {"femoral_shaft_proximal": PROXIMAL, "femoral_shaft_distal": DISTAL,
     "knee_femoral_axis_proximal": PROXIMAL, "knee_femoral_axis_distal": DISTAL,
     "knee_tibial_axis_proximal": PROXIMAL, "knee_tibial_axis_distal": DISTAL}
)
LM_CONFIDENCE = _p("LM-CONFIDENCE", "Landmark confidence")
LM_SIGMA = _p("LM-SIGMA", "Landmark positional uncertainty (1 SD per axis)")
LANDMARK_SOURCE_CODES: Mapping[LandmarkSource, Code] = MappingProxyType(
    {
        LandmarkSource.AUTO: _p("LM-SRC-AUTO", "Automatic detection"),
        LandmarkSource.MANUAL: _p("LM-SRC-MANUAL", "Placed by a person"),
        LandmarkSource.REFINED: _p("LM-SRC-REFINED", "Placed by a person, refined to the image"),
    }
)


#: Codes orthoplan wrote before and writes no more, each with the one code kept for its concept
#: (the finding sites of two landmarks once had codes of their own beside the finding types).
#: Reading maps them (:func:`canonical_key`), so plans written with them still read back.
RETIRED_CODES: Mapping[tuple[str, str], Code] = MappingProxyType(
    {
        (SCHEME, "LM-ACETAB-LAT-EDGE"): LANDMARK_CODES["acetabular_lateral_edge"],
        (SCHEME, "LM-SOURCIL-MEDIAL"): LANDMARK_CODES["sourcil_medial"],
    }
)


def canonical_key(key: tuple[str, str] | None) -> tuple[str, str] | None:
    """``(scheme designator, code value)`` with a retired code replaced by the one kept for its concept.

    >>> canonical_key(("99ORTHOPLAN", "LM-SOURCIL-MEDIAL"))
    ('99ORTHOPLAN', 'LM-SOURCIL-MED')
    >>> canonical_key(("SCT", "24136001"))
    ('SCT', '24136001')
    """
    kept = RETIRED_CODES.get(key) if key is not None else None
    return key if kept is None else (kept.scheme_designator, kept.value)


def landmark_site_code(anatomy: str) -> Code:
    """The anatomic location (finding site) of a landmark anatomy, from the model.

    >>> landmark_site_code("lesser_trochanter").value
    '55499008'
    """
    scheme, value, meaning = LANDMARK_DEFINITIONS[anatomy].code
    return Code(value, scheme, meaning)


# --------------------------------------------------------------------------- private: measurements

#: Concept name of each measurement, keyed by its (template) name in
#: :data:`orthoplan.measurements.DEFINITIONS`; the side is the laterality of its group.
MEASUREMENT_CODES: Mapping[str, Code] = MappingProxyType(
    {
        "lld_teardrop_mm": _p("LLD-TEARDROP", "Leg-length discrepancy, inter-teardrop line"),
        "lld_ischial_mm": _p("LLD-ISCHIAL", "Leg-length discrepancy, bi-ischial line"),
        "femoral_offset_{side}_mm": _p("FEMORAL-OFFSET", "Femoral offset"),
        "acetabular_offset_{side}_mm": _p("ACETAB-OFFSET", "Acetabular offset"),
        "global_offset_{side}_mm": _p("GLOBAL-OFFSET", "Global hip offset"),
        "neck_shaft_angle_{side}_deg": _p("NECK-SHAFT-ANGLE", "Femoral neck-shaft angle"),
        "lcea_{side}_deg": _p("LCEA", "Lateral centre-edge angle (Wiberg)"),
        "tonnis_angle_{side}_deg": _p("TONNIS-ANGLE", "Toennis angle"),
        "sharp_angle_{side}_deg": _p("SHARP-ANGLE", "Sharp acetabular angle"),
        # lower limb, standing AP long-leg view (Paley)
        "lld_long_leg_mm": _p("LLD-LONG-LEG", "Leg-length discrepancy, long-leg view"),
        "hka_{side}_deg": _p("HKA", "Hip-knee-ankle angle (varus negative)"),
        "mad_{side}_mm": _p("MAD", "Mechanical axis deviation (medial positive)"),
        "mlpfa_{side}_deg": _p("MLPFA", "Mechanical lateral proximal femoral angle"),
        "mldfa_{side}_deg": _p("MLDFA", "Mechanical lateral distal femoral angle"),
        "mpta_{side}_deg": _p("MPTA", "Medial proximal tibial angle"),
        "ldta_{side}_deg": _p("LDTA", "Lateral distal tibial angle"),
        "jlca_{side}_deg": _p("JLCA", "Joint line convergence angle"),
        "ama_{side}_deg": _p("AMA-FEMUR", "Anatomical-mechanical angle of the femur"),
        "femoral_length_{side}_mm": _p("FEMORAL-LENGTH", "Femoral mechanical length"),
        "tibial_length_{side}_mm": _p("TIBIAL-LENGTH", "Tibial mechanical length"),
        # AP and lateral knee views (jlca_{side}_deg as above)
        "aldfa_{side}_deg": _p("ALDFA", "Anatomical lateral distal femoral angle"),
        "ampta_{side}_deg": _p("AMPTA", "Medial proximal tibial angle to tibial anatomical axis"),
        "fta_{side}_deg": _p("FTA-ANATOMICAL", "Femorotibial anatomical angle (valgus positive)"),
        "femoral_condylar_width_{side}_mm": _p("FEM-COND-WIDTH", "Femoral condylar medial-lateral width"),
        "tibial_plateau_width_{side}_mm": _p("TIB-PLAT-WIDTH", "Tibial plateau medial-lateral width"),
        "posterior_tibial_slope_{side}_deg": _p("TIBIAL-SLOPE", "Posterior tibial slope to proximal tibial anatomical axis"),
        "femoral_ap_dimension_{side}_mm": _p("FEM-AP-DIM", "Femoral anteroposterior dimension"),
        "posterior_condylar_offset_{side}_mm": _p("POST-COND-OFFSET", "Posterior condylar offset"),
    }
)


# --------------------------------------------------------------------------- implants (templating)

#: Finding of each implant group: the component kind (DCM, CID 7304 "Implant Components").
IMPLANT_KIND_CODES: Mapping[ImplantKind, Code] = MappingProxyType(
    {
        ImplantKind.CUP: Code("112305", "DCM", "Acetabular Cup Shell"),
        ImplantKind.HEAD: Code("112308", "DCM", "Femoral Head Ball Component"),
        ImplantKind.STEM: Code("112310", "DCM", "Femoral Stem"),
        # no DCM/SCT code for total-knee components (CID 7304 lists hip components only)
        ImplantKind.FEMORAL_COMPONENT: _p("IMPL-TKA-FEMORAL", "Femoral component of a total knee"),
        ImplantKind.TIBIAL_TRAY: _p("IMPL-TKA-TRAY", "Tibial tray (baseplate) of a total knee"),
        ImplantKind.TIBIAL_INSERT: _p("IMPL-TKA-INSERT", "Tibial insert (bearing) of a total knee"),
    }
)
#: Finding site of the knee components' groups.
KNEE_JOINT = Code("49076000", "SCT", "Knee joint")
IMPLANT_THICKNESS = _p("IMPLANT-THICK", "Implant thickness (tibial insert)")
SELECTED_IMPLANT = Code("112346", "DCM", "Selected Implant Component")
IMPLANT_CHOICE = _p("IMPLANT-CHOICE", "Implant chosen (vendor, family, size; JSON)")
IMPLANT_ANGLE = _p("IMPLANT-ANGLE", "Implant angle (cup inclination, component axis tilt)")
IMPLANT_NECK_LENGTH = _p("IMPLANT-NECK-LEN", "Head neck length")
PREDICTED = _p("PREDICTED", "Predicted after templating")
PREDICTION_MISSING = _p("PRED-MISSING", "Predicted value not available")

# --------------------------------------------------------------------------- osteotomies (orthoplan.osteotomy)

#: Finding of an osteotomy group, by ``PlannedOsteotomy.kind`` (no DCM/SCT code found for either).
OSTEOTOMY_KIND_CODES: Mapping[str, Code] = MappingProxyType(
    {"hto": _p("OST-HTO", "High tibial osteotomy"), "dfo": _p("OST-DFO", "Distal femoral osteotomy")}
)
#: Finding site of an osteotomy group, by kind.
TIBIA = Code("12611008", "SCT", "Tibia")
FEMUR = Code("71341001", "SCT", "Femur")
OSTEOTOMY_SITES: Mapping[str, Code] = MappingProxyType({"hto": TIBIA, "dfo": FEMUR})
OST_WEDGE = _p("OST-WEDGE", "Osteotomy wedge type")
OST_WEDGE_CODES: Mapping[str, Code] = MappingProxyType(
    {"opening": _p("OST-WEDGE-OPEN", "Opening wedge"), "closing": _p("OST-WEDGE-CLOSE", "Closing wedge")}
)
OST_DIRECTION = _p("OST-DIRECTION", "Direction of the osteotomy correction")
OST_DIRECTION_CODES: Mapping[str, Code] = MappingProxyType(
    {"valgus": _p("OST-VALGUS", "Valgus correction"), "varus": _p("OST-VARUS", "Varus correction")}
)
OST_TARGET_FRACTION = _p("OST-TARGET-FRAC", "Target WBL position, fraction of plateau width from medial")
OST_ACHIEVED_FRACTION = _p("OST-ACHIEVED-FRC", "Achieved WBL position, fraction of plateau width from medial")
OST_CORRECTION = _p("OST-CORRECTION", "Osteotomy correction (wedge) angle")
OST_ROTATION = _p("OST-ROTATION", "Signed rotation of the distal segment (image, mm)")
OST_WEDGE_HEIGHT = _p("OST-WEDGE-HEIGHT", "Osteotomy wedge height at the far cortex")
OST_LENGTH = _p("OST-LENGTH", "Osteotomy length, hinge to far cortex")
OST_HINGE = _p("OST-HINGE", "Osteotomy hinge point")
OST_CUT = _p("OST-CUT", "Osteotomy cut, hinge to far cortex")
OST_TARGET = _p("OST-TARGET", "Plateau point of the planned weight-bearing line")
OST_AUTO = _p("OST-AUTO", "Hinge and osteotomy length are orthoplan defaults")
OST_PREDICTED = _p("OST-PREDICTED", "Predicted after osteotomy")
OST_NOTE = _p("OST-NOTE", "Osteotomy note")
OST_PREDICTION_MISSING = _p("OST-PRED-MISSING", "Predicted value after osteotomy not available")


def measurement_template(name: str) -> tuple[str, Side | None]:
    """The key of :data:`MEASUREMENT_CODES` and the side of a concrete measurement name.

    Returns ``(name, None)`` for a pelvis-level name; raises ``KeyError`` for an unknown one.

    >>> measurement_template("lcea_left_deg")
    ('lcea_{side}_deg', <Side.LEFT: 'left'>)
    """
    if name in MEASUREMENT_CODES and "{side}" not in name:
        return name, None
    for key in MEASUREMENT_CODES:
        if "{side}" in key:
            for side in Side:
                if key.format(side=side.value) == name:
                    return key, side
    raise KeyError(name)


def private_codes() -> tuple[Code, ...]:
    """Every code of the ``99ORTHOPLAN`` scheme, once each, in table order.

    Includes the private anatomy codes of :data:`orthoplan.model.LANDMARK_DEFINITIONS`
    (finding sites; their values may exceed 16 characters and are then Long Code Values).
    """
    seen: dict[tuple[str, str], Code] = {}
    for value in list(globals().values()):
        items: list = []
        if isinstance(value, Code):
            items = [value]
        elif isinstance(value, Mapping):
            items = [v for v in value.values() if isinstance(v, Code)]
        for c in items:
            if c.scheme_designator == SCHEME:
                seen.setdefault((c.value, c.meaning), c)
    for anatomy in LANDMARK_DEFINITIONS:  # finding sites defined privately in the model
        c = landmark_site_code(anatomy)
        if c.scheme_designator == SCHEME:
            seen.setdefault((c.value, c.meaning), c)
    return tuple(seen.values())


def code_table_markdown() -> str:
    """The ``99ORTHOPLAN`` code table for ``docs/dicom.md``."""
    lines = ["| code value | code meaning |", "|---|---|"]
    lines += [f"| `{c.value}` | {c.meaning} |" for c in private_codes()]
    return "\n".join(lines)
