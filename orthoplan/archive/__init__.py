"""Where plans live: one small :class:`Archive` protocol, three implementations by URL.

* ``folder://PATH`` — :class:`~orthoplan.archive.folder.FolderArchive` (embedded default);
* ``http(s)://HOST/…/dicom-web`` — :class:`~orthoplan.archive.dicomweb.DICOMwebArchive`
  (STOW-RS, QIDO-RS, WADO-RS; dicomweb-client is a base dependency);
* ``dicom://AET@HOST:PORT`` — :class:`~orthoplan.archive.dimse.DimseArchive`
  (C-STORE, C-FIND, C-GET, C-MOVE).

An archive that fails raises :class:`~orthoplan.errors.ArchiveError` (named by URL, never
with its password); :func:`~orthoplan.archive.outbox.store_or_queue` then keeps the objects
in an outbox that :func:`~orthoplan.archive.outbox.flush` retries. The plans of a study are
listed by :func:`~orthoplan.archive.plans.list_plans`. See ``docs/archive.md``.

Examples
--------
>>> from orthoplan.archive import open_archive
>>> archive = open_archive("folder:///tmp/orthoplan-doc-archive")
>>> archive.search(StudyInstanceUID="1.2.3")
[]
"""

from __future__ import annotations

from typing import Any

from .base import Archive, StoreResult, default_archive_url, open_archive, redact_url

__all__ = [
    "Archive",
    "StoreResult",
    "open_archive",
    "redact_url",
    "default_archive_url",
    "list_plans",
    "latest_plan",
    "latest_revision",
    "Outbox",
    "store_or_queue",
    "flush",
]


def __getattr__(name: str) -> Any:  # lazy: plans needs the SR reader, outbox is rarely used
    if name in ("list_plans", "latest_plan", "latest_revision"):
        from . import plans

        return getattr(plans, name)
    if name in ("Outbox", "store_or_queue", "flush"):
        from . import outbox

        return getattr(outbox, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
