"""Issue 15: the learned detector's points carry the positional σ measured on real films."""

from __future__ import annotations

import pytest

from orthoplan.landmarks import detect
from orthoplan.model import Calibration
from orthoplan.pipeline import load_radiograph, plan_radiograph

#: docs/accuracy.md, learned detector vs truth (median % of the head diameter).
DETECTOR_PCT = {"femoral_head_center": 4.1, "teardrop": 10.2, "ischial_tuberosity": 5.0, "lesser_trochanter": 5.5, "greater_trochanter": 7.2, "acetabular_lateral_edge": 4.6, "sourcil_medial": 5.2, "femoral_neck_center": 7.0, "femoral_shaft_proximal": 1.7, "femoral_shaft_distal": 1.5}
#: the shaft points' figures are medians across the shaft (one dimension): σ = median / 0.6745;
#: the others' are radial medians: σ = median / 1.1774
TO_SIGMA = {"femoral_shaft_proximal": 0.6745, "femoral_shaft_distal": 0.6745}


def test_detected_points_carry_the_table_sigma_and_angles_an_interval(real_dir):
    rad = load_radiograph(str(real_dir / "hip_cr_rg2.dcm"))
    lms = detect(rad, method="learned")
    heads = [lm.radius_px for lm in lms if lm.name.anatomy == "femoral_head_center" and lm.radius_px]
    assert heads and len(lms) >= 3
    d = 2.0 * sum(heads) / len(heads)
    for lm in lms:
        assert lm.sigma_px == pytest.approx(DETECTOR_PCT[lm.name.anatomy] / 100 * d / TO_SIGMA.get(lm.name.anatomy, 1.1774),
                                            rel=1e-4), lm.name
    plan = plan_radiograph(rad, calibration=Calibration(0.15, "ball-marker", 3.0), landmarks=lms)
    angles = [m for m in plan.measurements if m.unit == "deg"]
    assert angles and all(m.interval is not None and m.interval[0] < m.value < m.interval[1] for m in angles)


@pytest.mark.parametrize("image, view, side", [("IMG0000013.jpg", "knee-ap", None),
                                               ("IMG0000014.jpg", "knee-lateral", "right")])
def test_the_learned_knee_detectors_points_carry_the_knee_tables_sigma(real_dir, image, view, side):
    """The learned knee detector's points (real films) carry the knee table's σ in the knee's own
    size (condylar width, femoral AP width; axis points and lateral femoral points across their
    axis), and the knee angles an interval."""
    from orthoplan.landmarks.common import axis_ends
    from orthoplan.landmarks.uncertainty import KNEE_DETECTOR_MEDIAN_PCT, film_size_px

    rad = load_radiograph(str(real_dir / "fracatlas-knee" / "images" / image))
    lms = detect(rad, view=view, side=side, method="learned")
    assert len(lms) >= 6
    for lm in lms:
        size = film_size_px(lms, view, lm.name.side.value)
        to_sigma = 0.6745 if axis_ends(view, lm.name.anatomy) else 1.1774
        want = KNEE_DETECTOR_MEDIAN_PCT[view][lm.name.anatomy] / 100 * size / to_sigma
        assert lm.sigma_px == pytest.approx(want, rel=1e-3), lm.name
    plan = plan_radiograph(rad, calibration=Calibration(0.15, "ball-marker", 3.0), landmarks=lms, view=view)
    angles = [m for m in plan.measurements if m.unit == "deg"]
    assert angles and all(m.interval is not None and m.interval[0] < m.value < m.interval[1] for m in angles)
