"""DICOMweb and DIMSE archives against a real Orthanc (started by the session fixture)."""

from __future__ import annotations

import copy
import json

import pytest
from pydicom.uid import generate_uid
from archive_cases import body_bytes, plan_case
from archive_helpers import OUR_AET, PASSWORD, REFUSE_MARK, USER, SilentServer, TcpRelay, free_port

from orthoplan.archive import latest_plan, list_plans, open_archive
from orthoplan.archive.dicomweb import DICOMwebArchive
from orthoplan.archive.dimse import DimseArchive
from orthoplan.archive.outbox import flush, store_or_queue
from orthoplan.errors import ArchiveError

pytestmark = pytest.mark.orthanc

KINDS = ["dicomweb", "dimse"]


def _archive(orthanc, kind: str, **options):
    if kind == "dicomweb":
        a = open_archive(orthanc.dicomweb_url, **options)
        assert isinstance(a, DICOMwebArchive) and PASSWORD not in a.name
    else:
        a = open_archive(orthanc.dimse_url, move_port=orthanc.move_port, **options)
        assert isinstance(a, DimseArchive) and a.ae_title == OUR_AET
    return a


@pytest.mark.parametrize("kind,seed", [("dicomweb", 31), ("dimse", 32)])
def test_store_search_retrieve_plans_revisions(orthanc, kind, seed):
    c = plan_case(seed)
    archive = _archive(orthanc, kind)
    result = archive.store(c.objects())
    assert set(result.sop_instance_uids) == {str(d.SOPInstanceUID) for d in c.objects()}
    assert all(orthanc.has_instance(str(d.SOPInstanceUID)) for d in c.objects())
    # search at every level, by patient, study, modality, date range, SOP class
    studies = archive.search("study", PatientID=str(c.image.PatientID))
    assert [s["StudyInstanceUID"] for s in studies] == [c.study_uid]
    assert studies[0]["ModalitiesInStudy"] == ["DX", "PR", "SR"]
    assert {s["Modality"] for s in archive.search("series", StudyInstanceUID=c.study_uid)} == {"DX", "PR", "SR"}
    hits = archive.search("instance", StudyInstanceUID=c.study_uid, Modality="SR")
    assert [h["SOPInstanceUID"] for h in hits] == [str(c.sr.SOPInstanceUID)]
    assert hits[0]["SOPClassUID"] == str(c.sr.SOPClassUID)
    assert c.study_uid in {s["StudyInstanceUID"] for s in archive.search("study", StudyDate=("20251231", "20260102"))}
    assert archive.search("study", PatientID=str(c.image.PatientID), StudyDate="-20251231") == []
    assert [h["SOPInstanceUID"] for h in archive.search(StudyInstanceUID=c.study_uid, SOPClassUID=str(c.gsps.SOPClassUID))] \
        == [str(c.gsps.SOPInstanceUID)]
    # retrieve: the same object, byte for byte (pixels included)
    image = archive.retrieve(str(c.image.SOPInstanceUID))
    assert image.SOPInstanceUID == c.image.SOPInstanceUID and image.PixelData == c.image.PixelData
    assert body_bytes(image) == body_bytes(c.image)
    assert body_bytes(archive.retrieve(str(c.sr.SOPInstanceUID))) == body_bytes(c.sr)
    # the plan reads back identical
    rows = list_plans(archive, c.study_uid)
    assert [(r["plan_uid"], r["revision"], r["latest"]) for r in rows] == [(c.plan.plan_uid, 1, True)]
    assert latest_plan(archive, c.study_uid) == c.plan
    # re-storing the same revision: no error, no second copy
    count = orthanc.instance_count()
    again = archive.store([c.sr, c.gsps])
    assert set(again.sop_instance_uids) == {str(c.sr.SOPInstanceUID), str(c.gsps.SOPInstanceUID)}
    if kind == "dicomweb":  # Orthanc detected: it knows they were there
        assert again.stored == ()
    assert orthanc.instance_count() == count
    # a new revision becomes the latest
    plan2, sr2, gsps2 = c.revision()
    archive.store([sr2, gsps2])
    rows = list_plans(archive, c.study_uid)
    assert [(r["revision"], r["status"], r["latest"]) for r in rows] == [(1, "draft", False), (2, "final", True)]
    assert rows[1]["supersedes"] == [str(c.sr.SOPInstanceUID)]
    assert latest_plan(archive, c.study_uid) == plan2


