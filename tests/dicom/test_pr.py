"""The plan's overlay as a Grayscale Softcopy Presentation State."""

from __future__ import annotations

import io
from dataclasses import replace

import highdicom as hd
import numpy as np
import pydicom
import pytest

from orthoplan.dicom import build_gsps, gsps_uids, run_dciodvfy, run_dcmpschk, sr_uids
from orthoplan.dicom.pr import clip_polyline, latin1_text, layer_name
from orthoplan.errors import DicomOutputError
from orthoplan.overlay import Graphic, OverlayLayer, plan_overlay


def _write(ds, path):
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return path


def _bytes(ds) -> bytes:
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


@pytest.fixture(scope="module")
def written(tmp_path_factory, cr_header, cr_plan, dx_header, dx_plan, hand_layers):
    d = tmp_path_factory.mktemp("gsps")
    cases = {
        "cr-plan": (cr_plan, cr_header, plan_overlay(cr_plan)),
        "dx-plan": (dx_plan, dx_header, plan_overlay(dx_plan)),
        "dx-hand": (dx_plan, dx_header, hand_layers),
    }
    return {k: (p, h, layers, _write(build_gsps(p, h, layers), d / f"{k}.dcm")) for k, (p, h, layers) in cases.items()}


@pytest.mark.parametrize("key", ["cr-plan", "dx-plan", "dx-hand"])
def test_validators_accept_the_gsps(written, key):
    path = written[key][3]
    assert run_dciodvfy(path) == []
    assert run_dcmpschk(path) == []


def test_layers_colours_and_order(written):
    plan, header, layers, path = written["dx-hand"]
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.11.1"
    assert ds.StudyInstanceUID == header.StudyInstanceUID and ds.SeriesInstanceUID != header.SeriesInstanceUID
    got = [(g.GraphicLayer, int(g.GraphicLayerOrder)) for g in ds.GraphicLayerSequence]
    assert got == [("LANDMARKS", 1), ("HIP LEFT _ H_FTE", 2), ("TEXT", 3)]  # the empty layer is left out
    lab = hd.color.CIELabColor.from_rgb(90, 200, 255).value
    assert list(ds.GraphicLayerSequence[1].GraphicLayerRecommendedDisplayCIELabValue) == list(lab)
    assert ds.GraphicLayerSequence[1].GraphicLayerDescription == "Left hip - offsets"
    ref = ds.GraphicAnnotationSequence[0].ReferencedImageSequence[0]
    assert ref.ReferencedSOPInstanceUID == header.SOPInstanceUID


def test_pixel_coordinates_are_the_scoord_convention(written):
    """GSPS PIXEL and SR SCOORD share the origin (top-left corner = 0,0): values go in unchanged."""
    ds = pydicom.dcmread(written["dx-hand"][3])
    landmarks = ds.GraphicAnnotationSequence[0]
    points = [list(g.GraphicData) for g in landmarks.GraphicObjectSequence]
    assert points == [[10.5, 20.5], [300.25, 400.75]]  # the point outside the image is left out
    assert [g.GraphicAnnotationUnits for g in landmarks.GraphicObjectSequence] == ["PIXEL", "PIXEL"]
    labels = {t.UnformattedTextValue: list(t.AnchorPoint) for t in landmarks.TextObjectSequence}
    assert labels["TD 0.93"] == [10.5, 20.5] and labels["outside"] == [0.0, 10.0]
    hip = ds.GraphicAnnotationSequence[1].GraphicObjectSequence
    circle = [g for g in hip if g.GraphicType == "CIRCLE"][0]
    (cx, cy, px, py) = circle.GraphicData
    assert (cx, cy) == (500.0, 300.0) and np.hypot(px - cx, py - cy) == pytest.approx(40.0)
    polylines = [list(g.GraphicData) for g in hip if g.GraphicType == "POLYLINE"]
    assert [100.0, 100.0, 200.0, 150.0, 250.0, 120.0] in polylines
    assert [0.0, 50.0, 50.0, 50.0] in polylines  # clipped at the image edge
    closed = [p for p in polylines if len(p) == 8][0]
    assert closed[:2] == closed[-2:]  # a closed polyline ends where it starts


