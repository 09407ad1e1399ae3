"""Plan revisions: ``orthoplan plan --revise`` and :func:`orthoplan.pipeline.revise_plan`.

Every revision is the same plan (identifier) with the next revision number, its own times,
its own SR and GSPS series (numbers 9000 + 2r - 1 and 9000 + 2r) and a predecessor
reference; "latest" is the highest revision. Against folder archives and the session's Orthanc
(DICOMweb and DIMSE).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pydicom
import pytest
from archive_cases import plan_case

from orthoplan.archive import latest_plan, list_plans, open_archive
from orthoplan.archive.plans import latest_revision
from orthoplan.cli import main
from orthoplan.dicom import build_sr
from orthoplan.errors import DicomOutputError, PlanError
from orthoplan.model import plan_time
from orthoplan.phantoms import pelvis as phantom
from orthoplan.pipeline import load_radiograph, revise_plan, store_plan, update_landmarks


def _landmark_files(seed: int, path: Path) -> tuple[Path, Path]:
    """The case's true landmarks, and a file with the left teardrop moved 12 px down."""
    case = phantom.make_pelvis(seed=seed, rows=600, columns=700, detector_spacing_mm=0.6)
    full = phantom.write_case(case, path)["landmarks"]
    x, y = json.loads(full.read_text())["landmarks"]["teardrop_left"]
    moved = path / "moved.json"
    moved.write_text(json.dumps({"landmarks": {"teardrop_left": [x, y + 12.0]}}))
    return full, moved


def _url(kind: str, tmp_path: Path, request) -> str:
    if kind == "folder":
        return "folder://" + str(tmp_path / "archive")
    orthanc = request.getfixturevalue("orthanc")
    return orthanc.dicomweb_url if kind == "dicomweb" else orthanc.dimse_url


def _times(sr: pydicom.Dataset) -> tuple[str, str]:
    return sr.ContentDate + sr.ContentTime, sr.InstanceCreationDate + sr.InstanceCreationTime


@pytest.mark.parametrize("kind,seed", [("folder", 51), pytest.param("dicomweb", 52, marks=pytest.mark.orthanc),
                                       pytest.param("dimse", 53, marks=pytest.mark.orthanc)])
