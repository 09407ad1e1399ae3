"""2D outlines: sizes at the image's magnification, stem geometry exactly as catalogued."""

from __future__ import annotations

import math

import numpy as np
import pytest

from orthoplan.catalog import (
    CupSize,
    HeadSize,
    StemSize,
    cup_outline_mm,
    head_outline_mm,
    load_catalog,
    stem_landmarks_mm,
    stem_outline_mm,
    to_image,
)
from orthoplan.errors import CatalogError
from orthoplan.geometry import angle_between_deg, signed_distance_to_line
from orthoplan.model import Calibration, CalibrationSource


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(include_env=False, include_entry_points=False)


def _all_stems(catalog):
    return [(f.family, s) for f in catalog.of_kind("stem") for s in f.sizes]


def _crossings_at_y(poly: np.ndarray, y: float) -> np.ndarray:
    """x of every edge of a closed polygon crossing the horizontal line at y."""
    a, b = poly, np.roll(poly, -1, axis=0)
    hit = (a[:, 1] - y) * (b[:, 1] - y) < 0
    hit |= (a[:, 1] == y) & (b[:, 1] != y)
    t = (y - a[hit, 1]) / (b[hit, 1] - a[hit, 1])
    return np.sort(a[hit, 0] + t * (b[hit, 0] - a[hit, 0]))


def _polygon_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


# --------------------------------------------------------------------------- cup


def test_54_mm_cup_at_magnification_1_2_on_0_15_mm_detector_is_432_px(catalog):
    cup = catalog.find("Trident II Clusterhole HA").size(54)
    outline = cup_outline_mm(cup)
    expected = 54 * 1.2 / 0.15  # 432 px
    px = to_image(outline, center_xy=(1024.0, 768.0), magnification=1.2, detector_mm_per_px=0.15)
    assert px[:, 0].max() - px[:, 0].min() == pytest.approx(expected, abs=0.5)
    # the same through the anatomical scale and through a Calibration
    anat = to_image(outline, center_xy=(1024.0, 768.0), mm_per_px=0.15 / 1.2)
    cal = Calibration(0.15 / 1.2, CalibrationSource.BALL_MARKER, 2.0)
    np.testing.assert_allclose(anat, px, atol=1e-9)
    np.testing.assert_allclose(to_image(outline, center_xy=(1024.0, 768.0), calibration=cal), px, atol=1e-9)
    # rotated 40°: the rim (first to last vertex) still measures 432 px, the centre stays put
    rot = to_image(outline, center_xy=(1024.0, 768.0), rotation_deg=40, magnification=1.2, detector_mm_per_px=0.15)
    assert np.hypot(*(rot[-1] - rot[0])) == pytest.approx(expected, abs=0.5)
    assert np.allclose((rot[0] + rot[-1]) / 2, (1024.0, 768.0))
    # every outline point lies on the rim line or on the 216 px circle
    r = np.hypot(rot[:, 0] - 1024.0, rot[:, 1] - 768.0)
    assert np.allclose(r[1:-1], expected / 2, atol=1e-9)


def test_cup_outline_frame():
    o = cup_outline_mm(CupSize("50", 50.0))
    assert tuple(o[0]) == (-25.0, 0.0) and tuple(o[-1]) == (25.0, 0.0)  # rim on the x axis
    assert o[:, 1].max() == 0.0 and o[:, 1].min() == pytest.approx(-25.0)  # dome towards -y
    assert _polygon_area(o) == pytest.approx(math.pi * 25**2 / 2, rel=1e-3)


