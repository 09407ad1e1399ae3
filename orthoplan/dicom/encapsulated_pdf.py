"""A plan document as a DICOM Encapsulated PDF, in the study of its radiograph.

A site whose viewer shows no TID 1500 SR and no presentation state still shows a PDF: the
plan document of :func:`orthoplan.plan_document.plan_document` is stored as an
**Encapsulated PDF** object (SOP Class ``1.2.840.10008.5.1.4.1.1.104.1``, PS3.3 A.45.1):

* Patient and General Study modules copied from the radiograph (same study);
* Encapsulated Document Series: Modality ``DOC``, a series of its own per revision (Series
  Number 9900 + revision by default, apart from the SR and GSPS series), Instance Number =
  revision, UIDs derived from the plan ID and revision (storing the same revision twice is
  idempotent);
* General and SC Equipment (Conversion Type ``WSD``, made on a workstation);
* Encapsulated Document: the PDF, its length, MIME type ``application/pdf``, Document Title,
  Burned In Annotation ``YES`` (the document names the patient), the radiograph in the
  Source Instance Sequence, Verification Flag from the plan's status;
* SOP Common, with dates and times from ``plan.created`` (nothing depends on the clock).

Examples
--------
>>> from orthoplan.dicom.encapsulated_pdf import ENCAPSULATED_PDF
>>> ENCAPSULATED_PDF
'1.2.840.10008.5.1.4.1.1.104.1'
>>> # ds = build_encapsulated_pdf(plan, radiograph.dataset, pdf_bytes); pdf_from_dataset(ds) == pdf_bytes
"""

from __future__ import annotations

import logging

import pydicom
from pydicom.uid import generate_uid

from ..errors import DicomOutputError
from ..model import Plan
from .sr import build_scrubbed, evidence_header, file_dataset, local_datetime, new_instance

logger = logging.getLogger(__name__)

#: Encapsulated PDF Storage.
ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
#: (code value, scheme, meaning) of the document's concept name when the plan places implants.
IMPLANTATION_PLAN = ("112345", "DCM", "Implantation Plan")


def encapsulated_pdf_uids(plan: Plan) -> tuple[str, str]:
    """``(series_instance_uid, sop_instance_uid)`` of the Encapsulated PDF of ``plan``.

    Both are the revision's: each revision's document is a series of its own (revision 1's
    series UID comes from the plan ID alone), so storing the same revision twice is
    idempotent and a revision never joins an earlier one's series.
    """
    revision = int(plan.revision)
    series = ["orthoplan-pdf-series", plan.plan_uid] + ([str(revision)] if revision > 1 else [])
    return (
        generate_uid(entropy_srcs=series),
        generate_uid(entropy_srcs=["orthoplan-pdf", plan.plan_uid, str(revision)]),
    )


def document_series_number(revision: int) -> int:
    """Series Number of a revision's document: 9901, 9902, ... (apart from the SR and GSPS series, 9001 ...).

    >>> document_series_number(1), document_series_number(2)
    (9901, 9902)
    """
    return 9900 + int(revision)


def build_encapsulated_pdf(
    plan: Plan,
    source: pydicom.Dataset,
    pdf: bytes,
    *,
    series_number: int | None = None,
) -> pydicom.Dataset:
    """The DICOM Encapsulated PDF of a plan document, in the study of ``source``.

    Parameters
    ----------
    plan
        The plan the document shows (UIDs, revision, status, author and time come from it).
        Its ``image.sop_instance_uid`` (when set) must be ``source``'s.
    source
        The radiograph's header (no pixel data needed), e.g. ``Radiograph.dataset``.
    pdf
        The document, e.g. :func:`orthoplan.plan_document.plan_document` ``(plan, radiograph)``.
    series_number
        Series Number of the document's series (default :func:`document_series_number`).

    Returns
    -------
    pydicom.dataset.FileDataset
        With file meta information (``save_as`` ready); deterministic for the same inputs.

    Raises
    ------
    DicomOutputError
        ``pdf`` is not a PDF, the source is not a DICOM image header, or the plan was
        made on another image (never with patient data in the message).

    Examples
    --------
    >>> ds = build_encapsulated_pdf(plan, radiograph.dataset, pdf)     # doctest: +SKIP
    >>> ds.save_as("plan-pdf.dcm")                                     # doctest: +SKIP
    """
    data = bytes(pdf)
    if not data.startswith(b"%PDF-"):
        raise DicomOutputError("the plan document is not a PDF (it does not start with %PDF-)")
    if len(data) > 0xFFFFFFFE:
        raise DicomOutputError("the plan document is too large for DICOM (4 GiB)")
    ev = evidence_header(source)
    return build_scrubbed("the plan's Encapsulated PDF", ev, lambda: _build(plan, ev, data, series_number))


