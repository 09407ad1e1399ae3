"""Real servers for the archive tests: a private Orthanc, a TCP relay, a silent server.

Used by ``tests/archive/conftest.py`` and ``benchmarks/bench_archive.py``. Nothing here is
a mock: Orthanc is the Debian binary, the relay and the silent server are real sockets.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

ORTHANC = os.environ.get("ORTHOPLAN_TEST_ORTHANC", "/usr/sbin/Orthanc")
DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
USER, PASSWORD = "orthoplan-test", "pw-Ki8!x-not-in-messages"
ORTHANC_AET = "ORTHANC"
OUR_AET = "ORTHOPLAN"
#: Objects with this Series Description are refused by the test Orthanc's Lua filter.
REFUSE_MARK = "orthoplan test: refuse"

_LUA = f"""
function ReceivedInstanceFilter(dicom, origin, info)
  if dicom.SeriesDescription == '{REFUSE_MARK}' then
    return false
  end
  return true
end
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def missing_orthanc() -> str | None:
    """Why Orthanc cannot run here (``None`` when it can)."""
    if not (os.path.isfile(ORTHANC) and os.access(ORTHANC, os.X_OK)):
        return f"Orthanc is not installed ({ORTHANC} missing): apt-get install orthanc orthanc-dicomweb"
    if not os.path.isfile(DICOMWEB_PLUGIN):
        return f"the Orthanc DICOMweb plugin is not installed ({DICOMWEB_PLUGIN}): apt-get install orthanc-dicomweb"
    return None


@dataclass
class OrthancServer:
    """A private Orthanc on 127.0.0.1: own storage, own ports, DICOMweb plugin, authentication."""

    workdir: Path
    http_port: int = 0
    dicom_port: int = 0
    move_port: int = 0
    process: subprocess.Popen | None = None

    @property
    def rest(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        """With user and password in the URL."""
        return f"http://{USER}:{PASSWORD}@127.0.0.1:{self.http_port}/dicom-web"

    @property
    def dicomweb_url_no_credentials(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/dicom-web"

    @property
    def dimse_url(self) -> str:
        return f"dicom://{ORTHANC_AET}@127.0.0.1:{self.dicom_port}"

    def config(self) -> dict:
        (self.workdir / "refuse.lua").write_text(_LUA)
        return {
            "Name": "orthoplan-tests",
            "StorageDirectory": str(self.workdir / "storage"),
            "IndexDirectory": str(self.workdir / "index"),
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": ORTHANC_AET,
            "DicomCheckCalledAet": True,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True,
            "RegisteredUsers": {USER: PASSWORD},
            "Plugins": [DICOMWEB_PLUGIN],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "Host": f"127.0.0.1:{self.http_port}", "Ssl": False},
            "DicomAlwaysAllowEcho": True,
            "DicomAlwaysAllowStore": True,
            "DicomAlwaysAllowFind": True,
            "DicomAlwaysAllowGet": True,
            "DicomAlwaysAllowMove": True,
            # C-MOVE needs the destination's address: our AE title with our storage SCP port
            "DicomModalities": {"orthoplan": [OUR_AET, "127.0.0.1", self.move_port]},
            "LuaScripts": [str(self.workdir / "refuse.lua")],
            "SaveJobs": False,
            "HttpTimeout": 10,
            "StableAge": 1,
        }

    def start(self, timeout: float = 20.0) -> None:
        why = missing_orthanc()
        if why:
            raise RuntimeError(why)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.http_port, self.dicom_port, self.move_port = free_port(), free_port(), free_port()
        cfg = self.workdir / "orthanc.json"
        cfg.write_text(json.dumps(self.config(), indent=2))
        log = open(self.workdir / "orthanc.log", "wb")
        self.process = subprocess.Popen([ORTHANC, str(cfg)], stdout=log, stderr=subprocess.STDOUT,
                                        cwd=self.workdir, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited at start-up (code {self.process.returncode}):\n{self.log_tail()}")
            with contextlib.suppress(requests.RequestException):
                r = requests.get(f"{self.rest}/system", auth=(USER, PASSWORD), timeout=1)
                if r.ok and self._dicom_port_open():
                    return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"Orthanc did not answer within {timeout} s:\n{self.log_tail()}")

    def _dicom_port_open(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.dicom_port), timeout=0.5):
            return True
        return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def log_tail(self, n: int = 30) -> str:
        path = self.workdir / "orthanc.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:]) if path.exists() else ""

    def instance_count(self) -> int:
        r = requests.get(f"{self.rest}/statistics", auth=(USER, PASSWORD), timeout=5)
        r.raise_for_status()
        return int(r.json()["CountInstances"])

    def has_instance(self, sop_uid: str) -> bool:
        r = requests.post(f"{self.rest}/tools/lookup", data=sop_uid, auth=(USER, PASSWORD), timeout=5)
        r.raise_for_status()
        return any(hit.get("Type") == "Instance" for hit in r.json())


class TcpRelay:
    """Forwards 127.0.0.1:``port`` to ``target``; can be off (port closed) or cut a connection.

    ``cut_after``: close a connection after that many bytes from client to server (an
    archive dying in the middle of a store). ``ssl_context``: terminate TLS on the relay's
    side (an HTTPS reverse proxy in front of the archive).
    """

    def __init__(self, target: tuple[str, int], port: int | None = None, cut_after: int | None = None,
                 ssl_context=None) -> None:
        self.target = target
        self.port = port or free_port()
        self.cut_after = cut_after
        self.ssl_context = ssl_context
        self._server: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    def start(self) -> TcpRelay:
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", self.port))
        srv.listen(16)
        srv.settimeout(0.2)
        self._server = srv
        self._stop.clear()
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.close()
            self._server = None
        for t in self._threads:
            t.join(timeout=2)
        self._threads = []

    def __enter__(self) -> TcpRelay:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except (TimeoutError, OSError):
                continue
            if self.ssl_context is not None:
                client.settimeout(5)
                try:  # a client that does not trust the certificate ends here
                    client = self.ssl_context.wrap_socket(client, server_side=True)
                except OSError:
                    with contextlib.suppress(OSError):
                        client.close()
                    continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            for sock in (client, upstream):
                sock.settimeout(None)
            threading.Thread(target=self._pump, args=(client, upstream, self.cut_after), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, None), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while not self._stop.is_set():
                data = src.recv(65536)
                if not data:
                    break
                if limit is not None and sent + len(data) > limit:
                    dst.sendall(data[: max(0, limit - sent)])
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()


class SilentServer:
    """Accepts TCP connections and never answers (a hung archive)."""

    def __init__(self) -> None:
        self.port = free_port()
        self._sock: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()

    def __enter__(self) -> SilentServer:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", self.port))
        self._sock.listen(16)
        self._sock.settimeout(0.1)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
                self._conns.append(conn)
            except (TimeoutError, OSError):
                continue

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for c in self._conns:
            with contextlib.suppress(OSError):
                c.close()
        with contextlib.suppress(OSError):
            self._sock.close()


def copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst)
