"""The archive protocol, results, URL handling and helpers shared by every archive.

An archive stores and returns DICOM datasets; it knows nothing of plans (that is
:mod:`orthoplan.archive.plans`). Three implementations are chosen by URL in
:func:`open_archive`:

* ``folder://PATH`` (or a bare path): :class:`~orthoplan.archive.folder.FolderArchive`;
* ``http(s)://HOST[:PORT]/…/dicom-web``: :class:`~orthoplan.archive.dicomweb.DICOMwebArchive`;
* ``dicom://AET@HOST:PORT``: :class:`~orthoplan.archive.dimse.DimseArchive`.

Examples
--------
>>> redact_url("https://alice:s3cret@pacs.example.org/dicom-web")
'https://alice@pacs.example.org/dicom-web'
>>> normalise_date_range(("20260101", "20260131"))
'20260101-20260131'
"""

from __future__ import annotations

import datetime as _dt
import io
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID

from ..errors import ArchiveError

__all__ = [
    "Archive",
    "StoreResult",
    "open_archive",
    "redact_url",
    "default_archive_url",
    "LEVELS",
    "QUERY_KEYS",
]

#: Query levels of :meth:`Archive.search`.
LEVELS = ("study", "series", "instance")

#: Search keys (DICOM keywords) every archive understands, with snake_case aliases.
QUERY_KEYS = (
    "PatientID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
    "SOPClassUID",
    "Modality",
    "StudyDate",
    "BodyPartExamined",
)
_ALIASES = {
    "patient_id": "PatientID",
    "study_uid": "StudyInstanceUID",
    "study_instance_uid": "StudyInstanceUID",
    "series_uid": "SeriesInstanceUID",
    "series_instance_uid": "SeriesInstanceUID",
    "sop_instance_uid": "SOPInstanceUID",
    "sop_uid": "SOPInstanceUID",
    "sop_class_uid": "SOPClassUID",
    "modality": "Modality",
    "study_date": "StudyDate",
    "body_part_examined": "BodyPartExamined",
}

#: Keys of a search result, per level (a value the archive does not return is ``None``).
RESULT_KEYS = {
    "study": ("StudyInstanceUID", "PatientID", "StudyDate", "ModalitiesInStudy"),
    "series": ("StudyInstanceUID", "SeriesInstanceUID", "PatientID", "StudyDate", "Modality", "SeriesNumber"),
    "instance": (
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "SOPInstanceUID",
        "SOPClassUID",
        "PatientID",
        "StudyDate",
        "Modality",
        "SeriesNumber",
        "InstanceNumber",
        "BodyPartExamined",
    ),
}

_UID_RE = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_SECRET_QUERY_KEYS = {"password", "pass", "pw", "token", "access_token", "secret", "key", "api_key"}


# --------------------------------------------------------------------------- protocol


@dataclass(frozen=True)
class StoreResult:
    """What one :meth:`Archive.store` call did.

    Attributes
    ----------
    archive
        The archive's URL without password.
    stored
        SOP Instance UIDs the archive did not have before this call.
    already_present
        SOP Instance UIDs it had already (an identical object: storing is idempotent).
        DIMSE archives cannot always tell; they then report everything as ``stored``.
    queued
        ``True`` when the archive failed and the datasets were put in the outbox
        (see :func:`orthoplan.archive.outbox.store_or_queue`); nothing was stored then.
    outbox_entry
        The outbox folder holding the queued datasets.
    error
        The archive's error message when queued.

    Examples
    --------
    >>> str(StoreResult("folder:///data/archive", stored=("1.2.3",)))
    'folder:///data/archive'
    """

    archive: str
    stored: tuple[str, ...] = ()
    already_present: tuple[str, ...] = ()
    queued: bool = False
    outbox_entry: str | None = None
    error: str | None = None

    @property
    def sop_instance_uids(self) -> tuple[str, ...]:
        """Every SOP Instance UID of the call (stored or already present)."""
        return self.stored + self.already_present

    def __str__(self) -> str:
        if self.queued:
            return f"outbox {self.outbox_entry} (archive {self.archive} failed; retry with 'orthoplan archive flush')"
        return self.archive


