"""Anatomical consistency of the long-leg detector (issue 17): a confident point that breaks a
rule (condyles above the plateau, the joint line between femur and tibia, axis points inside
the shaft, hip above knee above ankle, each limb on its own side, the knees at a similar level)
is not reported as confident; an untouched phantom keeps every point."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from orthoplan.landmarks import limb
from orthoplan.landmarks.limb import (
    MIN_CONFIDENCE,
    LegFrame,
    consistency_problems,
    detect_long_leg_details,
    penalise,
)
from orthoplan.model import LandmarkName, Side


def _frame(d) -> LegFrame:
    o = d.radiograph.orientation
    return LegFrame(float(d.calibration.mm_per_px), (0.0, -float(o.superior_y)), o.patient_left_x)


@pytest.fixture(scope="module")
def full(limb_cases):
    """The first phantom with every landmark of both legs found."""
    return next(d for d in limb_cases if len(d.detection.landmarks) == 2 * len(limb.LONG_LEG_DETECTED))


def _move(d, anatomy: str, side: Side, distal_mm: float = 0.0, lateral_mm: float = 0.0, to=None):
    """The detection's landmarks with ``anatomy`` moved (mm along the leg and towards the side's lateral)."""
    f = _frame(d)
    lat = d.radiograph.orientation.lateral_x(side)
    name = LandmarkName.of(anatomy, side)
    out = []
    for lm in d.detection.landmarks:
        if lm.name is name:
            if to is not None:
                xy = np.asarray(to, float)
            else:
                xy = np.array([lm.x, lm.y]) + (distal_mm * np.asarray(f.distal) + lateral_mm * np.array([lat, 0.0])) / f.mm_per_px
            lm = replace(lm, x=float(xy[0]), y=float(xy[1]))
        out.append(lm)
    return out


def _xy(d, anatomy: str, side: Side) -> np.ndarray:
    lm = d.detection.landmarks[LandmarkName.of(anatomy, side)]
    return np.array([lm.x, lm.y])


def test_untouched_phantoms_break_no_rule(limb_cases):
    for d in limb_cases:
        assert consistency_problems(d.detection.landmarks, _frame(d)) == {}
        assert not any("inconsistent" in why for _, why in d.detection.landmarks.missing)
        truth = [lm for lm in d.case.landmarks if lm.name.anatomy in limb.LONG_LEG_DETECTED]
        assert consistency_problems(truth, _frame(d)) == {}


# (what is moved, side, how: mm distal, mm lateral) -> the moved point breaks a rule
BREAKS = {
    "condyle below its plateau margin": ("femoral_condyle_medial", Side.RIGHT, 15.0, 0.0),
    "plateau margin above the femoral knee centre": ("tibial_plateau_lateral", Side.LEFT, -30.0, 0.0),
    "femoral knee centre below the tibial knee centre": ("femoral_knee_center", Side.LEFT, 25.0, 0.0),
    "tibial knee centre above the femoral knee centre": ("tibial_knee_center", Side.RIGHT, -25.0, 0.0),
    "distal shaft point medial of the femur": ("femoral_shaft_distal", Side.RIGHT, 0.0, -45.0),
    "proximal shaft point far lateral of the femur": ("femoral_shaft_proximal", Side.LEFT, 0.0, 110.0),
    "proximal shaft point above the head": ("femoral_shaft_proximal", Side.RIGHT, -260.0, 0.0),
    "knee too close below the hip": ("femoral_knee_center", Side.RIGHT, -300.0, 0.0),
    "ankle too close below the knee": ("ankle_center", Side.LEFT, -280.0, 0.0),
    "greater trochanter medial of the head": ("greater_trochanter", Side.LEFT, 0.0, -90.0),
    "greater trochanter far below the head": ("greater_trochanter", Side.RIGHT, 120.0, 0.0),
}


@pytest.mark.parametrize("rule", sorted(BREAKS))
def test_a_moved_confident_point_loses_its_confidence(full, rule):
    anatomy, side, distal, lateral = BREAKS[rule]
    name = LandmarkName.of(anatomy, side)
    before = full.detection.landmarks[name].confidence
    assert before >= 0.5  # a confident point
    moved = _move(full, anatomy, side, distal, lateral)
    problems = consistency_problems(moved, _frame(full))
    assert name in problems, rule
    after = {lm.name: lm.confidence for lm in penalise(moved, problems)}[name]
    assert after < MIN_CONFIDENCE


def test_a_point_across_the_midline_loses_its_confidence(full):
    # the right ankle put where the left ankle is
    moved = _move(full, "ankle_center", Side.RIGHT, to=_xy(full, "ankle_center", Side.LEFT))
    problems = consistency_problems(moved, _frame(full))
    name = LandmarkName.of("ankle_center", Side.RIGHT)
    assert "midline" in problems[name]
    assert LandmarkName.of("ankle_center", Side.LEFT) not in problems
    assert {lm.name: lm.confidence for lm in penalise(moved, problems)}[name] < MIN_CONFIDENCE


def test_knees_at_different_levels_make_both_knees_uncertain(full):
    lms = list(full.detection.landmarks)
    f = _frame(full)
    shift = 120.0 / f.mm_per_px * np.asarray(f.distal)
    moved = [replace(lm, x=lm.x + shift[0], y=lm.y + shift[1])
             if lm.name.side is Side.LEFT and lm.name.anatomy in limb.KNEE_POINTS else lm for lm in lms]
    problems = consistency_problems(moved, f)
    for side in Side:
        for anatomy in limb.KNEE_POINTS:
            assert "level" in problems[LandmarkName.of(anatomy, side)]
    assert LandmarkName.of("femoral_head_center", Side.LEFT) not in problems


def test_the_detector_reports_an_inconsistent_point_missing_with_the_reason(full, monkeypatch):
    """End to end: the detector's own ankle stage returns an ankle just below the knee."""
    real_ankle = limb._ankle

    def short_ankle(img, Kt, n_dist, lat):
        A, fm, fl, conf = real_ankle(img, Kt, n_dist, lat)
        return Kt + n_dist * (60.0 / img.mm), fm, fl, max(conf, 0.9)

    monkeypatch.setattr(limb, "_ankle", short_ankle)
    det = detect_long_leg_details(full.radiograph, full.calibration)
    for side in Side:
        name = LandmarkName.of("ankle_center", side)
        assert det.landmarks.get(name) is None
        why = dict(det.landmarks.missing)[name]
        assert why.startswith("inconsistent with the anatomy") and "below the knee" in why
        assert any(n.startswith(name.value) for n in det.notes)
