"""The outbox on its own (folder archives only; the Orthanc cases are in test_orthanc.py)."""

from __future__ import annotations

import copy
import json

import pytest
from archive_cases import body_bytes, plan_case

from orthoplan.archive import open_archive
from orthoplan.archive.outbox import Outbox, default_outbox_path, flush, store_or_queue
from orthoplan.errors import ArchiveError


def test_entry_is_complete_and_flush_stores_it(tmp_path, outbox):
    assert default_outbox_path() == outbox.path
    c = plan_case(51)
    url = "folder://" + str(tmp_path / "archive")
    entry = outbox.put(url, [c.sr, c.gsps], "archive down")
    (outbox.path / ".tmp-half-written").mkdir()  # an interrupted put: never seen
    [e] = outbox.entries()
    assert e.path == entry and e.url == url and e.attempts == 1 and e.last_error == "archive down"
    assert [body_bytes(d) for d in e.datasets()] == [body_bytes(c.sr), body_bytes(c.gsps)]
    # options for other kinds of archive (a password, an AE title) are not passed to a folder
    report = flush(outbox, password="unused", ae_title="WS1", timeout=3)
    assert len(report.stored) == 1 and report.failed == () and len(outbox) == 0
    assert "1 entry stored, 0 still failing" in str(report)
    assert len(open_archive(url).search(StudyInstanceUID=c.study_uid)) == 2


def test_failed_flush_keeps_the_entry_and_counts(tmp_path, outbox):
    c = plan_case(51)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the archive folder should be")
    outbox.put("folder://" + str(blocked), [c.sr], "first failure")
    report = flush(outbox)
    assert len(report.failed) == 1 and len(outbox) == 1
    [e] = outbox.entries()
    assert e.attempts == 2 and "cannot create the folder" in e.last_error
    assert json.loads((e.path / "entry.json").read_text())["attempts"] == 2


def test_store_or_queue_stores_when_it_can_and_refuses_invalid_objects(tmp_path, outbox):
    c = plan_case(52)
    archive = open_archive("folder://" + str(tmp_path / "archive"))
    result = store_or_queue(archive, [c.sr], outbox)
    assert not result.queued and result.stored == (str(c.sr.SOPInstanceUID),) and len(outbox) == 0
    bad = copy.deepcopy(c.gsps)
    del bad.SOPInstanceUID
    with pytest.raises(ArchiveError, match="SOP Instance UID"):
        store_or_queue(archive, [bad], outbox)
    assert len(outbox) == 0
    assert Outbox(tmp_path / "nowhere").entries() == []
