"""Knee templating on synthetic long legs: sizing, resection lines, outlines, plan/SR round trips, CLI."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

import orthoplan.phantoms.limb as synthetic_limb_module
import orthoplan.templating.knee as templating_knee_module
from orthoplan.errors import CatalogError, TemplatingError
from orthoplan.geometry import angle_between_deg
from orthoplan.model import ImplantKind, LandmarkName, Plan, Side
from orthoplan.templating import placement_outline_px
from orthoplan.templating.knee import (
    choose_femoral_size,
    choose_insert_thickness,
    choose_tibial_size,
    knee_templating_summary,
    resection_line_px,
    template_knee,
)

SYSTEMS = [
    ("Generic TKA femoral component", "Generic TKA tibial tray", "Generic TKA tibial insert"),
    ("Attune cruciate-retaining femoral component", "Attune fixed-bearing tibial base",
     "Attune cruciate-retaining fixed-bearing insert"),
    ("Triathlon cruciate-retaining femoral component", "Triathlon primary tibial baseplate",
     "Triathlon cruciate-retaining X3 insert"),
]


def _system(i):
    f, t, n = SYSTEMS[i % len(SYSTEMS)]
    return {"femoral_family": f, "tibial_family": t, "insert_family": n}


def _xy(plan, anatomy, side):
    return np.array(plan.landmarks[LandmarkName.of(anatomy, side)].xy, dtype=float)


def _index(fam, label):
    return list(fam.labels).index(label)


@pytest.fixture(scope="module")
def planned(knee_cases, catalog):
    """Every case templated on both knees (exact landmarks), with the family system used."""
    out = []
    for i, (case, rad, plan) in enumerate(knee_cases):
        kw = _system(i)
        p = template_knee(plan, catalog, "right", **kw)
        p = template_knee(p, catalog, "left", **kw)
        out.append((case, rad, p, kw))
    return out


def test_auto_sizing_against_the_phantom_widths(planned, catalog):
    """≥ 90 % exact, all within one size, against the rule applied to the phantom's true widths."""
    exact = total = 0
    worst = 0
    for case, _rad, plan, kw in planned:
        fem_fam = catalog.find(kw["femoral_family"])
        tib_fam = catalog.find(kw["tibial_family"])
        for side in Side:
            s = side.value
            want_f = choose_femoral_size(fem_fam, case.knee_widths_mm[f"femoral_ml_{s}_mm"])[0].label
            want_t = choose_tibial_size(tib_fam, case.knee_widths_mm[f"tibial_plateau_width_{s}_mm"])[0].label
            got_f = plan.placement("femoral_component", side).size
            got_t = plan.placement("tibial_tray", side).size
            for fam, want, got in ((fem_fam, want_f, got_f), (tib_fam, want_t, got_t)):
                total += 1
                exact += want == got
                worst = max(worst, abs(_index(fam, want) - _index(fam, got)))
    assert total == 2 * 2 * len(planned)
    assert exact / total >= 0.9, f"{exact}/{total} exact"
    assert worst <= 1


def test_sizing_with_click_noise_stays_within_one_size(planned, catalog):
    rng = np.random.default_rng(7)
    worst = 0
    for case, _rad, plan, kw in planned[:6]:
        items = [replace(lm, x=lm.x + rng.normal(0, 1.0), y=lm.y + rng.normal(0, 1.0)) for lm in plan.landmarks]
        noisy = replace(plan, landmarks=type(plan.landmarks).from_landmarks(items))
        fem_fam = catalog.find(kw["femoral_family"])
        for side in Side:
            p = template_knee(noisy, catalog, side, **kw)
            want = choose_femoral_size(fem_fam, case.knee_widths_mm[f"femoral_ml_{side.value}_mm"])[0].label
            worst = max(worst, abs(_index(fem_fam, want) - _index(fem_fam, p.placement("femoral_component", side).size)))
    assert worst <= 1


