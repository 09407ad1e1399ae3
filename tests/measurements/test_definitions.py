"""Definitions: complete, consistent with what measure_hip produces, and docs in sync."""

from __future__ import annotations

from pathlib import Path

import pytest
from pelvis_builder import Pelvis, Placement, place

from orthoplan.errors import MeasurementError
from orthoplan.measurements import (
    DEFINITIONS,
    definition_for,
    landmarks_markdown,
    measure_hip,
    measurement_names,
    measurements_markdown,
    split_name,
)
from orthoplan.model import LANDMARK_DEFINITIONS, Calibration, Landmark, Landmarks, Side

DOCS = Path(__file__).resolve().parents[2] / "docs"

EXPECTED = {
    "lld_teardrop_mm", "lld_ischial_mm",
    "femoral_offset_{side}_mm", "acetabular_offset_{side}_mm", "global_offset_{side}_mm",
    "neck_shaft_angle_{side}_deg", "lcea_{side}_deg", "tonnis_angle_{side}_deg", "sharp_angle_{side}_deg",
}


def test_the_product_spec_names_are_all_defined():
    assert set(DEFINITIONS) == EXPECTED
    assert len(measurement_names()) == 2 + 7 * 2
    assert len(set(measurement_names())) == len(measurement_names())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_definition_is_complete(name):
    d = DEFINITIONS[name]
    assert d.unit in ("mm", "deg") and name.endswith("_" + d.unit)
    assert d.title and len(d.definition) > 30 and d.sign
    assert any(str(y) in d.reference for y in range(1930, 2030)), "reference needs a year"
    assert all(a in LANDMARK_DEFINITIONS for a in d.landmarks + d.optional_landmarks)
    if d.normal_range is not None:
        lo, hi = d.normal_range
        assert lo < hi


def test_split_and_lookup():
    d, side = split_name("tonnis_angle_right_deg")
    assert d.name == "tonnis_angle_{side}_deg" and side is Side.RIGHT
    assert split_name("lld_ischial_mm") == (DEFINITIONS["lld_ischial_mm"], None)
    assert definition_for("lcea_left_deg") is DEFINITIONS["lcea_{side}_deg"]
    with pytest.raises(MeasurementError, match="known measurements"):
        split_name("lcea_deg")


def test_measure_hip_uses_only_the_defined_landmarks_and_units():
    pelvis, placement = Pelvis(), Placement()
    lms = Landmarks.from_landmarks([Landmark(k, *v) for k, v in place(pelvis, placement).items()])
    ms = measure_hip(lms, Calibration(0.2, "ball-marker", 2.0))
    for m in ms:
        d, side = split_name(m.name)
        assert m.unit == d.unit and m.side == side
        allowed = set(d.landmarks) | set(d.optional_landmarks)
        assert {lm.anatomy for lm in m.landmarks} <= allowed, m.name
        assert set(d.landmarks) <= {lm.anatomy for lm in m.landmarks}, m.name


def test_docs_are_rendered_from_the_definitions():
    assert (DOCS / "measurements.md").read_text(encoding="utf-8") == measurements_markdown()
    assert (DOCS / "landmarks.md").read_text(encoding="utf-8") == landmarks_markdown()
    text = measurements_markdown()
    for name in EXPECTED:
        assert f"`{name}`" in text
    for anatomy in LANDMARK_DEFINITIONS:
        assert f"`{anatomy}_left`" in landmarks_markdown()