@runtime_checkable
class Archive(Protocol):
    """A place DICOM objects are stored in and retrieved from.

    Implementations: :class:`~orthoplan.archive.folder.FolderArchive`,
    :class:`~orthoplan.archive.dicomweb.DICOMwebArchive`,
    :class:`~orthoplan.archive.dimse.DimseArchive`. Every failure is an
    :class:`~orthoplan.errors.ArchiveError` whose message names the archive by
    :attr:`name` (never with a password) and holds no patient identifier.

    Examples
    --------
    >>> archive = open_archive("folder:///tmp/orthoplan-archive")     # doctest: +SKIP
    >>> archive.store([image, sr, gsps]).stored                        # doctest: +SKIP
    >>> archive.search(StudyInstanceUID=uid, Modality="SR")             # doctest: +SKIP
    >>> archive.retrieve(sop_uid).SOPInstanceUID == sop_uid             # doctest: +SKIP
    True
    """

    @property
    def name(self) -> str:
        """The archive's URL without password."""
        ...

    def store(self, datasets: Sequence[pydicom.Dataset]) -> StoreResult:
        """Store all ``datasets`` or none of them (as far as the archive allows)."""
        ...

    def search(self, level: str = "instance", **query: Any) -> list[dict[str, Any]]:
        """Matching studies, series or instances as dicts keyed by DICOM keyword."""
        ...

    def retrieve(self, sop_instance_uid: str) -> pydicom.Dataset:
        """The stored object with this SOP Instance UID."""
        ...


def locate_instance(archive: Archive, sop_instance_uid: Any) -> tuple[str, dict[str, Any]]:
    """``(uid, search row)`` of one stored instance, found by an instance-level search.

    Raises :class:`~orthoplan.errors.ArchiveError` for a malformed UID or when the archive
    has no such object.
    """
    uid = check_uid(sop_instance_uid, "SOP Instance UID asked for")
    hits = archive.search("instance", SOPInstanceUID=uid)
    if not hits:
        raise ArchiveError(f"archive {archive.name}: no object with SOP Instance UID {uid}")
    return uid, hits[0]


# --------------------------------------------------------------------------- files


def fsync_dir(path: str | os.PathLike) -> None:
    """Flush a folder's entries (new or renamed files) to disk; a no-op where the OS cannot."""
    import contextlib

    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --------------------------------------------------------------------------- URLs


def default_archive_url() -> str:
    """``$ORTHOPLAN_ARCHIVE`` or a folder archive under ``~/.local/share/orthoplan/archive``.

    Examples
    --------
    >>> default_archive_url().startswith(("folder://", "http", "dicom://")) or True
    True
    """
    return os.environ.get(
        "ORTHOPLAN_ARCHIVE",
        "folder://" + os.path.join(os.path.expanduser("~"), ".local", "share", "orthoplan", "archive"),
    )


def redact_url(url: str) -> str:
    """``url`` without password (user names stay) and without secret query parameters.

    Examples
    --------
    >>> redact_url("dicom://PACS@10.0.0.5:104")
    'dicom://PACS@10.0.0.5:104'
    >>> redact_url("http://u:p@h:8042/dicom-web?token=abc&timeout=5")
    'http://u@h:8042/dicom-web?timeout=5'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable archive URL>"
    netloc = parts.netloc
    secret_in_netloc = "@" in netloc and ":" in netloc.rpartition("@")[0]
    pairs = parse_qsl(parts.query, keep_blank_values=True) if parts.query else []
    secret_in_query = any(k.lower() in _SECRET_QUERY_KEYS for k, _v in pairs)
    if not (secret_in_netloc or secret_in_query):
        return url  # unchanged (urlunsplit would turn folder:///x into folder:/x)
    if secret_in_netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}@{hostport}" if user else hostport
    query = urlencode([(k, v) for k, v in pairs if k.lower() not in _SECRET_QUERY_KEYS])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def url_options(url: str) -> tuple[str, dict[str, str]]:
    """Split ``?key=value`` options off an archive URL: ``(url without query, options)``."""
    parts = urlsplit(url)
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", parts.fragment)), options


def url_credentials(url: str) -> tuple[str, str | None, str | None]:
    """``(url without user info, user, password)``; user and password are URL-decoded."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, sep, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))
    return clean, unquote(user) or None, unquote(password) if sep else None


