"""The outbox: objects an archive could not take wait here until :func:`flush` stores them.

An outbox is a folder (default ``$ORTHOPLAN_OUTBOX`` or ``~/.local/share/orthoplan/outbox``)
with one sub-folder per failed store call::

    OUTBOX/20260131T140500.123456Z-<random>/
        entry.json      target archive URL (never a password), UIDs, attempts, last error
        0000.dcm ...    the DICOM objects of the call, in order

An entry is written into a hidden temporary folder and renamed into place when complete
(atomic), so a flush never sees half an entry. Credentials are not stored: at flush time
they come from the options given to :func:`flush` or from the environment (see
:mod:`orthoplan.archive.dicomweb`). A flushed entry is removed only after the archive
accepted every object of it; storing the same objects again is idempotent, so a flush
interrupted half-way stores each object exactly once in the end.

Examples
--------
>>> outbox = Outbox("/tmp/orthoplan-doc-outbox")
>>> len(outbox)
0
>>> result = store_or_queue(archive, [sr, gsps], outbox)        # doctest: +SKIP
>>> result.queued, str(result)                                   # doctest: +SKIP
(True, 'outbox /tmp/orthoplan-doc-outbox/2026…')
>>> print(flush(outbox))                                          # doctest: +SKIP
outbox /tmp/orthoplan-doc-outbox: 1 entry stored, 0 still failing
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom

from ..errors import ArchiveError
from .base import OPTIONS, Archive, StoreResult, archive_kind, fsync_dir, object_uids, part10_bytes, redact_url

log = logging.getLogger(__name__)

ENTRY_FILE = "entry.json"


def default_outbox_path() -> Path:
    """``$ORTHOPLAN_OUTBOX`` or ``~/.local/share/orthoplan/outbox``."""
    env = os.environ.get("ORTHOPLAN_OUTBOX")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".local" / "share" / "orthoplan" / "outbox"


@dataclass(frozen=True)
class OutboxEntry:
    """One queued store call."""

    path: Path
    url: str
    sop_instance_uids: tuple[str, ...]
    created: str
    attempts: int
    last_error: str

    def datasets(self) -> list[pydicom.Dataset]:
        """The queued objects, in the order they were given."""
        return [pydicom.dcmread(p) for p in sorted(self.path.glob("*.dcm"))]


@dataclass(frozen=True)
class FlushItem:
    """The outcome of one entry in a :func:`flush`."""

    entry: str
    archive: str
    objects: int
    error: str | None = None


@dataclass(frozen=True)
class FlushReport:
    """What :func:`flush` did: entries ``stored`` (and removed) and ``failed`` (kept)."""

    outbox: str
    stored: tuple[FlushItem, ...] = ()
    failed: tuple[FlushItem, ...] = ()

    def __str__(self) -> str:
        lines = [f"outbox {self.outbox}: {len(self.stored)} entr{'y' if len(self.stored) == 1 else 'ies'} stored, "
                 f"{len(self.failed)} still failing"]
        lines += [f"  stored  {i.objects} object(s) in {i.archive}" for i in self.stored]
        lines += [f"  failed  {i.objects} object(s) for {i.archive}: {i.error}" for i in self.failed]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        item = lambda i: {"entry": i.entry, "archive": i.archive, "objects": i.objects, "error": i.error}  # noqa: E731
        return {"outbox": self.outbox, "stored": [item(i) for i in self.stored], "failed": [item(i) for i in self.failed]}


class Outbox:
    """A folder of store calls waiting for their archive. See the module documentation.

    Examples
    --------
    >>> Outbox("/tmp/orthoplan-doc-outbox").entries()
    []
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().absolute()

    @classmethod
    def default(cls) -> Outbox:
        """The outbox at :func:`default_outbox_path`."""
        return cls(default_outbox_path())

    def __repr__(self) -> str:
        return f"Outbox({str(self.path)!r})"

    def __len__(self) -> int:
        return len(self.entries())

    def put(self, url: str, datasets: Sequence[pydicom.Dataset], error: str = "") -> Path:
        """Queue ``datasets`` for the archive at ``url`` (stored without password); the entry folder.

        Raises
        ------
        ArchiveError
            The outbox cannot be written (nothing is left half-written).
        """
        encoded = []
        uids = []
        for ds in datasets:
            uids.append(object_uids(ds)[2])
            encoded.append(part10_bytes(ds))
        now = _dt.datetime.now(_dt.timezone.utc)
        name = now.strftime("%Y%m%dT%H%M%S.%fZ") + "-" + uuid.uuid4().hex[:8]
        meta = {
            "url": redact_url(url),
            "sop_instance_uids": uids,
            "created": now.isoformat(),
            "attempts": 1,
            "last_error": error,
        }
        tmp: Path | None = None
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.path))
            for i, data in enumerate(encoded):
                _write_synced(tmp / f"{i:04d}.dcm", data)
            _write_synced(tmp / ENTRY_FILE, json.dumps(meta, indent=2).encode())
            final = self.path / name
            os.rename(tmp, final)
            fsync_dir(self.path)
        except OSError as exc:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
            raise ArchiveError(f"the outbox {self.path} cannot be written ({exc.strerror})") from None
        log.info("queued %d object(s) for %s in the outbox %s", len(encoded), meta["url"], final)
        return final

    def entries(self) -> list[OutboxEntry]:
        """The complete entries, oldest first (half-written temporary folders are ignored)."""
        if not self.path.is_dir():
            return []
        out = []
        for d in sorted(self.path.iterdir()):
            if d.name.startswith(".") or not (d / ENTRY_FILE).is_file():
                continue
            try:
                meta = json.loads((d / ENTRY_FILE).read_text())
            except (OSError, ValueError):
                log.warning("outbox entry %s is unreadable; left in place", d.name)
                continue
            out.append(OutboxEntry(d, meta["url"], tuple(meta.get("sop_instance_uids", ())), meta.get("created", ""),
                                   int(meta.get("attempts", 0)), meta.get("last_error", "")))
        return out

    def remove(self, entry: OutboxEntry) -> None:
        """Remove an entry (renamed away first, so it disappears at once)."""
        trash = entry.path.with_name(".done-" + entry.path.name)
        os.rename(entry.path, trash)
        shutil.rmtree(trash, ignore_errors=True)

    def _record_failure(self, entry: OutboxEntry, error: str) -> None:
        meta = json.loads((entry.path / ENTRY_FILE).read_text())
        meta["attempts"] = int(meta.get("attempts", 0)) + 1
        meta["last_error"] = error
        tmp = entry.path / (".tmp-" + ENTRY_FILE)
        _write_synced(tmp, json.dumps(meta, indent=2).encode())
        os.replace(tmp, entry.path / ENTRY_FILE)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def queued_message(result: StoreResult) -> str:
    """The one sentence that says a store went to the outbox: the archive's error, then what to do.

    Examples
    --------
    >>> r = StoreResult("dicom://PACS@h:104", queued=True, outbox_entry="/o/e1",
    ...                 error="archive dicom://PACS@h:104: storing 2 object(s) failed: cannot connect")
    >>> queued_message(r)
    'archive dicom://PACS@h:104: storing 2 object(s) failed: cannot connect; stored in the outbox (/o/e1); run `orthoplan archive flush`'
    """
    reason = (result.error or f"archive {result.archive}: store failed").rstrip(". ")
    return f"{reason}; stored in the outbox ({result.outbox_entry}); run `orthoplan archive flush`"


