"""The pure lower-limb functions on hand-computed geometry (mm, y down as in images)."""

from __future__ import annotations

import math

import pytest

from orthoplan.errors import MeasurementError
from orthoplan.measurements import malalignment_test
from orthoplan.measurements.lower_limb import (
    ama_deg,
    hka_deg,
    jlca_deg,
    ldta_deg,
    mad_mm,
    mldfa_deg,
    mlpfa_deg,
    mpta_deg,
)
from orthoplan.osteotomy import miniaci_ankle, plateau_fraction, plateau_point, wedge_height_mm

T5 = math.tan(math.radians(5))


@pytest.mark.parametrize("lateral", [(1, 0), (-1, 0)])
def test_hka_sign_follows_the_patient_lateral(lateral):
    lx = lateral[0]
    # the tibia turns 5 deg towards the patient's lateral side: valgus, positive
    assert hka_deg((0, 0), (0, 400), (0, 400), (lx * 380 * T5, 780), lateral) == pytest.approx(5.0)
    # and medially: varus, negative
    assert hka_deg((0, 0), (0, 400), (0, 400), (-lx * 380 * T5, 780), lateral) == pytest.approx(-5.0)
    assert hka_deg((0, 0), (0, 400), (0, 410), (0, 800), lateral) == pytest.approx(0.0)


def test_hka_does_not_need_a_vertical_limb():
    # a straight limb tilted 30 deg in the image, then 4 deg of varus at the knee
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    rot = lambda x, y: (c * x - s * y, s * x + c * y)  # noqa: E731
    lat = rot(1, 0)
    k = rot(0, 400)
    a = rot(-380 * math.tan(math.radians(4)), 780)
    assert hka_deg(rot(0, 0), k, k, a, lat) == pytest.approx(-4.0)


def test_hka_refuses_a_limb_along_the_mediolateral_direction():
    with pytest.raises(MeasurementError, match="medio-lateral"):
        hka_deg((0, 0), (400, 0), (400, 0), (800, 0), (1, 0))


def test_mad_hand_values():
    # axis from (0,0) to (0,800); knee 10 mm lateral (lateral = +x): axis medial to knee, varus +
    assert mad_mm((0, 0), (0, 800), (10, 400), (1, 0)) == pytest.approx(10.0)
    assert mad_mm((0, 0), (0, 800), (-7, 400), (1, 0)) == pytest.approx(-7.0)
    # the same on the other side of the image (lateral = -x)
    assert mad_mm((0, 0), (0, 800), (-10, 400), (-1, 0)) == pytest.approx(10.0)
    # an oblique axis: 3-4-5 triangle
    assert mad_mm((0, 0), (600, 800), (400, 200), (1, 0)) == pytest.approx((400 * 0.8 - 200 * 0.6))


def test_joint_angles_hand_values():
    # femur along +y (distal), lateral +x
    assert mlpfa_deg((0, 0), (0, 400), (55, 0)) == pytest.approx(90.0)
    assert mlpfa_deg((0, 0), (0, 400), (55, -55)) == pytest.approx(135.0)  # high trochanter
    # condylar line whose lateral end is 50*tan(5) lower: varus, mLDFA 95
    assert mldfa_deg((0, -400), (0, 0), (-25, 10), (25, 10 + 50 * T5)) == pytest.approx(95.0)
    # plateau whose medial end is lower by 60*tan(3): medial angle 87 (varus tibia)
    assert mpta_deg((0, 0), (0, 380), (-30, 5 + 60 * math.tan(math.radians(3))), (30, 5)) == pytest.approx(87.0)
    assert ldta_deg((0, 0), (0, 380), (-15, 375), (15, 375 - 30 * math.tan(math.radians(2)))) == pytest.approx(88.0)
    assert ama_deg((0, 0), (0, 400), (40, 0), (40 - 400 * math.tan(math.radians(7)), 400)) == pytest.approx(7.0)