def open_archive(url: str | None = None, **options: Any) -> Archive:
    """Open the archive named by ``url``.

    Parameters
    ----------
    url
        ``folder://PATH`` (or a plain path), ``http(s)://HOST/…/dicom-web`` or
        ``dicom://AET@HOST:PORT``. Default: :func:`default_archive_url`. Non-secret
        options may also be given as a query string (``?timeout=5&ae_title=ME``).
    **options
        Passed to the archive class: for DICOMweb ``username``, ``password``, ``token``,
        ``verify``, ``timeout``; for DIMSE ``ae_title``, ``timeout``, ``retrieve``,
        ``move_port``. See the classes and ``docs/archive.md``.

    Raises
    ------
    ArchiveError
        Unknown scheme or malformed URL (message without password).

    Examples
    --------
    >>> open_archive("folder:///tmp/orthoplan-doc-archive").name
    'folder:///tmp/orthoplan-doc-archive'
    """
    if url is None:
        url = default_archive_url()
    url = str(url)
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    if scheme in ("", "folder", "file"):
        from .folder import FolderArchive

        return FolderArchive(folder_path(url), **options)
    if scheme in ("http", "https"):
        from .dicomweb import DICOMwebArchive

        base, query = url_options(url)
        return DICOMwebArchive(base, **{**query, **options})
    if scheme == "dicom":
        from .dimse import DimseArchive

        base, query = url_options(url)
        return DimseArchive.from_url(base, **{**query, **options})
    raise ArchiveError(
        f"archive URL {redact_url(url)}: unknown scheme {scheme!r}; use folder://PATH, "
        "http(s)://HOST/dicom-web or dicom://AET@HOST:PORT"
    )


#: Options each kind of archive takes (see :func:`open_archive`).
OPTIONS = {
    "folder": frozenset(),
    "dicomweb": frozenset({"username", "password", "token", "verify", "timeout"}),
    "dimse": frozenset({"ae_title", "timeout", "retrieve", "move_port", "move_bind", "check_existing"}),
}


def archive_kind(url: str) -> str:
    """``"folder"``, ``"dicomweb"`` or ``"dimse"`` for an archive URL (``"unknown"`` otherwise).

    >>> archive_kind("dicom://PACS@h:104"), archive_kind("/data/archive")
    ('dimse', 'folder')
    """
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    return {"": "folder", "folder": "folder", "file": "folder", "http": "dicomweb", "https": "dicomweb",
            "dicom": "dimse"}.get(scheme, "unknown")


def folder_path(url: str) -> str:
    """The filesystem path of a ``folder://`` (or ``file://``, or bare) archive URL.

    >>> folder_path("folder:///data/archive"), folder_path("folder://rel/dir"), folder_path("x")
    ('/data/archive', 'rel/dir', 'x')
    """
    if "://" not in url:
        return url
    rest = url.split("://", 1)[1]
    return unquote(rest.split("?", 1)[0])


# --------------------------------------------------------------------------- datasets


def check_uid(value: Any, what: str) -> str:
    """``value`` as a UID string, refused (:class:`ArchiveError`) unless digits and dots."""
    text = str(value or "").strip().rstrip("\0")
    if not text or len(text) > 64 or not _UID_RE.match(text):
        raise ArchiveError(f"the {what} is missing or not a valid DICOM UID (digits and dots, at most 64)")
    return text


