"""The plan as a TID 1500 Comprehensive SR: validity, exact round trip, UIDs, revisions, privacy."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest

from orthoplan.errors import MeasurementError
from dicom_plans import CREATED, make_partial_plan, make_rich_plan

from orthoplan.dicom import build_sr, plan_from_sr, run_dciodvfy, run_dsrdump, sr_uids
from orthoplan.dicom import codes as C
from orthoplan.errors import DicomOutputError
from orthoplan.measurements import measurement_names
from orthoplan.model import ImageOrientation, LandmarkName, Landmarks, Measurement, Measurements, Side
from orthoplan.pipeline import revise_plan


def _write(ds: pydicom.Dataset, path: Path) -> Path:
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return path


def _content_items(ds: pydicom.Dataset):
    """Every SR content item of ``ds``, depth first."""
    for item in ds.get("ContentSequence", []):
        yield item
        yield from _content_items(item)


def _bytes(ds: pydicom.Dataset) -> bytes:
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


@pytest.fixture(scope="module")
def written(tmp_path_factory, cr_header, cr_plan, dx_header, dx_plan, cr_landmarks, dx_landmarks):
    """The SR files of the rich and partial plans on both sources, written once."""
    d = tmp_path_factory.mktemp("sr")
    plans = {
        "cr-rich": (cr_plan, cr_header),
        "dx-rich": (dx_plan, dx_header),
        "cr-partial": (make_partial_plan(cr_header, cr_landmarks), cr_header),
        "dx-partial": (make_partial_plan(dx_header, dx_landmarks), dx_header),
        # issue 15: landmarks with a positional σ, so values carry widened intervals
        "dx-sigma": (make_rich_plan(dx_header, _with_sigma(dx_landmarks)), dx_header),
    }
    return {k: (plan, header, _write(build_sr(plan, header), d / f"{k}.dcm")) for k, (plan, header) in plans.items()}


KEYS = ["cr-rich", "dx-rich", "cr-partial", "dx-partial", "dx-sigma"]


def _with_sigma(landmarks):
    """The landmarks with the real-film σ (the learned detector's for ``auto`` ones)."""
    from orthoplan.landmarks.uncertainty import with_positional_sigma

    return list(with_positional_sigma(Landmarks(tuple(landmarks)), detector="learned"))


def test_positional_intervals_and_sigmas_read_back_from_the_sr(written):
    """Issue 15: each landmark's σ and each value's widened interval (angles too) come back
    exactly; they are not the calibration's rule that an SR without them falls back to."""
    plan, _header, path = written["dx-sigma"]
    back = plan_from_sr(pydicom.dcmread(path))
    assert all(lm.sigma_px is not None for lm in plan.landmarks)
    assert [lm.sigma_px for lm in back.landmarks] == [lm.sigma_px for lm in plan.landmarks]
    for m in plan.measurements:
        assert m.interval is not None, m.name
        assert back.measurements[m.name].interval == m.interval, m.name
        if m.unit == "mm":  # wider than the scale alone
            lo, hi = plan.calibration.length_interval_mm(m.value)
            assert m.interval[1] - m.interval[0] > hi - lo, m.name


# --------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("key", KEYS)
def test_file_round_trip_is_exact(written, key):
    plan, _header, path = written[key]
    back = plan_from_sr(pydicom.dcmread(path))
    for field in plan.__dataclass_fields__:  # field by field first: a readable failure
        assert getattr(back, field) == getattr(plan, field), field
    assert back == plan
    # == on floats is exact: spot-check bit equality of a value and a coordinate
    m = plan.measurements.items[0]
    assert np.float64(back.measurements[m.name].value).tobytes() == np.float64(m.value).tobytes()
    lm = plan.landmarks.items[0]
    assert back.landmarks[lm.name].x == lm.x and back.landmarks[lm.name].y == lm.y


def test_partial_plan_keeps_reasons_order_and_ambiguous_landmarks(written):
    plan, _h, path = written["dx-partial"]
    back = plan_from_sr(pydicom.dcmread(path))
    assert back.landmarks.missing_reason("teardrop_right") == "outside the collimated field"
    assert dict(back.measurements.missing) == dict(plan.measurements.missing) != {}
    assert [m.name for m in back.measurements] == [m.name for m in plan.measurements]
    assert back.orientation.patient_left_x == -1 and back.status == "draft" and back.author is None
    # femoral_head_center_left and greater_trochanter_left share a position on purpose
    fo = back.measurements["femoral_offset_left_mm"]
    assert fo.landmarks[0] is LandmarkName.FEMORAL_HEAD_CENTER_LEFT
    texts = {i.ConceptNameCodeSequence[0].CodeValue: i.TextValue
             for i in _content_items(pydicom.dcmread(path)) if i.ValueType == "TEXT"}
    assert texts[C.MEASUREMENT_ORDER.value].startswith(plan.measurements.items[0].name)
    assert C.MEASUREMENT_LANDMARKS.value in texts  # identity kept where coordinates coincide


def test_numbers_round_trip_bit_exact(tmp_path, dx_header, dx_plan):
    values = [1 / 3, 1e-9, 123456.78901234567, -0.1 - 0.2, 2.0**-30, 89.99999999999999]
    items = tuple(
        Measurement(name, v, "mm" if name.endswith("_mm") else "deg", m.landmarks, m.side, m.notes)
        for (name, m), v in zip(((m.name, m) for m in dx_plan.measurements), values * 4)
    )
    plan = replace(dx_plan, measurements=Measurements(items, ()))
    ds = pydicom.dcmread(_write(build_sr(plan, dx_header), tmp_path / "n.dcm"))
    back = plan_from_sr(ds)
    assert [m.value for m in back.measurements] == [m.value for m in items]
    # the 16-character DS beside the exact FD: what other readers see
    nums = [n for n in ds.iterall() if n.keyword == "NumericValue"]
    assert nums and all(len(str(n.value)) <= 16 for n in nums)


@pytest.mark.parametrize("superior, plx, source", [("left", 1, "assumed-turned-from-landmarks"),
                                                   ("right", 1, "assumed-turned-from-landmarks"),
                                                   ("up", -1, "assumed-from-side-marker")])
def test_a_turned_films_orientation_reads_back(tmp_path, dx_header, dx_plan, superior, plx, source):
    """A film stored turned by a quarter turn, or displayed mirrored (a side marker says so): the
    SR says where the patient's left and head lie, and the plan read back has that orientation,
    valid to dciodvfy."""
    turned = ImageOrientation.turned(superior, plx, source=source)
    plan = replace(dx_plan, orientation=turned)
    path = _write(build_sr(plan, dx_header), tmp_path / "turned.dcm")
    back = plan_from_sr(pydicom.dcmread(path))
    assert back.orientation == turned and back.orientation.left_vector() == turned.left_vector()
    assert back.orientation.turn_deg == {"right": 90, "left": -90, "up": 0}[superior]
    codes = {i.ConceptNameCodeSequence[0].CodeValue: i.ConceptCodeSequence[0].CodeValue
             for i in _content_items(pydicom.dcmread(path)) if i.ValueType == "CODE"}
    assert codes[C.ORIENT_PATIENT_SUPERIOR.value] == C.DIRECTION_CODES[turned.superior_vector()].value
    assert run_dciodvfy(path) == []


# --------------------------------------------------------------------------- validators


@pytest.mark.parametrize("key", KEYS)
def test_dciodvfy_reports_no_error(written, key):
    assert run_dciodvfy(written[key][2]) == []


@pytest.mark.parametrize("key", ["cr-rich", "dx-partial"])
def test_dsrdump_parses_tid1500(written, key):
    dump = run_dsrdump(written[key][2])
    assert "TID 1500" in dump and "TID 1410" in dump and "TID 1501" in dump
    assert '"Imaging Measurement Report"' in dump
    assert '(363679005,SCT,"Imaging procedure")' in dump


def test_highdicom_reads_the_groups(written):
    plan, header, path = written["cr-rich"]
    sr = hd.sr.srread(path)
    assert isinstance(sr, hd.sr.ComprehensiveSR)
    rois = sr.content.get_planar_roi_measurement_groups()
    assert sorted(g.tracking_identifier for g in rois) == sorted(f"landmark {lm.name.value}" for lm in plan.landmarks)
    groups = {g.tracking_identifier: g for g in sr.content.get_image_measurement_groups()}
    assert list(groups) == ["calibration", "pelvis", "hip right", "hip left"]
    for key, side in (("hip left", Side.LEFT), ("hip right", Side.RIGHT)):
        got = {(m.name.meaning, m.unit.value): m.value for m in groups[key].get_measurements()}
        want = {(C.MEASUREMENT_CODES[C.measurement_template(m.name)[0]].meaning, m.unit): m.value
                for m in plan.measurements if m.side is side}
        assert got == want and len(got) == 7
    lld = groups["pelvis"].get_measurements()[0]
    assert len(lld.referenced_coordinates) == 4  # teardrops and lesser trochanters
    first = lld.referenced_coordinates[0]
    assert first.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID == header.SOPInstanceUID
    td = plan.landmarks["teardrop_right"]
    assert first.graphic_type == hd.sr.GraphicTypeValues.POINT and tuple(first.value[0]) == (td.x, td.y)
    head = next(g for g in rois if g.tracking_identifier == "landmark femoral_head_center_left")
    assert head.roi.graphic_type == hd.sr.GraphicTypeValues.CIRCLE
    (cx, cy), (px, py) = head.roi.value
    lm = plan.landmarks["femoral_head_center_left"]
    assert (cx, cy) == (lm.x, lm.y) and abs(np.hypot(px - cx, py - cy) - lm.radius_px) < 1e-3
    assert head.finding_sites[0].laterality.value == C.LEFT.value
    observers = sr.content.get_observer_contexts()
    assert str(observers[0].observer_identifying_attributes.name) == "Surgeon^Ann"


def test_sr_says_which_calibration_was_used(written):
    ds = pydicom.dcmread(written["cr-rich"][2])
    codes = {(i.ConceptNameCodeSequence[0].CodeMeaning,
              i.ConceptCodeSequence[0].get("CodeValue") or i.ConceptCodeSequence[0].LongCodeValue)
             for i in _content_items(ds) if i.ValueType == "CODE"}
    assert ("Measurement Method", "CS-ASSUMED-MAG") in codes
    assert ("Pixel spacing attribute used", "SB-IMAGER-SPACE") in codes
    assert ("Scale rests on an assumption", C.YES.value) in codes
    factors = [i for i in _content_items(ds) if i.ValueType == "NUM"
               and i.ConceptNameCodeSequence[0].CodeValue == C.CALIBRATION_FACTOR.value]
    assert float(factors[0].MeasuredValueSequence[0].FloatingPointValue) == 0.4 / 1.15


# --------------------------------------------------------------------------- header, UIDs, revisions


def test_header_same_study_new_series_patient_copied(written):
    plan, header, path = written["cr-rich"]
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.33"
    assert ds.StudyInstanceUID == header.StudyInstanceUID
    assert ds.SeriesInstanceUID != header.SeriesInstanceUID
    assert (ds.PatientName, ds.PatientID, ds.PatientSex) == (header.PatientName, header.PatientID, header.PatientSex)
    assert (ds.CompletionFlag, ds.VerificationFlag, ds.PreliminaryFlag) == ("COMPLETE", "VERIFIED", "FINAL")
    assert ds.VerifyingObserverSequence[0].VerifyingObserverName == "Surgeon^Ann"
    # 14:05 UTC written in the study's own timezone (-0400)
    assert (ds.ContentDate, ds.ContentTime, ds.TimezoneOffsetFromUTC) == ("20260131", "100500", "-0400")
    assert "PixelData" not in ds
    draft = pydicom.dcmread(written["dx-rich"][2])
    assert (draft.CompletionFlag, draft.VerificationFlag, draft.PreliminaryFlag) == ("PARTIAL", "UNVERIFIED", "PRELIMINARY")
    assert "VerifyingObserverSequence" not in draft


def test_build_is_deterministic(cr_header, cr_plan):
    assert _bytes(build_sr(cr_plan, cr_header)) == _bytes(build_sr(cr_plan, cr_header))


def test_uids_deterministic_and_new_per_revision(cr_plan):
    series1, sop1 = sr_uids(cr_plan)
    assert sr_uids(replace(cr_plan)) == (series1, sop1)
    series2, sop2 = sr_uids(replace(cr_plan, revision=2))
    assert series2 != series1 and sop2 != sop1  # each revision is a series of its own
    other = sr_uids(replace(cr_plan, plan_uid="1.2.3.999"))
    assert other[0] != series1 and other[1] not in (sop1, sop2)


def test_revision_two_references_revision_one(tmp_path, cr_header, cr_plan):
    rev1 = pydicom.dcmread(_write(build_sr(cr_plan, cr_header), tmp_path / "r1.dcm"))
    plan2 = revise_plan(cr_plan, replace(cr_plan, notes=cr_plan.notes + ("moved the left head centre",)),
                        status="final")
    rev2 = pydicom.dcmread(_write(build_sr(plan2, cr_header, previous=rev1), tmp_path / "r2.dcm"))
    assert (rev1.SeriesNumber, rev2.SeriesNumber) == (9001, 9003) and rev2.SeriesInstanceUID != rev1.SeriesInstanceUID
    for attr in ("ContentTime", "InstanceCreationTime"):
        assert rev2.ContentDate + getattr(rev2, attr) > rev1.ContentDate + getattr(rev1, attr)
    assert (rev2.VerifyingObserverSequence[0].VerificationDateTime
            > rev1.VerifyingObserverSequence[0].VerificationDateTime)
    pred = rev2.PredecessorDocumentsSequence[0]
    assert pred.StudyInstanceUID == rev1.StudyInstanceUID
    assert pred.ReferencedSeriesSequence[0].SeriesInstanceUID == rev1.SeriesInstanceUID
    assert pred.ReferencedSeriesSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID == rev1.SOPInstanceUID
    assert rev2.SOPInstanceUID != rev1.SOPInstanceUID and rev2.InstanceNumber == 2
    assert plan_from_sr(rev2) == plan2
    assert run_dciodvfy(tmp_path / "r2.dcm") == []
    with pytest.raises(DicomOutputError, match="higher revision"):
        build_sr(cr_plan, cr_header, previous=rev1)
    with pytest.raises(DicomOutputError, match="another plan"):
        build_sr(replace(plan2, plan_uid="1.2.3.4.5"), cr_header, previous=rev1)
    with pytest.raises(DicomOutputError, match="not an orthoplan plan"):
        build_sr(plan2, cr_header, previous=cr_header)
    with pytest.raises(DicomOutputError, match="revise_plan"):  # a replace copy keeps revision 1's times
        build_sr(replace(cr_plan, revision=2), cr_header, previous=rev1)


# --------------------------------------------------------------------------- errors and privacy


def _identifiers(header) -> list[str]:
    return [str(header.PatientName), str(header.PatientName).split("^")[0], str(header.PatientID)]


def test_errors_are_clear_and_never_show_patient_identifiers(cr_header, dx_header, cr_plan, written):
    ids = _identifiers(cr_header)
    failing = [
        lambda: build_sr(cr_plan, dx_header),  # plan made on another image
        lambda: build_sr(replace(cr_plan, author=None), cr_header),  # final without author
        lambda: build_sr(replace(cr_plan, created="yesterday"), cr_header),
        lambda: build_sr(replace(cr_plan, measurements=Measurements((Measurement("knee_angle_deg", 1.0, "deg"),))), cr_header),
        lambda: build_sr(replace(cr_plan, measurements=Measurements((Measurement("lld_teardrop_mm", 1.0, "cm"),))), cr_header),
        lambda: build_sr(cr_plan, cr_header, series_number=0),
        lambda: plan_from_sr(cr_header),  # an image, not an SR
    ]
    header_only = pydicom.Dataset()
    header_only.PatientName, header_only.PatientID = cr_header.PatientName, cr_header.PatientID
    failing.append(lambda: build_sr(cr_plan, header_only))  # no SOP Instance UID
    with pytest.raises(MeasurementError, match="finite"):  # a NaN value cannot even be built
        Measurement("lld_teardrop_mm", float("nan"), "mm")
    for call in failing:
        with pytest.raises(DicomOutputError) as info:
            call()
        text = str(info.value)
        assert len(text) > 20
        assert not any(i in text for i in ids), text


def test_scrub_removes_identifiers_from_foreign_messages(cr_header):
    from orthoplan.dicom.sr import scrub

    message = f"bad value {cr_header.PatientName} for {cr_header.PatientID} in study"
    clean = scrub(message, cr_header)
    assert not any(i in clean for i in _identifiers(cr_header)) and "bad value" in clean


def test_reading_another_applications_sr_is_refused(tmp_path, cr_header):
    """A valid TID 1500 report written by highdicom for someone else is not a plan."""
    ref = hd.sr.SourceImageForRegion(cr_header.SOPClassUID, cr_header.SOPInstanceUID)
    group = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier="lesion 1"),
        referenced_region=hd.sr.ImageRegion("POINT", np.array([[10.0, 10.0]]), ref),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(),
        procedure_reported=hd.sr.CodedConcept("363679005", "SCT", "Imaging procedure"),
        imaging_measurements=[group],
    )
    other = hd.sr.ComprehensiveSR([cr_header], report[0], hd.UID(), 1, hd.UID(), 1, manufacturer="x")
    with pytest.raises(DicomOutputError, match="not an orthoplan plan SR"):
        plan_from_sr(other)