def test_resection_lines_are_perpendicular_to_the_mechanical_axes(planned):
    for _case, _rad, plan, _kw in planned:
        for side in Side:
            fem_cut = resection_line_px(plan, plan.placement("femoral_component", side))
            tib_cut = resection_line_px(plan, plan.placement("tibial_tray", side))
            fem_axis = _xy(plan, "femoral_knee_center", side) - _xy(plan, "femoral_head_center", side)
            tib_axis = _xy(plan, "ankle_center", side) - _xy(plan, "tibial_knee_center", side)
            assert angle_between_deg(fem_cut[1] - fem_cut[0], fem_axis) == pytest.approx(90.0, abs=0.5)
            assert angle_between_deg(tib_cut[1] - tib_cut[0], tib_axis) == pytest.approx(90.0, abs=0.5)
            summary = knee_templating_summary(plan, side)
            assert summary["femoral_component"]["cut_to_mechanical_axis_deg"] == pytest.approx(90.0, abs=0.5)
            assert summary["tibial_tray"]["cut_to_mechanical_axis_deg"] == pytest.approx(90.0, abs=0.5)
            # default valgus to the anatomical axis = the phantom's anatomical-mechanical angle
            ama = _case_truth(planned, plan)[f"ama_{side.value}_deg"]
            assert summary["femoral_component"]["valgus_to_anatomical_deg"] == pytest.approx(ama, abs=0.5)
            assert summary["tibial_tray"]["resection_below_plateau_mm"] == pytest.approx(9.0, abs=1e-3)


def _case_truth(planned, plan):
    return next(c.measurements for c, _r, p, _k in planned if p is plan)


def test_cut_at_a_chosen_valgus_angle(planned, catalog):
    case, _rad, plan, kw = planned[0]
    for side in Side:
        s = side.value
        ama = case.measurements[f"ama_{s}_deg"]
        p = template_knee(plan, catalog, side, valgus_deg=ama, **kw)
        assert knee_templating_summary(p, side)["femoral_component"]["cut_to_mechanical_axis_deg"] == pytest.approx(90.0, abs=0.5)
        p = template_knee(plan, catalog, side, valgus_deg=ama - 3.0, **kw)
        summary = knee_templating_summary(p, side)["femoral_component"]
        assert summary["valgus_to_anatomical_deg"] == pytest.approx(ama - 3.0, abs=1e-6)
        assert abs(summary["cut_to_mechanical_axis_deg"] - 90.0) == pytest.approx(3.0, abs=0.05)


def test_outline_widths_equal_catalog_ml_times_image_scale(planned, catalog):
    for case, _rad, plan, _kw in planned[:4]:
        px_per_mm = case.magnification / case.detector_spacing_mm
        for p in plan.placements:
            if p.kind is ImplantKind.TIBIAL_INSERT:
                continue
            size = catalog.find(p.family, vendor=p.vendor).size(p.size)
            outline = placement_outline_px(plan, p, catalog)
            cut = resection_line_px(plan, p, catalog)
            u = (cut[1] - cut[0]) / np.linalg.norm(cut[1] - cut[0])
            assert np.ptp(outline @ u) == pytest.approx(size.ml_width_mm * px_per_mm, rel=1e-6)


def test_insert_thickness_rule(catalog):
    fam = catalog.find("Triathlon cruciate-retaining X3 insert")
    assert choose_insert_thickness(fam, "3", 9.0)[1] == 9.0
    assert choose_insert_thickness(fam, "3", 12.5)[1] == 13.0
    assert choose_insert_thickness(fam, "3", 40.0)[1] == 25.0


def test_plan_json_and_sr_round_trip(planned):
    from orthoplan.dicom import build_sr, plan_from_sr

    _case, rad, plan, _kw = planned[1]
    assert Plan.from_json(plan.to_json()) == plan
    back = plan_from_sr(build_sr(plan, rad.dataset))
    assert back.placements == plan.placements
    assert back.placement("tibial_insert", "left").thickness_mm == plan.placement("tibial_insert", "left").thickness_mm


def test_sr_and_gsps_validate(planned, tmp_path):
    from orthoplan.dicom import build_gsps, build_sr, run_dciodvfy
    from orthoplan.overlay import plan_overlay

    _case, rad, plan, _kw = planned[2]
    layers = plan_overlay(plan)
    names = {layer.name for layer in layers}
    assert {"TKA_FEMUR_LEFT", "TKA_TIBIA_LEFT", "TKA_INSERT_LEFT", "TKA_FEMUR_RIGHT"} <= names
    for ds, name in ((build_sr(plan, rad.dataset), "sr.dcm"), (build_gsps(plan, rad.dataset, layers), "pr.dcm")):
        ds.save_as(tmp_path / name, enforce_file_format=True)
        assert run_dciodvfy(tmp_path / name) == []