@pytest.mark.parametrize("lx", [1, -1])
def test_jlca_sign(lx):
    # plateau lateral end 60*tan(4) further distal than the medial end, condyles level:
    # converging medially, +4 whatever side of the image the leg is on
    drop = 60 * math.tan(math.radians(4))
    assert jlca_deg((-lx * 25, 0), (lx * 25, 0), (-lx * 30, 5), (lx * 30, 5 + drop), (0, 1)) == pytest.approx(4.0)
    assert jlca_deg((-lx * 25, 0), (lx * 25, 0), (-lx * 30, 5 + drop), (lx * 30, 5), (0, 1)) == pytest.approx(-4.0)


def test_degenerate_points_raise():
    with pytest.raises(MeasurementError, match="apart"):
        mldfa_deg((0, 0), (0, 400), (3, 410), (3.5, 410))
    with pytest.raises(MeasurementError, match="apart"):
        hka_deg((0, 0), (0, 0.5), (0, 400), (0, 800), (1, 0))


@pytest.mark.parametrize(
    "mad, mldfa, mpta, jlca, alignment, origins, compensating",
    [
        (8.0, 87.5, 87.5, 1.0, "neutral", (), ()),
        (30.0, 95.0, 87.5, 1.0, "varus", ("femoral",), ()),
        (30.0, 87.5, 80.0, 1.0, "varus", ("tibial",), ()),
        (30.0, 87.5, 87.5, 6.0, "varus", ("joint_line",), ()),
        (40.0, 93.0, 82.0, 4.0, "varus", ("femoral", "tibial", "joint_line"), ()),
        (-20.0, 80.0, 87.5, 1.0, "valgus", ("femoral",), ()),
        (-20.0, 87.5, 94.0, 1.0, "valgus", ("tibial",), ()),
        (-20.0, 87.5, 87.5, -3.0, "valgus", ("joint_line",), ()),
        (25.0, 84.0, 78.0, 1.0, "varus", ("tibial",), ("femoral",)),  # femoral valgus compensates
        (20.0, 88.0, 86.0, 1.0, "varus", (), ()),  # no single level: combined
        (0.0, 87.5, 87.5, 1.0, "valgus", (), ()),  # MAD 0: lateral of the normal 1-15 mm medial
        (15.0, 87.5, 87.5, 1.0, "neutral", (), ()),
    ],
)
def test_malalignment_test_steps(mad, mldfa, mpta, jlca, alignment, origins, compensating):
    v = malalignment_test(mad, mldfa_deg=mldfa, mpta_deg=mpta, jlca_deg=jlca, side="right")
    assert (v.alignment, v.origins, v.compensating) == (alignment, origins, compensating)
    assert v.note.startswith(f"malalignment test: {alignment}")
    assert len(v.findings) == 4


def test_malalignment_test_names_unmeasured_levels():
    v = malalignment_test(30.0, mpta_deg=80.0, side="left")
    assert v.origins == ("tibial",)
    assert any("mLDFA not measured" in f for f in v.findings)
    assert any("JLCA not measured" in f for f in v.findings)
    assert "combined" in malalignment_test(30.0, side="left").note


def test_osteotomy_pure_functions():
    assert plateau_fraction((0, 0), (0, 800), (-40, 400), (40, 400)) == pytest.approx(0.5)
    # medial margin on the right of the picture: fractions still count from medial
    assert plateau_fraction((-10, 0), (-10, 800), (40, 400), (-40, 400)) == pytest.approx(0.625)
    assert plateau_point((40, 400), (-40, 400), 0.625).tolist() == [-10.0, 400.0]
    # Miniaci: the new ankle lies on the circle about the hinge and on the new WBL
    hinge, ankle, target = (-35.0, 410.0), (0.0, 800.0), (-10.0, 400.0)
    new, angle = miniaci_ankle((0, 0), ankle, hinge, target)
    assert math.dist(new, hinge) == pytest.approx(math.dist(ankle, hinge))
    assert plateau_fraction((0, 0), new, (40, 400), (-40, 400)) == pytest.approx(0.625)
    assert abs(angle) > 0
    assert wedge_height_mm(10.0, 60.0) == pytest.approx(2 * 60 * math.sin(math.radians(5)))
    assert wedge_height_mm(-10.0, 60.0) == wedge_height_mm(10.0, 60.0)
    with pytest.raises(MeasurementError, match="parallel"):
        plateau_fraction((0, 0), (100, 0), (-40, 400), (40, 400))
