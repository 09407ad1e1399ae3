"""Predicted reconstruction against geometry computed here from the truth landmarks, and edits."""

from __future__ import annotations

import math

import numpy as np
import pytest
from templating_cases import planned_case

from orthoplan.errors import CatalogError, TemplatingError
from orthoplan.model import Calibration, LandmarkName, Plan
from orthoplan.pipeline import recalibrate
from orthoplan.measurements import measure_hip
from orthoplan.pipeline import template_hip, update_placement
from orthoplan.templating import ASSUMED_SCALE_NOTE, predict, templating_summary

STEM, STEM_SIZE, LEVEL_MM, NECK_MM = "generic uncemented straight stem", "6", 15.0, 3.5


def _mm(plan: Plan, name: str) -> np.ndarray:
    return np.array(plan.landmarks[name].xy) * plan.calibration.mm_per_px


def _unit(v):
    return np.asarray(v, float) / np.linalg.norm(v)


def analytic_left(plan: Plan, stem) -> dict[str, float]:
    """The prediction for a left THA, cup at the mirrored right head centre, from first principles."""
    tl, tr = _mm(plan, "teardrop_left"), _mm(plan, "teardrop_right")
    along = _unit(tl - tr)
    sup = np.array([along[1], -along[0]])
    sup = sup if sup[1] < 0 else -sup  # image superior is -y
    inf = -sup
    mid = (tl + tr) / 2
    hr = _mm(plan, "femoral_head_center_right")
    foot_c = mid + ((hr - mid) @ sup) * sup
    cup = 2 * foot_c - hr  # the right centre mirrored across the midline
    sp, sd, lt = (_mm(plan, n) for n in ("femoral_shaft_proximal_left", "femoral_shaft_distal_left", "lesser_trochanter_left"))
    d = _unit(sd - sp)
    n = np.array([-d[1], d[0]])
    n = n if n[0] < 0 else -n  # medial on a left hip of a standard AP image
    foot = sp + ((lt - sp) @ d) * d
    cut = foot - LEVEL_MM * d
    taper = cut - stem.resection_level_mm * d + stem.horizontal_offset_mm * n
    a = math.radians(180.0 - stem.neck_shaft_angle_deg)
    head = taper + NECK_MM * (math.sin(a) * n - math.cos(a) * d)
    lt_new = lt + (cup - head)
    ltr = _mm(plan, "lesser_trochanter_right")
    return {
        "lld_teardrop_mm": float((lt_new - tr) @ inf - (ltr - tr) @ inf),
        "femoral_offset_left_mm": stem.horizontal_offset_mm + NECK_MM * math.sin(a),
    }


@pytest.fixture(scope="module")
def left_plan(catalog):
    case, rad, plan = planned_case(1)
    out = template_hip(plan, rad, catalog, "left", stem_family=STEM, stem_size=STEM_SIZE,
                       neck_length_mm=NECK_MM, resection_above_lt_mm=LEVEL_MM, cup_center="mirrored")
    return case, rad, out


def test_prediction_equals_the_analytic_reconstruction(left_plan, catalog):
    case, _rad, plan = left_plan
    stem = catalog.find(STEM).size(STEM_SIZE)
    expected = analytic_left(plan, stem)
    pred = plan.predictions
    assert pred["lld_teardrop_mm"].value == pytest.approx(expected["lld_teardrop_mm"], abs=0.5)
    assert pred["femoral_offset_left_mm"].value == pytest.approx(expected["femoral_offset_left_mm"], abs=0.5)
    # the cup sits at the mirrored right centre: the right acetabular offset of the phantom
    assert pred["acetabular_offset_left_mm"].value == pytest.approx(case.params.right.acetabular_offset_mm, abs=0.5)
    assert pred["global_offset_left_mm"].value == pytest.approx(
        expected["femoral_offset_left_mm"] + case.params.right.acetabular_offset_mm, abs=0.5)
    # and the pre-operative values are the phantom's
    assert plan.measurements["femoral_offset_left_mm"].value == pytest.approx(case.params.left.femoral_offset_mm, abs=0.05)


