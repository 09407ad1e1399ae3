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
>>> sr, plan = latest_revision(archive, study_uid)                # doctest: +SKIP
"""

from __future__ import annotations

import logging
from typing import Any

import pydicom

from ..dicom.sr import COMPREHENSIVE_SR, plan_from_sr
from ..errors import ArchiveError, DicomOutputError
from ..model import Plan, plan_time
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


def _time_key(plan: Plan) -> float:
    """Seconds since the epoch of the revision's time (``-inf`` when it has none): a tie-breaker."""
    when = plan_time(plan.created)
    return when.timestamp() if when is not None else float("-inf")


def _rows(found: list[tuple[pydicom.Dataset, Plan]]) -> list[dict[str, Any]]:
    newest: dict[str, int] = {}
    first: dict[str, float] = {}
    for _ds, plan in found:
        newest[plan.plan_uid] = max(newest.get(plan.plan_uid, 0), int(plan.revision))
        first[plan.plan_uid] = min(first.get(plan.plan_uid, float("inf")), _time_key(plan))
    superseded = {u for ds, _p in found for u in _supersedes(ds)}
    keyed = []
    for ds, plan in found:
        sop = str(ds.SOPInstanceUID)
        # plans in the order they were begun; a plan's revisions in revision order (not by time)
        key = (first[plan.plan_uid], plan.plan_uid, int(plan.revision))
        keyed.append((key, {
            "sop_instance_uid": sop,
            "series_instance_uid": str(ds.SeriesInstanceUID),
            "series_number": int(ds.SeriesNumber) if ds.get("SeriesNumber") not in (None, "") else None,
            "image_sop_instance_uid": plan.image.sop_instance_uid,
            "plan_uid": plan.plan_uid,
            "revision": int(plan.revision),
            "status": plan.status,
            "author": plan.author,
            "created": plan.created,
            "supersedes": _supersedes(ds),
            "latest": int(plan.revision) == newest[plan.plan_uid] and sop not in superseded,
        }))
    keyed.sort(key=lambda item: item[0])
    return [row for _key, row in keyed]


def list_plans(archive: Archive, study_uid: str) -> list[dict[str, Any]]:
    """Every orthoplan plan SR in the study, oldest plan first, each plan's revisions in order.

    Returns
    -------
    list of dict
        ``sop_instance_uid``, ``series_instance_uid``, ``series_number``,
        ``image_sop_instance_uid`` (the image planned on), ``plan_uid``, ``revision``,
        ``status`` (``draft``/``final``), ``author``, ``created`` (ISO 8601, the revision's
        own time), ``supersedes`` (SOP Instance UIDs of the SRs it replaces) and ``latest``
        (the highest revision of its plan, not superseded).

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


def latest_revision(archive: Archive, study_uid: str, plan_uid: str | None = None, *,
                    image_uid: str | None = None) -> tuple[pydicom.Dataset, Plan] | None:
    """``(sr, plan)`` of the latest revision in the study, or ``None`` when there is none.

    The latest revision of a plan is its highest revision (not superseded); with several
    plans (and no ``plan_uid``) the one whose latest revision is highest wins, the most
    recent revision time breaking a tie. ``image_uid`` keeps only plans on that image
    (SOP Instance UID). The SR is what a new revision references as its predecessor
    (:func:`orthoplan.pipeline.revise_plan`, ``store_plan(..., previous=sr)``).

    Raises
    ------
    ArchiveError
        The archive fails, or ``study_uid`` is not a UID.

    Examples
    --------
    >>> sr, plan = latest_revision(archive, study_uid)                 # doctest: +SKIP
    >>> plan.revision, str(sr.SeriesNumber)                           # doctest: +SKIP
    (2, '9003')
    """
    found = _plan_srs(archive, study_uid)
    if plan_uid is not None:
        found = [(ds, p) for ds, p in found if p.plan_uid == plan_uid]
    if image_uid is not None:
        found = [(ds, p) for ds, p in found if p.image.sop_instance_uid == image_uid]
    if not found:
        return None
    rows = {r["sop_instance_uid"]: r for r in _rows(found)}
    candidates = [(ds, p) for ds, p in found if rows[str(ds.SOPInstanceUID)]["latest"]] or found
    return max(candidates, key=lambda item: (int(item[1].revision), _time_key(item[1])))


def latest_plan(archive: Archive, study_uid: str, plan_uid: str | None = None) -> Plan:
    """The latest revision of the study's plan (of ``plan_uid`` when the study has several).

    The highest revision wins, time only breaks a tie (see :func:`latest_revision`).

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
    found = latest_revision(archive, study_uid, plan_uid)
    if found is None:
        which = "with this plan identifier " if plan_uid else ""
        raise ArchiveError(f"archive {archive.name}: no orthoplan plan {which}in the study given")
    return found[1]


__all__ = ["list_plans", "latest_plan", "latest_revision"]
