"""calibrate(): the order of sources, cross-checks with DICOM tags, known length, compare()."""

from __future__ import annotations

import math

import pytest

from orthoplan.calibration import calibrate, compare, from_known_length
from orthoplan.errors import CalibrationError
from orthoplan.model import Calibration, CalibrationSource, SpacingTags

SMALL = dict(rows=1200, columns=1440, detector_spacing_mm=0.25)


# --------------------------------------------------------------------------- order of sources


def test_known_length_wins(synth):
    case, rad = synth(seed=41, calibration_tags="imager+ermf", **SMALL)
    length_px = math.hypot(300.0, 400.0)
    cal = calibrate(rad, known_length=((100.0, 200.0), (400.0, 600.0), length_px * case.mm_per_px))
    assert cal.source is CalibrationSource.KNOWN_LENGTH
    assert cal.mm_per_px == pytest.approx(case.mm_per_px, rel=1e-9)
    assert cal.magnification == pytest.approx(case.magnification, rel=1e-6)
    assert cal.warnings == ()  # agrees with the ERMF scale


def test_known_length_as_mapping(synth):
    case, rad = synth(seed=41, calibration_tags="imager+ermf", **SMALL)
    cal = calibrate(rad, known_length={"p1": [0, 0], "p2": [0, 500], "length_mm": 500 * case.mm_per_px * 1.1})
    assert cal.source is CalibrationSource.KNOWN_LENGTH
    assert any("scales disagree" in w for w in cal.warnings)  # 10 % off the ERMF scale: said


def test_ball_at_hip_level_agrees_with_ermf(synth):
    case, rad = synth(seed=42, calibration_tags="imager+ermf", **SMALL)
    cal = calibrate(rad, ball_diameter_mm=25.0)
    assert cal.source is CalibrationSource.BALL_MARKER
    assert cal.mm_per_px == pytest.approx(case.mm_per_px, rel=0.01)
    assert not any("disagree" in w for w in cal.warnings)
    assert cal.details["dicom_tags"]["source"] == "dicom-imager-spacing+ermf"


@pytest.mark.parametrize("ratio, warned", [(1.06, True), (0.95, True), (1.02, False), (0.985, False)])
def test_ball_contradicting_anatomical_tags(synth, ratio, warned):
    """A ball off the hip's plane by ratio disagrees with the ERMF scale: > 3 % is reported, not resolved."""
    case, rad = synth(seed=43, calibration_tags="imager+ermf", ball_magnification=1.15 * ratio, **SMALL)
    cal = calibrate(rad, ball_diameter_mm=25.0)
    assert cal.source is CalibrationSource.BALL_MARKER  # the ball is kept
    assert cal.mm_per_px == pytest.approx(0.25 / (1.15 * ratio), rel=0.01)
    assert any("scales disagree" in w for w in cal.warnings) is warned


def test_detector_only_spacing_is_no_contradiction(synth):
    case, rad = synth(seed=44, calibration_tags="imager", **SMALL)
    cal = calibrate(rad, ball_diameter_mm=25.0)
    assert cal.source is CalibrationSource.BALL_MARKER
    assert not any("disagree" in w for w in cal.warnings)
    assert cal.magnification == pytest.approx(1.15, rel=0.01)  # detector spacing / ball scale


def test_pixel_spacing_equal_to_detector_is_no_contradiction(drawn):
    tags = SpacingTags(pixel_spacing_mm=(0.2, 0.2), imager_pixel_spacing_mm=(0.2, 0.2))
    r = 12.5 * 1.2 / 0.2
    rad = drawn((600, 700), discs=[(120.0, 300.0, r)], spacing=tags)
    cal = calibrate(rad)
    assert cal.source is CalibrationSource.BALL_MARKER
    assert not any("disagree" in w for w in cal.warnings)
    assert cal.magnification == pytest.approx(1.2, rel=0.005)


def test_untyped_pixel_spacing_disagreeing_with_ball_is_reported(drawn):
    tags = SpacingTags(pixel_spacing_mm=(0.2, 0.2))  # like the real hip CR: no type, may be detector
    r = 12.5 * 1.2 / 0.2
    rad = drawn((600, 700), discs=[(120.0, 300.0, r)], spacing=tags)
    cal = calibrate(rad)
    assert cal.source is CalibrationSource.BALL_MARKER
    assert any("scales disagree" in w and "detector spacing" in w for w in cal.warnings)


