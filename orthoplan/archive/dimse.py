"""A DICOM (DIMSE) archive: C-STORE, C-FIND, C-GET and C-MOVE through pynetdicom.

URL: ``dicom://AET@HOST:PORT`` where ``AET`` is the archive's (called) AE title. Our own
(calling) AE title is the ``ae_title`` option, else ``$ORTHOPLAN_AE_TITLE``, else
``ORTHOPLAN``; the archive must know it for C-GET/C-MOVE (Orthanc: ``DicomModalities`` or
``DicomAlwaysAllow*``).

One association per call: :meth:`DimseArchive.store` sends all its objects over one
association, after checking that the archive accepted every SOP class (a refused class
fails the call before anything is sent). ``TCP_NODELAY`` is set on the socket: without
it, delayed ACKs cost ~60 ms per C-STORE on loopback.

Retrieval uses C-GET (the objects come back over the same association); with
``retrieve="move"``, or when C-GET is refused and ``move_port`` is set, C-MOVE to our
own storage SCP listening on ``move_port`` (the archive must know our AE title at this
host and port).

DIMSE has no delete: if an archive refuses an object in the middle of a batch, the
objects sent before it stay; the error says how many (store the batch again to complete
it, which is idempotent for the same objects).

pynetdicom is told not to log query identifiers (they hold patient data).

Examples
--------
>>> archive = DimseArchive.from_url("dicom://ORTHANC@127.0.0.1:4242")      # doctest: +SKIP
>>> archive.name
'dicom://ORTHANC@127.0.0.1:4242'
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import pydicom
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import ALL_TRANSFER_SYNTAXES, AE, _config, build_context, build_role, evt
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

from ..errors import ArchiveError
from .base import (
    RESULT_KEYS,
    StoreResult,
    as_file_dataset,
    locate_instance,
    matches,
    normalise_query,
    object_uids,
    result_row,
    sop_class_name,
    sort_rows,
)

log = logging.getLogger(__name__)

_config.LOG_REQUEST_IDENTIFIERS = False  # never log C-FIND/C-GET identifiers (patient data)
_config.LOG_RESPONSE_IDENTIFIERS = False


class _QuietConnectFailure(logging.Filter):
    """Keep pynetdicom's two ERROR lines about a refused connection for debugging only.

    The :class:`~orthoplan.errors.ArchiveError` of the call says it once ("cannot connect");
    the lines still show when the logger is enabled for DEBUG (``orthoplan -vv``).
    """

    _TEXT = ("Association request failed: unable to connect", "TCP Initialisation Error")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and str(record.msg).startswith(self._TEXT):
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


logging.getLogger("pynetdicom.transport").addFilter(_QuietConnectFailure())

DEFAULT_AE_TITLE = "ORTHOPLAN"
_SUCCESS = 0x0000
_WARNINGS = {0x0001, 0xB000, 0xB006, 0xB007}
_PENDING = {0xFF00, 0xFF01}
_DIMSE_LEVEL = {"study": "STUDY", "series": "SERIES", "instance": "IMAGE"}
_UNCOMPRESSED = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]


def _check_ae_title(value: str, what: str) -> str:
    text = str(value).strip()
    if not 1 <= len(text) <= 16 or "\\" in text or not text.isprintable():
        raise ArchiveError(f"the {what} AE title must be 1 to 16 printable characters, got {value!r}")
    return text


def _set_nodelay(assoc: Any) -> None:
    """No Nagle on our sends, and (Linux) an immediate ACK before every read.

    Without TCP_QUICKACK each response from a DCMTK-based archive (Orthanc) waits ~40 ms for
    our delayed ACK of its previous segment: measured here, a C-ECHO took 44 ms, with it 3 ms.
    Linux clears quick-ACK mode by itself, so it is set again before each read.
    """
    with contextlib.suppress(Exception):
        wrapper = assoc.dul.socket
        sock = wrapper.socket
        if sock is None:
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        quickack = getattr(socket, "TCP_QUICKACK", None)
        if quickack is None or getattr(wrapper, "_orthoplan_quickack", False):
            return
        read = wrapper.recv

        def recv(nr_bytes: int) -> bytes:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)
            return read(nr_bytes)

        wrapper.recv = recv
        wrapper._orthoplan_quickack = True


class DimseArchive:
    """A DICOM archive reached by DIMSE. See the module documentation.

    Parameters
    ----------
    host, port, called_ae_title
        The archive's address and AE title.
    ae_title
        Our AE title (default ``$ORTHOPLAN_AE_TITLE`` or ``ORTHOPLAN``).
    timeout
        Seconds for connecting, association negotiation and each DIMSE response.
    retrieve
        ``"auto"`` (C-GET, C-MOVE when refused and ``move_port`` is set), ``"get"`` or ``"move"``.
    move_port
        Port of our temporary storage SCP for C-MOVE.
    move_bind
        Address that SCP listens on (default all interfaces, so a remote archive reaches it).
    check_existing
        Ask by C-FIND which objects are there before a store (to report them as already
        present) and after it (to catch objects reported stored but dropped, as an Orthanc
        filter does). Off by default: each C-FIND costs ~50 ms on Orthanc.
    """

    def __init__(
        self,
        host: str,
        port: int,
        called_ae_title: str,
        *,
        ae_title: str | None = None,
        timeout: float | str = 30.0,
        retrieve: str = "auto",
        move_port: int | str | None = None,
        move_bind: str = "",
        check_existing: bool | str = False,
    ) -> None:
        self.host = host
        self.port = int(port)
        self.called_ae_title = _check_ae_title(called_ae_title, "archive's")
        self.ae_title = _check_ae_title(ae_title or os.environ.get("ORTHOPLAN_AE_TITLE") or DEFAULT_AE_TITLE, "our")
        self.timeout = float(timeout)
        if retrieve not in ("auto", "get", "move"):
            raise ArchiveError(f"retrieve must be 'auto', 'get' or 'move', got {retrieve!r}")
        self.retrieve_method = retrieve
        self.move_port = int(move_port) if move_port not in (None, "") else None
        self.move_bind = move_bind
        self.check_existing = str(check_existing).lower() not in ("0", "false", "no", "off")
        self._name = f"dicom://{self.called_ae_title}@{host}:{self.port}"

    @classmethod
    def from_url(cls, url: str, **options: Any) -> DimseArchive:
        """``dicom://AET@HOST:PORT`` (options as for the class).

        >>> DimseArchive.from_url("dicom://PACS@10.1.2.3:104", ae_title="ME").ae_title
        'ME'
        """
        parts = urlsplit(url)
        called = unquote(parts.username or "")
        try:
            port = parts.port
        except ValueError:
            port = None
        if not called or not parts.hostname or port is None:
            raise ArchiveError(f"a DIMSE archive URL is dicom://AET@HOST:PORT, got {url.split('@')[-1]!r}")
        return cls(parts.hostname, port, called, **options)

    @property
    def name(self) -> str:
        """``dicom://AET@HOST:PORT``."""
        return self._name

    def __repr__(self) -> str:
        return f"DimseArchive({self._name!r}, ae_title={self.ae_title!r})"

    # ------------------------------------------------------------------ association

    def _ae(self) -> AE:
        ae = AE(ae_title=self.ae_title)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = self.timeout
        ae.connection_timeout = self.timeout
        return ae

    @contextlib.contextmanager
    def _association(self, what: str, contexts: list, ext_neg: list | None = None,
                     handlers: list | None = None) -> Iterator[Any]:
        ae = self._ae()
        connected = threading.Event()

        def on_open(event: Any) -> None:  # set TCP_NODELAY before the first PDU
            _set_nodelay(event.assoc)
            connected.set()

        started = time.monotonic()
        assoc = ae.associate(
            self.host,
            self.port,
            contexts=contexts,
            ae_title=self.called_ae_title,
            ext_neg=ext_neg,
            evt_handlers=[(evt.EVT_CONN_OPEN, on_open)] + list(handlers or []),
        )
        if not assoc.is_established:
            if not connected.is_set():
                reason = "cannot connect (archive down, wrong host or port, or timed out)"
            elif assoc.is_rejected:
                reason = "the archive rejected the association (wrong archive AE title, or ours is not known to it)"
            elif time.monotonic() - started >= self.timeout * 0.95:
                reason = f"no answer to the association request (timed out after {self.timeout:g} s)"
            elif assoc.is_aborted:
                reason = "the archive aborted the association"
            else:
                reason = "no answer to the association request (timed out)"
            raise ArchiveError(f"archive {self._name}: {what} failed: {reason}")
        _set_nodelay(assoc)
        try:
            yield assoc
        finally:
            if assoc.is_established:
                assoc.release()
            ae.shutdown()

    def _accepted(self, assoc: Any, sop_class: str) -> bool:
        return any(cx.abstract_syntax == sop_class for cx in assoc.accepted_contexts)

    # ------------------------------------------------------------------ store

    def store(self, datasets: Sequence[pydicom.Dataset]) -> StoreResult:
        """C-STORE every dataset over one association.

        Raises
        ------
        ArchiveError
            Cannot connect, association rejected, a SOP class not accepted (nothing sent),
            or an object refused (the objects sent before it stay: DIMSE has no delete).

        Examples
        --------
        >>> archive.store([sr, gsps]).stored                      # doctest: +SKIP
        ('1.2.…', '1.2.…')
        """
        files: dict[str, pydicom.Dataset] = {}
        for ds in datasets:
            _study, _series, sop, _cls = object_uids(ds)
            files.setdefault(sop, as_file_dataset(ds))
        if not files:
            return StoreResult(self._name)
        syntaxes: dict[str, list[str]] = {}
        for f in files.values():
            ts = str(f.file_meta.TransferSyntaxUID)
            wanted = syntaxes.setdefault(str(f.SOPClassUID), [])
            for t in [ts] + (_UNCOMPRESSED if UID(ts) in _UNCOMPRESSED else []):
                if t not in wanted:
                    wanted.append(t)
        contexts = [build_context(cls, ts) for cls, ts in syntaxes.items()]
        if self.check_existing:
            contexts.append(build_context(StudyRootQueryRetrieveInformationModelFind))
        what = f"storing {len(files)} object(s)"
        with self._association(what, contexts) as assoc:
            refused = [c for c in syntaxes if not self._accepted(assoc, c)]
            if refused:
                raise ArchiveError(
                    f"archive {self._name}: {what} failed: it does not accept "
                    f"{', '.join(sop_class_name(c) for c in refused)}; nothing was sent"
                )
            before = self._existing(assoc, files) if self.check_existing else set()
            sent: list[str] = []
            for sop, f in files.items():
                status = assoc.send_c_store(f)
                code = int(status.get("Status", -1)) if status else -1
                if code == _SUCCESS or code in _WARNINGS:
                    sent.append(sop)
                    continue
                reason = "no response (timed out or connection lost)" if code < 0 else f"status {code:#06x}"
                kept = [u for u in sent if u not in before]
                raise ArchiveError(
                    f"archive {self._name}: {what} failed: a {sop_class_name(str(f.SOPClassUID))} "
                    f"object was refused ({reason}); "
                    + (f"{len(kept)} object(s) sent before it remain (DIMSE has no delete; storing the "
                       "same objects again completes the set)" if kept else "nothing of this call was kept")
                )
            if self.check_existing:
                after = self._existing(assoc, files)
                dropped = [u for u in files if u not in after]
                if dropped:
                    kept = [u for u in files if u in after and u not in before]
                    raise ArchiveError(
                        f"archive {self._name}: {what} failed: {len(dropped)} object(s) reported stored "
                        f"but not kept (an archive filter or storage rule dropped them); {len(kept)} object(s) "
                        "of this call remain (DIMSE has no delete)"
                    )
        stored = tuple(u for u in files if u not in before)
        log.info("%s: stored %d object(s), %d already present", self._name, len(stored), len(before))
        return StoreResult(self._name, stored, tuple(u for u in files if u in before))

    def _existing(self, assoc: Any, files: dict[str, pydicom.Dataset]) -> set[str]:
        """SOP Instance UIDs of ``files`` the archive has (C-FIND, UID list); empty if it cannot tell."""
        if not self._accepted(assoc, StudyRootQueryRetrieveInformationModelFind):
            return set()
        found: set[str] = set()
        by_study: dict[str, list[str]] = {}
        for sop, f in files.items():
            by_study.setdefault(str(f.StudyInstanceUID), []).append(sop)
        try:
            for study, uids in by_study.items():
                ident = pydicom.Dataset()
                ident.QueryRetrieveLevel = "IMAGE"
                ident.StudyInstanceUID = study
                ident.SeriesInstanceUID = ""
                ident.SOPInstanceUID = uids
                for row in self._find(assoc, ident, "checking existing objects"):
                    found.add(str(row.get("SOPInstanceUID")))
        except ArchiveError:
            log.debug("%s: cannot check existing objects; reporting all as stored", self._name)
            return set()
        return found & set(files)

    # ------------------------------------------------------------------ search

    def search(self, level: str = "instance", **query: Any) -> list[dict[str, Any]]:
        """C-FIND (Study Root) search (see :meth:`orthoplan.archive.folder.FolderArchive.search`).

        Examples
        --------
        >>> archive.search("instance", StudyInstanceUID=uid, Modality="SR")    # doctest: +SKIP
        """
        lvl, q = normalise_query(level, query)
        ident = pydicom.Dataset()
        ident.QueryRetrieveLevel = _DIMSE_LEVEL[lvl]
        for key in RESULT_KEYS[lvl]:
            setattr(ident, key, "")
        for key, value in q.items():
            if lvl == "study" and key == "Modality":
                ident.ModalitiesInStudy = value
            elif key == "SOPClassUID" and lvl != "instance":
                continue  # matched on the instances only; not a study/series attribute
            else:
                setattr(ident, key, value.split(",") if "," in value and key.endswith("UID") else value)
        what = f"searching {lvl} level"
        with self._association(what, [build_context(StudyRootQueryRetrieveInformationModelFind)]) as assoc:
            if not self._accepted(assoc, StudyRootQueryRetrieveInformationModelFind):
                raise ArchiveError(f"archive {self._name}: {what} failed: it does not accept C-FIND from us")
            rows = self._find(assoc, ident, what)
        return sort_rows(result_row(lvl, r) for r in rows if matches(r, q))

    def _find(self, assoc: Any, ident: pydicom.Dataset, what: str) -> list[dict[str, Any]]:
        rows = []
        for status, identifier in assoc.send_c_find(ident, StudyRootQueryRetrieveInformationModelFind):
            code = int(status.get("Status", -1)) if status else -1
            if code in _PENDING:
                if identifier is not None:
                    rows.append(_identifier_row(identifier))
            elif code == _SUCCESS:
                break
            else:
                reason = "no response (timed out or connection lost)" if code < 0 else f"status {code:#06x}"
                raise ArchiveError(f"archive {self._name}: {what} failed: {reason}")
        return rows

    # ------------------------------------------------------------------ retrieve

    def retrieve(self, sop_instance_uid: str) -> pydicom.Dataset:
        """The object with this SOP Instance UID: C-FIND for its place, then C-GET (or C-MOVE).

        Examples
        --------
        >>> archive.retrieve(image_uid).Modality                     # doctest: +SKIP
        'DX'
        """
        uid, hit = locate_instance(self, sop_instance_uid)
        ident = pydicom.Dataset()
        ident.QueryRetrieveLevel = "IMAGE"
        ident.StudyInstanceUID = hit["StudyInstanceUID"]
        ident.SeriesInstanceUID = hit["SeriesInstanceUID"]
        ident.SOPInstanceUID = uid
        sop_class = hit.get("SOPClassUID") or ""
        got: list[pydicom.Dataset] = []
        if self.retrieve_method in ("auto", "get"):
            try:
                got = self._c_get(ident, sop_class)
            except ArchiveError:
                if self.retrieve_method == "get" or self.move_port is None:
                    raise
                log.info("%s: C-GET failed; trying C-MOVE", self._name)
        if not got:
            if self.move_port is None:
                raise ArchiveError(f"archive {self._name}: C-MOVE needs the move_port option (our storage SCP port)")
            got = self._c_move(ident, sop_class)
        for ds in got:
            if str(ds.get("SOPInstanceUID", "")) == uid:
                return ds
        raise ArchiveError(f"archive {self._name}: retrieving an object failed: it sent another object")

    def _storage_contexts(self, sop_class: str) -> list:
        classes = [sop_class] if sop_class else []
        return [build_context(c, ALL_TRANSFER_SYNTAXES) for c in classes]

    def _c_get(self, ident: pydicom.Dataset, sop_class: str) -> list[pydicom.Dataset]:
        received: list[pydicom.Dataset] = []

        def on_store(event: Any) -> int:
            ds = event.dataset
            ds.file_meta = event.file_meta
            received.append(ds)
            return _SUCCESS

        contexts = [build_context(StudyRootQueryRetrieveInformationModelGet)] + self._storage_contexts(sop_class)
        roles = [build_role(sop_class, scp_role=True)] if sop_class else []
        what = "retrieving an object (C-GET)"
        with self._association(what, contexts, ext_neg=roles, handlers=[(evt.EVT_C_STORE, on_store)]) as assoc:
            if not self._accepted(assoc, StudyRootQueryRetrieveInformationModelGet):
                raise ArchiveError(f"archive {self._name}: {what} failed: it does not accept C-GET from us")
            self._await(assoc.send_c_get(ident, StudyRootQueryRetrieveInformationModelGet), what)
        if not received:
            raise ArchiveError(f"archive {self._name}: {what} failed: nothing was sent back")
        return received

    def _c_move(self, ident: pydicom.Dataset, sop_class: str) -> list[pydicom.Dataset]:
        received: list[pydicom.Dataset] = []
        lock = threading.Lock()

        def on_store(event: Any) -> int:
            ds = event.dataset
            ds.file_meta = event.file_meta
            with lock:
                received.append(ds)
            return _SUCCESS

        scp = self._ae()
        for cx in self._storage_contexts(sop_class):
            scp.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        what = "retrieving an object (C-MOVE)"
        try:
            server = scp.start_server((self.move_bind, self.move_port), block=False,
                                      evt_handlers=[(evt.EVT_C_STORE, on_store)])
        except OSError as exc:
            raise ArchiveError(
                f"archive {self._name}: {what} failed: cannot listen on port {self.move_port} ({exc.strerror})"
            ) from None
        try:
            ctx = [build_context(StudyRootQueryRetrieveInformationModelMove)]
            with self._association(what, ctx) as assoc:
                if not self._accepted(assoc, StudyRootQueryRetrieveInformationModelMove):
                    raise ArchiveError(f"archive {self._name}: {what} failed: it does not accept C-MOVE from us")
                self._await(assoc.send_c_move(ident, self.ae_title, StudyRootQueryRetrieveInformationModelMove), what)
        finally:
            server.shutdown()
        if not received:
            raise ArchiveError(f"archive {self._name}: {what} failed: nothing was sent to us")
        return received

    def _await(self, responses: Any, what: str) -> None:
        for status, _identifier in responses:
            code = int(status.get("Status", -1)) if status else -1
            if code in _PENDING:
                continue
            if code == _SUCCESS or code in _WARNINGS:
                return
            hint = {0xA801: " (the archive does not know our AE title as a move destination)"}.get(code, "")
            reason = "no response (timed out or connection lost)" if code < 0 else f"status {code:#06x}{hint}"
            raise ArchiveError(f"archive {self._name}: {what} failed: {reason}")


def _identifier_row(identifier: pydicom.Dataset) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for elem in identifier:
        if not elem.keyword or elem.VR == "SQ":
            continue
        value = elem.value
        if elem.keyword == "ModalitiesInStudy":
            row[elem.keyword] = [str(v) for v in value] if isinstance(value, (list, pydicom.multival.MultiValue)) else ([str(value)] if value else [])
        elif isinstance(value, (list, pydicom.multival.MultiValue)):
            row[elem.keyword] = str(value[0]) if len(value) else None
        else:
            row[elem.keyword] = None if value in (None, "") else str(value)
    return row


__all__ = ["DimseArchive", "DEFAULT_AE_TITLE"]
