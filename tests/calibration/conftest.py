"""Fixtures of the calibration tests: small drawn radiographs with known discs, synthetic pelvises."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from orthoplan import image as op_image
from orthoplan.model import ImageReference, Radiograph, SpacingTags


def draw_radiograph(
    shape: tuple[int, int] = (600, 700),
    discs: Sequence[tuple[float, float, float]] = (),
    *,
    disc_level: float = 0.6,
    bone_bars: Sequence[tuple[float, float]] = ((300.0, 60.0),),
    noise: float = 0.01,
    seed: int = 0,
    spacing: SpacingTags | None = None,
    aspect: float = 1.0,
) -> Radiograph:
    """A display image like a radiograph: soft tissue, bright bone bars, metal discs, noise.

    ``discs`` are ``(x, y, r)`` in image coordinates (DICOM origin), ``r`` along x; with
    ``aspect`` (row/column spacing) != 1 they are drawn as the ellipses a ball makes on
    anisotropic pixels. ``bone_bars`` are ``(x_centre, half_width)`` vertical bars. The disc
    edge is exact to 1/16 px (4 x 4 supersampling), then blurred like a detector.
    """
    rows, cols = shape
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float64) + 0.5
    img = 0.25 + 0.15 * np.exp(-(((xx - cols / 2) / (cols / 2.5)) ** 2))  # soft tissue
    for bx, hw in bone_bars:
        img += 0.25 * np.clip(1.0 - np.abs(xx - bx) / hw, 0.0, None) ** 0.3 * (np.abs(xx - bx) < hw)
    for cx, cy, r in discs:
        cover = np.zeros_like(img)
        for oy in (-0.375, -0.125, 0.125, 0.375):
            for ox in (-0.375, -0.125, 0.125, 0.375):
                cover += np.hypot(xx + ox - cx, (yy + oy - cy) * aspect) < r
        # steel saturates: inside the disc the level is flat whatever lies behind it
        img = img * (1.0 - cover / 16.0) + (0.35 + disc_level) * cover / 16.0
    img = ndimage.gaussian_filter(img, 0.8)
    rng = np.random.default_rng(seed)
    img = img + rng.normal(0.0, noise, img.shape)
    display = np.clip(img / max(1.0, img.max()), 0.0, 1.0).astype(np.float32)
    pixels = np.round(display * 4095).astype(np.uint16)
    return Radiograph(
        pixels=pixels,
        display=display,
        reference=ImageReference(rows=rows, columns=cols, modality="DX"),
        spacing=spacing or SpacingTags(),
    )


@pytest.fixture(scope="session")
def drawn():
    """The :func:`draw_radiograph` factory."""
    return draw_radiograph


@functools.lru_cache(maxsize=64)
def _synthetic(**kwargs):
    from orthoplan.phantoms import pelvis as phantom

    case = phantom.make_pelvis(**kwargs)
    return case, op_image.from_dataset(case.dataset)


def synthetic_case(**kwargs):
    """``(SyntheticCase, Radiograph)`` from :func:`orthoplan.phantoms.pelvis.make_pelvis`, cached."""
    return _synthetic(**kwargs)


@pytest.fixture(scope="session")
def synth():
    """The cached :func:`synthetic_case` factory."""
    return synthetic_case


@pytest.fixture(scope="session")
def real_images(real_dir: Path) -> dict[str, Radiograph]:
    """The real radiographs, loaded once."""
    return {
        "chest": op_image.load(real_dir / "chest_cr_rg1_zero_spacing.dcm"),
        "hip": op_image.load(real_dir / "hip_cr_rg2.dcm"),
        "leg": op_image.load(real_dir / "lower_leg_cr_rg3_mono1.dcm"),
    }