def _build(plan: Plan, ev: pydicom.Dataset, data: bytes, series_number: int | None) -> pydicom.Dataset:
    if plan.image.sop_instance_uid and plan.image.sop_instance_uid != ev.SOPInstanceUID:
        raise DicomOutputError("the plan was made on another image than the source given (SOP Instance UIDs differ)")
    if series_number is None:
        series_number = document_series_number(plan.revision)
    if not 1 <= int(series_number) <= 2**31 - 1:
        raise DicomOutputError(f"series_number must be a positive integer, got {series_number!r}")
    when, tz_offset = local_datetime(plan.created, ev)
    date, time = when.strftime("%Y%m%d"), when.strftime("%H%M%S")
    series_uid, sop_uid = encapsulated_pdf_uids(plan)

    # SOP Common, Patient, General Study (and Patient Study) from the radiograph
    ds = new_instance(ENCAPSULATED_PDF, sop_uid, ev, date, time, tz_offset)
    # Encapsulated Document Series
    ds.Modality = "DOC"
    ds.SeriesInstanceUID, ds.SeriesNumber = series_uid, int(series_number)
    ds.SeriesDescription = "orthoplan plan document"
    # General Equipment, SC Equipment
    ds.Manufacturer, ds.ManufacturerModelName = "orthoplan", "orthoplan"
    ds.SoftwareVersions = plan.software_version or _version()
    institution = str(ev.get("InstitutionName", "") or "").strip()
    if institution:
        ds.InstitutionName = institution
    ds.ConversionType = "WSD"
    # Encapsulated Document
    ds.InstanceNumber = int(plan.revision)
    ds.ContentDate, ds.ContentTime = date, time
    ds.AcquisitionDateTime = date + time
    ds.BurnedInAnnotation = "YES"  # the document names the patient
    ds.RecognizableVisualFeatures = "NO"
    ds.DocumentTitle = f"orthoplan plan, revision {int(plan.revision)} ({plan.status})"[:64]
    concept = []
    if plan.placements:
        code = pydicom.Dataset()
        code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = IMPLANTATION_PLAN
        concept.append(code)
    ds.ConceptNameCodeSequence = concept
    ref = pydicom.Dataset()
    ref.ReferencedSOPClassUID = str(ev.SOPClassUID)
    ref.ReferencedSOPInstanceUID = str(ev.SOPInstanceUID)
    ds.SourceInstanceSequence = [ref]
    ds.VerificationFlag = "VERIFIED" if plan.status == "final" else "UNVERIFIED"
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocumentLength = len(data)
    ds.EncapsulatedDocument = data + (b"\x00" if len(data) % 2 else b"")  # OB: even length
    return file_dataset(ds)


def pdf_from_dataset(ds: pydicom.Dataset) -> bytes:
    """The PDF inside an Encapsulated PDF object (trailing padding removed).

    >>> # Path("plan.pdf").write_bytes(pdf_from_dataset(pydicom.dcmread("plan-pdf.dcm")))
    """
    if str(ds.get("SOPClassUID", "")) != ENCAPSULATED_PDF or "EncapsulatedDocument" not in ds:
        raise DicomOutputError("not a DICOM Encapsulated PDF (SOP Class 1.2.840.10008.5.1.4.1.1.104.1)")
    data = bytes(ds.EncapsulatedDocument)
    length = ds.get("EncapsulatedDocumentLength")
    if length is not None and 0 < int(length) <= len(data):
        data = data[: int(length)]
    elif data.endswith(b"\x00"):  # no length given: one null byte pads an odd-length document
        data = data[:-1]
    if not data.startswith(b"%PDF-"):
        raise DicomOutputError("the Encapsulated PDF holds no PDF (it does not start with %PDF-)")
    return data


def _version() -> str:
    from .. import __version__

    return __version__


__all__ = ["build_encapsulated_pdf", "pdf_from_dataset", "encapsulated_pdf_uids", "document_series_number",
           "ENCAPSULATED_PDF"]