def store_or_queue(archive: Archive, datasets: Sequence[pydicom.Dataset], outbox: Outbox, *,
                   warn: bool = True) -> StoreResult:
    """Store ``datasets`` in ``archive``; if it fails, queue them in ``outbox`` instead.

    Parameters
    ----------
    warn
        Log the :func:`queued_message` as a warning when the objects are queued (the
        command line says it itself, once, and passes ``False``).

    Returns
    -------
    StoreResult
        The archive's result, or one with ``queued=True``, the outbox entry and the error.
        Invalid datasets (no UIDs) are not queued: that error is raised.

    Raises
    ------
    ArchiveError
        The datasets are invalid, or the archive failed *and* the outbox cannot be written.

    Examples
    --------
    >>> result = store_or_queue(open_archive(url), [sr, gsps], Outbox.default())   # doctest: +SKIP
    >>> result.queued                                                               # doctest: +SKIP
    False
    """
    for ds in datasets:
        object_uids(ds)  # an invalid object would fail again at every flush
    try:
        return archive.store(datasets)
    except ArchiveError as exc:
        entry = outbox.put(archive.name, datasets, str(exc))
        result = StoreResult(archive.name, queued=True, outbox_entry=str(entry), error=str(exc))
        if warn:
            log.warning("%s", queued_message(result))
        return result


def flush(
    outbox: Outbox,
    open_archive: Callable[..., Archive] | None = None,
    **options: Any,
) -> FlushReport:
    """Retry every entry of ``outbox``; stored entries are removed, failed ones kept.

    Parameters
    ----------
    outbox
        The outbox.
    open_archive
        ``open_archive(url, **options)`` giving the archive of an entry (default
        :func:`orthoplan.archive.open_archive`).
    **options
        Passed to ``open_archive`` where the entry's kind of archive takes them (e.g.
        ``password=``, ``token=`` for DICOMweb, ``ae_title=`` for DIMSE, ``timeout=``);
        otherwise credentials come from the environment.

    Examples
    --------
    >>> report = flush(Outbox.default())                  # doctest: +SKIP
    >>> report.failed
    ()
    """
    if open_archive is None:
        from .base import open_archive as _open

        open_archive = _open
    stored: list[FlushItem] = []
    failed: list[FlushItem] = []
    with outbox._locked():
        for entry in outbox.entries():
            n = len(entry.sop_instance_uids)
            usable = {k: v for k, v in options.items() if k in OPTIONS.get(archive_kind(entry.url), ())}
            try:
                archive = open_archive(entry.url, **usable)
                result = archive.store(entry.datasets())
            except ArchiveError as exc:
                outbox._record_failure(entry, str(exc))
                failed.append(FlushItem(entry.path.name, entry.url, n, str(exc)))
                continue
            except Exception as exc:  # noqa: BLE001 - unreadable entry: keep it, report it
                error = f"the entry cannot be read or sent ({type(exc).__name__})"
                failed.append(FlushItem(entry.path.name, entry.url, n, error))
                continue
            outbox.remove(entry)
            log.info("flushed %d object(s) to %s", len(result.sop_instance_uids), result.archive)
            stored.append(FlushItem(entry.path.name, result.archive, n))
    return FlushReport(str(outbox.path), tuple(stored), tuple(failed))


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


__all__ = ["Outbox", "OutboxEntry", "FlushItem", "FlushReport", "store_or_queue", "queued_message", "flush",
           "default_outbox_path"]
