"""The learned knee detector's plumbing that needs no trained model: its training films, its
anatomy rules, its confidence tables and its model checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from orthoplan.errors import LandmarkError
from orthoplan.landmarks import crossval, training
from orthoplan.landmarks.crossval import KNEE_AP, KNEE_LATERAL, Row, recalibrated
from orthoplan.landmarks.knee_learned import ap_problems, axis_problems, lateral_problems
from orthoplan.landmarks.network import default_model_path, load_model
from orthoplan.landmarks.references import load_references, parse_reference

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]
REFS = REPO / "datasets" / "fracatlas-knee" / "references"

DOWN = np.array([0.0, 1.0])


def right_knee() -> dict[str, np.ndarray]:
    """A right AP knee as displayed (lateral towards the viewer's left, -x), 80 px wide."""
    p = {"femoral_condyle_medial": (120, 300), "femoral_condyle_lateral": (80, 302),
         "tibial_plateau_medial": (135, 306), "tibial_plateau_lateral": (68, 308),
         "femoral_epicondyle_medial": (142, 270), "femoral_epicondyle_lateral": (62, 268),
         "femoral_knee_center": (100, 290), "tibial_knee_center": (101, 300),
         "knee_femoral_axis_distal": (98, 210), "knee_femoral_axis_proximal": (96, 150),
         "knee_tibial_axis_proximal": (102, 350), "knee_tibial_axis_distal": (103, 420)}
    return {k: np.array(v, float) for k, v in p.items()}


def test_a_plausible_ap_knee_breaks_no_rule():
    assert ap_problems(right_knee(), np.array([-1.0, 0.0]), DOWN) == {}


@pytest.mark.parametrize("anatomy, where, words", [
    ("tibial_plateau_medial", (135, 240), "above the medial plateau"),       # plateau above the condyle
    ("knee_femoral_axis_distal", (98, 340), "femoral axis point not above"),  # on the tibia
    ("knee_tibial_axis_proximal", (102, 260), "tibial axis point not below"),
    ("knee_tibial_axis_distal", (190, 420), "outside the shaft"),             # beside the tibia
    ("femoral_epicondyle_lateral", (90, 268), "widest part"),                # inside the condyles
    ("femoral_knee_center", (170, 292), "away from the joint"),
])
def test_each_ap_rule_catches_a_point_on_the_wrong_place(anatomy, where, words):
    p = right_knee()
    p[anatomy] = np.array(where, float)
    problems = ap_problems(p, np.array([-1.0, 0.0]), DOWN)
    assert anatomy in problems and words in problems[anatomy], problems


def test_no_readers_knee_breaks_the_axis_rules():
    """Every usable AP knee the readers read: each axis within MAX_AXIS_TILT_DEG of the limb and
    its joint-line pair on either side of it (the rules catch a point on the other knee, not a
    varus or valgus knee)."""
    seen = 0
    for ref in load_references(REFS):
        if ref.view != "knee-ap" or not ref.usable or ref.superior != "up":
            continue
        for side in ("left", "right"):
            p = {n[: -len(side) - 1]: np.array([q.x, q.y]) for n, q in ref.points.items() if n.endswith("_" + side)}
            if "knee_femoral_axis_proximal" not in p and "knee_tibial_axis_proximal" not in p:
                continue
            out = {}
            axis_problems(p, DOWN, lambda names, why: out.update(dict.fromkeys(names, why)))
            assert out == {}, (ref.stem, side, out)
            seen += 1
    assert seen >= 200


@pytest.mark.parametrize("move, words", [
    ({"knee_femoral_axis_proximal": (20, 150)}, "from the limb's long axis"),          # an axis across the film
    ({"femoral_condyle_medial": (330, 300), "femoral_condyle_lateral": (120, 300)},     # as on IMG0000126: one
     "either side of the femoral axis"),                                               # on the other knee
    ({"tibial_plateau_medial": (106, 306)}, "either side of the tibial axis"),         # a margin on the axis
])
def test_the_axis_rules_catch_a_point_on_the_other_knee(move, words):
    p = right_knee()
    out = {}
    axis_problems(p, DOWN, lambda names, why: out.update(dict.fromkeys(names, why)))
    assert out == {}
    p.update({k: np.array(v, float) for k, v in move.items()})
    axis_problems(p, DOWN, lambda names, why: out.update(dict.fromkeys(names, why)))
    assert set(move) <= set(out) and all(words in out[k] for k in move), out
    # an axis another rule already flagged is not held against the joint line
    out.clear()
    axis_problems(p, DOWN, lambda names, why: out.update(dict.fromkeys(names, why)),
                  flagged={"knee_femoral_axis_proximal", "knee_tibial_axis_proximal"})
    assert out == {}


def test_film_halves_cut_at_the_gap_and_refuse_a_film_too_small():
    from orthoplan.landmarks.knee_learned import film_halves

    film = np.zeros((60, 200))
    film[:, 20:80] = 1.0
    film[:, 130:180] = 1.0  # two knees, the gap at 80-130
    (a0, a1), (b0, b1) = film_halves(film)
    assert a0 == 0 and b1 == 200 and 80 <= b0 < a1 <= 136
    with pytest.raises(LandmarkError, match="at least 8"):
        film_halves(np.zeros((60, 3)))


def test_medial_and_lateral_swapped_are_caught():
    """The lateral condyle on the medial side: both condyles lose their confidence."""
    p = right_knee()
    p["femoral_condyle_medial"], p["femoral_condyle_lateral"] = p["femoral_condyle_lateral"], p["femoral_condyle_medial"]
    problems = ap_problems(p, np.array([-1.0, 0.0]), DOWN)
    assert {"femoral_condyle_medial", "femoral_condyle_lateral"} <= set(problems)


def lateral_knee() -> dict[str, np.ndarray]:
    """A flexed lateral knee: femur down-left, tibia down-right, anterior towards -x."""
    p = {"knee_femoral_axis_proximal": (300, 100), "knee_femoral_axis_distal": (260, 180),
         "femoral_anterior_cortex": (228, 200), "femoral_posterior_cortex": (285, 215),
         "femoral_posterior_condyle": (290, 280),
         "tibial_plateau_anterior": (240, 300), "tibial_plateau_posterior": (290, 290),
         "knee_tibial_axis_proximal": (300, 360), "knee_tibial_axis_distal": (340, 430)}
    return {k: np.array(v, float) for k, v in p.items()}


def test_a_plausible_lateral_knee_breaks_no_rule():
    assert lateral_problems(lateral_knee()) == {}


@pytest.mark.parametrize("anatomy, where, words", [
    ("femoral_posterior_condyle", (200, 280), "not posterior"),
    ("tibial_plateau_posterior", (180, 300), "do not run from anterior to posterior across the tibia"),
    ("knee_tibial_axis_proximal", (262, 230), "not beyond the plateau"),
    ("knee_tibial_axis_distal", (296, 330), "wrong order"),
    ("femoral_posterior_cortex", (200, 215), "posterior cortex is not posterior"),
    ("femoral_anterior_cortex", (282, 205), "anterior cortex is on the posterior side"),  # on the posterior cortex
    ("knee_tibial_axis_proximal", (120, 60), "on the femur's side of the plateau"),     # IMG0000139: above the knee
    ("knee_tibial_axis_distal", (700, 1100), "far from the knee"),
    ("knee_femoral_axis_proximal", (275, 255), "the proximal one is not the further from the knee"),  # IMG0000139
])
def test_each_lateral_rule_catches_a_point_on_the_wrong_place(anatomy, where, words):
    p = lateral_knee()
    p[anatomy] = np.array(where, float)
    problems = lateral_problems(p)
    assert anatomy in problems and words in problems[anatomy], problems


def test_no_readers_lateral_knee_breaks_the_lateral_rules():
    """Every usable lateral knee the readers read (flexed up to 127°) passes every rule: the
    rules catch a point on the wrong place, not a knee in an unusual pose."""
    seen = 0
    for ref in load_references(REFS):
        if ref.view != "knee-lateral" or not ref.usable:
            continue
        p = {n.rsplit("_", 1)[0]: np.array([q.x, q.y]) for n, q in ref.points.items()}
        assert lateral_problems(p) == {}, ref.stem
        seen += 1
    assert seen >= 120


def test_an_anterior_cortex_on_the_posterior_cortex_flags_it_and_not_the_tibia():
    """The commonest lateral miss on real films: the anterior cortex found on the posterior
    cortex. The posterior condyle, posterior cortex and plateau outvote it; the plateau and the
    tibial axis, right where they are, are not flagged; with only the two femoral points left
    nothing says which is wrong, and both are flagged."""
    p = lateral_knee()
    p["femoral_anterior_cortex"] = np.array((282.0, 205.0))
    assert set(lateral_problems(p)) == {"femoral_anterior_cortex"}
    two = {k: p[k] for k in ("knee_femoral_axis_proximal", "knee_femoral_axis_distal", "femoral_anterior_cortex",
                             "femoral_posterior_condyle")}
    assert set(lateral_problems(two)) == {"femoral_anterior_cortex", "femoral_posterior_condyle"}


def test_knee_references_become_training_films_on_the_right_channels(real_dir):
    refs = [r for r in load_references(REFS) if r.usable]
    ap = next(r for r in refs if r.view == "knee-ap" and any(n.endswith("_left") for n in r.points)
              and any(n.endswith("_right") for n in r.points))
    lat = next(r for r in refs if r.view == "knee-lateral")
    films = training.films_from_references([ap, lat], real_dir / "fracatlas-knee", training.KNEE_CHANNELS)
    assert [f.key for f in films] == [ap.stem, lat.stem]
    index = {c: i for i, c in enumerate(training.KNEE_CHANNELS)}
    f_ap, f_lat = films
    lateral = [index[c] for c in training.KNEE_LATERAL_CHANNELS]
    assert f_ap.absent[lateral].all() and not np.isfinite(f_ap.points[lateral]).any()
    assert np.isfinite(f_ap.points[index["femoral_condyle_medial_left"]]).all()
    assert np.isfinite(f_ap.points[index["femoral_condyle_medial_right"]]).all()
    # a lateral reading has no side: its points are on the lateral channels, the AP ones absent
    assert np.isfinite(f_lat.points[index["lateral:femoral_posterior_condyle"]]).all()
    assert f_lat.absent[[index[c] for c in training.KNEE_AP_CHANNELS]].all()
    # flips swap the AP sides and keep every lateral channel
    perm = training.channel_pairs(training.KNEE_CHANNELS)
    assert training.KNEE_CHANNELS[perm[index["tibial_plateau_lateral_right"]]] == "tibial_plateau_lateral_left"
    assert all(perm[i] == i for i in lateral)


def _ap_reading(lateral_x: float, medial_x: float, side: str = "right"):
    pts = {f"femoral_condyle_lateral_{side}": {"x": lateral_x, "y": 100.0, "certainty": "clear"},
           f"femoral_condyle_medial_{side}": {"x": medial_x, "y": 100.0, "certainty": "clear"}}
    return parse_reference({"format": "orthoplan-landmark-reference/1", "image": "images/x.jpg", "width": 300,
                            "height": 400, "view": "knee-ap", "usable": True, "reader": "t", "landmarks": pts})


def test_a_mirrored_knee_display_is_recognised_from_its_condyles():
    """A right knee shows its lateral condyle on the viewer's left on a standard display."""
    assert training.displayed_left_x(_ap_reading(80, 140)) == 1
    assert training.displayed_left_x(_ap_reading(140, 80)) == -1
    assert training.displayed_left_x(_ap_reading(140, 80, "left")) == 1


def _rows(view_size: float, n: int, fold_of, err_of, film_prefix="f"):
    rows = []
    for i in range(n):
        for a in ("femoral_condyle_medial", "femoral_condyle_lateral", "tibial_plateau_medial", "tibial_plateau_lateral"):
            e = err_of(i)
            rows.append(Row(f"{film_prefix}{i}", f"{a}_right", "adult", fold_of(i), (100.0, 100.0), (100.0 + e, 100.0),
                            1.0, 0.2 + 0.6 * (i % 10) / 10, view_size))
    return rows


def test_knee_recalibration_drops_a_knee_whose_joint_line_is_unsure():
    """Low scores that were far off on other folds give a low confidence; a knee whose joint-line
    points are all unsure is not reported at all (its rows lose the detection)."""
    rng = np.random.default_rng(0)
    rows = _rows(80.0, 300, lambda i: i % 3, lambda i: 2.0 if i % 10 >= 8 else float(rng.uniform(10, 40)))
    cal = recalibrated(rows, 3, None, KNEE_AP)
    sure = [r for r in cal if int(r.film[1:]) % 10 >= 8]
    unsure = [r for r in cal if int(r.film[1:]) % 10 < 5]  # scores below 0.5: mostly misses above them too
    assert unsure and all(r.det_xy is None for r in unsure)
    assert sure and all(r.det_xy is not None and r.confidence > 0.7 for r in sure)


def test_knee_tolerance_is_about_5_mm_at_an_adult_size():
    assert KNEE_AP.tolerance_pct * KNEE_AP.size_mm / 100 == pytest.approx(5.0, abs=0.1)
    assert KNEE_LATERAL.tolerance_pct * KNEE_LATERAL.size_mm / 100 == pytest.approx(5.0, abs=0.1)
    table = crossval.confidence_table([0.5] * 200, [7.0] * 200, tolerance_pct=KNEE_AP.tolerance_pct)
    assert max(table["confidence"]) == 0.0  # 7 % of the condylar width is a miss on a knee
    table = crossval.confidence_table([0.5] * 200, [7.0] * 200)
    assert max(table["confidence"]) > 0.8  # and within the pelvis's 10 % of the head


def test_a_model_for_another_view_is_refused(tmp_path, monkeypatch):
    src = default_model_path("ap-pelvis")
    for suffix in (".onnx", ".json"):
        (tmp_path / ("m" + suffix)).write_bytes(src.with_suffix(suffix).read_bytes())
    with pytest.raises(LandmarkError, match="for ap-pelvis films, not for knee films"):
        load_model(tmp_path / "m.onnx", view="knee")
    monkeypatch.setenv("ORTHOPLAN_KNEE_MODEL", str(tmp_path / "m.onnx"))
    monkeypatch.setenv("ORTHOPLAN_MODEL", str(tmp_path / "other.onnx"))
    assert default_model_path("knee") == tmp_path / "m.onnx"
    assert default_model_path("ap-pelvis") == tmp_path / "other.onnx"
    meta = json.loads(src.with_suffix(".json").read_text())
    assert meta["view"] == "ap-pelvis"


def test_each_knee_view_has_its_model_and_a_site_model_serves_both(tmp_path, monkeypatch):
    """AP knee films are read by the shipped knee-ap network (448 px), lateral films by the knee
    network (320 px); a site's $ORTHOPLAN_KNEE_MODEL serves both views, and
    $ORTHOPLAN_KNEE_AP_MODEL only AP films. Both shipped models are knee-family models."""
    from orthoplan.landmarks.knee_learned import knee_model_path

    for env in ("ORTHOPLAN_KNEE_MODEL", "ORTHOPLAN_KNEE_AP_MODEL"):
        monkeypatch.delenv(env, raising=False)
    ap, lat = knee_model_path("knee-ap"), knee_model_path("knee-lateral")
    assert (ap.name, lat.name) == ("knee-ap.onnx", "knee.onnx")
    m_ap, m_lat = load_model(ap, view="knee"), load_model(lat, view="knee")
    assert m_ap.input_size > m_lat.input_size and m_ap.channels == m_lat.channels
    # the AP model's tables are for AP films: on a lateral film it is never confident
    assert m_ap.confidence("lateral:femoral_anterior_cortex", 1.0) == 0.0
    assert m_lat.confidence("lateral:femoral_anterior_cortex", 1.0) > 0.5
    monkeypatch.setenv("ORTHOPLAN_KNEE_MODEL", str(tmp_path / "site.onnx"))
    assert knee_model_path("knee-ap") == knee_model_path("knee-lateral") == tmp_path / "site.onnx"
    monkeypatch.setenv("ORTHOPLAN_KNEE_AP_MODEL", str(tmp_path / "site-ap.onnx"))
    assert knee_model_path("knee-ap") == tmp_path / "site-ap.onnx"
    assert knee_model_path("knee-lateral") == tmp_path / "site.onnx"
    # a variable naming nothing: the error names the variables a person may have set
    with pytest.raises(LandmarkError, match="site-ap.onnx not found.*ORTHOPLAN_KNEE_AP_MODEL / ORTHOPLAN_KNEE_MODEL"):
        load_model(knee_model_path("knee-ap"), view="knee")


@pytest.mark.parametrize("view, side, words", [
    ("long-leg", None, "knows the knee-ap and knee-lateral views"),
    ("knee-ap", "up", "must be left or right"),
    ("knee-lateral", None, "side is unknown"),
])
def test_a_wrong_view_or_side_is_a_landmark_error(view, side, words):
    from orthoplan.landmarks.knee import checked_view_and_side

    with pytest.raises(LandmarkError, match=words):
        checked_view_and_side(view, side)


def test_lateral_femoral_points_are_scored_across_the_femoral_axis():
    """On a lateral film the femoral AP dimension and the posterior condylar offset use the
    cortex and posterior condyle points only across the femoral axis: a detection moved along
    the femur costs nothing, one moved across it costs its full distance; an AP film's points
    other than the axis points keep their radial error."""
    from orthoplan.landmarks.references import Reference, ReferencePoint

    def pt(name, x, y):
        return ReferencePoint(name, x, y, "certain")

    pts = {p.name: p for p in (pt("knee_femoral_axis_proximal_right", 200, 0), pt("knee_femoral_axis_distal_right", 200, 100),
                               pt("femoral_anterior_cortex_right", 170, 60), pt("femoral_posterior_condyle_right", 250, 150))}
    lateral = Reference("x.jpg", 400, 400, "knee-lateral", True, "t", pts)
    for name in ("femoral_anterior_cortex_right", "femoral_posterior_condyle_right"):
        d = crossval.axis_direction(lateral, name)
        assert d == pytest.approx((0.0, 1.0))
        ref = pts[name]
        along = Row("x", name, "adult", 0, ref.xy, (ref.x, ref.y + 12.0), 0.5, 0.5, 65.0, None, d)
        across = Row("x", name, "adult", 0, ref.xy, (ref.x + 3.0, ref.y + 4.0), 0.5, 0.5, 65.0, None, d)
        assert along.error_px == pytest.approx(0.0) and across.error_px == pytest.approx(3.0)
    assert crossval.axis_direction(lateral, "tibial_plateau_anterior_right") is None
    ap = Reference("x.jpg", 400, 400, "knee-ap", True, "t", pts)
    assert crossval.axis_direction(ap, "femoral_anterior_cortex_right") is None
