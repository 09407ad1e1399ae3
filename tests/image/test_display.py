"""display_image against pydicom's own Modality LUT / VOI functions, evaluated directly on the image.

The reference is ``apply_voi_lut(apply_modality_lut(pixels, ds), ds)`` in float64 on the whole
array, normalised to the VOI output range; orthoplan evaluates the same chain once per
possible stored value and gathers, so the two must agree to float32 precision.
"""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut

from orthoplan import image


def _reference(pixels: np.ndarray, ds: Dataset, lo: float, hi: float) -> np.ndarray:
    out = apply_voi_lut(apply_modality_lut(pixels, ds), ds).astype(np.float64)
    return np.clip((out - lo) / (hi - lo), 0, 1)


@pytest.fixture
def pixels12() -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.integers(0, 4096, size=(40, 50), dtype=np.uint16)


def test_rescale_and_linear_window(make_ds, pixels12):
    ds = make_ds(pixels12, bits_stored=12, RescaleSlope="0.5", RescaleIntercept="-100",
                 WindowCenter="700", WindowWidth="900")
    d = image.display_image(ds)
    # LINEAR: y = ((x - (c - 0.5)) / (w - 1) + 0.5) on the rescaled value, pydicom's output range
    # for a rescaled 12-bit image is [-100, 1947.5]
    ref = _reference(pixels12, ds, -100.0, 4095 * 0.5 - 100)
    np.testing.assert_allclose(d, ref, atol=2e-6)
    x = pixels12 * 0.5 - 100
    np.testing.assert_allclose(d, np.clip((x - 699.5) / 899 + 0.5, 0, 1), atol=2e-6)


@pytest.mark.parametrize("func", ["LINEAR_EXACT", "SIGMOID"])
def test_other_voi_functions(make_ds, pixels12, func):
    ds = make_ds(pixels12, bits_stored=12, WindowCenter="2000", WindowWidth="1500", VOILUTFunction=func)
    d = image.display_image(ds)
    np.testing.assert_allclose(d, _reference(pixels12, ds, 0, 4095), atol=2e-6)
    assert d.dtype == np.float32


def test_second_window_by_index(make_ds, pixels12):
    ds = make_ds(pixels12, bits_stored=12, WindowCenter=["2000", "1000"], WindowWidth=["4000", "500"])
    d0 = image.display_image(ds)
    d1 = image.display_image(ds, voi_index=1)
    np.testing.assert_allclose(d1, np.clip((pixels12 - 999.5) / 499 + 0.5, 0, 1), atol=2e-6)
    assert not np.allclose(d0, d1)


def test_voi_lut_sequence(make_ds, pixels12):
    ds = make_ds(pixels12, bits_stored=12)
    item = Dataset()
    # 2048 entries starting at stored value 1024, 12-bit output, a square-root shaped curve
    lut = (np.sqrt(np.linspace(0, 1, 2048)) * 4095).astype(np.uint16)
    item.LUTDescriptor = [2048, 1024, 12]
    item.LUTData = lut.tolist()
    ds.VOILUTSequence = [item]
    ds.WindowCenter, ds.WindowWidth = "100", "10"  # the LUT is preferred (pydicom's default)
    d = image.display_image(ds)
    idx = np.clip(pixels12.astype(int) - 1024, 0, 2047)
    np.testing.assert_allclose(d, lut[idx] / 4095.0, atol=1e-6)


def test_modality_lut_sequence(make_ds, pixels12):
    ds = make_ds(pixels12, bits_stored=12, WindowCenter="30000", WindowWidth="40000")
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    item.LUTData = (np.arange(4096) * 16).astype(np.uint16).tolist()
    item.ModalityLUTType = "US"
    ds.ModalityLUTSequence = [item]
    d = image.display_image(ds)
    np.testing.assert_allclose(d, _reference(pixels12, ds, 0, 65535), atol=2e-6)
    np.testing.assert_allclose(d, np.clip((pixels12 * 16.0 - 29999.5) / 39999 + 0.5, 0, 1), atol=2e-6)


def test_signed_pixels(make_ds):
    rng = np.random.default_rng(2)
    px = rng.integers(-2048, 2048, size=(30, 30), dtype=np.int16)
    ds = make_ds(px, bits_stored=12, RescaleSlope="1", RescaleIntercept="-1024",
                 WindowCenter="-1000", WindowWidth="2000")
    d = image.display_image(ds)
    np.testing.assert_allclose(d, np.clip((px - 1024.0 + 1000.5) / 1999 + 0.5, 0, 1), atol=2e-6)
    rad = image.load(ds)
    assert rad.pixels.dtype == np.int16
    np.testing.assert_array_equal(rad.pixels, px)


def test_percentile_window_without_voi():
    rng = np.random.default_rng(3)
    px = rng.normal(2000, 300, size=(500, 400)).clip(0, 4095).astype(np.uint16)
    px[0, :50] = 4095  # outliers the robust window ignores
    px[1, :50] = 0
    d = image.display_image(px)
    lo, hi = np.percentile(px, [0.5, 99.5])
    expected = np.clip((px - lo) / (hi - lo), 0, 1)
    # the window comes from a subsample/histogram: within 2 grey levels of the full-data percentiles
    assert np.abs(d - expected).max() < 2.5 / (hi - lo) * 2
    assert (d == 0).mean() == pytest.approx(0.005, abs=0.002)
    assert (d == 1).mean() == pytest.approx(0.005, abs=0.002)


def test_percentile_window_on_wide_integers():
    px = (np.arange(100_000, dtype=np.uint32).reshape(250, 400) * 40)  # needs 32 bits
    d = image.display_image(px)
    lo, hi = np.percentile(px, [0.5, 99.5])
    np.testing.assert_allclose(d, np.clip((px - lo) / (hi - lo), 0, 1), atol=1e-3)
    assert d.dtype == np.float32


def test_presentation_lut_shape_inverse(make_ds, pixels12):
    ds = make_ds(pixels12, bits_stored=12, WindowCenter="2048", WindowWidth="4096")
    normal = image.display_image(ds)
    ds.PresentationLUTShape = "INVERSE"
    np.testing.assert_allclose(image.display_image(ds), 1 - normal, atol=1e-6)
    ds.PresentationLUTShape = "IDENTITY"
    ds.PhotometricInterpretation = "MONOCHROME1"
    np.testing.assert_allclose(image.display_image(ds), 1 - normal, atol=1e-6)


def test_unusable_window_falls_back_to_percentiles(make_ds, pixels12):
    ds = make_ds(pixels12, bits_stored=12, WindowCenter="100", WindowWidth="0")  # LINEAR needs >= 1
    np.testing.assert_allclose(image.display_image(ds), image.display_image(pixels12), atol=1e-7)


def test_constant_image_is_black():
    d = image.display_image(np.full((10, 10), 7, np.uint16))
    assert d.dtype == np.float32 and not d.any()


def test_display_does_not_modify_the_dataset(make_ds, pixels12):
    ds = make_ds(pixels12, bits_stored=12, WindowCenter="700", WindowWidth="900")
    before = {kw: ds[kw].value for kw in ("BitsStored", "WindowCenter", "WindowWidth")}
    image.display_image(ds)
    assert "RescaleSlope" not in ds and "RescaleIntercept" not in ds
    assert getattr(ds, "_pixel_array", None) is None  # no decoded array cached on the caller's dataset
    assert {kw: ds[kw].value for kw in before} == before
