"""Issue 15: each value's 95 % interval includes its landmarks' positional uncertainty.

The σ model (docs/accuracy.md, median radial error in % of the head diameter against the
truth from three readers) is restated here from the table, and the expected intervals are
computed independently: by Monte Carlo over the landmarks' Gaussian errors, with the angle
written out here rather than taken from orthoplan.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from orthoplan.landmarks.uncertainty import with_positional_sigma
from orthoplan.measurements import measure_hip
from orthoplan.model import Calibration, Landmark, Landmarks, LandmarkSource
from orthoplan.phantoms import knee as knee_phantom
from orthoplan.phantoms import pelvis as pelvis_phantom
from orthoplan.pipeline import load_radiograph, plan_radiograph, update_landmarks

#: docs/accuracy.md: learned detector vs truth, median % of the head diameter.
DETECTOR_PCT = {"femoral_head_center": 4.1, "acetabular_lateral_edge": 4.6, "teardrop": 10.2}
#: ... and a reader vs truth.
READER_PCT = {"femoral_head_center": 4.9, "acetabular_lateral_edge": 4.1, "teardrop": 11.4}
#: median radial error of a round 2-D Gaussian = σ √(2 ln 2)
MEDIAN_OVER_SIGMA = 1.1774


def _sigma(pct: float, diameter_px: float) -> float:
    return pct / 100.0 * diameter_px / MEDIAN_OVER_SIGMA


def _hip(source: LandmarkSource, radius_px: float = 100.0, scale: float = 1.0) -> Landmarks:
    """Both femoral heads and the left acetabular edge; no teardrop or ischium (image axes).
    ``scale`` enlarges the whole film (a sharper one of the same patient)."""
    return Landmarks.from_landmarks([
        Landmark("femoral_head_center_left", 1400.0 * scale, 900.0 * scale, 0.9, source, radius_px * scale),
        Landmark("femoral_head_center_right", 600.0 * scale, 905.0 * scale, 0.9, source, radius_px * scale),
        Landmark("acetabular_lateral_edge_left", 1470.0 * scale, 790.0 * scale, 0.9, source),
    ])


def _lcea_monte_carlo(hc, edge, sigma_hc, sigma_edge, n=200_000, seed=0) -> tuple[float, float]:
    """2.5 and 97.5 percentiles of the LCEA (standard AP: left = +x, superior = −y) when both
    points carry round Gaussian errors."""
    rng = np.random.default_rng(seed)
    h = np.asarray(hc) + rng.normal(0.0, sigma_hc, (n, 2))
    e = np.asarray(edge) + rng.normal(0.0, sigma_edge, (n, 2))
    d = e - h
    lateral, superior = d[:, 0], -d[:, 1]  # the left hip's lateral is the patient's left (+x)
    angle = np.degrees(np.arctan2(lateral, superior))
    return tuple(np.percentile(angle, [2.5, 97.5]))


def test_lcea_interval_on_detected_points_follows_the_detector_table():
    lms = with_positional_sigma(_hip(LandmarkSource.AUTO), detector="learned")
    d = 200.0  # head diameter in px
    assert lms["femoral_head_center_left"].sigma_px == pytest.approx(_sigma(DETECTOR_PCT["femoral_head_center"], d), rel=1e-4)
    assert lms["acetabular_lateral_edge_left"].sigma_px == pytest.approx(_sigma(DETECTOR_PCT["acetabular_lateral_edge"], d), rel=1e-4)
    m = measure_hip(lms, Calibration(0.15, "ball-marker", 3.0))["lcea_left_deg"]
    assert m.value == pytest.approx(math.degrees(math.atan2(70.0, 110.0)), abs=1e-6)
    lo, hi = _lcea_monte_carlo((1400.0, 900.0), (1470.0, 790.0),
                               _sigma(DETECTOR_PCT["femoral_head_center"], d),
                               _sigma(DETECTOR_PCT["acetabular_lateral_edge"], d))
    assert m.interval is not None
    assert m.interval[1] - m.interval[0] == pytest.approx(hi - lo, rel=0.05)
    assert m.interval[0] == pytest.approx(lo, abs=0.1 * (hi - lo))


def test_interval_follows_the_head_diameter_in_pixels():
    """The table is in head diameters: on a film of twice the resolution σ doubles in pixels and
    the angle's interval stays; a larger head on the same geometry widens it; without a head
    circle nothing is claimed."""
    cal = Calibration(0.15, "ball-marker", 3.0)

    def width(lms):
        m = measure_hip(with_positional_sigma(lms, "learned"), cal)["lcea_left_deg"]
        return m.interval[1] - m.interval[0]

    one, two = _hip(LandmarkSource.AUTO), _hip(LandmarkSource.AUTO, scale=2.0)
    s1 = with_positional_sigma(one, "learned")["femoral_head_center_left"].sigma_px
    s2 = with_positional_sigma(two, "learned")["femoral_head_center_left"].sigma_px
    assert s2 == pytest.approx(2 * s1, rel=1e-6)
    assert width(two) == pytest.approx(width(one), rel=1e-3)
    assert width(_hip(LandmarkSource.AUTO, 50.0)) == pytest.approx(0.5 * width(one), rel=0.02)
    no_circle = Landmarks.from_landmarks([Landmark(lm.name, lm.x, lm.y, 0.9, "auto") for lm in one])
    assert measure_hip(with_positional_sigma(no_circle, "learned"), cal)["lcea_left_deg"].interval is None


def test_classical_detector_points_claim_no_positional_interval():
    cal = Calibration(0.15, "ball-marker", 3.0)
    lms = with_positional_sigma(_hip(LandmarkSource.AUTO), detector="classical")
    assert all(lm.sigma_px is None for lm in lms)
    assert measure_hip(lms, cal)["lcea_left_deg"].interval is None


def test_length_interval_adds_scale_and_position_in_quadrature():
    """A length carries the calibration's half-width and the positional one, root-sum-square."""
    pelvis = pelvis_phantom.make_pelvis(seed=1, rows=500, columns=600, detector_spacing_mm=0.75)
    lms = with_positional_sigma(pelvis.landmarks, detector="learned")
    cal = Calibration(0.3, "ball-marker", 4.0)
    m = measure_hip(lms, cal)["femoral_offset_left_mm"]
    bare = measure_hip(Landmarks(tuple(Landmark(lm.name, lm.x, lm.y, lm.confidence, lm.source, lm.radius_px)
                                       for lm in lms)), cal)["femoral_offset_left_mm"]
    scale_half = 0.5 * (bare.interval[1] - bare.interval[0])
    assert scale_half == pytest.approx(0.04 * m.value)
    # the offset: head centre to the shaft axis (proximal and distal shaft points); by Monte Carlo
    rng = np.random.default_rng(1)
    n = 100_000
    pts = {k: np.asarray(lms[k].xy) + rng.normal(0.0, lms[k].sigma_px, (n, 2))
           for k in ("femoral_head_center_left", "femoral_shaft_proximal_left", "femoral_shaft_distal_left")}
    a, b, h = pts["femoral_shaft_proximal_left"], pts["femoral_shaft_distal_left"], pts["femoral_head_center_left"]
    u = (b - a) / np.linalg.norm(b - a, axis=1)[:, None]
    offset = np.abs((h - a)[:, 0] * u[:, 1] - (h - a)[:, 1] * u[:, 0]) * 0.3
    plo, phi = np.percentile(offset, [2.5, 97.5])
    position_half = 0.5 * (phi - plo)
    half = 0.5 * (m.interval[1] - m.interval[0])
    assert half == pytest.approx(math.hypot(scale_half, position_half), rel=0.05)
    assert m.value - m.interval[0] == pytest.approx(half)  # symmetric about the value


