"""The plans of a study in an archive: list them, open the latest revision.

A plan is an orthoplan TID 1500 Comprehensive SR (:func:`orthoplan.dicom.build_sr`): its
plan identifier and revision are in the report's content, and a revision references the
SR it replaces in the Predecessor Documents Sequence. This module finds the SRs of a study
by search, reads each back with :func:`orthoplan.dicom.sr.plan_from_sr` and leaves out
SRs of other applications.

Examples
--------
>>> rows = list_plans(archive, study_uid)                        # doctest: +SKIP
>>> [(r["revision"], r["latest"]) for r in rows]                 # doctest: +SKIP
[(1, False), (2, True)]
>>> latest_plan(archive, study_uid).revision                      # doctest: +SKIP
2
"""

from __future__ import annotations

import logging
from typing import Any

import pydicom

from ..dicom.sr import COMPREHENSIVE_SR, plan_from_sr
from ..errors import ArchiveError, DicomOutputError
from ..model import Plan
from .base import Archive, check_uid

log = logging.getLogger(__name__)


def _plan_srs(archive: Archive, study_uid: str) -> list[tuple[pydicom.Dataset, Plan]]:
    uid = check_uid(study_uid, "Study Instance UID")
    hits = archive.search("instance", StudyInstanceUID=uid, Modality="SR")
    out = []
    for hit in hits:
        if hit.get("SOPClassUID") not in (None, COMPREHENSIVE_SR):
            continue
        ds = archive.retrieve(hit["SOPInstanceUID"])
        try:
            out.append((ds, plan_from_sr(ds)))
        except DicomOutputError:
            log.debug("%s: an SR of the study is not an orthoplan plan; skipped", archive.name)
    return out


def _supersedes(ds: pydicom.Dataset) -> list[str]:
    uids = []
    for study in ds.get("PredecessorDocumentsSequence", None) or []:
        for series in study.get("ReferencedSeriesSequence", None) or []:
            for inst in series.get("ReferencedSOPSequence", None) or []:
                uids.append(str(inst.ReferencedSOPInstanceUID))
    return uids


def _rows(found: list[tuple[pydicom.Dataset, Plan]]) -> list[dict[str, Any]]:
    newest: dict[str, int] = {}
    for _ds, plan in found:
        newest[plan.plan_uid] = max(newest.get(plan.plan_uid, 0), int(plan.revision))
    superseded = {u for ds, _p in found for u in _supersedes(ds)}
    rows = []
    for ds, plan in found:
        sop = str(ds.SOPInstanceUID)
        rows.append({
            "sop_instance_uid": sop,
            "series_instance_uid": str(ds.SeriesInstanceUID),
            "plan_uid": plan.plan_uid,
            "revision": int(plan.revision),
            "status": plan.status,
            "author": plan.author,
            "created": plan.created,
            "supersedes": _supersedes(ds),
            "latest": int(plan.revision) == newest[plan.plan_uid] and sop not in superseded,
        })
    rows.sort(key=lambda r: (r["created"], r["plan_uid"], r["revision"]))
    return rows


def list_plans(archive: Archive, study_uid: str) -> list[dict[str, Any]]:
    """Every orthoplan plan SR in the study, oldest first.

    Returns
    -------
    list of dict
        ``sop_instance_uid``, ``series_instance_uid``, ``plan_uid``, ``revision``, ``status``
        (``draft``/``final``), ``author``, ``created`` (ISO 8601), ``supersedes`` (SOP
        Instance UIDs of the SRs it replaces) and ``latest`` (the newest revision of its plan).

    Raises
    ------
    ArchiveError
        The archive fails, or ``study_uid`` is not a UID.

    Examples
    --------
    >>> list_plans(open_archive("folder:///data/archive"), "1.2.3")[0]["status"]   # doctest: +SKIP
    'draft'
    """
    return _rows(_plan_srs(archive, study_uid))


def latest_plan(archive: Archive, study_uid: str, plan_uid: str | None = None) -> Plan:
    """The newest revision of the study's plan (of ``plan_uid`` when the study has several).

    With several plans and no ``plan_uid``, the most recently created latest revision wins.

    Raises
    ------
    ArchiveError
        No orthoplan plan in the study (or none with ``plan_uid``), or the archive fails.

    Examples
    --------
    >>> plan = latest_plan(archive, study_uid)                        # doctest: +SKIP
    >>> plan.revision, plan.status                                    # doctest: +SKIP
    (2, 'final')
    """
    found = _plan_srs(archive, study_uid)
    if plan_uid is not None:
        found = [(ds, p) for ds, p in found if p.plan_uid == plan_uid]
    if not found:
        which = "with this plan identifier " if plan_uid else ""
        raise ArchiveError(f"archive {archive.name}: no orthoplan plan {which}in the study given")
    rows = {r["sop_instance_uid"]: r for r in _rows(found)}
    candidates = [(ds, p) for ds, p in found if rows[str(ds.SOPInstanceUID)]["latest"]] or found
    _ds, plan = max(candidates, key=lambda item: (item[1].created, int(item[1].revision)))
    return plan


__all__ = ["list_plans", "latest_plan"]
