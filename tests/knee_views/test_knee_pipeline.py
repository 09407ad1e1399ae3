"""AP and lateral knee views through the pipeline: view inference from the tags, the side
rules of a lateral view, the CLI, the SR (validators, exact read-back), the GSPS and knee
templating sized from both views."""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest

from orthoplan.cli import main
from orthoplan.dicom import build_gsps, build_sr, validate
from orthoplan.dicom.sr import plan_from_sr
from orthoplan.errors import LandmarkError, TemplatingError
from orthoplan.model import ImageReference, ImplantKind, Radiograph
from orthoplan.overlay import plan_overlay
from orthoplan.pipeline import infer_view, knee_side, load_radiograph, plan_radiograph
from orthoplan.templating.knee import knee_templating_summary, template_knee

from .conftest import exact_calibration


def _rad(shape=(950, 700), **tags) -> Radiograph:
    z = np.zeros(shape, np.float32)
    return Radiograph(z, z, ImageReference(), **tags)


@pytest.mark.parametrize(
    ("tags", "shape", "view"),
    [
        ({"body_part_examined": "KNEE", "view_position": "AP"}, (950, 700), "knee-ap"),
        ({"body_part_examined": "KNEE", "view_position": "PA"}, (950, 700), "knee-ap"),
        ({"body_part_examined": "KNEE", "view_position": "LL"}, (950, 700), "knee-lateral"),
        ({"body_part_examined": "KNEE", "view_position": "RL"}, (950, 700), "knee-lateral"),
        ({"body_part_examined": "KNEE", "view_position": "LATERAL"}, (950, 700), "knee-lateral"),
        ({"body_part_examined": "KNEE", "view_position": "AP"}, (3000, 700), "long-leg"),  # a long-leg film
        ({"body_part_examined": "LEG", "view_position": "AP"}, (950, 700), "long-leg"),
        ({"body_part_examined": "KNEE"}, (950, 700), "knee-ap"),  # no view in the tags, nothing in the picture
        ({"body_part_examined": "PELVIS", "view_position": "AP"}, (950, 1100), "ap-pelvis"),
    ],
)
def test_view_is_inferred_from_the_tags(tags, shape, view):
    assert infer_view(_rad(shape, **tags)) == view


def test_synthetic_knees_are_recognised_from_their_header(knee_case):
    for view in ("knee-ap", "knee-lateral"):
        assert infer_view(load_radiograph(knee_case(view, side="left").dataset)) == view


def test_a_lateral_view_needs_a_side(knee_case):
    case = knee_case("knee-lateral", seed=4, side="right", laterality_tag=False)
    rad = load_radiograph(case.dataset)
    with pytest.raises(LandmarkError, match="lateral knee view shows one knee"):
        plan_radiograph(rad, calibration=exact_calibration(case))  # detection without a side
    plan = plan_radiograph(rad, calibration=exact_calibration(case), side="right")
    assert plan.view == "knee-lateral" and "posterior_tibial_slope_right_deg" in plan.measurements
    # with the tag, a contradicting side is refused, and so are landmarks of the other knee
    tagged = load_radiograph(knee_case("knee-lateral", seed=4, side="right").dataset)
    with pytest.raises(LandmarkError, match="laterality tag says right"):
        knee_side(tagged, "knee-lateral", "left")
    assert knee_side(tagged, "knee-lateral") == "right"
    wrong = knee_case("knee-lateral", seed=5, side="left").landmarks
    with pytest.raises(LandmarkError, match="left knee but the image"):
        plan_radiograph(tagged, calibration=exact_calibration(case), landmarks=wrong)