def test_a_moved_point_gets_the_reader_sigma():
    case = pelvis_phantom.make_pelvis(seed=1, rows=500, columns=600, detector_spacing_mm=0.75)
    rad = load_radiograph(case.dataset)
    auto = Landmarks(tuple(Landmark(lm.name, lm.x, lm.y, 0.9, "auto", lm.radius_px) for lm in case.landmarks))
    cal = Calibration(0.6, "ball-marker", 3.0)
    plan = plan_radiograph(rad, calibration=cal, landmarks=auto)
    assert all(lm.sigma_px is None for lm in plan.landmarks)  # not known to be the learned detector's
    assert plan.measurements["lcea_left_deg"].interval is None
    radii = [lm.radius_px for lm in case.landmarks if lm.radius_px]
    d = 2.0 * sum(radii) / len(radii)
    edge = plan.landmarks["acetabular_lateral_edge_left"]
    moved = update_landmarks(plan, edge.moved_to(edge.x + 2.0, edge.y))
    lm = moved.landmarks["acetabular_lateral_edge_left"]
    assert lm.source is LandmarkSource.MANUAL
    assert lm.sigma_px == pytest.approx(_sigma(READER_PCT["acetabular_lateral_edge"], d), rel=1e-4)
    # the head is still the (unknown) detector's: no positional interval for the LCEA yet
    assert moved.measurements["lcea_left_deg"].interval is None
    head = plan.landmarks["femoral_head_center_left"]
    both = update_landmarks(moved, head.moved_to(head.x, head.y))
    assert both.landmarks["femoral_head_center_left"].sigma_px == pytest.approx(
        _sigma(READER_PCT["femoral_head_center"], d), rel=1e-4)
    # the pelvic reference (inter-teardrop line) is still unknown: all its landmarks need a σ
    assert both.measurements["lcea_left_deg"].interval is None
    tr, tl = plan.landmarks["teardrop_right"], plan.landmarks["teardrop_left"]
    all_known = update_landmarks(both, tr.moved_to(tr.x, tr.y), tl.moved_to(tl.x, tl.y))
    assert all_known.measurements["lcea_left_deg"].interval is not None


