"""``orthoplan demo``, ``plan UID --archive``, ``plans`` and ``archive flush`` through ``cli.main``."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
import pytest
from archive_cases import plan_case
from archive_helpers import PASSWORD, USER, TcpRelay, free_port

from orthoplan.phantoms import pelvis as phantom
from orthoplan.archive import latest_plan, open_archive
from orthoplan.cli import main


def _landmarks_file(seed: int, path: Path) -> Path:
    case = phantom.make_pelvis(seed=seed, rows=600, columns=700, detector_spacing_mm=0.6)
    return phantom.write_case(case, path)["landmarks"]


def test_demo_stores_in_a_folder_archive_and_plans_lists_it(tmp_path, capsys, outbox):
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    url = "folder://" + str((tmp_path / "demo" / "archive").resolve())
    assert f"stored   2 objects in {url}" in out
    sr = pydicom.dcmread(tmp_path / "demo" / "plan" / "plan-sr.dcm")
    assert main(["plans", "--archive", url, "--study", str(sr.StudyInstanceUID), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["sop_instance_uid"], r["revision"], r["latest"], r["author"]) for r in rows] == [
        (str(sr.SOPInstanceUID), 1, True, "orthoplan demo")]
    assert main(["plans", "--archive", url, "--study", str(sr.StudyInstanceUID), "--open", "--json"]) == 0
    opened = json.loads(capsys.readouterr().out)
    saved = json.loads((tmp_path / "demo" / "plan" / "plan.json").read_text())
    assert opened == saved
    assert len(outbox) == 0


def test_plan_by_uid_from_folder_archive(tmp_path, capsys, outbox):
    c = plan_case(41)
    url = "folder://" + str(tmp_path / "archive")
    open_archive(url).store([c.image])
    lm = _landmarks_file(41, tmp_path / "case")
    code = main(["plan", str(c.image.SOPInstanceUID), "--archive", url, "--landmarks", str(lm),
                 "--out", str(tmp_path / "out"), "--author", "Surgeon^Ann"])
    assert code == 0
    out = capsys.readouterr().out
    assert f"stored   2 objects in {url}" in out
    for name in ("plan.json", "plan-sr.dcm", "plan-gsps.dcm", "overlay.png"):
        assert (tmp_path / "out" / name).is_file()
    plan = latest_plan(open_archive(url), c.study_uid)
    assert plan.author == "Surgeon^Ann" and plan.image.sop_instance_uid == str(c.image.SOPInstanceUID)
    assert main(["plans", "--archive", url, "--study", c.study_uid]) == 0
    assert f"plan_uid={plan.plan_uid}" in capsys.readouterr().out
    assert main(["plans", "--archive", url, "--study", "1.2.3"]) == 0
    assert "no orthoplan plan" in capsys.readouterr().out
    assert main(["plans", "--archive", url, "--study", "1.2.3", "--open"]) == 11


@pytest.mark.orthanc
def test_plan_by_uid_via_dicomweb_queue_and_flush(orthanc, tmp_path, capsys, outbox):
    c = plan_case(42)
    open_archive(orthanc.dicomweb_url).store([c.image])
    lm = _landmarks_file(42, tmp_path / "case")
    # read the image from Orthanc; the store goes to an archive that is down: queued
    down_port = free_port()
    down = f"http://{USER}:{PASSWORD}@127.0.0.1:{down_port}/dicom-web"
    code = main(["plan", str(c.image.SOPInstanceUID), "--archive", orthanc.dicomweb_url, "--landmarks", str(lm),
                 "--out", str(tmp_path / "out")])
    assert code == 0
    assert f"stored   2 objects in http://{USER}@127.0.0.1:{orthanc.http_port}/dicom-web" in capsys.readouterr().out
    sr = pydicom.dcmread(tmp_path / "out" / "plan-sr.dcm")
    assert orthanc.has_instance(str(sr.SOPInstanceUID))

    # a second plan run, stored to an archive that is down: queued, password nowhere
    code = main(["plan", str(tmp_path / "out" / "plan-sr.dcm").replace("plan-sr", "x"), "--archive", down,
                 "--out", str(tmp_path / "out2")])
    assert code == 66  # not a file and not a UID: a clean missing-input error
    image_file = tmp_path / "image.dcm"
    c.image.save_as(image_file, enforce_file_format=True)
    code = main(["plan", str(image_file), "--archive", down, "--landmarks", str(lm), "--out", str(tmp_path / "out2")])
    captured = capsys.readouterr()
    assert code == 12 and "stored in the outbox" in captured.err  # EXIT_QUEUED
    assert PASSWORD not in captured.out + captured.err and f"127.0.0.1:{down_port}" in captured.err
    assert len(outbox) == 1

    assert main(["archive", "flush", "--outbox", str(outbox.path)]) == 11  # still down
    assert "1 still failing" in capsys.readouterr().out
    with TcpRelay(("127.0.0.1", orthanc.http_port), port=down_port), pytest.MonkeyPatch.context() as mp:
        mp.setenv("ORTHOPLAN_ARCHIVE_PASSWORD", PASSWORD)
        assert main(["archive", "flush", "--json"]) == 0  # the default outbox ($ORTHOPLAN_OUTBOX)
    report = json.loads(capsys.readouterr().out)
    assert len(report["stored"]) == 1 and report["failed"] == [] and len(outbox) == 0
    sr2 = pydicom.dcmread(tmp_path / "out2" / "plan-sr.dcm")
    assert orthanc.has_instance(str(sr2.SOPInstanceUID))
    assert main(["plans", "--archive", orthanc.dicomweb_url, "--study", c.study_uid, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["sop_instance_uid"] for r in rows} == {str(sr.SOPInstanceUID), str(sr2.SOPInstanceUID)}
