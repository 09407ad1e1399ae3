"""Speed of storing a plan (SR + GSPS) in each kind of archive (pytest-benchmark).

Run: ``python3 -m pytest benchmarks/bench_archive.py --benchmark-only``

Starts a private Orthanc like the archive tests (``tests/archive/archive_helpers.py``).
Each round stores *new* objects (fresh SOP Instance UIDs), read from DICOM files as
``orthoplan plan --archive`` does. Target from the design: under 100 ms on loopback.
Figures are medians (``extra_info["median_ms"]``).
"""

from __future__ import annotations

import io
import os
import sys

import pydicom
import pytest
from pydicom.uid import generate_uid

_TESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "archive")
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from archive_cases import plan_case  # noqa: E402
from archive_helpers import OrthancServer, missing_orthanc  # noqa: E402

from orthoplan.archive import open_archive  # noqa: E402
from orthoplan.archive.base import part10_bytes  # noqa: E402


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    why = missing_orthanc()
    if why:
        pytest.fail(why)
    server = OrthancServer(tmp_path_factory.mktemp("orthanc-bench"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def plan_files():
    """The SR and GSPS of a small synthetic plan, as Part 10 bytes; the image to store first."""
    c = plan_case(91)
    return c.image, part10_bytes(c.sr), part10_bytes(c.gsps)


def _fresh(blobs):
    out = []
    for blob in blobs:
        ds = pydicom.dcmread(io.BytesIO(blob))
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        out.append(ds)
    return (out,), {}


def _run(benchmark, archive, blobs, rounds=15):
    result = benchmark.pedantic(archive.store, setup=lambda: _fresh(blobs), rounds=rounds, iterations=1)
    assert len(result.stored) == len(blobs)
    benchmark.extra_info["median_ms"] = round(benchmark.stats.stats.median * 1000, 2)


def test_store_sr_folder(benchmark, plan_files, tmp_path):
    _image, sr, _gsps = plan_files
    _run(benchmark, open_archive("folder://" + str(tmp_path / "a")), [sr])


def test_store_sr_and_gsps_folder(benchmark, plan_files, tmp_path):
    _image, sr, gsps = plan_files
    _run(benchmark, open_archive("folder://" + str(tmp_path / "a")), [sr, gsps])


def test_store_sr_and_gsps_stow_rs(benchmark, plan_files, orthanc):
    image, sr, gsps = plan_files
    archive = open_archive(orthanc.dicomweb_url)
    archive.store([image])
    _run(benchmark, archive, [sr, gsps])


def test_store_sr_and_gsps_c_store(benchmark, plan_files, orthanc):
    image, sr, gsps = plan_files
    archive = open_archive(orthanc.dimse_url)
    archive.store([image])
    _run(benchmark, archive, [sr, gsps])


def test_store_sr_c_store(benchmark, plan_files, orthanc):
    _image, sr, _gsps = plan_files
    _run(benchmark, open_archive(orthanc.dimse_url), [sr])


def test_store_sr_stow_rs(benchmark, plan_files, orthanc):
    _image, sr, _gsps = plan_files
    _run(benchmark, open_archive(orthanc.dicomweb_url), [sr])
