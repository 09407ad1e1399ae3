"""The per-measurement pure functions on float64 mm points, against analytic truth (1e-9)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pelvis_builder import SIDES, Pelvis

from orthoplan.errors import MeasurementError
from orthoplan.measurements import (
    acetabular_offset_mm,
    center_edge_angle_deg,
    femoral_offset_mm,
    leg_length_discrepancy_mm,
    neck_shaft_angle_deg,
    pelvic_reference,
    sharp_angle_deg,
    tonnis_angle_deg,
)
from orthoplan.model import ImageOrientation

TOL = 1e-9


def _rot(theta_deg: float):
    t = math.radians(theta_deg)
    m = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    return lambda p: m @ np.asarray(p, float)


@pytest.mark.parametrize("theta", [-10.0, 0.0, 10.0, 33.0])
def test_pure_functions_reproduce_the_construction_in_any_rotated_frame(theta):
    """Frame (u, v) = (patient left, superior) rotated by theta, then translated."""
    pelvis = Pelvis()
    rot = _rot(theta)
    shift = np.array([-321.5, 1234.25])
    pts = {k: rot(v) + shift for k, v in pelvis.points().items()}
    truth = pelvis.truth()
    sup, left = rot((0.0, 1.0)), rot((1.0, 0.0))

    lld = leg_length_discrepancy_mm(
        pts["teardrop_left"], pts["teardrop_right"], pts["lesser_trochanter_left"], pts["lesser_trochanter_right"], sup
    )
    assert lld == pytest.approx(truth["lld_teardrop_mm"], abs=TOL)
    for side in SIDES:
        lat = left if side == "left" else -left
        g = lambda a: pts[f"{a}_{side}"]  # noqa: E731
        assert femoral_offset_mm(g("femoral_head_center"), g("femoral_shaft_proximal"), g("femoral_shaft_distal")) == (
            pytest.approx(truth[f"femoral_offset_{side}_mm"], abs=TOL)
        )
        assert acetabular_offset_mm(g("femoral_head_center"), g("teardrop"), lat) == pytest.approx(
            truth[f"acetabular_offset_{side}_mm"], abs=TOL
        )
        assert neck_shaft_angle_deg(
            g("femoral_head_center"), g("femoral_neck_center"), g("femoral_shaft_proximal"), g("femoral_shaft_distal")
        ) == pytest.approx(truth[f"neck_shaft_angle_{side}_deg"], abs=TOL)
        assert center_edge_angle_deg(g("femoral_head_center"), g("acetabular_lateral_edge"), sup, lat) == pytest.approx(
            truth[f"lcea_{side}_deg"], abs=TOL
        )
        assert tonnis_angle_deg(g("sourcil_medial"), g("acetabular_lateral_edge"), sup, lat) == pytest.approx(
            truth[f"tonnis_angle_{side}_deg"], abs=TOL
        )
        assert sharp_angle_deg(g("teardrop"), g("acetabular_lateral_edge"), sup, lat) == pytest.approx(
            truth[f"sharp_angle_{side}_deg"], abs=TOL
        )


def test_lld_sign_left_longer_positive_and_independent_of_point_order_and_superior_length():
    # teardrop line y = 0 in an image-like frame (y down, superior = -y)
    args = ((50.0, 0.0), (-50.0, 0.0), (60.0, 70.0), (-60.0, 62.0))
    assert leg_length_discrepancy_mm(*args, superior=(0.0, -1.0)) == pytest.approx(8.0, abs=TOL)
    assert leg_length_discrepancy_mm(*args, superior=(0.3, -5.0)) == pytest.approx(8.0, abs=TOL)
    # right trochanter further distal: right leg longer, negative
    assert leg_length_discrepancy_mm((50, 0), (-50, 0), (60, 62), (-60, 70), (0, -1)) == pytest.approx(-8.0, abs=TOL)
    # the superior direction decides the sign (flipped image: head towards +y)
    assert leg_length_discrepancy_mm(*args, superior=(0.0, 1.0)) == pytest.approx(-8.0, abs=TOL)


@pytest.mark.parametrize("lcea", [-15.0, -1.0, 0.0, 12.0, 35.0])
def test_lcea_sign_negative_when_edge_medial(lcea):
    t = math.radians(lcea)
    for lateral in ((1.0, 0.0), (-1.0, 0.0)):
        edge = (lateral[0] * 20 * math.sin(t), 20 * math.cos(t))
        assert center_edge_angle_deg((0, 0), edge, (0, 1), lateral) == pytest.approx(lcea, abs=TOL)


@pytest.mark.parametrize("tonnis", [-12.0, -3.0, 0.0, 7.5, 20.0])
def test_tonnis_sign_negative_when_lateral_end_lower(tonnis):
    t = math.radians(tonnis)
    sm = np.array([5.0, 7.0])
    for lateral in ((1.0, 0.0), (-1.0, 0.0)):
        edge = sm + 18 * np.array([lateral[0] * math.cos(t), math.sin(t)])
        assert tonnis_angle_deg(sm, edge, (0, 1), lateral) == pytest.approx(tonnis, abs=TOL)


def test_acetabular_offset_negative_when_head_medial_to_teardrop():
    assert acetabular_offset_mm((90, 30), (100, 0), (1, 0)) == pytest.approx(-10.0, abs=TOL)
    assert acetabular_offset_mm((-90, 30), (-100, 0), (-1, 0)) == pytest.approx(-10.0, abs=TOL)


def test_femoral_offset_is_unsigned_and_needs_one_mm_of_shaft():
    assert femoral_offset_mm((50, 0), (0, 0), (0, 100)) == pytest.approx(50.0, abs=TOL)
    assert femoral_offset_mm((-50, 0), (0, 0), (0, 100)) == pytest.approx(50.0, abs=TOL)
    with pytest.raises(MeasurementError, match="femoral_shaft_proximal and femoral_shaft_distal"):
        femoral_offset_mm((50, 0), (0, 0), (0, 0.9))


@pytest.mark.parametrize(
    "call",
    [
        lambda: neck_shaft_angle_deg((0, 0), (0, 0), (0, 10), (0, 100)),
        lambda: center_edge_angle_deg((1, 1), (1, 1), (0, 1), (1, 0)),
        lambda: tonnis_angle_deg((1, 1), (1.5, 1.5), (0, 1), (1, 0)),
        lambda: sharp_angle_deg((0, 0), (0, 0), (0, 1), (1, 0)),
        lambda: leg_length_discrepancy_mm((0, 0), (0.5, 0), (10, 10), (-10, 10), (0, 1)),
        lambda: center_edge_angle_deg((0, 0), (3, 3), (0, 1), (0, 2)),  # lateral parallel to superior
        lambda: femoral_offset_mm((np.nan, 0), (0, 0), (0, 100)),
    ],
)
def test_degenerate_geometry_raises_measurement_error(call):
    with pytest.raises(MeasurementError):
        call()


def test_pelvic_reference_fallbacks_and_orientation():
    orient = ImageOrientation(patient_left_x=1, superior_y=-1)
    tilted = {"teardrop_right": (0.0, 0.0), "teardrop_left": (100.0, -10.0)}  # left end higher on screen
    ref = pelvic_reference(tilted, orient)
    assert ref.line == "teardrop"
    d = np.array([100.0, -10.0]) / math.hypot(100, 10)
    np.testing.assert_allclose(ref.left, d, atol=TOL)
    np.testing.assert_allclose(ref.superior, [d[1], -d[0]], atol=TOL)  # perpendicular, pointing up (-y)
    assert ref.superior @ ref.left == pytest.approx(0.0, abs=TOL)
    # landmark order does not matter for the frame: swapped sides give the same frame
    swapped = {"teardrop_right": (100.0, -10.0), "teardrop_left": (0.0, 0.0)}
    np.testing.assert_allclose(pelvic_reference(swapped, orient).left, ref.left, atol=TOL)
    # mirrored image: the patient's left is towards -x
    mir = pelvic_reference({"teardrop_right": (100.0, 0.0), "teardrop_left": (0.0, 0.0)}, ImageOrientation(-1, -1))
    np.testing.assert_allclose(mir.left, [-1, 0], atol=TOL)
    np.testing.assert_allclose(mir.superior, [0, -1], atol=TOL)
    # bi-ischial when a teardrop is missing or the teardrops coincide
    isch = {"ischial_tuberosity_right": (0.0, 50.0), "ischial_tuberosity_left": (100.0, 50.0)}
    assert pelvic_reference({**isch, "teardrop_left": (1.0, 1.0)}, orient).line == "ischial"
    assert pelvic_reference({**isch, "teardrop_left": (1, 1), "teardrop_right": (1.2, 1)}, orient).line == "ischial"
    # image axes last, flipped superior respected
    ref = pelvic_reference({}, ImageOrientation(1, 1))
    assert ref.line == "image"
    np.testing.assert_allclose(ref.superior, [0, 1])
    np.testing.assert_allclose(ref.left, [1, 0])
