"""Fixtures of the image-loading tests: the real radiographs and synthetic DICOM datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

#: The patient name of every synthetic dataset; error messages must never contain it.
SECRET_NAME = "SECRET^NAME"

DX_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
CR_IMAGE = "1.2.840.10008.5.1.4.1.1.1"


def _make_ds(
    pixels: np.ndarray | None = None,
    *,
    rows: int | None = None,
    columns: int | None = None,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    sop_class: str = DX_PRESENTATION,
    modality: str = "DX",
    **attrs: Any,
) -> Dataset:
    """A small valid single-frame image dataset (or only its header when ``pixels`` is None)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = modality
    ds.PatientName = SECRET_NAME
    ds.PatientID = "SECRET-ID-123"
    if pixels is not None:
        pixels = np.ascontiguousarray(pixels)
        rows, columns = pixels.shape[:2]
        bits = pixels.dtype.itemsize * 8
        ds.BitsAllocated = bits
        ds.BitsStored = bits_stored or bits
        ds.HighBit = ds.BitsStored - 1
        ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
        ds.SamplesPerPixel = 1 if pixels.ndim == 2 else pixels.shape[2]
        ds.PixelData = pixels.tobytes()
    else:
        ds.BitsAllocated = 16
        ds.BitsStored = bits_stored or 16
        ds.HighBit = ds.BitsStored - 1
        ds.PixelRepresentation = 0
        ds.SamplesPerPixel = 1
    ds.Rows = rows
    ds.Columns = columns
    ds.PhotometricInterpretation = photometric
    for key, value in attrs.items():
        setattr(ds, key, value)
    return ds


@pytest.fixture(scope="session")
def make_ds() -> Callable[..., Dataset]:
    """Factory of synthetic DICOM datasets (PatientName is :data:`SECRET_NAME`)."""
    return _make_ds


@pytest.fixture(scope="session")
def secret_name() -> str:
    return SECRET_NAME


@pytest.fixture(scope="session")
def ramp_u16() -> np.ndarray:
    """A 12-bit 48 x 64 test image with every row different (no symmetric ambiguity)."""
    r, c = np.mgrid[0:48, 0:64]
    return ((r * 64 + c) % 4096).astype(np.uint16)


@pytest.fixture(scope="session")
def hip_path(real_dir: Path) -> Path:
    return real_dir / "hip_cr_rg2.dcm"


@pytest.fixture(scope="session")
def hip(hip_path: Path):
    from orthoplan import image

    return image.load(hip_path)


def write(ds: Dataset, path: Path) -> Path:
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture(scope="session")
def save() -> Callable[[Dataset, Path], Path]:
    return write
