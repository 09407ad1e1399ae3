"""The shared data model: immutable values passed from one stage to the next.

Every stage of orthoplan (load, calibrate, detect, measure, template, report, store) is a
function from these values to new ones. Nothing here computes anything clinical; it
only holds, validates and serialises.

Conventions (see ``docs/conventions.md``):

* image coordinates are ``(x, y)`` = (column, row) in pixels with the DICOM SCOORD origin:
  ``(0, 0)`` is the top-left corner of the top-left pixel;
* lengths are mm at the anatomy, angles degrees; names carry the unit;
* sides are the patient's.

Examples
--------
>>> lm = Landmark(LandmarkName.TEARDROP_LEFT, x=812.5, y=640.0)
>>> Landmarks.from_landmarks([lm])[LandmarkName.TEARDROP_LEFT].y
640.0
"""

from __future__ import annotations

import datetime as _dt
import enum
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from .errors import LandmarkError, MeasurementError, PlanError, SideError, UnsupportedImageError

#: Version of the JSON plan document written by :meth:`Plan.to_dict`.
#: 2 added implant ``placements`` and ``predictions``; 3 added ``osteotomies``; older documents still load.
PLAN_SCHEMA_VERSION = 3
#: Every plan document version :meth:`Plan.from_dict` reads.
READABLE_PLAN_SCHEMA_VERSIONS = (1, 2, 3)
#: How a detector's note names a child's or an adolescent's pelvis (the plan's notes, the picture).
IMMATURE_FINDING = "skeletally immature pelvis"
#: How a detector's note names metal hardware on the film (plate, nail, screws, wires, prosthesis).
HARDWARE_FINDING = "metal hardware"
#: How a detector's note names a femur out of the standard AP position (frog-leg, abducted).
ABDUCTED_FINDING = "femur abducted"
#: How a detector's note names a film the network is unsure of as a whole.
UNSURE_FINDING = "the network is unsure of this film as a whole"
#: How a plan's note names a film stored turned by a quarter turn or upside down (found from its
#: landmarks).
TURNED_FINDING = "film stored turned"
#: How a plan's note says the view classifier takes the film for another view than the one read.
OTHER_VIEW_FINDING = "the view classifier takes the film for"
#: How a plan's note says the side markers show a film displayed mirrored (the patient's right
#: on the image's right), against the orientation that was assumed.
MIRRORED_FINDING = "displayed mirrored"
#: How a plan's note says a side marker disagrees with the header or the other markers.
MARKER_CONFLICT_FINDING = "the side marker disagrees"
#: How a detector's note says an AP knee film reads at least as surely upside down (a film
#: stored head down, without orientation tags).
UPSIDE_DOWN_FINDING = "the knee reads as surely upside down"
#: Short codes for what a plan's notes say about the film (a batch table's ``findings``
#: column, for a researcher to filter a cohort by), each with the phrase of the note that says it.
FINDING_CODES = (
    ("immature", IMMATURE_FINDING),
    ("metal", HARDWARE_FINDING),
    ("prosthesis", "hip: prosthesis"),
    ("abducted", ABDUCTED_FINDING),
    ("unsure-film", UNSURE_FINDING),
    ("cut-off", "at the film's edge"),
    ("turned", TURNED_FINDING),
    ("other-view", OTHER_VIEW_FINDING),
    ("mirrored", MIRRORED_FINDING),
    ("marker-conflict", MARKER_CONFLICT_FINDING),
    ("upside-down", UPSIDE_DOWN_FINDING),
)


def findings_in(notes) -> tuple[str, ...]:
    """The codes of :data:`FINDING_CODES` whose phrase one of ``notes`` contains, in that order.

    >>> findings_in(["Landmark detection: femur abducted: the left femoral shaft ...",
    ...              "Landmark detection: right head at the film's edge (...)"])
    ('abducted', 'cut-off')
    """
    notes = [notes] if isinstance(notes, str) else list(notes or ())  # one note, or none, as well
    return tuple(code for code, phrase in FINDING_CODES if any(phrase in str(n) for n in notes))


# --------------------------------------------------------------------------- enums


class Side(enum.StrEnum):
    """The patient's side (never the screen's)."""

    LEFT = "left"
    RIGHT = "right"

    @classmethod
    def _missing_(cls, value: object) -> Side:
        """``Side("Left")`` is the left side; anything else is a :class:`~orthoplan.errors.SideError`.

        >>> Side("RIGHT")
        <Side.RIGHT: 'right'>
        """
        if isinstance(value, str) and value.strip().lower() in ("left", "right"):
            return cls(value.strip().lower())
        raise SideError(f"a side must be 'left' or 'right' (the patient's), got {str(value)[:20]!r}")

    @property
    def other(self) -> Side:
        """The contralateral side."""
        return Side.RIGHT if self is Side.LEFT else Side.LEFT


class LandmarkSource(enum.StrEnum):
    """Where a landmark position came from."""

    AUTO = "auto"  #: automatic detection
    MANUAL = "manual"  #: placed by a person
    REFINED = "refined"  #: a person's click snapped to the image by :func:`landmarks.refine`


class CalibrationSource(enum.StrEnum):
    """How the anatomical scale of an image was obtained."""

    DICOM_PIXEL_SPACING = "dicom-pixel-spacing"
    DICOM_IMAGER_SPACING_ERMF = "dicom-imager-spacing+ermf"
    DICOM_IMAGER_SPACING_DISTANCES = "dicom-imager-spacing+distances"
    BALL_MARKER = "ball-marker"
    KNOWN_LENGTH = "known-length"
    KNOWN_OBJECT = "known-object"
    ASSUMED_MAGNIFICATION = "assumed-magnification"
    EXPLICIT_SPACING = "explicit-spacing"  #: a spacing the caller gave for a PNG/TIFF


