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
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from orthoplan.landmarks import detect, detect_details
from orthoplan.landmarks.accuracy import real_head_reference
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
