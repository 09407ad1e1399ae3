"""The plan document as a DICOM Encapsulated PDF: valid (dciodvfy), in the image's study, byte-exact."""

from __future__ import annotations

from dataclasses import replace

import pydicom
import pytest

from orthoplan.dicom import gsps_uids, run_dciodvfy, sr_uids
from orthoplan.dicom.encapsulated_pdf import (
    ENCAPSULATED_PDF,
    build_encapsulated_pdf,
    encapsulated_pdf_uids,
    pdf_from_dataset,
)
from orthoplan.errors import DicomOutputError
from orthoplan.pipeline import load_radiograph, plan_document


@pytest.fixture(scope="module")
def dx_pdf(dx_case, dx_plan) -> bytes:
    return plan_document(dx_plan, load_radiograph(dx_case.dataset))


def _write(ds, path):
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return path


@pytest.mark.parametrize("status", ["draft", "final"])
def test_dciodvfy_reports_no_error_and_the_pdf_round_trips(tmp_path, dx_plan, dx_header, dx_pdf, status):
    plan = replace(dx_plan, status=status, author="Surgeon^Ann")
    path = _write(build_encapsulated_pdf(plan, dx_header, dx_pdf), tmp_path / "plan-pdf.dcm")
    assert run_dciodvfy(path) == []
    back = pydicom.dcmread(path)
    assert back.SOPClassUID == ENCAPSULATED_PDF and back.file_meta.MediaStorageSOPClassUID == ENCAPSULATED_PDF
    assert back.MIMETypeOfEncapsulatedDocument == "application/pdf"
    assert pdf_from_dataset(back) == dx_pdf
    assert back.VerificationFlag == ("VERIFIED" if status == "final" else "UNVERIFIED")
    assert back.BurnedInAnnotation == "YES"  # the document names the patient
    assert f"({status})" in back.DocumentTitle


@pytest.mark.parametrize("extra", [b"", b" "])
def test_odd_and_even_documents_keep_their_exact_bytes(tmp_path, dx_plan, dx_header, dx_pdf, extra):
    pdf = dx_pdf + extra
    back = pydicom.dcmread(_write(build_encapsulated_pdf(dx_plan, dx_header, pdf), tmp_path / "p.dcm"))
    assert len(back.EncapsulatedDocument) % 2 == 0
    assert back.EncapsulatedDocumentLength == len(pdf)
    assert pdf_from_dataset(back) == pdf


def test_it_sits_in_the_image_study_in_a_series_of_its_own(dx_plan, dx_header, dx_pdf):
    ds = build_encapsulated_pdf(dx_plan, dx_header, dx_pdf)
    assert ds.StudyInstanceUID == dx_header.StudyInstanceUID
    assert ds.PatientID == dx_header.PatientID and ds.PatientName == dx_header.PatientName
    assert ds.Modality == "DOC"
    others = {dx_header.SeriesInstanceUID, sr_uids(dx_plan)[0], gsps_uids(dx_plan)[0]}
    assert ds.SeriesInstanceUID not in others
    # apart from the series numbers of the image and of the SR and GSPS of the first revisions
    assert ds.SeriesNumber not in {int(dx_header.get("SeriesNumber") or 0), *range(9001, 9000 + 2 * 20 + 1)}
    assert ds.SourceInstanceSequence[0].ReferencedSOPInstanceUID == dx_header.SOPInstanceUID
    assert "PixelData" not in ds


def test_uids_follow_the_plan_and_its_revision(dx_plan, dx_header, dx_pdf):
    first = build_encapsulated_pdf(dx_plan, dx_header, dx_pdf)
    again = build_encapsulated_pdf(dx_plan, dx_header, dx_pdf)
    revised = build_encapsulated_pdf(replace(dx_plan, revision=2), dx_header, dx_pdf)
    assert (first.SeriesInstanceUID, first.SOPInstanceUID) == encapsulated_pdf_uids(dx_plan)
    assert (again.SeriesInstanceUID, again.SOPInstanceUID) == (first.SeriesInstanceUID, first.SOPInstanceUID)
    # every revision is a series of its own, with its own number
    assert revised.SeriesInstanceUID != first.SeriesInstanceUID and revised.SOPInstanceUID != first.SOPInstanceUID
    assert revised.SeriesNumber != first.SeriesNumber and revised.InstanceNumber == 2


def test_bad_input_is_refused_without_patient_data(dx_plan, dx_header, cr_header, dx_pdf):
    with pytest.raises(DicomOutputError, match="not a PDF"):
        build_encapsulated_pdf(dx_plan, dx_header, b"<html>not a pdf</html>")
    with pytest.raises(DicomOutputError, match="another image") as info:
        build_encapsulated_pdf(dx_plan, cr_header, dx_pdf)
    assert str(cr_header.PatientID) not in str(info.value)
    with pytest.raises(DicomOutputError, match="not a DICOM Encapsulated PDF"):
        pdf_from_dataset(dx_header)
