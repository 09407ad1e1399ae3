"""Placements in the plan JSON, the SR (exact read-back), the overlay and the GSPS, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from templating_cases import planned_case

from orthoplan.phantoms import pelvis as phantom
from orthoplan.dicom import build_gsps, build_sr
from orthoplan.dicom.sr import plan_from_sr
from orthoplan.dicom.validate import run_dciodvfy, run_dsrdump
from orthoplan.errors import PlanError
from orthoplan.geometry import signed_distance_to_line
from orthoplan.model import Placement, Plan
from orthoplan.overlay import plan_overlay
from orthoplan.pipeline import template_hip
from orthoplan.templating import placement_outline_px


@pytest.fixture(scope="module")
def both_sides(catalog):
    _case, rad, plan = planned_case(4)
    plan = template_hip(plan, rad, catalog, "right", cup_family="Trident II Clusterhole HA", stem_family="Corail standard offset")
    plan = template_hip(plan, rad, catalog, "left", cup_family="Pinnacle Sector II", stem_family="Exeter V40 150 mm",
                        stem_size="44")
    return rad, plan


def test_plan_json_round_trip_with_placements(both_sides):
    _rad, plan = both_sides
    assert len(plan.placements) == 6
    back = Plan.from_json(plan.to_json())
    assert back == plan
    assert back.placement("head", "left").neck_length_mm == plan.placement("head", "left").neck_length_mm


def test_version_1_plans_still_load(both_sides):
    _rad, plan = both_sides
    doc = plan.to_dict()
    doc["schema_version"] = 1
    del doc["placements"], doc["predictions"]
    old = Plan.from_dict(doc)
    assert old.placements == () and len(old.predictions) == 0
    doc["schema_version"] = 99
    with pytest.raises(PlanError, match="reads versions 1, 2"):
        Plan.from_dict(doc)


def test_placement_values_are_checked():
    with pytest.raises(PlanError, match="neck_length_mm"):
        Placement("head", "left", "generic", "generic heads", "32", 1.0, 2.0)
    with pytest.raises(PlanError):
        Placement("knee", "left", "generic", "x", "1", 1.0, 2.0)


def test_sr_round_trip_is_exact_and_validators_are_clean(both_sides, tmp_path):
    rad, plan = both_sides
    sr = build_sr(plan, rad.dataset)
    back = plan_from_sr(sr)
    assert back == plan
    path = tmp_path / "sr.dcm"
    sr.save_as(path, enforce_file_format=True)
    again = plan_from_sr(pydicom.dcmread(path))
    assert again.placements == plan.placements and again.predictions == plan.predictions
    assert run_dciodvfy(path) == []
    dump = run_dsrdump(path)
    assert "Femoral Stem" in dump and "Acetabular Cup Shell" in dump and "Predicted after templating" in dump


def test_overlay_and_gsps_show_each_implant(both_sides, tmp_path):
    rad, plan = both_sides
    layers = plan_overlay(plan)
    names = [layer.name for layer in layers]
    for kind in ("CUP", "STEM", "HEAD"):
        for side in ("LEFT", "RIGHT"):
            assert f"{kind}_{side}" in names
    assert "PREDICTION" in names
    gsps = build_gsps(plan, rad.dataset, layers)
    gsps_layers = [item.GraphicLayer for item in gsps.GraphicLayerSequence]
    assert {"CUP_LEFT", "STEM_RIGHT", "HEAD_LEFT", "PREDICTION"} <= set(gsps_layers)
    annotated = {item.GraphicLayer for item in gsps.GraphicAnnotationSequence}
    assert {"CUP_LEFT", "STEM_LEFT"} <= annotated
    path = tmp_path / "gsps.dcm"
    gsps.save_as(path, enforce_file_format=True)
    assert run_dciodvfy(path) == []


def test_outlines_are_at_the_image_magnification(both_sides, catalog):
    """Cup: the outer diameter across, in pixels at the plan's scale; stem: the catalog offset
    between the taper point and the femoral shaft axis, and the tip on the axis."""
    _rad, plan = both_sides
    mpp = plan.calibration.mm_per_px
    cup = plan.placement("cup", "right")
    od = catalog.find(cup.family).size(cup.size).outer_diameter_mm
    outline = placement_outline_px(plan, cup, catalog)
    assert np.max(np.linalg.norm(outline - np.array(cup.xy), axis=1)) * 2 == pytest.approx(od / mpp, rel=1e-6)
    stem = plan.placement("stem", "right")
    size = catalog.find(stem.family).size(stem.size)
    sp, sd = (plan.landmarks[n].xy for n in ("femoral_shaft_proximal_right", "femoral_shaft_distal_right"))
    assert abs(signed_distance_to_line(stem.xy, sp, sd)) * mpp == pytest.approx(size.horizontal_offset_mm, abs=1e-3)
    poly = placement_outline_px(plan, stem, catalog)
    tip = poly[np.argmax([(p - np.array(sp)) @ (np.array(sd) - np.array(sp)) for p in poly])]
    assert abs(signed_distance_to_line(tip, sp, sd)) < 1.0


def test_outline_scale_issue_example(catalog):
    """The issue's figure: a 54 mm cup at magnification 1.2 on 0.15 mm/px is 432 px across."""
    from orthoplan.catalog import cup_outline_mm, to_image

    px = to_image(cup_outline_mm(catalog.find("Trident II Clusterhole HA").size(54)), center_xy=(0, 0),
                  magnification=1.2, detector_mm_per_px=0.15)
    assert float(px[:, 0].max() - px[:, 0].min()) == pytest.approx(432.0)


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orthoplan.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def cli_case(tmp_path_factory):
    case = phantom.make_pelvis(seed=5, rows=1000, columns=1200, detector_spacing_mm=0.35, medullary_canal="marrow")
    return phantom.write_case(case, tmp_path_factory.mktemp("cli"))