def test_dimse_c_move_and_existing_check(orthanc):
    c = plan_case(33)
    archive = _archive(orthanc, "dimse", check_existing=True)
    assert archive.store([c.image, c.sr]).stored != ()
    again = archive.store([c.image, c.sr])
    assert again.stored == () and len(again.already_present) == 2
    mover = _archive(orthanc, "dimse", retrieve="move")
    got = mover.retrieve(str(c.sr.SOPInstanceUID))
    assert body_bytes(got) == body_bytes(c.sr)


@pytest.mark.parametrize("kind", KINDS)
def test_closed_port_queues_in_outbox_and_flush_stores_once(orthanc, outbox, kind):
    c = plan_case(34 if kind == "dicomweb" else 35)
    port = free_port()  # nothing listens here yet
    if kind == "dicomweb":
        url = f"http://{USER}:{PASSWORD}@127.0.0.1:{port}/dicom-web"
        target = ("127.0.0.1", orthanc.http_port)
    else:
        url = f"dicom://ORTHANC@127.0.0.1:{port}"
        target = ("127.0.0.1", orthanc.dicom_port)
    archive = open_archive(url, timeout=5)
    with pytest.raises(ArchiveError) as err:
        archive.store([c.sr, c.gsps])
    message = str(err.value)
    assert f"127.0.0.1:{port}" in message and PASSWORD not in message
    assert str(c.image.PatientID) not in message and "SYNTHETIC" not in message

    result = store_or_queue(archive, [c.sr, c.gsps], outbox)
    assert result.queued and PASSWORD not in str(result) and len(outbox) == 1
    entry = outbox.entries()[0]
    assert PASSWORD not in (entry.path / "entry.json").read_text()
    assert json.loads((entry.path / "entry.json").read_text())["sop_instance_uids"] == [
        str(c.sr.SOPInstanceUID), str(c.gsps.SOPInstanceUID)]

    report = flush(outbox, timeout=5)  # still down: kept, attempt counted
    assert len(report.failed) == 1 and len(outbox) == 1 and outbox.entries()[0].attempts == 2

    # the archive comes back at the same address; credentials come from the environment
    with TcpRelay(target, port=port), pytest.MonkeyPatch.context() as mp:
        mp.setenv("ORTHOPLAN_ARCHIVE_USER", USER)
        mp.setenv("ORTHOPLAN_ARCHIVE_PASSWORD", PASSWORD)
        count = orthanc.instance_count()
        report = flush(outbox, timeout=5)
        assert len(report.stored) == 1 and report.failed == () and len(outbox) == 0
        assert orthanc.instance_count() == count + 2
        assert flush(outbox).stored == ()  # nothing left: stored exactly once
    assert orthanc.has_instance(str(c.sr.SOPInstanceUID)) and orthanc.has_instance(str(c.gsps.SOPInstanceUID))


def test_wrong_password_and_no_credentials(orthanc):
    c = plan_case(36)
    wrong = f"http://{USER}:not-the-{PASSWORD}@127.0.0.1:{orthanc.http_port}/dicom-web"
    with pytest.raises(ArchiveError, match="401") as err:
        open_archive(wrong).store([c.sr])
    assert PASSWORD not in str(err.value) and f"{USER}@127.0.0.1" in str(err.value)
    with pytest.raises(ArchiveError, match="401"):
        open_archive(orthanc.dicomweb_url_no_credentials).search(StudyInstanceUID=c.study_uid)
    with pytest.raises(ArchiveError, match="401"):
        open_archive(orthanc.dicomweb_url_no_credentials, token="not-a-valid-token").retrieve(str(c.sr.SOPInstanceUID))
    assert not orthanc.has_instance(str(c.sr.SOPInstanceUID))


