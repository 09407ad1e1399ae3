"""Plans for the DICOM output tests: rich (everything the SR must carry) and partial."""

from __future__ import annotations

import pydicom
from pydicom.uid import generate_uid

from orthoplan.image import reference_from_dataset
from orthoplan.measurements import measure_hip, measurement_names
from orthoplan.model import (
    Calibration,
    CalibrationSource,
    ImageOrientation,
    Landmark,
    LandmarkName,
    Landmarks,
    LandmarkSource,
    Measurement,
    Measurements,
    Plan,
)

CREATED = "2026-01-31T14:05:00+00:00"


def truth_landmarks(dx_case, scale: float = 1.0) -> list[Landmark]:
    """The synthetic truth landmarks, scaled, with varied confidence and sources."""
    sources = [LandmarkSource.AUTO, LandmarkSource.MANUAL, LandmarkSource.REFINED]
    out = []
    for i, lm in enumerate(dx_case.landmarks):
        radius = lm.radius_px * scale if lm.radius_px else None
        out.append(
            Landmark(lm.name, lm.x * scale + 0.123456, lm.y * scale + 0.654321,
                     confidence=round(0.5 + 0.49 * ((i * 37) % 11) / 10, 6) if i % 3 == 0 else 1.0 / 3.0,
                     source=sources[i % 3], radius_px=radius)
        )
    return out


def make_rich_plan(header: pydicom.Dataset, landmarks: list[Landmark], *, revision: int = 1,
                   status: str = "final", author: str | None = "Surgeon^Ann", plan_uid: str | None = None) -> Plan:
    """All landmarks of both hips (heads as circles), every measurement, notes, an assumed
    calibration with warnings and details."""
    cal = Calibration(
        mm_per_px=0.4 / 1.15,
        source=CalibrationSource.ASSUMED_MAGNIFICATION,
        uncertainty_pct=7.5,
        magnification=1.15,
        spacing_basis="ImagerPixelSpacing",
        details={"detector_spacing_mm": [0.4, 0.4], "assumed_magnification": 1.15, "note": "no ball found"},
        warnings=("No calibration ball found — scale assumed (±7.5 %)", "ImagerPixelSpacing is at the detector"),
    )
    lms = Landmarks(tuple(landmarks))
    orientation = ImageOrientation(1, -1, "PatientOrientation")
    ms = measure_hip(lms, cal, orientation)
    assert set(ms.values()) == set(measurement_names()), "the rich plan must have every measurement"
    return Plan(
        image=reference_from_dataset(header),
        calibration=cal,
        landmarks=lms,
        measurements=ms,
        orientation=orientation,
        view="ap-pelvis",
        plan_uid=plan_uid or generate_uid(entropy_srcs=["tests-dicom", str(header.SOPInstanceUID)]),
        revision=revision,
        status=status,
        author=author,
        created=CREATED,
        software_version="0.1.0+test",
        notes=("Templated for a 54 mm cup", "Zweite Notiz: Ünïcödé — ok"),
    )


def make_partial_plan(header: pydicom.Dataset, landmarks: list[Landmark]) -> Plan:
    """A draft with missing landmarks and measurements (with reasons), no author, a flipped
    orientation, a measurement order that is not grouped by side, and two landmarks at the
    same position (their identity cannot come from coordinates)."""
    keep = [lm for lm in landmarks if lm.name not in (LandmarkName.TEARDROP_RIGHT, LandmarkName.SOURCIL_MEDIAL_LEFT)]
    head = next(lm for lm in keep if lm.name is LandmarkName.FEMORAL_HEAD_CENTER_LEFT)
    keep = [
        Landmark(lm.name, head.x, head.y, lm.confidence, lm.source, lm.radius_px)
        if lm.name is LandmarkName.GREATER_TROCHANTER_LEFT else lm
        for lm in keep
    ]
    lms = Landmarks.from_landmarks(
        keep,
        missing={"teardrop_right": "outside the collimated field", "sourcil_medial_left": "not visible: implant"},
    )
    cal = Calibration(0.15, CalibrationSource.BALL_MARKER, 2.5, magnification=None, spacing_basis="image")
    orientation = ImageOrientation(-1, -1, "assumed-from-ViewPosition-PA")
    ms = measure_hip(lms, cal, orientation)
    assert ms.missing, "the partial plan must have missing measurements"
    items = list(ms.items)
    items = [items[-1], *items[:-1]]  # a left-hip value first: not the grouped order
    extra = Measurement("lld_ischial_mm", 3.25, "mm", (), None, ("entered by hand",)) if "lld_ischial_mm" not in ms else None
    ms = Measurements(tuple(items) + ((extra,) if extra else ()), ms.missing)
    return Plan(
        image=reference_from_dataset(header),
        calibration=cal,
        landmarks=lms,
        measurements=ms,
        orientation=orientation,
        view="ap-hip-left",
        plan_uid=generate_uid(entropy_srcs=["tests-dicom-partial", str(header.SOPInstanceUID)]),
        revision=3,
        status="draft",
        author=None,
        created="2026-02-02T08:00:00",
        software_version="",
        notes=(),
    )