def test_no_ball_falls_back_to_tags(synth):
    case, rad = synth(seed=45, calibration_tags="imager+distances", ball_diameter_mm=None, **SMALL)
    cal = calibrate(rad, ball_diameter_mm=25.0)
    assert cal.source is CalibrationSource.DICOM_IMAGER_SPACING_DISTANCES
    assert cal.mm_per_px == pytest.approx(case.mm_per_px, rel=1e-6)
    assert any("no 25 mm calibration ball found" in w for w in cal.warnings)


def test_ball_search_can_be_skipped(synth):
    case, rad = synth(seed=46, calibration_tags="imager+ermf", **SMALL)
    cal = calibrate(rad, ball_diameter_mm=None)
    assert cal.source is CalibrationSource.DICOM_IMAGER_SPACING_ERMF
    assert cal.warnings == ()


def test_assumed_magnification_only_when_opted_in(synth):
    case, rad = synth(seed=47, calibration_tags="imager", ball_diameter_mm=None, **SMALL)
    with pytest.raises(CalibrationError) as exc:
        calibrate(rad)
    assert "assumed magnification" in str(exc.value) and "ball" in str(exc.value)
    cal = calibrate(rad, assume_magnification=1.15)
    assert cal.source is CalibrationSource.ASSUMED_MAGNIFICATION
    assert cal.assumed and "ASSUMED" in cal.label
    assert cal.mm_per_px == pytest.approx(case.mm_per_px, rel=1e-6)
    assert any("ASSUMED" in w for w in cal.warnings)


def test_assumed_magnification_not_used_when_tags_suffice(synth):
    case, rad = synth(seed=48, calibration_tags="imager+ermf", ball_diameter_mm=None, **SMALL)
    cal = calibrate(rad, assume_magnification=1.3)
    assert cal.source is CalibrationSource.DICOM_IMAGER_SPACING_ERMF


# --------------------------------------------------------------------------- real images


def test_real_hip_cr(real_images):
    cal = calibrate(real_images["hip"], ball_diameter_mm=25.0)
    assert cal.source is CalibrationSource.DICOM_PIXEL_SPACING
    assert cal.mm_per_px == pytest.approx(0.2)
    assert cal.uncertainty_pct == 20.0
    assert any("detector spacing" in w for w in cal.warnings)


def test_real_chest_refused(real_images):
    with pytest.raises(CalibrationError) as exc:
        calibrate(real_images["chest"])
    assert "PixelSpacing is degenerate" in str(exc.value)
    with pytest.raises(CalibrationError):  # no usable detector spacing to divide either
        calibrate(real_images["chest"], assume_magnification=1.15)


def test_real_mono1_leg_refused_with_options(real_images):
    with pytest.raises(CalibrationError) as exc:
        calibrate(real_images["leg"])
    msg = str(exc.value)
    for word in ("ball", "known length", "assumed magnification"):
        assert word in msg


# --------------------------------------------------------------------------- known length, compare


def test_known_length_accuracy_and_uncertainty():
    cal = from_known_length((10.0, 20.0), (610.0, 820.0), 150.0, click_error_px=1.5, plane_uncertainty_pct=2.0)
    assert cal.mm_per_px == pytest.approx(150.0 / 1000.0)
    fit = 100 * 2 * math.sqrt(2) * 1.5 / 1000.0
    assert cal.uncertainty_pct == pytest.approx(math.hypot(fit, 2.0), rel=1e-3)
    assert cal.details["length_px"] == pytest.approx(1000.0)


def test_known_length_with_anisotropic_pixels():
    cal = from_known_length((0, 0), (0, 100), 22.0, aspect_ratio=1.1)
    assert cal.mm_per_px == pytest.approx(0.2)  # along x; 100 rows are 110 x-pixel units
    assert cal.mm_per_px_y == pytest.approx(0.22)


@pytest.mark.parametrize("p1, p2, length", [
    ((0, 0), (0, 0), 10.0),
    ((0, 0), (2, 2), 10.0),
    ((0, 0), (100, 0), 0.0),
    ((0, 0), (100, 0), -3.0),
    ((0, float("nan")), (100, 0), 10.0),
    ((0,), (100, 0), 10.0),
])
def test_known_length_refusals(p1, p2, length):
    with pytest.raises(CalibrationError):
        from_known_length(p1, p2, length)


def test_compare():
    a = Calibration(0.130, CalibrationSource.BALL_MARKER, 8.0)
    b = Calibration(0.125, CalibrationSource.DICOM_IMAGER_SPACING_ERMF, 5.0)
    text = compare(a, b)
    assert text is not None and "+4.0 %" in text and "ball-marker" in text and "dicom-imager-spacing+ermf" in text
    assert compare(a, b, tolerance_pct=5.0) is None
    assert compare(b, Calibration(0.1275, CalibrationSource.BALL_MARKER, 8.0)) is None  # 2 %