class LandmarkName(enum.StrEnum):
    """The fixed landmark vocabulary. Values are ``<anatomy>_<patient side>``.

    See :data:`LANDMARK_DEFINITIONS` for the definition of each, and
    ``docs/landmarks.md``.
    """

    TEARDROP_LEFT = "teardrop_left"
    TEARDROP_RIGHT = "teardrop_right"
    ISCHIAL_TUBEROSITY_LEFT = "ischial_tuberosity_left"
    ISCHIAL_TUBEROSITY_RIGHT = "ischial_tuberosity_right"
    FEMORAL_HEAD_CENTER_LEFT = "femoral_head_center_left"
    FEMORAL_HEAD_CENTER_RIGHT = "femoral_head_center_right"
    FEMORAL_NECK_CENTER_LEFT = "femoral_neck_center_left"
    FEMORAL_NECK_CENTER_RIGHT = "femoral_neck_center_right"
    FEMORAL_SHAFT_PROXIMAL_LEFT = "femoral_shaft_proximal_left"
    FEMORAL_SHAFT_PROXIMAL_RIGHT = "femoral_shaft_proximal_right"
    FEMORAL_SHAFT_DISTAL_LEFT = "femoral_shaft_distal_left"
    FEMORAL_SHAFT_DISTAL_RIGHT = "femoral_shaft_distal_right"
    LESSER_TROCHANTER_LEFT = "lesser_trochanter_left"
    LESSER_TROCHANTER_RIGHT = "lesser_trochanter_right"
    GREATER_TROCHANTER_LEFT = "greater_trochanter_left"
    GREATER_TROCHANTER_RIGHT = "greater_trochanter_right"
    ACETABULAR_LATERAL_EDGE_LEFT = "acetabular_lateral_edge_left"
    ACETABULAR_LATERAL_EDGE_RIGHT = "acetabular_lateral_edge_right"
    SOURCIL_MEDIAL_LEFT = "sourcil_medial_left"
    SOURCIL_MEDIAL_RIGHT = "sourcil_medial_right"
    # standing AP long-leg view (lower-limb alignment; see docs/landmarks.md)
    FEMORAL_KNEE_CENTER_LEFT = "femoral_knee_center_left"
    FEMORAL_KNEE_CENTER_RIGHT = "femoral_knee_center_right"
    TIBIAL_KNEE_CENTER_LEFT = "tibial_knee_center_left"
    TIBIAL_KNEE_CENTER_RIGHT = "tibial_knee_center_right"
    FEMORAL_CONDYLE_MEDIAL_LEFT = "femoral_condyle_medial_left"
    FEMORAL_CONDYLE_MEDIAL_RIGHT = "femoral_condyle_medial_right"
    FEMORAL_CONDYLE_LATERAL_LEFT = "femoral_condyle_lateral_left"
    FEMORAL_CONDYLE_LATERAL_RIGHT = "femoral_condyle_lateral_right"
    TIBIAL_PLATEAU_MEDIAL_LEFT = "tibial_plateau_medial_left"
    TIBIAL_PLATEAU_MEDIAL_RIGHT = "tibial_plateau_medial_right"
    TIBIAL_PLATEAU_LATERAL_LEFT = "tibial_plateau_lateral_left"
    TIBIAL_PLATEAU_LATERAL_RIGHT = "tibial_plateau_lateral_right"
    ANKLE_CENTER_LEFT = "ankle_center_left"
    ANKLE_CENTER_RIGHT = "ankle_center_right"
    TIBIAL_PLAFOND_MEDIAL_LEFT = "tibial_plafond_medial_left"
    TIBIAL_PLAFOND_MEDIAL_RIGHT = "tibial_plafond_medial_right"
    TIBIAL_PLAFOND_LATERAL_LEFT = "tibial_plafond_lateral_left"
    TIBIAL_PLAFOND_LATERAL_RIGHT = "tibial_plafond_lateral_right"
    # AP and lateral knee views (docs/landmarks.md)
    FEMORAL_EPICONDYLE_MEDIAL_LEFT = "femoral_epicondyle_medial_left"
    FEMORAL_EPICONDYLE_MEDIAL_RIGHT = "femoral_epicondyle_medial_right"
    FEMORAL_EPICONDYLE_LATERAL_LEFT = "femoral_epicondyle_lateral_left"
    FEMORAL_EPICONDYLE_LATERAL_RIGHT = "femoral_epicondyle_lateral_right"
    KNEE_FEMORAL_AXIS_PROXIMAL_LEFT = "knee_femoral_axis_proximal_left"
    KNEE_FEMORAL_AXIS_PROXIMAL_RIGHT = "knee_femoral_axis_proximal_right"
    KNEE_FEMORAL_AXIS_DISTAL_LEFT = "knee_femoral_axis_distal_left"
    KNEE_FEMORAL_AXIS_DISTAL_RIGHT = "knee_femoral_axis_distal_right"
    KNEE_TIBIAL_AXIS_PROXIMAL_LEFT = "knee_tibial_axis_proximal_left"
    KNEE_TIBIAL_AXIS_PROXIMAL_RIGHT = "knee_tibial_axis_proximal_right"
    KNEE_TIBIAL_AXIS_DISTAL_LEFT = "knee_tibial_axis_distal_left"
    KNEE_TIBIAL_AXIS_DISTAL_RIGHT = "knee_tibial_axis_distal_right"
    FEMORAL_ANTERIOR_CORTEX_LEFT = "femoral_anterior_cortex_left"
    FEMORAL_ANTERIOR_CORTEX_RIGHT = "femoral_anterior_cortex_right"
    FEMORAL_POSTERIOR_CORTEX_LEFT = "femoral_posterior_cortex_left"
    FEMORAL_POSTERIOR_CORTEX_RIGHT = "femoral_posterior_cortex_right"
    FEMORAL_POSTERIOR_CONDYLE_LEFT = "femoral_posterior_condyle_left"
    FEMORAL_POSTERIOR_CONDYLE_RIGHT = "femoral_posterior_condyle_right"
    TIBIAL_PLATEAU_ANTERIOR_LEFT = "tibial_plateau_anterior_left"
    TIBIAL_PLATEAU_ANTERIOR_RIGHT = "tibial_plateau_anterior_right"
    TIBIAL_PLATEAU_POSTERIOR_LEFT = "tibial_plateau_posterior_left"
    TIBIAL_PLATEAU_POSTERIOR_RIGHT = "tibial_plateau_posterior_right"

    @property
    def side(self) -> Side:
        """The patient side this landmark belongs to."""
        return Side(self.value.rsplit("_", 1)[1])

    @property
    def anatomy(self) -> str:
        """The side-less part of the name, e.g. ``"teardrop"``."""
        return self.value.rsplit("_", 1)[0]

    @classmethod
    def of(cls, anatomy: str, side: Side | str) -> LandmarkName:
        """The landmark ``anatomy`` on ``side``.

        >>> LandmarkName.of("teardrop", "left")
        <LandmarkName.TEARDROP_LEFT: 'teardrop_left'>
        """
        return cls(f"{anatomy}_{Side(side).value}")

    @classmethod
    def parse(cls, text: str) -> LandmarkName:
        """Parse a landmark name: exact, in any letter case, or a unique prefix of one.

        Raises :class:`LandmarkError` with what it may have meant (or, when nothing is close,
        how names are made), never the whole vocabulary of ~60 names.

        >>> LandmarkName.parse("Teardrop_L")
        <LandmarkName.TEARDROP_LEFT: 'teardrop_left'>
        >>> LandmarkName.parse("teardrop_lft")
        Traceback (most recent call last):
        ...
        orthoplan.errors.LandmarkError: unknown landmark 'teardrop_lft'; did you mean 'teardrop_left' or 'teardrop_right'?
        """
        try:
            return cls(str(text))
        except ValueError:
            pass
        from .names import NameLookupError, resolve_name

        try:
            return cls(resolve_name(str(text), [m.value for m in cls], what="landmark"))
        except NameLookupError as exc:
            if exc.candidates:
                raise LandmarkError(str(exc)) from None
            anatomies = ", ".join(dict.fromkeys(m.anatomy for m in cls))
            raise LandmarkError(f"{exc}; a landmark is <anatomy>_left or <anatomy>_right, anatomy one of: "
                                f"{anatomies} (docs/landmarks.md)") from None


@dataclass(frozen=True)
class LandmarkDefinition:
    """What a landmark (of either side) is, and how it is coded in DICOM."""

    anatomy: str
    definition: str
    #: (scheme designator, code value, code meaning) of the anatomy, SNOMED CT where one exists.
    code: tuple[str, str, str]
    #: True if the landmark is also a circle (it carries ``radius_px``).
    circle: bool = False


