"""A long bone's anatomical axis as the midline between its cortices
(orthoplan.landmarks.common.shaft_midline), and the learned knee detector's axis points moved onto
it (knee_learned.fitted_axes): on a drawn shaft, and on real knee films against our readings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from orthoplan.errors import LandmarkError
from orthoplan.landmarks.common import SHAFT_MAX_TURN_DEG, shaft_midline
from orthoplan.landmarks.crossval import condylar_width
from orthoplan.landmarks.knee_learned import SHAFT_WIDTH_SHARE, fitted_axes
from orthoplan.landmarks.references import load_references
from orthoplan.pipeline import load_radiograph

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]
REFS = REPO / "datasets" / "fracatlas-knee" / "references"
SECOND = REPO / "datasets" / "fracatlas-knee" / "second-reading"


def _shaft(tilt_deg: float = 3.0, width: float = 36.0, seed: int = 0) -> tuple[np.ndarray, callable]:
    """A drawn shaft (cortices brighter than the canal, soft tissue around it) whose midline runs
    through (100, 0) tilted ``tilt_deg`` from the image's columns, and that midline's x at y."""
    rows, cols = np.mgrid[0:400, 0:200] + 0.5
    slope = math.tan(math.radians(tilt_deg))

    def mid(y):
        return 100.0 + slope * y

    across = (cols - mid(rows)) * math.cos(math.radians(tilt_deg))
    img = np.full((400, 200), 0.25)
    img[np.abs(across) < width / 2] = 0.85
    img[np.abs(across) < width / 2 - 6] = 0.6  # the medullary canal
    img += np.random.default_rng(seed).normal(0.0, 0.03, img.shape)
    return img, mid


def _angle_deg(p, q) -> float:
    return math.degrees(math.atan2(q[0] - p[0], q[1] - p[1]))


def test_the_midline_of_a_drawn_shaft_is_found_from_start_points_off_it():
    img, mid = _shaft(tilt_deg=3.0)
    # start points 4 px off the midline on either side: their line turns 2.3° from the shaft's
    m = shaft_midline(img, (mid(40) + 4, 40.0), (mid(340) - 4, 340.0), 36.0)
    assert m is not None
    assert abs(_angle_deg(m.proximal_xy, m.distal_xy) - 3.0) < 0.2
    for x, y in (m.proximal_xy, m.distal_xy):
        assert abs(x - mid(y)) < 0.5
    assert abs(m.width_px - 36.0) < 1.5
    assert m.levels_used >= 20


def test_each_point_keeps_its_level_along_the_start_line():
    img, mid = _shaft(tilt_deg=0.0)
    m = shaft_midline(img, (104.0, 60.0), (104.0, 300.0), 36.0)
    assert m is not None
    assert m.proximal_xy[1] == pytest.approx(60.0, abs=1e-6) and m.distal_xy[1] == pytest.approx(300.0, abs=1e-6)
    assert m.proximal_xy[0] == pytest.approx(100.0, abs=0.5)


def test_an_8_bit_image_gives_the_same_midline():
    img, mid = _shaft(tilt_deg=1.0)
    as_float = shaft_midline(img, (98.0, 40.0), (108.0, 340.0), 36.0)
    as_bytes = shaft_midline(np.clip(img * 255, 0, 255).astype(np.uint8), (98.0, 40.0), (108.0, 340.0), 36.0)
    assert np.allclose(as_float.proximal_xy + as_float.distal_xy, as_bytes.proximal_xy + as_bytes.distal_xy, atol=0.1)


def test_no_shaft_or_a_start_line_far_off_it_keeps_the_start_points():
    blank = np.random.default_rng(1).normal(0.5, 0.02, (400, 200))
    assert shaft_midline(blank, (100.0, 40.0), (100.0, 340.0), 36.0) is None
    img, mid = _shaft(tilt_deg=0.0)
    # a start line 8° across the shaft: the midline found turns more than the fit may turn it
    assert SHAFT_MAX_TURN_DEG < 8.0
    off = 300.0 * math.tan(math.radians(8.0))
    assert shaft_midline(img, (100.0 - off / 2, 40.0), (100.0 + off / 2, 340.0), 36.0) is None


@pytest.mark.parametrize("args, message", [
    ((np.zeros(10), (1, 1), (1, 9), 5.0), "2-D"),
    ((np.full((20, 20), "a"), (1, 1), (1, 9), 5.0), "2-D"),
    ((np.zeros((20, 20)), (1, 1), (1, 9), 0.0), "positive"),
    ((np.zeros((20, 20)), (1, 1), (1, 9), "wide"), "positive"),
    ((np.zeros((20, 20)), (1, 1), (1, 1), 5.0), "same point"),
    ((np.zeros((20, 20)), (1, float("nan")), (1, 9), 5.0), "finite"),
])
def test_bad_input_gets_a_clear_error(args, message):
    with pytest.raises(LandmarkError, match=message):
        shaft_midline(*args)


@pytest.mark.parametrize("levels", ["many", 7.5, 3, True])
def test_bad_levels_get_a_clear_error(levels):
    with pytest.raises(LandmarkError, match="whole number"):
        shaft_midline(np.zeros((50, 50)), (10, 5), (10, 40), 10.0, levels=levels)


def test_the_detector_step_refuses_points_that_are_not_points():
    from orthoplan.landmarks.knee_learned import knee_width

    img = np.zeros((50, 50))
    with pytest.raises(LandmarkError, match="mapping"):
        fitted_axes("points", img)
    with pytest.raises(LandmarkError, match="mapping"):
        fitted_axes({"knee_femoral_axis_proximal": (np.array([1.0, 2.0]),)}, img)
    with pytest.raises(LandmarkError, match="mapping"):
        knee_width(None)
    with pytest.raises(LandmarkError, match="femoral_epicondyle_medial"):
        knee_width({"femoral_epicondyle_medial": "a", "femoral_epicondyle_lateral": (1.0, 2.0)})


def _axes_read_twice():
    """``(stem, side, bone, first reading's two points, second reading's)`` of every adult AP
    knee axis read twice."""
    first = {r.stem: r for r in load_references(REFS)}
    out = []
    for s in load_references(SECOND):
        f = first.get(s.stem)
        if f is None or not (s.usable and f.usable) or s.view != "knee-ap" or s.patient != "adult":
            continue
        for side in ("left", "right"):
            for bone in ("femoral", "tibial"):
                names = (f"knee_{bone}_axis_proximal_{side}", f"knee_{bone}_axis_distal_{side}")
                if all(n in f.points and n in s.points for n in names) and condylar_width(f, side):
                    out.append((f, side, bone, [f.points[n].xy for n in names], [s.points[n].xy for n in names]))
    return out


def test_on_real_films_a_turned_axis_comes_back_to_the_readers(real_dir):
    """Every adult AP knee axis read twice (177), started from the first reading's two points
    turned 2.5° about their middle: the midline found lies within 1° of the mean of the two
    readings on at least 70 % of the axes (77 % when written; the two readers differ by a median
    0.7°), a median 0.7° or less (0.52°), and the turned start is kept on at most 5 % (4 of 177)."""
    errors, kept = [], 0
    axes = _axes_read_twice()
    assert len(axes) >= 150
    for ref, side, bone, a, b in axes:
        rad = load_radiograph(str(real_dir / "fracatlas-knee" / ref.image))
        a = np.asarray(a, float)
        c, turn = a.mean(axis=0), math.radians(2.5)
        rot = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
        start = (a - c) @ rot.T + c
        width = SHAFT_WIDTH_SHARE[bone] * condylar_width(ref, side)
        m = shaft_midline(np.asarray(rad.display, np.float32), start[0], start[1], width)
        truth = (_angle_deg(*a) + _angle_deg(*np.asarray(b, float))) / 2
        if m is None:
            kept += 1
            continue
        errors.append(abs(_angle_deg(m.proximal_xy, m.distal_xy) - truth))
    assert kept <= 0.05 * len(axes)
    assert np.mean(np.asarray(errors) <= 1.0) >= 0.7 and np.median(errors) <= 0.7, np.round(errors, 1)


def test_the_detector_moves_only_the_axis_points_and_keeps_their_confidence():
    img, mid = _shaft(tilt_deg=2.0)
    pts = {"knee_femoral_axis_proximal": (np.array([mid(30) - 3, 30.0]), 0.8, 2.0),
           "knee_femoral_axis_distal": (np.array([mid(330) + 3, 330.0]), 0.7, 1.5),
           "femoral_epicondyle_medial": (np.array([60.0, 390.0]), 0.9, 3.0),
           "femoral_epicondyle_lateral": (np.array([146.0, 390.0]), 0.9, 3.0)}
    out = fitted_axes(pts, img)
    for name in ("femoral_epicondyle_medial", "femoral_epicondyle_lateral"):
        assert out[name] is pts[name]
    for name in ("knee_femoral_axis_proximal", "knee_femoral_axis_distal"):
        (x, y), conf, score = out[name]
        assert abs(x - mid(y)) < 0.6 and (conf, score) == pts[name][1:]
    # without the knee's width there is nothing to size the search by: the points stay
    bare = {k: v for k, v in pts.items() if "epicondyle" not in k}
    assert fitted_axes(bare, img) == bare
