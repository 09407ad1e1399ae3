"""The folder archive: store, search, retrieve, plans, idempotency, atomicity, index rebuild."""

from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path

import pytest
from archive_cases import body_bytes, plan_case

from orthoplan.archive import latest_plan, list_plans, open_archive
from orthoplan.archive.folder import INDEX_NAME, FolderArchive
from orthoplan.errors import ArchiveError


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} - {INDEX_NAME, ".lock"}


@pytest.fixture
def archive(tmp_path) -> FolderArchive:
    a = open_archive("folder://" + str(tmp_path / "archive"))
    assert isinstance(a, FolderArchive)
    return a


def test_store_search_retrieve_and_plans(archive):
    c = plan_case(21)
    result = archive.store(c.objects())
    assert set(result.stored) == {str(d.SOPInstanceUID) for d in c.objects()} and not result.queued
    # study / series / instance level, by patient, study, modality, date (ranges), SOP class
    studies = archive.search("study", PatientID=str(c.image.PatientID))
    assert [s["StudyInstanceUID"] for s in studies] == [c.study_uid]
    assert studies[0]["ModalitiesInStudy"] == ["DX", "PR", "SR"]
    assert len(archive.search("series", StudyInstanceUID=c.study_uid)) == 3
    srs = archive.search(StudyInstanceUID=c.study_uid, Modality="SR")
    assert [r["SOPInstanceUID"] for r in srs] == [str(c.sr.SOPInstanceUID)]
    assert len(archive.search(StudyDate=("20251201", "20260131"))) == 3
    assert len(archive.search(study_date="20260102-")) == 0
    assert len(archive.search(SOPClassUID=str(c.gsps.SOPClassUID))) == 1
    # retrieve: the same object, pixels and all
    image = archive.retrieve(str(c.image.SOPInstanceUID))
    assert image.SOPInstanceUID == c.image.SOPInstanceUID and image.PixelData == c.image.PixelData
    assert body_bytes(image) == body_bytes(c.image)
    assert body_bytes(archive.retrieve(str(c.sr.SOPInstanceUID))) == body_bytes(c.sr)
    # plans
    rows = list_plans(archive, c.study_uid)
    assert [(r["plan_uid"], r["revision"], r["status"], r["latest"]) for r in rows] == [(c.plan.plan_uid, 1, "draft", True)]
    assert latest_plan(archive, c.study_uid) == c.plan


def test_restore_is_idempotent_and_new_revision_is_latest(archive):
    c = plan_case(22)
    archive.store(c.objects())
    before = _files(archive.root)
    again = archive.store([c.sr, c.gsps])
    assert again.stored == () and set(again.already_present) == {str(c.sr.SOPInstanceUID), str(c.gsps.SOPInstanceUID)}
    assert _files(archive.root) == before
    plan2, sr2, gsps2 = c.revision()
    archive.store([sr2, gsps2])
    rows = list_plans(archive, c.study_uid)
    assert [(r["revision"], r["latest"]) for r in rows] == [(1, False), (2, True)]
    assert rows[1]["supersedes"] == [str(c.sr.SOPInstanceUID)] and rows[1]["author"] == "Surgeon^Ann"
    assert latest_plan(archive, c.study_uid) == plan2


def test_another_object_under_a_stored_uid_is_refused(archive):
    c = plan_case(22)
    archive.store([c.sr])
    other = copy.deepcopy(c.sr)
    other.SeriesDescription = "tampered"
    with pytest.raises(ArchiveError, match="refused to overwrite"):
        archive.store([c.gsps, other])
    assert archive.search(SOPInstanceUID=str(c.gsps.SOPInstanceUID)) == []  # nothing of that call
    assert archive.retrieve(str(c.sr.SOPInstanceUID)).SeriesDescription == c.sr.SeriesDescription


def test_failure_in_the_middle_of_a_store_leaves_nothing(archive):
    c = plan_case(23)
    archive.store([c.image])
    before = _files(archive.root)
    # the GSPS's file cannot be placed: a directory sits where it must go
    target = archive.root / c.study_uid / str(c.gsps.SeriesInstanceUID) / f"{c.gsps.SOPInstanceUID}.dcm"
    target.mkdir(parents=True)
    with pytest.raises(ArchiveError) as err:
        archive.store([c.sr, c.gsps])
    assert "nothing of this call was kept" in str(err.value)
    assert _files(archive.root) == before
    assert not any(p.name.endswith(".part") for p in archive.root.rglob("*"))
    assert archive.search(StudyInstanceUID=c.study_uid, Modality="SR") == []
    target.rmdir()
    assert len(archive.store([c.sr, c.gsps]).stored) == 2


def test_invalid_objects_are_refused_before_anything_is_written(archive):
    c = plan_case(23)
    bad = copy.deepcopy(c.gsps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the invalid UI value
        bad.SOPInstanceUID = "../../etc/passwd"
    with pytest.raises(ArchiveError, match="SOP Instance UID"):
        archive.store([c.sr, bad])
    assert _files(archive.root) == set()
    with pytest.raises(ArchiveError, match="no object"):
        archive.retrieve("1.2.3.4")
    with pytest.raises(ArchiveError, match="not a valid DICOM UID"):
        archive.retrieve("1.2.3/../x")


def test_index_rebuild_gives_the_same_results(archive):
    for seed in (21, 22):
        archive.store(plan_case(seed).objects())
    queries = [("instance", {}), ("study", {"Modality": "SR"}), ("series", {"PatientID": "SYN000022"}),
               ("instance", {"StudyDate": "20260101"})]
    before = [archive.search(level, **q) for level, q in queries]
    assert archive.rebuild_index() == 6
    assert [archive.search(level, **q) for level, q in queries] == before
    os.remove(archive.root / INDEX_NAME)  # lost index: rebuilt on the next search
    assert [FolderArchive(archive.root).search(level, **q) for level, q in queries] == before
    (archive.root / INDEX_NAME).write_bytes(b"garbage")
    assert [archive.search(level, **q) for level, q in queries] == before


def test_unknown_query_key_and_url_scheme(archive):
    with pytest.raises(ArchiveError, match="cannot search by"):
        archive.search(PatientName="X")
    with pytest.raises(ArchiveError, match="unknown scheme"):
        open_archive("ftp://user:secret@host/x")
    try:
        open_archive("ftp://user:secret@host/x")
    except ArchiveError as exc:
        assert "secret" not in str(exc)


def test_reading_a_missing_folder_archive_creates_nothing(tmp_path):
    archive = open_archive(str(tmp_path / "typo"))  # a bare path is a folder archive
    assert archive.search("study") == [] and list_plans(archive, "1.2.3") == []
    with pytest.raises(ArchiveError, match="no object"):
        archive.retrieve("1.2.3")
    assert not (tmp_path / "typo").exists()