#: Definitions of every landmark anatomy (side-less); docs/landmarks.md renders these.
LANDMARK_DEFINITIONS: Mapping[str, LandmarkDefinition] = MappingProxyType(
    {
        d.anatomy: d
        for d in (
            LandmarkDefinition(
                "teardrop",
                "Inferior tip of the radiographic teardrop (Köhler's teardrop).",
                ("99ORTHOPLAN", "LM-TEARDROP", "Inferior tip of radiographic teardrop"),
            ),
            LandmarkDefinition(
                "ischial_tuberosity",
                "Most inferior point of the ischial tuberosity.",
                ("SCT", "53046001", "Ischial tuberosity"),
            ),
            LandmarkDefinition(
                "femoral_head_center",
                "Centre of the circle fitted to the femoral head outline; also a circle.",
                ("DCM", "112304", "Femur head centre of rotation"),
                circle=True,
            ),
            LandmarkDefinition(
                "femoral_neck_center",
                "Midpoint of the femoral neck at its narrowest width; with the head centre it "
                "defines the neck axis.",
                ("SCT", "29627003", "Femoral neck"),
            ),
            LandmarkDefinition(
                "femoral_shaft_proximal",
                "Point on the femoral shaft (anatomical) axis: midpoint between the cortices "
                "just below the lesser trochanter.",
                ("DCM", "112302", "Anatomical axis of femur"),
            ),
            LandmarkDefinition(
                "femoral_shaft_distal",
                "Second point on the femoral shaft axis, as far distal as the image allows "
                "(at least 5 cm below the proximal point).",
                ("DCM", "112302", "Anatomical axis of femur"),
            ),
            LandmarkDefinition(
                "lesser_trochanter",
                "Most prominent (most medial) point of the lesser trochanter.",
                ("SCT", "55499008", "Lesser trochanter"),
            ),
            LandmarkDefinition(
                "greater_trochanter",
                "Tip (most superior point) of the greater trochanter.",
                ("SCT", "52970000", "Greater trochanter"),
            ),
            LandmarkDefinition(
                "acetabular_lateral_edge",
                "Lateral end of the acetabular sourcil (lateral edge of the acetabular roof).",
                ("99ORTHOPLAN", "LM-ACETAB-EDGE", "Lateral edge of acetabular roof"),
            ),
            LandmarkDefinition(
                "sourcil_medial",
                "Medial end of the sourcil (the sclerotic weight-bearing zone of the roof).",
                ("99ORTHOPLAN", "LM-SOURCIL-MED", "Medial end of acetabular sourcil"),
            ),
            # standing AP long-leg view; finding sites are SNOMED CT regions (codes from
            # pydicom's DICOM code dictionary); the point itself is named by the SR's finding type
            LandmarkDefinition(
                "femoral_knee_center",
                "Femoral centre of the knee: top (apex) of the intercondylar notch; distal end of "
                "the femoral mechanical axis.",
                ("SCT", "310652005", "Distal Femur"),
            ),
            LandmarkDefinition(
                "tibial_knee_center",
                "Tibial centre of the knee: midpoint between the tips of the tibial spines "
                "(intercondylar eminence); proximal end of the tibial mechanical axis.",
                ("SCT", "306783000", "Tibial Plateau"),
            ),
            LandmarkDefinition(
                "femoral_condyle_medial",
                "Most distal point of the medial femoral condyle: medial end of the distal femoral "
                "joint line (condylar tangent).",
                ("SCT", "310652005", "Distal Femur"),
            ),
            LandmarkDefinition(
                "femoral_condyle_lateral",
                "Most distal point of the lateral femoral condyle: lateral end of the distal femoral "
                "joint line (condylar tangent).",
                ("SCT", "310652005", "Distal Femur"),
            ),
            LandmarkDefinition(
                "tibial_plateau_medial",
                "Medial margin of the tibial plateau on its subchondral line: medial end of the "
                "proximal tibial joint line (plateau width and Fujisawa point are measured from it).",
                ("SCT", "306783000", "Tibial Plateau"),
            ),
            LandmarkDefinition(
                "tibial_plateau_lateral",
                "Lateral margin of the tibial plateau on its subchondral line: lateral end of the "
                "proximal tibial joint line.",
                ("SCT", "306783000", "Tibial Plateau"),
            ),
            LandmarkDefinition(
                "ankle_center",
                "Centre of the ankle: midpoint of the talar dome (the talus's superior articular "
                "surface); distal end of the tibial and of the limb's mechanical axis.",
                ("SCT", "67453005", "Talus"),
            ),
            LandmarkDefinition(
                "tibial_plafond_medial",
                "Medial end of the distal tibial joint line (subchondral plafond, at the medial "
                "malleolus' corner).",
                ("SCT", "64605006", "Distal Tibia"),
            ),
            LandmarkDefinition(
                "tibial_plafond_lateral",
                "Lateral end of the distal tibial joint line (subchondral plafond, at the "
                "tibiofibular corner).",
                ("SCT", "64605006", "Distal Tibia"),
            ),
            # AP and lateral knee views: finding sites are SNOMED CT regions as above
            LandmarkDefinition(
                "femoral_epicondyle_medial",
                "AP knee view: most medial point of the distal femur (the medial epicondyle's "
                "prominence); medial end of the femoral condylar medial-lateral width.",
                ("SCT", "310652005", "Distal Femur"),
            ),
            LandmarkDefinition(
                "femoral_epicondyle_lateral",
                "AP knee view: most lateral point of the distal femur (the lateral epicondyle's "
                "prominence); lateral end of the femoral condylar medial-lateral width.",
                ("SCT", "310652005", "Distal Femur"),
            ),
            LandmarkDefinition(
                "knee_femoral_axis_proximal",
                "AP or lateral knee view: point of the distal femoral anatomical axis, the midpoint "
                "between the two cortices of the femoral diaphysis about 15 cm proximal of the "
                "joint line (as far proximal as the image shows, at least 4 cm above the distal point).",
                ("SCT", "41111004", "Shaft of Femur"),
            ),
            LandmarkDefinition(
                "knee_femoral_axis_distal",
                "AP or lateral knee view: second point of the distal femoral anatomical axis, the "
                "midpoint between the femoral cortices about 9 cm proximal of the joint line (above "
                "the metaphyseal flare).",
                ("SCT", "41111004", "Shaft of Femur"),
            ),
            LandmarkDefinition(
                "knee_tibial_axis_proximal",
                "AP or lateral knee view: point of the proximal tibial anatomical axis, the midpoint "
                "between the two tibial cortices about 5 cm distal of the plateau (below the "
                "tibial tuberosity's flare).",
                ("SCT", "52687003", "Shaft of Tibia"),
            ),
            LandmarkDefinition(
                "knee_tibial_axis_distal",
                "AP or lateral knee view: second point of the proximal tibial anatomical axis, the "
                "midpoint between the tibial cortices about 15 cm distal of the plateau (as far "
                "distal as the image shows, at least 4 cm below the proximal point).",
                ("SCT", "52687003", "Shaft of Tibia"),
            ),
            LandmarkDefinition(
                "femoral_anterior_cortex",
                "Lateral knee view: point on the anterior cortex of the distal femoral diaphysis "
                "just proximal of the trochlea's flare (where a femoral component's anterior flange "
                "meets the cortex); the anterior end of the femoral AP dimension.",
                ("SCT", "310652005", "Distal Femur"),
            ),
            LandmarkDefinition(
                "femoral_posterior_cortex",
                "Lateral knee view: point on the posterior cortex of the distal femoral diaphysis, "
                "proximal of the condyles' flare; the reference of the posterior condylar offset.",
                ("SCT", "41111004", "Shaft of Femur"),
            ),
            LandmarkDefinition(
                "femoral_posterior_condyle",
                "Lateral knee view: most posterior point of the femoral condyles (their tangent "
                "parallel to the distal femoral anatomical axis; the superimposed condyles' outline).",
                ("SCT", "310652005", "Distal Femur"),
            ),
            LandmarkDefinition(
                "tibial_plateau_anterior",
                "Lateral knee view: anterior rim of the (medial) tibial plateau on its subchondral "
                "line; anterior end of the plateau line of the posterior tibial slope.",
                ("SCT", "306783000", "Tibial Plateau"),
            ),
            LandmarkDefinition(
                "tibial_plateau_posterior",
                "Lateral knee view: posterior rim of the (medial) tibial plateau on its subchondral "
                "line; posterior end of the plateau line of the posterior tibial slope.",
                ("SCT", "306783000", "Tibial Plateau"),
            ),
        )
    }
)


