"""The validator wrappers report real problems, and say so when a tool is missing."""

from __future__ import annotations

import shutil

import pydicom
import pytest

from orthoplan.dicom import build_sr, run_dciodvfy, run_dcmpschk, run_dsrdump
from orthoplan.dicom import validate
from orthoplan.errors import DicomOutputError


def _write(ds, path):
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return path


def test_dciodvfy_finds_errors_in_a_broken_sr(tmp_path, dx_header, dx_plan):
    sr = build_sr(dx_plan, dx_header)
    del sr.CompletionFlag  # type 1 in the SR Document General module
    sr.ContentSequence[0].ValueType = "BOGUS"
    errors = run_dciodvfy(_write(sr, tmp_path / "broken.dcm"))
    assert errors and all(e.startswith("Error") for e in errors)
    assert any("CompletionFlag" in e for e in errors) and any("BOGUS" in e for e in errors)


def test_dsrdump_refuses_what_is_not_an_sr(tmp_path, dx_header):
    ds = dx_header.copy()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    path = _write(ds, tmp_path / "image.dcm")
    with pytest.raises(DicomOutputError, match="dsrdump could not parse") as info:
        run_dsrdump(path)
    assert str(dx_header.PatientID) not in str(info.value)


def test_dcmpschk_refuses_an_sr(tmp_path, dx_header, dx_plan):
    errors = run_dcmpschk(_write(build_sr(dx_plan, dx_header), tmp_path / "sr.dcm"))
    assert errors


def test_missing_tool_and_missing_file_are_clear(tmp_path, monkeypatch):
    with pytest.raises(DicomOutputError, match="no such file"):
        run_dciodvfy(tmp_path / "absent.dcm")
    (tmp_path / "x.dcm").write_bytes(b"")
    monkeypatch.setattr(validate.shutil, "which", lambda name: None)
    for fn, package in ((run_dciodvfy, "dicom3tools"), (run_dsrdump, "dcmtk"), (run_dcmpschk, "dcmtk")):
        with pytest.raises(DicomOutputError, match=f"apt-get install {package}"):
            fn(tmp_path / "x.dcm")


def test_tools_are_installed_here():
    """The suite runs the real validators: they must be on PATH (never skipped)."""
    assert all(shutil.which(t) for t in ("dciodvfy", "dsrdump", "dcmpschk"))


@pytest.mark.slow
def test_pixelmed_validates_the_tid1500_template(tmp_path, cr_header, cr_plan):
    """PixelMed checks the template rows themselves (not only the IOD); ~10-20 s."""
    path = _write(build_sr(cr_plan, cr_header), tmp_path / "sr.dcm")
    assert validate.run_pixelmed_sr_validator(path) == []


@pytest.mark.slow
def test_pixelmed_accepts_landmark_sigmas_and_stored_intervals(tmp_path, dx_header, dx_landmarks):
    """Issue 15: the LM-SIGMA NUMs and MS-INTERVAL texts keep the SR valid for PixelMed and dciodvfy."""
    from dicom_plans import make_rich_plan

    from orthoplan.landmarks.uncertainty import with_positional_sigma
    from orthoplan.model import Landmarks

    lms = with_positional_sigma(Landmarks(tuple(dx_landmarks)), detector="learned")
    plan = make_rich_plan(dx_header, list(lms))
    assert any(m.unit == "deg" and m.interval is not None for m in plan.measurements)
    path = _write(build_sr(plan, dx_header), tmp_path / "sr.dcm")
    assert validate.run_pixelmed_sr_validator(path) == []
    assert run_dciodvfy(path) == []
