"""Osteotomies as part of the Plan: JSON, SR (exact read-back, validators), GSPS and picture
(the corrected limb), re-planning after edits, and the CLI end to end.

Ground truth: the synthetic long legs' exact landmarks; the planned weight-bearing line is
checked by an independent line intersection (numpy, not orthoplan's helpers) against the
requested plateau fraction, tolerance 1 % of the plateau width.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pydicom
import pytest

from orthoplan.dicom import build_gsps, build_sr, validate
from orthoplan.dicom import codes as C
from orthoplan.dicom.sr import plan_from_sr
from orthoplan.errors import PlanError
from orthoplan.geometry import to_mm
from orthoplan.model import Calibration, Plan, PlannedOsteotomy
from orthoplan.osteotomy import (
    corrected_landmarks,
    osteotomy_graphics_px,
    plan_dfo,
    plan_hto,
    plan_osteotomy,
    with_osteotomy,
)
from orthoplan.overlay import LAYER_COLORS, osteotomy_layers, plan_overlay
from orthoplan.pipeline import load_radiograph, plan_radiograph, recalibrate, update_landmarks


def _fraction(hip, ankle, medial, lateral) -> float:
    """Where the line hip→ankle crosses the plateau line, as a fraction from the medial margin
    (solved directly: hip + s (ankle - hip) = medial + t (lateral - medial))."""
    hip, ankle, medial, lateral = (np.asarray(v, float) for v in (hip, ankle, medial, lateral))
    a = np.column_stack([ankle - hip, -(lateral - medial)])
    s, t = np.linalg.solve(a, medial - hip)
    return float(t)


def _angle_deg(u, v) -> float:
    u, v = np.asarray(u, float), np.asarray(v, float)
    return math.degrees(math.acos(np.clip(u @ v / np.linalg.norm(u) / np.linalg.norm(v), -1, 1)))


@pytest.fixture(scope="module")
def varus_case(make_case):
    """Right: tibial varus (HTO); left: femoral valgus (DFO)."""
    case = make_case("tibial_varus", "femoral_valgus", seed=11)
    rad = load_radiograph(case.dataset)
    plan = plan_radiograph(rad, landmarks=case.landmarks, view="long-leg")
    return case, rad, plan


@pytest.fixture(scope="module")
def planned(varus_case):
    case, rad, plan = varus_case
    out = plan_osteotomy(plan, "hto", "right")
    return plan_osteotomy(out, "dfo", "left", wedge="closing")


# --------------------------------------------------------------------------- the model


def test_plan_keeps_what_plan_hto_and_plan_dfo_computed(varus_case, planned):
    case, rad, plan = varus_case
    hto = plan_hto(plan.landmarks, plan.calibration, "right", plan.orientation)
    dfo = plan_dfo(plan.landmarks, plan.calibration, "left", plan.orientation, wedge="closing")
    assert [o.side.value for o in planned.osteotomies] == ["right", "left"]
    for op, rec in ((hto, planned.osteotomy("right")), (dfo, planned.osteotomy("left"))):
        assert (rec.kind, rec.wedge, rec.direction) == (op.kind, op.wedge, op.direction)
        assert rec.rotation_deg == op.rotation_deg and rec.correction_deg == op.correction_deg
        assert rec.wedge_height_mm == op.wedge_height_mm and rec.osteotomy_length_mm == op.osteotomy_length_mm
        assert rec.achieved_fraction == op.achieved_fraction and rec.target_fraction == op.target_fraction
        assert rec.hinge_px == pytest.approx(op.hinge_px, abs=1e-3)
        assert rec.predicted.values() == op.predicted.values()
        assert all(m.landmarks == () for m in rec.predicted)
        assert rec.auto
    assert planned.osteotomy("right").target_fraction == 0.625
    assert planned.osteotomy("left").target_fraction == 0.5
    # the measurements and landmarks of the plan are untouched
    assert planned.measurements == plan.measurements and planned.landmarks == plan.landmarks


def test_json_round_trip_and_older_documents(planned):
    doc = json.loads(planned.to_json())
    assert doc["schema_version"] == 3 and len(doc["osteotomies"]) == 2
    assert doc["osteotomies"][0]["kind"] == "hto" and doc["osteotomies"][0]["side"] == "right"
    assert Plan.from_json(planned.to_json()) == planned
    old = dict(doc, schema_version=2)
    del old["osteotomies"]
    assert Plan.from_dict(old).osteotomies == ()
    with pytest.raises(PlanError, match="versions 1, 2, 3"):
        Plan.from_dict(dict(doc, schema_version=4))


def test_one_osteotomy_per_side_and_long_leg_views_only(varus_case, planned):
    case, rad, plan = varus_case
    again = plan_osteotomy(planned, "hto", "right", wedge="closing", target_fraction=0.55)
    assert len(again.osteotomies) == 2
    right = again.osteotomy("right")
    assert right.wedge == "closing" and right.achieved_fraction == pytest.approx(0.55, abs=1e-6)
    assert again.osteotomy("left") == planned.osteotomy("left")
    with pytest.raises(PlanError, match="at most one osteotomy per side"):
        replace(planned, osteotomies=planned.osteotomies + (planned.osteotomy("right"),))
    with pytest.raises(PlanError, match="long-leg"):
        with_osteotomy(replace(plan, view="ap-pelvis"), planned.osteotomy("right"))
    with pytest.raises(PlanError, match="kind"):
        plan_osteotomy(plan, "pao", "right")
    with pytest.raises(PlanError, match="wedge"):
        replace(planned.osteotomy("right"), wedge="dome")


# --------------------------------------------------------------------------- geometry of the picture


@pytest.mark.parametrize("side", ["right", "left"])
def test_the_drawn_corrected_limb_matches_the_plan(planned, side):
    o = planned.osteotomy(side)
    cal = planned.calibration
    g = osteotomy_graphics_px(planned, o)
    assert {"hinge", "cut", "wedge", "weight_bearing_line", "corrected_axis", "corrected_plafond"} <= set(g)
    mm = lambda pts: to_mm(np.asarray(pts, float), cal)  # noqa: E731
    h = mm(g["hinge"][0])
    # the cut: from the hinge, as long as the osteotomy
    assert np.linalg.norm(mm(g["cut"][1]) - h) == pytest.approx(o.osteotomy_length_mm, rel=1e-5)
    # the wedge: its angle at the hinge is the correction, its opening the wedge height
    w = mm(g["wedge"])
    assert np.allclose(w[0], h, atol=1e-3)
    assert _angle_deg(w[1] - h, w[2] - h) == pytest.approx(o.correction_deg, abs=1e-4)
    assert np.linalg.norm(w[2] - w[1]) == pytest.approx(o.wedge_height_mm, rel=1e-5)
    # the planned WBL: from the femoral head centre to the corrected ankle centre, which
    # kept its distance from the hinge (rigid rotation)
    hip = planned.landmarks[f"femoral_head_center_{side}"].xy
    ankle = planned.landmarks[f"ankle_center_{side}"].xy
    wbl = g["weight_bearing_line"]
    assert tuple(wbl[0]) == hip
    assert np.linalg.norm(mm(wbl[1]) - h) == pytest.approx(np.linalg.norm(mm(ankle) - h), rel=1e-5)
    assert _angle_deg(mm(ankle) - h, mm(wbl[1]) - h) == pytest.approx(o.correction_deg, abs=1e-3)
    # ... and it crosses the (corrected) plateau at the requested fraction
    if o.kind == "dfo":
        pm, pl = g["corrected_plateau"]
    else:
        pm = planned.landmarks[f"tibial_plateau_medial_{side}"].xy
        pl = planned.landmarks[f"tibial_plateau_lateral_{side}"].xy
    assert _fraction(mm(wbl[0]), mm(wbl[1]), mm(pm), mm(pl)) == pytest.approx(o.target_fraction, abs=0.01)
    # the target point lies on the planned WBL
    t = mm(o.target_px)
    d = mm(wbl[1]) - mm(wbl[0])
    e = t - mm(wbl[0])
    assert abs(d[0] * e[1] - d[1] * e[0]) / np.linalg.norm(d) < 0.05  # mm from the line
    # the corrected axis ends at the corrected ankle centre
    assert np.allclose(g["corrected_axis"][1], wbl[1])
    moved = corrected_landmarks(planned, o)
    assert tuple(g["corrected_plafond"][0]) == moved[f"tibial_plafond_medial_{side}"].xy


def test_the_osteotomy_layers_are_in_the_overlay(planned, varus_case):
    case, rad, plan = varus_case
    names = [layer.name for layer in plan_overlay(planned)]
    assert "OSTEOTOMY_RIGHT" in names and "OSTEOTOMY_LEFT" in names
    assert not any(n.startswith("OSTEOTOMY") for n in (layer.name for layer in plan_overlay(plan)))
    layer = next(layer for layer in plan_overlay(planned) if layer.name == "OSTEOTOMY_RIGHT")
    texts = [g.label for g in layer.graphics if g.kind == "text"]
    o = planned.osteotomy("right")
    assert any(f"{o.correction_deg:.1f}°" in t and "HTO opening" in t for t in texts)
    hka = o.predicted["hka_right_deg"].value
    assert any(f"HKA {hka:+.1f}°" in t for t in texts)
    wedge = next(g for g in layer.graphics if g.kind == "polyline" and g.closed)
    assert len(wedge.points) == 3


def test_the_picture_shows_the_planned_weight_bearing_line(planned, varus_case, tmp_path):
    import matplotlib.image as mpimg

    from orthoplan.render import render_plan

    case, rad, plan = varus_case
    o = planned.osteotomy("right")
    wbl = osteotomy_graphics_px(planned, o)["weight_bearing_line"]
    render_plan(rad, planned, tmp_path / "with.png", layers=tuple(osteotomy_layers(planned)))
    render_plan(rad, planned, tmp_path / "without.png", layers=())
    rows, cols = rad.shape
    want = np.array(LAYER_COLORS["OSTEOTOMY"]) / 255

    def near_colour(path, xy) -> bool:
        img = mpimg.imread(path)[..., :3]
        h, w = img.shape[:2]
        c, r = int(xy[0] * w / cols), int(xy[1] * h / rows)
        patch = img[max(r - 2, 0): r + 3, max(c - 2, 0): c + 3].reshape(-1, 3)
        return bool((np.abs(patch - want).max(axis=1) < 0.25).any())

    for f in (0.3, 0.5, 0.7):  # points along the planned weight-bearing line
        p = wbl[0] + f * (wbl[1] - wbl[0])
        assert near_colour(tmp_path / "with.png", p)
        assert not near_colour(tmp_path / "without.png", p)


# --------------------------------------------------------------------------- DICOM


def test_sr_reads_back_exactly_and_passes_the_validators(planned, varus_case, tmp_path):
    import highdicom as hd

    case, rad, plan = varus_case
    path = tmp_path / "sr.dcm"
    build_sr(planned, rad.dataset).save_as(path, enforce_file_format=True)
    assert validate.run_dciodvfy(path) == []
    assert validate.run_pixelmed_sr_validator(path) == []  # the TID 1500 rows of the osteotomy groups
    dump = validate.run_dsrdump(path)
    assert "High tibial osteotomy" in dump and "Distal femoral osteotomy" in dump
    assert "Osteotomy hinge point" in dump and "Predicted after osteotomy" in dump
    back = plan_from_sr(pydicom.dcmread(path))
    assert back.osteotomies == planned.osteotomies
    assert back == planned
    # highdicom reads the groups: the numbers and the hinge SCOORD on the source image
    sr = hd.sr.srread(path)
    groups = {g.tracking_identifier: g for g in sr.content.get_image_measurement_groups()}
    assert {"osteotomy right", "predicted osteotomy right", "osteotomy left", "predicted osteotomy left"} <= set(groups)
    o = planned.osteotomy("right")
    got = {m.name.value: m.value for m in groups["osteotomy right"].get_measurements()}
    assert got == {
        C.OST_TARGET_FRACTION.value: o.target_fraction, C.OST_ACHIEVED_FRACTION.value: o.achieved_fraction,
        C.OST_CORRECTION.value: o.correction_deg, C.OST_ROTATION.value: o.rotation_deg,
        C.OST_WEDGE_HEIGHT.value: o.wedge_height_mm, C.OST_LENGTH.value: o.osteotomy_length_mm,
    }
    assert groups["osteotomy right"].finding_sites[0].laterality.value == C.RIGHT.value
    assert groups["osteotomy left"].finding_sites[0].value.value == C.FEMUR.value
    evaluations = {q.name.value: q.value.value for q in groups["osteotomy left"].get_qualitative_evaluations()}
    assert evaluations[C.OST_WEDGE.value] == C.OST_WEDGE_CODES["closing"].value
    assert evaluations[C.OST_DIRECTION.value] == C.OST_DIRECTION_CODES["varus"].value
    predicted = {m.name.meaning: m.value for m in groups["predicted osteotomy right"].get_measurements()}
    for key in ("hka", "mpta", "jlca"):
        assert predicted[C.MEASUREMENT_CODES[f"{key}_{{side}}_deg"].meaning] == o.predicted[f"{key}_right_deg"].value
    assert predicted[C.MEASUREMENT_CODES["mad_{side}_mm"].meaning] == o.predicted["mad_right_mm"].value
    def items(node):
        for child in node.get("ContentSequence", []):
            yield child
            yield from items(child)

    hinges = [i for i in items(pydicom.dcmread(path)) if i.ValueType == "SCOORD"
              and i.ConceptNameCodeSequence[0].CodeValue == C.OST_HINGE.value]
    assert len(hinges) == 2 and tuple(hinges[0].GraphicData) == o.hinge_px
    ref = hinges[0].ContentSequence[0].ReferencedSOPSequence[0]
    assert ref.ReferencedSOPInstanceUID == rad.dataset.SOPInstanceUID


def test_notes_missing_values_and_given_hinges_read_back(varus_case, tmp_path):
    case, rad, plan = varus_case
    # no anatomical axis: the predicted AMA is absent with its reason; a target that needs a
    # varus correction from a (valgus) HTO is planned and flagged; a given hinge is kept
    plan = update_landmarks(plan, remove=["femoral_shaft_proximal_right", "femoral_shaft_distal_right"])
    hto = plan_hto(plan.landmarks, plan.calibration, "right", plan.orientation, target_fraction=0.0)
    hinge = (hto.hinge_px[0] + 3.0, hto.hinge_px[1] + 2.0)
    planned = plan_osteotomy(plan, "hto", "right", target_fraction=0.0, hinge_px=hinge, osteotomy_length_mm=55.0)
    o = planned.osteotomy("right")
    assert not o.auto and o.notes and o.direction == "varus"
    assert dict(o.predicted.missing).get("ama_right_deg")
    assert o.osteotomy_length_mm == 55.0 and o.hinge_px == pytest.approx(hinge, abs=1e-3)
    path = tmp_path / "sr.dcm"
    build_sr(planned, rad.dataset).save_as(path, enforce_file_format=True)
    assert validate.run_dciodvfy(path) == []
    assert plan_from_sr(pydicom.dcmread(path)) == planned


def test_gsps_draws_the_osteotomy_layers(planned, varus_case, tmp_path):
    case, rad, plan = varus_case
    gsps = build_gsps(planned, rad.dataset, plan_overlay(planned))
    path = tmp_path / "pr.dcm"
    gsps.save_as(path, enforce_file_format=True)
    assert validate.run_dciodvfy(path) == [] and validate.run_dcmpschk(path) == []
    names = [item.GraphicLayer for item in gsps.GraphicLayerSequence]
    assert {"OSTEOTOMY_RIGHT", "OSTEOTOMY_LEFT"} <= set(names)
    ann = next(a for a in gsps.GraphicAnnotationSequence if a.GraphicLayer == "OSTEOTOMY_RIGHT")
    polylines = [tuple(g.GraphicData) for g in ann.GraphicObjectSequence if g.GraphicType == "POLYLINE"]
    wbl = osteotomy_graphics_px(planned, planned.osteotomy("right"))["weight_bearing_line"]
    assert any(len(p) == 4 and np.allclose(np.asarray(p, float), wbl.ravel(), atol=1e-3) for p in polylines)


# --------------------------------------------------------------------------- edits re-plan


def test_moving_a_landmark_replans_and_removing_one_drops_with_a_note(planned):
    lm = planned.landmarks["tibial_plateau_lateral_right"]
    moved = update_landmarks(planned, lm.moved_to(lm.x + 6.0, lm.y))
    o_old, o_new = planned.osteotomy("right"), moved.osteotomy("right")
    assert o_new.target_px != o_old.target_px and o_new.rotation_deg != o_old.rotation_deg
    lms = moved.landmarks
    g = osteotomy_graphics_px(moved, o_new)["weight_bearing_line"]
    cal = moved.calibration
    pm, pl = (to_mm(lms[f"tibial_plateau_{s}_right"].xy, cal) for s in ("medial", "lateral"))
    assert _fraction(to_mm(g[0], cal), to_mm(g[1], cal), pm, pl) == pytest.approx(0.625, abs=0.01)
    assert moved.osteotomy("left") == planned.osteotomy("left")
    gone = update_landmarks(planned, remove=["ankle_center_right"])
    assert gone.osteotomy("right") is None and gone.osteotomy("left") is not None
    assert any(n.startswith("osteotomy right: removed") and "ankle_center_right" in n for n in gone.notes)


def test_recalibrating_plans_again_at_the_new_scale(planned):
    cal = planned.calibration
    bigger = Calibration(cal.mm_per_px * 1.1, "known-length", 1.0)
    out = recalibrate(planned, bigger)
    # default hinges are set in mm (10 mm below the joint line...): planned again at the new scale
    direct = recalibrate(replace(planned, osteotomies=()), bigger)
    direct = plan_osteotomy(plan_osteotomy(direct, "hto", "right"), "dfo", "left", wedge="closing")
    assert out.osteotomies == direct.osteotomies
    assert out.osteotomy("right").wedge_height_mm != planned.osteotomy("right").wedge_height_mm
    # a given hinge stays where it is on the image, and a uniform scale keeps Miniaci's angle
    o = planned.osteotomy("right")
    given = plan_osteotomy(planned, "hto", "right", hinge_px=o.hinge_px, osteotomy_length_mm=60.0)
    again = recalibrate(given, bigger).osteotomy("right")
    assert again.hinge_px == given.osteotomy("right").hinge_px and not again.auto
    assert again.correction_deg == pytest.approx(given.osteotomy("right").correction_deg, abs=1e-6)
    assert again.wedge_height_mm == pytest.approx(given.osteotomy("right").wedge_height_mm, rel=1e-9)


# --------------------------------------------------------------------------- the command line


def test_cli_plans_and_stores_an_osteotomy(make_case, tmp_path, capsys):
    from orthoplan.archive import open_archive
    from orthoplan.archive.plans import latest_plan
    from orthoplan.cli import main

    case = make_case("combined_varus", "femoral_valgus", seed=12)
    image = tmp_path / "leg.dcm"
    case.dataset.save_as(image, enforce_file_format=True)
    lm = tmp_path / "lm.json"
    lm.write_text(json.dumps({"landmarks": {l_.name.value: [l_.x, l_.y] for l_ in case.landmarks}}))
    archive = "folder://" + str(tmp_path / "archive")
    code = main(["plan", str(image), "--view", "long-leg", "--landmarks", str(lm), "--osteotomy", "hto",
                 "--osteotomy-side", "right", "--out", str(tmp_path / "p"), "--archive", archive])
    out = capsys.readouterr().out
    assert code == 0
    assert "osteotomy right  HTO opening wedge" in out and "62.50 % of the plateau" in out
    plan = Plan.from_json((tmp_path / "p" / "plan.json").read_text())
    o = plan.osteotomy("right")
    assert (o.kind, o.wedge, o.target_fraction) == ("hto", "opening", 0.625)
    # the predicted weight-bearing line through the requested plateau point, on the TRUE landmarks
    cal = plan.calibration
    truth = {n: to_mm(case.landmarks[f"{n}_right"].xy, cal) for n in
             ("femoral_head_center", "ankle_center", "tibial_plateau_medial", "tibial_plateau_lateral")}
    h = to_mm(o.hinge_px, cal)
    a = math.radians(o.rotation_deg)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    new_ankle = rot @ (truth["ankle_center"] - h) + h
    got = _fraction(truth["femoral_head_center"], new_ankle, truth["tibial_plateau_medial"], truth["tibial_plateau_lateral"])
    assert got == pytest.approx(0.625, abs=0.01)
    # SR and GSPS written, valid, stored; the archive's latest plan is the same plan
    assert validate.run_dciodvfy(tmp_path / "p" / "plan-sr.dcm") == []
    assert validate.run_dciodvfy(tmp_path / "p" / "plan-gsps.dcm") == []
    gsps = pydicom.dcmread(tmp_path / "p" / "plan-gsps.dcm")
    assert "OSTEOTOMY_RIGHT" in {item.GraphicLayer for item in gsps.GraphicLayerSequence}
    stored = latest_plan(open_archive(archive), case.dataset.StudyInstanceUID)
    assert stored.osteotomies == plan.osteotomies

    # a DFO, closing wedge, another target, on the other leg
    code = main(["plan", str(image), "--view", "long-leg", "--landmarks", str(lm), "--osteotomy", "dfo",
                 "--osteotomy-side", "left", "--wedge", "closing", "--target-fraction", "0.45",
                 "--out", str(tmp_path / "q"), "--no-dicom"])
    capsys.readouterr()
    assert code == 0
    o = Plan.from_json((tmp_path / "q" / "plan.json").read_text()).osteotomy("left")
    assert (o.kind, o.wedge, o.direction) == ("dfo", "closing", "varus")
    truth = {n: to_mm(case.landmarks[f"{n}_left"].xy, cal) for n in
             ("femoral_head_center", "ankle_center", "tibial_plateau_medial", "tibial_plateau_lateral")}
    h = to_mm(o.hinge_px, cal)
    a = math.radians(o.rotation_deg)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    moved = {k: rot @ (v - h) + h for k, v in truth.items() if k != "femoral_head_center"}
    got = _fraction(truth["femoral_head_center"], moved["ankle_center"], moved["tibial_plateau_medial"],
                    moved["tibial_plateau_lateral"])
    assert got == pytest.approx(0.45, abs=0.01)


def test_cli_asks_which_leg(make_case, tmp_path, capsys):
    from orthoplan.cli import main

    case = make_case("tibial_varus", "neutral", seed=13)
    image = tmp_path / "leg.dcm"
    ds = case.dataset.copy()
    if "ImageLaterality" in ds:
        del ds.ImageLaterality
    ds.save_as(image, enforce_file_format=True)
    lm = tmp_path / "lm.json"
    lm.write_text(json.dumps({"landmarks": {l_.name.value: [l_.x, l_.y] for l_ in case.landmarks}}))
    code = main(["plan", str(image), "--view", "long-leg", "--landmarks", str(lm), "--osteotomy", "hto",
                 "--out", str(tmp_path / "p")])
    err = capsys.readouterr().err
    assert code == 2 and "--osteotomy-side" in err  # a usage error (README)
    assert not (tmp_path / "p" / "plan.json").exists()


def test_planned_osteotomy_validates_its_values():
    good = dict(kind="hto", side="left", wedge="opening", target_fraction=0.625, hinge_x=1, hinge_y=2,
                cut_end_x=3, cut_end_y=4, target_x=5, target_y=6, rotation_deg=-5.0, direction="valgus",
                osteotomy_length_mm=50.0, wedge_height_mm=4.4, achieved_fraction=0.625)
    o = PlannedOsteotomy(**good)
    assert o.correction_deg == 5.0 and PlannedOsteotomy.from_dict(o.to_dict()) == o
    with pytest.raises(PlanError, match="finite"):
        PlannedOsteotomy(**{**good, "rotation_deg": float("nan")})
    with pytest.raises(PlanError, match="direction"):
        PlannedOsteotomy(**{**good, "direction": "sideways"})
    with pytest.raises(PlanError, match="lacks 'hinge_x'"):
        PlannedOsteotomy.from_dict({k: v for k, v in o.to_dict().items() if k != "hinge_x"})


def test_the_planning_session_plans_and_undoes_an_osteotomy(varus_case):
    from orthoplan.notebook import PlanningSession

    case, rad, plan = varus_case
    session = PlanningSession(rad, plan)
    heard = []
    session.on_change(heard.append)
    session.plan_osteotomy("hto", "right", target_fraction=0.6)
    o = session.plan.osteotomy("right")
    assert o is not None and o.achieved_fraction == pytest.approx(0.6, abs=1e-6) and heard[-1] is session.plan
    session.undo()
    assert session.plan.osteotomies == () and session.plan == plan