def test_cli_template_json(cli_case, tmp_path):
    proc = _run("template", str(cli_case["image"]), "--landmarks", str(cli_case["landmarks"]), "--side", "left",
                "--cup", "Trident II Clusterhole HA", "--stem", "Corail standard offset", "--out", str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert {"vendor", "family", "size", "outer_diameter_mm"} <= set(out["cup"])
    assert out["cup"]["vendor"] == "Stryker" and out["stem"]["family"] == "Corail standard offset"
    assert {"diameter_mm", "neck_length_mm"} <= set(out["head"])
    assert {"lld_teardrop_mm", "femoral_offset_left_mm", "global_offset_left_mm"} <= set(out["predicted"])
    assert set(out["preoperative"]) >= set(out["change"])
    assert (tmp_path / "plan-gsps.dcm").exists()
    plan = Plan.from_json((tmp_path / "plan.json").read_text())
    assert plan.placement("stem", "left").size == out["stem"]["size"]


def test_cli_errors_and_catalog_commands(cli_case, tmp_path):
    proc = _run("template", str(cli_case["image"]), "--landmarks", str(cli_case["landmarks"]), "--side", "left",
                "--stem", "Acme stem")
    assert proc.returncode == 8 and "unknown implant family 'Acme stem'; known:" in proc.stderr
    listing = json.loads(_run("catalog", "list", "--json").stdout)
    kinds = [f["kind"] for f in listing["families"]]
    assert kinds.count("stem") >= 3 and kinds.count("cup") >= 3
    bad = tmp_path / "acme"
    bad.mkdir()
    (bad / "cup.json").write_text('{"schema_version": "1.0", "vendor": "acme"}')
    proc = _run("catalog", "check", str(tmp_path))
    assert proc.returncode == 8 and "cup.json" in proc.stdout
    repo = Path(__file__).resolve().parents[2]
    assert _run("catalog", "validate", str(repo / "implant_catalogs")).returncode == 0
