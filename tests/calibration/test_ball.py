"""Ball detection and sub-pixel fitting on drawn images whose discs are known exactly."""

from __future__ import annotations

import math

import pytest

from orthoplan.calibration import BallCandidate, find_balls, from_ball, from_known_object
from orthoplan.errors import CalibrationError
from orthoplan.model import CalibrationSource, SpacingTags

IPS = SpacingTags(imager_pixel_spacing_mm=(0.2, 0.2))


@pytest.mark.parametrize(
    "x, y, r, note",
    [
        (120.3, 300.7, 45.2, "left, on soft tissue"),
        (585.6, 420.1, 38.9, "right, on soft tissue"),
        (355.4, 200.2, 41.7, "overlapping the bone bar"),
        (238.0, 480.5, 44.0, "touching the bone bar"),
    ],
)
def test_single_disc_subpixel(drawn, x, y, r, note):
    rad = drawn(discs=[(x, y, r)], noise=0.02, seed=int(x))
    cands = find_balls(rad.display, radius_range_px=(30, 60))
    assert cands, note
    best = cands[0]
    assert math.hypot(best.x - x, best.y - y) < 0.15, note
    assert best.radius_px == pytest.approx(r, abs=0.15), note
    assert best.score > 0.7 and best.edge_fraction > 0.95
    assert best.n_edge_points >= 170 and best.rms_px < 0.5


def test_wide_search_without_range(drawn):
    rad = drawn(discs=[(200.0, 250.0, 40.0)], noise=0.015)
    best = find_balls(rad.display)[0]
    assert best.radius_px == pytest.approx(40.0, abs=0.2)


def test_no_round_object(drawn):
    rad = drawn(noise=0.02, spacing=IPS)
    strong = [c for c in find_balls(rad.display) if c.score > 0.5]
    assert strong == []
    with pytest.raises(CalibrationError, match="no 25 mm calibration ball"):
        from_ball(rad, 25.0)


def test_from_ball_scale_and_uncertainty(drawn):
    # 25 mm ball at magnification 1.2 on a 0.2 mm detector: radius 75 px
    r = 12.5 * 1.2 / 0.2
    rad = drawn((700, 800), discs=[(150.5, 400.25, r)], spacing=IPS, noise=0.02)
    cal = from_ball(rad, 25.0)
    assert cal.source is CalibrationSource.BALL_MARKER
    assert cal.mm_per_px == pytest.approx(0.2 / 1.2, rel=0.003)
    assert cal.magnification == pytest.approx(1.2, rel=0.003)
    assert 8.0 < cal.uncertainty_pct < 8.2  # placement unknown dominates
    assert cal.details["radius_px"] == pytest.approx(r, abs=0.2)
    assert cal.details["diameter_mm"] == 25.0
    assert cal.spacing_basis == "image"
    hip = from_ball(rad, 25.0, placement="hip-level")
    assert 3.0 < hip.uncertainty_pct < 3.3
    assert hip.mm_per_px == cal.mm_per_px


def test_configurable_diameter(drawn):
    r = 15.0 * 1.15 / 0.2  # a 30 mm ball
    rad = drawn((600, 700), discs=[(500.0, 300.0, r)], spacing=IPS)
    cal = from_ball(rad, 30.0)
    assert cal.mm_per_px == pytest.approx(0.2 / 1.15, rel=0.003)


def test_two_round_objects_give_scored_candidates_and_the_asked_size_wins(drawn):
    # a 25 mm ball and a 32 mm "prosthetic head", both at magnification 1.15, 0.2 mm detector
    r25, r32 = 12.5 * 1.15 / 0.2, 16.0 * 1.15 / 0.2
    rad = drawn((700, 900), discs=[(150.0, 450.0, r25), (620.0, 250.0, r32)], spacing=IPS, bone_bars=((400.0, 60.0),))
    cands = find_balls(rad.display, radius_range_px=(40, 120))
    assert len(cands) >= 2
    radii = sorted(c.radius_px for c in cands[:2])
    assert radii[0] == pytest.approx(r25, abs=0.3) and radii[1] == pytest.approx(r32, abs=0.3)
    assert all(0.5 < c.score <= 1.0 for c in cands[:2])
    cal25 = from_ball(rad, 25.0)
    assert cal25.details["radius_px"] == pytest.approx(r25, abs=0.3)
    assert cal25.mm_per_px == pytest.approx(0.2 / 1.15, rel=0.004)
    assert cal25.details["other_candidates"], "the other round object is listed"
    assert any("two round objects" in w for w in cal25.warnings)
    cal32 = from_ball(rad, 32.0)
    assert cal32.details["radius_px"] == pytest.approx(r32, abs=0.3)
    assert cal32.mm_per_px == pytest.approx(0.2 / 1.15, rel=0.004)