def test_summary_reports_choices_prediction_and_change(left_plan, catalog):
    _case, _rad, plan = left_plan
    s = templating_summary(plan, "left", catalog)
    assert s["stem"]["size"] == STEM_SIZE and s["stem"]["resection_above_lt_mm"] == pytest.approx(LEVEL_MM, abs=1e-3)
    assert s["head"]["neck_length_mm"] == NECK_MM and s["head"]["diameter_mm"] in (28.0, 32.0, 36.0)
    assert {"vendor", "family", "size", "outer_diameter_mm", "coverage_pct"} <= set(s["cup"])
    for name, value in s["change"].items():
        assert value == pytest.approx(s["predicted"][name] - s["preoperative"][name])
    assert set(s["predicted"]) == {"lld_teardrop_mm", "lld_ischial_mm", "femoral_offset_left_mm",
                                   "acetabular_offset_left_mm", "global_offset_left_mm"}


def test_automatic_neck_and_depth_restore_length(catalog):
    """Without forced sizes the stem depth and neck length bring the legs to within 4 mm."""
    for seed in (0, 2, 3):
        _case, rad, plan = planned_case(seed)
        for side in ("left", "right"):
            out = template_hip(plan, rad, catalog, side)
            assert abs(out.predictions["lld_teardrop_mm"].value) < 4.0, (seed, side)


def test_moving_the_stem_up_lengthens_the_leg_by_the_move(left_plan):
    """10 px up the shaft axis: the femur is pulled 10 px further down, the offset is unchanged."""
    _case, _rad, plan = left_plan
    mpp = plan.calibration.mm_per_px
    sp, sd = (np.array(plan.landmarks[n].xy) for n in ("femoral_shaft_proximal_left", "femoral_shaft_distal_left"))
    up = -10.0 * _unit(sd - sp)
    edited = update_placement(plan, "stem", "left", move_px=tuple(up))
    tl, tr = (np.array(plan.landmarks[n].xy) for n in ("teardrop_left", "teardrop_right"))
    along = _unit(tl - tr)
    inf = np.array([-along[1], along[0]])
    inf = inf if inf[1] > 0 else -inf
    change = edited.predictions["lld_teardrop_mm"].value - plan.predictions["lld_teardrop_mm"].value
    assert change == pytest.approx(float(-up @ inf) * mpp, abs=1e-3)
    stem, head = edited.placement("stem", "left"), edited.placement("head", "left")
    assert not stem.auto and stem.y == pytest.approx(plan.placement("stem", "left").y + up[1], abs=1e-3)
    assert head.y == pytest.approx(plan.placement("head", "left").y + up[1], abs=1e-3)  # the head rides along
    assert edited.predictions["femoral_offset_left_mm"].value == pytest.approx(
        plan.predictions["femoral_offset_left_mm"].value, abs=1e-3)


def test_cup_move_rotate_resize(left_plan, catalog):
    _case, _rad, plan = left_plan
    mpp = plan.calibration.mm_per_px
    moved = update_placement(plan, "cup", "left", move_px=(5.0, 0.0), angle_deg=45.0, size=52)
    cup = moved.placement("cup", "left")
    assert (cup.size, cup.angle_deg, cup.auto) == ("52", 45.0, False)
    tl, tr = (np.array(plan.landmarks[n].xy) for n in ("teardrop_left", "teardrop_right"))
    lateral = _unit(tl - tr)  # the left hip's lateral is towards the patient's left
    change = moved.predictions["acetabular_offset_left_mm"].value - plan.predictions["acetabular_offset_left_mm"].value
    assert change == pytest.approx(5.0 * lateral[0] * mpp, abs=1e-3)
    with pytest.raises(CatalogError, match="unknown size '53'"):
        update_placement(plan, "cup", "left", size=53)


def test_neck_length_and_head_edits(left_plan, catalog):
    _case, _rad, plan = left_plan
    stem = catalog.find(STEM).size(STEM_SIZE)
    longer = update_placement(plan, "head", "left", neck_length_mm=7.0)
    gain = (7.0 - NECK_MM) * math.sin(math.radians(180 - stem.neck_shaft_angle_deg))
    assert longer.predictions["femoral_offset_left_mm"].value - plan.predictions["femoral_offset_left_mm"].value == pytest.approx(gain, abs=1e-3)
    with pytest.raises(CatalogError, match="options"):
        update_placement(plan, "head", "left", neck_length_mm=5.0)


