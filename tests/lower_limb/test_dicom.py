"""A long-leg plan as DICOM: the SR carries every lower-limb landmark and value and reads back exactly;
dciodvfy and dsrdump accept it; the GSPS draws the mechanical axes."""

from __future__ import annotations

import pydicom

from orthoplan.dicom import build_gsps, build_sr, validate
from orthoplan.dicom.sr import plan_from_sr
from orthoplan.overlay import plan_overlay
from orthoplan.pipeline import load_radiograph, plan_radiograph


def test_long_leg_plan_round_trips_through_the_sr(make_case, tmp_path):
    case = make_case("tibial_varus", "femoral_valgus")
    rad = load_radiograph(case.dataset)
    plan = plan_radiograph(rad, landmarks=case.landmarks, view="long-leg")
    assert "hka_left_deg" in plan.measurements and "lld_long_leg_mm" in plan.measurements
    sr = build_sr(plan, rad.dataset)
    path = tmp_path / "sr.dcm"
    sr.save_as(path, enforce_file_format=True)
    assert validate.run_dciodvfy(path) == []
    dump = validate.run_dsrdump(path)
    assert "Lower limb" in dump and "Hip-knee-ankle angle" in dump
    back = plan_from_sr(pydicom.dcmread(path))
    assert back.view == "long-leg"
    assert back.measurements.values() == plan.measurements.values()
    assert {m.name: m.notes for m in back.measurements} == {m.name: m.notes for m in plan.measurements}
    assert [(lm.name, lm.x, lm.y) for lm in back.landmarks] == [(lm.name, lm.x, lm.y) for lm in plan.landmarks]


def test_long_leg_gsps_shows_the_mechanical_axes(make_case, tmp_path):
    case = make_case("neutral", "femoral_varus")
    rad = load_radiograph(case.dataset)
    plan = plan_radiograph(rad, landmarks=case.landmarks, view="long-leg")
    layers = {layer.name: layer for layer in plan_overlay(plan)}
    limb = [layer for name, layer in layers.items() if name.startswith("LIMB_")]
    assert {layer.name for layer in limb} == {"LIMB_RIGHT", "LIMB_LEFT"}
    assert all(any(g.kind == "polyline" for g in layer.graphics) for layer in limb)
    gsps = build_gsps(plan, rad.dataset, plan_overlay(plan))
    path = tmp_path / "pr.dcm"
    gsps.save_as(path, enforce_file_format=True)
    assert validate.run_dciodvfy(path) == []
    names = {item.GraphicLayer for item in gsps.GraphicLayerSequence}
    assert {"LIMB_RIGHT", "LIMB_LEFT"} <= names


def test_cli_measures_a_long_leg_view_from_a_landmark_file(make_case, tmp_path, capsys):
    import json

    from orthoplan.cli import main

    case = make_case("tibial_varus", "femoral_valgus")
    image = tmp_path / "leg.dcm"
    case.dataset.save_as(image, enforce_file_format=True)
    lm = tmp_path / "lm.json"
    lm.write_text(json.dumps({"landmarks": {l.name.value: [l.x, l.y] for l in case.landmarks}}))
    assert main(["measure", str(image), "--landmarks", str(lm), "--json"]) == 0  # view from the header
    out = json.loads(capsys.readouterr().out)
    assert out["view"] == "long-leg"
    for name, true in case.measurements.items():
        if name.endswith("_deg"):
            assert abs(out["measurements"][name]["value"] - true) < 0.5, name
    # without a landmark file the long-leg landmarks are detected (orthoplan.landmarks.limb)
    assert main(["plan", str(image), "--out", str(tmp_path / "p")]) == 0
    capsys.readouterr()
    plan = json.loads((tmp_path / "p" / "plan.json").read_text())
    assert plan["view"] == "long-leg"
    for side in ("right", "left"):
        hka = plan["measurements"]["measurements"][f"hka_{side}_deg"]["value"]
        assert abs(hka - case.measurements[f"hka_{side}_deg"]) < 1.0
