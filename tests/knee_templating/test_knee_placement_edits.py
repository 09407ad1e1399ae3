"""Knee placements are edited like hip ones (templating.update_placement): move, rotate, resize to
another catalog size, insert thickness; the knee summary, the outlines and the SR follow.

Ground truth: the synthetic long leg's exact landmarks (tibial mechanical axis known by
construction) and the catalog's sizes.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pydicom
import pytest

from orthoplan.catalog import load_catalog
from orthoplan.dicom import build_sr, validate
from orthoplan.dicom.sr import plan_from_sr
from orthoplan.errors import CatalogError, TemplatingError
from orthoplan.geometry import to_mm
from orthoplan.model import Plan
from orthoplan.overlay import plan_overlay
from orthoplan.pipeline import load_radiograph, plan_radiograph
from orthoplan.phantoms.limb import make_long_leg
from orthoplan.pipeline import update_placement
from orthoplan.templating.knee import knee_outline_px, knee_templating_summary, resection_line_px, template_knee

SIDE = "left"


@pytest.fixture(scope="module")
def knee():
    case = make_long_leg(seed=4, rows=1950, columns=720, detector_spacing_mm=0.6, noise=0)
    rad = load_radiograph(case.dataset)
    plan = plan_radiograph(rad, landmarks=case.landmarks, view="long-leg")
    cat = load_catalog(include_env=False, include_entry_points=False)
    return case, rad, template_knee(plan, cat, SIDE), cat


def _p(plan, kind):
    return plan.placement(kind, SIDE)


def test_moving_a_component_moves_its_outline_and_summary(knee):
    case, rad, plan, cat = knee
    before = _p(plan, "femoral_component")
    out = update_placement(plan, "femoral_component", SIDE, catalog=cat, move_px=(7.0, -4.0))
    after = _p(out, "femoral_component")
    assert (after.x, after.y) == pytest.approx((before.x + 7.0, before.y - 4.0), abs=1e-3)
    assert not after.auto and after.size == before.size and after.angle_deg == before.angle_deg
    shift = knee_outline_px(out, after, cat) - knee_outline_px(plan, before, cat)
    assert np.allclose(shift, [7.0, -4.0], atol=1e-3)
    assert knee_templating_summary(out, SIDE, cat)["femoral_component"]["center_px"] == [after.x, after.y]
    # the tibial components did not move
    assert _p(out, "tibial_tray") == _p(plan, "tibial_tray") and _p(out, "tibial_insert") == _p(plan, "tibial_insert")
    # to_xy puts it there
    there = _p(update_placement(plan, "femoral_component", SIDE, catalog=cat, to_xy=(300.0, 1200.0)), "femoral_component")
    assert (there.x, there.y) == (300.0, 1200.0)


def test_rotating_the_tray_turns_the_cut_and_carries_the_insert(knee):
    case, rad, plan, cat = knee
    tray = _p(plan, "tibial_tray")
    summary = knee_templating_summary(plan, SIDE, cat)["tibial_tray"]
    assert summary["cut_to_mechanical_axis_deg"] == pytest.approx(90.0, abs=1e-6)  # the automatic cut
    out = update_placement(plan, "tibial_tray", SIDE, catalog=cat, angle_deg=tray.angle_deg + 3.0)
    new = _p(out, "tibial_tray")
    assert new.angle_deg == pytest.approx(tray.angle_deg + 3.0) and (new.x, new.y) == (tray.x, tray.y)
    # re-evaluated against the true tibial mechanical axis: 3 degrees off perpendicular
    got = knee_templating_summary(out, SIDE, cat)["tibial_tray"]["cut_to_mechanical_axis_deg"]
    assert abs(got - 90.0) == pytest.approx(3.0, abs=1e-6)
    kt = to_mm(case.landmarks[f"tibial_knee_center_{SIDE}"].xy, plan.calibration)
    ankle = to_mm(case.landmarks[f"ankle_center_{SIDE}"].xy, plan.calibration)
    cut = to_mm(resection_line_px(out, new, cat), plan.calibration)
    d, axis = cut[1] - cut[0], ankle - kt
    angle = math.degrees(math.acos(abs(d @ axis) / np.linalg.norm(d) / np.linalg.norm(axis)))
    assert angle == pytest.approx(87.0, abs=1e-6)
    ins = _p(out, "tibial_insert")
    assert (ins.x, ins.y, ins.angle_deg) == (new.x, new.y, new.angle_deg)


def test_resizing_takes_the_catalog_size(knee):
    case, rad, plan, cat = knee
    fem = _p(plan, "femoral_component")
    family = cat.find(fem.family)
    other = next(s for s in family.sizes if s.label != fem.size)
    assert any(n.startswith(f"femoral component {SIDE}") for n in plan.notes)
    out = update_placement(plan, "femoral_component", SIDE, catalog=cat, size=other.label)
    s = knee_templating_summary(out, SIDE, cat)["femoral_component"]
    assert (s["size"], s["ml_width_mm"], s["ap_dimension_mm"]) == (other.label, other.ml_width_mm, other.ap_dimension_mm)
    assert s["auto"] is False
    assert not any(n.startswith(f"femoral component {SIDE}") for n in out.notes)  # the automatic choice's note
    outline = knee_outline_px(out, _p(out, "femoral_component"), cat)
    width_mm = np.ptp(to_mm(outline, plan.calibration) @ np.array([1.0, 0.0]))
    assert width_mm == pytest.approx(other.ml_width_mm, rel=0.05)  # the component is nearly level on this leg
    # the tray: another size; the insert takes the same size label and keeps its thickness
    tray, ins = _p(plan, "tibial_tray"), _p(plan, "tibial_insert")
    bigger = next(t for t in cat.find(tray.family).sizes if t.ml_width_mm > cat.find(tray.family).size(tray.size).ml_width_mm)
    out = update_placement(plan, "tibial_tray", SIDE, catalog=cat, size=bigger.label)
    assert _p(out, "tibial_tray").size == bigger.label and _p(out, "tibial_tray").xy == tray.xy
    assert _p(out, "tibial_insert").size == bigger.label and _p(out, "tibial_insert").thickness_mm == ins.thickness_mm
    assert knee_templating_summary(out, SIDE, cat)["tibial_tray"]["ml_width_mm"] == bigger.ml_width_mm
    with pytest.raises(CatalogError):
        update_placement(plan, "femoral_component", SIDE, catalog=cat, size="99")


def test_insert_thickness_and_the_insert_moves_with_its_tray(knee):
    case, rad, plan, cat = knee
    ins = _p(plan, "tibial_insert")
    options = cat.find(ins.family).size(ins.size).thicknesses_mm
    thicker = max(options)
    out = update_placement(plan, "tibial_insert", SIDE, catalog=cat, thickness_mm=thicker)
    assert _p(out, "tibial_insert").thickness_mm == thicker and not _p(out, "tibial_insert").auto
    assert knee_templating_summary(out, SIDE, cat)["tibial_insert"]["thickness_mm"] == thicker
    assert _p(out, "tibial_tray") == _p(plan, "tibial_tray")
    # the insert outline grows with its thickness
    h = lambda p: np.ptp(to_mm(knee_outline_px(p, _p(p, "tibial_insert"), cat), p.calibration)[:, 1])  # noqa: E731
    assert h(out) - h(plan) == pytest.approx(thicker - ins.thickness_mm, abs=0.5)
    with pytest.raises(CatalogError, match="options"):
        update_placement(plan, "tibial_insert", SIDE, catalog=cat, thickness_mm=thicker + 0.5)
    with pytest.raises(TemplatingError, match="only a tibial insert"):
        update_placement(plan, "tibial_tray", SIDE, catalog=cat, thickness_mm=10.0)
    with pytest.raises(TemplatingError, match="neck length"):
        update_placement(plan, "femoral_component", SIDE, catalog=cat, neck_length_mm=4.0)
    # moving the insert moves the construct (tray and insert) together
    moved = update_placement(plan, "tibial_insert", SIDE, catalog=cat, move_px=(2.0, 5.0))
    tray = _p(plan, "tibial_tray")
    assert _p(moved, "tibial_tray").xy == pytest.approx((tray.x + 2.0, tray.y + 5.0), abs=1e-3)
    assert _p(moved, "tibial_insert").xy == _p(moved, "tibial_tray").xy


def test_a_new_size_keeps_the_distal_joint_line(knee, tmp_path):
    """With sizes of different distal thickness, the component's distal surface stays put."""
    case, rad, plan, cat = knee
    doc = {
        "schema_version": "1.0", "vendor": "Acme", "family": "Acme Knee Femur", "kind": "femoral_component",
        "fixation": "cemented",
        "sources": [{"id": "g", "kind": "generic", "title": "generic: test dimensions"}],
        "field_sources": {"ml_width_mm": "g", "ap_dimension_mm": "g", "distal_thickness_mm": "g",
                          "posterior_thickness_mm": "g"},
        "sizes": [
            {"label": "1", "ml_width_mm": 60, "ap_dimension_mm": 55, "distal_thickness_mm": 8, "posterior_thickness_mm": 9},
            {"label": "2", "ml_width_mm": 70, "ap_dimension_mm": 62, "distal_thickness_mm": 11, "posterior_thickness_mm": 9},
        ],
    }
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "femur.json").write_text(json.dumps(doc))
    acme = load_catalog([tmp_path], include_env=False, include_entry_points=False, strict=True)
    planned = template_knee(plan, acme, SIDE, femoral_family="Acme Knee Femur", femoral_size="1")
    old = _p(planned, "femoral_component")
    out = update_placement(planned, "femoral_component", SIDE, catalog=acme, size="2")
    new = _p(out, "femoral_component")
    # the component axis (distal) from its angle: the image's inferior direction turned by angle_deg
    assert case.orientation.superior_y == -1 and plan.calibration.aspect_ratio == 1.0
    a = math.radians(old.angle_deg)
    axis = np.array([-math.sin(a), math.cos(a)])
    c_old, c_new = (to_mm(np.array(p.xy), plan.calibration) for p in (old, new))
    assert np.allclose(c_new - c_old, -(11.0 - 8.0) * axis, atol=1e-3)  # the cut moved 3 mm proximally
    assert np.allclose(c_old + 8.0 * axis, c_new + 11.0 * axis, atol=1e-3)  # the distal surface stays
    # moved proximally (towards the femoral head)
    head = to_mm(case.landmarks[f"femoral_head_center_{SIDE}"].xy, plan.calibration)
    assert np.linalg.norm(to_mm(np.array(new.xy), plan.calibration) - head) < np.linalg.norm(
        to_mm(np.array(old.xy), plan.calibration) - head)


def test_an_edited_knee_plan_round_trips(knee, tmp_path):
    case, rad, plan, cat = knee
    out = update_placement(plan, "tibial_tray", SIDE, catalog=cat, move_px=(1.5, -2.5), angle_deg=1.25)
    out = update_placement(out, "tibial_insert", SIDE, catalog=cat, thickness_mm=12.0)
    assert Plan.from_json(out.to_json()) == out
    path = tmp_path / "sr.dcm"
    build_sr(out, rad.dataset).save_as(path, enforce_file_format=True)
    assert validate.run_dciodvfy(path) == []
    back = plan_from_sr(pydicom.dcmread(path))
    assert back.placements == out.placements
    assert [p.auto for p in back.placements] == [p.auto for p in out.placements]
    layers = {layer.name: layer for layer in plan_overlay(out)}
    outline = next(g for g in layers["TKA_TIBIA_LEFT"].graphics if g.kind == "polyline" and g.closed)
    assert np.allclose(np.asarray(outline.points), knee_outline_px(out, _p(out, "tibial_tray"), cat), atol=1e-6)