def test_bad_family_and_missing_landmark(planned, catalog):
    _case, _rad, plan, _kw = planned[0]
    with pytest.raises(CatalogError, match="unknown implant family 'Nope'"):
        template_knee(plan, catalog, "left", femoral_family="Nope")
    with pytest.raises(CatalogError, match="is a cup, not a femoral_component"):
        template_knee(plan, catalog, "left", femoral_family="Trident II Clusterhole HA")
    with pytest.raises(CatalogError, match="unknown size"):
        template_knee(plan, catalog, "left", tibial_size="42")
    gone = replace(plan, landmarks=plan.landmarks.without("tibial_plateau_medial_left"))
    partial = template_knee(gone, catalog, "left")  # the tray is left out, with the reason; the femur is placed
    assert partial.placement("tibial_tray", "left") is None and partial.placement("tibial_insert", "left") is None
    assert partial.placement("femoral_component", "left") is not None
    assert "tibial_plateau_medial_left" in knee_templating_summary(partial, "left")["not_templated"]["tibial_tray"]
    neither = replace(gone, landmarks=gone.landmarks.without("femoral_condyle_lateral_left"))
    with pytest.raises(TemplatingError, match="femoral_condyle_lateral_left.*tibial_plateau_medial_left"):
        template_knee(neither, catalog, "left")
    no_shaft = replace(plan, landmarks=plan.landmarks.without("femoral_shaft_distal_left"))
    with pytest.raises(TemplatingError, match="anatomical axis"):
        template_knee(no_shaft, catalog, "left", valgus_deg=5.0)
    p = template_knee(no_shaft, catalog, "left")
    assert any("anatomical axis not marked" in n for n in p.notes)


def test_retemplating_replaces_the_side(planned, catalog):
    _case, _rad, plan, _kw = planned[0]
    again = template_knee(plan, catalog, "left", femoral_size="3")
    assert again.placement("femoral_component", "left").size == "3"
    assert len(again.placements) == len(plan.placements)
    assert again.placement("femoral_component", "right") == plan.placement("femoral_component", "right")


def test_cli_template_long_leg_json(knee_cases, tmp_path):
    case, _rad, _plan = knee_cases[3]
    image = tmp_path / "ll.dcm"
    case.dataset.save_as(image, enforce_file_format=True)
    lms = tmp_path / "lms.json"
    lms.write_text(json.dumps(case.landmarks.to_dict()))
    cmd = [sys.executable, "-m", "orthoplan.cli", "template", str(image), "--view", "long-leg", "--side", "left",
           "--landmarks", str(lms), "--json", "--femoral", "Attune cruciate-retaining femoral component",
           "--tibial", "Attune fixed-bearing tibial base", "--insert", "Attune cruciate-retaining fixed-bearing insert"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["femoral_component"]["family"] == "Attune cruciate-retaining femoral component"
    assert out["tibial_tray"]["cut_to_mechanical_axis_deg"] == pytest.approx(90.0, abs=0.5)
    assert out["tibial_insert"]["thickness_mm"] >= 9.0
    run = subprocess.run(cmd[:-6] + ["--femoral", "Nope"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 8 and "unknown implant family 'Nope'" in run.stderr


@pytest.mark.parametrize("module", [templating_knee_module, synthetic_limb_module])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_knee_sizes_come_with_the_range_the_scale_allows(knee_cases, catalog):
    """Issue 15: a ±10 % scale gives a femoral and tibial size range around the chosen size,
    with a note; the exact scale gives a single size."""
    from orthoplan.model import Calibration
    from orthoplan.pipeline import recalibrate

    _case, _rad, plan = knee_cases[0]
    exact = template_knee(recalibrate(plan, Calibration(plan.calibration.mm_per_px, "explicit-spacing", 0.0)),
                          catalog, "left")
    wide = template_knee(recalibrate(plan, Calibration(plan.calibration.mm_per_px, "explicit-spacing", 10.0)),
                         catalog, "left")
    for kind in ("femoral_component", "tibial_tray"):
        e, w = exact.placement(kind, "left"), wide.placement(kind, "left")
        assert e.size_range == (e.size, e.size)
        fam = catalog.find(w.family, w.vendor)
        lo, hi = (_index(fam, v) for v in w.size_range)
        assert lo <= _index(fam, w.size) <= hi and hi > lo
    assert any("within the scale's interval: more than one size" in n for n in wide.notes)
