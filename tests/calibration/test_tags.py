"""Scale from DICOM spacing attributes: every rule of from_dicom_tags, and refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydicom.dataset import Dataset

from orthoplan import calibration as cal_mod
from orthoplan import image as op_image
from orthoplan.calibration import from_assumed_magnification, from_dicom_tags
from orthoplan.errors import CalibrationError
from orthoplan.model import CalibrationSource, ImageReference, Radiograph, SpacingTags


def rad(dataset=None, **tags) -> Radiograph:
    """A tiny radiograph carrying only the given spacing tags."""
    px = np.zeros((16, 16), np.uint16)
    return Radiograph(px, px.astype(np.float32), ImageReference(rows=16, columns=16), SpacingTags(**tags), dataset=dataset)


OPTIONS_WORDS = ("ball", "known length", "assumed magnification")


def assert_names_options(message: str) -> None:
    for word in OPTIONS_WORDS:
        assert word in message, f"{word!r} missing from: {message}"


# --------------------------------------------------------------------------- the rules


@pytest.mark.parametrize("ctype, unc", [("FIDUCIAL", 2.0), ("GEOMETRY", 5.0), ("geometry ", 5.0)])
def test_calibrated_pixel_spacing(ctype, unc):
    cal = from_dicom_tags(rad(pixel_spacing_mm=(0.125, 0.125), pixel_spacing_calibration_type=ctype,
                              imager_pixel_spacing_mm=(0.15, 0.15)))
    assert cal.source is CalibrationSource.DICOM_PIXEL_SPACING
    assert cal.mm_per_px == pytest.approx(0.125)
    assert cal.uncertainty_pct == unc
    assert cal.magnification == pytest.approx(1.2)
    assert cal.spacing_basis == "PixelSpacing"
    assert not cal.assumed and cal.warnings == ()


def test_ermf():
    cal = from_dicom_tags(rad(imager_pixel_spacing_mm=(0.15, 0.15), estimated_magnification=1.2))
    assert cal.source is CalibrationSource.DICOM_IMAGER_SPACING_ERMF
    assert cal.mm_per_px == pytest.approx(0.125)
    assert cal.uncertainty_pct == 5.0
    assert cal.magnification == pytest.approx(1.2)
    assert cal.spacing_basis == "ImagerPixelSpacing"


def test_ermf_preferred_over_pixel_spacing_equal_to_detector():
    cal = from_dicom_tags(rad(pixel_spacing_mm=(0.15, 0.15), imager_pixel_spacing_mm=(0.15, 0.15),
                              estimated_magnification=1.25))
    assert cal.source is CalibrationSource.DICOM_IMAGER_SPACING_ERMF
    assert cal.mm_per_px == pytest.approx(0.12)


def test_ermf_of_one_is_not_trusted():
    cal = from_dicom_tags(rad(imager_pixel_spacing_mm=(0.15, 0.15), estimated_magnification=1.0))
    assert cal.uncertainty_pct == 20.0
    assert any("not estimated" in w for w in cal.warnings)


def test_distances():
    cal = from_dicom_tags(rad(imager_pixel_spacing_mm=(0.15, 0.15), source_to_detector_mm=1150.0,
                              source_to_patient_mm=1000.0))
    assert cal.source is CalibrationSource.DICOM_IMAGER_SPACING_DISTANCES
    assert cal.mm_per_px == pytest.approx(0.15 * 1000 / 1150)
    assert cal.uncertainty_pct == 7.0
    assert cal.magnification == pytest.approx(1.15)
    assert any("hip's plane" in w for w in cal.warnings)


def test_implausible_distances_are_ignored_with_reason():
    with pytest.raises(CalibrationError) as exc:
        from_dicom_tags(rad(imager_pixel_spacing_mm=(0.15, 0.15), source_to_detector_mm=1000.0, source_to_patient_mm=1200.0))
    assert "not a plausible magnification" in str(exc.value)
    assert "detector spacing only" in str(exc.value)


def test_pixel_spacing_without_type_is_reported_as_maybe_detector():
    cal = from_dicom_tags(rad(pixel_spacing_mm=(0.143, 0.143)))
    assert cal.source is CalibrationSource.DICOM_PIXEL_SPACING
    assert cal.mm_per_px == pytest.approx(0.143)
    assert cal.uncertainty_pct == 20.0
    assert any("detector spacing" in w for w in cal.warnings)
    assert cal.details["may_be_detector_spacing"] is True


def test_pixel_spacing_equal_to_imager_without_ermf():
    cal = from_dicom_tags(rad(pixel_spacing_mm=(0.15, 0.15), imager_pixel_spacing_mm=(0.15, 0.15)))
    assert cal.mm_per_px == pytest.approx(0.15)
    assert cal.uncertainty_pct == 20.0
    assert cal.details["equals_imager_pixel_spacing"] is True
    assert any("equals ImagerPixelSpacing" in w for w in cal.warnings)


def test_pixel_spacing_differing_from_imager_without_type_is_corrected():
    cal = from_dicom_tags(rad(pixel_spacing_mm=(0.13, 0.13), imager_pixel_spacing_mm=(0.15, 0.15)))
    assert cal.mm_per_px == pytest.approx(0.13)
    assert cal.uncertainty_pct == 7.0
    assert cal.magnification == pytest.approx(0.15 / 0.13, rel=1e-3)
    assert cal.warnings


def test_explicit_spacing_from_the_loader():
    px = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) % 251).astype(np.uint8)
    from PIL import Image
    import io

    buf = io.BytesIO()
    Image.fromarray(px).save(buf, format="PNG")
    loaded = op_image.load(buf.getvalue(), spacing_mm=0.2)
    cal = from_dicom_tags(loaded)
    assert cal.source is CalibrationSource.EXPLICIT_SPACING
    assert cal.mm_per_px == pytest.approx(0.2)
    assert cal.uncertainty_pct == 5.0


def test_anisotropic_spacing_uses_column_spacing_along_x():
    cal = from_dicom_tags(rad(pixel_spacing_mm=(0.2, 0.1), pixel_spacing_calibration_type="GEOMETRY"))
    assert cal.mm_per_px == pytest.approx(0.1)  # second value: column spacing = along x
    assert cal.aspect_ratio == pytest.approx(2.0)
    assert cal.mm_per_px_y == pytest.approx(0.2)


def test_imager_spacing_only_is_refused():
    with pytest.raises(CalibrationError) as exc:
        from_dicom_tags(rad(imager_pixel_spacing_mm=(0.15, 0.15)))
    msg = str(exc.value)
    assert "detector spacing only" in msg
    assert_names_options(msg)


def test_no_spacing_is_refused_with_options():
    with pytest.raises(CalibrationError) as exc:
        from_dicom_tags(rad())
    assert_names_options(str(exc.value))


# --------------------------------------------------------------------------- degenerate values


@pytest.mark.parametrize(
    "pair, words",
    [
        ((0.0, 0.0), "degenerate"),
        ((-0.1, -0.1), "degenerate"),
        ((math.nan, 0.1), "degenerate"),
        ((math.inf, 0.1), "degenerate"),
        ((6.0, 6.0), "implausible"),
        ((0.001, 0.001), "implausible"),
        ((0.1, 0.9), "anisotropic"),
        (("abc", "0.1"), "not numeric"),
    ],
)
@pytest.mark.parametrize("tag", ["PixelSpacing", "ImagerPixelSpacing"])
def test_degenerate_spacing_is_refused(pair, words, tag):
    attr = "pixel_spacing_mm" if tag == "PixelSpacing" else "imager_pixel_spacing_mm"
    with pytest.raises(CalibrationError) as exc:
        from_dicom_tags(rad(**{attr: pair, "estimated_magnification": 1.2}))
    msg = str(exc.value)
    assert tag in msg and words in msg
    assert_names_options(msg)


def test_non_numeric_pixel_spacing_in_the_header_is_refused():
    ds = Dataset()
    ds.add_new(0x00280030, "LO", "abc\\def")  # PixelSpacing; the loader keeps None for it
    with pytest.raises(CalibrationError) as exc:
        from_dicom_tags(rad(dataset=ds))
    assert "PixelSpacing" in str(exc.value) and "not numeric" in str(exc.value)


def test_implausible_ermf_is_ignored_and_said():
    with pytest.raises(CalibrationError) as exc:
        from_dicom_tags(rad(imager_pixel_spacing_mm=(0.15, 0.15), estimated_magnification=0.0))
    assert "EstimatedRadiographicMagnificationFactor" in str(exc.value)


# --------------------------------------------------------------------------- real images


def test_real_chest_zero_spacing_is_refused(real_images):
    with pytest.raises(CalibrationError) as exc:
        from_dicom_tags(real_images["chest"])
    msg = str(exc.value)
    assert "PixelSpacing" in msg and "degenerate" in msg
    assert_names_options(msg)


def test_real_hip_cr_pixel_spacing_without_type(real_images):
    cal = from_dicom_tags(real_images["hip"])
    assert cal.mm_per_px == pytest.approx(0.2)
    assert cal.source is CalibrationSource.DICOM_PIXEL_SPACING
    assert cal.uncertainty_pct == 20.0
    assert any("detector spacing" in w for w in cal.warnings)


def test_real_mono1_leg_without_spacing(real_images):
    with pytest.raises(CalibrationError) as exc:
        from_dicom_tags(real_images["leg"])
    msg = str(exc.value)
    assert "no pixel spacing" in msg
    assert_names_options(msg)


# --------------------------------------------------------------------------- assumed magnification


def test_assumed_magnification_is_flagged():
    cal = from_assumed_magnification(rad(imager_pixel_spacing_mm=(0.15, 0.15)), 1.2)
    assert cal.source is CalibrationSource.ASSUMED_MAGNIFICATION
    assert cal.assumed is True
    assert "ASSUMED" in cal.label
    assert cal.mm_per_px == pytest.approx(0.125)
    assert cal.magnification == 1.2
    assert any("ASSUMED" in w and "assumed magnification" in w for w in cal.warnings)
    assert cal.uncertainty_pct == cal_mod.UNCERTAINTY_PCT["assumed-magnification"]


def test_assumed_magnification_on_untyped_pixel_spacing(real_images):
    cal = from_assumed_magnification(real_images["hip"], 1.15)
    assert cal.mm_per_px == pytest.approx(0.2 / 1.15)
    assert cal.spacing_basis == "PixelSpacing" and cal.assumed


@pytest.mark.parametrize("m", [0.0, -1.0, math.nan, 0.8, 3.0, "x"])
def test_assumed_magnification_must_be_plausible(m):
    with pytest.raises(CalibrationError):
        from_assumed_magnification(rad(imager_pixel_spacing_mm=(0.15, 0.15)), m)


def test_assumed_magnification_needs_a_detector_spacing(real_images):
    with pytest.raises(CalibrationError):
        from_assumed_magnification(real_images["leg"], 1.15)
    with pytest.raises(CalibrationError, match="twice"):
        from_assumed_magnification(rad(pixel_spacing_mm=(0.13, 0.13), pixel_spacing_calibration_type="GEOMETRY"), 1.15)


def test_no_patient_identifiers_in_messages():
    ds = Dataset()
    ds.PatientName = "SECRET^NAME"
    ds.PatientID = "SECRET-ID"
    ds.PixelSpacing = [0, 0]
    with pytest.raises(CalibrationError) as exc:
        from_dicom_tags(rad(dataset=ds, pixel_spacing_mm=(0.0, 0.0)))
    assert "SECRET" not in str(exc.value)
