"""The plan document as a DICOM Encapsulated PDF in a real Orthanc, by DICOMweb and by DIMSE."""

from __future__ import annotations

import pytest
from archive_cases import plan_case

from orthoplan.archive import list_plans, open_archive
from orthoplan.dicom.encapsulated_pdf import ENCAPSULATED_PDF, build_encapsulated_pdf, pdf_from_dataset
from orthoplan.pipeline import load_radiograph, plan_document

pytestmark = pytest.mark.orthanc


@pytest.mark.parametrize("kind,seed", [("dicomweb", 91), ("dimse", 92)])
def test_the_encapsulated_pdf_is_stored_beside_the_plan_and_read_back(orthanc, kind, seed):
    c = plan_case(seed)
    pdf = plan_document(c.plan, load_radiograph(c.image))
    doc = build_encapsulated_pdf(c.plan, c.header, pdf)
    archive = (open_archive(orthanc.dicomweb_url) if kind == "dicomweb"
               else open_archive(orthanc.dimse_url, move_port=orthanc.move_port))
    result = archive.store([*c.objects(), doc])
    assert str(doc.SOPInstanceUID) in result.sop_instance_uids and orthanc.has_instance(str(doc.SOPInstanceUID))
    hits = archive.search("instance", StudyInstanceUID=c.study_uid, Modality="DOC")
    assert [h["SOPInstanceUID"] for h in hits] == [str(doc.SOPInstanceUID)]
    assert hits[0]["SOPClassUID"] == ENCAPSULATED_PDF
    assert pdf_from_dataset(archive.retrieve(str(doc.SOPInstanceUID))) == pdf
    # a document in the study is not a plan: the listing still finds the one SR
    assert [r["plan_uid"] for r in list_plans(archive, c.study_uid)] == [c.plan.plan_uid]