def test_every_coordinate_lies_in_the_image(written):
    for key in ("cr-plan", "dx-plan", "dx-hand"):
        _p, header, _l, path = written[key]
        ds = pydicom.dcmread(path)
        for ann in ds.GraphicAnnotationSequence:
            for g in ann.get("GraphicObjectSequence", []):
                xy = np.asarray(g.GraphicData).reshape(-1, 2)
                assert (xy >= 0).all() and (xy[:, 0] <= header.Columns).all() and (xy[:, 1] <= header.Rows).all()


def test_window_body_part_and_laterality_come_from_the_image(written, cr_header, dx_header):
    cr = pydicom.dcmread(written["cr-plan"][3])
    voi = cr.SoftcopyVOILUTSequence[0]
    assert (float(voi.WindowCenter), float(voi.WindowWidth)) == (float(cr_header.WindowCenter), float(cr_header.WindowWidth))
    # a film of both hips: PELVIS, no Laterality (tests/dicom/test_polish.py)
    assert cr.BodyPartExamined == "PELVIS" and "Laterality" not in cr
    dx = pydicom.dcmread(written["dx-plan"][3])
    assert dx.BodyPartExamined == dx_header.BodyPartExamined == "PELVIS"
    assert float(dx.SoftcopyVOILUTSequence[0].WindowWidth) == float(dx_header.WindowWidth)
    assert dx.ContentCreatorName == "Radiologist^Bea"
    # deterministic times from plan.created, in the study's timezone when it has one
    assert (cr.PresentationCreationDate, cr.PresentationCreationTime) == ("20260131", "100500")
    assert cr.PresentationLUTShape == "IDENTITY"  # MONOCHROME2


def test_monochrome1_image_gets_an_inverse_presentation_lut(tmp_path, real_dir):
    header = pydicom.dcmread(real_dir / "lower_leg_cr_rg3_mono1.dcm", stop_before_pixels=True)
    from orthoplan.image import reference_from_dataset
    from orthoplan.model import Calibration, Landmark, Landmarks, Measurements, Plan

    plan = Plan(reference_from_dataset(header), Calibration(0.2, "dicom-pixel-spacing", 1.0),
                Landmarks((Landmark("femoral_head_center_left", 100.5, 200.25, radius_px=30.0),)),
                Measurements(), plan_uid="1.2.3.4.6", created="2026-01-01T00:00:00+00:00")
    path = _write(build_gsps(plan, header, plan_overlay(plan)), tmp_path / "mono1.dcm")
    ds = pydicom.dcmread(path)
    assert header.PhotometricInterpretation == "MONOCHROME1" and ds.PresentationLUTShape == "INVERSE"
    assert run_dciodvfy(path) == [] and run_dcmpschk(path) == []


def test_plan_overlay_shows_every_measurement_value(written):
    plan, _h, _layers, path = written["cr-plan"]
    ds = pydicom.dcmread(path)
    texts = [t.UnformattedTextValue for a in ds.GraphicAnnotationSequence for t in a.get("TextObjectSequence", [])]
    assert any(t.startswith("Scale ASSUMED SCALE") for t in texts)  # the assumed scale is on the picture
    assert sum("LLD" in t for t in texts) == 2
    assert all(t.isascii() or t.encode("latin-1") for t in texts)


def test_deterministic_and_new_uids_per_revision(cr_header, cr_plan):
    layers = plan_overlay(cr_plan)
    a, b = build_gsps(cr_plan, cr_header, layers), build_gsps(cr_plan, cr_header, layers)
    assert _bytes(a) == _bytes(b)
    series, sop = gsps_uids(cr_plan)
    assert (a.SeriesInstanceUID, a.SOPInstanceUID) == (series, sop)
    s2, sop2 = gsps_uids(replace(cr_plan, revision=2))
    assert s2 != series and sop2 != sop  # each revision is a series of its own
    assert (a.SeriesNumber, build_gsps(replace(cr_plan, revision=2), cr_header, layers).SeriesNumber) == (9002, 9004)
    assert not set(gsps_uids(cr_plan)) & set(sr_uids(cr_plan))