def test_knee_angles_carry_the_knee_tables_interval():
    """Since 8 December 2026 the knee views have real-film figures (docs/accuracy.md, the knee
    three-reader tables, restated here): a person's AP knee points get a reader's σ in % of the
    condylar width (axis points: across the axis, median / 0.6745), the angles an interval, the
    lengths the scale's widened by it."""
    reader_pct = {"femoral_condyle_medial": 1.9, "tibial_plateau_lateral": 1.85, "knee_femoral_axis_proximal": 0.55}
    case = knee_phantom.make_knee_ap(seed=2, rows=1200, columns=900, detector_spacing_mm=0.3)
    rad = load_radiograph(case.dataset)
    cal = Calibration(0.3, "ball-marker", 3.0)
    plan = plan_radiograph(rad, calibration=cal, landmarks=case.landmarks, view="knee-ap")
    side = next(lm.name.side.value for lm in plan.landmarks if lm.name.anatomy == "femoral_epicondyle_medial")
    a, b = (plan.landmarks[f"femoral_epicondyle_{m}_{side}"] for m in ("medial", "lateral"))
    width = math.hypot(a.x - b.x, a.y - b.y)
    for anatomy, pct in reader_pct.items():
        to_sigma = 0.6745 if anatomy.startswith("knee_") else MEDIAN_OVER_SIGMA
        assert plan.landmarks[f"{anatomy}_{side}"].sigma_px == pytest.approx(pct / 100 * width / to_sigma, rel=1e-3)
    angles = [m for m in plan.measurements if m.unit == "deg"]
    assert angles and all(m.interval is not None and m.interval[0] < m.value < m.interval[1] for m in angles)
    for m in plan.measurements:
        if m.unit == "mm":
            lo, hi = cal.length_interval_mm(m.value)
            assert m.interval[0] < lo and m.interval[1] > hi, m.name


