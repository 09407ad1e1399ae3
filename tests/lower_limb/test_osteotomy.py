"""Osteotomy plans: the requested weight-bearing line within 1 % of the plateau width, and the
predictions re-measured from the moved landmarks."""

from __future__ import annotations

import math

import pytest

from orthoplan.errors import MeasurementError
from orthoplan.geometry import distance, to_mm
from orthoplan.model import Calibration
from orthoplan.osteotomy import FUJISAWA_FRACTION, OsteotomyPlan, plan_dfo, plan_hto, summary


def _cal(case):
    return Calibration(case.mm_per_px, "ball-marker", 1.0)


@pytest.mark.parametrize("wedge", ["opening", "closing"])
@pytest.mark.parametrize("kind, side, plx", [("tibial_varus", "right", 1), ("joint_line_varus", "left", -1),
                                              ("femoral_varus", "left", 1), ("combined_varus", "right", -1)])
def test_hto_reaches_the_fujisawa_point(make_case, kind, side, plx, wedge):
    right, left = (kind, "neutral") if side == "right" else ("neutral", kind)
    case = make_case(right, left, "MONOCHROME2", plx, 21)
    plan = plan_hto(case.landmarks, _cal(case), side, case.orientation, wedge=wedge)
    assert isinstance(plan, OsteotomyPlan) and plan.kind == "hto" and plan.wedge == wedge
    assert plan.achieved_fraction == pytest.approx(FUJISAWA_FRACTION, abs=0.01)
    assert plan.direction == "valgus" and plan.notes == ()
    s = side
    before, after = plan.before, plan.predicted
    # the new axis passes lateral of the knee centre (62.5 %): the MAD turns lateral (negative)
    assert after[f"mad_{s}_mm"].value < 0 < before[f"mad_{s}_mm"].value
    assert after[f"hka_{s}_deg"].value > before[f"hka_{s}_deg"].value
    assert after[f"mpta_{s}_deg"].value > before[f"mpta_{s}_deg"].value
    assert after[f"jlca_{s}_deg"].value == pytest.approx(before[f"jlca_{s}_deg"].value, abs=1e-3)
    assert after[f"mldfa_{s}_deg"].value == pytest.approx(before[f"mldfa_{s}_deg"].value, abs=1e-3)
    # the tibia rotates rigidly about the hinge: its length from the hinge is kept
    cal = _cal(case)
    h = to_mm(plan.hinge_px, cal)
    for name in (f"ankle_center_{s}", f"tibial_plafond_medial_{s}"):
        assert distance(to_mm(plan.landmarks[name].xy, cal), h) == pytest.approx(
            distance(to_mm(case.landmarks[name].xy, cal), h), abs=1e-3)
    assert plan.wedge_height_mm == pytest.approx(
        2 * plan.osteotomy_length_mm * math.sin(math.radians(plan.correction_deg) / 2))
    assert 0 < plan.correction_deg < 20
    # the other leg is untouched
    other = "left" if s == "right" else "right"
    assert plan.landmarks[f"ankle_center_{other}"] == case.landmarks[f"ankle_center_{other}"]
    row = summary(plan)
    assert row["predicted_hka_deg"] == after[f"hka_{s}_deg"].value and row["direction"] == "valgus"


def test_hto_opening_and_closing_differ_by_the_hinge(make_case):
    case = make_case("tibial_varus", "neutral", "MONOCHROME2", 1, 21)
    o = plan_hto(case.landmarks, _cal(case), "right", case.orientation, wedge="opening")
    c = plan_hto(case.landmarks, _cal(case), "right", case.orientation, wedge="closing")
    lat = case.orientation.lateral_x("right")
    assert (o.hinge_px[0] - c.hinge_px[0]) * lat > 0  # opening: lateral hinge
    assert o.rotation_deg * c.rotation_deg > 0


@pytest.mark.parametrize("fraction", [0.5, 0.55, 0.7])
def test_hto_other_targets_and_a_given_hinge(make_case, fraction):
    case = make_case("tibial_varus", "neutral", "MONOCHROME1", -1, 22)
    cal = _cal(case)
    pl = case.landmarks["tibial_plateau_lateral_right"]
    hinge = (pl.x + 8 * case.orientation.lateral_x("left"), pl.y + 20)  # 8 px medial, 20 px down
    plan = plan_hto(case.landmarks, cal, "right", case.orientation, target_fraction=fraction, hinge_px=hinge,
                    osteotomy_length_mm=60.0)
    assert plan.achieved_fraction == pytest.approx(fraction, abs=0.01)
    assert plan.hinge_px == pytest.approx(hinge)
    assert plan.osteotomy_length_mm == 60.0


def test_a_varus_target_for_an_hto_is_flagged(make_case):
    case = make_case("tibial_valgus", "neutral", "MONOCHROME2", 1, 23)
    plan = plan_hto(case.landmarks, _cal(case), "right", case.orientation)
    assert plan.achieved_fraction == pytest.approx(FUJISAWA_FRACTION, abs=0.01)
    assert plan.direction == "varus" and "valgus" in plan.notes[0]


@pytest.mark.parametrize("wedge", ["opening", "closing"])
@pytest.mark.parametrize("kind, side, plx", [("femoral_valgus", "right", 1), ("femoral_valgus", "left", -1),
                                              ("joint_line_valgus", "right", -1)])
def test_dfo_brings_a_valgus_knee_to_the_centre(make_case, kind, side, plx, wedge):
    right, left = (kind, "neutral") if side == "right" else ("neutral", kind)
    case = make_case(right, left, "MONOCHROME2", plx, 24)
    plan = plan_dfo(case.landmarks, _cal(case), side, case.orientation, wedge=wedge)
    assert plan.achieved_fraction == pytest.approx(0.5, abs=0.01)
    assert plan.direction == "varus" and plan.notes == ()
    s = side
    assert plan.predicted[f"mldfa_{s}_deg"].value > plan.before[f"mldfa_{s}_deg"].value
    assert plan.predicted[f"mpta_{s}_deg"].value == pytest.approx(plan.before[f"mpta_{s}_deg"].value, abs=1e-3)
    assert plan.predicted[f"jlca_{s}_deg"].value == pytest.approx(plan.before[f"jlca_{s}_deg"].value, abs=1e-3)
    assert abs(plan.predicted[f"mad_{s}_mm"].value) < abs(plan.before[f"mad_{s}_mm"].value)


def test_missing_landmarks_are_named(make_case):
    case = make_case("tibial_varus", "neutral", "MONOCHROME2", 1, 21)
    lms = case.landmarks.without("tibial_plateau_medial_right", "not found in image")
    with pytest.raises(MeasurementError, match="needs tibial_plateau_medial_right: not found in image"):
        plan_hto(lms, _cal(case), "right", case.orientation)
    with pytest.raises(MeasurementError, match="wedge"):
        plan_hto(case.landmarks, _cal(case), "right", case.orientation, wedge="dome")


def test_a_bad_side_is_an_orthoplan_error(make_case):
    from orthoplan.errors import PlanError, SideError
    from orthoplan.model import Side

    assert Side("Left") is Side.LEFT and Side(" RIGHT") is Side.RIGHT
    case = make_case("tibial_varus", "neutral", "MONOCHROME2", 1, 21)
    with pytest.raises(SideError, match="'left' or 'right'") as err:
        plan_hto(case.landmarks, _cal(case), "both", case.orientation)
    assert isinstance(err.value, PlanError) and isinstance(err.value, ValueError)