def test_errors(cr_header, dx_header, cr_plan):
    with pytest.raises(DicomOutputError, match="another image"):
        build_gsps(cr_plan, dx_header, plan_overlay(cr_plan))
    with pytest.raises(DicomOutputError, match="nothing to draw"):
        build_gsps(cr_plan, cr_header, [OverlayLayer("X", "x", (1, 2, 3), (Graphic("point", ((-1.0, -1.0),)),))])
    with pytest.raises(DicomOutputError) as info:
        build_gsps(cr_plan, cr_header, [OverlayLayer("X", "x", (300, 2, 3), (Graphic("point", ((1.0, 1.0),)),))])
    assert str(cr_header.PatientID) not in str(info.value)


def test_clip_polyline():
    assert clip_polyline([(1, 1), (5, 5)], 10, 10) == [[(1.0, 1.0), (5.0, 5.0)]]
    assert clip_polyline([(-5, 5), (15, 5)], 10, 10) == [[(0.0, 5.0), (10.0, 5.0)]]
    assert clip_polyline([(2, 2), (2, 20), (4, 20), (4, 2)], 10, 10) == [[(2.0, 2.0), (2.0, 10.0)], [(4.0, 10.0), (4.0, 2.0)]]
    assert clip_polyline([(-5, -5), (-1, -1)], 10, 10) == []


def test_text_helpers():
    assert latin1_text("LLD — ±4 mm … ≥ 2°") == "LLD - ±4 mm ... >= 2°"
    assert latin1_text("Łódź").encode("latin-1")
    taken: set[str] = set()
    assert [layer_name(n, taken) for n in ("hip_left", "HIP_LEFT", "a-very-long-layer-name!")] == [
        "HIP_LEFT", "HIP_LEFT_2", "A_VERY_LONG_LAYE"]


@pytest.mark.parametrize("orientation, rotation, flip", [
    (dict(patient_left_x=-1, source="assumed-from-side-marker"), 0, "Y"),   # displayed mirrored
    (dict(turn_deg=90, source="assumed-turned-from-landmarks"), 270, "N"),  # head at the image's right
    (dict(turn_deg=-90, patient_left_x=-1, source="PatientOrientation"), 90, "Y"),
])
def test_a_film_not_shown_standard_is_presented_head_up_with_the_patients_right_on_the_viewers_left(
        tmp_path, cr_header, cr_plan, orientation, rotation, flip):
    """The Spatial Transformation Module (PS3.3 C.10.6), checked by dciodvfy and dcmpschk; and
    the transformation itself: the image vectors towards the patient's left and head, turned
    clockwise by Image Rotation and then flipped, point to the viewer's right and up."""
    from orthoplan.model import ImageOrientation

    o = ImageOrientation(**orientation)
    plan = replace(cr_plan, orientation=o)
    path = _write(build_gsps(plan, cr_header, plan_overlay(plan)), tmp_path / "turned.dcm")
    ds = pydicom.dcmread(path)
    assert (int(ds.ImageRotation), ds.ImageHorizontalFlip) == (rotation, flip)
    assert run_dciodvfy(path) == [] and run_dcmpschk(path) == []

    def shown(v):
        x, y = v
        for _ in range(int(ds.ImageRotation) // 90):
            x, y = -y, x  # clockwise with y down
        return (-x, y) if ds.ImageHorizontalFlip == "Y" else (x, y)

    assert shown(o.left_vector()) == (1, 0) and shown(o.superior_vector()) == (0, -1)


def test_a_film_shown_standard_has_no_spatial_transformation(written):
    ds = pydicom.dcmread(written["cr-plan"][3])
    assert "ImageRotation" not in ds and "ImageHorizontalFlip" not in ds
