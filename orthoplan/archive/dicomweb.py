"""A DICOMweb archive (STOW-RS, QIDO-RS, WADO-RS) through ``dicomweb-client``.

Part of the base install (``dicomweb-client`` and ``requests`` are dependencies of
orthoplan). Authentication, in order of precedence:

* basic: ``user:password@`` in the URL, or ``username=``/``password=`` options, or the
  environment variables ``ORTHOPLAN_ARCHIVE_USER`` / ``ORTHOPLAN_ARCHIVE_PASSWORD``;
* bearer: the ``token=`` option or ``ORTHOPLAN_ARCHIVE_TOKEN``.

TLS certificates are verified unless ``verify=False`` is given explicitly (or a CA bundle
path is given as ``verify``).

Store is all or nothing as far as the server allows. All objects go in one STOW-RS
request. When the server is detected to be Orthanc (``GET <root>/system``), the archive
first looks up which objects are there already (``/tools/lookup``, ~1 ms each, where a
QIDO-RS takes ~30 ms), checks after the STOW that every object is really kept (an Orthanc
``ReceivedInstanceFilter`` drops objects while STOW-RS still reports them stored) and, if
any object failed, deletes the ones this call added through Orthanc's REST API. DICOMweb has no delete a storing client may count on,
so on other servers the error says that some objects may remain (``docs/archive.md``) — unless
the connection itself failed (refused, unknown host, TLS, connect timeout): then nothing was
sent and the error says so.

Examples
--------
>>> archive = DICOMwebArchive("http://alice:pw@127.0.0.1:8042/dicom-web")   # doctest: +SKIP
>>> archive.name
'http://alice@127.0.0.1:8042/dicom-web'
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from typing import Any

import pydicom
import requests
import urllib3
from dicomweb_client import DICOMwebClient
from pydicom.datadict import keyword_for_tag

from ..errors import ArchiveError
from .base import (
    RESULT_KEYS,
    StoreResult,
    as_file_dataset,
    describe_error,
    locate_instance,
    matches,
    normalise_query,
    object_uids,
    redact_url,
    result_row,
    sop_class_name,
    sort_rows,
    url_credentials,
)

log = logging.getLogger(__name__)

_PATIENT_QUERY = re.compile(r"\b(PatientID|PatientName|PatientBirthDate|00100010|00100020|00100030)=[^&\s\"']*")


class _RedactPatientQueries(logging.Filter):
    """Blank patient attributes in the request URLs that dicomweb-client and urllib3 log at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - never break logging
            return True
        if _PATIENT_QUERY.search(message):
            record.msg, record.args = _PATIENT_QUERY.sub(r"\1=***", message), ()
        return True


for _name in ("dicomweb_client.web", "urllib3.connectionpool"):
    logging.getLogger(_name).addFilter(_RedactPatientQueries())

_FALSE = ("0", "false", "no", "off")


def never_connected(exc: BaseException) -> bool:
    """Whether a request failed before it reached the server (nothing of it was sent).

    True for a refused connection, an unknown host, a connect timeout and a TLS handshake
    failure; false for anything that may have happened after the request was sent (a read
    timeout, a connection reset, an HTTP error).

    Examples
    --------
    >>> never_connected(requests.exceptions.ConnectTimeout("connect timed out"))
    True
    >>> never_connected(requests.exceptions.ReadTimeout("read timed out"))
    False
    """
    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError)):
        return True
    if isinstance(exc, requests.ConnectionError):
        cause = exc.args[0] if exc.args else None
        reason = getattr(cause, "reason", cause)  # urllib3's MaxRetryError wraps the cause
        return isinstance(reason, urllib3.exceptions.NewConnectionError)
    return False


def _as_verify(value: Any) -> bool | str:
    if isinstance(value, str):
        if value.lower() in _FALSE:
            return False
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        return value  # a CA bundle path
    return bool(value)


class _Session(requests.Session):
    """A requests Session whose own ``verify`` (a CA bundle, or False) is not overridden by
    ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` from the environment, as plain requests does for
    every request that does not pass ``verify`` itself (dicomweb-client's do not)."""

    def merge_environment_settings(self, url, proxies, stream, verify, cert):  # noqa: ANN001
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None and self.verify is not True:
            settings["verify"] = self.verify
        return settings


def _dicom_json_rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """DICOM JSON (QIDO-RS) results as ``{keyword: first value}`` dicts (all values for CS lists)."""
    rows = []
    for item in items:
        row: dict[str, Any] = {}
        for tag, element in item.items():
            keyword = keyword_for_tag(int(tag, 16))
            if not keyword:
                continue
            values = element.get("Value") or []
            if element.get("vr") == "PN":
                values = [v.get("Alphabetic", "") if isinstance(v, dict) else v for v in values]
            if keyword == "ModalitiesInStudy":
                row[keyword] = list(values)
            else:
                row[keyword] = values[0] if values else None
        rows.append(row)
    return rows