def object_uids(ds: pydicom.Dataset) -> tuple[str, str, str, str]:
    """``(study, series, SOP instance, SOP class)`` UIDs of ``ds``, each checked."""
    if not isinstance(ds, pydicom.Dataset):
        raise ArchiveError(f"only pydicom Datasets can be stored, got {type(ds).__name__}")
    return (
        check_uid(ds.get("StudyInstanceUID"), "Study Instance UID"),
        check_uid(ds.get("SeriesInstanceUID"), "Series Instance UID"),
        check_uid(ds.get("SOPInstanceUID"), "SOP Instance UID"),
        check_uid(ds.get("SOPClassUID"), "SOP Class UID"),
    )


def sop_class_name(uid: str) -> str:
    """A readable name of a SOP class (``"Comprehensive SR Storage"``), else the UID."""
    name = UID(uid).name
    return name if name and name != uid else uid


def as_file_dataset(ds: pydicom.Dataset) -> FileDataset:
    """``ds`` as a Part 10 ready :class:`FileDataset` (preamble, file meta), without copying elements.

    The caller's dataset is not modified. A dataset without file meta is encoded as
    Explicit VR Little Endian (or as it was read, when it was read from a file).
    """
    old_meta = getattr(ds, "file_meta", None)
    meta = FileMetaDataset()
    if old_meta is not None:
        for elem in old_meta:
            meta.add(elem)
    sop_class = str(ds.SOPClassUID)
    sop_uid = str(ds.SOPInstanceUID)
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    if "TransferSyntaxUID" not in meta:
        implicit = getattr(ds, "original_encoding", (None, None))[0]
        meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit is True else ExplicitVRLittleEndian
    if "ImplementationClassUID" not in meta:
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ts = UID(meta.TransferSyntaxUID)
    out = FileDataset(
        None,
        {},
        file_meta=meta,
        preamble=b"\0" * 128,
        is_implicit_VR=ts.is_implicit_VR if ts.is_transfer_syntax else False,
        is_little_endian=ts.is_little_endian if ts.is_transfer_syntax else True,
    )
    out._dict = ds._dict  # share the elements: no copy of (possibly large) pixel data
    # keep the encoding the dataset was read with: pydicom then writes its raw elements as
    # they are instead of decoding every sequence item (300x faster for a large SR)
    for attr in ("_read_charset", "_read_implicit", "_read_little"):
        if attr in ds.__dict__:
            out.__dict__[attr] = ds.__dict__[attr]
    return out


def part10_bytes(ds: pydicom.Dataset) -> bytes:
    """``ds`` encoded as a DICOM Part 10 file (128-byte preamble, ``DICM``, file meta)."""
    buf = io.BytesIO()
    try:
        pydicom.dcmwrite(buf, as_file_dataset(ds), enforce_file_format=True)
    except Exception as exc:  # pydicom raises many kinds for unencodable values
        raise ArchiveError(
            f"a {sop_class_name(str(ds.get('SOPClassUID', '')))} object cannot be encoded as DICOM "
            f"({type(exc).__name__})"
        ) from None
    return buf.getvalue()


def same_object(a: bytes, b: bytes) -> bool:
    """Whether two Part 10 encodings hold the same dataset (file meta ignored).

    Byte-identical files are the same; otherwise both are parsed and compared element by
    element, so an object re-encoded by another writer still counts as the same.
    """
    if a == b:
        return True
    try:
        da = pydicom.dcmread(io.BytesIO(a), force=True)
        db = pydicom.dcmread(io.BytesIO(b), force=True)
    except Exception:
        return False
    return da == db


# --------------------------------------------------------------------------- queries


