"""The real adult hip CR (``../shared/data/real/hip_cr_rg2.dcm``), and negative cases.

Reference for the femoral head (no annotations ship with the image): rim points of the
head read by eye off zoomed PNG crops of ``radiograph.display`` (80 × 80 px crops at 6×,
with a 10 px grid; windowed to the crop's own min–max), at the middle of the transition
between the bright head and the dark joint space / soft tissue, at ten places where the
rim is unambiguous (medial rim x≈764 at y 850–900; superior rim under the joint space;
lateral rim y 760–840). They are :data:`orthoplan.landmarks.accuracy.REAL_HEAD_RIM_POINTS`;
a least-squares circle through them (:func:`orthoplan.geometry.fit_circle`) is the
reference: centre (904.7, 874.8) px, radius 141.4 px (28.3 mm), RMS residual 1.6 px.
Reading precision is about ±3 px (0.6 mm), hence the tolerances below.

The other landmarks (:data:`~orthoplan.landmarks.accuracy.REAL_LANDMARK_POINTS`) were read
the same way, without the detector's marks on the crops: 40–100 px crops at 4–10× with a
10 or 20 px grid (``display`` windowed to the crop's 1st–99th percentile), each point at the
middle of the bone / soft-tissue transition:

* ischial tuberosity: the lowest point (image down; one-hip view, no tilt) of the ischium's
  lower outline, (667, 1244.5); the bottom is flat over ~40 px, so ±10 px along it, ±3 px
  up/down;
* teardrop: where the two converging limbs of the U (the lateral limb meeting the
  ilioischial line) end inferiorly, (742, 961) ± 8 px;
* acetabular lateral edge: the lateral end of the sourcil where the roof's outline turns
  up into the ilium, (991, 712) ± 4 px;
* medial end of the sourcil: where the dense line fades out medially, (800, 744) ± 10 px;
* shaft axis: the two outer borders of the shaft read on the columns x = 1250, 1320, 1390
  (:data:`~orthoplan.landmarks.accuracy.REAL_SHAFT_BORDERS`, ±3 px); the line through the
  midpoints is the reference axis (:func:`~orthoplan.landmarks.accuracy.real_shaft_axis`,
  52.8° from the image's vertical). The shaft points' position *along* the axis hangs on the
  lesser trochanter, which has no reference (below), so only their distance across it is
  tested.

Not referenced, because they are not unambiguous on this film (the femur is abducted and
externally rotated): the lesser trochanter (two rounded medial projections below the neck,
at (1000, 1110) and (1065, 1195): which one is the trochanter's tip cannot be told from
this projection), the greater trochanter's tip (it overlaps the neck; no distinct proximal
point along the shaft axis) and the neck centre. For these the tests ask only that the
detector does not claim them with high confidence.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from orthoplan.landmarks import detect, detect_details
from orthoplan.landmarks.accuracy import (REAL_LANDMARK_POINTS, REAL_SHAFT_BORDERS, evaluate_real_landmarks,
                                          real_head_reference, real_shaft_axis)
from orthoplan.model import ImageReference, Radiograph
from orthoplan.pipeline import load_radiograph


def test_reference_circle_is_what_the_docstring_says():
    ref = real_head_reference()
    assert (ref["x"], ref["y"], ref["r"]) == pytest.approx((904.7, 874.8, 141.4), abs=0.1)
    assert ref["rms"] < 2.5


@pytest.mark.parametrize("fname", ["hip_cr_rg2.dcm", "hip_cr_rg2_j2k.dcm"])
def test_real_head_found_as_circle(real_dir, fname):
    rad = load_radiograph(str(real_dir / fname))
    det = detect_details(rad)
    ref = real_head_reference()
    mm = rad.spacing.pixel_spacing_mm[1]
    # femur runs to the image's right; orientation tags are blank, standard AP assumed:
    # the patient's left hip
    head = det.landmarks["femoral_head_center_left"]
    assert math.hypot(head.x - ref["x"], head.y - ref["y"]) * mm <= 1.0
    assert abs(head.radius_px - ref["r"]) * mm <= 1.0
    assert head.confidence >= 0.5
    # one-hip view: no second hip claimed, and the absence explained
    assert "femoral_head_center_right" not in det.landmarks
    assert "one-hip" in det.landmarks.missing_reason("femoral_head_center_right")
    assert not any(lm.name.side.value == "right" for lm in det.landmarks)
    assert det.prosthesis_sides == ()


def test_real_detection_is_plausible_anatomy(hip_cr):
    """Not a reference standard: the femur landmarks found lie where a femur is."""
    lms = detect(hip_cr)
    head = lms["femoral_head_center_left"]
    for name in ("lesser_trochanter_left", "femoral_shaft_proximal_left", "femoral_shaft_distal_left"):
        lm = lms.get(name)
        if lm is not None:
            assert lm.x > head.x and lm.y > head.y, name  # lateral (screen right) and distal


def test_reference_landmarks_are_what_the_docstring_says():
    assert REAL_LANDMARK_POINTS["ischial_tuberosity_left"] == (667.0, 1244.5, 10.0)
    assert len(REAL_SHAFT_BORDERS) == 3
    c, d = real_shaft_axis()
    assert math.degrees(math.atan2(d[0], d[1])) == pytest.approx(52.8, abs=0.1)
    # the midpoints lie on one line (the borders were read consistently)
    n = np.array([-d[1], d[0]])
    assert max(abs((np.array([x, 0.5 * (a + b)]) - c) @ n) for x, a, b in REAL_SHAFT_BORDERS) < 3.0


#: Tolerance (mm) of a detected landmark from the reference: the issue's 3 mm target plus
#: the reading uncertainty of the reference.
def _tolerance_mm(name: str, mm: float) -> float:
    return 3.0 + REAL_LANDMARK_POINTS[name][2] * mm


@pytest.mark.parametrize("fname", ["hip_cr_rg2.dcm", "hip_cr_rg2_j2k.dcm"])
def test_real_landmarks_near_the_reference(real_dir, fname):
    rad = load_radiograph(str(real_dir / fname))
    mm = rad.spacing.pixel_spacing_mm[1]
    res = evaluate_real_landmarks(rad)
    # clearly visible and found: within the tolerance
    for name in ("ischial_tuberosity_left", "acetabular_lateral_edge_left", "sourcil_medial_left"):
        r = res[name]
        assert r["found"], (name, r["reason"])
        assert r["error_mm"] <= _tolerance_mm(name, mm), (name, r)
    # the teardrop: this film's narrow, asymmetric U does not match the detector's template;
    # it must then be reported missing, not guessed (found: within the tolerance)
    td = res["teardrop_left"]
    assert (not td["found"] and td["reason"]) or td["error_mm"] <= _tolerance_mm("teardrop_left", mm)
    # the shaft points lie on the reference axis (across it within 3 mm) and the axis agrees
    for k in ("femoral_shaft_proximal_left", "femoral_shaft_distal_left"):
        assert res[k]["found"] and res[k]["across_axis_mm"] <= 3.0, (k, res[k])
    assert res["shaft_axis_angle_deg"] <= 4.0


def test_real_ambiguous_landmarks_not_claimed_confidently(hip_cr):
    """No reference exists for these on this film (see the module docstring): whatever the
    detector makes of them, it must not be sure of it."""
    lms = detect(hip_cr)
    for name, most in (("lesser_trochanter_left", 0.79), ("greater_trochanter_left", 0.5),
                       ("femoral_neck_center_left", 0.5)):
        lm = lms.get(name)
        assert lm is None or lm.confidence <= most, (name, lm)


@pytest.mark.parametrize("fname", ["lower_leg_cr_rg3_mono1.dcm", "chest_cr_rg1_zero_spacing.dcm"])
def test_negative_real_images_give_no_hip(real_dir, fname):
    rad = load_radiograph(str(real_dir / fname))
    det = detect_details(rad)
    assert len(det.landmarks) == 0
    assert "no femoral head" in det.landmarks.missing_reason("femoral_head_center_left")


@pytest.mark.parametrize("kind", ["blank", "noise"])
def test_bad_input_gives_no_pelvis(kind):
    img = np.zeros((600, 700), np.float32) if kind == "blank" else \
        np.random.default_rng(0).random((600, 700)).astype(np.float32)
    lms = detect(Radiograph(img, img, ImageReference()))
    assert len(lms) == 0 and lms.missing