def test_cli_lateral_without_a_side_is_a_clear_error(knee_case, tmp_path, capsys):
    case = knee_case("knee-lateral", seed=4, side="right", laterality_tag=False)
    image = tmp_path / "lat.dcm"
    case.dataset.save_as(image, enforce_file_format=True)
    assert main(["detect", str(image)]) == 6
    err = capsys.readouterr().err
    assert "lateral knee view" in err and "--side" in err
    assert main(["detect", str(image), "--side", "right", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)["landmarks"]
    assert "tibial_plateau_posterior_right" in found and not any(k.endswith("_left") for k in found)


def _write(case, tmp_path, name):
    image = tmp_path / f"{name}.dcm"
    case.dataset.save_as(image, enforce_file_format=True)
    lm = tmp_path / f"{name}.json"
    lm.write_text(json.dumps({"landmarks": {l.name.value: [l.x, l.y] for l in case.landmarks}}))
    return image, lm


def test_cli_measures_both_views_from_landmark_files(knee_case, tmp_path, capsys):
    for view in ("knee-ap", "knee-lateral"):
        case = knee_case(view, seed=6, side="left", calibration_tags="pixel")
        image, lm = _write(case, tmp_path, view)
        assert main(["measure", str(image), "--landmarks", str(lm), "--json", "--no-ball"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["view"] == view  # from the header
        assert set(out["measurements"]) == set(case.measurements)
        for name, truth in case.measurements.items():
            tol = 0.5 if name.endswith("_deg") else 1.0
            assert abs(out["measurements"][name]["value"] - truth) < tol, name


def test_cli_plan_detects_and_writes_valid_dicom(knee_case, tmp_path, capsys):
    case = knee_case("knee-lateral", seed=7, side="left")
    image = tmp_path / "lat.dcm"
    case.dataset.save_as(image, enforce_file_format=True)
    out = tmp_path / "plan"
    assert main(["plan", str(image), "--out", str(out), "--view", "knee-lateral"]) == 0
    capsys.readouterr()
    plan = json.loads((out / "plan.json").read_text())
    assert plan["view"] == "knee-lateral"
    ms = plan["measurements"]["measurements"]
    assert abs(ms["posterior_tibial_slope_left_deg"]["value"] - case.measurements["posterior_tibial_slope_left_deg"]) < 1.0
    assert abs(ms["femoral_ap_dimension_left_mm"]["value"] - case.measurements["femoral_ap_dimension_left_mm"]) < 2.0
    assert validate.run_dciodvfy(out / "plan-sr.dcm") == []
    assert validate.run_dciodvfy(out / "plan-gsps.dcm") == []


@pytest.mark.parametrize("view", ["knee-ap", "knee-lateral"])
def test_sr_round_trip_and_validators(knee_case, tmp_path, view):
    import highdicom as hd

    case = knee_case(view, seed=8, side="right")
    rad = load_radiograph(case.dataset)
    plan = plan_radiograph(rad, landmarks=case.landmarks, calibration=exact_calibration(case))
    assert plan.view == view
    sr = build_sr(plan, rad.dataset)
    path = tmp_path / "sr.dcm"
    sr.save_as(path, enforce_file_format=True)
    assert validate.run_dciodvfy(path) == []
    assert validate.run_pixelmed_sr_validator(path) == []  # the TID 1500 rows of the knee group
    dump = validate.run_dsrdump(path)
    assert "Knee joint" in dump
    assert ("Posterior tibial slope" in dump) == (view == "knee-lateral")
    assert ("Anatomical lateral distal femoral angle" in dump) == (view == "knee-ap")
    groups = {g.tracking_identifier: g for g in hd.sr.srread(path).content.get_image_measurement_groups()}
    assert "knee right" in groups and len(groups["knee right"].get_measurements()) == len(case.measurements)
    back = plan_from_sr(pydicom.dcmread(path))
    assert back.view == view
    assert back.measurements.values() == plan.measurements.values()
    assert [(m.name, m.landmarks, m.side) for m in back.measurements] == [(m.name, m.landmarks, m.side) for m in plan.measurements]
    assert [(lm.name, lm.x, lm.y, lm.source) for lm in back.landmarks] == [(lm.name, lm.x, lm.y, lm.source) for lm in plan.landmarks]


def test_gsps_draws_the_knee_axes(knee_case, tmp_path):
    case = knee_case("knee-ap", seed=9, side="left")
    rad = load_radiograph(case.dataset)
    plan = plan_radiograph(rad, landmarks=case.landmarks, calibration=exact_calibration(case))
    layers = {layer.name: layer for layer in plan_overlay(plan)}
    knee = layers["KNEE_LEFT"]
    polylines = [g for g in knee.graphics if g.kind == "polyline"]
    assert len(polylines) >= 5  # two axes, two joint lines, widths
    fp = plan.landmarks["knee_femoral_axis_proximal_left"]
    assert any(g.points[0] == pytest.approx((fp.x, fp.y), abs=1e-3) for g in polylines)  # the femoral axis
    assert any("aLDFA" in (g.label or "") for g in knee.graphics)
    gsps = build_gsps(plan, rad.dataset, plan_overlay(plan))
    path = tmp_path / "pr.dcm"
    gsps.save_as(path, enforce_file_format=True)
    assert validate.run_dciodvfy(path) == []
    assert "KNEE_LEFT" in {item.GraphicLayer for item in gsps.GraphicLayerSequence}


def test_femoral_component_sized_from_both_views(knee_case):
    from orthoplan.catalog import load_catalog
    from orthoplan.templating.knee import DEFAULT_FEMORAL_FAMILY

    ap_case = knee_case("knee-ap", seed=10, side="left")
    lat_case = knee_case("knee-lateral", seed=10, side="left")
    ap = plan_radiograph(load_radiograph(ap_case.dataset), landmarks=ap_case.landmarks,
                         calibration=exact_calibration(ap_case))
    lat = plan_radiograph(load_radiograph(lat_case.dataset), landmarks=lat_case.landmarks,
                          calibration=exact_calibration(lat_case))
    family = load_catalog(include_env=False, include_entry_points=False).find(DEFAULT_FEMORAL_FAMILY)
    ap_true = lat_case.measurements["femoral_ap_dimension_left_mm"]
    want = min(family.sizes, key=lambda s: (abs(s.ap_dimension_mm - ap_true), s.ap_dimension_mm)).label
    planned = template_knee(ap, None, "left", lateral=lat)
    fem = planned.placement(ImplantKind.FEMORAL_COMPONENT, "left")
    assert fem.size == want
    assert any("sized to the AP dimension" in n for n in planned.notes)
    summary = knee_templating_summary(planned, "left")
    # the cut: 6 deg valgus to the anatomical axis (no mechanical axis on a knee film), tibia perpendicular
    assert summary["femoral_component"]["valgus_to_anatomical_deg"] == pytest.approx(6.0, abs=1e-6)
    assert summary["tibial_tray"]["cut_to_anatomical_axis_deg"] == pytest.approx(90.0, abs=1e-6)
    assert summary["measured"]["femoral_ml_width_mm"] == pytest.approx(
        ap_case.measurements["femoral_condylar_width_left_mm"], abs=1.0)
    # from the AP view alone the femoral size is not given (it needs the AP dimension): the reason
    # says the largest size the epicondylar width allows; the tibia is templated
    alone = template_knee(ap, None, "left")
    assert alone.placement(ImplantKind.FEMORAL_COMPONENT, "left") is None
    assert alone.placement(ImplantKind.TIBIAL_TRAY, "left") is not None
    width = ap_case.measurements["femoral_condylar_width_left_mm"]
    fits = [s for s in family.sizes if s.ml_width_mm <= width]
    widest = max(fits, key=lambda s: s.ml_width_mm).label if fits else family.sizes[0].label
    why = knee_templating_summary(alone, "left")["not_templated"]["femoral_component"]
    assert "lateral" in why and why.endswith(f"allows up to size {widest}")
    with pytest.raises(TemplatingError, match="not a knee-lateral"):
        template_knee(ap, None, "left", lateral=ap)
    with pytest.raises(TemplatingError, match="right knee"):
        template_knee(ap, None, "right", lateral=lat)


def test_cli_templates_the_ap_view_with_the_lateral(knee_case, tmp_path, capsys):
    ap_case = knee_case("knee-ap", seed=11, side="right")
    lat_case = knee_case("knee-lateral", seed=11, side="right")
    ap_img, ap_lm = _write(ap_case, tmp_path, "ap")
    lat_img, lat_lm = _write(lat_case, tmp_path, "lat")
    out = tmp_path / "t"
    assert main(["template", str(ap_img), "--landmarks", str(ap_lm), "--lateral", str(lat_img),
                 "--lateral-landmarks", str(lat_lm), "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["side"] == "right"  # from ImageLaterality
    assert any("sized to the AP dimension" in n for n in summary["notes"])
    assert {"femoral_component", "tibial_tray", "tibial_insert"} <= set(summary)
    assert validate.run_dciodvfy(out / "plan-sr.dcm") == []
    back = plan_from_sr(pydicom.dcmread(out / "plan-sr.dcm"))
    assert back.view == "knee-ap" and len(back.placements) == 3
    # a lateral view alone is not templated
    assert main(["template", str(lat_img), "--landmarks", str(lat_lm)]) == 9
    assert "AP knee" in capsys.readouterr().err


def test_batch_rows_carry_the_knee_values(knee_case, tmp_path):
    from orthoplan import batch

    case = knee_case("knee-lateral", seed=12, side="left", calibration_tags="pixel")
    image, lm = _write(case, tmp_path, "lat")
    lm.rename(tmp_path / "lat.landmarks.json")  # the sidecar landmark file
    row = batch.measure_input(str(image), batch.BatchOptions(ball_diameter_mm=None))
    assert row["status"] == "ok" and row["view"] == "knee-lateral" and row["landmark_source"] == "sidecar"
    assert set(row) == set(batch.columns())
    for name, truth in case.measurements.items():
        assert abs(row[name] - truth) < (0.5 if name.endswith("_deg") else 1.0), name
    assert row["posterior_tibial_slope_right_deg"] is None