def test_two_balls_of_the_same_size(drawn):
    r = 12.5 * 1.15 / 0.2
    rad = drawn((700, 900), discs=[(120.0, 300.0, r), (780.0, 420.0, r)], spacing=IPS)
    cands = find_balls(rad.display, radius_range_px=(50, 100))
    assert len(cands) >= 2 and all(c.score > 0.7 for c in cands[:2])
    assert {round(c.x / 100) for c in cands[:2]} == {1, 8}
    cal = from_ball(rad, 25.0)
    assert not any("two round objects" in w for w in cal.warnings)  # same size: no contradiction


def test_given_candidate_is_used(drawn):
    rad = drawn(discs=[(300.0, 300.0, 50.0)])
    cand = BallCandidate(300.0, 300.0, 50.0, 0.9, radius_se_px=0.01)
    cal = from_ball(rad, 25.0, candidate=cand)
    assert cal.mm_per_px == pytest.approx(0.25)


def test_anisotropic_pixels(drawn):
    # row spacing 0.22, column spacing 0.2: the ball is an ellipse in pixel space
    tags = SpacingTags(imager_pixel_spacing_mm=(0.22, 0.2))
    r = 12.5 * 1.15 / 0.2
    rad = drawn((700, 800), discs=[(400.0, 350.0, r)], spacing=tags, aspect=1.1, bone_bars=())
    cal = from_ball(rad, 25.0)
    assert cal.aspect_ratio == pytest.approx(1.1)
    assert cal.mm_per_px == pytest.approx(0.2 / 1.15, rel=0.004)


@pytest.mark.parametrize("bad", [dict(diameter_mm=0), dict(diameter_mm=-5), dict(placement="between-thighs")])
def test_bad_arguments(drawn, bad):
    rad = drawn(discs=[(300.0, 300.0, 50.0)])
    with pytest.raises(CalibrationError):
        from_ball(rad, **{"diameter_mm": 25.0, **bad})


def test_prosthetic_head_on_a_neck_is_not_a_ball(drawn):
    """A round object whose outline is interrupted (a head on its neck) is not taken as the ball."""
    import numpy as np
    from dataclasses import replace

    r = 16.0 * 1.15 / 0.2
    rad = drawn((700, 800), discs=[(400.0, 300.0, r)], spacing=IPS, bone_bars=())
    disp = rad.display.copy()
    # a bright neck leaving the head downwards, 14 mm wide like a 12/14 taper (a 32 mm head)
    half = int(7.0 / 16.0 * r)
    disp[300:700, 400 - half : 400 + half] = disp[300, 400]
    rad = replace(rad, display=disp)
    with pytest.raises(CalibrationError, match="interrupted"):
        from_ball(rad, 32.0)
    # ... but it is fine as a known object
    cal = from_known_object(rad, (410.0, 290.0), 32.0)
    assert cal.mm_per_px == pytest.approx(0.2 / 1.15, rel=0.005)
    assert np.isfinite(cal.uncertainty_pct)


def test_min_score_skips_weak_candidates_only():
    """Dropping candidates after the coarse pass keeps the ball exactly and only removes others."""
    from orthoplan import image
    from orthoplan.phantoms import pelvis as phantom

    case = phantom.make_pelvis(seed=3, rows=1000, columns=1200, detector_spacing_mm=0.38)
    rad = image.load(case.dataset)
    r = 12.5 * case.magnification / 0.38
    everything = find_balls(rad.display, radius_range_px=(0.8 * r, 1.2 * r), max_candidates=20)
    kept = find_balls(rad.display, radius_range_px=(0.8 * r, 1.2 * r), max_candidates=20, min_score=0.05)
    assert everything[0] == kept[0] and everything[0].score > 0.8  # the ball, to the last digit
    assert len(kept) < len(everything)  # bone blobs of ball size were dropped early
    assert all(k in everything for k in kept)


@pytest.mark.parametrize("bad", [-0.1, 1.5, "0.5", float("nan")])
def test_min_score_must_be_a_fraction(bad):
    import numpy as np

    with pytest.raises(CalibrationError, match="min_score"):
        find_balls(np.zeros((64, 64)), min_score=bad)