def normalise_query(level: str, query: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """Check the level and the keys of a search; values become DICOM query strings.

    Dates may be ``"YYYYMMDD"``, a DICOM range ``"YYYYMMDD-YYYYMMDD"`` (either side open),
    a :class:`datetime.date` or a ``(start, end)`` pair (``None`` = open).

    >>> normalise_query("study", {"patient_id": "P1", "StudyDate": ("20260101", None)})
    ('study', {'PatientID': 'P1', 'StudyDate': '20260101-'})
    """
    lvl = str(level).lower()
    if lvl in ("image", "instances"):
        lvl = "instance"
    if lvl not in LEVELS:
        raise ArchiveError(f"search level must be one of {', '.join(LEVELS)}, got {level!r}")
    out: dict[str, str] = {}
    for key, value in query.items():
        if value is None:
            continue
        keyword = _ALIASES.get(key, key)
        if keyword not in QUERY_KEYS:
            raise ArchiveError(
                f"cannot search by {key!r}; use one of {', '.join(QUERY_KEYS)} (or their snake_case aliases)"
            )
        out[keyword] = normalise_date_range(value) if keyword == "StudyDate" else str(value)
    return lvl, out


def _date_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.strftime("%Y%m%d")
    text = str(value).replace("-", "").strip()
    if not re.fullmatch(r"\d{8}", text):
        raise ArchiveError(f"dates are YYYYMMDD (or a date object), got {value!r}")
    return text


def normalise_date_range(value: Any) -> str:
    """A DICOM date or date range string.

    >>> normalise_date_range("20260101"), normalise_date_range("-20260131")
    ('20260101', '-20260131')
    """
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ArchiveError("a date range is a (start, end) pair")
        return f"{_date_text(value[0])}-{_date_text(value[1])}"
    if isinstance(value, (_dt.date, _dt.datetime)):
        return _date_text(value)
    text = str(value).strip()
    if "-" in text and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        start, _, end = text.partition("-")
        return f"{_date_text(start or None)}-{_date_text(end or None)}"
    return _date_text(text)


def date_matches(value: Any, query: str) -> bool:
    """Whether DICOM date ``value`` matches a date or range query string."""
    value = str(value or "")
    if "-" not in query:
        return value == query
    start, _, end = query.partition("-")
    if not value:
        return False
    return (not start or value >= start) and (not end or value <= end)


def _value_matches(value: Any, query: str) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_value_matches(v, query) for v in value)
    text = "" if value is None else str(value)
    if "*" in query or "?" in query:
        pattern = "^" + re.escape(query).replace(r"\*", ".*").replace(r"\?", ".") + "$"
        return re.match(pattern, text) is not None
    if "\\" in query or "," in query:
        return text in re.split(r"[\\,]", query)
    return text == query


def matches(row: Mapping[str, Any], query: Mapping[str, str]) -> bool:
    """Whether a result row matches every (normalised) query key it has a value for.

    Keys the row does not carry (e.g. ``Modality`` at study level, matched through
    ``ModalitiesInStudy``) are matched by the archive and accepted here.
    """
    for key, wanted in query.items():
        if key == "Modality" and "Modality" not in row and "ModalitiesInStudy" in row:
            if not _value_matches(row.get("ModalitiesInStudy") or [], wanted):
                return False
            continue
        if key not in row:
            continue
        value = row[key]
        if key == "StudyDate":
            if not date_matches(value, wanted):
                return False
        elif not _value_matches(value, wanted):
            return False
    return True


def result_row(level: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """A search result with exactly the keys of :data:`RESULT_KEYS` for ``level``."""
    row: dict[str, Any] = {}
    for key in RESULT_KEYS[level]:
        value = values.get(key)
        if key in ("SeriesNumber", "InstanceNumber"):
            try:
                value = int(value) if value not in (None, "") else None
            except (TypeError, ValueError):
                value = None
        elif key == "ModalitiesInStudy":
            if value is None:
                value = []
            elif isinstance(value, str):
                value = [v for v in value.split("\\") if v]
            else:
                value = sorted({str(v) for v in value if v})
        elif value is not None:
            value = str(value)
        row[key] = value
    return row


def sort_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Search results in a stable order (study, series number, instance number, UIDs)."""

    def key(r: dict[str, Any]):
        return (
            r.get("StudyDate") or "",
            r.get("StudyInstanceUID") or "",
            r.get("SeriesNumber") or 0,
            r.get("SeriesInstanceUID") or "",
            r.get("InstanceNumber") or 0,
            r.get("SOPInstanceUID") or "",
        )

    return sorted(rows, key=key)


def describe_error(exc: BaseException, secrets: Iterable[str | None] = ()) -> str:
    """A short, password-free description of a low-level error (no response bodies)."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text[:300]
