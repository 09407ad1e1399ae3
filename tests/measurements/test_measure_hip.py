"""measure_hip and construction on landmark sets built by construction (pelvis_builder).

Landmark coordinates are stored at float32 precision by ``orthoplan.model.Landmark`` (so a
plan reads back from its DICOM SR exactly): at ~2000 px that is ~6e-5 px of rounding, i.e.
up to ~5e-5 mm / deg here. measure_hip is therefore checked to TOL = 2e-4; the geometry
itself is checked to 1e-9 on float64 points in test_pure_functions.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pelvis_builder import SIDES, HipParams, Pelvis, Placement, place

from orthoplan.errors import MeasurementError
from orthoplan.measurements import construction, measure_hip, measurement_names
from orthoplan.model import (
    Calibration,
    CalibrationSource,
    ImageOrientation,
    Landmark,
    LandmarkName,
    Landmarks,
    Side,
)

TOL = 2e-4


def _landmarks(pelvis: Pelvis, placement: Placement, only=None, missing=None) -> Landmarks:
    pts = place(pelvis, placement, only)
    return Landmarks.from_landmarks([Landmark(k, x, y) for k, (x, y) in pts.items()], missing)


def _cal(placement: Placement, assumed: bool = False) -> Calibration:
    src = CalibrationSource.ASSUMED_MAGNIFICATION if assumed else CalibrationSource.BALL_MARKER
    return Calibration(placement.mm_per_px, src, 3.0, aspect_ratio=placement.aspect_ratio)


def _orient(placement: Placement) -> ImageOrientation:
    return ImageOrientation(placement.patient_left_x, placement.superior_y, "PatientOrientation", placement.turn_deg)


def _measure(pelvis: Pelvis, placement: Placement, **kw):
    return measure_hip(_landmarks(pelvis, placement, **kw), _cal(placement), _orient(placement))


PLACEMENTS = [
    pytest.param(Placement(tilt_deg=tilt, patient_left_x=lx, superior_y=sy, mm_per_px=sp, aspect_ratio=ar),
                 id=f"tilt{tilt:+g}-lx{lx:+d}-sy{sy:+d}-sp{sp}-ar{ar}")
    for tilt in (-10.0, 0.0, 10.0)
    for lx, sy in ((1, -1), (-1, -1), (1, 1), (-1, 1))
    for sp, ar in ((0.2, 1.0), (0.143, 1.37))
] + [
    pytest.param(Placement(tilt_deg=tilt, patient_left_x=lx, turn_deg=turn, center_mm=(220.0, 150.0)),
                 id=f"tilt{tilt:+g}-lx{lx:+d}-turned{turn:+d}")
    for tilt in (-10.0, 0.0, 10.0)
    for lx in (1, -1)
    for turn in (90, -90)
]


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_every_measurement_matches_the_construction(placement):
    """Rotation ±10°, translation, anisotropic spacing, mirrored / flipped orientation, a film
    stored turned by a quarter turn (its orientation from the header): same truth."""
    pelvis = Pelvis()
    ms = _measure(pelvis, placement)
    truth = pelvis.truth()
    assert set(ms.values()) == set(truth) == set(measurement_names())
    assert ms.missing == ()
    for name, value in truth.items():
        assert ms[name].value == pytest.approx(value, abs=TOL), name


def test_translation_changes_nothing():
    pelvis = Pelvis()
    a = _measure(pelvis, Placement(center_mm=(150.0, 220.0))).values()
    b = _measure(pelvis, Placement(center_mm=(433.3, 517.9))).values()
    for k in a:
        assert b[k] == pytest.approx(a[k], abs=TOL)


def test_anisotropic_spacing_is_respected_not_ignored():
    """The same pixels read with a wrong (isotropic) spacing give different mm values."""
    pelvis = Pelvis()
    placement = Placement(tilt_deg=10.0, mm_per_px=0.15, aspect_ratio=1.5)
    lms = _landmarks(pelvis, placement)
    good = measure_hip(lms, _cal(placement), _orient(placement))
    wrong = measure_hip(lms, Calibration(0.15, "ball-marker", 3.0), _orient(placement))
    assert good["lld_teardrop_mm"].value == pytest.approx(7.0, abs=TOL)
    assert good["lcea_left_deg"].value == pytest.approx(24.0, abs=TOL)
    assert abs(wrong["lld_teardrop_mm"].value - 7.0) > 1.0  # y read 1.5x too short
    assert abs(wrong["lcea_left_deg"].value - 24.0) > 1.0


@pytest.mark.parametrize(
    "right,left",
    [
        pytest.param(dict(lcea=-8.0, tonnis=-5.0), dict(lcea=-20.0, tonnis=-1.5), id="edge-medial-lateral-end-low"),
        pytest.param(dict(lcea=0.0, tonnis=0.0), dict(lcea=45.0, tonnis=25.0), id="zero-and-large"),
        pytest.param(dict(lt_depth=75.0, acetabular_offset=-4.0), dict(lt_depth=62.0), id="right-longer-head-medial"),
    ],
)
@pytest.mark.parametrize("placement", [Placement(tilt_deg=-10.0), Placement(tilt_deg=10.0, patient_left_x=-1, superior_y=1)])
def test_sign_conventions(right, left, placement):
    pelvis = Pelvis(hips={"right": HipParams(**right), "left": HipParams(**left)})
    ms = _measure(pelvis, placement)
    truth = pelvis.truth()
    for name, value in truth.items():
        assert ms[name].value == pytest.approx(value, abs=TOL), name
    # spelled out, so a sign slip in the builder cannot hide one in the code
    if "lcea" in right:
        assert ms["lcea_right_deg"].value == pytest.approx(right["lcea"], abs=TOL)
        assert ms["tonnis_angle_right_deg"].value == pytest.approx(right["tonnis"], abs=TOL)
    if "lt_depth" in right:
        assert ms["lld_teardrop_mm"].value == pytest.approx(62.0 - 75.0, abs=TOL)  # right longer: negative
        assert ms["acetabular_offset_right_mm"].value == pytest.approx(-4.0, abs=TOL)


def test_lld_left_longer_is_positive_in_plain_image_terms():
    """No builder: a standard AP image, left trochanter 40 px lower (y down) at 0.25 mm/px."""
    lms = Landmarks.from_landmarks(
        [
            Landmark("teardrop_right", 400, 500),
            Landmark("teardrop_left", 600, 500),
            Landmark("lesser_trochanter_right", 380, 700),
            Landmark("lesser_trochanter_left", 620, 740),
        ]
    )
    ms = measure_hip(lms, Calibration(0.25, "ball-marker", 2.0))
    assert ms["lld_teardrop_mm"].value == pytest.approx(10.0, abs=1e-9)
    # the same pixels on an image whose head is at the bottom: the left trochanter is now higher
    flipped = measure_hip(lms, Calibration(0.25, "ball-marker", 2.0), ImageOrientation(1, 1))
    assert flipped["lld_teardrop_mm"].value == pytest.approx(-10.0, abs=1e-9)


def test_lld_ischial_uses_its_own_line():
    """Ischial line tilted 4° inside the pelvis: the two LLDs differ, each matches its own line."""
    placement = Placement(tilt_deg=7.0)
    pelvis = Pelvis()
    pts = pelvis.points()
    phi = math.radians(4.0)
    d = np.array([math.cos(phi), math.sin(phi)])
    n_inf = np.array([math.sin(phi), -math.cos(phi)])  # perpendicular to d, pointing inferior
    c = np.array([0.0, -42.0])
    pts["ischial_tuberosity_right"] = c - 52 * d
    pts["ischial_tuberosity_left"] = c + 52 * d
    pts["lesser_trochanter_right"] = c - 70 * d + 18.0 * n_inf
    pts["lesser_trochanter_left"] = c + 70 * d + 29.5 * n_inf
    lms = Landmarks.from_landmarks([Landmark(k, *placement.to_px(v)) for k, v in pts.items()])
    ms = measure_hip(lms, _cal(placement), _orient(placement))
    assert ms["lld_ischial_mm"].value == pytest.approx(11.5, abs=TOL)
    lt_r, lt_l = pts["lesser_trochanter_right"], pts["lesser_trochanter_left"]
    assert ms["lld_teardrop_mm"].value == pytest.approx((-lt_l[1]) - (-lt_r[1]), abs=TOL)
    assert abs(ms["lld_teardrop_mm"].value - 11.5) > 1.0


def test_missing_landmark_makes_measurements_absent_with_the_reason():
    pelvis = Pelvis()
    keep = set(pelvis.points()) - {"lesser_trochanter_left", "acetabular_lateral_edge_right"}
    lms = _landmarks(pelvis, Placement(), only=keep, missing={"lesser_trochanter_left": "not found in image"})
    ms = measure_hip(lms, _cal(Placement()), _orient(Placement()))
    missing = dict(ms.missing)
    for name in ("lld_teardrop_mm", "lld_ischial_mm"):
        assert name not in ms and ms.get(name) is None
        assert missing[name] == "needs lesser_trochanter_left: not found in image"
    for name in ("lcea_right_deg", "tonnis_angle_right_deg", "sharp_angle_right_deg"):
        assert name not in ms
        assert missing[name] == "needs acetabular_lateral_edge_right: not given"
    # everything else is still there, and nothing is zero or NaN by accident
    assert set(ms.values()) | set(missing) == set(measurement_names())
    assert all(math.isfinite(v) for v in ms.values().values())
    with pytest.raises(KeyError, match="lesser_trochanter_left"):
        ms["lld_teardrop_mm"]


def test_several_missing_landmarks_are_all_named():
    lms = Landmarks.from_landmarks([Landmark("femoral_head_center_left", 700, 400)])
    ms = measure_hip(lms, Calibration(0.2, "ball-marker", 2.0))
    reason = dict(ms.missing)["neck_shaft_angle_left_deg"]
    assert "needs femoral_neck_center_left" in reason
    assert "needs femoral_shaft_proximal_left" in reason
    assert "needs femoral_shaft_distal_left" in reason
    assert "femoral_head_center_left" not in reason
    assert len(ms) == 0


def test_single_hip_view_uses_image_axes_and_leaves_pelvic_values_absent():
    """AP hip (left only, no teardrops or ischia): per-side values present, noted; LLD absent."""
    pelvis = Pelvis()
    placement = Placement(tilt_deg=0.0)
    left_only = {k for k in pelvis.points() if k.endswith("_left") and not k.startswith(("teardrop", "ischial"))}
    ms = measure_hip(_landmarks(pelvis, placement, only=left_only), _cal(placement), _orient(placement))
    truth = pelvis.truth()
    for name in ("femoral_offset_left_mm", "neck_shaft_angle_left_deg", "lcea_left_deg", "tonnis_angle_left_deg"):
        assert ms[name].value == pytest.approx(truth[name], abs=TOL)
        assert ms[name].side is Side.LEFT
    for name in ("lcea_left_deg", "tonnis_angle_left_deg"):
        assert "pelvic reference: image axes (pelvic tilt not corrected)" in ms[name].notes
    missing = dict(ms.missing)
    assert "needs teardrop_right" in missing["lld_teardrop_mm"]
    assert "needs lesser_trochanter_right" in missing["lld_teardrop_mm"]
    assert "needs ischial_tuberosity_right" in missing["lld_ischial_mm"]
    for name in ("acetabular_offset_left_mm", "global_offset_left_mm", "sharp_angle_left_deg"):
        assert "needs teardrop_right" in missing[name] and name not in ms
    assert not any(m.side is Side.RIGHT for m in ms)
    # every missing landmark is named at once, each once
    reason = missing["global_offset_right_mm"]
    for lm in ("femoral_head_center_right", "femoral_shaft_proximal_right", "femoral_shaft_distal_right",
               "teardrop_right", "teardrop_left"):
        assert reason.count(f"needs {lm}: not given") == 1, (lm, reason)


def test_image_axes_fallback_really_uses_the_image_axes():
    """Tilted pelvis without a pelvic reference: LCEA is relative to the image vertical."""
    pelvis = Pelvis()
    placement = Placement(tilt_deg=10.0)  # pelvis rotated from patient-left towards superior
    only = {k for k in pelvis.points() if not k.startswith(("teardrop", "ischial"))}
    ms = measure_hip(_landmarks(pelvis, placement, only=only), _cal(placement), _orient(placement))
    # the left edge turns towards the vertical, the right one away from it
    assert ms["lcea_left_deg"].value == pytest.approx(24.0 - 10.0, abs=TOL)
    assert ms["lcea_right_deg"].value == pytest.approx(30.0 + 10.0, abs=TOL)


def test_bi_ischial_reference_when_teardrops_are_missing():
    pelvis = Pelvis()
    placement = Placement(tilt_deg=-10.0, patient_left_x=-1)
    only = {k for k in pelvis.points() if not k.startswith("teardrop")}
    ms = measure_hip(_landmarks(pelvis, placement, only=only), _cal(placement), _orient(placement))
    truth = pelvis.truth()
    for side in SIDES:
        for base in ("lcea", "tonnis_angle"):
            m = ms[f"{base}_{side}_deg"]
            assert m.value == pytest.approx(truth[m.name], abs=TOL)  # ischial line is parallel here
            assert any("bi-ischial" in n for n in m.notes)
            assert LandmarkName.ISCHIAL_TUBEROSITY_LEFT in m.landmarks
    assert ms["lld_ischial_mm"].value == pytest.approx(truth["lld_ischial_mm"], abs=TOL)
    assert "lld_teardrop_mm" not in ms


def test_degenerate_geometry_is_absent_with_reason_not_an_exception():
    pelvis = Pelvis()
    placement = Placement()
    lms = _landmarks(pelvis, placement)
    sp = lms["femoral_shaft_proximal_left"]
    # shaft distal 0.8 mm (4 px at 0.2 mm/px) from proximal
    lms = lms.with_landmark(Landmark("femoral_shaft_distal_left", sp.x + 2.0, sp.y + 2.0 * math.sqrt(3)))
    # both teardrops on one point
    td = lms["teardrop_right"]
    lms = lms.with_landmark(Landmark("teardrop_left", td.x, td.y))
    ms = measure_hip(lms, _cal(placement), _orient(placement))
    missing = dict(ms.missing)
    for name in ("femoral_offset_left_mm", "neck_shaft_angle_left_deg", "global_offset_left_mm"):
        assert name not in ms
        assert "femoral_shaft_proximal_left and femoral_shaft_distal_left" in missing[name]
        assert "apart" in missing[name]
    for name in ("lld_teardrop_mm", "acetabular_offset_right_mm", "sharp_angle_left_deg"):
        assert name not in ms and "teardrop_right and teardrop_left" in missing[name]
    # LCEA falls back to the bi-ischial line (parallel to the teardrop line in the builder)
    assert ms["lcea_right_deg"].value == pytest.approx(30.0, abs=TOL)
    assert any("bi-ischial" in n for n in ms["lcea_right_deg"].notes)
    assert ms["femoral_offset_right_mm"].value == pytest.approx(42.0, abs=TOL)


def test_swapped_teardrops_are_reported():
    pelvis = Pelvis()
    placement = Placement()
    lms = _landmarks(pelvis, placement)
    a, b = lms["teardrop_left"], lms["teardrop_right"]
    lms = lms.with_landmark(Landmark("teardrop_left", b.x, b.y)).with_landmark(Landmark("teardrop_right", a.x, a.y))
    ms = measure_hip(lms, _cal(placement), _orient(placement))
    assert any("check the sides" in n for n in ms["lcea_left_deg"].notes)


def test_landmarks_sides_units_and_notes_are_recorded():
    pelvis = Pelvis()
    placement = Placement(tilt_deg=3.0)
    ms = measure_hip(_landmarks(pelvis, placement), _cal(placement, assumed=True), _orient(placement))
    lcea = ms["lcea_left_deg"]
    assert lcea.unit == "deg" and lcea.side is Side.LEFT
    assert set(lcea.landmarks) == {
        LandmarkName.FEMORAL_HEAD_CENTER_LEFT,
        LandmarkName.ACETABULAR_LATERAL_EDGE_LEFT,
        LandmarkName.TEARDROP_RIGHT,
        LandmarkName.TEARDROP_LEFT,
    }
    assert lcea.notes == ("pelvic reference: inter-teardrop line",)
    lld = ms["lld_teardrop_mm"]
    assert lld.side is None and lld.unit == "mm"
    assert set(lld.landmarks) == {
        LandmarkName.TEARDROP_RIGHT, LandmarkName.TEARDROP_LEFT,
        LandmarkName.LESSER_TROCHANTER_RIGHT, LandmarkName.LESSER_TROCHANTER_LEFT,
    }
    assert set(ms["global_offset_right_mm"].landmarks) == {
        LandmarkName.FEMORAL_HEAD_CENTER_RIGHT, LandmarkName.FEMORAL_SHAFT_PROXIMAL_RIGHT,
        LandmarkName.FEMORAL_SHAFT_DISTAL_RIGHT, LandmarkName.TEARDROP_RIGHT, LandmarkName.TEARDROP_LEFT,
    }
    for m in ms:
        assert m.unit == ("mm" if m.name.endswith("_mm") else "deg")
        assert ("assumed scale" in m.notes) == (m.unit == "mm"), m.name
    # the result round-trips through the plan JSON format
    from orthoplan.model import Measurements

    again = Measurements.from_dict(ms.to_dict())
    assert again.values() == ms.values() and again.missing == ms.missing


def test_no_assumed_scale_note_for_a_measured_scale():
    ms = _measure(Pelvis(), Placement())
    assert not any("assumed scale" in n for m in ms for n in m.notes)


# --------------------------------------------------------------------------- construction


def _mm(p, placement: Placement):
    return np.asarray(p, float) * np.array([placement.mm_per_px, placement.mm_per_px * placement.aspect_ratio])


@pytest.mark.parametrize("placement", [Placement(tilt_deg=8.0, aspect_ratio=1.25), Placement(patient_left_x=-1, superior_y=1)])
def test_construction_lines_span_the_measured_quantities(placement):
    pelvis = Pelvis()
    lms = _landmarks(pelvis, placement)
    cal, orient = _cal(placement), _orient(placement)
    truth = pelvis.truth()
    px = place(pelvis, placement)

    every = {name: construction(name, lms, cal, orient) for name in measurement_names()}
    for name, lines in every.items():
        assert lines, name
        for key, poly in lines.items():
            assert poly.ndim == 2 and poly.shape[1] == 2 and len(poly) >= 2 and np.all(np.isfinite(poly)), (name, key)

    # femoral offset: the offset segment starts at the head and is FO long, foot on the shaft axis
    fo = every["femoral_offset_left_mm"]
    np.testing.assert_allclose(fo["offset"][0], px["femoral_head_center_left"], atol=1e-3)
    seg = _mm(fo["offset"], placement)
    assert np.linalg.norm(seg[1] - seg[0]) == pytest.approx(truth["femoral_offset_left_mm"], abs=TOL)
    # LLD: the perpendicular lengths differ by the LLD and end at the trochanters
    lld = every["lld_teardrop_mm"]
    lr, ll = (_mm(lld[f"perpendicular_{s}"], placement) for s in SIDES)
    assert np.linalg.norm(ll[1] - ll[0]) - np.linalg.norm(lr[1] - lr[0]) == pytest.approx(truth["lld_teardrop_mm"], abs=TOL)
    np.testing.assert_allclose(lld["perpendicular_left"][1], px["lesser_trochanter_left"], atol=1e-3)
    # acetabular offset: offset segment is AO long and ends on the teardrop perpendicular
    ao = every["acetabular_offset_right_mm"]
    seg = _mm(ao["offset"], placement)
    assert np.linalg.norm(seg[1] - seg[0]) == pytest.approx(truth["acetabular_offset_right_mm"], abs=TOL)
    np.testing.assert_allclose(ao["offset"][1], ao["teardrop_perpendicular"][1], atol=1e-6)
    # LCEA: edge line joins head and edge; vertical has the same length
    lc = every["lcea_right_deg"]
    np.testing.assert_allclose(lc["edge_line"], [px["femoral_head_center_right"], px["acetabular_lateral_edge_right"]], atol=1e-3)
    v, e = _mm(lc["vertical"], placement), _mm(lc["edge_line"], placement)
    cosang = np.dot(v[1] - v[0], e[1] - e[0]) / (np.linalg.norm(v[1] - v[0]) * np.linalg.norm(e[1] - e[0]))
    assert math.degrees(math.acos(cosang)) == pytest.approx(truth["lcea_right_deg"], abs=TOL)
    assert set(every["global_offset_left_mm"]) >= {"femoral_offset", "acetabular_offset"}


def test_construction_refuses_what_cannot_be_measured():
    lms = Landmarks.from_landmarks([Landmark("femoral_head_center_left", 700, 400)], {"acetabular_lateral_edge_left": "not found in image"})
    with pytest.raises(MeasurementError, match="needs acetabular_lateral_edge_left: not found in image"):
        construction("lcea_left_deg", lms, Calibration(0.2, "ball-marker", 2.0))
    with pytest.raises(MeasurementError, match="unknown measurement"):
        construction("lcea_middle_deg", lms, Calibration(0.2, "ball-marker", 2.0))