def test_stem_rotation_and_resize_keep_the_head_on_the_neck_and_the_cut(left_plan, catalog):
    _case, _rad, plan = left_plan
    rotated = update_placement(plan, "stem", "left", angle_deg=plan.placement("stem", "left").angle_deg + 3.0)
    stem, head = rotated.placement("stem", "left"), rotated.placement("head", "left")
    dist = math.dist(stem.xy, head.xy) * plan.calibration.mm_per_px
    assert dist == pytest.approx(NECK_MM, abs=1e-3)
    bigger = update_placement(plan, "stem", "left", size="8")
    assert bigger.placement("stem", "left").size == "8"
    assert templating_summary(bigger, "left", catalog)["stem"]["resection_above_lt_mm"] == pytest.approx(LEVEL_MM, abs=1e-3)


def test_errors_name_what_to_do(catalog, case0):
    _case, rad, plan = case0
    with pytest.raises(CatalogError, match="unknown implant family 'Acme cup'; known: "):
        template_hip(plan, rad, catalog, "left", cup_family="Acme cup")
    with pytest.raises(CatalogError, match="is a stem, not a cup"):
        template_hip(plan, rad, catalog, "left", cup_family="Corail standard offset")
    no_shaft = plan.landmarks.without(LandmarkName.FEMORAL_SHAFT_DISTAL_LEFT, "not visible")
    from dataclasses import replace

    with pytest.raises(TemplatingError, match="femoral_shaft_distal_left \\(not visible\\)"):
        template_hip(replace(plan, landmarks=no_shaft), rad, catalog, "left")
    with pytest.raises(TemplatingError, match="no stem on the right"):
        update_placement(plan, "stem", "right")


def test_assumed_scale_is_allowed_and_flagged(catalog, case0):
    _case, rad, plan = case0
    assumed = recalibrate(plan, Calibration(plan.calibration.mm_per_px, "assumed-magnification", 7.5, magnification=1.15))
    out = template_hip(assumed, rad, catalog, "right")
    assert ASSUMED_SCALE_NOTE in out.notes
    assert templating_summary(out, "right", catalog)["assumed_scale"] is True
    assert any("(assumed scale)" in (g.label or "") for layer in __import__("orthoplan.overlay", fromlist=["x"]).plan_overlay(out)
               if layer.name == "CUP_RIGHT" for g in layer.graphics)


def test_predict_without_implants_is_empty(case0):
    assert len(predict(case0[2], measure=measure_hip)) == 0


def test_recalibration_keeps_implant_sizes_in_mm(left_plan, catalog):
    """A new scale moves the stem's taper and head so the stem offset stays the catalog's in mm."""
    from orthoplan.geometry import signed_distance_to_line

    _case, _rad, plan = left_plan
    new_cal = Calibration(plan.calibration.mm_per_px * 1.05, "known-length", 1.0)
    re = recalibrate(plan, new_cal)
    stem = re.placement("stem", "left")
    size = catalog.find(STEM).size(STEM_SIZE)
    sp, sd = (re.landmarks[n].xy for n in ("femoral_shaft_proximal_left", "femoral_shaft_distal_left"))
    assert abs(signed_distance_to_line(stem.xy, sp, sd)) * new_cal.mm_per_px == pytest.approx(size.horizontal_offset_mm, abs=1e-3)
    assert math.dist(stem.xy, re.placement("head", "left").xy) * new_cal.mm_per_px == pytest.approx(NECK_MM, abs=1e-3)
    assert re.predictions["femoral_offset_left_mm"].value == pytest.approx(plan.predictions["femoral_offset_left_mm"].value, abs=0.01)
    assert templating_summary(re, "left", catalog)["stem"]["resection_above_lt_mm"] == pytest.approx(LEVEL_MM * 1.05, abs=1e-3)