def test_cli_revise_makes_revision_two_of_the_same_plan(kind, seed, tmp_path, capsys, outbox, request):
    c = plan_case(seed)
    url = _url(kind, tmp_path, request)
    open_archive(url).store([c.image])
    full, moved = _landmark_files(seed, tmp_path / "case")
    uid = str(c.image.SOPInstanceUID)
    assert main(["plan", uid, "--archive", url, "--landmarks", str(full), "--out", str(tmp_path / "r1"),
                 "--author", "Surgeon^Ann"]) == 0
    assert main(["plan", uid, "--revise", "--landmarks", str(moved), "--archive", url,
                 "--out", str(tmp_path / "r2"), "--author", "Surgeon^Bob"]) == 0
    out = capsys.readouterr().out
    assert "revision 2 of plan" in out and "stored   2 objects" in out and len(outbox) == 0

    assert main(["plans", "--archive", url, "--study", c.study_uid, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["revision"], r["latest"], r["author"]) for r in rows] == [(1, False, "Surgeon^Ann"), (2, True, "Surgeon^Bob")]
    assert rows[0]["plan_uid"] == rows[1]["plan_uid"]  # one plan, two revisions
    assert rows[1]["supersedes"] == [rows[0]["sop_instance_uid"]]
    assert rows[0]["series_number"] != rows[1]["series_number"]
    assert rows[0]["series_instance_uid"] != rows[1]["series_instance_uid"]
    assert plan_time(rows[1]["created"]) > plan_time(rows[0]["created"])

    sr1, sr2 = (pydicom.dcmread(tmp_path / d / "plan-sr.dcm") for d in ("r1", "r2"))
    gsps1, gsps2 = (pydicom.dcmread(tmp_path / d / "plan-gsps.dcm") for d in ("r1", "r2"))
    assert str(sr2.SOPInstanceUID) == rows[1]["sop_instance_uid"]
    pred = sr2.PredecessorDocumentsSequence[0].ReferencedSeriesSequence[0]
    assert (pred.SeriesInstanceUID, pred.ReferencedSOPSequence[0].ReferencedSOPInstanceUID) == (
        sr1.SeriesInstanceUID, sr1.SOPInstanceUID)
    assert _times(sr2)[0] > _times(sr1)[0] and _times(sr2)[1] > _times(sr1)[1]
    numbers = {int(d.SeriesNumber) for d in (sr1, sr2, gsps1, gsps2)}
    assert len(numbers) == 4  # no two series of the study share a number
    assert len({str(d.SeriesInstanceUID) for d in (sr1, sr2, gsps1, gsps2)}) == 4

    # the revision starts from revision 1 and moves only the landmark given
    plan2 = latest_plan(open_archive(url), c.study_uid)
    plan1 = json.loads((tmp_path / "r1" / "plan.json").read_text())
    assert plan2.revision == 2 and plan2.plan_uid == plan1["plan_uid"]
    assert plan2.landmarks["teardrop_left"].y == pytest.approx(plan1["landmarks"]["landmarks"]["teardrop_left"]["y"] + 12.0)
    assert plan2.landmarks["teardrop_right"].xy == pytest.approx(
        tuple(plan1["landmarks"]["landmarks"]["teardrop_right"][k] for k in ("x", "y")))
    assert plan2.measurements["lld_teardrop_mm"].value != pytest.approx(plan1["measurements"]["measurements"]["lld_teardrop_mm"]["value"])
    assert main(["plans", "--archive", url, "--study", c.study_uid, "--open", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["revision"] == 2


def test_revise_without_a_plan_is_a_clear_error(tmp_path, capsys, outbox):
    c = plan_case(54)
    url = "folder://" + str(tmp_path / "archive")
    open_archive(url).store([c.image])
    uid = str(c.image.SOPInstanceUID)
    assert main(["plan", uid, "--revise", "--archive", url, "--out", str(tmp_path / "out")]) == 7
    err = capsys.readouterr().err
    assert err.startswith("orthoplan: error: nothing to revise") and err.count("\n") == 1
    assert list_plans(open_archive(url), c.study_uid) == [] and not (tmp_path / "out").exists()
    # --revise needs the archive it reads the plan from
    assert main(["plan", uid, "--revise", "--out", str(tmp_path / "out")]) == 2
    assert "--revise" in capsys.readouterr().err


def test_python_revision_has_its_own_times_and_replace_copies_are_refused(tmp_path):
    c = plan_case(55)
    url = "folder://" + str(tmp_path / "archive")
    rad = load_radiograph(c.image)
    store_plan(rad, replace(c.plan, status="final", author="Surgeon^Ann"), url, queue_on_failure=False)
    sr1, plan1 = latest_revision(open_archive(url), c.study_uid)
    lm = plan1.landmarks["teardrop_left"]
    plan2 = revise_plan(plan1, update_landmarks(plan1, lm.moved_to(lm.x, lm.y + 5.0)), status="final")
    assert (plan2.plan_uid, plan2.revision) == (plan1.plan_uid, 2)
    assert plan_time(plan2.created) > plan_time(plan1.created)
    store_plan(rad, plan2, url, queue_on_failure=False)  # finds revision 1's SR itself
    sr2, latest = latest_revision(open_archive(url), c.study_uid)
    assert latest == plan2
    assert sr2.PredecessorDocumentsSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence[0] \
        .ReferencedSOPInstanceUID == sr1.SOPInstanceUID
    assert _times(sr2)[0] > _times(sr1)[0] and _times(sr2)[1] > _times(sr1)[1]
    v1, v2 = (s.VerifyingObserverSequence[0].VerificationDateTime for s in (sr1, sr2))
    assert v2 > v1
    assert int(sr2.SeriesNumber) != int(sr1.SeriesNumber)
    # a copy made with dataclasses.replace carries revision 1's times: refused as its successor
    with pytest.raises(DicomOutputError, match="revise_plan"):
        build_sr(replace(plan1, revision=2), c.header, previous=sr1)
    with pytest.raises(PlanError, match="after revision 1"):
        revise_plan(plan1, created=plan1.created)
    with pytest.raises(DicomOutputError, match="revise_plan"):  # store_plan links it to revision 1 and refuses too
        store_plan(rad, replace(plan1, revision=3, notes=("copy",)), url, queue_on_failure=False,
                   previous=latest_revision(open_archive(url), c.study_uid)[0])


def test_plan_without_revise_on_a_planned_image_warns_once(tmp_path, capsys, caplog, outbox):
    c = plan_case(57)
    url = "folder://" + str(tmp_path / "archive")
    open_archive(url).store([c.image])
    full, _moved = _landmark_files(57, tmp_path / "case")
    uid = str(c.image.SOPInstanceUID)
    assert main(["plan", uid, "--archive", url, "--landmarks", str(full), "--out", str(tmp_path / "a")]) == 0
    assert not [r for r in caplog.records if "--revise" in r.getMessage()]
    assert main(["plan", uid, "--archive", url, "--landmarks", str(full), "--out", str(tmp_path / "b")]) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "2 plans" in warnings[0] and "--revise" in warnings[0]


def test_latest_is_the_highest_revision_not_the_newest_time(tmp_path):
    """Plan A revision 2 carries A's first time (a replace copy); plan B was begun later: A r2 is latest."""
    c = plan_case(56)
    archive = open_archive("folder://" + str(tmp_path / "archive"))
    a1 = replace(c.plan, created="2026-01-31T09:00:00+00:00")
    b1 = replace(c.plan, plan_uid="1.2.826.0.1.3680043.8.498.5601", created="2026-01-31T10:00:00+00:00")
    a2 = replace(a1, revision=2, notes=a1.notes + ("moved",))  # old time, stored without a predecessor
    archive.store([build_sr(p, c.header) for p in (a1, b1, a2)])
    assert latest_plan(archive, c.study_uid) == a2
    rows = list_plans(archive, c.study_uid)
    assert [(r["plan_uid"], r["revision"], r["latest"]) for r in rows] == [
        (a1.plan_uid, 1, False), (a1.plan_uid, 2, True), (b1.plan_uid, 1, True)]
    assert latest_plan(archive, c.study_uid, plan_uid=b1.plan_uid) == b1
