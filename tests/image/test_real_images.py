"""The real radiographs of ../shared/data/real load with the right pixels, tags and display.

Reference values were read from the files' headers (pydicom) and, for the bone/soft-tissue
regions of the lower-leg image, by looking at the displayed image (grid of 100 px) and at
column profiles of the display: tibial shaft at columns 820-880, soft tissue medial to it
at columns 680-720, air beside the leg at columns 500-600, rows 300-500.
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from orthoplan import image
from orthoplan.model import Radiograph


@pytest.fixture(scope="module")
def hip_j2k(real_dir):
    return image.load(real_dir / "hip_cr_rg2_j2k.dcm")


@pytest.fixture(scope="module")
def leg(real_dir):
    return image.load(real_dir / "lower_leg_cr_rg3_mono1.dcm")


def test_hip_uncompressed_and_jpeg2000_are_identical(hip: Radiograph, hip_j2k: Radiograph):
    assert hip.shape == hip_j2k.shape == (2140, 1760)
    assert hip.pixels.dtype == hip_j2k.pixels.dtype == np.uint16
    np.testing.assert_array_equal(hip.pixels, hip_j2k.pixels)
    np.testing.assert_array_equal(hip.display, hip_j2k.display)
    # a real image, not zeros: 10-bit CR with a useful range
    assert 0 <= int(hip.pixels.min()) and int(hip.pixels.max()) <= 1023
    assert hip.pixels.std() > 50


def test_hip_header_values(hip: Radiograph, hip_j2k: Radiograph):
    assert hip.reference.sop_instance_uid == "1.3.6.1.4.1.5962.1.1.10.1.1.20040826185059.5457"
    assert hip_j2k.reference.sop_instance_uid == "1.3.6.1.4.1.5962.1.1.10.1.2.20040826185059.5457"
    for rad in (hip, hip_j2k):
        ref = rad.reference
        assert ref.study_instance_uid == "1.3.6.1.4.1.5962.1.2.10.20040826185059.5457"
        assert ref.series_instance_uid == "1.3.6.1.4.1.5962.1.3.10.1.20040826185059.5457"
        assert ref.sop_class_uid == pydicom.uid.ComputedRadiographyImageStorage
        assert ref.modality == "CR"
        assert (ref.rows, ref.columns) == (2140, 1760)
        assert rad.spacing.pixel_spacing_mm == (0.2, 0.2)
        assert rad.spacing.imager_pixel_spacing_mm is None
        # View Position, Laterality and Patient Orientation are blank in these files
        assert rad.orientation.source == "assumed-standard-ap"
        assert rad.orientation.assumed and rad.orientation.patient_left_x == 1
        assert rad.patient_orientation is None and rad.view_position is None
        assert rad.body_part_examined == "HIP"
        assert rad.photometric_interpretation == "MONOCHROME2"


def test_hip_display_uses_the_window_of_the_file(hip: Radiograph):
    # WindowCenter 511, WindowWidth 1024, LINEAR: y = (x - 510.5) / 1023 + 0.5
    expected = np.clip((hip.pixels.astype(np.float64) - 510.5) / 1023 + 0.5, 0, 1)
    assert hip.display.dtype == np.float32
    np.testing.assert_allclose(hip.display, expected, atol=1e-6)


def test_arrays_are_read_only_and_header_has_no_pixels(hip: Radiograph):
    assert not hip.pixels.flags.writeable and not hip.display.flags.writeable
    with pytest.raises(ValueError):
        hip.pixels[0, 0] = 1
    assert "PixelData" not in hip.dataset
    assert hip.dataset.SOPInstanceUID == hip.reference.sop_instance_uid
    assert hip.dataset.PatientID == "10RG2"  # everything else is kept (for SR/GSPS)
    assert hip.dataset.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian


def test_monochrome1_shows_bone_bright(leg: Radiograph):
    assert leg.photometric_interpretation == "MONOCHROME1"
    d = leg.display
    tibia = d[300:500, 820:880].mean()
    soft = d[300:500, 680:720].mean()
    air = d[300:500, 500:600].mean()
    assert tibia > 0.6 and air < 0.15
    assert tibia > soft + 0.2 > air + 0.2
    # in stored values it is the other way round (MONOCHROME1: bone has low values)
    p = leg.pixels
    assert p[300:500, 820:880].mean() < p[300:500, 500:600].mean()


def test_monochrome1_display_is_the_inverse_of_monochrome2(leg: Radiograph):
    as_m2 = image.display_image(leg.pixels, leg.dataset, photometric_interpretation="MONOCHROME2")
    np.testing.assert_allclose(leg.display, 1.0 - as_m2, atol=1e-6)
    # and both follow the file's window (centre 550, width 1024)
    expected = np.clip((leg.pixels.astype(np.float64) - 549.5) / 1023 + 0.5, 0, 1)
    np.testing.assert_allclose(as_m2, expected, atol=1e-6)


def test_leg_tags(leg: Radiograph):
    # Patient Orientation R\F: +x towards the patient's right, +y towards the feet
    assert leg.patient_orientation == ("R", "F")
    assert leg.orientation.source == "PatientOrientation"
    assert (leg.orientation.patient_left_x, leg.orientation.superior_y) == (-1, -1)
    assert leg.view_position == "AP" and leg.image_laterality == "R"
    # no spacing attribute at all
    assert leg.spacing.pixel_spacing_mm is None and leg.spacing.imager_pixel_spacing_mm is None


def test_zero_spacing_is_recorded_not_refused(real_dir):
    rad = image.load(real_dir / "chest_cr_rg1_zero_spacing.dcm")
    assert rad.shape == (1955, 1841)
    assert rad.spacing.pixel_spacing_mm == (0.0, 0.0)
    assert rad.spacing.source_to_detector_mm == 1996.0
    assert rad.orientation.source == "PatientOrientation" and rad.orientation.patient_left_x == 1
    assert rad.view_position == "PA"


def test_from_dataset_equals_load_dicom(hip_path, hip: Radiograph):
    ds = pydicom.dcmread(hip_path)
    rad = image.from_dataset(ds)
    np.testing.assert_array_equal(rad.pixels, hip.pixels)
    np.testing.assert_array_equal(rad.display, hip.display)
    assert rad.reference == hip.reference
    assert rad.spacing == hip.spacing and rad.orientation == hip.orientation
    # the caller's dataset is untouched, the Radiograph holds a copy without pixels
    assert "PixelData" in ds and "PixelData" not in rad.dataset
    assert rad.dataset is not ds
    rad.dataset.PatientID = "changed"
    assert ds.PatientID == "10RG2"
    assert image.load(ds).reference == hip.reference  # load() dispatches Datasets too


def test_load_from_bytes_and_file_object(hip_path, hip: Radiograph):
    data = hip_path.read_bytes()
    np.testing.assert_array_equal(image.load(data).pixels, hip.pixels)
    with open(hip_path, "rb") as fh:
        np.testing.assert_array_equal(image.load(fh).pixels, hip.pixels)


def test_explicit_spacing_on_dicom_replaces_the_tags(hip_path):
    rad = image.load(hip_path, spacing_mm=(0.15, 0.16))
    assert rad.spacing.pixel_spacing_mm == (0.15, 0.16)
    assert rad.spacing.pixel_spacing_calibration_type == image.EXPLICIT_SPACING_CALIBRATION_TYPE
    assert rad.dataset.PixelSpacing == [0.2, 0.2]


def test_dicom_marker_wins_over_a_tiff_preamble(hip_path, hip: Radiograph):
    # these NEMA samples are dual-personality files: the 128-byte preamble is a TIFF header
    assert hip_path.read_bytes()[:4] == b"II*\x00"
    assert hip.dataset is not None and hip.reference.modality == "CR"