def test_long_leg_knee_points_claim_no_positional_interval():
    """No real standing long-leg film: a long-leg film's knee points get no σ (its femoral heads
    get the AP pelvis table's)."""
    from orthoplan.landmarks.uncertainty import with_positional_sigma as fill

    lms = Landmarks.from_landmarks([
        Landmark("femoral_head_center_left", 1400.0, 300.0, 0.9, LandmarkSource.MANUAL, 60.0),
        Landmark("femoral_condyle_medial_left", 1380.0, 1900.0, 0.9, LandmarkSource.MANUAL),
        Landmark("femoral_epicondyle_medial_left", 1360.0, 1880.0, 0.9, LandmarkSource.MANUAL),
        Landmark("femoral_epicondyle_lateral_left", 1460.0, 1880.0, 0.9, LandmarkSource.MANUAL)])
    got = fill(lms, view="long-leg")
    assert got["femoral_head_center_left"].sigma_px == pytest.approx(_sigma(READER_PCT["femoral_head_center"], 120.0),
                                                                     rel=1e-4)
    assert got["femoral_condyle_medial_left"].sigma_px is None
    assert fill(lms, view="knee-ap")["femoral_condyle_medial_left"].sigma_px == pytest.approx(
        1.9 / 100 * 100.0 / MEDIAN_OVER_SIGMA, rel=1e-4)


def test_the_femoral_offset_interval_is_that_of_an_error_across_the_shaft_only():
    """The shaft points' figures are medians across the readers' shaft (one dimension; σ =
    median / 0.6745), given to both axes: a move along the shaft changes no value that uses
    them, so the femoral offset's interval must be that of an across-only error. Checked by
    Monte Carlo, the shaft points moved across the shaft only, the formula written out here."""
    from orthoplan.landmarks.uncertainty import sigma_px

    d = 100.0  # head diameter, px
    head, prox, dist = (1400.0, 900.0), (1480.0, 1080.0), (1450.0, 1300.0)  # left hip, 1 mm per px
    lms = with_positional_sigma(Landmarks.from_landmarks([
        Landmark("femoral_head_center_left", *head, 0.9, LandmarkSource.AUTO, d / 2),
        Landmark("femoral_shaft_proximal_left", *prox, 0.8, LandmarkSource.AUTO),
        Landmark("femoral_shaft_distal_left", *dist, 0.8, LandmarkSource.AUTO)]), detector="learned")
    s_shaft = [sigma_px(f"femoral_shaft_{e}", "auto", d) for e in ("proximal", "distal")]
    assert s_shaft == pytest.approx([1.7 / 0.6745, 1.5 / 0.6745], rel=1e-3)  # % of 100 px
    m = measure_hip(lms, Calibration(1.0, "explicit-spacing", 0.0))["femoral_offset_left_mm"]
    rng = np.random.default_rng(0)
    n = 200_000
    u = np.subtract(dist, prox) / math.dist(dist, prox)
    across = np.array([u[1], -u[0]])
    h = np.asarray(head) + rng.normal(0.0, _sigma(DETECTOR_PCT["femoral_head_center"], d), (n, 2))
    p = np.asarray(prox) + rng.normal(0.0, s_shaft[0], (n, 1)) * across + rng.normal(0, 30.0, (n, 1)) * u
    q = np.asarray(dist) + rng.normal(0.0, s_shaft[1], (n, 1)) * across + rng.normal(0, 30.0, (n, 1)) * u
    w = q - p  # distance of the head from the line p-q (any move along the shaft changes nothing)
    offset = np.abs(w[:, 0] * (h - p)[:, 1] - w[:, 1] * (h - p)[:, 0]) / np.hypot(w[:, 0], w[:, 1])
    lo, hi = np.percentile(offset, [2.5, 97.5])
    assert m.interval[1] - m.interval[0] == pytest.approx(hi - lo, rel=0.05)


def test_a_film_size_of_what_is_not_landmarks_is_a_clear_error():
    from orthoplan.errors import LandmarkError
    from orthoplan.landmarks.uncertainty import film_size_px

    with pytest.raises(LandmarkError, match="must be Landmarks"):
        film_size_px({"femoral_epicondyle_medial_left": (1, 2)}, "knee-ap")
    assert film_size_px(Landmarks.from_landmarks([]), "long-leg") is None