class DICOMwebArchive:
    """A DICOMweb server (e.g. Orthanc's ``/dicom-web``). See the module documentation.

    Parameters
    ----------
    url
        The DICOMweb root, e.g. ``https://pacs.example.org/dicom-web`` (user info allowed).
    username, password, token
        Credentials (see the module documentation for the environment variables).
    verify
        TLS verification: ``True`` (default), ``False`` (explicit opt-out), or a CA bundle path.
    timeout
        Seconds for each HTTP request (connect and read).
    """

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        verify: bool | str = True,
        timeout: float | str = 30.0,
    ) -> None:
        base, url_user, url_password = url_credentials(url)
        self._url = base.rstrip("/")
        self._name = redact_url(url).rstrip("/")
        username = username or url_user or os.environ.get("ORTHOPLAN_ARCHIVE_USER")
        password = password or url_password or os.environ.get("ORTHOPLAN_ARCHIVE_PASSWORD")
        token = token or os.environ.get("ORTHOPLAN_ARCHIVE_TOKEN")
        self._secrets = tuple(s for s in (password, token) if s)
        self.timeout = float(timeout)
        session = _Session()
        session.verify = _as_verify(verify)
        if session.verify is False:
            log.warning("%s: TLS certificate verification is OFF (verify=False)", self._name)
        if username and password is not None:
            session.auth = (username, password)
        elif token:
            session.headers["Authorization"] = f"Bearer {token}"
        self._session = session
        try:
            self._client = DICOMwebClient(self._url, session=session, timeout=self.timeout)
        except Exception as exc:  # noqa: BLE001 - bad URL
            raise ArchiveError(f"archive {self._name}: {describe_error(exc, self._secrets)}") from None
        self._client.set_http_retry_params(retry=False)  # the outbox retries, not a hidden loop
        self._orthanc: str | None | bool = False  # False: not probed yet

    @property
    def name(self) -> str:
        """The DICOMweb root URL without password."""
        return self._name

    def __repr__(self) -> str:
        return f"DICOMwebArchive({self._name!r})"

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    # ------------------------------------------------------------------ errors

    def _error(self, what: str, exc: BaseException) -> ArchiveError:
        if isinstance(exc, ArchiveError):
            return exc
        if isinstance(exc, requests.HTTPError) and exc.response is not None:
            code = exc.response.status_code
            hint = {
                401: "unauthorised: check the user name and password or the token",
                403: "forbidden: the credentials are not allowed to do this",
                404: "not found: check the DICOMweb root URL",
                409: "conflict: the archive refused some objects",
            }.get(code, exc.response.reason or "")
            reason = f"HTTP {code} {hint}".strip()
        elif isinstance(exc, requests.Timeout):
            reason = f"timed out after {self.timeout:g} s"
        elif isinstance(exc, requests.exceptions.SSLError):
            reason = "TLS error (certificate not trusted? verify=False turns the check off)"
        elif isinstance(exc, requests.ConnectionError):
            reason = "cannot connect (archive down, wrong host or port, or a network problem)"
        else:
            reason = describe_error(exc, self._secrets)
        return ArchiveError(f"archive {self._name}: {what} failed: {reason}")

    # ------------------------------------------------------------------ store

    def store(self, datasets: Sequence[pydicom.Dataset]) -> StoreResult:
        """STOW-RS every dataset in one request; all or nothing as far as the server allows.

        Raises
        ------
        ArchiveError
            Connection refused, timeout, authentication, or any object refused.

        Examples
        --------
        >>> archive.store([sr, gsps]).stored                            # doctest: +SKIP
        ('1.2.…', '1.2.…')
        """
        uids = {}
        for ds in datasets:
            study, _series, sop, _cls = object_uids(ds)
            uids[sop] = study
        if not uids:
            return StoreResult(self._name)
        what = f"storing {len(uids)} object(s)"
        try:
            before = self._existing(list(uids))
        except Exception as exc:  # noqa: BLE001
            raise self._error(what, exc) from None
        files = [as_file_dataset(ds) for ds in datasets]  # Part 10 with preamble, as STOW-RS wants
        try:
            response = self._client.store_instances(files)
            failed = list(response.get("FailedSOPSequence", None) or [])
            if failed:
                reasons = sorted({f"{int(item.get('FailureReason', 0)):#06x}" for item in failed})
                raise ArchiveError(
                    f"archive {self._name}: {what} failed: {len(failed)} object(s) refused "
                    f"(failure reason {', '.join(reasons)})"
                )
            if before is not None:  # Orthanc: check they are really there (a filter drops silently)
                after = self._existing(list(uids)) or set()
                missing = [u for u in uids if u not in after]
                if missing:
                    raise ArchiveError(
                        f"archive {self._name}: {what} failed: {len(missing)} object(s) reported stored "
                        "but not kept (an Orthanc filter or storage rule dropped them)"
                    )
        except Exception as exc:  # noqa: BLE001
            error = self._error(what, exc)
            if never_connected(exc):
                raise ArchiveError(f"{error}; nothing was sent") from None
            raise ArchiveError(f"{error}. {self._rollback(list(uids), before)}") from None
        before = before or set()
        stored = tuple(u for u in uids if u not in before)
        log.info("%s: stored %d object(s), %d already present", self._name, len(stored), len(before))
        return StoreResult(self._name, stored, tuple(u for u in uids if u in before))

    def _existing(self, sop_uids: list[str]) -> set[str] | None:
        """Which of these SOP Instance UIDs the server has, or ``None`` when it cannot be told cheaply.

        Only on Orthanc (its ``/tools/lookup``, ~1 ms each): its QIDO-RS takes ~30 ms a
        request, and on other servers a failed store cannot be undone anyway.
        """
        orthanc = self._orthanc_root()
        if orthanc is None:
            return None
        found = set()
        for uid in sop_uids:
            r = self._session.post(f"{orthanc}/tools/lookup", data=uid, timeout=self.timeout)
            r.raise_for_status()
            if any(hit.get("Type") == "Instance" for hit in r.json()):
                found.add(uid)
        return found

    def _rollback(self, sop_uids: list[str], before: set[str] | None) -> str:
        """Delete what this call added (Orthanc only); a sentence saying what happened."""
        orthanc = self._orthanc_root()
        if orthanc is None or before is None:
            log.info("%s: a failed store may have left objects behind (no delete on this server)", self._name)
            return (
                "Some objects of this call may remain in the archive (this server offers no delete); "
                "storing them again completes the set."
            )
        deleted = kept = 0
        for uid in sop_uids:
            if uid in before:
                continue
            try:
                hits = self._session.post(f"{orthanc}/tools/lookup", data=uid, timeout=self.timeout).json()
                for hit in hits:
                    if hit.get("Type") == "Instance":
                        r = self._session.delete(f"{orthanc}/instances/{hit['ID']}", timeout=self.timeout)
                        r.raise_for_status()
                        deleted += 1
            except Exception:  # noqa: BLE001 - server gone, or delete not allowed
                kept += 1
        if kept:
            log.warning("%s: could not delete %d object(s) of a failed store", self._name, kept)
            return f"{kept} object(s) of this call may remain in the archive (delete failed)."
        if deleted:
            return f"The {deleted} object(s) this call had stored were deleted again (Orthanc)."
        return "Nothing of this call was kept."

    def _orthanc_root(self) -> str | None:
        """Orthanc's REST root when the server is Orthanc, else ``None``.

        Probed once with ``GET <root>/system``; an unreachable server or refused
        credentials leave the question open for the next call.
        """
        if self._orthanc is False:
            root = self._url.rsplit("/", 1)[0]
            try:
                r = self._session.get(f"{root}/system", timeout=self.timeout)
            except Exception:  # noqa: BLE001 - unreachable: ask again next time
                return None
            if r.status_code in (401, 403) or r.status_code >= 500:
                return None
            try:
                info = r.json() if r.ok else {}
            except ValueError:
                info = {}
            is_orthanc = isinstance(info, dict) and "DicomAet" in info and "ApiVersion" in info
            self._orthanc = root if is_orthanc else None
            log.debug("%s: server is %s", self._name, "Orthanc" if is_orthanc else "not Orthanc")
        return self._orthanc or None

    # ------------------------------------------------------------------ search / retrieve

    def search(self, level: str = "instance", **query: Any) -> list[dict[str, Any]]:
        """QIDO-RS search (see :meth:`orthoplan.archive.folder.FolderArchive.search`).

        Examples
        --------
        >>> archive.search("series", StudyInstanceUID=uid, Modality="SR")    # doctest: +SKIP
        """
        lvl, q = normalise_query(level, query)
        filters = dict(q)
        if lvl == "study" and "Modality" in filters:
            filters["ModalitiesInStudy"] = filters.pop("Modality")
        fields = list(RESULT_KEYS[lvl])
        method = {
            "study": self._client.search_for_studies,
            "series": self._client.search_for_series,
            "instance": self._client.search_for_instances,
        }[lvl]
        try:
            items = method(search_filters=filters, fields=fields)
        except Exception as exc:  # noqa: BLE001
            raise self._error(f"searching {lvl} level", exc) from None
        rows = [r for r in _dicom_json_rows(items) if matches(r, q)]
        return sort_rows(result_row(lvl, r) for r in rows)

    def retrieve(self, sop_instance_uid: str) -> pydicom.Dataset:
        """WADO-RS retrieve of one object, found first by QIDO-RS.

        Examples
        --------
        >>> archive.retrieve(image_uid).Modality                         # doctest: +SKIP
        'DX'
        """
        uid, hit = locate_instance(self, sop_instance_uid)
        try:
            ds = self._client.retrieve_instance(hit["StudyInstanceUID"], hit["SeriesInstanceUID"], uid)
        except Exception as exc:  # noqa: BLE001
            raise self._error("retrieving an object", exc) from None
        if str(ds.get("SOPInstanceUID", "")) != uid:
            raise ArchiveError(f"archive {self._name}: returned another object than the one asked for")
        log.debug("%s: retrieved a %s object", self._name, sop_class_name(str(ds.SOPClassUID)))
        return ds


__all__ = ["DICOMwebArchive"]
