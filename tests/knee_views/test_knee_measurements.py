"""Knee-view measurements: exact from exact landmarks (synthetic truth), the pure functions'
signs, absent values with their reasons, the definitions and their documentation."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from orthoplan.errors import MeasurementError
from orthoplan.measurements import measure_knee
from orthoplan.measurements.definitions import (
    KNEE_DEFINITIONS,
    definition_for,
    knee_measurement_names,
    landmarks_markdown,
    measurements_markdown,
)
from orthoplan.measurements.knee import (
    aldfa_deg,
    ampta_deg,
    femoral_ap_dimension_mm,
    fta_deg,
    knee_construction,
    posterior_condylar_offset_mm,
    posterior_tibial_slope_deg,
)
from orthoplan.model import LANDMARK_DEFINITIONS, Calibration, Landmarks, Side
from orthoplan.phantoms.knee import KneeAPParams, KneeLateralParams, make_knee_ap, make_knee_lateral

from .conftest import SMALL, exact_calibration

DOCS = Path(__file__).resolve().parents[2] / "docs"
ANGLE_TOL_DEG, LENGTH_TOL_MM = 0.5, 1.0


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("view", ["knee-ap", "knee-lateral"])
def test_measurements_equal_the_truth_from_exact_landmarks(view, seed):
    side = "left" if seed % 2 else "right"
    if view == "knee-ap":
        case = make_knee_ap(seed=seed, side=side, patient_left_x=(1, -1)[seed % 2], noise=0, **SMALL)
    else:
        case = make_knee_lateral(seed=seed, side=side, anterior_x=(1, -1)[seed % 2], noise=0, **SMALL)
    ms = measure_knee(case.landmarks, exact_calibration(case), case.orientation, view=view)
    assert {m.name for m in ms} == set(case.measurements)  # every value, and only this knee's
    for name, truth in case.measurements.items():
        tol = ANGLE_TOL_DEG if name.endswith("_deg") else LENGTH_TOL_MM
        assert abs(ms[name].value - truth) < tol, (name, ms[name].value, truth)
        assert ms[name].side is Side(side)


def test_deformed_knees_keep_their_values_and_signs():
    varus = KneeAPParams(aldfa_deg=86.0, mpta_deg=83.0, jlca_deg=3.0)  # every level varus
    valgus = KneeAPParams(aldfa_deg=76.0, mpta_deg=91.0, jlca_deg=-1.0)
    for params, sign in ((varus, -1), (valgus, +1)):
        case = make_knee_ap(params, side="right", noise=0, **SMALL)
        ms = measure_knee(case.landmarks, exact_calibration(case), view="knee-ap")
        fta = ms["fta_right_deg"].value
        assert abs(fta - params.fta_deg) < 1e-3 and math.copysign(1, fta) == sign
        assert abs(ms["jlca_right_deg"].value - params.jlca_deg) < 1e-3


def test_slope_sign_follows_the_plateau_not_the_screen():
    for anterior_x in (1, -1):
        case = make_knee_lateral(KneeLateralParams(posterior_tibial_slope_deg=-3.0), side="left", noise=0,
                                 anterior_x=anterior_x, **SMALL)
        ms = measure_knee(case.landmarks, exact_calibration(case), view="knee-lateral")
        assert abs(ms["posterior_tibial_slope_left_deg"].value + 3.0) < 1e-3  # an anterior slope is negative


def test_pure_functions():
    assert aldfa_deg((0, -150), (0, -90), (-25, 0), (25, 0)) == pytest.approx(90.0)
    # lateral end of the condylar line higher (proximal, y up is negative): aLDFA below 90
    assert aldfa_deg((0, -150), (0, -90), (-25, 0), (25, -50 * math.tan(math.radians(9)))) == pytest.approx(81.0)
    assert ampta_deg((0, 50), (0, 150), (-35, 0), (35, 0)) == pytest.approx(90.0)
    assert fta_deg((0, 0), (0, 100), (0, 200), (10, 300), lateral=(1, 0)) == pytest.approx(math.degrees(math.atan(0.1)))
    assert posterior_tibial_slope_deg((0, 50), (0, 150), (-25, 0), (25, 0)) == pytest.approx(0.0, abs=1e-12)
    assert femoral_ap_dimension_mm((0, -150), (0, -90), (-30, -60), (32, 0)) == pytest.approx(62.0)
    # the AP dimension is measured perpendicular to the axis: a tilted axis changes it
    assert femoral_ap_dimension_mm((0, -150), (-150 * math.tan(0.1), 0), (-30, -60), (32, 0)) != pytest.approx(62.0)
    assert posterior_condylar_offset_mm((0, -150), (0, -90), (14, -100), (40, 0)) == pytest.approx(26.0)
    with pytest.raises(MeasurementError, match="apart"):
        aldfa_deg((0, 0), (0, 0.1), (-25, 0), (25, 0))
    with pytest.raises(MeasurementError, match="varus/valgus sense"):
        fta_deg((0, 0), (0, 100), (0, 200), (10, 300), lateral=(0, 1))


def test_absent_values_carry_their_reason():
    case = make_knee_ap(seed=1, side="left", noise=0, **SMALL)
    lms = case.landmarks.without("femoral_epicondyle_medial_left", "not visible (implant)")
    ms = measure_knee(lms, exact_calibration(case), view="knee-ap")
    assert "femoral_condylar_width_left_mm" not in ms
    assert dict(ms.missing)["femoral_condylar_width_left_mm"] == (
        "needs femoral_epicondyle_medial_left: not visible (implant)")
    assert "aldfa_left_deg" in ms and not any(n.endswith("_right_deg") or n.endswith("_right_mm") for n, _ in ms.missing)
    empty = measure_knee(Landmarks(), Calibration(0.2, "ball-marker", 2.0), view="knee-lateral")
    assert len(empty) == 0 and len(empty.missing) == 6  # both knees listed when nothing says which
    with pytest.raises(MeasurementError, match="knee view"):
        measure_knee(Landmarks(), Calibration(0.2, "ball-marker", 2.0), view="knee-sunrise")


def test_assumed_scale_is_noted_on_lengths():
    case = make_knee_lateral(seed=2, side="right", noise=0, **SMALL)
    cal = Calibration(case.mm_per_px, "assumed-magnification", 10.0, magnification=1.1)
    ms = measure_knee(case.landmarks, cal, view="knee-lateral")
    assert "assumed scale" in ms["femoral_ap_dimension_right_mm"].notes
    assert "assumed scale" not in ms["posterior_tibial_slope_right_deg"].notes


def test_constructions_draw_the_axes_in_pixels():
    case = make_knee_lateral(seed=3, side="left", noise=0, **SMALL)
    lines = knee_construction("posterior_tibial_slope_left_deg", case.landmarks, exact_calibration(case))
    assert set(lines) == {"tibial_axis", "plateau_line", "axis_perpendicular"}
    pa, pp = case.landmarks["tibial_plateau_anterior_left"], case.landmarks["tibial_plateau_posterior_left"]
    assert lines["plateau_line"].ravel().tolist() == pytest.approx([pa.x, pa.y, pp.x, pp.y], abs=1e-3)
    with pytest.raises(MeasurementError, match="cannot be drawn"):
        knee_construction("femoral_ap_dimension_left_mm", Landmarks(), exact_calibration(case))


def test_definitions_and_docs():
    for name, d in KNEE_DEFINITIONS.items():
        assert d.reference and d.definition and d.sided
        assert set(d.landmarks) <= set(LANDMARK_DEFINITIONS)
    assert "Brazier" in KNEE_DEFINITIONS["posterior_tibial_slope_{side}_deg"].reference
    assert "Paley" in KNEE_DEFINITIONS["aldfa_{side}_deg"].reference
    assert definition_for("jlca_left_deg").name == "jlca_{side}_deg"  # reused from the long-leg view
    assert knee_measurement_names("knee-ap", (Side.LEFT,))[2] == "jlca_left_deg"
    assert (DOCS / "measurements.md").read_text(encoding="utf-8") == measurements_markdown()
    assert (DOCS / "landmarks.md").read_text(encoding="utf-8") == landmarks_markdown()
    for anatomy in ("femoral_epicondyle_medial", "femoral_posterior_condyle", "tibial_plateau_posterior"):
        assert f"`{anatomy}_left`" in landmarks_markdown()
