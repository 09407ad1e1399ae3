"""Every lower-limb value from exact landmarks on synthetic long legs, through the DICOM loader
and the pipeline: within 0.5 deg / 1 mm of the truth by construction; verdicts right."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from limb_cases import CASES, case_id

from orthoplan.measurements import lower_limb_measurement_names, malalignment_from_measurements
from orthoplan.model import Plan
from orthoplan.pipeline import load_radiograph, plan_radiograph, update_landmarks
from orthoplan.phantoms.limb import LegParams, LimbParams, leg_points, make_long_leg


@pytest.mark.parametrize("c", CASES, ids=[case_id(c) for c in CASES])
def test_every_measurement_matches_the_truth(make_case, c):
    case = make_case(*c)
    rad = load_radiograph(case.dataset)
    assert rad.photometric_interpretation == c[2]
    assert rad.orientation.patient_left_x == c[3]
    plan = plan_radiograph(rad, landmarks=case.landmarks, view="long-leg", ball_diameter_mm=None)
    assert plan.calibration.source.value == "dicom-pixel-spacing"
    ms = plan.measurements
    assert set(ms.values()) == set(case.measurements) == set(lower_limb_measurement_names())
    assert ms.missing == ()
    for name, truth in case.measurements.items():
        tol = 1.0 if name.endswith("_mm") else 0.5
        assert ms[name].value == pytest.approx(truth, abs=tol), name
        assert ms[name].side is None or ms[name].side.value in name


@pytest.mark.parametrize("c", CASES, ids=[case_id(c) for c in CASES])
def test_malalignment_verdict_is_right(make_case, c):
    case = make_case(*c)
    plan = plan_radiograph(load_radiograph(case.dataset), landmarks=case.landmarks, view="long-leg", ball_diameter_mm=None)
    for side in ("right", "left"):
        verdict = malalignment_from_measurements(plan.measurements, side)
        assert (verdict.alignment, verdict.origins) == case.verdicts[side], side
        assert verdict.note in plan.measurements[f"mad_{side}_mm"].notes


def test_photometric_interpretations_display_alike(make_case):
    a = load_radiograph(make_case("tibial_varus", "neutral", "MONOCHROME2", 1, 11, noise=0).dataset)
    b = load_radiograph(make_case("tibial_varus", "neutral", "MONOCHROME1", 1, 11, noise=0).dataset)
    assert np.abs(a.display - b.display).max() < 0.02
    assert not np.array_equal(a.pixels, b.pixels)


def test_ball_calibrated_plan_is_within_the_ball_uncertainty(make_case):
    case = make_case("femoral_varus", "neutral", "MONOCHROME2", 1, 12)
    plan = plan_radiograph(load_radiograph(case.dataset), landmarks=case.landmarks, view="long-leg")
    assert plan.calibration.source.value == "ball-marker"
    assert plan.calibration.mm_per_px == pytest.approx(case.mm_per_px, rel=0.02)
    ms = plan.measurements
    for name, truth in case.measurements.items():
        if name.endswith("_deg"):  # angles do not depend on the scale
            assert ms[name].value == pytest.approx(truth, abs=0.5), name
        else:
            assert ms[name].value == pytest.approx(truth, rel=0.02, abs=1.0), name


def test_plan_json_round_trip_and_update(make_case):
    case = make_case("joint_line_varus", "tibial_valgus", "MONOCHROME1", -1, 13)
    plan = plan_radiograph(load_radiograph(case.dataset), landmarks=case.landmarks, view="long-leg", ball_diameter_mm=None)
    back = Plan.from_json(plan.to_json())
    assert back == plan and back.view == "long-leg"
    # moving one landmark re-measures with the lower-limb functions (the plan's view)
    ankle = plan.landmarks["ankle_center_right"]
    moved = update_landmarks(plan, ankle.moved_to(ankle.x + 5, ankle.y))
    assert "hka_right_deg" in moved.measurements and "lcea_right_deg" not in moved.measurements
    assert moved.measurements["hka_right_deg"].value != plan.measurements["hka_right_deg"].value
    gone = update_landmarks(plan, remove=["ankle_center_left"])
    assert "removed by the user" in dict(gone.measurements.missing)["hka_left_deg"]


def test_truth_is_consistent_with_the_construction():
    p = LegParams(mldfa_deg=93.0, jlca_deg=2.5, mpta_deg=84.0)
    assert p.hka_deg == pytest.approx(84.0 - 93.0 - 2.5)
    pts = leg_points(p, lean_deg=3.0)
    a = pts["ankle_center"]
    assert np.degrees(np.arctan2(a[0], a[1])) == pytest.approx(-3.0)  # ankle medial, 3 deg lean
    assert np.linalg.norm(pts["femoral_knee_center"]) == pytest.approx(p.femoral_length_mm)
    assert np.linalg.norm(a - pts["tibial_knee_center"]) == pytest.approx(p.tibial_length_mm)


def test_a_small_image_is_refused():
    with pytest.raises(ValueError, match="too small"):
        make_long_leg(LimbParams.preset("neutral"), rows=800, columns=700, detector_spacing_mm=0.6)


def test_tall_image_in_bounded_memory():
    """5600 x 2000 at 0.2 mm (0.19 mm/px at the anatomy): the pixels (22 MB) plus the
    DICOM copy and the strip buffers."""
    tracemalloc.start()
    try:
        case = make_long_leg(LimbParams.preset("tibial_varus", "neutral"), rows=5600, columns=2000,
                             detector_spacing_mm=0.2, noise=0, ball_diameter_mm=None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (case.dataset.Rows, case.dataset.Columns) == (5600, 2000)
    assert peak < 100e6, f"peak {peak / 1e6:.0f} MB"
    assert case.landmarks["ankle_center_left"].y < 5600
