"""refine(): a rough click (up to ~10 mm off) snaps to the landmark."""

from __future__ import annotations

import math

import pytest

from orthoplan.landmarks import refine
from orthoplan.model import LandmarkSource


@pytest.fixture(scope="module")
def case(detected_cases):
    return detected_cases[0]


def _err_mm(lm, truth, case):
    return math.hypot(lm.x - truth.x, lm.y - truth.y) * case.case.mm_per_px


@pytest.mark.parametrize("offset_mm", [(8.0, 0.0), (-5.0, 6.0), (0.0, -9.0)])
@pytest.mark.parametrize("side", ["left", "right"])
def test_click_in_head_returns_fitted_circle(case, side, offset_mm):
    truth = case.case.landmarks[f"femoral_head_center_{side}"]
    mpp = case.case.mm_per_px
    click = (truth.x + offset_mm[0] / mpp, truth.y + offset_mm[1] / mpp)
    lm = refine(case.radiograph, f"femoral_head_center_{side}", click)
    assert lm.source is LandmarkSource.REFINED
    assert _err_mm(lm, truth, case) <= 1.0
    assert abs(lm.radius_px - truth.radius_px) * mpp <= 1.0


@pytest.mark.parametrize("anatomy, offset_mm, tol_mm", [
    ("teardrop", (4.0, -5.0), 2.0),
    ("ischial_tuberosity", (-6.0, -4.0), 4.0),
    ("lesser_trochanter", (5.0, 5.0), 3.0),
    ("greater_trochanter", (-6.0, 3.0), 3.0),
])
def test_click_near_point_landmark_snaps(case, anatomy, offset_mm, tol_mm):
    name = f"{anatomy}_left"
    truth = case.case.landmarks[name]
    mpp = case.case.mm_per_px
    click = (truth.x + offset_mm[0] / mpp, truth.y + offset_mm[1] / mpp)
    lm = refine(case.radiograph, name, click)
    assert lm.source is LandmarkSource.REFINED, name
    assert _err_mm(lm, truth, case) <= tol_mm
    assert 0.0 <= lm.confidence <= 1.0


def test_click_far_from_any_head_keeps_the_click(case):
    """Nothing head-like within 10 mm: the person's click stands (manual, not a guess)."""
    h, w = case.radiograph.shape
    lm = refine(case.radiograph, "femoral_head_center_left", (w * 0.5, h * 0.12))
    assert lm.source is LandmarkSource.MANUAL
    assert (lm.x, lm.y) == pytest.approx((w * 0.5, h * 0.12), abs=1e-3)
