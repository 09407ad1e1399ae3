"""PNG, TIFF and JPEG bitmaps: exact pixels, explicit spacing recorded, colour refused."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from orthoplan import image
from orthoplan.errors import CalibrationError, CorruptImageError, UnsupportedImageError


@pytest.fixture(scope="module")
def grey16() -> np.ndarray:
    r, c = np.mgrid[0:60, 0:80]
    return (r * 1000 + c * 7 + 3).astype(np.uint16)  # 3 .. 59556, needs all 16 bits


@pytest.fixture(scope="module")
def grey8() -> np.ndarray:
    r, c = np.mgrid[0:60, 0:80]
    return ((r * 3 + c) % 256).astype(np.uint8)


def test_png_8bit(tmp_path: Path, grey8: np.ndarray):
    path = tmp_path / "a.png"
    Image.fromarray(grey8).save(path)
    rad = image.load(path, spacing_mm=0.15)
    assert rad.pixels.dtype == np.uint8
    np.testing.assert_array_equal(rad.pixels, grey8)
    assert rad.spacing.pixel_spacing_mm == (0.15, 0.15)
    assert rad.spacing.pixel_spacing_calibration_type == "EXPLICIT" == image.EXPLICIT_SPACING_CALIBRATION_TYPE
    assert rad.spacing.imager_pixel_spacing_mm is None
    assert rad.dataset is None and rad.reference.sop_instance_uid is None
    assert (rad.reference.rows, rad.reference.columns) == (60, 80)
    assert rad.orientation.assumed and rad.photometric_interpretation == "MONOCHROME2"
    assert rad.display.dtype == np.float32 and not rad.pixels.flags.writeable


def test_png_16bit_without_spacing(tmp_path: Path, grey16: np.ndarray):
    path = tmp_path / "a.png"
    Image.fromarray(grey16).save(path)
    assert Image.open(path).mode.startswith("I")  # really a 16-bit PNG
    rad = image.load(path)
    assert rad.pixels.dtype == np.uint16
    np.testing.assert_array_equal(rad.pixels, grey16)
    assert rad.spacing == image.SpacingTags()  # no spacing at all
    # percentile window: brighter pixels display brighter, range [0, 1] used
    assert rad.display[0, 0] == 0.0 and rad.display[-1, -1] == 1.0
    assert np.all(np.diff(rad.display[:, 40]) >= 0)


def test_tiff_16bit_with_anisotropic_spacing(tmp_path: Path, grey16: np.ndarray):
    path = tmp_path / "a.tif"
    Image.fromarray(grey16).save(path)
    rad = image.load(path, spacing_mm=(0.1, 0.12))
    np.testing.assert_array_equal(rad.pixels, grey16)
    assert rad.pixels.dtype == np.uint16
    assert rad.spacing.pixel_spacing_mm == (0.1, 0.12)


def test_big_endian_tiff_is_native(tmp_path: Path, grey16: np.ndarray):
    import tifffile

    path = tmp_path / "be.tiff"
    tifffile.imwrite(path, grey16.astype(">u2"), byteorder=">")
    rad = image.load(path)
    assert rad.pixels.dtype == np.dtype("=u2")
    np.testing.assert_array_equal(rad.pixels, grey16)


def test_magic_bytes_win_over_suffix_and_bytes_input(tmp_path: Path, grey8: np.ndarray):
    buf = io.BytesIO()
    Image.fromarray(grey8).save(buf, format="PNG")
    path = tmp_path / "no_suffix"
    path.write_bytes(buf.getvalue())
    np.testing.assert_array_equal(image.load(path).pixels, grey8)
    rad = image.load(buf.getvalue(), spacing_mm=0.2)
    np.testing.assert_array_equal(rad.pixels, grey8)
    assert rad.spacing.pixel_spacing_mm == (0.2, 0.2)


def test_jpeg_greyscale(tmp_path: Path, grey8: np.ndarray):
    path = tmp_path / "a.jpg"
    Image.fromarray(grey8).save(path, quality=100)
    rad = image.load(path)
    assert rad.shape == grey8.shape
    assert np.abs(rad.pixels.astype(int) - grey8).mean() < 3  # lossy


def test_rgb_with_equal_channels_is_grey_colour_is_refused(tmp_path: Path, grey8: np.ndarray):
    path = tmp_path / "g.png"
    Image.fromarray(np.dstack([grey8] * 3)).save(path)
    np.testing.assert_array_equal(image.load(path).pixels, grey8)
    colour = np.dstack([grey8, grey8[::-1], grey8])
    Image.fromarray(colour).save(path)
    with pytest.raises(UnsupportedImageError, match="colour"):
        image.load(path)
    Image.fromarray(grey8).convert("P").save(path)
    with pytest.raises(UnsupportedImageError, match="greyscale"):
        image.load(path)


def test_multipage_tiff_refused(tmp_path: Path, grey8: np.ndarray):
    path = tmp_path / "m.tif"
    Image.fromarray(grey8).save(path, save_all=True, append_images=[Image.fromarray(grey8)])
    with pytest.raises(UnsupportedImageError, match="2 pages"):
        image.load(path)


def test_too_large_bitmap_refused_before_decoding(tmp_path: Path, grey8: np.ndarray):
    path = tmp_path / "a.png"
    Image.fromarray(grey8).save(path)
    with pytest.raises(UnsupportedImageError, match="limit"):
        image.load(path, max_pixels=1000)


def test_truncated_png(tmp_path: Path, grey16: np.ndarray):
    buf = io.BytesIO()
    Image.fromarray(grey16).save(buf, format="PNG")
    path = tmp_path / "t.png"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(CorruptImageError, match="truncated"):
        image.load(path)


@pytest.mark.parametrize("bad", [0.0, -0.1, float("nan"), (0.1,), (0.1, 0.2, 0.3), "x"])
def test_bad_explicit_spacing(tmp_path: Path, grey8: np.ndarray, bad):
    path = tmp_path / "a.png"
    Image.fromarray(grey8).save(path)
    with pytest.raises(CalibrationError, match="spacing_mm"):
        image.load(path, spacing_mm=bad)
