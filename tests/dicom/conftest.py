"""Fixtures of the DICOM output tests: source image headers and rich plans on them."""

from __future__ import annotations

import copy
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:  # the helper module dicom_plans, under importlib import mode
    sys.path.insert(0, _HERE)

import pydicom
import pytest
from dicom_plans import make_rich_plan, truth_landmarks

from orthoplan.phantoms import pelvis as phantom
from orthoplan.model import Landmark, Plan
from orthoplan.overlay import Graphic, OverlayLayer


@pytest.fixture(scope="session")
def cr_header(real_dir) -> pydicom.Dataset:
    """The real CR hip radiograph's header, PixelData dropped (as Radiograph.dataset)."""
    ds = pydicom.dcmread(real_dir / "hip_cr_rg2.dcm", stop_before_pixels=True)
    assert "PixelData" not in ds
    return ds


@pytest.fixture(scope="session")
def dx_case():
    """A small synthetic DX pelvis (800 x 1000, 0.4 mm detector pixels) with its truth."""
    return phantom.make_pelvis(rows=800, columns=1000, detector_spacing_mm=0.4, seed=3)


@pytest.fixture(scope="session")
def dx_header(dx_case) -> pydicom.Dataset:
    ds = copy.deepcopy(dx_case.dataset)
    del ds.PixelData
    return ds


@pytest.fixture(scope="session")
def cr_landmarks(dx_case) -> list[Landmark]:
    """Plausible landmarks on the 1760 x 2140 CR (the synthetic truth scaled by 1.7)."""
    return truth_landmarks(dx_case, 1.7)


@pytest.fixture(scope="session")
def dx_landmarks(dx_case) -> list[Landmark]:
    return truth_landmarks(dx_case, 1.0)


@pytest.fixture(scope="session")
def cr_plan(cr_header, cr_landmarks) -> Plan:
    return make_rich_plan(cr_header, cr_landmarks)


@pytest.fixture(scope="session")
def dx_plan(dx_header, dx_landmarks) -> Plan:
    return make_rich_plan(dx_header, dx_landmarks, status="draft", author="Radiologist^Bea")


@pytest.fixture(scope="session")
def hand_layers() -> tuple[OverlayLayer, ...]:
    """Overlay layers built by hand: every graphic kind, a part outside the image, labels."""
    return (
        OverlayLayer("LANDMARKS", "Landmarks", (0, 255, 255), (
            Graphic("point", ((10.5, 20.5),), label="TD 0.93", confidence=0.93),
            Graphic("point", ((300.25, 400.75),)),
            Graphic("point", ((-5.0, 10.0),), label="outside"),
        )),
        OverlayLayer("hip left / Hüfte", "Left hip — offsets", (90, 200, 255), (
            Graphic("circle", ((500.0, 300.0),), radius_px=40.0, label="head"),
            Graphic("polyline", ((100.0, 100.0), (200.0, 150.0), (250.0, 120.0))),
            Graphic("polyline", ((-50.0, 50.0), (50.0, 50.0))),  # starts outside the image
            Graphic("polyline", ((100.0, 100.0), (150.0, 100.0), (150.0, 150.0)), closed=True),
        )),
        OverlayLayer("TEXT", "Values", (255, 255, 255), (
            Graphic("text", ((20.0, 700.0),), label="LLD +4.2 mm (L longer) — assumed ±7.5 %"),
        )),
        OverlayLayer("EMPTY", "Nothing to draw", (255, 0, 0), ()),
    )