def _require_finite(name: str, value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise LandmarkError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(value):
        raise LandmarkError(f"{name} must be a finite number, got {value!r}")
    return value


def _float32(value: float) -> float:
    """Round to the nearest float32: DICOM SCOORDs are FL, so plans round-trip exactly."""
    return float(np.float32(value))


# --------------------------------------------------------------------------- image


@dataclass(frozen=True)
class ImageReference:
    """What is needed to point at the source image later (SR references, archive)."""

    sop_instance_uid: str | None = None
    sop_class_uid: str | None = None
    study_instance_uid: str | None = None
    series_instance_uid: str | None = None
    frame_of_reference_uid: str | None = None
    modality: str | None = None
    rows: int = 0
    columns: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ImageReference:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class SpacingTags:
    """The scale-related DICOM attributes of an image, as found (not yet trusted).

    Pairs are ``(row spacing, column spacing)`` in mm, in DICOM order. Validating and
    interpreting them is :mod:`orthoplan.calibration`'s job.
    """

    pixel_spacing_mm: tuple[float, float] | None = None
    pixel_spacing_calibration_type: str | None = None
    pixel_spacing_calibration_description: str | None = None
    imager_pixel_spacing_mm: tuple[float, float] | None = None
    estimated_magnification: float | None = None
    source_to_detector_mm: float | None = None
    source_to_patient_mm: float | None = None


@dataclass(frozen=True)
class ImageOrientation:
    """Where the patient's left and head are, in image coordinates.

    ``patient_left_x`` is +1 when the patient's left lies towards increasing x (the
    usual AP view: the patient's right on the viewer's left), -1 otherwise.
    ``superior_y`` is -1 when the head lies towards decreasing y (the usual display).
    ``turn_deg`` is 0, or ±90 for a film stored turned by a quarter turn (head-foot along x):
    the head-up display that ``patient_left_x`` describes turned clockwise on the screen by
    90° (the head towards +x) or anticlockwise (-90, the head towards -x); a turned film has
    ``superior_y`` -1. Code that needs directions uses :meth:`left_vector` and
    :meth:`superior_vector`, which hold for every orientation.
    ``source`` says how this was known: ``"PatientOrientation"``, ``"assumed-standard-ap"``
    (tags absent; the plan says so), ``"assumed-turned-from-landmarks"`` (tags absent, and the
    detector found the anatomy turned by a quarter turn) or ``"assumed-from-side-marker"`` (tags
    absent, and an R or L marker read on the film decided which side is the patient's left).

    Examples
    --------
    >>> ImageOrientation().superior_vector()
    (0, -1)
    >>> o = ImageOrientation.turned("right")
    >>> o.superior_vector(), o.left_vector(), o.superior_name
    ((1, 0), (0, 1), 'right')
    """

    patient_left_x: int = 1
    superior_y: int = -1
    source: str = "assumed-standard-ap"
    turn_deg: int = 0

    def __post_init__(self) -> None:
        if self.patient_left_x not in (1, -1) or self.superior_y not in (1, -1):
            raise ValueError("orientation signs must be +1 or -1")
        if self.turn_deg not in (0, 90, -90):
            raise ValueError(f"an orientation's turn must be 0, 90 or -90 degrees, not {self.turn_deg!r}")
        if self.turn_deg and self.superior_y != -1:
            raise ValueError("a turned orientation describes a head-up display turned: superior_y must be -1")

    @classmethod
    def turned(cls, superior: str, patient_left_x: int = 1,
               source: str = "assumed-turned-from-landmarks") -> ImageOrientation:
        """The orientation whose head lies towards ``superior`` (``"up"``, ``"down"``, ``"left"``,
        ``"right"`` of the stored image); ``patient_left_x`` is the sign of the patient's left
        along the viewer's right of the head-up film."""
        turns = {"up": (-1, 0), "down": (1, 0), "left": (-1, -90), "right": (-1, 90)}
        if superior not in turns:
            raise ValueError(f"superior must be one of {', '.join(turns)}, not {superior!r}")
        sy, turn = turns[superior]
        return cls(patient_left_x, sy, source, turn)

    @classmethod
    def from_vectors(cls, left: tuple[int, int], superior: tuple[int, int],
                     source: str = "assumed-standard-ap") -> ImageOrientation:
        """The orientation whose :meth:`left_vector` and :meth:`superior_vector` are these.

        >>> ImageOrientation.from_vectors((0, -1), (-1, 0)).turn_deg
        -90
        """
        want = (tuple(int(v) for v in left), tuple(int(v) for v in superior))
        for plx in (1, -1):
            for sy, turn in ((-1, 0), (1, 0), (-1, 90), (-1, -90)):
                o = cls(plx, sy, source, turn)
                if (o.left_vector(), o.superior_vector()) == want:
                    return o
        raise ValueError(f"no image orientation has the patient's left towards {want[0]} and the head towards "
                         f"{want[1]}: each must be a unit image axis, the two perpendicular")

    @property
    def assumed(self) -> bool:
        return self.source.startswith("assumed")

    @property
    def superior_name(self) -> str:
        """Where the head lies in the stored image: ``"up"``, ``"down"``, ``"left"`` or ``"right"``."""
        if self.turn_deg:
            return "right" if self.turn_deg == 90 else "left"
        return "up" if self.superior_y == -1 else "down"

    def _turn(self, v: tuple[int, int]) -> tuple[int, int]:
        x, y = v
        if self.turn_deg == 90:  # clockwise on the screen (y down): up -> right
            return (-y, x)
        if self.turn_deg == -90:
            return (y, -x)
        return (x, y)

    def left_vector(self) -> tuple[int, int]:
        """Unit image vector ``(dx, dy)`` towards the patient's left."""
        return self._turn((self.patient_left_x, 0))

    def superior_vector(self) -> tuple[int, int]:
        """Unit image vector ``(dx, dy)`` towards the patient's head."""
        return self._turn((0, self.superior_y))

    def inferior_vector(self) -> tuple[int, int]:
        """Unit image vector ``(dx, dy)`` towards the patient's feet."""
        x, y = self.superior_vector()
        return (-x, -y)

    def lateral_vector(self, side: Side | str) -> tuple[int, int]:
        """Unit image vector pointing laterally (away from the midline) on ``side``."""
        lx, ly = self.left_vector()
        return (lx, ly) if Side(side) is Side.LEFT else (-lx, -ly)

    def lateral_x(self, side: Side | str) -> int:
        """Sign of x pointing laterally (away from the midline) on ``side``.

        Raises :class:`~orthoplan.errors.UnsupportedImageError` on a film stored turned by a
        quarter turn, where left and right lie along y (:meth:`lateral_vector` holds for it).
        """
        if self.turn_deg:
            raise UnsupportedImageError(
                f"the film is stored turned by a quarter turn (the head at the image's {self.superior_name}): this "
                "step reads films stored head up or head down; turn the image")
        return self.patient_left_x if Side(side) is Side.LEFT else -self.patient_left_x

    def to_dict(self) -> dict[str, Any]:
        d = dict(vars(self))
        if not self.turn_deg:  # plans of head-up films keep the document they always had
            del d["turn_deg"]
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ImageOrientation:
        return cls(int(data["patient_left_x"]), int(data["superior_y"]), str(data["source"]),
                   int(data.get("turn_deg", 0)))


@dataclass(frozen=True)
class SideMarker:
    """An R or L side marker read on a film (:func:`orthoplan.landmarks.markers.read_side_markers`).

    ``letter`` is ``"R"`` or ``"L"``; ``x``, ``y`` the centre of the letter in image pixels;
    ``height_px`` its height; ``mirrored`` True where the letter reads backwards (a film
    displayed mirrored); ``score`` how well its shape matches the letter (0-1).

    >>> m = SideMarker("R", 120.0, 80.0, 24.0, False, 0.81)
    >>> m.side.value, m.describe()
    ('right', 'R marker at (120, 80)')
    """

    letter: str
    x: float
    y: float
    height_px: float
    mirrored: bool = False
    score: float = 1.0

    def __post_init__(self) -> None:
        if self.letter not in ("R", "L"):
            raise LandmarkError(f"a side marker's letter is 'R' or 'L', not {self.letter!r}")
        if not all(math.isfinite(v) for v in (self.x, self.y, self.height_px, self.score)) or self.height_px <= 0:
            raise LandmarkError("a side marker needs a finite position, a positive height and a finite score")

    @property
    def side(self) -> Side:
        """The patient's side the letter names."""
        return Side.RIGHT if self.letter == "R" else Side.LEFT

    @property
    def xy(self) -> np.ndarray:
        return np.array([self.x, self.y])

    def describe(self) -> str:
        """How a note names it: ``"R marker at (x, y)"`` (reading backwards where mirrored)."""
        return f"{'mirrored ' if self.mirrored else ''}{self.letter} marker at ({self.x:.0f}, {self.y:.0f})"


@dataclass(frozen=True, eq=False)
class Radiograph:
    """A loaded projection radiograph.

    ``pixels`` are the stored values as decoded (read-only); ``display`` is float32 in
    [0, 1] with rescale and VOI applied and bone bright whatever the photometric
    interpretation. ``dataset`` is the DICOM header without pixel data (``None`` for
    PNG/TIFF), kept so that DICOM output can copy patient and study attributes.
    """

    pixels: np.ndarray
    display: np.ndarray
    reference: ImageReference
    spacing: SpacingTags = field(default_factory=SpacingTags)
    orientation: ImageOrientation = field(default_factory=ImageOrientation)
    photometric_interpretation: str = "MONOCHROME2"
    view_position: str | None = None
    image_laterality: str | None = None
    body_part_examined: str | None = None
    patient_orientation: tuple[str, ...] | None = None
    dataset: Any = field(default=None, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, columns)``."""
        return (int(self.pixels.shape[0]), int(self.pixels.shape[1]))


# --------------------------------------------------------------------------- calibration


@dataclass(frozen=True)
class Calibration:
    """The anatomical scale of an image and how it was obtained.

    ``mm_per_px`` is mm at the anatomy per pixel along x (columns); along y it is
    ``mm_per_px * aspect_ratio``. ``uncertainty_pct`` is the half-width of an interval
    that holds the true scale with at least 95 % probability, in percent of
    ``mm_per_px``; it reflects the method (a ball marker off the hip's plane, a
    magnification estimated by the modality, an assumed magnification...).
    ``assumed`` is True whenever the scale rests on an assumption rather than a
    measurement: plans, reports and pictures then say so.

    Examples
    --------
    >>> c = Calibration(0.15, CalibrationSource.BALL_MARKER, 3.0)
    >>> round(c.interval_mm_per_px[1], 4)
    0.1545
    """

    mm_per_px: float
    source: CalibrationSource
    uncertainty_pct: float
    aspect_ratio: float = 1.0
    magnification: float | None = None
    spacing_basis: str = "none"  #: "PixelSpacing", "ImagerPixelSpacing", "image" or "none"
    assumed: bool = False
    details: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        from .errors import CalibrationError

        for name in ("mm_per_px", "aspect_ratio"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise CalibrationError(f"calibration {name} must be a positive number, got {v!r}")
        if not (math.isfinite(self.uncertainty_pct) and self.uncertainty_pct >= 0):
            raise CalibrationError(f"uncertainty_pct must be >= 0, got {self.uncertainty_pct!r}")
        object.__setattr__(self, "source", CalibrationSource(self.source))
        if self.source is CalibrationSource.ASSUMED_MAGNIFICATION:
            object.__setattr__(self, "assumed", True)
        object.__setattr__(self, "details", MappingProxyType(_jsonable(dict(self.details))))
        object.__setattr__(self, "warnings", tuple(self.warnings))

    @property
    def mm_per_px_y(self) -> float:
        return self.mm_per_px * self.aspect_ratio

    def length_interval_mm(self, length_mm: float) -> tuple[float, float]:
        """The 95 % interval of a length measured on this scale: a length scales with mm per pixel.

        >>> Calibration(0.2, "ball-marker", 5.0).length_interval_mm(-10.0)
        (-10.5, -9.5)
        """
        length_mm = float(length_mm)
        if not math.isfinite(length_mm):
            raise MeasurementError(f"a length must be a finite number to have an interval, got {length_mm}")
        u = self.uncertainty_pct / 100.0
        a, b = length_mm * (1.0 - u), length_mm * (1.0 + u)
        return (min(a, b), max(a, b))

    @property
    def interval_mm_per_px(self) -> tuple[float, float]:
        """The (low, high) bounds of the ≥95 % interval of ``mm_per_px``."""
        f = self.uncertainty_pct / 100.0
        return (self.mm_per_px * (1 - f), self.mm_per_px * (1 + f))

    @property
    def label(self) -> str:
        """One line for pictures and reports, e.g. ``"ball-marker: 0.1500 mm/px ±3.0%"``."""
        text = f"{self.source.value}: {self.mm_per_px:.4f} mm/px ±{self.uncertainty_pct:.1f}%"
        if self.assumed:
            text = "ASSUMED SCALE — " + text
            if self.magnification:
                text += f" (magnification {self.magnification:g} assumed)"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "mm_per_px": self.mm_per_px,
            "source": self.source.value,
            "uncertainty_pct": self.uncertainty_pct,
            "aspect_ratio": self.aspect_ratio,
            "magnification": self.magnification,
            "spacing_basis": self.spacing_basis,
            "assumed": self.assumed,
            "details": _jsonable(dict(self.details)),
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        return cls(
            mm_per_px=float(data["mm_per_px"]),
            source=CalibrationSource(data["source"]),
            uncertainty_pct=float(data["uncertainty_pct"]),
            aspect_ratio=float(data.get("aspect_ratio", 1.0)),
            magnification=data.get("magnification"),
            spacing_basis=str(data.get("spacing_basis", "none")),
            assumed=bool(data.get("assumed", False)),
            details=dict(data.get("details", {})),
            warnings=tuple(data.get("warnings", ())),
        )


# --------------------------------------------------------------------------- landmarks


@dataclass(frozen=True)
class Landmark:
    """One named point in image coordinates (pixels, DICOM origin).

    Circles (femoral heads) carry ``radius_px``. ``confidence`` is in [0, 1]; manual
    landmarks have confidence 1. ``sigma_px`` is the 1-σ positional uncertainty per axis in
    pixels where one is known (:mod:`orthoplan.landmarks.uncertainty`), else ``None``; the
    measurements propagate it into their intervals.
    """

    name: LandmarkName
    x: float
    y: float
    confidence: float = 1.0
    source: LandmarkSource = LandmarkSource.MANUAL
    radius_px: float | None = None
    sigma_px: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", LandmarkName.parse(self.name))
        object.__setattr__(self, "source", LandmarkSource(self.source))
        # Coordinates are kept at float32 precision (1e-4 px at 4000 px): the DICOM SR stores
        # SCOORDs as FL, and a plan must read back from its SR exactly.
        object.__setattr__(self, "x", _float32(_require_finite(f"{self.name.value}.x", self.x)))
        object.__setattr__(self, "y", _float32(_require_finite(f"{self.name.value}.y", self.y)))
        c = _require_finite(f"{self.name.value}.confidence", self.confidence)
        if not 0.0 <= c <= 1.0:
            raise LandmarkError(f"{self.name.value}: confidence must be in [0, 1], got {c}")
        object.__setattr__(self, "confidence", c)
        if self.radius_px is not None:
            r = _require_finite(f"{self.name.value}.radius_px", self.radius_px)
            if r <= 0:
                raise LandmarkError(f"{self.name.value}: radius must be positive, got {r}")
            object.__setattr__(self, "radius_px", _float32(r))
        if self.sigma_px is not None:
            s = _require_finite(f"{self.name.value}.sigma_px", self.sigma_px)
            if s < 0:
                raise LandmarkError(f"{self.name.value}: positional uncertainty must be >= 0 px, got {s}")
            object.__setattr__(self, "sigma_px", _float32(s))

    @property
    def xy(self) -> tuple[float, float]:
        return (self.x, self.y)

    def moved_to(self, x: float, y: float, source: LandmarkSource = LandmarkSource.MANUAL) -> Landmark:
        """A copy at ``(x, y)``, placed by a person (confidence 1); its positional uncertainty is
        no longer known (the pipeline gives it a reader's, see :mod:`orthoplan.landmarks.uncertainty`)."""
        return replace(self, x=x, y=y, source=source, confidence=1.0, sigma_px=None)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "x": self.x,
            "y": self.y,
            "confidence": self.confidence,
            "source": self.source.value,
        }
        if self.radius_px is not None:
            d["radius"] = self.radius_px
        if self.sigma_px is not None:
            d["sigma_px"] = self.sigma_px
        return d

    @classmethod
    def from_value(cls, name: str | LandmarkName, value: Any) -> Landmark:
        """Build from ``[x, y]`` or ``{"x":…, "y":…, "confidence"?, "source"?, "radius"?, "sigma_px"?}``."""
        lname = LandmarkName.parse(name)
        if isinstance(value, Mapping):
            if "x" not in value or "y" not in value:
                raise LandmarkError(f"{lname.value}: needs 'x' and 'y', got {sorted(value)}")
            return cls(
                lname,
                value["x"],
                value["y"],
                confidence=value.get("confidence", 1.0),
                source=value.get("source", LandmarkSource.MANUAL),
                radius_px=value.get("radius"),
                sigma_px=value.get("sigma_px"),
            )
        if isinstance(value, (list, tuple)) and len(value) in (2, 3):
            try:
                radius = value[2] if len(value) == 3 else None
                return cls(lname, float(value[0]), float(value[1]), radius_px=radius)
            except (TypeError, ValueError):
                pass
        raise LandmarkError(
            f"{lname.value}: expected [x, y] or {{'x': .., 'y': ..}} in image pixels, got {value!r}"
        )


@dataclass(frozen=True)
class Landmarks:
    """An immutable set of landmarks, at most one per name, plus the reasons for absences.

    Examples
    --------
    >>> lms = Landmarks.from_dict({"landmarks": {"teardrop_left": [10, 20]}})
    >>> "teardrop_left" in lms, "teardrop_right" in lms
    (True, False)
    """

    items: tuple[Landmark, ...] = ()
    #: ``(name, reason)`` for landmarks that were looked for and not found.
    missing: tuple[tuple[LandmarkName, str], ...] = ()

    def __post_init__(self) -> None:
        by_name: dict[LandmarkName, Landmark] = {}
        for lm in self.items:
            if lm.name in by_name:
                raise LandmarkError(f"landmark {lm.name.value} given twice")
            by_name[lm.name] = lm
        object.__setattr__(self, "items", tuple(sorted(by_name.values(), key=_landmark_order)))
        object.__setattr__(self, "_by_name", MappingProxyType(by_name))
        missing = {LandmarkName.parse(n): str(r) for n, r in self.missing if n not in by_name}
        object.__setattr__(self, "missing", tuple(sorted(missing.items(), key=lambda p: _order(p[0]))))

    @classmethod
    def from_landmarks(
        cls, landmarks: Iterable[Landmark], missing: Mapping[LandmarkName | str, str] | None = None
    ) -> Landmarks:
        return cls(tuple(landmarks), tuple((LandmarkName.parse(k), v) for k, v in (missing or {}).items()))

    def __contains__(self, name: object) -> bool:
        try:
            return LandmarkName(str(name)) in self._by_name  # type: ignore[attr-defined]
        except ValueError:
            return False

    def __getitem__(self, name: LandmarkName | str) -> Landmark:
        lname = LandmarkName.parse(name)
        try:
            return self._by_name[lname]  # type: ignore[attr-defined]
        except KeyError:
            reason = dict(self.missing).get(lname, "not given")
            raise KeyError(f"{lname.value}: {reason}") from None

    def get(self, name: LandmarkName | str) -> Landmark | None:
        return self._by_name.get(LandmarkName.parse(name))  # type: ignore[attr-defined]

    def __iter__(self) -> Iterator[Landmark]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def missing_reason(self, name: LandmarkName | str) -> str:
        """Why ``name`` is absent (``"not given"`` if nobody looked for it)."""
        return dict(self.missing).get(LandmarkName.parse(name), "not given")

    def with_landmark(self, landmark: Landmark) -> Landmarks:
        """A copy in which ``landmark`` replaces any landmark of the same name."""
        kept = tuple(lm for lm in self.items if lm.name != landmark.name)
        return Landmarks(kept + (landmark,), self.missing)

    def without(self, name: LandmarkName | str, reason: str = "removed by the user") -> Landmarks:
        lname = LandmarkName.parse(name)
        kept = tuple(lm for lm in self.items if lm.name != lname)
        return Landmarks(kept, self.missing + ((lname, reason),))

    def to_dict(self) -> dict[str, Any]:
        """``{"landmarks": {name: {...}}, "missing": {name: reason}}`` (CLI format)."""
        return {
            "landmarks": {lm.name.value: lm.to_dict() for lm in self.items},
            "missing": {n.value: r for n, r in self.missing},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Landmarks:
        """Read the landmark-file format ``{"landmarks": {name: [x, y] | {...}}}``."""
        if not isinstance(data, Mapping) or not isinstance(data.get("landmarks"), Mapping):
            raise LandmarkError('a landmark file must be a JSON object {"landmarks": {name: [x, y], ...}}')
        items = [Landmark.from_value(k, v) for k, v in data["landmarks"].items()]
        missing = data.get("missing") or {}
        if not isinstance(missing, Mapping):
            raise LandmarkError('"missing" must map landmark names to reasons')
        return cls.from_landmarks(items, missing)


#: The landmark anatomies of the AP knee view (one knee; see :mod:`orthoplan.measurements.knee`).
KNEE_AP_ANATOMY = (
    "knee_femoral_axis_proximal", "knee_femoral_axis_distal", "knee_tibial_axis_proximal",
    "knee_tibial_axis_distal", "femoral_condyle_medial", "femoral_condyle_lateral",
    "tibial_plateau_medial", "tibial_plateau_lateral", "femoral_epicondyle_medial",
    "femoral_epicondyle_lateral",
)
#: The landmark anatomies of the lateral knee view (one knee).
KNEE_LATERAL_ANATOMY = (
    "knee_femoral_axis_proximal", "knee_femoral_axis_distal", "knee_tibial_axis_proximal",
    "knee_tibial_axis_distal", "femoral_anterior_cortex", "femoral_posterior_cortex",
    "femoral_posterior_condyle", "tibial_plateau_anterior", "tibial_plateau_posterior",
)



def _order(name: LandmarkName) -> int:
    return list(LandmarkName).index(name)


def _landmark_order(lm: Landmark) -> int:
    return _order(lm.name)


# --------------------------------------------------------------------------- measurements


@dataclass(frozen=True)
class Measurement:
    """One measured value at the anatomy, with the landmarks it was computed from.

    ``interval`` is the 95 % interval ``(low, high)`` of the value in its unit where one is
    known: for lengths, the calibration's interval (a length scales with mm per pixel),
    widened by the landmarks' positional uncertainty where they carry one; for angles, the
    positional one alone; ``None`` where no interval is claimed (an angle whose landmarks
    have no ``sigma_px``). See :func:`orthoplan.measurements.common.combined_interval`.

    >>> m = Measurement("femoral_offset_left_mm", 40.0, "mm", interval=(38.0, 42.0))
    >>> m.to_dict()["interval_95"], m.interval_text
    ([38.0, 42.0], '38.0–42.0 mm')
    """

    name: str
    value: float
    unit: str  #: UCUM: "mm" or "deg"
    landmarks: tuple[LandmarkName, ...] = ()
    side: Side | None = None
    notes: tuple[str, ...] = ()
    interval: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        try:
            value = float(self.value)
        except (TypeError, ValueError):
            raise MeasurementError(f"{self.name} must be a number, got {self.value!r}") from None
        if not math.isfinite(value):
            raise MeasurementError(f"{self.name}: a measurement is a finite number or absent with its reason, got {value}")
        object.__setattr__(self, "value", value)
        if self.interval is not None:
            try:
                lo, hi = (float(v) for v in self.interval)
            except (TypeError, ValueError):
                raise MeasurementError(f"{self.name}: the interval must be (low, high), got {self.interval!r}") from None
            tol = 1e-9 * max(1.0, abs(value))
            if not (math.isfinite(lo) and math.isfinite(hi) and lo - tol <= value <= hi + tol):
                raise MeasurementError(f"{self.name}: the interval ({lo}, {hi}) must be finite and contain the value {value}")
            object.__setattr__(self, "interval", (lo, hi))

    @property
    def interval_text(self) -> str:
        """``"38.0–42.0 mm"``, or ``""`` without an interval."""
        if self.interval is None:
            return ""
        return f"{self.interval[0]:.1f}–{self.interval[1]:.1f} {self.unit}"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"value": self.value, "unit": self.unit}
        if self.interval is not None:
            d["interval_95"] = list(self.interval)
        if self.side is not None:
            d["side"] = self.side.value
        d["landmarks"] = [n.value for n in self.landmarks]
        if self.notes:
            d["notes"] = list(self.notes)
        return d

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> Measurement:
        interval = data.get("interval_95")
        return cls(
            name=name,
            value=float(data["value"]),
            unit=str(data["unit"]),
            landmarks=tuple(LandmarkName.parse(n) for n in data.get("landmarks", ())),
            side=Side(data["side"]) if data.get("side") else None,
            notes=tuple(data.get("notes", ())),
            interval=None if interval is None else (float(interval[0]), float(interval[1])),
        )


@dataclass(frozen=True)
class Measurements:
    """Measured values by name, plus the reason for every value that could not be measured."""

    items: tuple[Measurement, ...] = ()
    missing: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", MappingProxyType({m.name: m for m in self.items}))

    def __contains__(self, name: object) -> bool:
        return name in self._by_name  # type: ignore[attr-defined]

    def __getitem__(self, name: str) -> Measurement:
        try:
            return self._by_name[name]  # type: ignore[attr-defined]
        except KeyError:
            raise KeyError(f"{name}: {dict(self.missing).get(name, 'not measured')}") from None

    def get(self, name: str) -> Measurement | None:
        return self._by_name.get(name)  # type: ignore[attr-defined]

    def __iter__(self) -> Iterator[Measurement]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def values(self) -> dict[str, float]:
        """``{name: value}`` of every measured value."""
        return {m.name: m.value for m in self.items}

    def to_dict(self) -> dict[str, Any]:
        return {
            "measurements": {m.name: m.to_dict() for m in self.items},
            "missing": dict(self.missing),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Measurements:
        items = tuple(Measurement.from_dict(k, v) for k, v in data.get("measurements", {}).items())
        return cls(items, tuple((str(k), str(v)) for k, v in data.get("missing", {}).items()))


# --------------------------------------------------------------------------- implant placements


class ImplantKind(enum.StrEnum):
    """The kinds of implant component a plan places (catalog ``kind``)."""

    CUP = "cup"
    STEM = "stem"
    HEAD = "head"
    # total knee (orthoplan.templating.knee)
    FEMORAL_COMPONENT = "femoral_component"
    TIBIAL_TRAY = "tibial_tray"
    TIBIAL_INSERT = "tibial_insert"


@dataclass(frozen=True)
class Placement:
    """One implant component placed on the image: which implant, where, at what angle.

    Positions are image pixels (DICOM origin, float32 like landmarks so that the SR
    round-trips exactly):

    * ``cup``: ``(x, y)`` is the centre of rotation; ``angle_deg`` the inclination (the
      rim line from the pelvic horizontal, opening laterally);
    * ``stem``: ``(x, y)`` is the taper point (head centre at neck length 0, see
      ``docs/catalog.md``); ``angle_deg`` is the tilt of the stem's axis from the image's
      superior-inferior direction, positive clockwise on the screen;
    * ``head``: ``(x, y)`` is the head centre on the stem (before reduction);
      ``neck_length_mm`` the chosen neck-length option;
    * ``femoral_component`` / ``tibial_tray`` / ``tibial_insert`` (knee): ``(x, y)`` is the
      centre of the component's resection line (distal femoral / tibial cut);
      ``angle_deg`` the tilt of the component's axis (perpendicular to the cut, pointing
      distally) from the image's superior-inferior direction, clockwise on the screen +;
      an insert has ``thickness_mm`` (the chosen option).

    ``auto`` is True while orthoplan's choice stands and False once a person edited it.
    ``size_range`` is ``(smallest, largest)`` size label that the automatic sizing chose
    anywhere within the scale's 95 % interval (``None`` when the size was given).

    Examples
    --------
    >>> p = Placement("cup", "left", "generic", "Generic hemispherical cup", "54", 812.25, 640.5, 40.0)
    >>> Placement.from_dict(p.to_dict()) == p
    True
    """

    kind: ImplantKind
    side: Side
    vendor: str
    family: str
    size: str
    x: float
    y: float
    angle_deg: float = 0.0
    neck_length_mm: float | None = None
    auto: bool = True
    thickness_mm: float | None = None
    size_range: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", ImplantKind(self.kind))
            object.__setattr__(self, "side", Side(self.side))
        except ValueError as exc:
            raise PlanError(f"placement: {exc}") from None
        for name in ("vendor", "family", "size"):
            if not str(getattr(self, name)).strip():
                raise PlanError(f"placement of a {self.kind.value}: {name} must not be empty")
            object.__setattr__(self, name, str(getattr(self, name)))
        try:
            object.__setattr__(self, "x", _float32(_require_finite("placement x", self.x)))
            object.__setattr__(self, "y", _float32(_require_finite("placement y", self.y)))
            object.__setattr__(self, "angle_deg", _require_finite("placement angle_deg", self.angle_deg))
            if self.neck_length_mm is not None:
                object.__setattr__(
                    self, "neck_length_mm", _require_finite("placement neck_length_mm", self.neck_length_mm)
                )
        except LandmarkError as exc:
            raise PlanError(str(exc)) from None
        if (self.kind is ImplantKind.HEAD) != (self.neck_length_mm is not None):
            raise PlanError("a head placement needs neck_length_mm, and only a head has one")
        if self.thickness_mm is not None:
            try:
                object.__setattr__(self, "thickness_mm", _require_finite("placement thickness_mm", self.thickness_mm))
            except LandmarkError as exc:
                raise PlanError(str(exc)) from None
        if (self.kind is ImplantKind.TIBIAL_INSERT) != (self.thickness_mm is not None):
            raise PlanError("a tibial insert placement needs thickness_mm, and only an insert has one")
        object.__setattr__(self, "auto", bool(self.auto))
        if self.size_range is not None:
            lo, hi = (str(v).strip() for v in self.size_range)
            if not (lo and hi):
                raise PlanError(f"placement of a {self.kind.value}: size_range needs two size labels")
            object.__setattr__(self, "size_range", (lo, hi))

    @property
    def xy(self) -> tuple[float, float]:
        return (self.x, self.y)

    @property
    def spans_sizes(self) -> bool:
        """True when the scale's interval allows more than one size."""
        return self.size_range is not None and self.size_range[0] != self.size_range[1]

    @property
    def key(self) -> tuple[ImplantKind, Side]:
        """``(kind, side)``: a plan holds at most one placement per key."""
        return (self.kind, self.side)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "kind": self.kind.value,
            "side": self.side.value,
            "vendor": self.vendor,
            "family": self.family,
            "size": self.size,
            "x": self.x,
            "y": self.y,
            "angle_deg": self.angle_deg,
            "auto": self.auto,
        }
        if self.neck_length_mm is not None:
            d["neck_length_mm"] = self.neck_length_mm
        if self.thickness_mm is not None:
            d["thickness_mm"] = self.thickness_mm
        if self.size_range is not None:
            d["size_range"] = list(self.size_range)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Placement:
        try:
            return cls(
                kind=data["kind"],
                side=data["side"],
                vendor=data["vendor"],
                family=data["family"],
                size=str(data["size"]),
                x=data["x"],
                y=data["y"],
                angle_deg=data.get("angle_deg", 0.0),
                neck_length_mm=data.get("neck_length_mm"),
                auto=data.get("auto", True),
                thickness_mm=data.get("thickness_mm"),
                size_range=None if data.get("size_range") is None else tuple(data["size_range"]),
            )
        except KeyError as exc:
            raise PlanError(f"placement lacks {exc.args[0]!r}: {dict(data)!r}") from None


# --------------------------------------------------------------------------- planned osteotomies


@dataclass(frozen=True)
class PlannedOsteotomy:
    """A realignment osteotomy kept in a plan (made by :func:`orthoplan.osteotomy.with_osteotomy`).

    Points are image pixels (DICOM origin, float32 like landmarks so that the SR round-trips
    exactly): ``hinge`` the hinge point, ``cut_end`` the far end of the cut (the far cortex,
    ``osteotomy_length_mm`` from the hinge), ``target`` the plateau point the new
    weight-bearing line crosses (after correction). ``rotation_deg`` is the signed rotation
    of the distal segment about the hinge in mm at the anatomy (as
    :func:`orthoplan.geometry.rotate`); ``correction_deg`` its size, the wedge angle.
    ``predicted`` are this leg's lower-limb values after the correction (the measurement
    names, without landmarks). ``auto`` is True while the hinge and osteotomy length are
    orthoplan's defaults (they follow the landmarks when these move) and False once given.

    Examples
    --------
    >>> o = PlannedOsteotomy("hto", "left", "opening", 0.625, 100.5, 200.25, 60.0, 210.0, 80.0, 190.0,
    ...                      -9.5, "valgus", 52.0, 8.6, 0.625)
    >>> PlannedOsteotomy.from_dict(o.to_dict()) == o, o.correction_deg
    (True, 9.5)
    """

    kind: str  #: "hto" (high tibial) or "dfo" (distal femoral)
    side: Side
    wedge: str  #: "opening" or "closing"
    target_fraction: float
    hinge_x: float
    hinge_y: float
    cut_end_x: float
    cut_end_y: float
    target_x: float
    target_y: float
    rotation_deg: float
    direction: str  #: "valgus" or "varus"
    osteotomy_length_mm: float
    wedge_height_mm: float
    achieved_fraction: float
    predicted: Measurements = field(default_factory=Measurements)
    notes: tuple[str, ...] = ()
    auto: bool = True

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "side", Side(self.side))
        except ValueError as exc:
            raise PlanError(f"osteotomy: {exc}") from None
        for name, allowed in (("kind", ("hto", "dfo")), ("wedge", ("opening", "closing")),
                              ("direction", ("valgus", "varus"))):
            if getattr(self, name) not in allowed:
                raise PlanError(f"osteotomy {name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        try:
            for name in ("hinge_x", "hinge_y", "cut_end_x", "cut_end_y", "target_x", "target_y"):
                object.__setattr__(self, name, _float32(_require_finite(f"osteotomy {name}", getattr(self, name))))
            for name in ("target_fraction", "rotation_deg", "osteotomy_length_mm", "wedge_height_mm", "achieved_fraction"):
                object.__setattr__(self, name, _require_finite(f"osteotomy {name}", getattr(self, name)))
        except LandmarkError as exc:
            raise PlanError(str(exc)) from None
        object.__setattr__(self, "notes", tuple(str(n) for n in self.notes))
        object.__setattr__(self, "auto", bool(self.auto))

    @property
    def hinge_px(self) -> tuple[float, float]:
        return (self.hinge_x, self.hinge_y)

    @property
    def cut_end_px(self) -> tuple[float, float]:
        return (self.cut_end_x, self.cut_end_y)

    @property
    def target_px(self) -> tuple[float, float]:
        return (self.target_x, self.target_y)

    @property
    def correction_deg(self) -> float:
        """The wedge angle at the hinge (>= 0)."""
        return abs(self.rotation_deg)

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("side", "predicted", "notes")}
        d["side"] = self.side.value
        d["predicted"] = self.predicted.to_dict()
        d["notes"] = list(self.notes)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlannedOsteotomy:
        try:
            kw = {k: data[k] for k in cls.__dataclass_fields__ if k not in ("predicted", "notes", "auto")}
        except KeyError as exc:
            raise PlanError(f"osteotomy lacks {exc.args[0]!r}") from None
        return cls(**kw, predicted=Measurements.from_dict(data.get("predicted", {})),
                   notes=tuple(data.get("notes", ())), auto=data.get("auto", True))


