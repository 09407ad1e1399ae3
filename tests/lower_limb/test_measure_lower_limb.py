"""measure_lower_limb: absent values with reasons, notes, definitions, vocabulary, docs."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

import orthoplan.measurements.lower_limb as lower_limb_module
import orthoplan.osteotomy as osteotomy_module
import orthoplan.phantoms.limb as synthetic_limb_module
from orthoplan.errors import MeasurementError
from orthoplan.measurements import (
    LOWER_LIMB_DEFINITIONS,
    definition_for,
    lower_limb_construction,
    lower_limb_measurement_names,
    measure_hip,
    measure_lower_limb,
    measurements_markdown,
    split_name,
)
from orthoplan.model import (
    LANDMARK_DEFINITIONS,
    Calibration,
    CalibrationSource,
    ImageOrientation,
    LandmarkName,
    Landmarks,
    Side,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"
CAL = Calibration(0.2, "ball-marker", 2.0)

LONG_LEG_ANATOMY = lower_limb_module.LONG_LEG_ANATOMY


def test_vocabulary_has_both_sides_and_definitions():
    for anatomy in LONG_LEG_ANATOMY:
        d = LANDMARK_DEFINITIONS[anatomy]
        assert len(d.definition) > 30 and d.code[0] == "SCT"
        for side in Side:
            assert LandmarkName.of(anatomy, side).side is side
            assert LandmarkName.of(anatomy, side).anatomy == anatomy


def test_definitions_are_complete_and_documented():
    text = measurements_markdown()
    assert (DOCS / "measurements.md").read_text(encoding="utf-8") == text
    assert len(lower_limb_measurement_names()) == 1 + 10 * 2
    for name, d in LOWER_LIMB_DEFINITIONS.items():
        assert f"`{name}`" in text
        assert "Paley" in d.reference and d.sign and len(d.definition) > 30
        assert definition_for(name) is d
    assert split_name("hka_left_deg") == (LOWER_LIMB_DEFINITIONS["hka_{side}_deg"], Side.LEFT)
    assert "varus negative" in LOWER_LIMB_DEFINITIONS["hka_{side}_deg"].sign
    assert "medial" in LOWER_LIMB_DEFINITIONS["mad_{side}_mm"].sign
    landmarks_doc = (DOCS / "landmarks.md").read_text(encoding="utf-8")
    for anatomy in LONG_LEG_ANATOMY:
        assert f"`{anatomy}_left`" in landmarks_doc


def test_measurements_use_only_their_defined_landmarks(make_case):
    case = make_case("tibial_varus", "femoral_valgus", "MONOCHROME2", 1, 0)
    ms = measure_lower_limb(case.landmarks, Calibration(case.mm_per_px, "ball-marker", 1.0), case.orientation)
    for m in ms:
        d, side = split_name(m.name)
        assert m.unit == d.unit and m.side == side
        anatomies = {lm.anatomy for lm in m.landmarks}
        assert anatomies <= set(d.landmarks) | set(d.optional_landmarks), m.name
        assert set(d.landmarks) <= anatomies, m.name


def test_missing_landmarks_give_reasons_never_zero(make_case):
    case = make_case("neutral", "neutral", "MONOCHROME2", 1, 0)
    lms = case.landmarks.without("femoral_condyle_lateral_left", "not found in image")
    lms = lms.without("tibial_knee_center_right", "hidden by a knee prosthesis")
    ms = measure_lower_limb(lms, Calibration(case.mm_per_px, "ball-marker", 1.0), case.orientation)
    missing = dict(ms.missing)
    assert set(missing) | set(ms.values()) == set(lower_limb_measurement_names())
    assert missing["mldfa_left_deg"] == "needs femoral_condyle_lateral_left: not found in image"
    assert missing["jlca_left_deg"] == "needs femoral_condyle_lateral_left: not found in image"
    for name in ("hka_right_deg", "mpta_right_deg", "ldta_right_deg", "tibial_length_right_mm", "lld_long_leg_mm"):
        assert "needs tibial_knee_center_right: hidden by a knee prosthesis" in missing[name], name
    # the MAD falls back on the femoral knee centre and says so
    mad = ms["mad_right_mm"]
    assert any("knee centre: femoral" in n for n in mad.notes)
    assert LandmarkName.FEMORAL_KNEE_CENTER_RIGHT in mad.landmarks
    assert "mldfa_right_deg" in ms and "mpta_left_deg" in ms


def test_no_landmarks_at_all():
    ms = measure_lower_limb(Landmarks(), CAL)
    assert len(ms) == 0 and len(ms.missing) == len(lower_limb_measurement_names())
    assert dict(ms.missing)["mad_left_mm"].startswith("needs femoral_head_center_left: not given")


def test_degenerate_geometry_is_a_reason(make_case):
    case = make_case("neutral", "neutral", "MONOCHROME2", 1, 0)
    cm = case.landmarks["femoral_condyle_medial_right"]
    lms = case.landmarks.with_landmark(case.landmarks["femoral_condyle_lateral_right"].moved_to(cm.x + 0.5, cm.y))
    ms = measure_lower_limb(lms, Calibration(case.mm_per_px, "ball-marker", 1.0), case.orientation)
    assert "apart" in dict(ms.missing)["mldfa_right_deg"]


def test_assumed_scale_is_noted_on_lengths(make_case):
    case = make_case("neutral", "neutral", "MONOCHROME2", 1, 0)
    cal = Calibration(case.mm_per_px, CalibrationSource.ASSUMED_MAGNIFICATION, 8.0, magnification=1.1)
    ms = measure_lower_limb(case.landmarks, cal, case.orientation)
    assert "assumed scale" in ms["femoral_length_left_mm"].notes
    assert "assumed scale" in ms["lld_long_leg_mm"].notes
    assert "assumed scale" not in ms["hka_left_deg"].notes


def test_orientation_decides_medial_and_lateral(make_case):
    """The same pixels read with the wrong orientation swap varus and valgus: sides are the
    patient's, from the header, never the screen's."""
    case = make_case("tibial_varus", "tibial_varus", "MONOCHROME2", 1, 0)
    cal = Calibration(case.mm_per_px, "ball-marker", 1.0)
    right = measure_lower_limb(case.landmarks, cal, case.orientation)["hka_right_deg"].value
    wrong = measure_lower_limb(case.landmarks, cal, ImageOrientation(-1, -1, "PatientOrientation"))["hka_right_deg"].value
    assert right < 0 and wrong == pytest.approx(-right)


def test_constructions_are_in_pixels(make_case):
    case = make_case("neutral", "neutral", "MONOCHROME2", 1, 0)
    cal = Calibration(case.mm_per_px, "ball-marker", 1.0)
    lines = lower_limb_construction("mad_left_mm", case.landmarks, cal, case.orientation)
    h, a = case.landmarks["femoral_head_center_left"], case.landmarks["ankle_center_left"]
    assert lines["mechanical_axis"].ravel().tolist() == pytest.approx([h.x, h.y, a.x, a.y])
    for name in lower_limb_measurement_names():
        assert lower_limb_construction(name, case.landmarks, cal, case.orientation)
    with pytest.raises(MeasurementError, match="not a lower-limb measurement"):
        lower_limb_construction("lcea_left_deg", case.landmarks, cal, case.orientation)


def test_hip_measurements_ignore_the_new_vocabulary(make_case):
    case = make_case("neutral", "neutral", "MONOCHROME2", 1, 0)
    ms = measure_hip(case.landmarks, Calibration(case.mm_per_px, "ball-marker", 1.0), case.orientation)
    assert all(not n.startswith(("hka", "mad")) for n in ms.values())


@pytest.mark.parametrize("module", [lower_limb_module, osteotomy_module, synthetic_limb_module])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