# --------------------------------------------------------------------------- codes and docs


def test_every_measurement_has_a_code_and_codes_are_valid():
    for name in measurement_names():
        key, _side = C.measurement_template(name)
        assert C.MEASUREMENT_CODES[key].scheme_designator == C.SCHEME
    private = C.private_codes()
    values = [c.value for c in private]
    assert len(values) == len(set(values)), "private code values must be unique"
    for c in private:
        assert len(c.meaning) <= 64 and c.meaning.isascii(), c
    assert all(len(c.value) <= 16 for c in private)


def test_docs_list_every_private_code():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "dicom.md").read_text(encoding="utf-8")
    missing = [c.value for c in C.private_codes() if f"`{c.value}`" not in doc]
    assert missing == [], f"docs/dicom.md lacks {missing}: paste codes.code_table_markdown()"


def test_created_is_kept_verbatim_and_drives_content_time(tmp_path, dx_header, dx_plan):
    assert dx_plan.created == CREATED
    ds = build_sr(dx_plan, dx_header)
    # the synthetic DX states no timezone: the plan's own wall-clock time is written
    assert (ds.ContentDate, ds.ContentTime, ds.InstanceCreationTime) == ("20260131", "140500", "140500")
    assert "TimezoneOffsetFromUTC" not in ds


def test_rich_plan_fixture_is_rich(cr_plan):
    """Guards the round-trip test itself: it must cover what the SR has to carry."""
    # every AP-pelvis landmark (the long-leg vocabulary's round trip: tests/lower_limb/test_dicom.py)
    # and the knee views': tests/knee_views/test_knee_pipeline.py)
    from orthoplan.measurements.knee import KNEE_AP_ANATOMY, KNEE_LATERAL_ANATOMY
    from orthoplan.measurements.lower_limb import LONG_LEG_ANATOMY

    other_views = set(LONG_LEG_ANATOMY) | set(KNEE_AP_ANATOMY) | set(KNEE_LATERAL_ANATOMY)
    assert len(cr_plan.landmarks) == sum(n.anatomy not in other_views for n in LandmarkName)
    assert sum(lm.radius_px is not None for lm in cr_plan.landmarks) == 2
    assert {lm.source for lm in cr_plan.landmarks} == {"auto", "manual", "refined"}
    assert any(m.notes for m in cr_plan.measurements)
    assert cr_plan.calibration.assumed and cr_plan.calibration.warnings and cr_plan.calibration.details
    assert cr_plan.status == "final" and cr_plan.author
    assert make_rich_plan is not None
