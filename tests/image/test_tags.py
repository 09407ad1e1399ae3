"""Orientation, spacing and reference values read from DICOM attributes."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from pydicom.dataset import Dataset

from orthoplan import image
from orthoplan.errors import UnsupportedImageError
from orthoplan.model import ImageOrientation


@pytest.mark.parametrize(
    ("po", "left_x", "sup_y"),
    [
        (["L", "F"], 1, -1),
        (["R", "F"], -1, -1),
        (["L", "H"], 1, 1),
        (["R", "H"], -1, 1),
        (["LF", "FR"], 1, -1),  # compound values: the dominant (first) letter counts
        (["RH", "HL"], -1, 1),
        ("L\\F", 1, -1),  # raw backslash-separated form
        (["l", "f"], 1, -1),
    ],
)
def test_patient_orientation(po, left_x, sup_y):
    o = image.orientation_from_tags(po, "AP", None)
    assert (o.patient_left_x, o.superior_y) == (left_x, sup_y)
    assert o.source == "PatientOrientation" and not o.assumed


@pytest.mark.parametrize("po", [None, "", [], ["", ""], ["L"], ["X", "Y"]])
def test_missing_or_invalid_orientation_assumes_standard_ap(po, caplog):
    with caplog.at_level(logging.INFO, logger="orthoplan.image"):
        o = image.orientation_from_tags(po, None, "L")
    assert o == ImageOrientation(1, -1, "assumed-standard-ap") and o.assumed
    assert "assuming the standard AP" in caplog.text


def test_pa_view_without_orientation():
    o = image.orientation_from_tags(None, "PA", None)
    assert (o.patient_left_x, o.superior_y, o.source) == (-1, -1, "assumed-from-ViewPosition-PA")
    assert o.assumed
    # Patient Orientation, when present, wins over View Position
    assert image.orientation_from_tags(["L", "F"], "PA", None).patient_left_x == 1


def test_lateral_and_axial_views_are_partly_assumed():
    lat = image.orientation_from_tags(["A", "F"], "LL", None)
    assert lat.superior_y == -1 and lat.assumed
    ax = image.orientation_from_tags(["R", "P"], None, None)
    assert ax.patient_left_x == -1 and ax.assumed
    # stored turned by a quarter turn: the head along x, the patient's left along y
    rotated = image.orientation_from_tags(["H", "L"], None, None)
    assert (rotated.superior_vector(), rotated.left_vector(), rotated.assumed) == ((1, 0), (0, 1), False)
    rotated = image.orientation_from_tags(["F", "R"], None, None)
    assert (rotated.superior_vector(), rotated.left_vector(), rotated.superior_name) == ((-1, 0), (0, -1), "left")
    turned_lateral = image.orientation_from_tags(["H", "A"], None, None)
    assert turned_lateral.superior_vector() == (1, 0) and turned_lateral.assumed
    with pytest.raises(UnsupportedImageError, match="quarter turn"):
        rotated.lateral_x("left")  # a step that works along x only refuses, never guesses


def test_an_orientation_is_one_of_the_eight_a_film_can_have():
    """Turned by a quarter turn or not, mirrored or not: built from its vectors, read back from
    its document (a plan written before turns existed reads as not turned), refused otherwise."""
    seen = set()
    for plx in (1, -1):
        for sy, turn in ((-1, 0), (1, 0), (-1, 90), (-1, -90)):
            o = ImageOrientation(plx, sy, "PatientOrientation", turn)
            assert ImageOrientation.from_vectors(o.left_vector(), o.superior_vector(), o.source) == o
            assert ImageOrientation.from_dict(o.to_dict()) == o
            seen.add((o.left_vector(), o.superior_vector()))
    assert len(seen) == 8
    old = {"patient_left_x": 1, "superior_y": -1, "source": "PatientOrientation"}
    assert ImageOrientation.from_dict(old).turn_deg == 0
    with pytest.raises(ValueError, match="90"):
        ImageOrientation(turn_deg=45)
    with pytest.raises(ValueError, match="superior_y"):
        ImageOrientation(1, 1, "x", 90)
    with pytest.raises(ValueError, match="perpendicular"):
        ImageOrientation.from_vectors((1, 0), (1, 0))
    with pytest.raises(ValueError, match="superior must be"):
        ImageOrientation.turned("sideways")


def test_spacing_values():
    ds = Dataset()
    ds.PixelSpacing = ["0.139", "0.140"]
    ds.PixelSpacingCalibrationType = "GEOMETRY"
    ds.PixelSpacingCalibrationDescription = "magnification corrected"
    ds.ImagerPixelSpacing = [0.15, 0.16]
    ds.EstimatedRadiographicMagnificationFactor = "1.08"
    ds.DistanceSourceToDetector = "1150"
    ds.DistanceSourceToPatient = "1000.5"
    s = image.spacing_from_dataset(ds)
    assert s.pixel_spacing_mm == (0.139, 0.140)
    assert s.pixel_spacing_calibration_type == "GEOMETRY"
    assert s.pixel_spacing_calibration_description == "magnification corrected"
    assert s.imager_pixel_spacing_mm == (0.15, 0.16)
    assert s.estimated_magnification == 1.08
    assert (s.source_to_detector_mm, s.source_to_patient_mm) == (1150.0, 1000.5)
    assert all(isinstance(v, float) for v in s.pixel_spacing_mm)


def test_spacing_malformed_values(caplog):
    ds = Dataset()
    ds.PixelSpacing = ["0.000", "0.000"]  # degenerate but numeric: kept for the calibration to refuse
    ds.ImagerPixelSpacing = "0.2"  # one value instead of two
    s = image.spacing_from_dataset(ds)
    assert s.pixel_spacing_mm == (0.0, 0.0)
    assert s.imager_pixel_spacing_mm == (0.2, 0.2)
    assert "one value instead of two" in caplog.text
    empty = Dataset()
    empty.PixelSpacing = ""
    assert image.spacing_from_dataset(empty) == image.SpacingTags()


def test_reference_from_dataset_blank_values_are_none():
    ds = Dataset()
    ds.SOPInstanceUID = "1.2.3.4"
    ds.StudyInstanceUID = ""
    ds.Modality = "DX"
    ds.Rows, ds.Columns = 30, 40
    ref = image.reference_from_dataset(ds)
    assert ref.sop_instance_uid == "1.2.3.4" and ref.study_instance_uid is None
    assert ref.frame_of_reference_uid is None and ref.modality == "DX"
    assert (ref.rows, ref.columns) == (30, 40)


def test_radiograph_carries_view_tags(make_ds, ramp_u16):
    ds = make_ds(ramp_u16, ViewPosition="AP", ImageLaterality="L", BodyPartExamined="KNEE",
                 PatientOrientation=["L", "F"], ImagerPixelSpacing=[0.1, 0.1])
    rad = image.load(ds)
    assert (rad.view_position, rad.image_laterality, rad.body_part_examined) == ("AP", "L", "KNEE")
    assert rad.patient_orientation == ("L", "F")
    assert rad.orientation.source == "PatientOrientation"
    assert rad.spacing.imager_pixel_spacing_mm == (0.1, 0.1) and rad.spacing.pixel_spacing_mm is None


def test_dataset_without_file_meta_is_decoded_as_native(make_ds, ramp_u16):
    ds = make_ds(ramp_u16)
    del ds.file_meta
    rad = image.from_dataset(ds)
    np.testing.assert_array_equal(rad.pixels, ramp_u16)
    assert not hasattr(ds, "file_meta") or "TransferSyntaxUID" not in ds.file_meta