def test_rotation_is_clockwise_on_screen_and_mirror_gives_the_other_hip():
    cup = CupSize("50", 50.0)
    o = cup_outline_mm(cup)
    right = to_image(o, center_xy=(0, 0), rotation_deg=45, mm_per_px=1.0)
    left = to_image(o, center_xy=(0, 0), rotation_deg=45, mm_per_px=1.0, mirror=True)
    # the opening (normal of the rim, +y in the cup frame) faces down and towards the image's left
    # (lateral for a right hip) and down-right for the left hip
    dome = right[len(right) // 2]
    assert dome[0] > 0 and dome[1] < 0  # the dome points up and medially (image right) on a right hip
    np.testing.assert_allclose(left, right * np.array([-1.0, 1.0]), atol=1e-12)
    rim = right[-1] - right[0]
    assert math.degrees(math.atan2(rim[1], rim[0])) == pytest.approx(45.0)


def test_to_image_scale_arguments():
    o = np.array([[10.0, 0.0]])
    with pytest.raises(ValueError, match="exactly one"):
        to_image(o, center_xy=(0, 0))
    with pytest.raises(ValueError, match="exactly one"):
        to_image(o, center_xy=(0, 0), mm_per_px=0.1, detector_mm_per_px=0.15, magnification=1.2)
    with pytest.raises(ValueError, match="needs the image's magnification"):
        to_image(o, center_xy=(0, 0), detector_mm_per_px=0.15)
    with pytest.raises(ValueError, match="already includes it"):
        to_image(o, center_xy=(0, 0), mm_per_px=0.1, magnification=1.2)
    with pytest.raises(ValueError, match="positive"):
        to_image(o, center_xy=(0, 0), mm_per_px=0.0)
    cal = Calibration(0.1, CalibrationSource.BALL_MARKER, 2.0, aspect_ratio=2.0)
    assert to_image(np.array([[10.0, 10.0]]), center_xy=(0, 0), calibration=cal).tolist() == [[100.0, 50.0]]


# --------------------------------------------------------------------------- stem


def test_stem_taper_point_offset_and_neck_angle_are_exactly_the_catalogs(catalog):
    for family, stem in _all_stems(catalog):
        o = stem_outline_mm(stem)
        taper = (o[0] + o[1]) / 2.0
        assert np.allclose(taper, 0.0, atol=1e-12), family
        # the shaft axis, found from the outline alone: midpoints of the body between the cut and the tip
        res, length = stem.resection_level_mm, stem.stem_length_mm
        ys = np.linspace(res + 1.0, length - 10.0, 15)
        mids = []
        for y in ys:
            xs = _crossings_at_y(o, y)
            assert len(xs) == 2, (family, stem.label, y)
            mids.append(((xs[0] + xs[1]) / 2.0, y))
        mids = np.array(mids)
        a, b = mids[0], mids[-1]
        assert np.allclose(mids[:, 0], a[0], atol=1e-9)  # a straight axis
        assert abs(signed_distance_to_line(taper, a, b)) == pytest.approx(stem.horizontal_offset_mm, abs=1e-9)
        assert taper[0] - a[0] == pytest.approx(stem.horizontal_offset_mm, abs=1e-9)  # head medial (+x) of the axis
        # the neck: its inferior edge (vertex 1 -> 2) runs along the neck axis; towards the head it makes
        # the CCD angle with the distal shaft axis
        towards_head = o[1] - o[2]
        assert angle_between_deg(towards_head, b - a) == pytest.approx(stem.neck_shaft_angle_deg, abs=1e-9)
        assert angle_between_deg(o[0] - o[1], towards_head) == pytest.approx(90.0, abs=1e-9)  # the end face
        assert np.hypot(*(o[0] - o[1])) == pytest.approx(12.0)
        # the tip is at the catalog length
        assert o[:, 1].max() == pytest.approx(length, abs=1e-9)


def test_stem_widths_at_the_catalog_levels(catalog):
    for family, stem in _all_stems(catalog):
        o = stem_outline_mm(stem)
        for d, w in stem.body_widths_mm:
            y = stem.resection_level_mm + d + (1e-7 if d == 0 else 0.0)
            xs = _crossings_at_y(o, y)
            assert xs[-1] - xs[0] == pytest.approx(w, abs=1e-5), (family, stem.label, d)
            assert stem.body_width_at(d) == w


def test_stem_landmarks_are_consistent(catalog):
    stem = catalog.find("Corail standard offset").size(12)
    lm = stem_landmarks_mm(stem)
    h = stem.horizontal_offset_mm
    x = lm["neck_shaft_intersection"]
    # the intersection lies on the shaft axis and on the neck axis through the taper point
    assert x[0] == pytest.approx(-h)
    assert angle_between_deg(-x, lm["neck_direction"]) == pytest.approx(0.0, abs=1e-7)
    assert x[1] == pytest.approx(stem.vertical_offset_mm) == pytest.approx(h)  # 135°: as deep as it is offset
    assert tuple(lm["stem_tip"]) == (-h, stem.stem_length_mm)
    med, lat = lm["resection_medial"], lm["resection_lateral"]
    assert med[1] == stem.resection_level_mm and med[0] == pytest.approx(-h + stem.body_widths_mm[0][1] / 2)
    assert angle_between_deg(med - lat, (0, 1)) == pytest.approx(stem.resection_angle_deg)
    assert lat[0] < -h  # the cut leaves the stem laterally of the axis
    generic = catalog.find("generic uncemented straight stem").size(3)
    assert stem_landmarks_mm(generic)["lesser_trochanter"][1] == generic.lesser_trochanter_mm


def test_stem_outline_of_a_varus_stem_without_vendor_data():
    s = StemSize("v", 150, 125, 44, 36, ((0, 26), (20, 18), (100, 10)))
    o = stem_outline_mm(s)
    assert angle_between_deg(o[1] - o[2], (0, 1)) == pytest.approx(125.0)
    assert s.vertical_offset_mm == pytest.approx(44 / math.tan(math.radians(55)))


def test_vendor_outline_replaces_the_parametric_one():
    poly = ((0.0, 0.0), (-50.0, 10.0), (-45.0, 150.0), (-35.0, 150.0))
    s = StemSize("v", 150, 135, 40, 40, ((0, 26), (100, 10)), outline_mm=poly)
    assert stem_outline_mm(s).tolist() == [list(p) for p in poly]


# --------------------------------------------------------------------------- head


def test_head_outline_in_the_stem_frame(catalog):
    stem = catalog.find("Corail standard offset").size(12)
    head = catalog.find("generic heads").size(32)
    for nl in head.neck_lengths_mm:
        c = head_outline_mm(head, nl, stem=stem)
        centre = (c.max(axis=0) + c.min(axis=0)) / 2
        np.testing.assert_allclose(centre, stem.head_center_mm(nl), atol=1e-9)
        assert c[:, 0].max() - c[:, 0].min() == pytest.approx(32.0)
    # +7 mm along a 135° neck adds 7·sin45° of offset and of height
    c7 = stem.head_center_mm(7.0)
    assert c7 == pytest.approx([7 / math.sqrt(2), -7 / math.sqrt(2)])
    with pytest.raises(CatalogError, match=r"neck length \+5 mm is not offered for head 32; options: -3.5, \+0, \+3.5, \+7 mm"):
        head_outline_mm(head, 5.0)


def test_head_outline_default_angle():
    c = head_outline_mm(HeadSize("28", 28.0, (0.0, 4.0)), 4.0)
    centre = (c.max(axis=0) + c.min(axis=0)) / 2
    np.testing.assert_allclose(centre, [4 * math.sin(math.radians(45)), -4 * math.cos(math.radians(45))], atol=1e-9)