# --------------------------------------------------------------------------- plan


def _now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def plan_time(created: str) -> _dt.datetime | None:
    """``Plan.created`` as an aware UTC datetime (a time without offset is taken as UTC), or
    ``None`` when it is empty or not ISO 8601: the key that orders revisions in time.

    >>> plan_time("2026-01-31T10:05:00-04:00").isoformat()
    '2026-01-31T14:05:00+00:00'
    >>> plan_time("") is None
    True
    """
    try:
        when = _dt.datetime.fromisoformat(str(created))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return when.astimezone(_dt.timezone.utc)


@dataclass(frozen=True)
class Plan:
    """A surgical plan on one radiograph: everything needed to show and report it.

    Built by :func:`orthoplan.pipeline.plan_radiograph`; re-measured after an edit by
    :func:`orthoplan.pipeline.update_landmarks`. Serialises to JSON with a schema version.
    """

    image: ImageReference
    calibration: Calibration
    landmarks: Landmarks
    measurements: Measurements
    orientation: ImageOrientation = field(default_factory=ImageOrientation)
    view: str = "ap-pelvis"
    #: The plan's identifier, the same in all its revisions.
    plan_uid: str = ""
    #: 1 for a new plan; :func:`orthoplan.pipeline.revise_plan` makes revision n + 1.
    revision: int = 1
    status: str = "draft"  #: "draft" or "final"
    author: str | None = None
    #: When this revision was made (ISO 8601): the SR's and GSPS's dates and times. Each
    #: revision has its own, later than its predecessor's (:func:`~orthoplan.pipeline.revise_plan`).
    created: str = field(default_factory=_now_iso)
    software_version: str = ""
    notes: tuple[str, ...] = ()
    #: Implant components placed by :mod:`orthoplan.templating` (at most one per kind and side).
    placements: tuple[Placement, ...] = ()
    #: Predicted post-operative values (same names as ``measurements``) for the placements.
    predictions: Measurements = field(default_factory=Measurements)
    #: Realignment osteotomies planned by :mod:`orthoplan.osteotomy` (at most one per side).
    osteotomies: tuple[PlannedOsteotomy, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "placements", tuple(self.placements))
        keys = [p.key for p in self.placements]
        if len(set(keys)) != len(keys):
            raise PlanError("a plan holds at most one placement per implant kind and side")
        object.__setattr__(self, "osteotomies", tuple(self.osteotomies))
        if len({o.side for o in self.osteotomies}) != len(self.osteotomies):
            raise PlanError("a plan holds at most one osteotomy per side")
        if self.status not in ("draft", "final"):
            raise PlanError(f"plan status must be 'draft' or 'final', got {self.status!r}")
        if int(self.revision) < 1:
            raise PlanError(f"plan revision must be >= 1, got {self.revision!r}")
        if not self.plan_uid:
            from pydicom.uid import generate_uid

            object.__setattr__(self, "plan_uid", generate_uid())

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "orthoplan.plan",
            "schema_version": PLAN_SCHEMA_VERSION,
            "plan_uid": self.plan_uid,
            "revision": self.revision,
            "status": self.status,
            "author": self.author,
            "created": self.created,
            "software_version": self.software_version,
            "view": self.view,
            "notes": list(self.notes),
            "image": self.image.to_dict(),
            "orientation": self.orientation.to_dict(),
            "calibration": self.calibration.to_dict(),
            "landmarks": self.landmarks.to_dict(),
            "measurements": self.measurements.to_dict(),
            "placements": [p.to_dict() for p in self.placements],
            "predictions": self.predictions.to_dict(),
            "osteotomies": [o.to_dict() for o in self.osteotomies],
        }

    def placement(self, kind: ImplantKind | str, side: Side | str) -> Placement | None:
        """The placement of ``kind`` on ``side``, or ``None``."""
        key = (ImplantKind(kind), Side(side))
        return next((p for p in self.placements if p.key == key), None)

    def osteotomy(self, side: Side | str) -> PlannedOsteotomy | None:
        """The osteotomy planned on ``side``, or ``None``."""
        side = Side(side)
        return next((o for o in self.osteotomies if o.side is side), None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        if not isinstance(data, Mapping) or data.get("schema") != "orthoplan.plan":
            raise PlanError("not an orthoplan plan document (missing \"schema\": \"orthoplan.plan\")")
        version = data.get("schema_version")
        if version not in READABLE_PLAN_SCHEMA_VERSIONS:
            raise PlanError(
                f"plan schema version {version!r} is not supported by this orthoplan "
                f"(it reads versions {', '.join(map(str, READABLE_PLAN_SCHEMA_VERSIONS))})"
            )
        try:
            return cls(
                image=ImageReference.from_dict(data["image"]),
                calibration=Calibration.from_dict(data["calibration"]),
                landmarks=Landmarks.from_dict(data["landmarks"]),
                measurements=Measurements.from_dict(data["measurements"]),
                orientation=ImageOrientation.from_dict(data["orientation"]),
                view=str(data.get("view", "ap-pelvis")),
                plan_uid=str(data["plan_uid"]),
                revision=int(data.get("revision", 1)),
                status=str(data.get("status", "draft")),
                author=data.get("author"),
                created=str(data.get("created", "")),
                software_version=str(data.get("software_version", "")),
                notes=tuple(data.get("notes", ())),
                placements=tuple(Placement.from_dict(p) for p in data.get("placements", ())),
                predictions=Measurements.from_dict(data.get("predictions", {})),
                osteotomies=tuple(PlannedOsteotomy.from_dict(o) for o in data.get("osteotomies", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PlanError(f"malformed plan document: {exc}") from exc

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PlanError(f"plan is not valid JSON: {exc}") from exc
        return cls.from_dict(data)


def _jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays and tuples inside ``value`` to JSON types."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
