"""The embedded archive: DICOM files in a folder, with a rebuildable SQLite index.

Layout::

    ROOT/
      <StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm   DICOM Part 10 files
      index.sqlite                                                  search index (derived)
      .lock                                                         writers take it (flock)

The files are the truth; ``index.sqlite`` is derived from them and rebuilt by
:meth:`FolderArchive.rebuild_index` (automatically when it is missing or unreadable).

A :meth:`~FolderArchive.store` call is all or nothing: every object is first written to
a temporary file beside its target and flushed to disk (``fsync``), then renamed into
place (``os.replace``) and the index updated in one transaction; if any step fails, the
files this call placed are removed again and the index is rolled back. Storing an
object that is already there unchanged is a no-op; storing a *different* object under an
existing SOP Instance UID is refused.

Examples
--------
>>> archive = FolderArchive("/tmp/orthoplan-doc-folder")               # doctest: +SKIP
>>> archive.store([image, sr]).stored                                   # doctest: +SKIP
('1.2.…', '1.2.…')
>>> [r["SOPInstanceUID"] for r in archive.search(Modality="SR")]       # doctest: +SKIP
['1.2.…']
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom

from ..errors import ArchiveError
from .base import (
    StoreResult,
    check_uid,
    fsync_dir,
    matches,
    normalise_query,
    object_uids,
    part10_bytes,
    result_row,
    same_object,
    sort_rows,
)

log = logging.getLogger(__name__)

INDEX_NAME = "index.sqlite"
_INDEX_VERSION = 2
_COLUMNS = (
    "SOPInstanceUID",
    "SOPClassUID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "PatientID",
    "StudyDate",
    "Modality",
    "SeriesNumber",
    "InstanceNumber",
    "BodyPartExamined",
    "path",
)

_CREATE_TABLE = (
    "CREATE TABLE instances (SOPInstanceUID TEXT PRIMARY KEY, "
    + ", ".join(f"{c} {'INTEGER' if c.endswith('Number') else 'TEXT'}" for c in _COLUMNS[1:])
    + ")"
)


@dataclass(frozen=True)
class _Pending:
    """One object of a store call: where it goes and its encoding."""

    sop_uid: str
    target: Path
    data: bytes
    row: tuple[Any, ...]


def _index_row(ds: pydicom.Dataset, rel_path: str) -> tuple[Any, ...]:
    def text(keyword: str) -> str | None:
        value = ds.get(keyword)
        return None if value in (None, "") else str(value)

    def number(keyword: str) -> int | None:
        try:
            value = ds.get(keyword)
            return None if value in (None, "") else int(value)
        except (TypeError, ValueError):
            return None

    return (
        str(ds.SOPInstanceUID),
        str(ds.SOPClassUID),
        str(ds.StudyInstanceUID),
        str(ds.SeriesInstanceUID),
        text("PatientID"),
        text("StudyDate"),
        text("Modality"),
        number("SeriesNumber"),
        number("InstanceNumber"),
        text("BodyPartExamined"),
        rel_path,
    )


class FolderArchive:
    """An archive in a local (or mounted) folder. See the module documentation.

    Parameters
    ----------
    root
        The folder; created by the first store.

    Examples
    --------
    >>> FolderArchive("/tmp/orthoplan-doc-folder").name
    'folder:///tmp/orthoplan-doc-folder'
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().absolute()
        self._name = "folder://" + str(self.root)
        if self.root.exists() and not self.root.is_dir():
            raise ArchiveError(f"archive {self._name}: cannot create the folder (a file is in the way)")

    @property
    def name(self) -> str:
        """``folder://`` and the absolute path."""
        return self._name

    def __repr__(self) -> str:
        return f"FolderArchive({str(self.root)!r})"

    # ------------------------------------------------------------------ store

    def store(self, datasets: Sequence[pydicom.Dataset]) -> StoreResult:
        """Store every dataset, or none (see the module documentation).

        Raises
        ------
        ArchiveError
            An object without valid UIDs, another object already stored under one of the
            SOP Instance UIDs, or a file-system error; nothing of this call remains then.

        Examples
        --------
        >>> result = FolderArchive("/tmp/a").store([sr, gsps])        # doctest: +SKIP
        >>> result.stored + result.already_present == (sr.SOPInstanceUID, gsps.SOPInstanceUID)  # doctest: +SKIP
        True
        """
        pending = self._prepare(datasets)
        with self._locked():
            new, present = self._split_existing(pending)
            self._write_all(new)
        log.info("%s: stored %d object(s), %d already present", self.name, len(new), len(present))
        return StoreResult(self.name, tuple(p.sop_uid for p in new), tuple(p.sop_uid for p in present))

    def _prepare(self, datasets: Sequence[pydicom.Dataset]) -> list[_Pending]:
        out: dict[str, _Pending] = {}
        for ds in datasets:
            study, series, sop, _cls = object_uids(ds)
            rel = f"{study}/{series}/{sop}.dcm"
            item = _Pending(sop, self.root / rel, part10_bytes(ds), _index_row(ds, rel))
            if sop in out:
                if not same_object(out[sop].data, item.data):
                    raise ArchiveError(
                        f"archive {self.name}: two different objects with the same SOP Instance UID "
                        "in one store call; nothing was stored"
                    )
                continue
            out[sop] = item
        return list(out.values())

    def _split_existing(self, pending: list[_Pending]) -> tuple[list[_Pending], list[_Pending]]:
        new, present = [], []
        for p in pending:
            if not p.target.is_file():
                new.append(p)
                continue
            try:
                existing = p.target.read_bytes()
            except OSError as exc:
                raise ArchiveError(f"archive {self.name}: cannot read a stored object ({exc.strerror})") from None
            if not same_object(existing, p.data):
                raise ArchiveError(
                    f"archive {self.name}: refused to overwrite a stored object with a different one "
                    f"under the same SOP Instance UID {p.sop_uid} (a new revision needs new UIDs); "
                    "nothing was stored"
                )
            present.append(p)
        if present:
            self._index_insert([p.row for p in present])  # heal an index that missed them
        return new, present

    def _write_all(self, new: list[_Pending]) -> None:
        """Temp files + fsync, then rename into place, then the index; undo on any failure."""
        temps: list[tuple[Path, _Pending]] = []
        placed: list[Path] = []
        made_dirs: list[Path] = []
        try:
            for p in new:
                made_dirs += _make_dirs(p.target.parent, self.root)
                temps.append((_write_temp(p.target, p.data), p))
            for tmp, p in temps:
                os.replace(tmp, p.target)
                placed.append(p.target)
            for parent in {p.target.parent for p in new}:
                fsync_dir(parent)
            self._index_insert([p.row for p in new])
        except (OSError, sqlite3.Error, ArchiveError) as exc:
            for tmp, _p in temps:
                with contextlib.suppress(OSError):
                    tmp.unlink()
            for path in placed:
                with contextlib.suppress(OSError):
                    path.unlink()
            for d in reversed(made_dirs):
                with contextlib.suppress(OSError):
                    d.rmdir()
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise ArchiveError(
                f"archive {self.name}: storing {len(new)} object(s) failed ({reason}); "
                "nothing of this call was kept"
            ) from None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.root.mkdir(parents=True, exist_ok=True)  # created by the first store
        except OSError as exc:
            raise ArchiveError(f"archive {self._name}: cannot create the folder ({exc.strerror})") from None
        try:
            fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ArchiveError(f"archive {self.name}: cannot lock the folder ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # ------------------------------------------------------------------ index

    @property
    def index_path(self) -> Path:
        return self.root / INDEX_NAME

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.index_path, timeout=30)
        return con

    def _index_ok(self) -> bool:
        if not self.index_path.is_file():
            return False
        try:
            with contextlib.closing(sqlite3.connect(self.index_path, timeout=30)) as con:
                row = con.execute("SELECT value FROM meta WHERE key='version'").fetchone()
            return row is not None and int(row[0]) == _INDEX_VERSION
        except (sqlite3.Error, ValueError):
            return False

    def _index_insert(self, rows: list[tuple[Any, ...]]) -> None:
        if not self._index_ok():
            self.rebuild_index()
        with contextlib.closing(self._connect()) as con, con:
            con.executemany(
                f"INSERT OR REPLACE INTO instances ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                rows,
            )

    def rebuild_index(self) -> int:
        """Rebuild ``index.sqlite`` from the files; returns the number of objects indexed.

        Files that are not readable DICOM, or not at the path their UIDs give, are
        skipped with a warning (without patient data).

        Examples
        --------
        >>> FolderArchive("/tmp/orthoplan-doc-folder").rebuild_index()   # doctest: +SKIP
        3
        """
        if not self.root.is_dir():
            return 0
        rows = []
        for path in sorted(self.root.glob("*/*/*.dcm")):
            if path.name.startswith("."):
                continue
            rel = path.relative_to(self.root).as_posix()
            try:
                ds = pydicom.dcmread(path, stop_before_pixels=True)
                study, series, sop, _ = object_uids(ds)
            except Exception:  # noqa: BLE001 - any unreadable file is skipped
                log.warning("%s: skipping unreadable file %s", self.name, rel)
                continue
            if rel != f"{study}/{series}/{sop}.dcm":
                log.warning("%s: skipping %s: its UIDs do not match its place", self.name, rel)
                continue
            rows.append(_index_row(ds, rel))
        fd, tmp_name = tempfile.mkstemp(prefix=".index-", suffix=".tmp", dir=self.root)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            tmp.unlink()
            with contextlib.closing(sqlite3.connect(tmp)) as con, con:
                con.execute(_CREATE_TABLE)
                con.execute("CREATE INDEX by_study ON instances (StudyInstanceUID)")
                con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
                con.execute("INSERT INTO meta VALUES ('version', ?)", (str(_INDEX_VERSION),))
                con.executemany(
                    f"INSERT OR REPLACE INTO instances ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                    rows,
                )
            os.replace(tmp, self.index_path)
        except (OSError, sqlite3.Error) as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise ArchiveError(f"archive {self.name}: cannot rebuild the index ({type(exc).__name__})") from None
        log.info("%s: index rebuilt with %d object(s)", self.name, len(rows))
        return len(rows)

    # ------------------------------------------------------------------ search / retrieve

    def search(self, level: str = "instance", **query: Any) -> list[dict[str, Any]]:
        """Studies, series or instances matching ``query`` (keys: :data:`~orthoplan.archive.base.QUERY_KEYS`).

        Values match exactly; ``*``/``?`` wildcards and ``StudyDate`` ranges
        (``"20260101-20260131"``, either side open, or a ``(start, end)`` pair) are allowed.

        Examples
        --------
        >>> archive.search("study", PatientID="SYN000001")                      # doctest: +SKIP
        [{'StudyInstanceUID': '1.2.…', 'PatientID': 'SYN000001', 'StudyDate': '20260101', 'ModalitiesInStudy': ['DX', 'PR', 'SR']}]
        """
        lvl, q = normalise_query(level, query)
        everything = self._rows()
        rows = [r for r in everything if matches(r, q)]
        if lvl == "instance":
            return sort_rows(result_row(lvl, r) for r in rows)
        modalities: dict[str, set[str]] = {}
        for r in everything:
            modalities.setdefault(r["StudyInstanceUID"], set()).add(r.get("Modality") or "")
        key = "StudyInstanceUID" if lvl == "study" else "SeriesInstanceUID"
        grouped: dict[str, dict[str, Any]] = {}
        for r in rows:
            grouped.setdefault(r[key], {**r, "ModalitiesInStudy": modalities[r["StudyInstanceUID"]]})
        return sort_rows(result_row(lvl, g) for g in grouped.values())

    def _rows(self) -> list[dict[str, Any]]:
        if not self.root.is_dir():
            return []
        if not self._index_ok():
            with self._locked():
                if not self._index_ok():
                    self.rebuild_index()
        try:
            with contextlib.closing(sqlite3.connect(self.index_path, timeout=30)) as con:
                cur = con.execute(f"SELECT {', '.join(_COLUMNS)} FROM instances")
                return [dict(zip(_COLUMNS, row)) for row in cur]
        except sqlite3.Error as exc:
            raise ArchiveError(f"archive {self.name}: the index cannot be read ({type(exc).__name__})") from None

    def retrieve(self, sop_instance_uid: str) -> pydicom.Dataset:
        """The object stored under ``sop_instance_uid`` (read from its file).

        Raises
        ------
        ArchiveError
            Not a valid UID, or no such object in the archive.

        Examples
        --------
        >>> archive.retrieve(sr.SOPInstanceUID) == sr                  # doctest: +SKIP
        True
        """
        uid = check_uid(sop_instance_uid, "SOP Instance UID asked for")
        path = self._path_of(uid)
        if path is None:
            raise ArchiveError(f"archive {self.name}: no object with SOP Instance UID {uid}")
        try:
            return pydicom.dcmread(path)
        except Exception as exc:  # noqa: BLE001
            raise ArchiveError(
                f"archive {self.name}: the stored object {uid} cannot be read ({type(exc).__name__})"
            ) from None

    def _path_of(self, uid: str) -> Path | None:
        if not self.root.is_dir():
            return None
        if self._index_ok():
            try:
                with contextlib.closing(sqlite3.connect(self.index_path, timeout=30)) as con:
                    row = con.execute("SELECT path FROM instances WHERE SOPInstanceUID=?", (uid,)).fetchone()
                if row and (self.root / row[0]).is_file():
                    return self.root / row[0]
            except sqlite3.Error:
                pass
        found = [p for p in self.root.glob(f"*/*/{uid}.dcm") if p.is_file()]
        return found[0] if found else None


def _make_dirs(path: Path, root: Path) -> list[Path]:
    """Create ``path`` (below ``root``); the directories created, outermost first."""
    missing = []
    p = path
    while p != root and not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir()
    return list(reversed(missing))


def _write_temp(target: Path, data: bytes) -> Path:
    """Write ``data`` to a hidden temporary file beside ``target``, flushed to disk."""
    fd, name = tempfile.mkstemp(prefix="." + target.name + ".", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    return Path(name)


__all__ = ["FolderArchive", "INDEX_NAME"]
