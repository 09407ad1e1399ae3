"""Compressed transfer syntaxes decode to exactly the pixels that were compressed."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from pydicom.encaps import encapsulate
from pydicom.uid import (
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

from orthoplan import image


@pytest.fixture
def mammo_like(ramp_u16) -> np.ndarray:
    rng = np.random.default_rng(4)
    return (ramp_u16 + rng.integers(0, 8, ramp_u16.shape)).clip(0, 4095).astype(np.uint16)


@pytest.mark.parametrize("syntax", [JPEGLSLossless, RLELossless, JPEG2000Lossless], ids=lambda s: s.name)
def test_lossless_round_trip(tmp_path, make_ds, save, mammo_like, syntax):
    ds = make_ds(mammo_like, bits_stored=12, WindowCenter="2048", WindowWidth="4096")
    ds.compress(syntax)
    assert ds.file_meta.TransferSyntaxUID == syntax
    rad = image.load(save(ds, tmp_path / "c.dcm"))
    np.testing.assert_array_equal(rad.pixels, mammo_like)
    plain = image.load(make_ds(mammo_like, bits_stored=12, WindowCenter="2048", WindowWidth="4096"))
    np.testing.assert_array_equal(rad.display, plain.display)
    assert rad.dataset.file_meta.TransferSyntaxUID == syntax and "PixelData" not in rad.dataset


def test_jpeg_ls_near_lossless_within_its_error_bound(make_ds, mammo_like):
    ds = make_ds(mammo_like, bits_stored=12)
    ds.compress(JPEGLSNearLossless, jls_error=3)
    rad = image.load(ds)
    assert np.abs(rad.pixels.astype(int) - mammo_like).max() <= 3


def test_jpeg_baseline_8bit(make_ds):
    r, c = np.mgrid[0:64, 0:64]
    px = (r * 2 + c).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(px).save(buf, format="JPEG", quality=95)
    ds = make_ds(px, modality="CR")
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.PixelData = encapsulate([buf.getvalue()])
    ds["PixelData"].VR = "OB"
    rad = image.load(ds)
    decoded_by_pillow = np.asarray(Image.open(io.BytesIO(buf.getvalue())))
    assert rad.pixels.dtype == np.uint8 and rad.shape == (64, 64)
    assert np.abs(rad.pixels.astype(int) - decoded_by_pillow).max() <= 2  # IDCTs differ slightly
    assert np.abs(rad.pixels.astype(int) - px).mean() < 2
