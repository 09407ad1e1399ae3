"""DICOMweb over HTTPS to a real Orthanc (behind a TLS-terminating relay) with a self-signed certificate.

TLS verification is on by default: an untrusted certificate is an ArchiveError that says so;
giving the certificate as the CA bundle (``verify=PATH``) stores; ``verify=False`` is the
explicit opt-out (and is logged).
"""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from archive_cases import plan_case  # noqa: E402
from archive_helpers import PASSWORD, USER, TcpRelay  # noqa: E402

from orthoplan.archive import open_archive  # noqa: E402
from orthoplan.errors import ArchiveError  # noqa: E402

pytestmark = pytest.mark.orthanc


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """``(certificate + key PEM for Orthanc, certificate PEM for the client)`` for 127.0.0.1."""
    key, crt = folder / "key.pem", folder / "crt.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(crt)],
        check=True, capture_output=True,
    )
    both = folder / "orthanc.pem"
    both.write_text(crt.read_text() + key.read_text())
    return both, crt


@pytest.fixture(scope="module")
def tls_orthanc(orthanc, tmp_path_factory):
    """Orthanc's DICOMweb behind a TLS-terminating relay (an HTTPS reverse proxy), self-signed.

    (Orthanc 1.10's own HTTPS server crashed here on the first handshake with OpenSSL 3, so
    TLS is terminated in front of it, as most PACS deployments do.)
    """
    server_pem, client_crt = _self_signed(tmp_path_factory.mktemp("tls"))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(server_pem))
    with TcpRelay(("127.0.0.1", orthanc.http_port), ssl_context=ctx) as relay:
        yield f"https://{USER}:{PASSWORD}@127.0.0.1:{relay.port}/dicom-web", client_crt


@pytest.fixture(scope="module")
def plan_objects():
    c = plan_case(77)
    return [c.image, c.sr, c.gsps]


def test_untrusted_certificate_is_refused_by_default(tls_orthanc, plan_objects):
    url, _crt = tls_orthanc
    with pytest.raises(ArchiveError) as info:
        open_archive(url).store(plan_objects)
    text = str(info.value)
    assert "TLS" in text and PASSWORD not in text


def test_certificate_given_as_ca_bundle_stores_and_reads_back(tls_orthanc, plan_objects):
    url, crt = tls_orthanc
    archive = open_archive(url, verify=str(crt))
    result = archive.store(plan_objects)
    assert set(result.sop_instance_uids) == {str(d.SOPInstanceUID) for d in plan_objects}
    back = archive.retrieve(str(plan_objects[1].SOPInstanceUID))
    assert back.SOPInstanceUID == plan_objects[1].SOPInstanceUID


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_verification_off_only_when_asked(tls_orthanc, plan_objects, caplog):
    url, _crt = tls_orthanc
    archive = open_archive(url, verify=False)
    assert archive.search("instance", SOPInstanceUID=str(plan_objects[0].SOPInstanceUID)) is not None
    assert any("verification is OFF" in r.getMessage() for r in caplog.records)