def test_refused_association(orthanc):
    wrong_aet = f"dicom://NOTORTHANC@127.0.0.1:{orthanc.dicom_port}"
    with pytest.raises(ArchiveError, match="rejected the association"):
        open_archive(wrong_aet).store([plan_case(36).sr])


@pytest.mark.parametrize("kind", KINDS)
def test_hung_server_times_out(kind):
    with SilentServer() as silent:
        url = (f"http://127.0.0.1:{silent.port}/dicom-web" if kind == "dicomweb"
               else f"dicom://PACS@127.0.0.1:{silent.port}")
        with pytest.raises(ArchiveError, match="timed out|cannot connect|no answer") as err:
            open_archive(url, timeout=0.5).store([plan_case(36).sr])
        assert f"127.0.0.1:{silent.port}" in str(err.value)


def test_dicomweb_refused_object_rolls_back_the_call(orthanc):
    c = plan_case(37)
    archive = _archive(orthanc, "dicomweb")
    archive.store([c.image])
    bad = copy.deepcopy(c.gsps)
    bad.SeriesDescription = REFUSE_MARK  # the test Orthanc's filter drops it, STOW says "stored"
    bad.SOPInstanceUID = generate_uid(entropy_srcs=["refused", str(c.gsps.SOPInstanceUID)])
    with pytest.raises(ArchiveError, match="not kept") as err:
        archive.store([c.image, c.sr, bad])
    assert "deleted again" in str(err.value)
    assert orthanc.has_instance(str(c.image.SOPInstanceUID))  # stored before: untouched
    assert not orthanc.has_instance(str(c.sr.SOPInstanceUID)) and not orthanc.has_instance(bad.SOPInstanceUID)


def test_dimse_drop_is_detected_with_existing_check(orthanc):
    c = plan_case(38)
    bad = copy.deepcopy(c.gsps)
    bad.SeriesDescription = REFUSE_MARK
    with pytest.raises(ArchiveError, match="not kept"):
        _archive(orthanc, "dimse", check_existing=True).store([bad])


def test_dicomweb_connection_cut_during_store_keeps_nothing(orthanc, outbox):
    c = plan_case(39)
    with TcpRelay(("127.0.0.1", orthanc.http_port), cut_after=200_000) as relay:
        url = f"http://{USER}:{PASSWORD}@127.0.0.1:{relay.port}/dicom-web"
        result = store_or_queue(open_archive(url, timeout=5), c.objects(), outbox)
    assert result.queued and PASSWORD not in result.error
    assert not any(orthanc.has_instance(str(d.SOPInstanceUID)) for d in c.objects())
    # flushed later, straight to the archive (the entry's URL is reachable again through a relay)
    with TcpRelay(("127.0.0.1", orthanc.http_port), port=relay.port), pytest.MonkeyPatch.context() as mp:
        mp.setenv("ORTHOPLAN_ARCHIVE_PASSWORD", PASSWORD)
        mp.setenv("ORTHOPLAN_ARCHIVE_USER", USER)
        assert len(flush(outbox).stored) == 1
    assert all(orthanc.has_instance(str(d.SOPInstanceUID)) for d in c.objects())


def test_dimse_connection_cut_mid_batch_says_what_remains(orthanc, outbox):
    c = plan_case(40)
    image_size = len(c.image.PixelData)
    # the image goes through, the connection dies while the SR is sent
    with TcpRelay(("127.0.0.1", orthanc.dicom_port), cut_after=image_size + 20_000) as relay:
        archive = open_archive(f"dicom://ORTHANC@127.0.0.1:{relay.port}", timeout=5)
        result = store_or_queue(archive, [c.image, c.sr, c.gsps], outbox)
    assert result.queued
    assert "remain" in result.error and "DIMSE has no delete" in result.error
    assert orthanc.has_instance(str(c.image.SOPInstanceUID)) and not orthanc.has_instance(str(c.sr.SOPInstanceUID))
    # a flush completes the set; the image already there is no problem (idempotent)
    with TcpRelay(("127.0.0.1", orthanc.dicom_port), port=relay.port):
        assert len(flush(outbox).stored) == 1
    assert all(orthanc.has_instance(str(d.SOPInstanceUID)) for d in c.objects())
