"""Loading speed of orthoplan.image (pytest-benchmark).

Run: ``python -m pytest benchmarks/bench_image.py --benchmark-only``

The target from the design: ``load`` (read, header checks, decode, header copy, display
with VOI) of a 3000 x 2500 16-bit uncompressed DX well under 150 ms.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from orthoplan import image

ROWS, COLUMNS = 3000, 2500


def _dx(pixels: np.ndarray, **attrs) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "DX"
    ds.PatientName = "BENCH^MARK"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 14, 13, 0
    ds.ImagerPixelSpacing = [0.139, 0.139]
    for k, v in attrs.items():
        setattr(ds, k, v)
    ds.PixelData = pixels.tobytes()
    return ds


@pytest.fixture(scope="module")
def dx_pixels() -> np.ndarray:
    """A smooth radiograph-like 14-bit image with noise (not random: realistic cache behaviour)."""
    rng = np.random.default_rng(0)
    r, c = np.mgrid[0:ROWS, 0:COLUMNS].astype(np.float32)
    body = 6000 + 4000 * np.exp(-(((c - COLUMNS / 2) / (COLUMNS / 4)) ** 2))
    bone = 3000 * (np.abs(c - COLUMNS / 2 - 200 * np.sin(r / 700)) < 180)
    img = body + bone + rng.normal(0, 80, (ROWS, COLUMNS)).astype(np.float32)
    return img.clip(0, 16383).astype(np.uint16)


@pytest.fixture(scope="module")
def dx_with_window(tmp_path_factory, dx_pixels) -> Path:
    path = tmp_path_factory.mktemp("bench") / "dx_window.dcm"
    _dx(dx_pixels, WindowCenter="9000", WindowWidth="8000").save_as(path, enforce_file_format=True)
    return path


@pytest.fixture(scope="module")
def dx_for_processing(tmp_path_factory, dx_pixels) -> Path:
    """No VOI attributes: the display uses the percentile window."""
    path = tmp_path_factory.mktemp("bench") / "dx_processing.dcm"
    _dx(dx_pixels, SOPClassUID="1.2.840.10008.5.1.4.1.1.1.1.1").save_as(path, enforce_file_format=True)
    return path


def test_load_dx_3000x2500_window(benchmark, dx_with_window, dx_pixels):
    rad = benchmark(image.load, dx_with_window)
    assert rad.shape == (ROWS, COLUMNS)
    np.testing.assert_array_equal(rad.pixels, dx_pixels)


def test_load_dx_3000x2500_percentile_window(benchmark, dx_for_processing):
    rad = benchmark(image.load, dx_for_processing)
    assert rad.shape == (ROWS, COLUMNS) and float(rad.display.max()) == 1.0


def test_display_only_3000x2500(benchmark, dx_pixels):
    d = benchmark(image.display_image, dx_pixels)
    assert d.dtype == np.float32
